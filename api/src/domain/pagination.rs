use contract::cursor::LedgerPosition;
use serde::Deserialize;

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
    pub after: Option<LedgerPosition>,
}

impl PageRequest {
    pub fn parse(params: &PageParams) -> Result<PageRequest, ApiError> {
        let limit = params.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid_input("limit must be between 1 and 200"));
        }
        let after = params
            .cursor
            .as_deref()
            .map(|c| {
                LedgerPosition::decode(c).ok_or_else(|| ApiError::invalid_input("cursor is not one this server issued"))
            })
            .transpose()?;
        Ok(PageRequest { limit, after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_garbage_are_rejected() {
        for limit in [0, 201, -1] {
            assert!(PageRequest::parse(&PageParams { limit: Some(limit), cursor: None }).is_err());
        }
        assert_eq!(PageRequest::parse(&PageParams { limit: None, cursor: None }).unwrap().limit, 50);
        assert!(PageRequest::parse(&PageParams { limit: None, cursor: Some("!!".into()) }).is_err());
    }
}
