//! What the platform does, one module per area. Handlers parse input into domain types
//! and call one function here; these functions hold the business rules and call `db`.

/// In a transaction's closure, which answers `QueryResult<Result<T, ApiError>>`: a
/// refusal ends it as `Ok(Err)` (committed; nothing may have been written before it),
/// while database errors stay `Err`, so serialization failures are retried and anything
/// else rolls back.
macro_rules! refuse_on_err {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}

pub mod accounts;
pub mod batch_tx;
pub mod batches;
pub mod catalogue;
pub mod directory;
pub mod events;
pub mod groups;
pub mod housekeeping;
pub mod invitations;
pub mod members;
pub mod peers;
pub mod points;
pub mod pricing;
pub mod redeem_rights;
pub mod relay;
pub mod revocations;
