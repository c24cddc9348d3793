//! One `[[virtual.real]]` table, read into the draft the .cf parser fills.

use serde::Deserialize;
use toml::Spanned;

use super::read::check;
use super::Lines;
use crate::config::cf::block;
use crate::config::diag::Diagnostics;
use crate::config::draft::RealDraft;
use crate::config::{addr, tunnel, values};

type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TReal {
    address: S<String>,
    forward: S<String>,
    weight: Option<u32>,
    request: Option<String>,
    receive: Option<String>,
    lower_threshold: Option<u32>,
    upper_threshold: Option<u32>,
    tuntype: Option<S<String>>,
    tunport: Option<S<i64>>,
    tuncsum: Option<S<String>>,
}

pub(super) fn read_real(
    sr: &S<TReal>,
    lines: &Lines,
    diags: &mut Diagnostics,
) -> Option<RealDraft> {
    let r = sr.get_ref();
    let line = lines.of(sr);
    let a = check(
        addr::parse_real_address(r.address.get_ref()),
        lines.of(&r.address),
        diags,
    )?;
    let forward = check(
        values::forward(r.forward.get_ref())
            .ok_or_else(|| "forward must be gate, masq or ipip".to_string()),
        lines.of(&r.forward),
        diags,
    )?;
    let (request, receive) = match (&r.request, &r.receive) {
        (Some(q), Some(c)) => (Some(block::with_slash(q.clone())), Some(c.clone())),
        (None, None) => (None, None),
        _ => {
            diags.error(line, "request and receive of a real server go together");
            return None;
        }
    };
    let threshold = |t: Option<u32>| -> Option<u32> {
        match t {
            Some(n) if n > i32::MAX as u32 => None,
            t => Some(t.unwrap_or(0)),
        }
    };
    let (Some(lower), Some(upper)) = (threshold(r.lower_threshold), threshold(r.upper_threshold))
    else {
        diags.error(line, "threshold is too large");
        return None;
    };
    let mut tun = tunnel::TunnelDraft::default();
    let mut bad = false;
    let port = r
        .tunport
        .as_ref()
        .map(|p| (p.get_ref().to_string(), p.span()));
    for (key, value) in [
        (
            "tuntype",
            r.tuntype.as_ref().map(|s| (s.get_ref().clone(), s.span())),
        ),
        ("tunport", port),
        (
            "tuncsum",
            r.tuncsum.as_ref().map(|s| (s.get_ref().clone(), s.span())),
        ),
    ] {
        if let Some((value, span)) = value {
            let at_line = lines.at(span.start);
            if let Some(Err(m)) = tunnel::option(&mut tun, key, &value, at_line) {
                diags.error(at_line, m);
                bad = true;
            }
        }
    }
    // Dropped, as a .cf line with a bad value is: checking the options
    // against each other would report this one again.
    if bad {
        return None;
    }
    Some(RealDraft {
        addr: a,
        forward,
        weight: r.weight.unwrap_or(1),
        request,
        receive,
        lower,
        upper,
        tunnel: tun,
        line,
    })
}
