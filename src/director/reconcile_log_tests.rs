//! How much a pass logs: a line per change, except for a full pass too
//! big for one (a start programming thousands of reals).

use super::*;
use crate::check::Health;
use crate::ipvs::memory::MemoryKernel;

/// The INFO lines written while `f` runs.
fn info_lines(f: impl FnOnce()) -> Vec<String> {
    let log = crate::testlog::Captured::default();
    tracing::subscriber::with_default(log.subscriber(), f);
    log.lines()
}

/// VIRTUALS virtuals of 10 reals each.
fn config(virtuals: u8) -> Config {
    let mut text = String::new();
    for v in 0..virtuals {
        text += &format!("virtual=10.0.{v}.1:80\n\tchecktype=connect\n");
        for r in 1..=10 {
            text += &format!("\treal=10.1.{v}.{r}:80 masq 1\n");
        }
    }
    crate::config::test_config(&text)
}

fn applied(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.contains("applied")).count()
}

#[test]
fn a_start_of_thousands_logs_one_line_and_each_change_at_debug() {
    let c = config(20);
    let facts = Facts::all_up(&c);
    let mut d = Director::new(MemoryKernel::default(), c, Owned::new(), None);
    let mut report = None;
    let lines = info_lines(|| report = Some(d.reconcile(&facts).unwrap()));
    let report = report.unwrap();
    assert_eq!(report.applied.len(), 220);
    assert_eq!(applied(&lines), 1, "{lines:#?}");
    let line = lines.iter().find(|l| l.contains("applied")).unwrap();
    assert!(
        line.contains("changes=220")
            && line.contains("services_added=20")
            && line.contains("reals_added=200"),
        "{line}"
    );
}

/// A director that programmed 20 virtuals x 10 reals, and the facts that
/// take every real down (200 changes, over the limit).
fn started_then_all_down() -> (Director<MemoryKernel>, Facts) {
    let c = config(20);
    let up = Facts::all_up(&c);
    let mut down = up.clone();
    down.health.values_mut().for_each(|h| *h = Health::Down);
    let mut d = Director::new(MemoryKernel::default(), c, Owned::new(), None);
    info_lines(|| drop(d.reconcile(&up).unwrap()));
    (d, down)
}

#[test]
fn small_passes_and_health_passes_log_each_change() {
    // A full pass under the limit: a line per change.
    let c = config(5);
    let up = Facts::all_up(&c);
    let mut d = Director::new(MemoryKernel::default(), c, Owned::new(), None);
    assert_eq!(applied(&info_lines(|| drop(d.reconcile(&up).unwrap()))), 55);

    // A health pass over the limit still says which real moved, each.
    let (mut d, down) = started_then_all_down();
    let lines = info_lines(|| assert_eq!(d.update(&down).unwrap().applied.len(), 200));
    assert_eq!(applied(&lines), 200, "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains("one pass")), "{lines:#?}");
}

#[test]
fn a_health_pass_that_must_read_the_table_first_still_logs_each_change() {
    let (mut d, down) = started_then_all_down();
    // A failed pass: the next health pass reads the whole table first.
    d.kernel().fail_applies = 1;
    assert!(d.update(&down).is_err());
    let lines = info_lines(|| assert_eq!(d.update(&down).unwrap().applied.len(), 200));
    assert_eq!(applied(&lines), 200, "{lines:#?}");
}

#[test]
fn a_big_pass_that_fails_still_writes_its_summary() {
    let c = config(20);
    let facts = Facts::all_up(&c);
    let mut d = Director::new(MemoryKernel::default(), c, Owned::new(), None);
    d.kernel().fail_applies = 1;
    let lines = info_lines(|| assert!(d.reconcile(&facts).is_err()));
    assert_eq!(
        applied(&lines),
        1,
        "the failed start left no line: {lines:#?}"
    );
}
