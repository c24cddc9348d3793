//! What the harness knows to be true, kept as the chaos acts: each real's
//! health per service, the configuration in force, when lvsd was down or
//! starved, what was edited behind its back. The checker judges the kernel
//! against this; nothing here asks lvsd.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const VIP: &str = "10.90.0.100";
pub const DIRECTOR_BACK: &str = "10.91.0.1";
pub const N_REALS: usize = 4;

/// The three services: HTTP (negotiate), a TCP echo (connect; the client's
/// long-lived connections) and DNS over UDP (negotiate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Svc {
    Http,
    Echo,
    Dns,
}

pub const SVCS: [Svc; 3] = [Svc::Http, Svc::Echo, Svc::Dns];

impl Svc {
    pub fn port(self) -> u16 {
        match self {
            Svc::Http => 80,
            Svc::Echo => 7000,
            Svc::Dns => 53,
        }
    }
    /// The kernel table's key for it.
    pub fn key(self) -> String {
        let proto = if self == Svc::Dns { "UDP" } else { "TCP" };
        format!("{proto} {VIP}:{}", self.port())
    }
    /// ipvsadm's service option.
    pub fn opt(self) -> String {
        let flag = if self == Svc::Dns { "-u" } else { "-t" };
        format!("{flag} {VIP}:{}", self.port())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// Process killed.
    Dead,
    /// SYNs and DNS queries dropped in its namespace.
    Hung,
    /// Answers after 5 s (past every timeout).
    Slow,
    /// Answers what `receive=` does not expect.
    Wrong,
}

pub fn real_ip(i: usize) -> String {
    format!("10.91.0.{}", 11 + i)
}

pub struct Real {
    pub name: String,
    pub health: Health,
    pub drained: bool,
    /// Per service (index into SVCS): dark since, and the last flip.
    pub dark_since: [Option<Instant>; 3],
    pub flipped: [Instant; 3],
    pub last_death: Option<Instant>,
    /// A recovery is under way (a server starting, `lvsd undrain` running:
    /// 13 s seen in a loaded VM): healthy in the model, not yet in fact.
    pub busy: bool,
}

impl Real {
    fn dark_now(&self, s: Svc) -> bool {
        self.drained
            || match self.health {
                Health::Ok => false,
                Health::Dead | Health::Hung => true,
                // The echo service is checked by a bare connect.
                Health::Slow | Health::Wrong => s != Svc::Echo,
            }
    }
}

/// The configuration in force (the last valid one written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cfg {
    /// HTTP weights per real; None: not in the file (only rs4 comes and goes).
    pub http: [Option<u32>; N_REALS],
    pub http_sched: &'static str,
}

impl Cfg {
    pub fn weight(&self, s: Svc, i: usize) -> Option<u32> {
        match s {
            Svc::Http => self.http[i],
            // Echo and DNS have rs1..rs3, weight 1.
            _ if i < 3 => Some(1),
            _ => None,
        }
    }
    pub fn sched(&self, s: Svc) -> &'static str {
        match s {
            Svc::Http => self.http_sched,
            Svc::Echo => "wlc",
            Svc::Dns => "rr",
        }
    }
}

/// What a behind-back edit must come back to, checked until it does.
#[derive(Clone, Debug)]
pub enum Expect {
    /// Real i's weight is desired(config, health) again.
    Weight(usize),
    /// This address is gone from the service.
    Absent(String),
    /// The configured scheduler is back.
    Sched,
    /// The service exists again.
    Service,
}

pub struct Pending {
    pub svc: Svc,
    pub expect: Expect,
    pub since: Instant,
    pub what: String,
    pub late: bool,
}

/// Everything the checker needs, behind one mutex.
pub struct Model {
    pub reals: Vec<Real>,
    pub cfg: Cfg,
    pub cfg_changed: Instant,
    pub broken: bool,
    /// Intervals lvsd was not running or SIGSTOPped (end None: still).
    pub disrupted: Vec<(Instant, Option<Instant>)>,
    /// Intervals the whole VM stood still (a guest thread overslept): on a
    /// loaded host the emulated CPU stalls, lvsd with it.
    pub stalls: Vec<(Instant, Instant)>,
    /// The running instance's pid and when it was spawned (ms since the epoch).
    pub lvsd: Option<(u32, u128)>,
    /// Behind-back edits: per service, and per (service, real address).
    pub touched: BTreeMap<Svc, Instant>,
    pub touched_real: BTreeMap<(Svc, String), Instant>,
    /// Foreign services: key -> expected (head, reals) as programmed.
    pub foreign: BTreeMap<String, crate::kernel::Service>,
    /// Foreign keys being added or removed right now: not judged.
    pub foreign_pending: Vec<String>,
    /// Behind-back edits (and the injected fault) awaiting repair.
    pub converge: Vec<Pending>,
    pub events: BTreeMap<&'static str, u64>,
    pub log: Vec<String>,
    pub t0: Instant,
}

