//! The web console against a stack: every page and form through real HTTP, as a browser
//! without scripts would use them (the console works without htmx), CSRF refusals, roles,
//! the security headers and the session cookie's attributes.

mod attacks;
mod browser;
mod chromium;
mod closing;
mod owners;
mod store;

use reqwest::StatusCode;
use serde_json::Value;

use contract::dto::User;

use crate::support::Stack;
use browser::{Answer, Browser, Console};

/// What a till test starts from: a console, Ann (a customer of region 002), a dish on
/// region 001's menu, and 001's staff logged in to the till. The stack goes first when
/// this is dropped, and takes the console with it.
struct Till {
    stack: Stack,
    console: Console,
    ann: User,
    staff_token: String,
    item_id: String,
    browser: Browser,
}

impl Till {
    #[allow(clippy::unwrap_used)] // test helper: a failed step stops the test
    async fn open(dish: &str, price_cents: i64) -> Till {
        let stack = Stack::start(1);
        let console = Console::start(&stack).await;
        let (ann, _) = stack.customer("002").await;
        let staff_token = stack.staff("001").await;
        let item = stack.add_item(&staff_token, "001", dish, price_cents, 10).await;
        let item_id = item["id"].as_str().unwrap().to_owned();
        let browser = Browser::logged_in(&console, &stack, "staff@001.loyalty.local").await;
        Till { stack, console, ann, staff_token, item_id, browser }
    }
}

/// What an owner's test starts from: Olga (a customer of region 001) with a new pool of
/// hers in 001, and Ben (of 003) who is not in it yet, each logged in to the console.
struct Club {
    stack: Stack,
    olga: User,
    olga_token: String,
    ben: User,
    owner: Browser,
    member: Browser,
    gid: String,
}

impl Club {
    async fn open(name: &str) -> Club {
        let stack = Stack::start(1);
        let console = Console::start(&stack).await;
        let (olga, olga_token) = stack.customer("001").await;
        let (ben, _) = stack.customer("003").await;
        let mut owner = Browser::logged_in(&console, &stack, &olga.email).await;
        let member = Browser::logged_in(&console, &stack, &ben.email).await;
        let made = owner.post("/groups", &[("name", name), ("location", "Lyon"), ("region", "001")]).await;
        let gid = made.location().and_then(|l| l.strip_prefix("/groups/")).unwrap_or_else(|| panic!("{}", made.body));
        let gid = gid.to_owned();
        Club { stack, olga, olga_token, ben, owner, member, gid }
    }
}

