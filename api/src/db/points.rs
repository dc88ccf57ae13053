//! The points store: a batch of points writes in one SERIALIZABLE transaction, in a fixed
//! number of statements whatever its size. First the batch's idempotency records (read
//! just before the transaction); then in it, its groups locked (in id order) and the
//! memberships and catalogue items its writes ask about; then each write decides
//! (`domain::points::decide`) in arrival order on what was read, the balance carried from
//! one write of a group to the next; then every ledger entry, balance and record in one
//! statement each. A write answered before (a record, or an earlier write of this batch
//! with its key) replays that answer and changes nothing.
//!
//! The store takes typed writes and returns what became of each; how a decision is
//! answered (the status and body kept in its record) is the caller's `Render`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use contract::dto::Audience;
use contract::dto::CatalogueItem;
use contract::{EntryId, GroupId, OfferId, RegionId, Regional};
use diesel::prelude::*;

use crate::db::discounts::{self, DiscountRow};
use crate::db::ledger::{EntryRow, NewEntryRow};
use crate::db::offers::{self, NewOfferRow};
use crate::db::{catalogue, groups, idempotency, ledger};
use crate::domain::discounts::Terms;
use crate::domain::points::{Change, OpenOffer, PricedItem, Refusal, Rule, Seen, decide};

/// One points write, as the store takes it.
pub struct PointsWrite {
    /// Who asked, with which key, for exactly what (`fingerprint`).
    pub caller_id: String,
    pub key: String,
    pub fingerprint: String,
    pub group_id: GroupId,
    pub rule: Rule,
    /// Kept with a refusal's record, so its replay names the request that was refused.
    pub request_id: String,
}

/// The answer a decision is remembered with: HTTP status and body.
pub type Answer = (u16, serde_json::Value);

/// How the caller answers a decision; the answer is stored with the write's key.
pub type Render = fn(&PointsWrite, Result<&EntryRow, &Refusal>) -> QueryResult<Answer>;

/// What became of one write.
pub enum Stored {
    /// Decided now: applied (its entry) or refused, and the answer recorded for its key.
    Decided { decision: Result<Box<EntryRow>, Refusal>, answer: Answer },
    /// Its key was answered before (possibly for another request: compare fingerprints).
    Replayed(idempotency::RecordRow),
}

impl From<CatalogueItem> for PricedItem {
    fn from(row: CatalogueItem) -> Self {
        PricedItem {
            id: row.id.to_string(),
            category: row.category,
            price_cents: row.price_cents,
            points_price: row.points_price,
            available: row.available,
        }
    }
}

/// What became of one write before the answers are written.
enum Step {
    Recorded(idempotency::RecordRow),
    /// Answered by the earlier write of this batch with the same key.
    SameAs(usize),
    Refused(Refusal),
    /// Its entry is the n-th of the batch's new entries.
    Applied(usize),
}

/// Applies `writes`; one result per write, in order.
///
/// The records are read before the transaction, not in it: read under SERIALIZABLE they
/// would take predicate locks on the records' index pages, which every other batch
/// inserts into, and batches of disjoint groups would fail each other. The primary key
/// still keeps each key to one answer: a concurrent duplicate's record insert fails with a
/// unique violation, and the batch runs again (`Db::retrying`) and finds the record.
pub fn apply(
    conn: &mut PgConnection,
    region: RegionId,
    writes: &[PointsWrite],
    render: Render,
) -> QueryResult<Vec<Stored>> {
    let keys: Vec<(&str, &str)> = writes.iter().map(|write| (write.caller_id.as_str(), write.key.as_str())).collect();
    let records = idempotency::find_many(conn, &keys)?;
    conn.build_transaction()
        .serializable()
        .run(|conn| decide_and_write(conn, region, writes, replays(&keys, &records), render))
}

