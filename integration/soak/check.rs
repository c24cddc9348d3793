//! The invariants, judged from outside lvsd every 200 ms: the kernel's
//! table (read from /proc) against the model, and the client's events.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kernel::{self, Table};
use crate::model::{real_ip, Expect, Health, Model, Svc, SVCS};

/// Findings, shared by the checker, the client reader and the prober.
#[derive(Default)]
pub struct Verdicts {
    pub checks: BTreeMap<&'static str, u64>,
    /// Key -> (first seen, s since start; times seen; detail).
    pub violations: BTreeMap<String, (f64, u64, String)>,
    pub resets: BTreeMap<String, u64>,
    pub client: BTreeMap<String, u64>,
    pub stall_max_ms: u64,
    /// Dark -> no weight, ms past the start of darkness (less the time lvsd
    /// was down or starved).
    pub detect_ms: Vec<f64>,
    pub status_ms: Vec<f64>,
    /// Behind-back edit -> repaired, ms; and those left undecided because
    /// the real's health changed meanwhile.
    pub converge_ms: Vec<f64>,
    pub converge_undecided: u64,
    /// Checker ticks, and the longest gap between two (ms).
    pub ticks: u64,
    pub max_gap_ms: f64,
    /// `lvsd --version` through the same path: the cost of an exec.
    pub exec_ms: Vec<f64>,
    pub status_cpu_ms: Vec<f64>,
    pub status_calls: Vec<String>,
    /// `lvsd CONFIG start`, wall ms each.
    pub start_ms: Vec<f64>,
    /// pid -> (s since start, RSS KiB, open fds).
    pub samples: BTreeMap<u32, Vec<(f64, f64, f64)>>,
}

impl Verdicts {
    pub fn violation(&mut self, t: f64, key: String, detail: String) {
        let inv = crate::report::invariant(&key);
        let e = self.violations.entry(key).or_insert((t, 0, detail.clone()));
        if e.1 == 0 {
            println!("VIOLATION at {t:.1}s [{inv}]: {detail}");
        }
        e.1 += 1;
    }
    pub fn check(&mut self, what: &'static str) {
        *self.checks.entry(what).or_default() += 1;
    }
}

pub struct Checker {
    pub model: Arc<Mutex<Model>>,
    pub verdicts: Arc<Mutex<Verdicts>>,
    /// A process in the director's namespace, for /proc/PID/net/ip_vs.
    pub ns_pid: u32,
    /// interval + timeout + 100 ms.
    pub bound: Duration,
    /// Allowance for the emulated CPU (see the README).
    pub slack: Duration,
    pub resync: Duration,
    pub dir: PathBuf,
    pub stop: Arc<AtomicBool>,
}

impl Checker {
    pub fn run(self) {
        let mut prev = Table::new();
        let mut detected = BTreeSet::new();
        let mut mismatch = BTreeMap::new();
        let mut tick = 0u64;
        let mut last = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            let next = Instant::now() + Duration::from_millis(200);
            {
                let mut v = self.verdicts.lock().unwrap();
                v.ticks += 1;
                v.max_gap_ms = v.max_gap_ms.max(last.elapsed().as_secs_f64() * 1e3);
            }
            last = Instant::now();
            match kernel::read(self.ns_pid) {
                Some(table) => {
                    self.judge(&table, &prev, &mut detected, &mut mismatch);
                    prev = table;
                }
                None => self.verdicts.lock().unwrap().violation(
                    0.0,
                    "unreadable".into(),
                    "cannot read /proc/PID/net/ip_vs".into(),
                ),
            }
            if tick.is_multiple_of(10) {
                self.sample();
            }
            tick += 1;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }

