//! Who is calling: passwords (Argon2id), signed expiring tokens, the `Caller` a token names,
//! the bound on concurrent password hashing, and when repeated failed logins and joins
//! lock their subject out.

mod caller;
mod hashing;
mod lockout;
mod password;
mod token;

pub use caller::Caller;
pub use hashing::{Hashing, Turn};
pub use lockout::{Lockout, join_subject, login_subject};
pub use password::{hash_password, verify_password};
pub use token::{Claims, TokenKeys, new_signing_key};
