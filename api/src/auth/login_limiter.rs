//! Failed logins lock out one (email, client address) pair, with backoff: after
//! `max_failures`, each further failure doubles the wait (1 s, 2 s, 4 s, ... up to
//! `max_lockout`). Keyed by the pair, not the email alone, so a stranger who fails on
//! purpose locks out only themselves, never the account's owner (a hard per-email lock
//! let anyone lock any user out, forever). The client address is the one the router
//! puts in `X-Forwarded-For`; guessing from many addresses is bounded by the router's
//! per-email limit. moka expires idle pairs, so nothing grows for ever.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

pub struct LoginLimiter {
    failures: Cache<(String, Option<IpAddr>), Arc<Mutex<Failures>>>,
    max_failures: u32,
    max_lockout: Duration,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, max_lockout: Duration) -> LoginLimiter {
        LoginLimiter {
            // A pair is forgotten once it has been quiet for two longest lockouts.
            failures: Cache::builder().max_capacity(100_000).time_to_idle(max_lockout * 2).build(),
            max_failures: max_failures.max(1),
            max_lockout,
        }
    }

    fn key(email: &str, client: Option<IpAddr>) -> (String, Option<IpAddr>) {
        (email.to_owned(), client)
    }

    /// `Some(seconds to wait)` while this pair is locked out.
    pub fn check(&self, email: &str, client: Option<IpAddr>) -> Option<u64> {
        let entry = self.failures.get(&Self::key(email, client))?;
        let failures = entry.lock().ok()?;
        let wait = failures.locked_until?.checked_duration_since(Instant::now())?;
        Some(wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    pub fn record_failure(&self, email: &str, client: Option<IpAddr>) {
        let entry = self.failures.get_with(Self::key(email, client), Default::default);
        let Ok(mut failures) = entry.lock() else { return };
        failures.count = failures.count.saturating_add(1);
        if let Some(beyond) = failures.count.checked_sub(self.max_failures) {
            let wait = Duration::from_secs(1u64 << beyond.min(30)).min(self.max_lockout);
            failures.locked_until = Some(Instant::now() + wait);
        }
    }

    pub fn record_success(&self, email: &str, client: Option<IpAddr>) {
        self.failures.invalidate(&Self::key(email, client));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, n]))
    }

    #[test]
    fn locks_the_pair_with_backoff_and_success_resets() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check("a@x.io", address(1)).is_none());
            limiter.record_failure("a@x.io", address(1));
        }
        assert_eq!(limiter.check("a@x.io", address(1)), Some(1));
        limiter.record_failure("a@x.io", address(1));
        assert_eq!(limiter.check("a@x.io", address(1)), Some(2));
        for _ in 0..10 {
            limiter.record_failure("a@x.io", address(1));
        }
        assert_eq!(limiter.check("a@x.io", address(1)), Some(60), "capped at the longest lockout");
        // The owner, from elsewhere, is not locked out; nor is another email.
        assert!(limiter.check("a@x.io", address(2)).is_none());
        assert!(limiter.check("b@x.io", address(1)).is_none());
        limiter.record_success("a@x.io", address(1));
        assert!(limiter.check("a@x.io", address(1)).is_none());
    }
}
