//! The database goes away while the API runs, and several instances share one database.

use std::time::{Duration, Instant};

use crate::support::postgres::{Cluster, DbLock, TestDb};
use crate::support::silence::SilentAddress;
use crate::support::{TestApp, expect_error, expect_json, redeemed_or_insufficient, test_config};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_dead_database_gives_fast_503s_and_the_api_recovers_by_itself() {
    let cluster = Cluster::start();
    let db = TestDb::create_on(&cluster.url());
    let mut config = test_config(&db.url);
    config.db.connection_timeout_ms = 1_000;
    let app = TestApp::start(config, db).await;
    let (user, token) = app.customer().await;
    let me = format!("/v1/users/{}", user.id);
    let redemptions = format!("/v1/groups/{}/redemptions", user.personal_group_id);
    let one_point = json!({"points": 1});
    let redeem_once = || app.post_once(&redemptions, &token, "during-outage", &one_point);
    assert_eq!(app.get(&me, Some(&token)).await.status(), StatusCode::OK);

    cluster.kill();
    for path in [me.as_str(), "/readyz"] {
        let started = Instant::now();
        let res = app.get(path, Some(&token)).await;
        let waited = started.elapsed();
        assert!(res.headers().contains_key("retry-after"));
        expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
        // Bounded by the pool's connection timeout, not a hang (generous for slow CI).
        assert!(waited < Duration::from_secs(10), "took {waited:?}");
    }
    // A points request during the outage is refused and can be retried with its key.
    let res = redeem_once().await;
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK, "the process itself stays alive");

    cluster.resume();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app.get(&me, Some(&token)).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the API did not recover: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The refused request was not half-applied, and its retry now gets a real answer.
    let res = redeem_once().await;
    expect_error(res, StatusCode::CONFLICT, "insufficient_points").await;
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 0);
}

#[tokio::test]
async fn two_instances_on_one_database_still_never_overdraw() {
    let app = TestApp::spawn().await;
    // A second instance of the same region: the per-instance group gate does not span
    // both, so SERIALIZABLE and the row lock are what keep the balance right.
    let second = app.sibling().await;

    let (user, token) = app.customer().await;
    let gid = user.personal_group_id.as_str().to_owned();
    app.award(user.id.as_str(), None, 10_000, 1).await; // 100 points
    let responses = join_all((0..40).map(|i| {
        let base = if i % 2 == 0 { app.base.clone() } else { second.base.clone() };
        let (client, token, gid) = (app.http.clone(), token.clone(), gid.clone());
        async move {
            client
                .raw(client::Method::POST, &format!("{base}/v1/groups/{gid}/redemptions"))
                .bearer_auth(token)
                .header("Idempotency-Key", format!("r-{i}"))
                .json(&json!({"points": 7}))
                .send()
                .await
                .unwrap()
        }
    }))
    .await;
    let (ok, _) = redeemed_or_insufficient(responses).await;
    assert_eq!(ok, 100 / 7);
    assert_eq!(app.assert_ledger_consistent(&gid), 100 % 7);
    let _: serde_json::Value =
        expect_json(app.get(&format!("/v1/groups/{gid}"), Some(&token)).await, StatusCode::OK).await;
}

/// A database host gone silent (an availability zone gone dark: connections are neither
/// refused nor answered) is passed over for the next host of the URL, as a promoted
/// standby is reached, within `connect_timeout`. With libpq's default the instance
/// waited on it for as long as TCP did and did not start.
#[tokio::test]
async fn a_database_host_gone_silent_is_passed_over_for_the_next() {
    let db = TestDb::create();
    let (upstream, name) = db.server();
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let silent = faults::Link::new("silent", listen, upstream);
    silent.set(faults::Fault::Drop);
    tokio::spawn(silent.clone().serve());
    let mut config = test_config(&db.url);
    config.database_url = format!("postgres://postgres@{listen},{upstream}/{name}");
    config.db.connect_timeout_secs = 2;
    config.db.startup_wait_secs = 20;
    let app = TestApp::start(config, db).await;
    let (user, token) = app.customer().await;
    let _: serde_json::Value =
        expect_json(app.get(&format!("/v1/users/{}", user.id), Some(&token)).await, StatusCode::OK).await;
}

