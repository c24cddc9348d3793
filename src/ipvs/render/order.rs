//! The order in which ipvsadm lists services and destinations.
//!
//! ipvsadm sorts with comparators that subtract two `u32`s and keep the result
//! in an `int`, so addresses more than 2^31 apart compare "wrapped"
//! (10.0.0.1 sorts after 192.168.0.1). Such a comparator is not a total order,
//! so the result also depends on the sort algorithm: glibc's `qsort` is a
//! top-down merge sort. Both are reproduced here so that `lvsd list` and
//! `lvsd save` print rows in exactly ipvsadm's order. The result depends on
//! the input order too, so callers sort what the kernel dumped in the order
//! it dumped it ([`crate::ipvs::snapshot::Snapshot::kernel_order`]); checked
//! against Debian's ipvsadm 1.31 on 1,000 services spread over the address
//! space (integration/tests/ipvs_lists.rs).

use std::cmp::Ordering;
use std::net::{IpAddr, SocketAddr};

use crate::ipvs::table::{Family, ServiceKey};

/// `(int)(a - b)` on two `u32`s, as C computes it.
fn wrapped(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The address as ipvsadm's comparators see it: one host-order word for
/// IPv4, four for IPv6.
fn words(ip: &IpAddr) -> Vec<u32> {
    match ip {
        IpAddr::V4(v4) => vec![u32::from(*v4)],
        IpAddr::V6(v6) => v6
            .octets()
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    }
}

fn cmp_words(a: &[u32], b: &[u32]) -> i32 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| wrapped(*x, *y))
        .find(|r| *r != 0)
        .unwrap_or(0)
}

/// `ipvs_cmp_services`: fwmark, family, protocol, address, port.
pub fn cmp_services(a: &ServiceKey, b: &ServiceKey) -> i32 {
    // What libipvs holds for each key: fwmark services carry no protocol,
    // address or port (all zero).
    fn fields(k: &ServiceKey) -> (u32, i32, i32, Vec<u32>, i32) {
        match k {
            ServiceKey::Inet { protocol, addr } => (
                0,
                i32::from(Family::of(&addr.ip()).number()),
                i32::from(protocol.number()),
                words(&addr.ip()),
                i32::from(addr.port()),
            ),
            ServiceKey::FwMark { family, mark } => (
                *mark,
                i32::from(family.number()),
                0,
                match family {
                    Family::Inet => vec![0],
                    Family::Inet6 => vec![0; 4],
                },
                0,
            ),
        }
    }
    let (fa, afa, pa, wa, porta) = fields(a);
    let (fb, afb, pb, wb, portb) = fields(b);
    let r = wrapped(fa, fb);
    if r != 0 {
        return r;
    }
    if afa != afb {
        return afa - afb;
    }
    if pa != pb {
        return pa - pb;
    }
    let r = cmp_words(&wa, &wb);
    if r != 0 {
        return r;
    }
    porta - portb
}

/// `ipvs_cmp_dests`: address (read in the first one's family), then port.
pub fn cmp_dests(a: &SocketAddr, b: &SocketAddr) -> i32 {
    let wa = words(&a.ip());
    let mut wb = words(&b.ip());
    // A mixed-family pool compares the first word(s) as C would read them
    // from the 16-byte union: IPv4 lives in the first word, the rest is zero.
    wb.resize(wa.len(), 0);
    let r = cmp_words(&wa, &wb);
    if r != 0 {
        return r;
    }
    i32::from(a.port()) - i32::from(b.port())
}

/// glibc's `qsort` (`msort_with_tmp`): split at n/2, sort both halves, merge
/// taking from the left while `cmp(left, right) <= 0`. Stable, and it never
/// panics on a comparator that is not a total order.
pub fn glibc_sort<T: Clone>(items: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    if items.len() > 1 {
        // One scratch buffer for every merge, as glibc's `tmp`.
        let mut tmp = Vec::with_capacity(items.len());
        msort(items, &mut tmp, cmp);
    }
}

fn msort<T: Clone>(items: &mut [T], tmp: &mut Vec<T>, cmp: &impl Fn(&T, &T) -> i32) {
    let n = items.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort(&mut items[..n1], tmp, cmp);
    msort(&mut items[n1..], tmp, cmp);
    tmp.clear();
    let (left, right) = items.split_at(n1);
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            tmp.push(left[i].clone());
            i += 1;
        } else {
            tmp.push(right[j].clone());
            j += 1;
        }
    }
    tmp.extend_from_slice(&left[i..]);
    tmp.extend_from_slice(&right[j..]);
    items.clone_from_slice(tmp);
}

/// Services in ipvsadm's listing order.
pub fn sorted_services<'a, I>(keys: I) -> Vec<&'a ServiceKey>
where
    I: IntoIterator<Item = &'a ServiceKey>,
{
    let mut v: Vec<&ServiceKey> = keys.into_iter().collect();
    glibc_sort(&mut v, &|a: &&ServiceKey, b: &&ServiceKey| {
        cmp_services(a, b)
    });
    v
}

/// Destinations in ipvsadm's listing order.
pub fn sorted_dests<'a, I>(addrs: I) -> Vec<&'a SocketAddr>
where
    I: IntoIterator<Item = &'a SocketAddr>,
{
    let mut v: Vec<&SocketAddr> = addrs.into_iter().collect();
    glibc_sort(&mut v, &|a: &&SocketAddr, b: &&SocketAddr| cmp_dests(a, b));
    v
}

/// An `Ordering` view of the C comparator result, for callers that want one.
pub fn ordering(r: i32) -> Ordering {
    r.cmp(&0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::table::Protocol;

    fn tcp(s: &str) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: s.parse().unwrap(),
        }
    }

    #[test]
    fn addresses_far_apart_compare_wrapped_like_ipvsadm() {
        // 10.0.0.1 - 192.168.0.1 = 0x49580000 as int: positive, so 10/8 sorts last.
        let a = tcp("10.0.0.1:80");
        let b = tcp("192.168.0.1:80");
        assert!(cmp_services(&a, &b) > 0);
        let keys = [a, b];
        let sorted = sorted_services(keys.iter());
        assert_eq!(sorted, vec![&keys[1], &keys[0]]);
    }

    #[test]
    fn fwmark_sorts_after_inet_and_by_mark() {
        let f1 = ServiceKey::FwMark {
            family: Family::Inet,
            mark: 1,
        };
        let f2 = ServiceKey::FwMark {
            family: Family::Inet,
            mark: 2,
        };
        let t = tcp("10.0.0.1:80");
        let keys = [f2, t, f1];
        let sorted = sorted_services(keys.iter());
        assert_eq!(sorted, vec![&keys[1], &keys[2], &keys[0]]);
    }

    #[test]
    fn udp_after_tcp_and_ports_ascend() {
        let u = ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: "10.0.0.1:53".parse().unwrap(),
        };
        let t80 = tcp("10.0.0.1:80");
        let t443 = tcp("10.0.0.1:443");
        let keys = [u, t443, t80];
        let sorted = sorted_services(keys.iter());
        assert_eq!(sorted, vec![&keys[2], &keys[1], &keys[0]]);
    }

    #[test]
    fn merge_sort_is_stable_and_sorts() {
        let mut v = vec![5, 3, 9, 1, 3, 7, 0, 2];
        glibc_sort(&mut v, &|a: &i32, b: &i32| a - b);
        assert_eq!(v, vec![0, 1, 2, 3, 3, 5, 7, 9]);
    }
}
