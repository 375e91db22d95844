//! Pure address logic: subnets, the choice of a free subnet, the lowest free address of a
//! subnet, docker-style MAC addresses and the host routing table read from /proc/net/route.
//! Nothing here touches the system, so all of it is unit-tested without root.

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An IPv4 prefix whose host bits are zero, e.g. 10.89.0.0/24.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Subnet {
    /// Build a subnet from any address inside it (host bits are cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        let prefix = prefix.min(32);
        Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }

    /// Parse "a.b.c.d/len" strictly: the host bits must be zero (docker's
    /// "invalid subnet 10.1.1.1/24 : it should be 10.1.1.0/24").
    pub fn parse(s: &str) -> Result<Subnet, String> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("invalid CIDR address: {s}"))?;
        let prefix: u8 = len
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        let net = Subnet::new(ip, prefix);
        if net.addr != ip {
            return Err(format!("invalid subnet {s} : it should be {net}"));
        }
        if prefix > 30 {
            return Err(format!(
                "invalid subnet {s}: a /{prefix} leaves no room for containers"
            ));
        }
        Ok(net)
    }

    pub fn mask(&self) -> u32 {
        mask(self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// The first usable address, docker's default gateway (.1 of a /24).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }

    /// Whether `ip` may be given to a host: inside, not the network nor the broadcast address.
    pub fn is_host(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.addr && ip != self.broadcast()
    }
}

/// An IPv6 prefix whose host bits are zero, e.g. 2001:db8::/64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subnet6 {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

impl fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl Subnet6 {
    /// Parse "addr/len" strictly: the host bits must be zero, as for v4.
    pub fn parse(s: &str) -> Result<Subnet6, String> {
        let bad = || format!("invalid CIDR address: {s}");
        let (ip, len) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv6Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = len.parse().ok().filter(|p| *p <= 128).ok_or_else(bad)?;
        let net = Subnet6 {
            addr: Ipv6Addr::from(u128::from(ip) & mask6(prefix)),
            prefix,
        };
        if net.addr != ip {
            return Err(format!("invalid subnet {s} : it should be {net}"));
        }
        if prefix > 126 {
            return Err(format!(
                "invalid subnet {s}: a /{prefix} leaves no room for containers"
            ));
        }
        Ok(net)
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask6(self.prefix) == u128::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet6) -> bool {
        let m = mask6(self.prefix) & mask6(other.prefix);
        u128::from(self.addr) & m == u128::from(other.addr) & m
    }

    /// docker's default v6 gateway: the first address after the network's.
    pub fn first_host(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) + 1)
    }

    /// Inside and not the subnet-router anycast address (the all-zero host part).
    pub fn is_host(&self, ip: Ipv6Addr) -> bool {
        self.contains(ip) && ip != self.addr
    }

    /// The lowest address of this prefix (a pool or an ip range) that is a host of `subnet`,
    /// not `gateway` and not in `used`.
    pub fn lowest_free(
        &self,
        subnet: &Subnet6,
        gateway: Ipv6Addr,
        used: &HashSet<Ipv6Addr>,
    ) -> Option<Ipv6Addr> {
        let first = u128::from(self.addr);
        let last = first | !mask6(self.prefix);
        // at most used.len() + 2 candidates are skipped: no walk through the whole space
        (first..=last)
            .take(used.len() + 3)
            .map(Ipv6Addr::from)
            .find(|ip| subnet.is_host(*ip) && *ip != gateway && !used.contains(ip))
    }
}

/// The subnets tried for networks created without `--subnet`, in order: 10.89.0.0/24 ..
/// 10.89.255.0/24, then 172.18.0.0/16 .. 172.31.0.0/16, then 192.168.0.0/20 .. 192.168.240.0/20
/// (docker's later pools).
pub fn default_candidates() -> impl Iterator<Item = Subnet> {
    let a = (0..=255u8).map(|n| Subnet::new(Ipv4Addr::new(10, 89, n, 0), 24));
    let b = (18..=31u8).map(|n| Subnet::new(Ipv4Addr::new(172, n, 0, 0), 16));
    let c = (0..16u8).map(|n| Subnet::new(Ipv4Addr::new(192, 168, n * 16, 0), 20));
    a.chain(b).chain(c)
}

