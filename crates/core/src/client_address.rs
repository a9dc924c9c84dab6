//! Which address a call comes from when it passes proxies (SPEC §3: client addresses for sign-in
//! throttling; SPEC §2: per-caller rate limits of anonymous calls).
//!
//! The address is the connection's peer, unless the peer is a trusted proxy (Kong, the edge,
//! the Istio sidecar): then it is the rightmost `X-Forwarded-For` entry that is not itself a
//! trusted proxy — the hop the last trusted proxy saw — as nginx's `real_ip_recursive` and
//! Envoy's trusted hops do. Entries further left were written by the client and are ignored, so
//! a client cannot choose its own address. Trusted proxies are addresses or CIDR ranges
//! (`10.0.0.0/8`, `fd00::/8`, `127.0.0.6`).

use std::net::IpAddr;

/// The configured trusted proxies (`trusted_proxies`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Range>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxies {
    /// Parses `entries`; on error, the index of the first bad entry and what is wrong with it.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, (usize, String)> {
        let ranges = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| Range::parse(entry.as_ref()).map_err(|error| (index, error)))
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies { ranges })
    }

    /// Whether no proxy is trusted (every call's address is its peer).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `address` is a trusted proxy.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.ranges.iter().any(|range| range.contains(address))
    }

    /// The client's address for a call from `peer` carrying the `X-Forwarded-For` header
    /// values `forwarded` (in order; each may list several comma-separated entries). With
    /// `peer_trusted`, the peer is trusted whatever the configuration says (the all-in-one's
    /// in-process edge). Entries that are not IP addresses are skipped.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        peer_trusted: bool,
        forwarded: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !peer_trusted && !self.contains(peer) {
            return peer;
        }
        let entries: Vec<IpAddr> = forwarded
            .into_iter()
            .flat_map(|value| value.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .map(|address| address.to_canonical())
            .collect();
        entries
            .iter()
            .rev()
            .find(|address| !self.contains(**address))
            .copied()
            // Every hop was a trusted proxy: the call started at the leftmost one.
            .or_else(|| entries.first().copied())
            .unwrap_or(peer)
    }
}

impl Range {
    fn parse(entry: &str) -> Result<Range, String> {
        let invalid = || format!("'{entry}' is not an IP address or CIDR range (e.g. 10.0.0.0/8)");
        let (address, prefix) = match entry.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry.trim(), None),
        };
        let network = address
            .parse::<IpAddr>()
            .map_err(|_| invalid())?
            .to_canonical();
        let bits = match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix.parse::<u8>().map_err(|_| invalid())?,
        };
        if prefix > bits {
            return Err(format!(
                "'{entry}': prefix length {prefix} is longer than the address ({bits} bits)"
            ));
        }
        Ok(Range { network, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::TrustedProxies;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).expect("valid entries")
    }

    #[test]
    fn ranges_match_by_prefix_and_family() {
        let proxies = trusted(&["10.0.0.0/8", "127.0.0.6", "fd00::/8"]);
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(!proxies.contains(ip("11.0.0.1")));
        assert!(proxies.contains(ip("127.0.0.6")));
        assert!(!proxies.contains(ip("127.0.0.1")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(!proxies.contains(ip("fe80::1")));
        // An IPv4 peer on a dual-stack socket arrives IPv4-mapped.
        assert!(proxies.contains(ip("::ffff:10.9.9.9")));
        assert!(trusted(&["0.0.0.0/0"]).contains(ip("203.0.113.7")));
        assert!(!trusted(&["0.0.0.0/0"]).contains(ip("2001:db8::1")));
    }

    #[test]
    fn bad_entries_are_named() {
        let (index, message) = TrustedProxies::parse(&["10.0.0.1", "kong"]).expect_err("bad");
        assert_eq!(index, 1);
        assert!(message.contains("'kong' is not an IP address or CIDR range"));
        let (_, message) = TrustedProxies::parse(&["10.0.0.0/33"]).expect_err("bad prefix");
        assert!(message.contains("prefix length 33"), "{message}");
        assert!(TrustedProxies::parse(&["10.0.0.0/x"]).is_err());
        assert!(TrustedProxies::parse(&["::/129"]).is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let proxies = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            proxies.client_address(ip("203.0.113.9"), false, ["198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8", "127.0.0.6"]);
        // The client forged the first entry; Kong (10.0.0.5) appended the real one.
        let forwarded = ["6.6.6.6, 198.51.100.1", "10.0.0.5,127.0.0.6"];
        assert_eq!(
            proxies.client_address(ip("127.0.0.6"), false, forwarded),
            ip("198.51.100.1")
        );
        // Garbage is skipped; all-trusted chains start at their leftmost hop.
        assert_eq!(
            proxies.client_address(ip("10.0.0.5"), false, ["unknown, 10.0.0.7"]),
            ip("10.0.0.7")
        );
        assert_eq!(
            proxies.client_address(ip("10.0.0.5"), false, std::iter::empty()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn a_peer_trusted_by_construction_needs_no_configuration() {
        let nobody = TrustedProxies::default();
        assert!(nobody.is_empty());
        assert_eq!(
            nobody.client_address(ip("127.0.0.1"), true, ["198.51.100.1, 127.0.0.1"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            nobody.client_address(ip("127.0.0.1"), true, ["198.51.100.1"]),
            ip("198.51.100.1")
        );
    }
}
