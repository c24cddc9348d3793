//! Driving lvsd as an operator would, inside a test network: write a
//! configuration, run lvsd's ldirectord-style commands in the director's
//! namespace, read the kernel's table back with ipvsadm.

use std::path::PathBuf;
use std::process::Output;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{lvsd_bin, sh_output};

/// One lvsd instance: its configuration file and its run directory.
pub struct Lvsd {
    pub ns: String,
    pub config: PathBuf,
    pub run_dir: PathBuf,
    /// The program name lvsd is invoked as (`lvsd` or an `ldirectord` link).
    pub program: PathBuf,
    pub log_file: PathBuf,
}

impl Lvsd {
    /// Writes `config_text` to /tmp/NAME.cf (the guest's private /tmp),
    /// with `logfile=/tmp/NAME.log` so each test reads its own log.
    pub fn new(ns: &str, name: &str, config_text: &str) -> Lvsd {
        let config = PathBuf::from(format!("/tmp/{name}.cf"));
        let run_dir = PathBuf::from(format!("/tmp/run-{name}"));
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir).expect("run dir");
        let l = Lvsd {
            ns: ns.to_string(),
            config,
            run_dir,
            program: lvsd_bin(),
            log_file: PathBuf::from(format!("/tmp/{name}.log")),
        };
        let _ = std::fs::remove_file(&l.log_file);
        l.write_config(config_text);
        l
    }

    /// Invoke lvsd as `ldirectord` (a link with that name), as the drop-in.
    pub fn as_ldirectord(mut self) -> Lvsd {
        let link = PathBuf::from("/tmp/ldirectord-bin/ldirectord");
        let _ = std::fs::create_dir_all("/tmp/ldirectord-bin");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(lvsd_bin(), &link).expect("ldirectord link");
        self.program = link;
        self
    }

    /// Writes the configuration, with this instance's `logfile=` first.
    pub fn write_config(&self, text: &str) {
        let text = format!("logfile=\"{}\"\n{text}", self.log_file.display());
        std::fs::write(&self.config, text).expect("write config");
    }

    /// `lvsd ARGS...` in the director namespace; the output, whatever the status.
    pub fn cmd(&self, args: &str) -> Output {
        sh_output(&format!(
            "LVSD_RUN_DIR={} ip netns exec {} {} {args}",
            self.run_dir.display(),
            self.ns,
            self.program.display()
        ))
    }

    /// ldirectord's form: `lvsd CONFIG ACTION`; returns the exit code.
    pub fn action(&self, action: &str) -> (i32, String) {
        let out = self.cmd(&format!("{} {action}", self.config.display()));
        crate::code_and_text(&out)
    }

    /// `start`, asserting success.
    pub fn start(&self) {
        let (code, text) = self.action("start");
        assert_eq!(code, 0, "lvsd start failed:\n{text}\nlog:\n{}", self.log());
    }

    /// `stop`, asserting success.
    pub fn stop(&self) {
        let (code, text) = self.action("stop");
        assert_eq!(code, 0, "lvsd stop failed:\n{text}");
    }

    /// The daemon's pid from its pid file.
    pub fn pid(&self) -> Option<u32> {
        let name = self.config.file_name()?.to_str()?.to_string();
        let prog = self.program.file_name()?.to_str()?.to_string();
        let p = self.run_dir.join(format!("{prog}.{name}.pid"));
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }

    /// The daemon's log (its `logfile=`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// `ipvsadm ARGS` in the director namespace (stdout; panics on failure).
    /// One invocation: `&&` would leave the namespace.
    pub fn ipvsadm(&self, args: &str) -> String {
        let out = sh_output(&format!("ip netns exec {} ipvsadm {args}", self.ns));
        assert!(
            out.status.success(),
            "ipvsadm {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Polls `cond` every 100 ms until it holds; panics with `what` and the last
/// observation after `limit`.
pub fn wait_for<T: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> T,
    cond: impl Fn(&T) -> bool,
) -> (T, Duration) {
    let t0 = Instant::now();
    loop {
        let v = probe();
        if cond(&v) {
            return (v, t0.elapsed());
        }
        if t0.elapsed() > limit {
            panic!("{what}: not within {limit:?}; last seen: {v:?}");
        }
        sleep(Duration::from_millis(100));
    }
}

/// The weights of the reals of one service in `ipvsadm -S -n` output:
/// (real address, weight).
pub fn weights(save: &str, service: &str) -> Vec<(String, u32)> {
    save.lines()
        .filter(|l| l.starts_with(&format!("-a {service} ")))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let r = w.iter().position(|x| *x == "-r")?;
            let wi = w.iter().position(|x| *x == "-w")?;
            Some((w.get(r + 1)?.to_string(), w.get(wi + 1)?.parse().ok()?))
        })
        .collect()
}
