use actix_web::HttpRequest;
use contract::ErrorCode;

use crate::error::ApiError;

pub const HEADER: &str = "Idempotency-Key";

/// The `Idempotency-Key` header: 1..=255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn from_request(req: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
        let missing = || ApiError::new(ErrorCode::MissingIdempotencyKey, format!("the {HEADER} header is required"));
        let value = req.headers().get(HEADER).ok_or_else(missing)?;
        let value = value.to_str().map_err(|_| missing())?;
        Self::parse(value)
    }

    pub fn parse(value: &str) -> Result<IdempotencyKey, ApiError> {
        let ok = (1..=255).contains(&value.len()) && value.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if ok {
            Ok(IdempotencyKey(value.to_owned()))
        } else {
            Err(ApiError::new(
                ErrorCode::MissingIdempotencyKey,
                format!("the {HEADER} header must be 1 to 255 printable ASCII characters"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
    }
}
