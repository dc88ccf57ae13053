//! Failure drills on the local deployment (issue 6): parts of the platform die or
//! misbehave under load, and afterwards nothing acknowledged is lost and every invariant
//! holds. Every drill runs on a drill stack: two API instances and a synchronous hot
//! standby per region, fault links in front of every API and Postgres server. Each
//! prints its figures (docs/FAILURES.md records them). `make test` runs this file alone,
//! one drill at a time, so their throughput comparisons are not disturbed by other tests.

// Test helpers: a failed step should stop the drill loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use clap::Parser;
use contract::dto::{Group, User};
use loadtest::report::Report;
use loadtest::scenario::Scenario;
use loadtest::stats::Sample;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{ADMIN_EMAIL, PASSWORD, Stack, expect_error, expect_json};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    scenario: Scenario,
}

fn scenario(stack: &Stack, seconds: u64) -> Scenario {
    let mut scenario = Args::parse_from(["loadtest"]).scenario;
    scenario.url = stack.router.clone();
    scenario.admin_email = ADMIN_EMAIL.into();
    scenario.admin_password = PASSWORD.into();
    scenario.duration = seconds;
    scenario.concurrency = 8;
    scenario.quiet = true;
    scenario
}

/// A load whose users, groups and menus all live in `regions`.
fn load_in(stack: &Stack, seconds: u64, regions: &[&str], users: usize, groups: usize) -> JoinHandle<Report> {
    let mut scenario = scenario(stack, seconds);
    scenario.regions = regions.iter().map(|r| (*r).to_owned()).collect();
    scenario.users = users;
    scenario.groups = groups;
    scenario.concurrency = 6;
    tokio::spawn(async move { loadtest::run(scenario).await.unwrap() })
}

/// The regions other than the one a drill hurts (001, 002), and that one (003), each
/// under a load of its own, so each side's figures are its own.
fn split_load(stack: &Stack, seconds: u64) -> (JoinHandle<Report>, JoinHandle<Report>) {
    (load_in(stack, seconds, &["001", "002"], 14, 5), load_in(stack, seconds, &["003"], 6, 2))
}

fn lost(report: &Report) -> usize {
    report.verdict.violations.iter().filter(|v| matches!(v, loadtest::checker::Violation::LostWrite { .. })).count()
}

fn at(instant: Instant, offset_ms: i64) -> Instant {
    if offset_ms >= 0 {
        instant + Duration::from_millis(offset_ms as u64)
    } else {
        instant.checked_sub(Duration::from_millis(offset_ms.unsigned_abs())).unwrap()
    }
}