/// The default bridge network gets a /16 as docker0 does (thousands of containers): 10.88.0.0/16
/// (podman's default) or the next free 10.x/16 up to 10.99, else an ordinary candidate.
pub fn choose_default_subnet(taken: &[Subnet]) -> Option<Subnet> {
    std::iter::once(88u8)
        .chain(90..=99)
        .map(|n| Subnet::new(Ipv4Addr::new(10, n, 0, 0), 16))
        .find(|c| !taken.iter().any(|t| t.overlaps(c)))
        .or_else(|| choose_subnet(taken))
}

/// The first candidate that overlaps none of `taken` (host routes and other networks).
pub fn choose_subnet(taken: &[Subnet]) -> Option<Subnet> {
    default_candidates().find(|c| !taken.iter().any(|t| t.overlaps(c)))
}

/// The lowest address of `subnet` that is a host address, not the gateway and not in `used`.
pub fn lowest_free(
    subnet: &Subnet,
    gateway: Ipv4Addr,
    used: &HashSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let first = u32::from(subnet.addr) + 1;
    let last = u32::from(subnet.broadcast()).checked_sub(1)?;
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !used.contains(ip))
}

/// Docker's MAC for an address: 02:42 followed by the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

pub fn parse_mac(mac: &str) -> Option<Vec<u8>> {
    let bytes: Vec<u8> = mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect::<Option<_>>()?;
    (bytes.len() == 6).then_some(bytes)
}

/// The non-default IPv4 routes of the main table, from the text of /proc/net/route
/// (destination and mask are little-endian hex words).
pub fn parse_proc_net_route(text: &str) -> Vec<Subnet> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dst), Ok(m)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // the kernel writes the raw network-order word, so the bytes are read back as they lie
        let dst = Ipv4Addr::from(dst.to_ne_bytes());
        let m = u32::from_be_bytes(m.to_ne_bytes());
        if m == 0 {
            continue; // default route
        }
        out.push(Subnet::new(dst, m.count_ones() as u8));
    }
    out
}

