//! Group commit on its own: waiting writes of several groups run in one transaction, a
//! group's writes wait for its running batch while other groups' go on, and one job's
//! failure does not take its batchmates down with it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test setup and helpers

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::postgres::{DbLock, TestDb};
use crate::support::test_config;
use api::db::Db;
use api::db::ledger::EntryRow;
use api::db::points::{Answer, PointsWrite, Stored};
use api::domain::Qty;
use api::domain::discounts::{Off, Terms};
use api::domain::points::{PricedItem, Prices, Refusal, Rule, Store};
use api::services::group_commit::{Limits, Unqueued};
use api::services::points::{PointsBatch, PointsQueue};
use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::json;

const REGION: &str = "001";

/// Answers an applied write with its points and balance, a refusal with its envelope.
fn render(write: &PointsWrite, decision: Result<&EntryRow, &Refusal>) -> QueryResult<Answer> {
    Ok(match decision {
        Ok(entry) => (201, json!({ "points": entry.points, "balance_after": entry.balance_after })),
        Err(refusal) => {
            let error = api::routes::answers::refusal_error(refusal, &write.group_id);
            (error.code.http_status(), serde_json::to_value(error.envelope("r".into())).unwrap())
        }
    })
}

/// A bill of one dish priced `points` × 100 cents (from another region's prices, so a
/// negative price reaches the ledger and breaks its constraint) into `group`.
fn award(group: &str, key: &str, points: i64) -> PointsWrite {
    let dish = PricedItem {
        id: "001-dish01".into(),
        category: "mains".into(),
        price_cents: points * 100,
        points_price: 1,
        available: true,
    };
    PointsWrite {
        caller_id: "001-staff1".into(),
        key: key.into(),
        fingerprint: "f".into(),
        group_id: group.parse().unwrap(),
        rule: Rule::Bill {
            user_id: "001-tester".into(),
            actor_id: "001-staff1".into(),
            store_region: REGION.parse().unwrap(),
            lines: vec![("001-dish01".parse().unwrap(), Qty::parse(1).unwrap())],
            prices: Prices::From(Arc::new(Store { items: vec![dish], discounts: Arc::default() })),
            discounts: Arc::default(),
            points_per_unit: 1,
        },
        request_id: "r".into(),
    }
}

/// `award`, where the store issues the group a half-price offer on every second bill.
fn award_with_offers(group: &str, key: &str) -> PointsWrite {
    let mut write = award(group, key, 10);
    if let Rule::Bill { discounts, .. } = &mut write.rule {
        *discounts = Arc::new(vec![Terms {
            id: "001-half01".into(),
            name: "Half".into(),
            off: Off::Percent(50),
            min_spend_cents: 0,
            category: None,
            valid_from: None,
            valid_until: None,
            audience: contract::dto::Audience::Offer,
            every_n_bills: Some(2),
        }]);
    }
    write
}

struct Setup {
    test_db: TestDb,
    db: Db,
}

fn setup(groups: &[&str]) -> Setup {
    let test_db = TestDb::create();
    let config = test_config(&test_db.url);
    let db = Db::new(&test_db.url, &config.db, None);
    db.migrate(Instant::now() + Duration::from_secs(10)).unwrap();
    let mut conn = test_db.connect();
    // The member lives in this region, so the audit reads its index of the groups below.
    diesel::sql_query(
        "INSERT INTO users (id, email, password_hash, role, full_name, personal_group_id) VALUES ('001-tester', 't@x.io', 'x', 'customer', 'T', $1)",
    )
    .bind::<diesel::sql_types::Text, _>(groups[0])
    .execute(&mut conn)
    .unwrap();
    for id in groups {
        diesel::sql_query("INSERT INTO groups (id, name, location, owner_id) VALUES ($1, 'g', 'here', '001-tester')")
            .bind::<diesel::sql_types::Text, _>(*id)
            .execute(&mut conn)
            .unwrap();
        // The membership, and its member's index of it (the same region's: one transaction).
        for insert in [
            "INSERT INTO group_members (group_id, user_id, active, version, can_redeem) VALUES ($1, '001-tester', true, 1, true)",
            "INSERT INTO user_group_index (user_id, group_id, active, version) VALUES ('001-tester', $1, true, 1)",
        ] {
            diesel::sql_query(insert).bind::<diesel::sql_types::Text, _>(*id).execute(&mut conn).unwrap();
        }
    }
    Setup { test_db, db }
}

