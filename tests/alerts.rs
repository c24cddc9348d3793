//! logfile=, syslog, monitorfile= and the alert mails against real peers: a
//! file moved away as logrotate does, a syslog socket bound here, aiosmtpd
//! (Debian's python3-aiosmtpd) receiving mail, a sendmail program.

mod check_support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use check_support::{free_port, loopback, tempdir, wait_listening, write, Daemon};
use lvsd::check::Outcome;
use lvsd::config::{self, Format};
use lvsd::daemon::alerts::Mail;
use lvsd::daemon::logging::{self, Sink};
use lvsd::daemon::mailer::{self, MailError};
use lvsd::daemon::monitor::MonitorFiles;
use lvsd::director::desired::RealKey;
use tracing::subscriber::with_default;
use tracing_subscriber::layer::SubscriberExt as _;

/// Runs `f` with a subscriber whose only layer copies to `sink`.
fn logged_to(sink: Sink, f: impl FnOnce()) {
    let (layer, handle) = logging::layer();
    handle.set(Some(sink));
    with_default(tracing_subscriber::registry().with(layer), f);
}

#[test]
fn logfile_is_appended_per_line_and_follows_rotation() {
    let dir = tempdir("lvsd-logfile");
    let path = dir.path().join("ldirectord.log");
    let rotated = dir.path().join("ldirectord.log.1");
    logged_to(Sink::File(path.clone()), || {
        tracing::info!(real = "10.0.0.2:80", "first line");
        // logrotate without copytruncate: the file is moved away.
        std::fs::rename(&path, &rotated).expect("rotate");
        tracing::warn!("second line");
    });
    let old = std::fs::read_to_string(&rotated).expect("rotated file");
    let new = std::fs::read_to_string(&path).expect("a new file");
    assert_eq!(old.lines().count(), 1, "{old}");
    assert!(
        old.contains(" INFO alerts: first line real=\"10.0.0.2:80\""),
        "{old}"
    );
    assert_eq!(new.lines().count(), 1, "{new}");
    assert!(new.contains(" WARN alerts: second line"), "{new}");

    // Removed, and truncated in place (copytruncate): the next line lands
    // in whatever file the path names, alone.
    logged_to(Sink::File(path.clone()), || {
        std::fs::remove_file(&path).expect("remove");
        tracing::info!("third line");
        let third = std::fs::read_to_string(&path).expect("recreated");
        assert!(
            third.contains("third line") && third.lines().count() == 1,
            "{third}"
        );
        std::fs::write(&path, "").expect("truncate");
        tracing::info!("fourth line");
    });
    let fourth = std::fs::read_to_string(&path).expect("truncated file");
    assert!(
        fourth.starts_with("20") && fourth.contains("fourth line"),
        "{fourth:?}"
    );
    assert_eq!(fourth.lines().count(), 1, "{fourth}");
}

#[test]
fn an_unwritable_logfile_does_not_stop_logging_once_it_works_again() {
    let dir = tempdir("lvsd-logfile-bad");
    let sub = dir.path().join("missing");
    let path = sub.join("l.log");
    logged_to(Sink::File(path.clone()), || {
        tracing::info!("lost: the directory does not exist");
        tracing::info!("lost too, and said only once");
        std::fs::create_dir(&sub).expect("mkdir");
        tracing::info!("kept");
    });
    let text = std::fs::read_to_string(&path).expect("written once possible");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("kept"), "{text}");
}

