//! The `metrics` global (an lvsd extension): `[HOST:]PORT`, default off, a
//! bare port on 127.0.0.1; same value from both formats, errors at their
//! line, and `lvsd convert` keeps it.

mod config_common;

use std::net::SocketAddr;
use std::path::Path;

use config_common::*;
use lvsd::config::toml::write::to_toml;
use lvsd::config::{self, Format};

const VIRTUAL: &str = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n";

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn off_by_default_and_a_bare_port_binds_localhost() {
    assert_eq!(valid(VIRTUAL).global.metrics, None);
    let cases = [
        ("9100", "127.0.0.1:9100"),
        ("0.0.0.0:9100", "0.0.0.0:9100"),
        ("192.0.2.7:80", "192.0.2.7:80"),
        ("[::1]:9100", "[::1]:9100"),
        ("[::]:65535", "[::]:65535"),
    ];
    for (written, want) in cases {
        let c = valid(&format!("metrics={written}\n{VIRTUAL}"));
        assert_eq!(c.global.metrics, addr(want), "metrics={written}");
    }
}

#[test]
fn bad_addresses_are_errors_at_their_line() {
    let cases = [
        ("0", "invalid metrics port \"0\""),
        ("65536", "invalid metrics port \"65536\""),
        ("http", "invalid metrics port \"http\""),
        ("", "invalid metrics port \"\""),
        ("::1:9100", "write an IPv6 address in brackets"),
        (
            "localhost:9100",
            "expected [HOST:]PORT with HOST an IP address",
        ),
        ("10.0.0.1:", "invalid metrics port \"\""),
        ("[10.0.0.1]x:80", "expected [HOST:]PORT"),
    ];
    for (written, needle) in cases {
        assert_error(
            &format!("quiescent=no\nmetrics={written}\n{VIRTUAL}"),
            2,
            needle,
        );
    }
}

#[test]
fn toml_takes_a_port_number_or_a_string() {
    let t = |m: &str| toml(&format!("quiescent = false\nmetrics = {m}\n"));
    for (m, want) in [
        ("9100", "127.0.0.1:9100"),
        ("\"9100\"", "127.0.0.1:9100"),
        ("\"[::1]:9101\"", "[::1]:9101"),
    ] {
        let l = t(m);
        assert!(!l.has_errors(), "{m}: {:#?}", l.diagnostics);
        assert_eq!(l.config.global.metrics, addr(want), "metrics = {m}");
    }
    assert_one_error(&t("\"::1:9100\""), 2, "brackets", "metrics = \"::1:9100\"");
}

#[test]
fn convert_keeps_the_address() {
    for written in ["9100", "0.0.0.0:9200", "[2001:db8::5]:9300"] {
        let c = valid(&format!("quiescent=no\nmetrics={written}\n{VIRTUAL}"));
        let text = to_toml(&c);
        let back = config::parse(
            Path::new("converted.toml"),
            text.as_bytes(),
            Format::Toml,
            &resolver(),
        );
        assert!(!back.has_errors(), "{text}\n{:#?}", back.diagnostics);
        assert_eq!(back.config.global.metrics, c.global.metrics, "{text}");
        assert!(c.global.metrics.is_some());
    }
    // Off stays off: no key is written.
    assert!(!to_toml(&valid(VIRTUAL)).contains("metrics"));
}
