//! `checktype=external` and `external-perl`: run `checkcommand VIP VPORT RIP
//! RPORT` (VIP is the fwmark for fwmark virtuals); exit status 0 means up.
//!
//! The command is executed directly, never through a shell. It runs in its
//! own process group, and if the probe is dropped (deadline passed, check
//! stopped) the whole group is killed, so helpers it started die with it.
//! ldirectord evaluates `external-perl` files inside its own interpreter;
//! lvsd runs them with `perl FILE`, which gives the script the same @ARGV.

use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Command;

use super::spec::{External, Probe, VirtualService};
use super::Outcome;

/// The whole environment of an external check (hooks get the same):
/// a fixed PATH and nothing of lvsd's own (Pacemaker's OCF_* variables,
/// a caller's LD_PRELOAD or IFS), so what a check sees is what its author
/// tested and not whatever started the daemon. Hooks and sendmail use it too.
pub const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) async fn check(probe: &Probe, ext: &External) -> Outcome {
    let target = &probe.target;
    let (vip, vport) = match &target.virtual_service {
        VirtualService::Addr(a) => (a.ip().to_string(), a.port().to_string()),
        // ldirectord passes the mark and its (unset, so 0) port.
        VirtualService::FwMark(m) => (m.to_string(), "0".to_owned()),
    };
    let args = [
        vip,
        vport,
        target.addr.ip().to_string(),
        target.real_port.to_string(),
    ];
    let mut command = if ext.perl {
        let mut c = Command::new("perl");
        c.arg(&ext.command);
        c
    } else {
        Command::new(&ext.command)
    };
    command
        .args(&args)
        .env_clear()
        .env("PATH", CHILD_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let tried = format!(
        "{}{} {}",
        if ext.perl { "perl " } else { "" },
        ext.command.display(),
        args.join(" ")
    );
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::down(tried, format_args!("cannot run: {e}")),
    };
    let group = child.id().map(GroupKill::new);
    let status = child.wait().await;
    if let Some(mut group) = group {
        group.disarm();
    }
    match status {
        Ok(status) if status.success() => Outcome::Up,
        Ok(status) => Outcome::down(tried, describe(status)),
        Err(e) => Outcome::down(tried, format_args!("cannot wait for it: {e}")),
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Kills a process group when dropped, unless disarmed first.
struct GroupKill {
    pgid: Option<Pid>,
}

impl GroupKill {
    fn new(pid: u32) -> GroupKill {
        GroupKill {
            pgid: i32::try_from(pid).ok().map(Pid::from_raw),
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            // ESRCH just means the group is already gone.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}
