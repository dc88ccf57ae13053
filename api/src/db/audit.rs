//! The region's books checked from the database's side (`loyalty-api --audit`): what the
//! load test's verdict checks from the clients' side, for every group of a running
//! region, so that a point lost or invented shows even where no test was looking (a bug
//! in a release, a hand-made repair, a restore), and that the membership index of the
//! group's own region's users says what the group says. Then every answer kept for a retry
//! (idempotency records): a replay must never tell a client of a write the books do not
//! hold as told. Read-only, so a readable replica serves as well as the primary and
//! spares it.

use std::fmt;
use std::time::Instant;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use serde::Serialize;

use super::Db;

/// One group's figures as its row keeps them and as its ledger and offers add up.
#[derive(Debug, Clone, QueryableByName)]
pub struct GroupBooks {
    #[diesel(sql_type = Text)]
    pub group_id: String,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    #[diesel(sql_type = BigInt)]
    pub ledger_points: i64,
    #[diesel(sql_type = BigInt)]
    pub points_debt: i64,
    #[diesel(sql_type = BigInt)]
    pub ledger_debt: i64,
    #[diesel(sql_type = Integer)]
    pub open_offers: i32,
    #[diesel(sql_type = Integer)]
    pub counted_open_offers: i32,
    #[diesel(sql_type = BigInt)]
    pub entries: i64,
    /// The first entry (oldest first) whose `balance_after` is not the sum of the points
    /// up to it.
    #[diesel(sql_type = Nullable<Text>)]
    pub broken_entry: Option<String>,
    /// A bill of the group whose returns took back more than it awarded, or a return
    /// naming no bill of the group.
    #[diesel(sql_type = Nullable<Text>)]
    pub over_returned_bill: Option<String>,
    /// A used offer of the group whose bill is not in its ledger or does not name it.
    #[diesel(sql_type = Nullable<Text>)]
    pub offer_without_bill: Option<String>,
    /// A user of this region whose membership index disagrees with their membership of
    /// the group (written in the same transaction for a user of the group's region).
    #[diesel(sql_type = Nullable<Text>)]
    pub index_off_user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    BalanceIsNotLedgerSum {
        group: String,
        balance: i64,
        ledger_sum: i64,
    },
    DebtIsNotLedgerSum {
        group: String,
        debt: i64,
        ledger_sum: i64,
    },
    BrokenChain {
        group: String,
        entry: String,
    },
    OpenOffersMiscounted {
        group: String,
        kept: i32,
        counted: i32,
    },
    ReturnedMoreThanAwarded {
        group: String,
        bill: String,
    },
    OfferUsedByNoBill {
        group: String,
        offer: String,
    },
    MembershipIndexOff {
        group: String,
        user: String,
    },
    /// Another region's group says more than this region's index, its event delivered.
    IndexBehindGroup {
        group: String,
        user: String,
        index_version: Option<i64>,
        group_version: i64,
    },
    /// This region's index and another region's group, at one version, disagree.
    IndexDisagrees {
        group: String,
        user: String,
        version: i64,
    },
    /// This region's index says what another region's group never did.
    IndexAheadOfGroup {
        group: String,
        user: String,
        index_version: i64,
        group_version: Option<i64>,
    },
    AnswerNotInBooks {
        caller: String,
        key: String,
        answered: Option<String>,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::BalanceIsNotLedgerSum { group, balance, ledger_sum } => {
                write!(f, "group {group}: balance {balance}, but its ledger sums to {ledger_sum}")
            }
            Finding::DebtIsNotLedgerSum { group, debt, ledger_sum } => {
                write!(f, "group {group}: owes {debt} points, but its ledger's debt changes sum to {ledger_sum}")
            }
            Finding::BrokenChain { group, entry } => {
                write!(f, "group {group}: entry {entry}'s balance_after does not follow from the entries before it")
            }
            Finding::OpenOffersMiscounted { group, kept, counted } => {
                write!(f, "group {group}: keeps {kept} open offers, holds {counted}")
            }
            Finding::ReturnedMoreThanAwarded { group, bill } => {
                write!(f, "group {group}: the returns of bill {bill} took back more than it awarded (or it is no bill)")
            }
            Finding::OfferUsedByNoBill { group, offer } => {
                write!(f, "group {group}: offer {offer} is used, but no bill of the group used it")
            }
            Finding::MembershipIndexOff { group, user } => {
                write!(f, "group {group}: user {user}'s membership index does not say what the group says")
            }
            Finding::IndexBehindGroup { group, user, index_version, group_version } => {
                let index = index_version.map_or("nothing".to_owned(), |v| format!("version {v}"));
                write!(
                    f,
                    "group {group}: user {user}'s membership is at version {group_version}, its event delivered, but \
                     their index holds {index}"
                )
            }
            Finding::IndexDisagrees { group, user, version } => {
                write!(f, "group {group}: user {user}'s membership and their index disagree at version {version}")
            }
            Finding::IndexAheadOfGroup { group, user, index_version, group_version } => {
                let kept = group_version.map_or("no such membership".to_owned(), |v| format!("version {v}"));
                write!(f, "group {group}: user {user}'s index holds version {index_version}, the group {kept}")
            }
            Finding::AnswerNotInBooks { caller, key, answered } => {
                let answered = answered.as_deref().unwrap_or("nothing");
                write!(
                    f,
                    "the answer kept for {caller}'s key {key:?} names {answered}, which the books do not hold as told"
                )
            }
        }
    }
}

