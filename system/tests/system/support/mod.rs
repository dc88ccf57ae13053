//! The local deployment (3 regions + router) started by the same scripts as `make up`,
//! on free ports and in a state folder of its own, so stack tests run beside a `make up`
//! and beside each other. Dropped, it runs `down.sh` and removes its folder.
// Test-only code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod logs;
mod people;
mod ports;
pub mod raw;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use client::testing::{expect_error, expect_json};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

pub const ADMIN_EMAIL: &str = "admin@stack.test";
pub const PASSWORD: &str = "correct horse battery";
pub const STAFF_PASSWORD: &str = "staff horse battery";

/// The topology's regions (infra/local/topology.toml), in its order.
pub fn regions() -> Vec<String> {
    topology::Topology::local().unwrap().regions.into_iter().map(|r| r.id).collect()
}

pub struct Stack {
    pub router: String,
    /// The router's admin address (`/metrics`).
    pub router_admin: String,
    pub state: PathBuf,
    /// The typed client of the router, without a token.
    pub api: client::Client,
    /// The same pool for whole URLs (`http.raw(method, url)`): requests the contract does
    /// not describe, or to an API instance, the fault proxy, the admin port.
    pub http: client::Client,
    env: Vec<(String, String)>,
    /// Where everything of this stack listens: the topology's `stack` deployment, in its
    /// block of free ports.
    layout: topology::Layout,
    /// The fault proxy's control API (drill stacks).
    faults: Option<String>,
    /// This stack's claim on its block of ports, released when it is dropped.
    port_claim: PathBuf,
    /// `http` or `https`.
    scheme: &'static str,
    /// The stack's CA (TLS stacks), to be trusted by clients.
    pub ca_file: Option<PathBuf>,
}

/// What a stack runs besides one Postgres and `instances` APIs per region.
#[derive(Clone, Copy)]
pub struct Options {
    pub instances: u16,
    /// A synchronous hot standby per region and a fault link in front of every API and
    /// Postgres server.
    pub drill: bool,
    /// The router's limits as a real deployment runs them (`EDGE_LIMITS=default`), the
    /// client's address taken from X-Forwarded-For.
    pub real_limits: bool,
    /// Every service serves HTTPS and calls the others over HTTPS (`TLS=1`), with a
    /// throwaway CA in the stack's state folder.
    pub tls: bool,
}

