//! The people and things a test starts from: logins, staff and admins, new customers,
//! menu items, bills, groups and their invitations, all made through the router.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use contract::ErrorCode;
use contract::dto::{Group, NewGroup, NewInvitation, NewUser, Session, User};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN_EMAIL, PASSWORD, STAFF_PASSWORD, Stack, expect_json};

impl Stack {
    pub async fn login(&self, email: &str, password: &str) -> Session {
        unless_busy(async || self.api.log_in(email, password).await).await
    }

    /// Logs in, waiting for the account's directory entry to arrive (bootstrap accounts
    /// are announced through the outbox).
    pub async fn login_eventually(&self, email: &str, password: &str) -> Session {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let res = self.post("/v1/sessions", None, &json!({"email": email, "password": password})).await;
            if res.status() == StatusCode::CREATED {
                return res.json().await.unwrap();
            }
            assert!(Instant::now() < deadline, "{email} could not log in: {}", res.text().await.unwrap());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn admin(&self) -> String {
        self.login_eventually(ADMIN_EMAIL, PASSWORD).await.token
    }

    pub async fn staff(&self, region: &str) -> String {
        self.login_eventually(&format!("staff@{region}.loyalty.local"), STAFF_PASSWORD).await.token
    }

    /// A main course added to `region`'s menu through the router by `staff`: the item.
    pub async fn add_item(&self, staff: &str, region: &str, name: &str, price_cents: i64, points_price: i64) -> Value {
        let path = format!("/v1/regions/{region}/catalogue");
        let item = json!({"name": name, "category": "mains", "price_cents": price_cents, "points_price": points_price});
        expect_json(self.post(&path, Some(staff), &item).await, StatusCode::CREATED).await
    }

    /// A discount of region 001 made through the router by `staff`: its id.
    pub async fn discount(&self, staff: &str, body: Value) -> String {
        let made: Value =
            expect_json(self.post("/v1/regions/001/discounts", Some(staff), &body).await, StatusCode::CREATED).await;
        made["id"].as_str().unwrap().to_owned()
    }

    /// A bill made through the router by `staff` with Idempotency-Key `key`: the bill.
    pub async fn bill(&self, staff: &str, key: &str, bill: &Value) -> Value {
        expect_json(self.post_once(&self.router, "/v1/bills", staff, key, bill).await, StatusCode::CREATED).await
    }

    /// A new customer homed in `region`, logged in.
    pub async fn customer(&self, region: &str) -> (User, String) {
        let email = format!("c-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
        let new = NewUser::new(&email, PASSWORD, "Stack Customer", region);
        let user = unless_busy(async || self.api.sign_up(&new).await).await;
        let token = self.login(&email, PASSWORD).await.token;
        (user, token)
    }

    /// A group created through the router by `token`'s holder (its first member).
    pub async fn new_group(&self, token: &str, name: &str, location: &str, region: &str) -> Group {
        let new = NewGroup { name: name.into(), location: location.into(), region: region.into() };
        self.api.with_token(token).create_group(&new).await.unwrap().value
    }

    /// A fresh invitation's code into `group`, made by its owner (`owner_token`).
    pub async fn invitation_code(&self, owner_token: &str, group: &str, can_redeem: bool) -> String {
        let new = NewInvitation { can_redeem: Some(can_redeem), ..NewInvitation::default() };
        self.api.with_token(owner_token).invite(group, &new).await.unwrap().value.code
    }

    /// `user` (holding `token`) joins `group` with a fresh invitation from its owner
    /// (`owner_token`); the join's answer.
    pub async fn invite_and_join(
        &self,
        owner_token: &str,
        group: &str,
        user: &str,
        token: &str,
        can_redeem: bool,
    ) -> Response {
        let body = json!({"user_id": user, "invitation": self.invitation_code(owner_token, group, can_redeem).await});
        self.post(&format!("/v1/groups/{group}/members"), Some(token), &body).await
    }
}

/// Sign-ups and logins hash a password, and a region hashes only so many at once: past
/// that it answers 429 and does nothing. Tests that make many accounts at once (while
/// other tests load the machine) come back a little later, as the answer asks.
async fn unless_busy<T>(mut call: impl AsyncFnMut() -> client::Result<client::Reply<T>>) -> T {
    for _ in 0..40 {
        match call().await {
            Err(err) if err.code() == Some(ErrorCode::RateLimited) => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            answer => return answer.unwrap().value,
        }
    }
    panic!("still rate limited after 40 attempts, 10 s");
}
