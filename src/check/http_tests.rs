//! Which URL and client a check uses, and how a plain answer is judged.

use super::*;
use crate::check::spec::Exchange;

fn http(tls: bool, request: &str, host: Option<&str>, verify: bool) -> Http {
    Http {
        tls,
        exchange: Exchange {
            request: request.into(),
            receive: None,
        },
        virtual_host: host.map(Into::into),
        method: HttpMethod::Get,
        verify_tls: verify,
        ca_file: None,
        tls_name: None,
        expect_status: vec![],
    }
}

#[test]
fn url_from_a_path() {
    let addr: SocketAddr = "10.0.0.2:8080".parse().unwrap();
    assert_eq!(
        target(addr, &http(false, "/index.html", None, false), false).0,
        "http://10.0.0.2:8080/index.html"
    );
    let v6: SocketAddr = "[fd00::2]:443".parse().unwrap();
    assert_eq!(
        target(v6, &http(true, "check", None, false), false).0,
        "https://[fd00::2]:443/check"
    );
}

#[test]
fn an_absolute_url_of_the_same_scheme_is_used_verbatim() {
    let addr: SocketAddr = "10.0.0.2:80".parse().unwrap();
    assert_eq!(
        target(
            addr,
            &http(false, "http://example.org/x", None, false),
            false
        )
        .0,
        "http://example.org/x"
    );
}

#[test]
fn verified_https_verifies_absolute_urls_and_bare_addresses_too() {
    let addr: SocketAddr = "10.0.0.2:443".parse().unwrap();
    let verified = Some(ClientKey::Verified {
        pin: None,
        ca_file: None,
    });
    let absolute = http(true, "https://www.example.org/x", None, true);
    assert_eq!(
        target(addr, &absolute, false),
        ("https://www.example.org/x".into(), verified.clone())
    );
    // No name, or a virtualhost that is an address: the real's address.
    for host in [None, Some("192.0.2.9:443")] {
        let (url, key) = target(addr, &http(true, "/", host, true), false);
        assert_eq!(
            (url.as_str(), &key),
            ("https://10.0.0.2:443/", &verified),
            "{host:?}"
        );
    }
    let mut named = http(true, "/", Some("www.example.org"), true);
    named.tls_name = Some("api.example.org".into());
    let (url, _) = target(addr, &named, false);
    assert_eq!(url, "https://api.example.org:443/");
}

#[test]
fn verified_https_puts_the_virtual_host_in_the_url() {
    let addr: SocketAddr = "10.0.0.2:443".parse().unwrap();
    let (url, key) = target(addr, &http(true, "/", Some("www.example.org"), true), false);
    assert_eq!(url, "https://www.example.org:443/");
    assert_eq!(
        key,
        Some(ClientKey::Verified {
            pin: Some(("www.example.org".into(), addr)),
            ca_file: None
        })
    );
}

#[test]
fn the_proxy_check_sends_the_request_url_through_the_real() {
    let addr: SocketAddr = "10.0.0.2:3128".parse().unwrap();
    let (url, key) = target(
        addr,
        &http(false, "http://origin.test/ok", None, false),
        true,
    );
    assert_eq!(url, "http://origin.test/ok");
    assert_eq!(key, Some(ClientKey::Proxy(addr)));
}
/// The request the longer way: URL built, parsed, path taken from it.
fn parsed(addr: SocketAddr, h: &Http) -> Option<Vec<u8>> {
    let (url, _) = target(addr, h, false);
    parsed_request(&url, h)
}

#[test]
fn the_short_way_sends_the_bytes_of_the_long_way() {
    let addrs: Vec<SocketAddr> = [
        "10.0.0.2:80",
        "10.0.0.2:8080",
        "[fd00::2]:80",
        "[fd00::2]:8080",
        "[::ffff:10.0.0.2]:80",
        "[::10.0.0.2]:8080",
        "[::1]:80",
        "[2001:db8:0:0:1:0:0:1]:80",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    // Every shape in the alphabet of paths, including what the short
    // way must refuse (dot segments, escapes, spaces, fragments).
    let alphabet = [
        "a", "/", ".", "..", "?", "%2e", "-", "~", " ", "#", "'", "\\", "=", "&", "é", "://",
    ];
    let mut requests = vec![
        String::new(),
        "/".into(),
        "//x".into(),
        "/index.html".into(),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..4000 {
        let mut r = String::new();
        for _ in 0..(seed % 7) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            r.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        requests.push(r);
    }
    let mut short = 0;
    for addr in &addrs {
        for request in &requests {
            for vhost in [None, Some("www.example.org:81")] {
                for method in [HttpMethod::Get, HttpMethod::Head] {
                    let mut h = http(false, request, vhost, false);
                    h.method = method;
                    if let Some(bytes) = simple_request(*addr, &h) {
                        short += 1;
                        assert_eq!(
                            Some(String::from_utf8(bytes).unwrap()),
                            parsed(*addr, &h).map(|b| String::from_utf8(b).unwrap()),
                            "{addr} {request:?} {vhost:?}"
                        );
                    }
                }
            }
        }
    }
    assert!(short > 10_000, "the short way was taken {short} times");
    // What it must leave to the parser.
    let a = addrs[0];
    for r in [
        "a/./b",
        "a/../b",
        "%2e%2e/x",
        "a b",
        "a#b",
        "x?it's",
        "http://h/",
        "a\\b",
    ] {
        assert_eq!(
            simple_request(a, &http(false, r, None, false)),
            None,
            "{r:?}"
        );
    }
    // A Host header that would split the request goes neither plain
    // way (the full client reports it), whatever the path.
    for r in ["/", "a b"] {
        let bad = http(false, r, Some("bad\r\nX: y"), false);
        assert_eq!(plain_request(a, &bad), None, "{r:?}");
    }
    // What the short way leaves still goes plain, through the parser.
    let escaped = plain_request(a, &http(false, "a b", None, false)).expect("plain");
    assert!(escaped.starts_with(b"GET /a%20b HTTP/1.1\r\n"));
    let scoped: SocketAddr = "[fe80::1%2]:80".parse().unwrap();
    assert_eq!(simple_request(scoped, &http(false, "/", None, false)), None);
}

#[test]
fn header_values_are_judged_as_the_header_type_does() {
    for b in 0..=255u8 {
        let v = [b'a', b, b'b'];
        let Ok(s) = std::str::from_utf8(&v) else {
            continue;
        };
        assert_eq!(
            valid_header_value(s),
            HeaderValue::from_str(s).is_ok(),
            "byte {b}"
        );
    }
    assert!(valid_header_value("www.example.org:8080"));
    assert!(!valid_header_value("x\r\ny"));
}
