//! Password hashing is the costliest thing a request can ask for (Argon2id: 19 MiB and
//! tens of milliseconds of a core per hash), and anyone may ask for it (sign-up, login).
//! So it is a bounded resource: at most `concurrency` hashes at once (by default one per
//! core), a request waits at most `wait` for its turn, then gets `429 rate_limited` with
//! `Retry-After`. Memory stays bounded under any flood, and the cores stay shared with
//! every other request (a login flood used to grow one instance from 54 to 585 MiB and
//! starve its health checks).

use std::sync::Arc;
use std::time::Duration;

use contract::ErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

pub struct Hashing {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Hashing {
    /// `concurrency` 0 means one hash per core.
    pub fn new(concurrency: usize, wait: Duration) -> Hashing {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let concurrency = if concurrency == 0 { cores } else { concurrency };
        Hashing { permits: Arc::new(Semaphore::new(concurrency)), wait }
    }

    /// Runs `hash` on a blocking thread once a permit is free.
    pub async fn run<T: Send + 'static>(&self, hash: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        self.turn().await?.run(hash).await
    }

    /// Waits at most `wait` for a permit. Taken before anything else a login does, so
    /// one turned away for load costs the database nothing and counts no attempt.
    pub async fn turn(&self) -> Result<Turn, ApiError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Turn(permit)),
            _ => {
                metrics::counter!("password_hashing_refused_total").increment(1);
                Err(ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(ErrorCode::RateLimited, "too many sign-ups and logins at once; retry in a second")
                })
            }
        }
    }
}

/// A turn at hashing: one of the permits, held until the hash it runs is done.
pub struct Turn(OwnedSemaphorePermit);

impl Turn {
    /// Runs `hash` on a blocking thread.
    pub async fn run<T: Send + 'static>(self, hash: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = self.0;
        Ok(actix_web::web::block(move || {
            let _permit = permit;
            hash()
        })
        .await?)
    }
}
