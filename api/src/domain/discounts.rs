//! What a discount takes off a bill, and which one a bill gets: the one that saves most
//! among those it qualifies for (no stacking). Pure: the bill's priced lines, the
//! discounts and the time in, the winner out. Bills and their quotes decide with it.

use chrono::{DateTime, Utc};
use contract::dto::{AppliedDiscount, Audience, Discount};

use crate::domain::prices::PricedItem;

/// How much a discount takes off what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Off {
    /// 1..=100 percent, rounded down to the cent.
    Percent(i64),
    /// A fixed amount, at most what it covers.
    Cents(i64),
}

/// A discount's terms, as a bill reads them.
#[derive(Debug, Clone)]
pub struct Terms {
    pub id: String,
    pub name: String,
    pub off: Off,
    pub min_spend_cents: i64,
    pub category: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub audience: Audience,
    pub every_n_bills: Option<i32>,
}

impl From<&Discount> for Terms {
    /// Another region's discount as its `/internal` answer sends it.
    fn from(d: &Discount) -> Terms {
        Terms {
            id: d.id.to_string(),
            name: d.name.clone(),
            off: match (d.percent_off, d.amount_off_cents) {
                (Some(percent), _) => Off::Percent(i64::from(percent)),
                (None, cents) => Off::Cents(cents.unwrap_or(0)),
            },
            min_spend_cents: d.min_spend_cents,
            category: d.category.clone(),
            valid_from: d.valid_from,
            valid_until: d.valid_until,
            audience: d.audience,
            every_n_bills: d.every_n_bills,
        }
    }
}

impl Terms {
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|from| from <= now) && self.valid_until.is_none_or(|until| now < until)
    }

    /// What it takes off a bill of `lines` at `now`: nothing when it is not valid then,
    /// covers none of the lines, or what it covers is under its minimum spend.
    pub fn saving(&self, lines: &[(&PricedItem, i64)], now: DateTime<Utc>) -> i64 {
        if !self.valid_at(now) {
            return 0;
        }
        let covered: i64 = lines
            .iter()
            .filter(|(item, _)| self.category.as_deref().is_none_or(|c| c == item.category))
            .map(|(item, qty)| item.price_cents.saturating_mul(*qty))
            .fold(0, i64::saturating_add);
        if covered == 0 || covered < self.min_spend_cents {
            return 0;
        }
        match self.off {
            Off::Percent(percent) => covered.saturating_mul(percent) / 100,
            Off::Cents(cents) => cents.min(covered),
        }
    }
}

/// The discount that saves most on `lines`: among `everyone` (valid for every bill) and
/// `offers` (each an offer's id with its discount). On a tie, a discount everyone gets
/// wins over an offer, which stays open for a later bill; then the smaller id.
pub fn best<'a>(
    lines: &[(&PricedItem, i64)],
    everyone: impl IntoIterator<Item = &'a Terms>,
    offers: impl IntoIterator<Item = (&'a str, &'a Terms)>,
    now: DateTime<Utc>,
) -> Option<AppliedDiscount> {
    let candidates = everyone
        .into_iter()
        .filter(|terms| terms.audience == Audience::Everyone)
        .map(|terms| (None, terms))
        .chain(offers.into_iter().map(|(offer, terms)| (Some(offer), terms)));
    candidates
        .map(|(offer, terms)| (terms.saving(lines, now), offer, terms))
        .filter(|(saving, _, _)| *saving > 0)
        .min_by(|a, b| b.0.cmp(&a.0).then(a.1.is_some().cmp(&b.1.is_some())).then(a.2.id.cmp(&b.2.id)))
        .map(|(saving, offer, terms)| AppliedDiscount {
            discount_id: terms.id.clone(),
            offer_id: offer.map(str::to_owned),
            name: terms.name.clone(),
            amount_cents: saving,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(category: &str, price_cents: i64) -> PricedItem {
        PricedItem { id: "001-item01".into(), category: category.into(), price_cents, points_price: 1, available: true }
    }

    fn terms(id: &str, off: Off, min_spend_cents: i64, category: Option<&str>) -> Terms {
        Terms {
            id: id.into(),
            name: format!("discount {id}"),
            off,
            min_spend_cents,
            category: category.map(str::to_owned),
            valid_from: None,
            valid_until: None,
            audience: Audience::Everyone,
            every_n_bills: None,
        }
    }

    #[test]
    fn a_discount_covers_its_category_from_its_minimum_and_never_more_than_it_covers() {
        let (soup, wine) = (item("food", 1_250), item("drinks", 999));
        let lines = [(&soup, 2), (&wine, 1)];
        let now = Utc::now();
        assert_eq!(terms("a", Off::Percent(10), 0, None).saving(&lines, now), 349, "10 % of 34.99, down to the cent");
        assert_eq!(terms("b", Off::Percent(50), 0, Some("drinks")).saving(&lines, now), 499);
        assert_eq!(terms("c", Off::Cents(5_000), 0, Some("drinks")).saving(&lines, now), 999, "at most what it covers");
        assert_eq!(terms("d", Off::Cents(100), 2_501, Some("food")).saving(&lines, now), 0, "under the minimum");
        assert_eq!(terms("e", Off::Cents(100), 0, Some("dessert")).saving(&lines, now), 0, "covers nothing");
        let mut later = terms("f", Off::Cents(100), 0, None);
        later.valid_from = Some(now + chrono::Duration::hours(1));
        assert_eq!(later.saving(&lines, now), 0, "not valid yet");
        later.valid_from = None;
        later.valid_until = Some(now);
        assert_eq!(later.saving(&lines, now), 0, "valid until, not through");
    }

    #[test]
    fn the_best_single_discount_wins_and_a_tie_keeps_the_offer() {
        let soup = item("food", 2_000);
        let lines = [(&soup, 1)];
        let now = Utc::now();
        let ten = terms("ten", Off::Percent(10), 0, None);
        let three = terms("three", Off::Cents(300), 0, None);
        let mut for_offers = terms("offer", Off::Cents(200), 0, None);
        for_offers.audience = Audience::Offer;
        let won = best(&lines, [&ten, &three, &for_offers], [], now).map(|a| (a.discount_id, a.amount_cents));
        assert_eq!(won, Some(("three".into(), 300)), "an offer's discount is not everyone's");
        let won = best(&lines, [&ten], [("001-offer1", &for_offers)], now).map(|a| (a.offer_id, a.amount_cents));
        assert_eq!(won, Some((None, 200)), "equal savings: the offer stays open");
        let five = terms("five", Off::Cents(500), 0, None);
        let won = best(&lines, [&ten], [("001-offer1", &five)], now).map(|a| a.offer_id);
        assert_eq!(won, Some(Some("001-offer1".into())));
        assert!(best(&lines, [], [], now).is_none());
    }
}
