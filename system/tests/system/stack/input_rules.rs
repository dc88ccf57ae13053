//! The limits the document states (`contract::text`, `contract::numbers`), held through
//! the router: what the document lets a client send is taken, and what it refuses a
//! region refuses too, whichever region the request reaches.

use contract::dto::User;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, Stack, expect_error, expect_json, regions};

#[tokio::test]
async fn what_the_document_allows_is_taken_and_what_it_refuses_is_refused() {
    let stack = Stack::start(1);
    // A user's location may be blank and a phone empty: both mean none.
    let email = format!("rules-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
    let blank = json!({"email": email, "password": PASSWORD, "full_name": "Rules", "home_region": "002",
                       "location": "   ", "phone": ""});
    let user: User = expect_json(stack.post("/v1/users", None, &blank).await, StatusCode::CREATED).await;
    assert_eq!((user.location, user.phone), (None, None));
    // A password is taken as it is, up to 128 characters.
    let long = json!({"email": format!("long-{email}"), "password": "p".repeat(129), "full_name": "Long",
                      "home_region": "001"});
    expect_error(stack.post("/v1/users", None, &long).await, StatusCode::BAD_REQUEST, "invalid_input").await;

    // A C1 control character (U+0085, NEL) is a control character like U+0000: refused by
    // every region, as the document's pattern says.
    let (customer, token) = stack.customer("001").await;
    for region in regions() {
        for name in ["a\u{85}b", "a\u{0}b"] {
            let body = json!({"name": name, "location": "", "region": region});
            let res = stack.post("/v1/groups", Some(&token), &body).await;
            expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
        }
    }

    // Page size 1..=200: at the router's merged activity and at a region's history alike.
    let activity = format!("/v1/users/{}/activity", customer.id);
    let history = format!("/v1/groups/{}/transactions", customer.personal_group_id);
    for path in [&activity, &history] {
        for limit in [0, 201] {
            let res = stack.get(&format!("{path}?limit={limit}"), Some(&token)).await;
            expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
        }
        let res = stack.get(&format!("{path}?limit=200"), Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }

    // A discount's change holds every_n_bills to 1..=1000, as its creation does.
    let staff = stack.staff("001").await;
    let discount = stack
        .discount(
            &staff,
            json!({"name": "Every tenth", "percent_off": 10, "audience": "offer",
                                                  "every_n_bills": 10}),
        )
        .await;
    let path = format!("/v1/discounts/{discount}");
    let patch = |n: i64| json!({"every_n_bills": n});
    let res = stack.request(Method::PATCH, &path, Some(&staff), Some(&patch(1_001))).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
    let res = stack.request(Method::PATCH, &path, Some(&staff), Some(&patch(1_000))).await;
    assert_eq!(res.status(), StatusCode::OK);
}
