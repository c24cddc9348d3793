//! The daemon's view of itself, written to `/run/lvsd/NAME.status.json`
//! after every pass, and rendered by `lvsd status`: every virtual and real
//! with its health, the weight the kernel holds and the last check result.
//! `--json` and `--porcelain` print the same data for programs ([`Report`]).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::escape_text;
use crate::director::view::View;
use crate::ipvs::names::Numeric;
use crate::ipvs::save::rule_service_name;

use super::pidfile::ProcState;
use super::sync::{state_name, SyncView};

pub fn path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(format!("{name}.status.json"))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub config: PathBuf,
    pub virtuals: Vec<VirtualStatus>,
    /// The kernel's connection sync threads (`syncdaemon=`), whoever
    /// started them.
    #[serde(default)]
    pub sync: Vec<SyncStatus>,
    /// Why the threads could not be listed, if they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_error: Option<String>,
}

/// One running sync thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// `master` or `backup`.
    pub state: String,
    pub interface: String,
    pub syncid: u32,
    /// Whether this lvsd started it (and stops it at shutdown); `false`:
    /// someone else did (ipvsadm, keepalived), and lvsd leaves it alone.
    pub started_by_lvsd: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualStatus {
    pub service: String,
    /// The service as `ipvsadm -S -n` names it (`-t 10.0.0.1:80`, `-f 7 -6`),
    /// so that scripts can find it in `lvsd save -n`.
    #[serde(default)]
    pub ipvsadm: String,
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

/// The status a view (and the sync threads) show.
pub fn build(config_path: &Path, pid: u32, view: &View, sync: &SyncView) -> DaemonStatus {
    let virtuals = view
        .virtuals
        .iter()
        .map(|v| VirtualStatus {
            service: v.key.to_string(),
            ipvsadm: rule_service_name(&v.key, &Numeric),
            scheduler: v.scheduler.clone(),
            present: v.present,
            fallback_active: v.fallback_active,
            reals: v
                .reals
                .iter()
                .map(|r| RealStatus {
                    real: r.key.real.to_string(),
                    health: r.health.to_string(),
                    maintenance: r.maintenance,
                    weight: r.kernel_weight,
                    configured_weight: r.configured_weight,
                    failures: r.failures,
                    last: r.last.clone(),
                })
                .collect(),
        })
        .collect();
    DaemonStatus {
        pid,
        config: config_path.to_path_buf(),
        virtuals,
        sync: sync
            .threads
            .iter()
            .map(|(state, interface, syncid, ours)| SyncStatus {
                state: state_name(*state).to_string(),
                interface: interface.clone(),
                syncid: *syncid,
                started_by_lvsd: *ours,
            })
            .collect(),
        sync_error: sync.error.clone(),
    }
}

/// The status of a director, or `None` while its table view is not known
/// to match the kernel (a pass failed): a file saying every virtual is
/// missing would have the OCF monitor fail a director that serves fine, so
/// the file on disk (from the last good pass) is kept instead. The monitor
/// at depth 10 reads the kernel itself and sees a table that is really gone.
pub fn of_view(config_path: &Path, pid: u32, view: &View, sync: &SyncView) -> Option<DaemonStatus> {
    view.synced.then(|| build(config_path, pid, view, sync))
}

pub fn store(path: &Path, s: &DaemonStatus) -> io::Result<()> {
    let text = serde_json::to_string_pretty(s).map_err(io::Error::other)?;
    // As root in a shared directory: never through a planted symlink, and
    // readers see the old file or the new one.
    super::pidfile::replace_file(path, text.as_bytes(), 0o644)
}

pub fn load(path: &Path) -> io::Result<DaemonStatus> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

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
    out
}

/// Whether the daemon runs, as the pid file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    Running,
    /// The pid file names a process that is gone (or is not lvsd).
    Stale,
    Stopped,
}

/// What `lvsd status --json` prints, and `--porcelain` in lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub state: DaemonState,
    /// The running daemon's pid, or the stale one.
    pub pid: Option<u32>,
    pub config: PathBuf,
    pub pidfile: PathBuf,
    /// The daemon's status; `None` unless it runs and has written it since
    /// it started (right after start, or while a pid is stale).
    pub status: Option<DaemonStatus>,
}

