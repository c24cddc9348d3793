//! Tests of [`super`] (reload.rs).

use super::*;
use crate::lvs::Family;
use std::net::IpAddr;
use std::sync::{mpsc, Mutex};

/// A name server that answers only when the test lets it.
struct Hung(Mutex<mpsc::Receiver<()>>);

impl Resolver for Hung {
    fn host(&self, name: &str, _: Family) -> Option<IpAddr> {
        if let Ok(ip) = name.parse() {
            return Some(ip);
        }
        let _ = self.0.lock().unwrap().recv();
        (name == "rs1").then(|| "10.0.1.1".parse().unwrap())
    }
    fn service(&self, _: &str, _: Option<&str>) -> Option<u16> {
        None
    }
    fn hostname(&self) -> String {
        "director".into()
    }
}

fn file(dir: &tempfile::TempDir) -> PathBuf {
    let p = dir.path().join("ldirectord.cf");
    std::fs::write(&p, "virtual=10.0.0.1:80\n\treal=rs1:80 masq\n").unwrap();
    p
}

#[tokio::test(start_paused = true)]
async fn a_hung_resolve_fails_at_its_deadline_and_a_later_reload_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (release, rx) = mpsc::channel();
    let hung = Resolve::Given(Arc::new(Hung(Mutex::new(rx))));
    let mut loader = Loader::default();
    assert!(loader.start(file(&dir), hung.clone(), DEADLINE));
    assert!(loader.busy());
    // A second reload while the first reads: run after it.
    assert!(!loader.start(file(&dir), hung, DEADLINE));
    tokio::time::advance(DEADLINE + Duration::from_secs(1)).await;
    let r = loader.finished().await;
    assert!(
        matches!(r, Err(ReloadError::Timeout(d)) if d == DEADLINE),
        "{:?}",
        r.err()
    );
    assert!(!loader.busy());
    assert!(loader.take_again(), "the reload asked for meanwhile");
    assert!(!loader.take_again());
    // Let the stuck thread go so that the runtime can shut down.
    drop(release);
}

#[tokio::test]
async fn a_load_that_answers_brings_the_parsed_file() {
    let dir = tempfile::tempdir().unwrap();
    let (release, rx) = mpsc::channel::<()>();
    // A closed channel: the name server answers at once.
    drop(release);
    let mut loader = Loader::default();
    loader.start(
        file(&dir),
        Resolve::Given(Arc::new(Hung(Mutex::new(rx)))),
        DEADLINE,
    );
    let f = loader.finished().await.expect("loaded");
    assert!(!f.loaded.has_errors(), "{:?}", f.loaded.diagnostics);
    assert_eq!(
        f.loaded.config.virtuals[0].reals[0].addr,
        "10.0.1.1:80".parse().unwrap()
    );
    assert!(f.source.is_some());
}
