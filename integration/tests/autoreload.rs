//! `autoreload=yes`: an edited configuration is applied without a signal,
//! whether the file is rewritten in place or replaced by a rename (what
//! editors and configuration management do); a broken edit keeps the
//! running table and says where the error is.

use std::time::Duration;

use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::{require_vm, Netns};

const APPLIED: Duration = Duration::from_secs(20);

fn config(reals: &[&str], extra: &str) -> String {
    let mut s = format!(
        "autoreload=yes\ncheckinterval=1\n{extra}virtual=10.81.0.1:80\n\tchecktype=on\n\tscheduler=wlc\n"
    );
    for r in reals {
        s.push_str(&format!("\treal={r}:80 masq 1\n"));
    }
    s
}

#[test]
fn edits_are_applied_without_a_signal_and_broken_ones_are_refused() {
    require_vm();
    let ns = Netns::new("ar");
    let lvsd = Lvsd::new(&ns.name, "autoreload", &config(&["10.82.0.11"], ""));
    lvsd.start();
    let reals = || weights(&lvsd.ipvsadm("-S -n"), "-t 10.81.0.1:80").len();
    wait_for("the first real", APPLIED, reals, |n| *n == 1);

    // In place.
    lvsd.write_config(&config(&["10.82.0.11", "10.82.0.12"], ""));
    wait_for("a real added by an in-place edit", APPLIED, reals, |n| {
        *n == 2
    });

    // A new file renamed over the old one: the inode the daemon started
    // with is gone, the directory watch still sees it.
    let tmp = lvsd.config.with_extension("cf.new");
    let text = std::fs::read_to_string(&lvsd.config).unwrap().replace(
        "\treal=10.82.0.12:80 masq 1\n",
        "\treal=10.82.0.12:80 masq 1\n\treal=10.82.0.13:80 masq 1\n",
    );
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &lvsd.config).unwrap();
    wait_for("a real added by a rename", APPLIED, reals, |n| *n == 3);

    // A broken edit: the table stays, the log names the line.
    lvsd.write_config(&(config(&["10.82.0.11"], "") + "\tbogus=1\n"));
    wait_for(
        "the broken file reported",
        APPLIED,
        || lvsd.log(),
        |log| log.contains("autoreload.cf:8:"),
    );
    assert_eq!(reals(), 3, "the running table is kept");
    let (code, text) = lvsd.action("status");
    assert_eq!(code, 0, "still running: {text}");

    // Fixed again: applied.
    lvsd.write_config(&config(&["10.82.0.11"], ""));
    wait_for("the fixed file applied", APPLIED, reals, |n| *n == 1);
    lvsd.stop();
}
