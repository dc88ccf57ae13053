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

use chrono::Utc;
use contract::dto::CatalogueItem;
use contract::dto::EntryKind;
use contract::{EntryId, GroupId, RegionId};
use diesel::prelude::*;

use crate::db::ledger::{EntryRow, NewEntryRow};
use crate::db::{groups, idempotency, ledger};

mod effects;
mod read;

use crate::domain::points::{Change, PricedItem, Refusal, Rule, decide};
use crate::domain::returns::ReturnedLine;
use effects::{LineWrites, OfferWrites, line_steps, offer_steps};
pub use read::quote;
use read::read;

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
    let mut debts = std::mem::take(&mut read.debts);

    // Entry ids increase in batch order: entries inserted together may share a
    // timestamp, and history pages order by (time, id).
    let mut ulids = ulid::Generator::new();
    let mut entry_ids = Vec::new();
    let mut changes: Vec<(&PointsWrite, Change, i64)> = Vec::new();
    let mut offer_writes = OfferWrites::default();
    let mut line_writes = LineWrites::default();
    for (write, step) in writes.iter().zip(steps.iter_mut()) {
        if step.is_some() {
            continue;
        }
        let group = write.group_id.as_str();
        let Some(balance) = balances.get_mut(group) else {
            *step = Some(Step::Refused(Refusal::GroupNotFound));
            continue;
        };
        let debt = debts.entry(group.to_owned()).or_insert(0);
        let decision = decide(&write.rule, &read.seen(group, &write.rule, *balance, *debt));
        *step = Some(match decision {
            Err(refusal) => Step::Refused(refusal),
            Ok(change) => {
                *balance += change.points;
                *debt += change.debt_change;
                let ulid = ulids.generate().unwrap_or_else(|_| ulid::Ulid::new());
                let entry_id = EntryId::from_ulid(region, ulid);
                offer_steps(&mut read, &mut offer_writes, group, &write.rule, &change, &entry_id);
                line_steps(&mut read, &mut line_writes, group, &change);
                entry_ids.push(entry_id);
                changes.push((write, change, *balance));
                Step::Applied(changes.len() - 1)
            }
        });
    }

    // A bill's lines as billed, a return's units taken back: kept in their entries.
    let lines: Vec<Option<serde_json::Value>> = changes
        .iter()
        .map(|(_, change, _)| match change.kind {
            EntryKind::Award => serde_json::to_value(&change.lines).ok(),
            EntryKind::Return => {
                let taken: Vec<ReturnedLine> =
                    change.returned.iter().map(|&(line, qty)| ReturnedLine { line, qty }).collect();
                serde_json::to_value(taken).ok()
            }
            EntryKind::Redeem | EntryKind::Forfeit => None,
        })
        .collect();
    let rows: Vec<NewEntryRow<'_>> = changes
        .iter()
        .zip(&entry_ids)
        .zip(&lines)
        .map(|(((write, change, after), id), lines)| NewEntryRow {
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
            bill_id: change.bill_id.as_deref(),
            debt_change: (change.debt_change != 0).then_some(change.debt_change),
            lines: lines.as_ref(),
        })
        .collect();
    let mut inserted: HashMap<EntryId, EntryRow> =
        ledger::insert_many(conn, &rows)?.into_iter().map(|entry| (entry.id.clone(), entry)).collect();
    let touched: HashSet<&str> = changes.iter().map(|(write, _, _)| write.group_id.as_str()).collect();
    let new_balances: Vec<(&str, i64, i64)> =
        touched.into_iter().map(|id| (id, balances[id], debts.get(id).copied().unwrap_or(0))).collect();
    if !new_balances.is_empty() {
        groups::set_points_many(conn, &new_balances)?;
    }
    offer_writes.write(conn, &read)?;
    line_writes.write(conn)?;
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
