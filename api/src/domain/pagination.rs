use contract::cursor::LedgerPosition;
use contract::dto::Page;
use contract::numbers::PageSize;
use serde::Deserialize;

use crate::domain::within;
use crate::error::ApiError;

/// `?limit=N&cursor=C` as it arrives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A checked page request: `limit` a `PageSize` and a decoded cursor.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<LedgerPosition>,
}

impl PageRequest {
    pub fn parse(params: &PageParams) -> Result<PageRequest, ApiError> {
        let limit = within::<PageSize>("limit", params.limit.unwrap_or(PageSize::DEFAULT))?;
        let after = params
            .cursor
            .as_deref()
            .map(|c| {
                LedgerPosition::decode(c).ok_or_else(|| ApiError::invalid_input("cursor is not one this server issued"))
            })
            .transpose()?;
        Ok(PageRequest { limit, after })
    }

    /// The page from `rows`, loaded newest first with `limit + 1` so that one more row
    /// says whether another page follows; `position` is where the next page starts.
    pub fn page<R, T, E>(
        &self,
        mut rows: Vec<R>,
        position: impl Fn(&R) -> LedgerPosition,
        item: impl FnMut(R) -> Result<T, E>,
    ) -> Result<Page<T>, E> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more { rows.last().map(|row| position(row).encode()) } else { None };
        Ok(Page { items: rows.into_iter().map(item).collect::<Result<_, E>>()?, next_cursor })
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
        assert_eq!(PageRequest::parse(&PageParams { limit: None, cursor: None }).unwrap().limit, PageSize::DEFAULT);
        assert!(PageRequest::parse(&PageParams { limit: None, cursor: Some("!!".into()) }).is_err());
    }
}
