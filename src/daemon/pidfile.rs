//! Pid files, one per configuration name, as ldirectord keeps them, and the
//! status answer they give (running / stale / stopped).
//!
//! The path depends on the name lvsd was invoked as, so that scripts written
//! for ldirectord (`/var/run/ldirectord.<cfg>.pid`) keep working when lvsd is
//! installed as `ldirectord`, while `lvsd` uses `/run/lvsd.<cfg>.pid`.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

mod process;
pub use process::*;

/// The name lvsd was invoked as; it decides file names and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Lvsd,
    Ldirectord,
}

impl Flavor {
    /// From `argv[0]`: anything whose file name is `ldirectord` is the drop-in.
    pub fn from_argv0(argv0: &str) -> Flavor {
        match Path::new(argv0).file_name().and_then(|n| n.to_str()) {
            Some("ldirectord") => Flavor::Ldirectord,
            _ => Flavor::Lvsd,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Flavor::Lvsd => "lvsd",
            Flavor::Ldirectord => "ldirectord",
        }
    }
}

/// What a pid file says about the daemon of one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcState {
    Running(u32),
    /// The file names a process that no longer exists (or is not lvsd).
    Stale(u32),
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PidFile {
    pub path: PathBuf,
}

impl PidFile {
    /// The pid file of the configuration named `cfg_name`: as ldirectord
    /// names it, the file name of the configuration argument (`ldirectord`
    /// when none was given).
    pub fn new(run_dir: &Path, flavor: Flavor, cfg_name: &str) -> PidFile {
        PidFile {
            path: run_dir.join(format!("{}.{cfg_name}.pid", flavor.name())),
        }
    }

    /// The pid in the file; `None` when there is no file. A file that does
    /// not hold a pid is an error that names it.
    pub fn read(&self) -> io::Result<Option<u32>> {
        match fs::read_to_string(&self.path) {
            Ok(s) => s.trim().parse::<u32>().map(Some).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: not a pid file", self.path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn state(&self) -> io::Result<ProcState> {
        Ok(match self.read()? {
            None => ProcState::Stopped,
            Some(pid) if is_director(pid) => ProcState::Running(pid),
            Some(pid) => ProcState::Stale(pid),
        })
    }

    /// Writes our own pid, atomically (see [`replace_file`]).
    pub fn write(&self, pid: u32) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        replace_file(&self.path, format!("{pid}\n").as_bytes(), 0o644)
    }

    /// Removes the file if it still names `pid` (a new daemon may own it).
    pub fn remove_if_ours(&self, pid: u32) {
        if matches!(self.read(), Ok(Some(p)) if p == pid) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The key of one configuration's state files: its `$CFGNAME` and a short
/// hash of its canonical path, so `/etc/ha.d/a/ldirectord.cf` and
/// `/etc/ha.d/b/ldirectord.cf` never share a record.
pub fn state_key(config: &Path, name: &str) -> String {
    use md5::{Digest, Md5};
    let canon = canonical(config);
    let digest = Md5::digest(canon.as_os_str().as_encoded_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

/// The configuration's canonical path (as given when it cannot be resolved).
pub fn canonical(config: &Path) -> PathBuf {
    config
        .canonicalize()
        .unwrap_or_else(|_| config.to_path_buf())
}

/// What the holder of an instance lock says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRecord {
    pub pid: u32,
    pub config: PathBuf,
    pub pidfile: Option<PathBuf>,
    /// The table is programmed (`start` returns).
    pub ready: bool,
}

impl LockRecord {
    fn render(&self) -> String {
        let pidfile = self.pidfile.as_deref().unwrap_or(Path::new("-"));
        format!(
            "pid {}\nconfig {}\npidfile {}\nstate {}\n",
            self.pid,
            self.config.display(),
            pidfile.display(),
            if self.ready { "ready" } else { "starting" }
        )
    }

    fn parse(text: &str) -> Option<LockRecord> {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(' '))
                .map(str::to_string)
        };
        let pidfile = get("pidfile")?;
        Some(LockRecord {
            pid: get("pid")?.parse().ok()?,
            config: PathBuf::from(get("config")?),
            pidfile: (pidfile != "-").then(|| PathBuf::from(pidfile)),
            ready: get("state")? == "ready",
        })
    }
}

/// One running instance per configuration: an exclusive `flock` on
/// `STATE_DIR/<key>.lock`, held for the daemon's life (the kernel drops it
/// when the process dies, so it is never stale).
#[derive(Debug)]
pub struct InstanceLock {
    file: nix::fcntl::Flock<fs::File>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another lvsd (pid {pid}) already runs {config}", pid = .0.pid, config = .0.config.display())]
    Held(LockRecord),
    #[error("{path}: {1}", path = .0.display())]
    Io(PathBuf, #[source] io::Error),
}

fn open_lock(path: &Path, create: bool) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

impl InstanceLock {
    /// Takes the lock or says who holds it. A probe ([`probe_lock`]) holds
    /// it for a moment only, hence the short retry.
    pub fn acquire(path: &Path) -> Result<InstanceLock, LockError> {
        let io = |e| LockError::Io(path.to_path_buf(), e);
        let mut file = open_lock(path, true).map_err(io)?;
        for _ in 0..20 {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(file) => return Ok(InstanceLock { file }),
                Err((f, Errno::EWOULDBLOCK)) => file = f,
                Err((_, e)) => return Err(io(e.into())),
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        match read_record(path) {
            Some(r) => Err(LockError::Held(r)),
            None => Err(io(io::Error::new(
                io::ErrorKind::WouldBlock,
                "held by another process",
            ))),
        }
    }

    /// Rewrites the record in place (the lock is on this open file, so it
    /// cannot be renamed over; readers retry a partial read).
    pub fn set(&self, rec: &LockRecord) -> io::Result<()> {
        use std::os::unix::fs::FileExt as _;
        let text = rec.render();
        self.file.set_len(0)?;
        self.file.write_all_at(text.as_bytes(), 0)?;
        self.file.sync_data()
    }
}

fn read_record(path: &Path) -> Option<LockRecord> {
    let text = fs::read_to_string(path).ok()?;
    LockRecord::parse(&text)
}

/// The record of the live holder of the lock at `path`, `None` when no
/// process holds it (the daemon is stopped, whatever the file says).
/// `Some(None)`: held, but the record is being written.
pub fn probe_lock(path: &Path) -> io::Result<Option<Option<LockRecord>>> {
    let file = match open_lock(path, false) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        // Dropping it unlocks at once.
        Ok(_) => Ok(None),
        Err((_, Errno::EWOULDBLOCK)) => Ok(Some(read_record(path))),
        Err((_, e)) => Err(e.into()),
    }
}

/// Replaces `path` with `contents` as root safely: the temporary is created
/// new (`O_EXCL|O_NOFOLLOW`, so a planted symlink is never written
/// through), synced, then renamed over `path` (rename replaces a symlink
/// itself, never its target), so readers see the old or the new file.
pub fn replace_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // A temporary left by a crash (or planted): unlinking removes the
    // entry itself, never what a symlink points at.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let written = f.write_all(contents).and_then(|()| f.sync_all());
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
#[path = "pidfile_tests.rs"]
mod tests;
