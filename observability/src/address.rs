//! Whose request this is: the client's address as the proxies in front of a service saw
//! it. Only the entries the trusted proxies appended count, and only on a connection that
//! comes from one of them; whatever a client wrote into `X-Forwarded-For` itself is
//! further left and ignored, and a client that reaches the service past the proxies is
//! counted as itself.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies in front of a service: how many append to `X-Forwarded-For`, and the
/// networks they connect from. The default is none: the connection's peer is the client.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    hops: usize,
    networks: Vec<IpNet>,
}

/// `hops` without `networks`: every peer would be believed, so a client that reaches the
/// service directly could name any address (and spend another's rate limits).
#[derive(Debug, thiserror::Error)]
#[error("trusted_proxy_hops is {0} but trusted_proxies names no network the proxies connect from")]
pub struct UntrustedHops(usize);

impl Proxies {
    pub fn new(hops: usize, networks: &[IpNet]) -> Result<Proxies, UntrustedHops> {
        if hops > 0 && networks.is_empty() {
            return Err(UntrustedHops(hops));
        }
        Ok(Proxies { hops, networks: networks.to_vec() })
    }

    /// The connection's peer, unless it is one of the proxies: then the `X-Forwarded-For`
    /// entry `hops` places from the right (1 behind an AWS load balancer), or the peer
    /// when the header is shorter than that.
    pub fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        // A dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d`: the same client, and
        // the same network, as `a.b.c.d`.
        let peer = req.peer_addr().map(|a| a.ip().to_canonical());
        if self.hops == 0 || !peer.is_some_and(|peer| self.networks.iter().any(|net| net.contains(&peer))) {
            return peer;
        }
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        forwarded
            .len()
            .checked_sub(self.hops)
            .and_then(|i| forwarded.get(i))
            .and_then(|entry| entry.parse().ok())
            .or(peer)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn from(peer: &str, forwarded: &str) -> HttpRequest {
        TestRequest::default()
            .peer_addr(std::net::SocketAddr::new(peer.parse().unwrap(), 40000))
            .insert_header(("x-forwarded-for", forwarded))
            .to_http_request()
    }

    fn proxies(hops: usize, networks: &[&str]) -> Proxies {
        let networks: Vec<IpNet> = networks.iter().map(|n| n.parse().unwrap()).collect();
        Proxies::new(hops, &networks).unwrap()
    }

    #[test]
    fn without_proxies_the_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(Proxies::default().client(&from("198.51.100.7", "203.0.113.9")), "198.51.100.7".parse().ok());
    }

    #[test]
    fn a_proxy_names_the_client_in_the_entry_it_appended() {
        let behind_lb = proxies(1, &["10.0.0.0/16"]);
        let req = from("10.0.3.4", "203.0.113.66, 198.51.100.7");
        assert_eq!(behind_lb.client(&req), "198.51.100.7".parse().ok());
        assert_eq!(behind_lb.client(&from("10.0.3.4", "")), "10.0.3.4".parse().ok(), "no entry: the peer");
        assert_eq!(proxies(2, &["10.0.0.0/16"]).client(&req), "203.0.113.66".parse().ok());
    }

    #[test]
    fn a_client_that_reaches_past_the_proxies_cannot_name_another_address() {
        let behind_lb = proxies(1, &["10.0.0.0/16", "fd00::/8"]);
        assert_eq!(behind_lb.client(&from("198.51.100.7", "203.0.113.9")), "198.51.100.7".parse().ok());
        assert_eq!(behind_lb.client(&from("fd12::1", "203.0.113.9")), "203.0.113.9".parse().ok());
    }

    #[test]
    fn an_ipv4_peer_on_a_dual_stack_listener_is_the_same_peer() {
        let behind_lb = proxies(1, &["10.0.0.0/16"]);
        assert_eq!(behind_lb.client(&from("::ffff:10.0.3.4", "203.0.113.9")), "203.0.113.9".parse().ok());
        assert_eq!(Proxies::default().client(&from("::ffff:198.51.100.7", "")), "198.51.100.7".parse().ok());
    }

    #[test]
    fn hops_without_networks_are_refused() {
        assert!(Proxies::new(1, &[]).is_err());
        assert!(Proxies::new(0, &[]).is_ok());
    }
}
