//! The packaged units under the real systemd: the .deb from this tree is
//! installed in the VM, and /lib/systemd/systemd runs as PID 1 of its own PID,
//! mount and cgroup namespaces inside a network namespace (as in a container:
//! `container=` is set, so it skips what only a host boot does). The units'
//! sandbox is systemd's own, with no test knob: start, reload (good and bad
//! files), an external check, a sendmail alert, logrotate, an instance beside
//! the main unit, the watchdog and stop.

use std::time::{Duration, Instant};

use lvsd_integration::director::wait_for;
use lvsd_integration::ocf::install_deb;
use lvsd_integration::{code_and_text, require_vm, sh, sh_output, Netns};

/// Generous: the VM emulates the CPU.
const LIMIT: Duration = Duration::from_secs(120);
/// The unit's WatchdogSec=30, then RestartSec=2, then a start.
const WATCHDOG_LIMIT: Duration = Duration::from_secs(150);

const TEST_DIR: &str = "/usr/local/lib/lvsd-test";
const CHECK: &str = "/usr/local/lib/lvsd-test/check";
const DOWN_FLAG: &str = "/var/log/lvsd-test-down";
const CHECK_LOG: &str = "/var/log/lvsd-test-check.log";
/// Like postfix's maildrop: writable only through a setgid helper.
const MAILDROP: &str = "/var/spool/lvsd-test-mail/maildrop";
const DROP_GID: u32 = 4242;
const LOGFILE: &str = "/var/log/lvsd.log";
const MAIN_PIDFILE: &str = "/run/lvsd.ldirectord.pid";
const WEB_PIDFILE: &str = "/run/lvsd.web.cf.pid";

const MASKED: &[&str] = &[
    "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-setup-dev.service",
    "systemd-update-utmp.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "systemd-journal-flush.service",
    "systemd-timesyncd.service",
    "systemd-pstore.service",
    "systemd-sysusers.service",
    "systemd-random-seed.service",
    "systemd-modules-load.service",
    "systemd-sysctl.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-firstboot.service",
    "systemd-repart.service",
    "systemd-machine-id-commit.service",
    "kmod-static-nodes.service",
];

/// systemd as PID 1 of its own namespaces; killed (with all it runs) on drop.
struct Systemd {
    /// PID 1 of the namespace, as the VM sees it.
    pid: u32,
    netns: Netns,
}

