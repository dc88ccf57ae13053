//! `/internal` calls come from other regions and the router, never from clients: they
//! carry the shared service token, compared in constant time.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use contract::internal::SERVICE_TOKEN_HEADER;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::startup::AppState;

/// Proof that the request carries the service token.
pub struct ServiceCaller;

fn same_secret(a: &str, b: &str) -> bool {
    // Comparing digests keeps the time independent of where the strings differ.
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequest for ServiceCaller {
    type Error = ApiError;
    type Future = Ready<Result<ServiceCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req.app_data::<web::Data<AppState>>().and_then(|s| s.config.service_token.clone());
        let given = req.headers().get(SERVICE_TOKEN_HEADER).and_then(|v| v.to_str().ok());
        ready(match (expected, given) {
            (Some(expected), Some(given)) if same_secret(&expected, given) => Ok(ServiceCaller),
            _ => Err(ApiError::unauthenticated("internal endpoints need the service token")),
        })
    }
}
