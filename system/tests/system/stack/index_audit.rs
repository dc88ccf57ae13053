//! The audit of each region's membership index against the other regions' groups
//! (`loyalty-api --audit --across-regions`): what it finds when they part, as after a
//! database restored from a backup, how `--repair` sets them right, and that a region it
//! cannot ask fails it.

use crate::support::{Stack, expect_error, expect_json};
use contract::dto::User;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn the_index_is_audited_against_every_regions_groups_and_set_right_on_request() {
    let stack = Stack::start(1);
    let (ann, ann_token) = stack.customer("001").await;
    let staff3 = stack.staff("003").await;
    let group = stack.new_group(&staff3, "Tokyo team", "Tokyo", "003").await;
    let joined = stack.invite_and_join(&staff3, group.id.as_str(), ann.id.as_str(), &ann_token, true).await;
    expect_json::<Value>(joined, StatusCode::CREATED).await;
    let shows_the_group = || async {
        let me: User =
            expect_json(stack.get(&format!("/v1/users/{}", ann.id), Some(&ann_token)).await, StatusCode::OK).await;
        me.groups.contains(&group.id)
    };
    stack.eventually("the group shows in Ann's home region", shows_the_group).await;
    for region in ["001", "002", "003"] {
        let (audit, clean) = stack.audit(region);
        assert!(clean, "{audit}");
    }
    let (audit, _) = stack.audit("001");
    assert!(audit["memberships"].as_u64() >= Some(2), "Ann's membership, and her index's row of it: {audit}");
    // What the audit reads is for the regions alone: the router forwards none of it, even
    // to a caller who holds the service token.
    for (method, path) in [
        (client::Method::GET, "/internal/memberships?home_region=001&limit=10"),
        (client::Method::POST, "/internal/memberships/at"),
    ] {
        let asked = stack
            .http
            .raw(method, &format!("{}{path}", stack.router))
            .header("X-Service-Token", stack.service_token())
            .json(&json!({"home_region": "001", "items": [{"group_id": group.id, "user_id": ann.id}]}))
            .send()
            .await
            .unwrap();
        expect_error(asked, StatusCode::NOT_FOUND, "not_found").await;
    }

    // Ann's index row of the group gone, as if 001 were restored from before the event of
    // her joining, and a row naming a group 003 never had, as if 003 were restored from
    // before one.
    let (ann_id, gid) = (ann.id.as_str(), group.id.as_str());
    stack.sql("001", &format!("DELETE FROM user_group_index WHERE user_id = '{ann_id}' AND group_id = '{gid}'"));
    stack.sql(
        "001",
        &format!("INSERT INTO user_group_index (user_id, group_id, active, version) VALUES ('{ann_id}', '003-nosuch', true, 1)"),
    );
    assert!(!shows_the_group().await, "the index is what lists a member's groups");
    let found = json!([
        {"finding": "index_behind_group", "group": gid, "user": ann_id, "index_version": null, "group_version": 1},
        {"finding": "index_ahead_of_group", "group": "003-nosuch", "user": ann_id, "index_version": 1, "group_version": null},
    ]);
    let (audit, clean) = stack.audit("001");
    assert!(!clean, "{audit}");
    assert_eq!((&audit["findings"], &audit["repaired"]), (&found, &json!([])), "{audit}");
    let (audit, clean) = stack.audit("002");
    assert!(clean, "another region's index is not Ann's: {audit}");

    // --repair sets both right and says so; the audit after it finds nothing, and Ann sees
    // her group again.
    let (audit, clean) = stack.audit_with("001", &["--repair"]);
    assert!(clean, "{audit}");
    assert_eq!((&audit["findings"], &audit["repaired"]), (&json!([]), &found), "{audit}");
    let (audit, clean) = stack.audit("001");
    assert!(clean && audit["repaired"] == json!([]), "{audit}");
    assert!(shows_the_group().await);
    let rows = format!("SELECT count(*) FROM user_group_index WHERE user_id = '{ann_id}' AND group_id = '003-nosuch'");
    assert_eq!(stack.sql("001", &rows).trim(), "0");

    // A region the audit cannot ask leaves the index unchecked: that fails it too.
    stack.kill_api("003", 0);
    let (audit, clean) = stack.audit("001");
    assert!(!clean, "{audit}");
    assert_eq!(audit["findings"], json!([]), "{audit}");
    let unreached = audit["regions_unreached"].as_array().cloned().unwrap_or_default();
    assert!(unreached.len() == 1 && unreached[0].as_str().is_some_and(|r| r.starts_with("003: ")), "{audit}");
}