#[tokio::test]
async fn a_customer_signs_up_sees_pools_and_the_chart_and_logs_out() {
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let mut ann = Browser::new(&console);

    let signup = ann.get("/signup").await;
    assert_eq!(signup.status, StatusCode::OK);
    assert!(signup.body.contains("001 · "), "the regions are offered: {}", signup.body);
    let email = format!("ann-{}@console.test", ulid::Ulid::new().to_string().to_lowercase());
    let created = ann
        .post(
            "/signup",
            &[("full_name", "Ann Console"), ("email", &email), ("password", "correct horse"), ("home_region", "002")],
        )
        .await;
    assert_eq!((created.status, created.location()), (StatusCode::SEE_OTHER, Some("/pools")));

    let pools = ann.get("/pools").await;
    assert_eq!(pools.status, StatusCode::OK, "{}", pools.body);
    assert!(pools.body.contains("Ann Console (personal)") && pools.body.contains("0 points"), "{}", pools.body);
    let profile = ann.get("/profile").await.body;
    let user_id = browser::between(&profile, "<th>Id</th><td><code>", "<").to_owned();
    let personal = browser::between(&profile, "href=\"/groups/", "\"").to_owned();
    assert!(user_id.starts_with("002-") && personal.starts_with("002-"), "{profile}");
    let saved = ann
        .post("/profile", &[("full_name", "Ann Edited"), ("phone", "+33 1 23"), ("location", ""), ("age", "41")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let profile = ann.get("/profile").await.body;
    assert!(profile.contains("value=\"Ann Edited\"") && profile.contains("value=\"+33 1 23\""), "{profile}");
    let user = stack.sql("002", &format!("SELECT full_name, phone, location, age FROM users WHERE id = '{user_id}'"));
    assert_eq!(user.trim(), "Ann Edited|+33 1 23||41", "the platform holds the edit");
    let refused = ann.post("/profile", &[("full_name", "Ann"), ("phone", ""), ("location", ""), ("age", "old")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    // Two bills by staff of region 001 give the pool a history to draw.
    let staff = stack.staff("001").await;
    let item = stack.add_item(&staff, "001", "Console soup", 2_000, 10).await;
    for key in ["console-1", "console-2"] {
        let bill = serde_json::json!({"user_id": user_id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
        stack.bill(&staff, key, &bill).await;
    }
    let group = ann.get(&format!("/groups/{personal}")).await;
    assert_eq!(group.status, StatusCode::OK);
    assert!(group.body.contains("40 points"), "{}", group.body);
    assert!(group.body.contains("<svg") && group.body.contains("<polyline"), "the chart is drawn: {}", group.body);
    let activity = ann.get("/activity").await.body;
    assert_eq!(activity.matches("bill of 20.00").count(), 2, "{activity}");
    assert!(ann.get("/menus").await.body.contains("Console soup"));

    // A new password: refused without the right current one; with it, this session goes
    // on and the old password opens nothing.
    let wrong = ann.post("/password", &[("current_password", "not it"), ("new_password", "a new passphrase")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    assert!(wrong.body.contains("the current password is wrong"), "{}", wrong.body);
    let changed =
        ann.post("/password", &[("current_password", "correct horse"), ("new_password", "a new passphrase")]).await;
    assert_eq!((changed.status, changed.location()), (StatusCode::SEE_OTHER, Some("/profile")), "{}", changed.body);
    assert_eq!(ann.get("/pools").await.status, StatusCode::OK, "the session goes on with a new token");
    let old = serde_json::json!({"email": email, "password": "correct horse"});
    assert_eq!(stack.post("/v1/sessions", None, &old).await.status(), StatusCode::UNAUTHORIZED);

    let out = ann.post("/logout", &[]).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, Some("/login")));
    let after = ann.get("/pools").await;
    assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, Some("/login")));
}

#[tokio::test]
async fn activity_pages_through_the_entries_of_pools_in_two_regions() {
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let (ann, token) = stack.customer("001").await;
    let mut browser = Browser::logged_in(&console, &stack, &ann.email).await;
    let made = browser.post("/groups", &[("name", "Far pool"), ("location", "Quito"), ("region", "002")]).await;
    let far = made.location().and_then(|l| l.strip_prefix("/groups/")).unwrap_or_else(|| panic!("{}", made.body));
    let far = far.to_owned();
    let staff = stack.staff("001").await;
    let ten = stack.add_item(&staff, "001", "Ten", 1_000, 10).await;
    let twenty = stack.add_item(&staff, "001", "Twenty", 2_000, 20).await;
    // 15 bills of 10.00 to her personal pool (001) and 15 of 20.00 to the far one (002).
    for n in 0..30 {
        let (item, group) = if n % 2 == 0 { (&ten, ann.personal_group_id.to_string()) } else { (&twenty, far.clone()) };
        let bill = serde_json::json!({"user_id": ann.id, "group_id": group, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
        stack.bill(&staff, &format!("activity-{n}"), &bill).await;
    }
    // Activity asks the regions Ann's home region knows her pools in: its index learns of
    // the far pool from region 002 a moment after the pool is made.
    let platform = stack.api.with_token(&token);
    stack
        .eventually("Ann's home region knows the far pool", || async {
            platform.user(&ann.id).await.unwrap().value.groups.iter().any(|g| g.as_str() == far)
        })
        .await;

    // A page of 25, newest first, with a link to the rest; htmx fetches the rest in place.
    let first = browser.get("/activity").await.body;
    let bills = |page: &str| (page.matches("bill of 10.00").count(), page.matches("bill of 20.00").count());
    assert_eq!(bills(&first).0 + bills(&first).1, 25, "{first}");
    let next = browser::between(&first, "hx-get=\"", "\"").replace("&amp;", "&");
    let rest = browser.get_htmx(&next).await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    assert!(rest.body.starts_with("<div id=\"entries\">") && !rest.body.contains("<html"), "{}", rest.body);
    assert!(!rest.body.contains("Older entries"), "two pages hold them all: {}", rest.body);
    let (a, b) = bills(&first);
    let (c, d) = bills(&rest.body);
    assert_eq!((a + c, b + d), (15, 15), "every entry of both regions once");
    // Without htmx the same link is a whole page (the console works without scripts).
    let page = browser.get(&next).await;
    assert!(page.body.contains("Activity</h1>") && bills(&page.body) == (c, d), "{}", page.body);
}

#[tokio::test]
async fn owners_invite_and_a_second_session_joins_with_the_code_then_redeems_once() {
    let Club { stack, olga, olga_token, ben, mut owner, mut member, gid, .. } = Club::open("Console club").await;
    let invited = owner.post(&format!("/groups/{gid}/invitations"), &[("can_redeem", "true")]).await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
    let code = browser::between(&invited.body, "id=\"new-code\" readonly value=\"", "\"").to_owned();
    assert!(code.starts_with(&format!("{gid}.")), "{}", invited.body);

    let joined = member.post("/join", &[("code", &code)]).await;
    assert_eq!((joined.status, joined.location()), (StatusCode::SEE_OTHER, Some(format!("/groups/{gid}").as_str())));
    let again = member.post("/join", &[("code", &code)]).await;
    assert_ne!(again.status, StatusCode::SEE_OTHER, "an invitation opens the group once");
    let page = owner.get(&format!("/groups/{gid}")).await.body;
    assert!(page.contains(&format!("used by <code>{}</code>", ben.id)), "{page}");

    // Points in, then the member redeems through the confirmation step; the same
    // confirmation sent twice redeems once.
    let staff = stack.staff("001").await;
    let item = stack.add_item(&staff, "001", "Console tart", 5_000, 10).await;
    let bill = serde_json::json!({"user_id": olga.id, "group_id": gid, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&staff, "console-club-1", &bill).await;
    let pool = member.get(&format!("/groups/{gid}")).await.body;
    let attempt = browser::field(&pool, "attempt");
    let review = member.get(&format!("/groups/{gid}/redeem?points=30&attempt={attempt}")).await;
    assert!(review.body.contains("Redeem <strong>30 points</strong>"), "{}", review.body);
    let key = browser::field(&review.body, "key").to_owned();
    assert_eq!(key, attempt, "the review sends the attempt's key");
    let form = [("points", "30"), ("key", key.as_str())];
    let first = member.post(&format!("/groups/{gid}/redeem"), &form).await;
    assert!(first.body.contains("30 points redeemed; the pool now holds 20"), "{}", first.body);
    let second = member.post(&format!("/groups/{gid}/redeem"), &form).await;
    assert!(second.body.contains("it was redeemed once"), "{}", second.body);

    // By a dish of the pool's region's menu, through the same confirmation step.
    let pool = member.get(&format!("/groups/{gid}")).await.body;
    let item_form = pool.split("name=\"item_id\"").nth(1).unwrap_or_else(|| panic!("no dish to redeem: {pool}"));
    assert!(item_form.contains("Console tart · 10 points"), "{pool}");
    let attempt = browser::field(item_form, "attempt");
    let item_id = item["id"].as_str().unwrap();
    let review = member.get(&format!("/groups/{gid}/redeem?item_id={item_id}&qty=1&attempt={attempt}")).await;
    assert!(review.body.contains("1 × Console tart</strong> for <strong>10 points"), "{}", review.body);
    let form = [("item_id", item_id), ("qty", "1"), ("key", attempt)];
    let done = member.post(&format!("/groups/{gid}/redeem"), &form).await;
    assert!(done.body.contains("10 points redeemed; the pool now holds 10"), "{}", done.body);
    let group: Value =
        serde_json::to_value(stack.api.with_token(&olga_token).group(&gid).await.unwrap().value).unwrap();
    assert_eq!(group["points"], 10);
}

#[tokio::test]
async fn the_till_bills_once_however_often_its_confirmation_is_sent() {
    let Till { stack, console, ann, item_id, browser: mut till, .. } = Till::open("Console pie", 1_250).await;
    let item_id = item_id.as_str();

    let found = till.get(&format!("/till?user_id={}", ann.id)).await;
    assert!(
        found.body.contains("Console pie") && found.body.contains(ann.personal_group_id.as_str()),
        "{}",
        found.body
    );
    // The attempt's key is drawn with the items form and carried by the review.
    let review = till_review(&mut till, &found, &ann, item_id, 2).await;
    assert!(review.body.contains("Bill 25.00"), "{}", review.body);
    // The server's quote (the pool's region, 002, prices from region 001's menu), before
    // anything is billed.
    assert!(
        review.body.contains("Earns <strong>25 points</strong>: the pool holds 0 and will hold 25."),
        "{}",
        review.body
    );
    let count = format!("SELECT count(*) FROM ledger_entries WHERE group_id = '{}'", ann.personal_group_id);
    assert_eq!(stack.sql("002", &count).trim(), "0", "a quote writes nothing");
    let form = browser::hidden_fields(&review.body, &["user_id", "group_id", "lines", "key"]);
    let first = till.post("/till/bill", &form).await;
    assert!(first.body.contains("of 25.00: 25 points"), "{}", first.body);
    for _ in 0..3 {
        let again = till.post("/till/bill", &form).await;
        assert!(again.body.contains("it was billed once"), "{}", again.body);
    }
    assert_eq!(stack.sql("002", &count).trim(), "1");

    // Menu management of the staff member's region.
    let menu = till.get("/till/menu").await;
    assert!(menu.body.contains("Console pie"), "{}", menu.body);
    let off = till.post(&format!("/till/menu/{item_id}/availability"), &[("available", "false")]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let later = till.get(&format!("/till?user_id={}", ann.id)).await;
    assert!(!later.body.contains("Console pie"), "an item taken off the menu is not offered");
    // A customer's session, its own CSRF token and all, may not remove it.
    let mut customer = Browser::logged_in(&console, &stack, &ann.email).await;
    let refused = customer.post(&format!("/till/menu/{item_id}/remove"), &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(till.get("/till/menu").await.body.contains("Console pie"), "still on the menu");
    let removed = till.post(&format!("/till/menu/{item_id}/remove"), &[]).await;
    assert_eq!((removed.status, removed.location()), (StatusCode::SEE_OTHER, Some("/till/menu")), "{}", removed.body);
    let menu = till.get("/till/menu").await;
    assert!(!menu.body.contains("Console pie"), "a removed item is gone from the menu: {}", menu.body);
}

/// The till's review of a bill of `qty` × `item_id` into Ann's personal pool, with the
/// attempt drawn on `found` (the till's page for Ann).
async fn till_review(till: &mut Browser, found: &Answer, ann: &User, item_id: &str, qty: u32) -> Answer {
    let attempt = browser::field(&found.body, "attempt");
    let (user, group) = (&ann.id, &ann.personal_group_id);
    till.get(&format!("/till/review?user_id={user}&group_id={group}&qty_{item_id}={qty}&attempt={attempt}")).await
}

/// A form posted by `browser` with a CSRF token that is not its session's.
async fn forged(browser: &mut Browser, path: &str) {
    let res = browser.post_with_csrf(path, "not-this-sessions-token", &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {}", res.body);
    assert!(res.body.contains("was not sent from this console"), "{path}: {}", res.body);
}

#[tokio::test]
async fn pages_need_a_login_the_right_role_and_every_form_its_csrf_token() {
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let (ann, _) = stack.customer("001").await;
    let mut anonymous = Browser::new(&console);
    for path in [
        "/",
        "/pools",
        "/activity",
        "/menus",
        "/profile",
        "/till",
        "/till/menu",
        "/till/discounts",
        "/till/returns",
        "/admin",
        "/receipts/001-01JD3Q6M2V8X4Y5Z6A7B8C9D0E",
        &format!("/groups/{}", ann.personal_group_id),
    ] {
        let res = anonymous.get(path).await;
        assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/login")), "{path}");
    }
    let mut customer = Browser::logged_in(&console, &stack, &ann.email).await;
    assert_eq!(customer.get("/").await.location(), Some("/pools"));
    assert_eq!(customer.get("/till").await.status, StatusCode::FORBIDDEN);
    assert_eq!(customer.get("/admin").await.status, StatusCode::FORBIDDEN);
    let mut staff = Browser::logged_in(&console, &stack, "staff@001.loyalty.local").await;
    assert_eq!(staff.get("/admin").await.status, StatusCode::FORBIDDEN);
    let mut admin = Browser::logged_in(&console, &stack, crate::support::ADMIN_EMAIL).await;
    let page = admin.get("/admin").await;
    assert!(page.status == StatusCode::OK && page.body.contains("Healthy API instances"), "{}", page.body);
    // Each region's instance, as the router's health checks see it.
    let instances = browser::between(&page.body, "<table id=\"instances\">", "</table>");
    for region in ["001", "002", "003"] {
        assert!(instances.contains(&format!("<td>{region}</td>")), "{instances}");
    }
    assert_eq!(instances.matches(">healthy<").count(), 3, "{instances}");

    // Every form, posted with another session's token (a cross-site forgery carries none
    // of this session's) by someone the form is for: 403, and nothing happens.
    let gid = ann.personal_group_id.to_string();
    let customers = [
        "/logout".to_owned(),
        "/profile".to_owned(),
        "/password".to_owned(),
        "/close-account".to_owned(),
        "/groups".to_owned(),
        "/join".to_owned(),
        format!("/groups/{gid}/invitations"),
        format!("/groups/{gid}/invitations/001-abcdef/revoke"),
        format!("/groups/{gid}/members/{}/rights", ann.id),
        format!("/groups/{gid}/members/{}/remove", ann.id),
        format!("/groups/{gid}/owner"),
        format!("/groups/{gid}/redeem"),
        "/login".to_owned(),
        "/signup".to_owned(),
    ];
    let tills = [
        "/till/bill",
        "/till/menu",
        "/till/menu/001-abcdef/availability",
        "/till/menu/001-abcdef/remove",
        "/till/discounts",
        "/till/discounts/001-abcdef/remove",
        "/till/returns",
    ];
    for path in &customers {
        forged(&mut customer, path).await;
    }
    for path in tills {
        forged(&mut staff, path).await;
    }
    forged(&mut admin, "/admin/staff").await;
    forged(&mut admin, "/admin/passwords").await;
    forged(&mut admin, "/admin/closures").await;
    forged(&mut admin, "/admin/roles").await;
    assert_eq!(customer.get("/pools").await.status, StatusCode::OK, "the forged logout did not log out");

    // The headers of every page, and the session cookie's attributes.
    let res = customer.get("/pools").await;
    let csp = res.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(res.headers.get("x-content-type-options").unwrap(), "nosniff");
    let cookie = customer.set_cookie_seen.clone().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
}
