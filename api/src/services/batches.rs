//! Group commit for points writes. A few runners take turns at the database; each takes
//! every write waiting (up to a batch) and applies them in one SERIALIZABLE transaction
//! (`batch_tx`): a handful of statements and one commit (one WAL flush) for all of them,
//! where one transaction each would cost a round trip per statement per write. A group
//! is in one runner's batch at a time; its next writes wait for that batch and run
//! together in a later one, so writes to a hot group queue here instead of colliding on
//! its row. Each request keeps its own effects, idempotency record and answer, in
//! arrival order per group; a batch that fails applies nothing, and every request in it
//! gets the error (retrying with its key is safe).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use contract::{GroupId, RegionId};
use diesel::QueryResult;
use tokio::sync::oneshot;

use crate::db::{Db, idempotency, ledger};
use crate::error::ApiError;
use crate::services::batch_tx::{self, Change, Seen};

/// A job's decision on what its batch read: the change to apply, or the refusal to
/// record (and then it writes nothing but the refusal's record).
pub type Decide = dyn Fn(&Seen<'_>) -> Result<Change, ApiError> + Send + Sync;

pub struct Job {
    pub caller_id: String,
    pub key: String,
    pub fingerprint: String,
    /// For the envelope of a refusal (the runner is not the request's task).
    pub request_id: String,
    pub write: Write,
}

/// The points write a job asks for, and what its decision needs read.
pub struct Write {
    pub group_id: GroupId,
    /// The user whose active membership the decision asks about (`Seen::is_member`).
    pub member: Option<String>,
    /// This region's catalogue items the decision prices (`Seen::item`).
    pub items: Vec<String>,
    pub decide: Box<Decide>,
    /// The response body of an applied change, from its ledger entry.
    pub answer: fn(&ledger::EntryRow) -> QueryResult<serde_json::Value>,
}

pub enum Outcome {
    Fresh { status: u16, body: serde_json::Value },
    Existing(idempotency::RecordRow),
}

type Reply = oneshot::Sender<Result<Outcome, ApiError>>;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Runners at once: transactions of points writes in flight.
    pub runners: usize,
    pub max_batch: usize,
    /// Writes waiting on one group before more are refused with 503.
    pub max_waiting_per_group: usize,
}

pub struct Batches {
    queue: Mutex<Queue>,
    limits: Limits,
    region: RegionId,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<(Job, Reply)>,
    waiting_per_group: HashMap<GroupId, usize>,
    /// Groups in a running batch.
    busy: HashSet<GroupId>,
    runners: usize,
}

impl Batches {
    pub fn new(region: RegionId, limits: Limits) -> Arc<Batches> {
        let limits = Limits { runners: limits.runners.max(1), max_batch: limits.max_batch.max(1), ..limits };
        Arc::new(Batches { queue: Mutex::new(Queue::default()), limits, region })
    }

    /// Nothing under the lock panics; should something, the queue is still whole.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `job` in a coming batch and answers its outcome.
    pub async fn run(self: &Arc<Self>, db: &Db, job: Job) -> Result<Outcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        let start_runner = {
            let mut queue = self.queue();
            let waiting = queue.waiting_per_group.entry(job.write.group_id.clone()).or_default();
            if *waiting >= self.limits.max_waiting_per_group {
                return Err(ApiError::region_unavailable(
                    "too many writes are waiting on this group; nothing was applied, retry",
                ));
            }
            *waiting += 1;
            queue.waiting.push_back((job, reply));
            let start = queue.runners < self.limits.runners;
            if start {
                queue.runners += 1;
            }
            start
        };
        if start_runner {
            // The runner is no request's task: a client hanging up cannot strand the others.
            actix_web::rt::spawn(self.clone().drain(db.clone()));
        }
        // Queued behind earlier batches, each bounded by the deadline: bound the wait too.
        match tokio::time::timeout(db.deadline(), answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(ApiError::internal("the batch runner stopped")),
            Err(_) => Err(ApiError::new(
                contract::ErrorCode::Timeout,
                "the group's writes did not finish in time; this one may still apply: retry it with the same Idempotency-Key",
            )),
        }
    }

    /// Frees the groups of the runner's last batch and takes its next one: the waiting
    /// jobs, oldest first, whose group is in no other runner's batch. A runner that finds
    /// none retires.
    fn next_batch(&self, held: &mut Vec<GroupId>) -> Vec<(Job, Reply)> {
        let mut guard = self.queue();
        let queue = &mut *guard;
        for group in held.drain(..) {
            queue.busy.remove(&group);
        }
        let mut batch = Vec::new();
        let mut mine = HashSet::new();
        let mut left = VecDeque::with_capacity(queue.waiting.len());
        for (job, reply) in queue.waiting.drain(..) {
            let free = mine.contains(&job.write.group_id) || !queue.busy.contains(&job.write.group_id);
            if batch.len() < self.limits.max_batch && free {
                if let Some(count) = queue.waiting_per_group.get_mut(&job.write.group_id) {
                    *count -= 1;
                    if *count == 0 {
                        queue.waiting_per_group.remove(&job.write.group_id);
                    }
                }
                mine.insert(job.write.group_id.clone());
                batch.push((job, reply));
            } else {
                left.push_back((job, reply));
            }
        }
        queue.waiting = left;
        queue.busy.extend(mine.iter().cloned());
        held.extend(mine);
        if batch.is_empty() {
            queue.runners -= 1;
        }
        batch
    }

    async fn drain(self: Arc<Self>, db: Db) {
        let mut held = Vec::new();
        loop {
            let batch = self.next_batch(&mut held);
            if batch.is_empty() {
                return;
            }
            metrics::histogram!("points_batch_size").record(batch.len() as f64);
            let (jobs, replies): (Vec<Job>, Vec<Reply>) = batch.into_iter().unzip();
            let jobs = Arc::new(jobs);
            match self.run_batch(&db, &jobs, 0..jobs.len()).await {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                }
                // A failure that is not the database being slow or away may be one job's
                // own (nothing was applied): run them one by one, so it fails only itself.
                Err(err) if jobs.len() > 1 && err.code == contract::ErrorCode::Internal => {
                    for (i, reply) in replies.into_iter().enumerate() {
                        let single = self.run_batch(&db, &jobs, i..i + 1).await.and_then(|outcomes| {
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

    /// Applies `jobs[range]` in one SERIALIZABLE transaction (see `batch_tx`), again while
    /// it meets a conflict; one outcome per job.
    async fn run_batch(
        &self,
        db: &Db,
        jobs: &Arc<Vec<Job>>,
        range: std::ops::Range<usize>,
    ) -> Result<Vec<Outcome>, ApiError> {
        let (jobs, region) = (jobs.clone(), self.region);
        db.retrying(move |conn| batch_tx::apply(conn, region, &jobs[range.clone()])).await
    }
}
