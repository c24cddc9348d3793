//! Helpers shared by the kernel tests: the VM check, commands, network
//! namespaces, and the `lvsd` binary under test. These tests run inside the
//! IPVS VM (`integration/test` boots it); anywhere else they fail loudly.

pub mod director;
pub mod farm;
pub mod ipvs;
pub mod matrix;
pub mod ocf;
pub mod topology;

use std::path::PathBuf;
use std::process::{Command, Output};

/// Panics with a clear message unless this is the IPVS VM with IPVS loaded.
pub fn require_vm() {
    assert_eq!(
        std::env::var("IPVS_VM").as_deref(),
        Ok("1"),
        "kernel tests must run inside the IPVS VM: use integration/test"
    );
    assert!(
        std::path::Path::new("/proc/net/ip_vs").exists(),
        "/proc/net/ip_vs is missing: this kernel has no IPVS loaded"
    );
}

/// The lvsd binary built for these tests (`LVSD_BIN`, set by integration/test).
pub fn lvsd_bin() -> PathBuf {
    let p = std::env::var_os("LVSD_BIN")
        .map(PathBuf::from)
        .expect("LVSD_BIN is not set: run the kernel tests through integration/test");
    assert!(p.exists(), "LVSD_BIN {} does not exist", p.display());
    p
}

/// Runs `sh -c script`, panics with its output if it fails, returns stdout.
pub fn sh(script: &str) -> String {
    let out = sh_output(script);
    assert!(
        out.status.success(),
        "command failed ({}): {script}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's exit code (-1 if killed by a signal) and its stdout then
/// stderr as one text, for assertions and their messages.
pub fn code_and_text(out: &Output) -> (i32, String) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Runs `sh -c script` and returns its output, whatever the status.
pub fn sh_output(script: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sh: {e}"))
}

/// A network namespace that is deleted on drop. IPVS tables are per
/// namespace, so each test gets a clean one.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        let _ = sh_output(&format!("ip netns del {name} 2>/dev/null"));
        sh(&format!(
            "ip netns add {name} && ip -n {name} link set lo up"
        ));
        Netns {
            name: name.to_string(),
        }
    }

    /// Runs a shell script inside the namespace; panics on failure.
    pub fn sh(&self, script: &str) -> String {
        sh(&format!(
            "ip netns exec {} sh -c '{}'",
            self.name,
            script.replace('\'', r"'\''")
        ))
    }

    /// Runs a shell script inside the namespace and returns its output.
    pub fn sh_output(&self, script: &str) -> Output {
        sh_output(&format!(
            "ip netns exec {} sh -c '{}'",
            self.name,
            script.replace('\'', r"'\''")
        ))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh_output(&format!("ip netns del {}", self.name));
    }
}
