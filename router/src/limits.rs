//! Rate limits at the edge, so one client cannot take service from everyone else: a
//! general budget per client address, and tighter ones for what costs the platform
//! most or guesses at secrets (sign-up, login, joining with an invitation code), per
//! client address, and for sign-ups per email. GCRA buckets (governor), one per key, kept
//! in memory per router instance; idle keys are dropped every minute, so a flood of
//! addresses or emails does not grow memory for ever.
//!
//! A budget keyed by what a body names (an email, a `user_id`) can be spent by anyone
//! who names it, the account's owner refused with the stranger. So guessing at one
//! account is the API's to bound, which can tell the owner apart: failed logins per
//! (email, client address), an account guessed at from many addresses let in only from
//! the networks its user logged in from, joins whose invitation opened nothing per
//! caller. Only sign-ups are budgeted per email here: the email has no owner yet.
//!
//! A budget keyed by the account a verified token names can be spent only with that
//! account's token: finding users by email is budgeted so, since it tells whether an
//! address has an account, and one staff account could ask from many addresses.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use contract::secret::{PROXY_CLIENT_HEADER, PROXY_TOKEN_HEADER};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use observability::address::{Proxies, UntrustedHops};
use serde::{Deserialize, Serialize};

use crate::error::RouterError;

/// One bucket: `per_minute` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    const fn new(per_minute: u32, burst: u32) -> Rate {
        Rate { per_minute, burst }
    }

    fn quota(self) -> Quota {
        let per_minute = NonZeroU32::new(self.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::per_minute(per_minute).allow_burst(burst)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitsConfig {
    /// Every request of one client address.
    pub per_address: Rate,
    pub sign_up_per_address: Rate,
    /// Sign-ups for one email (each reserves it in the email directory).
    pub sign_up_per_email: Rate,
    pub login_per_address: Rate,
    /// Joins with an invitation code from one address.
    pub join_per_address: Rate,
    /// Users found by email (`GET /v1/users?email=`) by one account, whatever its
    /// addresses: staff at a till look up one customer at a time.
    pub lookup_per_account: Rate,
    /// Proxies in front of the router that append the client's address to
    /// `X-Forwarded-For` (1 behind an AWS load balancer, 0 when clients connect directly).
    /// The client's address is the entry that many places from the right; entries
    /// further left were written by the client and are not trusted.
    pub trusted_proxy_hops: usize,
    /// The networks those proxies connect from (CIDRs: the load balancer's VPC). Needed
    /// with `trusted_proxy_hops`; a connection from anywhere else counts as its own address.
    pub trusted_proxies: Vec<IpNet>,
    /// The shared secret of the front ends that speak for their visitors (the web
    /// console): a request that carries it in `X-Proxy-Token` is counted as the address
    /// in its `X-Proxy-Client`. None trusts no front end.
    pub proxy_token: Option<String>,
    /// Open client connections per worker thread; more wait in the listen backlog.
    pub max_connections_per_worker: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            // A store's tills behind one NAT address stay well inside this.
            per_address: Rate::new(6_000, 200),
            sign_up_per_address: Rate::new(30, 10),
            sign_up_per_email: Rate::new(20, 10),
            login_per_address: Rate::new(60, 20),
            join_per_address: Rate::new(60, 20),
            lookup_per_account: Rate::new(60, 20),
            trusted_proxy_hops: 0,
            trusted_proxies: Vec::new(),
            proxy_token: None,
            max_connections_per_worker: 10_000,
        }
    }
}

/// What a request is, for the limits that apply to it.
pub enum Action<'a> {
    SignUp {
        email: Option<&'a str>,
    },
    LogIn,
    Join,
    /// A user found by email, by the account the verified token names.
    Lookup {
        account: &'a str,
    },
}

