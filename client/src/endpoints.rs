//! Every endpoint the client speaks, as (method, path template): the functions build
//! their paths from these, and a test holds the list against the services' OpenAPI
//! document, so the client and the document cannot drift apart.

use std::fmt::Display;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    /// The path as the OpenAPI document writes it, e.g. `/v1/groups/{gid}`.
    pub path: &'static str,
    /// Answered by the regions to each other only (`/internal`, the service token).
    pub internal: bool,
}

const fn public(method: &'static str, path: &'static str) -> Endpoint {
    Endpoint { method, path, internal: false }
}

const fn internal(method: &'static str, path: &'static str) -> Endpoint {
    Endpoint { method, path, internal: true }
}

pub const REGIONS: Endpoint = public("GET", "/v1/regions");
pub const SIGN_UP: Endpoint = public("POST", "/v1/users");
pub const FIND_USER: Endpoint = public("GET", "/v1/users");
pub const LOG_IN: Endpoint = public("POST", "/v1/sessions");
pub const USER: Endpoint = public("GET", "/v1/users/{uid}");
pub const UPDATE_USER: Endpoint = public("PATCH", "/v1/users/{uid}");
pub const LOG_OUT: Endpoint = public("DELETE", "/v1/users/{uid}/sessions");
pub const CHANGE_PASSWORD: Endpoint = public("PUT", "/v1/users/{uid}/password");
pub const CLOSE_ACCOUNT: Endpoint = public("DELETE", "/v1/users/{uid}");
pub const USER_GROUPS: Endpoint = public("GET", "/v1/users/{uid}/groups");
pub const ACTIVITY: Endpoint = public("GET", "/v1/users/{uid}/activity");
pub const CREATE_GROUP: Endpoint = public("POST", "/v1/groups");
pub const GROUP: Endpoint = public("GET", "/v1/groups/{gid}");
pub const UPDATE_GROUP: Endpoint = public("PATCH", "/v1/groups/{gid}");
pub const JOIN: Endpoint = public("POST", "/v1/groups/{gid}/members");
pub const CHANGE_MEMBER: Endpoint = public("PATCH", "/v1/groups/{gid}/members/{uid}");
pub const REMOVE_MEMBER: Endpoint = public("DELETE", "/v1/groups/{gid}/members/{uid}");
pub const INVITE: Endpoint = public("POST", "/v1/groups/{gid}/invitations");
pub const INVITATIONS: Endpoint = public("GET", "/v1/groups/{gid}/invitations");
pub const REVOKE_INVITATION: Endpoint = public("DELETE", "/v1/groups/{gid}/invitations/{iid}");
pub const TRANSACTIONS: Endpoint = public("GET", "/v1/groups/{gid}/transactions");
pub const REDEEM: Endpoint = public("POST", "/v1/groups/{gid}/redemptions");
pub const BILL: Endpoint = public("POST", "/v1/bills");
pub const QUOTE: Endpoint = public("POST", "/v1/bills/quote");
pub const RETURN: Endpoint = public("POST", "/v1/bills/{bill_id}/returns");
pub const RECEIPT: Endpoint = public("GET", "/v1/bills/{bill_id}");
pub const CATALOGUE: Endpoint = public("GET", "/v1/regions/{rid}/catalogue");
pub const ADD_ITEM: Endpoint = public("POST", "/v1/regions/{rid}/catalogue");
pub const CHANGE_ITEM: Endpoint = public("PATCH", "/v1/catalogue/{item_id}");
pub const REMOVE_ITEM: Endpoint = public("DELETE", "/v1/catalogue/{item_id}");
pub const DISCOUNTS: Endpoint = public("GET", "/v1/regions/{rid}/discounts");
pub const ADD_DISCOUNT: Endpoint = public("POST", "/v1/regions/{rid}/discounts");
pub const CHANGE_DISCOUNT: Endpoint = public("PATCH", "/v1/discounts/{discount_id}");
pub const REMOVE_DISCOUNT: Endpoint = public("DELETE", "/v1/discounts/{discount_id}");
pub const OFFERS: Endpoint = public("GET", "/v1/groups/{gid}/offers");
pub const ISSUE_OFFER: Endpoint = public("POST", "/v1/groups/{gid}/offers");