#[test]
fn syslog_gets_rfc3164_with_facility_and_severity() {
    let dir = tempdir("lvsd-syslog");
    let socket = dir.path().join("log");
    let server = UnixDatagram::bind(&socket).expect("bind the syslog socket");
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    logged_to(
        Sink::Syslog {
            facility: logging::facility("local0").expect("local0"),
            ident: "ldirectord".into(),
            socket: socket.clone(),
        },
        || {
            tracing::info!(service = "tcp 10.0.0.1:80", "table programmed");
            tracing::warn!("a warning");
            tracing::error!("an error");
        },
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..3 {
        let n = server.recv(&mut buf).expect("a datagram");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let pid = std::process::id();
    // local0 = 16: <16*8+6>, <16*8+4>, <16*8+3>.
    let want = [
        ("<134>", "table programmed service=\"tcp 10.0.0.1:80\""),
        ("<132>", "a warning"),
        ("<131>", "an error"),
    ];
    for (line, (pri, text)) in got.iter().zip(want) {
        assert!(line.starts_with(pri), "{line}");
        // <PRI>Mmm dd hh:mm:ss: 15 characters of time after the PRI.
        let rest = &line[pri.len()..];
        assert_eq!(rest.as_bytes()[15], b' ', "{line}");
        assert!(
            rest[16..].starts_with(&format!("ldirectord[{pid}]: {text}")),
            "{line}"
        );
    }
    // No syslog daemon (the socket gone): logging goes on without it.
    drop(server);
    std::fs::remove_file(&socket).expect("rm socket");
    logged_to(
        Sink::Syslog {
            facility: 3,
            ident: "lvsd".into(),
            socket,
        },
        || tracing::info!("nobody listens"),
    );
}

fn config_with_monitorfile(path: &Path) -> lvsd::config::Config {
    let cf = format!(
        "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tchecktype=connect\n\
         \tmonitorfile=\"{}\"\n",
        path.display()
    );
    let loaded = config::parse(
        Path::new("t.cf"),
        cf.as_bytes(),
        Format::Ldirectord,
        &config::resolve::Static::new(&[], ""),
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded.config
}

#[test]
fn monitorfile_gets_one_line_per_result() {
    let dir = tempdir("lvsd-monitor");
    let path = dir.path().join("monitor.log");
    let c = config_with_monitorfile(&path);
    let m = MonitorFiles::new(&c);
    let key = RealKey {
        service: c.virtuals[0].key,
        real: c.virtuals[0].reals[0].addr,
    };
    m.record(&key, &Outcome::Up);
    m.record(
        &key,
        &Outcome::down("TCP connect to 10.0.0.2:80", "refused|reset\n"),
    );
    m.record(&key, &Outcome::Up);
    let text = std::fs::read_to_string(&path).expect("monitorfile");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let pid = std::process::id();
    for (line, tail) in lines.iter().zip([
        "[up] -",
        // The outcome escaped the newline already (`\n`), the monitorfile the `|`.
        "[down] TCP connect to 10.0.0.2:80: refused%7creset\\n",
        "[up] -",
    ]) {
        assert!(line.starts_with('['), "{line}");
        assert!(
            line.ends_with(&format!(
                "] [{pid}] connect tcp 10.0.0.2 80 1 gate /  {tail}"
            )),
            "{line}"
        );
    }
    // A real without a monitorfile, and a file that cannot be written: no
    // line, no panic.
    let other = RealKey {
        service: key.service,
        real: "10.0.0.9:80".parse().expect("addr"),
    };
    m.record(&other, &Outcome::Up);
    let bad = config_with_monitorfile(&dir.path().join("no/such/dir"));
    m.set_config(&bad);
    m.record(&key, &Outcome::Up);
    assert_eq!(
        std::fs::read_to_string(&path)
            .expect("same")
            .lines()
            .count(),
        3
    );
}

fn mail(smtp: Option<String>) -> Mail {
    Mail {
        to: "ops@example.com, oncall@example.com".into(),
        from: Some("lvs@example.com".into()),
        smtp,
        subject: "[web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)".into(),
        body: "ldirectord host: director\nLog-Message: [web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)\nDaemon-Status: running\n".into(),
    }
}

/// aiosmtpd printing every message it receives (its Debugging handler).
fn start_smtp(port: u16, out: &Path) -> Daemon {
    let file = std::fs::File::create(out).expect("aiosmtpd output");
    let mut command = Command::new("/usr/bin/python3");
    command
        .args([
            "-u",
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(file);
    let mut daemon = Daemon::spawn("aiosmtpd (python3-aiosmtpd)", &mut command);
    wait_listening(loopback(port), "aiosmtpd", Some(&mut daemon.child));
    daemon
}

fn wait_for_text(path: &Path, needle: &str) -> String {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{needle:?} not seen in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn an_alert_reaches_a_real_smtp_server() {
    let dir = tempdir("lvsd-smtp");
    let out = dir.path().join("smtp.out");
    let port = free_port();
    let _smtp = start_smtp(port, &out);
    let m = mail(Some(format!("127.0.0.1:{port}")));
    mailer::deliver(&m, Path::new("/nonexistent"), "director", mailer::TIMEOUT)
        .await
        .expect("delivered");
    let text = wait_for_text(&out, "Daemon-Status: running");
    for needle in [
        "Subject: [web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)",
        "From: lvs@example.com",
        "To: ops@example.com, oncall@example.com",
        "ldirectord host: director",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
}

#[tokio::test]
async fn a_dead_or_silent_mail_server_fails_within_the_deadline() {
    let refused = mail(Some(check_support::closed_port().to_string()));
    let t0 = Instant::now();
    let e = mailer::deliver(&refused, Path::new("/x"), "h", Duration::from_secs(5))
        .await
        .expect_err("nobody listens");
    assert!(matches!(e, MailError::Send(_)), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5));

    // Accepts the connection, never greets.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let m = mail(Some(silent.local_addr().expect("addr").to_string()));
    let t0 = Instant::now();
    let e = mailer::deliver(&m, Path::new("/x"), "h", Duration::from_secs(2))
        .await
        .expect_err("no greeting");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}: {e}"
    );
}

#[tokio::test]
async fn without_smtp_the_mail_goes_through_sendmail() {
    let dir = tempdir("lvsd-sendmail");
    let got = dir.path().join("got");
    let script = write(
        dir.path(),
        "sendmail",
        &format!(
            "#!/bin/sh\necho \"ARGS: $*\" > {0}\ncat >> {0}\n",
            got.display()
        ),
    );
    Command::new("chmod")
        .args(["+x", &script.display().to_string()])
        .status()
        .expect("chmod");
    mailer::deliver(&mail(None), &script, "h", Duration::from_secs(10))
        .await
        .expect("sendmail ran");
    let text = std::fs::read_to_string(&got).expect("sendmail's input");
    assert!(text.contains("ops@example.com"), "{text}");
    assert!(text.contains("oncall@example.com"), "{text}");
    assert!(
        text.contains("Subject: [web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)"),
        "{text}"
    );
    assert!(text.contains("Log-Message: [web] Deleted"), "{text}");

    // A sendmail that fails is an error, not a hang.
    let failing = write(dir.path(), "false-sendmail", "#!/bin/sh\nexit 75\n");
    Command::new("chmod")
        .args(["+x", &failing.display().to_string()])
        .status()
        .expect("chmod");
    let e = mailer::deliver(&mail(None), &failing, "h", Duration::from_secs(10))
        .await
        .expect_err("exit 75");
    assert!(matches!(e, MailError::Send(_)), "{e}");
}

/// The lvsd binary as the daemon runs it. The host has no IPVS, so the
/// director stops at connecting to the kernel; everything logged before
/// (the configuration's warnings) shows where its lines go.
fn lvsd(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .env("LVSD_RUN_DIR", dir)
        .env_remove("LVSD_LOG")
        .output()
        .expect("run lvsd")
}

const NO_QUIESCENT: &str = "quiescent is not set";

#[test]
fn supervised_start_stays_in_the_foreground_and_logs_time_msg_to_stdout() {
    let dir = tempdir("lvsd-supervised");
    let log = dir.path().join("never.log");
    let cf = write(
        dir.path(),
        "sup.cf",
        &format!(
            "supervised=yes\nlogfile=\"{}\"\nvirtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tchecktype=on\n",
            log.display()
        ),
    );
    let out = lvsd(dir.path(), &[&cf.display().to_string(), "start"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains(NO_QUIESCENT))
        .unwrap_or_else(|| panic!("no warning on stdout:\n{stdout}"));
    // [Sun Nov 22 05:30:35 2026] sup.cf:...: warning: ...
    let re =
        regex::Regex::new(r"^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] \S+sup\.cf:\d+: warning")
            .expect("regex");
    assert!(re.is_match(line), "{line}");
    // Supervised: stdout, not the logfile; and no daemon was spawned (the
    // start failed in the foreground, without IPVS here).
    assert!(!log.exists(), "the logfile was written");
    assert!(!out.status.success());
}

#[test]
fn the_daemon_appends_to_its_logfile() {
    let dir = tempdir("lvsd-daemon-log");
    let log = dir.path().join("lvsd.log");
    let cf = write(
        dir.path(),
        "d.cf",
        &format!(
            "logfile=\"{}\"\nvirtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tchecktype=on\n",
            log.display()
        ),
    );
    std::fs::write(&log, "an older line\n").expect("seed");
    let out = lvsd(dir.path(), &["run", &cf.display().to_string()]);
    assert!(!out.status.success(), "no IPVS on the host");
    let text = std::fs::read_to_string(&log).expect("logfile");
    assert!(text.starts_with("an older line\n"), "appended:\n{text}");
    assert!(text.contains(NO_QUIESCENT), "{text}");
    // -d (ldirectord's debug): stderr only.
    let log_d = dir.path().join("debug.log");
    let cf = write(
        dir.path(),
        "dd.cf",
        &format!(
            "logfile=\"{}\"\nvirtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tchecktype=on\n",
            log_d.display()
        ),
    );
    let out = lvsd(dir.path(), &["-d", &cf.display().to_string(), "start"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(NO_QUIESCENT));
    assert!(!log_d.exists(), "-d wrote the logfile");
}
