//! What bills and redemptions price from: a catalogue item as pricing sees it.

/// What pricing needs of a catalogue item.
#[derive(Debug, Clone)]
pub struct PricedItem {
    pub id: String,
    pub category: String,
    pub price_cents: i64,
    pub points_price: i64,
    pub available: bool,
}