impl Report {
    /// `status` is what the status file holds; one left by an earlier
    /// daemon (killed before it could remove it) is not this one's.
    pub fn new(
        proc: ProcState,
        config: &Path,
        pidfile: &Path,
        status: Option<DaemonStatus>,
    ) -> Report {
        let (state, pid) = match proc {
            ProcState::Running(p) => (DaemonState::Running, Some(p)),
            ProcState::Stale(p) => (DaemonState::Stale, Some(p)),
            ProcState::Stopped => (DaemonState::Stopped, None),
        };
        let status = status.filter(|s| state == DaemonState::Running && Some(s.pid) == pid);
        Report {
            state,
            pid,
            config: config.to_path_buf(),
            pidfile: pidfile.to_path_buf(),
            status,
        }
    }
}

/// The version `--porcelain` prints first; raised only on an incompatible
/// change (fields may be added at the end of a line, and new line kinds may
/// appear: readers skip what they do not know).
pub const PORCELAIN_VERSION: u32 = 1;

/// One porcelain field: no tab or newline inside, `-` when empty, so that
/// `IFS=<tab> read` splits every line the same way.
fn field(s: &str) -> String {
    if s.is_empty() {
        return "-".to_string();
    }
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn yes_no(b: bool) -> &'static str {
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
    out
}

