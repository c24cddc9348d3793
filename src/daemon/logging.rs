//! ldirectord's `logfile=` and `supervised=`: a tracing layer that copies
//! every log line to the configured target, beside stderr (the journal).
//!
//! - a path: the line is appended to whatever file is at that path when
//!   the line is written, so logrotate can move it away at any time (as
//!   ldirectord, which opens and closes the file per line; lvsd keeps it
//!   open and checks the path's inode per line, one `stat` instead of an
//!   open and a close: 11,000 start-up lines are seconds in the emulated VM);
//! - a facility name (`local0`, `daemon`...): RFC 3164 datagrams to the
//!   local syslog socket, the severity from the tracing level;
//! - `supervised=yes`: `[time] message` on stdout (daemontools' way).
//!
//! A target that fails never stops the director: the first failure is said
//! once on stderr, and the next success is said once too.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::config::model::{Global, LogTarget};

mod line;
pub use line::*;

/// The local syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// Where the copy of each log line goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    File(PathBuf),
    Syslog {
        /// The facility code (RFC 3164: local0 = 16).
        facility: u8,
        /// The program name in each message (`lvsd`, or `ldirectord`).
        ident: String,
        socket: PathBuf,
    },
    Stdout,
}

impl Sink {
    /// The sink a configuration asks for; `None` under `-d` (stderr only,
    /// as ldirectord -d). An unknown facility name falls back to `daemon`.
    pub fn for_config(global: &Global, debug: bool) -> Option<Sink> {
        if debug {
            return None;
        }
        if global.supervised {
            return Some(Sink::Stdout);
        }
        Some(match &global.logfile {
            LogTarget::File(p) => Sink::File(p.clone()),
            LogTarget::Syslog(name) => Sink::Syslog {
                facility: facility(name).unwrap_or_else(|| {
                    eprintln!("lvsd: unknown syslog facility {name:?}; using daemon");
                    3
                }),
                ident: ident(),
                socket: PathBuf::from(DEV_LOG),
            },
        })
    }

    fn describe(&self) -> String {
        match self {
            Sink::File(p) => p.display().to_string(),
            Sink::Syslog { socket, .. } => format!("syslog ({})", socket.display()),
            Sink::Stdout => "stdout".into(),
        }
    }
}

#[derive(Default)]
struct State {
    sink: Option<Sink>,
    socket: Option<UnixDatagram>,
    file: Option<OpenLog>,
    /// The current target has failed and said so; quiet until it works.
    failing: bool,
}

impl State {
    fn write(&mut self, level: &Level, target: &str, text: &str) {
        let Some(sink) = &self.sink else { return };
        let result = match sink {
            Sink::File(path) => append(
                &mut self.file,
                path,
                &file_line(&chrono::Utc::now(), level, target, text),
            ),
            Sink::Stdout => {
                let line = stdout_line(&chrono::Local::now(), text);
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes()).and_then(|()| out.flush())
            }
            Sink::Syslog {
                facility,
                ident,
                socket,
            } => {
                let line = syslog_line(
                    &chrono::Local::now(),
                    *facility,
                    level,
                    ident,
                    std::process::id(),
                    text,
                );
                send_syslog(&mut self.socket, socket, line.as_bytes())
            }
        };
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                eprintln!("lvsd: logging to {} works again", sink.describe());
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                eprintln!(
                    "lvsd: cannot log to {}: {e}; logging to stderr only until it works",
                    sink.describe()
                );
            }
            Err(_) => {}
        }
    }
}

/// The log file as opened, and which file that was.
struct OpenLog {
    file: std::fs::File,
    id: (u64, u64),
}

/// Appends to the file now at `path`: the open one if the path still names
/// it, else a fresh open (the file was rotated, removed or never opened).
fn append(cached: &mut Option<OpenLog>, path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let at_path = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let current = match cached.take() {
        Some(open) if Some(open.id) == at_path => open,
        _ => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            let m = file.metadata()?;
            OpenLog {
                file,
                id: (m.dev(), m.ino()),
            }
        }
    };
    let open = cached.insert(current);
    let result = open.file.write_all(line.as_bytes());
    if result.is_err() {
        // Start from a fresh open next time.
        *cached = None;
    }
    result
}

/// Sends one datagram; a failed send drops the socket so that the next line
/// tries a fresh one (syslogd restarted).
fn send_syslog(cached: &mut Option<UnixDatagram>, path: &Path, msg: &[u8]) -> std::io::Result<()> {
    let sock = match cached {
        Some(s) => s,
        None => cached.insert(UnixDatagram::unbound()?),
    };
    match sock.send_to(msg, path) {
        Ok(_) => Ok(()),
        Err(e) => {
            *cached = None;
            Err(e)
        }
    }
}

/// Switches the target of a [`SinkLayer`].
#[derive(Clone, Default)]
pub struct Handle {
    state: Arc<Mutex<State>>,
}

impl Handle {
    /// Sets the target; the same target keeps its state (no second warning).
    pub fn set(&self, sink: Option<Sink>) {
        let mut st = self.lock();
        if st.sink != sink {
            *st = State {
                sink,
                socket: None,
                file: None,
                failing: false,
            };
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while logging leaves plain data; keep logging.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The tracing layer; filter it as the stderr layer is.
pub struct SinkLayer {
    handle: Handle,
}

/// A layer and the handle that points it somewhere (nowhere at first).
pub fn layer() -> (SinkLayer, Handle) {
    let handle = Handle::default();
    (
        SinkLayer {
            handle: handle.clone(),
        },
        handle,
    )
}

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut st = self.handle.lock();
        if st.sink.is_none() {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let meta = event.metadata();
        st.write(
            meta.level(),
            meta.target(),
            &format!("{}{}", text.message, text.fields),
        );
    }
}

static GLOBAL: OnceLock<Handle> = OnceLock::new();

/// Makes `handle` the one [`configure`] acts on (the process's subscriber).
pub fn install(handle: Handle) {
    let _ = GLOBAL.set(handle);
}

/// Points the process's log copy at `sink` (start-up and reload).
pub fn configure(sink: Option<Sink>) {
    if let Some(h) = GLOBAL.get() {
        h.set(sink);
    }
}

#[cfg(test)]
#[path = "logging_tests.rs"]
mod tests;
