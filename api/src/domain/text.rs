use crate::error::ApiError;

/// Trimmed text of `min..=max` characters without control characters.
pub fn required_text(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    let len = value.chars().count();
    if len < min || len > max {
        return Err(ApiError::invalid_input(format!("{field} must be {min} to {max} characters long")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_input(format!("{field} must not contain control characters")));
    }
    Ok(value.to_owned())
}

/// Like `required_text`; empty (after trimming) means absent.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v, 1, max).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(required_text("name", "  Ann  ", 1, 10).unwrap(), "Ann");
        assert!(required_text("name", "   ", 1, 10).is_err());
        assert!(required_text("name", "abcdefghijk", 1, 10).is_err());
        assert!(required_text("name", "a\u{0}b", 1, 10).is_err());
        assert_eq!(optional_text("phone", Some(" "), 10).unwrap(), None);
    }
}
