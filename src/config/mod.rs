//! Configuration: the typed model, the ldirectord.cf parser and the TOML format.
//!
//! - [`model`]: [`Config`], [`Virtual`], [`Real`]: resolved values, the one
//!   model both formats produce.
//! - [`cf`]: ldirectord.cf, exactly as ldirectord's `read_config` reads it.
//! - [`toml`]: the TOML format (read and write).
//! - [`draft`]: what a file says; [`build`]: drafts → model: defaults, inheritance,
//!   name resolution. [`validate`]: checks on top. [`values`], [`addr`]:
//!   value and address grammars.
//! - [`sync`], [`httpcheck`], [`tunnel`]: lvsd's extensions (kernel sync;
//!   TLS verification and status codes of the http checks; GUE and GRE
//!   tunnels and the SIP persistence engine), shared by both formats.
//! - [`resolve`]: host and service names, behind a trait.
//! - [`diag`]: `FILE:LINE: message` diagnostics.
//!
//! Parsing is pure (bytes and a [`Resolver`] in, model and diagnostics out,
//! and `tlscafile` read to be sure it holds certificates);
//! [`load`] adds the file system and the system resolver.

pub mod addr;
pub mod build;
pub mod cf;
pub mod diag;
pub mod draft;
pub mod httpcheck;
pub mod model;
pub mod resolve;
pub mod sync;
pub mod toml;
pub mod tunnel;
pub mod validate;
pub mod values;

use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use model::{CheckService, CheckType, Config, Global, Real, Virtual};
pub use resolve::Resolver;

/// Larger files are refused before parsing: a real director config is a few
/// hundred kilobytes at most.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Which syntax a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ldirectord,
    Toml,
}

impl Format {
    /// By extension: `.toml` is TOML, anything else ldirectord syntax.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Format::Toml,
            _ => Format::Ldirectord,
        }
    }
}

/// A loaded configuration: the model (meaningful only without errors) and
/// every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Parses file contents in the given format (pure apart from `resolver`).
pub fn parse(file: &Path, bytes: &[u8], format: Format, resolver: &dyn Resolver) -> Loaded {
    let mut diags = Diagnostics::new(file);
    let config = match format {
        Format::Ldirectord => cf::parse(bytes, resolver, &mut diags),
        Format::Toml => match std::str::from_utf8(bytes) {
            Ok(text) => toml::read::parse(text, resolver, &mut diags),
            Err(e) => {
                let line = bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                diags.error(line, "file is not valid UTF-8");
                Config {
                    global: Global::default(),
                    virtuals: Vec::new(),
                }
            }
        },
    };
    Loaded {
        config,
        diagnostics: diags.into_vec(),
    }
}

/// Reads and parses a file with the system resolver. Every problem,
/// including an unreadable file, comes back as a diagnostic.
pub fn load(path: &Path) -> Loaded {
    load_with(path, &resolve::System::new())
}

pub fn load_with(path: &Path, resolver: &dyn Resolver) -> Loaded {
    load_source(path, resolver).0
}

/// [`load_with`], also returning the bytes that were parsed (`None`: the
/// file could not be read). A watcher that reads the file again may see a
/// later write than the one parsed; it compares with these instead.
pub fn load_source(path: &Path, resolver: &dyn Resolver) -> (Loaded, Option<Vec<u8>>) {
    match read_file(path) {
        Ok(bytes) => {
            let loaded = parse(path, &bytes, Format::of(path), resolver);
            (loaded, Some(bytes))
        }
        Err(e) => (
            Loaded {
                config: Config {
                    global: Global::default(),
                    virtuals: Vec::new(),
                },
                diagnostics: vec![Diagnostic {
                    file: path.to_path_buf(),
                    line: 0,
                    severity: Severity::Error,
                    message: e.to_string(),
                }],
            },
            None,
        ),
    }
}

/// Why a configuration file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open file: {0}")]
    Open(#[source] std::io::Error),
    #[error("is a directory, not a configuration file")]
    Directory,
    #[error("file is too large ({size} bytes; the limit is {limit})")]
    TooLarge { size: u64, limit: u64 },
    #[error("cannot read file: {0}")]
    Read(#[source] std::io::Error),
}

/// Reads a configuration file, refusing directories and huge files.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Open)?;
    if meta.is_dir() {
        return Err(ReadError::Directory);
    }
    let too_large = |size| ReadError::TooLarge {
        size,
        limit: MAX_FILE_SIZE,
    };
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large(meta.len()));
    }
    let bytes = std::fs::read(path).map_err(ReadError::Read)?;
    // The file may have grown between stat and read.
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// ldirectord's configuration search: `NAME` (default `ldirectord.cf`) is
/// tried as `/etc/ha.d/NAME`, then `/etc/ha.d/conf/NAME`, then as given.
pub fn search_candidates(name: Option<&Path>) -> Vec<PathBuf> {
    let name = name.unwrap_or(Path::new("ldirectord.cf"));
    // ldirectord concatenates strings, so an absolute NAME gives
    // `/etc/ha.d//abs/path`, which simply does not exist.
    let n = name.to_string_lossy();
    vec![
        PathBuf::from(format!("/etc/ha.d/{n}")),
        PathBuf::from(format!("/etc/ha.d/conf/{n}")),
        name.to_path_buf(),
    ]
}

/// The first existing candidate of [`search_candidates`], or the name as
/// given (so that the error names it).
pub fn find_config(name: Option<&Path>) -> PathBuf {
    let candidates = search_candidates(name);
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates[candidates.len() - 1].clone())
}

/// A valid configuration from ldirectord.cf text, for unit tests elsewhere
/// in the crate (no files, no DNS).
#[cfg(test)]
pub fn test_config(text: &str) -> Config {
    let l = parse(
        Path::new("t.cf"),
        text.as_bytes(),
        Format::Ldirectord,
        &resolve::Static::new(&[], ""),
    );
    assert!(!l.has_errors(), "{:?}", l.diagnostics);
    l.config
}
