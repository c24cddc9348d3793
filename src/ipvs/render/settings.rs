//! `ipvsadm -L --timeout` and `ipvsadm -L --daemon`: the table's settings
//! rather than its rows, byte for byte as ipvsadm 1.31 prints them.

use std::fmt::Write as _;

use crate::ipvs::snapshot::{Daemon, DaemonState, Timeouts};

/// `ipvsadm -L --timeout`
pub fn render_timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    )
}

/// `ipvsadm -L --daemon`: master first, then backup.
pub fn render_daemons(daemons: &[Daemon]) -> String {
    let mut out = String::new();
    for state in [DaemonState::Master, DaemonState::Backup] {
        for d in daemons.iter().filter(|d| d.state == state) {
            let kind = match state {
                DaemonState::Master => "master",
                DaemonState::Backup => "backup",
            };
            let _ = write!(
                out,
                "{kind} sync daemon (mcast={}, syncid={}",
                d.mcast_ifn, d.sync_id as i32
            );
            if d.sync_maxlen != 0 {
                let _ = write!(out, ", maxlen={}", d.sync_maxlen);
            }
            if let Some(g) = d.mcast_group {
                let _ = write!(out, ", group={g}");
            }
            if d.mcast_port != 0 {
                let _ = write!(out, ", port={}", d.mcast_port);
            }
            if d.mcast_ttl != 0 {
                let _ = write!(out, ", ttl={}", d.mcast_ttl);
            }
            out.push_str(")\n");
        }
    }
    out
}
