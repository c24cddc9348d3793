//! `lvsd status --porcelain`: the report in tab-separated lines for
//! scripts, and the escaping every rendering of a status file applies.

use super::*;

/// The version `--porcelain` prints first; raised only on an incompatible
/// change (fields may be added at the end of a line, and new line kinds may
/// appear: readers skip what they do not know).
pub const PORCELAIN_VERSION: u32 = 1;

/// One porcelain field: no tab or newline inside, `-` when empty, so that
/// `IFS=<tab> read` splits every line the same way.
pub(super) fn field(s: &str) -> String {
    if s.is_empty() {
        return "-".to_string();
    }
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub(super) fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `lvsd status --porcelain`: tab-separated lines, documented in lvsd(8).
///
/// ```text
/// lvsd-status 1
/// daemon  STATE PID STATUS CONFIG PIDFILE
/// virtual SERVICE IPVSADM SCHEDULER IN-KERNEL FALLBACK
/// real    SERVICE REAL HEALTH KERNEL-WEIGHT WEIGHT MAINTENANCE FAILURES LAST
/// sync    STATE INTERFACE SYNCID STARTED-BY (lvsd|other)
/// sync-foreign INTERFACE SYNCID OUR-SYNCID MESSAGES LAST-PEER
/// ```
pub fn render_porcelain(r: &Report) -> String {
    let mut out = String::new();
    let line = |out: &mut String, fields: &[&str]| {
        let f: Vec<String> = fields.iter().map(|s| field(s)).collect();
        out.push_str(&f.join("\t"));
        out.push('\n');
    };
    line(&mut out, &["lvsd-status", &PORCELAIN_VERSION.to_string()]);
    let state = match r.state {
        DaemonState::Running => "running",
        DaemonState::Stale => "stale",
        DaemonState::Stopped => "stopped",
    };
    let pid = r.pid.map(|p| p.to_string()).unwrap_or_default();
    let have = if r.status.is_some() { "ready" } else { "none" };
    line(
        &mut out,
        &[
            "daemon",
            state,
            &pid,
            have,
            &r.config.to_string_lossy(),
            &r.pidfile.to_string_lossy(),
        ],
    );
    for v in r.status.iter().flat_map(|s| &s.virtuals) {
        line(
            &mut out,
            &[
                "virtual",
                &v.service,
                &v.ipvsadm,
                &v.scheduler,
                yes_no(v.present),
                yes_no(v.fallback_active),
            ],
        );
        for re in &v.reals {
            line(
                &mut out,
                &[
                    "real",
                    &v.service,
                    &re.real,
                    &re.health,
                    &re.weight.map(|w| w.to_string()).unwrap_or_default(),
                    &re.configured_weight.to_string(),
                    yes_no(re.maintenance),
                    &re.failures.to_string(),
                    re.last.as_deref().unwrap_or_default(),
                ],
            );
        }
    }
    for t in r.status.iter().flat_map(|s| &s.sync) {
        let by = if t.started_by_lvsd { "lvsd" } else { "other" };
        line(
            &mut out,
            &["sync", &t.state, &t.interface, &t.syncid.to_string(), by],
        );
    }
    for f in r.status.iter().flat_map(|s| &s.sync_foreign) {
        line(
            &mut out,
            &[
                "sync-foreign",
                &f.interface,
                &f.syncid.to_string(),
                &f.our_syncid.to_string(),
                &f.messages.to_string(),
                &f.last_peer,
            ],
        );
    }
    out
}

/// `s` with every text escaped, for `lvsd status` on a terminal. The daemon
/// writes escaped reasons already; this holds for a status file edited or
/// written by something else too (root-owned, but read by a terminal).
pub(super) fn escaped(s: &DaemonStatus) -> DaemonStatus {
    let mut s = s.clone();
    for v in &mut s.virtuals {
        v.service = escape_text(&v.service);
        v.scheduler = escape_text(&v.scheduler);
        for r in &mut v.reals {
            r.real = escape_text(&r.real);
            r.health = escape_text(&r.health);
            r.last = r.last.as_deref().map(escape_text);
        }
    }
    for t in &mut s.sync {
        t.interface = escape_text(&t.interface);
    }
    s.sync_error = s.sync_error.as_deref().map(escape_text);
    for f in &mut s.sync_foreign {
        f.interface = escape_text(&f.interface);
        f.last_peer = escape_text(&f.last_peer);
    }
    s
}
