//! When failed attempts lock a subject out: after `max_failures`, each further failure
//! doubles the wait (1 s, 2 s, 4 s, ... up to `max_lockout`); a success resets it. The
//! counts live in the region's database (`db::lockouts`), so every instance of the
//! region refuses alike. The subject is one that only the one attempting can spend:
//! - a login's (email, client address) pair, not the email alone, so a stranger who
//!   fails on purpose locks out only themselves, never the account's owner (a hard
//!   per-email lock let anyone lock any user out, forever). The client address is the
//!   one the router puts in `X-Forwarded-For`; guessing from many addresses is bounded
//!   by the watch on the email (`db::email_failures`).
//! - the caller of a join with an invitation code, as their token proves them: a budget
//!   keyed by the `user_id` in the body, as the router had, let anyone keep a user from
//!   joining by naming them.

use std::net::IpAddr;
use std::time::Duration;

use contract::UserId;

#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    /// The kind of subject, as `db::lockouts` files it.
    pub kind: &'static str,
    max_failures: u32,
    max_lockout: Duration,
}

/// No lockout is longer: far beyond what any needs, and it keeps the database's interval
/// arithmetic in range whatever the configuration says.
const LONGEST: Duration = Duration::from_secs(30 * 24 * 3600);

impl Lockout {
    pub fn logins(max_failures: u32, max_lockout: Duration) -> Lockout {
        Lockout::new("login", max_failures, max_lockout)
    }

    pub fn joins(max_failures: u32, max_lockout: Duration) -> Lockout {
        Lockout::new("join", max_failures, max_lockout)
    }

    /// The same policy for wrong current passwords given to a password change, counted
    /// per user: only the holder of one of their tokens can try, so the user is the subject.
    pub fn for_password_checks(self) -> Lockout {
        Lockout { kind: "password", ..self }
    }

    fn new(kind: &'static str, max_failures: u32, max_lockout: Duration) -> Lockout {
        Lockout { kind, max_failures: max_failures.max(1), max_lockout: max_lockout.min(LONGEST) }
    }

    /// How long a subject is refused after its `failures`-th failure in a row.
    pub fn wait_after(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.max_failures)?;
        Some(Duration::from_secs(1u64 << beyond.min(30)).min(self.max_lockout))
    }

    /// A subject quiet for this long starts again from no failures.
    pub fn forget_after(&self) -> Duration {
        self.max_lockout * 2
    }
}

/// A login's subject: the email and the client's address.
pub fn login_subject(email: &str, client: Option<IpAddr>) -> String {
    match client {
        Some(address) => format!("{email} {}", address.to_canonical()),
        None => format!("{email} unknown"),
    }
}

/// A join's subject: the caller.
pub fn join_subject(caller: &UserId) -> String {
    caller.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_past_the_allowance_up_to_the_longest_lockout() {
        let lockout = Lockout::logins(3, Duration::from_secs(60));
        let waits: Vec<_> = (1..=10).map(|n| lockout.wait_after(n).map(|w| w.as_secs())).collect();
        assert_eq!(waits, [None, None, Some(1), Some(2), Some(4), Some(8), Some(16), Some(32), Some(60), Some(60)]);
        assert_eq!(lockout.wait_after(u32::MAX), Some(Duration::from_secs(60)), "no overflow");
        assert_eq!(lockout.forget_after(), Duration::from_secs(120));
        let configured_forever = Lockout::joins(1, Duration::MAX);
        assert_eq!(configured_forever.forget_after(), LONGEST * 2);
    }

    #[test]
    fn a_login_subject_is_the_pair_and_an_ipv4_peer_of_a_dual_stack_listener_is_its_ipv4() {
        let v4: IpAddr = [192, 0, 2, 1].into();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap_or_else(|_| unreachable!("a test address"));
        assert_eq!(login_subject("a@x.io", Some(v4)), "a@x.io 192.0.2.1");
        assert_eq!(login_subject("a@x.io", Some(mapped)), login_subject("a@x.io", Some(v4)));
        assert_ne!(login_subject("a@x.io", Some(v4)), login_subject("b@x.io", Some(v4)));
    }
}