impl Systemd {
    fn boot(netns: Netns) -> Systemd {
        // sysinit.target and the journal, which lvsd.service's default
        // dependencies need: not the host's multi-user.target with its
        // databases and daemons.
        std::fs::write(
            "/etc/systemd/system/lvsd-test.target",
            "[Unit]\nDescription=lvsd test\n\
             Wants=sysinit.target systemd-journald.service\nAfter=sysinit.target\n",
        )
        .expect("write lvsd-test.target");
        // What a container boot does not need, each slow under TCG: none of
        // them is a dependency of the lvsd units.
        for unit in MASKED {
            let link = format!("/etc/systemd/system/{unit}");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/dev/null", &link)
                .unwrap_or_else(|e| panic!("mask {unit}: {e}"));
        }
        // Runs as PID 1 of the new namespaces, then becomes systemd.
        let init = format!("{TEST_DIR}/init");
        std::fs::write(
            &init,
            "#!/bin/sh\nset -e\numount /sys/fs/cgroup 2>/dev/null || true\n\
             mount -t cgroup2 none /sys/fs/cgroup\n\
             mount -t tmpfs tmpfs /run\nmount -t tmpfs tmpfs /tmp\n\
             exec env container=lvsd-test /lib/systemd/systemd --unit=lvsd-test.target\n",
        )
        .expect("write init");
        sh(&format!(
            "chmod 755 {init} && mkdir -p /sys/fs/cgroup && \
             {{ mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup; }} && \
             mkdir -p /sys/fs/cgroup/lvsd-test"
        ));
        // The launcher moves itself into its own cgroup first, so that the
        // cgroup namespace's root (systemd's whole tree) is that cgroup; it
        // then becomes unshare, whose child is systemd.
        let launcher = sh(&format!(
            "sh -c 'echo $$ > /sys/fs/cgroup/lvsd-test/cgroup.procs && \
             exec ip netns exec {} unshare --cgroup --pid --fork --mount --mount-proc {init}' \
             < /dev/null > /tmp/lvsd-test-systemd.log 2>&1 & echo $!",
            netns.name
        ));
        let launcher = launcher.trim().to_string();
        let (pid, _) = wait_for(
            "systemd as PID 1 of the namespace",
            LIMIT,
            || sh_output(&format!("pgrep -x systemd -P {launcher}")).stdout,
            |o| !o.is_empty(),
        );
        let pid: u32 = String::from_utf8_lossy(&pid)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("systemd's pid: {pid:?}"));
        let sd = Systemd { pid, netns };
        wait_for(
            "systemd has booted",
            LIMIT,
            || sd.run("systemctl is-system-running").1,
            |s| s.trim() == "running" || s.trim() == "degraded",
        );
        sd
    }

    /// A command inside systemd's namespaces: (exit code, stdout+stderr).
    fn run(&self, cmd: &str) -> (i32, String) {
        let out = sh_output(&format!(
            "nsenter -t {} -m -p -n -- sh -c '{}'",
            self.pid,
            cmd.replace('\'', r"'\''")
        ));
        code_and_text(&out)
    }

    #[track_caller]
    fn ok(&self, cmd: &str) -> String {
        let (code, text) = self.run(cmd);
        assert_eq!(code, 0, "{cmd}: exit {code}\n{text}");
        text
    }

    fn prop(&self, unit: &str, name: &str) -> String {
        self.ok(&format!("systemctl show -P {name} {unit}"))
            .trim()
            .to_string()
    }

    /// Waits until `unit` is active again (after a reload or a restart).
    fn wait_active(&self, unit: &str, what: &str) {
        wait_for(
            what,
            LIMIT,
            || self.prop(unit, "ActiveState"),
            |s| s == "active",
        );
    }

    fn journal(&self, unit: &str) -> String {
        self.run(&format!("journalctl --no-pager -o cat -u {unit}"))
            .1
    }

    /// The pid in a file of systemd's /run, or "" without the file.
    fn pidfile(&self, path: &str) -> String {
        self.run(&format!("cat {path} 2>/dev/null"))
            .1
            .trim()
            .to_string()
    }

    fn table(&self) -> String {
        sh(&format!("ip netns exec {} ipvsadm -S -n", self.netns.name))
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        // PID 1 of a PID namespace takes every process in it along.
        let _ = sh_output(&format!("kill -KILL {}", self.pid));
    }
}

fn config(extra_virtual: &str) -> String {
    format!(
        "checkinterval=2\ncheckcount=1\nquiescent=no\nlogfile=\"{LOGFILE}\"\n\
         emailalert=\"ops@example.invalid\"\nemailalertfrom=\"lvsd@example.invalid\"\n\
         virtual=10.77.0.100:80\n\treal=10.77.0.9:80 masq\n\tchecktype=external\n\
         \tcheckcommand=\"{CHECK}\"\n\tscheduler=wlc\n{extra_virtual}"
    )
}

