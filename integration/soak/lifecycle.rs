//! lvsd's own lifecycle under the chaos: start (sometimes cut short by
//! SIGTERM), kill -9, SIGTERM during a reload, SIGSTOP starvation. Each is
//! recorded in the model as down or starved time, which stretches bounds.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::chaos::Chaos;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this harness started (lvsd's daemon).
    unsafe { libc::kill(pid as i32, sig) };
}

fn alive(pid: u32) -> bool {
    // A zombie is gone for our purposes; lvsd's daemon is not our child.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

impl Chaos {
    /// Waits for a pid to go; false after `limit`.
    fn wait_gone(pid: u32, limit: Duration) -> bool {
        let t = Instant::now();
        while alive(pid) {
            if t.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// `lvsd CONFIG start`; sometimes first a start cut short by SIGTERM.
    pub fn start(&mut self, term_first: bool) {
        self.fix_config();
        let l = &self.world.lvsd;
        if term_first {
            let old = l.pid();
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "LVSD_RUN_DIR={} exec ip netns exec {} {} {} start",
                    l.run_dir.display(),
                    l.ns,
                    l.program.display(),
                    l.config.display()
                ))
                .spawn()
                .expect("spawn start");
            let t = Instant::now();
            let mut pid = None;
            while pid.is_none() && t.elapsed() < Duration::from_secs(60) {
                pid = l.pid().filter(|p| Some(*p) != old && alive(*p));
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(self.rng.ms(0, 800));
            if let Some(p) = pid {
                signal(p, libc::SIGTERM);
                if !Self::wait_gone(p, Duration::from_secs(30)) {
                    self.violation(
                        "term-startup",
                        format!("lvsd {p} ignored SIGTERM in start-up for 30 s"),
                    );
                    signal(p, libc::SIGKILL);
                }
            }
            let _ = child.wait();
            match pid {
                Some(p) => self.m().event("SIGTERM during start-up", &p.to_string()),
                // Exec alone can take half a minute in a loaded VM.
                None => self.m().event("start-up too slow to be cut short", ""),
            }
        }
        let spawned = now_ms();
        let t = Instant::now();
        let (code, text) = self.world.lvsd.action("start");
        self.verdicts
            .lock()
            .unwrap()
            .start_ms
            .push(t.elapsed().as_secs_f64() * 1e3);
        if code != 0 {
            self.violation("start", format!("lvsd start failed ({code}): {text}"));
        }
        let pid = self.world.lvsd.pid().unwrap_or(0);
        let mut m = self.m();
        m.lvsd = Some((pid, spawned));
        m.disrupt_end();
        m.event("started", &pid.to_string());
    }

    pub(crate) fn kill9(&mut self) {
        let Some(pid) = self.world.lvsd.pid() else {
            return;
        };
        self.m().disrupt_begin();
        signal(pid, libc::SIGKILL);
        Self::wait_gone(pid, Duration::from_secs(10));
        self.m().event("kill -9", &pid.to_string());
        std::thread::sleep(self.rng.ms(500, 3000));
        let term_first = self.rng.below(2) == 0;
        self.start(term_first);
    }

    pub(crate) fn term_reload(&mut self) {
        let Some(pid) = self.world.lvsd.pid() else {
            return;
        };
        self.edit(true);
        std::thread::sleep(self.rng.ms(0, 400));
        self.m().disrupt_begin();
        signal(pid, libc::SIGTERM);
        if !Self::wait_gone(pid, Duration::from_secs(30)) {
            self.violation(
                "term-reload",
                format!("lvsd {pid} ignored SIGTERM in a reload for 30 s"),
            );
            signal(pid, libc::SIGKILL);
        }
        self.m().event("SIGTERM during a reload", &pid.to_string());
        std::thread::sleep(self.rng.ms(200, 2000));
        self.start(false);
    }

    /// CPU starvation: SIGSTOP for 1-4 s.
    pub(crate) fn starve(&mut self) {
        let Some(pid) = self.world.lvsd.pid() else {
            return;
        };
        let d = self.rng.ms(1000, 4000);
        self.m().disrupt_begin();
        signal(pid, libc::SIGSTOP);
        std::thread::sleep(d);
        signal(pid, libc::SIGCONT);
        self.m().disrupt_end();
        self.m()
            .event("starved (SIGSTOP)", &format!("{} ms", d.as_millis()));
    }
}
