//! A RADIUS real's reply datagram: the check's length and authenticator
//! verification must give a code or an error, never a panic; the same bytes
//! signed with the secret must verify to their own code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lvsd::check::fuzz_radius_answer(data);
});
