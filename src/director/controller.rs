//! The director's one entry point for the daemon: every input (health
//! changed, maintenance, a new configuration, resync, stop) goes through
//! [`Controller::step`], which runs the pass and returns what it did and
//! the [`View`] the daemon's outputs read. No I/O besides the kernel and
//! the ownership record (through [`Director`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::check::engine::Status;
use crate::config::model::Config;
use crate::ipvs::error::IpvsError;
use crate::ipvs::kernel::Kernel;
use crate::ipvs::table::{ServiceKey, Table};

use super::desired::{Facts, RealKey};
use super::reconcile::{Director, Report};
use super::view::{self, View};

/// Where the controller reads the checks' health at each pass.
pub type HealthSource = Box<dyn Fn() -> BTreeMap<RealKey, Status> + Send>;

/// What makes the director act.
pub enum Input {
    /// Some real's health changed: a pass from the last table.
    Health,
    /// The reals in maintenance now.
    Maintenance(BTreeSet<RealKey>),
    /// A validated configuration (its checks already run) and the reals in
    /// maintenance under it.
    Reload(Box<Config>, BTreeSet<RealKey>),
    /// A full pass that reads the table (start-up, periodic repair).
    Resync,
    /// `cleanstop`: the services that ask for it are removed.
    Stop,
}

/// What one step did.
pub struct Pass {
    /// The pass's changes (`Err`: the kernel could not be used at all; the
    /// last good state stays).
    pub report: Result<Report, IpvsError>,
    /// The director after the pass.
    pub view: Arc<View>,
    /// Only for [`Input::Stop`].
    pub stopped: Option<Stopped>,
}

/// What a stop removed.
#[derive(Default)]
pub struct Stopped {
    /// The table before the stop (the alert mails name what it held).
    pub before: Table,
    /// The services cleanstop removed.
    pub removed: Vec<ServiceKey>,
    /// Virtuals without a serving real (their `fallbackcommand stop` runs).
    pub unserved: Vec<ServiceKey>,
}

pub struct Controller<K: Kernel> {
    director: Director<K>,
    health: HealthSource,
    /// The maintenance set the inputs gave, and the health read at the
    /// last pass.
    facts: Facts,
    view: Arc<View>,
}

impl<K: Kernel> Controller<K> {
    /// `maintenance`: the reals in maintenance at start.
    pub fn new(
        director: Director<K>,
        health: HealthSource,
        maintenance: BTreeSet<RealKey>,
    ) -> Self {
        Controller {
            director,
            health,
            facts: Facts {
                health: BTreeMap::new(),
                maintenance,
            },
            view: Arc::default(),
        }
    }

    pub fn config(&self) -> &Config {
        self.director.config()
    }

    pub fn director(&self) -> &Director<K> {
        &self.director
    }

    pub fn kernel(&mut self) -> &mut K {
        self.director.kernel()
    }

    pub fn maintenance(&self) -> &BTreeSet<RealKey> {
        &self.facts.maintenance
    }

    /// The view after the last step.
    pub fn view(&self) -> &Arc<View> {
        &self.view
    }

    pub fn step(&mut self, input: Input) -> Pass {
        let mut full = false;
        match input {
            Input::Health => {}
            Input::Maintenance(m) => self.facts.maintenance = m,
            Input::Reload(config, m) => {
                self.director.set_config(*config);
                self.facts.maintenance = m;
            }
            Input::Resync => full = true,
            Input::Stop => return self.stop(),
        }
        let health = (self.health)();
        self.facts.health = health.iter().map(|(k, s)| (*k, s.health)).collect();
        let report = if full {
            self.director.reconcile(&self.facts)
        } else {
            self.director.update(&self.facts)
        };
        self.look(&health);
        Pass {
            report,
            view: Arc::clone(&self.view),
            stopped: None,
        }
    }

    /// The view after a pass.
    fn look(&mut self, health: &BTreeMap<RealKey, Status>) {
        let d = &self.director;
        let m = &self.facts.maintenance;
        let v = view::build(d.config(), d.table(), d.synced(), health, m);
        if *self.view != v {
            self.view = Arc::new(v);
        }
    }

