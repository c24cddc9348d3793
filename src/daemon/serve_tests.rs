//! The loop with the in-memory kernel, a scripted prober and paused time.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use super::*;
use crate::check::{Method, Probe};
use crate::director::reconcile::Director;
use crate::ipvs::memory::MemoryKernel;
use crate::ipvs::snapshot::{Daemon, DaemonState, Timeouts};
use crate::ipvs::IpvsError;
use crate::lvs::Family;

use super::super::pidfile::Flavor;
use super::super::reload::DEADLINE;
use super::super::status;

impl SyncKernel for MemoryKernel {
    fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        Ok(Vec::new())
    }
    fn start_daemon(&mut self, _: &Daemon) -> Result<(), IpvsError> {
        Ok(())
    }
    fn stop_daemon(&mut self, _: DaemonState) -> Result<(), IpvsError> {
        Ok(())
    }
    fn set_timeouts(&mut self, _: &Timeouts) -> Result<(), IpvsError> {
        Ok(())
    }
    fn has_interface(&self, _: &str) -> bool {
        true
    }
}

/// Every real answers as the script says (up unless set down).
#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<HashMap<SocketAddr, bool>>>);

impl Scripted {
    fn set(&self, addr: &str, up: bool) {
        self.0.lock().unwrap().insert(addr.parse().unwrap(), up);
    }
}

impl Checker for Scripted {
    async fn check(&self, probe: &Probe, _: Method<'_>) -> Outcome {
        let up = self.0.lock().unwrap().get(&probe.addr()).copied();
        if up.unwrap_or(true) {
            Outcome::Up
        } else {
            Outcome::down("scripted", "down")
        }
    }
}

/// A name server that hangs until released (or 5 s of real time, so that
/// a loop blocked on it ends the test instead of hanging it).
struct Hung {
    release: Mutex<mpsc::Receiver<()>>,
    answered: AtomicBool,
}

impl crate::config::Resolver for Hung {
    fn host(&self, name: &str, _: Family) -> Option<IpAddr> {
        if let Ok(ip) = name.parse() {
            return Some(ip);
        }
        let _ = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(5));
        self.answered.store(true, Ordering::SeqCst);
        None
    }
    fn service(&self, _: &str, _: Option<&str>) -> Option<u16> {
        None
    }
    fn hostname(&self) -> String {
        "director".into()
    }
}

const CF: &str = "checkinterval=1\nchecktimeout=1\nquiescent=no\n\
                  virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n\treal=10.0.1.2:80 masq\n\
                  \tchecktype=connect\n";

type Events = UnboundedReceiver<HealthEvent<RealKey>>;

fn director(dir: &tempfile::TempDir, prober: Scripted) -> (State<MemoryKernel, Scripted>, Events) {
    director_of(dir, prober, CF)
}

fn director_of(
    dir: &tempfile::TempDir,
    prober: Scripted,
    cf: &str,
) -> (State<MemoryKernel, Scripted>, Events) {
    let path = dir.path().join("lvsd.cf");
    // The file on disk needs a name server; the running one did not.
    std::fs::write(&path, cf.replace("10.0.1.2:80", "rs2.example:80")).unwrap();
    let config = crate::config::test_config(cf);
    let opts = RunOptions {
        config: path,
        name: "lvsd.cf".into(),
        key: "lvsd.cf-test".into(),
        state_dir: dir.path().to_path_buf(),
        pidfile: None,
        resync: Duration::from_secs(3600),
        debug: true,
        flavor: Flavor::Lvsd,
    };
    let (mut engine, events) = Engine::new(prober);
    engine.apply(crate::director::checks::specs(&config).unwrap());
    let monitor = MonitorFiles::new(&config);
    let metrics = Metrics::new(engine.observer());
    let maintenance = Maintenance::new(None);
    let observer = engine.observer();
    let d = Director::new(MemoryKernel::default(), config, Default::default(), None);
    let ctl = Controller::new(d, Box::new(move || observer.snapshot()), BTreeSet::new());
    let sync = SyncThreads::new(dir.path().join("lvsd.cf-test.sync"));
    let st = State::new(opts, ctl, engine, maintenance, metrics, monitor, sync);
    (st, events)
}

/// The kernel weight of each real, as the status file shows it.
fn weights(st_path: &std::path::Path) -> Vec<Option<u32>> {
    let s = status::load(st_path).unwrap();
    s.virtuals[0].reals.iter().map(|r| r.weight).collect()
}

