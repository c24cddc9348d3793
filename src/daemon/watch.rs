//! Has the configuration file changed? ldirectord compares modification
//! time and an MD5 of the contents; lvsd compares mtime, size and a hash, so
//! `touch` alone does not trigger a reload.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    seen: Option<(SystemTime, u64)>,
    digest: Option<u64>,
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
        FileWatch {
            path: path.to_path_buf(),
            seen: stamp(path),
            digest: digest(path),
        }
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
}
