//! Whose request this is: the client's address as the proxies in front of a service saw
//! it. Only the entries the trusted proxies appended count; whatever a client wrote into
//! `X-Forwarded-For` itself is further left and ignored.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The connection's peer when `trusted_hops` is 0 (clients connect directly); else the
/// `X-Forwarded-For` entry `trusted_hops` places from the right (1 behind an AWS load
/// balancer), or the peer when the header is shorter than that.
pub fn client(req: &HttpRequest, trusted_hops: usize) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    if trusted_hops == 0 {
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
        .checked_sub(trusted_hops)
        .and_then(|i| forwarded.get(i))
        .and_then(|entry| entry.parse().ok())
        .or(peer)
}
