//! Bad input gets a clear error and never a panic: through the library and
//! through `lvsd check` (exit 2, the message on stderr).

mod config_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use config_common::{cf, errors};
use lvsd::config::{self, MAX_FILE_SIZE};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("lvsd-robust-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        TempDir(p)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `lvsd check FILE`; returns (exit code, stderr).
fn check(path: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("check")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run lvsd: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn garbage(len: usize) -> Vec<u8> {
    // A fixed xorshift stream: reproducible "binary garbage".
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn bad_files_are_clear_errors_from_lvsd_check() {
    let d = TempDir::new("cli");
    let cases: Vec<(PathBuf, &str)> = vec![
        (d.0.join("missing.cf"), "cannot open file"),
        (d.0.clone(), "is a directory"),
        (
            d.file("garbage.cf", &garbage(64 * 1024)),
            "is this a binary file",
        ),
        (
            d.file(
                "latin1.cf",
                b"quiescent=no\n# caf\xe9\nvirtual=10.0.0.1:80\n",
            ),
            ":2: line is not valid UTF-8",
        ),
        (
            d.file("crlf.cf", b"quiescent=no\r\nvirtual=10.0.0.1:80\r\n"),
            ":1: line ends with CR",
        ),
        (d.file("garbage.toml", &garbage(4096)), "not valid UTF-8"),
        (d.file("bad.toml", b"[[virtual]\n"), ":1: "),
    ];
    for (path, needle) in cases {
        let (code, stderr) = check(&path);
        assert_eq!(code, Some(2), "{}: {stderr}", path.display());
        assert!(
            stderr.contains(needle),
            "{}: expected {needle:?} in {stderr:?}",
            path.display()
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_100_mb_file_is_refused_before_parsing() {
    let d = TempDir::new("big");
    let p = d.0.join("big.cf");
    let f = std::fs::File::create(&p).unwrap_or_else(|e| panic!("{e}"));
    // Sparse: 100 MB without writing 100 MB.
    f.set_len(100 * 1024 * 1024)
        .unwrap_or_else(|e| panic!("{e}"));
    let l = config::load(&p);
    assert!(l.has_errors());
    assert!(
        l.diagnostics[0].message.contains("too large"),
        "{:?}",
        l.diagnostics
    );
    let (code, stderr) = check(&p);
    assert_eq!(code, Some(2));
    assert!(stderr.contains(&MAX_FILE_SIZE.to_string()), "{stderr}");
}

#[test]
fn garbage_yields_bounded_diagnostics_without_panicking() {
    for seed_len in [1, 17, 4096, 300_000] {
        let l = cf(&String::from_utf8_lossy(&garbage(seed_len)));
        assert!(l.diagnostics.len() <= lvsd::config::diag::MAX_ERRORS + 50);
        let _ = errors(&l);
    }
    // Lines that almost parse.
    for text in [
        "virtual=",
        "virtual=:",
        "virtual=99999999999999999999",
        "virtual=10.0.0.1:80\n\treal=0.0.0.0->255.255.255.255 gate",
        "virtual=10.0.0.1:80\n\treal=[::1]->[::2] gate",
        "virtual6=[zz]:80",
        "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 masq 99999999999999999999",
        "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 masq \"a\", \"(\"",
        "virtual=10.0.0.1:80\n\tchecktype=99999999999999",
        "fallback=",
        "emailalertstatus=all,bogus",
        "\u{0}",
    ] {
        let l = cf(text);
        assert!(
            l.has_errors(),
            "{text:?} should be an error: {:#?}",
            l.diagnostics
        );
    }
}

#[test]
fn ldirectord_config_search_order() {
    let c = config::search_candidates(None);
    assert_eq!(
        c,
        [
            PathBuf::from("/etc/ha.d/ldirectord.cf"),
            PathBuf::from("/etc/ha.d/conf/ldirectord.cf"),
            PathBuf::from("ldirectord.cf"),
        ]
    );
    let c = config::search_candidates(Some(Path::new("web.cf")));
    assert_eq!(c[0], PathBuf::from("/etc/ha.d/web.cf"));
    assert_eq!(
        config::Format::of(Path::new("x.toml")),
        config::Format::Toml
    );
    assert_eq!(
        config::Format::of(Path::new("x.cf")),
        config::Format::Ldirectord
    );
    assert_eq!(
        config::Format::of(Path::new("ldirectord")),
        config::Format::Ldirectord
    );
}
