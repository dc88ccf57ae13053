//! A short, small run of the load test against a throwaway deployment: the platform
//! under concurrent bills, redemptions (on contended groups), reads, deliberate
//! duplicates and same-key retries must pass the consistency verdict, and every region's
//! books their audit (`loyalty-api --audit`). The deployment runs with TLS on every hop
//! (`TLS=1`), so the load test's client speaks HTTPS too (the drills run it over plain
//! HTTP).

use crate::support::{ADMIN_EMAIL, Options, PASSWORD, Stack};
use clap::Parser;
use loadtest::scenario::Scenario;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    scenario: Scenario,
}

#[tokio::test]
async fn a_short_load_run_loses_and_invents_nothing() {
    let stack = Stack::start_with(Options { instances: 1, drill: false, real_limits: false, tls: true });
    let out = stack.state.join("loadtest-out");
    let mut scenario = Args::parse_from(["loadtest"]).scenario;
    assert!(stack.router.starts_with("https://"));
    scenario.url = stack.router.clone();
    scenario.ca_file = stack.ca_file.clone();
    scenario.admin_email = ADMIN_EMAIL.into();
    scenario.admin_password = PASSWORD.into();
    scenario.duration = 6;
    scenario.concurrency = 8;
    scenario.duplicate_share = 0.25;
    scenario.check_every = 2;
    scenario.quiet = true;
    scenario.out = out.clone();
    let report = loadtest::run(scenario).await.unwrap();
    report.print();
    report.write(&out).unwrap();
    assert!(report.passed(), "the verdict found violations");
    assert!(report.verdict.acknowledged_writes > 50, "the run did real work");
    assert!(report.duplicates_sent > 0 && report.replays_seen == report.duplicates_sent);
    assert!(out.join("chart.svg").exists() && out.join("summary.json").exists());
    // The same books from the databases' side, every group of every region.
    let mut memberships = 0;
    for region in crate::support::regions() {
        let (audit, clean) = stack.audit(&region);
        assert!(clean, "region {region}'s books: {audit}");
        assert!(audit["entries"].as_i64() > Some(0), "region {region} was audited: {audit}");
        memberships += audit["memberships"].as_u64().unwrap_or_default();
    }
    assert!(memberships > 0, "the groups span regions, and their members' indexes were checked");
}
