//! Calls that need several regions: a user's groups and a user's activity. The user's
//! home region says which groups (so which regions) the user has. Every region is asked
//! at the same time as the home region, each call with its own deadline; once the home
//! region has answered, only the regions of the user's groups are waited for (the other
//! calls are dropped), and what answers is merged. So a call takes as long as its
//! slowest part, not the home region's time plus the others', and a region that does
//! not answer costs only its own share of the result.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use actix_web::HttpResponse;
use actix_web::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::cursor::LedgerPosition;
use contract::dto::{ActivityPage, LedgerEntry, Page, User, UserGroups};
use contract::numbers::{NumberKind, PageSize};
use contract::{EntryId, GroupId, RegionId, Regional, UserId};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::RouterError;
use crate::forward::{Outgoing, forward, send};
use crate::startup::AppState;

/// What the home region said: its answer, or its refusal (passed on as it is).
type HomeAnswer<T> = Result<Result<T, HttpResponse>, RouterError>;

/// GET `path` from the user's home region, parsed.
async fn ask_home<T: DeserializeOwned>(
    state: &AppState,
    user: &UserId,
    outgoing: &Outgoing,
    path: String,
) -> HomeAnswer<T> {
    let answer = forward(state, user.region(), &outgoing.derived(Method::GET, path)).await?;
    if answer.status != StatusCode::OK {
        return Ok(Err(answer.into_response()));
    }
    Ok(Ok(serde_json::from_slice(&answer.body).map_err(RouterError::internal)?))
}

/// GET `path` from one region within the fan-out deadline; `None` if it did not answer.
async fn ask_region<T: DeserializeOwned>(
    state: &AppState,
    region: RegionId,
    outgoing: &Outgoing,
    path: String,
) -> (RegionId, Option<T>) {
    let answer = send(state, region, &outgoing.derived(Method::GET, path), state.fanout_timeout).await;
    let parsed = answer.ok().filter(|a| a.status == StatusCode::OK).and_then(|a| serde_json::from_slice(&a.body).ok());
    (region, parsed)
}

/// Runs `home` and `call` for each `asked` region together; once `home` is done, waits
/// only for the regions `needed` names from its answer (asking those not yet asked), and
/// drops the other calls. Answers of the needed regions.
async fn with_home<H, T, F>(
    home: impl Future<Output = H>,
    asked: &BTreeSet<RegionId>,
    call: impl Fn(RegionId) -> F,
    needed: impl FnOnce(&H) -> BTreeSet<RegionId>,
) -> (H, Vec<(RegionId, T)>)
where
    F: Future<Output = (RegionId, T)>,
{
    let mut pending: FuturesUnordered<F> = asked.iter().map(|&region| call(region)).collect();
    let mut answers = Vec::new();
    let mut home = std::pin::pin!(home);
    let home = loop {
        tokio::select! {
            home = &mut home => break home,
            Some(answer) = pending.next() => answers.push(answer),
        }
    };
    let needed = needed(&home);
    for &region in needed.difference(asked) {
        pending.push(call(region));
    }
    while needed.iter().any(|region| !answers.iter().any(|(r, _)| r == region)) {
        match pending.next().await {
            Some(answer) => answers.push(answer),
            None => break,
        }
    }
    answers.retain(|(region, _)| needed.contains(region));
    (home, answers)
}

fn regions_of(user: &User) -> BTreeSet<RegionId> {
    user.groups.iter().map(Regional::region).chain([user.id.region()]).collect()
}

/// A user's groups. The home region's own part also vouches for the user and carries
/// the user's membership index, by which the parts are merged.
pub async fn user_groups(state: &AppState, user_id: UserId, outgoing: &Outgoing) -> Result<HttpResponse, RouterError> {
    let path = format!("/v1/users/{user_id}/groups");
    let home = user_id.region();
    let others: BTreeSet<RegionId> = state.upstreams.regions().map(|r| r.id).filter(|&r| r != home).collect();
    let call = |region| ask_region::<UserGroups>(state, region, outgoing, path.clone());
    let (home_part, answers) =
        with_home(ask_home::<UserGroups>(state, &user_id, outgoing, path.clone()), &others, call, |home_part| {
            match home_part {
                // An older home region without the index: wait for every region.
                Ok(Ok(UserGroups { memberships: None, .. })) => others.clone(),
                Ok(Ok(UserGroups { memberships: Some(ids), .. })) => {
                    ids.iter().map(Regional::region).filter(|&r| r != home).collect()
                }
                _ => BTreeSet::new(),
            }
        })
        .await;
    let home_part = match home_part? {
        Ok(part) => part,
        Err(refusal) => return Ok(refusal),
    };
    let index = home_part.memberships.unwrap_or_default();
    let mut items = home_part.items;
    let mut unavailable: Vec<GroupId> = Vec::new();
    for (region, part) in answers {
        match part {
            Some(part) => items.extend(part.items),
            None => unavailable.extend(index.iter().filter(|g| g.region() == region).cloned()),
        }
    }
    // The index's order (oldest membership first); groups it does not list yet last.
    let rank = |id: &GroupId| index.iter().position(|g| g == id).unwrap_or(usize::MAX);
    items.sort_by_key(|g| rank(&g.id));
    items.dedup_by(|a, b| a.id == b.id);
    Ok(HttpResponse::Ok().json(UserGroups { items, unavailable, memberships: None }))
}

