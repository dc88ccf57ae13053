use chrono::{DateTime, Utc};
use contract::dto::EntryKind;

use super::*;
use crate::history::{WriteKind, WriteRecord};

const GROUP: &str = "001-groupa";

fn entry(n: u32, key: &str, points: i64, balance_after: i64) -> LedgerEntry {
    LedgerEntry {
        id: format!("001-01JD3Q6M2V8X4Y5Z6A7B8C9D{n:02}").parse().unwrap(),
        group_id: GROUP.parse().unwrap(),
        user_id: "001-user01".parse().unwrap(),
        actor_id: Some("001-user01".parse().unwrap()),
        kind: if points < 0 { EntryKind::Redeem } else { EntryKind::Award },
        points,
        amount_cents: None,
        bill_id: None,
        debt_change: None,
        balance_after,
        idempotency_key: key.to_owned(),
        created_on: DateTime::<Utc>::from_timestamp(1_700_000_000 + i64::from(n), 0).unwrap(),
    }
}

fn applied(n: u32, key: &str, points: i64) -> WriteRecord {
    WriteRecord {
        kind: if points < 0 { WriteKind::Redeem } else { WriteKind::Bill },
        caller: "001-user01".into(),
        key: key.into(),
        group: GROUP.into(),
        outcome: Outcome::Applied { entry_id: format!("001-01JD3Q6M2V8X4Y5Z6A7B8C9D{n:02}"), points },
        replay_matched: None,
        offer: None,
        bill: None,
    }
}

fn groups(balance: i64, entries: Vec<LedgerEntry>) -> BTreeMap<String, GroupView> {
    BTreeMap::from([(GROUP.to_owned(), GroupView { balance, entries, offers: Vec::new() })])
}

fn returned(n: u32, key: &str, bill: u32, taken: i64, owed: i64, balance_after: i64) -> (WriteRecord, LedgerEntry) {
    let bill = format!("001-01JD3Q6M2V8X4Y5Z6A7B8C9D{bill:02}");
    let mut write = applied(n, key, -taken);
    write.kind = WriteKind::Return;
    write.bill = Some(bill.clone());
    let mut ledger = entry(n, key, -taken, balance_after);
    ledger.kind = EntryKind::Return;
    ledger.bill_id = Some(bill.parse().unwrap());
    ledger.debt_change = Some(owed).filter(|o| *o != 0);
    (write, ledger)
}

#[test]
fn returns_within_the_award_pass_and_beyond_it_are_reported() {
    // A bill of 30; 10 spent; the whole bill returned: 20 taken, 10 owed.
    let (back, back_entry) = returned(12, "back", 10, 20, 10, 0);
    let history = History { writes: vec![applied(10, "a", 30), applied(11, "r", -10), back] };
    let ledger = vec![entry(10, "a", 30, 30), entry(11, "r", -10, 20), back_entry];
    let verdict = check(&history, &groups(0, ledger.clone()));
    assert!(verdict.ok(), "{:?}", verdict.violations);
    // A second return of the same bill taking 5 more would exceed what it awarded.
    let (again, again_entry) = returned(13, "again", 10, 0, 5, 0);
    let history = History { writes: [history.writes, vec![again]].concat() };
    let verdict = check(&history, &groups(0, [ledger, vec![again_entry]].concat()));
    assert!(verdict.violations.contains(&Violation::ReturnedMoreThanAwarded {
        bill: "001-01JD3Q6M2V8X4Y5Z6A7B8C9D10".into(),
        awarded: 30,
        reversed: 35
    }));
}

#[test]
fn an_offer_used_by_two_bills_or_by_one_no_answer_named_is_reported() {
    let mut first = applied(10, "a", 10);
    first.offer = Some("001-offer1".into());
    let mut second = applied(11, "b", 10);
    second.offer = Some("001-offer1".into());
    let history = History { writes: vec![first, second] };
    let mut views = groups(20, vec![entry(10, "a", 10, 10), entry(11, "b", 10, 20)]);
    let used = |bill: &str| Offer {
        id: "001-offer1".parse().unwrap(),
        discount_id: "001-disc01".parse().unwrap(),
        region: "001".parse().unwrap(),
        state: OfferState::Used,
        expires_at: None,
        used_by_bill: Some(bill.parse().unwrap()),
        created_on: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
    };
    views.get_mut(GROUP).unwrap().offers = vec![used("001-01JD3Q6M2V8X4Y5Z6A7B8C9D11")];
    let verdict = check(&history, &views);
    assert_eq!(
        verdict.violations,
        vec![Violation::OfferUsedTwice { offer: "001-offer1".into(), bills: 2, returns: 0 }]
    );
    views.get_mut(GROUP).unwrap().offers = vec![used("001-01JD3Q6M2V8X4Y5Z6A7B8C9D12")];
    let verdict = check(&History { writes: vec![applied(10, "a", 10), applied(11, "b", 10)] }, &views);
    assert_eq!(
        verdict.violations,
        vec![Violation::OfferNotShown { offer: "001-offer1".into(), bill: "001-01JD3Q6M2V8X4Y5Z6A7B8C9D12".into() }]
    );
}

