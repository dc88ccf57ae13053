//! What a bill's lines were paid and earned, fixed when it is billed, and what a return
//! of some of them takes back: exactly those lines' share, never recomputed. Shares are
//! split by largest remainder, so a bill's lines add up to the bill, and cumulative
//! shares of a line's units are taken, so returning a line in parts adds up to the line.

use contract::ItemId;
use serde::{Deserialize, Serialize};

use crate::domain::Qty;

/// A bill's line as billed: what it was paid after the bill's discount, and earned. Kept
/// in the bill's ledger entry (`lines`), in line order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineFigures {
    pub item_id: String,
    pub qty: i64,
    pub paid_cents: i64,
    pub points: i64,
}

/// Units of one line of a bill a return took back, kept in the return's entry (`lines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    pub line: i32,
    pub qty: i64,
}

/// A bill line as a return reads it.
#[derive(Debug, Clone)]
pub struct BilledLine {
    pub line_no: i32,
    pub item_id: String,
    pub qty: i64,
    pub paid_cents: i64,
    pub points: i64,
    pub returned_qty: i64,
}

/// A bill of the write's group, as a return reads it.
#[derive(Debug, Clone)]
pub struct BilledBill {
    pub user_id: String,
    /// The offer the bill used: open again once the whole bill is returned.
    pub offer_id: Option<String>,
    pub lines: Vec<BilledLine>,
}

/// A bill's lines as billed (`figures`, in line order), with the units `returns` took
/// back from each.
pub fn billed_lines<'a>(
    figures: Vec<LineFigures>,
    returns: impl IntoIterator<Item = &'a ReturnedLine>,
) -> Vec<BilledLine> {
    let mut lines: Vec<BilledLine> = figures
        .into_iter()
        .enumerate()
        .map(|(no, line)| BilledLine {
            line_no: i32::try_from(no).unwrap_or(i32::MAX),
            item_id: line.item_id,
            qty: line.qty,
            paid_cents: line.paid_cents,
            points: line.points,
            returned_qty: 0,
        })
        .collect();
    for returned in returns {
        if let Some(line) = lines.iter_mut().find(|l| l.line_no == returned.line) {
            line.returned_qty += returned.qty;
        }
    }
    lines
}

/// `total` split in proportion to `weights`, the remainder going one unit at a time to
/// the largest fractions (then the first lines): the parts add up to `total`.
pub fn split(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|&w| i128::from(w.max(0))).sum();
    let mut shares = vec![0; weights.len()];
    if sum == 0 {
        if let Some(last) = shares.last_mut() {
            *last = total;
        }
        return shares;
    }
    let exact = |i: usize| i128::from(total) * i128::from(weights[i].max(0));
    for (i, share) in shares.iter_mut().enumerate() {
        *share = i64::try_from(exact(i) / sum).unwrap_or(0);
    }
    let mut left = total - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).filter(|&i| weights[i] > 0).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(exact(i) % sum), i));
    for i in order.into_iter().cycle().take(weights.len() * 2) {
        if left <= 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

/// The share of `total` that `n` of a line's `qty` units carry.
fn units(total: i64, qty: i64, n: i64) -> i64 {
    if n >= qty {
        total
    } else {
        i64::try_from(i128::from(total) * i128::from(n) / i128::from(qty.max(1))).unwrap_or(0)
    }
}

/// Why a return is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnRefusal {
    /// More of an item than was bought and not yet returned (or nothing left at all).
    AlreadyReturned(String),
    /// A bill from before bills kept their lines.
    NotItemised,
}

/// What a return takes back: units per line, the amount refunded and the points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// (line number, units returned now)
    pub lines: Vec<(i32, i64)>,
    pub refund_cents: i64,
    pub points: i64,
    /// Whether nothing of the bill is left to return afterwards.
    pub whole_bill: bool,
}

