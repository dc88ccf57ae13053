//! The consistency verdict, in the style of Jepsen's bank test: compares the client's
//! history with the ledgers and balances the platform reports, and lists every broken
//! invariant. Pure, so it can be shown to fail on made-up histories.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use contract::dto::{EntryKind, LedgerEntry, Offer, OfferState};
use serde::Serialize;

use crate::history::{History, Outcome};

/// What the platform reports for one group.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub balance: i64,
    /// Every ledger entry of the group (any order).
    pub entries: Vec<LedgerEntry>,
    /// Every offer of the group.
    pub offers: Vec<Offer>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "violation", rename_all = "snake_case")]
pub enum Violation {
    NegativeBalance { group: String, balance: i64 },
    BalanceIsNotLedgerSum { group: String, balance: i64, ledger_sum: i64 },
    BrokenChain { group: String, entry: String, expected_balance_after: i64, balance_after: i64 },
    LostWrite { key: String, entry: String },
    DuplicatedWrite { key: String, entries: usize },
    WrongAmount { key: String, told: i64, ledger: i64 },
    WrongActor { key: String, caller: String, actor: Option<String> },
    RefusedButApplied { key: String, code: String },
    InventedEntry { group: String, entry: String, key: String },
    ReplayDiffered { key: String },
    Unresolved { key: String },
    TotalsDiffer { client: i64, platform: i64 },
    ReturnedMoreThanAwarded { bill: String, awarded: i64, reversed: i64 },
    OfferUsedTwice { offer: String, bills: usize, returns: usize },
    OfferNotShown { offer: String, bill: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Violation::*;
        match self {
            NegativeBalance { group, balance } => write!(f, "group {group} has a negative balance {balance}"),
            BalanceIsNotLedgerSum { group, balance, ledger_sum } => {
                write!(f, "group {group}: balance {balance} but its ledger sums to {ledger_sum}")
            }
            BrokenChain { group, entry, expected_balance_after, balance_after } => write!(
                f,
                "group {group}: entry {entry} says balance_after {balance_after}, the entries before it give {expected_balance_after}"
            ),
            LostWrite { key, entry } => {
                write!(f, "write {key} was acknowledged as {entry} but is not in the ledger (lost)")
            }
            DuplicatedWrite { key, entries } => {
                write!(f, "write {key} appears {entries} times in the ledger (applied twice)")
            }
            WrongAmount { key, told, ledger } => {
                write!(f, "write {key}: the client was told {told} points, the ledger has {ledger}")
            }
            WrongActor { key, caller, actor } => write!(
                f,
                "write {key} was made by {caller}, its ledger entry names {} as its actor",
                actor.as_deref().unwrap_or("nobody")
            ),
            RefusedButApplied { key, code } => write!(f, "write {key} was refused ({code}) yet is in the ledger"),
            InventedEntry { group, entry, key } => {
                write!(f, "group {group}: entry {entry} (key {key}) matches no write of the client (invented)")
            }
            ReplayDiffered { key } => write!(f, "write {key}: the retry with the same key got a different answer"),
            Unresolved { key } => write!(f, "write {key}: outcome never learned, even by retrying its key"),
            TotalsDiffer { client, platform } => {
                write!(f, "awarded minus redeemed per the client is {client}, the balances sum to {platform}")
            }
            ReturnedMoreThanAwarded { bill, awarded, reversed } => {
                write!(f, "bill {bill} awarded {awarded} points, its returns took back {reversed}")
            }
            OfferUsedTwice { offer, bills, returns } => write!(
                f,
                "offer {offer} was used by {bills} acknowledged bills, with only {returns} returns to open it again"
            ),
            OfferNotShown { offer, bill } => {
                write!(f, "offer {offer} is used by {bill}, which no acknowledged bill answer named")
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub groups: usize,
    pub entries: usize,
    pub acknowledged_writes: usize,
    pub refused_writes: usize,
    pub violations: Vec<Violation>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Balance == sum of ledger, never negative, and each entry's balance_after follows from
/// the ones before it. Needs only the ledger and one balance, so it also runs mid-load.
pub fn check_ledger(group: &str, view: &GroupView, complete: bool) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut entries = view.entries.clone();
    entries.sort_by(|a, b| (a.created_on, a.id.as_str()).cmp(&(b.created_on, b.id.as_str())));
    let mut running = 0i64;
    for (i, entry) in entries.iter().enumerate() {
        running += entry.points;
        // Mid-run, the oldest entries fetched may be preceded by older ones: the chain
        // is checked from the first entry's own balance on.
        if i == 0 && !complete {
            running = entry.balance_after;
        }
        if entry.balance_after != running {
            violations.push(Violation::BrokenChain {
                group: group.to_owned(),
                entry: entry.id.to_string(),
                expected_balance_after: running,
                balance_after: entry.balance_after,
            });
            running = entry.balance_after;
        }
        if entry.balance_after < 0 {
            violations.push(Violation::NegativeBalance { group: group.to_owned(), balance: entry.balance_after });
        }
    }
    if view.balance < 0 {
        violations.push(Violation::NegativeBalance { group: group.to_owned(), balance: view.balance });
    }
    let ledger_sum: i64 = view.entries.iter().map(|e| e.points).sum();
    if complete && ledger_sum != view.balance {
        violations.push(Violation::BalanceIsNotLedgerSum {
            group: group.to_owned(),
            balance: view.balance,
            ledger_sum,
        });
    }
    violations
}

/// The full verdict after the run: `groups` are all the groups the run wrote to, which
/// nothing else writes to.
pub fn check(history: &History, groups: &BTreeMap<String, GroupView>) -> Verdict {
    let mut violations = Vec::new();
    for (group, view) in groups {
        violations.extend(check_ledger(group, view, true));
    }
    // Ledger entries by (group, idempotency key): the platform scopes keys to the caller,
    // and the run never reuses a key, so a key names one write.
    let mut by_key: HashMap<(&str, &str), Vec<&LedgerEntry>> = HashMap::new();
    for (group, view) in groups {
        for entry in &view.entries {
            by_key.entry((group.as_str(), entry.idempotency_key.as_str())).or_default().push(entry);
        }
    }
    let mut client_total = 0i64;
    let (mut acknowledged, mut refused) = (0, 0);
    for write in &history.writes {
        let found = by_key.remove(&(write.group.as_str(), write.key.as_str())).unwrap_or_default();
        match &write.outcome {
            Outcome::Applied { entry_id, points } => {
                acknowledged += 1;
                client_total += points;
                match found.as_slice() {
                    [] => violations.push(Violation::LostWrite { key: write.key.clone(), entry: entry_id.clone() }),
                    [entry] if entry.points != *points => violations.push(Violation::WrongAmount {
                        key: write.key.clone(),
                        told: *points,
                        ledger: entry.points,
                    }),
                    [entry] if entry.id.as_str() != entry_id => {
                        violations.push(Violation::LostWrite { key: write.key.clone(), entry: entry_id.clone() })
                    }
                    [entry] if entry.actor_id.as_ref().is_none_or(|a| a.as_str() != write.caller) => {
                        violations.push(Violation::WrongActor {
                            key: write.key.clone(),
                            caller: write.caller.clone(),
                            actor: entry.actor_id.as_ref().map(ToString::to_string),
                        })
                    }
                    [_] => {}
                    many => violations.push(Violation::DuplicatedWrite { key: write.key.clone(), entries: many.len() }),
                }
            }
            Outcome::Refused { code, .. } => {
                refused += 1;
                if !found.is_empty() {
                    violations.push(Violation::RefusedButApplied { key: write.key.clone(), code: code.clone() });
                }
            }
            Outcome::Unknown => violations.push(Violation::Unresolved { key: write.key.clone() }),
        }
        if write.replay_matched == Some(false) {
            violations.push(Violation::ReplayDiffered { key: write.key.clone() });
        }
    }
    for ((group, key), entries) in by_key {
        for entry in entries {
            violations.push(Violation::InventedEntry {
                group: group.to_owned(),
                entry: entry.id.to_string(),
                key: key.to_owned(),
            });
        }
    }
    violations.extend(check_returns(groups));
    violations.extend(check_offers(history, groups));
    let platform_total: i64 = groups.values().map(|v| v.balance).sum();
    if client_total != platform_total {
        violations.push(Violation::TotalsDiffer { client: client_total, platform: platform_total });
    }
    Verdict {
        groups: groups.len(),
        entries: groups.values().map(|v| v.entries.len()).sum(),
        acknowledged_writes: acknowledged,
        refused_writes: refused,
        violations,
    }
}

/// What a bill awarded (its entry adds what did not pay a debt: awarded = points -
/// debt_change) is never exceeded by what its returns took back (reversed = -points +
/// debt_change: taken from the balance, plus owed).
fn check_returns(groups: &BTreeMap<String, GroupView>) -> Vec<Violation> {
    let entries = groups.values().flat_map(|v| &v.entries);
    let mut awarded: HashMap<&str, i64> = HashMap::new();
    let mut reversed: HashMap<&str, i64> = HashMap::new();
    for entry in entries {
        let debt = entry.debt_change.unwrap_or(0);
        match (entry.kind, &entry.bill_id) {
            (EntryKind::Award, _) => *awarded.entry(entry.id.as_str()).or_default() += entry.points - debt,
            (EntryKind::Return, Some(bill)) => *reversed.entry(bill.as_str()).or_default() += -entry.points + debt,
            _ => {}
        }
    }
    reversed
        .into_iter()
        .filter_map(|(bill, back)| {
            let given = awarded.get(bill).copied().unwrap_or(0);
            (back > given).then(|| Violation::ReturnedMoreThanAwarded {
                bill: bill.to_owned(),
                awarded: given,
                reversed: back,
            })
        })
        .collect()
}

/// Every used offer is used by an acknowledged bill whose answer named it, and no offer
/// served more acknowledged bills than one plus the returns of those bills (a wholly
/// returned bill opens its offer again).
fn check_offers(history: &History, groups: &BTreeMap<String, GroupView>) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut bills_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for write in &history.writes {
        if let (Some(offer), Outcome::Applied { entry_id, .. }) = (&write.offer, &write.outcome) {
            bills_of.entry(offer.as_str()).or_default().push(entry_id.as_str());
        }
    }
    let returns_of = |bills: &[&str]| {
        history
            .writes
            .iter()
            .filter(|w| matches!(w.outcome, Outcome::Applied { .. }))
            .filter(|w| w.bill.as_deref().is_some_and(|b| bills.contains(&b)))
            .count()
    };
    for (offer, bills) in &bills_of {
        let returns = returns_of(bills);
        if bills.len() > 1 + returns {
            violations.push(Violation::OfferUsedTwice { offer: (*offer).to_owned(), bills: bills.len(), returns });
        }
    }
    for offer in groups.values().flat_map(|v| &v.offers).filter(|o| o.state == OfferState::Used) {
        let bill = offer.used_by_bill.as_ref().map(ToString::to_string).unwrap_or_default();
        let shown = bills_of.get(offer.id.as_str()).is_some_and(|bills| bills.contains(&bill.as_str()));
        if !shown {
            violations.push(Violation::OfferNotShown { offer: offer.id.to_string(), bill });
        }
    }
    violations
}

#[cfg(test)]
mod tests;
