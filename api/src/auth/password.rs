//! Argon2id with the crate's recommended parameters. Hashing is deliberately slow, so
//! callers run it on a blocking thread, never on an actix worker.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default().hash_password(password.as_bytes()).map(|hash| hash.to_string()).map_err(ApiError::internal)
}

/// Verifies `password` against `stored`, or against a dummy hash when there is no such
/// user, so a failed login takes as long whether or not the email exists.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").ok());
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => match dummy {
            Some(hash) => (hash.as_str(), false),
            None => return false,
        },
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(!verify_password("not a real password", None));
    }
}
