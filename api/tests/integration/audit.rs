//! `loyalty-api --audit`: every group's books checked from the database's side. The 27
//! checks of other tests (`assert_ledger_consistent`) run it over their databases too,
//! so it reads clean books of every kind (bills, discounts, offers, returns with debt,
//! races) and finds nothing; here it must name each way a book can be wrong, and each
//! answer kept for a retry that the books do not bear out.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use api::db::audit::Finding;
use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, expect_json};

/// `program` told where the audit's database is (the binary itself, or a script that
/// runs it).
fn on_database(program: &str, database_url: &str) -> Command {
    let mut command = Command::new(program);
    command.env("LOYALTY_DATABASE_URL", database_url).env("LOYALTY_DB__STARTUP_WAIT_SECS", "5");
    command
}

#[allow(clippy::unwrap_used)] // test helper: a command that cannot start stops the test
fn audit_binary(database_url: &str) -> std::process::Output {
    on_database(env!("CARGO_BIN_EXE_loyalty-api"), database_url).args(["--audit", "--json"]).output().unwrap()
}

#[tokio::test]
async fn the_audit_names_every_book_that_does_not_add_up() {
    let app = TestApp::spawn().await;
    let staff_session = app.login(crate::support::STAFF_EMAIL, crate::support::PASSWORD).await;
    let staff = staff_session.token.clone();
    // A group with a bill, a redemption and a return that leaves a debt.
    let funded = app.customer_with_points(50).await;
    let soup = app.dish(&staff, "mains", 3_000).await;
    let body = json!({"user_id": funded.user.id, "store_region": "001", "items": [{"item_id": soup, "qty": 1}]});
    let bill: Value = expect_json(app.post_once("/v1/bills", &staff, "b", &body).await, StatusCode::CREATED).await;
    let spent = app.post_once(&funded.redemptions, &funded.token, "r", &json!({"points": 70})).await;
    let _: Value = expect_json(spent, StatusCode::CREATED).await;
    let back = format!("/v1/bills/{}/returns", bill["id"].as_str().unwrap());
    let returned: Value = expect_json(app.post_once(&back, &staff, "x", &json!({})).await, StatusCode::CREATED).await;
    assert_eq!(returned["points_owed"], 20, "the return leaves a debt: {returned}");
    // A second group, whose bill uses an offer of a half-price discount.
    let other = app.customer_with_points(5).await;
    let half = app.discount(&staff, json!({"name": "Half", "percent_off": 50, "audience": "offer"})).await;
    let offers = format!("/v1/groups/{}/offers", other.group);
    let offer: Value = expect_json(
        app.post_once(&offers, &staff, "o", &json!({"discount_id": half["id"]})).await,
        StatusCode::CREATED,
    )
    .await;
    let body = json!({"user_id": other.user.id, "store_region": "001", "items": [{"item_id": soup, "qty": 1}]});
    let used: Value = expect_json(app.post_once("/v1/bills", &staff, "h", &body).await, StatusCode::CREATED).await;
    assert_eq!(used["discounts"][0]["offer_id"], offer["id"], "{used}");

    let db = api::db::Db::new(&app.db.url, &app.config.db, None);
    let deadline = Instant::now() + Duration::from_secs(5);
    let clean = db.audit(deadline, 1).unwrap();
    assert!(clean.findings.is_empty(), "{:?}", clean.findings);
    assert!(clean.groups >= 2 && clean.entries >= 5, "{clean:?}");
    // The two bills that funded the customers, and the five writes above.
    assert_eq!(clean.answers, 7, "{clean:?}");
    let out = audit_binary(&app.db.url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Seven ways the books can be wrong, each written past the API: four in the first
    // group, the second group's offer said to be used by its first bill, its member's
    // index saying they left it, and the redemption's kept answer naming an entry the
    // ledger does not hold. The first group's bill entry, changed, no longer bears out its
    // kept answer either.
    let (group, entry) = (&funded.group, bill["id"].as_str().unwrap());
    app.db
        .connect()
        .batch_execute(&format!(
            "UPDATE groups SET points = points + 1, points_debt = 0, open_offers = 2 WHERE id = '{group}';
             UPDATE ledger_entries SET balance_after = balance_after + 1 WHERE id = '{entry}';
             UPDATE ledger_entries SET debt_change = coalesce(debt_change, 0) + 100 WHERE bill_id = '{entry}';
             UPDATE offers SET used_by_bill = (SELECT id FROM ledger_entries WHERE group_id = '{other}' AND offer_id IS NULL)
              WHERE group_id = '{other}';
             UPDATE user_group_index SET active = false WHERE group_id = '{other}';
             UPDATE idempotency_records SET response_body = jsonb_set(response_body, '{{id}}', '\"001-gone00\"')
              WHERE key = 'r';",
            other = other.group
        ))
        .unwrap();
    let found = db.audit(deadline, 1).unwrap().findings;
    let group = group.to_string();
    let offer = offer["id"].as_str().unwrap().to_owned();
    let expected = [
        Finding::BalanceIsNotLedgerSum { group: group.clone(), balance: 1, ledger_sum: 0 },
        Finding::DebtIsNotLedgerSum { group: group.clone(), debt: 0, ledger_sum: 120 },
        Finding::BrokenChain { group: group.clone(), entry: entry.to_owned() },
        Finding::OpenOffersMiscounted { group: group.clone(), kept: 2, counted: 0 },
        Finding::ReturnedMoreThanAwarded { group: group.clone(), bill: entry.to_owned() },
        Finding::OfferUsedByNoBill { group: other.group.clone(), offer },
        Finding::MembershipIndexOff { group: other.group.clone(), user: other.user.id.to_string() },
        Finding::AnswerNotInBooks {
            caller: staff_session.user_id.to_string(),
            key: "b".into(),
            answered: Some(entry.to_owned()),
        },
        Finding::AnswerNotInBooks {
            caller: funded.user.id.to_string(),
            key: "r".into(),
            answered: Some("001-gone00".into()),
        },
    ];
    // Groups come in id order; each fault once, and nothing else.
    assert_eq!(found.len(), expected.len(), "{found:?}");
    assert!(expected.iter().all(|f| found.contains(f)), "{found:?}");

    let out = audit_binary(&app.db.url);
    assert_eq!(out.status.code(), Some(1), "findings fail the command");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(9), "{report}");
    assert_eq!(report["answers"], 7, "{report}");
}

