//! The rules of a points write, apart from how it is stored or answered: what a bill
//! earns and what a redemption spends, decided on what the write's transaction read
//! (`Seen`). The same decision runs for a write alone or in a batch of hundreds.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use contract::dto::{AppliedDiscount, Audience, EntryKind};
use contract::{ItemId, RegionId};

use crate::domain::discounts::{self, Terms};
use crate::domain::returns::{self, BilledBill, LineFigures, ReturnRefusal};
use crate::domain::{Points, Qty};

pub use crate::domain::prices::PricedItem;

/// A store region's menu and discounts, as a write prices from them.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub items: Vec<PricedItem>,
    pub discounts: Arc<Vec<Terms>>,
}

impl Store {
    pub fn has_item(&self, id: &str) -> bool {
        self.items.iter().any(|item| item.id == id)
    }
}

/// An open offer of the write's group: its discount's terms are the store region's.
#[derive(Debug, Clone)]
pub struct OpenOffer {
    pub id: String,
    pub discount_id: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where a write's prices come from.
#[derive(Debug, Clone)]
pub enum Prices {
    /// This region's catalogue, read in the write's own transaction.
    Here,
    /// Another region's, fetched before the write (cached for the catalogue's TTL).
    From(Arc<Store>),
}

/// What a redemption spends.
#[derive(Debug, Clone)]
pub enum Spend {
    Points(Points),
    Item(ItemId, Qty),
}

/// The write asked for, with everything its decision needs besides what is read.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Staff (`actor_id`) bill a member (`user_id`) for `lines` of `store_region`'s menu.
    Bill {
        user_id: String,
        actor_id: String,
        store_region: RegionId,
        lines: Vec<(ItemId, Qty)>,
        prices: Prices,
        /// The store region's discounts (cached like its catalogue).
        discounts: Arc<Vec<Terms>>,
        points_per_unit: i64,
    },
    /// `user_id` spends the group's points; admins need no membership, staff who are not
    /// members are refused.
    Redeem { user_id: String, admin: bool, staff: bool, spend: Spend, prices: Prices },
    /// Staff (`actor_id`) take back `lines` of the group's bill `bill_id` (all that is left
    /// when `None`).
    Return { actor_id: String, bill_id: String, lines: Option<Vec<(ItemId, Qty)>> },
}

impl Rule {
    /// The catalogue items of this region the transaction must read.
    pub fn local_items(&self) -> Vec<String> {
        match self {
            Rule::Bill { lines, prices: Prices::Here, .. } => lines.iter().map(|(id, _)| id.to_string()).collect(),
            Rule::Redeem { spend: Spend::Item(id, _), prices: Prices::Here, .. } => vec![id.to_string()],
            _ => Vec::new(),
        }
    }

    /// A bill's store region and its discounts.
    pub fn store_terms(&self) -> Option<(RegionId, &[Terms])> {
        match self {
            Rule::Bill { store_region, discounts, .. } => Some((*store_region, discounts)),
            Rule::Redeem { .. } | Rule::Return { .. } => None,
        }
    }

    /// A return's bill.
    pub fn returned_bill(&self) -> Option<&str> {
        match self {
            Rule::Return { bill_id, .. } => Some(bill_id),
            _ => None,
        }
    }

    /// The user whose active membership the decision asks about.
    pub fn member(&self) -> Option<&str> {
        match self {
            Rule::Bill { user_id, .. } => Some(user_id),
            Rule::Redeem { admin: true, .. } | Rule::Return { .. } => None,
            Rule::Redeem { user_id, .. } => Some(user_id),
        }
    }
}

