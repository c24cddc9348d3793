//! What lvsd runs on the operator's behalf (`callback=`, `fallbackcommand=`,
//! external checks) and what it writes (monitorfile), with hostile values:
//! no shell ever reads a configuration value, each word reaches the program
//! as one argument, the program gets a minimal environment, and a
//! monitorfile that cannot be written is reported, not once per probe.

mod check_support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::External;
use lvsd::check::{CheckKind, Outcome, Prober};
use lvsd::config::{self, Format};
use lvsd::daemon::hooks::Hooks;
use lvsd::daemon::monitor::MonitorFiles;
use lvsd::director::desired::RealKey;

/// The environment every command lvsd starts gets, whatever lvsd's own.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A script that writes its arguments, one per line, to `DIR/NAME.args` and
/// its environment to `DIR/NAME.env`.
fn recorder(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(format!("{name}.sh"));
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {d}/{name}.args\n/usr/bin/env > {d}/{name}.env\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Words that a shell would turn into other commands.
fn hostile(dir: &Path) -> (String, Vec<String>) {
    let d = dir.display();
    let words = [
        format!("a;touch${{IFS}}{d}/pwned1"),
        format!("$(touch {d}/pwned2)"),
        format!("`touch {d}/pwned3`"),
        "|".to_string(),
        format!("touch {d}/pwned4"),
        "-rf".to_string(),
    ];
    // What the split gives: one argument per whitespace-separated word.
    let args = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(str::to_string)
        .collect();
    (words.join(" "), args)
}

fn assert_no_second_command(dir: &Path) {
    for i in 1..=4 {
        let p = dir.join(format!("pwned{i}"));
        assert!(!p.exists(), "a shell ran: {} exists", p.display());
    }
}

/// The child's environment is PATH alone (plus what `/bin/sh` sets for
/// itself), with a safe PATH, and nothing of lvsd's own.
fn assert_minimal_env(env_file: &Path) {
    let env = lines(env_file);
    let names: Vec<&str> = env.iter().filter_map(|l| l.split('=').next()).collect();
    for n in &names {
        assert!(
            matches!(*n, "PATH" | "PWD" | "SHLVL" | "_" | "OLDPWD"),
            "{n} reached the child: {env:?}"
        );
    }
    assert!(env.contains(&format!("PATH={PATH}")), "{env:?}");
}

fn config(text: &str) -> config::model::Config {
    let loaded = config::parse(
        Path::new("t.cf"),
        text.as_bytes(),
        Format::Ldirectord,
        &config::resolve::Static::new(&[], ""),
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded.config
}

#[tokio::test]
async fn callback_runs_without_a_shell_with_one_argument_per_word() {
    let dir = tempdir("lvsd-callback");
    let rec = recorder(dir.path(), "cb");
    let (words, mut args) = hostile(dir.path());
    let hooks = Hooks::new(Duration::from_secs(20));
    let cfg = dir.path().join("my conf;$(id).cf");
    let done = hooks.callback(&format!("{} {words}", rec.display()), &cfg);
    tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("callback ended")
        .expect("callback queue");
    assert_no_second_command(dir.path());
    args.push(cfg.display().to_string());
    assert_eq!(lines(&dir.path().join("cb.args")), args);
    assert_minimal_env(&dir.path().join("cb.env"));
}

#[tokio::test]
async fn fallbackcommand_runs_without_a_shell_with_the_virtuals_arguments() {
    let dir = tempdir("lvsd-fallbackcommand");
    let rec = recorder(dir.path(), "fb");
    let (words, mut args) = hostile(dir.path());
    let c = config(&format!(
        "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 masq\n\tchecktype=on\n\
         \tfallbackcommand=\"{} {words}\"\n",
        rec.display()
    ));
    let v = &c.virtuals[0];
    let cmd = v.fallbackcommand.clone().expect("fallbackcommand");
    let hooks = Hooks::new(Duration::from_secs(20));
    let done = hooks.fallback_command(&cmd, "start", v);
    tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("fallbackcommand ended")
        .expect("fallbackcommand queue");
    assert_no_second_command(dir.path());
    args.extend(["start", "10.0.0.1:80", "tcp"].map(str::to_string));
    assert_eq!(lines(&dir.path().join("fb.args")), args);
    assert_minimal_env(&dir.path().join("fb.env"));
}

#[tokio::test]
async fn an_external_check_gets_its_four_arguments_and_a_minimal_environment() {
    let dir = tempdir("lvsd-external-env");
    let rec = recorder(dir.path(), "ext");
    // A path with a space and a `;`: one program, no shell.
    let odd = dir.path().join("check me;touch pwned1");
    std::fs::copy(&rec, &odd).unwrap();
    std::fs::set_permissions(&odd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut p = probe(
        "[::1]:8080".parse().unwrap(),
        CheckKind::External(External {
            command: odd,
            perl: false,
        }),
        Duration::from_secs(10),
    );
    p.target.real_port = 8080;
    let (o, _) = run(&Prober::new(), &p).await;
    assert_up(&o, "the recorder exits 0");
    assert_no_second_command(dir.path());
    assert_eq!(
        lines(&dir.path().join("ext.args")),
        ["192.0.2.10", "80", "::1", "8080"]
    );
    assert_minimal_env(&dir.path().join("ext.env"));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_monitorfile_that_cannot_be_written_is_reported_once_not_per_result() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Every write to /dev/full fails with ENOSPC: a full disk.
    let c = config(
        "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\treal=10.0.0.3:80 gate\n\
         \tchecktype=connect\n\tmonitorfile=\"/dev/full\"\n",
    );
    let m = MonitorFiles::new(&c);
    let keys: Vec<RealKey> = c.virtuals[0]
        .reals
        .iter()
        .map(|r| RealKey {
            service: c.virtuals[0].key,
            real: r.addr,
        })
        .collect();
    const FAILURES: usize = 200;
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..FAILURES {
            let outcome = if i % 2 == 0 {
                Outcome::Up
            } else {
                Outcome::down("TCP connect", "refused")
            };
            m.record(&keys[i % keys.len()], &outcome);
        }
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("/dev/full")).collect();
    assert_eq!(
        errors.len(),
        1,
        "{FAILURES} failed writes gave {} log lines:\n{text}",
        errors.len()
    );
    assert!(
        errors[0].contains("ERROR") && errors[0].contains("No space left on device"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn sendmail_gets_every_address_as_an_operand_and_a_minimal_environment() {
    use lvsd::daemon::alerts::Mail;
    let dir = tempdir("lvsd-sendmail-hostile");
    let rec = recorder(dir.path(), "sm");
    // Addresses that sendmail would read as options if they came first.
    let mail = Mail {
        to: "-oQ/tmp/evil@example.com, ops@example.com".into(),
        from: Some("-Ctmp@example.com".into()),
        smtp: None,
        subject: "[web] $(touch pwned1)".into(),
        body: "Log-Message: `touch pwned2`\n".into(),
    };
    lvsd::daemon::mailer::deliver(&mail, &rec, "h", Duration::from_secs(10))
        .await
        .expect("sendmail ran");
    assert_no_second_command(dir.path());
    assert_eq!(
        lines(&dir.path().join("sm.args")),
        [
            "-i",
            "-f",
            "-Ctmp@example.com",
            "--",
            "-oQ/tmp/evil@example.com",
            "ops@example.com"
        ]
    );
    assert_minimal_env(&dir.path().join("sm.env"));
}

#[tokio::test]
async fn an_execute_instance_named_like_an_option_is_passed_as_an_operand() {
    use lvsd::daemon::execute::Program;
    let dir = tempdir("lvsd-execute-hostile");
    let rec = recorder(dir.path(), "ex");
    let program = Program {
        path: rec,
        arg0: "lvsd".into(),
    };
    // `execute=-d` must not start a debug daemon of the default file.
    assert!(program.run("-d", "start").await, "the recorder exits 0");
    assert_eq!(lines(&dir.path().join("ex.args")), ["--", "-d", "start"]);
}
