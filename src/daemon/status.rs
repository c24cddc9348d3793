//! The daemon's view of itself, written to `/run/lvsd/NAME.status.json`
//! after every pass, and rendered by `lvsd status`: every virtual and real
//! with its health, the weight the kernel holds and the last check result.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::engine::Status as CheckStatus;
use crate::check::Health;
use crate::config::model::Config;
use crate::director::desired::{fallback_active, RealKey};
use crate::director::plan::dest_addr;
use crate::ipvs::table::Table;

pub fn path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(format!("{name}.status.json"))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub config: PathBuf,
    pub virtuals: Vec<VirtualStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualStatus {
    pub service: String,
    pub scheduler: String,
    /// Whether the kernel holds the service.
    pub present: bool,
    pub fallback_active: bool,
    pub reals: Vec<RealStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealStatus {
    pub real: String,
    pub health: String,
    pub maintenance: bool,
    /// The weight the kernel holds; `None` when the real is not in the table.
    pub weight: Option<u32>,
    pub configured_weight: u32,
    pub failures: u32,
    pub last: Option<String>,
}

pub fn build(
    config_path: &Path,
    pid: u32,
    config: &Config,
    table: &Table,
    health: &BTreeMap<RealKey, CheckStatus>,
    maintenance: &BTreeSet<RealKey>,
) -> DaemonStatus {
    let virtuals = config
        .virtuals
        .iter()
        .map(|v| {
            let entry = table.services.get(&v.key);
            let reals = v
                .reals
                .iter()
                .map(|r| {
                    let key = RealKey {
                        service: v.key,
                        real: r.addr,
                    };
                    let st = health.get(&key);
                    let addr = dest_addr(&v.key, r.addr, r.forward);
                    RealStatus {
                        real: r.addr.to_string(),
                        health: st.map_or(Health::Unknown, |s| s.health).to_string(),
                        maintenance: maintenance.contains(&key),
                        weight: entry.and_then(|e| e.dests.get(&addr)).map(|d| d.weight),
                        configured_weight: r.weight,
                        failures: st.map_or(0, |s| s.failures),
                        last: st.and_then(|s| s.last.clone()),
                    }
                })
                .collect();
            VirtualStatus {
                service: v.key.to_string(),
                scheduler: v.scheduler.clone(),
                present: entry.is_some(),
                fallback_active: fallback_active(v, table),
                reals,
            }
        })
        .collect();
    DaemonStatus {
        pid,
        config: config_path.to_path_buf(),
        virtuals,
    }
}

pub fn store(path: &Path, s: &DaemonStatus) -> io::Result<()> {
    let text = serde_json::to_string_pretty(s).map_err(io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

pub fn load(path: &Path) -> io::Result<DaemonStatus> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The table `lvsd status` prints under the "running" line.
pub fn render(s: &DaemonStatus) -> String {
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_health_weights_and_reasons() {
        let s = DaemonStatus {
            pid: 42,
            config: PathBuf::from("/etc/ha.d/ldirectord.cf"),
            virtuals: vec![VirtualStatus {
                service: "tcp 10.0.0.1:80".into(),
                scheduler: "wlc".into(),
                present: true,
                fallback_active: false,
                reals: vec![
                    RealStatus {
                        real: "10.0.1.1:80".into(),
                        health: "up".into(),
                        maintenance: false,
                        weight: Some(5),
                        configured_weight: 5,
                        failures: 0,
                        last: Some("up".into()),
                    },
                    RealStatus {
                        real: "10.0.1.2:80".into(),
                        health: "down".into(),
                        maintenance: true,
                        weight: None,
                        configured_weight: 1,
                        failures: 3,
                        last: Some("down (connect 10.0.1.2:80: refused)".into()),
                    },
                ],
            }],
        };
        let text = render(&s);
        assert_eq!(
            text,
            "tcp 10.0.0.1:80 wlc\n\
             \x20 -> 10.0.1.1:80                  up                   weight     5/5     up\n\
             \x20 -> 10.0.1.2:80                  down (maintenance)   weight     -/1     down (connect 10.0.1.2:80: refused)\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "x");
        store(&p, &s).unwrap();
        assert_eq!(load(&p).unwrap(), s);
    }
}