pub const EVENTS: Endpoint = internal("POST", "/internal/events");
pub const FULL_CATALOGUE: Endpoint = internal("GET", "/internal/catalogue");
pub const ALL_DISCOUNTS: Endpoint = internal("GET", "/internal/discounts");
pub const REVOCATIONS: Endpoint = internal("GET", "/internal/revocations");
pub const MEMBERSHIPS: Endpoint = internal("GET", "/internal/memberships");
pub const MEMBERSHIPS_AT: Endpoint = internal("POST", "/internal/memberships/at");
pub const MEMBER_GROUPS: Endpoint = internal("GET", "/internal/memberships/of");

pub const ALL: &[Endpoint] = &[
    REGIONS,
    SIGN_UP,
    FIND_USER,
    LOG_IN,
    USER,
    UPDATE_USER,
    LOG_OUT,
    CHANGE_PASSWORD,
    CLOSE_ACCOUNT,
    USER_GROUPS,
    ACTIVITY,
    CREATE_GROUP,
    GROUP,
    UPDATE_GROUP,
    JOIN,
    CHANGE_MEMBER,
    REMOVE_MEMBER,
    INVITE,
    INVITATIONS,
    REVOKE_INVITATION,
    TRANSACTIONS,
    REDEEM,
    BILL,
    QUOTE,
    RETURN,
    RECEIPT,
    CATALOGUE,
    ADD_ITEM,
    CHANGE_ITEM,
    REMOVE_ITEM,
    DISCOUNTS,
    ADD_DISCOUNT,
    CHANGE_DISCOUNT,
    REMOVE_DISCOUNT,
    OFFERS,
    ISSUE_OFFER,
    EVENTS,
    FULL_CATALOGUE,
    ALL_DISCOUNTS,
    REVOCATIONS,
    MEMBERSHIPS,
    MEMBERSHIPS_AT,
    MEMBER_GROUPS,
];

/// A path segment's characters that are sent as they are (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

impl Endpoint {
    /// The path with each `{…}` replaced, in order, by one of `args`, percent-encoded: an
    /// id typed by a person cannot reach another route (`../`, `?`, `/`).
    pub fn path(&self, args: &[&dyn Display]) -> String {
        let mut path = String::with_capacity(self.path.len() + 16);
        let mut args = args.iter();
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            if let Some(arg) = args.next() {
                path.extend(utf8_percent_encode(&arg.to_string(), SEGMENT));
            }
            rest = &rest[close..];
        }
        path.push_str(rest);
        path
    }

    /// [`Endpoint::path`] with a query string, left out when `query` has no fields.
    pub fn path_with_query(&self, args: &[&dyn Display], query: &impl serde::Serialize) -> String {
        let mut path = self.path(args);
        if let Ok(query) = serde_urlencoded::to_string(query)
            && !query.is_empty()
        {
            path.push('?');
            path.push_str(&query);
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fill_the_template_in_order_and_cannot_leave_their_segment() {
        assert_eq!(CHANGE_MEMBER.path(&[&"001-abc", &"002-xyz"]), "/v1/groups/001-abc/members/002-xyz");
        assert_eq!(GROUP.path(&[&"../users/x?y=1"]), "/v1/groups/..%2Fusers%2Fx%3Fy%3D1");
        assert_eq!(REGIONS.path(&[]), "/v1/regions");
    }

    #[test]
    fn empty_queries_are_left_out() {
        #[derive(serde::Serialize)]
        struct Q {
            #[serde(skip_serializing_if = "Option::is_none")]
            limit: Option<i64>,
        }
        assert_eq!(ACTIVITY.path_with_query(&[&"001-a"], &Q { limit: None }), "/v1/users/001-a/activity");
        assert_eq!(ACTIVITY.path_with_query(&[&"001-a"], &Q { limit: Some(5) }), "/v1/users/001-a/activity?limit=5");
    }

    #[test]
    fn every_endpoint_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for endpoint in ALL {
            assert!(seen.insert((endpoint.method, endpoint.path)), "{endpoint:?} twice");
        }
    }
}
