//! Without IPVS in the kernel (this host: no ip_vs module), `lvsd list` says
//! so in one line and exits 2. On a machine whose kernel has IPVS the same
//! command must instead list the table or report missing privilege.

use std::process::Command;

#[test]
fn lvsd_list_names_the_missing_ipvs_in_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["list", "-n"])
        .output()
        .expect("run lvsd");
    let err = String::from_utf8_lossy(&out.stderr);
    let has_ipvs = std::path::Path::new("/proc/net/ip_vs").exists();
    if has_ipvs {
        assert!(
            out.status.success() || err.contains("CAP_NET_ADMIN"),
            "status {}: {err}",
            out.status
        );
    } else {
        assert_eq!(out.status.code(), Some(2), "stderr: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("no \"IPVS\" generic netlink family"), "{err}");
        assert!(err.contains("modprobe ip_vs"), "{err}");
        assert!(out.stdout.is_empty());
    }
}
