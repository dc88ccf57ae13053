//! Email addresses as the platform keys them: trimmed and lower-cased, because
//! uniqueness is case-insensitive and the router must find the same directory region
//! for `Ann@X.io` as for `ann@x.io`.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Option<Email> {
        let normalised = value.trim().to_lowercase();
        if normalised.len() > 254 || email_address::EmailAddress::from_str(&normalised).is_err() {
            return None;
        }
        Some(Email(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(Email::parse(" Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "a b@example.com"] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
    }
}
