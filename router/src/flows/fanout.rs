//! Calls that need several regions: a user's groups and a user's activity. The user's
//! home region says which groups (so which regions) the user has; the regions are asked
//! in parallel, each with its own deadline, and what answers is merged. A region that
//! does not answer costs only its own share of the result.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::HttpResponse;
use actix_web::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::cursor::LedgerPosition;
use contract::dto::{LedgerEntry, Page, User, UserGroups};
use contract::{GroupId, RegionId, Regional, UserId};
use serde::{Deserialize, Serialize};

use crate::error::RouterError;
use crate::forward::{Answer, Outgoing, forward, send};
use crate::startup::AppState;

/// The user as their home region shows it to this caller (which also checks the
/// caller may see them). `Err(response)` is the home region's refusal, passed on.
async fn home_view(
    state: &AppState,
    user: &UserId,
    outgoing: &Outgoing,
) -> Result<Result<User, HttpResponse>, RouterError> {
    let answer = forward(state, user.region(), &outgoing.derived(Method::GET, format!("/v1/users/{user}"))).await?;
    if answer.status != StatusCode::OK {
        return Ok(Err(answer.into_response()));
    }
    Ok(Ok(serde_json::from_slice(&answer.body).map_err(RouterError::internal)?))
}

/// Asks each region in parallel, each within the fan-out deadline.
async fn ask_each(
    state: &AppState,
    regions: &BTreeSet<RegionId>,
    outgoing: &Outgoing,
) -> Vec<(RegionId, Option<Answer>)> {
    let calls = regions.iter().map(|&region| async move {
        let answer = send(state, region, outgoing, state.fanout_timeout).await;
        (region, answer.ok().filter(|a| a.status == StatusCode::OK))
    });
    futures_util::future::join_all(calls).await
}

fn regions_of(user: &User) -> BTreeSet<RegionId> {
    user.groups.iter().map(Regional::region).chain([user.id.region()]).collect()
}

/// A user's groups: every region is asked at once, the home region included. The home
/// region's answer also vouches for the user (its refusal is passed on) and lists the
/// user's groups in every region, by which the answers are merged. Asking every region,
/// rather than the home region first and then the regions it names, makes the call as
/// long as its slowest region rather than the sum of two; with a handful of regions, a
/// region holding none of the user's groups answers cheaply.
pub async fn user_groups(state: &AppState, user_id: UserId, outgoing: &Outgoing) -> Result<HttpResponse, RouterError> {
    let request = outgoing.derived(Method::GET, format!("/v1/users/{user_id}/groups"));
    let home = user_id.region();
    let others: BTreeSet<RegionId> = state.upstreams.regions().map(|r| r.id).filter(|&r| r != home).collect();
    let (home_answer, answers) = tokio::join!(forward(state, home, &request), ask_each(state, &others, &request));
    let home_answer = home_answer?;
    if home_answer.status != StatusCode::OK {
        return Ok(home_answer.into_response());
    }
    let home_groups: UserGroups = serde_json::from_slice(&home_answer.body).map_err(RouterError::internal)?;
    let index = home_groups.memberships.unwrap_or_default();
    let mut items = home_groups.items;
    let mut unavailable: Vec<GroupId> = Vec::new();
    for (region, answer) in answers {
        match answer.and_then(|a| serde_json::from_slice::<UserGroups>(&a.body).ok()) {
            Some(groups) => items.extend(groups.items),
            None => unavailable.extend(index.iter().filter(|g| g.region() == region).cloned()),
        }
    }
    // The index's order (oldest membership first); groups it does not list yet last.
    let rank = |id: &GroupId| index.iter().position(|g| g == id).unwrap_or(usize::MAX);
    items.sort_by_key(|g| rank(&g.id));
    items.dedup_by(|a, b| a.id == b.id);
    Ok(HttpResponse::Ok().json(UserGroups { items, unavailable, memberships: None }))
}

