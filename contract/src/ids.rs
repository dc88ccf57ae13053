//! Ids carry their home region as a prefix (`001-abc123`), so every hop can route a
//! request from the id alone. Parsing checks the shape only; whether the region is
//! configured is the deployment's business (`unknown_region`).

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a string is not an id. Every variant maps to `400 invalid_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    BadRegion,
    BadShape,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::BadRegion => f.write_str("a region is three digits, like 001"),
            IdError::BadShape => f.write_str("not an id of the form RRR-xxxxxx"),
        }
    }
}

impl std::error::Error for IdError {}

/// A region code: three ASCII digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "diesel", derive(diesel::deserialize::FromSqlRow, diesel::expression::AsExpression), diesel(sql_type = diesel::sql_types::Text))]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "001", pattern = "^[0-9]{3}$")]
pub struct RegionId([u8; 3]);

impl RegionId {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for RegionId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => Ok(RegionId([*a, *b, *c])),
            _ => Err(IdError::BadRegion),
        }
    }
}

impl TryFrom<String> for RegionId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RegionId> for String {
    fn from(r: RegionId) -> String {
        r.as_str().to_owned()
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionId({})", self.as_str())
    }
}

/// An id that names its home region.
pub trait Regional: FromStr<Err = IdError> {
    fn region(&self) -> RegionId;
}

/// Splits `RRR-rest` into a region and the rest.
fn split_region(s: &str) -> Result<(RegionId, &str), IdError> {
    let (region, rest) = s.split_once('-').ok_or(IdError::BadShape)?;
    Ok((region.parse().map_err(|_| IdError::BadShape)?, rest))
}

const SHORT_ID_LEN: usize = 6;
const SHORT_ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

macro_rules! short_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize, ToSchema)]
        #[cfg_attr(feature = "diesel", derive(diesel::deserialize::FromSqlRow, diesel::expression::AsExpression), diesel(sql_type = diesel::sql_types::Text))]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, example = "001-abc123", pattern = "^[0-9]{3}-[a-z0-9]{6}$")]
        pub struct $name(String);

        impl $name {
            /// A fresh random id in `region`. Callers retry on the (rare) collision.
            pub fn generate(region: RegionId) -> Self {
                let mut rng = rand::rng();
                let suffix: String = (0..SHORT_ID_LEN)
                    .map(|_| char::from(SHORT_ID_ALPHABET[rng.random_range(0..SHORT_ID_ALPHABET.len())]))
                    .collect();
                $name(format!("{region}-{suffix}"))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Regional for $name {
            fn region(&self) -> RegionId {
                // The shape was checked on construction.
                split_region(&self.0).map(|(r, _)| r).unwrap_or(RegionId(*b"000"))
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let (_, rest) = split_region(s)?;
                let ok = rest.len() == SHORT_ID_LEN
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if ok { Ok($name(s.to_owned())) } else { Err(IdError::BadShape) }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

short_id!(
    /// A user's id; the prefix is the user's home region.
    UserId
);
short_id!(
    /// A group's id; the prefix is the region that owns its points and members.
    GroupId
);
short_id!(
    /// A catalogue item's id; the prefix is the region whose menu it is on.
    ItemId
);
short_id!(
    /// A discount's id; the prefix is the store region whose bills it applies to.
    DiscountId
);
short_id!(
    /// An offer's id; the prefix is its group's region, where it is kept.
    OfferId
);
short_id!(
    /// An invitation's id (not its code); the prefix is its group's region.
    InvitationId
);

/// A ledger entry's id: region, then a ULID, so ids sort by creation time.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "diesel", derive(diesel::deserialize::FromSqlRow, diesel::expression::AsExpression), diesel(sql_type = diesel::sql_types::Text))]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "001-01JD3Q6M2V8X4Y5Z6A7B8C9D0E", pattern = "^[0-9]{3}-[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
pub struct EntryId(String);

impl EntryId {
    pub fn generate(region: RegionId) -> Self {
        EntryId::from_ulid(region, ulid::Ulid::new())
    }

    /// From a ULID drawn elsewhere, e.g. a `ulid::Generator`'s increasing ones.
    pub fn from_ulid(region: RegionId, ulid: ulid::Ulid) -> Self {
        EntryId(format!("{region}-{ulid}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Regional for EntryId {
    fn region(&self) -> RegionId {
        split_region(&self.0).map(|(r, _)| r).unwrap_or(RegionId(*b"000"))
    }
}

impl FromStr for EntryId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (_, rest) = split_region(s)?;
        ulid::Ulid::from_string(rest).map_err(|_| IdError::BadShape)?;
        Ok(EntryId(s.to_owned()))
    }
}

impl TryFrom<String> for EntryId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EntryId> for String {
    fn from(id: EntryId) -> String {
        id.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_is_three_digits() {
        assert!("001".parse::<RegionId>().is_ok());
        for bad in ["", "01", "0001", "a01", "-01", "１２３"] {
            assert_eq!(bad.parse::<RegionId>(), Err(IdError::BadRegion), "{bad:?}");
        }
    }

    #[test]
    fn short_ids_round_trip_and_keep_their_region() {
        let region: RegionId = "002".parse().unwrap();
        for _ in 0..100 {
            let id = GroupId::generate(region);
            assert_eq!(id.region(), region);
            assert_eq!(id.as_str().parse::<GroupId>().unwrap(), id);
        }
    }

    #[test]
    fn malformed_short_ids_are_rejected() {
        for bad in ["001abc123", "001-ABC123", "001-abc12", "001-abc1234", "01-abc123", "001-abc 12", "001-"] {
            assert_eq!(bad.parse::<UserId>(), Err(IdError::BadShape), "{bad:?}");
        }
    }

    #[test]
    fn entry_ids_are_region_and_ulid() {
        let region: RegionId = "003".parse().unwrap();
        let id = EntryId::generate(region);
        assert!(id.as_str().starts_with("003-"));
        assert_eq!(id.as_str().len(), 4 + 26);
        assert!(id.as_str().parse::<EntryId>().is_ok());
        assert!("003-notaulid".parse::<EntryId>().is_err());
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id: UserId = "001-abc123".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"001-abc123\"");
        assert!(serde_json::from_str::<UserId>("\"nope\"").is_err());
    }
}
