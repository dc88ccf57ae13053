//! Which instance audits the region's books today (`audit_days`): the daily audit runs
//! on one instance of the region, whichever claims the UTC day first.

use std::time::Instant;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Date, Text};

use super::Db;
use super::schema::audit_days;

/// Today, in UTC, by the database's clock: the one clock every instance shares.
const TODAY: &str = "(now() AT TIME ZONE 'UTC')::date";

/// Claims today (UTC, the database's clock) for `instance`; the day, if the claim was
/// won. Lost while another instance holds it, or once the day's audit finished; won over
/// a claim left unfinished for an hour (its instance stopped mid-audit).
fn claim_today(conn: &mut PgConnection, instance: &str) -> QueryResult<Option<NaiveDate>> {
    #[derive(QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = Date)]
        day: NaiveDate,
    }
    let claimed: Option<Claimed> = diesel::sql_query(format!(
        "INSERT INTO audit_days AS a (day, claimed_by) VALUES ({TODAY}, $1)
         ON CONFLICT (day) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_on = now()
         WHERE a.finished_on IS NULL AND a.claimed_on < now() - interval '1 hour'
         RETURNING day"
    ))
    .bind::<Text, _>(instance)
    .get_result(conn)
    .optional()?;
    Ok(claimed.map(|c| c.day))
}

/// Who holds today's claim, and whether its audit finished.
fn claimed_by(conn: &mut PgConnection) -> QueryResult<Option<(String, bool)>> {
    audit_days::table
        .filter(audit_days::day.eq(diesel::dsl::sql::<Date>(TODAY)))
        .select((audit_days::claimed_by, audit_days::finished_on.is_not_null()))
        .first(conn)
        .optional()
}

/// Records that `instance` finished `day`'s audit, with what it found.
fn finish(conn: &mut PgConnection, day: NaiveDate, instance: &str, findings: i32) -> QueryResult<usize> {
    diesel::update(audit_days::table.find(day).filter(audit_days::claimed_by.eq(instance)))
        .set((audit_days::finished_on.eq(diesel::dsl::now), audit_days::findings.eq(findings)))
        .execute(conn)
}

/// Gives up `instance`'s unfinished claim of `day`.
fn give_up(conn: &mut PgConnection, day: NaiveDate, instance: &str) -> QueryResult<usize> {
    diesel::delete(
        audit_days::table
            .find(day)
            .filter(audit_days::claimed_by.eq(instance))
            .filter(audit_days::finished_on.is_null()),
    )
    .execute(conn)
}

/// Today's audit, as a claim for it found it.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This instance audits `day`.
    Won(NaiveDate),
    /// Another instance holds the day, or has finished its audit.
    Held { by: String, finished: bool },
}

impl Db {
    pub fn claim_audit_day(&self, deadline: Instant, instance: &str) -> anyhow::Result<Claim> {
        let mut pooled = self.first_connection(deadline)?;
        let conn = &mut pooled.conn;
        if let Some(day) = claim_today(conn, instance)? {
            return Ok(Claim::Won(day));
        }
        // Held by someone else: who (the claim may have been finished meanwhile).
        let (by, finished) = claimed_by(conn)?.unwrap_or_default();
        Ok(Claim::Held { by, finished })
    }

    /// Ends `instance`'s claim of `day`: finished with its findings, or (`None`: the
    /// audit did not see everything) given up, for the next try to take.
    pub fn end_audit_day(
        &self,
        deadline: Instant,
        day: NaiveDate,
        instance: &str,
        findings: Option<usize>,
    ) -> anyhow::Result<()> {
        let mut pooled = self.first_connection(deadline)?;
        let conn = &mut pooled.conn;
        match findings {
            Some(found) => finish(conn, day, instance, i32::try_from(found).unwrap_or(i32::MAX))?,
            None => give_up(conn, day, instance)?,
        };
        Ok(())
    }
}
