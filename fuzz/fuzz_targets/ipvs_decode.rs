//! Any bytes a kernel (or anything pretending to be one) might send: the
//! netlink framing and every IPVS reply decoder must return a value or an
//! error, never panic, and never read out of bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::ipvs::decode;
use lvsd::ipvs::frame::{frames, Reply};
use lvsd::ipvs::Family;

fuzz_target!(|data: &[u8]| {
    // As a datagram of netlink messages.
    for f in frames(data) {
        let Ok(f) = f else { break };
        if let Ok(Reply::Data { attrs, .. }) = f.reply() {
            let _ = decode::decode_service(attrs);
            let _ = decode::decode_dest(attrs, Family::Inet);
            let _ = decode::decode_daemon(attrs);
        }
    }
    // As the attributes of one generic netlink reply of each kind.
    let _ = decode::decode_service(data);
    let _ = decode::decode_service_nest(data);
    let _ = decode::decode_dest(data, Family::Inet);
    let _ = decode::decode_dest(data, Family::Inet6);
    let _ = decode::decode_stats(data);
    let _ = decode::decode_info(data);
    let _ = decode::decode_timeouts(data);
    let _ = decode::decode_daemon(data);
});
