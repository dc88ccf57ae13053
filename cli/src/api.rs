//! How a command's call to the platform ended, and so the process's exit code. The calls
//! themselves are the typed client's (`client`): points writes carry a fresh
//! Idempotency-Key and are retried with it, so a flaky connection never bills or redeems
//! twice.

use client::Error;

pub type Api = client::Client;

#[derive(Debug)]
pub enum Failure {
    /// The platform refused (4xx): code, message, request id.
    Refused {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    /// The platform could not answer (5xx after retries, or the network).
    Unavailable(String),
    /// Not logged in, or the session expired.
    NotLoggedIn,
    Usage(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Refused { status: 401, .. } | Failure::NotLoggedIn => 4,
            Failure::Refused { .. } => 1,
            Failure::Usage(_) => 2,
            Failure::Unavailable(_) => 3,
        }
    }

    pub fn explain(&self) -> String {
        match self {
            Failure::Refused { code, message, request_id, .. } => format!("{message} ({code}; request {request_id})"),
            Failure::Unavailable(why) => format!("the platform could not be reached: {why}"),
            Failure::NotLoggedIn => "you are not logged in: run `loyalty login`".to_owned(),
            Failure::Usage(why) => why.clone(),
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        match err {
            Error::Status { status, error, .. } if status < 500 => Failure::Refused {
                status,
                code: error.code.name(),
                message: error.message,
                request_id: error.request_id,
            },
            Error::NoAnswer { message, retries } if retries > 0 => Failure::Unavailable(format!(
                "{message} (tried {} times; a bill or redemption carried one Idempotency-Key: it applied at most once)",
                retries + 1
            )),
            other => Failure::Unavailable(other.to_string()),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Unavailable(err.to_string())
    }
}

pub type Outcome<T> = Result<T, Failure>;

/// The value of a call's answer.
pub fn value<T>(reply: client::Result<client::Reply<T>>) -> Outcome<T> {
    Ok(reply?.value)
}

/// Connects to `base` as the CLI does: 3 s to connect, 15 s per attempt.
pub fn connect(base: &str, token: Option<String>, ca_file: Option<&std::path::Path>) -> Outcome<Api> {
    let api = client::Client::builder(base).ca_file(ca_file).build()?;
    Ok(match token {
        Some(token) => api.with_token(token),
        None => api,
    })
}