impl GroupBooks {
    pub fn findings(&self) -> Vec<Finding> {
        let group = || self.group_id.clone();
        [
            (self.points != self.ledger_points).then(|| Finding::BalanceIsNotLedgerSum {
                group: group(),
                balance: self.points,
                ledger_sum: self.ledger_points,
            }),
            (self.points_debt != self.ledger_debt).then(|| Finding::DebtIsNotLedgerSum {
                group: group(),
                debt: self.points_debt,
                ledger_sum: self.ledger_debt,
            }),
            self.broken_entry.clone().map(|entry| Finding::BrokenChain { group: group(), entry }),
            (self.open_offers != self.counted_open_offers).then(|| Finding::OpenOffersMiscounted {
                group: group(),
                kept: self.open_offers,
                counted: self.counted_open_offers,
            }),
            self.over_returned_bill.clone().map(|bill| Finding::ReturnedMoreThanAwarded { group: group(), bill }),
            self.offer_without_bill.clone().map(|offer| Finding::OfferUsedByNoBill { group: group(), offer }),
            self.index_off_user.clone().map(|user| Finding::MembershipIndexOff { group: group(), user }),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// What `Db::audit` read and found.
#[derive(Debug, Default, Serialize)]
pub struct Audit {
    pub groups: u64,
    pub entries: i64,
    /// Answers kept for retries, checked against the books.
    pub answers: u64,
    /// With `--across-regions` (`services::membership_audit`).
    #[serde(flatten)]
    pub index: IndexCheck,
    pub findings: Vec<Finding>,
}

/// The check of the membership index against other regions' groups: memberships and
/// index rows compared, those whose latest event is still on its way, the regions that
/// could not be asked (the audit then fails: it did not see everything), and with
/// `--repair` the index rows found off and set to what their group's region says.
#[derive(Debug, Default, Serialize)]
pub struct IndexCheck {
    pub memberships: u64,
    pub memberships_pending: u64,
    pub regions_unreached: Vec<String>,
    pub repaired: Vec<Finding>,
}

/// Up to `limit` groups after `after` (by id), each in one statement: one snapshot, so a
/// points write committing meanwhile is seen whole or not at all. A return reverses
/// `-points + debt_change` of what its bill awarded (`points - debt_change`).
const BOOKS: &str = "\
WITH g AS (SELECT id, points, points_debt, open_offers FROM groups WHERE id > $1 ORDER BY id LIMIT $2),
l AS (
    SELECT e.group_id, e.id, e.kind, e.points, coalesce(e.debt_change, 0) AS debt_change, e.bill_id,
           e.balance_after, e.created_on,
           sum(e.points) OVER (PARTITION BY e.group_id ORDER BY e.created_on, e.id) AS running
    FROM g JOIN ledger_entries e ON e.group_id = g.id
),
sums AS (
    SELECT group_id, sum(points) AS points, sum(debt_change) AS debt, count(*) AS entries,
           (array_agg(id ORDER BY created_on, id) FILTER (WHERE balance_after <> running))[1] AS broken_entry
    FROM l GROUP BY group_id
),
opened AS (
    SELECT o.group_id, count(*) AS offers FROM g JOIN offers o ON o.group_id = g.id
    WHERE o.state = 'open' GROUP BY o.group_id
),
over_returned AS (
    SELECT group_id, min(bill_id) AS bill_id FROM (
        SELECT r.group_id, r.bill_id
        FROM l r LEFT JOIN l a ON a.id = r.bill_id AND a.group_id = r.group_id AND a.kind = 'award'
        WHERE r.kind = 'return'
        GROUP BY r.group_id, r.bill_id, a.id, a.points, a.debt_change
        HAVING a.id IS NULL OR sum(r.debt_change - r.points) > a.points - a.debt_change
    ) bills GROUP BY group_id
),
offer_without_bill AS (
    SELECT o.group_id, min(o.id) AS offer_id FROM g JOIN offers o ON o.group_id = g.id
    WHERE o.state = 'used' AND NOT EXISTS (
        SELECT 1 FROM ledger_entries e WHERE e.id = o.used_by_bill AND e.group_id = o.group_id AND e.offer_id = o.id)
    GROUP BY o.group_id
),
index_off AS (
    SELECT group_id, min(user_id) AS user_id FROM (
        SELECT m.group_id, m.user_id FROM g JOIN group_members m ON m.group_id = g.id
            LEFT JOIN user_group_index i ON i.user_id = m.user_id AND i.group_id = m.group_id
        WHERE left(m.user_id, 4) = left(m.group_id, 4)
            AND (i.user_id IS NULL OR i.active <> m.active OR i.version <> m.version)
        UNION ALL
        SELECT i.group_id, i.user_id FROM g JOIN user_group_index i ON i.group_id = g.id
        WHERE NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = i.group_id AND m.user_id = i.user_id)
    ) off GROUP BY group_id
)
SELECT g.id AS group_id, g.points, g.points_debt, g.open_offers,
    coalesce(s.points, 0)::int8 AS ledger_points, coalesce(s.debt, 0)::int8 AS ledger_debt,
    coalesce(s.entries, 0)::int8 AS entries, s.broken_entry,
    coalesce(opened.offers, 0)::int4 AS counted_open_offers, over_returned.bill_id AS over_returned_bill,
    offer_without_bill.offer_id AS offer_without_bill, index_off.user_id AS index_off_user
FROM g LEFT JOIN sums s ON s.group_id = g.id
    LEFT JOIN opened ON opened.group_id = g.id
    LEFT JOIN over_returned ON over_returned.group_id = g.id
    LEFT JOIN offer_without_bill ON offer_without_bill.group_id = g.id
    LEFT JOIN index_off ON index_off.group_id = g.id
ORDER BY g.id";

/// Up to `limit` answers kept for retries after (`caller`, `key`), each with whether the
/// books hold what it told: an answer naming a ledger entry (a bill, a redemption, a
/// return: `id`, `group_id`, `balance_after`) needs that entry, in that group, with that
/// balance after; one naming an offer (`id`, `discount_id`, `state`) needs that offer, of
/// that discount. A record and what it answers are written in one transaction, so one
/// statement's snapshot holds both or neither. Refusals name nothing to hold.
const ANSWERS: &str = "\
SELECT r.caller_id, r.key, r.response_body->>'id' AS answered,
    CASE WHEN r.response_status <> 201 THEN true
         WHEN r.response_body ?& array['id', 'group_id', 'balance_after'] THEN EXISTS (
             SELECT 1 FROM ledger_entries e WHERE e.id = r.response_body->>'id'
                 AND e.group_id = r.response_body->>'group_id'
                 AND e.balance_after = (r.response_body->>'balance_after')::int8)
         WHEN r.response_body ?& array['id', 'discount_id', 'state'] THEN EXISTS (
             SELECT 1 FROM offers o WHERE o.id = r.response_body->>'id'
                 AND o.discount_id = r.response_body->>'discount_id')
         ELSE true END AS held
FROM idempotency_records r WHERE (r.caller_id, r.key) > ($1, $2)
ORDER BY r.caller_id, r.key LIMIT $3";

#[derive(Debug, QueryableByName)]
struct KeptAnswer {
    #[diesel(sql_type = Text)]
    caller_id: String,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Nullable<Text>)]
    answered: Option<String>,
    #[diesel(sql_type = Bool)]
    held: bool,
}

