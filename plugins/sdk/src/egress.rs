//! [`EgressPolicy`]: which network addresses a plugin's outbound requests may reach.
//!
//! The host builds every plugin's [`crate::http::HttpClient`] with the operator's policy; a
//! plugin cannot opt out. By default only public addresses are reachable: loopback, link-local,
//! private (RFC 1918, shared CGNAT space, IPv6 unique-local), multicast, unspecified and other
//! reserved addresses are refused. The operator may open named ranges (`egress.allow_internal`,
//! e.g. `10.1.2.0/24`); nothing a tenant sets can open one.
//!
//! The check runs on the address a connection goes to: IP-literal URLs before connecting, host
//! names on every address they resolve to (the client connects only to the addresses that
//! passed, so a name that resolves elsewhere a second later — DNS rebinding — gains nothing).
//! IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use url::Host;

/// The setting an operator uses to open a range; named in refusals so the fix is findable.
pub const OPERATOR_SETTING: &str = "egress.allow_internal";

/// Why an address is not called by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedRange {
    Loopback,
    LinkLocal,
    Private,
    Multicast,
    Unspecified,
    /// Broadcast, documentation, benchmarking, protocol-assignment and future-use ranges.
    Reserved,
}

impl std::fmt::Display for BlockedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Loopback => "loopback",
            Self::LinkLocal => "link-local",
            Self::Private => "private",
            Self::Multicast => "multicast",
            Self::Unspecified => "unspecified",
            Self::Reserved => "reserved",
        })
    }
}

/// The operator's range list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` in {OPERATOR_SETTING} is not an IP address or CIDR range (e.g. 10.1.2.0/24)")]
pub struct InvalidRange {
    pub entry: String,
}

/// A request was refused by the egress policy; nothing was sent. Names the host only (never the
/// path or query, which may carry credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "egress refused: host `{host}` {what} ({address} is a {range} address); no request was sent. \
     An operator can open the range with `{OPERATOR_SETTING}`"
)]
pub struct EgressRefused {
    pub host: String,
    /// `is` (an IP literal) or `resolves only to blocked addresses` (a name).
    what: &'static str,
    pub address: IpAddr,
    pub range: BlockedRange,
}

/// Which addresses outbound requests may reach. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Internal ranges the operator opened.
    open: Arc<Vec<IpNet>>,
}