impl Model {
    pub fn new(cfg: Cfg) -> Model {
        let now = Instant::now();
        Model {
            reals: (0..N_REALS)
                .map(|i| Real {
                    name: format!("rs{}", i + 1),
                    health: Health::Ok,
                    drained: false,
                    dark_since: [None; 3],
                    flipped: [now; 3],
                    last_death: None,
                    busy: false,
                })
                .collect(),
            cfg,
            cfg_changed: now,
            broken: false,
            disrupted: vec![(now, None)], // until the first start returns
            stalls: Vec::new(),
            lvsd: None,
            touched: BTreeMap::new(),
            touched_real: BTreeMap::new(),
            foreign: BTreeMap::new(),
            foreign_pending: Vec::new(),
            converge: Vec::new(),
            events: BTreeMap::new(),
            log: Vec::new(),
            t0: now,
        }
    }

    /// Counts an event and keeps a line for the report's timeline.
    pub fn event(&mut self, kind: &'static str, detail: &str) {
        *self.events.entry(kind).or_default() += 1;
        let line = format!("{:8.1}s {kind} {detail}", self.t0.elapsed().as_secs_f64());
        println!("{line}");
        self.log.push(line);
    }

    fn refresh(&mut self, i: usize) {
        let now = Instant::now();
        let r = &mut self.reals[i];
        for (k, s) in SVCS.iter().enumerate() {
            let dark = r.dark_now(*s);
            if dark != r.dark_since[k].is_some() {
                r.dark_since[k] = dark.then_some(now);
                r.flipped[k] = now;
            }
        }
    }

    /// Marks real i healthy before the recovery that makes it so.
    pub fn recovering(&mut self, i: usize) {
        self.reals[i].busy = true;
        self.set_health(i, Health::Ok);
    }

    pub fn set_health(&mut self, i: usize, h: Health) {
        if h == Health::Dead {
            self.reals[i].last_death = Some(Instant::now());
        }
        self.reals[i].health = h;
        self.refresh(i);
    }

    /// The real's recovery took effect only now (its server listens, the
    /// rule is gone): the "desired" check's quiet window starts again.
    pub fn settled(&mut self, i: usize) {
        self.reals[i].flipped = [Instant::now(); 3];
        self.reals[i].busy = false;
    }

    pub fn set_drained(&mut self, i: usize, d: bool) {
        self.reals[i].drained = d;
        self.refresh(i);
    }

    pub fn disrupt_begin(&mut self) {
        if !matches!(self.disrupted.last(), Some((_, None))) {
            self.disrupted.push((Instant::now(), None));
        }
    }

    pub fn disrupt_end(&mut self) {
        if let Some(last) = self.disrupted.last_mut() {
            last.1.get_or_insert_with(Instant::now);
        }
    }

    pub fn running(&self) -> bool {
        !matches!(self.disrupted.last(), Some((_, None)))
    }

    /// How long lvsd was down or starved within [from, now]: the bound is
    /// stretched by it, since a stopped lvsd can check nothing.
    pub fn disrupted_within(&self, from: Instant, now: Instant) -> Duration {
        let overlap = |a: Instant, b: Instant| b.min(now).saturating_duration_since(a.max(from));
        let vm: Duration = self
            .stalls
            .iter()
            .rev()
            .take_while(|s| s.1 > from)
            .map(|s| overlap(s.0, s.1))
            .sum();
        self.down_within(from, now) + vm
    }

    /// Only lvsd's own down and SIGSTOPped time (the VM stalls nearly
    /// every second on a loaded host: they stretch bounds, they do not
    /// make a moment unquiet).
    pub fn down_within(&self, from: Instant, now: Instant) -> Duration {
        let overlap = |a: Instant, b: Instant| b.min(now).saturating_duration_since(a.max(from));
        self.disrupted
            .iter()
            .map(|(a, b)| overlap(*a, b.unwrap_or(now)))
            .sum()
    }

    /// Whether a behind-back edit of this service (or real) is recent.
    pub fn touched_since(&self, s: Svc, real: Option<&str>, within: Duration) -> bool {
        let recent = |t: &Instant| t.elapsed() < within;
        self.touched.get(&s).is_some_and(recent)
            || real.is_some_and(|r| {
                self.touched_real
                    .get(&(s, r.to_string()))
                    .is_some_and(recent)
            })
    }
}