fn is_read(sample: &Sample) -> bool {
    !sample.is_write()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_1_an_api_instance_killed_under_load_loses_nothing() {
    let stack = Stack::drill();
    let load = tokio::spawn(loadtest::run(scenario(&stack, 12)));
    // Set-up takes a few seconds; then the load runs 12 s. Kill mid-load.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let killed_at = Instant::now();
    stack.kill_api("001", 0);
    let report = load.await.unwrap().unwrap();
    report.print();
    let errors: u64 = report.timeline.iter().map(|s| s.errors).sum();
    let last_error_second = report.timeline.iter().filter(|s| s.errors > 0).map(|s| s.second).max();
    eprintln!(
        "DRILL 1: instance api-001-0 killed {:.1} s before the end of the run; client-visible errors: {errors}; last second with errors: {last_error_second:?}; acknowledged writes lost: {}",
        killed_at.elapsed().as_secs_f64(),
        lost(&report)
    );
    assert!(report.passed(), "violations after the kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_4_a_connection_cut_mid_request_and_retried_applies_once() {
    let stack = Stack::drill();
    // The platform is under load meanwhile, and the load's own verdict must hold too.
    let load = tokio::spawn(loadtest::run(scenario(&stack, 12)));
    let (ann, token) = stack.customer("001").await;
    let staff = stack.staff("001").await;
    let item: Value = expect_json(
        stack
            .post(
                "/v1/regions/001/catalogue",
                Some(&staff),
                &json!({"name": "Feast", "category": "mains", "price_cents": 100_000, "points_price": 1}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    expect_json::<Value>(
        stack.post_once(&stack.router, "/v1/bills", &staff, "feast", &bill).await,
        StatusCode::CREATED,
    )
    .await; // 1000 points
    let gid = ann.personal_group_id.to_string();
    let address = stack.router.trim_start_matches("http://").to_owned();
    let (mut fresh, mut replayed) = (0, 0);
    for i in 0..20u64 {
        let key = format!("cut-{i}");
        let body = r#"{"points":10}"#;
        let request = format!(
            "POST /v1/groups/{gid}/redemptions HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        // Even i: send the whole request; odd i: hang up before the body is complete.
        // Either way hang up after 0-9 ms, before reading any answer.
        let sent = if i % 2 == 0 { request.len() } else { request.len() - 5 };
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(&request.as_bytes()[..sent]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(i % 10)).await;
        drop(stream);
        // The client never learned the outcome: it retries with the same key.
        let retry = stack
            .post_once(&stack.router, &format!("/v1/groups/{gid}/redemptions"), &token, &key, &json!({"points": 10}))
            .await;
        let was_replayed = retry.headers().contains_key("idempotent-replayed");
        expect_json::<Value>(retry, StatusCode::CREATED).await;
        if was_replayed { replayed += 1 } else { fresh += 1 }
    }
    let ledger: Value =
        expect_json(stack.get(&format!("/v1/groups/{gid}/transactions?limit=200"), Some(&token)).await, StatusCode::OK)
            .await;
    let keys: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["idempotency_key"].as_str().unwrap())
        .filter(|k| k.starts_with("cut-"))
        .collect();
    let mut unique = keys.clone();
    unique.sort_unstable();
    unique.dedup();
    eprintln!(
        "DRILL 4: 20 requests cut (10 after sending, 10 mid-body); their retries: {replayed} replayed (the cut request had been applied), {fresh} applied by the retry; ledger entries: {}",
        keys.len()
    );
    assert_eq!(keys.len(), 20, "each cut request applied exactly once");
    assert!(fresh >= 10, "requests cut before their body was complete were never applied");
    assert_eq!(unique.len(), 20);
    let group: Group = expect_json(stack.get(&format!("/v1/groups/{gid}"), Some(&token)).await, StatusCode::OK).await;
    assert_eq!(group.points, 1000 - 200);
    let report = load.await.unwrap().unwrap();
    eprintln!(
        "DRILL 4: meanwhile, under load: {} operations; acknowledged writes lost: {}",
        report.operations,
        lost(&report)
    );
    assert!(report.passed(), "violations under the load: {:?}", report.verdict.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_6_joins_during_a_home_region_outage_arrive_after_it_returns() {
    let stack = Stack::drill();
    let (ann, ann_token) = stack.customer("002").await;
    let staff3 = stack.staff("003").await;
    let group = stack.new_group(&staff3, "Outage club", "Osaka", "003").await;
    stack.kill_api("002", 0);
    stack.kill_api("002", 1);
    // Joining needs only the group's region: it works while Ann's home region is down.
    let res = stack.invite_and_join(&staff3, group.id.as_str(), ann.id.as_str(), &ann_token, true).await;
    expect_json::<Value>(res, StatusCode::CREATED).await;
    assert_eq!(
        stack.get(&format!("/v1/users/{}", ann.id), Some(&ann_token)).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    tokio::time::sleep(Duration::from_secs(3)).await; // the relay retries meanwhile
    let healed_at = Instant::now();
    stack.up();
    stack
        .eventually("the join reaches Ann's home region after it returns", || async {
            let res = stack.get(&format!("/v1/users/{}", ann.id), Some(&ann_token)).await;
            res.status() == StatusCode::OK && res.json::<User>().await.unwrap().groups.contains(&group.id)
        })
        .await;
    eprintln!(
        "DRILL 6: the membership index converged {:.1} s after region 002 came back",
        healed_at.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_7_a_region_down_takes_no_one_elses_sign_up_or_login() {
    let stack = Stack::drill();
    // Users of 001 and 003, before the outage: their emails' directory entries are kept
    // by all three regions, 002 among them for most.
    let mut existing = Vec::new();
    for n in 0..20 {
        let region = if n % 2 == 0 { "001" } else { "003" };
        existing.push(stack.customer(region).await.0);
    }
    let (dora, _) = stack.customer("002").await;
    let others = load_in(&stack, 16, &["001", "003"], 10, 3);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let killed = Instant::now();
    stack.kill_api("002", 0);
    stack.kill_api("002", 1);

    // Right away (before the router has seen 002 down) and on: every login of an existing
    // user and every sign-up of a new one homed in 001 or 003 succeeds.
    let (mut login_ms, mut sign_up_ms, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    let mut signed_up = Vec::new();
    for (n, user) in existing.iter().enumerate() {
        let started = Instant::now();
        let res = stack.post("/v1/sessions", None, &json!({"email": user.email, "password": PASSWORD})).await;
        login_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if res.status() != StatusCode::CREATED {
            failed.push(format!("login {}: {}", user.email, res.status()));
        }
        let email = format!("outage-{n}-{}@drill.test", ulid::Ulid::new().to_string().to_lowercase());
        let home = if n % 2 == 0 { "003" } else { "001" };
        let body = json!({"email": email, "password": PASSWORD, "full_name": "During", "home_region": home});
        let started = Instant::now();
        let res = stack.post("/v1/users", None, &body).await;
        sign_up_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        match res.status() {
            StatusCode::CREATED => signed_up.push(email),
            other => failed.push(format!("sign-up {email}: {other} {}", res.text().await.unwrap_or_default())),
        }
    }
    let during = killed.elapsed();
    // 002's own users cannot log in meanwhile (their home region is down): a 503 to retry.
    let res = stack.post("/v1/sessions", None, &json!({"email": dora.email, "password": PASSWORD})).await;
    assert!(res.headers().contains_key("retry-after"));
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    let report = others.await.unwrap();
    stack.up();
    // Back: the entries of those who signed up during the outage reach 002 (read repair on
    // login, and the outbox), and they log in as anyone.
    for email in &signed_up {
        stack.login_eventually(email, PASSWORD).await;
    }
    let percentile = |values: &mut Vec<f64>, p: f64| {
        values.sort_by(f64::total_cmp);
        values[((values.len() as f64 - 1.0) * p).round() as usize]
    };
    eprintln!(
        "DRILL 7: region 002's two API instances killed; in the {:.1} s after: {} logins of existing 001/003 users and {} sign-ups of new ones, {} failed {:?}; login p50 {:.0} ms, max {:.0} ms; sign-up p50 {:.0} ms, max {:.0} ms; the 001/003 load meanwhile: {} operations, {} failed; all {} outage sign-ups logged in after 002 returned",
        during.as_secs_f64(),
        login_ms.len(),
        sign_up_ms.len(),
        failed.len(),
        failed,
        percentile(&mut login_ms, 0.5),
        percentile(&mut login_ms, 1.0),
        percentile(&mut sign_up_ms, 0.5),
        percentile(&mut sign_up_ms, 1.0),
        report.operations,
        report.timeline.iter().map(|s| s.errors).sum::<u64>(),
        signed_up.len(),
    );
    assert!(failed.is_empty(), "{failed:?}");
    assert!(report.passed(), "the load in 001 and 003 found violations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_2_the_primary_database_dies_and_the_standby_takes_over_losing_nothing() {
    let stack = Stack::drill();
    let (others, region) = split_load(&stack, 22);
    tokio::time::sleep(Duration::from_secs(11)).await; // set-up, then ~6 s of load
    let killed = Instant::now();
    stack.kill_primary("003");
    // What decides a failover (RDS: its health monitor) takes a moment; here, the drill.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stack.promote_standby("003");
    let promoted = Instant::now();
    let (others, region) = (others.await.unwrap(), region.await.unwrap());
    others.print();
    region.print();

    let unavailable = region.longest_write_gap(at(killed, -3000), at(promoted, 8000));
    let before = others.window(at(killed, -5000), killed);
    let during = others.window(killed, at(promoted, 1000));
    let after = others.window(at(promoted, 2000), at(promoted, 7000));
    let region_after = region.window(at(promoted, 2000), at(promoted, 7000));
    eprintln!(
        "DRILL 2: region 003's primary killed, standby promoted {:.1} s later\n  writes in 003 unavailable for {:.2} s (longest gap between successful writes)\n  003 after: {region_after}\n  001+002 before: {before}\n  001+002 during: {during}\n  001+002 after:  {after}\n  acknowledged writes lost: {} in 003, {} elsewhere; unknown outcomes resolved by retrying their keys: {}",
        (promoted - killed).as_secs_f64(),
        unavailable.as_secs_f64(),
        lost(&region),
        lost(&others),
        region.unknown_resolved + others.unknown_resolved,
    );
    assert!(region.passed(), "violations in 003: {:?}", region.verdict.violations);
    assert!(others.passed(), "violations elsewhere: {:?}", others.verdict.violations);
    assert!(unavailable < Duration::from_secs(8), "the APIs follow the promotion by themselves");
    assert!(region_after.ops > 0 && region_after.failed == 0, "003 serves again: {region_after}");
    assert!(during.ops > 0 && during.failed == 0, "the other regions kept serving: {during}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_3_a_region_cut_off_from_the_router_fails_fast_and_the_others_keep_their_pace() {
    let stack = Stack::drill();
    // A customer of 001 in a group of 003, to see fan-out during the cut.
    let (ann, ann_token) = stack.customer("001").await;
    let staff3 = stack.staff("003").await;
    let group = stack.new_group(&staff3, "Cut club", "Kyoto", "003").await;
    let join = stack.invite_and_join(&staff3, group.id.as_str(), ann.id.as_str(), &ann_token, true).await;
    expect_json::<Value>(join, StatusCode::CREATED).await;
    let pids: Vec<u32> = (0..2).map(|k| stack.api_pid("003", k)).collect();
    // A customer of 001 with no group in 003.
    let (carl, carl_token) = stack.customer("001").await;

    let (others, region) = split_load(&stack, 24);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let cut = Instant::now();
    stack.fault("api-003-0", json!({"fault": "drop"})).await;
    stack.fault("api-003-1", json!({"fault": "drop"})).await;
    // Before the router sees 003 down, its calls there hang until the fan-out deadline
    // (2 s); a fan-out for a user with nothing in 003 must not wait for them.
    for path in [format!("/v1/users/{}/groups", carl.id), format!("/v1/users/{}/activity", carl.id)] {
        let asked = Instant::now();
        let answer: Value = expect_json(stack.get(&path, Some(&carl_token)).await, StatusCode::OK).await;
        let took = asked.elapsed();
        eprintln!("DRILL 3: {path} right after the cut: {} ms", took.as_millis());
        assert_eq!(answer["unavailable"], json!([]), "{answer}");
        assert!(took < Duration::from_millis(1_500), "{path} waited for a region it does not need: {took:?}");
    }
    stack
        .eventually("the router sees region 003 down", || async {
            let regions: Value = stack.get("/v1/regions", None).await.json().await.unwrap();
            regions["items"].as_array().unwrap().iter().any(|r| r["id"] == "003" && r["status"] == "down")
        })
        .await;
    let detected = cut.elapsed();
    let groups: Value =
        expect_json(stack.get(&format!("/v1/users/{}/groups", ann.id), Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(groups["unavailable"], json!([group.id]), "partial fan-out: {groups}");
    assert!(groups["items"].as_array().unwrap().iter().any(|g| g["id"] == ann.personal_group_id.as_str()));
    // Requests for 003 sent once the cut is seen (reads and keyed writes) fail fast.
    // (Requests already in flight when it began wait for the router's request timeout.)
    let (mut probes, mut slowest) = (0, Duration::ZERO);
    while cut.elapsed() < Duration::from_secs(7) {
        let asked = Instant::now();
        let res = if probes % 2 == 0 {
            stack.get(&format!("/v1/groups/{}", group.id), Some(&ann_token)).await
        } else {
            let path = format!("/v1/groups/{}/redemptions", group.id);
            stack.post_once(&stack.router, &path, &ann_token, &format!("cut-{probes}"), &json!({"points": 1})).await
        };
        slowest = slowest.max(asked.elapsed());
        expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
        probes += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let healed = Instant::now();
    stack.heal().await;
    stack
        .eventually("region 003 serves again", || async {
            stack.get(&format!("/v1/groups/{}", group.id), Some(&ann_token)).await.status() == StatusCode::OK
        })
        .await;
    let recovered = healed.elapsed();
    let restarted: Vec<bool> = (0..2).map(|k| stack.api_pid("003", k) != pids[k as usize]).collect();

    let (others, region) = (others.await.unwrap(), region.await.unwrap());
    others.print();
    region.print();
    let before = others.window(at(cut, -5000), cut);
    let during = others.window(at(cut, 1000), healed);
    let after = others.window(at(healed, 1000), at(healed, 6000));
    let baseline = (before.per_second + after.per_second) / 2.0;
    eprintln!(
        "DRILL 3: region 003 cut off from the router for {:.1} s\n  router saw it down after {:.2} s; then {probes} requests for 003 (reads and writes) all failed with 503 region_unavailable, the slowest in {:.0} ms; fan-out partial (the 003 group listed as unavailable)\n  001+002 before: {before}\n  001+002 during: {during}\n  001+002 after:  {after}\n  throughput during / mean(before, after) = {:.2}\n  healed: 003 served again {:.2} s later, API restarted: {restarted:?}; acknowledged writes lost: {} + {}",
        (healed - cut).as_secs_f64(),
        detected.as_secs_f64(),
        slowest.as_secs_f64() * 1000.0,
        during.per_second / baseline,
        recovered.as_secs_f64(),
        lost(&region),
        lost(&others),
    );
    assert!(probes >= 10 && slowest < Duration::from_millis(500), "fails fast once seen: {probes} in ≤ {slowest:?}");
    assert!(during.failed == 0, "the others saw no failure: {during}");
    assert!(during.per_second >= 0.9 * baseline, "the others kept their pace: {during} vs {baseline:.0} ops/s");
    assert_eq!(restarted, [false, false], "healing needs no restart");
    assert!(region.passed(), "violations in 003: {:?}", region.verdict.violations);
    assert!(others.passed(), "violations elsewhere: {:?}", others.verdict.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_5_a_slow_database_gives_bounded_answers_and_bounded_queues() {
    let stack = Stack::drill();
    let (cleo, cleo_token) = stack.customer("003").await;
    let (others, region) = split_load(&stack, 24);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let rss_before: Vec<u64> = (0..2).map(|k| stack.api_rss_kib("003", k)).collect();
    let slowed = Instant::now();
    // Each chunk waits 200 ms each way: a query round trip takes 400 ms more.
    stack.fault("pg-003", json!({"fault": "latency", "ms": 200})).await;
    let (mut rss_peak, mut waiting_peak) = (rss_before.clone(), 0.0f64);
    // Midway, a burst of 30 reads at once: more than the region's 8 connections.
    let burst = {
        let (client, url, token) = (stack.http.clone(), stack.router.clone(), cleo_token.clone());
        let path = format!("/v1/groups/{}", cleo.personal_group_id);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let one = |_| {
                let (client, url, token) = (client.clone(), format!("{url}{path}"), token.clone());
                async move {
                    let asked = Instant::now();
                    let status =
                        client.raw(client::Method::GET, &url).bearer_auth(token).send().await.unwrap().status();
                    (status.as_u16(), asked.elapsed())
                }
            };
            futures_util::future::join_all((0..30).map(one)).await
        })
    };
    while slowed.elapsed() < Duration::from_secs(8) {
        for k in 0..2u16 {
            rss_peak[k as usize] = rss_peak[k as usize].max(stack.api_rss_kib("003", k));
            waiting_peak = waiting_peak.max(stack.api_metric("003", k, "db_gate_waiting").await);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let healed = Instant::now();
    stack.heal().await;
    let burst = burst.await.unwrap();
    let mut burst_statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (status, _) in &burst {
        *burst_statuses.entry(*status).or_default() += 1;
    }
    let burst_slowest = burst.iter().map(|(_, took)| *took).max().unwrap();
    stack
        .eventually("nobody is left waiting at the database gates", || async {
            stack.api_metric("003", 0, "db_gate_waiting").await + stack.api_metric("003", 1, "db_gate_waiting").await
                == 0.0
        })
        .await;
    let (others, region) = (others.await.unwrap(), region.await.unwrap());
    let rss_after: Vec<u64> = (0..2).map(|k| stack.api_rss_kib("003", k)).collect();
    others.print();
    region.print();

    let reads = region.window_of(slowed, healed, is_read);
    let writes = region.window_of(slowed, healed, Sample::is_write);
    let region_after = region.window(at(healed, 2000), at(healed, 7000));
    let before = others.window(at(slowed, -5000), slowed);
    let during = others.window(at(slowed, 1000), healed);
    let after = others.window(at(healed, 1000), at(healed, 6000));
    let baseline = (before.per_second + after.per_second) / 2.0;
    let timeouts = stack.api_metric("003", 0, "db_deadline_exceeded_total").await
        + stack.api_metric("003", 1, "db_deadline_exceeded_total").await;
    eprintln!(
        "DRILL 5: 200 ms added each way between region 003's APIs and its database for {:.1} s (request deadline 3 s)\n  003 reads:  {reads}\n  003 writes: {writes} (a write's figure includes its client's retries)\n  deadline answers (504) at the APIs: {timeouts}; most requests waiting at a database gate at once: {waiting_peak}\n  a burst of 30 reads at once: answers {burst_statuses:?}, slowest {:.0} ms\n  API memory (KiB) before {rss_before:?}, peak during {rss_peak:?}, after {rss_after:?}\n  003 after healing: {region_after}; last failure {:.2} s after healing\n  001+002 before: {before}\n  001+002 during: {during}\n  001+002 after:  {after}\n  throughput during / mean(before, after) = {:.2}; acknowledged writes lost: {} + {}",
        (healed - slowed).as_secs_f64(),
        burst_slowest.as_secs_f64() * 1000.0,
        region.last_failure_after(healed).as_secs_f64(),
        during.per_second / baseline,
        lost(&region),
        lost(&others),
    );
    assert!(reads.max_ms < 4_500.0, "every read answered within the deadline (+ the hops): {reads}");
    for k in 0..2 {
        assert!(rss_peak[k] < rss_before[k] + 64 * 1024, "memory stays flat: {rss_before:?} -> {rss_peak:?}");
    }
    assert!(burst_slowest < Duration::from_millis(4_500), "the burst was answered within the deadline: {burst:?}");
    assert!(burst_statuses.keys().all(|s| [200, 503, 504].contains(s)), "{burst_statuses:?}");
    assert!(region_after.ops > 0 && region_after.failed == 0, "003 recovers: {region_after}");
    assert!(during.failed == 0, "the others saw no failure: {during}");
    assert!(during.per_second >= 0.9 * baseline, "the others kept their pace: {during} vs {baseline:.0} ops/s");
    assert!(region.passed(), "violations in 003: {:?}", region.verdict.violations);
    assert!(others.passed(), "violations elsewhere: {:?}", others.verdict.violations);
}

/// What the flood drill's logins were answered.
#[derive(Debug, Default)]
struct Tally {
    unauthorized: u64,
    told_to_wait: u64,
    other: Vec<(u16, bool)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_flood_of_logins_takes_no_service_from_others() {
    let stack = Stack::drill();
    // Other users read and redeem throughout, in every region.
    let load = load_in(&stack, 20, &["001", "002", "003"], 12, 4);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let instances: Vec<(&str, u16)> = ["001", "002", "003"].iter().flat_map(|r| [(*r, 0), (*r, 1)]).collect();
    let rss_before: Vec<u64> = instances.iter().map(|(r, k)| stack.api_rss_kib(r, *k)).collect();

    // 800 logins for unknown emails over 400 connections at once.
    let flood_started = Instant::now();
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(400).timeout(Duration::from_secs(30)).build().unwrap();
    let flood = (0..400).map(|connection| {
        let (client, url) = (client.clone(), format!("{}/v1/sessions", stack.router));
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for n in 0..2 {
                let body =
                    json!({"email": format!("flood-{connection}-{n}@drill.test"), "password": "not the password"});
                let res = client.post(&url).json(&body).send().await.unwrap();
                answers.push((res.status().as_u16(), res.headers().contains_key("retry-after")));
            }
            answers
        })
    });
    let flood = tokio::spawn(futures_util::future::join_all(flood));
    // Meanwhile: is any region marked down, and how big do the instances grow?
    let (mut samples, mut down_samples, mut rss_peak) = (0, 0, rss_before.clone());
    while !flood.is_finished() {
        let regions: Value = expect_json(stack.get("/v1/regions", None).await, StatusCode::OK).await;
        samples += 1;
        if regions["items"].as_array().unwrap().iter().any(|r| r["status"] != "up") {
            down_samples += 1;
        }
        for (i, (r, k)) in instances.iter().enumerate() {
            rss_peak[i] = rss_peak[i].max(stack.api_rss_kib(r, *k));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let flood_took = flood_started.elapsed();
    let mut tally = Tally::default();
    for answers in flood.await.unwrap() {
        for (status, waited) in answers.unwrap() {
            match (status, waited) {
                (401, _) => tally.unauthorized += 1,
                (429 | 503, true) => tally.told_to_wait += 1,
                other => tally.other.push(other),
            }
        }
    }
    let report = load.await.unwrap();
    let errors: u64 = report.timeline.iter().map(|s| s.errors).sum();
    let success = 1.0 - errors as f64 / report.operations.max(1) as f64;
    let growth_mib: Vec<f64> =
        rss_peak.iter().zip(&rss_before).map(|(peak, before)| (*peak as f64 - *before as f64) / 1024.0).collect();
    let worst_growth = growth_mib.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "FLOOD DRILL: 800 logins over 400 connections in {:.1} s: {} answered 401, {} told to wait (429/503 with Retry-After), {} otherwise {:?}; region status sampled {samples} times, down in {down_samples}; API memory growth per instance (MiB) {:?}, worst {worst_growth:.0}; the others' load: {} operations, {errors} failed ({:.2} % successful), p99 of its seconds {:.0} ms at worst",
        flood_took.as_secs_f64(),
        tally.unauthorized,
        tally.told_to_wait,
        tally.other.len(),
        tally.other.iter().take(5).collect::<Vec<_>>(),
        growth_mib.iter().map(|g| g.round()).collect::<Vec<_>>(),
        report.operations,
        success * 100.0,
        report.timeline.iter().map(|s| s.p99_ms).fold(0.0, f64::max),
    );
    assert!(tally.other.is_empty(), "logins answered otherwise: {:?}", tally.other);
    assert_eq!(tally.unauthorized + tally.told_to_wait, 800);
    assert_eq!(down_samples, 0, "a region was marked down during the flood");
    assert!(worst_growth < 128.0, "an API instance grew by {worst_growth:.0} MiB");
    assert!(success >= 0.98, "the others' requests: {:.2} % successful", success * 100.0);
    assert!(report.passed(), "the others' load found violations");
}
