//! `lvsd drain REAL` turns an operator's argument into a file name inside
//! `maintenancedir`: whatever the argument, the name never leaves the
//! directory (no separator, no `..`, no NUL).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let arg = String::from_utf8_lossy(data);
    if let Ok(name) = lvsd::daemon::maintenance::drain_file_name(&arg) {
        assert!(!name.is_empty(), "empty name for {arg:?}");
        assert!(!name.contains('/') && !name.contains('\0'), "{name:?} for {arg:?}");
        assert!(name != "." && name != "..", "{name:?} for {arg:?}");
    }
});
