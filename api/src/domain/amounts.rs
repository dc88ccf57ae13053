use crate::error::ApiError;

/// Upper bound on one redemption; keeps every sum far from i64 overflow.
const MAX_POINTS: i64 = 1_000_000_000;

/// A positive number of points to redeem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Points(i64);

impl Points {
    pub fn parse(value: i64) -> Result<Points, ApiError> {
        if (1..=MAX_POINTS).contains(&value) {
            Ok(Points(value))
        } else {
            Err(ApiError::invalid_input(format!("points must be between 1 and {MAX_POINTS}")))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A quantity on a bill line or redemption: 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qty(i64);

impl Qty {
    pub fn parse(value: i64) -> Result<Qty, ApiError> {
        if (1..=100).contains(&value) {
            Ok(Qty(value))
        } else {
            Err(ApiError::invalid_input("qty must be between 1 and 100"))
        }
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
        assert!(Points::parse(MAX_POINTS + 1).is_err());
        assert_eq!(Points::parse(7).unwrap().get(), 7);
        assert!(Qty::parse(0).is_err());
        assert!(Qty::parse(101).is_err());
        assert_eq!(Qty::parse(100).unwrap().get(), 100);
    }
}
