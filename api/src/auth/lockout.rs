//! Failed attempts lock out one key, with backoff: after `max_failures`, each further
//! failure doubles the wait (1 s, 2 s, 4 s, ... up to `max_lockout`); a success resets
//! it. moka expires idle keys, so nothing grows for ever. The key is one that only the
//! one attempting can spend:
//! - a login's (email, client address) pair, not the email alone, so a stranger who
//!   fails on purpose locks out only themselves, never the account's owner (a hard
//!   per-email lock let anyone lock any user out, forever). The client address is the
//!   one the router puts in `X-Forwarded-For`; guessing from many addresses is bounded
//!   by `LoginWatch`.
//! - the caller of a join with an invitation code, as their token proves them: a budget
//!   keyed by the `user_id` in the body, as the router had, let anyone keep a user from
//!   joining by naming them.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::UserId;
use moka::sync::Cache;

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

pub struct Lockout<K> {
    failures: Cache<K, Arc<Mutex<Failures>>>,
    max_failures: u32,
    max_lockout: Duration,
}

/// Failed logins, by (email, client address).
pub type LoginLockout = Lockout<(String, Option<IpAddr>)>;
/// Joins whose invitation opened nothing, by caller.
pub type JoinLockout = Lockout<UserId>;

impl<K: Hash + Eq + Send + Sync + 'static> Lockout<K> {
    pub fn new(max_failures: u32, max_lockout: Duration) -> Lockout<K> {
        Lockout {
            // A key is forgotten once it has been quiet for two longest lockouts.
            failures: Cache::builder().max_capacity(100_000).time_to_idle(max_lockout * 2).build(),
            max_failures: max_failures.max(1),
            max_lockout,
        }
    }

    /// `Some(seconds to wait)` while `key` is locked out.
    pub fn check(&self, key: &K) -> Option<u64> {
        let entry = self.failures.get(key)?;
        let failures = entry.lock().ok()?;
        let wait = failures.locked_until?.checked_duration_since(Instant::now())?;
        Some(wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    pub fn record_failure(&self, key: K) {
        let entry = self.failures.get_with(key, Default::default);
        let Ok(mut failures) = entry.lock() else { return };
        failures.count = failures.count.saturating_add(1);
        if let Some(beyond) = failures.count.checked_sub(self.max_failures) {
            let wait = Duration::from_secs(1u64 << beyond.min(30)).min(self.max_lockout);
            failures.locked_until = Some(Instant::now() + wait);
        }
    }

    pub fn record_success(&self, key: &K) {
        self.failures.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(email: &str, n: u8) -> (String, Option<IpAddr>) {
        (email.to_owned(), Some(IpAddr::from([192, 0, 2, n])))
    }

    #[test]
    fn locks_the_pair_with_backoff_and_success_resets() {
        let limiter = LoginLockout::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check(&pair("a@x.io", 1)).is_none());
            limiter.record_failure(pair("a@x.io", 1));
        }
        assert_eq!(limiter.check(&pair("a@x.io", 1)), Some(1));
        limiter.record_failure(pair("a@x.io", 1));
        assert_eq!(limiter.check(&pair("a@x.io", 1)), Some(2));
        for _ in 0..10 {
            limiter.record_failure(pair("a@x.io", 1));
        }
        assert_eq!(limiter.check(&pair("a@x.io", 1)), Some(60), "capped at the longest lockout");
        // The owner, from elsewhere, is not locked out; nor is another email.
        assert!(limiter.check(&pair("a@x.io", 2)).is_none());
        assert!(limiter.check(&pair("b@x.io", 1)).is_none());
        limiter.record_success(&pair("a@x.io", 1));
        assert!(limiter.check(&pair("a@x.io", 1)).is_none());
    }
}
