use std::str::FromStr;

use crate::error::ApiError;

/// An email address, trimmed and lower-cased: uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Email, ApiError> {
        let normalised = value.trim().to_lowercase();
        if normalised.len() > 254 || email_address::EmailAddress::from_str(&normalised).is_err() {
            return Err(ApiError::invalid_input("email is not a valid email address"));
        }
        Ok(Email(normalised))
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
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }
}
