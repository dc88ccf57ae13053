//! The kinds of whole numbers the API takes, each stated once, as [`crate::text`] states
//! the kinds of text: the OpenAPI document names each kind as a schema of its own, and
//! the regions check input against the same bounds ([`NumberKind`]).

use utoipa::openapi::{KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, Type};

/// A kind of whole number: a region takes `MIN..=MAX`.
pub trait NumberKind: utoipa::ToSchema {
    const MIN: i64;
    const MAX: i64;

    /// `value` when it is in `MIN..=MAX`; if not, why not (naming `field`).
    fn check(field: &str, value: i64) -> Result<i64, String> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{field} must be between {} and {}", Self::MIN, Self::MAX))
        }
    }
}

fn schema(min: i64, max: i64, description: &str, format: KnownFormat) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(format)))
        .description(Some(description))
        .minimum(Some(min))
        .maximum(Some(max))
        .into()
}

crate::kinds::declare_kinds! { NumberKind, i64, schema;
    /// An amount of money in cents: 0 to 100 000 000.
    Cents: 0..=100_000_000, KnownFormat::Int64;
    /// A fixed amount a discount takes off, in cents: 1 to 100 000 000.
    CentsOff: 1..=100_000_000, KnownFormat::Int64;
    /// The percentage a discount takes off: 1 to 100.
    PercentOff: 1..=100, KnownFormat::Int32;
    /// A number of points: 1 to 1 000 000 000, which keeps every sum far from overflow.
    Points: 1..=1_000_000_000, KnownFormat::Int64;
    /// How many of an item: 1 to 100.
    Quantity: 1..=100, KnownFormat::Int64;
    /// A discount for offers issues one on a group's N-th, 2N-th, ... bill: N is 1 to 1 000.
    EveryNBills: 1..=1_000, KnownFormat::Int32;
    /// A person's age in years: 0 to 150.
    Age: 0..=150, KnownFormat::Int64;
    /// How many entries a page holds (`?limit=`): 1 to 200, 50 when not asked.
    PageSize: 1..=200, KnownFormat::Int64;
}

impl PageSize {
    pub const DEFAULT: i64 = 50;
}
