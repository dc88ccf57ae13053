//! Events for other regions, written in the same transaction as the change they announce.
//! The relay that delivers them lands with the router.

use diesel::prelude::*;

use super::schema::outbox;

pub fn enqueue(
    conn: &mut PgConnection,
    destination_region: &str,
    kind: &str,
    payload: &serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values((outbox::destination_region.eq(destination_region), outbox::kind.eq(kind), outbox::payload.eq(payload)))
        .execute(conn)?;
    Ok(())
}
