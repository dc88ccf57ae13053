//! The `loyalty` CLI against a throwaway deployment: scriptable subcommands with --json
//! and exit codes, a redemption whose answer is lost and retried with its key, and the
//! interactive menus driven through a pseudo-terminal.
// Test-only code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod menus;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{PASSWORD, STAFF_PASSWORD, Stack, expect_json};
use contract::dto::Group;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

fn loyalty_bin() -> PathBuf {
    crate::support::bin_dir().join("loyalty")
}

/// Runs `loyalty` with its own config directory; returns (exit code, stdout, stderr).
async fn loyalty(url: &str, config: &Path, args: &[&str]) -> (i32, String, String) {
    loyalty_trusting(url, config, None, args).await
}

/// `loyalty` trusting the CA in `ca_file` (`LOYALTY_CA_FILE`) besides the system's roots.
async fn loyalty_trusting(url: &str, config: &Path, ca_file: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(loyalty_bin());
    command.args(args).env("LOYALTY_URL", url).env("LOYALTY_CONFIG_DIR", config).env_remove("LOYALTY_PASSWORD");
    match ca_file {
        Some(ca) => command.env("LOYALTY_CA_FILE", ca),
        None => command.env_remove("LOYALTY_CA_FILE"),
    };
    let output = command.output().await.unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn loyalty_json(url: &str, config: &Path, args: &[&str]) -> Value {
    loyalty_json_trusting(url, config, None, args).await
}

async fn loyalty_json_trusting(url: &str, config: &Path, ca_file: Option<&Path>, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out, err) = loyalty_trusting(url, config, ca_file, &all).await;
    assert_eq!(code, 0, "loyalty {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("loyalty {args:?}: bad JSON ({e}): {out}"))
}

/// The token of the session the CLI keeps in `config`.
fn session_token(config: &Path) -> String {
    let session: Value = serde_json::from_str(&std::fs::read_to_string(config.join("session.json")).unwrap()).unwrap();
    session["token"].as_str().unwrap().to_owned()
}

/// A proxy to `target` that swallows the answer on the first connection (the request
/// reaches the platform; the client sees the connection drop), then forwards faithfully.
async fn lossy_proxy(target: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            tokio::spawn(async move {
                let upstream = TcpStream::connect(&target).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut up_read, mut up_write) = upstream.into_split();
                let forward = tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut up_write).await });
                if n == 0 {
                    let mut answer = vec![0u8; 65_536];
                    let _ = up_read.read(&mut answer).await;
                    forward.abort();
                    drop(client_write);
                } else {
                    let _ = tokio::io::copy(&mut up_read, &mut client_write).await;
                }
            });
        }
    });
    (address, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subcommands_script_the_platform() {
    let stack = Stack::start(1);
    let url = stack.router.clone();
    let dir = stack.state.join("cli");
    let (customer, staff) = (dir.join("customer"), dir.join("staff"));

    let regions = loyalty_json(&url, &customer, &["regions"]).await;
    assert_eq!(regions["items"].as_array().unwrap().len(), 3);
    let email = format!("cli-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
    let user = loyalty_json(
        &url,
        &customer,
        &["signup", "--email", &email, "--password", PASSWORD, "--name", "Cli User", "--region", "002"],
    )
    .await;
    let uid = user["id"].as_str().unwrap().to_owned();
    assert!(uid.starts_with("002-"));
    loyalty_json(&url, &customer, &["login", "--email", &email, "--password", PASSWORD]).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(customer.join("session.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token is readable by its owner only");
    }
    assert_eq!(loyalty_json(&url, &customer, &["me"]).await["id"], uid.as_str());

    // Staff of 002 put a dish on the menu and bill the customer.
    stack.staff("002").await; // the staff account's directory entry has arrived
    loyalty_json(&url, &staff, &["login", "--email", "staff@002.loyalty.local", "--password", STAFF_PASSWORD]).await;
    let item = loyalty_json(
        &url,
        &staff,
        &["item", "add", "--region", "002", "--name", "Empanada", "--price-cents", "2000", "--points", "15"],
    )
    .await;
    let item_id = item["id"].as_str().unwrap().to_owned();
    let line = format!("{item_id}:3");
    // Billed by the email the customer gives.
    let bill = loyalty_json(&url, &staff, &["bill", "--user", &email, "--store", "002", "--item", &line]).await;
    assert_eq!((bill["points_awarded"].as_i64(), bill["user_id"].as_str()), (Some(60), Some(uid.as_str())));

    // A group of 003 to join and leave.
    let staff3 = stack.staff("003").await;
    let group = stack.new_group(&staff3, "Cli club", "Kyoto", "003").await;
    let code = stack.invitation_code(&staff3, group.id.as_str(), false).await;
    let joined = loyalty_json(&url, &customer, &["join", &code]).await;
    assert_eq!(joined["group_id"], group.id.as_str());
    // A used code opens nothing: exit 1 with the platform's reason.
    let (code_status, _, err) = loyalty(&url, &customer, &["join", &code]).await;
    assert_eq!(code_status, 1, "{err}");
    assert!(err.contains("invitation_invalid"), "{err}");
    // The home region's index learns of the join through the outbox: within seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let groups = loyalty_json(&url, &customer, &["groups"]).await;
        if groups["items"].as_array().unwrap().iter().any(|g| g["id"] == group.id.as_str()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the joined group never showed: {groups}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loyalty_json(&url, &customer, &["leave", group.id.as_str()]).await;

    // The customer owns a group of their own and governs it from the command line.
    let team = loyalty_json(&url, &customer, &["new-group", "--name", "Cli team"]).await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    assert!(team_id.starts_with("002-") && team["owner_id"] == uid.as_str(), "{team}");
    let (friend, friend_token) = stack.customer("001").await;
    let invitation = loyalty_json(&url, &customer, &["invite", &team_id, "--for", friend.id.as_str()]).await;
    let code = invitation["code"].as_str().unwrap();
    let join = json!({"user_id": friend.id, "invitation": code});
    expect_json::<Value>(
        stack.post(&format!("/v1/groups/{team_id}/members"), Some(&friend_token), &join).await,
        StatusCode::CREATED,
    )
    .await;
    let (status, out, _) = loyalty(&url, &customer, &["members", &team_id]).await;
    assert_eq!(status, 0);
    assert!(out.contains(&format!("{}  member  may not redeem", friend.id)) && out.contains("2/10 members"), "{out}");
    let granted = loyalty_json(&url, &customer, &["grant", &team_id, friend.id.as_str()]).await;
    assert_eq!(granted["can_redeem"], true);
    let withdrawn = loyalty_json(&url, &customer, &["grant", &team_id, friend.id.as_str(), "--withdraw"]).await;
    assert_eq!(withdrawn["can_redeem"], false);
    let spare = loyalty_json(&url, &customer, &["invite", &team_id, "--can-redeem", "--expires-in", "600"]).await;
    let spare_id = spare["id"].as_str().unwrap();
    loyalty_json(&url, &customer, &["revoke", &team_id, spare_id]).await;
    let (_, listed, _) = loyalty(&url, &customer, &["invitations", &team_id]).await;
    assert!(listed.contains(&format!("used by {}", friend.id)) && listed.contains("revoked"), "{listed}");
    let handed = loyalty_json(&url, &customer, &["hand-over", &team_id, friend.id.as_str()]).await;
    assert_eq!(handed["owner_id"], friend.id.as_str());
    // No longer the owner: removing the new owner is refused.
    let (status, _, err) = loyalty(&url, &customer, &["remove", &team_id, friend.id.as_str()]).await;
    assert_eq!(status, 1, "{err}");
    loyalty_json(&url, &customer, &["leave", &team_id]).await;

    // Redemptions: by points and by item; a refusal exits 1 and explains itself.
    let personal = user["personal_group_id"].as_str().unwrap().to_owned();
    let redeemed = loyalty_json(&url, &customer, &["redeem", &personal, "--points", "5"]).await;
    assert_eq!(redeemed["balance_after"], 55);
    let redeemed = loyalty_json(&url, &customer, &["redeem", &personal, "--item", &item_id, "--qty", "2"]).await;
    assert_eq!(redeemed["points"], 30);
    let (code, _, err) = loyalty(&url, &customer, &["redeem", &personal, "--points", "1000"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("insufficient_points") && err.contains("request "), "{err}");
    let activity = loyalty_json(&url, &customer, &["activity"]).await;
    assert_eq!(activity["items"].as_array().unwrap().len(), 3);
    let (code, out, _) = loyalty(&url, &customer, &["catalogue", "002"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("Empanada") && out.contains("20.00"), "{out}");
    // A customer cannot bill: refused, exit 1.
    let (code, _, err) = loyalty(&url, &customer, &["bill", "--user", &uid, "--store", "002", "--item", &line]).await;
    assert_eq!(code, 1, "{err}");
    // Staff take the dish off the menu: gone from it, and no longer billed.
    let (code, out, err) = loyalty(&url, &staff, &["item", "remove", &item_id]).await;
    assert!(code == 0 && out.contains(&format!("{item_id} removed")), "{out}{err}");
    let (_, out, _) = loyalty(&url, &customer, &["catalogue", "002"]).await;
    assert!(!out.contains("Empanada"), "{out}");
    let (code, _, err) = loyalty(&url, &staff, &["bill", "--user", &uid, "--store", "002", "--item", &line]).await;
    assert!(code == 1 && err.contains("not_found"), "{err}");

    // A lost answer: the redemption reaches the platform, the connection drops, the CLI
    // retries with the same key, and it is applied once.
    let (proxy, connections) = lossy_proxy(url.trim_start_matches("http://").to_owned()).await;
    let redeemed = loyalty_json(&proxy, &customer, &["redeem", &personal, "--points", "7"]).await;
    assert!(connections.load(Ordering::SeqCst) >= 2, "the first answer was lost and the CLI retried");
    assert_eq!(redeemed["balance_after"], 55 - 30 - 7);
    let ledger = loyalty_json(&url, &customer, &["activity"]).await;
    let sevens = ledger["items"].as_array().unwrap().iter().filter(|e| e["points"] == -7).count();
    assert_eq!(sevens, 1, "applied exactly once: {ledger}");

    // A new password: a wrong current one is refused (exit 1); the right one revokes the
    // session's token, and the CLI logs in again with the new password.
    let old_token = session_token(&customer);
    let new_password = "the cli's new passphrase";
    let (code, _, err) = loyalty(&url, &customer, &["password", "--current", "wrong one", "--new", new_password]).await;
    assert!(code == 1 && err.contains("forbidden"), "{err}");
    let changed = loyalty_json(&url, &customer, &["password", "--current", PASSWORD, "--new", new_password]).await;
    assert_eq!(changed["user_id"], uid.as_str());
    let res = stack.get(&format!("/v1/users/{uid}"), Some(&old_token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the token from before the change is refused");
    assert_eq!(loyalty_json(&url, &customer, &["me"]).await["id"], uid.as_str());
    let (code, _, _) =
        loyalty(&url, &dir.join("elsewhere"), &["login", "--email", &email, "--password", PASSWORD]).await;
    assert_eq!(code, 4, "the old password opens nothing (401: exit 4)");

    // Logging out revokes the token on the platform and removes it here; then commands
    // say so with exit code 4.
    let token = session_token(&customer);
    let out = loyalty_json(&url, &customer, &["logout"]).await;
    assert_eq!(out, json!({"logged_out": true, "token_revoked": true}));
    assert!(!customer.join("session.json").exists());
    let res = stack.get(&format!("/v1/users/{uid}"), Some(&token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the old token is refused");
    let (code, _, err) = loyalty(&url, &customer, &["me"]).await;
    assert_eq!(code, 4, "{err}");

    // Closing the account: the points left in the personal group are named, or nothing
    // is closed (exit 1, the platform saying how many there are).
    loyalty_json(&url, &customer, &["login", "--email", &email, "--password", new_password]).await;
    let (code, _, err) = loyalty(&url, &customer, &["close-account", "--current", new_password]).await;
    assert!(code == 1 && err.contains("points_remaining") && err.contains("holds 18 points"), "{err}");
    let close = ["close-account", "--current", new_password, "--forfeit-points", "18"];
    assert_eq!(loyalty_json(&url, &customer, &close).await["closed"], uid.as_str());
    assert!(!customer.join("session.json").exists());
    let (code, _, _) = loyalty(&url, &customer, &["login", "--email", &email, "--password", new_password]).await;
    assert_eq!(code, 4, "the closed account opens nothing");
    // The platform unreachable: exit code 3.
    let (code, _, _) = loyalty("http://127.0.0.1:9", &customer, &["regions"]).await;
    assert_eq!(code, 3);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// The platform with TLS on every hop (`make up TLS=1`): the CLI to the router, the router
/// to the regions, and region to region (the outbox relay carrying a membership to the
/// member's home region; a bill priced from another region's menu).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hop_speaks_tls() {
    use crate::support::Options;
    let stack = Stack::start_with(Options { instances: 1, drill: false, real_limits: false, tls: true });
    let url = stack.router.clone();
    assert!(url.starts_with("https://"));
    let ca = stack.ca_file.clone().unwrap();
    let dir = stack.state.join("cli");
    let (customer, staff) = (dir.join("customer"), dir.join("staff"));

    // Plain HTTP is not served, and a client that does not trust the CA gets nowhere.
    let plain = url.replacen("https://", "http://", 1);
    let refused = stack.http.raw(client::Method::GET, &format!("{plain}/readyz")).send().await;
    assert!(refused.is_err(), "plain HTTP answered: {refused:?}");
    let api_plain = stack.api_url("001", 0).replacen("https://", "http://", 1);
    assert!(stack.http.raw(client::Method::GET, &format!("{api_plain}/readyz")).send().await.is_err());
    let (code, _, err) = loyalty_trusting(&url, &customer, None, &["regions"]).await;
    assert_eq!(code, 3, "an untrusted certificate is unreachable: {err}");

    let regions = loyalty_json_trusting(&url, &customer, Some(&ca), &["regions"]).await;
    assert!(regions["items"].as_array().unwrap().iter().all(|r| r["status"] == "up"), "{regions}");
    let email = format!("tls-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
    let signup = ["signup", "--email", &email, "--password", PASSWORD, "--name", "Tls User", "--region", "001"];
    let user = loyalty_json_trusting(&url, &customer, Some(&ca), &signup).await;
    let uid = user["id"].as_str().unwrap().to_owned();
    loyalty_json_trusting(&url, &customer, Some(&ca), &["login", "--email", &email, "--password", PASSWORD]).await;

    // A group kept in 002: the member's index in 001 follows over the relay (002 → 001).
    let group =
        loyalty_json_trusting(&url, &customer, Some(&ca), &["new-group", "--name", "Tls", "--region", "002"]).await;
    let gid = group["id"].as_str().unwrap().to_owned();
    assert!(gid.starts_with("002-"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let groups = loyalty_json_trusting(&url, &customer, Some(&ca), &["groups"]).await;
        let listed = groups["items"].as_array().unwrap().iter().any(|g| g["id"] == gid.as_str());
        if listed {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the membership never reached 001: {groups}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Staff of 001 bill the 002 group from 001's menu: 002 prices it by asking 001.
    stack.staff("001").await;
    let staff_login = ["login", "--email", "staff@001.loyalty.local", "--password", STAFF_PASSWORD];
    loyalty_json_trusting(&url, &staff, Some(&ca), &staff_login).await;
    let add = ["item", "add", "--region", "001", "--name", "Crepe", "--price-cents", "1500", "--points", "10"];
    let item = loyalty_json_trusting(&url, &staff, Some(&ca), &add).await;
    let line = format!("{}:2", item["id"].as_str().unwrap());
    let bill = ["bill", "--user", &uid, "--group", &gid, "--store", "001", "--item", &line];
    let bill = loyalty_json_trusting(&url, &staff, Some(&ca), &bill).await;
    assert_eq!(bill["points_awarded"], 30);
    let activity = loyalty_json_trusting(&url, &customer, Some(&ca), &["activity"]).await;
    assert!(activity["items"].as_array().unwrap().iter().any(|e| e["group_id"] == gid.as_str()), "{activity}");
}