/// Every group's books on `conn`, `chunk` groups a statement, then every kept answer, 25
/// times `chunk` a statement, under the connection's own statement timeout.
pub fn read_all(conn: &mut PgConnection, chunk: i64) -> QueryResult<Audit> {
    let mut audit = Audit::default();
    let mut after = String::new();
    loop {
        let books = books_after(conn, &after, chunk.max(1))?;
        let Some(last) = books.last() else { break };
        after = last.group_id.clone();
        audit.groups += books.len() as u64;
        audit.entries += books.iter().map(|b| b.entries).sum::<i64>();
        audit.findings.extend(books.iter().flat_map(GroupBooks::findings));
    }
    let (mut caller, mut key) = (String::new(), String::new());
    loop {
        let answers: Vec<KeptAnswer> = diesel::sql_query(ANSWERS)
            .bind::<Text, _>(&caller)
            .bind::<Text, _>(&key)
            .bind::<BigInt, _>(chunk.max(1) * 25)
            .load(conn)?;
        let Some(last) = answers.last() else { return Ok(audit) };
        (caller, key) = (last.caller_id.clone(), last.key.clone());
        audit.answers += answers.len() as u64;
        audit.findings.extend(answers.into_iter().filter(|a| !a.held).map(|a| Finding::AnswerNotInBooks {
            caller: a.caller_id,
            key: a.key,
            answered: a.answered,
        }));
    }
}

fn books_after(conn: &mut PgConnection, after: &str, limit: i64) -> QueryResult<Vec<GroupBooks>> {
    diesel::sql_query(BOOKS).bind::<Text, _>(after).bind::<BigInt, _>(limit).load(conn)
}

impl Db {
    /// Every group's books, `chunk` groups a statement, without the requests' statement
    /// timeout (a group of millions of entries takes seconds to sum).
    pub fn audit(&self, deadline: Instant, chunk: i64) -> anyhow::Result<Audit> {
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = Text)]
            value: String,
        }
        let set = |conn: &mut PgConnection, value: &str| {
            diesel::sql_query("SELECT set_config('statement_timeout', $1, false) AS value")
                .bind::<Text, _>(value)
                .get_result::<Setting>(conn)
        };
        let mut pooled = self.first_connection(deadline)?;
        let conn = &mut pooled.conn;
        let requests: Setting =
            diesel::sql_query("SELECT current_setting('statement_timeout') AS value").get_result(conn)?;
        set(conn, "0")?;
        let read = read_all(conn, chunk);
        // The connection goes back to the pool with the requests' timeout.
        set(conn, &requests.value)?;
        Ok(read?)
    }
}
