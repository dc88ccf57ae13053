//! The public HTTP contract (`shared/CONTRACT.md`) as Rust types: ids that carry their
//! home region, the JSON shapes of requests and responses, and the error envelope.
//! Every crate that speaks HTTP to the platform (api, router, CLI, load test) uses these,
//! so a change to the wire format is a change in one place.

pub mod cursor;
pub mod directory;
pub mod dto;
pub mod email;
pub mod error;
pub mod ids;
pub mod internal;
mod kinds;
pub mod numbers;
pub mod secret;
#[cfg(feature = "diesel")]
mod sql;
pub mod text;
pub mod time;
#[cfg(feature = "token")]
pub mod token;

pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use ids::{DiscountId, EntryId, GroupId, IdError, InvitationId, ItemId, OfferId, RegionId, Regional, UserId};
