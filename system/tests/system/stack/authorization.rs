//! The authorization matrix (`data/authorization.txt`): every route of the public API ×
//! every kind of caller, driven through the router of a real stack. A route of the
//! OpenAPI document without rows, or a row this file cannot build a request for, fails.

// Test-only code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

mod table;

use table::{KINDS, REVOKING, Row, revoking_request, table};

use crate::support::{PASSWORD, Stack, expect_json};
use contract::dto::User;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Person {
    user: User,
    token: String,
    email: String,
}

/// Group G of region 002 and the people around it (see the table's header).
struct World {
    owner: Person,
    member: Person,
    plain: Person,
    redeemer: Person,
    other: Person,
    /// The user of the user paths: a customer in no shared group.
    subject: Person,
    /// Added to G by others (`#for-another`); never a caller.
    bystander: Person,
    staff: Person,
    staff_other: Person,
    admin: Person,
    group: String,
    item: String,
    /// A bill of `redeemer`'s into G.
    bill: String,
    /// An `offer` discount of region 002.
    discount: String,
}

async fn person(stack: &Stack, region: &str) -> Person {
    let (user, token) = stack.customer(region).await;
    Person { email: user.email.clone(), user, token }
}

async fn staff(stack: &Stack, email: String, password: &str) -> Person {
    let session = stack.login_eventually(&email, password).await;
    let user: User =
        expect_json(stack.get(&format!("/v1/users/{}", session.user_id), Some(&session.token)).await, StatusCode::OK)
            .await;
    Person { user, token: session.token, email }
}

impl World {
    async fn build(stack: &Stack) -> World {
        let owner = person(stack, "001").await;
        let group = stack.new_group(&owner.token, "Matrix", "Lima", "002").await.id.to_string();
        let (member, plain, redeemer) =
            (person(stack, "003").await, person(stack, "001").await, person(stack, "002").await);
        for (who, can_redeem) in [(&member, false), (&plain, false), (&redeemer, true)] {
            let res = stack.invite_and_join(&owner.token, &group, who.user.id.as_str(), &who.token, can_redeem).await;
            expect_json::<Value>(res, StatusCode::CREATED).await;
        }
        let staff_002 = staff(stack, "staff@002.loyalty.local".into(), crate::support::STAFF_PASSWORD).await;
        let item = new_item(stack, &staff_002.token).await;
        // Points to redeem: a bill of 100.00 into G.
        let bill = json!({"user_id": redeemer.user.id, "group_id": group, "store_region": "002",
                          "items": [{"item_id": item, "qty": 10}]});
        let res =
            stack.post_once(&stack.router, "/v1/bills", &staff_002.token, &ulid::Ulid::new().to_string(), &bill).await;
        let bill: Value = expect_json(res, StatusCode::CREATED).await;
        let discount = new_discount(stack, &staff_002.token).await;
        World {
            owner,
            member,
            plain,
            redeemer,
            other: person(stack, "003").await,
            subject: person(stack, "001").await,
            bystander: person(stack, "002").await,
            staff: staff_002,
            staff_other: staff(stack, "staff@003.loyalty.local".into(), crate::support::STAFF_PASSWORD).await,
            admin: staff(stack, crate::support::ADMIN_EMAIL.into(), PASSWORD).await,
            discount,
            group,
            item,
            bill: bill["id"].as_str().unwrap().to_owned(),
        }
    }

    /// The caller of a kind; `self` is the user the route names (see the table).
    fn caller(&self, kind: &str, path: &str) -> Option<&Person> {
        Some(match kind {
            "anonymous" => return None,
            "self" if path.starts_with("/v1/users/{uid}") => &self.subject,
            "self" => &self.plain,
            "other_customer" => &self.other,
            "member" => &self.member,
            "redeemer" => &self.redeemer,
            "owner" => &self.owner,
            "staff" => &self.staff,
            "staff_other" => &self.staff_other,
            "admin" => &self.admin,
            _ => unreachable!("unknown kind {kind}"),
        })
    }
}

