//! Requests that are more than one forward: sign-up and login through the email
//! directory, and the fan-outs that merge several regions' answers.

pub mod accounts;
pub mod fanout;
mod quorum;

use bytes::Bytes;
use contract::RegionId;
use serde_json::Value;

use crate::error::RouterError;
use crate::startup::AppState;

/// The request body as a JSON object, for the fields that decide where it goes.
pub fn json_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, RouterError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(RouterError::invalid_input("the body must be a JSON object")),
    }
}

/// A configured region named by a body field.
pub fn region_field(
    state: &AppState,
    body: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<RegionId, RouterError> {
    let value = body
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| RouterError::invalid_input(format!("{field} is required")))?;
    let region: RegionId = value.parse().map_err(|e| RouterError::invalid_input(format!("{field} {value:?}: {e}")))?;
    state.known_region(region)
}
