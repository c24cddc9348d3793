//! The chaos: one seeded random event every 1-3 s, each recorded in the
//! model before the checker can see its effect. Decisions come from the
//! seed alone, so `--seed N` replays the same sequence (their timing on a
//! loaded machine differs, as it would in production).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::check::Verdicts;
use crate::lifecycle::signal;
use crate::model::{real_ip, Expect, Health, Model, Pending, Svc, N_REALS, SVCS};
use crate::world::{config_text, World};

/// splitmix64: tiny, and its sequence is fixed by the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }
}

/// One kind of event, as the table in `step` draws them.
type Event = fn(&mut Chaos);

enum Revert {
    Revive(usize),
    Unhang(usize),
    ModeOk(usize),
    Undrain(usize),
}

pub struct Chaos {
    pub world: World,
    pub model: Arc<Mutex<Model>>,
    pub verdicts: Arc<Mutex<Verdicts>>,
    pub rng: Rng,
    pending: Vec<(Instant, Revert)>,
}

impl Chaos {
    pub fn new(
        world: World,
        model: Arc<Mutex<Model>>,
        verdicts: Arc<Mutex<Verdicts>>,
        seed: u64,
    ) -> Chaos {
        Chaos {
            world,
            model,
            verdicts,
            rng: Rng::new(seed),
            pending: Vec::new(),
        }
    }

    pub(crate) fn m(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().unwrap()
    }

    pub(crate) fn violation(&self, key: &str, detail: String) {
        let t = self.m().t0.elapsed().as_secs_f64();
        self.verdicts
            .lock()
            .unwrap()
            .violation(t, key.into(), detail);
    }

    /// One event; the kinds and their weights.
    pub fn step(&mut self) {
        let kinds: [(u64, Event); 13] = [
            (10, |c| c.real_fault(Health::Dead)),
            (8, |c| c.real_fault(Health::Hung)),
            (6, |c| c.real_fault(Health::Slow)),
            (6, |c| c.real_fault(Health::Wrong)),
            (8, |c| c.edit(false)),
            (6, |c| c.edit(true)),
            (4, Chaos::edit_broken),
            (5, Chaos::drain),
            (4, Chaos::kill9),
            (3, Chaos::term_reload),
            (8, Chaos::foreign),
            (8, Chaos::behind_back),
            (5, Chaos::starve),
        ];
        let total: u64 = kinds.iter().map(|k| k.0).sum();
        let mut x = self.rng.below(total);
        for (w, f) in kinds {
            if x < w {
                return f(self);
            }
            x -= w;
        }
    }

