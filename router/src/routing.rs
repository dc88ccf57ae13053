//! Step one of the pipeline: what a request is, and so where it goes. Pure: a method and
//! a path in, a `Route` out; malformed ids are answered here without a hop.

use actix_web::http::Method;
use contract::{DiscountId, EntryId, GroupId, IdError, ItemId, RegionId, Regional, UserId};

use crate::error::RouterError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answered by the router itself from its health view.
    Regions,
    /// Sign-up: the body names the home region; the email goes through the directory.
    SignUp,
    /// Login: the email's directory entry names the home region.
    LogIn,
    /// Staff finding a user by email (`?email=`): routed as a login.
    FindUser,
    /// Routed by a field of the body: `group_id`, else `user_id`.
    Bill,
    /// A bill's quote: routed as the bill it quotes.
    Quote,
    /// Routed by the body's `region`.
    NewGroup,
    /// Joining a group with an invitation code: the group's region.
    Join(RegionId),
    /// Every region of the user's groups, merged.
    UserGroups(UserId),
    UserActivity(UserId),
    /// Everything else that names an entity: that entity's region.
    Region(RegionId),
}

fn id_error(what: &str, value: &str, err: IdError) -> RouterError {
    RouterError::new(contract::ErrorCode::InvalidId, format!("{what} {value:?} is not a valid id: {err}"))
}

fn region_of<T: Regional>(what: &str, value: &str) -> Result<RegionId, RouterError> {
    value.parse::<T>().map(|id| id.region()).map_err(|e| id_error(what, value, e))
}

