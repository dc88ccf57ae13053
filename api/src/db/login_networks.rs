//! The networks each user of this region has logged in from (`login_networks`): while
//! the account is watched (`db::email_failures`), only these may try its password.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use ipnet::IpNet;

use super::schema::login_networks;

/// The network of `address` as a login knows it: an IPv4 address's /24, an IPv6
/// address's /64 (a household's or a phone's address changes within them).
pub fn network_of(address: IpAddr) -> String {
    let address = address.to_canonical();
    let prefix = if address.is_ipv4() { 24 } else { 64 };
    IpNet::new(address, prefix).map(|net| net.trunc().to_string()).unwrap_or_else(|_| address.to_string())
}

/// Notes a login of `user_id` from `network` now.
pub fn remember(conn: &mut PgConnection, user_id: &str, network: &str) -> QueryResult<()> {
    diesel::insert_into(login_networks::table)
        .values((login_networks::user_id.eq(user_id), login_networks::network.eq(network)))
        .on_conflict((login_networks::user_id, login_networks::network))
        .do_update()
        .set(login_networks::last_login.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

pub fn known(conn: &mut PgConnection, user_id: &str, network: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(login_networks::table.find((user_id, network)))).get_result(conn)
}

/// Forgets every network of `user_id` (their account was closed).
pub fn forget_user(conn: &mut PgConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(login_networks::table.filter(login_networks::user_id.eq(user_id))).execute(conn)
}

/// Deletes up to `limit` networks last logged in from before `cutoff`; how many.
pub fn purge_older_than(conn: &mut PgConnection, cutoff: DateTime<Utc>, limit: i64) -> QueryResult<usize> {
    super::delete_before(conn, "login_networks", "user_id, network", "last_login", cutoff, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_is_the_24_or_the_64_of_an_address() {
        let net = |a: &str| network_of(a.parse().unwrap_or_else(|_| unreachable!("a test address")));
        assert_eq!(net("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(net("::ffff:203.0.113.77"), "203.0.113.0/24", "an IPv4 peer of a dual-stack listener");
        assert_eq!(net("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    }
}
