//! What would grow for ever is deleted in chunks: idempotency records past their
//! retention and outbox events delivered long ago; nothing younger, nothing undelivered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test setup and helpers

use std::time::{Duration, Instant};

use crate::support::postgres::TestDb;
use crate::support::test_config;
use api::db::Db;
use api::services::housekeeping::{Purged, purge};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

#[tokio::test]
async fn old_records_and_delivered_events_go_in_chunks_and_nothing_else() {
    let test_db = TestDb::create();
    let config = test_config(&test_db.url);
    let db = Db::new(&test_db.url, &config.db, None);
    db.migrate(Instant::now() + Duration::from_secs(10)).unwrap();
    let mut conn = test_db.connect();
    // More than two chunks of each, and some of what must stay.
    conn.batch_execute(
        "INSERT INTO idempotency_records (caller_id, key, fingerprint, response_status, response_body, created_on)
         SELECT '001-aaaaaa', 'old-' || i, 'f', 201, '{}', now() - interval '3 days' FROM generate_series(1, 12000) i;
         INSERT INTO idempotency_records (caller_id, key, fingerprint, response_status, response_body, created_on)
         SELECT '001-aaaaaa', 'new-' || i, 'f', 201, '{}', now() - interval '47 hours' FROM generate_series(1, 10) i;
         INSERT INTO outbox (destination_region, kind, payload, delivered_on)
         SELECT '002', 'membership', '{}', now() - interval '2 days' FROM generate_series(1, 11000);
         INSERT INTO outbox (destination_region, kind, payload, delivered_on)
         SELECT '002', 'membership', '{}', now() - interval '1 hour' FROM generate_series(1, 5);
         INSERT INTO outbox (destination_region, kind, payload, created_on)
         SELECT '002', 'membership', '{}', now() - interval '3 days' FROM generate_series(1, 5);
         INSERT INTO token_revocations (user_id, jti, expires_at)
         SELECT '001-aaaaaa', 'old-' || i, now() - interval '1 minute' FROM generate_series(1, 6000) i;
         INSERT INTO token_revocations (user_id, jti, expires_at)
         SELECT '001-aaaaaa', 'live-' || i, now() + interval '1 hour' FROM generate_series(1, 3) i;",
    )
    .unwrap();

    let purged = purge(&db, chrono::Duration::hours(48), chrono::Duration::hours(24)).await.unwrap();
    assert_eq!(purged, Purged { idempotency_records: 12_000, outbox_events: 11_000, token_revocations: 6_000 });
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM token_revocations"), 3, "unexpired revocations stay");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM idempotency_records WHERE key LIKE 'new-%'"), 10);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM idempotency_records WHERE key LIKE 'old-%'"), 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE delivered_on IS NULL"), 5, "undelivered stay");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE delivered_on IS NOT NULL"), 5);
    // A second pass finds nothing.
    let again = purge(&db, chrono::Duration::hours(48), chrono::Duration::hours(24)).await.unwrap();
    assert_eq!(again, Purged::default());
}