/// The router's activity cursor as it travels: where each region's part of the merge
/// stands, each region's position in that region's own cursor format.
#[derive(Debug, Default, Serialize, Deserialize)]
struct WireCursor {
    /// Region → that region's own cursor (the last entry taken from it).
    #[serde(default)]
    after: BTreeMap<RegionId, String>,
    /// Regions with nothing left.
    #[serde(default)]
    done: BTreeSet<RegionId>,
}

/// The activity cursor decoded: every region's position parsed. A cursor comes from
/// the client, so nothing of it reaches an upstream URL as it came: each position is
/// encoded again by `LedgerPosition::encode` (URL-safe by construction).
#[derive(Debug, Default)]
struct MergeCursor {
    after: BTreeMap<RegionId, LedgerPosition>,
    done: BTreeSet<RegionId>,
}

impl MergeCursor {
    fn decode(value: &str) -> Option<MergeCursor> {
        let wire: WireCursor = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
        let mut after = BTreeMap::new();
        for (region, position) in wire.after {
            let position = LedgerPosition::decode(&position)?;
            // An entry of that region, as the region itself would have issued.
            if position.id.parse::<EntryId>().ok()?.region() != region {
                return None;
            }
            after.insert(region, position);
        }
        Some(MergeCursor { after, done: wire.done })
    }

    fn encode(&self) -> String {
        let after = self.after.iter().map(|(&region, position)| (region, position.encode())).collect();
        let wire = WireCursor { after, done: self.done.clone() };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }
}

#[derive(Debug, Deserialize)]
struct ActivityQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn user_activity(
    state: &AppState,
    user_id: UserId,
    outgoing: &Outgoing,
) -> Result<HttpResponse, RouterError> {
    let query = outgoing.path_and_query.split_once('?').map_or("", |(_, q)| q);
    let query: ActivityQuery = serde_urlencoded::from_str(query)
        .map_err(|e| RouterError::invalid_input(format!("invalid query string: {e}")))?;
    let limit =
        PageSize::check("limit", query.limit.unwrap_or(PageSize::DEFAULT)).map_err(RouterError::invalid_input)?;
    let mut cursor = match &query.cursor {
        Some(c) => {
            MergeCursor::decode(c).ok_or_else(|| RouterError::invalid_input("cursor is not one this server issued"))?
        }
        None => MergeCursor::default(),
    };
    let asked: BTreeSet<RegionId> =
        state.upstreams.regions().map(|r| r.id).filter(|r| !cursor.done.contains(r)).collect();
    let call = |region| {
        let path = match cursor.after.get(&region) {
            Some(after) => format!("/v1/users/{user_id}/activity?limit={limit}&cursor={}", after.encode()),
            None => format!("/v1/users/{user_id}/activity?limit={limit}"),
        };
        ask_region::<Page<LedgerEntry>>(state, region, outgoing, path)
    };
    let home = ask_home::<User>(state, &user_id, outgoing, format!("/v1/users/{user_id}"));
    let (user, answers) = with_home(home, &asked, call, |user| match user {
        Ok(Ok(user)) => regions_of(user).difference(&cursor.done).copied().collect(),
        _ => BTreeSet::new(),
    })
    .await;
    let user = match user? {
        Ok(user) => user,
        Err(refusal) => return Ok(refusal),
    };
    let mut pages = BTreeMap::new();
    let mut unavailable = Vec::new();
    for (region, page) in answers {
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
            cursor.after.insert(region, LedgerPosition { created_on: last.created_on, id: last.id.to_string() });
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
    Ok(HttpResponse::Ok().json(ActivityPage {
        items: merged.into_iter().map(|(_, e)| e).collect(),
        next_cursor,
        unavailable,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(after: &[(&str, &str)]) -> String {
        let after: BTreeMap<String, String> = after.iter().map(|(r, p)| (r.to_string(), p.to_string())).collect();
        URL_SAFE_NO_PAD.encode(serde_json::json!({"after": after, "done": ["003"]}).to_string())
    }

    #[test]
    fn a_cursor_the_router_issued_comes_back_the_same() {
        let position = LedgerPosition {
            created_on: chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: "002-01JBZ3F8Q2W4Y6A8C0E2G4J6K8".into(),
        };
        let cursor = MergeCursor::decode(&wire(&[("002", &position.encode())])).unwrap();
        assert_eq!(cursor.after.get(&"002".parse().unwrap()), Some(&position));
        assert!(cursor.done.contains(&"003".parse().unwrap()));
        assert_eq!(MergeCursor::decode(&cursor.encode()).unwrap().after, cursor.after);
    }

    #[test]
    fn crafted_positions_are_refused() {
        let other_region = LedgerPosition {
            created_on: chrono::DateTime::from_timestamp_micros(1).unwrap(),
            id: "001-01JBZ3F8Q2W4Y6A8C0E2G4J6K8".into(),
        };
        let not_an_entry = LedgerPosition { created_on: other_region.created_on, id: "x y/../?a=b".into() };
        for after in [" x", "a b", "%zz", "x&limit=100000", &other_region.encode(), &not_an_entry.encode()] {
            assert!(MergeCursor::decode(&wire(&[("002", after)])).is_none(), "{after:?} was taken");
        }
        assert!(MergeCursor::decode("not base64 at all!").is_none());
    }
}
