//! Which address a request comes from: the peer's own, unless the peer is a listed reverse
//! proxy (`LABGATE_TRUSTED_PROXIES`) and names the client in `LABGATE_IP_HEADER`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One network, `ADDRESS/BITS` (a bare address is the network of that one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, bits) = match text.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| {
            format!(
                "{text:?} is not an IP address or network (e.g. 10.0.0.0/8, 192.168.1.5, fd00::/8)"
            )
        })?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => match b.parse::<u8>() {
                Ok(b) if b <= max => b,
                _ => {
                    return Err(format!(
                        "{text:?}: the prefix length must be a number from 0 to {max}"
                    ))
                }
            },
        };
        Ok(Cidr { network, bits })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.bits)
    }
}

/// The networks whose proxy header is believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl TrustedProxies {
    /// The default: this machine only (127.0.0.0/8 and ::1).
    pub fn loopback() -> TrustedProxies {
        TrustedProxies(vec![
            Cidr {
                network: IpAddr::from([127, 0, 0, 0]),
                bits: 8,
            },
            Cidr {
                network: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                bits: 128,
            },
        ])
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client's address: the peer's, unless the peer is trusted and `header_value` (the
    /// configured header, e.g. `X-Real-IP`, or an `X-Forwarded-For` list) names one. In a list
    /// the rightmost address that is not itself a trusted proxy is the client; anything that
    /// does not parse leaves the peer's address.
    pub fn client_ip(&self, peer: IpAddr, header_value: Option<&str>) -> IpAddr {
        let peer = peer.to_canonical();
        let Some(value) = header_value.filter(|_| self.trusts(peer)) else {
            return peer;
        };
        let mut chosen = None;
        for item in value.rsplit(',') {
            match item.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    let ip = ip.to_canonical();
                    chosen = Some(ip);
                    if !self.trusts(ip) {
                        break;
                    }
                }
                Err(_) => return chosen.unwrap_or(peer),
            }
        }
        chosen.unwrap_or(peer)
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses or networks; empty trusts nobody.
    fn from_str(text: &str) -> Result<TrustedProxies, String> {
        text.split(',')
            .filter(|item| !item.trim().is_empty())
            .map(|item| {
                item.parse()
                    .map_err(|e| format!("LABGATE_TRUSTED_PROXIES: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().map(Cidr::to_string).collect();
        f.write_str(&shown.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_of_both_families_parse_and_match() {
        let set: TrustedProxies = "10.1.0.0/16, 192.168.1.5,fd00::/8, ::1".parse().unwrap();
        assert!(set.trusts(ip("10.1.200.3")));
        assert!(!set.trusts(ip("10.2.0.1")));
        assert!(set.trusts(ip("192.168.1.5")));
        assert!(!set.trusts(ip("192.168.1.6")));
        assert!(set.trusts(ip("fd12:3456::1")));
        assert!(!set.trusts(ip("fe80::1")));
        assert!(set.trusts(ip("::1")));
        // A v4 peer seen through a dual-stack socket is still that v4 peer.
        assert!(set.trusts(ip("::ffff:10.1.0.9")));
        let all: TrustedProxies = "0.0.0.0/0,::/0".parse().unwrap();
        assert!(all.trusts(ip("8.8.8.8")) && all.trusts(ip("2001:db8::1")));
        assert_eq!("".parse::<TrustedProxies>().unwrap().0.len(), 0);
    }

    #[test]
    fn bad_entries_are_refused_with_the_entry_named() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "example.org",
            "10.0.0.0/x",
            "1.2.3.4/-1",
        ] {
            let err = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(err.starts_with("LABGATE_TRUSTED_PROXIES: "), "{err}");
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let loopback = TrustedProxies::loopback();
        assert!(loopback.trusts(ip("127.3.4.5")));
        // Trusted peer: the header names the client.
        assert_eq!(
            loopback.client_ip(ip("127.0.0.1"), Some("203.0.113.9")),
            ip("203.0.113.9")
        );
        // Anyone else: its own address, whatever it claims.
        assert_eq!(
            loopback.client_ip(ip("198.51.100.7"), Some("203.0.113.9")),
            ip("198.51.100.7")
        );
        // No header, or garbage: the peer.
        assert_eq!(loopback.client_ip(ip("127.0.0.1"), None), ip("127.0.0.1"));
        assert_eq!(
            loopback.client_ip(ip("127.0.0.1"), Some("nonsense")),
            ip("127.0.0.1")
        );
        // A forwarded list: the rightmost address that is not a proxy of ours.
        assert_eq!(
            loopback.client_ip(ip("127.0.0.1"), Some("1.1.1.1, 203.0.113.9, 127.0.0.2")),
            ip("203.0.113.9")
        );
    }
}
