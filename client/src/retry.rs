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
    use crate::testing::{Flake, FlakyInstance};
    use crate::{Client, Method};
    use serde_json::{Value, json};

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

    fn client_of(instance: &FlakyInstance) -> Client {
        let retry = Retry { attempts: 3, base: Duration::from_millis(10), max: Duration::from_millis(10) };
        Client::builder(&instance.url).retry(retry).build().unwrap()
    }

    async fn post(client: &Client, key: Option<&str>) -> crate::Result<crate::Reply<Value>> {
        client.call(Method::POST, "/v1/groups", key, Some(&json!({"name": "n", "region": "001"}))).await
    }

    #[tokio::test]
    async fn a_request_the_server_did_not_read_goes_again_even_without_a_key() {
        let instance = FlakyInstance::start(Flake::Unread, 1).await;
        let reply = post(&client_of(&instance), None).await.unwrap();
        assert_eq!((reply.status, reply.retries, instance.received()), (201, 1, 1));
    }

    #[tokio::test]
    async fn a_lost_answer_is_asked_for_again_only_under_the_same_key() {
        let unkeyed = FlakyInstance::start(Flake::Dropped, 1).await;
        let err = post(&client_of(&unkeyed), None).await.unwrap_err();
        assert!(matches!(err, crate::Error::NoAnswer { retries: 0, .. }), "{err}");
        assert_eq!(unkeyed.received(), 1, "sent once: it may have applied");

        let keyed = FlakyInstance::start(Flake::Dropped, 1).await;
        let reply = post(&client_of(&keyed), Some("01JD3Q6M2V8X4Y5Z6A7B8C9D10")).await.unwrap();
        assert_eq!((reply.status, reply.retries, keyed.received()), (201, 1, 2));
    }
}
