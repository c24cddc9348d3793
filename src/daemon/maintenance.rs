//! `maintenancedir`: a file named after a real server forces it down, as in
//! ldirectord (`IP:PORT` or `IP`; IPv6 also as `[IP]:PORT`). ldirectord also
//! looks up each server's name by reverse DNS on every check; lvsd instead
//! accepts the host name as written in the configuration, so no DNS query
//! sits on the check path. `lvsd drain` and `lvsd undrain` manage the files.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::config::model::Config;
use crate::director::desired::RealKey;

#[derive(Debug, Clone)]
pub struct Maintenance {
    dir: Option<PathBuf>,
}

/// The file names that put `real` in maintenance, most specific first.
pub fn names_for(real: SocketAddr, written_host: Option<&str>) -> Vec<String> {
    let ip = real.ip();
    let port = real.port();
    let mut v = vec![format!("{ip}:{port}"), ip.to_string()];
    if ip.is_ipv6() {
        v.insert(1, format!("[{ip}]:{port}"));
    }
    if let Some(h) = written_host {
        if h.parse::<IpAddr>().is_err() && !h.is_empty() {
            v.push(format!("{h}:{port}"));
            v.push(h.to_string());
        }
    }
    v
}

/// The host part of a real as written (`web1:80` → `web1`; ranges have none).
fn written_host(written: &str) -> Option<&str> {
    if written.contains("->") || written.starts_with('[') {
        return None;
    }
    Some(written.split(':').next().unwrap_or(written))
}

impl Maintenance {
    pub fn new(dir: Option<PathBuf>) -> Maintenance {
        Maintenance { dir }
    }

    /// The reals of `config` that have a maintenance file now. A directory
    /// that cannot be read counts as empty (and is logged once by the caller
    /// noticing nothing is in maintenance); it never takes servers down.
    pub fn scan(&self, config: &Config) -> BTreeSet<RealKey> {
        let mut out = BTreeSet::new();
        let Some(dir) = &self.dir else {
            return out;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        let present: BTreeSet<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        if present.is_empty() {
            return out;
        }
        for v in &config.virtuals {
            for r in &v.reals {
                let names = names_for(r.addr, written_host(&r.written));
                if names.iter().any(|n| present.contains(n)) {
                    out.insert(RealKey {
                        service: v.key,
                        real: r.addr,
                    });
                }
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("the configuration has no maintenancedir: lvsd drain needs one")]
    NoDirectory,
    #[error("{0:?} is not a real server address (IP or IP:PORT)")]
    BadReal(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The file name for `lvsd drain REAL`: REAL must be an address.
pub fn drain_file_name(real: &str) -> Result<String, DrainError> {
    if real.parse::<IpAddr>().is_ok() || real.parse::<SocketAddr>().is_ok() {
        Ok(real.to_string())
    } else {
        Err(DrainError::BadReal(real.to_string()))
    }
}

/// Creates (drain) or removes (undrain) the maintenance file for `real`.
pub fn set_drained(dir: Option<&Path>, real: &str, drained: bool) -> Result<PathBuf, DrainError> {
    let dir = dir.ok_or(DrainError::NoDirectory)?;
    let path = dir.join(drain_file_name(real)?);
    let res = if drained {
        create_marker(&path)
    } else {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    };
    res.map_err(|source| DrainError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Creates a maintenance file new, never through a symlink (root writes
/// it in a directory others may write to). One that exists already drains
/// the real as well: it is left as it is.
fn create_marker(path: &Path) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    match opened {
        Ok(mut f) => f.write_all(b"drained by lvsd\n"),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldirectord_file_names_and_written_host_names() {
        let n = names_for("10.0.0.5:80".parse().unwrap(), Some("web5"));
        assert_eq!(n, ["10.0.0.5:80", "10.0.0.5", "web5:80", "web5"]);
        let n = names_for("[2001:db8::5]:80".parse().unwrap(), None);
        assert_eq!(n, ["2001:db8::5:80", "[2001:db8::5]:80", "2001:db8::5"]);
    }

    #[test]
    fn files_force_matching_reals_and_drain_manages_them() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "maintenancedir={}\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n\treal=10.0.1.2:80 masq\n",
            dir.path().display()
        );
        let config = crate::config::test_config(&text);
        let m = Maintenance::new(config.global.maintenancedir.clone());
        assert!(m.scan(&config).is_empty());
        set_drained(Some(dir.path()), "10.0.1.2", true).unwrap();
        let got: Vec<SocketAddr> = m.scan(&config).iter().map(|k| k.real).collect();
        assert_eq!(got, vec!["10.0.1.2:80".parse::<SocketAddr>().unwrap()]);
        set_drained(Some(dir.path()), "10.0.1.2", false).unwrap();
        assert!(m.scan(&config).is_empty());
        assert!(matches!(
            set_drained(Some(dir.path()), "../etc/passwd", true),
            Err(DrainError::BadReal(_))
        ));
        assert!(matches!(
            set_drained(None, "10.0.1.2", true),
            Err(DrainError::NoDirectory)
        ));
    }

    #[test]
    fn drain_never_writes_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("10.0.1.2")).unwrap();
        set_drained(Some(dir.path()), "10.0.1.2", true).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }
}