/// The router's activity cursor: where each region's part of the merge stands.
#[derive(Debug, Default, Serialize, Deserialize)]
struct MergeCursor {
    /// Region → that region's own cursor (the last entry taken from it).
    #[serde(default)]
    after: BTreeMap<RegionId, String>,
    /// Regions with nothing left.
    #[serde(default)]
    done: BTreeSet<RegionId>,
}

impl MergeCursor {
    fn decode(value: &str) -> Option<MergeCursor> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).ok()?).ok()
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
}

#[derive(Debug, Deserialize)]
struct ActivityQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A merged page, plus the regions that could not answer (an addition to the contract).
#[derive(Debug, Serialize)]
struct MergedPage {
    items: Vec<LedgerEntry>,
    next_cursor: Option<String>,
    unavailable: Vec<RegionId>,
}

pub async fn user_activity(
    state: &AppState,
    user_id: UserId,
    outgoing: &Outgoing,
) -> Result<HttpResponse, RouterError> {
    let query = outgoing.path_and_query.split_once('?').map_or("", |(_, q)| q);
    let query: ActivityQuery = serde_urlencoded::from_str(query)
        .map_err(|e| RouterError::invalid_input(format!("invalid query string: {e}")))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(RouterError::invalid_input("limit must be between 1 and 200"));
    }
    let mut cursor = match &query.cursor {
        Some(c) => {
            MergeCursor::decode(c).ok_or_else(|| RouterError::invalid_input("cursor is not one this server issued"))?
        }
        None => MergeCursor::default(),
    };
    let user = match home_view(state, &user_id, outgoing).await? {
        Ok(user) => user,
        Err(refusal) => return Ok(refusal),
    };
    let regions: BTreeSet<RegionId> = regions_of(&user).difference(&cursor.done).copied().collect();
    let calls = regions.iter().map(|&region| {
        let path = match cursor.after.get(&region) {
            Some(after) => format!("/v1/users/{user_id}/activity?limit={limit}&cursor={after}"),
            None => format!("/v1/users/{user_id}/activity?limit={limit}"),
        };
        let request = outgoing.derived(Method::GET, path);
        async move {
            let answer = send(state, region, &request, state.fanout_timeout).await;
            let page = answer
                .ok()
                .filter(|a| a.status == StatusCode::OK)
                .and_then(|a| serde_json::from_slice::<Page<LedgerEntry>>(&a.body).ok());
            (region, page)
        }
    });
    let mut pages = BTreeMap::new();
    let mut unavailable = Vec::new();
    for (region, page) in futures_util::future::join_all(calls).await {
        match page {
            Some(page) => {
                pages.insert(region, page);
            }
            None => unavailable.push(region),
        }
    }
    let mut merged: Vec<(RegionId, LedgerEntry)> =
        pages.iter().flat_map(|(&region, page)| page.items.iter().map(move |e| (region, e.clone()))).collect();
    merged.sort_by(|(_, a), (_, b)| (b.created_on, b.id.as_str()).cmp(&(a.created_on, a.id.as_str())));
    merged.truncate(limit as usize);
    for (&region, page) in &pages {
        let taken: Vec<&LedgerEntry> = merged.iter().filter(|(r, _)| *r == region).map(|(_, e)| e).collect();
        if let Some(last) = taken.last() {
            cursor
                .after
                .insert(region, LedgerPosition { created_on: last.created_on, id: last.id.to_string() }.encode());
        }
        if page.next_cursor.is_none() && taken.len() == page.items.len() {
            cursor.done.insert(region);
        }
    }
    let finished = regions_of(&user).is_subset(&cursor.done);
    let next_cursor = if finished { None } else { Some(cursor.encode()) };
    if !unavailable.is_empty() {
        tracing::warn!(?unavailable, "activity merged without some regions");
    }
    Ok(HttpResponse::Ok().json(MergedPage {
        items: merged.into_iter().map(|(_, e)| e).collect(),
        next_cursor,
        unavailable,
    }))
}
