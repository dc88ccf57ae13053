//! The console's store pages (v1.2): staff add a discount, the till's review shows it
//! applied by the server, the bill applies it, an offer shows on the pool's page, a
//! return (sent twice) is taken once, and the customer reads the bill's receipt.

use reqwest::StatusCode;
use serde_json::json;

use super::Till;
use super::browser::{self, Browser};

#[tokio::test]
async fn staff_run_discounts_and_returns_and_customers_see_their_offers() {
    let Till { stack, console, ann, staff_token, item_id, browser: mut till } = Till::open("Console stew", 2_000).await;
    let item_id = item_id.as_str();

    let added = till
        .post(
            "/till/discounts",
            &[("name", "Fifth off"), ("percent_off", "20"), ("audience", "everyone"), ("every_n_bills", "")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let listed = till.get("/till/discounts").await.body;
    assert!(listed.contains("Fifth off") && listed.contains("20 % off") && listed.contains("active"), "{listed}");
    let refused = till
        .post(
            "/till/discounts",
            &[("name", "Both"), ("percent_off", "5"), ("amount_off_cents", "100"), ("audience", "everyone")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    // A discount with a validity window in the future is listed with it, not valid now.
    let window = [("valid_from", "2099-01-01T09:00"), ("valid_until", "2099-12-31T18:00")];
    let mut later = vec![("name", "Next century"), ("amount_off_cents", "100"), ("audience", "everyone")];
    later.extend(window);
    assert_eq!(till.post("/till/discounts", &later).await.status, StatusCode::SEE_OTHER);
    let listed = till.get("/till/discounts").await.body;
    let row = browser::between(&listed, "Next century", "</tr>");
    assert!(row.contains("from 01 Jan 2099 09:00 UTC until 31 Dec 2099 18:00 UTC"), "{row}");
    assert!(row.contains("not valid now"), "{row}");
    // Removed from its own row's form: gone from the list, and from the platform.
    let remove = browser::between(row, "action=\"", "\"").to_owned();
    let removed = till.post(&remove, &[]).await;
    assert_eq!((removed.status, removed.location()), (StatusCode::SEE_OTHER, Some("/till/discounts")), "{remove}");
    assert!(!till.get("/till/discounts").await.body.contains("Next century"));
    let kept = stack.sql("001", "SELECT count(*) FROM discounts WHERE name = 'Next century'");
    assert_eq!(kept.trim(), "0");
    let garbled = [("name", "Soon"), ("percent_off", "5"), ("audience", "everyone"), ("valid_until", "next week")];
    let refused = till.post("/till/discounts", &garbled).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("is not a date and time"), "{}", refused.body);

    // An offer of an offer-only discount for Ann's pool, issued through the API.
    let half = stack.discount(&staff_token, json!({"name": "Half", "percent_off": 50, "audience": "offer"})).await;
    let offers = format!("/v1/groups/{}/offers", ann.personal_group_id);
    stack.post_once(&stack.router, &offers, &staff_token, "console-offer", &json!({"discount_id": half})).await;

    // Found by the email Ann gives at the counter, in whatever case she types it.
    let found = till.get(&format!("/till?user_id={}", ann.email.to_uppercase().replace('@', "%40"))).await;
    let review = super::till_review(&mut till, &found, &ann, item_id, 1).await;
    assert!(
        review.body.contains("<td>Half</td>") && review.body.contains("Bill 10.00"),
        "the offer saves most: {}",
        review.body
    );
    let form = browser::hidden_fields(&review.body, &["user_id", "group_id", "lines", "key"]);
    let billed = till.post("/till/bill", &form).await;
    let bill_id = browser::between(&billed.body, "Bill <code>", "<").to_owned();
    assert!(billed.body.contains("of 10.00: 10 points"), "{}", billed.body);

    // The customer sees the offer used on the pool's page.
    let mut customer = Browser::logged_in(&console, &stack, &ann.email).await;
    let pool = customer.get(&format!("/groups/{}", ann.personal_group_id)).await.body;
    assert!(pool.contains("id=\"offers\"") && pool.contains("<td>used"), "{pool}");

    // The bill found by the id on its receipt: its item as billed, with what is left.
    let page = till.get(&format!("/till/returns?bill_id={bill_id}")).await.body;
    let row = browser::between(&page, "Console stew", "</tr>");
    assert!(row.contains("<td class=\"num\">1</td><td class=\"num\">10.00</td><td class=\"num\">0</td>"), "{row}");
    let key = browser::field(&page, "key").to_owned();
    let quantity = format!("qty_{item_id}");
    let fields = [("key", key.as_str()), ("bill_id", bill_id.as_str()), (quantity.as_str(), "1")];
    // Returned with the form, sent twice with its key: taken once.
    let first = till.post("/till/returns", &fields).await;
    assert!(first.body.contains("Refund 10.00; 10 points taken back"), "{}", first.body);
    let again = till.post("/till/returns", &fields).await;
    assert!(again.body.contains("it was taken once"), "{}", again.body);
    let page = till.get(&format!("/till/returns?bill_id={bill_id}")).await.body;
    assert!(
        page.contains("Everything on this bill has been returned") && page.contains("refund 10.00, 10 points"),
        "{page}"
    );
    let key = client::new_key();
    let rest = till.post("/till/returns", &[("key", key.as_str()), ("bill_id", bill_id.as_str()), ("all", "1")]).await;
    assert_eq!(rest.status, StatusCode::CONFLICT, "nothing left: {}", rest.body);
    let entries = stack
        .sql("002", &format!("SELECT count(*) FROM ledger_entries WHERE kind = 'return' AND bill_id = '{bill_id}'"));
    assert_eq!(entries.trim(), "1");
    let pool = customer.get(&format!("/groups/{}", ann.personal_group_id)).await.body;
    assert!(
        pool.contains(&format!("refund of 10.00 · <a href=\"/receipts/{bill_id}\">receipt</a>"))
            && pool.contains("<td>open"),
        "the offer is open again: {pool}"
    );
    // Ann reads the receipt from her pool's page; a stranger, or a crafted id, reads nothing.
    let receipt = customer.get(&format!("/receipts/{bill_id}")).await;
    assert!(
        receipt.body.contains("Console stew") && receipt.body.contains("Everything on this bill has been returned")
    );
    assert!(!receipt.body.contains("Return now"), "no return form outside the till: {}", receipt.body);
    let (eve, _) = stack.customer("002").await;
    let mut stranger = Browser::logged_in(&console, &stack, &eve.email).await;
    assert_eq!(stranger.get(&format!("/receipts/{bill_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.get("/receipts/002-x'%20OR%201=1").await.status, StatusCode::BAD_REQUEST);
    // With the store's region down the receipt still reads (the bill's region keeps it),
    // its item named by id.
    stack.kill_api("001", 0);
    let receipt = customer.get(&format!("/receipts/{bill_id}")).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.body);
    assert!(receipt.body.contains(item_id) && !receipt.body.contains("Console stew"), "{}", receipt.body);
}
