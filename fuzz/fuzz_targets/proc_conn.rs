//! `/proc/net/ip_vs_conn` lines (`lvsd list -c`): any text gives rows or
//! nothing, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lvsd::ipvs::conn::parse(&String::from_utf8_lossy(data));
});
