//! The load: virtual users pick operations by the scenario's mix, from a random stream
//! seeded per user (a run is reproducible from its seed, up to the interleaving). Every
//! write has a fresh key, a share is sent twice on purpose, and the answers are logged
//! for the verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use contract::dto::{BillLine, NewBill, NewOffer, NewRedemption, NewReturn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

use crate::history::{History, Outcome, WriteKind, WriteRecord};
use crate::platform::{Api, Reply, Request, Sent};
use crate::scenario::Scenario;
use crate::setup::World;
use crate::stats::Stats;

pub struct Load {
    pub api: Api,
    pub world: World,
    pub scenario: Scenario,
    pub stats: Stats,
    pub history: Mutex<History>,
    /// Writes whose outcome is unknown, by their index in the history: their keys are
    /// retried after the load to learn it.
    pub unresolved: Mutex<Vec<(usize, Write)>>,
    /// Acknowledged bills (id, group, items), for returns to pick from.
    bills: Mutex<Vec<(String, String, Vec<String>)>>,
    issued: AtomicU64,
}

/// A write as the client sends it.
#[derive(Clone)]
pub struct Write {
    pub kind: WriteKind,
    pub token: String,
    pub caller: String,
    pub key: String,
    pub group: String,
    pub request: Request,
}

/// What the answer means for the verdict. Server errors (5xx) and lost answers leave
/// the outcome unknown until the key is retried.
pub fn outcome_of(kind: WriteKind, sent: &Sent) -> Outcome {
    match sent {
        Sent::Answered { reply, .. } if reply.status == 201 => {
            // What the write's ledger entry adds: a bill's points less what paid a debt,
            // a redemption's spent, a return's taken.
            let body = &reply.body;
            let points = match kind {
                WriteKind::Bill => body["points_awarded"].as_i64().map(|p| p - body["debt_paid"].as_i64().unwrap_or(0)),
                WriteKind::Redeem => body["points"].as_i64().map(|p| -p),
                WriteKind::Return => body["points_taken"].as_i64().map(|p| -p),
            };
            match (reply.body["id"].as_str(), points) {
                (Some(id), Some(points)) => Outcome::Applied { entry_id: id.to_owned(), points },
                _ => Outcome::Unknown,
            }
        }
        Sent::Answered { reply, .. } if (400..500).contains(&reply.status) => {
            Outcome::Refused { status: reply.status, code: reply.code() }
        }
        _ => Outcome::Unknown,
    }
}

/// The second answer to a key must repeat the first: same status and body (an error
/// decided before the request touched the database may carry its own request id).
/// `None` when either answer was no outcome (a 5xx): after a first one the write may have
/// applied later, so the second answer may rightly differ (the outcome is learnt by
/// retrying the key); a second one (the region too slow to answer in time) says nothing.
fn replay_verdict(first: &Reply, second: &Reply) -> Option<bool> {
    (first.status < 500 && second.status < 500).then(|| same_answer(first, second))
}

fn same_answer(first: &Reply, second: &Reply) -> bool {
    if first.status != second.status {
        return false;
    }
    if first.body == second.body {
        return first.status != 201 || second.replayed;
    }
    first.status >= 400
        && first.body["error"]["code"] == second.body["error"]["code"]
        && first.body["error"]["message"] == second.body["error"]["message"]
}

impl Load {
    pub fn new(api: Api, world: World, scenario: Scenario) -> Arc<Load> {
        Arc::new(Load {
            api,
            world,
            scenario,
            stats: Stats::new(),
            history: Mutex::new(History::default()),
            unresolved: Mutex::new(Vec::new()),
            bills: Mutex::new(Vec::new()),
            issued: AtomicU64::new(0),
        })
    }

    fn label(sent: &Sent) -> String {
        match sent {
            Sent::Answered { reply, .. } if reply.ok() => "ok".to_owned(),
            Sent::Answered { reply, .. } => reply.code(),
            Sent::Lost { .. } => "lost".to_owned(),
        }
    }

