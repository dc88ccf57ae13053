//! Ledger page cursors. A regional API issues one per page (the last entry's creation
//! time and id); the router merges regions and builds each region's cursor from the last
//! entry it took from that region, so both sides share this codec. Opaque to clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// A position in a newest-first ledger: pages continue with entries strictly older.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPosition {
    pub created_on: DateTime<Utc>,
    pub id: String,
}

impl LedgerPosition {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.created_on.timestamp_micros(), self.id))
    }

    pub fn decode(cursor: &str) -> Option<LedgerPosition> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
        let (micros, id) = raw.split_once('|')?;
        let created_on =
            DateTime::from_timestamp_micros(micros.parse().ok()?).filter(|at| crate::time::keepable(*at))?;
        is_id(id).then(|| LedgerPosition { created_on, id: id.to_owned() })
    }
}

/// Whether `id` has the shape of the ids positions hold (a ledger entry's, an
/// invitation's): a region, `-`, letters and digits. Nothing else is compared in the
/// database: a NUL byte in a crafted position came back from Postgres as a 500.
fn is_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(region, rest)| {
        region.parse::<crate::RegionId>().is_ok()
            && (1..=26).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let p = LedgerPosition {
            created_on: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: "001-01ABC".into(),
        };
        assert_eq!(LedgerPosition::decode(&p.encode()), Some(p));
        // Not base64; no `|`; times Postgres cannot keep (years -29719 and 255479); ids
        // that are none (a NUL byte, no region, a space).
        for bad in [
            "!!",
            "bm9waXBl",
            "",
            "LTEwMDAwMDAwMDAwMDAwMDAwMDB8eA",
            "ODAwMDAwMDAwMDAwMDAwMDAwMHx4",
            "MTcwMDAwMDAwMDAwMDAwMHwwMDEtAA",
            "MTcwMDAwMDAwMDAwMDAwMHxhYmM",
            "MTcwMDAwMDAwMDAwMDAwMHwwMDEtYSBi",
        ] {
            assert_eq!(LedgerPosition::decode(bad), None);
        }
    }
}
