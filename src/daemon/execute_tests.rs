//! Tests of [`super`] (execute.rs).

use super::*;

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn reload_stops_the_gone_reloads_the_kept_starts_the_new() {
    let s = reload_steps(
        &v(&["a.cf", "b.cf", "c.cf"]),
        &v(&["c.cf", "d.cf", "a.cf", "d.cf"]),
    );
    assert_eq!(
        s,
        Steps {
            stop: v(&["b.cf"]),
            reload_or_start: v(&["c.cf", "a.cf"]),
            start: v(&["d.cf"]),
        }
    );
    assert_eq!(
        reload_steps(&v(&["a"]), &v(&["a"])).start,
        Vec::<String>::new()
    );
    assert_eq!(reload_steps(&[], &v(&["a"])).start, v(&["a"]));
    assert_eq!(reload_steps(&v(&["a"]), &[]).stop, v(&["a"]));
}

#[test]
fn instances_leading_back_here_are_found() {
    // a -> b -> c -> a, a -> d -> e, e -> d, x unreadable.
    let read = |n: &str| -> Option<InstanceFile> {
        let next: &[&str] = match n {
            "a" => &["b", "d"],
            "b" => &["c"],
            "c" => &["a"],
            "d" => &["e"],
            "e" => &["d"],
            _ => return None,
        };
        Some((PathBuf::from(format!("/etc/{n}")), v(next)))
    };
    let own = Path::new("/etc/a");
    assert_eq!(cycles(own, &v(&["b", "d", "x"]), &read), v(&["b"]));
    assert_eq!(cycles(own, &v(&["a"]), &read), v(&["a"]), "itself");
    assert!(cycles(Path::new("/etc/d"), &v(&["x"]), &read).is_empty());
}

/// The batches run in order, one command at a time, a failed reload is
/// followed by a start, and `stop` returns once everything ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_run_in_order_and_stop_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let script = dir.path().join("instance");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = -- ] && shift\nsleep 0.1\necho \"$1 $2\" >> {}\n[ \"$1 $2\" != \"flaky.cf reload\" ]\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut inst = Instances::new(Some(Program {
        path: script,
        arg0: "ldirectord".into(),
    }));
    inst.start(&v(&["a.cf", "flaky.cf"]));
    inst.reconfigure(&v(&["flaky.cf", "c.cf"]));
    inst.reconfigure(&v(&["flaky.cf", "c.cf"]));
    inst.stop().await;
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        [
            "a.cf start",
            "flaky.cf start",
            "a.cf stop",
            "flaky.cf reload",
            "flaky.cf start",
            "c.cf start",
            "flaky.cf reload",
            "flaky.cf start",
            "c.cf reload",
            "flaky.cf stop",
            "c.cf stop",
        ]
    );
}
