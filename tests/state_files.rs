//! The files lvsd writes as root under its run directory (pid file, lock,
//! `.owned`, status), checked against what an attacker with a foothold in
//! that directory, a crash or a full disk could leave there: no symlink is
//! followed, a replace is whole or not at all, modes let nobody else
//! write, and a torn or corrupt `.owned` never names a service lvsd does
//! not own.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use lvsd::config::{self, Format};
use lvsd::daemon::pidfile::{self, Flavor, InstanceLock, PidFile};
use lvsd::daemon::status::{self, DaemonStatus};
use lvsd::director::desired::Facts;
use lvsd::director::owned;
use lvsd::director::reconcile::Director;
use lvsd::ipvs::{Dest, Family, Forward, MemoryKernel, Service, ServiceEntry, ServiceKey, Table};

fn fwmark(mark: u32) -> ServiceKey {
    ServiceKey::FwMark {
        family: Family::Inet,
        mark,
    }
}

fn planted(dir: &Path) -> PathBuf {
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    victim
}

fn status_of(pid: u32) -> DaemonStatus {
    DaemonStatus {
        pid,
        config: PathBuf::from("/etc/ha.d/ldirectord.cf"),
        virtuals: Vec::new(),
        sync: Vec::new(),
        sync_error: None,
        sync_foreign: vec![],
    }
}

#[test]
fn the_status_file_is_never_written_through_a_planted_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let victim = planted(dir.path());
    let path = status::path(dir.path(), "ldirectord.cf-1234abcd");
    // Every name the write could go through: the file and any temporary
    // beside it.
    for name in [
        "ldirectord.cf-1234abcd.status.json",
        "ldirectord.cf-1234abcd.status.tmp",
        "ldirectord.cf-1234abcd.status.json.tmp",
    ] {
        std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
    }
    status::store(&path, &status_of(42)).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
    assert_eq!(status::load(&path).unwrap(), status_of(42));
}

#[test]
fn state_files_are_writable_by_their_owner_only_and_never_executable() {
    let dir = tempfile::tempdir().unwrap();
    let pid = PidFile::new(dir.path(), Flavor::Lvsd, "a.cf");
    pid.write(7).unwrap();
    let own = dir.path().join("a.cf-1.owned");
    owned::store(&own, &[fwmark(3)].into()).unwrap();
    let st = status::path(dir.path(), "a.cf-1");
    status::store(&st, &status_of(7)).unwrap();
    let lock_path = dir.path().join("a.cf-1.lock");
    let _lock = InstanceLock::acquire(&lock_path).unwrap();
    for p in [&pid.path, &own, &st, &lock_path] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        // 0644 less the umask: readable for `lvsd status` and monitoring,
        // written by root alone. Nothing in them is secret.
        assert_eq!(mode & !0o644, 0, "{}: mode {mode:o}", p.display());
        assert_eq!(mode & 0o600, 0o600, "{}: mode {mode:o}", p.display());
    }
}

#[test]
fn a_replace_that_fails_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory: the rename fails after the temporary was
    // written.
    let target = dir.path().join("x.owned");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), "kept").unwrap();
    assert!(pidfile::replace_file(&target, b"new\n", 0o644).is_err());
    assert_eq!(
        std::fs::read_to_string(target.join("keep")).unwrap(),
        "kept"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("x.owned")]);

    // A success replaces the inode whole (readers see old or new).
    let file = dir.path().join("y.owned");
    std::fs::write(&file, "old\n").unwrap();
    let before = std::fs::metadata(&file).unwrap().ino();
    pidfile::replace_file(&file, b"new\n", 0o644).unwrap();
    assert_ne!(std::fs::metadata(&file).unwrap().ino(), before);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");
}

fn config(text: &str) -> config::model::Config {
    let loaded = config::parse(
        Path::new("t.cf"),
        text.as_bytes(),
        Format::Ldirectord,
        &config::resolve::Static::new(&[], ""),
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded.config
}

fn service() -> ServiceEntry {
    let mut e = ServiceEntry::new(Service::new("rr", Family::Inet));
    e.dests
        .insert("10.9.0.2:80".parse().unwrap(), Dest::new(Forward::Masq, 5));
    e
}

/// Loads the record `bytes` for `cfg` as the daemon does at start, then
/// runs a first pass on a kernel holding `foreign` (someone else's) and
/// returns what is left of it.
fn first_pass_after(bytes: &[u8], foreign: ServiceKey) -> (owned::Loaded, Option<ServiceEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ldirectord.cf");
    std::fs::write(&cfg, "").unwrap();
    let path = dir.path().join("ldirectord.cf-1.owned");
    std::fs::write(&path, bytes).unwrap();
    let loaded = owned::load_for(&path, &dir.path().join("legacy.owned"), &cfg).unwrap();
    let mut table = Table::new();
    table.services.insert(foreign, service());
    let c = config("virtual=10.0.0.1:80\n\treal=10.9.0.2:80 masq\n\tchecktype=on\n");
    let up = Facts::all_up(&c);
    let mut d = Director::new(MemoryKernel::new(table), c, loaded.owned.clone(), None);
    let report = d.reconcile(&up).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let left = d.kernel().table.services.get(&foreign).cloned();
    (loaded, left)
}

#[test]
fn a_record_torn_mid_line_never_names_a_service_it_does_not_own() {
    // `fwmark 12` torn after `fwmark 1`, and `tcp 10.0.0.1:80` torn after
    // `tcp 10.0.0.1:8`: both parse, as someone else's service.
    for (torn, foreign) in [
        (&b"fwmark 12\nfwmark 1"[..], fwmark(1)),
        (
            &b"tcp 10.0.0.1:80\ntcp 10.0.0.1:8"[..],
            owned::parse_key("tcp 10.0.0.1:8").unwrap(),
        ),
    ] {
        let (loaded, left) = first_pass_after(torn, foreign);
        assert!(
            !loaded.owned.contains(&foreign),
            "the torn last line was taken as owned: {:?}",
            loaded.owned
        );
        assert_eq!(left, Some(service()), "{foreign} was removed");
        assert!(!loaded.bad.is_empty(), "the torn line is reported");
    }
}

#[test]
fn a_corrupt_record_never_makes_a_foreign_service_deleted() {
    let foreign = fwmark(9);
    for bytes in [
        &b"\xff\xfe\x00garbage\x1b[2J\n"[..],
        b"# config /etc/ha.d/other/ldirectord.cf\nfwmark 9\n",
        b"fwmark 9x\nfwmark\n9\nudp 10.0.0.1\n",
        b"\n\n\n",
    ] {
        let (loaded, left) = first_pass_after(bytes, foreign);
        assert!(!loaded.owned.contains(&foreign), "{:?}", loaded.owned);
        assert_eq!(left, Some(service()), "after {bytes:?}");
    }
}

#[test]
fn a_planted_symlink_at_the_lock_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = planted(dir.path());
    let lock = dir.path().join("a.cf-1.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    // The daemon refuses to start rather than lock and rewrite the target.
    let err = InstanceLock::acquire(&lock).expect_err("a symlinked lock");
    assert!(err.to_string().contains("a.cf-1.lock"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // A status probe does not follow it either.
    assert!(pidfile::probe_lock(&lock).is_err());
}
