//! Which regions keep an email's directory entry (email → user id, home region):
//! rendezvous (highest random weight) hashing over the configured regions. Every
//! service computes the same answer from the configuration alone, and adding a region
//! moves only the entries that the new region wins (about 1/N of them).
//!
//! Each entry is kept by `REPLICAS` regions (the highest weights), so that any one region
//! down leaves every entry readable and writable: a sign-up holds the email in a
//! majority of them (two majorities always share a region, so two sign-ups of one email
//! cannot both hold it), and a login asks them all.

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

/// How many regions keep each entry (fewer when the deployment has fewer regions).
pub const REPLICAS: usize = 3;

/// The region that owns `email`'s directory entry; `None` only when `regions` is empty.
pub fn directory_region(email: &Email, regions: &[RegionId]) -> Option<RegionId> {
    regions.iter().copied().max_by_key(|r| (weight(*r, email), *r))
}

/// The regions that keep `email`'s entry, highest weight first (the first is
/// `directory_region`).
pub fn directory_regions(email: &Email, regions: &[RegionId]) -> Vec<RegionId> {
    let mut ranked: Vec<RegionId> = regions.to_vec();
    ranked.sort_by_key(|r| std::cmp::Reverse((weight(*r, email), *r)));
    ranked.dedup();
    ranked.truncate(REPLICAS);
    ranked
}

/// How many of `replicas` regions must hold a reservation for it to count: a majority.
pub fn quorum(replicas: usize) -> usize {
    replicas / 2 + 1
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
    fn replicas_start_with_the_owner_and_majorities_overlap() {
        let five = regions(&["001", "002", "003", "004", "005"]);
        for i in 0..500 {
            let email = Email::parse(&format!("user{i}@example.com")).unwrap();
            let replicas = directory_regions(&email, &five);
            assert_eq!(replicas.len(), 3);
            assert_eq!(replicas[0], directory_region(&email, &five).unwrap());
            assert_eq!(directory_regions(&email, &five[..2]).len(), 2);
        }
        assert_eq!((quorum(1), quorum(2), quorum(3)), (1, 2, 2));
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
