//! Every statement written by hand (SQL text, or a `QueryFragment` for the batched
//! writes) run against a database migrated from scratch, with rows to read back, so a
//! column a migration renames or retypes fails here rather than in a region. Statements
//! built with diesel's DSL are checked by the compiler against `schema.rs`, and
//! `infra/local/schema.sh` checks `schema.rs` against the migrations.

use chrono::{Duration, Utc};
use contract::dto::{Audience, Role};
use contract::{GroupId, UserId};
use diesel_migrations::MigrationHarness;
use serde_json::json;

use crate::support::postgres::TestDb;
use api::db::directory::Confirmed;
use api::db::{
    directory, discounts, email_failures, groups, idempotency, invitations, ledger, lockouts, login_networks,
    membership_check, offers, outbox, revocations, users,
};

const USER: &str = "001-stmusr";
const GROUP: &str = "001-stmgrp";

#[test]
fn every_hand_written_statement_runs_against_the_migrated_schema() {
    let db = TestDb::create();
    let conn = &mut db.connect();
    conn.run_pending_migrations(api::db::MIGRATIONS).unwrap();

    // A user, their group and the membership, as a sign-up writes them.
    let (user_id, group_id): (UserId, GroupId) = (USER.parse().unwrap(), GROUP.parse().unwrap());
    let group =
        groups::NewGroupRow { id: &group_id, name: "Statements", location: "", personal_of: None, owner_id: "" };
    assert!(groups::insert(conn, &group).unwrap());
    let user = users::NewUserRow {
        id: &user_id,
        email: "statements@test.loyalty",
        password_hash: "not a hash",
        role: Role::Customer,
        full_name: "Stella Statement",
        phone: None,
        location: None,
        age: None,
        personal_group_id: &group_id,
    };
    assert!(users::insert(conn, &user).unwrap());
    groups::set_personal_of(conn, GROUP, USER).unwrap();
    let member = groups::set_membership(conn, GROUP, USER, true, true, None).unwrap();
    users::apply_membership(conn, USER, GROUP, true, member.version).unwrap();
    users::apply_membership(conn, USER, GROUP, false, member.version).unwrap(); // not newer: ignored
    assert_eq!(users::group_ids(conn, USER).unwrap().iter().map(|g| g.as_str()).collect::<Vec<_>>(), [GROUP]);
    // The audit's membership check, both sides (here one region plays both).
    let listed = membership_check::of_home_region(conn, "001", "", "", 10).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].version, listed[0].active, listed[0].undelivered), (member.version, true, false));
    assert!(membership_check::of_home_region(conn, "001", GROUP, USER, 10).unwrap().is_empty(), "after the last");
    assert!(membership_check::of_home_region(conn, "002", "", "", 10).unwrap().is_empty());
    assert_eq!(membership_check::at(conn, "001", &[GROUP, "001-nosuch"], &[USER, USER]).unwrap(), listed);
    let indexed = membership_check::index_at(conn, &[GROUP], &[USER]).unwrap();
    assert_eq!(indexed, listed);
    assert_eq!(membership_check::index_of_groups_in(conn, "001", "", "", 10).unwrap(), listed);
    assert!(membership_check::index_of_groups_in(conn, "003", "", "", 10).unwrap().is_empty());
    // The repair: each change only from the row as read, and only for a user of this region.
    let set = |conn: &mut _, read, to| membership_check::set_index(conn, USER, "002-other1", read, to).unwrap();
    assert!(set(conn, None, Some((true, 2))), "added");
    assert!(!set(conn, None, Some((true, 2))), "already there");
    assert!(!set(conn, Some(1), Some((false, 3))), "read at a version it is no longer at");
    assert!(set(conn, Some(2), Some((false, 3))));
    assert!(!membership_check::set_index(conn, "001-nobody", "002-other1", None, Some((true, 1))).unwrap());
    assert!(!set(conn, Some(2), None) && set(conn, Some(3), None), "removed as read only");
    assert!(!set(conn, None, None));

    // The batched points write: lock, ledger, balances, idempotency records.
    assert_eq!(groups::lock_many(conn, &[GROUP]).unwrap().len(), 1);
    let entry_id = format!("001-{}", ulid::Ulid::new());
    let lines = json!([{"item_id": "001-item01", "qty": 2, "paid_cents": 2_500, "points": 25}]);
    let entry = ledger::NewEntryRow {
        id: &entry_id,
        group_id: GROUP,
        user_id: USER,
        kind: "award",
        points: 25,
        amount_cents: Some(2_500),
        store_region: Some("001"),
        balance_after: 25,
        idempotency_key: "stm-1",
        actor_id: USER,
        gross_cents: Some(2_800),
        discount_cents: Some(300),
        discount_id: Some("001-disc01"),
        discount_name: Some("Three off"),
        offer_id: Some("001-offer1"),
        bill_id: None,
        debt_change: Some(-3),
        lines: Some(&lines),
    };
    let written = ledger::insert_many(conn, &[entry]).unwrap();
    assert_eq!((written[0].points, written[0].actor_id.as_ref().map(|a| a.as_str())), (25, Some(USER)));
    let w = &written[0];
    assert_eq!(
        (w.gross_cents, w.discount_cents, w.discount_id.as_deref(), w.discount_name.as_deref(), w.offer_id.as_deref()),
        (Some(2_800), Some(300), Some("001-disc01"), Some("Three off"), Some("001-offer1"))
    );
    groups::set_points_many(conn, &[(GROUP, 25, 7)]).unwrap();
    assert_eq!(groups::lock_many(conn, &[GROUP]).unwrap()[0].1, 7, "the debt is written with the balance");
    groups::add_open_offers(conn, &[(GROUP, 2), (GROUP, -1)]).unwrap();
    assert_eq!(groups::find_many(conn, &[GROUP]).unwrap()[0].2, 1);
    let body = json!({"points": 25});
    let record = idempotency::NewRecordRow {
        caller_id: USER,
        key: "stm-1",
        fingerprint: "f",
        response_status: 201,
        response_body: &body,
    };
    idempotency::insert_many(conn, &[record]).unwrap();
    let found = idempotency::find_many(conn, &[(USER, "stm-1"), (USER, "absent")]).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[&(USER.to_owned(), "stm-1".to_owned())].response_body, body);
    assert_eq!(idempotency::purge_older_than(conn, Utc::now() - Duration::hours(1), 10).unwrap(), 0);

    // Reads of groups with their members.
    let (read, members) = groups::with_members(conn, GROUP).unwrap().unwrap();
    assert_eq!((read.points, members.len()), (25, 1));
    let here = groups::of_user_here(conn, USER).unwrap();
    assert!(here.user_known);
    assert_eq!((here.index.len(), here.groups.len()), (1, 1));
    let active = groups::active_among(conn, &[(GROUP, USER), (GROUP, "001-nobody")]).unwrap();
    assert_eq!(active.len(), 1);

    // The outbox: enqueue, claim, retry, deliver, purge.
    outbox::enqueue(conn, "002", "membership", &json!({"n": 1})).unwrap();
    outbox::enqueue(conn, "003", "membership", &json!({"n": 2})).unwrap();
    let claimed = outbox::claim_due(conn, "002", 10, 30).unwrap();
    assert_eq!((claimed.len(), claimed[0].attempts, claimed[0].destination_region.as_str()), (1, 1, "002"));
    let ids: Vec<i64> = claimed.iter().map(|p| p.id).collect();
    assert_eq!(outbox::retry_later(conn, &ids, 5).unwrap(), 1);
    assert_eq!(outbox::backlog(conn).unwrap().0, 2);
    assert_eq!(outbox::mark_delivered(conn, &ids).unwrap(), 1);
    assert_eq!(outbox::claim_due(conn, "003", 10, 30).unwrap().len(), 1, "each destination claims its own");
    assert_eq!(outbox::purge_delivered_before(conn, Utc::now() + Duration::hours(1), 10).unwrap(), 1);

    // The email directory's reservation protocol.
    let lease = directory::reserve(conn, "new@test.loyalty", "001", "r1", 30, None).unwrap();
    assert!(lease.unwrap() > directory::now(conn).unwrap());
    assert!(directory::release(conn, "new@test.loyalty", "r1").unwrap());
    assert_eq!(directory::confirm(conn, "new@test.loyalty", USER, "001").unwrap(), Confirmed::Yes);
    assert_eq!(directory::confirm(conn, "new@test.loyalty", "001-another", "001").unwrap(), Confirmed::Taken);

    // Invitations' revocation, and the token denylist.
    let invitation = invitations::NewInvitationRow {
        id: &"001-stminv".parse().unwrap(),
        group_id: &group_id,
        code_hash: "hash",
        can_redeem: false,
        user_id: None,
        created_by: &user_id,
        expires_at: Utc::now() + Duration::hours(1),
    };
    let inserted = invitations::insert(conn, &invitation).unwrap().unwrap();
    let at = contract::cursor::LedgerPosition { created_on: inserted.created_on, id: "001-stminw".into() };
    assert_eq!(invitations::page_of_group(conn, GROUP, Some(&at), 10).unwrap().len(), 1);
    assert!(invitations::revoke(conn, GROUP, "001-stminv").unwrap());
    assert_eq!(invitations::purge_closed_before(conn, Utc::now() - Duration::hours(1), 10).unwrap(), 0);
    assert_eq!(invitations::purge_closed_before(conn, Utc::now() + Duration::hours(1), 10).unwrap(), 1);
    login_networks::remember(conn, USER, "192.0.2.0/24").unwrap();
    login_networks::remember(conn, USER, "192.0.2.0/24").unwrap();
    assert!(login_networks::known(conn, USER, "192.0.2.0/24").unwrap());
    assert!(!login_networks::known(conn, USER, "198.51.100.0/24").unwrap());
    assert_eq!(login_networks::purge_older_than(conn, Utc::now() - Duration::hours(1), 10).unwrap(), 0);
    assert_eq!(login_networks::purge_older_than(conn, Utc::now() + Duration::hours(1), 10).unwrap(), 1);

    // Failed attempts: a lockout counted, locked, read, given back, cleared; a failed login by email.
    const SUBJECT: &str = "a@x.io 192.0.2.1";
    assert_eq!(lockouts::attempt(conn, "login", SUBJECT, 600.0).unwrap(), Some(1));
    assert_eq!(lockouts::attempt(conn, "login", SUBJECT, 600.0).unwrap(), Some(2));
    assert_eq!(lockouts::locked_for(conn, "login", SUBJECT).unwrap(), None);
    assert_eq!(lockouts::lock(conn, "login", SUBJECT, 2.5).unwrap(), 1);
    assert_eq!(lockouts::lock(conn, "login", SUBJECT, 0.5).unwrap(), 1, "the longer lock stands");
    assert_eq!(lockouts::locked_for(conn, "login", SUBJECT).unwrap(), Some(3));
    assert_eq!(lockouts::attempt(conn, "login", SUBJECT, 600.0).unwrap(), None, "nothing counts while locked");
    assert_eq!(lockouts::locked_for(conn, "join", SUBJECT).unwrap(), None, "kinds apart");
    assert_eq!(lockouts::give_back(conn, "login", SUBJECT).unwrap(), Some(1));
    assert_eq!(lockouts::unlock(conn, "login", SUBJECT).unwrap(), 1);
    assert_eq!(lockouts::locked_for(conn, "login", SUBJECT).unwrap(), None);
    assert_eq!(lockouts::attempt(conn, "login", SUBJECT, 0.0).unwrap(), Some(1), "a quiet subject restarts");
    assert_eq!(lockouts::give_back(conn, "login", SUBJECT).unwrap(), Some(0));
    assert_eq!(lockouts::give_back(conn, "login", SUBJECT).unwrap(), None, "never below none");
    assert_eq!(lockouts::clear(conn, "login", SUBJECT).unwrap(), 1);
    lockouts::attempt(conn, "join", USER, 600.0).unwrap();
    assert_eq!(lockouts::purge_older_than(conn, Utc::now() - Duration::hours(1), 10).unwrap(), 0);
    assert_eq!(lockouts::purge_older_than(conn, Utc::now() + Duration::hours(1), 10).unwrap(), 1);
    for _ in 0..3 {
        email_failures::count(conn, "a@x.io").unwrap();
    }
    assert!(email_failures::watched(conn, "a@x.io", 3).unwrap());
    assert!(!email_failures::watched(conn, "a@x.io", 4).unwrap());
    assert!(!email_failures::watched(conn, "b@x.io", 1).unwrap());
    assert_eq!(email_failures::purge_older_than(conn, Utc::now() - Duration::hours(1), 10).unwrap(), 0);
    assert_eq!(email_failures::purge_older_than(conn, Utc::now() + Duration::hours(1), 10).unwrap(), 1);
    diesel::Connection::transaction(conn, |conn| {
        api::db::lock_until_commit(conn, api::db::Guard::Invitations, GROUP)?;
        api::db::lock_until_commit(conn, api::db::Guard::OwnedGroups, USER)
    })
    .unwrap();
    let revocation = revocations::NewRevocation {
        user_id: USER,
        jti: Some("jti"),
        not_before: None,
        expires_at: Utc::now() + Duration::hours(1),
    };
    let seq = revocations::insert(conn, &revocation).unwrap();
    let after = revocations::after(conn, seq - 1, 10).unwrap();
    assert_eq!((after.len(), after[0].settled), (1, false));
    assert_eq!(revocations::purge_expired(conn, 10).unwrap(), 0);

    // Discounts, offers and the bill counts that issue them.
    let discount = discounts::NewDiscountRow {
        id: &"001-disc01".parse().unwrap(),
        name: "Three off",
        percent_off: None,
        amount_off_cents: Some(300),
        min_spend_cents: 0,
        category: Some("mains"),
        valid_from: None,
        valid_until: None,
        audience: Audience::Offer,
        every_n_bills: Some(3),
    };
    discounts::insert(conn, &discount).unwrap().unwrap();
    let change = discounts::DiscountChange { category: Some(None), ..Default::default() };
    assert_eq!(discounts::update(conn, "001-disc01", &change).unwrap().unwrap().category, None);
    assert_eq!(discounts::lock(conn, "001-disc01").unwrap().unwrap().terms().every_n_bills, Some(3));
    let offer = offers::NewOfferRow {
        id: "001-offer2".into(),
        group_id: GROUP.into(),
        discount_id: "001-disc01".into(),
        state: "open",
        expires_at: None,
        issued_by: USER.into(),
    };
    offers::insert_many(conn, &[offer]).unwrap();
    assert_eq!(offers::open_of(conn, &[GROUP]).unwrap().len(), 1);
    offers::mark_used(conn, &[("001-offer2", &entry_id)]).unwrap();
    assert!(offers::mark_used(conn, &[("001-offer2", &entry_id)]).is_err(), "an offer is used once");
    assert_eq!(offers::of_group(conn, GROUP, 10).unwrap()[0].state, "used");
    offers::set_bill_counts(conn, &[(GROUP, "002", 3)]).unwrap();
    offers::set_bill_counts(conn, &[(GROUP, "002", 4)]).unwrap();
    assert_eq!(offers::bill_counts(conn, &[GROUP]).unwrap()[&(GROUP.to_owned(), "002".to_owned())], 4);
    assert!(discounts::delete(conn, "001-disc01").unwrap());

    // Pages of a group's and a member's entries, from the start and past a position.
    let at = contract::cursor::LedgerPosition { created_on: w.created_on, id: entry_id.clone() };
    assert_eq!(ledger::page_of_group(conn, GROUP, None, 10).unwrap().len(), 1);
    assert!(ledger::page_of_group(conn, GROUP, Some(&at), 10).unwrap().is_empty());
    assert_eq!(ledger::page_of_member(conn, USER, None, 10).unwrap()[0].lines, Some(lines.clone()));
    assert!(ledger::page_of_member(conn, USER, Some(&at), 10).unwrap().is_empty());

    // A bill's lines are kept in its entry; a return names its bill.
    assert_eq!(ledger::bills(conn, &[&entry_id]).unwrap()[0].lines, Some(lines));
    assert!(ledger::returns_of(conn, &[&entry_id]).unwrap().is_empty());
    offers::reopen(conn, &["001-offer2"]).unwrap();
    assert_eq!(offers::open_of(conn, &[GROUP]).unwrap().len(), 1);
    assert!(discounts::all(conn).unwrap().is_empty());

    // A closed account: its row erased and skipped by every read, its traces forgotten,
    // its directory entry erased and that user refused by the directory for good.
    login_networks::remember(conn, USER, "198.51.100.0/24").unwrap();
    email_failures::count(conn, "statements@test.loyalty").unwrap();
    for subject in ["statements@test.loyalty 192.0.2.1", "statements@test.loyaltyx 192.0.2.1"] {
        lockouts::attempt(conn, "login", subject, 600.0).unwrap();
    }
    lockouts::attempt(conn, "password", USER, 600.0).unwrap();
    assert_eq!(directory::confirm(conn, "statements@test.loyalty", USER, "001").unwrap(), Confirmed::Yes);
    assert!(users::lock(conn, USER).unwrap().is_some());
    assert!(users::erase(conn, USER).unwrap());
    assert!(!users::erase(conn, USER).unwrap(), "once");
    assert!(users::find(conn, USER).unwrap().is_none() && users::closed(conn, USER).unwrap().is_some());
    assert!(users::find_by_email(conn, &format!("erased:{USER}")).unwrap().is_none());
    assert!(users::lock(conn, USER).unwrap().is_none());
    assert_eq!(login_networks::forget_user(conn, USER).unwrap(), 1);
    assert_eq!(email_failures::forget(conn, "statements@test.loyalty").unwrap(), 1);
    assert_eq!(lockouts::forget_user(conn, "statements@test.loyalty", USER).unwrap(), 2, "not another email's");
    directory::erase(conn, "statements@test.loyalty", USER).unwrap();
    directory::erase(conn, "statements@test.loyalty", USER).unwrap();
    assert!(directory::find(conn, "statements@test.loyalty").unwrap().is_none());
    let again = directory::confirm(conn, "statements@test.loyalty", USER, "001").unwrap();
    assert_eq!(again, Confirmed::Erased, "refused for good");
    let other = directory::confirm(conn, "statements@test.loyalty", "001-newusr", "001").unwrap();
    assert_eq!(other, Confirmed::Yes, "free for others");
}

