//! `lvsd restore` reads ipvsadm rules from anyone's file. On any text the
//! parser returns changes or line errors, never panics; and rules it
//! accepts, once applied, save to text that parses back to the same table
//! (less what `ipvsadm -S` does not write either: connection thresholds,
//! and the netmask of a service without persistence, which the kernel
//! ignores).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::ipvs::save::render_save;
use lvsd::ipvs::table::full_netmask;
use lvsd::ipvs::{Kernel, MemoryKernel};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(changes) = lvsd::ipvs::rules::parse(&text) else { return };
    let mut k = MemoryKernel::default();
    for c in &changes {
        let _ = k.apply(c);
    }
    let saved = render_save(&k.table);
    let again = lvsd::ipvs::rules::parse(&saved)
        .unwrap_or_else(|e| panic!("saved rules do not parse: {e:?}\n{saved}"));
    let mut k2 = MemoryKernel::default();
    for c in &again {
        k2.apply(c)
            .unwrap_or_else(|e| panic!("saved rule refused: {e}\n{saved}"));
    }
    for (key, e) in k.table.services.iter_mut() {
        if !e.service.is_persistent() {
            e.service.netmask = full_netmask(key.family());
        }
        for d in e.dests.values_mut() {
            d.upper_threshold = 0;
            d.lower_threshold = 0;
        }
    }
    assert_eq!(k.table, k2.table, "save/restore round trip differs\n{saved}");
});
