//! The local deployment (3 regions + router) started by the same scripts as `make up`,
//! on free ports and in a state folder of its own, so stack tests run beside a `make up`
//! and beside each other. Dropped, it runs `down.sh` and removes its folder.
#![allow(dead_code)]
// Test-only code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use contract::dto::{Session, User};
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub const ADMIN_EMAIL: &str = "admin@stack.test";
pub const PASSWORD: &str = "correct horse battery";
pub const STAFF_PASSWORD: &str = "staff horse battery";
pub const REGIONS: [&str; 3] = ["001", "002", "003"];

pub struct Stack {
    pub router: String,
    pub client: reqwest::Client,
    state: PathBuf,
    env: Vec<(String, String)>,
    api_port_base: u16,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Port bases where every port the deployment needs is free.
fn free_ports(instances: u16) -> (u16, u16, u16) {
    let mut seed = ulid::Ulid::new().random() as u64;
    loop {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let base = 20_000 + ((seed >> 33) % 400) as u16 * 100;
        let (pg, api, router) = (base, base + 40, base + 99);
        let mut ports = vec![router];
        for n in 1..=3 {
            ports.push(pg + n);
            for k in 0..instances {
                ports.push(api + n + 10 * k);
            }
        }
        if ports.iter().all(|&p| free(p)) {
            return (pg, api, router);
        }
    }
}

impl Stack {
    pub fn start(instances: u16) -> Stack {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_loyalty-router")).parent().unwrap().to_path_buf();
        assert!(
            bin_dir.join("loyalty-api").exists(),
            "{} has no loyalty-api: build the binaries first (`cargo build --bins`; make test does)",
            bin_dir.display()
        );
        let (pg, api, router) = free_ports(instances);
        let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("stack-{}", ulid::Ulid::new()));
        let env: Vec<(String, String)> = [
            ("LOYALTY_STATE_DIR", state.to_str().unwrap().to_owned()),
            ("PG_PORT_BASE", pg.to_string()),
            ("API_PORT_BASE", api.to_string()),
            ("ROUTER_PORT", router.to_string()),
            ("API_INSTANCES", instances.to_string()),
            ("SKIP_BUILD", "1".to_owned()),
            ("BIN_DIR", bin_dir.to_str().unwrap().to_owned()),
            ("LOYALTY_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("LOYALTY_ADMIN_PASSWORD", PASSWORD.to_owned()),
            ("LOYALTY_STAFF_PASSWORD", STAFF_PASSWORD.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let stack = Stack {
            router: format!("http://127.0.0.1:{router}"),
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
            state,
            env,
            api_port_base: api,
        };
        stack.up();
        stack
    }

    /// Runs `up.sh`: starts whatever is not running (so it also heals).
    pub fn up(&self) {
        let output = Command::new("bash")
            .arg(root().join("infra/local/up.sh"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "up.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn api_url(&self, region: &str, instance: u16) -> String {
        format!("http://127.0.0.1:{}", self.api_port_base + region.parse::<u16>().unwrap() + 10 * instance)
    }

    /// Kills one API instance outright (`kill -9`).
    pub fn kill_api(&self, region: &str, instance: u16) {
        let pidfile = self.state.join("run").join(format!("api-{region}-{instance}.pid"));
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let status = Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(100));
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.router));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn post_once(&self, base: &str, path: &str, token: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        expect_json(
            self.post("/v1/sessions", None, &json!({"email": email, "password": password})).await,
            StatusCode::CREATED,
        )
        .await
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

    /// A new customer homed in `region`, logged in.
    pub async fn customer(&self, region: &str) -> (User, String) {
        self.customer_avoiding(region, None).await
    }

    /// Like `customer`, with an email whose directory entry is not kept in `avoid`
    /// (sign-up and login need the email's directory region).
    pub async fn customer_avoiding(&self, region: &str, avoid: Option<&str>) -> (User, String) {
        let regions: Vec<contract::RegionId> = REGIONS.iter().map(|r| r.parse().unwrap()).collect();
        let email = loop {
            let email = format!("c-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
            let parsed = contract::email::Email::parse(&email).unwrap();
            let directory = contract::directory::directory_region(&parsed, &regions).unwrap();
            if avoid != Some(directory.as_str()) {
                break email;
            }
        };
        let body = json!({"email": email, "password": PASSWORD, "full_name": "Stack Customer", "home_region": region});
        let user: User = expect_json(self.post("/v1/users", None, &body).await, StatusCode::CREATED).await;
        let token = self.login(&email, PASSWORD).await.token;
        (user, token)
    }

    /// Polls `check` until it holds (cross-region changes converge within seconds).
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !check().await {
            assert!(Instant::now() < deadline, "never happened: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The test failed: show what the processes said before they go.
            for entry in std::fs::read_dir(self.state.join("log")).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(25).collect();
                eprintln!("---- {} (last lines)", entry.path().display());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        let _ = Command::new("bash")
            .arg(root().join("infra/local/down.sh"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

pub async fn expect_json<T: DeserializeOwned>(res: Response, status: StatusCode) -> T {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

pub async fn expect_error(res: Response, status: StatusCode, code: &str) -> Value {
    let body: Value = expect_json(res, status).await;
    assert_eq!(body["error"]["code"], code, "body: {body}");
    body
}
