//! The `ldirectord.cf` parser: ldirectord's `read_config`, line for line.
//!
//! Structure rules (all ldirectord's): a `virtual=`/`virtual6=` line at
//! column 0 opens a block; the block holds the following lines indented by
//! at least 4 spaces (a tab counts as 4); comment lines inside it are
//! skipped, and any other line (including a blank one) ends it. Top-level
//! lines get no comment stripping, so `autoreload = yes # x` is invalid,
//! exactly as in ldirectord.

pub mod block;
pub mod global;

use std::sync::LazyLock;

use regex::Regex;

use super::build::{self, VirtualDraft};
use super::diag::Diagnostics;
use super::model::{Config, Global};
use super::resolve::Resolver;
use super::{addr, validate};
use crate::ipvs::Family;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("bad built-in regex {pattern}: {e}"))
}

static VIRTUAL: LazyLock<Regex> = LazyLock::new(|| re(r"^virtual(6)?\s*=\s*(.*)"));
static BLANK_OR_COMMENT: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*(#|$)"));
static COMMENT: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*#"));
static INDENTED: LazyLock<Regex> = LazyLock::new(|| re(r"^ {4,}(.+)"));
/// `key = value`; ldirectord matches each key with `^key\s*=\s*(.*)`.
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| re(r"^([A-Za-z0-9_]+)\s*=\s*(.*)"));

/// Splits the file into numbered lines, reporting CRLF endings and bytes
/// that are not UTF-8 (each such line is still parsed, lossily).
fn split_lines(bytes: &[u8], diags: &mut Diagnostics) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut crlf_reported = false;
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return out;
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = match raw.strip_suffix(b"\r") {
            Some(r) => {
                if !crlf_reported {
                    crlf_reported = true;
                    diags.error(
                        line,
                        "line ends with CR (Windows CRLF line endings): ldirectord reads the CR \
                         as part of the value; convert the file with dos2unix",
                    );
                }
                r
            }
            None => raw,
        };
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.to_string(),
            Err(_) => {
                diags.error(line, "line is not valid UTF-8");
                String::from_utf8_lossy(raw).into_owned()
            }
        };
        if text.contains('\0') {
            diags.error(line, "line contains a NUL byte (is this a binary file?)");
        }
        out.push((line, text));
    }
    out
}

/// Parses an ldirectord.cf. Diagnostics go to `diags`; the returned config is
/// meaningful only when `diags` has no errors.
pub fn parse(bytes: &[u8], r: &dyn Resolver, diags: &mut Diagnostics) -> Config {
    let lines = split_lines(bytes, diags);
    let mut global = Global::default();
    let mut seen = global::Seen::default();
    let mut drafts: Vec<VirtualDraft> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (ln, text) = (&lines[i].0, lines[i].1.as_str());
        if let Some(c) = VIRTUAL.captures(text) {
            let family = if c.get(1).is_some() {
                Family::Inet6
            } else {
                Family::Inet
            };
            let mut d = VirtualDraft {
                family: Some(family),
                line: *ln,
                ..VirtualDraft::default()
            };
            match addr::parse_virtual(c.get(2).map_or("", |m| m.as_str()), family) {
                Ok(p) => {
                    if let Some(w) = &p.warning {
                        diags.warn(*ln, w.clone());
                    }
                    d.parsed = Some(p);
                }
                Err(m) => diags.error(*ln, m),
            }
            i += 1;
            while i < lines.len() {
                let (ln, raw) = (lines[i].0, lines[i].1.as_str());
                if COMMENT.is_match(raw) {
                    i += 1;
                    continue;
                }
                let stripped = raw.split('#').next().unwrap_or("").replace('\t', "    ");
                let Some(c) = INDENTED.captures(&stripped) else {
                    break;
                };
                block::directive(&mut d, c.get(1).map_or("", |m| m.as_str()), ln, diags);
                i += 1;
            }
            drafts.push(d);
            continue;
        }
        if !BLANK_OR_COMMENT.is_match(text) {
            global::directive(&mut global, &mut seen, text, *ln, r, diags);
        }
        i += 1;
    }
    let virtuals = drafts
        .into_iter()
        .filter_map(|d| build::build_virtual(d, &global, r, diags))
        .collect();
    let config = Config { global, virtuals };
    validate::config_rules(&config, diags);
    validate::quiescent_default(&config, seen.quiescent, diags);
    config
}

/// `(key, value)` of a directive line, if it has the `key = value` shape.
fn key_value(text: &str) -> Option<(&str, &str)> {
    let c = KEY_VALUE.captures(text)?;
    Some((c.get(1)?.as_str(), c.get(2).map_or("", |m| m.as_str())))
}