    /// `mismatch`: since when each difference from desired has been seen on
    /// every quiet tick. One is a violation once it outlasts the bound: a
    /// probe that timed out on the emulated CPU is re-checked and restored
    /// within it, a table that does not converge is not.
    fn judge(
        &self,
        table: &Table,
        prev: &Table,
        detected: &mut BTreeSet<(Svc, usize, Instant)>,
        mismatch: &mut BTreeMap<String, Instant>,
    ) {
        let mut diffs: Vec<(String, String)> = Vec::new();
        let mut m = self.model.lock().unwrap();
        self.converged(&mut m, table);
        let mut v = self.verdicts.lock().unwrap();
        let now = Instant::now();
        let t = m.t0.elapsed().as_secs_f64();
        let q = self.bound + self.slack;
        // Foreign services: exactly as programmed, and nobody else's appear.
        for (k, exp) in &m.foreign {
            if m.foreign_pending.contains(k) {
                continue;
            }
            v.check("foreign identical");
            match table.get(k) {
                None => v.violation(
                    t,
                    format!("foreign-gone {k}"),
                    format!("foreign {k} vanished"),
                ),
                Some(s) if s != exp => v.violation(
                    t,
                    format!("foreign-changed {k}"),
                    format!("foreign {k} changed: {s:?}, programmed {exp:?}"),
                ),
                _ => {}
            }
        }
        for k in table.keys() {
            let ours = SVCS.iter().any(|s| s.key() == *k);
            if !ours && !m.foreign.contains_key(k) && !m.foreign_pending.contains(k) {
                v.violation(
                    t,
                    format!("unknown {k}"),
                    format!("unknown service {k} appeared"),
                );
            }
        }
        if m.lvsd.is_none() {
            return; // the first start has not returned yet
        }
        let spawned = m.lvsd.map(|l| l.1).unwrap_or(0);
        for (k, &s) in SVCS.iter().enumerate() {
            let ksvc = table.get(&s.key());
            let psvc = prev.get(&s.key());
            let quiet = m.running()
                && m.down_within(now - q, now).is_zero()
                && m.cfg_changed.elapsed() > q
                && !m.touched_since(s, None, self.resync + q);
            if quiet {
                v.check("table converged to desired");
                match ksvc {
                    None => diffs.push((
                        format!("missing {s:?}"),
                        format!("{s:?} service missing from the kernel"),
                    )),
                    Some(ks) if ks.head.split_whitespace().next() != Some(m.cfg.sched(s)) => diffs
                        .push((
                            format!("sched {s:?}"),
                            format!(
                                "{s:?} scheduler {} in the kernel, {} configured",
                                ks.head,
                                m.cfg.sched(s)
                            ),
                        )),
                    Some(ks) => {
                        for a in ks.reals.keys() {
                            let known = (0..m.reals.len()).any(|i| {
                                m.cfg.weight(s, i).is_some()
                                    && *a == format!("{}:{}", real_ip(i), s.port())
                            });
                            if !known {
                                diffs.push((
                                    format!("extra {s:?} {a}"),
                                    format!("{s:?} has {a}, not configured"),
                                ));
                            }
                        }
                    }
                }
            }
            for (i, r) in m.reals.iter().enumerate() {
                let addr = format!("{}:{}", real_ip(i), s.port());
                let w = ksvc.and_then(|x| x.weight(&addr)).unwrap_or(0);
                let pw = psvc.and_then(|x| x.weight(&addr)).unwrap_or(0);
                let edited = m
                    .touched_real
                    .get(&(s, addr.clone()))
                    .is_some_and(|t| t.elapsed() < self.resync + q);
                // 1. Dark for longer than the bound (stretched by the time
                // lvsd was down or starved): no weight.
                if let Some(d) = r.dark_since[k] {
                    v.check("dark real has no weight");
                    let lost = m.disrupted_within(d, now);
                    if w == 0 {
                        if detected.insert((s, i, d)) {
                            v.detect_ms
                                .push((now - d).saturating_sub(lost).as_secs_f64() * 1e3);
                        }
                    } else if now - d > q + lost && !edited {
                        v.violation(
                            t,
                            format!("dark-weighted {s:?} {addr} {d:?}"),
                            format!(
                                "{s:?} {addr} ({:?}{}) dark {:.1} s (of which lvsd down/starved or the VM stalled {:.1} s) has weight {w}",
                                r.health,
                                if r.drained { ", drained" } else { "" },
                                (now - d).as_secs_f64(),
                                lost.as_secs_f64()
                            ),
                        );
                    }
                }
                // 2. Weight appears only after the running lvsd checked it.
                if w > 0 && pw == 0 && !edited {
                    v.check("weighted only once checked");
                    let seen = crate::serve::seen(&self.dir, &r.name);
                    if seen < spawned {
                        v.violation(
                            t,
                            format!("unchecked {s:?} {addr} {spawned}"),
                            format!("{s:?} {addr} got weight {w}, never checked by lvsd since its start (last check {seen}, spawned {spawned})"),
                        );
                    }
                }
                // 3. Converged: the weight is desired(config, health).
                if quiet && !r.busy && r.flipped[k].elapsed() > q {
                    if let Some(cw) = m.cfg.weight(s, i) {
                        let want = if r.dark_since[k].is_some() { 0 } else { cw };
                        let present = ksvc.is_some_and(|x| x.weight(&addr).is_some());
                        if w != want || (want > 0 && !present) {
                            diffs.push((
                                format!("weight {s:?} {addr} {want}"),
                                format!(
                                    "{s:?} {addr} ({:?}, drained {}) weight {w}, desired {want}",
                                    r.health, r.drained
                                ),
                            ));
                        }
                    }
                }
            }
        }
        let mut still = BTreeMap::new();
        for (key, detail) in diffs {
            let since = mismatch.get(&key).copied().unwrap_or(now);
            if now - since > q {
                let d = format!("{detail}, for {:.1} s", (now - since).as_secs_f64());
                v.violation(t, key.clone(), d);
            }
            still.insert(key, since);
        }
        *mismatch = still;
    }

