//! A flood of logins beside a paying load.

use super::*;
use reqwest::Method;

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
    let client = client::Client::builder(&stack.router)
        .pool_max_idle_per_host(400)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let flood = (0..400).map(|connection| {
        let client = client.clone();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for n in 0..2 {
                let body =
                    json!({"email": format!("flood-{connection}-{n}@drill.test"), "password": "not the password"});
                // Raw: the answers counted are refusals, and each login is sent once.
                let res = client.raw(Method::POST, "/v1/sessions").json(&body).send().await.unwrap();
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
