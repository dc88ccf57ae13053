//! A region cut off from the router, down during sign-ups and logins, and away while
//! its users join groups elsewhere.

use super::*;

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
