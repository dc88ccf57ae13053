//! The load test's view of the typed client (`client`): each answer as the verdict reads
//! it (status, JSON body, replayed or not) and each write's fate. The client sends writes
//! with their Idempotency-Key and resends them with it after a timeout, a lost connection
//! or a `503`, so a write is applied at most once whatever the network does.

use std::time::Duration;

use client::{Client, Retry};
use contract::dto::{NewBill, NewRedemption, NewReturn};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
    pub latency: Duration,
}

impl Reply {
    pub fn code(&self) -> String {
        self.body["error"]["code"].as_str().unwrap_or("unknown").to_owned()
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A write's fate as the client knows it.
#[derive(Debug, Clone)]
pub enum Sent {
    Answered {
        reply: Reply,
        retries: u32,
    },
    /// Every attempt timed out or lost its connection: the outcome is unknown.
    Lost {
        retries: u32,
        error: String,
    },
}

/// A points write as the load sends it.
#[derive(Debug, Clone)]
pub enum Request {
    Bill(NewBill),
    Redeem { group: String, redemption: NewRedemption },
    Return { bill: String, lines: NewReturn },
}

#[derive(Clone)]
pub struct Api {
    client: Client,
}

/// Sends after 100, 200, 400, 800 ms and 1.6 s: rides out an instance restarting.
const WRITE_RETRY: Retry = Retry { attempts: 6, base: Duration::from_millis(100), max: Duration::from_millis(1_600) };

impl Api {
    pub fn new(base: &str, ca_file: Option<&std::path::Path>, timeout: Duration) -> anyhow::Result<Api> {
        let client = Client::builder(base)
            .ca_file(ca_file)
            .timeout(timeout)
            .pool_max_idle_per_host(256)
            .retry(WRITE_RETRY)
            .build()?;
        Ok(Api { client })
    }

    /// The typed client without a token.
    pub fn anonymous(&self) -> Client {
        self.client.anonymous()
    }

    /// The typed client, presenting `token`.
    pub fn as_user(&self, token: &str) -> Client {
        self.client.with_token(token)
    }

    /// A points write with its key; the answer, or `Lost` when none came.
    pub async fn write(&self, token: &str, key: &str, request: &Request) -> Sent {
        let client = self.as_user(token);
        match request {
            Request::Bill(bill) => sent(client.bill(bill, key).await),
            Request::Redeem { group, redemption } => sent(client.redeem(group, redemption, key).await),
            Request::Return { bill, lines } => sent(client.return_bill(bill, lines, key).await),
        }
    }

    /// A read's label for the statistics, `ok` or an error code; or, when no answer in
    /// the contract's terms came, what the client saw instead.
    pub async fn read<T: serde::de::DeserializeOwned>(
        &self,
        call: impl Future<Output = client::Result<client::Reply<T>>>,
    ) -> Result<String, String> {
        match call.await {
            Ok(_) => Ok("ok".to_owned()),
            Err(client::Error::Status { error, .. }) => Ok(error.code.name()),
            Err(other) => Err(other.to_string()),
        }
    }
}

/// The typed answer as the verdict compares it.
fn sent<T: Serialize>(result: client::Result<client::Reply<T>>) -> Sent {
    match result {
        Ok(reply) => Sent::Answered {
            retries: reply.retries,
            reply: Reply {
                status: reply.status,
                body: serde_json::to_value(&reply.value).unwrap_or_default(),
                replayed: reply.replayed,
                latency: reply.latency,
            },
        },
        Err(client::Error::Status { status, error, replayed, retries, latency }) => {
            Sent::Answered { retries, reply: Reply { status, body: json!({ "error": error }), replayed, latency } }
        }
        Err(err) => Sent::Lost { retries: err.retries(), error: err.to_string() },
    }
}
