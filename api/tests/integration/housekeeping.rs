//! What would grow for ever is deleted in chunks: idempotency records past their
//! retention, outbox events delivered long ago, invitations closed long ago, failed
//! attempts that no longer count; nothing younger, nothing undelivered, nothing that
//! still opens a group.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test setup and helpers

use std::time::{Duration, Instant};

use crate::support::postgres::TestDb;
use crate::support::test_config;
use api::db::Db;
use api::services::housekeeping::{Purged, Retention, purge};
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

fn retention() -> Retention {
    Retention {
        idempotency_records: chrono::Duration::hours(48),
        delivered_events: chrono::Duration::hours(24),
        closed_invitations: chrono::Duration::days(30),
        login_networks: chrono::Duration::days(90),
        failed_attempts: chrono::Duration::minutes(10),
    }
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
         SELECT '001-aaaaaa', 'live-' || i, now() + interval '1 hour' FROM generate_series(1, 3) i;
         INSERT INTO groups (id, name, location, owner_id) VALUES ('001-gggggg', 'G', 'L', '001-aaaaaa');
         INSERT INTO invitations (id, group_id, code_hash, can_redeem, created_by, expires_at, used_by, used_on,
                                  revoked_on, created_on)
         SELECT 'closed-' || i, '001-gggggg', 'closed-' || i, false, '001-aaaaaa', now() + interval '1 day',
                CASE WHEN i % 3 = 0 THEN '001-bbbbbb' END, CASE WHEN i % 3 = 0 THEN now() - interval '31 days' END,
                CASE WHEN i % 3 = 1 THEN now() - interval '31 days' END, now() - interval '40 days'
           FROM generate_series(1, 5000) i WHERE i % 3 <> 2
         UNION ALL
         SELECT 'expired-' || i, '001-gggggg', 'expired-' || i, false, '001-aaaaaa', now() - interval '31 days',
                NULL, NULL, NULL, now() - interval '32 days' FROM generate_series(1, 2000) i;
         INSERT INTO invitations (id, group_id, code_hash, can_redeem, created_by, expires_at, used_by, used_on,
                                  revoked_on)
         VALUES ('open', '001-gggggg', 'open', false, '001-aaaaaa', now() + interval '1 day', NULL, NULL, NULL),
                ('used-lately', '001-gggggg', 'used-lately', false, '001-aaaaaa', now() + interval '1 day',
                 '001-bbbbbb', now() - interval '29 days', NULL),
                ('revoked-lately', '001-gggggg', 'revoked-lately', false, '001-aaaaaa', now() - interval '1 day',
                 NULL, NULL, now() - interval '2 days');
         INSERT INTO login_networks (user_id, network, last_login)
         SELECT '001-aaaaaa', '10.' || i || '.0.0/24', now() - interval '91 days' FROM generate_series(1, 7) i;
         INSERT INTO login_networks (user_id, network, last_login)
         VALUES ('001-aaaaaa', '192.0.2.0/24', now() - interval '89 days');
         INSERT INTO lockouts (kind, subject, failures, last_failure)
         SELECT 'login', 'a@x.io 10.0.0.' || i, 9, now() - interval '11 minutes' FROM generate_series(1, 3) i;
         INSERT INTO lockouts (kind, subject, failures, locked_until)
         VALUES ('join', '001-aaaaaa', 6, now() + interval '2 seconds');
         INSERT INTO email_failures (email, minute_started, failures)
         VALUES ('old@x.io', now() - interval '11 minutes', 40), ('new@x.io', now(), 1);",
    )
    .unwrap();

    let purged = purge(&db, retention()).await.unwrap();
    assert_eq!(
        purged,
        Purged {
            idempotency_records: 12_000,
            outbox_events: 11_000,
            token_revocations: 6_000,
            invitations: 5_333,
            login_networks: 7,
            lockouts: 3,
            email_failures: 1,
        }
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM login_networks"), 1, "a network logged in from lately");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM lockouts"), 1, "a lockout that still counts");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM email_failures"), 1);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM invitations"),
        3,
        "an open one stays, and closed ones for 30 days"
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM token_revocations"), 3, "unexpired revocations stay");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM idempotency_records WHERE key LIKE 'new-%'"), 10);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM idempotency_records WHERE key LIKE 'old-%'"), 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE delivered_on IS NULL"), 5, "undelivered stay");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE delivered_on IS NOT NULL"), 5);
    // A second pass finds nothing.
    let again = purge(&db, retention()).await.unwrap();
    assert_eq!(again, Purged::default());
}
