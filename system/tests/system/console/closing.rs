//! Closing an account from the profile page: refused with a wrong password, and with the
//! right one the account is closed, the session ends and the email opens nothing.

use reqwest::StatusCode;
use serde_json::json;

use super::browser::{Browser, Console};
use crate::support::{PASSWORD, Stack};

#[tokio::test]
async fn a_customer_closes_their_account_from_the_profile_page() {
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let (ann, _) = stack.customer("002").await;
    let mut browser = Browser::logged_in(&console, &stack, &ann.email).await;
    assert!(browser.get("/profile").await.body.contains("action=\"/close-account\""));

    let wrong = browser.post("/close-account", &[("current_password", "not it")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    assert!(wrong.body.contains("the current password is wrong"), "{}", wrong.body);
    let closed = browser.post("/close-account", &[("current_password", PASSWORD)]).await;
    assert_eq!((closed.status, closed.location()), (StatusCode::SEE_OTHER, Some("/login?closed=true")));
    assert!(browser.get("/login?closed=true").await.body.contains("Your account is closed"));
    let after = browser.get("/pools").await;
    assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, Some("/login")), "the session ended");
    let login = json!({"email": ann.email, "password": PASSWORD});
    assert_eq!(stack.post("/v1/sessions", None, &login).await.status(), StatusCode::UNAUTHORIZED);
}
