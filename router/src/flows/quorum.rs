//! Holding an email for a sign-up in a majority of the regions that keep its directory
//! entry (`contract::directory::directory_regions`). Each region grants one live
//! reservation per email at a time; two majorities of the same regions always share
//! one, so two sign-ups of one email never both hold it, whatever the interleaving and
//! whichever region is down.
//!
//! The regions are asked one after the other, in the same (rendezvous) order by every
//! sign-up, and a sign-up stops at the first region that is taken. So concurrent
//! sign-ups meet at the first region that answers, and the one it grants is the only one
//! that goes on: exactly one of them wins. Asked all at once, each could take a region
//! and none a majority (six concurrent sign-ups of one email all lost that way in a stack
//! test). A sign-up that stops releases what it got.

use contract::RegionId;
use contract::directory::quorum;
use futures_util::future::join_all;

/// What one region answered a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Vote {
    /// Held for this sign-up, under this reservation id.
    Granted(String),
    /// Confirmed for a user, or held by another live reservation.
    Taken,
    /// No answer (down, busy, timed out).
    Unreachable,
}

/// The regions' side of the protocol, over HTTP in the router, in memory in tests.
pub(crate) trait Replicas {
    async fn hold(&self, region: RegionId) -> Vote;
    async fn release(&self, region: RegionId, reservation_id: String);
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// A majority holds the email for this sign-up: (region, reservation id) of each.
    Yes(Vec<(RegionId, String)>),
    /// Someone else has it.
    Taken,
    /// Too few regions answered to say.
    Unavailable,
}

/// Asks `regions` in order until a majority granted, one is taken, or too few are left.
pub(crate) async fn hold(regions: &[RegionId], replicas: &impl Replicas) -> Held {
    let needed = quorum(regions.len());
    let mut granted: Vec<(RegionId, String)> = Vec::new();
    let mut outcome = Held::Unavailable;
    for (asked, &region) in regions.iter().enumerate() {
        match replicas.hold(region).await {
            Vote::Granted(id) => {
                granted.push((region, id));
                if granted.len() >= needed {
                    return Held::Yes(granted);
                }
            }
            Vote::Taken => {
                outcome = Held::Taken;
                break;
            }
            Vote::Unreachable if granted.len() + (regions.len() - asked - 1) < needed => break,
            Vote::Unreachable => {}
        }
    }
    join_all(granted.into_iter().map(|(region, id)| replicas.release(region, id))).await;
    outcome
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::Mutex;

    use proptest::prelude::*;

    use super::*;

    /// Regions as the API keeps reservations: one holder per email at a time. Each call
    /// yields to the runtime first a chosen number of times, so concurrent sign-ups
    /// interleave in the order a test case picks.
    struct Model {
        holders: Mutex<HashMap<RegionId, String>>,
        down: BTreeSet<RegionId>,
        delays: Mutex<Vec<u8>>,
        next_id: Mutex<u32>,
    }

    impl Model {
        async fn pause(&self) {
            let turns = self.delays.lock().unwrap().pop().unwrap_or(0);
            for _ in 0..turns {
                tokio::task::yield_now().await;
            }
        }
    }

    impl Replicas for Model {
        async fn hold(&self, region: RegionId) -> Vote {
            self.pause().await;
            if self.down.contains(&region) {
                return Vote::Unreachable;
            }
            let mut holders = self.holders.lock().unwrap();
            if holders.contains_key(&region) {
                return Vote::Taken;
            }
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            let id = format!("r{next}");
            holders.insert(region, id.clone());
            Vote::Granted(id)
        }

        async fn release(&self, region: RegionId, reservation_id: String) {
            self.pause().await;
            let mut holders = self.holders.lock().unwrap();
            if holders.get(&region) == Some(&reservation_id) {
                holders.remove(&region);
            }
        }
    }

    fn regions() -> Vec<RegionId> {
        ["001", "002", "003"].iter().map(|r| r.parse().unwrap()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

        /// Up to six sign-ups of one email at once, in any interleaving, with any one
        /// region down: exactly one holds it.
        #[test]
        fn one_email_is_held_by_at_most_one_sign_up(
            sign_ups in 1usize..=6,
            down in prop::option::of(0usize..3),
            delays in prop::collection::vec(0u8..4, 0..64),
        ) {
            let regions = regions();
            let model = Model {
                holders: Mutex::new(HashMap::new()),
                down: down.map(|i| regions[i]).into_iter().collect(),
                delays: Mutex::new(delays),
                next_id: Mutex::new(0),
            };
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let outcomes = runtime.block_on(join_all((0..sign_ups).map(|_| hold(&regions, &model))));
            let winners: Vec<&Held> = outcomes.iter().filter(|o| matches!(o, Held::Yes(_))).collect();
            prop_assert_eq!(winners.len(), 1, "{:?}", outcomes);
            prop_assert!(outcomes.iter().all(|o| matches!(o, Held::Yes(_) | Held::Taken)), "{outcomes:?}");
            // What the winner holds is what the regions hold; losers left nothing behind.
            let held: BTreeSet<(RegionId, String)> = model.holders.lock().unwrap().clone().into_iter().collect();
            match winners.first() {
                Some(Held::Yes(granted)) => {
                    prop_assert_eq!(held, granted.iter().cloned().collect::<BTreeSet<_>>())
                }
                _ => prop_assert!(held.is_empty(), "{held:?}"),
            }
        }
    }
}
