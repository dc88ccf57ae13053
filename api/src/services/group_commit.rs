//! Group commit, knowing nothing of points or HTTP. A few runners take turns; each takes
//! every job waiting (up to a batch) and has them applied together (`Batch::apply`, for
//! points one SERIALIZABLE transaction: a handful of statements and one WAL flush for all
//! of them, where one transaction each would cost a round trip per statement per write).
//! A lane (a group) is in one runner's batch at a time; its next jobs wait for that batch
//! and run together in a later one, so jobs of a hot lane queue here instead of colliding
//! on its row. Each job keeps its own outcome, in arrival order per lane; a batch that
//! fails applies nothing, and every job in it gets the error.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

/// What a queue applies, and how.
pub trait Batch: Send + Sync + 'static {
    type Job: Send + Sync + 'static;
    type Lane: Clone + Eq + Hash + Send + 'static;
    type Outcome: Send + 'static;
    type Error: Clone + Send + 'static;

    fn lane(job: &Self::Job) -> &Self::Lane;

    /// Applies `jobs[range]` together: one outcome per job, in order, or one error for all.
    fn apply(
        &self,
        jobs: Arc<Vec<Self::Job>>,
        range: Range<usize>,
    ) -> impl Future<Output = Result<Vec<Self::Outcome>, Self::Error>> + Send;

    /// Whether a failed batch may have failed for one job's sake: its jobs are then run
    /// one by one, so that job fails alone.
    fn may_be_one_jobs(error: &Self::Error) -> bool;
}

/// Why a job got no outcome from the queue itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unqueued<E> {
    /// Its lane already has `max_waiting_per_lane` jobs waiting: nothing was applied.
    LaneFull,
    /// Not answered within the queue's deadline: it may still apply.
    TimedOut,
    /// The runner went away (a panic): it may have applied.
    Stopped,
    /// Its batch failed: nothing of it was applied.
    Failed(E),
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Runners at once: batches in flight.
    pub runners: usize,
    pub max_batch: usize,
    /// Jobs waiting in one lane before more are refused.
    pub max_waiting_per_lane: usize,
    /// The longest a job waits for its outcome.
    pub deadline: Duration,
}

type Reply<B> = oneshot::Sender<Result<<B as Batch>::Outcome, <B as Batch>::Error>>;

pub struct GroupCommit<B: Batch> {
    queue: Mutex<Queue<B>>,
    limits: Limits,
    batch: B,
}

struct Queue<B: Batch> {
    waiting: VecDeque<(B::Job, Reply<B>)>,
    waiting_per_lane: HashMap<B::Lane, usize>,
    /// Lanes in a running batch.
    busy: HashSet<B::Lane>,
    runners: usize,
}

impl<B: Batch> GroupCommit<B> {
    pub fn new(batch: B, limits: Limits) -> Arc<GroupCommit<B>> {
        let limits = Limits { runners: limits.runners.max(1), max_batch: limits.max_batch.max(1), ..limits };
        let queue =
            Queue { waiting: VecDeque::new(), waiting_per_lane: HashMap::new(), busy: HashSet::new(), runners: 0 };
        Arc::new(GroupCommit { queue: Mutex::new(queue), limits, batch })
    }

