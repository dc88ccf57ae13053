use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::db::ledger::After;
use crate::error::ApiError;

/// `?limit=N&cursor=C` as it arrives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A checked page request: `limit` in 1..=200 (default 50) and a decoded cursor.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<After>,
}

impl PageRequest {
    pub fn parse(params: &PageParams) -> Result<PageRequest, ApiError> {
        let limit = params.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid_input("limit must be between 1 and 200"));
        }
        let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, after })
    }
}

/// A cursor names the last entry of a page: its creation time (µs) and id. Opaque to
/// clients; base64 so nobody is tempted to build one.
pub fn encode_cursor(created_on: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_on.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Result<After, ApiError> {
    let bad = || ApiError::invalid_input("cursor is not one this server issued");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (micros, id) = raw.split_once('|').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let created_on = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok(After { created_on, id: id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let t = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let c = encode_cursor(t, "001-01ABC");
        let after = decode_cursor(&c).unwrap();
        assert_eq!(after, After { created_on: t, id: "001-01ABC".into() });
    }

    #[test]
    fn limits_and_garbage_are_rejected() {
        for limit in [0, 201, -1] {
            assert!(PageRequest::parse(&PageParams { limit: Some(limit), cursor: None }).is_err());
        }
        assert_eq!(PageRequest::parse(&PageParams { limit: None, cursor: None }).unwrap().limit, 50);
        assert!(PageRequest::parse(&PageParams { limit: None, cursor: Some("!!".into()) }).is_err());
        assert!(PageRequest::parse(&PageParams { limit: None, cursor: Some("bm9waXBl".into()) }).is_err());
    }
}