/// The host's routes (see [`parse_proc_net_route`]); empty when unreadable.
pub fn host_routes() -> Vec<Subnet> {
    std::fs::read_to_string("/proc/net/route")
        .map(|t| parse_proc_net_route(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Subnet {
        Subnet::parse(x).unwrap()
    }

    #[test]
    fn parse_and_validate() {
        assert_eq!(s("10.89.0.0/24").to_string(), "10.89.0.0/24");
        assert_eq!(
            Subnet::parse("10.1.1.1/24").unwrap_err(),
            "invalid subnet 10.1.1.1/24 : it should be 10.1.1.0/24"
        );
        assert!(Subnet::parse("10.1.1.0").is_err());
        assert!(Subnet::parse("10.1.1.0/33").is_err());
        assert!(Subnet::parse("300.1.1.0/24").is_err());
        assert!(Subnet::parse("10.1.1.0/31").is_err());
    }

    #[test]
    fn overlap_and_contains() {
        assert!(s("172.16.0.0/12").overlaps(&s("172.17.0.0/16")));
        assert!(s("172.17.0.0/16").overlaps(&s("172.16.0.0/12")));
        assert!(!s("10.89.0.0/24").overlaps(&s("10.89.1.0/24")));
        assert!(s("10.89.0.0/24").contains("10.89.0.77".parse().unwrap()));
        assert!(!s("10.89.0.0/24").is_host("10.89.0.255".parse().unwrap()));
        assert_eq!(s("10.89.0.0/24").first_host().to_string(), "10.89.0.1");
    }

    #[test]
    fn subnet_choice_avoids_routes_and_networks() {
        assert_eq!(choose_subnet(&[]).unwrap(), s("10.89.0.0/24"));
        let taken = [s("10.89.0.0/24"), s("10.89.1.0/25")];
        assert_eq!(choose_subnet(&taken).unwrap(), s("10.89.2.0/24"));
        // a wide host route swallows the whole 10.89 block: fall through to 172.18/16
        let taken = [s("10.0.0.0/8"), s("172.17.0.0/16")];
        assert_eq!(choose_subnet(&taken).unwrap(), s("172.18.0.0/16"));
        let taken = [s("10.0.0.0/8"), s("172.16.0.0/12")];
        assert_eq!(choose_subnet(&taken).unwrap(), s("192.168.0.0/20"));
        let taken = [s("0.0.0.0/1"), s("128.0.0.0/1")];
        assert_eq!(choose_subnet(&taken), None);
    }

    #[test]
    fn lowest_free_skips_gateway_and_used() {
        let net = s("10.89.3.0/24");
        let gw = net.first_host();
        let mut used = HashSet::new();
        assert_eq!(
            lowest_free(&net, gw, &used).unwrap().to_string(),
            "10.89.3.2"
        );
        used.insert("10.89.3.2".parse().unwrap());
        used.insert("10.89.3.4".parse().unwrap());
        assert_eq!(
            lowest_free(&net, gw, &used).unwrap().to_string(),
            "10.89.3.3"
        );
        // a gateway elsewhere frees .1
        let gw: Ipv4Addr = "10.89.3.254".parse().unwrap();
        assert_eq!(
            lowest_free(&net, gw, &used).unwrap().to_string(),
            "10.89.3.1"
        );
        // a /30 has two hosts: gateway and one container
        let tiny = s("10.0.0.0/30");
        let mut used = HashSet::new();
        let ip = lowest_free(&tiny, tiny.first_host(), &used).unwrap();
        assert_eq!(ip.to_string(), "10.0.0.2");
        used.insert(ip);
        assert_eq!(lowest_free(&tiny, tiny.first_host(), &used), None);
    }

    #[test]
    fn v6_subnets() {
        let s6 = Subnet6::parse("2001:389::/64").unwrap();
        assert_eq!(s6.to_string(), "2001:389::/64");
        assert_eq!(s6.first_host().to_string(), "2001:389::1");
        assert!(Subnet6::parse("2001:389::1/64").is_err());
        assert!(Subnet6::parse("2001:389::/129").is_err());
        assert!(s6.overlaps(&Subnet6::parse("2001:389::/96").unwrap()));
        assert!(!s6.overlaps(&Subnet6::parse("2001:38a::/64").unwrap()));
        // dockerd: range 2001:389::/96 with gateway ::ffff gives ::1 first
        let range = Subnet6::parse("2001:389::/96").unwrap();
        let gw: Ipv6Addr = "2001:389::ffff".parse().unwrap();
        let mut used = HashSet::new();
        let a = range.lowest_free(&s6, gw, &used).unwrap();
        assert_eq!(a.to_string(), "2001:389::1");
        used.insert(a);
        let b = s6.lowest_free(&s6, s6.first_host(), &used).unwrap();
        assert_eq!(b.to_string(), "2001:389::2");
    }

    #[test]
    fn mac() {
        let m = mac_for("172.17.0.2".parse().unwrap());
        assert_eq!(m, "02:42:ac:11:00:02");
        assert_eq!(parse_mac(&m).unwrap(), vec![2, 0x42, 0xac, 0x11, 0, 2]);
        assert_eq!(parse_mac("02:42"), None);
    }

    #[test]
    fn proc_net_route() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_proc_net_route(text),
            vec![s("172.17.0.0/16"), s("192.0.2.0/24")]
        );
    }
}
