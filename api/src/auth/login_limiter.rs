//! Repeated login failures for one email are refused for a while (per instance; the
//! router adds a global view). moka expires the counters, so nothing grows for ever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use moka::sync::Cache;

pub struct LoginLimiter {
    failures: Cache<String, Arc<AtomicU32>>,
    max_failures: u32,
    lockout: Duration,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, lockout: Duration) -> LoginLimiter {
        LoginLimiter {
            failures: Cache::builder().max_capacity(100_000).time_to_live(lockout).build(),
            max_failures,
            lockout,
        }
    }

    /// `Some(seconds to wait)` when this email has failed too often recently.
    pub fn check(&self, email: &str) -> Option<u64> {
        let count = self.failures.get(email).map(|c| c.load(Ordering::Relaxed)).unwrap_or(0);
        (count >= self.max_failures).then_some(self.lockout.as_secs().max(1))
    }

    pub fn record_failure(&self, email: &str) {
        self.failures.get_with(email.to_owned(), || Arc::new(AtomicU32::new(0))).fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_success(&self, email: &str) {
        self.failures.invalidate(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_success_resets() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check("a@x.io").is_none());
            limiter.record_failure("a@x.io");
        }
        assert_eq!(limiter.check("a@x.io"), Some(60));
        assert!(limiter.check("b@x.io").is_none());
        limiter.record_success("a@x.io");
        assert!(limiter.check("a@x.io").is_none());
    }
}
