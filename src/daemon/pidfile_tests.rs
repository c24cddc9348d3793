//! Tests of pid files, instance locks and state-file writes.

use super::*;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvsd-pidfile-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn names_follow_the_invocation_name() {
    assert_eq!(
        Flavor::from_argv0("/usr/sbin/ldirectord"),
        Flavor::Ldirectord
    );
    assert_eq!(Flavor::from_argv0("lvsd"), Flavor::Lvsd);
    let p = PidFile::new(Path::new("/var/run"), Flavor::Ldirectord, "ldirectord");
    assert_eq!(p.path, Path::new("/var/run/ldirectord.ldirectord.pid"));
}

#[test]
fn states_from_the_file() {
    let d = tmpdir("states");
    let p = PidFile::new(&d, Flavor::Lvsd, "a.cf");
    assert_eq!(p.state().unwrap(), ProcState::Stopped);
    // Another program (sleep) under the pid: stale.
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    p.write(other.id()).unwrap();
    assert_eq!(p.state().unwrap(), ProcState::Stale(other.id()));
    let _ = other.kill();
    let _ = other.wait();
    fs::write(&p.path, "garbage\n").unwrap();
    let err = p.read().unwrap_err();
    assert!(err.to_string().contains("not a pid file"), "{err}");
    p.write(7).unwrap();
    p.remove_if_ours(8);
    assert!(p.path.exists());
    p.remove_if_ours(7);
    assert!(!p.path.exists());
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn a_process_of_our_executable_is_a_director_whatever_its_name() {
    // This test binary is named neither lvsd nor ldirectord: it is
    // recognised by its executable, as a renamed lvsd would be.
    let d = tmpdir("exe");
    let p = PidFile::new(&d, Flavor::Lvsd, "a.cf");
    p.write(std::process::id()).unwrap();
    assert_eq!(p.state().unwrap(), ProcState::Running(std::process::id()));
    assert!(!named_director(std::process::id()));
    // A copy of a program is another file: not recognised by its exe.
    let mut sleep = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    assert!(!same_executable(sleep.id()));
    assert!(!is_director(sleep.id()));
    let _ = sleep.kill();
    let _ = sleep.wait();
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn a_zombie_is_not_a_director() {
    // A child of ours that exited and is not reaped yet: still in /proc,
    // with its name, running nothing. Under the name lvsd, as after kill -9.
    let dir = tmpdir("zombie");
    let link = dir.join("lvsd");
    std::os::unix::fs::symlink("/bin/true", &link).unwrap();
    let child = std::process::Command::new(&link).spawn().unwrap();
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !dead(pid) {
        assert!(std::time::Instant::now() < deadline, "{pid} never exited");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "reaped already"
    );
    assert!(!is_director(pid));
    drop(child);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_planted_symlink_is_replaced_not_written_through() {
    let d = tmpdir("symlink");
    let victim = d.join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let p = PidFile::new(&d, Flavor::Lvsd, "a.cf");
    // Both the pid file and the temporary it is written through.
    std::os::unix::fs::symlink(&victim, &p.path).unwrap();
    std::os::unix::fs::symlink(&victim, d.join("lvsd.a.cf.pid.tmp")).unwrap();
    p.write(42).unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(p.read().unwrap(), Some(42));
    assert!(!fs::symlink_metadata(&p.path).unwrap().is_symlink());
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn same_file_name_in_two_directories_gets_two_keys() {
    let d = tmpdir("keys");
    for sub in ["a", "b"] {
        fs::create_dir_all(d.join(sub)).unwrap();
        fs::write(d.join(sub).join("ldirectord.cf"), "").unwrap();
    }
    let a = state_key(&d.join("a/ldirectord.cf"), "ldirectord.cf");
    let b = state_key(&d.join("b/ldirectord.cf"), "ldirectord.cf");
    assert_ne!(a, b);
    assert!(a.starts_with("ldirectord.cf-"), "{a}");
    // The same file by another spelling is the same instance.
    assert_eq!(
        a,
        state_key(&d.join("b/../a/ldirectord.cf"), "ldirectord.cf")
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn one_lock_holder_per_configuration() {
    let d = tmpdir("lock");
    let path = d.join("x.lock");
    assert_eq!(probe_lock(&path).unwrap(), None);
    let lock = InstanceLock::acquire(&path).unwrap();
    let rec = LockRecord {
        pid: 12,
        config: PathBuf::from("/etc/ha.d/a/x.cf"),
        pidfile: Some(PathBuf::from("/run/lvsd.x.cf.pid")),
        ready: false,
    };
    lock.set(&rec).unwrap();
    assert_eq!(probe_lock(&path).unwrap(), Some(Some(rec.clone())));
    match InstanceLock::acquire(&path) {
        Err(LockError::Held(r)) => assert_eq!(r, rec),
        other => panic!("a second holder: {other:?}"),
    }
    let ready = LockRecord {
        ready: true,
        pidfile: None,
        ..rec
    };
    lock.set(&ready).unwrap();
    assert_eq!(probe_lock(&path).unwrap(), Some(Some(ready)));
    drop(lock);
    assert_eq!(probe_lock(&path).unwrap(), None);
    assert!(InstanceLock::acquire(&path).is_ok());
    let _ = fs::remove_dir_all(&d);
}