/// A database host that goes silent in the middle of a query (packets go nowhere, nothing
/// is refused) gives the query up within `db.tcp_user_timeout_ms`, and the pool's next
/// connection is a new one. Without that bound libpq waited for as long as TCP went on
/// retransmitting (about fifteen minutes), and the pool's connection with it.
#[tokio::test]
async fn a_query_to_a_host_gone_silent_is_given_up_within_the_tcp_user_timeout() {
    let Some(host) = SilentAddress::add() else {
        eprintln!("SKIPPED: silencing an address takes root (make test runs as root)");
        return;
    };
    let db = TestDb::create();
    let (upstream, name) = db.server();
    let listen = std::net::TcpListener::bind((host.ip, 0)).unwrap().local_addr().unwrap();
    tokio::spawn(faults::Link::new("mid-query", listen, upstream).serve());
    let mut config = test_config(&db.url).db;
    config.pool_size = 1;
    config.tcp_user_timeout_ms = 2_000;
    // Far beyond the bound, so that only the bound can end the wait.
    config.deadline_ms = 60_000;
    let pool = api::db::Db::new(&format!("postgres://postgres@{listen}/{name}"), &config, None);
    let select = || pool.run(|conn| Ok(conn.batch_execute("SELECT 1")?));
    select().await.expect("the connection works before the host goes silent");

    host.silence();
    let started = Instant::now();
    let silent = select().await;
    let waited = started.elapsed();
    let err = silent.expect_err("a query to a silent host cannot succeed");
    assert_ne!(err.code, contract::ErrorCode::Timeout, "only the request's deadline ended the wait: {err:?}");
    assert!(waited < Duration::from_secs(15), "the bound is 2 s; the query waited {waited:?}");

    host.speak();
    select().await.expect("a new connection once the host answers again");
}

/// An instance that stops in the middle of a transaction (frozen, or cut off from its
/// database while the connection stays open) holds the rows it locked until Postgres
/// ends its session: `idle_in_transaction_session_timeout` does that, so the group's
/// points writes from the other instances go on instead of timing out behind it.
#[tokio::test]
async fn a_transaction_left_open_by_a_stalled_instance_is_ended_by_the_database() {
    // A second of idleness ends the stalled session, well before the redemption's 3 s
    // statement timeout; the app's own transactions never stall that long, even on a
    // loaded machine.
    let app = TestApp::spawn_with(|c| {
        c.db.statement_timeout_ms = 3_000;
        c.db.idle_in_transaction_timeout_ms = 1_000;
    })
    .await;
    let funded = app.customer_with_points(10).await;
    let stalled = api::db::Db::new(&app.db.url, &app.config.db, None);
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let group = funded.group.clone();
    let holder = tokio::spawn(async move {
        stalled
            .run(move |conn| {
                conn.batch_execute(&format!("BEGIN; SELECT 1 FROM groups WHERE id = '{group}' FOR UPDATE"))?;
                let _ = locked.send(());
                std::thread::sleep(Duration::from_secs(4));
                Ok(conn.batch_execute("COMMIT"))
            })
            .await
    });
    is_locked.await.unwrap();

    let res = app.post_once(&funded.redemptions, &funded.token, "after-a-stall", &json!({"points": 1})).await;
    let _: serde_json::Value = expect_json(res, StatusCode::CREATED).await;
    let commit = holder.await.unwrap().unwrap();
    assert!(commit.is_err(), "the database ended the stalled transaction: its COMMIT found no session");
    assert_eq!(app.assert_ledger_consistent(&funded.group), 9);
}

#[tokio::test]
async fn an_exhausted_pool_and_a_stuck_query_answer_within_bounds() {
    // One connection; a group row locked from outside makes the first redemption hold
    // that connection until its statement times out, so the second waits at the gate.
    let app = TestApp::spawn_with(|c| {
        c.db.pool_size = 1;
        c.db.gate_timeout_ms = 300;
        c.db.statement_timeout_ms = 1_500;
    })
    .await;
    let [(ann, ann_token), (bob, bob_token)] = app.customers().await;
    let lock = DbLock::group(&app.db, ann.personal_group_id.as_str());

    let ann_path = format!("/v1/groups/{}/redemptions", ann.personal_group_id);
    let one_point = json!({"points": 1});
    let stuck = app.post_once(&ann_path, &ann_token, "stuck", &one_point);
    let waiting = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let res = app
            .post_once(
                &format!("/v1/groups/{}/redemptions", bob.personal_group_id),
                &bob_token,
                "waiting",
                &json!({"points": 1}),
            )
            .await;
        (res, started.elapsed())
    };
    let started = Instant::now();
    let (stuck, (waiting, waited)) = tokio::join!(stuck, waiting);
    let stuck_took = started.elapsed();
    lock.release();

    expect_error(stuck, StatusCode::GATEWAY_TIMEOUT, "timeout").await;
    assert!(stuck_took < Duration::from_secs(10), "statement timeout bounds a stuck query: {stuck_took:?}");
    expect_error(waiting, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    assert!(waited < Duration::from_secs(5), "the gate bounds the wait for a connection: {waited:?}");
    // Nothing was applied, and the region serves again.
    assert_eq!(app.assert_ledger_consistent(ann.personal_group_id.as_str()), 0);
    let res = app
        .post_once(
            &format!("/v1/groups/{}/redemptions", ann.personal_group_id),
            &ann_token,
            "after",
            &json!({"points": 1}),
        )
        .await;
    expect_error(res, StatusCode::CONFLICT, "insufficient_points").await;
}