    /// Nothing under the lock panics; should something, the queue is still whole.
    fn queue(&self) -> MutexGuard<'_, Queue<B>> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `job` in a coming batch and answers its outcome.
    pub async fn run(self: &Arc<Self>, job: B::Job) -> Result<B::Outcome, Unqueued<B::Error>> {
        let (reply, answer) = oneshot::channel();
        let start_runner = {
            let mut queue = self.queue();
            let waiting = queue.waiting_per_lane.entry(B::lane(&job).clone()).or_default();
            if *waiting >= self.limits.max_waiting_per_lane {
                return Err(Unqueued::LaneFull);
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
            tokio::spawn(self.clone().drain());
        }
        // Queued behind earlier batches, each bounded by the deadline: bound the wait too.
        match tokio::time::timeout(self.limits.deadline, answer).await {
            Ok(Ok(outcome)) => outcome.map_err(Unqueued::Failed),
            Ok(Err(_)) => Err(Unqueued::Stopped),
            Err(_) => Err(Unqueued::TimedOut),
        }
    }

    /// Frees the lanes of the runner's last batch and takes its next one: the waiting
    /// jobs, oldest first, whose lane is in no other runner's batch. A runner that finds
    /// none retires.
    fn next_batch(&self, held: &mut Vec<B::Lane>) -> Vec<(B::Job, Reply<B>)> {
        let mut guard = self.queue();
        let queue = &mut *guard;
        for lane in held.drain(..) {
            queue.busy.remove(&lane);
        }
        let mut batch = Vec::new();
        let mut mine = HashSet::new();
        let mut left = VecDeque::with_capacity(queue.waiting.len());
        for (job, reply) in queue.waiting.drain(..) {
            let lane = B::lane(&job);
            let free = mine.contains(lane) || !queue.busy.contains(lane);
            if batch.len() < self.limits.max_batch && free {
                if let Some(count) = queue.waiting_per_lane.get_mut(lane) {
                    *count -= 1;
                    if *count == 0 {
                        queue.waiting_per_lane.remove(lane);
                    }
                }
                mine.insert(lane.clone());
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

    async fn drain(self: Arc<Self>) {
        let mut held = Vec::new();
        loop {
            let batch = self.next_batch(&mut held);
            if batch.is_empty() {
                return;
            }
            metrics::histogram!("points_batch_size").record(batch.len() as f64);
            let (jobs, replies): (Vec<B::Job>, Vec<Reply<B>>) = batch.into_iter().unzip();
            let jobs = Arc::new(jobs);
            match self.batch.apply(jobs.clone(), 0..jobs.len()).await {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                }
                Err(err) if jobs.len() > 1 && B::may_be_one_jobs(&err) => {
                    // Each job then costs a transaction of its own: a batch that fails
                    // for no job's fault is a bug this counter shows.
                    metrics::counter!("group_commit_batches_split_total").increment(1);
                    tracing::warn!(jobs = jobs.len(), "a batch failed; its jobs run one by one");
                    for (i, reply) in replies.into_iter().enumerate() {
                        let single = self.batch.apply(jobs.clone(), i..i + 1).await;
                        let _ = reply.send(single.and_then(|outcomes| outcomes.into_iter().next().ok_or(err.clone())));
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Jobs are (lane, value); a batch fails whole when it holds a negative value.
    struct Summing {
        batches: AtomicUsize,
        largest: AtomicUsize,
    }

    impl Batch for Summing {
        type Job = (u8, i32);
        type Lane = u8;
        type Outcome = i32;
        type Error = &'static str;

        fn lane(job: &(u8, i32)) -> &u8 {
            &job.0
        }

        async fn apply(&self, jobs: Arc<Vec<(u8, i32)>>, range: Range<usize>) -> Result<Vec<i32>, &'static str> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.largest.fetch_max(range.len(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            let jobs = &jobs[range];
            if jobs.iter().any(|(_, value)| *value < 0) {
                Err("negative")
            } else {
                Ok(jobs.iter().map(|j| j.1).collect())
            }
        }

        fn may_be_one_jobs(_: &&'static str) -> bool {
            true
        }
    }

    fn queue(max_waiting_per_lane: usize) -> Arc<GroupCommit<Summing>> {
        let limits = Limits { runners: 1, max_batch: 64, max_waiting_per_lane, deadline: Duration::from_secs(5) };
        GroupCommit::new(Summing { batches: AtomicUsize::new(0), largest: AtomicUsize::new(0) }, limits)
    }

    #[tokio::test]
    async fn jobs_arriving_together_share_batches_and_keep_their_own_outcomes() {
        let queue = queue(100);
        let outcomes = futures_util::future::join_all((0..40).map(|i| {
            let queue = queue.clone();
            async move { queue.run(((i % 4) as u8, i)).await }
        }))
        .await;
        assert_eq!(outcomes, (0..40).map(Ok).collect::<Vec<_>>());
        assert!(queue.batch.batches.load(Ordering::Relaxed) < 40, "no batching happened");
        assert!(queue.batch.largest.load(Ordering::Relaxed) > 1);
    }

    #[tokio::test]
    async fn a_failing_job_fails_alone_and_a_full_lane_refuses_more() {
        let queue = queue(3);
        let outcomes = futures_util::future::join_all([1, -1, 2].map(|value| {
            let queue = queue.clone();
            async move { queue.run((0, value)).await }
        }))
        .await;
        assert_eq!(outcomes, vec![Ok(1), Err(Unqueued::Failed("negative")), Ok(2)]);
        let crowded = futures_util::future::join_all((0..8).map(|i| {
            let queue = queue.clone();
            async move { queue.run((1, i)).await }
        }))
        .await;
        assert!(crowded.contains(&Err(Unqueued::LaneFull)), "{crowded:?}");
    }
}
