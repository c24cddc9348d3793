//! `execute=`: other director instances this one drives, as ldirectord
//! does. It runs `ldirectord CONFIG start` for each after its own start,
//! `stop` before its own stop, and on reload stops the instances no longer
//! listed, reloads the ones kept (starting them if the reload fails) and
//! starts the new ones; `status` also asks each of them.
//!
//! The instance is this same program, run with the name it was invoked by
//! (`lvsd` or `ldirectord`, so pid files match), the configuration as one
//! argument and no shell. Commands run one after the other on a background
//! task, a batch after the previous one, so the daemon keeps serving while
//! another instance starts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// An instance's own `start`/`stop` waits up to 120 s; a bit more here.
const COMMAND_WAIT: Duration = Duration::from_secs(150);

/// What a reload does to the instances: ldirectord's `reread_config`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Steps {
    pub stop: Vec<String>,
    pub reload_or_start: Vec<String>,
    pub start: Vec<String>,
}

/// From the instances of the running configuration to those of the new one
/// (each list in configuration order, duplicates once).
pub fn reload_steps(old: &[String], new: &[String]) -> Steps {
    let mut steps = Steps::default();
    for c in old {
        if !new.contains(c) && !steps.stop.contains(c) {
            steps.stop.push(c.clone());
        }
    }
    for c in new {
        let list = if old.contains(c) {
            &mut steps.reload_or_start
        } else {
            &mut steps.start
        };
        if !list.contains(c) {
            list.push(c.clone());
        }
    }
    steps
}

/// An instance's configuration file and its `execute=` list.
pub type InstanceFile = (PathBuf, Vec<String>);

/// The instances in `children` that lead back to `own` through their own
/// `execute=` lines (directly or further down): driving those would make
/// every reload bounce between the instances for ever. `read` gives an
/// instance's file and its `execute=` list (`None`: unreadable).
pub fn cycles(
    own: &Path,
    children: &[String],
    read: &dyn Fn(&str) -> Option<InstanceFile>,
) -> Vec<String> {
    let mut out = Vec::new();
    for child in children {
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut todo = vec![child.clone()];
        let mut back = false;
        while let Some(name) = todo.pop() {
            let Some((path, next)) = read(&name) else {
                continue;
            };
            if path == own {
                back = true;
                break;
            }
            if seen.contains(&path) {
                continue;
            }
            seen.push(path);
            todo.extend(next);
        }
        if back {
            out.push(child.clone());
        }
    }
    out
}

/// [`cycles`]' reader for real files: ldirectord's config search, then the
/// file's `execute=` list (an invalid file lists nothing).
pub fn read_instance(name: &str) -> Option<InstanceFile> {
    let path = crate::config::find_config(Some(Path::new(name)));
    let path = path.canonicalize().ok()?;
    let loaded = crate::config::load(&path);
    Some((path, loaded.config.global.execute))
}

/// How to run another instance: this program, under the name it was called.
#[derive(Clone, Debug)]
pub struct Program {
    pub path: PathBuf,
    pub arg0: OsString,
}

impl Program {
    /// This executable, named `arg0` (`lvsd` or `ldirectord`).
    pub fn this(arg0: &str) -> std::io::Result<Program> {
        Ok(Program {
            path: std::env::current_exe()?,
            arg0: arg0.into(),
        })
    }

    /// Runs `ARG0 CONFIG ACTION`; true if it exited 0.
    pub async fn run(&self, config: &str, action: &str) -> bool {
        info!(instance = %config, action, "execute: running the instance's {action}");
        let mut c = Command::new(&self.path);
        // `--`: an instance named `-d` is a file, not an option.
        c.arg0(&self.arg0)
            .arg("--")
            .arg(config)
            .arg(action)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = match c.spawn() {
            Ok(child) => child,
            Err(e) => {
                warn!(instance = %config, action, error = %e, "execute: cannot run it");
                return false;
            }
        };
        match tokio::time::timeout(COMMAND_WAIT, child.wait()).await {
            Ok(Ok(status)) if status.success() => true,
            Ok(Ok(status)) => {
                warn!(instance = %config, action, %status, "execute: it failed");
                false
            }
            Ok(Err(e)) => {
                warn!(instance = %config, action, error = %e, "execute: it failed");
                false
            }
            Err(_) => {
                // kill_on_drop ends it when `child` goes out of scope.
                warn!(instance = %config, action, "execute: no answer within {} s; killed", COMMAND_WAIT.as_secs());
                false
            }
        }
    }
}

/// The instances of the running configuration and the commands in flight.
pub struct Instances {
    program: Option<Program>,
    configs: Vec<String>,
    busy: Option<JoinHandle<()>>,
}

impl Instances {
    /// `program` is `None` when this executable cannot be found: every
    /// batch then logs that it cannot run.
    pub fn new(program: Option<Program>) -> Instances {
        Instances {
            program,
            configs: Vec::new(),
            busy: None,
        }
    }

    /// Queues a batch after the one in flight.
    fn queue(&mut self, steps: Steps) {
        if steps == Steps::default() {
            return;
        }
        let Some(program) = self.program.clone() else {
            warn!("execute: cannot find this program's executable; other instances are not driven");
            return;
        };
        let before = self.busy.take();
        self.busy = Some(tokio::spawn(async move {
            if let Some(b) = before {
                let _ = b.await;
            }
            for c in &steps.stop {
                program.run(c, "stop").await;
            }
            for c in &steps.reload_or_start {
                if !program.run(c, "reload").await {
                    program.run(c, "start").await;
                }
            }
            for c in &steps.start {
                program.run(c, "start").await;
            }
        }));
    }

    /// After this instance's start.
    pub fn start(&mut self, configs: &[String]) {
        let steps = reload_steps(&[], configs);
        self.configs = configs.to_vec();
        self.queue(steps);
    }

    /// After a successful reload.
    pub fn reconfigure(&mut self, configs: &[String]) {
        let steps = reload_steps(&self.configs, configs);
        self.configs = configs.to_vec();
        self.queue(steps);
    }

    /// Before this instance's stop: waits for the batch in flight, then
    /// stops every instance.
    pub async fn stop(&mut self) {
        let steps = reload_steps(&self.configs, &[]);
        self.configs.clear();
        self.queue(steps);
        if let Some(b) = self.busy.take() {
            let _ = b.await;
        }
    }
}

#[cfg(test)]
#[path = "execute_tests.rs"]
mod tests;
