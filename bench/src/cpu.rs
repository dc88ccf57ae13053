//! CPU time the processes under test spend during a round, read from Linux's /proc: what
//! each component costs per request, next to the throughput it reached. On two shared
//! cores every component's CPU comes out of the others' throughput, so this is where a
//! ratio's limit shows.

use std::fs;

/// A named process tree (`NAME=PID,PID`): the processes and all their descendants
/// (a postmaster's backends, nginx's workers).
#[derive(Clone)]
pub struct Component {
    pub name: String,
    pids: Vec<u32>,
}

pub fn parse_component(text: &str) -> Result<Component, String> {
    let (name, pids) = text.split_once('=').ok_or_else(|| format!("expected NAME=PID[,PID…]: {text}"))?;
    let pids = pids.split(',').map(|p| p.trim().parse().map_err(|e| format!("{p}: {e}"))).collect::<Result<_, _>>()?;
    Ok(Component { name: name.to_owned(), pids })
}

/// /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second.
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds of `pid` and its descendants, live or ended; 0 for a process
/// gone meanwhile.
fn tree_seconds(pid: u32) -> f64 {
    let own = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which may itself contain spaces: utime, stime,
            // and cutime, cstime (children that ended, like the backends of closed
            // connections, whose time would else be lost).
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            fields.get(11..15)?.iter().map(|f| f.parse::<u64>().ok()).sum::<Option<u64>>()
        })
        .unwrap_or(0) as f64
        / TICKS_PER_SECOND;
    let children: f64 = fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|c| c.parse().ok()).collect::<Vec<u32>>())
        .map(tree_seconds)
        .sum();
    own + children
}

impl Component {
    /// CPU seconds so far of the component's processes and their descendants.
    pub fn seconds(&self) -> f64 {
        self.pids.iter().copied().map(tree_seconds).sum()
    }
}

/// CPU seconds so far of the load generator itself, then of each component.
pub fn snapshot(components: &[Component]) -> Vec<f64> {
    std::iter::once(tree_seconds(std::process::id())).chain(components.iter().map(Component::seconds)).collect()
}

/// Column names matching `snapshot`'s order.
pub fn names(components: &[Component]) -> Vec<String> {
    std::iter::once("load generator".to_owned()).chain(components.iter().map(|c| c.name.clone())).collect()
}