pub struct Limits {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    sign_up_per_address: DefaultKeyedRateLimiter<IpAddr>,
    sign_up_per_email: DefaultKeyedRateLimiter<String>,
    login_per_address: DefaultKeyedRateLimiter<IpAddr>,
    join_per_address: DefaultKeyedRateLimiter<IpAddr>,
    lookup_per_account: DefaultKeyedRateLimiter<String>,
    proxies: Proxies,
    proxy_token: Option<String>,
    clock: DefaultClock,
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Result<Limits, UntrustedHops> {
        Ok(Limits {
            per_address: RateLimiter::keyed(config.per_address.quota()),
            sign_up_per_address: RateLimiter::keyed(config.sign_up_per_address.quota()),
            sign_up_per_email: RateLimiter::keyed(config.sign_up_per_email.quota()),
            login_per_address: RateLimiter::keyed(config.login_per_address.quota()),
            join_per_address: RateLimiter::keyed(config.join_per_address.quota()),
            lookup_per_account: RateLimiter::keyed(config.lookup_per_account.quota()),
            proxies: Proxies::new(config.trusted_proxy_hops, &config.trusted_proxies)?,
            proxy_token: config.proxy_token.clone(),
            clock: DefaultClock::default(),
        })
    }

    /// The client's address: the visitor a trusted front end names, else the
    /// connection's peer or the `X-Forwarded-For` entry the trusted proxies wrote.
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.visitor_of_front_end(req.headers()).or_else(|| self.proxies.client(req))
    }

    /// The `X-Proxy-Client` of a request with the right `X-Proxy-Token`.
    fn visitor_of_front_end(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let expected = self.proxy_token.as_deref()?;
        let given = headers.get(PROXY_TOKEN_HEADER)?.to_str().ok()?;
        if !contract::secret::same(expected, given) {
            return None;
        }
        headers.get(PROXY_CLIENT_HEADER)?.to_str().ok()?.trim().parse().ok()
    }

    /// The general budget of `address`.
    pub fn check_request(&self, address: Option<IpAddr>) -> Result<(), RouterError> {
        match address {
            Some(address) => self.take(&self.per_address, &address, "address"),
            None => Ok(()),
        }
    }

    /// The budgets of a sign-up, login, join or look-up.
    pub fn check_action(&self, address: Option<IpAddr>, action: &Action<'_>) -> Result<(), RouterError> {
        let (by_address, what) = match action {
            Action::SignUp { .. } => (&self.sign_up_per_address, "sign_up"),
            Action::LogIn => (&self.login_per_address, "log_in"),
            Action::Join => (&self.join_per_address, "join"),
            Action::Lookup { account } => return self.take(&self.lookup_per_account, &(*account).to_owned(), "lookup"),
        };
        if let Some(address) = address {
            self.take(by_address, &address, what)?;
        }
        if let Action::SignUp { email: Some(email) } = action {
            self.take(&self.sign_up_per_email, &email.to_lowercase(), what)?;
        }
        Ok(())
    }

    fn take<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        what: &'static str,
    ) -> Result<(), RouterError> {
        limiter.check_key(key).map_err(|not_until| {
            metrics::counter!("router_rate_limited_total", "limit" => what).increment(1);
            let wait = not_until.wait_time_from(self.clock.now());
            RouterError::rate_limited(wait.as_secs().max(1))
        })
    }

    /// Forgets keys whose buckets are full again (they would allow a full burst).
    pub fn forget_idle(&self) {
        self.per_address.retain_recent();
        self.sign_up_per_address.retain_recent();
        self.sign_up_per_email.retain_recent();
        self.login_per_address.retain_recent();
        self.join_per_address.retain_recent();
        self.lookup_per_account.retain_recent();
        self.per_address.shrink_to_fit();
    }
}

