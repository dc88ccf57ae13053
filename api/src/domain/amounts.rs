use contract::numbers::{self, NumberKind};

use crate::error::ApiError;

/// `value` when it is one of `K`'s, or the contract's error naming `field`.
pub fn within<K: NumberKind>(field: &str, value: i64) -> Result<i64, ApiError> {
    K::check(field, value).map_err(ApiError::invalid_input)
}

/// A positive number of points to redeem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Points(i64);

impl Points {
    pub fn parse(value: i64) -> Result<Points, ApiError> {
        within::<numbers::Points>("points", value).map(Points)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A quantity on a bill line or redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qty(i64);

impl Qty {
    pub fn parse(value: i64) -> Result<Qty, ApiError> {
        within::<numbers::Quantity>("qty", value).map(Qty)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(Points::parse(0).is_err());
        assert!(Points::parse(-5).is_err());
        assert!(Points::parse(1_000_000_001).is_err());
        assert_eq!(Points::parse(1_000_000_000).unwrap().get(), 1_000_000_000);
        assert_eq!(Points::parse(7).unwrap().get(), 7);
        assert!(Qty::parse(0).is_err());
        assert!(Qty::parse(101).is_err());
        assert_eq!(Qty::parse(100).unwrap().get(), 100);
    }
}
