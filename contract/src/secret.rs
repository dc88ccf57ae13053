//! Comparing a secret a client sent (a service token, a form's CSRF token) with the one
//! expected, in time that does not depend on where they differ.

use sha2::{Digest, Sha256};

/// A front end that speaks for its visitors (the web console) sends the shared proxy
/// token in this header...
pub const PROXY_TOKEN_HEADER: &str = "x-proxy-token";
/// ...and its visitor's address in this one, so the router's per-address limits count
/// each visitor, not the front end. Without the right token the router ignores both.
pub const PROXY_CLIENT_HEADER: &str = "x-proxy-client";

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
