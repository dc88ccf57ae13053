//! Failed logins of each email over the last minute, from every address. Past
//! `auth.email_failures_per_minute` the account is watched: someone is guessing its
//! password from many addresses, past the lockout of each (email, address) pair, and
//! only the networks its user has logged in from (`db::login_networks`) may try it. The
//! owner keeps logging in from home, while guesses from elsewhere are refused before any
//! hashing. A per-email budget that refused everyone alike let any stranger keep the
//! owner out. Counted per instance, like the lockouts; moka forgets quiet emails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

const MINUTE: Duration = Duration::from_secs(60);

/// Failures in the minute that started at `started`, and in the one before.
struct Window {
    started: Instant,
    count: u32,
    previous: u32,
}

impl Window {
    fn roll(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.started);
        if elapsed >= MINUTE {
            self.previous = if elapsed < 2 * MINUTE { self.count } else { 0 };
            self.count = 0;
            self.started = now;
        }
    }
}

pub struct LoginWatch {
    windows: Cache<String, Arc<Mutex<Window>>>,
    threshold: u32,
}

impl LoginWatch {
    pub fn new(failures_per_minute: u32) -> LoginWatch {
        LoginWatch {
            windows: Cache::builder().max_capacity(100_000).time_to_idle(2 * MINUTE).build(),
            threshold: failures_per_minute.max(1),
        }
    }

    pub fn record_failure(&self, email: &str) {
        let now = Instant::now();
        let window = self
            .windows
            .get_with(email.to_owned(), || Arc::new(Mutex::new(Window { started: now, count: 0, previous: 0 })));
        let Ok(mut window) = window.lock() else { return };
        window.roll(now);
        window.count = window.count.saturating_add(1);
    }

    /// Whether `email` saw `threshold` failures within this minute or the last.
    pub fn watched(&self, email: &str) -> bool {
        let Some(window) = self.windows.get(email) else { return false };
        let Ok(mut window) = window.lock() else { return false };
        window.roll(Instant::now());
        window.count.max(window.previous) >= self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_watched_from_the_threshold_on_and_others_are_not() {
        let watch = LoginWatch::new(3);
        for _ in 0..2 {
            watch.record_failure("a@x.io");
        }
        assert!(!watch.watched("a@x.io"));
        watch.record_failure("a@x.io");
        assert!(watch.watched("a@x.io"));
        assert!(!watch.watched("b@x.io"));
    }

    #[test]
    fn a_quiet_minute_ends_the_watch() {
        let start = Instant::now();
        let mut window = Window { started: start, count: 5, previous: 0 };
        window.roll(start + MINUTE);
        assert_eq!((window.count, window.previous), (0, 5), "the last minute still counts");
        window.roll(start + 2 * MINUTE + Duration::from_secs(1));
        assert_eq!((window.count, window.previous), (0, 0));
    }
}
