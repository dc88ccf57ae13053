//! Group commit for points writes. Requests for one group that arrive while a transaction
//! for that group is running wait for it, then run together in the next one: one row
//! lock, one commit (one WAL flush) for all of them, where one SERIALIZABLE transaction
//! each would queue on the group row and collide. Each request keeps its own effects,
//! idempotency record and answer, in arrival order; a batch that fails applies nothing,
//! and every request in it gets the error (retrying with its key is safe).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use contract::GroupId;
use diesel::prelude::*;
use tokio::sync::oneshot;

use crate::db::{Db, idempotency};
use crate::error::ApiError;

/// One request's reads, checks and writes; `Ok(Err(refusal))` when it refuses (and then
/// it has written nothing).
pub type Work = dyn Fn(&mut PgConnection) -> QueryResult<Result<serde_json::Value, ApiError>> + Send + Sync;

pub struct Job {
    pub caller_id: String,
    pub key: String,
    pub fingerprint: String,
    /// For the envelope of a refusal (the runner is not the request's task).
    pub request_id: String,
    pub work: Box<Work>,
}

pub enum Outcome {
    Fresh { status: u16, body: serde_json::Value },
    Existing(idempotency::RecordRow),
}

type Reply = oneshot::Sender<Result<Outcome, ApiError>>;

pub struct GroupBatches {
    /// Groups with a runner, and what waits for its next transaction. A group is here
    /// exactly while its runner runs.
    queues: Mutex<HashMap<GroupId, Vec<(Job, Reply)>>>,
    max_batch: usize,
    max_waiting: usize,
}

impl GroupBatches {
    pub fn new(max_batch: usize, max_waiting: usize) -> Arc<GroupBatches> {
        Arc::new(GroupBatches { queues: Mutex::new(HashMap::new()), max_batch: max_batch.max(1), max_waiting })
    }

    /// Runs `job` in the group's next transaction and answers its outcome.
    pub async fn run(self: &Arc<Self>, db: &Db, group: &GroupId, job: Job) -> Result<Outcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        let start_runner = {
            let mut queues = self.queues.lock().map_err(|_| ApiError::internal("batch queues poisoned"))?;
            match queues.get_mut(group) {
                Some(waiting) if waiting.len() >= self.max_waiting => {
                    return Err(ApiError::region_unavailable(
                        "too many writes are waiting on this group; nothing was applied, retry",
                    ));
                }
                Some(waiting) => {
                    waiting.push((job, reply));
                    false
                }
                None => {
                    queues.insert(group.clone(), vec![(job, reply)]);
                    true
                }
            }
        };
        if start_runner {
            // The runner is no request's task: a client hanging up cannot strand the others.
            actix_web::rt::spawn(self.clone().drain(db.clone(), group.clone()));
        }
        // Queued behind earlier batches, each bounded by the deadline: bound the wait too.
        match tokio::time::timeout(db.deadline(), answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(ApiError::internal("the group's batch runner stopped")),
            Err(_) => Err(ApiError::new(
                contract::ErrorCode::Timeout,
                "the group's writes did not finish in time; this one may still apply: retry it with the same Idempotency-Key",
            )),
        }
    }

    /// Takes the next batch, or retires the runner when nothing waits.
    fn next_batch(&self, group: &GroupId) -> Vec<(Job, Reply)> {
        let Ok(mut queues) = self.queues.lock() else { return Vec::new() };
        let Some(waiting) = queues.get_mut(group) else { return Vec::new() };
        if waiting.is_empty() {
            queues.remove(group);
            return Vec::new();
        }
        let n = waiting.len().min(self.max_batch);
        waiting.drain(..n).collect()
    }

    async fn drain(self: Arc<Self>, db: Db, group: GroupId) {
        loop {
            let batch = self.next_batch(&group);
            if batch.is_empty() {
                return;
            }
            metrics::histogram!("points_batch_size").record(batch.len() as f64);
            let (jobs, replies): (Vec<Job>, Vec<Reply>) = batch.into_iter().unzip();
            let jobs = Arc::new(jobs);
            match run_batch(&db, &jobs, 0..jobs.len()).await {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                }
                // A failure that is not the database being slow or away may be one job's
                // own (nothing was applied): run them one by one, so it fails only itself.
                Err(err) if jobs.len() > 1 && err.code == contract::ErrorCode::Internal => {
                    for (i, reply) in replies.into_iter().enumerate() {
                        let single = run_batch(&db, &jobs, i..i + 1).await.and_then(|outcomes| {
                            outcomes
                                .into_iter()
                                .next()
                                .ok_or_else(|| ApiError::internal("a batch of one had no outcome"))
                        });
                        let _ = reply.send(single);
                    }
                }
                Err(err) => {
                    for reply in replies {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
        }
    }
}

/// Applies `jobs[range]` in one SERIALIZABLE transaction; one outcome per job.
async fn run_batch(db: &Db, jobs: &Arc<Vec<Job>>, range: std::ops::Range<usize>) -> Result<Vec<Outcome>, ApiError> {
    let jobs = jobs.clone();
    db.serializable(move |conn| jobs[range.clone()].iter().map(|job| apply(conn, job)).collect()).await
}

/// One job inside the batch's transaction: its key's record if it has one (an earlier
/// job of the same batch included), else its work and a new record.
fn apply(conn: &mut PgConnection, job: &Job) -> QueryResult<Outcome> {
    if let Some(record) = idempotency::find(conn, &job.caller_id, &job.key)? {
        return Ok(Outcome::Existing(record));
    }
    let (status, body) = match (job.work)(conn)? {
        Ok(body) => (201, body),
        Err(refusal) => (
            refusal.code.http_status(),
            serde_json::to_value(refusal.envelope(job.request_id.clone())).unwrap_or_default(),
        ),
    };
    idempotency::insert(conn, &job.caller_id, &job.key, &job.fingerprint, status as i16, &body)?;
    Ok(Outcome::Fresh { status, body })
}
