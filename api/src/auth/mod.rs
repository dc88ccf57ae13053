//! Who is calling: passwords (Argon2id), signed expiring tokens, the `Caller` a token names,
//! the bound on concurrent password hashing and the limiter for repeated login failures.

mod caller;
mod hashing;
mod login_limiter;
mod password;
mod token;

pub use caller::Caller;
pub use hashing::Hashing;
pub use login_limiter::LoginLimiter;
pub use password::{hash_password, verify_password};
pub use token::{Claims, TokenKeys, new_signing_key};
