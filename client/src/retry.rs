//! When a request is sent again, and how long to wait first.

use std::time::Duration;

/// Up to `attempts` sends, waiting `base`, 2×`base`, 4×`base`… (at most `max`) between.
/// Which requests may be sent again is not configurable: see the crate's documentation.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 5, base: Duration::from_millis(100), max: Duration::from_secs(2) }
    }
}

impl Retry {
    /// Sent once, whatever happens.
    pub fn never() -> Retry {
        Retry { attempts: 1, ..Retry::default() }
    }

    pub(crate) fn backoff(&self, retries: u32) -> Duration {
        self.base.saturating_mul(1 << retries.min(16)).min(self.max)
    }
}

/// Answers that mean "nothing was done, come back": the region is unavailable, or the
/// first request with this key is still running. A timeout (504) may have applied, so it
/// is sent again only where a resend is safe, like the others.
pub(crate) fn answer_says_again(status: u16, body: &[u8]) -> bool {
    match status {
        503 | 504 => true,
        409 => serde_json::from_slice::<contract::ErrorEnvelope>(body)
            .is_ok_and(|e| e.error.code == contract::ErrorCode::IdempotencyInProgress),
        _ => false,
    }
}

/// The request never reached the server: resending it is always safe.
pub(crate) fn unsent(err: &reqwest::Error) -> bool {
    err.is_connect()
}

/// The request may have reached the server and its answer was lost.
pub(crate) fn may_be_lost(err: &reqwest::Error) -> bool {
    err.is_timeout() || err.is_request() || err.is_body() || err.is_decode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let retry = Retry { attempts: 9, base: Duration::from_millis(50), max: Duration::from_millis(500) };
        let waits: Vec<u128> = (0..6).map(|n| retry.backoff(n).as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 500, 500]);
    }

    #[test]
    fn only_unavailable_timeouts_and_running_duplicates_ask_again() {
        let envelope = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m","request_id":"r"}}}}"#);
        assert!(answer_says_again(503, envelope("region_unavailable").as_bytes()));
        assert!(answer_says_again(504, envelope("timeout").as_bytes()));
        assert!(answer_says_again(409, envelope("idempotency_in_progress").as_bytes()));
        assert!(!answer_says_again(409, envelope("insufficient_points").as_bytes()));
        assert!(!answer_says_again(500, envelope("internal").as_bytes()));
        assert!(!answer_says_again(429, envelope("rate_limited").as_bytes()));
        assert!(!answer_says_again(201, b"{}"));
    }
}