    fn stop(&mut self) -> Pass {
        let before = self.director.table().clone();
        let report = self.director.clean_stop();
        let removed = match &report {
            Ok(r) => self
                .director
                .config()
                .virtuals
                .iter()
                .filter(|v| v.cleanstop && before.services.contains_key(&v.key))
                .filter(|v| !r.failed.iter().any(|(c, _)| *c.service() == v.key))
                .map(|v| v.key)
                .collect(),
            Err(_) => Vec::new(),
        };
        let unserved = self.director.unserved().copied().collect();
        let health = (self.health)();
        self.look(&health);
        Pass {
            report,
            view: Arc::clone(&self.view),
            stopped: Some(Stopped {
                before,
                removed,
                unserved,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Health;
    use crate::ipvs::memory::MemoryKernel;
    use std::sync::Mutex;

    const CF: &str = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq 2\n\treal=10.0.1.2:80 masq\n\
                      \tfallback=127.0.0.1:80\n\tquiescent=yes\n";

    fn key(real: &str) -> RealKey {
        let c = crate::config::test_config(CF);
        RealKey {
            service: c.virtuals[0].key,
            real: real.parse().unwrap(),
        }
    }

    fn status(health: Health, last: &str) -> Status {
        Status {
            health,
            failures: 0,
            last: Some(last.into()),
            last_checked: None,
        }
    }

    type Shared = Arc<Mutex<BTreeMap<RealKey, Status>>>;

    fn controller() -> (Controller<MemoryKernel>, Shared) {
        let health = Shared::default();
        let h = Arc::clone(&health);
        let d = Director::new(
            MemoryKernel::default(),
            crate::config::test_config(CF),
            Default::default(),
            None,
        );
        let source = Box::new(move || h.lock().unwrap().clone());
        (Controller::new(d, source, BTreeSet::new()), health)
    }

    #[test]
    fn the_view_joins_config_health_maintenance_and_kernel() {
        let (mut c, health) = controller();
        let p = c.step(Input::Resync);
        assert!(p.report.unwrap().read);
        let v = &p.view.virtuals[0];
        assert!(p.view.synced && v.present && v.fallback_active);
        assert_eq!(v.fallback, Some("127.0.0.1:80".parse().unwrap()));
        assert!(v.reals.iter().all(|r| r.kernel_weight.is_none()));

        health
            .lock()
            .unwrap()
            .insert(key("10.0.1.1:80"), status(Health::Up, "up"));
        let p = c.step(Input::Health);
        let v = &p.view.virtuals[0];
        assert!(!v.fallback_active);
        assert_eq!(v.reals[0].health, Health::Up);
        assert_eq!(v.reals[0].kernel_weight, Some(2));
        assert_eq!(v.reals[0].last.as_deref(), Some("up"));

        // Maintenance: quiesced, and shown.
        let p = c.step(Input::Maintenance([key("10.0.1.1:80")].into()));
        let r = &p.view.virtuals[0].reals[0];
        assert!(r.maintenance);
        assert_eq!(r.kernel_weight, Some(0));
        assert!(p
            .view
            .is_fallback(&key("10.0.1.1:80").service, "127.0.0.1:80".parse().unwrap()));
    }

    /// The status file is rewritten only when the view differs: when a
    /// probe last ran is not part of it.
    #[test]
    fn a_pass_that_changes_nothing_shown_keeps_the_same_view() {
        let (mut c, health) = controller();
        health
            .lock()
            .unwrap()
            .insert(key("10.0.1.1:80"), status(Health::Up, "up"));
        let first = c.step(Input::Resync).view;
        health
            .lock()
            .unwrap()
            .get_mut(&key("10.0.1.1:80"))
            .unwrap()
            .last_checked = Some(tokio::time::Instant::now());
        let again = c.step(Input::Health).view;
        assert!(Arc::ptr_eq(&first, &again));
        health
            .lock()
            .unwrap()
            .get_mut(&key("10.0.1.1:80"))
            .unwrap()
            .failures = 1;
        assert_ne!(*c.step(Input::Health).view, *first);
    }

    /// A quiesced real someone else removed stays out (the controller
    /// remembers it was placed), as before the controller.
    #[test]
    fn a_real_placed_once_is_not_put_back_at_weight_zero() {
        let (mut c, health) = controller();
        health
            .lock()
            .unwrap()
            .insert(key("10.0.1.1:80"), status(Health::Up, "up"));
        health
            .lock()
            .unwrap()
            .insert(key("10.0.1.2:80"), status(Health::Down, "down"));
        let p = c.step(Input::Resync);
        assert_eq!(p.view.virtuals[0].reals[1].kernel_weight, Some(0));
        // An operator removes the quiesced real.
        let svc = key("10.0.1.2:80").service;
        c.kernel()
            .apply(&crate::ipvs::Change::DelDest(
                svc,
                "10.0.1.2:80".parse().unwrap(),
            ))
            .unwrap();
        let p = c.step(Input::Resync);
        assert_eq!(p.view.virtuals[0].reals[1].kernel_weight, None);
    }

    #[test]
    fn stop_reports_what_it_removed() {
        let (mut c, _) = controller();
        c.step(Input::Resync);
        let p = c.step(Input::Stop);
        let s = p.stopped.unwrap();
        assert_eq!(s.removed, vec![key("10.0.1.1:80").service]);
        assert_eq!(s.unserved, vec![key("10.0.1.1:80").service]);
        assert_eq!(s.before.len(), 1);
        assert!(c.kernel().dump().unwrap().services.is_empty());
    }
}
