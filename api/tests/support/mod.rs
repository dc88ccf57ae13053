//! Test support: every test gets its own database on the throwaway cluster that
//! `make test` starts (LOYALTY_TEST_PG_URL), and its own API server on a free port,
//! spoken to over real HTTP. Databases are dropped when the test ends, so tests run in
//! parallel and leave nothing behind.
#![allow(dead_code)]
// Test-only code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod postgres;

use std::time::Duration;

use api::{Application, Config};
use contract::dto::{Group, Invitation, Session, User};
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

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
    pub client: reqwest::Client,
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
    // No peers: a test must never deliver to a local deployment on the default ports.
    for region in &mut config.regions {
        region.urls.clear();
    }
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
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        TestApp { base, client, config, db, handle }
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
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
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let res = self.post("/v1/sessions", None, &json!({"email": email, "password": password})).await;
        expect_json(res, StatusCode::CREATED).await
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
        let body = json!({"email": email, "password": PASSWORD, "full_name": "Test Customer", "home_region": "001"});
        let user: User = expect_json(self.post("/v1/users", None, &body).await, StatusCode::CREATED).await;
        let token = self.login(&email, PASSWORD).await.token;
        (user, token)
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
        let body = json!({"name": "Team", "location": "Lyon", "region": "001"});
        expect_json(self.post("/v1/groups", Some(token), &body).await, StatusCode::CREATED).await
    }

    /// An invitation to `group` made by its owner (`token`), with `body`'s options.
    pub async fn invite(&self, token: &str, group: &str, body: &Value) -> Invitation {
        let res = self.post(&format!("/v1/groups/{group}/invitations"), Some(token), body).await;
        expect_json(res, StatusCode::CREATED).await
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
        let body = json!({"name": format!("Dish {}", ulid::Ulid::new()), "category": "mains",
                          "price_cents": price_cents, "points_price": points_price});
        let item: Value =
            expect_json(self.post("/v1/regions/001/catalogue", Some(&staff), &body).await, StatusCode::CREATED).await;
        item["id"].as_str().unwrap().to_owned()
    }

    /// Bills `user` for `qty` × an item of `price_cents` into `group` (default: personal).
    pub async fn award(&self, user: &str, group: Option<&str>, price_cents: i64, qty: i64) -> Value {
        let staff = self.staff_token().await;
        let item = self.item(price_cents, 10).await;
        let mut body = json!({"user_id": user, "store_region": "001", "items": [{"item_id": item, "qty": qty}]});
        if let Some(group) = group {
            body["group_id"] = json!(group);
        }
        let key = ulid::Ulid::new().to_string();
        expect_json(self.post_once("/v1/bills", &staff, &key, &body).await, StatusCode::CREATED).await
    }

    /// Checks the invariants for one group: balance == sum(ledger), balance >= 0.
    pub fn assert_ledger_consistent(&self, group_id: &str) -> i64 {
        self.db.assert_ledger_consistent(group_id)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the database is dropped (forcibly) right after.
        drop(self.handle.stop(false));
    }
}

pub async fn expect_json<T: DeserializeOwned>(res: Response, status: StatusCode) -> T {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

/// Asserts an error response: status, code, and the envelope's shape.
pub async fn expect_error(res: Response, status: StatusCode, code: &str) -> Value {
    let request_id = res.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = expect_json(res, status).await;
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {body}");
    assert_eq!(body["error"]["request_id"].as_str(), request_id.as_deref(), "body: {body}");
    body
}
