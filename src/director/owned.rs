//! The record of which virtual services lvsd owns, kept in a state file under
//! `/run` so that a virtual removed from the configuration while lvsd was not
//! running is still cleaned up at the next start, and so that services of
//! anyone else are never touched.
//!
//! One service per line, in the form `ServiceKey` displays
//! (`tcp 10.0.0.1:80`, `udp [2001:db8::1]:53`, `fwmark 7`, `fwmark 7 ipv6`),
//! after a first line `# config PATH` naming the configuration it belongs
//! to: a record written for another path is never used to delete anything.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::ipvs::table::{Family, Protocol, ServiceKey};

use super::diff::Owned;

/// Renders the owned set, one key per line, sorted.
pub fn render(owned: &Owned) -> String {
    owned.iter().map(|k| format!("{k}\n")).collect()
}

/// Parses one line written by [`render`].
pub fn parse_key(line: &str) -> Option<ServiceKey> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["fwmark", mark] => Some(ServiceKey::FwMark {
            family: Family::Inet,
            mark: mark.parse().ok()?,
        }),
        ["fwmark", mark, "ipv6"] => Some(ServiceKey::FwMark {
            family: Family::Inet6,
            mark: mark.parse().ok()?,
        }),
        [proto, addr] => {
            let protocol = match *proto {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                _ => return None,
            };
            Some(ServiceKey::Inet {
                protocol,
                addr: addr.parse::<SocketAddr>().ok()?,
            })
        }
        _ => None,
    }
}

/// Parses a whole state file. Lines that do not parse are returned apart so
/// the caller can log them; they are never guessed at.
pub fn parse(text: &str) -> (Owned, Vec<String>) {
    let mut owned = Owned::new();
    let mut bad = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match parse_key(line) {
            Some(k) => {
                owned.insert(k);
            }
            None => bad.push(line.to_string()),
        }
    }
    (owned, bad)
}

/// Parses the bytes of a state file: a line that is not UTF-8 (a torn
/// write, a stray editor) is set aside like any other bad line, shown
/// lossily, so one byte never keeps the director from starting.
///
/// Every line lvsd writes ends in a newline: a last line without one is a
/// torn write, and a torn line can still parse as another service
/// (`fwmark 12` cut to `fwmark 1`), so it is set aside too.
pub fn parse_bytes(bytes: &[u8]) -> (Owned, Vec<String>) {
    let mut owned = Owned::new();
    let mut bad = Vec::new();
    let (whole, torn) = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) => bytes.split_at(i + 1),
        None => (&[][..], bytes),
    };
    if !torn.iter().all(u8::is_ascii_whitespace) {
        bad.push(String::from_utf8_lossy(torn).trim().to_string());
    }
    for raw in whole.split(|b| *b == b'\n') {
        match std::str::from_utf8(raw) {
            Ok(line) => {
                let (o, b) = parse(line);
                owned.extend(o);
                bad.extend(b);
            }
            Err(_) => bad.push(String::from_utf8_lossy(raw).trim().to_string()),
        }
    }
    (owned, bad)
}

const HEADER: &str = "# config ";

/// The configuration a record names in its first line.
fn header(bytes: &[u8]) -> Option<PathBuf> {
    let first = bytes.split(|b| *b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?;
    first.strip_prefix(HEADER).map(PathBuf::from)
}

fn render_for(config: Option<&Path>, owned: &Owned) -> String {
    let head = config.map(|c| format!("{HEADER}{}\n", c.display()));
    head.unwrap_or_default() + &render(owned)
}

/// What a director starting for one configuration takes from the records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub owned: Owned,
    /// Lines set aside (logged by the caller).
    pub bad: Vec<String>,
    /// A record found for another configuration: set aside unused.
    pub foreign: Option<PathBuf>,
    /// The record was taken over from the name used before state files were
    /// keyed by path.
    pub migrated_from: Option<PathBuf>,
}

