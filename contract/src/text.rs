//! The kinds of text the API takes (free text and passwords), each stated once. The
//! OpenAPI document names each kind as a schema of its own, which every field of that
//! kind refers to, and the regions check input against the same bounds ([`TextKind`]),
//! so the two cannot drift.

use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};

// Control characters are Unicode's `Cc`, as Rust's `char::is_control` (the regions'
// check) has them: U+0000 to U+001F and U+007F to U+009F.
/// No control characters.
const PRINTABLE: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// No control characters, and more than white space.
const NOT_BLANK: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// Empty, or digits with spaces and `+ - ( ) .`.
const PHONE: &str = "^([0-9 +().-]*[0-9+().-][0-9 +().-]*)?$";

/// A kind of text a region takes `MIN..=MAX` characters of: free text trimmed first and
/// without control characters, a password as it is.
pub trait TextKind: utoipa::ToSchema {
    const MIN: usize;
    const MAX: usize;

    /// Whether `text` has `MIN..=MAX` characters; if not, why not (naming `field`).
    fn check_length(field: &str, text: &str) -> Result<(), String> {
        if (Self::MIN..=Self::MAX).contains(&text.chars().count()) {
            Ok(())
        } else {
            Err(format!("{field} must be {} to {} characters long", Self::MIN, Self::MAX))
        }
    }
}

fn schema(min: usize, max: usize, description: &str, pattern: Option<&str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(pattern)
        .into()
}

crate::kinds::declare_kinds! { TextKind, usize, schema;
    /// A name (of a person, group, menu item or discount): 1 to 100 characters, not only
    /// white space, no control characters.
    Name: 1..=100, Some(NOT_BLANK);
    /// A menu category: 1 to 50 characters, not only white space, no control characters.
    Category: 1..=50, Some(NOT_BLANK);
    /// Where a group or user is: up to 200 characters, no control characters; may be blank.
    Location: 0..=200, Some(PRINTABLE);
    /// A phone number: up to 32 digits, spaces and `+ - ( ) .`; may be empty.
    Phone: 0..=32, Some(PHONE);
    /// A password: 8 to 128 characters, any, taken as they are (never trimmed).
    Password: 8..=128, None;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's patterns refuse exactly the characters a region refuses. (Only
    /// control characters are tried against `NOT_BLANK`: regex-lite's `\s` is ASCII.)
    #[test]
    fn the_patterns_refuse_the_control_characters_a_region_refuses() {
        let (printable, not_blank) =
            (regex_lite::Regex::new(PRINTABLE).unwrap(), regex_lite::Regex::new(NOT_BLANK).unwrap());
        for c in (0..=0xffff).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            assert_eq!(printable.is_match(&text), !c.is_control(), "U+{:04X}", u32::from(c));
            assert_eq!(not_blank.is_match(&text), !c.is_control(), "U+{:04X}", u32::from(c));
        }
    }
}