/// Each write's step when its key was answered before, `None` for the writes that decide.
fn replays(keys: &[(&str, &str)], records: &HashMap<(String, String), idempotency::RecordRow>) -> Vec<Option<Step>> {
    let mut first_of_key: HashMap<(&str, &str), usize> = HashMap::new();
    let mut steps = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        steps.push(if let Some(record) = records.get(&(key.0.to_owned(), key.1.to_owned())) {
            Some(Step::Recorded(record.clone()))
        } else if let Some(&first) = first_of_key.get(key) {
            Some(Step::SameAs(first))
        } else {
            first_of_key.insert(*key, i);
            None
        });
    }
    steps
}

/// What the batch's transaction read for its deciding writes.
struct Read {
    owners: HashMap<String, String>,
    balances: HashMap<String, i64>,
    members: HashMap<(String, String), bool>,
    items: HashMap<String, PricedItem>,
    discounts: Vec<Terms>,
    /// Each group's open offers, as the batch's writes leave them.
    offers: HashMap<String, Vec<OpenOffer>>,
    /// Bills so far per (group, store region), where the store counts them (it has a
    /// discount with `every_n_bills`).
    bill_counts: HashMap<(String, String), i64>,
    now: DateTime<Utc>,
}

/// Reads what the decisions of `deciding` (group, rule) ask about; the groups locked
/// unless the reading is a quote's.
fn read(conn: &mut PgConnection, deciding: &[(&str, &Rule)], lock: bool) -> QueryResult<Read> {
    let group_ids: Vec<&str> = deciding.iter().map(|(group, _)| *group).collect::<HashSet<_>>().into_iter().collect();
    let found = if lock { groups::lock_many(conn, &group_ids)? } else { groups::find_many(conn, &group_ids)? };
    let owners = found.iter().map(|group| (group.id.to_string(), group.owner_id.to_string())).collect();
    let balances = found.into_iter().map(|group| (String::from(group.id), group.points)).collect();
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
    let discounts: Vec<Terms> = if deciding.iter().any(|(_, rule)| rule.reads_local_discounts()) {
        discounts::all(conn)?.iter().map(DiscountRow::terms).collect()
    } else {
        Vec::new()
    };
    let billed: Vec<&str> = deciding
        .iter()
        .filter(|(_, rule)| rule.store_terms(&[]).is_some())
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
        .filter(|(_, rule)| rule.store_terms(&discounts).is_some_and(|(_, terms)| issues_offers(terms)))
        .map(|(group, _)| *group)
        .collect();
    let bill_counts = if counted.is_empty() { HashMap::new() } else { offers::bill_counts(conn, &counted)? };
    Ok(Read { owners, balances, members, items, discounts, offers: open, bill_counts, now: Utc::now() })
}

/// Whether a store's discounts issue offers by themselves, so its bills are counted.
fn issues_offers(terms: &[Terms]) -> bool {
    terms.iter().any(|t| t.every_n_bills.is_some())
}

impl Read {
    /// What `rule`'s decision on `group` sees, at `balance`.
    fn seen(&self, group: &str, rule: &Rule, balance: i64) -> Seen<'_> {
        let member = rule.member();
        let allowed = member.and_then(|m| self.members.get(&(group.to_owned(), m.to_owned())));
        let is_owner = member.is_some_and(|m| self.owners.get(group).is_some_and(|o| o == m));
        Seen {
            balance,
            is_member: allowed.is_some(),
            can_redeem: allowed.is_some_and(|&can| can || is_owner),
            items: &self.items,
            discounts: &self.discounts,
            offers: self.offers.get(group).map_or(&[], Vec::as_slice),
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
        Ok((balance, decide(rule, &read.seen(group.as_str(), rule, balance))))
    })
}

