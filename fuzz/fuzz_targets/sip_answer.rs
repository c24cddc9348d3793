//! A SIP real's reply datagram: its status line and the verdict (up iff
//! the first line starts with `SIP/2.0 200 OK`), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lvsd::check::fuzz_sip_answer(data);
});