/// What a write's transaction read, for its decision.
pub struct Seen<'a> {
    /// The group's balance, after the writes of the same batch before this one.
    pub balance: i64,
    /// Whether the rule's member is an active member of the group.
    pub is_member: bool,
    /// Whether that member may redeem: the owner always, others when allowed to.
    pub can_redeem: bool,
    /// This region's catalogue items the batch read.
    pub items: &'a HashMap<String, PricedItem>,
    /// The group's open offers not used by an earlier write of the batch.
    pub offers: &'a [OpenOffer],
    /// What the group owes from returns of points it had spent.
    pub debt: i64,
    /// A return's bill, as earlier writes of the batch leave it (`None`: not this group's).
    pub bill: Option<&'a BilledBill>,
    /// When the decision is made: which discounts are valid.
    pub now: DateTime<Utc>,
}

/// The ledger entry a decision asks for; `points` is signed (a redemption spends).
pub struct Change {
    pub user_id: String,
    /// Who billed or redeemed.
    pub actor_id: String,
    pub kind: EntryKind,
    pub points: i64,
    /// A bill's: what is paid, after its discount.
    pub amount_cents: Option<i64>,
    pub store_region: Option<RegionId>,
    /// A bill's: its lines' total before the discount, and the discount it applied.
    pub gross_cents: Option<i64>,
    pub discount: Option<AppliedDiscount>,
    /// A bill's lines as billed.
    pub lines: Vec<LineFigures>,
    /// How the group's debt changes: + a return's points the group no longer held, - an
    /// award's points that paid it off.
    pub debt_change: i64,
    /// A return's bill, the units it took back per line, and the offer it opens again.
    pub bill_id: Option<String>,
    pub returned: Vec<(i32, i64)>,
    pub reopen_offer: Option<String>,
}

impl Change {
    fn new(kind: EntryKind, user_id: &str, actor_id: &str, points: i64) -> Change {
        Change {
            user_id: user_id.to_owned(),
            actor_id: actor_id.to_owned(),
            kind,
            points,
            amount_cents: None,
            store_region: None,
            gross_cents: None,
            discount: None,
            lines: Vec::new(),
            debt_change: 0,
            bill_id: None,
            returned: Vec::new(),
            reopen_offer: None,
        }
    }
}

/// Why a write is refused. A refusal is definite: it is remembered under the write's
/// Idempotency-Key like a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such group, or one the caller may not know of.
    GroupNotFound,
    /// The billed user is not a member of the group.
    NotAMember {
        user_id: String,
    },
    /// A member whose membership does not include redeeming.
    NoRightToRedeem,
    /// Staff who are not members see a group but do not spend its points.
    StaffNotMember,
    ItemNotFound(String),
    ItemUnavailable(String),
    InsufficientPoints {
        balance: i64,
        asked: i64,
    },
    BalanceOverflow,
    /// No such bill in this group.
    BillNotFound(String),
    Return(ReturnRefusal),
}

