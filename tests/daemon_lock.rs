//! `lvsd run` takes its configuration's lock before anything else: a second
//! daemon for the same file refuses at once with a clear message (exit 1),
//! and never touches the first one's pid file.

use std::process::Command;

use lvsd::daemon::pidfile::{state_key, InstanceLock, LockRecord};

#[test]
fn a_second_daemon_for_the_same_configuration_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lb.cf");
    std::fs::write(
        &config,
        "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n\tchecktype=on\n",
    )
    .unwrap();
    let state = dir.path().join("lvsd");
    std::fs::create_dir_all(&state).unwrap();
    let lock_path = state.join(format!("{}.lock", state_key(&config, "lb.cf")));
    let lock = InstanceLock::acquire(&lock_path).unwrap();
    let first = LockRecord {
        pid: std::process::id(),
        config: config.canonicalize().unwrap(),
        pidfile: None,
        ready: true,
    };
    lock.set(&first).unwrap();
    let pidfile = dir.path().join("lvsd.lb.cf.pid");
    std::fs::write(&pidfile, "4242\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .env("LVSD_RUN_DIR", dir.path())
        .arg("run")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("another lvsd (pid {}) already runs", first.pid)),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), "4242\n");
}