    async fn send_write(&self, op: &'static str, write: Write, duplicate: bool) {
        let started = Instant::now();
        let sent = self.api.write(&write.token, &write.key, &write.request).await;
        self.stats.record(op, started.elapsed(), &Self::label(&sent));
        if let Sent::Lost { error, .. } = &sent {
            self.stats.unanswered(op, error);
        }
        let (Sent::Answered { retries, .. } | Sent::Lost { retries, .. }) = &sent;
        self.stats.retries.fetch_add(u64::from(*retries), Ordering::Relaxed);
        let mut replay_matched = None;
        if duplicate && let Sent::Answered { reply: first, .. } = &sent {
            self.stats.duplicates_sent.fetch_add(1, Ordering::Relaxed);
            if let Sent::Answered { reply: second, .. } = self.api.write(&write.token, &write.key, &write.request).await
            {
                if second.replayed {
                    self.stats.replays_seen.fetch_add(1, Ordering::Relaxed);
                }
                replay_matched = replay_verdict(first, &second);
            }
        }
        let outcome = outcome_of(write.kind, &sent);
        let unknown = outcome == Outcome::Unknown;
        let offer = match &sent {
            Sent::Answered { reply, .. } if reply.status == 201 => {
                reply.body["discounts"][0]["offer_id"].as_str().map(str::to_owned)
            }
            _ => None,
        };
        if let (Outcome::Applied { entry_id, .. }, Request::Bill(bill)) = (&outcome, &write.request) {
            let items = bill.items.iter().map(|line| line.item_id.clone()).collect();
            self.bills.lock().await.push((entry_id.clone(), write.group.clone(), items));
        }
        let record = WriteRecord {
            kind: write.kind,
            caller: write.caller.clone(),
            key: write.key.clone(),
            group: write.group.clone(),
            outcome,
            replay_matched,
            offer,
            bill: match &write.request {
                Request::Return { bill, .. } => Some(bill.clone()),
                _ => None,
            },
        };
        let mut history = self.history.lock().await;
        if unknown {
            self.stats.unknown_outcomes.fetch_add(1, Ordering::Relaxed);
            self.unresolved.lock().await.push((history.writes.len(), write));
        }
        history.writes.push(record);
    }

    /// Retries the key of every write whose outcome is unknown until the platform gives
    /// a definite answer (applied or refused); returns how many were resolved.
    pub async fn resolve_unknown(&self) -> usize {
        let pending = std::mem::take(&mut *self.unresolved.lock().await);
        let mut resolved = 0;
        for (index, write) in pending {
            let sent = self.api.write(&write.token, &write.key, &write.request).await;
            let outcome = outcome_of(write.kind, &sent);
            if outcome != Outcome::Unknown {
                resolved += 1;
            }
            if let Some(record) = self.history.lock().await.writes.get_mut(index) {
                if let Sent::Answered { reply, .. } = &sent {
                    record.offer = reply.body["discounts"][0]["offer_id"].as_str().map(str::to_owned);
                }
                record.outcome = outcome;
            }
        }
        resolved
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        call: impl Future<Output = client::Result<client::Reply<T>>>,
    ) {
        let started = Instant::now();
        let label = self.api.read(call).await.unwrap_or_else(|why| {
            self.stats.unanswered(op, &why);
            "lost".to_owned()
        });
        self.stats.record(op, started.elapsed(), &label);
    }

    fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
        &items[rng.random_range(0..items.len())]
    }

    async fn one_operation(&self, vu: usize, n: u64, rng: &mut StdRng) {
        let world = &self.world;
        let customer = Self::pick(rng, &world.customers);
        let group = Self::pick(rng, &customer.groups).clone();
        let mix = &self.scenario.mix;
        let total: u32 = mix.iter().sum::<u32>().max(1);
        let mut roll = rng.random_range(0..total);
        let mut op = 0;
        while op < mix.len() - 1 && roll >= mix[op] {
            roll -= mix[op];
            op += 1;
        }
        let key = format!("lt-{}-{vu}-{n}", world.run_id);
        let duplicate = rng.random_bool(self.scenario.duplicate_share.clamp(0.0, 1.0));
        match op {
            0 => {
                let store = Self::pick(rng, &self.scenario.regions).clone();
                let menu = world.menus.get(&store).cloned().unwrap_or_default();
                let items: Vec<BillLine> = (0..rng.random_range(1..=3))
                    .map(|_| BillLine { item_id: Self::pick(rng, &menu).clone(), qty: rng.random_range(1..=3) })
                    .collect();
                let bill =
                    NewBill { user_id: customer.id.clone(), group_id: Some(group.clone()), store_region: store, items };
                let (staff_id, staff_token) = Self::pick(rng, &world.staff).clone();
                let write = Write {
                    kind: WriteKind::Bill,
                    caller: staff_id,
                    token: staff_token,
                    key,
                    group,
                    request: Request::Bill(bill),
                };
                self.send_write("bill", write, duplicate).await;
            }
            1 => {
                let redemption = NewRedemption { points: Some(rng.random_range(1..=40)), item_id: None, qty: None };
                let write = Write {
                    kind: WriteKind::Redeem,
                    caller: customer.id.clone(),
                    token: customer.token.clone(),
                    key,
                    request: Request::Redeem { group: group.clone(), redemption },
                    group,
                };
                self.send_write("redeem", write, duplicate).await;
            }
            2 => {
                let region = Self::pick(rng, &self.scenario.regions);
                self.read("catalogue", self.api.as_user(&customer.token).catalogue(region)).await
            }
            3 => self.read("balance", self.api.as_user(&customer.token).group(&group)).await,
            4 => {
                let page = client::PageQuery { limit: Some(20), cursor: None };
                self.read("activity", self.api.as_user(&customer.token).activity(&customer.id, &page)).await
            }
            5 => {
                let store = Self::pick(rng, &self.scenario.regions).clone();
                let menu = world.menus.get(&store).cloned().unwrap_or_default();
                let items = vec![BillLine { item_id: Self::pick(rng, &menu).clone(), qty: rng.random_range(1..=3) }];
                let bill = NewBill { user_id: customer.id.clone(), group_id: Some(group), store_region: store, items };
                let (_, staff_token) = Self::pick(rng, &world.staff);
                self.read("quote", self.api.as_user(staff_token).quote(&bill)).await
            }
            6 => {
                // A return of an acknowledged bill: all that is left, or one of an item.
                let picked = {
                    let bills = self.bills.lock().await;
                    (!bills.is_empty()).then(|| Self::pick(rng, &bills).clone())
                };
                let Some((bill, group, items)) = picked else { return };
                let lines = rng.random_bool(0.5).then(|| vec![BillLine { item_id: items[0].clone(), qty: 1 }]);
                let (staff_id, staff_token) = Self::pick(rng, &world.staff).clone();
                let write = Write {
                    kind: WriteKind::Return,
                    caller: staff_id,
                    token: staff_token,
                    key,
                    group,
                    request: Request::Return { bill, lines: NewReturn { lines } },
                };
                self.send_write("return", write, duplicate).await;
            }
            _ => {
                // Staff issue the group an offer of a store's offer-only discount, keyed.
                let store = Self::pick(rng, &self.scenario.regions);
                let Some(discount) = world.offer_discounts.get(store) else { return };
                let new = NewOffer { discount_id: discount.clone(), expires_at: None };
                let (_, staff_token) = Self::pick(rng, &world.staff);
                let staff = self.api.as_user(staff_token);
                self.read("offer", staff.issue_offer(&group, &new, &key)).await;
                if duplicate {
                    self.read("offer", staff.issue_offer(&group, &new, &key)).await;
                }
            }
        }
    }

    /// One virtual user: operations until the time or the operation budget runs out.
    pub async fn virtual_user(self: Arc<Self>, vu: usize, deadline: Instant) {
        let mut rng = StdRng::seed_from_u64(self.scenario.seed.wrapping_mul(1_000_003).wrapping_add(vu as u64));
        let mut n = 0;
        loop {
            let issued = self.issued.fetch_add(1, Ordering::Relaxed);
            let over_budget = self.scenario.ops.is_some_and(|ops| issued >= ops);
            if over_budget || (self.scenario.ops.is_none() && Instant::now() >= deadline) {
                break;
            }
            self.one_operation(vu, n, &mut rng).await;
            n += 1;
        }
    }

    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    fn reply(status: u16, body: Value, replayed: bool) -> Reply {
        Reply { status, body, replayed, latency: Duration::ZERO }
    }

    #[test]
    fn replays_must_repeat_definite_answers_only() {
        let created = reply(201, json!({"id": "e1", "points": 5}), false);
        assert_eq!(replay_verdict(&created, &reply(201, json!({"id": "e1", "points": 5}), true)), Some(true));
        assert_eq!(replay_verdict(&created, &reply(201, json!({"id": "e2", "points": 5}), true)), Some(false));
        assert_eq!(replay_verdict(&created, &reply(201, json!({"id": "e1", "points": 5}), false)), Some(false));
        let refused = reply(409, json!({"error": {"code": "insufficient_points", "message": "m"}}), false);
        assert_eq!(replay_verdict(&refused, &created), Some(false));
        // A timeout is no outcome: the write may have landed since.
        let timeout = reply(504, json!({"error": {"code": "timeout", "message": "m"}}), false);
        assert_eq!(replay_verdict(&timeout, &created), None);
        // A replay that timed out is no answer either; one that answers must still match.
        assert_eq!(replay_verdict(&created, &timeout), None);
        assert_eq!(replay_verdict(&refused, &timeout), None);
        assert_eq!(replay_verdict(&refused, &refused), Some(true));
    }
}