fn write(path: &str, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

/// Test doubles. An external check that fails while DOWN_FLAG exists, and
/// writes a temporary file and a line in /var/log as scripts do. A sendmail
/// that queues the mail as postfix's does: through a setgid helper into a
/// maildrop directory that only the helper's group may write.
fn install_doubles() {
    sh(&format!(
        "mkdir -p {TEST_DIR} {MAILDROP} /etc/ha.d && rm -f {MAILDROP}/* {CHECK_LOG} {DOWN_FLAG} {LOGFILE}*
chown 65534:{DROP_GID} {MAILDROP} && chmod 1730 {MAILDROP}
cp /usr/bin/tee {TEST_DIR}/postdrop && chown 0:{DROP_GID} {TEST_DIR}/postdrop && chmod 2755 {TEST_DIR}/postdrop
cat > {CHECK} <<'EOF'
#!/bin/sh
t=$(mktemp) || exit 2
echo \"$@\" > \"$t\" && rm -f \"$t\"
echo \"check $*\" >> {CHECK_LOG}
[ ! -e {DOWN_FLAG} ]
EOF
cat > /usr/sbin/sendmail <<'EOF'
#!/bin/sh
{{ echo \"ARGS: $*\"; cat; }} | {TEST_DIR}/postdrop {MAILDROP}/msg.$$ > /dev/null
EOF
chmod 755 {CHECK} /usr/sbin/sendmail"
    ));
    // The double is a real model: a user without the group cannot queue
    // but through the helper's setgid bit.
    let out = sh_output(&format!(
        "echo probe | setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/sendmail x \
         && cat {MAILDROP}/msg.* && rm -f {MAILDROP}/msg.*"
    ));
    let (code, text) = code_and_text(&out);
    assert!(
        code == 0 && text.contains("probe"),
        "setgid sendmail double: {text}"
    );
}

/// How long each step took, for the report (the VM emulates the CPU).
fn step(t0: &mut Instant, what: &str) {
    eprintln!(
        "systemd test: {what} in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    *t0 = Instant::now();
}

#[test]
fn the_packaged_units_run_under_systemd() {
    require_vm();
    let mut t0 = Instant::now();
    install_deb();
    install_doubles();
    step(&mut t0, "install");
    let ns = Netns::new("sdt");
    ns.sh("ip link add d0 type dummy && ip addr add 10.77.0.1/24 dev d0 && ip link set d0 up");
    // Someone else's service, which lvsd must leave alone.
    ns.sh("ipvsadm -A -t 10.77.0.200:80 -s rr");
    write("/etc/ha.d/ldirectord.cf", &config(""));
    let sd = Systemd::boot(ns);
    step(&mut t0, "boot");

    // start returns after READY=1: the table is programmed by then.
    sd.ok("systemctl start lvsd");
    let t = sd.table();
    assert!(
        t.contains("-A -t 10.77.0.100:80"),
        "the table is not programmed when systemctl start returns:\n{t}"
    );
    assert_eq!(sd.prop("lvsd", "ActiveState"), "active");
    assert_eq!(sd.pidfile(MAIN_PIDFILE), sd.prop("lvsd", "MainPID"));
    step(&mut t0, "systemctl start lvsd");
    // The external check runs in the sandbox and brings the real in.
    wait_for(
        "the external check brings the real in",
        LIMIT,
        || sd.table(),
        |t| t.contains("-r 10.77.0.9:80"),
    );
    let checks = sh(&format!("cat {CHECK_LOG}"));
    assert!(checks.contains("10.77.0.9"), "{checks}");

    // reload with a good file.
    let extra = "virtual=10.77.0.101:80\n\treal=10.77.0.9:80 masq\n\tchecktype=on\n";
    write("/etc/ha.d/ldirectord.cf", &config(extra));
    sd.ok("systemctl reload lvsd");
    wait_for(
        "reload adds 10.77.0.101",
        LIMIT,
        || sd.table(),
        |t| t.contains("10.77.0.101:80"),
    );
    sd.wait_active("lvsd", "active after the reload");
    // reload with a bad file: systemctl reports it, the daemon serves on.
    let main_pid = sd.prop("lvsd", "MainPID");
    write(
        "/etc/ha.d/ldirectord.cf",
        "virtual=10.77.0.102:80\n\tbogus=1\n",
    );
    let (code, text) = sd.run("systemctl reload lvsd");
    assert_ne!(code, 0, "systemctl reload of a bad file succeeded: {text}");
    let j = sd.journal("lvsd");
    assert!(
        j.contains("ldirectord.cf:2"),
        "no FILE:LINE in the journal:\n{j}"
    );
    // The daemon itself given the bad file (a HUP from elsewhere) keeps
    // its table and says so in systemctl status.
    sd.ok("systemctl kill -s HUP --kill-who=main lvsd");
    wait_for(
        "the daemon's own reload of the bad file fails",
        LIMIT,
        || sd.prop("lvsd", "StatusText"),
        |s| s.starts_with("reload failed"),
    );
    sd.wait_active("lvsd", "active after the failed reload");
    assert_eq!(sd.prop("lvsd", "MainPID"), main_pid);
    let t = sd.table();
    assert!(
        t.contains("10.77.0.101:80") && !t.contains("10.77.0.102"),
        "{t}"
    );
    write("/etc/ha.d/ldirectord.cf", &config(extra));
    sd.ok("systemctl reload lvsd");
    step(&mut t0, "reloads");

    // logrotate with the shipped file: lvsd goes on in the new file.
    wait_for(
        "lvsd logs to logfile=",
        LIMIT,
        || sh(&format!("cat {LOGFILE} 2>/dev/null || true")),
        |l| !l.is_empty(),
    );
    sh("logrotate -f /etc/logrotate.d/lvsd");
    assert!(std::path::Path::new("/var/log/lvsd.log.1").exists());
    sh(&format!("touch {DOWN_FLAG}"));
    wait_for(
        "the real's failure logged in the rotated-to file",
        LIMIT,
        || sh(&format!("cat {LOGFILE} 2>/dev/null || true")),
        |l| l.contains("10.77.0.9:80"),
    );
    // The alert for that failure, through the local (setgid) sendmail.
    let (mail, _) = wait_for(
        "an alert mail through /usr/sbin/sendmail, or its failure",
        LIMIT,
        || {
            let m = sh(&format!("cat {MAILDROP}/msg.* 2>/dev/null || true"));
            (m, sd.journal("lvsd"))
        },
        |(m, j)| m.contains("10.77.0.9") || j.contains("cannot send the alert mail"),
    );
    assert!(
        mail.0.contains("ops@example.invalid"),
        "no alert mail queued; the journal:\n{}",
        mail.1
    );
    sh(&format!("rm -f {DOWN_FLAG}"));
    step(&mut t0, "check, logrotate and the alert");

    // An instance beside lvsd.service: its own pid and state files, both
    // tables in the kernel.
    write(
        "/etc/ha.d/web.cf",
        "virtual=10.77.0.110:80\n\treal=10.77.0.9:80 masq\n\tchecktype=on\n",
    );
    sd.ok("systemctl start lvsd@web.cf");
    let t = sd.table();
    assert!(
        t.contains("10.77.0.110:80") && t.contains("10.77.0.100:80"),
        "{t}"
    );
    assert_eq!(sd.prop("lvsd", "ActiveState"), "active");
    let web_pid = sd.prop("lvsd@web.cf", "MainPID");
    assert_eq!(sd.pidfile(WEB_PIDFILE), web_pid);
    assert_eq!(sd.pidfile(MAIN_PIDFILE), sd.prop("lvsd", "MainPID"));
    assert_ne!(web_pid, sd.prop("lvsd", "MainPID"));
    let locks = sd.ok("ls /run/lvsd");
    assert!(
        locks.contains("ldirectord-") && locks.contains("web.cf-"),
        "{locks}"
    );
    sd.ok("systemctl stop lvsd@web.cf");
    let t = sd.table();
    assert!(
        !t.contains("10.77.0.110") && t.contains("10.77.0.100:80"),
        "{t}"
    );
    // The shared RuntimeDirectory= outlives the instance's stop.
    let locks = sd.ok("ls /run/lvsd");
    assert!(locks.contains("ldirectord-"), "{locks}");
    assert_eq!(sd.pidfile(WEB_PIDFILE), "");
    step(&mut t0, "lvsd@web.cf beside lvsd");

    // The watchdog: a hung lvsd (SIGSTOP) is killed and started again.
    let hung = sd.prop("lvsd", "MainPID");
    sd.ok(&format!("kill -STOP {hung}"));
    wait_for(
        "the watchdog restarts the hung lvsd",
        WATCHDOG_LIMIT,
        || (sd.prop("lvsd", "MainPID"), sd.prop("lvsd", "ActiveState")),
        |(pid, state)| pid != &hung && pid != "0" && state == "active",
    );
    let j = sd.journal("lvsd");
    assert!(j.contains("Watchdog timeout"), "{j}");
    let t = sd.table();
    assert!(
        t.contains("10.77.0.100:80") && t.contains("10.77.0.101:80"),
        "{t}"
    );
    step(&mut t0, "watchdog restart");

    // stop removes lvsd's services (cleanstop) and its pid file, and
    // keeps the foreign service.
    sd.ok("systemctl stop lvsd");
    let t = sd.table();
    assert!(
        !t.contains("10.77.0.100") && !t.contains("10.77.0.101"),
        "{t}"
    );
    assert!(t.contains("10.77.0.200:80"), "{t}");
    assert_eq!(sd.pidfile(MAIN_PIDFILE), "", "the pid file outlived stop");
    assert_eq!(sd.prop("lvsd", "ActiveState"), "inactive");
    step(&mut t0, "systemctl stop lvsd");
}