fn batches(db: &Db, runners: usize) -> Arc<PointsQueue> {
    let limits = Limits { runners, max_batch: 64, max_waiting_per_lane: 512, deadline: db.deadline() };
    PointsBatch::queue(db.clone(), REGION.parse().unwrap(), render, limits)
}

fn fresh(outcome: Result<Stored, Unqueued<api::error::ApiError>>) -> Answer {
    match outcome {
        Ok(Stored::Decided { answer, .. }) => answer,
        Ok(Stored::Replayed(_)) => panic!("nothing was recorded before"),
        Err(err) => panic!("failed: {err:?}"),
    }
}

fn recorded_keys(test_db: &TestDb) -> Vec<String> {
    use api::db::schema::idempotency_records::dsl as r;
    let mut keys: Vec<String> = r::idempotency_records.select(r::key).load(&mut test_db.connect()).unwrap();
    keys.sort();
    keys
}

#[actix_web::test]
async fn a_failing_job_fails_alone_and_its_batchmates_apply() {
    let Setup { test_db, db } = setup(&["001-batch1", "001-batch2"]);
    let batches = batches(&db, 1);
    // Submitted together, before the one runner starts: one batch of four, across two
    // groups, where k2's entry breaks a ledger constraint.
    let outcomes = join_all([
        batches.run(award("001-batch1", "k0", 5)),
        batches.run(award("001-batch2", "k1", 7)),
        batches.run(award("001-batch1", "k2", -1)),
        batches.run(award("001-batch1", "k3", 3)),
    ])
    .await;
    let mut outcomes = outcomes.into_iter();
    let mut next = || outcomes.next().unwrap();
    assert_eq!(fresh(next()), (201, json!({ "points": 5, "balance_after": 5 })));
    assert_eq!(fresh(next()), (201, json!({ "points": 7, "balance_after": 7 })));
    assert!(
        matches!(next(), Err(Unqueued::Failed(ref e)) if e.code == contract::ErrorCode::Internal),
        "the failing job fails"
    );
    assert_eq!(fresh(next()), (201, json!({ "points": 3, "balance_after": 8 })));

    // Their records: k0, k1 and k3 are remembered, k2 is not (so its retry runs again).
    assert_eq!(recorded_keys(&test_db), ["k0", "k1", "k3"]);
    assert_eq!(test_db.assert_ledger_consistent("001-batch1"), 8);
    assert_eq!(test_db.assert_ledger_consistent("001-batch2"), 7);
}

#[actix_web::test]
async fn a_batch_answers_a_repeated_key_once_and_refuses_a_missing_group_alone() {
    let Setup { test_db, db } = setup(&["001-batch1"]);
    let batches = batches(&db, 1);
    let outcomes = join_all([
        batches.run(award("001-batch1", "k0", 5)),
        batches.run(award("001-nosuch", "k1", 5)),
        batches.run(award("001-batch1", "k0", 5)),
    ])
    .await;
    let mut outcomes = outcomes.into_iter();
    assert_eq!(fresh(outcomes.next().unwrap()), (201, json!({ "points": 5, "balance_after": 5 })));
    let (status, body) = fresh(outcomes.next().unwrap());
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    match outcomes.next().unwrap() {
        Ok(Stored::Replayed(record)) => {
            assert_eq!(record.response_status, 201);
            assert_eq!(record.response_body, json!({ "points": 5, "balance_after": 5 }));
        }
        _ => panic!("the repeated key replays the first answer"),
    }
    assert_eq!(recorded_keys(&test_db), ["k0", "k1"]);
    assert_eq!(test_db.assert_ledger_consistent("001-batch1"), 5);

    // Later, the same key twice in one batch: both replay its record.
    let again = join_all([batches.run(award("001-batch1", "k0", 5)), batches.run(award("001-batch1", "k0", 5))]).await;
    for outcome in again {
        assert!(matches!(outcome, Ok(Stored::Replayed(ref r)) if r.response_status == 201));
    }
    assert_eq!(test_db.assert_ledger_consistent("001-batch1"), 5);
}

