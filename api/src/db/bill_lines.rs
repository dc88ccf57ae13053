//! Bills' lines as billed: what each was paid and earned, and how much of it has been
//! returned. Written with the bill; returns read and update them under the group's lock.

use diesel::prelude::*;

use super::schema::bill_lines;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bill_lines)]
pub struct BillLineRow {
    pub bill_id: String,
    pub line_no: i32,
    pub item_id: String,
    pub qty: i32,
    pub paid_cents: i64,
    pub points: i64,
    pub returned_qty: i32,
}

pub fn insert_many(conn: &mut PgConnection, rows: &[BillLineRow]) -> QueryResult<()> {
    if !rows.is_empty() {
        diesel::insert_into(bill_lines::table).values(rows).execute(conn)?;
    }
    Ok(())
}

/// The lines of `bills`, in line order.
pub fn of_bills(conn: &mut PgConnection, bills: &[&str]) -> QueryResult<Vec<BillLineRow>> {
    bill_lines::table
        .filter(bill_lines::bill_id.eq_any(bills))
        .order((bill_lines::bill_id.asc(), bill_lines::line_no.asc()))
        .select(BillLineRow::as_select())
        .load(conn)
}

/// `qty` more units of a line returned; fails rather than return more than was bought.
pub fn add_returned(conn: &mut PgConnection, bill: &str, line_no: i32, qty: i32) -> QueryResult<()> {
    let updated = diesel::update(bill_lines::table.find((bill, line_no)))
        .filter((bill_lines::returned_qty + qty).le(bill_lines::qty))
        .set(bill_lines::returned_qty.eq(bill_lines::returned_qty + qty))
        .execute(conn)?;
    if updated == 1 { Ok(()) } else { Err(diesel::result::Error::RollbackTransaction) }
}
