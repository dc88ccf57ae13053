//! One batch of points writes in one SERIALIZABLE transaction, in a fixed number of
//! statements whatever its size: the batch's idempotency records (read just before the
//! transaction); then in it, its groups locked (in id order) and the memberships and
//! catalogue items its jobs ask about; then each job decides in arrival order on what was
//! read (the balance carried from one job of a group to the next); then every ledger
//! entry, balance and record in one statement each. A job answered before (a record, or
//! an earlier job of this batch with its key) replays that answer and changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use contract::dto::EntryKind;
use contract::{EntryId, RegionId};
use diesel::prelude::*;

use crate::db::ledger::{EntryRow, NewEntryRow};
use crate::db::{catalogue, groups, idempotency, ledger};
use crate::error::ApiError;
use crate::services::batches::{Job, Outcome};
use crate::services::pricing::PricedItem;

/// What a job's decision may look at.
pub struct Seen<'a> {
    /// The group's balance, after the jobs of this batch before this one.
    pub balance: i64,
    /// Whether the job's `member` is an active member of the group.
    pub is_member: bool,
    /// Whether that member may redeem: the owner always, others when allowed to.
    pub can_redeem: bool,
    items: &'a HashMap<String, PricedItem>,
}

impl Seen<'_> {
    /// One of this region's catalogue items the job named in `items`.
    pub fn item(&self, id: &str) -> Option<&PricedItem> {
        self.items.get(id)
    }
}

/// The ledger entry a job's decision asks for; `points` is signed (a redemption spends).
pub struct Change {
    pub user_id: String,
    /// Who billed or redeemed.
    pub actor_id: String,
    pub kind: EntryKind,
    pub points: i64,
    pub amount_cents: Option<i64>,
    pub store_region: Option<RegionId>,
}

/// What became of one job before the answers are written.
enum Step {
    Recorded(idempotency::RecordRow),
    /// Answered by the earlier job of this batch with the same key.
    SameAs(usize),
    Refused(ApiError),
    /// Its entry is the n-th of the batch's new entries.
    Applied(usize),
}

/// Applies `jobs`; one outcome per job, in order.
///
/// The records are read before the transaction, not in it: read under SERIALIZABLE they
/// would take predicate locks on the records' index pages, which every other batch
/// inserts into, and batches of disjoint groups would fail each other. The primary key
/// still keeps each key to one answer: a concurrent duplicate's record insert fails with a
/// unique violation, and the batch runs again (`Db::retrying`) and finds the record.
pub fn apply(conn: &mut PgConnection, region: RegionId, jobs: &[Job]) -> QueryResult<Vec<Outcome>> {
    let keys: Vec<(&str, &str)> = jobs.iter().map(|job| (job.caller_id.as_str(), job.key.as_str())).collect();
    let records = idempotency::find_many(conn, &keys)?;
    conn.build_transaction().serializable().run(|conn| decide_and_write(conn, region, jobs, replays(&keys, &records)))
}

