//! What the platform does, one module per area. Handlers parse input into domain types
//! and call one function here; these functions hold the business rules and call `db`.

pub mod accounts;
pub mod batch_tx;
pub mod batches;
pub mod catalogue;
pub mod directory;
pub mod events;
pub mod groups;
pub mod peers;
pub mod points;
pub mod pricing;
pub mod relay;
