//! Which process a pid is: a live lvsd (under either name), and the
//! configuration it runs, read from `/proc`.

use super::*;

/// Whether live director `pid` runs `config` (one started before instance
/// locks existed names it on its command line).
pub fn runs_config(pid: u32, config: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = canonical(config);
    cmdline
        .split(|b| *b == 0)
        .skip(1)
        .filter_map(|a| std::str::from_utf8(a).ok())
        .any(|a| Path::new(a).canonicalize().is_ok_and(|c| c == want))
}

/// Live `lvsd run` processes for `config` (the daemon between its exec and
/// taking the lock, which `stop` must not miss).
pub fn run_processes(config: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id() && is_director(*pid))
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"run"))
        })
        .filter(|pid| runs_config(*pid, config))
        .collect()
}

/// Whether `pid` is a live lvsd process, under whatever name it was
/// installed: its executable is the very file we run from, or (an upgrade
/// replaced the binary since it started) its name is `lvsd` or
/// `ldirectord`. A recycled pid that now belongs to some other program
/// counts as stale.
pub fn is_director(pid: u32) -> bool {
    !dead(pid) && (same_executable(pid) || named_director(pid))
}

/// Gone, or a zombie nobody has reaped yet (after kill -9, when its parent
/// does not reap): a zombie keeps its `comm` but runs nothing.
pub(super) fn dead(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // `PID (COMM) STATE ...`: COMM may hold spaces and parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    matches!(state, None | Some("Z" | "X" | "x"))
}

/// `/proc/PID/exe` is the same file (device and inode) as ours.
pub(super) fn same_executable(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let (Ok(theirs), Ok(ours)) = (
        fs::metadata(format!("/proc/{pid}/exe")),
        fs::metadata("/proc/self/exe"),
    ) else {
        return false;
    };
    theirs.dev() == ours.dev() && theirs.ino() == ours.ino()
}

/// Its `argv[0]` or its kernel name (`comm`) is `lvsd` or `ldirectord`,
/// as ldirectord looks at the command line.
pub(super) fn named_director(pid: u32) -> bool {
    let known = |name: &str| matches!(name, "lvsd" | "ldirectord");
    let argv0 = fs::read(format!("/proc/{pid}/cmdline")).ok().and_then(|c| {
        let first = c.split(|b| *b == 0).next().unwrap_or_default().to_vec();
        let first = String::from_utf8_lossy(&first).into_owned();
        Path::new(&first)
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
    });
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok();
    argv0.as_deref().is_some_and(known) || comm.as_deref().map(str::trim).is_some_and(known)
}
