//! What a batch's transaction reads before its writes decide: the groups (locked, with
//! balances and debts), memberships, this region's items and discounts, the groups' open
//! offers and bill counts, and the bills that returns name. A quote reads the same,
//! unlocked, and decides alone.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use contract::GroupId;
use diesel::prelude::*;

use crate::db::{catalogue, groups, ledger, offers};
use crate::domain::discounts::Terms;
use crate::domain::points::{Change, OpenOffer, PricedItem, Refusal, Rule, Seen, decide};
use crate::domain::returns::{BilledBill, ReturnedLine, billed_lines};

/// What the batch's transaction read for its deciding writes.
pub(super) struct Read {
    pub(super) owners: HashMap<String, String>,
    pub(super) balances: HashMap<String, i64>,
    pub(super) members: HashMap<(String, String), bool>,
    pub(super) items: HashMap<String, PricedItem>,
    /// Each group's open offers, as the batch's writes leave them.
    pub(super) offers: HashMap<String, Vec<OpenOffer>>,
    /// Bills so far per (group, store region), where the store counts them (it has a
    /// discount with `every_n_bills`).
    pub(super) bill_counts: HashMap<(String, String), i64>,
    /// Each group's debt from returns of points it had spent.
    pub(super) debts: HashMap<String, i64>,
    /// The bills that returns of the batch name, by id, with their group.
    pub(super) bills: HashMap<String, (String, BilledBill)>,
    pub(super) now: DateTime<Utc>,
}

/// Reads what the decisions of `deciding` (group, rule) ask about; the groups locked
/// unless the reading is a quote's.
pub(super) fn read(conn: &mut PgConnection, deciding: &[(&str, &Rule)], lock: bool) -> QueryResult<Read> {
    let group_ids: Vec<&str> = deciding.iter().map(|(group, _)| *group).collect::<HashSet<_>>().into_iter().collect();
    let found = if lock { groups::lock_many(conn, &group_ids)? } else { groups::find_many(conn, &group_ids)? };
    let owners = found.iter().map(|(group, _, _)| (group.id.to_string(), group.owner_id.to_string())).collect();
    let debts = found.iter().map(|(group, debt, _)| (group.id.to_string(), *debt)).collect();
    let holding: HashSet<String> =
        found.iter().filter(|(_, _, open)| *open > 0).map(|(group, _, _)| group.id.to_string()).collect();
    let balances = found.into_iter().map(|(group, _, _)| (String::from(group.id), group.points)).collect();
    let pairs: Vec<(&str, &str)> = deciding.iter().filter_map(|(group, rule)| Some((*group, rule.member()?))).collect();
    let members = if pairs.is_empty() { HashMap::new() } else { groups::active_among(conn, &pairs)? };
    let item_ids: HashSet<String> = deciding.iter().flat_map(|(_, rule)| rule.local_items()).collect();
    let item_ids: Vec<&str> = item_ids.iter().map(String::as_str).collect();
    let items = if item_ids.is_empty() {
        HashMap::new()
    } else {
        catalogue::find_many(conn, &item_ids)?
            .into_iter()
            .map(|row| (row.id.to_string(), PricedItem::from(row)))
            .collect()
    };
    let billed: Vec<&str> = deciding
        .iter()
        .filter(|(group, rule)| rule.store_terms().is_some() && holding.contains(*group))
        .map(|(group, _)| *group)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut open = HashMap::<String, Vec<OpenOffer>>::new();
    if !billed.is_empty() {
        for row in offers::open_of(conn, &billed)? {
            open.entry(row.group_id.to_string()).or_default().push(OpenOffer {
                id: row.id.to_string(),
                discount_id: row.discount_id.to_string(),
                expires_at: row.expires_at,
            });
        }
    }
    let counted: Vec<&str> = deciding
        .iter()
        .filter(|(_, rule)| rule.store_terms().is_some_and(|(_, terms)| issues_offers(terms)))
        .map(|(group, _)| *group)
        .collect();
    let bill_counts = if counted.is_empty() { HashMap::new() } else { offers::bill_counts(conn, &counted)? };
    let returned: Vec<&str> = deciding.iter().filter_map(|(_, rule)| rule.returned_bill()).collect();
    let bills = if returned.is_empty() { HashMap::new() } else { returned_bills(conn, &returned)? };
    Ok(Read { owners, balances, members, items, offers: open, bill_counts, debts, bills, now: Utc::now() })
}

/// The bills of `ids` with their lines and what earlier returns took back, as returns
/// read them. A bill's lines that do not parse are none: it cannot be returned.
fn returned_bills(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<HashMap<String, (String, BilledBill)>> {
    let mut taken: HashMap<String, Vec<ReturnedLine>> = HashMap::new();
    for back in ledger::returns_of(conn, ids)? {
        if let Some(bill) = &back.bill_id {
            taken.entry(bill.to_string()).or_default().extend(back.returned_lines());
        }
    }
    let bills = ledger::bills(conn, ids)?.into_iter().map(|entry| {
        let returns = taken.get(entry.id.as_str()).map(Vec::as_slice).unwrap_or_default();
        let lines = billed_lines(entry.line_figures(), returns);
        let bill = BilledBill { user_id: entry.user_id.to_string(), offer_id: entry.offer_id, lines };
        (entry.id.to_string(), (entry.group_id.to_string(), bill))
    });
    Ok(bills.collect())
}

/// Whether a store's discounts issue offers by themselves, so its bills are counted.
pub(super) fn issues_offers(terms: &[Terms]) -> bool {
    terms.iter().any(|t| t.every_n_bills.is_some())
}

impl Read {
    /// What `rule`'s decision on `group` sees, at `balance` and `debt`.
    pub(super) fn seen(&self, group: &str, rule: &Rule, balance: i64, debt: i64) -> Seen<'_> {
        let member = rule.member();
        let allowed = member.and_then(|m| self.members.get(&(group.to_owned(), m.to_owned())));
        let is_owner = member.is_some_and(|m| self.owners.get(group).is_some_and(|o| o == m));
        Seen {
            balance,
            is_member: allowed.is_some(),
            can_redeem: allowed.is_some_and(|&can| can || is_owner),
            items: &self.items,
            offers: self.offers.get(group).map_or(&[], Vec::as_slice),
            debt,
            bill: rule
                .returned_bill()
                .and_then(|bill| self.bills.get(bill))
                .filter(|(of, _)| of == group)
                .map(|(_, bill)| bill),
            now: self.now,
        }
    }
}

/// What `rule` would do to `group` now: the group's balance and the decision, read in a
/// read-only transaction that locks nothing and writes nothing (a bill's quote).
pub fn quote(conn: &mut PgConnection, group: &GroupId, rule: &Rule) -> QueryResult<(i64, Result<Change, Refusal>)> {
    conn.build_transaction().read_only().repeatable_read().run(|conn| {
        let read = read(conn, &[(group.as_str(), rule)], false)?;
        let Some(&balance) = read.balances.get(group.as_str()) else {
            return Ok((0, Err(Refusal::GroupNotFound)));
        };
        let debt = read.debts.get(group.as_str()).copied().unwrap_or(0);
        Ok((balance, decide(rule, &read.seen(group.as_str(), rule, balance, debt))))
    })
}