/// The decision of one write on what its transaction read.
pub fn decide(rule: &Rule, seen: &Seen<'_>) -> Result<Change, Refusal> {
    let change = match rule {
        Rule::Bill { user_id, actor_id, store_region, lines, prices, discounts: terms, points_per_unit } => {
            if !seen.is_member {
                return Err(Refusal::NotAMember { user_id: user_id.clone() });
            }
            let mut priced = Vec::with_capacity(lines.len());
            for (id, qty) in lines {
                priced.push((available(prices, seen, id)?, qty.get()));
            }
            let gross =
                priced.iter().map(|(item, qty)| item.price_cents.saturating_mul(*qty)).fold(0, i64::saturating_add);
            // The group's offers of this store's discounts, while valid.
            let offers = seen.offers.iter().filter(|offer| offer.expires_at.is_none_or(|at| seen.now < at)).filter_map(
                |offer| {
                    let terms = terms.iter().find(|t| t.id == offer.discount_id && t.audience == Audience::Offer)?;
                    Some((offer.id.as_str(), terms))
                },
            );
            let discount = discounts::best(&priced, terms.iter(), offers, seen.now);
            let discount_cents = discount.as_ref().map_or(0, |d| d.amount_cents);
            let paid = gross - discount_cents;
            let points = (paid / 100).saturating_mul(*points_per_unit);
            // Each line's share of the discount (of the lines it covers) and of the points.
            let grosses: Vec<i64> = priced.iter().map(|(item, qty)| item.price_cents.saturating_mul(*qty)).collect();
            let covered: Vec<i64> = match discount.as_ref().and_then(|d| terms.iter().find(|t| t.id == d.discount_id)) {
                Some(won) => priced
                    .iter()
                    .zip(&grosses)
                    .map(
                        |((item, _), g)| {
                            if won.category.as_deref().is_none_or(|c| c == item.category) { *g } else { 0 }
                        },
                    )
                    .collect(),
                None => vec![0; priced.len()],
            };
            let line_paid: Vec<i64> =
                grosses.iter().zip(returns::split(discount_cents, &covered)).map(|(g, off)| g - off).collect();
            let line_points = returns::split(points, &line_paid);
            // An earlier return's points the group no longer held are paid off first.
            let to_debt = points.min(seen.debt);
            Change {
                amount_cents: Some(paid),
                store_region: Some(*store_region),
                gross_cents: Some(gross),
                discount,
                lines: priced
                    .iter()
                    .zip(line_paid.into_iter().zip(line_points))
                    .map(|((item, qty), (paid_cents, points))| LineFigures {
                        item_id: item.id.clone(),
                        qty: *qty,
                        paid_cents,
                        points,
                    })
                    .collect(),
                debt_change: -to_debt,
                ..Change::new(EntryKind::Award, user_id, actor_id, points - to_debt)
            }
        }
        Rule::Redeem { user_id, admin, staff, spend, prices } => {
            if !admin {
                match (seen.is_member, seen.can_redeem, staff) {
                    (true, true, _) => {}
                    (true, false, _) => return Err(Refusal::NoRightToRedeem),
                    (false, _, true) => return Err(Refusal::StaffNotMember),
                    (false, _, false) => return Err(Refusal::GroupNotFound),
                }
            }
            let points = match spend {
                Spend::Points(points) => points.get(),
                Spend::Item(id, qty) => available(prices, seen, id)?.points_price.saturating_mul(qty.get()),
            };
            if seen.balance < points {
                return Err(Refusal::InsufficientPoints { balance: seen.balance, asked: points });
            }
            Change::new(EntryKind::Redeem, user_id, user_id, -points)
        }
        Rule::Return { actor_id, bill_id, lines } => {
            let bill = seen.bill.ok_or_else(|| Refusal::BillNotFound(bill_id.clone()))?;
            let taken = returns::take(bill, lines.as_deref()).map_err(Refusal::Return)?;
            // What the group still holds is taken; the rest it owes (its points were spent).
            let from_balance = taken.points.min(seen.balance);
            Change {
                amount_cents: Some(taken.refund_cents),
                debt_change: taken.points - from_balance,
                bill_id: Some(bill_id.clone()),
                returned: taken.lines,
                reopen_offer: if taken.whole_bill { bill.offer_id.clone() } else { None },
                ..Change::new(EntryKind::Return, &bill.user_id, actor_id, -from_balance)
            }
        }
    };
    seen.balance.checked_add(change.points).ok_or(Refusal::BalanceOverflow)?;
    Ok(change)
}

/// The item `id` from the write's prices, refused when missing or unavailable.
fn available<'a>(prices: &'a Prices, seen: &'a Seen<'_>, id: &ItemId) -> Result<&'a PricedItem, Refusal> {
    let item = match prices {
        Prices::From(store) => store.items.iter().find(|item| item.id == id.as_str()),
        Prices::Here => seen.items.get(id.as_str()),
    };
    let item = item.ok_or_else(|| Refusal::ItemNotFound(id.to_string()))?;
    if !item.available {
        return Err(Refusal::ItemUnavailable(id.to_string()));
    }
    Ok(item)
}

#[cfg(test)]
mod tests;
