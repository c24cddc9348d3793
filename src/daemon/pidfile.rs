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

/// Whether `pid` is a live lvsd (or lvsd-as-ldirectord) process. A recycled
/// pid that now belongs to some other program counts as stale; like
/// ldirectord, this looks at the process's command line.
pub fn is_director(pid: u32) -> bool {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            let argv0 = String::from_utf8_lossy(argv0);
            Flavor::from_argv0(&argv0) == Flavor::Ldirectord
                || Path::new(argv0.as_ref())
                    .file_name()
                    .and_then(|n| n.to_str())
                    == Some("lvsd")
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lvsd-pidfile-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn names_follow_the_invocation_name() {
        assert_eq!(
            Flavor::from_argv0("/usr/sbin/ldirectord"),
            Flavor::Ldirectord
        );
        assert_eq!(Flavor::from_argv0("lvsd"), Flavor::Lvsd);
        let p = PidFile::new(Path::new("/var/run"), Flavor::Ldirectord, "ldirectord");
        assert_eq!(p.path, Path::new("/var/run/ldirectord.ldirectord.pid"));
    }

    #[test]
    fn states_from_the_file() {
        let d = tmpdir("states");
        let p = PidFile::new(&d, Flavor::Lvsd, "a.cf");
        assert_eq!(p.state().unwrap(), ProcState::Stopped);
        // This test process is not named lvsd: its pid reads as stale.
        p.write(std::process::id()).unwrap();
        assert_eq!(p.state().unwrap(), ProcState::Stale(std::process::id()));
        fs::write(&p.path, "garbage\n").unwrap();
        let err = p.read().unwrap_err();
        assert!(err.to_string().contains("not a pid file"), "{err}");
        p.write(7).unwrap();
        p.remove_if_ours(8);
        assert!(p.path.exists());
        p.remove_if_ours(7);
        assert!(!p.path.exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_planted_symlink_is_replaced_not_written_through() {
        let d = tmpdir("symlink");
        let victim = d.join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let p = PidFile::new(&d, Flavor::Lvsd, "a.cf");
        // Both the pid file and the temporary it is written through.
        std::os::unix::fs::symlink(&victim, &p.path).unwrap();
        std::os::unix::fs::symlink(&victim, d.join("lvsd.a.cf.pid.tmp")).unwrap();
        p.write(42).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(p.read().unwrap(), Some(42));
        assert!(!fs::symlink_metadata(&p.path).unwrap().is_symlink());
        let _ = fs::remove_dir_all(&d);
    }
}