/// Where the workspace's binaries are: beside `deps/`, where this test binary runs from.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Stack {
    pub fn start(instances: u16) -> Stack {
        Self::start_with(Options { instances, drill: false, real_limits: false, tls: false })
    }

    /// Two API instances per region, a hot standby per region, fault links everywhere.
    pub fn drill() -> Stack {
        Self::start_with(Options { instances: 2, drill: true, real_limits: false, tls: false })
    }

    /// One API instance per region behind fault links: a partition cuts a region off.
    pub fn with_faults() -> Stack {
        Self::start_with(Options { instances: 1, drill: true, real_limits: false, tls: false })
    }

    pub fn start_with(options: Options) -> Stack {
        let instances = options.instances;
        let bin_dir = bin_dir();
        assert!(
            bin_dir.join("loyalty-api").exists(),
            "{} has no loyalty-api: build the binaries first (`cargo build --bins`; make test does)",
            bin_dir.display()
        );
        let (layout, ports, port_claim) = ports::free_ports(options);
        let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("stack-{}", ulid::Ulid::new()));
        let env: Vec<(String, String)> = [
            ("LOYALTY_STATE_DIR", state.to_str().unwrap().to_owned()),
            ("LOYALTY_DEPLOYMENT", "stack".to_owned()),
            ("PG_PORT_BASE", ports.postgres.to_string()),
            ("API_PORT_BASE", ports.api.to_string()),
            ("ROUTER_PORT", ports.router.to_string()),
            ("FAULTS_CONTROL_PORT", ports.faults_control.to_string()),
            ("API_INSTANCES", instances.to_string()),
            ("SKIP_BUILD", "1".to_owned()),
            ("BIN_DIR", bin_dir.to_str().unwrap().to_owned()),
            ("LOYALTY_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("LOYALTY_ADMIN_PASSWORD", PASSWORD.to_owned()),
            ("LOYALTY_STAFF_PASSWORD", STAFF_PASSWORD.to_owned()),
            // Short leases, so a test can watch an orphaned reservation lapse.
            ("LOYALTY_DIRECTORY__LEASE_SECS", "2".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut env = env;
        if options.real_limits {
            env.push(("EDGE_LIMITS".to_owned(), "default".to_owned()));
        }
        let ca_file = options.tls.then(|| {
            let dir = state.join("tls");
            let made = Command::new("bash").arg(root().join("infra/local/tls.sh")).arg(&dir).status().unwrap();
            assert!(made.success(), "tls.sh failed");
            env.push(("TLS".to_owned(), "1".to_owned()));
            dir.join("ca.pem")
        });
        let scheme = if options.tls { "https" } else { "http" };
        let faults = layout.faults_control.map(|port| format!("http://127.0.0.1:{port}"));
        if options.drill {
            env.extend(
                [
                    ("STANDBY", "1".to_owned()),
                    ("FAULTS", "1".to_owned()),
                    // Small pools and a short deadline, so a slow database shows its bounds
                    // within a short drill.
                    ("LOYALTY_DB__POOL_SIZE", "4".to_owned()),
                    ("LOYALTY_DB__DEADLINE_MS", "3000".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v)),
            );
        }
        let router_url = format!("{scheme}://127.0.0.1:{}", layout.router);
        let http =
            client::Client::builder("").ca_file(ca_file.as_deref()).timeout(Duration::from_secs(30)).build().unwrap();
        let stack = Stack {
            router: router_url.clone(),
            router_admin: format!("http://127.0.0.1:{}", layout.router_admin),
            api: http.with_base(&router_url),
            http,
            state,
            env,
            layout,
            faults,
            port_claim,
            scheme,
            ca_file,
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

    /// The deployment's service token (generated by up.sh into the state folder).
    pub fn service_token(&self) -> String {
        self.secret("LOYALTY_SERVICE_TOKEN")
    }

    /// The router's proxy token, which the console vouches for its visitors with.
    pub fn proxy_token(&self) -> String {
        self.secret("LOYALTY_PROXY_TOKEN")
    }

    fn secret(&self, name: &str) -> String {
        let secrets = std::fs::read_to_string(self.state.join("secrets.env")).unwrap();
        secrets.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix('=')).unwrap().to_owned()
    }

    fn region(&self, id: &str) -> &topology::RegionPorts {
        self.layout.region(id).unwrap_or_else(|| panic!("no region {id} in the topology"))
    }

    pub fn api_url(&self, region: &str, instance: u16) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.region(region).api[usize::from(instance)].port)
    }

    /// Kills one API instance outright (`kill -9`).
    pub fn kill_api(&self, region: &str, instance: u16) {
        let pidfile = self.state.join("run").join(format!("api-{region}-{instance}.pid"));
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let status = Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
        assert!(status.success());
        // SIGKILL takes effect when the process next leaves the kernel, which on a loaded
        // machine took long enough that `up` (healing) still found it running and then
        // saw it exit (a CI failure): wait until it is gone or a zombie.
        let status = format!("/proc/{}/status", pid.trim());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&status)
            .is_ok_and(|s| !s.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
        {
            assert!(Instant::now() < deadline, "api-{region}-{instance} still runs 10 s after SIGKILL");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sets a fault on a link of the fault proxy (`api-001-0`, `pg-003`, `pg-003-standby`).
    pub async fn fault(&self, link: &str, fault: Value) {
        let control = self.faults.as_ref().expect("a drill stack");
        let res = self.http.raw(Method::PUT, &format!("{control}/links/{link}")).json(&fault).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    }

    /// Clears every fault.
    pub async fn heal(&self) {
        let control = self.faults.as_ref().expect("a drill stack");
        let res = self.http.raw(Method::POST, &format!("{control}/heal")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    fn pg(&self, args: &[&str]) {
        let status = Command::new("bash").arg(root().join("infra/local/pg.sh")).args(args).status().unwrap();
        assert!(status.success(), "pg.sh {args:?} failed");
    }

    /// Runs `sql` on a region's database (as its Postgres superuser); what it printed.
    pub fn sql(&self, region: &str, sql: &str) -> String {
        let port = self.region(region).postgres.port;
        let output = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "loyalty", "-Atc", sql])
            .output()
            .unwrap();
        assert!(output.status.success(), "psql failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// `loyalty-api --audit --across-regions` of a region's database (its primary, or after
    /// a promotion its standby) and of its index against the other regions' groups: the
    /// report as JSON, and whether the books add up.
    pub fn audit(&self, region: &str) -> (Value, bool) {
        self.audit_with(region, &[])
    }

    /// The same with more arguments (`--repair`).
    pub fn audit_with(&self, region: &str, more: &[&str]) -> (Value, bool) {
        let ports = self.region(region);
        let hosts: Vec<String> =
            std::iter::once(&ports.postgres).chain(&ports.standby).map(|p| format!("127.0.0.1:{}", p.port)).collect();
        let url = format!("postgres://postgres@{}/loyalty?target_session_attrs=read-write", hosts.join(","));
        let output = Command::new(bin_dir().join("loyalty-api"))
            .args(["--audit", "--json", "--across-regions", "--config"])
            .arg(self.state.join("topology.toml"))
            .args(more)
            .env("LOYALTY_REGION", region)
            .env("LOYALTY_SERVICE_TOKEN", self.service_token())
            .env("LOYALTY_DATABASE_URL", url)
            .output()
            .unwrap();
        let report = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&output.stderr)));
        (report, output.status.success())
    }

    /// Stops a region's primary Postgres abruptly, as a crash would.
    pub fn kill_primary(&self, region: &str) {
        self.pg(&["kill", self.state.join("pg").join(region).to_str().unwrap()]);
    }

    /// Promotes a region's standby to primary (what RDS does in a Multi-AZ failover).
    pub fn promote_standby(&self, region: &str) {
        let port = self.region(region).standby.expect("a drill stack").port;
        let dir = self.state.join("pg").join(format!("{region}-standby"));
        self.pg(&["promote", dir.to_str().unwrap(), &port.to_string()]);
    }

    /// The pid of an API instance.
    pub fn api_pid(&self, region: &str, instance: u16) -> u32 {
        let pidfile = self.state.join("run").join(format!("api-{region}-{instance}.pid"));
        std::fs::read_to_string(pidfile).unwrap().trim().parse().unwrap()
    }

    /// Resident memory of an API instance, in KiB.
    pub fn api_rss_kib(&self, region: &str, instance: u16) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.api_pid(region, instance))).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// A gauge or counter from an API instance's /metrics (summed over its label sets).
    pub async fn api_metric(&self, region: &str, instance: u16, name: &str) -> f64 {
        let text =
            self.http.raw(Method::GET, &format!("{}/metrics", self.api_url(region, instance))).send().await.unwrap();
        let text = text.text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
        let mut req = self.http.raw(method, &format!("{}{path}", self.router));
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
        self.http
            .raw(Method::POST, &format!("{base}{path}"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
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
        let errors = if std::thread::panicking() { Vec::new() } else { logs::errors(&self.state.join("log")) };
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
        let _ = std::fs::remove_file(&self.port_claim);
        let _ = std::fs::remove_dir_all(&self.state);
        assert!(errors.is_empty(), "the services logged errors:\n{}", errors.join("\n"));
    }
}