/// Lets the loop and the check tasks run `n` times 100 ms of paused time.
async fn run_for(n: u32) {
    for _ in 0..n {
        tokio::time::advance(Duration::from_millis(100)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_health_event_is_applied_while_a_reload_resolve_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let prober = Scripted::default();
    let (mut st, mut events) = director(&dir, prober.clone());
    let (release, rx) = mpsc::channel();
    let hung = Arc::new(Hung {
        release: Mutex::new(rx),
        answered: AtomicBool::new(false),
    });
    st.resolve = Resolve::Given(hung.clone());
    st.pass(Input::Resync);
    let status_path = st.opts.status_path();
    let (hup_tx, mut hup) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut shutdown = std::pin::pin!(async {
        let _ = stop_rx.await;
    });
    let script = async {
        run_for(30).await;
        assert_eq!(weights(&status_path), vec![Some(1), Some(1)]);
        // A reload whose name server hangs; meanwhile a real fails.
        hup_tx.send(()).unwrap();
        run_for(2).await;
        prober.set("10.0.1.2:80", false);
        run_for(30).await;
        assert_eq!(
            weights(&status_path),
            vec![Some(1), None],
            "the failed real is out"
        );
        assert!(
            !hung.answered.load(Ordering::SeqCst),
            "the health pass ran while the reload's resolve was still hanging"
        );
        // The reload gives up at its deadline; the running config stays.
        tokio::time::advance(DEADLINE).await;
        run_for(2).await;
        assert_eq!(weights(&status_path), vec![Some(1), None]);
        drop(release);
        let _ = stop_tx.send(());
    };
    tokio::join!(serve(&mut st, &mut events, &mut hup, &mut shutdown), script);
    assert!(!st.loader.busy());
    assert_eq!(
        st.config().virtuals[0].reals[1].addr,
        "10.0.1.2:80".parse().unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_start_up_ends_the_first_round() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, mut events) = director(&dir, Scripted::default());
    st.pass(Input::Resync);
    let mut shutdown = std::pin::pin!(async {});
    assert!(first_round(&mut st, &mut events, &mut shutdown).await);
}

#[tokio::test(start_paused = true)]
async fn the_first_round_logs_every_result_before_the_first_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, mut events) = director(&dir, Scripted::default());
    let mut shutdown = std::pin::pin!(std::future::pending::<()>());
    assert!(!first_round(&mut st, &mut events, &mut shutdown).await);
    // Both reals came up in the round; a transition left in the channel
    // would be logged only after the pass had given it a weight.
    assert!(
        events.try_recv().is_err(),
        "a transition of the first round was left for after the first pass"
    );
}

/// The INFO lines `f` writes, on this thread (the test's runtime).
async fn info_lines<F: Future>(f: F) -> (F::Output, Vec<String>) {
    let log = crate::testlog::Captured::default();
    let guard = tracing::subscriber::set_default(log.subscriber());
    let r = f.await;
    drop(guard);
    (r, log.lines())
}

/// A first round of 200 reals coming up logs one line, not 200 (each is
/// at debug level; the status file has every real).
#[tokio::test(start_paused = true)]
async fn a_big_first_round_logs_one_line() {
    let mut cf = String::from("checkinterval=1\nchecktimeout=1\n");
    for v in 0..20 {
        cf += &format!("virtual=10.0.{v}.1:80\n\tchecktype=connect\n");
        for r in 1..=10 {
            cf += &format!("\treal=10.1.{v}.{r}:80 masq\n");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut st, mut events) = director_of(&dir, Scripted::default(), &cf);
    let mut shutdown = std::pin::pin!(std::future::pending::<()>());
    let (stopped, lines) = info_lines(first_round(&mut st, &mut events, &mut shutdown)).await;
    assert!(!stopped);
    let health: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("health changed"))
        .collect();
    assert!(health.is_empty(), "a line per real: {} lines", health.len());
    let round: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("first check round"))
        .collect();
    assert_eq!(round.len(), 1, "{lines:#?}");
    assert!(round[0].contains("reals=200 up=200 down=0"), "{}", round[0]);
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_failures_is_applied_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let prober = Scripted::default();
    let (mut st, mut events) = director(&dir, prober.clone());
    st.pass(Input::Resync);
    let passes = st.metrics.pass_counter();
    let status_path = st.opts.status_path();
    let (_hup_tx, mut hup) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut shutdown = std::pin::pin!(async {
        let _ = stop_rx.await;
    });
    let script = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(weights(&status_path), vec![Some(1), Some(1)]);
        let before = passes();
        prober.set("10.0.1.1:80", false);
        prober.set("10.0.1.2:80", false);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(weights(&status_path), vec![None, None]);
        // Both failures come in one probe round: one pass for the burst.
        assert_eq!(passes() - before, 1, "the burst was coalesced");
        prober.set("10.0.1.1:80", true);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(weights(&status_path), vec![Some(1), None]);
        let _ = stop_tx.send(());
    };
    tokio::join!(serve(&mut st, &mut events, &mut hup, &mut shutdown), script);
}
