//! The console attacked: a stranger who knows a pool's id, crafted input, a region that
//! is down, and a flood of logins, each answered in words and never with another's data.

use reqwest::StatusCode;

use super::browser::{self, Browser, Console};
use crate::support::{Options, PASSWORD, Stack};

#[tokio::test]
async fn strangers_crafted_input_and_a_region_down_get_words_not_data() {
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let (ann, ann_token) = stack.customer("001").await;
    let (eve, eve_token) = stack.customer("002").await;
    let staff = stack.staff("001").await;
    let item = stack.add_item(&staff, "001", "Console crumble", 3_000, 10).await;
    let bill =
        serde_json::json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&staff, "console-stranger-1", &bill).await;
    let mut stranger = Browser::logged_in(&console, &stack, &eve.email).await;

    // Eve knows Ann's pool id: its page, its redemption review and a forged redemption all
    // answer as for a pool that does not exist, and nothing is taken.
    let words = |answer: &browser::Answer, id: &str| {
        // The message, less the request id (each request's own).
        let message = browser::between(&answer.body, "</h1><p>", "; request").replace(id, "ID");
        (answer.status, message)
    };
    let ann_pool = ann.personal_group_id.to_string();
    let theirs = stranger.get(&format!("/groups/{ann_pool}")).await;
    let missing = stranger.get("/groups/001-zzzzzz").await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);
    assert_eq!(words(&theirs, &ann_pool), words(&missing, "001-zzzzzz"));
    assert!(!theirs.body.contains("30 points") && !theirs.body.contains(ann.id.as_str()), "{}", theirs.body);
    let review = stranger.get(&format!("/groups/{ann_pool}/redeem?points=30&attempt=01KB0STRANGERATTEMPT000001")).await;
    assert_eq!(review.status, StatusCode::NOT_FOUND, "{}", review.body);
    let forged = stranger
        .post(&format!("/groups/{ann_pool}/redeem"), &[("points", "30"), ("key", "01KB0STRANGERATTEMPT000001")])
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND, "{}", forged.body);
    let pool = stack.api.with_token(&ann_token).group(&ann_pool).await.unwrap().value;
    assert_eq!(pool.points, 30, "nothing was redeemed");

    // Crafted input is refused in words, with the platform's request id where it answered.
    let cursor = stranger.get("/activity?cursor=not-a-cursor").await;
    assert_eq!(cursor.status, StatusCode::BAD_REQUEST, "{}", cursor.body);
    assert!(cursor.body.contains("Request id: <code>"), "{}", cursor.body);
    let eve_pool = eve.personal_group_id.to_string();
    for attempt in ["", "short", "01KB0<script>alert(1)</script>00000"] {
        let res = stranger.get(&format!("/groups/{eve_pool}/redeem?points=1&attempt={attempt}")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{attempt:?}: {}", res.body);
        assert!(!res.body.contains("<script>"), "echoed unescaped: {}", res.body);
    }
    let path = stranger.get("/groups/..%2F..%2Fadmin").await;
    assert_eq!(path.status, StatusCode::BAD_REQUEST, "{}", path.body);

    // A region that is down: Eve's pool in 003 is named as unavailable, the rest shows.
    let new = contract::dto::NewGroup { name: "Far away".into(), location: "Osaka".into(), region: "003".into() };
    let far = stack.api.with_token(&eve_token).create_group(&new).await.unwrap().value;
    // The membership reaches Eve's home region through the relay; then 003 goes down.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !stranger.get("/pools").await.body.contains("Far away") {
        assert!(std::time::Instant::now() < deadline, "the new pool never reached Eve's index");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    stack.kill_api("003", 0);
    let pools = stranger.get("/pools").await;
    assert_eq!(pools.status, StatusCode::OK, "{}", pools.body);
    assert!(
        pools.body.contains("region that is unavailable") && pools.body.contains(far.id.as_str()),
        "{}",
        pools.body
    );
    assert!(pools.body.contains(&format!("/groups/{eve_pool}")), "the pools that answered still show");
    let page = stranger.get(&format!("/groups/{}", far.id)).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{}", page.body);
    assert!(page.body.contains("could not reach a region"), "a banner, not a failure: {}", page.body);
}

/// The router limits logins per client address. Behind the console every visitor would
/// be the console's address, so one visitor flooding the login form would lock everyone
/// out of it. The console vouches for each visitor's own address with the router's proxy
/// token, and the flood stops at its sender; without the token (the attack's baseline)
/// it stops everyone.
#[tokio::test]
async fn a_login_flood_through_the_console_stops_at_its_sender() {
    let stack = Stack::start_with(Options { instances: 1, drill: false, real_limits: true, tls: false });
    let (ann, _) = stack.customer("001").await;
    for vouching in [true, false] {
        let console = Console::start_vouching(&stack, vouching).await;
        let mut mallory = Browser::from_address(&console, "127.0.0.2");
        mallory.get("/login").await;
        let mut refused = None;
        for n in 0..200 {
            let email = format!("guess-{n}-{}@console.test", ulid::Ulid::new().to_string().to_lowercase());
            let res = mallory.post("/login", &[("email", &email), ("password", "not the password")]).await;
            if res.status == StatusCode::TOO_MANY_REQUESTS {
                refused = Some(n);
                break;
            }
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "a wrong login is said in words: {}", res.body);
            assert!(res.body.contains("the email or the password is wrong"), "{}", res.body);
        }
        assert!(refused.is_some(), "the flood is limited (vouching: {vouching})");
        // A visitor who has not been here before (a fresh session, so its own CSRF token).
        let visit = || async {
            let mut visitor = Browser::from_address(&console, "127.0.0.3");
            visitor.get("/login").await;
            visitor.post("/login", &[("email", ann.email.as_str()), ("password", PASSWORD)]).await
        };
        let mut res = visit().await;
        // Without the token everyone shares one budget, which refills a login a second: on a
        // loaded machine one may refill after the flood's refusal, so the baseline spends it
        // as Mallory and tries again.
        for _ in 0..5 {
            if vouching || res.status == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            mallory.post("/login", &[("email", "guess@console.test"), ("password", "not the password")]).await;
            res = visit().await;
        }
        let expected = if vouching { StatusCode::SEE_OTHER } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(res.status, expected, "another visitor's login (vouching: {vouching}): {}", res.body);
    }
}
