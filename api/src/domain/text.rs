use contract::text::TextKind;

use crate::error::ApiError;

/// Trimmed text of `K`'s `MIN..=MAX` characters without control characters.
pub fn required_text<K: TextKind>(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    K::check_length(field, value).map_err(ApiError::invalid_input)?;
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_input(format!("{field} must not contain control characters")));
    }
    Ok(value.to_owned())
}

/// Like `required_text`; empty (after trimming) means absent.
pub fn optional_text<K: TextKind>(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text::<K>(field, v).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use contract::text::{Category, Phone};

    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(required_text::<Category>("category", "  Soup  ").unwrap(), "Soup");
        assert!(required_text::<Category>("category", "   ").is_err());
        assert!(required_text::<Category>("category", &"a".repeat(51)).is_err());
        assert_eq!(required_text::<Category>("category", &format!(" {} ", "a".repeat(50))).unwrap().len(), 50);
        assert!(required_text::<Category>("category", "a\u{0}b").is_err());
        assert_eq!(optional_text::<Phone>("phone", Some(" ")).unwrap(), None);
    }
}
