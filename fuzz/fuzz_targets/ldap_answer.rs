//! An LDAP real's answers to the bind and base search, as bytes: the
//! check's own BER reader must give an error or a DN, never a panic, a
//! stack overflow or an allocation past its caps.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lvsd::check::fuzz_ldap_answer(data);
});
