//! Discounts and offers across regions, through the router: a discount of region 001
//! prices a bill of a pool of region 002 (which reads 001's discounts over `/internal`),
//! an offer issued there is used by one bill, and an offer a quote showed survives the
//! pool's region dying before the bill.

// Test-only code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Stack, expect_error, expect_json};

async fn discount(stack: &Stack, staff: &str, body: Value) -> String {
    let made: Value =
        expect_json(stack.post("/v1/regions/001/discounts", Some(staff), &body).await, StatusCode::CREATED).await;
    made["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_discount_prices_across_regions_and_an_offer_outlives_a_crash_after_its_quote() {
    let stack = Stack::start(1);
    let staff = stack.staff("001").await;
    let item = stack.add_item(&staff, "001", "Paella", 2_000, 10).await;
    let tenth =
        discount(&stack, &staff, json!({"name": "A tenth off", "percent_off": 10, "audience": "everyone"})).await;
    let half =
        discount(&stack, &staff, json!({"name": "Half, on offer", "percent_off": 50, "audience": "offer"})).await;
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
}
