//! Has the configuration file changed? ldirectord polls, comparing the
//! modification time and an MD5 of the contents. lvsd is woken by inotify
//! (through the `notify` crate) on the file's directory, so that an editor's
//! rename-over-the-old-file is seen too, then compares mtime, size and a
//! hash, so `touch` alone does not trigger a reload. The daemon still calls
//! [`FileWatch::changed`] on its one-second tick: a missed or unavailable
//! inotify watch (a full inotify table, a network file system) only makes
//! the reload slower, never lost.

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

pub struct FileWatch {
    path: PathBuf,
    seen: Option<(SystemTime, u64)>,
    digest: Option<u64>,
    wake: Arc<Notify>,
    /// Kept alive for as long as the watch; `None` when inotify could not
    /// be set up (polling only).
    _watcher: Option<RecommendedWatcher>,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatch")
            .field("path", &self.path)
            .field("inotify", &self._watcher.is_some())
            .finish()
    }
}

/// Watches the directory holding `path` and wakes `wake` on any event that
/// names the file (creation, write, rename, removal; not reads).
fn watch_dir(path: &Path, wake: Arc<Notify>) -> Result<RecommendedWatcher, notify::Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name: Option<OsString> = path.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else {
            // Overflow or a watch error: let the daemon look for itself.
            wake.notify_one();
            return;
        };
        if matches!(ev.kind, EventKind::Access(_)) {
            return;
        }
        let ours = ev.paths.is_empty()
            || ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name);
        if ours {
            wake.notify_one();
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

fn digest(path: &Path) -> Option<u64> {
    std::fs::read(path).ok().map(|b| digest_of(&b))
}

fn digest_of(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl FileWatch {
    pub fn new(path: &Path) -> FileWatch {
        let wake = Arc::new(Notify::new());
        let watcher = match watch_dir(path, wake.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    file = %path.display(),
                    error = %e,
                    "cannot watch the configuration with inotify; checking it once a second"
                );
                None
            }
        };
        FileWatch {
            path: path.to_path_buf(),
            seen: stamp(path),
            digest: digest(path),
            wake,
            _watcher: watcher,
        }
    }

    /// Completes when inotify reports an event on the file (a permit is
    /// kept if nobody is waiting, so no event between two waits is lost).
    /// Several events may collapse into one wake-up.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Whether the contents differ from the last refresh. Cheap when the
    /// file is untouched (one stat).
    pub fn changed(&mut self) -> bool {
        let now = stamp(&self.path);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        digest(&self.path) != self.digest
    }

    /// Takes `parsed` (the bytes a reload parsed; `None`: the file could
    /// not be read) as the reference. Not the file as it is now: a file
    /// caught mid-write was parsed truncated, and its finished contents
    /// must still count as a change. The next [`FileWatch::changed`] hashes
    /// the file again, whatever its stamp, since the stamp of the parsed
    /// bytes is not known.
    pub fn seen_parsed(&mut self, parsed: Option<&[u8]>) {
        self.seen = None;
        self.digest = parsed.map(digest_of);
    }

    /// Takes the current contents as the reference.
    pub fn refresh(&mut self) {
        self.seen = stamp(&self.path);
        self.digest = digest(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_is_not_a_change_but_new_contents_are() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cf");
        std::fs::write(&p, "a\n").unwrap();
        let mut w = FileWatch::new(&p);
        assert!(!w.changed());
        std::fs::write(&p, "a\n").unwrap();
        assert!(!w.changed(), "same contents");
        std::fs::write(&p, "bb\n").unwrap();
        assert!(w.changed());
        w.refresh();
        assert!(!w.changed());
    }

    #[test]
    fn a_file_parsed_mid_write_is_reloaded_once_complete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cf");
        let full = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n";
        std::fs::write(&p, full).unwrap();
        let mut w = FileWatch::new(&p);
        // A writer has got half way; a reload parses (and rejects) that.
        let half = &full[..12];
        std::fs::write(&p, half).unwrap();
        assert!(w.changed());
        let parsed =
            crate::config::load_source(&p, &crate::config::resolve::Static::new(&[], "")).1;
        assert_eq!(parsed.as_deref(), Some(half.as_bytes()));
        // The writer finishes before the reload marks the file seen.
        std::fs::write(&p, full).unwrap();
        w.seen_parsed(parsed.as_deref());
        assert!(w.changed(), "the finished contents were never reloaded");
        w.seen_parsed(Some(full.as_bytes()));
        assert!(!w.changed(), "the same contents again are not a change");
    }

    #[tokio::test]
    async fn inotify_wakes_on_a_write_and_on_a_rename_over_the_file() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cf");
        std::fs::write(&p, "a\n").unwrap();
        let w = FileWatch::new(&p);
        assert!(w._watcher.is_some(), "inotify watch set up");
        let wake = w.waker();
        let within = |n: Arc<Notify>| async move {
            tokio::time::timeout(Duration::from_secs(5), n.notified()).await
        };

        std::fs::write(&p, "b\n").unwrap();
        within(wake.clone()).await.expect("woken by a write");

        // What editors do: write a new file, rename it over the old one.
        let tmp = dir.path().join(".x.cf.swp");
        std::fs::write(&tmp, "c\n").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        within(wake.clone()).await.expect("woken by a rename");

        // Drain whatever the bursts left, then: another file in the same
        // directory does not wake the daemon.
        while tokio::time::timeout(Duration::from_millis(300), wake.notified())
            .await
            .is_ok()
        {}
        std::fs::write(dir.path().join("other"), "x").unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(500), wake.notified())
                .await
                .is_err(),
            "an unrelated file woke the watch"
        );
    }
}
