//! The plain HTTP checker's answer parser (head, framing, chunked body) on
//! arbitrary bytes: a hostile real server must never make it panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lvsd::check::fuzz_http_answer(data);
});
