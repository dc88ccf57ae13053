//! Times a client may send. chrono reads years from 262 143 BC, Postgres keeps
//! `timestamptz` from 4713 BC only: a time between the two was read, reached the
//! database and came back as an error (a 500, from a crafted cursor or a discount's
//! window) instead of a refusal. Every time the platform keeps is of this era.

use chrono::{DateTime, Datelike, Utc};

/// The years a time sent to the platform may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Whether the platform can keep `at`.
pub fn keepable(at: DateTime<Utc>) -> bool {
    YEARS.contains(&at.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_times_of_this_era_are_kept() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        assert!(keepable(at("1970-01-01T00:00:00Z")));
        assert!(keepable(at("9999-12-31T23:59:59Z")));
        assert!(!keepable(at("1969-12-31T23:59:59Z")));
        assert!(!keepable(DateTime::from_timestamp_micros(-1_000_000_000_000_000_000).unwrap()));
        assert!(!keepable(DateTime::from_timestamp_micros(8_000_000_000_000_000_000).unwrap()));
    }
}
