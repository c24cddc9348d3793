//! Tests of [`super`] (logging.rs).

use super::*;
use chrono::TimeZone as _;

#[test]
fn facilities_and_severities() {
    assert_eq!(facility("local0"), Some(16));
    assert_eq!(facility("LOCAL7"), Some(23));
    assert_eq!(facility("daemon"), Some(3));
    assert_eq!(facility("local8"), None);
    assert_eq!(facility("bogus"), None);
    assert_eq!(severity(&Level::ERROR), 3);
    assert_eq!(severity(&Level::WARN), 4);
    assert_eq!(severity(&Level::INFO), 6);
    assert_eq!(severity(&Level::DEBUG), 7);
}

#[test]
fn line_formats() {
    let local = chrono::Local
        .with_ymd_and_hms(2026, 11, 2, 5, 3, 9)
        .single()
        .expect("a plain local time");
    assert_eq!(ctime(&local), "Mon Nov  2 05:03:09 2026");
    assert_eq!(stdout_line(&local, "hi"), "[Mon Nov  2 05:03:09 2026] hi\n");
    assert_eq!(
        syslog_line(&local, 16, &Level::WARN, "lvsd", 42, "x y=1"),
        "<132>Nov  2 05:03:09 lvsd[42]: x y=1"
    );
    let utc = chrono::Utc
        .with_ymd_and_hms(2026, 11, 22, 4, 11, 29)
        .single()
        .expect("utc");
    assert_eq!(
        file_line(&utc, &Level::INFO, "lvsd::daemon::run", "m k=v"),
        "2026-11-22T04:11:29.000000Z  INFO lvsd::daemon::run: m k=v\n"
    );
}

#[test]
fn config_picks_the_sink() {
    let mut g = Global::default();
    assert_eq!(
        Sink::for_config(&g, false),
        Some(Sink::File(PathBuf::from("/var/log/ldirectord.log")))
    );
    assert_eq!(Sink::for_config(&g, true), None);
    g.logfile = LogTarget::Syslog("local3".into());
    assert!(matches!(
        Sink::for_config(&g, false),
        Some(Sink::Syslog { facility: 19, .. })
    ));
    g.supervised = true;
    assert_eq!(Sink::for_config(&g, false), Some(Sink::Stdout));
}