/// Each job's step when its key was answered before, `None` for the jobs that decide.
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
    jobs: &[Job],
    mut steps: Vec<Option<Step>>,
) -> QueryResult<Vec<Outcome>> {
    let deciding: Vec<&Job> = jobs.iter().zip(&steps).filter(|(_, step)| step.is_none()).map(|(job, _)| job).collect();
    if deciding.is_empty() {
        return answer(conn, jobs, steps, Vec::new());
    }

    let group_ids: Vec<&str> =
        deciding.iter().map(|job| job.write.group_id.as_str()).collect::<HashSet<_>>().into_iter().collect();
    let locked = groups::lock_many(conn, &group_ids)?;
    let owners: HashMap<String, String> =
        locked.iter().map(|group| (group.id.clone(), group.owner_id.clone())).collect();
    let mut balances: HashMap<String, i64> = locked.into_iter().map(|group| (group.id, group.points)).collect();
    let pairs: Vec<(&str, &str)> =
        deciding.iter().filter_map(|job| Some((job.write.group_id.as_str(), job.write.member.as_deref()?))).collect();
    let members = if pairs.is_empty() { HashMap::new() } else { groups::active_among(conn, &pairs)? };
    let item_ids: Vec<&str> = deciding
        .iter()
        .flat_map(|job| job.write.items.iter().map(String::as_str))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let items: HashMap<String, PricedItem> = if item_ids.is_empty() {
        HashMap::new()
    } else {
        catalogue::find_many(conn, &item_ids)?.into_iter().map(|row| (row.id.clone(), PricedItem::from(row))).collect()
    };

    // Entry ids increase in batch order: entries inserted together may share a
    // timestamp, and history pages order by (time, id).
    let mut ulids = ulid::Generator::new();
    let mut entry_ids = Vec::new();
    let mut changes = Vec::new();
    for (job, step) in jobs.iter().zip(steps.iter_mut()) {
        if step.is_some() {
            continue;
        }
        let Some(balance) = balances.get_mut(job.write.group_id.as_str()) else {
            *step = Some(Step::Refused(ApiError::not_found(format!("group {} not found", job.write.group_id))));
            continue;
        };
        let member = job.write.member.as_deref();
        let allowed = member.and_then(|m| members.get(&(job.write.group_id.to_string(), m.to_owned())));
        let is_owner = member.is_some_and(|m| owners.get(job.write.group_id.as_str()).is_some_and(|o| o == m));
        let seen = Seen {
            balance: *balance,
            is_member: allowed.is_some(),
            can_redeem: allowed.is_some_and(|&can| can || is_owner),
            items: &items,
        };
        let decided = (job.write.decide)(&seen).and_then(|change| {
            let after = balance
                .checked_add(change.points)
                .ok_or_else(|| ApiError::invalid_input("the group's balance would overflow"))?;
            Ok((change, after))
        });
        *step = Some(match decided {
            Err(refusal) => Step::Refused(refusal),
            Ok((change, after)) => {
                *balance = after;
                let ulid = ulids.generate().unwrap_or_else(|_| ulid::Ulid::new());
                entry_ids.push(EntryId::from_ulid(region, ulid));
                changes.push((job, change, after));
                Step::Applied(changes.len() - 1)
            }
        });
    }

    let rows: Vec<NewEntryRow<'_>> = changes
        .iter()
        .zip(&entry_ids)
        .map(|((job, change, after), id)| NewEntryRow {
            id: id.as_str(),
            group_id: job.write.group_id.as_str(),
            user_id: &change.user_id,
            kind: change.kind.as_str(),
            points: change.points,
            amount_cents: change.amount_cents,
            store_region: change.store_region.as_ref().map(RegionId::as_str),
            balance_after: *after,
            idempotency_key: &job.key,
            actor_id: &change.actor_id,
        })
        .collect();
    let mut inserted: HashMap<String, EntryRow> =
        ledger::insert_many(conn, &rows)?.into_iter().map(|entry| (entry.id.clone(), entry)).collect();
    let touched: HashSet<&str> = changes.iter().map(|(job, _, _)| job.write.group_id.as_str()).collect();
    let new_balances: Vec<(&str, i64)> = touched.into_iter().map(|id| (id, balances[id])).collect();
    if !new_balances.is_empty() {
        groups::set_points_many(conn, &new_balances)?;
    }
    let entries = entry_ids
        .iter()
        .map(|id| {
            inserted.remove(id.as_str()).ok_or_else(|| {
                diesel::result::Error::DeserializationError(format!("ledger entry {id} was not returned").into())
            })
        })
        .collect::<QueryResult<Vec<_>>>()?;
    answer(conn, jobs, steps, entries)
}

/// Writes the record of every job that decided, and says each job's outcome.
fn answer(
    conn: &mut PgConnection,
    jobs: &[Job],
    steps: Vec<Option<Step>>,
    entries: Vec<EntryRow>,
) -> QueryResult<Vec<Outcome>> {
    let mut answers: Vec<Option<(u16, serde_json::Value)>> = Vec::with_capacity(jobs.len());
    for (job, step) in jobs.iter().zip(&steps) {
        answers.push(match step {
            Some(Step::Applied(n)) => Some((201, (job.write.answer)(&entries[*n])?)),
            Some(Step::Refused(refusal)) => Some((
                refusal.code.http_status(),
                serde_json::to_value(refusal.envelope(job.request_id.clone())).unwrap_or_default(),
            )),
            _ => None,
        });
    }
    let records: Vec<idempotency::NewRecordRow<'_>> = jobs
        .iter()
        .zip(&answers)
        .filter_map(|(job, answer)| {
            let (status, body) = answer.as_ref()?;
            Some(idempotency::NewRecordRow {
                caller_id: &job.caller_id,
                key: &job.key,
                fingerprint: &job.fingerprint,
                response_status: *status as i16,
                response_body: body,
            })
        })
        .collect();
    idempotency::insert_many(conn, &records)?;

    // A repeated key replays its first job's answer: copy those few first, then move
    // every other answer into its outcome.
    let repeats: Vec<Option<Outcome>> = steps
        .iter()
        .map(|step| match step {
            Some(Step::SameAs(first)) => {
                let (status, body) = answers[*first].clone().unwrap_or_default();
                Some(Outcome::Existing(idempotency::RecordRow {
                    fingerprint: jobs[*first].fingerprint.clone(),
                    response_status: status as i16,
                    response_body: body,
                    created_on: Utc::now(),
                }))
            }
            _ => None,
        })
        .collect();
    let outcomes = steps
        .into_iter()
        .zip(answers)
        .zip(repeats)
        .map(|((step, answer), repeat)| match (step, repeat) {
            (Some(Step::Recorded(record)), _) => Outcome::Existing(record),
            (_, Some(repeat)) => repeat,
            _ => {
                let (status, body) = answer.unwrap_or_default();
                Outcome::Fresh { status, body }
            }
        })
        .collect();
    Ok(outcomes)
}
