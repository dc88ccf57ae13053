//! The load and consistency test: sets up users, groups, staff and menus through the
//! router, runs concurrent load (bills, redemptions, reads) with deliberate duplicates
//! and same-key retries, then checks that no point was lost or invented.

pub mod checker;
pub mod history;
pub mod platform;
pub mod report;
pub mod scenario;
pub mod setup;
pub mod stats;
pub mod workload;

use contract::numbers::{NumberKind, PageSize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::checker::{GroupView, Violation, check, check_ledger};
use crate::platform::Api;
use crate::report::Report;
use crate::scenario::Scenario;
use crate::stats::Stats;
use crate::workload::Load;

/// A group's balance, whole ledger and offers, as the platform reports them.
pub async fn observe(api: &Api, token: &str, group: &str) -> anyhow::Result<GroupView> {
    let client = api.as_user(token);
    let balance = client.group(group).await.with_context(|| format!("reading group {group}"))?.value.points;
    let mut entries = Vec::new();
    let mut page = client::PageQuery { limit: Some(PageSize::MAX), cursor: None };
    loop {
        let reply =
            client.transactions(group, &page).await.with_context(|| format!("reading group {group}'s ledger"))?;
        entries.extend(reply.value.items);
        match reply.value.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    let offers = client.offers(group).await.with_context(|| format!("reading group {group}'s offers"))?.value.items;
    Ok(GroupView { balance, entries, offers })
}

async fn observe_all(load: &Load) -> anyhow::Result<BTreeMap<String, GroupView>> {
    let mut views = BTreeMap::new();
    for group in load.world.all_groups() {
        views.insert(group.clone(), observe(&load.api, &load.world.admin, &group).await?);
    }
    Ok(views)
}

/// Runs a scenario end to end and returns its report (the verdict inside).
pub async fn run(scenario: Scenario) -> anyhow::Result<Report> {
    let api = Api::new(&scenario.url, scenario.ca_file.as_deref(), scenario.timeout())?;
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    if !scenario.quiet {
        eprintln!(
            "setting up {} users, {} groups over regions {:?} ...",
            scenario.users, scenario.groups, scenario.regions
        );
    }
    let world = setup::create(&api, &scenario, &mut rng).await?;
    let load = Load::new(api, world, scenario.clone());

    let progress = if scenario.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(scenario.ops.unwrap_or(scenario.duration))
    };
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let deadline = Instant::now() + Duration::from_secs(scenario.duration);
    let started = Instant::now();
    let users: Vec<_> =
        (0..scenario.concurrency.max(1)).map(|vu| tokio::spawn(load.clone().virtual_user(vu, deadline))).collect();

    let mut midrun_violations: Vec<Violation> = Vec::new();
    let mut last_check = Instant::now();
    while !users.iter().all(|u| u.is_finished()) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let position = if scenario.ops.is_some() { load.issued() } else { started.elapsed().as_secs() };
        progress.set_position(position);
        progress.set_message(format!("{:.0} ops/s", load.stats.total_ops() as f64 / started.elapsed().as_secs_f64()));
        if scenario.check_every > 0 && last_check.elapsed() >= Duration::from_secs(scenario.check_every) {
            last_check = Instant::now();
            for (group, view) in observe_all(&load).await? {
                midrun_violations.extend(check_ledger(&group, &view, false));
            }
        }
    }
    for user in users {
        user.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();

    let unknown_resolved = load.resolve_unknown().await;
    let groups = observe_all(&load).await?;
    let history = load.history.lock().await.clone();
    let verdict = check(&history, &groups);
    let stats = &load.stats;
    let operations = stats.total_ops();
    Ok(Report {
        seed: scenario.seed,
        users: scenario.users,
        groups: scenario.groups,
        concurrency: scenario.concurrency,
        duplicate_share: scenario.duplicate_share,
        seconds,
        operations,
        per_second: operations as f64 / seconds.max(0.001),
        ops: stats.summaries(seconds),
        retries: Stats::count(&stats.retries),
        duplicates_sent: Stats::count(&stats.duplicates_sent),
        replays_seen: Stats::count(&stats.replays_seen),
        unknown_outcomes: Stats::count(&stats.unknown_outcomes),
        unknown_resolved,
        unanswered: stats.unanswered_reasons(),
        verdict,
        midrun_violations,
        // The last second is cut short by the deadline: it would read as a drop.
        timeline: stats.timeline().into_iter().filter(|s| f64::from(s.second) + 1.0 <= seconds).collect(),
        started: stats.started(),
        samples: stats.samples(),
    })
}
