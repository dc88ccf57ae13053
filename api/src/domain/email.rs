pub use contract::email::Email;

use crate::error::ApiError;

/// An email from input, normalised (trimmed, lower case): uniqueness is case-insensitive.
pub fn parse_email(value: &str) -> Result<Email, ApiError> {
    Email::parse(value).ok_or_else(|| ApiError::invalid_input("email is not a valid email address"))
}
