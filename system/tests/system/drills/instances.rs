//! An API instance killed under load, and a connection cut mid-request then retried.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_1_an_api_instance_killed_under_load_loses_nothing() {
    let stack = Stack::drill();
    let load = tokio::spawn(loadtest::run(scenario(&stack, 12)));
    // Kill mid-load: the load runs 12 s once its set-up is done.
    load_started(&stack).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
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
    let item = stack.add_item(&staff, "001", "Feast", 100_000, 1).await;
    let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    // 1000 points, less whatever discount the load's set-up gave the region meanwhile.
    let awarded = stack.bill(&staff, "feast", &bill).await["points_awarded"].as_i64().unwrap();
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
    assert_eq!(group.points, awarded - 200);
    let report = load.await.unwrap().unwrap();
    eprintln!(
        "DRILL 4: meanwhile, under load: {} operations; acknowledged writes lost: {}",
        report.operations,
        lost(&report)
    );
    assert!(report.passed(), "violations under the load: {:?}", report.verdict.violations);
}
