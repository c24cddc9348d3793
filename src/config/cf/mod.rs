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
pub mod real;

use std::borrow::Cow;

use regex::Regex;

use super::build;
use super::diag::Diagnostics;
use super::draft::VirtualDraft;
use super::model::{Config, Global};
use super::resolve::Resolver;
use super::{addr, validate, values};
use crate::lvs::Family;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("bad built-in regex {pattern}: {e}"))
}

// The line-shape tests below are ldirectord's regexes written out by hand:
// they run on every line, and regex captures cost more than the rest of
// the parse together.

/// Perl's `\s` on bytes.
pub(crate) fn perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn trim_space(s: &str) -> &str {
    s.trim_start_matches(perl_space)
}

/// `^virtual(6)?\s*=\s*(.*)`: (is it virtual6, the value).
fn virtual_line(text: &str) -> Option<(bool, &str)> {
    let rest = text.strip_prefix("virtual")?;
    let (six, rest) = match rest.strip_prefix('6') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = trim_space(rest).strip_prefix('=')?;
    Some((six, trim_space(rest)))
}

/// `^\s*#`
fn is_comment(text: &str) -> bool {
    trim_space(text).starts_with('#')
}

/// `^\s*$` or `^\s*#`
fn is_blank_or_comment(text: &str) -> bool {
    let t = trim_space(text);
    t.is_empty() || t.starts_with('#')
}

/// `^ {4,}(.+)`: the directive of an indented line. A line of only spaces
/// yields one space (the regex backtracks one), as in ldirectord.
fn indented(text: &str) -> Option<&str> {
    let rest = text.trim_start_matches(' ');
    let n = text.len() - rest.len();
    match (n, rest.is_empty()) {
        (0..=3, _) | (4, true) => None,
        (_, false) => Some(rest),
        (_, true) => Some(&text[n - 1..]),
    }
}

/// The directive of a line inside a block, comment already cut:
/// ldirectord turns every tab into 4 spaces and then wants `^ {4,}(.+)`.
/// Tabs only in the indentation (the usual case) need no new string.
fn block_line(text: &str) -> Option<Cow<'_, str>> {
    let rest = text.trim_start_matches([' ', '\t']);
    let lead = &text[..text.len() - rest.len()];
    if rest.is_empty() || rest.contains('\t') {
        let spaced = text.replace('\t', "    ");
        return indented(&spaced).map(|d| Cow::Owned(d.to_string()));
    }
    let width: usize = lead.bytes().map(|b| if b == b'\t' { 4 } else { 1 }).sum();
    (width >= 4).then_some(Cow::Borrowed(rest))
}

/// Splits the file into numbered lines, reporting CRLF endings and bytes
/// that are not UTF-8 (each such line is still parsed, lossily).
fn split_lines<'a>(bytes: &'a [u8], diags: &mut Diagnostics) -> Vec<(usize, Cow<'a, str>)> {
    let mut out = Vec::with_capacity(bytes.iter().filter(|&&b| b == b'\n').count() + 1);
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
            Ok(t) => Cow::Borrowed(t),
            Err(_) => {
                diags.error(line, "line is not valid UTF-8");
                String::from_utf8_lossy(raw)
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
    // Sized up front: a draft is large, and growing the vector copies them.
    let mut drafts: Vec<VirtualDraft> =
        Vec::with_capacity(lines.iter().filter(|l| l.1.starts_with("virtual")).count());
    let mut i = 0;
    while i < lines.len() {
        let (ln, text) = (&lines[i].0, &*lines[i].1);
        if let Some((six, value)) = virtual_line(text) {
            let family = if six { Family::Inet6 } else { Family::Inet };
            // A capacity hint only: the block's real lines, roughly.
            let reals = lines[i + 1..]
                .iter()
                .take_while(|l| l.1.starts_with([' ', '\t', '#']))
                .filter(|l| l.1.trim_start().starts_with("real"))
                .count();
            let mut d = VirtualDraft {
                family: Some(family),
                line: *ln,
                reals: Vec::with_capacity(reals),
                ..VirtualDraft::default()
            };
            match addr::parse_virtual(value, family) {
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
                let (ln, raw) = (lines[i].0, &*lines[i].1);
                if is_comment(raw) {
                    i += 1;
                    continue;
                }
                let Some(rcmd) = block_line(raw.split('#').next().unwrap_or("")) else {
                    break;
                };
                block::directive(&mut d, &rcmd, ln, diags);
                i += 1;
            }
            drafts.push(d);
            continue;
        }
        if !is_blank_or_comment(text) {
            global::directive(&mut global, &mut seen, text, *ln, r, diags);
        }
        i += 1;
    }
    let mut rx_memo = values::RegexMemo::default();
    let mut virtuals = Vec::with_capacity(drafts.len());
    virtuals.extend(
        drafts
            .into_iter()
            .filter_map(|d| build::build_virtual(d, &global, r, &mut rx_memo, diags)),
    );
    let config = Config { global, virtuals };
    validate::config_rules(&config, diags);
    validate::quiescent_default(&config, seen.quiescent, diags);
    super::sync::validate(&config.global.sync, true, diags);
    config
}

/// `^([A-Za-z0-9_]+)\s*=\s*(.*)`: ldirectord matches each key with
/// `^key\s*=\s*(.*)`, which is the same as splitting off the key first.
fn key_value(text: &str) -> Option<(&str, &str)> {
    let rest = text.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let key = &text[..text.len() - rest.len()];
    if key.is_empty() {
        return None;
    }
    let value = trim_space(rest).strip_prefix('=')?;
    Some((key, trim_space(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shapes() {
        assert_eq!(
            virtual_line("virtual6 = [::1]:80"),
            Some((true, "[::1]:80"))
        );
        assert_eq!(virtual_line("virtual=7"), Some((false, "7")));
        assert_eq!(virtual_line("virtual 6=7"), None);
        assert_eq!(virtual_line("virtualx=7"), None);
        assert_eq!(indented("    real=x"), Some("real=x"));
        assert_eq!(indented("      "), Some(" "));
        assert_eq!(indented("    "), None);
        assert_eq!(indented("   real=x"), None);
        for t in [
            "\treal=x",
            "\t real=x\tmasq",
            "  \treal=x",
            "   real=x",
            "    real=x",
            "\t",
            "\t\t",
            "  ",
            "real=x",
            " \t  ",
            "\t  x",
        ] {
            let slow = indented(&t.replace('\t', "    ")).map(str::to_string);
            assert_eq!(block_line(t).map(|c| c.into_owned()), slow, "{t:?}");
        }
        assert_eq!(key_value("checktimeout = 5 "), Some(("checktimeout", "5 ")));
        assert_eq!(key_value("a="), Some(("a", "")));
        assert_eq!(key_value("=5"), None);
        assert_eq!(key_value("fork"), None);
        assert!(is_comment(" \t# x"));
        assert!(is_blank_or_comment("  "));
        assert!(!is_blank_or_comment(" x"));
    }
}
