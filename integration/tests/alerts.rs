//! Alerts in the kernel: a real server going down makes lvsd send a mail to
//! an SMTP server (aiosmtpd in the director's namespace) and write `[down]`
//! to the virtual's monitorfile, while the table changes as it should; a
//! stop that removes the service mails the real servers it purged.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::require_vm;
use lvsd_integration::topology::{Mode, Topology};

/// Generous: the VM emulates the CPU (10-50x slower than the host).
const DETECT: Duration = Duration::from_secs(30);
const SMTP_OUT: &str = "/tmp/alerts-smtp.out";
const MONITOR: &str = "/tmp/alerts-monitor.log";

/// aiosmtpd printing each message it receives; killed on drop.
struct Smtp(Child);

impl Smtp {
    fn start(ns: &str, port: u16) -> Smtp {
        let out = std::fs::File::create(SMTP_OUT).expect("smtp output file");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "/usr/bin/python3",
                "-u",
                "-m",
                "aiosmtpd",
            ])
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd (python3-aiosmtpd, integration/deps.txt)");
        let ready = format!("ip netns exec {ns} ss -ltn 'sport = :{port}'");
        wait_for(
            "aiosmtpd listening",
            DETECT,
            || lvsd_integration::sh(&ready),
            |s| s.contains(&format!(":{port}")),
        );
        Smtp(child)
    }

    /// What arrived, long header lines unfolded.
    fn mail() -> String {
        std::fs::read_to_string(SMTP_OUT)
            .unwrap_or_default()
            .replace("\n ", " ")
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_going_down_sends_a_mail_and_is_down_in_the_monitorfile() {
    require_vm();
    let mut t = Topology::new("al", Mode::Nat, 2, 94);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    let rip = t.real_ips[1].clone();
    let _ = std::fs::remove_file(MONITOR);
    let smtp = Smtp::start(&t.director.name, 2525);
    let mut cfg = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=3\nquiescent=no\n\
         emailalert=\"ops@example.com\"\nemailalertfrom=lvs@example.com\n\
         smtp=127.0.0.1:2525\n\
         virtual={vip}:80\n\tservice=http\n\tchecktype=negotiate\n\
         \trequest=\"/index.html\"\n\treceive=\"hello from\"\n\tscheduler=wlc\n\
         \tmonitorfile=\"{MONITOR}\"\n\tservicename=web\n"
    );
    for r in &t.real_ips {
        cfg.push_str(&format!("\treal={r}:80 masq 1\n"));
    }
    let lvsd = Lvsd::new(&t.director.name, "alerts", &cfg);
    lvsd.start();
    assert_eq!(weights(&lvsd.ipvsadm("-S -n"), &svc).len(), 2);
    // Each real added at start is a mail.
    let added = format!("Subject: [web] Added real server: {rip}:80 ({vip}:80) (Weight set to 1)");
    // (The log rides along, for the message if the mail never comes.)
    wait_for(
        "the start-up mail",
        DETECT,
        || format!("{}\n-- lvsd log:\n{}", Smtp::mail(), lvsd.log()),
        |m| m.contains(&added),
    );

    t.httpds[1].stop();
    let deleted = format!("Subject: [web] Deleted real server: {rip}:80 ({vip}:80)");
    let (mail, _) = wait_for(
        "the mail for the real going down",
        DETECT,
        Smtp::mail,
        |m| m.contains(&deleted),
    );
    let msg = &mail[mail.find(&deleted).expect("found")..];
    assert!(msg.contains("Daemon-Status: running"), "{msg}");
    assert!(mail.contains("From: lvs@example.com"), "{mail}");
    assert!(
        !weights(&lvsd.ipvsadm("-S -n"), &svc)
            .iter()
            .any(|(a, _)| *a == format!("{rip}:80")),
        "the real left the table"
    );
    let monitor = std::fs::read_to_string(MONITOR).expect("monitorfile");
    let down = format!("negotiate http tcp {rip} 80 ");
    assert!(
        monitor
            .lines()
            .any(|l| l.contains(&down) && l.contains(" [down] ")),
        "{monitor}"
    );
    assert!(
        monitor
            .lines()
            .any(|l| l.contains(&down) && l.contains(" [up] -")),
        "{monitor}"
    );
    assert!(
        lvsd.log().contains("emailalert: [web] Deleted real server"),
        "{}",
        lvsd.log()
    );
    // Stopping with cleanstop: the real still in the table is purged, and
    // mailed before the daemon exits.
    lvsd.stop();
    let purged = format!(
        "Subject: [web] Purged real server (stop): {}:80 ({vip}:80)",
        t.real_ips[0]
    );
    let (mail, _) = wait_for("the purge mail", DETECT, Smtp::mail, |m| {
        m.contains(&purged)
    });
    let msg = &mail[mail.find(&purged).expect("found")..];
    assert!(msg.contains("Daemon-Status: stopping"), "{msg}");
    drop(smtp);
}
