//! Which client a request comes from, for the per-address limit of the token
//! endpoints. Behind a reverse proxy every connection comes from the proxy,
//! so the client is read from `X-Forwarded-For` — but only when the peer is a
//! configured trusted proxy, and only as far as trusted hops vouch for it:
//! anything a client writes into the header itself sits to the left of what
//! the proxies appended, and is never reached.

use std::net::IpAddr;

use crate::config::{Cidr, truncate};

/// The client's address: the peer, unless the peer is a trusted proxy; then
/// the rightmost `X-Forwarded-For` hop that is not a trusted proxy (the
/// leftmost, when every hop is one). An entry that is not an address stops
/// the walk at the last hop a trusted proxy vouched for.
pub fn client(peer: Option<IpAddr>, forwarded_for: &[String], trusted: &[Cidr]) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    let mut client = peer?.to_canonical();
    if !is_trusted(client) {
        return Some(client);
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|line| line.split(','))
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// `1.2.3.4`, `2001:db8::1`, or either with a port (`1.2.3.4:80`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The rate-limit key of a client address. IPv6 clients are keyed by their
/// /64: one subscriber usually holds a whole /64 and could otherwise take a
/// fresh bucket for every address in it.
pub fn bucket_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Some(v6 @ IpAddr::V6(_)) => format!("ip:{}/64", truncate(v6, 64)),
        None => "ip:unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    fn xff(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let got = client(Some(ip("198.51.100.7")), &xff(&["203.0.113.1"]), &[]);
        assert_eq!(got, Some(ip("198.51.100.7")));
        let proxies = cidrs(&["10.0.0.0/8"]);
        let untrusted = client(Some(ip("198.51.100.7")), &xff(&["203.0.113.1"]), &proxies);
        assert_eq!(untrusted, Some(ip("198.51.100.7")));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = cidrs(&["10.0.0.0/8", "192.0.2.1"]);
        let peer = Some(ip("10.1.2.3"));
        // The client wrote "1.1.1.1" itself; the edge proxy appended what it saw.
        let spoofed = xff(&["1.1.1.1, 203.0.113.9, 192.0.2.1"]);
        assert_eq!(client(peer, &spoofed, &proxies), Some(ip("203.0.113.9")));
        // Several header lines read as one list.
        let split = xff(&["1.1.1.1", "203.0.113.9", "192.0.2.1"]);
        assert_eq!(client(peer, &split, &proxies), Some(ip("203.0.113.9")));
        assert_eq!(client(peer, &[], &proxies), Some(ip("10.1.2.3")));
        let all_trusted = xff(&["10.9.9.9, 192.0.2.1"]);
        assert_eq!(client(peer, &all_trusted, &proxies), Some(ip("10.9.9.9")));
        let ports = xff(&["[2001:db8::5]:443, 192.0.2.1:8080"]);
        assert_eq!(client(peer, &ports, &proxies), Some(ip("2001:db8::5")));
    }

    #[test]
    fn a_garbled_hop_stops_at_the_last_address_a_proxy_vouched_for() {
        let proxies = cidrs(&["10.0.0.0/8"]);
        let peer = Some(ip("10.1.2.3"));
        let garbled = xff(&["203.0.113.9, not-an-ip, 10.0.0.2"]);
        assert_eq!(client(peer, &garbled, &proxies), Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let proxies = cidrs(&["127.0.0.1"]);
        let got = client(
            Some(ip("::ffff:127.0.0.1")),
            &xff(&["::ffff:203.0.113.4"]),
            &proxies,
        );
        assert_eq!(got, Some(ip("203.0.113.4")));
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a = bucket_key(Some(ip("2001:db8:1:2::1")));
        assert_eq!(a, "ip:2001:db8:1:2::/64");
        assert_eq!(bucket_key(Some(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))), a);
        assert_ne!(bucket_key(Some(ip("2001:db8:1:3::1"))), a);
        assert_eq!(bucket_key(Some(ip("203.0.113.4"))), "ip:203.0.113.4");
        assert_eq!(bucket_key(None), "ip:unknown");
    }
}