async fn new_item(stack: &Stack, staff_token: &str) -> String {
    let item = stack.add_item(staff_token, "002", &format!("Dish {}", ulid::Ulid::new()), 1_000, 5).await;
    item["id"].as_str().unwrap().to_owned()
}

async fn new_discount(stack: &Stack, staff_token: &str) -> String {
    let body = json!({"name": format!("Matrix {}", ulid::Ulid::new()), "percent_off": 5, "audience": "offer"});
    let res = stack.post("/v1/regions/002/discounts", Some(staff_token), &body).await;
    expect_json::<Value>(res, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned()
}

async fn invitation(stack: &Stack, world: &World) -> Value {
    let res =
        stack.post(&format!("/v1/groups/{}/invitations", world.group), Some(&world.owner.token), &json!({})).await;
    expect_json(res, StatusCode::CREATED).await
}

/// The request a row asks for, made by `caller`: path, body, and whether it carries an
/// Idempotency-Key.
async fn request(stack: &Stack, world: &World, row: &Row, caller: Option<&Person>) -> (String, Option<Value>, bool) {
    let g = &world.group;
    let caller_id = caller.map_or(world.other.user.id.to_string(), |c| c.user.id.to_string());
    let fresh_email = || format!("m-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
    match row.label.as_str() {
        "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/v1/regions" => (row.path.clone(), None, false),
        "/v1/users" if row.method == Method::GET => {
            (format!("/v1/users?email={}", world.subject.email.to_uppercase()), None, false)
        }
        "/v1/users#unknown" => (format!("/v1/users?email={}", fresh_email()), None, false),
        "/v1/users" => (
            row.path.clone(),
            Some(json!({"email": fresh_email(), "password": PASSWORD, "full_name": "New", "home_region": "001"})),
            false,
        ),
        "/v1/users#staff" => {
            let body = json!({"email": fresh_email(), "password": PASSWORD, "full_name": "New staff",
                              "home_region": "002", "role": "staff"});
            ("/v1/users".into(), Some(body), false)
        }
        "/v1/sessions" => (row.path.clone(), Some(json!({"email": world.subject.email, "password": PASSWORD})), false),
        "/v1/users/{uid}" => {
            let body = (row.method == Method::PATCH).then(|| json!({"full_name": "Sam"}));
            (format!("/v1/users/{}", world.subject.user.id), body, false)
        }
        "/v1/users/{uid}/groups" => (format!("/v1/users/{}/groups", world.subject.user.id), None, false),
        "/v1/users/{uid}/activity" => (format!("/v1/users/{}/activity", world.subject.user.id), None, false),
        "/v1/groups" => (row.path.clone(), Some(json!({"name": "New", "location": "Quito", "region": "002"})), false),
        "/v1/groups/{gid}" => {
            let body = (row.method == Method::PATCH).then(|| json!({"name": "Matrix"}));
            (format!("/v1/groups/{g}"), body, false)
        }
        "/v1/groups/{gid}#hand-over" => {
            (format!("/v1/groups/{g}"), Some(json!({"owner_id": world.redeemer.user.id})), false)
        }
        "/v1/groups/{gid}/members" => {
            let code = invitation(stack, world).await["code"].clone();
            (format!("/v1/groups/{g}/members"), Some(json!({"user_id": caller_id, "invitation": code})), false)
        }
        "/v1/groups/{gid}/members#no-invitation" => {
            (format!("/v1/groups/{g}/members"), Some(json!({"user_id": caller_id})), false)
        }
        "/v1/groups/{gid}/members#for-another" => {
            let code = invitation(stack, world).await["code"].clone();
            let body = json!({"user_id": world.bystander.user.id, "invitation": code});
            (format!("/v1/groups/{g}/members"), Some(body), false)
        }
        "/v1/groups/{gid}/members/{uid}" => {
            let body = (row.method == Method::PATCH).then(|| json!({"can_redeem": false}));
            (format!("/v1/groups/{g}/members/{}", world.plain.user.id), body, false)
        }
        "/v1/groups/{gid}/invitations" => {
            let body = (row.method == Method::POST).then(|| json!({}));
            (format!("/v1/groups/{g}/invitations"), body, false)
        }
        "/v1/groups/{gid}/invitations/{iid}" => {
            let id = invitation(stack, world).await["id"].as_str().unwrap().to_owned();
            (format!("/v1/groups/{g}/invitations/{id}"), None, false)
        }
        "/v1/groups/{gid}/transactions" => (format!("/v1/groups/{g}/transactions"), None, false),
        "/v1/groups/{gid}/redemptions" => (format!("/v1/groups/{g}/redemptions"), Some(json!({"points": 1})), true),
        "/v1/regions/{rid}/catalogue" => {
            let body = (row.method == Method::POST).then(|| {
                json!({"name": format!("Dish {}", ulid::Ulid::new()), "category": "mains", "price_cents": 500, "points_price": 5})
            });
            ("/v1/regions/002/catalogue".into(), body, false)
        }
        "/v1/catalogue/{item_id}" if row.method == Method::DELETE => {
            (format!("/v1/catalogue/{}", new_item(stack, &world.staff.token).await), None, false)
        }
        "/v1/catalogue/{item_id}" => {
            (format!("/v1/catalogue/{}", world.item), Some(json!({"price_cents": 1_000})), false)
        }
        "/v1/bills" => {
            let body = json!({"user_id": world.plain.user.id, "group_id": g, "store_region": "002",
                              "items": [{"item_id": world.item, "qty": 1}]});
            (row.path.clone(), Some(body), true)
        }
        "/v1/bills#self" => {
            let body =
                json!({"user_id": caller_id, "store_region": "002", "items": [{"item_id": world.item, "qty": 1}]});
            ("/v1/bills".into(), Some(body), true)
        }
        "/v1/bills/quote" => {
            let body = json!({"user_id": world.plain.user.id, "group_id": g, "store_region": "002",
                              "items": [{"item_id": world.item, "qty": 1}]});
            (row.path.clone(), Some(body), false)
        }
        "/v1/bills/{bill_id}" => (format!("/v1/bills/{}", world.bill), None, false),
        "/v1/bills/{bill_id}/returns" => {
            // A bill of its own for each cell: a return takes back all of it.
            let bill = json!({"user_id": world.plain.user.id, "group_id": g, "store_region": "002",
                              "items": [{"item_id": world.item, "qty": 1}]});
            let key = ulid::Ulid::new().to_string();
            let res = stack.post_once(&stack.router, "/v1/bills", &world.staff.token, &key, &bill).await;
            let billed: Value = expect_json(res, StatusCode::CREATED).await;
            (format!("/v1/bills/{}/returns", billed["id"].as_str().unwrap()), Some(json!({})), true)
        }
        "/v1/regions/{rid}/discounts" => {
            let body = (row.method == Method::POST).then(
                || json!({"name": format!("Matrix {}", ulid::Ulid::new()), "percent_off": 5, "audience": "offer"}),
            );
            ("/v1/regions/002/discounts".into(), body, false)
        }
        "/v1/discounts/{discount_id}" if row.method == Method::DELETE => {
            (format!("/v1/discounts/{}", new_discount(stack, &world.staff.token).await), None, false)
        }
        "/v1/discounts/{discount_id}" => {
            (format!("/v1/discounts/{}", world.discount), Some(json!({"min_spend_cents": 100})), false)
        }
        "/v1/groups/{gid}/offers" => {
            let post = row.method == Method::POST;
            (format!("/v1/groups/{g}/offers"), post.then(|| json!({"discount_id": world.discount})), post)
        }
        other => panic!("the table has a row this test cannot build a request for: {} {other}", row.method),
    }
}

/// Puts G back as it was after a request that changed it.
async fn restore(stack: &Stack, world: &World, row: &Row, caller: Option<&Person>) {
    let admin = Some(world.admin.token.as_str());
    let g = &world.group;
    let remove = |user: String| async move {
        let res = stack.request(Method::DELETE, &format!("/v1/groups/{g}/members/{user}"), admin, None).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "restoring G: {}", res.text().await.unwrap());
    };
    match row.label.as_str() {
        "/v1/groups/{gid}#hand-over" => {
            let back = json!({"owner_id": world.owner.user.id});
            expect_json::<Value>(
                stack.request(Method::PATCH, &format!("/v1/groups/{g}"), admin, Some(&back)).await,
                StatusCode::OK,
            )
            .await;
        }
        "/v1/groups/{gid}/members" | "/v1/groups/{gid}/members#no-invitation" => {
            remove(caller.map(|c| c.user.id.to_string()).unwrap_or_default()).await;
        }
        "/v1/groups/{gid}/members#for-another" => remove(world.bystander.user.id.to_string()).await,
        "/v1/groups/{gid}/members/{uid}" if row.method == Method::DELETE => {
            let back = json!({"user_id": world.plain.user.id});
            let res = stack.post(&format!("/v1/groups/{g}/members"), admin, &back).await;
            expect_json::<Value>(res, StatusCode::CREATED).await;
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_table_says() {
    let rows = table();
    let stack = Stack::start(1);

    // The table covers the API the platform describes, and nothing else.
    let doc: Value = expect_json(stack.get("/openapi.json", None).await, StatusCode::OK).await;
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let tabled: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_string(), r.path.clone())).collect();
    let missing: Vec<_> = documented.difference(&tabled).collect();
    assert!(missing.is_empty(), "routes without rows in data/authorization.txt: {missing:?}");
    // The document itself, and /metrics, which the router serves on its admin address only
    // (its row checks that the public port does not).
    let undocumented: Vec<_> = tabled
        .difference(&documented)
        .filter(|(m, p)| !(m == "GET" && (p == "/openapi.json" || p == "/metrics")))
        .collect();
    assert!(undocumented.is_empty(), "rows for routes the OpenAPI document does not have: {undocumented:?}");

    let world = World::build(&stack).await;
    let mut wrong: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        for (kind, &expected) in KINDS.iter().zip(&row.expected) {
            // Rows that revoke the named user's tokens name a new user each time.
            let victim = match REVOKING.contains(&row.label.as_str()) {
                true => Some(person(&stack, "001").await),
                false => None,
            };
            let caller = match (&victim, *kind) {
                (Some(victim), "self") => Some(victim),
                _ => world.caller(kind, &row.path),
            };
            let (path, body, keyed) = match &victim {
                Some(victim) => revoking_request(row, victim),
                None => request(&stack, &world, row, caller).await,
            };
            let mut req = stack.http.raw(row.method.clone(), &format!("{}{path}", stack.router));
            if let Some(caller) = caller {
                req = req.bearer_auth(&caller.token);
            }
            if keyed {
                req = req.header("Idempotency-Key", ulid::Ulid::new().to_string());
            }
            if let Some(body) = &body {
                req = req.json(body);
            }
            let res = req.send().await.unwrap();
            let got = res.status().as_u16();
            let text = res.text().await.unwrap();
            if got != expected {
                wrong.insert(
                    format!("{} {} as {kind}", row.method, row.label),
                    format!("{got} (table: {expected}): {text}"),
                );
            }
            if got < 300 {
                restore(&stack, &world, row, caller).await;
            }
        }
    }
    assert!(wrong.is_empty(), "{} cells differ from the table:\n{:#?}", wrong.len(), wrong);
}
