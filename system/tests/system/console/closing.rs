//! Closing an account from the profile page: refused with a wrong password, and while its
//! personal pool holds points the box that gives them up is not ticked; then the account
//! is closed, its points written off, the session ends and the email opens nothing.

use reqwest::StatusCode;
use serde_json::json;

use super::browser::{Browser, Console};
use crate::support::{PASSWORD, Stack};

#[tokio::test]
async fn a_customer_closes_their_account_from_the_profile_page() {
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let (ann, _) = stack.customer("002").await;
    let staff = stack.staff("002").await;
    let item = stack.add_item(&staff, "002", "Farewell stew", 5_000, 10).await;
    let bill = json!({"user_id": ann.id, "store_region": "002", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&staff, &format!("farewell-{}", ann.id), &bill).await;
    let mut browser = Browser::logged_in(&console, &stack, &ann.email).await;
    let profile = browser.get("/profile").await.body;
    assert!(profile.contains("action=\"/close-account\""));
    assert!(profile.contains(r#"name="forfeit_points" type="checkbox" value="50" required"#), "{profile}");

    let wrong = browser.post("/close-account", &[("current_password", "not it"), ("forfeit_points", "50")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    assert!(wrong.body.contains("the current password is wrong"), "{}", wrong.body);
    // The box left unticked (a browser would not send the form; a script may).
    let unticked = browser.post("/close-account", &[("current_password", PASSWORD)]).await;
    assert_eq!(unticked.status, StatusCode::CONFLICT, "{}", unticked.body);
    assert!(unticked.body.contains("holds 50 points"), "{}", unticked.body);
    let closed = browser.post("/close-account", &[("current_password", PASSWORD), ("forfeit_points", "50")]).await;
    assert_eq!((closed.status, closed.location()), (StatusCode::SEE_OTHER, Some("/login?closed=true")));
    assert!(browser.get("/login?closed=true").await.body.contains("Your account is closed"));
    let after = browser.get("/pools").await;
    assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, Some("/login")), "the session ended");
    let login = json!({"email": ann.email, "password": PASSWORD});
    assert_eq!(stack.post("/v1/sessions", None, &login).await.status(), StatusCode::UNAUTHORIZED);
    // The 50 points were written off as the account closed.
    let pool = ann.personal_group_id.as_str();
    let last =
        format!("SELECT kind, points FROM ledger_entries WHERE group_id = '{pool}' ORDER BY created_on DESC LIMIT 1");
    assert_eq!(stack.sql("002", &last).trim(), "forfeit|-50");
    assert_eq!(stack.sql("002", &format!("SELECT points FROM groups WHERE id = '{pool}'")).trim(), "0");
}
