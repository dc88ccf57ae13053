//! The store's commands (v1.2): staff add discounts, quote and bill with them, issue an
//! offer, take a return; a customer lists their offers.

use super::{loyalty, loyalty_json};
use crate::support::{PASSWORD, STAFF_PASSWORD, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_quote_bill_and_take_returns_with_discounts_and_offers() {
    let stack = Stack::start(1);
    let url = stack.router.clone();
    let dir = stack.state.join("cli-store");
    let (customer, staff) = (dir.join("customer"), dir.join("staff"));
    let (ann, _) = stack.customer("001").await;
    loyalty_json(&url, &customer, &["login", "--email", &ann.email, "--password", PASSWORD]).await;
    stack.staff("001").await;
    loyalty_json(&url, &staff, &["login", "--email", "staff@001.loyalty.local", "--password", STAFF_PASSWORD]).await;
    let item = loyalty_json(
        &url,
        &staff,
        &["item", "add", "--region", "001", "--name", "Tortilla", "--price-cents", "1000", "--points", "5"],
    )
    .await;
    let line = format!("{}:2", item["id"].as_str().unwrap());
    let everyone = ["discount", "add", "--region", "001", "--name", "Tenth", "--percent", "10"];
    loyalty_json(&url, &staff, &everyone).await;
    let half = ["discount", "add", "--region", "001", "--name", "Half", "--percent", "50", "--offer"];
    let half = loyalty_json(&url, &staff, &half).await;
    let (code, listed, _) = loyalty(&url, &staff, &["discount", "list", "001"]).await;
    assert!(code == 0 && listed.contains("Tenth") && listed.contains("offers"), "{listed}");

    let uid = ann.id.to_string();
    let bill = ["--user", uid.as_str(), "--store", "001", "--item", line.as_str()];
    let (code, quoted, _) = loyalty(&url, &staff, &[&["quote"][..], &bill[..]].concat()).await;
    assert!(code == 0 && quoted.contains("20.00 gross, less 2.00 (Tenth): 18.00 to pay, 18 points"), "{quoted}");
    let group = ann.personal_group_id.to_string();
    let offer = loyalty_json(&url, &staff, &["offer", &group, "--discount", half["id"].as_str().unwrap()]).await;
    let billed = loyalty_json(&url, &staff, &[&["bill"][..], &bill[..]].concat()).await;
    assert_eq!((&billed["amount_cents"], &billed["discounts"][0]["offer_id"]), (&1_000.into(), &offer["id"]));
    let (code, offers, _) = loyalty(&url, &customer, &["offers", &group]).await;
    assert!(code == 0 && offers.contains("used"), "{offers}");

    let back = loyalty_json(&url, &staff, &["return", billed["id"].as_str().unwrap(), "--item", &line]).await;
    assert_eq!((&back["amount_cents"], &back["points_reversed"]), (&1_000.into(), &10.into()));
    // The customer reads the receipt: the line, both units back, and the return.
    let (code, receipt, _) = loyalty(&url, &customer, &["receipt", billed["id"].as_str().unwrap()]).await;
    assert!(
        code == 0
            && receipt.contains(&format!("2 x {}: 10.00 paid, 10 points, 2 returned", item["id"].as_str().unwrap())),
        "{receipt}"
    );
    assert!(receipt.contains(back["id"].as_str().unwrap()), "{receipt}");
    let (code, _, err) = loyalty(&url, &staff, &["return", billed["id"].as_str().unwrap()]).await;
    assert_eq!(code, 1, "nothing left to return: {err}");
    assert!(err.contains("already_returned"), "{err}");
    let (code, offers, _) = loyalty(&url, &customer, &["offers", &group]).await;
    assert!(code == 0 && offers.contains("open"), "the whole bill returned, its offer is open again: {offers}");
}
