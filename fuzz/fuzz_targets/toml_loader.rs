//! The TOML loader on arbitrary bytes: it must never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lvsd::config::resolve::Static;
use lvsd::config::{self, Format};

fuzz_target!(|data: &[u8]| {
    let r = Static::new(&[("web", "10.0.0.1")], "http 80/tcp www\n");
    let l = config::parse(Path::new("f.toml"), data, Format::Toml, &r);
    if !l.has_errors() {
        let _ = lvsd::director::desired::all_up(&l.config);
    }
});
