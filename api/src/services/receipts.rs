//! A bill as its receipt: what each line was paid and earned, and what returns took back.
//! It is read by whoever may see the group's ledger (members, staff, admins) and by the
//! customer it was billed to, who may have left the group since; to anyone else a bill
//! does not exist, so a stranger who learnt its id learns nothing.

use contract::EntryId;

use crate::auth::Caller;
use crate::db::ledger::{self, EntryRow};
use crate::domain::returns::{BilledLine, billed_lines};
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::groups::{Standing, with_standing};

/// A bill, its lines with the units returned, and its returns (oldest first).
pub struct Receipt {
    pub bill: EntryRow,
    pub lines: Vec<BilledLine>,
    pub returns: Vec<EntryRow>,
}

pub async fn of_bill(state: &AppState, caller: &Caller, id: EntryId) -> Result<Receipt, ApiError> {
    let caller = caller.clone();
    state
        .db
        .run(move |conn| {
            let not_found = || ApiError::not_found(format!("bill {id} not found"));
            let bill = ledger::bills(conn, &[id.as_str()])?.into_iter().next().ok_or_else(not_found)?;
            let standing = with_standing(conn, &caller, &bill.group_id)?.map(|(_, standing)| standing);
            let sees = caller.is(&bill.user_id) || standing.is_ok_and(|s| s != Standing::Stranger);
            if !sees {
                return Err(not_found());
            }
            let returns = ledger::returns_of(conn, &[id.as_str()])?;
            let taken: Vec<_> = returns.iter().flat_map(EntryRow::returned_lines).collect();
            let lines = billed_lines(bill.line_figures(), &taken);
            Ok(Receipt { bill, lines, returns })
        })
        .await
}
