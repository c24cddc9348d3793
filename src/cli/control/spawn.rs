//! `start`'s child: `lvsd run` spawned detached, and waited for until it
//! has programmed the table.

use super::*;

/// Starts `lvsd run` detached (own process group, no terminal) and waits
/// until it has written its pid file, i.e. programmed the table.
pub(super) fn spawn_daemon(inst: &Instance, log: &LogTarget) -> u8 {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: cannot find my own executable: {e}", inst.prog());
            return EXIT_FAIL;
        }
    };
    // The daemon appends to its `logfile=` itself, a line at a time (so
    // rotation works). As ldirectord, refuse to start with a file that
    // cannot be opened at all; later failures do not stop the daemon.
    if let LogTarget::File(path) = log {
        if let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            eprintln!("{}: cannot open {}: {e}", inst.prog(), path.display());
            return EXIT_FAIL;
        }
    }
    let mut cmd = Command::new(exe);
    cmd.arg("run");
    if inst.flavor == Flavor::Ldirectord {
        // So that its execute= instances are run as `ldirectord` too.
        cmd.arg("--as-ldirectord");
    }
    cmd.arg("--name")
        .arg(&inst.name)
        .arg("--pidfile")
        .arg(&inst.pidfile.path)
        .arg(&inst.config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: cannot start the daemon: {e}", inst.prog());
            return EXIT_FAIL;
        }
    };
    let deadline = Instant::now() + START_WAIT;
    loop {
        if inst.live().is_some_and(|r| r.pid == child.id() && r.ready) {
            return EXIT_OK;
        }
        match child.try_wait() {
            // Another start won the lock: that daemon is the one.
            Ok(Some(_)) if inst.live().is_some() => return wait_ready(inst, deadline),
            Ok(Some(status)) => {
                eprintln!(
                    "{}: the daemon exited during start ({status}); see its log",
                    inst.prog()
                );
                return u8::try_from(status.code().unwrap_or(1)).unwrap_or(EXIT_FAIL);
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("{}: cannot watch the daemon: {e}", inst.prog());
                return EXIT_FAIL;
            }
        }
        if Instant::now() >= deadline {
            missed_start(inst);
            // Not left running behind a failed start (the cluster would
            // start another): stopped with cleanup, killed if it hangs.
            let _ = signal_pid(child.id(), Signal::SIGTERM);
            let kill_at = Instant::now() + KILL_WAIT;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < kill_at {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            inst.pidfile.remove_if_ours(child.id());
            return EXIT_FAIL;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(super) fn signal_pid(pid: u32, sig: Signal) -> Result<(), nix::Error> {
    let pid = i32::try_from(pid).map_err(|_| nix::Error::EINVAL)?;
    kill(Pid::from_raw(pid), sig)
}
