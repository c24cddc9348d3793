//! Differential test against the real ldirectord (Debian's package), the
//! truth for the ldirectord.cf grammar.
//!
//! ldirectord reveals its parse only by programming IPVS, so every config in
//! `ldirectord-corpus/accept/` runs under ldirectord in its own network
//! namespace (all at once: Perl is slow under emulation), and once each
//! table has settled, `ipvsadm -S -n` must equal `lvsd plan --all-up` on the
//! same file, byte for byte. Every config in `ldirectord-corpus/reject/`
//! must make ldirectord exit 2 (its config-error code), and `lvsd check` too.
//!
//! Host names come from /etc/hosts entries written here, inside the VM.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvsd_integration::{lvsd_bin, require_vm, sh, sh_output, Netns};

const LDIRECTORD: &str = "/usr/sbin/ldirectord";
const WORK: &str = "/tmp/ldd";
/// A table counts as settled when neither it nor ldirectord's log changed
/// for this long (ldirectord with checktype=on logs every change it makes).
const SETTLE: Duration = Duration::from_secs(20);
const DEADLINE: Duration = Duration::from_secs(600);

const HOSTS: &str = "
10.20.0.100 vip.lvs.test vip
10.20.1.1 web1.lvs.test web1
10.20.1.2 web2.lvs.test web2
10.20.1.3 web3.lvs.test web3
2001:db8:20::100 vip6.lvs.test vip6
2001:db8:20::1a web6a.lvs.test web6a
";

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("ldirectord-corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no configs in {}", dir.display());
    files
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn prepare() {
    require_vm();
    assert!(
        Path::new(LDIRECTORD).exists(),
        "{LDIRECTORD} is missing: install Debian's ldirectord package (integration/deps.txt)"
    );
    sh(&format!("mkdir -p {WORK}"));
    let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
    if !hosts.contains("vip.lvs.test") {
        fs::write("/etc/hosts", format!("{hosts}{HOSTS}"))
            .unwrap_or_else(|e| panic!("cannot write /etc/hosts in the VM: {e}"));
    }
}

/// One config running under ldirectord in its own namespace.
struct Run {
    name: String,
    original: PathBuf,
    copy: PathBuf,
    log: PathBuf,
    ns: Netns,
    last: (String, u64),
    since: Instant,
    settled: bool,
}

impl Run {
    fn observe(&mut self) -> (String, u64) {
        let table = self.ns.sh("ipvsadm -S -n");
        let log = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        (table, log)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let pid = format!("/var/run/ldirectord.{}.cf.pid", self.name);
        let _ = sh_output(&format!("[ -f {pid} ] && kill -9 $(cat {pid})"));
    }
}

fn start_all(files: &[PathBuf]) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut children: Vec<(String, Child)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let name = format!("d{i}-{}", stem(f));
        let copy = PathBuf::from(format!("{WORK}/{name}.cf"));
        let log = PathBuf::from(format!("{WORK}/{name}.log"));
        let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        // ldirectord's own copy logs to its own file; the last logfile= wins,
        // and the corpus sets none, so lvsd sees the file unchanged.
        fs::write(&copy, format!("logfile=\"{}\"\n{text}", log.display()))
            .unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
        let ns = Netns::new(&format!("ldd{i}"));
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, LDIRECTORD])
            .arg(&copy)
            .arg("start")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run ldirectord: {e}"));
        children.push((name.clone(), child));
        runs.push(Run {
            name,
            original: f.clone(),
            copy,
            log,
            ns,
            last: (String::from("\u{0}unset"), 0),
            since: Instant::now(),
            settled: false,
        });
    }
    for (name, child) in children {
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("ldirectord for {name}: {e}"));
        assert!(
            out.status.success(),
            "ldirectord refused {name} ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    runs
}

fn lvsd(args: &[&str], file: &Path) -> std::process::Output {
    Command::new(lvsd_bin())
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run lvsd: {e}"))
}

#[test]
fn lvsd_plan_equals_the_table_ldirectord_programs() {
    prepare();
    let files = corpus("accept");
    let mut runs = start_all(&files);
    let start = Instant::now();
    while runs.iter().any(|r| !r.settled) {
        assert!(
            start.elapsed() < DEADLINE,
            "ldirectord never settled for: {:?}",
            runs.iter()
                .filter(|r| !r.settled)
                .map(|r| &r.name)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_secs(2));
        for r in runs.iter_mut().filter(|r| !r.settled) {
            let now = r.observe();
            if now != r.last {
                r.last = now;
                r.since = Instant::now();
            } else if r.since.elapsed() >= SETTLE && !r.last.0.is_empty() {
                r.settled = true;
            }
        }
    }
    let mut failures = Vec::new();
    for r in &runs {
        let out = lvsd(&["plan", "--all-up"], &r.original);
        let plan = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || plan != r.last.0 {
            failures.push(format!(
                "{} ({}):\n--- ldirectord (ipvsadm -S -n)\n{}--- lvsd plan --all-up (exit {})\n{}{}",
                r.original.display(),
                r.copy.display(),
                r.last.0,
                out.status,
                plan,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} configs differ:\n\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n")
    );
}

#[test]
fn configs_ldirectord_rejects_lvsd_check_rejects() {
    prepare();
    let files = corpus("reject");
    // `status` parses the config first and exits 2 on an error, without
    // starting a daemon. A few at a time: each Perl start costs ~10 s of
    // emulated CPU, and the VM has two.
    let mut results = Vec::new();
    for (n, chunk) in files.chunks(3).enumerate() {
        let children: Vec<(PathBuf, Child)> = chunk
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let copy = PathBuf::from(format!("{WORK}/r{n}-{i}-{}.cf", stem(f)));
                fs::copy(f, &copy).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                let child = Command::new(LDIRECTORD)
                    .arg(&copy)
                    .arg("status")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot run ldirectord: {e}"));
                (f.clone(), child)
            })
            .collect();
        for (f, child) in children {
            let out = child
                .wait_with_output()
                .unwrap_or_else(|e| panic!("ldirectord on {}: {e}", f.display()));
            results.push((f, out));
        }
    }
    let mut failures = Vec::new();
    for (f, out) in results {
        let ours = lvsd(&["check"], &f);
        if out.status.code() != Some(2) {
            failures.push(format!(
                "{}: ldirectord did not reject it ({}): {}",
                f.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if ours.status.code() != Some(2) {
            failures.push(format!(
                "{}: lvsd check did not reject it ({}): {}",
                f.display(),
                ours.status,
                String::from_utf8_lossy(&ours.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
