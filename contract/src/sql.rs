//! Ids and enums as Postgres text columns (feature `diesel`, for the regional API): a row
//! holds typed values, each checked once as it is read, instead of strings parsed later.

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::dto::{Audience, EntryKind, Role};
use crate::ids::{DiscountId, EntryId, GroupId, InvitationId, ItemId, OfferId, RegionId, UserId};

/// Written as its text, read back through its `FromStr` (a malformed value in the database
/// is an error of the read, never a value).
macro_rules! text_column {
    ($($t:ty),* $(,)?) => {$(
        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Pg> for $t {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                text.parse().map_err(|_| format!("malformed {} in the database: {text:?}", stringify!($t)).into())
            }
        }
    )*};
}

text_column!(RegionId, UserId, GroupId, ItemId, DiscountId, OfferId, InvitationId, EntryId, EntryKind, Role, Audience);

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn every_column_type_reads_back_what_it_writes_as_text() {
        assert_eq!(EntryKind::from_str(EntryKind::Redeem.as_str()), Ok(EntryKind::Redeem));
        assert!(EntryKind::from_str("refund").is_err());
        assert_eq!(Audience::from_str(Audience::Offer.as_str()), Ok(Audience::Offer));
        assert!(Audience::from_str("nobody").is_err());
        assert!("001-abc123".parse::<GroupId>().is_ok());
    }
}
