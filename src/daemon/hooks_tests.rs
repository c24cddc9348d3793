//! The queues of [`super::Hooks`], with real scripts that record what ran.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn virtual_(cf: &str) -> Virtual {
    crate::config::test_config(cf).virtuals.remove(0)
}

/// A script that appends `$1` (start, stop) to `log`: `start` only after a
/// pause, so that a `stop` run beside it would be written first.
fn recorder(dir: &Path) -> (String, std::path::PathBuf) {
    let log = dir.join("log");
    let script = dir.join("fallback");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = start ] && sleep 0.3\necho \"$1 $2\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script.display().to_string(), log)
}

#[tokio::test]
async fn start_and_stop_of_one_virtual_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = recorder(dir.path());
    let a = virtual_("virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n");
    let b = virtual_("virtual=10.0.0.2:80\n\treal=10.0.1.1:80 masq\n");
    let hooks = Hooks::new(Duration::from_secs(60));
    // A flap of a, twice; b beside it, in its own queue.
    let mut done = Vec::new();
    for action in ["start", "stop", "start", "stop"] {
        done.push(hooks.fallback_command(&script, action, &a));
    }
    done.push(hooks.fallback_command(&script, "stop", &b));
    for d in done {
        d.await.unwrap();
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let of_a: Vec<&str> = text.lines().filter(|l| l.contains("10.0.0.1")).collect();
    assert_eq!(
        of_a,
        [
            "start 10.0.0.1:80",
            "stop 10.0.0.1:80",
            "start 10.0.0.1:80",
            "stop 10.0.0.1:80"
        ],
        "{text}"
    );
    // b did not wait for a's queue: its stop is written before a's first
    // start ends its pause.
    assert_eq!(text.lines().next(), Some("stop 10.0.0.2:80"), "{text}");
}

/// Real time, not paused: tokio would count waiting for a process as idle
/// and fire every limit at once. The limit is short, the stuck script never
/// ends, and the next command has it all to itself.
#[tokio::test]
async fn a_command_that_overruns_is_killed_with_its_group_and_the_queue_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = recorder(dir.path());
    let stuck = dir.path().join("stuck");
    let pid = dir.path().join("pid");
    // A script whose child would outlive it if only the script were killed.
    std::fs::write(
        &stuck,
        format!(
            "#!/bin/sh\nsleep 1000 &\necho $! > {}\nwait\n",
            pid.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stuck, std::fs::Permissions::from_mode(0o755)).unwrap();
    let v = virtual_("virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n");
    let hooks = Hooks::new(Duration::from_secs(2));
    let first = hooks.fallback_command(stuck.to_str().unwrap(), "start", &v);
    let second = hooks.fallback_command(&script, "stop", &v);
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "stop 10.0.0.1:80\n");
    let child: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Killed with the group (then reaped by init, or a zombie at worst).
    // SIGKILL takes effect when the child is next scheduled, which on a
    // loaded machine is not at once: wait for it, within a bound.
    let alive = || {
        let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let running = state
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .is_some_and(|s| s != "Z");
        running.then_some(state)
    };
    for _ in 0..100 {
        if alive().is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(alive(), None, "the script's child survived");
}
