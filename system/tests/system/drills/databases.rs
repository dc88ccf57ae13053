//! A primary database that dies (the standby takes over) and one that turns slow.

use super::*;

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
    // Every group's books in every region, 003's read from its promoted standby.
    for id in crate::support::regions() {
        let (audit, clean) = stack.audit(&id);
        eprintln!(
            "  audit of {id}: {} groups, {} entries, findings {}",
            audit["groups"], audit["entries"], audit["findings"]
        );
        assert!(clean, "region {id}'s books after the failover: {audit}");
    }
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