/// The units of `asked` (all that is left when `None`) taken from `bill`'s lines.
pub fn take(bill: &BilledBill, asked: Option<&[(ItemId, Qty)]>) -> Result<Taken, ReturnRefusal> {
    if bill.lines.is_empty() {
        return Err(ReturnRefusal::NotItemised);
    }
    let mut now = vec![0i64; bill.lines.len()];
    match asked {
        None => {
            for (i, line) in bill.lines.iter().enumerate() {
                now[i] = line.qty - line.returned_qty;
            }
            if now.iter().all(|&k| k == 0) {
                return Err(ReturnRefusal::AlreadyReturned("every item".into()));
            }
        }
        Some(asked) => {
            for (item, qty) in asked {
                let mut want = qty.get();
                for (i, line) in bill.lines.iter().enumerate().filter(|(_, l)| l.item_id == item.as_str()) {
                    let k = (line.qty - line.returned_qty - now[i]).min(want);
                    now[i] += k;
                    want -= k;
                }
                if want > 0 {
                    return Err(ReturnRefusal::AlreadyReturned(item.to_string()));
                }
            }
        }
    }
    let mut taken = Taken { lines: Vec::new(), refund_cents: 0, points: 0, whole_bill: true };
    for (line, k) in bill.lines.iter().zip(now) {
        let (before, after) = (line.returned_qty, line.returned_qty + k);
        if k > 0 {
            taken.lines.push((line.line_no, k));
            taken.refund_cents += units(line.paid_cents, line.qty, after) - units(line.paid_cents, line.qty, before);
            taken.points += units(line.points, line.qty, after) - units(line.points, line.qty, before);
        }
        taken.whole_bill &= after == line.qty;
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_adds_up_and_favours_the_largest_fractions() {
        assert_eq!(split(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(split(100, &[2_500, 999]), vec![71, 29]);
        assert_eq!(split(500, &[0, 999]), vec![0, 500], "a discount only on the lines it covers");
        assert_eq!(split(0, &[5, 5]), vec![0, 0]);
        assert_eq!(split(7, &[0, 0]), vec![0, 7]);
        for total in [0, 1, 29, 1_000, 99_999] {
            assert_eq!(split(total, &[3, 7, 11, 13]).iter().sum::<i64>(), total);
        }
    }

    fn bill() -> BilledBill {
        let line = |no, item: &str, qty, paid, points| BilledLine {
            line_no: no,
            item_id: item.into(),
            qty,
            paid_cents: paid,
            points,
            returned_qty: 0,
        };
        BilledBill {
            user_id: "001-aaaaaa".into(),
            offer_id: Some("001-offer1".into()),
            lines: vec![line(0, "001-soup01", 3, 1_000, 10), line(1, "001-wine01", 1, 999, 9)],
        }
    }

    fn ask(item: &str, qty: i64) -> (ItemId, Qty) {
        (item.parse().unwrap_or_else(|_| unreachable!()), Qty::parse(qty).unwrap_or_else(|_| unreachable!()))
    }

    #[test]
    fn returning_a_line_in_parts_adds_up_to_the_line_and_never_more() {
        let mut bill = bill();
        let first = take(&bill, Some(&[ask("001-soup01", 1)])).unwrap_or_else(|_| unreachable!());
        assert_eq!((first.refund_cents, first.points, first.whole_bill), (333, 3, false));
        bill.lines[0].returned_qty = 1;
        let second = take(&bill, Some(&[ask("001-soup01", 2)])).unwrap_or_else(|_| unreachable!());
        assert_eq!((second.refund_cents, second.points), (667, 7), "the rest of the line, to the cent");
        bill.lines[0].returned_qty = 3;
        assert_eq!(
            take(&bill, Some(&[ask("001-soup01", 1)])),
            Err(ReturnRefusal::AlreadyReturned("001-soup01".into()))
        );
        assert_eq!(
            take(&bill, Some(&[ask("001-beer01", 1)])),
            Err(ReturnRefusal::AlreadyReturned("001-beer01".into()))
        );
        let rest = take(&bill, None).unwrap_or_else(|_| unreachable!());
        assert_eq!((rest.lines, rest.refund_cents, rest.points, rest.whole_bill), (vec![(1, 1)], 999, 9, true));
        bill.lines[1].returned_qty = 1;
        assert!(take(&bill, None).is_err(), "nothing left");
        assert_eq!(take(&BilledBill { lines: vec![], ..bill }, None), Err(ReturnRefusal::NotItemised));
    }
}
