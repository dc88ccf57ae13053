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

/// The first instant after every time the platform keeps: where a newest-first page
/// with no position starts.
pub fn after_all() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(YEARS.end() + 1, 1, 1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MAX_UTC, |at| at.and_utc())
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
        assert!(!keepable(after_all()));
        assert_eq!(after_all() - chrono::Duration::microseconds(1), at("9999-12-31T23:59:59.999999Z"));
    }
}