    /// Behind-back edits: repaired within one resync period (plus the bound
    /// and lvsd's down time)? Each is timed until it is.
    fn converged(&self, m: &mut Model, table: &Table) {
        let mut v = self.verdicts.lock().unwrap();
        let now = Instant::now();
        let t = m.t0.elapsed().as_secs_f64();
        let pending = std::mem::take(&mut m.converge);
        for mut p in pending {
            v.check("behind-back edit repaired within a resync");
            let ks = table.get(&p.svc.key());
            let (done, undecided) = match &p.expect {
                Expect::Weight(i) => {
                    let k = SVCS.iter().position(|s| *s == p.svc).unwrap_or(0);
                    let r = &m.reals[*i];
                    let addr = format!("{}:{}", real_ip(*i), p.svc.port());
                    let w = ks.and_then(|x| x.weight(&addr));
                    let want =
                        m.cfg
                            .weight(p.svc, *i)
                            .map(|cw| if r.dark_since[k].is_some() { 0 } else { cw });
                    let ok = match want {
                        Some(0) => w.unwrap_or(0) == 0,
                        want => w == want,
                    };
                    (ok, r.flipped[k] > p.since)
                }
                Expect::Absent(a) => (ks.is_none_or(|x| x.weight(a).is_none()), false),
                Expect::Sched => (
                    ks.is_some_and(|x| {
                        x.head.split_whitespace().next() == Some(m.cfg.sched(p.svc))
                    }),
                    false,
                ),
                Expect::Service => (ks.is_some(), false),
            };
            let allowed = self.resync + self.bound + self.slack + m.disrupted_within(p.since, now);
            if done {
                v.converge_ms.push(p.since.elapsed().as_secs_f64() * 1e3);
            } else if undecided {
                v.converge_undecided += 1;
            } else {
                if now - p.since > allowed && !p.late {
                    p.late = true;
                    v.violation(
                        t,
                        format!("converge {t}"),
                        format!(
                            "{:?} not repaired {:.1} s after {}",
                            p.svc,
                            p.since.elapsed().as_secs_f64(),
                            p.what
                        ),
                    );
                }
                if p.since.elapsed() < Duration::from_secs(120) {
                    m.converge.push(p);
                }
            }
        }
    }

    /// RSS and open fds of the running lvsd.
    fn sample(&self) {
        let (pid, t) = {
            let m = self.model.lock().unwrap();
            match m.lvsd {
                Some((pid, _)) if m.running() => (pid, m.t0.elapsed().as_secs_f64()),
                _ => return,
            }
        };
        let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|x| x.split_whitespace().next()?.parse::<f64>().ok())
            });
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as f64);
        if let (Some(rss), Ok(fds)) = (rss, fds) {
            self.verdicts
                .lock()
                .unwrap()
                .samples
                .entry(pid)
                .or_default()
                .push((t, rss, fds));
        }
    }
}

/// One line from the client, judged against the model.
pub fn client_line(line: &str, model: &Mutex<Model>, verdicts: &Mutex<Verdicts>) {
    let w: Vec<&str> = line.split_whitespace().collect();
    let m = model.lock().unwrap();
    let mut v = verdicts.lock().unwrap();
    let t = m.t0.elapsed().as_secs_f64();
    match w.as_slice() {
        ["long-lost", conn, name, kind, ms] => {
            let real = m.reals.iter().find(|r| r.name == *name);
            // Its own real's death ends a connection: that one is allowed.
            let died = real.is_some_and(|r| {
                r.health == Health::Dead
                    || r.last_death
                        .is_some_and(|d| d.elapsed() < Duration::from_secs(5))
            });
            if died {
                *v.resets.entry("its real was killed".into()).or_default() += 1;
            } else {
                let health = real.map(|r| format!("{:?}", r.health)).unwrap_or_default();
                *v.resets
                    .entry(format!("{kind}, real {name} {health}"))
                    .or_default() += 1;
                v.violation(
                    t,
                    format!("reset {conn} {t}"),
                    format!(
                        "connection {conn} to {name} ({health}) lost: {kind} after {ms} ms quiet"
                    ),
                );
            }
        }
        ["long-stall", _, _, ms] => {
            *v.client.entry("long stalls".into()).or_default() += 1;
            v.stall_max_ms = v.stall_max_ms.max(ms.parse().unwrap_or(0));
        }
        ["long-open", ..] => *v.client.entry("long opened".into()).or_default() += 1,
        [what @ ("http" | "dns"), res, ..] => {
            *v.client.entry(format!("{what} {res}")).or_default() += 1
        }
        _ => *v.client.entry(format!("other: {line}")).or_default() += 1,
    }
}
