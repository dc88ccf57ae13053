//! Comparing a secret a client sent (a service token, a form's CSRF token) with the one
//! expected, in time that does not depend on where they differ.

use sha2::{Digest, Sha256};

/// Whether `given` is `expected`. Digests are compared byte by byte without stopping
/// early, so neither the position of the first difference nor the lengths show in time.
pub fn same(expected: &str, given: &str) -> bool {
    let (a, b) = (Sha256::digest(expected.as_bytes()), Sha256::digest(given.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_same_text_is_the_same_secret() {
        assert!(super::same("a-token", "a-token"));
        assert!(!super::same("a-token", "a-tokem"));
        assert!(!super::same("a-token", "a-token "));
        assert!(!super::same("a-token", ""));
    }
}