/// The daily audit as an instance's timer runs it: `audit.sh` (the script the API
/// instances get) with `aws` replaced by a recorder, against the real binary and
/// database. One instance claims the day and sends one report; a second try that day
/// sends nothing; a claim its instance left unfinished for an hour is taken over.
#[tokio::test]
async fn the_daily_audit_runs_once_a_day_and_sends_one_report() {
    let app = TestApp::spawn().await;
    let customer = app.customer_with_points(10).await;
    let dir = tempfile::tempdir().unwrap();
    let (config, record, fake_bin) = (dir.path().join("api.toml"), dir.path().join("aws.log"), dir.path().join("bin"));
    // Only this region: the index check has no other region to ask.
    std::fs::write(&config, "[[regions]]\nid = \"001\"\nname = \"Europe\"\n").unwrap();
    std::fs::create_dir(&fake_bin).unwrap();
    let aws = fake_bin.join("aws");
    // The recorder: each call's arguments on a line, then the events file it was given.
    let recorder = format!(
        "#!/bin/bash\necho \"$*\" >>'{log}'\nfor a in \"$@\"; do case $a in file://*) cat \"${{a#file://}}\" >>'{log}'; echo >>'{log}';; esac; done\n",
        log = record.display()
    );
    std::fs::write(&aws, recorder).unwrap();
    std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/terraform/modules/region/audit.sh");
    let run_script = || {
        on_database("bash", &app.db.url)
            .arg(script)
            .env("PATH", format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("LOYALTY_API", env!("CARGO_BIN_EXE_loyalty-api"))
            .env("LOYALTY_CONFIG", &config)
            .env("LOYALTY_AUDIT_LOG_GROUP", "/loyalty/001/audit")
            .output()
            .unwrap()
    };
    let hostname = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap().trim().to_owned();

    let first = run_script();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let calls = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(lines.len(), 3, "a stream made, one event sent: {calls}");
    assert_eq!(
        lines[0],
        format!("logs create-log-stream --log-group-name /loyalty/001/audit --log-stream-name {hostname}")
    );
    assert!(
        lines[1].starts_with(&format!(
            "logs put-log-events --log-group-name /loyalty/001/audit --log-stream-name {hostname} --log-events file://"
        )),
        "{calls}"
    );
    let events: Value = serde_json::from_str(lines[2]).unwrap();
    assert!(events[0]["timestamp"].as_i64().unwrap() > 1_700_000_000_000, "milliseconds: {events}");
    let report: Value = serde_json::from_str(events[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(
        (report["region"].as_str(), report["instance"].as_str()),
        (Some("001"), Some(hostname.as_str())),
        "{report}"
    );
    assert_eq!(report["findings"], 0, "{report}");
    assert!(report["groups"].as_u64().unwrap() >= 1 && report["entries"].as_i64().unwrap() >= 1, "{report}");

    // The day is done: another try, on any instance, reads nothing and sends nothing.
    let again = run_script();
    assert!(again.status.success() && again.stdout.is_empty(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("is done by {hostname}")), "{again:?}");
    assert_eq!(std::fs::read_to_string(&record).unwrap(), calls, "nothing more sent");

    // A claim left unfinished an hour ago (its instance died) is taken over; the books,
    // now off, are reported and the command fails.
    let mut conn = app.db.connect();
    conn.batch_execute(&format!(
        "UPDATE audit_days SET finished_on = NULL, findings = NULL, claimed_on = now() - interval '61 minutes';
         UPDATE groups SET points = points + 1 WHERE id = '{}';",
        customer.group
    ))
    .unwrap();
    let daily = |instance: &str| {
        let mut command = on_database(env!("CARGO_BIN_EXE_loyalty-api"), &app.db.url);
        command.args(["--audit", "--daily", instance]).env("LOYALTY_CONFIG", &config);
        command
    };
    let taken = daily("i-second").output().unwrap();
    assert_eq!(taken.status.code(), Some(1), "findings fail it: {taken:?}");
    let report: Value = serde_json::from_slice(&taken.stdout).unwrap();
    assert_eq!((report["instance"].as_str(), report["findings"].as_u64()), (Some("i-second"), Some(1)), "{report}");
    assert_eq!(report["first_findings"].as_array().map(Vec::len), Some(1), "{report}");
    assert!(report["first_findings"][0].as_str().unwrap().contains(&customer.group.to_string()), "{report}");

    // A claim held now, not yet an hour old, is left to its instance.
    conn.batch_execute("UPDATE audit_days SET finished_on = NULL, claimed_on = now() - interval '59 minutes'").unwrap();
    let held = daily("i-third").output().unwrap();
    assert!(held.status.success() && held.stdout.is_empty(), "{held:?}");
    assert!(String::from_utf8_lossy(&held.stderr).contains("is claimed by i-second"), "{held:?}");

    // Four instances whose timers fire at once: one claims the day and reports.
    conn.batch_execute("DELETE FROM audit_days").unwrap();
    let started: Vec<_> = (0..4)
        .map(|i| {
            let mut racer = daily(&format!("i-racer-{i}"));
            racer.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let outputs: Vec<_> = started.into_iter().map(|child| child.wait_with_output().unwrap()).collect();
    let reports = outputs.iter().filter(|out| !out.stdout.is_empty()).count();
    assert_eq!(reports, 1, "{outputs:?}");

    // An audit that could not ask a region leaves the day to the next try.
    conn.batch_execute("DELETE FROM audit_days").unwrap();
    let with_peer = dir.path().join("with-peer.toml");
    std::fs::write(
        &with_peer,
        "[[regions]]\nid = \"001\"\nname = \"Europe\"\n\n[[regions]]\nid = \"002\"\nname = \"Americas\"\nurls = [\"http://127.0.0.1:1\"]\n",
    )
    .unwrap();
    let unreached = daily("i-cut-off").arg("--across-regions").env("LOYALTY_CONFIG", &with_peer).output().unwrap();
    assert_eq!(unreached.status.code(), Some(1), "{unreached:?}");
    let report: Value = serde_json::from_slice(&unreached.stdout).unwrap();
    assert_eq!(report["regions_unreached"].as_array().map(Vec::len), Some(1), "{report}");
    let next = daily("i-next").output().unwrap();
    let report: Value = serde_json::from_slice(&next.stdout).unwrap();
    assert_eq!(report["instance"], "i-next", "the day was left open: {next:?}");
}