/// `s` with every text escaped, for `lvsd status` on a terminal. The daemon
/// writes escaped reasons already; this holds for a status file edited or
/// written by something else too (root-owned, but read by a terminal).
fn escaped(s: &DaemonStatus) -> DaemonStatus {
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
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_status_from_a_table_that_could_not_be_read() {
        use crate::director::controller::{Controller, Input};
        use crate::director::reconcile::Director;
        use crate::ipvs::memory::MemoryKernel;
        let cf = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq 2\n";
        let config = crate::config::test_config(cf);
        let d = Director::new(MemoryKernel::default(), config, Default::default(), None);
        let mut c = Controller::new(d, Box::new(Default::default), Default::default());
        let p = Path::new("/x.cf");
        assert_eq!(
            of_view(p, 1, c.view(), &SyncView::default()),
            None,
            "before any pass"
        );
        let none = SyncView::default();
        let good = of_view(p, 1, &c.step(Input::Resync).view, &none).unwrap();
        assert!(good.virtuals.iter().all(|v| v.present), "{good:?}");
        // One read fails (a signal on the socket): no status says the
        // services are gone; the next good pass reports them again.
        c.kernel().fail_dumps = 1;
        let failed = c.step(Input::Resync);
        assert!(failed.report.is_err());
        assert_eq!(of_view(p, 1, &failed.view, &none), None);
        assert_eq!(
            of_view(p, 1, &c.step(Input::Health).view, &none),
            Some(good)
        );
    }

    fn sample() -> DaemonStatus {
        DaemonStatus {
            pid: 42,
            config: PathBuf::from("/etc/ha.d/ldirectord.cf"),
            virtuals: vec![VirtualStatus {
                service: "tcp 10.0.0.1:80".into(),
                ipvsadm: "-t 10.0.0.1:80".into(),
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
            sync: vec![],
            sync_error: None,
        }
    }

    #[test]
    fn renders_health_weights_and_reasons() {
        let s = sample();
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

    #[test]
    fn porcelain_lines_for_scripts() {
        let mut s = sample();
        s.virtuals[0].reals[1].last = Some("down\t(odd\nmessage)".into());
        let r = Report::new(
            ProcState::Running(42),
            Path::new("/etc/ha.d/ldirectord.cf"),
            Path::new("/run/lvsd.ldirectord.cf.pid"),
            Some(s.clone()),
        );
        assert_eq!(
            render_porcelain(&r),
            "lvsd-status\t1\n\
             daemon\trunning\t42\tready\t/etc/ha.d/ldirectord.cf\t/run/lvsd.ldirectord.cf.pid\n\
             virtual\ttcp 10.0.0.1:80\t-t 10.0.0.1:80\twlc\tyes\tno\n\
             real\ttcp 10.0.0.1:80\t10.0.1.1:80\tup\t5\t5\tno\t0\tup\n\
             real\ttcp 10.0.0.1:80\t10.0.1.2:80\tdown\t-\t1\tyes\t3\tdown (odd message)\n"
        );
        // JSON carries the same data and reads back.
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""state":"running""#), "{json}");
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn sync_threads_are_shown_with_who_started_them() {
        use crate::ipvs::snapshot::DaemonState;
        let view = View::default();
        let sync = SyncView {
            threads: vec![
                (DaemonState::Master, "eth1".into(), 7, true),
                (DaemonState::Backup, "eth2".into(), 9, false),
            ],
            error: None,
        };
        let s = build(Path::new("/x.cf"), 42, &view, &sync);
        assert_eq!(
            render(&s),
            "sync master on eth1 syncid 7 (started by lvsd)\n\
             sync backup on eth2 syncid 9 (not started by lvsd; left alone)\n"
        );
        let r = Report::new(
            ProcState::Running(42),
            Path::new("/x.cf"),
            Path::new("/run/lvsd.x.cf.pid"),
            Some(s.clone()),
        );
        assert!(render_porcelain(&r)
            .ends_with("sync\tmaster\teth1\t7\tlvsd\nsync\tbackup\teth2\t9\tother\n"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains(
                r#""sync":[{"state":"master","interface":"eth1","syncid":7,"started_by_lvsd":true}"#
            ),
            "{json}"
        );
        // A file written before the field existed still reads.
        let old = r#"{"pid":1,"config":"/x.cf","virtuals":[]}"#;
        assert_eq!(
            serde_json::from_str::<DaemonStatus>(old).unwrap().sync,
            vec![]
        );
    }

    #[test]
    fn a_status_file_of_another_pid_or_a_stopped_daemon_is_not_reported() {
        let s = sample();
        let cfg = Path::new("/x.cf");
        let pf = Path::new("/run/lvsd.x.cf.pid");
        // Left behind by a daemon that was killed; the new one has not
        // written its own yet.
        let r = Report::new(ProcState::Running(43), cfg, pf, Some(s.clone()));
        assert_eq!(r.status, None);
        assert!(render_porcelain(&r).contains("daemon\trunning\t43\tnone\t"));
        let r = Report::new(ProcState::Stale(42), cfg, pf, Some(s.clone()));
        assert_eq!(
            (r.state, r.pid, r.status),
            (DaemonState::Stale, Some(42), None)
        );
        let r = Report::new(ProcState::Stopped, cfg, pf, None);
        assert_eq!(
            render_porcelain(&r),
            "lvsd-status\t1\ndaemon\tstopped\t-\tnone\t/x.cf\t/run/lvsd.x.cf.pid\n"
        );
    }

    #[test]
    fn a_hand_edited_status_renders_without_control_characters() {
        let s = DaemonStatus {
            pid: 1,
            config: "/etc/ha.d/web.cf".into(),
            virtuals: vec![VirtualStatus {
                service: "tcp 10.0.0.1:80\x1b]0;x\x07".into(),
                ipvsadm: String::new(),
                scheduler: "wrr".into(),
                present: true,
                fallback_active: false,
                reals: vec![RealStatus {
                    real: "10.0.1.1:80".into(),
                    health: "up".into(),
                    maintenance: false,
                    weight: Some(1),
                    configured_weight: 1,
                    failures: 0,
                    last: Some("down (x: \x1b[2J\nlvsd[1]: real 10.0.1.2:80 up)".into()),
                }],
            }],
            sync: vec![],
            sync_error: None,
        };
        let out = render(&s);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let controls = lines.iter().flat_map(|l| l.chars()).any(char::is_control);
        assert!(!controls, "{out:?}");
        assert!(lines[1].ends_with(r"down (x: \x1b[2J\nlvsd[1]: real 10.0.1.2:80 up)"));
        assert!(lines[0].starts_with(r"tcp 10.0.0.1:80\x1b]0;x\x07"));
    }
}