/// An email's failed logins count for the minute they fall in and the one after: the
/// watch holds while either minute reached the threshold, and ends after a quiet minute.
/// Time is moved by moving the minute's start back.
#[test]
fn failed_logins_of_an_email_count_this_minute_and_the_last() {
    let db = TestDb::create();
    let conn = &mut db.connect();
    conn.run_pending_migrations(api::db::MIGRATIONS).unwrap();
    use diesel::RunQueryDsl;
    let minute_started_ago = |conn: &mut diesel::PgConnection, seconds: i32| {
        diesel::sql_query("UPDATE email_failures SET minute_started = now() - make_interval(secs => $1)")
            .bind::<diesel::sql_types::Integer, _>(seconds)
            .execute(conn)
            .unwrap();
    };
    for _ in 0..3 {
        email_failures::count(conn, "a@x.io").unwrap();
    }
    assert!(email_failures::watched(conn, "a@x.io", 3).unwrap());
    minute_started_ago(conn, 61);
    assert!(email_failures::watched(conn, "a@x.io", 3).unwrap(), "the last minute still counts");
    email_failures::count(conn, "a@x.io").unwrap(); // a new minute: 1, the last: 3
    assert!(email_failures::watched(conn, "a@x.io", 3).unwrap());
    minute_started_ago(conn, 61);
    assert!(!email_failures::watched(conn, "a@x.io", 3).unwrap(), "three failures two minutes ago");
    assert!(email_failures::watched(conn, "a@x.io", 1).unwrap(), "one failure in the last minute");
    minute_started_ago(conn, 121);
    assert!(!email_failures::watched(conn, "a@x.io", 1).unwrap(), "a quiet minute ends the watch");
    email_failures::count(conn, "a@x.io").unwrap(); // nothing carried from two minutes ago
    assert!(!email_failures::watched(conn, "a@x.io", 2).unwrap());
}
