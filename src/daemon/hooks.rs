//! Commands the configuration asks lvsd to run: `fallbackcommand` on the
//! edges where a virtual loses or regains its last serving real, and
//! `callback` when the configuration file changes. As ldirectord does, with
//! one difference: they run without a shell (the text is split on white
//! space), so a real server's state never reaches a shell.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tracing::{info, warn};

use crate::config::model::Virtual;
use crate::ipvs::table::{Protocol, ServiceKey};

/// How long shutdown waits for `fallbackcommand stop`.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// ldirectord's arguments: `start|stop VIP:VPORT PROTOCOL` (fwmark services
/// pass the mark and port 0, protocol `fwm`).
pub fn fallback_args(action: &str, v: &Virtual) -> Vec<String> {
    let (server, proto) = match v.key {
        ServiceKey::Inet { protocol, addr } => (
            match addr {
                std::net::SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
                std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
            },
            match protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
            },
        ),
        ServiceKey::FwMark { mark, .. } => (format!("{mark}:0"), "fwm"),
    };
    vec![action.to_string(), server, proto.to_string()]
}

fn command(text: &str, args: &[String]) -> Option<Command> {
    let mut words = text.split_whitespace();
    let program = words.next()?;
    let mut c = Command::new(program);
    c.args(words)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(false);
    Some(c)
}

/// Runs `fallbackcommand ACTION VIP:VPORT PROTOCOL` in the background and
/// logs how it ended.
pub fn fallback_command(cmd: &str, action: &str, v: &Virtual) {
    let args = fallback_args(action, v);
    spawn_logged(cmd, args, "fallbackcommand");
}

/// As [`fallback_command`], waiting (bounded) for it to finish: on shutdown.
pub async fn fallback_command_wait(cmd: &str, action: &str, v: &Virtual) {
    let args = fallback_args(action, v);
    let Some(mut c) = command(cmd, &args) else {
        return;
    };
    info!(command = %cmd, args = ?args, "running fallbackcommand");
    match c.spawn() {
        Ok(mut child) => match tokio::time::timeout(STOP_WAIT, child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => warn!(command = %cmd, %status, "fallbackcommand failed"),
            Ok(Err(e)) => warn!(command = %cmd, error = %e, "fallbackcommand failed"),
            Err(_) => warn!(command = %cmd, "fallbackcommand still running at shutdown"),
        },
        Err(e) => warn!(command = %cmd, error = %e, "cannot run fallbackcommand"),
    }
}

/// `callback CONFIG`, when the configuration file changed.
pub fn callback(cmd: &str, config: &Path) {
    spawn_logged(cmd, vec![config.display().to_string()], "callback");
}

fn spawn_logged(cmd: &str, args: Vec<String>, what: &'static str) {
    let Some(mut c) = command(cmd, &args) else {
        return;
    };
    info!(command = %cmd, args = ?args, "running {what}");
    let cmd = cmd.to_string();
    match c.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                match child.wait().await {
                    Ok(status) if status.success() => {}
                    Ok(status) => warn!(command = %cmd, %status, "{what} failed"),
                    Err(e) => warn!(command = %cmd, error = %e, "{what} failed"),
                }
            });
        }
        Err(e) => warn!(command = %cmd, error = %e, "cannot run {what}"),
    }
}
