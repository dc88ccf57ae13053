//! Parse, don't validate: everything a request carries becomes a domain type once, at
//! the edge, with the contract's error when it does not fit. Past this module, a value
//! of one of these types is known to be good.

mod amounts;
pub mod discounts;
mod email;
mod idempotency_key;
mod pagination;
pub mod points;
pub mod prices;
mod regions;
pub mod returns;
mod text;

pub use amounts::{Points, Qty, within};
pub use email::{Email, parse_email};
pub use idempotency_key::IdempotencyKey;
pub use pagination::{PageParams, PageRequest};
pub use regions::Regions;
pub use text::{optional_text, required_text};
