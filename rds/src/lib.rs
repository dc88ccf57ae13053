//! AWS RDS for the platform. Kept in its own crate because aws-sdk-rds is the heaviest
//! dependency of the project: the API pulls it in only with its `iam` feature.
//!
//! - `iam_auth`: short-lived IAM database auth tokens (the API's `DB_AUTH=iam`),
//!   regenerated before they expire.
//! - `fleet`: find each region's database by its tags, report it, run a failover drill.
//! - `sdk`: the SDK's settings both share.

pub mod fleet;
pub mod iam_auth;
pub mod sdk;