#[test]
fn a_consistent_history_passes() {
    let history = History { writes: vec![applied(10, "a", 50), applied(11, "b", -20)] };
    let verdict = check(&history, &groups(30, vec![entry(10, "a", 50, 50), entry(11, "b", -20, 30)]));
    assert!(verdict.ok(), "{:?}", verdict.violations);
}

#[test]
fn lost_duplicated_and_negative_are_each_reported() {
    // "a" was acknowledged but is missing; "b" was applied twice; the balance went
    // below zero; and the sums no longer agree.
    let history = History { writes: vec![applied(10, "a", 50), applied(11, "b", -30)] };
    let verdict = check(&history, &groups(-60, vec![entry(11, "b", -30, -30), entry(12, "b", -30, -60)]));
    let v = &verdict.violations;
    assert!(
        v.contains(&Violation::LostWrite { key: "a".into(), entry: "001-01JD3Q6M2V8X4Y5Z6A7B8C9D10".into() }),
        "{v:#?}"
    );
    assert!(v.contains(&Violation::DuplicatedWrite { key: "b".into(), entries: 2 }), "{v:#?}");
    assert!(v.contains(&Violation::NegativeBalance { group: GROUP.into(), balance: -60 }), "{v:#?}");
    assert!(v.contains(&Violation::TotalsDiffer { client: 20, platform: -60 }), "{v:#?}");
}

#[test]
fn refused_invented_unresolved_and_replays_are_reported() {
    let mut refused = applied(10, "r", 0);
    refused.outcome = Outcome::Refused { status: 409, code: "insufficient_points".into() };
    let mut unknown = applied(11, "u", 0);
    unknown.outcome = Outcome::Unknown;
    let mut replayed = applied(12, "p", 5);
    replayed.replay_matched = Some(false);
    let history = History { writes: vec![refused, unknown, replayed] };
    let verdict = check(&history, &groups(12, vec![entry(10, "r", 7, 7), entry(12, "p", 5, 12)]));
    let v = &verdict.violations;
    assert!(
        v.contains(&Violation::RefusedButApplied { key: "r".into(), code: "insufficient_points".into() }),
        "{v:#?}"
    );
    assert!(v.contains(&Violation::Unresolved { key: "u".into() }), "{v:#?}");
    assert!(v.contains(&Violation::ReplayDiffered { key: "p".into() }), "{v:#?}");
    let history = History { writes: vec![] };
    let verdict = check(&history, &groups(7, vec![entry(10, "x", 7, 7)]));
    assert!(verdict.violations.iter().any(|v| matches!(v, Violation::InventedEntry { key, .. } if key == "x")));
}

#[test]
fn an_entry_that_names_another_actor_is_reported() {
    let history = History { writes: vec![applied(10, "a", 50)] };
    let mut forged = entry(10, "a", 50, 50);
    forged.actor_id = Some("002-intrud".parse().unwrap());
    let verdict = check(&history, &groups(50, vec![forged]));
    assert_eq!(
        verdict.violations,
        vec![Violation::WrongActor { key: "a".into(), caller: "001-user01".into(), actor: Some("002-intrud".into()) }]
    );
}

#[test]
fn a_balance_that_disagrees_with_its_ledger_is_reported() {
    let history = History { writes: vec![applied(10, "a", 50)] };
    let verdict = check(&history, &groups(40, vec![entry(10, "a", 50, 40)]));
    assert!(verdict.violations.contains(&Violation::BalanceIsNotLedgerSum {
        group: GROUP.into(),
        balance: 40,
        ledger_sum: 50
    }));
    assert!(verdict.violations.iter().any(|v| matches!(v, Violation::BrokenChain { .. })));
}