/// Loads the record of `config` (its canonical path) at `path` or, on the
/// first start after an upgrade, at the old `legacy` name, and claims
/// `path` for `config` (so later [`store`]s keep naming it).
pub fn load_for(path: &Path, legacy: &Path, config: &Path) -> io::Result<Loaded> {
    let mut out = Loaded::default();
    let (from, bytes) = match fs::read(path) {
        Ok(b) => (path, b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::read(legacy) {
            Ok(b) => (legacy, b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => (path, Vec::new()),
            Err(e) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    match header(&bytes) {
        Some(other) if other != config => {
            // Kept for inspection, and out of the way of this director's.
            let mut aside = from.as_os_str().to_owned();
            aside.push(".foreign");
            fs::rename(from, &aside)?;
            out.foreign = Some(other);
        }
        _ => (out.owned, out.bad) = parse_bytes(&bytes),
    }
    crate::daemon::pidfile::replace_file(
        path,
        render_for(Some(config), &out.owned).as_bytes(),
        0o644,
    )?;
    if from == legacy && out.foreign.is_none() {
        fs::remove_file(legacy)?;
        out.migrated_from = Some(legacy.to_path_buf());
    }
    Ok(out)
}

/// Reads the state file; a missing file is an empty set.
pub fn load(path: &Path) -> io::Result<(Owned, Vec<String>)> {
    match fs::read(path) {
        Ok(b) => Ok(parse_bytes(&b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((Owned::new(), Vec::new())),
        Err(e) => Err(e),
    }
}

/// Writes the state file atomically, so a crash never leaves half a record
/// (and never through a planted symlink).
pub fn store(path: &Path, owned: &Owned) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    // The configuration it was claimed for stays named.
    let config = fs::read(path).ok().and_then(|b| header(&b));
    let text = render_for(config.as_deref(), owned);
    crate::daemon::pidfile::replace_file(path, text.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_kind_round_trips() {
        let keys = [
            ServiceKey::Inet {
                protocol: Protocol::Tcp,
                addr: "10.0.0.1:80".parse().unwrap(),
            },
            ServiceKey::Inet {
                protocol: Protocol::Udp,
                addr: "[2001:db8::1]:53".parse().unwrap(),
            },
            ServiceKey::Inet {
                protocol: Protocol::Sctp,
                addr: "10.0.0.2:3868".parse().unwrap(),
            },
            ServiceKey::FwMark {
                family: Family::Inet,
                mark: 7,
            },
            ServiceKey::FwMark {
                family: Family::Inet6,
                mark: u32::MAX,
            },
        ];
        let owned: Owned = keys.into_iter().collect();
        let (back, bad) = parse(&render(&owned));
        assert_eq!(back, owned);
        assert!(bad.is_empty());
    }

    #[test]
    fn garbage_lines_are_reported_not_guessed() {
        let (owned, bad) = parse("tcp 10.0.0.1:80\nicmp 1.2.3.4:0\nfwmark x\n\n");
        assert_eq!(owned.len(), 1);
        assert_eq!(bad, vec!["icmp 1.2.3.4:0", "fwmark x"]);
    }

    #[test]
    fn store_and_load() {
        let dir = std::env::temp_dir().join(format!("lvsd-owned-{}", std::process::id()));
        let path = dir.join("x.owned");
        assert!(load(&path).unwrap().0.is_empty());
        let owned: Owned = [ServiceKey::FwMark {
            family: Family::Inet,
            mark: 3,
        }]
        .into();
        store(&path, &owned).unwrap();
        assert_eq!(load(&path).unwrap().0, owned);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_non_utf8_line_is_set_aside_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.owned");
        fs::write(&path, b"tcp 10.0.0.1:80\ntcp 10.0.0.\xff:80\nfwmark 7\n").unwrap();
        let (owned, bad) = load(&path).unwrap();
        assert_eq!(render(&owned), "tcp 10.0.0.1:80\nfwmark 7\n");
        assert_eq!(bad, vec!["tcp 10.0.0.\u{fffd}:80"]);
    }

    #[test]
    fn store_never_writes_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let path = dir.path().join("x.owned");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // The temporary, under this and the earlier name.
        for tmp in ["x.owned.tmp", "x.tmp"] {
            std::os::unix::fs::symlink(&victim, dir.path().join(tmp)).unwrap();
        }
        let owned: Owned = [ServiceKey::FwMark {
            family: Family::Inet,
            mark: 3,
        }]
        .into();
        store(&path, &owned).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(load(&path).unwrap().0, owned);
    }

    fn fw(mark: u32) -> Owned {
        [ServiceKey::FwMark {
            family: Family::Inet,
            mark,
        }]
        .into()
    }

    #[test]
    fn a_record_names_its_configuration_and_another_ones_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (Path::new("/etc/ha.d/a/l.cf"), Path::new("/etc/ha.d/b/l.cf"));
        let path = dir.path().join("l.cf-1.owned");
        let legacy = dir.path().join("l.cf.owned");
        assert_eq!(load_for(&path, &legacy, a).unwrap(), Loaded::default());
        store(&path, &fw(1)).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "# config /etc/ha.d/a/l.cf\nfwmark 1\n");
        assert_eq!(load_for(&path, &legacy, a).unwrap().owned, fw(1));
        // B finds A's record under its own name: nothing of it is used.
        let got = load_for(&path, &legacy, b).unwrap();
        assert!(got.owned.is_empty());
        assert_eq!(got.foreign.as_deref(), Some(a));
        let aside = dir.path().join("l.cf-1.owned.foreign");
        assert_eq!(fs::read_to_string(aside).unwrap(), text);
    }

    #[test]
    fn a_record_under_the_old_name_is_honoured_once_after_an_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let a = Path::new("/etc/ha.d/a/l.cf");
        let path = dir.path().join("l.cf-1.owned");
        let legacy = dir.path().join("l.cf.owned");
        fs::write(&legacy, render(&fw(7))).unwrap();
        let got = load_for(&path, &legacy, a).unwrap();
        assert_eq!(got.owned, fw(7));
        assert_eq!(got.migrated_from.as_deref(), Some(legacy.as_path()));
        assert!(!legacy.exists());
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "# config /etc/ha.d/a/l.cf\nfwmark 7\n");
        assert_eq!(load_for(&path, &legacy, a).unwrap().owned, fw(7));
    }
}
