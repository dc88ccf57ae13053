//! The owner's forms on a pool's page, and the admin's staff form, through real HTTP:
//! an invitation revoked before it is used, redeem rights granted and taken away,
//! ownership handed over, a member removed. Each is also tried by someone it is not for.

use reqwest::StatusCode;
use serde_json::json;

use super::Club;
use super::browser::{self, Answer, Browser, Console};
use crate::support::Stack;

/// A refusal the platform made, shown in words with its request id.
fn refused_in_words(res: &Answer, status: StatusCode) {
    assert_eq!(res.status, status, "{}", res.body);
    assert!(res.body.contains("Request id: <code>"), "{}", res.body);
}

#[tokio::test]
async fn owners_revoke_invitations_set_rights_hand_over_and_remove_members() {
    let Club { stack, olga, olga_token, ben, mut owner, mut member, gid, .. } = Club::open("Owners' table").await;
    let pool = format!("/groups/{gid}");
    let platform = stack.api.with_token(&olga_token);

    // An invitation revoked before Ben uses it: its code no longer opens the pool.
    let invited = owner.post(&format!("{pool}/invitations"), &[]).await;
    let code = browser::between(&invited.body, "id=\"new-code\" readonly value=\"", "\"").to_owned();
    // The invitation's own revoke form (the section's first path with an id after it).
    let revoke = format!("{pool}/invitations/{}/revoke", browser::between(&invited.body, "/invitations/", "/revoke"));
    let revoked = owner.post(&revoke, &[]).await;
    assert_eq!((revoked.status, revoked.location()), (StatusCode::SEE_OTHER, Some(pool.as_str())), "{}", revoked.body);
    assert!(owner.get(&pool).await.body.contains("<td>revoked</td>"));
    refused_in_words(&member.post("/join", &[("code", &code)]).await, StatusCode::FORBIDDEN);

    // A second invitation, without redeem rights.
    let invited = owner.post(&format!("{pool}/invitations"), &[]).await;
    let code = browser::between(&invited.body, "id=\"new-code\" readonly value=\"", "\"").to_owned();
    assert_eq!(member.post("/join", &[("code", &code)]).await.status, StatusCode::SEE_OTHER);
    let staff = stack.staff("001").await;
    let item = stack.add_item(&staff, "001", "Owners' plate", 5_000, 10).await;
    let bill = json!({"user_id": olga.id, "group_id": gid, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&staff, "owners-table-1", &bill).await;

    // Ben may not redeem: no form on his page, and a forged one is refused.
    let redeem = [("points", "10"), ("key", "01KB0OWNERSTABLEATTEMPT001")];
    assert!(!member.get(&pool).await.body.contains("<h2>Redeem</h2>"));
    refused_in_words(&member.post(&format!("{pool}/redeem"), &redeem).await, StatusCode::FORBIDDEN);
    // Nor may he give himself the right, or the pool.
    let own_rights = format!("{pool}/members/{}/rights", ben.id);
    refused_in_words(&member.post(&own_rights, &[("can_redeem", "true")]).await, StatusCode::FORBIDDEN);
    let hand_over = format!("{pool}/owner");
    refused_in_words(&member.post(&hand_over, &[("owner_id", ben.id.as_str())]).await, StatusCode::FORBIDDEN);
    assert_eq!(platform.group(&gid).await.unwrap().value.points, 50, "nothing was redeemed");

    // Olga grants the right: Ben's page offers the redemption, and it is taken.
    let granted = owner.post(&own_rights, &[("can_redeem", "true")]).await;
    assert_eq!((granted.status, granted.location()), (StatusCode::SEE_OTHER, Some(pool.as_str())));
    assert!(owner.get(&pool).await.body.contains(">Revoke redeem<"));
    assert!(member.get(&pool).await.body.contains("<h2>Redeem</h2>"));
    let done = member.post(&format!("{pool}/redeem"), &redeem).await;
    assert!(done.body.contains("10 points redeemed; the pool now holds 40"), "{}", done.body);
    // And takes it away again.
    assert_eq!(owner.post(&own_rights, &[("can_redeem", "false")]).await.status, StatusCode::SEE_OTHER);
    let again = [("points", "10"), ("key", "01KB0OWNERSTABLEATTEMPT002")];
    refused_in_words(&member.post(&format!("{pool}/redeem"), &again).await, StatusCode::FORBIDDEN);
    assert_eq!(platform.group(&gid).await.unwrap().value.points, 40);

    // Olga hands the pool to Ben: he gets the owner's forms, she loses them.
    let handed = owner.post(&hand_over, &[("owner_id", ben.id.as_str())]).await;
    assert_eq!((handed.status, handed.location()), (StatusCode::SEE_OTHER, Some(pool.as_str())));
    assert_eq!(platform.group(&gid).await.unwrap().value.owner_id, ben.id);
    let hers = owner.get(&pool).await.body;
    assert!(
        !hers.contains(">Hand over<") && !hers.contains("id=\"invitations\"") && hers.contains(">Leave<"),
        "{hers}"
    );
    let his = member.get(&pool).await.body;
    assert!(his.contains(">Hand over<") && his.contains("id=\"invitations\""), "{his}");

    // Ben removes Olga: the pool is gone from her console.
    let removed = member.post(&format!("{pool}/members/{}/remove", olga.id), &[]).await;
    assert_eq!((removed.status, removed.location()), (StatusCode::SEE_OTHER, Some(pool.as_str())));
    refused_in_words(&owner.get(&pool).await, StatusCode::NOT_FOUND);
    assert!(!owner.get("/pools").await.body.contains("Owners' table"));
    assert!(member.get("/pools").await.body.contains("Owners' table"));
}

#[tokio::test]
async fn admins_create_staff_who_open_the_till_and_no_one_else_may() {
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let (ann, _) = stack.customer("001").await;
    let email = format!("till-{}@console.test", ulid::Ulid::new().to_string().to_lowercase());
    let fields =
        [("full_name", "New Cashier"), ("email", email.as_str()), ("password", "cashier pass"), ("home_region", "002")];

    // A customer, and staff, posting the admin's form (with their own session's token).
    let mut customer = Browser::logged_in(&console, &stack, &ann.email).await;
    assert_eq!(customer.post("/admin/staff", &fields).await.status, StatusCode::FORBIDDEN);
    let mut staff = Browser::logged_in(&console, &stack, "staff@001.loyalty.local").await;
    assert_eq!(staff.post("/admin/staff", &fields).await.status, StatusCode::FORBIDDEN);
    let mut cashier = Browser::new(&console);
    let login = [("email", email.as_str()), ("password", "cashier pass")];
    assert_eq!(cashier.post("/login", &login).await.status, StatusCode::UNAUTHORIZED, "no account was made");

    let mut admin = Browser::logged_in(&console, &stack, crate::support::ADMIN_EMAIL).await;
    let made = admin.post("/admin/staff", &fields).await;
    assert_eq!((made.status, made.location()), (StatusCode::SEE_OTHER, Some("/admin")), "{}", made.body);
    refused_in_words(&admin.post("/admin/staff", &fields).await, StatusCode::CONFLICT);

    // The new account is staff of region 002: the till and its menu are 002's.
    assert_eq!(cashier.post("/login", &login).await.status, StatusCode::SEE_OTHER);
    let till = cashier.get("/till").await;
    assert_eq!(till.status, StatusCode::OK, "{}", till.body);
    let menu = cashier.get("/till/menu").await;
    assert!(menu.status == StatusCode::OK && menu.body.contains("The menu of region 002"), "{}", menu.body);
    assert_eq!(cashier.get("/admin").await.status, StatusCode::FORBIDDEN);
    let role = stack.sql("002", &format!("SELECT role FROM users WHERE email = '{email}'"));
    assert_eq!(role.trim(), "staff");

    // The cashier leaves: the admin makes them a customer, and the till is closed at once.
    let demote = [("email", email.as_str()), ("role", "customer")];
    assert_eq!(staff.post("/admin/roles", &demote).await.status, StatusCode::FORBIDDEN);
    let done = admin.post("/admin/roles", &demote).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, Some("/admin")), "{}", done.body);
    // Their token is revoked (in 001, Ann's region, within a poll): the first page that
    // asks the platform as them then ends the session.
    let (find, asked) = (format!("/till?user_id={}", ann.id), std::time::Instant::now());
    while cashier.get(&find).await.location() != Some("/login") {
        assert!(asked.elapsed() < std::time::Duration::from_secs(5), "their session goes on");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cashier.post("/login", &login).await.status, StatusCode::SEE_OTHER);
    assert_eq!(cashier.get("/till").await.status, StatusCode::FORBIDDEN, "a customer now");

    // Ann forgot her password: only the admin resets it, and her session ends.
    let mut ann_browser = Browser::logged_in(&console, &stack, &ann.email).await;
    let reset = [("email", ann.email.as_str()), ("new_password", "reset by the admin")];
    assert_eq!(staff.post("/admin/passwords", &reset).await.status, StatusCode::FORBIDDEN);
    let done = admin.post("/admin/passwords", &reset).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, Some("/admin")), "{}", done.body);
    assert_eq!(ann_browser.get("/pools").await.location(), Some("/login"), "her old session is over");
    let old = [("email", ann.email.as_str()), ("password", crate::support::PASSWORD)];
    assert_eq!(Browser::new(&console).post("/login", &old).await.status, StatusCode::UNAUTHORIZED);
    let new = [("email", ann.email.as_str()), ("password", "reset by the admin")];
    assert_eq!(Browser::new(&console).post("/login", &new).await.status, StatusCode::SEE_OTHER);
    let nobody = [("email", "nobody@console.test"), ("new_password", "reset by the admin")];
    refused_in_words(&admin.post("/admin/passwords", &nobody).await, StatusCode::NOT_FOUND);

    // Ann asks to be erased: only the admin closes her account, then nobody finds her. Her
    // personal pool holds points: the admin names their number, or nothing is closed.
    let till = stack.staff("001").await;
    let item = stack.add_item(&till, "001", "Parting soup", 3_000, 10).await;
    let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&till, &format!("parting-{}", ann.id), &bill).await;
    let erase = [("email", ann.email.as_str()), ("forfeit_points", "")];
    assert_eq!(staff.post("/admin/closures", &erase).await.status, StatusCode::FORBIDDEN);
    let refused = admin.post("/admin/closures", &erase).await;
    refused_in_words(&refused, StatusCode::CONFLICT);
    assert!(refused.body.contains("holds 30 points"), "{}", refused.body);
    let erase = [("email", ann.email.as_str()), ("forfeit_points", "30")];
    let done = admin.post("/admin/closures", &erase).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, Some("/admin")), "{}", done.body);
    assert_eq!(Browser::new(&console).post("/login", &new).await.status, StatusCode::UNAUTHORIZED);
    refused_in_words(&admin.post("/admin/closures", &erase).await, StatusCode::NOT_FOUND);
}