/// The default build has no AWS SDK: asking it for IAM auth fails at start, clearly.
#[cfg(not(feature = "iam"))]
#[tokio::test]
async fn iam_auth_needs_the_iam_build() {
    let db = TestDb::create();
    let mut config = test_config(&db.url);
    config.db.auth = api::config::DbAuth::Iam;
    let error = api::Application::build(config).await.err().expect("refused");
    assert!(error.to_string().contains("--features iam"), "{error}");
}

/// The cloud's build (`--features iam`, which `make test` builds) signs its database
/// password with the instance's AWS credentials, and sends it only over TLS. Run as the
/// deploy runs it (`loyalty-api --migrate`) against a Postgres that refuses connections
/// without TLS: with credentials it connects and migrates; with none it refuses to start
/// and says why. No instance metadata, profile files or real keys are looked at: the
/// credentials come from this test alone. (Postgres here trusts any password; the token's
/// signature is `rds::iam_auth`'s unit test.)
#[cfg(feature = "iam")]
#[test]
fn iam_auth_signs_with_aws_credentials_over_tls_and_refuses_to_start_without() {
    let cluster = Cluster::start_tls_only();
    let db = TestDb::create_on(&cluster.url());
    let migrate = |credentials: &[(&str, &str)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty-api"))
            .arg("--migrate")
            .env_clear()
            // Asks for no TLS: IAM auth must insist on it all the same.
            .env("LOYALTY_DATABASE_URL", format!("{}?sslmode=disable", db.url))
            .env("LOYALTY_DB__AUTH", "iam")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
            .envs(credentials.iter().copied())
            .output()
            .expect("loyalty-api runs");
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), said)
    };

    let (ok, said) = migrate(&[]);
    assert!(!ok && said.contains("no IAM database token"), "refused without credentials: {said}");
    assert!(!said.contains("migration(s) applied"), "{said}");

    let (ok, said) = migrate(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "test-secret")]);
    assert!(ok && said.contains("migration(s) applied"), "signed a token and migrated: {said}");
    let pending = db.connect().has_pending_migration(api::db::MIGRATIONS).expect("migrations read");
    assert!(!pending, "the schema is there");
}

/// A statement that waits on the network (here: on a lock, the same to the API) is not
/// bounded by `statement_timeout`; the request deadline answers 504 in time, the work
/// finishes on its own, and the retry with the same key gets its result, applied once.
#[tokio::test]
async fn a_request_past_its_deadline_answers_504_and_its_retry_gets_the_result() {
    let app = TestApp::spawn_with(|c| {
        c.db.deadline_ms = 700;
        c.db.statement_timeout_ms = 20_000;
    })
    .await;
    let (ann, ann_token) = app.customer().await;
    let group = ann.personal_group_id.to_string();
    app.award(ann.id.as_str(), None, 10_000, 1).await; // 100 points
    let lock = DbLock::group(&app.db, &group);
    let path = format!("/v1/groups/{group}/redemptions");
    let started = Instant::now();
    let res = app.post_once(&path, &ann_token, "late", &json!({"points": 30})).await;
    let took = started.elapsed();
    expect_error(res, StatusCode::GATEWAY_TIMEOUT, "timeout").await;
    assert!(took < Duration::from_secs(2), "answered by the deadline: {took:?}");
    lock.release();
    // The retry waits for, or finds, the first attempt's result: applied exactly once.
    let deadline = Instant::now() + Duration::from_secs(10);
    let replay = loop {
        let res = app.post_once(&path, &ann_token, "late", &json!({"points": 30})).await;
        if res.status() != StatusCode::GATEWAY_TIMEOUT || Instant::now() > deadline {
            break res;
        }
    };
    let entry: serde_json::Value = expect_json(replay, StatusCode::CREATED).await;
    assert_eq!(entry["points"], 30);
    assert_eq!(app.assert_ledger_consistent(&group), 70);
}

/// A database slower than a request's deadline while the API starts delays the bootstrap
/// accounts; it does not end the instance, which nobody would restart. Once the database
/// catches up, the instance serves and each account exists once.
#[tokio::test]
async fn a_database_slow_at_startup_delays_the_bootstrap_accounts_without_ending_the_instance() {
    let db = TestDb::create();
    db.connect().run_pending_migrations(api::db::MIGRATIONS).expect("migrations apply");
    let mut config = test_config(&db.url);
    config.db.deadline_ms = 300;
    let lock = DbLock::table(&db, "users");
    // Several attempts time out meanwhile (their inserts wait on, then queue behind, the lock).
    let release = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        lock.release();
        Instant::now()
    };
    let start = async {
        let app = TestApp::start(config, db).await;
        (app, Instant::now())
    };
    let ((app, started), released) = tokio::join!(start, release);
    assert!(started > released, "the start waited for the database");
    app.staff_token().await;
    app.admin_token().await;
    let mut conn = app.db.connect();
    let accounts: i64 =
        diesel::sql_query("SELECT count(*) AS n FROM users").get_result::<Count>(&mut conn).expect("counted").n;
    assert_eq!(accounts, 2, "the admin and the staff account, once each");
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
