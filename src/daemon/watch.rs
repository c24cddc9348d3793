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
    let bytes = std::fs::read(path).ok()?;
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
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
