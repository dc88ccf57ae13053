//! What a batch's applied writes do besides their ledger entries and balances: the lines
//! of new bills, the units returned of earlier ones, the offers bills use, reopen and
//! issue, and the bill counts that issue them. Gathered while the writes decide (so a
//! later write of the batch sees them), written after, one statement each.

use std::collections::{HashMap, HashSet};

use contract::dto::Audience;
use contract::{EntryId, OfferId, Regional};
use diesel::prelude::*;

use super::read::{Read, issues_offers};
use crate::db::groups;
use crate::db::offers::{self, NewOfferRow};
use crate::domain::points::{Change, OpenOffer, Rule};

/// What a batch's returns did besides their entries: the offers of wholly returned bills
/// to open again, with their groups.
#[derive(Default)]
pub(super) struct LineWrites {
    reopened: Vec<(String, String)>,
}

impl LineWrites {
    pub(super) fn write(&self, conn: &mut PgConnection) -> QueryResult<()> {
        let reopened: Vec<&str> = self.reopened.iter().map(|(offer, _)| offer.as_str()).collect();
        offers::reopen(conn, &reopened)?;
        let deltas: Vec<(&str, i32)> = self.reopened.iter().map(|(_, group)| (group.as_str(), 1)).collect();
        groups::add_open_offers(conn, &deltas)
    }
}

/// A return's units taken off its bill as the batch reads it, so a later return of the
/// same bill in the batch sees them gone (its entry keeps them for later batches).
pub(super) fn line_steps(read: &mut Read, writes: &mut LineWrites, group: &str, change: &Change) {
    let Some(bill_id) = &change.bill_id else { return };
    if let Some((_, bill)) = read.bills.get_mut(bill_id) {
        for (no, qty) in &change.returned {
            if let Some(line) = bill.lines.iter_mut().find(|l| l.line_no == *no) {
                line.returned_qty += qty;
            }
        }
        if change.reopen_offer.is_some() {
            bill.offer_id = None;
        }
    }
    writes.reopened.extend(change.reopen_offer.clone().map(|offer| (offer, group.to_owned())));
}

/// What a batch's bills did to offers: those they used, those their counts issued, and
/// the counts to keep.
#[derive(Default)]
pub(super) struct OfferWrites {
    used: Vec<(String, String)>,
    issued: Vec<NewOfferRow>,
    counted: HashSet<(String, String)>,
    /// Each group's change of open offers.
    open: HashMap<String, i32>,
}

impl OfferWrites {
    pub(super) fn write(&self, conn: &mut PgConnection, read: &Read) -> QueryResult<()> {
        // Issued first: a later bill of the same batch may use an offer an earlier one issued.
        offers::insert_many(conn, &self.issued)?;
        let used: Vec<(&str, &str)> = self.used.iter().map(|(o, b)| (o.as_str(), b.as_str())).collect();
        offers::mark_used(conn, &used)?;
        let counts: Vec<(&str, &str, i64)> = self
            .counted
            .iter()
            .map(|key| (key.0.as_str(), key.1.as_str(), read.bill_counts.get(key).copied().unwrap_or(0)))
            .collect();
        offers::set_bill_counts(conn, &counts)?;
        let deltas: Vec<(&str, i32)> = self.open.iter().map(|(group, delta)| (group.as_str(), *delta)).collect();
        groups::add_open_offers(conn, &deltas)
    }
}

/// A bill applied: the offer it used is gone from its group's open ones, and where its
/// store's discounts issue offers every N bills, it is counted, and on each N-th bill
/// the group gets an offer (usable by its next bill, even in this batch).
pub(super) fn offer_steps(
    read: &mut Read,
    writes: &mut OfferWrites,
    group: &str,
    rule: &Rule,
    change: &Change,
    bill: &EntryId,
) {
    if let Some(offer) = change.discount.as_ref().and_then(|d| d.offer_id.as_deref()) {
        if let Some(open) = read.offers.get_mut(group) {
            open.retain(|o| o.id != offer);
        }
        writes.used.push((offer.to_owned(), bill.to_string()));
        *writes.open.entry(group.to_owned()).or_default() -= 1;
    }
    let Some((store, terms)) = rule.store_terms() else { return };
    if !issues_offers(terms) {
        return;
    }
    let key = (group.to_owned(), store.to_string());
    let count = read.bill_counts.entry(key.clone()).or_insert(0);
    *count += 1;
    let count = *count;
    writes.counted.insert(key);
    for terms in terms.iter().filter(|t| t.audience == Audience::Offer && t.valid_at(read.now)) {
        if terms.every_n_bills.is_some_and(|n| n > 0 && count % i64::from(n) == 0) {
            let id = OfferId::generate(bill.region());
            read.offers.entry(group.to_owned()).or_default().push(OpenOffer {
                id: id.to_string(),
                discount_id: terms.id.clone(),
                expires_at: None,
            });
            *writes.open.entry(group.to_owned()).or_default() += 1;
            writes.issued.push(NewOfferRow {
                id: id.to_string(),
                group_id: group.to_owned(),
                discount_id: terms.id.clone(),
                state: "open",
                expires_at: None,
                issued_by: bill.to_string(),
            });
        }
    }
}