impl EgressPolicy {
    /// Public addresses only (the default).
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses and the operator's `ranges` (`10.1.2.0/24`, `127.0.0.1`, `::1/128`).
    ///
    /// # Errors
    /// [`InvalidRange`] naming the first entry that is neither an address nor a CIDR range.
    pub fn allowing<S: AsRef<str>>(ranges: &[S]) -> Result<Self, InvalidRange> {
        let open = ranges
            .iter()
            .map(|entry| {
                let text = entry.as_ref().trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| InvalidRange { entry: text.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { open: Arc::new(open) })
    }

    /// Public addresses and loopback: for tests against mock servers on 127.0.0.1.
    pub fn with_loopback() -> Self {
        Self::allowing(&["127.0.0.0/8", "::1/128"]).unwrap_or_default()
    }

    /// The ranges the operator opened.
    pub fn open_ranges(&self) -> &[IpNet] {
        &self.open
    }

    /// Why `address` is refused, or `None` when it may be called.
    pub fn refusal(&self, address: IpAddr) -> Option<BlockedRange> {
        let range = blocked_range(address)?;
        let canonical = canonical(address);
        let opened = self.open.iter().any(|net| net.contains(&address) || net.contains(&canonical));
        (!opened).then_some(range)
    }

    /// Checks a URL host before connecting: an IP literal is judged here (HTTP clients connect
    /// to literals without resolving them); a name passes, to be judged by what it resolves to.
    ///
    /// # Errors
    /// [`EgressRefused`] for a literal in a range that is not open.
    pub fn check_host<S>(&self, host: &Host<S>) -> Result<(), EgressRefused> {
        let address = match host {
            Host::Ipv4(v4) => IpAddr::V4(*v4),
            Host::Ipv6(v6) => IpAddr::V6(*v6),
            Host::Domain(_) => return Ok(()),
        };
        match self.refusal(address) {
            Some(range) => Err(EgressRefused { host: address.to_string(), what: "is", address, range }),
            None => Ok(()),
        }
    }

    /// Keeps the addresses `host` resolved to that may be called.
    ///
    /// # Errors
    /// [`EgressRefused`] when none may (naming the first one refused).
    pub fn filter_resolved(&self, host: &str, addresses: Vec<IpAddr>) -> Result<Vec<IpAddr>, EgressRefused> {
        let mut first_refused = None;
        let allowed: Vec<IpAddr> = addresses
            .into_iter()
            .filter(|address| match self.refusal(*address) {
                Some(range) => {
                    first_refused.get_or_insert((*address, range));
                    false
                }
                None => true,
            })
            .collect();
        match (allowed.is_empty(), first_refused) {
            (true, Some((address, range))) => Err(EgressRefused {
                host: host.to_string(),
                what: "resolves only to addresses this server does not call",
                address,
                range,
            }),
            _ => Ok(allowed),
        }
    }

    /// Checks one entry of a tenant's own allow-list (`allowedHosts`) when it is saved. A tenant
    /// list can only narrow the operator's: `*` (everything) is refused, as is a wildcard over a
    /// whole top-level domain (`*.com`) and an IP literal in a range the operator did not open.
    /// Host names are accepted here and judged by what they resolve to at call time.
    ///
    /// # Errors
    /// A message for the user (the entry is theirs; it holds no secret).
    pub fn check_tenant_host(&self, entry: &str) -> Result<(), String> {
        let pattern = crate::http::HostPattern::parse(entry);
        let host = pattern.host();
        if host.is_empty() {
            return Err("a host must not be empty".into());
        }
        if host == "*" {
            return Err("`*` is not accepted in a tenant's allowed hosts: list each host (or `*.example.com`)".into());
        }
        let name = host.strip_prefix("*.").unwrap_or(host);
        if name.contains('*') {
            return Err(format!("`{host}`: a wildcard may only start a pattern, as in `*.example.com`"));
        }
        if host.starts_with("*.") && !name.trim_end_matches('.').contains('.') {
            return Err(format!("`{host}` would allow a whole top-level domain: name a domain below it"));
        }
        // Parsed as a URL host, so `2130706433` and `0x7f.1` are recognised as 127.0.0.1.
        let parsed = if name.contains(':') { Host::parse(&format!("[{name}]")) } else { Host::parse(name) };
        let parsed = parsed.map_err(|e| format!("`{host}` is not a valid host: {e}"))?;
        self.check_host(&parsed).map_err(|refused| {
            format!(
                "`{host}` is a {} address: this server does not call {} addresses unless its operator opens the range ({OPERATOR_SETTING})",
                refused.range, refused.range
            )
        })
    }
}

/// The IPv4 address an IPv6 address carries (mapped, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`),
/// else the address itself.
fn canonical(address: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = address else { return address };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    if s[0..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return IpAddr::V4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    address
}

/// The non-public range `address` falls in, if any.
pub fn blocked_range(address: IpAddr) -> Option<BlockedRange> {
    match canonical(address) {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => BlockedRange::Unspecified,
        (127, ..) => BlockedRange::Loopback,
        (169, 254, _) => BlockedRange::LinkLocal,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) | (100, 64..=127, _) => BlockedRange::Private,
        (224..=239, ..) => BlockedRange::Multicast,
        (240..=255, ..) | (192, 0, 0) | (192, 0, 2) | (198, 18..=19, _) | (198, 51, 100) | (203, 0, 113) => {
            BlockedRange::Reserved
        }
        _ => return None,
    })
}

fn blocked_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_unspecified() => BlockedRange::Unspecified,
        _ if ip.is_loopback() => BlockedRange::Loopback,
        0xfe80..=0xfebf => BlockedRange::LinkLocal,
        // Unique-local, and the deprecated site-local range.
        0xfc00..=0xfdff | 0xfec0..=0xfeff => BlockedRange::Private,
        0xff00..=0xffff => BlockedRange::Multicast,
        // IPv4-compatible (deprecated) and other `::/8` forms; discard-only `100::/64`;
        // documentation `2001:db8::/32`.
        0 | 0x100 => BlockedRange::Reserved,
        0x2001 if s[1] == 0xdb8 => BlockedRange::Reserved,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_by_default() {
        let policy = EgressPolicy::public_only();
        for (address, range) in [
            ("127.0.0.1", BlockedRange::Loopback),
            ("127.8.9.10", BlockedRange::Loopback),
            ("::1", BlockedRange::Loopback),
            ("::ffff:127.0.0.1", BlockedRange::Loopback),
            ("64:ff9b::7f00:1", BlockedRange::Loopback),
            ("2002:7f00:1::", BlockedRange::Loopback),
            ("169.254.169.254", BlockedRange::LinkLocal),
            ("fe80::1", BlockedRange::LinkLocal),
            ("10.0.0.1", BlockedRange::Private),
            ("172.31.255.255", BlockedRange::Private),
            ("192.168.1.1", BlockedRange::Private),
            ("100.100.100.200", BlockedRange::Private),
            ("fd00:ec2::254", BlockedRange::Private),
            ("224.0.0.1", BlockedRange::Multicast),
            ("ff02::1", BlockedRange::Multicast),
            ("0.0.0.0", BlockedRange::Unspecified),
            ("::", BlockedRange::Unspecified),
            ("255.255.255.255", BlockedRange::Reserved),
            ("::7f00:1", BlockedRange::Reserved),
        ] {
            assert_eq!(policy.refusal(ip(address)), Some(range), "{address}");
        }
        for public in ["93.184.216.34", "172.32.0.1", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert_eq!(policy.refusal(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn an_operator_opens_named_ranges_only() {
        let policy = EgressPolicy::allowing(&["10.1.2.0/24", "127.0.0.1", "::1/128"]).unwrap();
        assert_eq!(policy.refusal(ip("10.1.2.77")), None);
        assert_eq!(policy.refusal(ip("10.1.3.1")), Some(BlockedRange::Private));
        assert_eq!(policy.refusal(ip("127.0.0.1")), None);
        assert_eq!(policy.refusal(ip("::ffff:127.0.0.1")), None, "the mapped form of an opened address");
        assert_eq!(policy.refusal(ip("127.0.0.2")), Some(BlockedRange::Loopback));
        assert_eq!(policy.refusal(ip("169.254.169.254")), Some(BlockedRange::LinkLocal));
        let err = EgressPolicy::allowing(&["10.0.0.0/33"]).unwrap_err();
        assert_eq!(err.entry, "10.0.0.0/33");
        assert!(err.to_string().contains(OPERATOR_SETTING));
    }

    #[test]
    fn resolved_addresses_are_filtered_and_an_all_blocked_name_is_refused() {
        let policy = EgressPolicy::public_only();
        let kept = policy.filter_resolved("mixed.example", vec![ip("127.0.0.1"), ip("93.184.216.34")]).unwrap();
        assert_eq!(kept, vec![ip("93.184.216.34")]);
        let err = policy.filter_resolved("rebind.example", vec![ip("127.0.0.1"), ip("::1")]).unwrap_err();
        assert_eq!((err.host.as_str(), err.range), ("rebind.example", BlockedRange::Loopback));
        assert!(err.to_string().contains("host `rebind.example` resolves only to addresses"), "{err}");
    }

    #[test]
    fn a_tenant_list_cannot_widen_the_operators() {
        let policy = EgressPolicy::public_only();
        for refused in [
            "*",
            "http://*",
            "*:8080",
            "*.com",
            "a.*.example.com",
            "127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "2130706433",
            "[::1]:80",
            "::1",
            "169.254.169.254",
            "10.0.0.5",
            "0.0.0.0",
        ] {
            assert!(policy.check_tenant_host(refused).is_err(), "{refused} must be refused");
        }
        for accepted in
            ["api.example.com", "*.example.com", "93.184.216.34", "localhost:8080", "https://api.example.com"]
        {
            assert_eq!(policy.check_tenant_host(accepted), Ok(()), "{accepted}");
        }
        let opened = EgressPolicy::allowing(&["10.0.0.0/8"]).unwrap();
        assert_eq!(opened.check_tenant_host("10.0.0.5:8080"), Ok(()));
        let message = policy.check_tenant_host("169.254.169.254").unwrap_err();
        assert!(message.contains("link-local") && message.contains(OPERATOR_SETTING), "{message}");
    }
}
