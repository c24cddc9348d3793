//! ldirectord's actions (`start|stop|restart|try-restart|reload|force-reload|
//! status`) with its exit codes, so init scripts, Heartbeat and
//! `ocf:heartbeat:ldirectord` drive lvsd unchanged. Unlike ldirectord,
//! `start` returns once the table is programmed and `stop` once cleanup is
//! done, which is what a cluster manager needs.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::invocation::{Action, Format, LdArgs};
use crate::config::{self, model::LogTarget};
use crate::daemon::pidfile::{self, Flavor, LockRecord, PidFile, ProcState};
use crate::daemon::run::{self, RunOptions};
use crate::daemon::status;

mod spawn;
use spawn::*;

mod show;
use show::*;

/// Exit codes of ldirectord's status action (LSB).
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_STOPPED: u8 = 3;

/// How long `start` waits for the table to be programmed, and `stop` for the
/// daemon to be gone.
const START_WAIT: Duration = Duration::from_secs(120);
const STOP_WAIT: Duration = Duration::from_secs(120);
/// How long `stop` waits for a daemon just spawned to take its lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// How long a daemon that missed [`START_WAIT`] gets to stop before SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Where pid, ownership and status files go. `LVSD_RUN_DIR` moves them
/// (tests, unprivileged trials); the default is `/run`.
pub fn run_dir() -> PathBuf {
    std::env::var_os("LVSD_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run"))
}

/// Everything an action needs to know about the instance it acts on.
#[derive(Clone, Debug)]
pub struct Instance {
    pub flavor: Flavor,
    pub config: PathBuf,
    pub name: String,
    /// Names the lock, ownership and status files ([`pidfile::state_key`]).
    pub key: String,
    pub pidfile: PidFile,
    pub state_dir: PathBuf,
}

impl Instance {
    /// ldirectord's config search for the argument, and its `$CFGNAME`.
    pub fn new(flavor: Flavor, config_arg: Option<&str>, name: String) -> Instance {
        let config = config::find_config(config_arg.map(Path::new));
        let dir = run_dir();
        Instance {
            flavor,
            pidfile: PidFile::new(&dir, flavor, &name),
            key: pidfile::state_key(&config, &name),
            state_dir: dir.join("lvsd"),
            config,
            name,
        }
    }

    /// `--pidfile` replaces only the pid file: the state files keep
    /// ldirectord's `$CFGNAME`, so `lvsd run` and `status` agree on them.
    pub fn from_ld(flavor: Flavor, a: &LdArgs) -> Instance {
        let mut inst = Instance::new(flavor, a.config.as_deref(), a.config_name());
        if let Some(p) = &a.pidfile {
            inst.pidfile = PidFile { path: p.clone() };
        }
        inst
    }

    pub fn run_options(&self, write_pid: bool) -> RunOptions {
        RunOptions {
            config: self.config.clone(),
            name: self.name.clone(),
            key: self.key.clone(),
            state_dir: self.state_dir.clone(),
            pidfile: write_pid.then(|| self.pidfile.clone()),
            resync: Duration::from_secs(10),
            debug: false,
            flavor: self.flavor,
        }
    }

    pub fn lock_path(&self) -> PathBuf {
        self.state_dir.join(format!("{}.lock", self.key))
    }

    /// The daemon holding this configuration's lock, if one lives (it may
    /// still be starting).
    pub fn live(&self) -> Option<LockRecord> {
        // A record being written reads as nothing for a moment.
        for _ in 0..20 {
            match pidfile::probe_lock(&self.lock_path()) {
                Ok(Some(Some(rec))) => return Some(rec),
                Ok(Some(None)) => std::thread::sleep(Duration::from_millis(50)),
                Ok(None) | Err(_) => return None,
            }
        }
        None
    }

    fn prog(&self) -> &'static str {
        self.flavor.name()
    }
}

/// Parses the configuration and prints every diagnostic to stderr.
/// `Err(code)` with ldirectord's code: 1 when the file is missing, 2 when it
/// is invalid.
fn check_config(inst: &Instance) -> Result<config::Config, u8> {
    if !inst.config.is_file() {
        eprintln!("Config file {} not found", inst.config.display());
        return Err(EXIT_FAIL);
    }
    let loaded = config::load(&inst.config);
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    if loaded.has_errors() {
        Err(EXIT_CONFIG)
    } else {
        Ok(loaded.config)
    }
}