/// Routes a public request. `/internal` and unknown paths are `not_found`: they are
/// never forwarded.
pub fn route(method: &Method, path: &str) -> Result<Route, RouterError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let m = method.as_str();
    match (m, segments.as_slice()) {
        ("GET", ["v1", "regions"]) => Ok(Route::Regions),
        ("POST", ["v1", "users"]) => Ok(Route::SignUp),
        ("GET", ["v1", "users"]) => Ok(Route::FindUser),
        ("POST", ["v1", "sessions"]) => Ok(Route::LogIn),
        ("POST", ["v1", "bills"]) => Ok(Route::Bill),
        ("POST", ["v1", "bills", "quote"]) => Ok(Route::Quote),
        ("POST", ["v1", "bills", bill, "returns"]) => Ok(Route::Region(region_of::<EntryId>("bill", bill)?)),
        ("GET", ["v1", "bills", bill]) if *bill != "quote" => Ok(Route::Region(region_of::<EntryId>("bill", bill)?)),
        ("POST", ["v1", "groups"]) => Ok(Route::NewGroup),
        ("GET", ["v1", "users", uid, "groups"]) => {
            uid.parse().map(Route::UserGroups).map_err(|e| id_error("user", uid, e))
        }
        ("GET", ["v1", "users", uid, "activity"]) => {
            uid.parse().map(Route::UserActivity).map_err(|e| id_error("user", uid, e))
        }
        ("POST", ["v1", "groups", gid, "members"]) => Ok(Route::Join(region_of::<GroupId>("group", gid)?)),
        (_, ["v1", "users", uid, ..]) => Ok(Route::Region(region_of::<UserId>("user", uid)?)),
        (_, ["v1", "groups", gid, ..]) => Ok(Route::Region(region_of::<GroupId>("group", gid)?)),
        (_, ["v1", "catalogue", item, ..]) => Ok(Route::Region(region_of::<ItemId>("catalogue item", item)?)),
        (_, ["v1", "discounts", id, ..]) => Ok(Route::Region(region_of::<DiscountId>("discount", id)?)),
        (_, ["v1", "regions", rid, "catalogue" | "discounts"]) => rid
            .parse::<RegionId>()
            .map(Route::Region)
            .map_err(|e| RouterError::invalid_input(format!("region {rid:?}: {e}"))),
        // The router's own paths, asked with a method they do not answer.
        (_, ["v1", "regions"] | ["healthz"] | ["readyz"] | ["openapi.json"]) => {
            Err(RouterError::method_not_allowed("GET"))
        }
        (_, ["v1", "users"]) => Err(RouterError::method_not_allowed("GET, POST")),
        (_, ["v1", "sessions" | "bills"] | ["v1", "bills", "quote"] | ["v1", "bills", _, "returns"]) => {
            Err(RouterError::method_not_allowed("POST"))
        }
        (_, ["v1", "bills", _]) => Err(RouterError::method_not_allowed("GET")),
        (_, ["v1", "groups"]) => Err(RouterError::method_not_allowed("POST")),
        _ => Err(RouterError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, path: &str) -> Result<Route, contract::ErrorCode> {
        route(&method, path).map_err(|e| e.code)
    }

    fn region(code: &str) -> RegionId {
        code.parse().unwrap()
    }

    #[test]
    fn entities_route_by_their_id_prefix() {
        assert_eq!(r(Method::GET, "/v1/users/002-abc123"), Ok(Route::Region(region("002"))));
        assert_eq!(r(Method::PATCH, "/v1/users/003-abc123"), Ok(Route::Region(region("003"))));
        assert_eq!(r(Method::GET, "/v1/groups/001-abc123/transactions"), Ok(Route::Region(region("001"))));
        assert_eq!(r(Method::POST, "/v1/groups/002-abc123/redemptions"), Ok(Route::Region(region("002"))));
        assert_eq!(r(Method::DELETE, "/v1/groups/002-abc123/members/001-zzzzzz"), Ok(Route::Region(region("002"))));
        assert_eq!(r(Method::PATCH, "/v1/catalogue/003-abc123"), Ok(Route::Region(region("003"))));
        assert_eq!(r(Method::GET, "/v1/regions/002/catalogue"), Ok(Route::Region(region("002"))));
    }

    #[test]
    fn fan_outs_and_body_routed_requests() {
        let uid: UserId = "001-abc123".parse().unwrap();
        assert_eq!(r(Method::GET, "/v1/users/001-abc123/groups"), Ok(Route::UserGroups(uid.clone())));
        assert_eq!(r(Method::GET, "/v1/users/001-abc123/activity"), Ok(Route::UserActivity(uid)));
        assert_eq!(r(Method::POST, "/v1/users"), Ok(Route::SignUp));
        assert_eq!(r(Method::GET, "/v1/users"), Ok(Route::FindUser));
        assert_eq!(r(Method::DELETE, "/v1/users"), Err(contract::ErrorCode::MethodNotAllowed));
        assert_eq!(r(Method::POST, "/v1/sessions"), Ok(Route::LogIn));
        assert_eq!(r(Method::POST, "/v1/bills"), Ok(Route::Bill));
        assert_eq!(r(Method::POST, "/v1/bills/quote"), Ok(Route::Quote));
        assert_eq!(r(Method::GET, "/v1/regions/002/discounts"), Ok(Route::Region("002".parse().unwrap())));
        assert_eq!(r(Method::PATCH, "/v1/discounts/003-abc123"), Ok(Route::Region("003".parse().unwrap())));
        let bill = "/v1/bills/002-01JD3Q6M2V8X4Y5Z6A7B8C9D0E/returns";
        assert_eq!(r(Method::POST, bill), Ok(Route::Region("002".parse().unwrap())));
        assert_eq!(r(Method::POST, "/v1/bills/002-nope/returns"), Err(contract::ErrorCode::InvalidId));
        assert_eq!(r(Method::GET, "/v1/bills/quote"), Err(contract::ErrorCode::MethodNotAllowed));
        assert_eq!(r(Method::GET, &bill.replace("/returns", "")), Ok(Route::Region("002".parse().unwrap())));
        assert_eq!(r(Method::GET, "/v1/bills/nope"), Err(contract::ErrorCode::InvalidId));
        assert_eq!(
            r(Method::DELETE, "/v1/bills/002-01JD3Q6M2V8X4Y5Z6A7B8C9D0E"),
            Err(contract::ErrorCode::MethodNotAllowed)
        );
        assert_eq!(r(Method::POST, "/v1/groups"), Ok(Route::NewGroup));
        assert_eq!(r(Method::GET, "/v1/regions"), Ok(Route::Regions));
    }

    #[test]
    fn bad_ids_and_internal_paths_never_leave_the_router() {
        use contract::ErrorCode::*;
        assert_eq!(r(Method::GET, "/v1/users/nonsense"), Err(InvalidId));
        assert_eq!(r(Method::GET, "/v1/groups/01-abc123"), Err(InvalidId));
        assert_eq!(r(Method::GET, "/v1/users/xyz/groups"), Err(InvalidId));
        assert_eq!(r(Method::GET, "/v1/regions/1/catalogue"), Err(InvalidInput));
        assert_eq!(r(Method::POST, "/internal/events"), Err(NotFound));
        assert_eq!(r(Method::GET, "/internal/directory"), Err(NotFound));
        assert_eq!(r(Method::GET, "/v1/nothing"), Err(NotFound));
        assert_eq!(r(Method::GET, "/v1/nothing/else"), Err(NotFound));
    }

    #[test]
    fn the_routers_own_paths_name_the_methods_they_answer() {
        let refused = route(&Method::GET, "/v1/bills").unwrap_err();
        assert_eq!((refused.code, refused.allow), (contract::ErrorCode::MethodNotAllowed, Some("POST")));
        let refused = route(&Method::TRACE, "/healthz").unwrap_err();
        assert_eq!((refused.code, refused.allow), (contract::ErrorCode::MethodNotAllowed, Some("GET")));
        assert_eq!(r(Method::DELETE, "/v1/regions"), Err(contract::ErrorCode::MethodNotAllowed));
    }
}
