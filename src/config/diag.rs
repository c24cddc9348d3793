//! Diagnostics: what a config loader reports, each tied to `FILE:LINE`.
//!
//! Loaders never stop at the first problem: they push into a [`Diagnostics`]
//! collector and carry on, so `lvsd check` shows everything at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is. Any error makes the configuration invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in a configuration file. `line` is 1-based; 0 means the
/// problem concerns the file as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE: message`, or `FILE:LINE: warning: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        if self.line == 0 {
            write!(f, "{file}: ")?;
        } else {
            write!(f, "{file}:{}: ", self.line)?;
        }
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Past this many errors a loader stops adding more: binary garbage would
/// otherwise produce one per line, which helps nobody.
pub const MAX_ERRORS: usize = 200;

/// Collects diagnostics for one file.
#[derive(Debug)]
pub struct Diagnostics {
    file: PathBuf,
    items: Vec<Diagnostic>,
    errors: usize,
    truncated: bool,
}

impl Diagnostics {
    pub fn new(file: &Path) -> Diagnostics {
        Diagnostics {
            file: file.to_path_buf(),
            items: Vec::new(),
            errors: 0,
            truncated: false,
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn error(&mut self, line: usize, message: impl Into<String>) {
        if self.errors >= MAX_ERRORS {
            if !self.truncated {
                self.truncated = true;
                self.push(line, Severity::Error, "too many errors; giving up".into());
            }
            return;
        }
        self.errors += 1;
        self.push(line, Severity::Error, message.into());
    }

    pub fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.push(line, Severity::Warning, message.into());
    }

    fn push(&mut self, line: usize, severity: Severity, message: String) {
        self.items.push(Diagnostic {
            file: self.file.clone(),
            line,
            severity,
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// All diagnostics, in line order (stable for equal lines).
    pub fn into_vec(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| d.line);
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_and_severity() {
        let mut d = Diagnostics::new(Path::new("x.cf"));
        d.warn(3, "careful");
        d.error(1, "bad");
        d.error(0, "whole file");
        let v = d.into_vec();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            s,
            [
                "x.cf: whole file",
                "x.cf:1: bad",
                "x.cf:3: warning: careful"
            ]
        );
    }

    #[test]
    fn caps_the_number_of_errors() {
        let mut d = Diagnostics::new(Path::new("x"));
        for i in 0..MAX_ERRORS + 50 {
            d.error(i + 1, "e");
        }
        let v = d.into_vec();
        assert_eq!(v.len(), MAX_ERRORS + 1);
        assert_eq!(v[MAX_ERRORS].message, "too many errors; giving up");
    }
}
