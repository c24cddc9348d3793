//! How addresses and ports are printed: numerically (`-n`), or resolved to
//! host and service names the way ipvsadm does (reverse lookup of the
//! address, `getservbyport` of the port for the service's protocol, each
//! falling back to the number).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::ipvs::table::Protocol;

/// Name lookups, behind a trait so that renderings stay pure.
pub trait Names {
    /// The host name of `ip`, if it has one.
    fn host(&self, ip: &IpAddr) -> Option<String>;
    /// The service name of `port` for `protocol` (None for fwmark services).
    fn service(&self, port: u16, protocol: Option<Protocol>) -> Option<String>;
}

/// `-n`: no lookups at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Numeric;

impl Names for Numeric {
    fn host(&self, _: &IpAddr) -> Option<String> {
        None
    }

    fn service(&self, _: u16, _: Option<Protocol>) -> Option<String> {
        None
    }
}

/// The system resolver (NSS: /etc/hosts, DNS, /etc/services).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemNames;

impl Names for SystemNames {
    fn host(&self, ip: &IpAddr) -> Option<String> {
        dns_lookup::lookup_addr(ip).ok()
    }

    fn service(&self, port: u16, protocol: Option<Protocol>) -> Option<String> {
        // getnameinfo looks services up as "tcp", or "udp" with NI_DGRAM;
        // SCTP ports share their names with TCP in /etc/services.
        let flags = match protocol? {
            Protocol::Udp => libc::NI_NUMERICHOST | libc::NI_DGRAM,
            Protocol::Tcp | Protocol::Sctp => libc::NI_NUMERICHOST,
        };
        let sa = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port);
        let (_, service) = dns_lookup::getnameinfo(&sa, flags).ok()?;
        (service != port.to_string()).then_some(service)
    }
}

/// ipvsadm's `addrport_to_anyname`: `host:port`, `[v6]:port`, each part
/// resolved or numeric. Its buffer holds 59 characters.
pub fn addrport(addr: &SocketAddr, protocol: Option<Protocol>, names: &dyn Names) -> String {
    // One allocation: a listing calls this once per line.
    let mut s = String::with_capacity(48);
    let v6 = addr.is_ipv6();
    if v6 {
        s.push('[');
    }
    match (names.host(&addr.ip()), addr.ip()) {
        (Some(h), _) => s.push_str(&h),
        (None, IpAddr::V4(ip)) => {
            let [a, b, c, d] = ip.octets();
            for (i, o) in [a, b, c, d].into_iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                push_num(&mut s, i64::from(o));
            }
        }
        (None, IpAddr::V6(ip)) => {
            let _ = write!(s, "{ip}");
        }
    }
    s.push_str(if v6 { "]:" } else { ":" });
    match names.service(addr.port(), protocol) {
        Some(p) => s.push_str(&p),
        None => push_num(&mut s, i64::from(addr.port())),
    }
    truncate(s, 59)
}

/// Appends `n` in decimal, as `%d` would. Listings print tens of thousands
/// of numbers; this skips the formatter's machinery (padding, flags) that
/// `write!` runs for each.
pub fn push_num(out: &mut String, n: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// Cuts `s` to at most `max` bytes, as C's `buf[max] = '\0'` does (at a
/// character boundary, so the result stays valid UTF-8).
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Names for Fixed {
        fn host(&self, _: &IpAddr) -> Option<String> {
            Some("a-rather-long-host-name.with.many.labels.example.org".into())
        }
        fn service(&self, port: u16, p: Option<Protocol>) -> Option<String> {
            (port == 80 && p.is_some()).then(|| "http".into())
        }
    }

    #[test]
    fn numbers_print_as_printf_d() {
        for n in [0, 7, 10, 65535, -1, -2147483648, i64::MAX, i64::MIN] {
            let mut s = String::from("x");
            push_num(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn numeric_addresses_print_as_inet_ntop() {
        for a in [
            "10.0.0.1:80",
            "255.255.255.255:65535",
            "0.0.0.0:0",
            "[2001:db8::1]:443",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(addrport(&addr, Some(Protocol::Tcp), &Numeric), a);
        }
    }

    #[test]
    fn numeric_and_resolved_forms() {
        let a: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!(
            addrport(&a, Some(Protocol::Tcp), &Numeric),
            "[2001:db8::1]:80"
        );
        let r = addrport(&a, Some(Protocol::Tcp), &Fixed);
        assert_eq!(
            r,
            "[a-rather-long-host-name.with.many.labels.example.org]:http"
        );
        let f = addrport(&"10.0.0.1:80".parse().unwrap(), None, &Fixed);
        assert!(
            f.ends_with(":80"),
            "fwmark services print numeric ports: {f}"
        );
        assert_eq!(truncate("abcdef".into(), 4), "abcd");
    }
}
