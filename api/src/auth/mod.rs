//! Who is calling: passwords (Argon2id), signed expiring tokens, the `Caller` a token names,
//! the bound on concurrent password hashing, the lockouts after repeated failed logins and
//! joins, and the watch on accounts whose password is being guessed from many addresses.

mod caller;
mod hashing;
mod lockout;
mod login_watch;
mod password;
mod token;

pub use caller::Caller;
pub use hashing::Hashing;
pub use lockout::{JoinLockout, LoginLockout};
pub use login_watch::LoginWatch;
pub use password::{hash_password, verify_password};
pub use token::{Claims, TokenKeys, new_signing_key};
