//! A DNS real's answer: decoded by hickory as the resolver does, then its
//! A and PTR records matched against `receive` as the check does; never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lvsd::check::fuzz_dns_answer(data);
});