fn decide_and_write(
    conn: &mut PgConnection,
    region: RegionId,
    writes: &[PointsWrite],
    mut steps: Vec<Option<Step>>,
    render: Render,
) -> QueryResult<Vec<Stored>> {
    let deciding: Vec<(&str, &Rule)> = writes
        .iter()
        .zip(&steps)
        .filter(|(_, step)| step.is_none())
        .map(|(write, _)| (write.group_id.as_str(), &write.rule))
        .collect();
    if deciding.is_empty() {
        return answer(conn, writes, steps, Vec::new(), render);
    }
    let mut read = read(conn, &deciding, true)?;
    // The balances carry from one write of a group to the next; `seen` reads the rest.
    let mut balances = std::mem::take(&mut read.balances);

    // Entry ids increase in batch order: entries inserted together may share a
    // timestamp, and history pages order by (time, id).
    let mut ulids = ulid::Generator::new();
    let mut entry_ids = Vec::new();
    let mut changes: Vec<(&PointsWrite, Change, i64)> = Vec::new();
    let mut offer_writes = OfferWrites::default();
    for (write, step) in writes.iter().zip(steps.iter_mut()) {
        if step.is_some() {
            continue;
        }
        let group = write.group_id.as_str();
        let Some(balance) = balances.get_mut(group) else {
            *step = Some(Step::Refused(Refusal::GroupNotFound));
            continue;
        };
        let decision = decide(&write.rule, &read.seen(group, &write.rule, *balance));
        *step = Some(match decision {
            Err(refusal) => Step::Refused(refusal),
            Ok(change) => {
                *balance += change.points;
                let ulid = ulids.generate().unwrap_or_else(|_| ulid::Ulid::new());
                let entry_id = EntryId::from_ulid(region, ulid);
                offer_steps(&mut read, &mut offer_writes, group, &write.rule, &change, &entry_id);
                entry_ids.push(entry_id);
                changes.push((write, change, *balance));
                Step::Applied(changes.len() - 1)
            }
        });
    }

    let rows: Vec<NewEntryRow<'_>> = changes
        .iter()
        .zip(&entry_ids)
        .map(|((write, change, after), id)| NewEntryRow {
            id: id.as_str(),
            group_id: write.group_id.as_str(),
            user_id: &change.user_id,
            kind: change.kind.as_str(),
            points: change.points,
            amount_cents: change.amount_cents,
            store_region: change.store_region.as_ref().map(RegionId::as_str),
            balance_after: *after,
            idempotency_key: &write.key,
            actor_id: &change.actor_id,
            gross_cents: change.gross_cents,
            discount_cents: change.discount.as_ref().map(|d| d.amount_cents),
            discount_id: change.discount.as_ref().map(|d| d.discount_id.as_str()),
            discount_name: change.discount.as_ref().map(|d| d.name.as_str()),
            offer_id: change.discount.as_ref().and_then(|d| d.offer_id.as_deref()),
        })
        .collect();
    let mut inserted: HashMap<EntryId, EntryRow> =
        ledger::insert_many(conn, &rows)?.into_iter().map(|entry| (entry.id.clone(), entry)).collect();
    let touched: HashSet<&str> = changes.iter().map(|(write, _, _)| write.group_id.as_str()).collect();
    let new_balances: Vec<(&str, i64)> = touched.into_iter().map(|id| (id, balances[id])).collect();
    if !new_balances.is_empty() {
        groups::set_points_many(conn, &new_balances)?;
    }
    offer_writes.write(conn, &read)?;
    let entries = entry_ids
        .iter()
        .map(|id| {
            inserted.remove(id).ok_or_else(|| {
                diesel::result::Error::DeserializationError(format!("ledger entry {id} was not returned").into())
            })
        })
        .collect::<QueryResult<Vec<_>>>()?;
    answer(conn, writes, steps, entries, render)
}

/// What a batch's bills did to offers: those they used, those their counts issued, and
/// the counts to keep.
#[derive(Default)]
struct OfferWrites {
    used: Vec<(String, String)>,
    issued: Vec<NewOfferRow>,
    counted: HashSet<(String, String)>,
}