#[actix_web::test]
async fn a_groups_writes_wait_for_its_batch_while_other_groups_go_on() {
    let Setup { test_db, db } = setup(&["001-slow01", "001-quick1"]);
    let batches = batches(&db, 2);
    // The slow group's row is locked from outside: its first batch blocks on it.
    let lock = DbLock::group(&test_db, "001-slow01");
    let first = actix_web::rt::spawn({
        let batches = batches.clone();
        async move { batches.run(award("001-slow01", "s1", 1)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = actix_web::rt::spawn({
        let batches = batches.clone();
        async move { batches.run(award("001-slow01", "s2", 2)).await }
    });
    // The other group's write runs in the second runner and is answered meanwhile.
    let quick = tokio::time::timeout(Duration::from_secs(5), batches.run(award("001-quick1", "q1", 4))).await;
    assert_eq!(fresh(quick.expect("not held up by the slow group")), (201, json!({ "points": 4, "balance_after": 4 })));
    assert!(!first.is_finished() && !second.is_finished(), "the slow group's writes wait for its lock");

    lock.release();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    // s2 waited for s1's batch rather than colliding with it: it builds on s1's balance.
    assert_eq!(fresh(first), (201, json!({ "points": 1, "balance_after": 1 })));
    assert_eq!(fresh(second), (201, json!({ "points": 2, "balance_after": 3 })));
    assert_eq!(test_db.assert_ledger_consistent("001-slow01"), 3);
}

/// The second bill of a batch earns the group an offer and the third uses it, all in the
/// one transaction: the offer is written before it is marked used.
#[actix_web::test]
async fn an_offer_one_bill_issues_is_used_by_the_next_in_the_same_batch() {
    let Setup { test_db, .. } = setup(&["001-offer1"]);
    let writes: Vec<PointsWrite> = (0..3).map(|i| award_with_offers("001-offer1", &format!("o{i}"))).collect();
    let mut conn = test_db.connect();
    let stored = api::db::points::apply(&mut conn, REGION.parse().unwrap(), &writes, render).expect("one batch");
    let points: Vec<Answer> = stored.into_iter().map(|s| fresh(Ok(s))).collect();
    assert_eq!(
        points,
        [
            (201, json!({ "points": 10, "balance_after": 10 })),
            (201, json!({ "points": 10, "balance_after": 20 })),
            (201, json!({ "points": 5, "balance_after": 25 })),
        ]
    );
    use api::db::schema::offers::dsl as o;
    let offers: Vec<(String, Option<String>)> = o::offers.select((o::state, o::used_by_bill)).load(&mut conn).unwrap();
    assert!(matches!(offers.as_slice(), [(state, Some(_))] if state == "used"), "{offers:?}");
    assert_eq!(test_db.assert_ledger_consistent("001-offer1"), 25);
}

/// A conflict on every attempt (here the same unique key each time, as a bug would
/// meet it) is tried exactly `max_tx_attempts` times, then refused as contention with
/// nothing applied.
#[actix_web::test]
async fn a_conflict_on_every_attempt_is_tried_the_configured_times_then_refused() {
    use diesel::result::{DatabaseErrorKind, Error};
    use std::sync::atomic::{AtomicU32, Ordering};

    let test_db = TestDb::create();
    let mut config = test_config(&test_db.url);
    config.db.max_tx_attempts = 3;
    let db = Db::new(&test_db.url, &config.db, None);
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let refused = db
        .retrying(move |_| -> QueryResult<()> {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, Box::new("duplicate key".to_owned())))
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(refused.code, contract::ErrorCode::RegionUnavailable);
}
