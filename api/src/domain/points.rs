//! The rules of a points write, apart from how it is stored or answered: what a bill
//! earns and what a redemption spends, decided on what the write's transaction read
//! (`Seen`). The same decision runs for a write alone or in a batch of hundreds.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use contract::dto::{AppliedDiscount, Audience, EntryKind};
use contract::{ItemId, RegionId};

use crate::domain::discounts::{self, Terms};
use crate::domain::{Points, Qty};

pub use crate::domain::prices::PricedItem;

/// A store region's menu and discounts, as a write prices from them.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub items: Vec<PricedItem>,
    pub discounts: Vec<Terms>,
}

/// An open offer of the write's group: its discount's terms are the store region's.
#[derive(Debug, Clone)]
pub struct OpenOffer {
    pub id: String,
    pub discount_id: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where a write's prices (and a bill's discounts) come from.
#[derive(Debug, Clone)]
pub enum Prices {
    /// This region's catalogue and discounts, read in the write's own transaction.
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
        points_per_unit: i64,
    },
    /// `user_id` spends the group's points; admins need no membership, staff who are not
    /// members are refused.
    Redeem { user_id: String, admin: bool, staff: bool, spend: Spend, prices: Prices },
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

    /// Whether the transaction must read this region's discounts.
    pub fn reads_local_discounts(&self) -> bool {
        matches!(self, Rule::Bill { prices: Prices::Here, .. })
    }

    /// A bill's store region and its discounts (`here`: this region's, as read).
    pub fn store_terms<'a>(&'a self, here: &'a [Terms]) -> Option<(RegionId, &'a [Terms])> {
        match self {
            Rule::Bill { store_region, prices: Prices::Here, .. } => Some((*store_region, here)),
            Rule::Bill { store_region, prices: Prices::From(store), .. } => Some((*store_region, &store.discounts)),
            Rule::Redeem { .. } => None,
        }
    }

    /// The user whose active membership the decision asks about.
    pub fn member(&self) -> Option<&str> {
        match self {
            Rule::Bill { user_id, .. } => Some(user_id),
            Rule::Redeem { admin: true, .. } => None,
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
    /// This region's discounts, when the batch read them.
    pub discounts: &'a [Terms],
    /// The group's open offers not used by an earlier write of the batch.
    pub offers: &'a [OpenOffer],
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
}

/// The decision of one write on what its transaction read.
pub fn decide(rule: &Rule, seen: &Seen<'_>) -> Result<Change, Refusal> {
    let change = match rule {
        Rule::Bill { user_id, actor_id, store_region, lines, prices, points_per_unit } => {
            if !seen.is_member {
                return Err(Refusal::NotAMember { user_id: user_id.clone() });
            }
            let mut priced = Vec::with_capacity(lines.len());
            for (id, qty) in lines {
                priced.push((available(prices, seen, id)?, qty.get()));
            }
            let gross =
                priced.iter().map(|(item, qty)| item.price_cents.saturating_mul(*qty)).fold(0, i64::saturating_add);
            let terms = match prices {
                Prices::Here => seen.discounts,
                Prices::From(store) => &store.discounts,
            };
            // The group's offers of this store's discounts, while valid.
            let offers = seen.offers.iter().filter(|offer| offer.expires_at.is_none_or(|at| seen.now < at)).filter_map(
                |offer| {
                    let terms = terms.iter().find(|t| t.id == offer.discount_id && t.audience == Audience::Offer)?;
                    Some((offer.id.as_str(), terms))
                },
            );
            let discount = discounts::best(&priced, terms, offers, seen.now);
            let paid = gross - discount.as_ref().map_or(0, |d| d.amount_cents);
            Change {
                user_id: user_id.clone(),
                actor_id: actor_id.clone(),
                kind: EntryKind::Award,
                points: (paid / 100).saturating_mul(*points_per_unit),
                amount_cents: Some(paid),
                store_region: Some(*store_region),
                gross_cents: Some(gross),
                discount,
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
            Change {
                user_id: user_id.clone(),
                actor_id: user_id.clone(),
                kind: EntryKind::Redeem,
                points: -points,
                amount_cents: None,
                store_region: None,
                gross_cents: None,
                discount: None,
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
mod tests {
    use super::*;

    fn seen(balance: i64, is_member: bool, can_redeem: bool, items: &HashMap<String, PricedItem>) -> Seen<'_> {
        Seen { balance, is_member, can_redeem, items, discounts: &[], offers: &[], now: chrono::Utc::now() }
    }

    fn redeem(points: i64, admin: bool, staff: bool) -> Rule {
        Rule::Redeem {
            user_id: "001-aaaaaa".into(),
            admin,
            staff,
            spend: Spend::Points(Points::parse(points).unwrap_or_else(|_| unreachable!())),
            prices: Prices::Here,
        }
    }

    #[test]
    fn a_redemption_needs_the_right_and_the_points() {
        let none = HashMap::new();
        assert_eq!(decide(&redeem(5, false, false), &seen(10, true, true, &none)).map(|c| c.points), Ok(-5));
        assert_eq!(
            decide(&redeem(5, false, false), &seen(10, true, false, &none)).err(),
            Some(Refusal::NoRightToRedeem)
        );
        assert_eq!(
            decide(&redeem(5, false, true), &seen(10, false, false, &none)).err(),
            Some(Refusal::StaffNotMember)
        );
        assert_eq!(
            decide(&redeem(5, false, false), &seen(10, false, false, &none)).err(),
            Some(Refusal::GroupNotFound)
        );
        assert_eq!(decide(&redeem(5, true, false), &seen(10, false, false, &none)).map(|c| c.points), Ok(-5));
        assert_eq!(
            decide(&redeem(11, false, false), &seen(10, true, true, &none)).err(),
            Some(Refusal::InsufficientPoints { balance: 10, asked: 11 })
        );
    }

    #[test]
    fn a_bill_prices_its_lines_and_earns_on_what_is_paid() {
        let item = |id: &str, available| PricedItem {
            id: id.into(),
            category: "food".into(),
            price_cents: 1_250,
            points_price: 9,
            available,
        };
        let items: HashMap<String, PricedItem> =
            [("001-soup01", item("001-soup01", true)), ("001-gone01", item("001-gone01", false))]
                .into_iter()
                .map(|(id, item)| (id.to_owned(), item))
                .collect();
        let bill = |id: &str| Rule::Bill {
            user_id: "001-aaaaaa".into(),
            actor_id: "001-staff1".into(),
            store_region: "001".parse().unwrap_or_else(|_| unreachable!()),
            lines: vec![(
                id.parse().unwrap_or_else(|_| unreachable!()),
                Qty::parse(2).unwrap_or_else(|_| unreachable!()),
            )],
            prices: Prices::Here,
            points_per_unit: 1,
        };
        let change = decide(&bill("001-soup01"), &seen(0, true, false, &items)).unwrap_or_else(|_| unreachable!());
        assert_eq!((change.amount_cents, change.points), (Some(2_500), 25));
        // A discount everyone gets: points are earned on what is paid.
        let tenth = [crate::domain::discounts::Terms {
            id: "001-disc01".into(),
            name: "A tenth off".into(),
            off: crate::domain::discounts::Off::Percent(10),
            min_spend_cents: 0,
            category: None,
            valid_from: None,
            valid_until: None,
            audience: contract::dto::Audience::Everyone,
            every_n_bills: None,
        }];
        let discounted = Seen { discounts: &tenth, ..seen(0, true, false, &items) };
        let change = decide(&bill("001-soup01"), &discounted).unwrap_or_else(|_| unreachable!());
        assert_eq!((change.gross_cents, change.amount_cents, change.points), (Some(2_500), Some(2_250), 22));
        assert_eq!(change.discount.map(|d| (d.discount_id, d.amount_cents)), Some(("001-disc01".into(), 250)));
        // An offer of the group, of this store's offer-only half price, saves more: it is
        // used; expired, it is not.
        let half = crate::domain::discounts::Terms {
            id: "001-half01".into(),
            off: crate::domain::discounts::Off::Percent(50),
            audience: contract::dto::Audience::Offer,
            ..tenth[0].clone()
        };
        let both = [tenth[0].clone(), half];
        let offers = [OpenOffer { id: "001-offer1".into(), discount_id: "001-half01".into(), expires_at: None }];
        let with_offer = Seen { discounts: &both, offers: &offers, ..seen(0, true, false, &items) };
        let change = decide(&bill("001-soup01"), &with_offer).unwrap_or_else(|_| unreachable!());
        let used = change.discount.map(|d| (d.offer_id, d.amount_cents));
        assert_eq!(used, Some((Some("001-offer1".into()), 1_250)));
        let stale =
            [OpenOffer { expires_at: Some(chrono::Utc::now() - chrono::Duration::hours(1)), ..offers[0].clone() }];
        let expired = Seen { discounts: &both, offers: &stale, ..seen(0, true, false, &items) };
        let change = decide(&bill("001-soup01"), &expired).unwrap_or_else(|_| unreachable!());
        assert_eq!(change.discount.map(|d| (d.offer_id, d.amount_cents)), Some((None, 250)));
        assert_eq!(
            decide(&bill("001-gone01"), &seen(0, true, false, &items)).err(),
            Some(Refusal::ItemUnavailable("001-gone01".into()))
        );
        assert_eq!(
            decide(&bill("001-nope01"), &seen(0, true, false, &items)).err(),
            Some(Refusal::ItemNotFound("001-nope01".into()))
        );
        assert_eq!(
            decide(&bill("001-soup01"), &seen(0, false, false, &items)).err(),
            Some(Refusal::NotAMember { user_id: "001-aaaaaa".into() })
        );
    }
}
