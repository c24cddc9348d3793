//! Host and service name resolution, behind a trait so the parsers stay pure.
//!
//! ldirectord resolves names once, at load: hosts with getaddrinfo (so
//! `/etc/hosts` works offline) and ports with getservbyname. [`System`] does
//! the same; [`Static`] is a fixed table for tests.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::OnceLock;

use crate::lvs::Family;

pub trait Resolver {
    /// The first address of `family` for a host name or address literal.
    fn host(&self, name: &str, family: Family) -> Option<IpAddr>;
    /// The port of a service name for a protocol (`None` = any protocol).
    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16>;
    /// This machine's host name (ldirectord puts it in default logins).
    fn hostname(&self) -> String;
}

/// The system resolver: getaddrinfo and `/etc/services`.
#[derive(Debug, Default)]
pub struct System {
    services: Option<HashMap<(String, String), u16>>,
    /// Read once per load: every virtual asks for it.
    hostname: OnceLock<String>,
}

impl System {
    pub fn new() -> System {
        let services = std::fs::read_to_string("/etc/services")
            .ok()
            .map(|t| parse_services(&t));
        System {
            services,
            hostname: OnceLock::new(),
        }
    }
}

/// `/etc/services` as (name or alias, protocol) → port.
pub fn parse_services(text: &str) -> HashMap<(String, String), u16> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(name), Some(portproto)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((port, proto)) = portproto.split_once('/') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        for n in std::iter::once(name).chain(words) {
            map.entry((n.to_string(), proto.to_string()))
                .or_insert(port);
        }
    }
    map
}

fn lookup_service(
    map: &HashMap<(String, String), u16>,
    name: &str,
    protocol: Option<&str>,
) -> Option<u16> {
    match protocol {
        Some(p) => map.get(&(name.to_string(), p.to_string())).copied(),
        // getservbyname with no protocol takes the first entry; tcp comes
        // first in /etc/services for every name that has both.
        None => ["tcp", "udp", "sctp"]
            .iter()
            .find_map(|p| map.get(&(name.to_string(), p.to_string())).copied()),
    }
}

fn family_matches(ip: &IpAddr, family: Family) -> bool {
    Family::of(ip) == family
}

impl Resolver for System {
    fn host(&self, name: &str, family: Family) -> Option<IpAddr> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return family_matches(&ip, family).then_some(ip);
        }
        if name.is_empty() || name.len() > 253 {
            return None;
        }
        let addrs = (name, 0u16).to_socket_addrs().ok()?;
        addrs.map(|a| a.ip()).find(|ip| family_matches(ip, family))
    }

    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        lookup_service(self.services.as_ref()?, name, protocol)
    }

    fn hostname(&self) -> String {
        self.hostname
            .get_or_init(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "localhost".into())
            })
            .clone()
    }
}

/// A fixed resolver for tests: literal addresses, a host table and a
/// services table in `/etc/services` syntax.
#[derive(Debug, Default)]
pub struct Static {
    pub hosts: HashMap<String, Vec<IpAddr>>,
    pub services: HashMap<(String, String), u16>,
    pub hostname: String,
}

impl Static {
    /// A resolver knowing `hosts` (name, address) and `services` text.
    pub fn new(hosts: &[(&str, &str)], services: &str) -> Static {
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in hosts {
            if let Ok(ip) = ip.parse() {
                map.entry(name.to_string()).or_default().push(ip);
            }
        }
        Static {
            hosts: map,
            services: parse_services(services),
            hostname: "director".into(),
        }
    }
}

impl Resolver for Static {
    fn host(&self, name: &str, family: Family) -> Option<IpAddr> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return family_matches(&ip, family).then_some(ip);
        }
        self.hosts
            .get(name)?
            .iter()
            .copied()
            .find(|ip| family_matches(ip, family))
    }

    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        lookup_service(&self.services, name, protocol)
    }

    fn hostname(&self) -> String {
        self.hostname.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_file_names_and_aliases() {
        let m = parse_services("http 80/tcp www # web\ndomain 53/tcp\ndomain 53/udp\nbad x/tcp\n");
        assert_eq!(lookup_service(&m, "www", Some("tcp")), Some(80));
        assert_eq!(lookup_service(&m, "http", Some("udp")), None);
        assert_eq!(lookup_service(&m, "domain", None), Some(53));
        assert_eq!(lookup_service(&m, "bad", None), None);
    }

    #[test]
    fn static_resolver_filters_by_family() {
        let r = Static::new(&[("web", "10.0.0.1"), ("web", "2001:db8::1")], "");
        assert_eq!(r.host("web", Family::Inet), "10.0.0.1".parse().ok());
        assert_eq!(r.host("web", Family::Inet6), "2001:db8::1".parse().ok());
        assert_eq!(r.host("10.0.0.9", Family::Inet6), None);
        assert_eq!(r.host("nope", Family::Inet), None);
    }
}