impl OfferWrites {
    fn write(&self, conn: &mut PgConnection, read: &Read) -> QueryResult<()> {
        let used: Vec<(&str, &str)> = self.used.iter().map(|(o, b)| (o.as_str(), b.as_str())).collect();
        offers::mark_used(conn, &used)?;
        offers::insert_many(conn, &self.issued)?;
        let counts: Vec<(&str, &str, i64)> = self
            .counted
            .iter()
            .map(|key| (key.0.as_str(), key.1.as_str(), read.bill_counts.get(key).copied().unwrap_or(0)))
            .collect();
        offers::set_bill_counts(conn, &counts)
    }
}

/// A bill applied: the offer it used is gone from its group's open ones, and where its
/// store's discounts issue offers every N bills, it is counted, and on each N-th bill
/// the group gets an offer (usable by its next bill, even in this batch).
fn offer_steps(read: &mut Read, writes: &mut OfferWrites, group: &str, rule: &Rule, change: &Change, bill: &EntryId) {
    if let Some(offer) = change.discount.as_ref().and_then(|d| d.offer_id.as_deref()) {
        if let Some(open) = read.offers.get_mut(group) {
            open.retain(|o| o.id != offer);
        }
        writes.used.push((offer.to_owned(), bill.to_string()));
    }
    let Some((store, terms)) = rule.store_terms(&read.discounts) else { return };
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

/// Writes the record of every write that decided, and says what became of each.
fn answer(
    conn: &mut PgConnection,
    writes: &[PointsWrite],
    steps: Vec<Option<Step>>,
    entries: Vec<EntryRow>,
    render: Render,
) -> QueryResult<Vec<Stored>> {
    let mut answers: Vec<Option<Answer>> = Vec::with_capacity(writes.len());
    for (write, step) in writes.iter().zip(&steps) {
        answers.push(match step {
            Some(Step::Applied(n)) => Some(render(write, Ok(&entries[*n]))?),
            Some(Step::Refused(refusal)) => Some(render(write, Err(refusal))?),
            _ => None,
        });
    }
    let records: Vec<idempotency::NewRecordRow<'_>> = writes
        .iter()
        .zip(&answers)
        .filter_map(|(write, answer)| {
            let (status, body) = answer.as_ref()?;
            Some(idempotency::NewRecordRow {
                caller_id: &write.caller_id,
                key: &write.key,
                fingerprint: &write.fingerprint,
                response_status: *status as i16,
                response_body: body,
            })
        })
        .collect();
    idempotency::insert_many(conn, &records)?;

    // A repeated key replays its first write's answer: copy those few first, then move
    // every other answer into its result.
    let repeats: Vec<Option<Stored>> = steps
        .iter()
        .map(|step| match step {
            Some(Step::SameAs(first)) => {
                let (status, body) = answers[*first].clone().unwrap_or_default();
                Some(Stored::Replayed(idempotency::RecordRow {
                    fingerprint: writes[*first].fingerprint.clone(),
                    response_status: status as i16,
                    response_body: body,
                    created_on: Utc::now(),
                }))
            }
            _ => None,
        })
        .collect();
    let mut stored = Vec::with_capacity(steps.len());
    for ((step, answer), repeat) in steps.into_iter().zip(answers).zip(repeats) {
        let decided = |decision| {
            let answer = answer
                .ok_or_else(|| diesel::result::Error::DeserializationError("a decided write has no answer".into()))?;
            Ok::<_, diesel::result::Error>(Stored::Decided { decision, answer })
        };
        stored.push(match (step, repeat) {
            (_, Some(repeat)) => repeat,
            (Some(Step::Recorded(record)), _) => Stored::Replayed(record),
            (Some(Step::Applied(n)), _) => decided(Ok(Box::new(entries[n].clone())))?,
            (Some(Step::Refused(refusal)), _) => decided(Err(refusal))?,
            (Some(Step::SameAs(_)) | None, None) => {
                return Err(diesel::result::Error::DeserializationError("a write was left undecided".into()));
            }
        });
    }
    Ok(stored)
}
