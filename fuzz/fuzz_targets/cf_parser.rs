//! The ldirectord.cf parser on arbitrary bytes: it must never panic, and a
//! config it accepts must plan and convert to TOML that loads back equal.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lvsd::config::resolve::Static;
use lvsd::config::{self, Format};

fuzz_target!(|data: &[u8]| {
    let r = Static::new(&[("web", "10.0.0.1"), ("web6", "2001:db8::1")], "http 80/tcp www\n");
    let l = config::parse(Path::new("f.cf"), data, Format::Ldirectord, &r);
    if l.has_errors() {
        return;
    }
    let _ = lvsd::director::desired::all_up(&l.config);
    let text = config::toml::write::to_toml(&l.config);
    let back = config::parse(Path::new("f.toml"), text.as_bytes(), Format::Toml, &r);
    assert!(!back.has_errors(), "converted TOML does not load: {:?}\n{text}", back.diagnostics);
    let (mut a, mut b) = (l.config, back.config);
    a.erase_lines();
    b.erase_lines();
    assert_eq!(a, b, "round trip differs\n{text}");
});
