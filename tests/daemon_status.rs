//! `lvsd [--pidfile FILE] CONFIG status [--json|--porcelain]` without a
//! daemon (the host has no IPVS): the exit codes and machine-readable output
//! for a stopped daemon, a stale pid file and a missing configuration, and
//! `--pidfile` replacing the derived pid file name. A running daemon's status
//! is covered in the VM (integration/tests/ocf.rs).

use std::path::Path;
use std::process::Command;

fn lvsd(run_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .env("LVSD_RUN_DIR", run_dir)
        .output()
        .expect("run lvsd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setup() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("web.cf");
    std::fs::write(
        &cfg,
        "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n\tchecktype=on\n",
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    (d, cfg)
}

#[test]
fn stopped_daemon_in_every_format() {
    let (d, cfg) = setup();
    let default_pid = d.path().join("lvsd.web.cf.pid").display().to_string();
    let (code, out, _) = lvsd(d.path(), &[&cfg, "status", "--porcelain"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        out,
        format!("lvsd-status\t1\ndaemon\tstopped\t-\tnone\t{cfg}\t{default_pid}\n")
    );
    let (code, out, _) = lvsd(d.path(), &[&cfg, "status", "--json"]);
    assert_eq!(code, 3, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["state"], "stopped");
    assert_eq!(v["pid"], serde_json::Value::Null);
    assert_eq!(v["config"], cfg.as_str());
    assert_eq!(v["pidfile"], default_pid.as_str());
    assert_eq!(v["status"], serde_json::Value::Null);
    let (code, out, _) = lvsd(d.path(), &[&cfg, "status"]);
    assert_eq!((code, out), (3, format!("lvsd is stopped for {cfg}\n")));
}

#[test]
fn pidfile_option_names_the_file_status_reads() {
    let (d, cfg) = setup();
    let pf = d.path().join("elsewhere/director.pid");
    std::fs::create_dir_all(pf.parent().unwrap()).unwrap();
    // This test process is not lvsd: its pid in the file reads as stale.
    std::fs::write(&pf, format!("{}\n", std::process::id())).unwrap();
    let pfs = pf.display().to_string();
    let (code, out, err) = lvsd(
        d.path(),
        &["--pidfile", &pfs, &cfg, "status", "--porcelain"],
    );
    assert_eq!(code, 1, "{out}{err}");
    let daemon = out.lines().nth(1).unwrap_or_default();
    assert_eq!(
        daemon,
        format!("daemon\tstale\t{}\tnone\t{cfg}\t{pfs}", std::process::id())
    );
    let (code, _, err) = lvsd(d.path(), &[&format!("--pidfile={pfs}"), &cfg, "status"]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("stale pid file {pfs}")), "{err}");
    // Without the option the derived name is read: nothing there.
    assert_eq!(lvsd(d.path(), &[&cfg, "status"]).0, 3);
    // stop removes the stale file it was pointed at, and only that.
    assert_eq!(lvsd(d.path(), &["--pidfile", &pfs, &cfg, "stop"]).0, 0);
    assert!(!pf.exists(), "stale pid file left");
}

#[test]
fn errors_keep_ldirectord_codes_and_stdout_clean() {
    let (d, cfg) = setup();
    let missing = d.path().join("missing.cf").display().to_string();
    let (code, out, err) = lvsd(d.path(), &[&missing, "status", "--json"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout only");
    assert_eq!(v["state"], "stopped");
    assert!(err.contains("not found"), "{err}");
    std::fs::write(&cfg, "virtual=10.0.0.1:80\n\tbogus=1\n").unwrap();
    let (code, out, _) = lvsd(d.path(), &[&cfg, "status", "--porcelain"]);
    assert_eq!(code, 2);
    assert!(
        out.starts_with("lvsd-status\t1\ndaemon\tstopped\t"),
        "{out}"
    );
    let (code, _, err) = lvsd(d.path(), &[&cfg, "start", "--json"]);
    assert_eq!(code, 2);
    assert!(err.contains("only apply to status"), "{err}");
    let (code, _, err) = lvsd(d.path(), &[&cfg, "stop", "--pidfile"]);
    assert_eq!(code, 2);
    assert!(err.contains("--pidfile needs a file name"), "{err}");
}
