//! Discounts and offers across regions, through the router: a discount of region 001
//! prices a bill of a pool of region 002 (which reads 001's discounts over `/internal`),
//! an offer issued there is used by one bill, and an offer a quote showed survives the
//! pool's region dying before the bill.

// Test-only code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Stack, expect_error, expect_json};

#[tokio::test]
async fn a_discount_prices_across_regions_and_an_offer_outlives_a_crash_after_its_quote() {
    let stack = Stack::start(1);
    let staff = stack.staff("001").await;
    let item = stack.add_item(&staff, "001", "Paella", 2_000, 10).await;
    // Region 002 reads 001's menu once and keeps it for the catalogue's TTL (what a
    // later request names and it lacks makes it read again: the test below).
    let tapas = stack.add_item(&staff, "001", "Tapas", 333, 10).await;
    let tenth = stack.discount(&staff, json!({"name": "A tenth off", "percent_off": 10, "audience": "everyone"})).await;
    let half = stack.discount(&staff, json!({"name": "Half, on offer", "percent_off": 50, "audience": "offer"})).await;
    let (ann, ann_token) = stack.customer("002").await;
    let pool = ann.personal_group_id.to_string();
    let offers_path = format!("/v1/groups/{pool}/offers");
    let offer: Value = expect_json(
        stack.post_once(&stack.router, &offers_path, &staff, "issue", &json!({"discount_id": half})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(offer["region"], "001", "an offer of region 001's discount, kept with the pool in 002");

    let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    let quote: Value = expect_json(stack.post("/v1/bills/quote", Some(&staff), &bill).await, StatusCode::OK).await;
    assert_eq!((&quote["discount_cents"], &quote["discounts"][0]["offer_id"]), (&json!(1_000), &offer["id"]));

    // The pool's region dies between the quote and the bill: the bill is refused, nothing
    // is used, and once the region is back the same bill (same key) uses the offer.
    stack.kill_api("002", 0);
    let refused = stack.post_once(&stack.router, "/v1/bills", &staff, "after-the-quote", &bill).await;
    expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    stack.up();
    stack
        .eventually("region 002 answers again, its offer still open", || async {
            let res = stack.get(&offers_path, Some(&ann_token)).await;
            res.status() == StatusCode::OK && res.json::<Value>().await.unwrap()["items"][0]["state"] == "open"
        })
        .await;
    let billed = stack.bill(&staff, "after-the-quote", &bill).await;
    assert_eq!((&billed["amount_cents"], &billed["points_awarded"]), (&json!(1_000), &json!(10)));
    assert_eq!(billed["discounts"][0]["offer_id"], offer["id"]);
    let offers: Value = expect_json(stack.get(&offers_path, Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!((&offers["items"][0]["state"], &offers["items"][0]["used_by_bill"]), (&json!("used"), &billed["id"]));

    // The next bill has no offer left: the discount everyone gets applies.
    let next = stack.bill(&staff, "next", &bill).await;
    assert_eq!((&next["discount_cents"], &next["discounts"][0]["discount_id"]), (&json!(200), &json!(tenth)));

    returns_take_back_what_the_bill_paid_across_regions(&stack, &staff, &ann, &tapas, &json!(tenth)).await;
}

/// A bill of a pool of region 002 made at region 001's store, returned through the router
/// in parts: each part takes back its share as billed, the parts add up to the bill to the
/// cent and to the point, and a part returned twice is refused.
async fn returns_take_back_what_the_bill_paid_across_regions(
    stack: &Stack,
    staff: &str,
    ann: &contract::dto::User,
    tapas: &Value,
    tenth: &Value,
) {
    let body = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": tapas["id"], "qty": 3}]});
    let bill = stack.bill(staff, "tapas", &body).await;
    // 9.99 less a tenth (0.99) is 9.00 paid, 9 points.
    assert_eq!((&bill["amount_cents"], &bill["points_awarded"]), (&json!(900), &json!(9)));
    assert_eq!(bill["discounts"][0]["discount_id"], *tenth);
    let balance_before = bill["balance_after"].as_i64().unwrap() - 9;
    // The discount goes away before the return: the bill's own figures are what is returned.
    let gone = format!("/v1/discounts/{}", tenth.as_str().unwrap());
    let removed = stack.request(client::Method::DELETE, &gone, Some(staff), None).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);

    let path = format!("/v1/bills/{}/returns", bill["id"].as_str().unwrap());
    let one = json!({"lines": [{"item_id": tapas["id"], "qty": 1}]});
    let first: Value =
        expect_json(stack.post_once(&stack.router, &path, staff, "one", &one).await, StatusCode::CREATED).await;
    assert_eq!((&first["amount_cents"], &first["points_reversed"]), (&json!(300), &json!(3)));
    let replay: Value =
        expect_json(stack.post_once(&stack.router, &path, staff, "one", &one).await, StatusCode::CREATED).await;
    assert_eq!(replay, first, "a retried return applies once");
    let rest: Value =
        expect_json(stack.post_once(&stack.router, &path, staff, "rest", &json!({})).await, StatusCode::CREATED).await;
    assert_eq!((&rest["amount_cents"], &rest["points_reversed"]), (&json!(600), &json!(6)));
    assert_eq!(rest["balance_after"].as_i64(), Some(balance_before), "every point of the bill taken back once");
    let again = stack.post_once(&stack.router, &path, staff, "again", &one).await;
    expect_error(again, StatusCode::CONFLICT, "already_returned").await;

    // Six returns of one unit each, sent at once for a bill of three: three are taken,
    // the others refused, and together they give back the bill to the cent and point.
    let bill = stack.bill(staff, "tapas-raced", &body).await;
    let path = format!("/v1/bills/{}/returns", bill["id"].as_str().unwrap());
    let answers = join_all((0..6).map(|i| {
        let (path, one) = (&path, &one);
        async move { stack.post_once(&stack.router, path, staff, &format!("race-{i}"), one).await }
    }))
    .await;
    let mut taken = Vec::new();
    for answer in answers {
        if answer.status() == StatusCode::CREATED {
            taken.push(answer.json::<Value>().await.unwrap());
        } else {
            expect_error(answer, StatusCode::CONFLICT, "already_returned").await;
        }
    }
    assert_eq!(taken.len(), 3, "{taken:?}");
    let sum = |field: &str| taken.iter().map(|r| r[field].as_i64().unwrap()).sum::<i64>();
    assert_eq!((sum("amount_cents"), sum("points_reversed")), (bill["amount_cents"].as_i64().unwrap(), 9));
}

/// The races of offers through the router: ten bills of one pool holding one offer use it
/// once, an offer issued twice with one key is one offer, and a discount that issues an
/// offer every third bill issues exactly three for nine bills sent at once.
#[tokio::test]
async fn offers_hold_through_the_router_under_concurrent_bills() {
    let stack = Stack::start(1);
    let staff = stack.staff("003").await;
    let item = stack.add_item(&staff, "003", "Ramen", 2_000, 10).await;
    let half =
        discount_in(&stack, &staff, "003", json!({"name": "Half", "percent_off": 50, "audience": "offer"})).await;
    let (ann, ann_token) = stack.customer("002").await;
    let offers_path = format!("/v1/groups/{}/offers", ann.personal_group_id);
    let issue = json!({"discount_id": half});
    let first: Value =
        expect_json(stack.post_once(&stack.router, &offers_path, &staff, "once", &issue).await, StatusCode::CREATED)
            .await;
    let again: Value =
        expect_json(stack.post_once(&stack.router, &offers_path, &staff, "once", &issue).await, StatusCode::CREATED)
            .await;
    assert_eq!(first["id"], again["id"], "the same key issues one offer");

    let bill = json!({"user_id": ann.id, "store_region": "003", "items": [{"item_id": item["id"], "qty": 1}]});
    let bills = join_all((0..10).map(|i| {
        let (stack, staff, bill) = (&stack, &staff, &bill);
        async move { stack.bill(staff, &format!("race-{i}"), bill).await }
    }))
    .await;
    let used: Vec<&Value> = bills.iter().filter(|b| b["discounts"][0]["offer_id"] == first["id"]).collect();
    assert_eq!(used.len(), 1, "exactly one bill used the offer: {bills:?}");
    let offers: Value = expect_json(stack.get(&offers_path, Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(offers["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(offers["items"][0]["used_by_bill"], used[0]["id"]);

    // Every third bill of a pool at region 001's store issues an offer of its own.
    let staff1 = stack.staff("001").await;
    let soup = stack.add_item(&staff1, "001", "Soup", 1_000, 10).await;
    let third = json!({"name": "Third", "amount_off_cents": 100, "audience": "offer", "every_n_bills": 3});
    discount_in(&stack, &staff1, "001", third).await;
    let (ben, ben_token) = stack.customer("003").await;
    let bill = json!({"user_id": ben.id, "store_region": "001", "items": [{"item_id": soup["id"], "qty": 1}]});
    join_all((0..9).map(|i| {
        let (stack, staff1, bill) = (&stack, &staff1, &bill);
        async move { stack.bill(staff1, &format!("third-{i}"), bill).await }
    }))
    .await;
    let path = format!("/v1/groups/{}/offers", ben.personal_group_id);
    let offers: Value = expect_json(stack.get(&path, Some(&ben_token)).await, StatusCode::OK).await;
    assert_eq!(offers["items"].as_array().map(Vec::len), Some(3), "one offer per three bills: {offers}");
}

async fn discount_in(stack: &Stack, staff: &str, region: &str, body: Value) -> String {
    let path = format!("/v1/regions/{region}/discounts");
    let made: Value = expect_json(stack.post(&path, Some(staff), &body).await, StatusCode::CREATED).await;
    made["id"].as_str().unwrap().to_owned()
}

/// What a store region adds is usable from every region at once: a region that cached
/// its menu fetches it again when a bill names an item (or an offer a discount) the
/// cached copy lacks. Before, both were `404` for up to the catalogue's TTL (30 s).
#[tokio::test]
async fn a_dish_or_discount_just_made_in_another_region_is_usable_at_once() {
    let stack = Stack::start(1);
    let staff = stack.staff("001").await;
    let soup = stack.add_item(&staff, "001", "Soup", 500, 10).await;
    let (ann, _) = stack.customer("002").await;
    let bill =
        |item: &Value| json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&staff, "cached", &bill(&soup)).await;
    let stew = stack.add_item(&staff, "001", "Stew", 900, 10).await;
    let billed = stack.bill(&staff, "new-dish", &bill(&stew)).await;
    assert_eq!(billed["amount_cents"], 900);
    let half = stack.discount(&staff, json!({"name": "Half", "percent_off": 50, "audience": "offer"})).await;
    let offers = format!("/v1/groups/{}/offers", ann.personal_group_id);
    let issued = stack.post_once(&stack.router, &offers, &staff, "new-discount", &json!({"discount_id": half})).await;
    expect_json::<Value>(issued, StatusCode::CREATED).await;
    // What does not exist is still not found.
    let nothing = json!({"id": "001-nodish"});
    let refused = stack.post_once(&stack.router, "/v1/bills", &staff, "no-dish", &bill(&nothing)).await;
    expect_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    // Forty at once naming it: each is refused, and 001 is asked for its menu once more
    // at most (a fetch is its catalogue and its discounts).
    let fetches = || stack.api_metric("002", 0, "remote_catalogue_fetches_total");
    let before = fetches().await;
    let burst = join_all((0..40).map(|i| {
        let (stack, staff, body) = (&stack, &staff, bill(&nothing));
        async move { stack.post_once(&stack.router, "/v1/bills", staff, &format!("no-dish-{i}"), &body).await }
    }))
    .await;
    for refused in burst {
        expect_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    }
    let after = fetches().await;
    assert!(after - before <= 1.0, "{} fetches of 001's menu for one burst", after - before);
}
