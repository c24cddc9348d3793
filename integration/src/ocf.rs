//! Running the OCF resource agent (`packaging/ocf/lvsd`) as Pacemaker would:
//! parameters in `OCF_RESKEY_*`, the action as the only argument, inside the
//! director's network namespace.

use std::path::PathBuf;

use lvsd::daemon::status::Report;

use crate::director::Lvsd;
use crate::{lvsd_bin, sh, sh_output};

/// Where the Debian package puts the agent and the binary.
pub const INSTALLED_AGENT: &str = "/usr/lib/ocf/resource.d/lvsd/lvsd";
pub const INSTALLED_BIN: &str = "/usr/sbin/lvsd";

/// Installs the Debian package of the binary under test with dpkg in the
/// VM's overlay; returns the .deb's path. integration/test builds it once on
/// the host (`LVSD_DEB`): built in the VM, `packaging/deb/build`'s strip and
/// xz cost minutes of emulated CPU for each test that installs it. Without
/// `LVSD_DEB` (one test run by hand) it is built here from `LVSD_BIN`.
/// Installing it again over itself is fine.
pub fn install_deb() -> String {
    let top = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let deb = match std::env::var("LVSD_DEB") {
        Ok(deb) => {
            assert!(
                std::path::Path::new(&deb).is_file(),
                "LVSD_DEB {deb} does not exist"
            );
            deb
        }
        Err(_) => {
            let built = sh(&format!(
                "{top}/packaging/deb/build {}",
                lvsd_bin().display()
            ));
            format!("{top}/{}", built.trim())
        }
    };
    // man-db's trigger would index every man page (minutes under TCG).
    sh(&format!(
        "rm -f /var/lib/man-db/auto-update && dpkg -i {deb}"
    ));
    assert!(
        sh("dpkg-query -W -f='${Status}' lvsd").contains("install ok installed"),
        "dpkg did not install {deb}"
    );
    deb
}

/// `lvsd [--pidfile FILE] CONFIG status --json`, parsed; also its exit code.
pub fn status_json(lvsd: &Lvsd, pidfile: Option<&str>) -> (i32, Report) {
    let opt = pidfile
        .map(|p| format!("--pidfile {p} "))
        .unwrap_or_default();
    let out = lvsd.cmd(&format!("{opt}{} status --json", lvsd.config.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "status --json is not a report: {e}\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The agent in this source tree.
pub fn agent_path() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/ocf/lvsd"
    ));
    assert!(p.exists(), "OCF agent {} is missing", p.display());
    p
}

/// OCF exit codes.
pub mod rc {
    pub const SUCCESS: i32 = 0;
    pub const ERR_GENERIC: i32 = 1;
    pub const ERR_INSTALLED: i32 = 5;
    pub const ERR_CONFIGURED: i32 = 6;
    pub const NOT_RUNNING: i32 = 7;
    pub const DEGRADED: i32 = 190;
}

/// One resource: the agent, the namespace it runs in and its parameters.
pub struct Agent {
    pub ns: String,
    pub agent: PathBuf,
    /// (name, value) pairs, passed as `OCF_RESKEY_name=value`.
    pub params: Vec<(String, String)>,
}

impl Agent {
    pub fn new(ns: &str, agent: PathBuf, params: &[(&str, &str)]) -> Agent {
        assert!(
            std::path::Path::new("/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs").exists(),
            "resource-agents is not installed (integration/deps.txt)"
        );
        Agent {
            ns: ns.to_string(),
            agent,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn env(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("OCF_RESKEY_{k}='{v}' "))
            .collect()
    }

    /// Runs ACTION with extra `VAR=value` assignments; (exit code, output).
    pub fn run_with(&self, action: &str, extra: &str) -> (i32, String) {
        let out = sh_output(&format!(
            "ip netns exec {} env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=lvsd-test \
             OCF_RESKEY_CRM_meta_timeout=120000 {}{extra} {} {action}",
            self.ns,
            self.env(),
            self.agent.display()
        ));
        crate::code_and_text(&out)
    }

    /// Runs ACTION; (exit code, output).
    pub fn run(&self, action: &str) -> (i32, String) {
        self.run_with(action, "")
    }

    /// Runs ACTION and asserts its exit code (the failure names the
    /// caller's line: a test calls the same action several times).
    #[track_caller]
    pub fn expect(&self, action: &str, extra: &str, want: i32) -> String {
        let (code, text) = self.run_with(action, extra);
        assert_eq!(
            code, want,
            "{action} {extra}: exit {code}, want {want}\n{text}"
        );
        text
    }

    /// `ocf-tester` from Debian's resource-agents against this agent.
    pub fn ocf_tester(&self) -> (i32, String) {
        let opts: String = self
            .params
            .iter()
            .map(|(k, v)| format!("-o {k}='{v}' "))
            .collect();
        let out = sh_output(&format!(
            "ip netns exec {} env OCF_ROOT=/usr/lib/ocf ocf-tester -v -n lvsd-test {opts}{}",
            self.ns,
            self.agent.display()
        ));
        crate::code_and_text(&out)
    }
}
