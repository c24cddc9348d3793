//! Tests of [`super`] (alerts.rs).

use super::*;
use crate::ipvs::{Dest, Forward};

fn config(extra: &str) -> Config {
    let cf = format!(
        "emailalert=\"ops@example.com\"\nemailalertfrom=lvs@example.com\n{extra}\
         virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\treal=10.0.0.3:80 gate\n\
         \tfallback=127.0.0.1:80\n\tservicename=web\n\tcomment=front\n"
    );
    crate::config::test_config(&cf)
}

fn view_of(c: &Config) -> View {
    let none = Default::default();
    crate::director::view::build(c, &Table::new(), true, &none, &Default::default())
}

fn key() -> ServiceKey {
    ServiceKey::Inet {
        protocol: crate::ipvs::Protocol::Tcp,
        addr: "10.0.0.1:80".parse().unwrap(),
    }
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn subjects(m: &[Mail]) -> Vec<&str> {
    m.iter().map(|m| m.subject.as_str()).collect()
}

#[test]
fn one_mail_per_change_with_ldirectords_words() {
    let c = config("");
    let mut al = Alerts::default();
    let t = Instant::now();
    let changes = [
        Change::AddDest(key(), a("10.0.0.2:80"), Dest::new(Forward::Route, 1)),
        Change::EditDest(key(), a("10.0.0.3:80"), Dest::new(Forward::Route, 0)),
        Change::DelDest(key(), a("10.0.0.2:80")),
        Change::EditDest(key(), a("10.0.0.3:80"), Dest::new(Forward::Route, 5)),
        Change::AddDest(key(), a("127.0.0.1:80"), Dest::new(Forward::Route, 1)),
    ];
    let m = al.changes(&c, &view_of(&c), &changes, Phase::Running, t, "director");
    assert_eq!(
        subjects(&m),
        [
            "[web] Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)",
            "[web] Quiescent real server: 10.0.0.3:80 (10.0.0.1:80) (Weight set to 0)",
            "[web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)",
            "[web] Restored real server: 10.0.0.3:80 (10.0.0.1:80) (Weight set to 5)",
            "[web] Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)",
        ]
    );
    assert_eq!(m[0].to, "ops@example.com");
    assert_eq!(m[0].from.as_deref(), Some("lvs@example.com"));
    assert_eq!(m[0].smtp, None);
    assert_eq!(
        m[2].body,
        "ldirectord host: director\n\
         Log-Message: [web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)\n\
         Daemon-Status: running\n\nService name: web\nComment: front\n"
    );
    // Service-level changes are not about a real server.
    let m = al.changes(
        &c,
        &view_of(&c),
        &[Change::DelService(key())],
        Phase::Running,
        t,
        "director",
    );
    assert!(m.is_empty());
}

#[test]
fn no_address_or_a_filtered_state_sends_nothing() {
    let mut c = config("emailalertstatus=starting,stopping\n");
    let mut al = Alerts::default();
    let t = Instant::now();
    let del = [Change::DelDest(key(), a("10.0.0.2:80"))];
    assert!(al
        .changes(&c, &view_of(&c), &del, Phase::Running, t, "h")
        .is_empty());
    assert!(al
        .changes(&c, &view_of(&c), &del, Phase::Reloading, t, "h")
        .is_empty());
    assert_eq!(
        al.changes(&c, &view_of(&c), &del, Phase::Starting, t, "h")
            .len(),
        1
    );
    assert_eq!(
        al.changes(&c, &view_of(&c), &del, Phase::Stopping, t, "h")
            .len(),
        1
    );
    c.virtuals[0].emailalert = None;
    assert!(al
        .changes(&c, &view_of(&c), &del, Phase::Starting, t, "h")
        .is_empty());
}

#[test]
fn reminders_every_freq_while_out_until_restored() {
    let mut c = config("emailalertfreq=60\n");
    c.virtuals[0].smtp = Some("mx:2525".into());
    let mut al = Alerts::default();
    let t0 = Instant::now();
    let at = |s| t0 + Duration::from_secs(s);
    let del = [Change::DelDest(key(), a("10.0.0.2:80"))];
    assert_eq!(
        al.changes(&c, &view_of(&c), &del, Phase::Running, t0, "h")
            .len(),
        1
    );
    assert!(al.due(&c, Phase::Running, at(59), "h").is_empty());
    let m = al.due(&c, Phase::Running, at(60), "h");
    assert_eq!(
        subjects(&m),
        ["[web] Inaccessible real server: 10.0.0.2:80 (10.0.0.1:80)"]
    );
    assert_eq!(m[0].smtp.as_deref(), Some("mx:2525"));
    assert!(al.due(&c, Phase::Running, at(119), "h").is_empty());
    // A filtered state skips the mail but keeps the schedule.
    assert!(al.due(&c, Phase::Running, at(120), "h").len() == 1);
    c.virtuals[0].emailalertstatus = AlertStatus::NONE;
    assert!(al.due(&c, Phase::Running, at(180), "h").is_empty());
    c.virtuals[0].emailalertstatus = AlertStatus::ALL;
    assert!(al.due(&c, Phase::Running, at(200), "h").is_empty());
    assert_eq!(al.due(&c, Phase::Running, at(240), "h").len(), 1);
    // Back in: no more reminders.
    let add = [Change::AddDest(
        key(),
        a("10.0.0.2:80"),
        Dest::new(Forward::Route, 1),
    )];
    assert_eq!(
        al.changes(&c, &view_of(&c), &add, Phase::Running, at(241), "h")
            .len(),
        1
    );
    assert_eq!(al.outstanding(), 0);
    assert!(al.due(&c, Phase::Running, at(1000), "h").is_empty());
}

#[test]
fn cleanstop_purges_are_mailed_per_real_while_stopping() {
    let mut c = config("");
    let mut table = Table::new();
    let mut entry = crate::ipvs::table::ServiceEntry::new(crate::ipvs::Service::new(
        "wlc",
        crate::ipvs::Family::Inet,
    ));
    entry
        .dests
        .insert(a("10.0.0.2:80"), Dest::new(Forward::Route, 1));
    entry
        .dests
        .insert(a("10.0.0.3:80"), Dest::new(Forward::Route, 0));
    table.services.insert(key(), entry);
    let mut al = Alerts::default();
    let m = al.purged(&c, &table, &[key()], "h");
    assert_eq!(
        subjects(&m),
        [
            "[web] Purged real server (stop): 10.0.0.2:80 (10.0.0.1:80)",
            "[web] Purged real server (stop): 10.0.0.3:80 (10.0.0.1:80)",
        ]
    );
    assert!(m[0].body.contains("Daemon-Status: stopping\n"));
    // Not removed (cleanstop=no, or the kernel refused): no mail.
    assert!(al.purged(&c, &table, &[], "h").is_empty());
    c.virtuals[0].emailalertstatus.stopping = false;
    assert!(al.purged(&c, &table, &[key()], "h").is_empty());
}

#[test]
fn no_reminders_without_freq_or_for_the_fallback() {
    let c = config("");
    let mut al = Alerts::default();
    let t0 = Instant::now();
    let del = [Change::DelDest(key(), a("10.0.0.2:80"))];
    al.changes(&c, &view_of(&c), &del, Phase::Running, t0, "h");
    assert_eq!(al.outstanding(), 0);
    let c = config("emailalertfreq=10\n");
    let fb = [Change::DelDest(key(), a("127.0.0.1:80"))];
    let m = al.changes(&c, &view_of(&c), &fb, Phase::Running, t0, "h");
    assert_eq!(
        subjects(&m),
        ["[web] Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)"]
    );
    assert_eq!(al.outstanding(), 0);
    // A virtual removed (reload) drops its reminders.
    al.changes(&c, &view_of(&c), &del, Phase::Running, t0, "h");
    assert_eq!(al.outstanding(), 1);
    let gone = Config {
        global: c.global.clone(),
        virtuals: Vec::new(),
    };
    assert!(al
        .due(&gone, Phase::Running, t0 + Duration::from_secs(99), "h")
        .is_empty());
    assert_eq!(al.outstanding(), 0);
}
