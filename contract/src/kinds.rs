//! How [`crate::text`] and [`crate::numbers`] declare their kinds: each a unit struct
//! whose bounds are its trait's `MIN` and `MAX`, and whose OpenAPI schema (named after
//! it) is built from those same bounds, so the document and the checks cannot differ.

/// `declare_kinds! { Trait, bound type, schema fn; /// doc  Kind: min..=max, extra; ... }`:
/// the schema fn gets `(MIN, MAX, the doc as the description, extra)`.
macro_rules! declare_kinds {
    ($kind:ident, $bound:ty, $schema:path;
     $($(#[doc = $doc:literal])+ $name:ident: $min:literal..=$max:literal, $extra:expr;)+) => {$(
        $(#[doc = $doc])+
        pub struct $name;

        impl $kind for $name {
            const MIN: $bound = $min;
            const MAX: $bound = $max;
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $schema(Self::MIN, Self::MAX, concat!($($doc),+).trim(), $extra)
            }
        }

        impl utoipa::ToSchema for $name {}
    )+};
}

pub(crate) use declare_kinds;

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use utoipa::PartialSchema;

    use crate::numbers::{PercentOff, Points};
    use crate::text::{Location, Name};

    fn json(schema: utoipa::openapi::RefOr<utoipa::openapi::Schema>) -> Value {
        serde_json::to_value(schema).unwrap()
    }

    #[test]
    fn each_kind_documents_the_bounds_a_region_checks() {
        let name = json(Name::schema());
        assert_eq!((name["minLength"].as_u64(), name["maxLength"].as_u64()), (Some(1), Some(100)));
        assert!(name["description"].as_str().is_some_and(|d| d.starts_with("A name (of a person")), "{name}");
        let location = json(Location::schema());
        assert_eq!((location.get("minLength"), location["maxLength"].as_u64()), (None, Some(200)), "{location}");
        let points = json(Points::schema());
        assert_eq!((points["minimum"].as_i64(), points["maximum"].as_i64()), (Some(1), Some(1_000_000_000)));
        let percent = json(PercentOff::schema());
        assert_eq!(
            (percent["minimum"].as_i64(), percent["maximum"].as_i64(), &percent["format"]),
            (Some(1), Some(100), &Value::from("int32"))
        );
    }
}