/// Runs `forget_idle` every minute, forever.
pub async fn forget_idle_keys(limits: std::sync::Arc<Limits>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        limits.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_429_with_a_wait_per_key() {
        let config = LimitsConfig { login_per_address: Rate::new(60, 3), ..LimitsConfig::default() };
        let limits = Limits::new(&config).unwrap();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limits.check_action(Some(a), &Action::LogIn).is_ok());
        }
        let refused = limits.check_action(Some(a), &Action::LogIn).unwrap_err();
        assert_eq!(refused.code, contract::ErrorCode::RateLimited);
        assert_eq!(refused.retry_after, Some(1));
        // Another address has its own bucket.
        assert!(limits.check_action(Some(b), &Action::LogIn).is_ok());
    }

    #[test]
    fn the_client_address_is_the_one_the_trusted_proxies_wrote() {
        let request = |forwarded: &str| {
            actix_web::test::TestRequest::default()
                .peer_addr("10.1.1.1:5000".parse().unwrap())
                .insert_header(("x-forwarded-for", forwarded))
                .to_http_request()
        };
        let direct = Limits::new(&LimitsConfig::default()).unwrap();
        // Clients connecting directly: whatever they claim, their own address counts.
        assert_eq!(direct.client_address(&request("1.2.3.4")), Some("10.1.1.1".parse().unwrap()));
        // One load balancer in front, connecting from `network`.
        let behind_one = |network: &str| {
            let config = LimitsConfig {
                trusted_proxy_hops: 1,
                trusted_proxies: vec![network.parse().unwrap()],
                ..LimitsConfig::default()
            };
            Limits::new(&config).unwrap()
        };
        let behind_lb = behind_one("10.1.0.0/16");
        // Behind one load balancer: its entry (the last), not the one the client wrote.
        let spoofed = request("6.6.6.6, 203.0.113.9");
        assert_eq!(behind_lb.client_address(&spoofed), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(behind_lb.client_address(&request("garbage")), Some("10.1.1.1".parse().unwrap()));
        // A connection from outside the proxies' network is not a proxy's: its own address.
        let elsewhere = behind_one("10.9.0.0/16");
        assert_eq!(elsewhere.client_address(&spoofed), Some("10.1.1.1".parse().unwrap()));
    }

    #[test]
    fn a_front_end_names_its_visitor_only_with_the_proxy_token() {
        let request = |token: &str| {
            actix_web::test::TestRequest::default()
                .peer_addr("10.1.1.1:5000".parse().unwrap())
                .insert_header((PROXY_TOKEN_HEADER, token))
                .insert_header((PROXY_CLIENT_HEADER, "198.51.100.4"))
                .to_http_request()
        };
        let trusting =
            Limits::new(&LimitsConfig { proxy_token: Some("s3cret".into()), ..LimitsConfig::default() }).unwrap();
        assert_eq!(trusting.client_address(&request("s3cret")), Some("198.51.100.4".parse().unwrap()));
        // A client that guesses at the token, or a router that trusts no front end, counts
        // the connection's own address.
        assert_eq!(trusting.client_address(&request("guess")), Some("10.1.1.1".parse().unwrap()));
        let untrusting = Limits::new(&LimitsConfig::default()).unwrap();
        assert_eq!(untrusting.client_address(&request("s3cret")), Some("10.1.1.1".parse().unwrap()));
    }

    #[test]
    fn look_ups_are_limited_per_account_whatever_the_address() {
        let config = LimitsConfig { lookup_per_account: Rate::new(60, 3), ..LimitsConfig::default() };
        let limits = Limits::new(&config).unwrap();
        let address = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
        let staff = Action::Lookup { account: "001-staff1" };
        for n in 0..3 {
            assert!(limits.check_action(address(n), &staff).is_ok());
        }
        let refused = limits.check_action(address(9), &staff).unwrap_err();
        assert_eq!(refused.code, contract::ErrorCode::RateLimited);
        // Another account has its own budget, from the same address.
        assert!(limits.check_action(address(9), &Action::Lookup { account: "002-staff2" }).is_ok());
    }

    #[test]
    fn sign_ups_for_one_email_are_limited_across_addresses_whatever_its_case() {
        let config = LimitsConfig { sign_up_per_email: Rate::new(1, 2), ..LimitsConfig::default() };
        let limits = Limits::new(&config).unwrap();
        let address = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
        let sign_up = |email| Action::SignUp { email: Some(email) };
        assert!(limits.check_action(address(1), &sign_up("Ann@x.io")).is_ok());
        assert!(limits.check_action(address(2), &sign_up("ann@x.io")).is_ok());
        let refused = limits.check_action(address(3), &sign_up("ANN@x.io")).unwrap_err();
        assert!(refused.retry_after.unwrap() >= 59, "{refused:?}");
        // Logins name no budget but their address's.
        assert!(limits.check_action(address(3), &Action::LogIn).is_ok());
    }
}
