//! The region-to-region API: service token, the email directory's reservation protocol,
//! and applying events from other regions.

use crate::support::{TestApp, expect_error, expect_json};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn reserve(app: &TestApp, email: &str, replaces: Option<&str>) -> Value {
    let body = json!({"email": email, "home_region": "002", "replaces": replaces});
    expect_json(
        app.internal(reqwest::Method::POST, "/internal/directory/reservations", Some(&body)).await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn internal_endpoints_need_the_service_token() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        ("GET", "/internal/catalogue"),
        ("GET", "/internal/directory?email=a@b.cd"),
        ("POST", "/internal/events"),
        ("GET", "/internal/memberships?home_region=002&limit=10"),
        ("POST", "/internal/memberships/at"),
        ("GET", "/internal/memberships/of?user_id=001-abc123"),
    ] {
        let req = app.http.raw(method.parse().unwrap(), &format!("{}{path}", app.base)).json(&json!({"events": []}));
        expect_error(req.send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let wrong = app
            .http
            .raw(method.parse().unwrap(), &format!("{}{path}", app.base))
            .header("X-Service-Token", "guess")
            .json(&json!({"events": []}));
        expect_error(wrong.send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_eq!(app.internal(reqwest::Method::GET, "/internal/catalogue", None).await.status(), StatusCode::OK);
    // A user's active memberships here, as a closing home region asks: their personal
    // group only, then a group joined too.
    let (user, token) = app.customer().await;
    let path = format!("/internal/memberships/of?user_id={}", user.id);
    let listed: Value = app.internal(reqwest::Method::GET, &path, None).await.json().await.unwrap();
    assert_eq!(listed["items"], json!([user.personal_group_id]));
    let (_, owner) = app.customer().await;
    let group = app.group(&owner).await;
    app.invite_and_join(&owner, group.id.as_str(), user.id.as_str(), &token, false).await;
    let listed: Value = app.internal(reqwest::Method::GET, &path, None).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
}

#[tokio::test]
async fn reservations_hold_lapse_and_are_replaced_only_knowingly() {
    let app = TestApp::spawn_with(|c| c.directory.lease_secs = 1).await;
    let first = reserve(&app, "Zoe@Example.com", None).await;
    assert_eq!(first["outcome"], "reserved");
    let held = first["reservation_id"].as_str().unwrap().to_owned();
    assert_eq!(reserve(&app, "zoe@example.com", None).await["outcome"], "taken", "a live lease holds the email");

    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let stale = reserve(&app, "zoe@example.com", None).await;
    assert_eq!(stale, json!({"outcome": "stale", "reservation_id": held, "home_region": "002"}));
    assert_eq!(reserve(&app, "zoe@example.com", Some("someone-else")).await["outcome"], "taken");
    let taken_over = reserve(&app, "zoe@example.com", Some(&held)).await;
    assert_eq!(taken_over["outcome"], "reserved");
    let second = taken_over["reservation_id"].as_str().unwrap().to_owned();
    assert_ne!(second, held);

    // A released reservation frees the email at once.
    let release = json!({"email": "zoe@example.com", "reservation_id": second});
    assert_eq!(
        app.internal(reqwest::Method::POST, "/internal/directory/releases", Some(&release)).await.status(),
        StatusCode::NO_CONTENT
    );
    let third = reserve(&app, "zoe@example.com", None).await;
    assert_eq!(third["outcome"], "reserved");

    // Confirmed: taken for good, found by look-up, and never pointed at another user.
    let confirm = json!({"email": "zoe@example.com", "user_id": "002-zoezoe"});
    assert_eq!(
        app.internal(reqwest::Method::POST, "/internal/directory/confirmations", Some(&confirm)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.internal(reqwest::Method::POST, "/internal/directory/confirmations", Some(&confirm)).await.status(),
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    let other = json!({"email": "zoe@example.com", "user_id": "003-zoezoe"});
    expect_error(
        app.internal(reqwest::Method::POST, "/internal/directory/confirmations", Some(&other)).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert_eq!(reserve(&app, "zoe@example.com", None).await["outcome"], "taken");
    let entry: Value = expect_json(
        app.internal(reqwest::Method::GET, "/internal/directory?email=ZOE%40example.com", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        entry,
        json!({"email": "zoe@example.com", "home_region": "002", "user_id": "002-zoezoe", "confirmed": true})
    );
    expect_error(
        app.internal(reqwest::Method::GET, "/internal/directory?email=nobody%40example.com", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn events_from_other_regions_are_applied_idempotently() {
    let app = TestApp::spawn().await;
    let (user, token) = app.customer().await;
    let event = |active: bool, version: i64| {
        json!({"id": version, "origin": "003", "created_on": "2026-01-01T00:00:00Z",
               "event": {"kind": "membership", "user_id": user.id, "group_id": "003-remote", "active": active, "version": version}})
    };
    // Out of order and duplicated: the leave (version 2) wins over the late join (version 1).
    for batch in [vec![event(true, 1)], vec![event(false, 2), event(true, 1)], vec![event(true, 1)]] {
        let res = app.internal(reqwest::Method::POST, "/internal/events", Some(&json!({"events": batch}))).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let me: Value = expect_json(app.get(&format!("/v1/users/{}", user.id), Some(&token)).await, StatusCode::OK).await;
    assert_eq!(me["groups"], json!([user.personal_group_id]));
    let res = app.internal(reqwest::Method::POST, "/internal/events", Some(&json!({"events": [event(true, 3)]}))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let me: Value = expect_json(app.get(&format!("/v1/users/{}", user.id), Some(&token)).await, StatusCode::OK).await;
    assert_eq!(me["groups"], json!([user.personal_group_id, "003-remote"]));
    // A directory event records the user.
    let directory = json!({"id": 9, "origin": "002", "created_on": "2026-01-01T00:00:00Z",
                           "event": {"kind": "directory", "email": "far@example.com", "user_id": "002-farawy"}});
    let res = app.internal(reqwest::Method::POST, "/internal/events", Some(&json!({"events": [directory]}))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let entry: Value = expect_json(
        app.internal(reqwest::Method::GET, "/internal/directory?email=far%40example.com", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(entry["user_id"], "002-farawy");
    // A malformed batch is refused whole, and nothing of it is applied.
    let bad = json!({"events": [event(true, 4), {"id": 1, "origin": "002", "created_on": "2026-01-01T00:00:00Z", "event": {"kind": "gossip"}}]});
    expect_error(
        app.internal(reqwest::Method::POST, "/internal/events", Some(&bad)).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
}

/// Two regions' relays deliver at once batches that name the same users in opposite
/// orders; each batch is one transaction, so taking the users' rows in the order given
/// would deadlock them and Postgres would abort one.
#[tokio::test]
async fn concurrent_batches_naming_the_same_users_in_opposite_orders_both_apply() {
    let app = TestApp::spawn().await;
    let [(ann, token), (bob, _), (cid, _)] = app.customers().await;
    let users = [ann.id.to_string(), bob.id.to_string(), cid.id.to_string()];
    let batch = |origin: &str, round: i64, order: &[&String]| {
        let events: Vec<Value> = order
            .iter()
            .map(|user_id| {
                json!({"id": round, "origin": origin, "created_on": "2026-01-01T00:00:00Z",
                       "event": {"kind": "membership", "user_id": user_id, "group_id": format!("{origin}-gr{round:04}"),
                                 "active": true, "version": round}})
            })
            .collect();
        json!({"events": events})
    };
    for round in 1..=12 {
        let forward = batch("002", round, &[&users[0], &users[1], &users[2]]);
        let backward = batch("003", round, &[&users[2], &users[1], &users[0]]);
        let (a, b) = tokio::join!(
            app.internal(reqwest::Method::POST, "/internal/events", Some(&forward)),
            app.internal(reqwest::Method::POST, "/internal/events", Some(&backward)),
        );
        assert_eq!((a.status(), b.status()), (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT), "round {round}");
    }
    let me: Value = expect_json(app.get(&format!("/v1/users/{}", ann.id), Some(&token)).await, StatusCode::OK).await;
    assert_eq!(me["groups"].as_array().map(Vec::len), Some(1 + 24));
}

/// The group region's side of a closed account's late join: the membership ends once,
/// however often the event comes, and an owner's is left for an admin.
#[tokio::test]
async fn a_closed_accounts_membership_sent_back_ends_once_and_never_an_owners() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (bob, bob_token)] = app.customers().await;
    let gid = app.group(&ann_token).await.id.to_string();
    app.invite_and_join(&ann_token, &gid, bob.id.as_str(), &bob_token, false).await;
    let erased = |user: &str, group: &str| {
        json!({"events": [{"id": 1, "origin": "002", "created_on": "2026-01-01T00:00:00Z",
               "event": {"kind": "member_erased", "user_id": user, "group_id": group}}]})
    };
    let members = || async {
        let group: Value =
            expect_json(app.get(&format!("/v1/groups/{gid}"), Some(&ann_token)).await, StatusCode::OK).await;
        group["members"].clone()
    };
    for _ in 0..3 {
        let res = app.internal(reqwest::Method::POST, "/internal/events", Some(&erased(bob.id.as_str(), &gid))).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(members().await, json!([ann.id]));
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        version: i64,
    }
    let version: Version = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT version FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind::<diesel::sql_types::Text, _>(&gid)
            .bind::<diesel::sql_types::Text, _>(bob.id.as_str()),
        &mut app.db.connect(),
    )
    .unwrap();
    assert_eq!(version.version, 2, "one join, one end");
    let res = app.internal(reqwest::Method::POST, "/internal/events", Some(&erased(ann.id.as_str(), &gid))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(members().await, json!([ann.id]), "the owner stays");
    let elsewhere = erased(ann.id.as_str(), "002-abcdef");
    assert_eq!(app.internal(reqwest::Method::POST, "/internal/events", Some(&elsewhere)).await.status(), 204);
}

#[tokio::test]
#[allow(clippy::unwrap_used)] // test set-up
async fn users_from_before_replication_reach_every_directory_region_once() {
    use diesel::connection::SimpleConnection;

    let test_db = crate::support::postgres::TestDb::create();
    let config = crate::support::test_config(&test_db.url);
    let db = api::db::Db::new(&test_db.url, &config.db, None);
    db.migrate(std::time::Instant::now() + std::time::Duration::from_secs(10)).unwrap();
    let mut conn = test_db.connect();
    // A user announced to one directory region only, as before entries were replicated.
    conn.batch_execute(
        "INSERT INTO groups (id, name, location, personal_of, owner_id) VALUES ('001-oldp01', 'Old', '', NULL, '001-old001');
         INSERT INTO users (id, email, password_hash, role, full_name, personal_group_id, directory_replicated)
           VALUES ('001-old001', 'old@example.com', 'h', 'customer', 'Old', '001-oldp01', false);",
    )
    .unwrap();
    let app = TestApp::start(config, test_db).await;
    let facts = |sql: &str| -> Vec<String> {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Fact {
            #[diesel(sql_type = diesel::sql_types::Text)]
            fact: String,
        }
        diesel::sql_query(sql).load::<Fact>(&mut app.db.connect()).unwrap().into_iter().map(|f| f.fact).collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while facts("SELECT id AS fact FROM users WHERE NOT directory_replicated") != Vec::<String>::new() {
        assert!(std::time::Instant::now() < deadline, "the user was never replicated");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // This region (one of the three) holds it confirmed; the two others get it by the outbox.
    assert_eq!(
        facts("SELECT user_id || ':' || confirmed AS fact FROM email_directory WHERE email = 'old@example.com'"),
        ["001-old001:true"]
    );
    assert_eq!(
        facts("SELECT destination_region AS fact FROM outbox WHERE payload->>'email' = 'old@example.com' ORDER BY 1"),
        ["002", "003"]
    );
}

#[tokio::test]
#[allow(clippy::unwrap_used)] // test set-up
async fn a_region_lists_its_memberships_of_another_regions_users_to_that_regions_audit() {
    use diesel::connection::SimpleConnection;

    let app = TestApp::spawn().await;
    // Two of region 002's users in a group of this region; the event of one's latest
    // change has not left yet.
    app.db
        .connect()
        .batch_execute(
            "INSERT INTO groups (id, name, location, owner_id) VALUES ('001-grp001', 'G', '', '002-aaaaaa');
             INSERT INTO group_members (group_id, user_id, active, version) VALUES
               ('001-grp001', '002-aaaaaa', true, 2), ('001-grp001', '002-bbbbbb', false, 3);
             INSERT INTO outbox (destination_region, kind, payload) VALUES ('002', 'membership',
               '{\"kind\": \"membership\", \"group_id\": \"001-grp001\", \"user_id\": \"002-bbbbbb\", \"active\": false, \"version\": 3}');",
        )
        .unwrap();
    let get = |path: &'static str| app.internal(reqwest::Method::GET, path, None);
    let first: Value = expect_json(get("/internal/memberships?home_region=002&limit=1").await, StatusCode::OK).await;
    assert_eq!(
        first["items"],
        json!([{"group_id": "001-grp001", "user_id": "002-aaaaaa", "active": true, "version": 2, "undelivered": false}])
    );
    let next = "/internal/memberships?home_region=002&limit=1&after_group=001-grp001&after_user=002-aaaaaa";
    let second: Value = expect_json(get(next).await, StatusCode::OK).await;
    assert_eq!(
        second["items"],
        json!([{"group_id": "001-grp001", "user_id": "002-bbbbbb", "active": false, "version": 3, "undelivered": true}])
    );
    let last = "/internal/memberships?home_region=002&limit=1&after_group=001-grp001&after_user=002-bbbbbb";
    assert_eq!(expect_json::<Value>(get(last).await, StatusCode::OK).await["items"], json!([]));
    // Another region's audit learns nothing of these users.
    let other: Value = expect_json(get("/internal/memberships?home_region=003&limit=10").await, StatusCode::OK).await;
    assert_eq!(other["items"], json!([]));

    let app = &app;
    let at = |home: &str, keys: Value| {
        let body = json!({"home_region": home, "items": keys});
        async move { app.internal(reqwest::Method::POST, "/internal/memberships/at", Some(&body)).await }
    };
    let keys = json!([
        {"group_id": "001-grp001", "user_id": "002-aaaaaa"},
        {"group_id": "001-grp001", "user_id": "002-zzzzzz"},
    ]);
    let found: Value = expect_json(at("002", keys.clone()).await, StatusCode::OK).await;
    assert_eq!(
        found["items"],
        json!([{"group_id": "001-grp001", "user_id": "002-aaaaaa", "active": true, "version": 2, "undelivered": false}])
    );
    let asked_for_another: Value = expect_json(at("003", keys).await, StatusCode::OK).await;
    assert_eq!(asked_for_another["items"], json!([]), "only the home region's own users");
    // A page is at most 1 000 keys, which fit the body's 64 KiB; a body over it is
    // refused before it is read, as any request's.
    let keys = |n: usize| -> Value {
        (0..n).map(|i| json!({"group_id": "001-grp001", "user_id": format!("002-{i:06}")})).collect()
    };
    let most: Value = expect_json(at("002", keys(1000)).await, StatusCode::OK).await;
    assert_eq!(most["items"], json!([]), "none of these users is a member");
    expect_error(at("002", keys(1001)).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    expect_error(at("002", keys(2001)).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

/// An outbox event this version cannot read (a newer version's, or damaged) waits apart:
/// the events claimed with it still reach their region.
#[tokio::test]
#[allow(clippy::unwrap_used)] // test set-up
async fn an_unreadable_outbox_event_holds_up_no_other() {
    use diesel::connection::SimpleConnection;

    let asia = TestApp::spawn_with(|config| config.region = "002".parse().unwrap()).await;
    let token = asia.config.service_token.clone();
    let app = TestApp::spawn_with(|config| {
        config.service_token = token;
        for region in config.regions.iter_mut().filter(|r| r.id.as_str() == "002") {
            region.urls = vec![asia.base.clone()];
        }
    })
    .await;
    app.db
        .connect()
        .batch_execute(
            "INSERT INTO outbox (destination_region, kind, payload) VALUES
               ('002', 'gossip', '{\"kind\": \"gossip\", \"rumour\": 1}'),
               ('002', 'directory', '{\"kind\": \"directory\", \"email\": \"relayed@example.com\", \"user_id\": \"001-relayd\"}');",
        )
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let lookup = "/internal/directory?email=relayed%40example.com";
    while asia.internal(reqwest::Method::GET, lookup, None).await.status() != StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "the readable event never reached 002");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Everything for 002 but the unreadable event is delivered (the bootstrap accounts'
    // directory entries too), and that one waits.
    use api::db::schema::outbox::dsl as o;
    use diesel::prelude::*;
    let undelivered = || -> Vec<String> {
        let pending = o::outbox.filter(o::delivered_on.is_null()).filter(o::destination_region.eq("002"));
        pending.select(o::kind).load(&mut app.db.connect()).unwrap()
    };
    while undelivered() != ["gossip"] {
        assert!(std::time::Instant::now() < deadline, "left for 002: {:?}", undelivered());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let next: chrono::DateTime<chrono::Utc> =
        o::outbox.filter(o::kind.eq("gossip")).select(o::next_attempt_at).first(&mut app.db.connect()).unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::minutes(5), "tried again only minutes later: {next}");
}
