//! loyalty-ops against a mock AWS API (moto_server on loopback), never real AWS:
//! databases are created through the SDK, then discovered by their tags, reported, and
//! failed over by the binary as an operator would run it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use aws_config::Region;
use aws_credential_types::Credentials;
use aws_sdk_rds::types::Tag;
use serde_json::Value;

struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} ({e}): make test installs moto; or set MOTO_SERVER"));
        let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn client(moto: &Moto, aws_region: &str) -> aws_sdk_rds::Client {
    let config = rds::sdk::loader()
        .region(Region::new(aws_region.to_owned()))
        .endpoint_url(&moto.url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    aws_sdk_rds::Client::new(&config)
}

async fn create(client: &aws_sdk_rds::Client, identifier: &str, tags: &[(&str, &str)], multi_az: bool) {
    let mut request = client
        .create_db_instance()
        .db_instance_identifier(identifier)
        .engine("postgres")
        .db_instance_class("db.m7g.large")
        .allocated_storage(100)
        .master_username("loyalty_admin")
        .master_user_password("not-a-real-password")
        .multi_az(multi_az);
    for (k, v) in tags {
        request = request.tags(Tag::builder().key(*k).value(*v).build());
    }
    request.send().await.unwrap();
}

fn ops(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loyalty-ops"))
        .args(["--aws-regions", "eu-west-1,us-east-1", "--endpoint-url", &moto.url, "--json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

#[tokio::test]
async fn discovers_reports_and_fails_over_by_tags() {
    let moto = Moto::start();
    let eu = client(&moto, "eu-west-1").await;
    let us = client(&moto, "us-east-1").await;
    create(&eu, "loyalty-001", &[("loyalty:role", "database"), ("loyalty:region", "001")], true).await;
    create(&us, "loyalty-002", &[("loyalty:role", "database"), ("loyalty:region", "002")], true).await;
    create(&us, "loyalty-003", &[("loyalty:role", "database"), ("loyalty:region", "003")], false).await;
    create(&eu, "someone-elses-db", &[("team", "other")], true).await;

    let output = ops(&moto, &["discover"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let found: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let summary: Vec<(&str, &str, &str, bool)> = found
        .iter()
        .map(|d| {
            (
                d["region"].as_str().unwrap(),
                d["aws_region"].as_str().unwrap(),
                d["identifier"].as_str().unwrap(),
                d["multi_az"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("001", "eu-west-1", "loyalty-001", true),
            ("002", "us-east-1", "loyalty-002", true),
            ("003", "us-east-1", "loyalty-003", false)
        ],
        "only tagged databases, each with its region code"
    );
    assert!(found.iter().all(|d| d["status"] == "available" && d["endpoint"].as_str().is_some_and(|e| !e.is_empty())));

    let output = ops(&moto, &["failover", "002", "--poll", "1", "--timeout", "60"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let after: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(after[0]["identifier"], "loyalty-002");
    assert_eq!(after[0]["status"], "available");
    assert!(String::from_utf8_lossy(&output.stderr).contains("failover of loyalty-002 done"));

    // A single-AZ database cannot be failed over, and unknown regions are refused.
    let output = ops(&moto, &["failover", "003", "--poll", "1"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not Multi-AZ"));
    let output = ops(&moto, &["status", "009"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database is tagged loyalty:region=009"));
    let output = ops(&moto, &["status", "001"]);
    assert!(output.status.success());
    let one: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(one[0]["identifier"], "loyalty-001");
}
