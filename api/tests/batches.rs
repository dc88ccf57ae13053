//! Group commit on its own: jobs for one group that wait together run in one
//! transaction, and one job's failure does not take its batchmates down with it.

mod support;

use std::time::Duration;

use api::db::Db;
use api::error::ApiError;
use api::services::batches::{GroupBatches, Job, Outcome, Work};
use contract::GroupId;
use diesel::prelude::*;
use serde_json::json;
use support::postgres::TestDb;
use support::test_config;

fn job(key: &str, work: Box<Work>) -> Job {
    Job { caller_id: "001-tester".into(), key: key.into(), fingerprint: "f".into(), request_id: "r".into(), work }
}

fn answering(answer: i64) -> Box<Work> {
    Box::new(move |_conn: &mut PgConnection| Ok(Ok(json!({ "answer": answer }))))
}

#[actix_web::test]
async fn a_failing_job_fails_alone_and_its_batchmates_apply() {
    let test_db = TestDb::create();
    let config = test_config(&test_db.url);
    let db = Db::new(&test_db.url, &config.db, None);
    db.migrate(Duration::from_secs(10)).unwrap();
    let batches = GroupBatches::new(64, 512);
    let group: GroupId = "001-batch1".parse().unwrap();

    // The first job holds the group's runner for a moment, so the next three queue up
    // and run together.
    let slow: Box<Work> = Box::new(|conn: &mut PgConnection| {
        diesel::sql_query("SELECT pg_sleep(0.3)").execute(conn)?;
        Ok(Ok(json!({ "answer": 0 })))
    });
    let failing: Box<Work> = Box::new(|conn: &mut PgConnection| {
        diesel::sql_query("SELECT 1 / 0").execute(conn)?;
        Ok(Ok(json!({ "answer": -1 })))
    });
    let first = batches.run(&db, &group, job("k0", slow));
    let rest = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        futures_util::future::join3(
            batches.run(&db, &group, job("k1", answering(1))),
            batches.run(&db, &group, job("k2", failing)),
            batches.run(&db, &group, job("k3", answering(3))),
        )
        .await
    };
    let (first, (one, two, three)) = futures_util::future::join(first, rest).await;
    let fresh = |outcome: Result<Outcome, ApiError>| match outcome {
        Ok(Outcome::Fresh { status, body }) => (status, body),
        Ok(Outcome::Existing(_)) => panic!("nothing was recorded before"),
        Err(err) => panic!("failed: {err}"),
    };
    assert_eq!(fresh(first).1["answer"], 0);
    assert_eq!(fresh(one), (201, json!({ "answer": 1 })));
    assert_eq!(fresh(three), (201, json!({ "answer": 3 })));
    assert!(matches!(two, Err(ref e) if e.code == contract::ErrorCode::Internal), "the failing job fails");

    // Their records: k0, k1 and k3 are remembered, k2 is not (so its retry runs again).
    use api::db::schema::idempotency_records::dsl as r;
    let mut keys: Vec<String> = r::idempotency_records.select(r::key).load(&mut test_db.connect()).unwrap();
    keys.sort();
    assert_eq!(keys, ["k0", "k1", "k3"]);
}
