//! Which region keeps an email's directory entry (email → user id, home region):
//! rendezvous (highest random weight) hashing over the configured regions. Every
//! service computes the same answer from the configuration alone, and adding a region
//! moves only the entries that the new region wins (about 1/N of them).

use sha2::{Digest, Sha256};

use crate::email::Email;
use crate::ids::RegionId;

fn weight(region: RegionId, email: &Email) -> u64 {
    let digest =
        Sha256::new().chain_update(region.as_str()).chain_update(b"\0").chain_update(email.as_str()).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The region that owns `email`'s directory entry; `None` only when `regions` is empty.
pub fn directory_region(email: &Email, regions: &[RegionId]) -> Option<RegionId> {
    regions.iter().copied().max_by_key(|r| (weight(*r, email), *r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(codes: &[&str]) -> Vec<RegionId> {
        codes.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn stable_and_spread() {
        let three = regions(&["001", "002", "003"]);
        let mut counts = std::collections::HashMap::new();
        for i in 0..3000 {
            let email = Email::parse(&format!("user{i}@example.com")).unwrap();
            let region = directory_region(&email, &three).unwrap();
            assert_eq!(directory_region(&email, &three), Some(region));
            *counts.entry(region).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 3);
        assert!(counts.values().all(|&n| n > 800), "{counts:?}");
    }

    #[test]
    fn a_new_region_moves_only_what_it_wins() {
        let three = regions(&["001", "002", "003"]);
        let four = regions(&["001", "002", "003", "004"]);
        let mut moved = 0;
        for i in 0..4000 {
            let email = Email::parse(&format!("user{i}@example.com")).unwrap();
            let before = directory_region(&email, &three).unwrap();
            let after = directory_region(&email, &four).unwrap();
            if before != after {
                assert_eq!(after.as_str(), "004", "entries only ever move to the new region");
                moved += 1;
            }
        }
        assert!((700..1300).contains(&moved), "about a quarter moves: {moved}");
    }
}
