//! IPVS sync message headers (the datagrams lvsd reads on the backup's
//! sync group): any bytes give a header or a typed error, never a panic;
//! an accepted header is consistent with the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::daemon::sync::header::{parse, Version};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse(data) {
        assert!(usize::from(h.size) >= h.version.header_len());
        assert_eq!(usize::from(h.size), data.len());
        if h.version == Version::V1 {
            assert_eq!((data[0], data[5], data[6], data[7]), (0, 1, 0, 0));
        }
        assert_eq!(h.syncid, data[1]);
    }
});
