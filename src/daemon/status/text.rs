//! `lvsd status` as text: the table under the "running" line.

use super::*;

/// The table `lvsd status` prints under the "running" line.
/// The text of `lvsd status`. Every text is escaped here too: the daemon
/// writes escaped reasons, but a status file edited or written by
/// something else must not reach a terminal raw either.
pub fn render(s: &DaemonStatus) -> String {
    let s = &escaped(s);
    let mut out = String::new();
    for v in &s.virtuals {
        let _ = write!(out, "{} {}", v.service, v.scheduler);
        if !v.present {
            out.push_str(" (not in the kernel)");
        }
        if v.fallback_active {
            out.push_str(" (fallback active)");
        }
        out.push('\n');
        for r in &v.reals {
            let weight = r.weight.map_or_else(|| "-".to_string(), |w| w.to_string());
            let health = if r.maintenance {
                format!("{} (maintenance)", r.health)
            } else {
                r.health.clone()
            };
            let _ = write!(
                out,
                "  -> {:<28} {:<20} weight {:>5}/{:<5}",
                r.real, health, weight, r.configured_weight
            );
            if let Some(last) = &r.last {
                let _ = write!(out, " {last}");
            }
            out.push('\n');
        }
    }
    for t in &s.sync {
        let who = if t.started_by_lvsd {
            "started by lvsd"
        } else {
            "not started by lvsd; left alone"
        };
        let _ = writeln!(
            out,
            "sync {} on {} syncid {} ({who})",
            t.state, t.interface, t.syncid
        );
    }
    if let Some(e) = &s.sync_error {
        let _ = writeln!(out, "sync: {e}");
    }
    for f in &s.sync_foreign {
        let _ = writeln!(
            out,
            "sync: {} messages with syncid {} on {} (last from {}), ours is {}: the backup thread drops these: no connections are learnt",
            f.messages, f.syncid, f.interface, f.last_peer, f.our_syncid
        );
    }
    out
}
