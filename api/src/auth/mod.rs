//! Who is calling: passwords (Argon2id), signed expiring tokens, the `Caller` a token names,
//! the bound on concurrent password hashing and the lockouts after repeated failed logins and
//! joins.

mod caller;
mod hashing;
mod lockout;
mod password;
mod token;

pub use caller::Caller;
pub use hashing::Hashing;
pub use lockout::{JoinLockout, LoginLockout};
pub use password::{hash_password, verify_password};
pub use token::{Claims, TokenKeys, new_signing_key};
