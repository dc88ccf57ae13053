//! Test support: every test gets its own database on the throwaway cluster that
//! `make test` starts (LOYALTY_TEST_PG_URL), and its own API server on a free port,
//! spoken to over real HTTP. Databases are dropped when the test ends, so tests run in
//! parallel and leave nothing behind.
// Test-only code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod postgres;
pub mod silence;

use std::time::Duration;

use api::{Application, Config};
use contract::dto::{
    Bill, BillLine, Group, Invitation, NewBill, NewCatalogueItem, NewGroup, NewInvitation, NewUser, Session, User,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub use client::testing::{expect_error, expect_json};
use postgres::TestDb;

pub const ADMIN_EMAIL: &str = "admin@test.loyalty";
pub const STAFF_EMAIL: &str = "staff-001@test.loyalty";
pub const PASSWORD: &str = "correct horse battery";

/// A customer, their token, their personal group and its redemptions path.
pub struct Funded {
    pub user: User,
    pub token: String,
    pub group: String,
    pub redemptions: String,
}

pub struct TestApp {
    pub base: String,
    /// The typed client of this instance, without a token.
    pub api: client::Client,
    /// The same pool for whole URLs (`http.raw(method, url)`): requests the contract does
    /// not describe, or to another instance.
    pub http: client::Client,
    pub config: Config,
    pub db: TestDb,
    handle: actix_web::dev::ServerHandle,
}

/// The configuration every test starts from: region 001 of a three-region deployment,
/// with a bootstrap admin and staff account.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: database_url.into(),
        workers: Some(2),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(PASSWORD.into()),
        ..Config::default()
    };
    config.db.startup_wait_secs = 10;
    config.service_token = Some(format!("service-{}", ulid::Ulid::new()));
    // The topology's regions, without peers: a test must never deliver to a local
    // deployment on the default ports.
    config.regions = topology::Topology::local()
        .unwrap()
        .regions
        .into_iter()
        .map(|r| api::config::RegionConfig { id: r.id.parse().unwrap(), name: r.name, urls: Vec::new() })
        .collect();
    config.auth.signing_key = Some(api::auth::new_signing_key().0);
    config.bootstrap.staff_email = Some(STAFF_EMAIL.into());
    config.bootstrap.staff_password = Some(PASSWORD.into());
    config
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::create();
        let mut config = test_config(&db.url);
        customize(&mut config);
        Self::start(config, db).await
    }

    pub async fn start(config: Config, db: TestDb) -> TestApp {
        observability::telemetry::init_tracing(false);
        let app = Application::build(config.clone()).await.expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        tls::install_default_provider();
        let http = client::Client::builder("").timeout(Duration::from_secs(30)).build().unwrap();
        let api = http.with_base(&base);
        TestApp { base, api, http, config, db, handle }
    }

    /// A second instance of the same region, on the same database and configuration.
    pub async fn sibling(&self) -> Sibling {
        let second = Application::build(self.config.clone()).await.expect("application builds");
        let base = format!("http://127.0.0.1:{}", second.port());
        let handle = second.handle();
        tokio::spawn(second.run_until_stopped());
        Sibling { base, handle }
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
        let mut req = self.api.raw(method, path);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    /// A points request (bill or redemption) with an Idempotency-Key.
    pub async fn post_once(&self, path: &str, token: &str, key: &str, body: &Value) -> Response {
        self.api
            .raw(Method::POST, path)
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        self.api.log_in(email, password).await.unwrap().value
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, PASSWORD).await.token
    }

    pub async fn staff_token(&self) -> String {
        self.login(STAFF_EMAIL, PASSWORD).await.token
    }

    /// Signs up a fresh customer in region 001 and logs them in.
    pub async fn customer(&self) -> (User, String) {
        let email = format!("c-{}@test.loyalty", ulid::Ulid::new().to_string().to_lowercase());
        let user = self.api.sign_up(&new_user(&email, "Test Customer", "001")).await.unwrap().value;
        let token = self.login(&email, PASSWORD).await.token;
        (user, token)
    }

    /// `N` fresh customers of region 001, signed up at once.
    pub async fn customers<const N: usize>(&self) -> [(User, String); N] {
        let all = futures_util::future::join_all((0..N).map(|_| self.customer())).await;
        all.try_into().unwrap_or_else(|_| unreachable!("join_all keeps the count"))
    }

    /// A fresh customer whose personal group holds `points` (awarded by a bill).
    pub async fn customer_with_points(&self, points: i64) -> Funded {
        let (user, token) = self.customer().await;
        self.award(user.id.as_str(), None, points * 100, 1).await;
        let group = user.personal_group_id.to_string();
        let redemptions = format!("/v1/groups/{group}/redemptions");
        Funded { user, token, group, redemptions }
    }

    pub async fn group(&self, token: &str) -> Group {
        let new = NewGroup { name: "Team".into(), location: "Lyon".into(), region: "001".into() };
        self.api.with_token(token).create_group(&new).await.unwrap().value
    }

    /// An invitation to `group` made by its owner (`token`), with `body`'s options.
    pub async fn invite(&self, token: &str, group: &str, body: &Value) -> Invitation {
        let new: NewInvitation = serde_json::from_value(body.clone()).unwrap();
        self.api.with_token(token).invite(group, &new).await.unwrap().value
    }

    /// `user` (holding `token`) joins `group` with an invitation code.
    pub async fn join(&self, token: &str, group: &str, user: &str, code: &str) -> Response {
        self.post(&format!("/v1/groups/{group}/members"), Some(token), &json!({"user_id": user, "invitation": code}))
            .await
    }

    /// `user` joins `group` through a fresh invitation of its owner (`owner_token`).
    pub async fn invite_and_join(&self, owner_token: &str, group: &str, user: &str, token: &str, can_redeem: bool) {
        let invitation = self.invite(owner_token, group, &json!({"can_redeem": can_redeem})).await;
        expect_json::<Value>(self.join(token, group, user, &invitation.code).await, StatusCode::CREATED).await;
    }

    /// Adds a catalogue item as the region's staff and returns its id.
    pub async fn item(&self, price_cents: i64, points_price: i64) -> String {
        let staff = self.staff_token().await;
        let new = NewCatalogueItem {
            name: format!("Dish {}", ulid::Ulid::new()),
            category: "mains".into(),
            price_cents,
            points_price,
            available: None,
        };
        self.api.with_token(staff).add_item("001", &new).await.unwrap().value.id.to_string()
    }

    /// A dish of `category` on region 001's menu, added by `staff` (discounts and returns
    /// tell categories apart).
    pub async fn dish(&self, staff: &str, category: &str, price_cents: i64) -> String {
        let new = NewCatalogueItem {
            name: format!("{category} {}", ulid::Ulid::new()),
            category: category.into(),
            price_cents,
            points_price: 10,
            available: None,
        };
        self.api.with_token(staff).add_item("001", &new).await.unwrap().value.id.to_string()
    }

    /// Adds a discount to region 001 as `staff` (its `json!` body, so tests can also
    /// send what the typed request would not allow).
    pub async fn discount(&self, staff: &str, body: Value) -> Value {
        expect_json(self.post("/v1/regions/001/discounts", Some(staff), &body).await, StatusCode::CREATED).await
    }

    /// Bills `user` for `qty` × an item of `price_cents` into `group` (default: personal).
    pub async fn award(&self, user: &str, group: Option<&str>, price_cents: i64, qty: i64) -> Bill {
        let staff = self.staff_token().await;
        let item = self.item(price_cents, 10).await;
        let bill = NewBill {
            user_id: user.into(),
            group_id: group.map(str::to_owned),
            store_region: "001".into(),
            items: vec![BillLine { item_id: item, qty }],
        };
        self.api.with_token(staff).bill(&bill, &client::new_key()).await.unwrap().value
    }

    /// Checks the invariants for one group (balance == sum(ledger), balance >= 0) and
    /// audits every group of the test's database.
    /// A call of this instance's `/internal` API with the service token.
    pub async fn internal(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> reqwest::Response {
        let token = self.config.service_token.clone().unwrap_or_default();
        let mut req = self.http.raw(method, &format!("{}{path}", self.base)).header("X-Service-Token", token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.unwrap()
    }

    pub fn assert_ledger_consistent(&self, group_id: &str) -> i64 {
        self.db.assert_ledger_consistent(group_id)
    }
}

/// Of racing redemptions' answers: how many redeemed (201) and how many were refused with
/// `insufficient_points`; any other answer fails the test.
#[allow(clippy::unwrap_used)] // test helper
pub async fn redeemed_or_insufficient(responses: Vec<Response>) -> (i64, i64) {
    let (mut redeemed, mut insufficient) = (0, 0);
    for res in responses {
        match res.status() {
            StatusCode::CREATED => redeemed += 1,
            StatusCode::CONFLICT => {
                expect_error(res, StatusCode::CONFLICT, "insufficient_points").await;
                insufficient += 1;
            }
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    (redeemed, insufficient)
}

/// A customer's sign-up.
pub fn new_user(email: &str, full_name: &str, region: &str) -> NewUser {
    NewUser::new(email, PASSWORD, full_name, region)
}

/// Another instance of the test's region, on its database, stopped when dropped.
pub struct Sibling {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the database is dropped (forcibly) right after.
        drop(self.handle.stop(false));
    }
}
