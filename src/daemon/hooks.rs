//! Commands the configuration asks lvsd to run: `fallbackcommand` on the
//! edges where a virtual loses or regains its last serving real, and
//! `callback` when the configuration file changes. As ldirectord does, with
//! one difference: they run without a shell (the text is split on white
//! space), so a real server's state never reaches a shell.
//!
//! Each virtual has one queue: on a flap, `start` and `stop` run one after
//! the other, in the order of the edges, never side by side. `callback` has
//! a queue of its own. Every command has a time limit; one that overruns is
//! killed with its whole process group (a script's children too), so one
//! stuck command cannot hold its queue for ever.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::config::model::Virtual;
use crate::ipvs::table::{Protocol, ServiceKey};

/// How long shutdown waits for `fallbackcommand stop`.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// How long one command may run before its process group is killed. A
/// fallback script brings a sorry server up or down: seconds, not minutes.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

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

use crate::check::CHILD_PATH;

fn command(text: &str, args: &[String]) -> Option<Command> {
    let mut words = text.split_whitespace();
    let program = words.next()?;
    let mut c = Command::new(program);
    c.args(words)
        .args(args)
        // Nothing of the daemon's environment (Pacemaker's OCF_*, a
        // caller's LD_PRELOAD or IFS): a fixed PATH, as for external checks.
        .env_clear()
        .env("PATH", CHILD_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(false);
    Some(c)
}

/// Which queue a command waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Queue {
    Virtual(ServiceKey),
    Callback,
}

/// One command to run.
struct Job {
    cmd: String,
    args: Vec<String>,
    what: &'static str,
    /// Told when the command has ended (or was killed).
    done: Option<oneshot::Sender<()>>,
}

/// Serial queues of commands, one per [`Queue`], each a task.
#[derive(Debug)]
pub struct Hooks {
    limit: Duration,
    queues: Mutex<BTreeMap<Queue, mpsc::UnboundedSender<Job>>>,
}

impl Hooks {
    pub fn new(limit: Duration) -> Hooks {
        Hooks {
            limit,
            queues: Mutex::new(BTreeMap::new()),
        }
    }

    /// Queues a command behind the others of `queue`; returns at once. The
    /// receiver completes when it has ended.
    fn push(
        &self,
        queue: Queue,
        cmd: &str,
        args: Vec<String>,
        what: &'static str,
    ) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut job = Job {
            cmd: cmd.to_string(),
            args,
            what,
            done: Some(tx),
        };
        // A poisoned lock only means a panic elsewhere; the map is intact.
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = queues.get(&queue) {
            // Fails only if its task is gone (its runtime ended): start anew.
            match q.send(job) {
                Ok(()) => return rx,
                Err(mpsc::error::SendError(j)) => job = j,
            }
        }
        let (q, jobs) = mpsc::unbounded_channel();
        tokio::spawn(serve_queue(jobs, self.limit));
        let _ = q.send(job);
        queues.insert(queue, q);
        rx
    }

    /// `fallbackcommand ACTION VIP:VPORT PROTOCOL`, in the virtual's queue.
    pub fn fallback_command(&self, cmd: &str, action: &str, v: &Virtual) -> oneshot::Receiver<()> {
        self.push(
            Queue::Virtual(v.key),
            cmd,
            fallback_args(action, v),
            "fallbackcommand",
        )
    }

    /// `callback CONFIG`, in the callback queue.
    pub fn callback(&self, cmd: &str, config: &Path) -> oneshot::Receiver<()> {
        self.push(
            Queue::Callback,
            cmd,
            vec![config.display().to_string()],
            "callback",
        )
    }
}

async fn serve_queue(mut jobs: mpsc::UnboundedReceiver<Job>, limit: Duration) {
    while let Some(mut job) = jobs.recv().await {
        run_one(&job, limit).await;
        if let Some(done) = job.done.take() {
            let _ = done.send(());
        }
    }
}

/// Runs one command to its end, or kills its process group at `limit`.
async fn run_one(job: &Job, limit: Duration) {
    let (cmd, what) = (&job.cmd, job.what);
    let Some(mut c) = command(cmd, &job.args) else {
        return;
    };
    info!(command = %cmd, args = ?job.args, "running {what}");
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!(command = %cmd, error = %e, "cannot run {what}");
            return;
        }
    };
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => warn!(command = %cmd, %status, "{what} failed"),
        Ok(Err(e)) => warn!(command = %cmd, error = %e, "{what} failed"),
        Err(_) => {
            warn!(command = %cmd, args = ?job.args, ?limit, "{what} timed out; killing its process group");
            let group = child.id().and_then(|id| i32::try_from(id).ok());
            if let Some(g) = group {
                if let Err(e) = killpg(Pid::from_raw(g), Signal::SIGKILL) {
                    warn!(command = %cmd, error = %e, "cannot kill {what}");
                }
            }
            // Reaped, so that no zombie is left.
            let _ = child.wait().await;
        }
    }
}

/// The daemon's queues.
fn hooks() -> &'static Hooks {
    static HOOKS: OnceLock<Hooks> = OnceLock::new();
    HOOKS.get_or_init(|| Hooks::new(HOOK_TIMEOUT))
}

/// Queues `fallbackcommand ACTION VIP:VPORT PROTOCOL` behind the earlier
/// ones of this virtual.
pub fn fallback_command(cmd: &str, action: &str, v: &Virtual) {
    drop(hooks().fallback_command(cmd, action, v));
}

/// As [`fallback_command`], waiting (bounded) for it and everything queued
/// before it to finish: on shutdown.
pub async fn fallback_command_wait(cmd: &str, action: &str, v: &Virtual) {
    let done = hooks().fallback_command(cmd, action, v);
    if tokio::time::timeout(STOP_WAIT, done).await.is_err() {
        warn!(command = %cmd, "fallbackcommand still running at shutdown");
    }
}

/// `callback CONFIG`, when the configuration file changed.
pub fn callback(cmd: &str, config: &Path) {
    drop(hooks().callback(cmd, config));
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
