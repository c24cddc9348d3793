//! Shared helpers of the config tests: a fixed resolver and parse shortcuts.

#![allow(dead_code)]

use std::path::Path;

use lvsd::config::resolve::Static;
use lvsd::config::{self, Config, Diagnostic, Format, Loaded, Severity};

pub const SERVICES: &str = "\
ftp 21/tcp
smtp 25/tcp mail
domain 53/tcp
domain 53/udp
http 80/tcp www
https 443/tcp
submission 587/tcp
mysql 3306/tcp
";

pub fn resolver() -> Static {
    Static::new(
        &[
            ("vip", "10.0.0.100"),
            ("web1", "10.0.1.1"),
            ("web2", "10.0.1.2"),
            ("web6", "2001:db8::10"),
        ],
        SERVICES,
    )
}

pub fn parse_as(text: &str, format: Format) -> Loaded {
    let name = match format {
        Format::Ldirectord => "test.cf",
        Format::Toml => "test.toml",
    };
    config::parse(Path::new(name), text.as_bytes(), format, &resolver())
}

pub fn cf(text: &str) -> Loaded {
    parse_as(text, Format::Ldirectord)
}

pub fn toml(text: &str) -> Loaded {
    parse_as(text, Format::Toml)
}

/// The config of a text that must be valid; panics with the diagnostics.
pub fn valid(text: &str) -> Config {
    let l = cf(text);
    assert!(
        !l.has_errors(),
        "unexpected errors for {text:?}: {:#?}",
        l.diagnostics
    );
    l.config
}

pub fn errors(l: &Loaded) -> Vec<(usize, String)> {
    l.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.line, d.message.clone()))
        .collect()
}

pub fn warnings(l: &Loaded) -> Vec<&Diagnostic> {
    l.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect()
}

/// Asserts exactly one error, on `line`, whose message contains `needle`.
pub fn assert_error(text: &str, line: usize, needle: &str) {
    assert_one_error(&cf(text), line, needle, text);
}

/// [`assert_error`] for an already loaded file of either format; `what`
/// names the case in the failure message.
pub fn assert_one_error(l: &Loaded, line: usize, needle: &str, what: &str) {
    let e = errors(l);
    assert!(
        e.len() == 1 && e[0].0 == line && e[0].1.contains(needle),
        "for {what:?} expected one error at line {line} containing {needle:?}, got {e:#?}"
    );
}
