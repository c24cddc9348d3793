//! Golden bytes from the real kernel. A table programmed with ipvsadm is
//! dumped raw; the replies must equal `tests/fixtures/ipvs/replies.hex`
//! (written by this test when LVSD_CAPTURE_FIXTURES=1). The same table
//! programmed through lvsd's encoder must make the kernel report the very
//! same bytes, so what lvsd encodes is what ipvsadm encodes, as far as the
//! kernel can tell.

use std::path::PathBuf;

use lvsd::ipvs::codec;
use lvsd::ipvs::{rules, Client};
use lvsd_integration::{require_vm, sh, sh_output};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ipvs")
}

/// Every reply of a full dump as lines, sorted: `info HEX`, `config HEX`,
/// and per service `service HEX DEST_HEX...` (its real servers sorted). The
/// kernel's hash order depends on the namespace's address, so only the set
/// is stable.
fn dump_lines(c: &mut Client) -> Vec<String> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut lines = Vec::new();
    for a in c.raw_replies(&codec::get_info()).unwrap() {
        lines.push(format!("info {}", hex(&a)));
    }
    for a in c.raw_replies(&codec::get_timeouts()).unwrap() {
        lines.push(format!("config {}", hex(&a)));
    }
    for (key, _, _) in c.services().unwrap() {
        let svc = c.raw_replies(&codec::get_service(&key)).unwrap();
        assert_eq!(svc.len(), 1, "one reply for {key}");
        let mut dests: Vec<String> = c
            .raw_replies(&codec::dump_dests(&key))
            .unwrap()
            .iter()
            .map(|a| hex(a))
            .collect();
        dests.sort();
        lines.push(format!("service {} {}", hex(&svc[0]), dests.join(" ")));
    }
    lines.sort();
    lines
}

#[test]
fn kernel_replies_match_the_golden_fixtures_for_ipvsadm_and_lvsd_alike() {
    require_vm();
    sh("ipvsadm -C");
    sh(
        "ip link show d8 >/dev/null 2>&1 || { ip link add d8 type dummy && ip link set d8 up && \
        ip route add default dev d8; }",
    );
    let rules_path = fixture_dir().join("table.rules");
    sh(&format!(
        "grep -v '^#' {} | ipvsadm -R",
        rules_path.display()
    ));
    let mut c = Client::connect().unwrap();
    let by_ipvsadm = dump_lines(&mut c);

    // The same table through lvsd's encoder.
    sh("ipvsadm -C");
    let text = std::fs::read_to_string(&rules_path).unwrap();
    let changes = rules::parse(&text).unwrap();
    for r in c.apply_all(&changes).unwrap() {
        r.unwrap();
    }
    let by_lvsd = dump_lines(&mut c);
    let _ = sh_output("ipvsadm -C; ip link del d8");
    assert_eq!(by_lvsd, by_ipvsadm, "the kernel holds different bytes");

    let golden = fixture_dir().join("replies.hex");
    let mut text = String::from(
        "# Kernel replies (generic netlink attributes, hex) for table.rules, sorted:\n\
         # `info A`, `config A`, `service A DEST_A...` (a service and its real servers).\n\
         # Captured in the IPVS VM by integration/tests/ipvs_fixtures.rs.\n",
    );
    for l in &by_ipvsadm {
        text.push_str(l);
        text.push('\n');
    }
    if std::env::var_os("LVSD_CAPTURE_FIXTURES").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (capture with LVSD_CAPTURE_FIXTURES=1)",
            golden.display()
        )
    });
    assert_eq!(committed, text, "the kernel's replies changed");
}