/// The lock names the daemon of this configuration; without one, the pid
/// file does only if it names a daemon started for this very file (one
/// started before locks existed), not one of another configuration that
/// shares its file name.
fn state(inst: &Instance) -> ProcState {
    if let Some(rec) = inst.live() {
        return ProcState::Running(rec.pid);
    }
    match inst.pidfile.state().unwrap_or(ProcState::Stopped) {
        ProcState::Running(pid) if !pidfile::runs_config(pid, &inst.config) => ProcState::Stopped,
        s => s,
    }
}

/// The pid file the running daemon wrote (it may have had to pick another).
fn pidfile_path(inst: &Instance) -> PathBuf {
    inst.live()
        .and_then(|r| r.pidfile)
        .unwrap_or_else(|| inst.pidfile.path.clone())
}

/// Waits until the daemon holding the lock has programmed the table.
fn wait_ready(inst: &Instance, deadline: Instant) -> u8 {
    loop {
        match inst.live() {
            Some(rec) if rec.ready => return EXIT_OK,
            Some(_) => {}
            None => {
                eprintln!(
                    "{}: the daemon exited during start; see its log",
                    inst.prog()
                );
                return EXIT_FAIL;
            }
        }
        if Instant::now() >= deadline {
            missed_start(inst);
            return EXIT_FAIL;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The one line for a start that did not become ready within [`START_WAIT`],
/// whether this start spawned the daemon or waits for another's.
fn missed_start(inst: &Instance) {
    eprintln!(
        "{}: the daemon did not finish programming the table within {} s",
        inst.prog(),
        START_WAIT.as_secs()
    );
}

/// Runs one ldirectord action; returns the exit code.
pub fn act(inst: &Instance, action: Action, debug: bool, format: Format) -> u8 {
    match action {
        Action::Start => start(inst, debug),
        Action::Stop => stop(inst),
        Action::Restart => match stop(inst) {
            EXIT_OK => start(inst, debug),
            code => code,
        },
        Action::TryRestart => match state(inst) {
            ProcState::Running(_) => match stop(inst) {
                EXIT_OK => start(inst, debug),
                code => code,
            },
            _ => EXIT_OK,
        },
        Action::Reload | Action::ForceReload => reload(inst),
        Action::Status => status(inst, format),
    }
}

fn start(inst: &Instance, debug: bool) -> u8 {
    let config = match check_config(inst) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let ProcState::Running(pid) = state(inst) {
        eprintln!(
            "{} for {} is already running with pid: {pid}",
            inst.prog(),
            inst.config.display()
        );
        // It may still be starting: return once it is ready, as a start does.
        return wait_ready(inst, Instant::now() + START_WAIT);
    }
    if debug || config.global.supervised {
        // ldirectord -d / supervised=yes: stay in the foreground (logging
        // to stderr only, or `[time] msg` on stdout).
        let mut opts = inst.run_options(true);
        opts.debug = debug;
        return match run::run(opts) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("{}: {e}", inst.prog());
                EXIT_FAIL
            }
        };
    }
    spawn_daemon(inst, &config.global.logfile)
}

fn stop(inst: &Instance) -> u8 {
    let mut now = state(inst);
    // A daemon just spawned has not taken its lock yet: give it the moment
    // it needs, rather than answer "stopped" while it comes up.
    let deadline = Instant::now() + LOCK_WAIT;
    while now == ProcState::Stopped
        && !pidfile::run_processes(&inst.config).is_empty()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
        now = state(inst);
    }
    match now {
        ProcState::Running(pid) => {
            if let Err(e) = signal_pid(pid, Signal::SIGTERM) {
                eprintln!("{}: cannot signal pid {pid}: {e}", inst.prog());
                return EXIT_FAIL;
            }
            let deadline = Instant::now() + STOP_WAIT;
            while Path::new(&format!("/proc/{pid}")).exists() && pidfile::is_director(pid) {
                if Instant::now() >= deadline {
                    eprintln!(
                        "{}: pid {pid} still running after {} s",
                        inst.prog(),
                        STOP_WAIT.as_secs()
                    );
                    return EXIT_FAIL;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            EXIT_OK
        }
        ProcState::Stale(_) => {
            let _ = std::fs::remove_file(&inst.pidfile.path);
            EXIT_OK
        }
        ProcState::Stopped => EXIT_OK,
    }
}

fn reload(inst: &Instance) -> u8 {
    match state(inst) {
        ProcState::Running(pid) => match signal_pid(pid, Signal::SIGHUP) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("{}: cannot signal pid {pid}: {e}", inst.prog());
                EXIT_FAIL
            }
        },
        _ => {
            eprintln!("{} is stopped for {}", inst.prog(), inst.config.display());
            EXIT_FAIL
        }
    }
}