    /// Reverts whose time has come (all of them with `all`).
    pub fn revert_due(&mut self, all: bool) {
        let now = Instant::now();
        let due: Vec<Revert> = {
            let (due, keep) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|p| all || p.0 <= now);
            self.pending = keep;
            due.into_iter().map(|p| p.1).collect()
        };
        // The model turns healthy *before* the real does: lvsd may weigh a
        // real the moment it answers, and the checker must never see that
        // while the model still calls it dark.
        for r in due {
            match r {
                Revert::Revive(i) => {
                    self.m().recovering(i);
                    self.world.serve(i);
                    self.m().settled(i);
                    self.m().event("real revived", &real_ip(i));
                }
                Revert::Unhang(i) => {
                    self.m().recovering(i);
                    self.world.hang(i, false);
                    self.m().settled(i);
                    self.m().event("real unhung", &real_ip(i));
                }
                Revert::ModeOk(i) => {
                    self.m().recovering(i);
                    self.world.set_mode(i, "ok");
                    self.m().settled(i);
                    self.m().event("real answers well again", &real_ip(i));
                }
                Revert::Undrain(i) => {
                    self.fix_config();
                    self.m().reals[i].busy = true;
                    self.m().set_drained(i, false);
                    self.lvsd_cli(&format!("undrain {}", real_ip(i)));
                    self.m().settled(i);
                    self.m().event("undrain", &real_ip(i));
                }
            }
        }
    }

    /// A healthy real to break, keeping one of rs1..rs3 serving (the echo
    /// and DNS services have only those three).
    fn pick_healthy(&mut self) -> Option<usize> {
        let m = self.m();
        let ok: Vec<usize> = (0..N_REALS)
            .filter(|&i| m.reals[i].health == Health::Ok && !m.reals[i].drained)
            .collect();
        let core = ok.iter().filter(|&&i| i < 3).count();
        let can: Vec<usize> = ok.into_iter().filter(|&i| i == 3 || core >= 2).collect();
        drop(m);
        (!can.is_empty()).then(|| can[self.rng.below(can.len() as u64) as usize])
    }

    fn real_fault(&mut self, h: Health) {
        let Some(i) = self.pick_healthy() else { return };
        let back = Instant::now() + self.rng.ms(3000, 15000);
        // A fault is recorded once it is in effect (the dark clock must not
        // start early), except a kill, which is immediate.
        let (kind, revert) = match h {
            Health::Dead => {
                // Recorded first: the client may see the death before we return.
                self.m().set_health(i, h);
                self.world.kill_server(i);
                ("real killed", Revert::Revive(i))
            }
            Health::Hung => {
                self.world.hang(i, true);
                self.m().set_health(i, h);
                ("real hung (SYN dropped)", Revert::Unhang(i))
            }
            _ => {
                let slow = h == Health::Slow;
                self.world.set_mode(i, if slow { "slow" } else { "wrong" });
                self.m().set_health(i, h);
                (
                    if slow {
                        "real slow"
                    } else {
                        "real answers wrongly"
                    },
                    Revert::ModeOk(i),
                )
            }
        };
        self.m().event(kind, &real_ip(i));
        self.pending.push((back, revert));
    }

    /// A valid edit: HTTP weights, rs4 in or out, the scheduler.
    pub(crate) fn edit(&mut self, sighup: bool) {
        let mut cfg = self.m().cfg.clone();
        match self.rng.below(3) {
            0 => {
                cfg.http[3] = if cfg.http[3].is_some() {
                    None
                } else {
                    Some(1 + self.rng.below(4) as u32)
                }
            }
            1 => {
                let i = self.rng.below(3) as usize;
                cfg.http[i] = Some(1 + self.rng.below(5) as u32);
            }
            _ => cfg.http_sched = if cfg.http_sched == "wlc" { "rr" } else { "wlc" },
        }
        {
            let mut m = self.m();
            m.cfg = cfg.clone();
            m.cfg_changed = Instant::now();
            m.broken = false;
        }
        self.world.lvsd.write_config(&config_text(&cfg, false));
        if sighup {
            self.hup();
        }
        self.m().event(
            if sighup {
                "edit, SIGHUP"
            } else {
                "edit, autoreload"
            },
            &format!("{cfg:?}"),
        );
    }

    pub(crate) fn hup(&self) {
        let running = self.m().running();
        if let (true, Some(pid)) = (running, self.world.lvsd.pid()) {
            signal(pid, libc::SIGHUP);
        }
    }

    fn edit_broken(&mut self) {
        let cfg = self.m().cfg.clone();
        self.m().broken = true;
        self.world.lvsd.write_config(&config_text(&cfg, true));
        if self.rng.below(2) == 0 {
            self.hup();
        }
        self.m().event("broken edit", "");
    }

    /// What an operator does before starting or draining: a valid file.
    pub fn fix_config(&mut self) {
        if self.m().broken {
            let cfg = self.m().cfg.clone();
            self.world.lvsd.write_config(&config_text(&cfg, false));
            self.m().broken = false;
        }
    }

    fn lvsd_cli(&self, args: &str) {
        let out = self
            .world
            .lvsd
            .cmd(&format!("{args} -c {}", self.world.config_path().display()));
        if !out.status.success() {
            self.violation(
                &format!("cli {args}"),
                format!(
                    "lvsd {args} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            );
        }
    }

    fn drain(&mut self) {
        let Some(i) = self.pick_healthy() else { return };
        self.fix_config();
        self.lvsd_cli(&format!("drain {}", real_ip(i)));
        self.m().set_drained(i, true);
        self.m().event("drain", &real_ip(i));
        let back = Instant::now() + self.rng.ms(3000, 12000);
        self.pending.push((back, Revert::Undrain(i)));
    }

    /// Adds a foreign service, or removes one.
    pub fn foreign(&mut self) {
        let k = 200 + self.rng.below(6);
        let vip = format!("10.90.0.{k}:80");
        let key = format!("TCP {vip}");
        let exists = self.m().foreign.contains_key(&key);
        self.m().foreign_pending.push(key.clone());
        if exists {
            self.m().foreign.remove(&key);
            if let Err(e) = self.world.ipvsadm(&format!("-D -t {vip}")) {
                self.violation("foreign-del", format!("ipvsadm -D -t {vip}: {e}"));
            }
            self.m().event("foreign service removed", &vip);
        } else {
            let sched = ["rr", "wlc", "sh", "lc"][self.rng.below(4) as usize];
            let mut exp = crate::kernel::Service {
                head: sched.into(),
                ..Default::default()
            };
            let mut ok = self.world.ipvsadm(&format!("-A -t {vip} -s {sched}"));
            for i in 0..1 + self.rng.below(2) as usize {
                let (r, w) = (format!("{}:8080", real_ip(i)), 1 + self.rng.below(9) as u32);
                ok = ok.and(self.world.ipvsadm(&format!("-a -t {vip} -r {r} -m -w {w}")));
                exp.reals.insert(r, ("Masq".into(), w, 0, 0));
            }
            if let Err(e) = ok {
                self.violation("foreign-add", format!("ipvsadm on {vip}: {e}"));
            }
            self.m().foreign.insert(key.clone(), exp);
            self.m().event("foreign service added", &vip);
        }
        self.m().foreign_pending.retain(|p| *p != key);
    }

    /// ipvsadm edits lvsd's own services: a weight, a real deleted, a
    /// stranger added, the scheduler, the whole HTTP service deleted.
    pub fn behind_back(&mut self) {
        let s = SVCS[self.rng.below(3) as usize];
        let i = self.rng.below(3) as usize;
        let addr = format!("{}:{}", real_ip(i), s.port());
        let stranger = format!("10.91.0.99:{}", s.port());
        let (kind, args, expect) = match self.rng.below(5) {
            0 => (
                "weight",
                format!("-e {} -r {addr} -m -w {}", s.opt(), 2 + self.rng.below(8)),
                Expect::Weight(i),
            ),
            // Not the echo service's reals: its long-lived connections
            // would be cut off until the re-add, which is the kernel's doing.
            1 if s != Svc::Echo => (
                "real deleted",
                format!("-d {} -r {addr}", s.opt()),
                Expect::Weight(i),
            ),
            2 => (
                "stranger added",
                format!("-a {} -r {stranger} -m -w 3", s.opt()),
                Expect::Absent(stranger),
            ),
            3 => ("scheduler", format!("-E {} -s sh", s.opt()), Expect::Sched),
            4 if s == Svc::Http => (
                "service deleted",
                format!("-D {}", s.opt()),
                Expect::Service,
            ),
            _ => (
                "weight",
                format!("-e {} -r {addr} -m -w 1", s.opt()),
                Expect::Weight(i),
            ),
        };
        let mark = |m: &mut Model| {
            m.touched.insert(s, Instant::now());
            m.touched_real.insert((s, addr.clone()), Instant::now());
        };
        mark(&mut self.m());
        let res = self.world.ipvsadm(&args);
        mark(&mut self.m());
        let what = format!("{kind}: ipvsadm {args}");
        let p = Pending {
            svc: s,
            expect,
            since: Instant::now(),
            what: what.clone(),
            late: false,
        };
        let mut m = self.m();
        if res.is_ok() {
            m.converge.push(p);
        }
        m.event("edited behind lvsd's back", &format!("{what} ({res:?})"));
    }

    /// The known-bad subject: a weight given to a dark real and NOT
    /// recorded as an outside edit, as a broken lvsd would do. The checker
    /// must report it.
    pub fn inject_fault(&mut self, settle: Duration) -> bool {
        let i = 0;
        if self.m().reals[i].health != Health::Ok || self.m().reals[i].drained {
            return false; // another fault owns rs1 now: try later
        }
        self.world.hang(i, true);
        self.m().set_health(i, Health::Hung);
        self.m().event("real hung (SYN dropped)", &real_ip(i));
        self.pending
            .push((Instant::now() + settle * 3, Revert::Unhang(i)));
        std::thread::sleep(settle);
        let args = format!("-e {} -r {}:7000 -m -w 1", Svc::Echo.opt(), real_ip(i));
        let res = self.world.ipvsadm(&args);
        // Not marked as an outside edit (that is the fault), but its repair
        // is timed like one's.
        let what = format!("injected: ipvsadm {args}");
        let p = Pending {
            svc: Svc::Echo,
            expect: Expect::Weight(i),
            since: Instant::now(),
            what,
            late: false,
        };
        self.m().converge.push(p);
        self.m().event(
            "INJECTED FAULT (weight on a dark real)",
            &format!("ipvsadm {args} ({res:?})"),
        );
        true
    }
}
