//! ipvsadm's fixed-width columns, written by hand: the `%-Ns` padding of
//! its `printf`s without the formatter's per-field work (a listing of
//! 10,000 reals spends most of its user time here), and its
//! `print_largenum` for counters and rates.

use std::fmt::Write as _;

use super::names::push_num;

/// `print_largenum`
pub fn largenum(out: &mut String, n: u64, exact: bool) {
    let _ = if exact {
        let digits = n.to_string().len();
        let width = if digits <= 8 { 9 } else { digits + 1 };
        write!(out, "{n:>width$}")
    } else if n < 100_000_000 {
        write!(out, "{n:>9}")
    } else if n < 1_000_000_000 {
        write!(out, "{:>8}K", n / 1_000)
    } else if n < 100_000_000_000 {
        write!(out, "{:>8}M", n / 1_000_000)
    } else if n < 100_000_000_000_000 {
        write!(out, "{:>8}G", n / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", n / 1_000_000_000_000)
    };
}

pub(super) fn five(out: &mut String, v: [u64; 5], exact: bool) {
    for n in v {
        largenum(out, n, exact);
    }
}

// Each field is followed by one space; `line_end` replaces the last one
// with the newline.

/// `  -> NAME` padded to 28 characters, and the space after it.
pub(super) fn line_start(out: &mut String, name: &str) {
    out.push_str("  -> ");
    left(out, name, 28);
}

/// `%-Ns `: `s`, spaces up to `width` characters, one more space.
pub(super) fn left(out: &mut String, s: &str, width: usize) {
    out.push_str(s);
    let len = if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    };
    pad(out, len, width);
}

/// `%-Nd `/`%-Nu `, as [`left`].
pub(super) fn left_num(out: &mut String, n: impl Into<i64>, width: usize) {
    let start = out.len();
    push_num(out, n.into());
    let len = out.len() - start;
    pad(out, len, width);
}

pub(super) fn pad(out: &mut String, len: usize, width: usize) {
    const SPACES: &str = "                                ";
    let n = width.saturating_sub(len) + 1;
    match SPACES.get(..n) {
        Some(sp) => out.push_str(sp),
        None => out.extend(std::iter::repeat(' ').take(n)),
    }
}

pub(super) fn line_end(out: &mut String) -> std::fmt::Result {
    if out.ends_with(' ') {
        out.pop();
    }
    out.push('\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largenum_scales_like_ipvsadm() {
        let cases: [(u64, &str); 6] = [
            (0, "        0"),
            (99_999_999, " 99999999"),
            (123_456_789, "  123456K"),
            (45_678_901_234, "   45678M"),
            (100_000_000_000, "     100G"),
            (100_000_000_000_000, "     100T"),
        ];
        for (n, want) in cases {
            let mut s = String::new();
            largenum(&mut s, n, false);
            assert_eq!(s, want, "{n}");
        }
        let mut s = String::new();
        largenum(&mut s, 1_234_567_890, true);
        assert_eq!(s, " 1234567890");
        let mut s = String::new();
        largenum(&mut s, 12, true);
        assert_eq!(s, "       12");
    }
}
