//! The flags of a `real=` line, with ldirectord's `add_real_server` rules,
//! and lvsd's tunnel options at its end.

use std::sync::LazyLock;

use regex::Regex;

use super::block::with_slash;
use super::re;
use crate::config::addr;
use crate::config::diag::Diagnostics;
use crate::config::draft::RealDraft;
use crate::config::tunnel;
use crate::config::values;

static REQ_RECV: LazyLock<Regex> = LazyLock::new(|| re(r#"\s+"(.*)"[, ]\s*"(.*)"(.*)"#));

/// One unanchored step `/\s+PREFIX(\d+)(.*)/` of `add_real_server`, by
/// hand: the leftmost run of whitespace followed by `prefix` and a digit.
/// Returns (skipped text, digits, rest).
fn ws_number<'a>(s: &'a str, prefix: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let mut i = 0;
    while i < s.len() {
        let run = s[i..].trim_start_matches(super::perl_space);
        let start_ws = i;
        let after = s.len() - run.len();
        if after > start_ws {
            let num = if prefix.is_empty() {
                Some(run)
            } else {
                run.strip_prefix(prefix)
            };
            if let Some(num) = num {
                let digits_end = num.find(|c: char| !c.is_ascii_digit()).unwrap_or(num.len());
                if digits_end > 0 {
                    return Some((&s[..start_ws], &num[..digits_end], &num[digits_end..]));
                }
            }
            i = after;
        } else {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    None
}

/// Runs a hand-written step, reporting skipped text (see [`step`]).
fn step_num<'a>(
    flags: &mut &'a str,
    prefix: &str,
    line: usize,
    diags: &mut Diagnostics,
) -> Option<&'a str> {
    let (skipped, digits, rest) = ws_number(flags, prefix)?;
    if !skipped.trim().is_empty() {
        diags.warn(
            line,
            format!("ldirectord ignores {:?} on this real line", skipped.trim()),
        );
    }
    *flags = rest;
    Some(digits)
}

/// One optional, unanchored step of ldirectord's `add_real_server`: on a
/// match, returns the captures and replaces `flags` with the tail. Text the
/// unanchored match skipped is reported, since ldirectord drops it silently.
fn step<'a>(
    rx: &Regex,
    flags: &mut &'a str,
    line: usize,
    diags: &mut Diagnostics,
) -> Option<Vec<&'a str>> {
    let text: &'a str = flags;
    let c = rx.captures(text)?;
    let whole = c.get(0)?;
    let skipped = text[..whole.start()].trim();
    if !skipped.is_empty() {
        diags.warn(
            line,
            format!("ldirectord ignores {skipped:?} on this real line"),
        );
    }
    let groups: Vec<&'a str> = c
        .iter()
        .skip(1)
        .map(|m| m.map_or("", |m| m.as_str()))
        .collect();
    *flags = groups.last().copied().unwrap_or_default();
    Some(groups)
}

fn threshold(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|n| *n <= i32::MAX as u32)
        .ok_or_else(|| format!("threshold {s} is too large"))
}

/// Parses `real=` text: address, forward method, weight, request/receive
/// and thresholds, with `add_real_server`'s rules.
pub fn real_line(text: &str, line: usize, diags: &mut Diagnostics) -> Result<RealDraft, String> {
    let (a, rest) = addr::parse_real(text)?;
    let mut flags = rest;
    // `/(\w+)(.*)/`: the first word, wherever it is.
    let word_start = flags
        .find(|c: char| c.is_ascii_alphanumeric() || c == '_')
        .ok_or("forward method must be gate, masq or ipip")?;
    let tail = &flags[word_start..];
    let word_len = tail
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(tail.len());
    if !flags[..word_start].trim().is_empty() {
        diags.warn(
            line,
            format!(
                "ldirectord ignores {:?} on this real line",
                flags[..word_start].trim()
            ),
        );
    }
    let fwd =
        values::forward(&tail[..word_len]).ok_or("forward method must be gate, masq or ipip")?;
    flags = &tail[word_len..];
    let mut draft = RealDraft {
        addr: a,
        forward: fwd,
        weight: 1,
        request: None,
        receive: None,
        lower: 0,
        upper: 0,
        tunnel: tunnel::TunnelDraft::default(),
        line,
    };
    if let Some(w) = step_num(&mut flags, "", line, diags) {
        draft.weight = w.parse().map_err(|_| format!("weight {w} is too large"))?;
    }
    if flags.contains('"') {
        if let Some(g) = step(&REQ_RECV, &mut flags, line, diags) {
            draft.request = Some(with_slash(g[0].to_string()));
            draft.receive = Some(g[1].to_string());
        }
    }
    if let Some(n) = step_num(&mut flags, "l:", line, diags) {
        draft.lower = threshold(n)?;
    }
    if let Some(n) = step_num(&mut flags, "u:", line, diags) {
        draft.upper = threshold(n)?;
    }
    tunnel_options(&mut draft, flags, line, diags)?;
    Ok(draft)
}

/// What ldirectord would call junk at the end of a real line: lvsd's
/// tunnel options (`tuntype=gue tunport=6080`), each a `key=value` word.
fn tunnel_options(
    draft: &mut RealDraft,
    flags: &str,
    line: usize,
    diags: &mut Diagnostics,
) -> Result<(), String> {
    let invalid = || format!("Invalid real server line, around {:?}", flags.trim());
    for word in flags.split(super::perl_space).filter(|w| !w.is_empty()) {
        let (key, value) = word.split_once('=').ok_or_else(invalid)?;
        match tunnel::option(&mut draft.tunnel, key, value, line) {
            Some(r) => r?,
            None => return Err(invalid()),
        }
        diags.warn(line, tunnel::extension_warning(key));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_number_is_leftmost_like_the_regex() {
        assert_eq!(ws_number(" 5 rest", ""), Some(("", "5", " rest")));
        assert_eq!(ws_number("x  12", ""), Some(("x", "12", "")));
        assert_eq!(ws_number(" a l:3 u:4", "l:"), Some((" a", "3", " u:4")));
        assert_eq!(ws_number(" l:x l:7", "l:"), Some((" l:x", "7", "")));
        assert_eq!(ws_number("5", ""), None);
        assert_eq!(ws_number(" \"a5\"", ""), None);
    }
}
