use super::*;

fn seen(balance: i64, is_member: bool, can_redeem: bool, items: &HashMap<String, PricedItem>) -> Seen<'_> {
    Seen { balance, is_member, can_redeem, items, offers: &[], debt: 0, bill: None, now: chrono::Utc::now() }
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
    assert_eq!(decide(&redeem(5, false, false), &seen(10, true, false, &none)).err(), Some(Refusal::NoRightToRedeem));
    assert_eq!(decide(&redeem(5, false, true), &seen(10, false, false, &none)).err(), Some(Refusal::StaffNotMember));
    assert_eq!(decide(&redeem(5, false, false), &seen(10, false, false, &none)).err(), Some(Refusal::GroupNotFound));
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
    let priced = |id: &str, discounts: &[crate::domain::discounts::Terms]| Rule::Bill {
        user_id: "001-aaaaaa".into(),
        actor_id: "001-staff1".into(),
        store_region: "001".parse().unwrap_or_else(|_| unreachable!()),
        lines: vec![(id.parse().unwrap_or_else(|_| unreachable!()), Qty::parse(2).unwrap_or_else(|_| unreachable!()))],
        prices: Prices::Here,
        discounts: std::sync::Arc::new(discounts.to_vec()),
        points_per_unit: 1,
    };
    let bill = |id: &str| priced(id, &[]);
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
    let change =
        decide(&priced("001-soup01", &tenth), &seen(0, true, false, &items)).unwrap_or_else(|_| unreachable!());
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
    let with_offer = Seen { offers: &offers, ..seen(0, true, false, &items) };
    let change = decide(&priced("001-soup01", &both), &with_offer).unwrap_or_else(|_| unreachable!());
    let used = change.discount.map(|d| (d.offer_id, d.amount_cents));
    assert_eq!(used, Some((Some("001-offer1".into()), 1_250)));
    let stale = [OpenOffer { expires_at: Some(chrono::Utc::now() - chrono::Duration::hours(1)), ..offers[0].clone() }];
    let expired = Seen { offers: &stale, ..seen(0, true, false, &items) };
    let change = decide(&priced("001-soup01", &both), &expired).unwrap_or_else(|_| unreachable!());
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
