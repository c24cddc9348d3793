//! The TOML format: same model, same defaults, same checks as the .cf, with
//! line numbers; and `convert` round trips: cf → model equals
//! cf → TOML → model for every example in conf/ and every corpus config.

mod config_common;

use std::path::{Path, PathBuf};

use config_common::*;
use lvsd::config::model::{CheckType, Config};
use lvsd::config::resolve::Static;
use lvsd::config::toml::write::to_toml;
use lvsd::config::{self, Format};
use lvsd::ipvs::{Family, Forward, ServiceKey};

#[test]
fn toml_and_cf_give_the_same_model() {
    let cf_text = "quiescent=no\nchecktimeout=4\nfallback=127.0.0.1\n\
        virtual=10.0.0.1:80\n\treal=10.0.1.1->10.0.1.3:8080 masq 5 \"/ping\", \"pong\" l:1 u:9\n\
        \treal=web2 gate\n\tscheduler=rr\n\tpersistent=30\n\tnetmask=255.255.255.0\n\
        \tservice=http\n\treceive=\"OK\"\n\tchecktype=3\n\tquiescent=yes\n\
        virtual6=9\n\treal6=[2001:db8::2] gate\n";
    let toml_text = r#"
quiescent = false
checktimeout = 4
fallback = "127.0.0.1"

[[virtual]]
address = "10.0.0.1:80"
scheduler = "rr"
persistent = 30
netmask = "255.255.255.0"
service = "http"
receive = "OK"
checktype = 3
quiescent = true

[[virtual.real]]
address = "10.0.1.1->10.0.1.3:8080"
forward = "masq"
weight = 5
request = "ping"
receive = "pong"
lower_threshold = 1
upper_threshold = 9

[[virtual.real]]
address = "web2"
forward = "gate"

[[virtual]]
fwmark = 9
ipv6 = true

[[virtual.real]]
address = "[2001:db8::2]"
forward = "gate"
"#;
    let (a, b) = (cf(cf_text), toml(toml_text));
    assert!(!a.has_errors(), "{:#?}", a.diagnostics);
    assert!(!b.has_errors(), "{:#?}", b.diagnostics);
    let (mut a, mut b) = (a.config, b.config);
    a.erase_lines();
    b.erase_lines();
    assert_eq!(a, b);
    assert_eq!(a.virtuals[0].checktype, CheckType::Combined(3));
    assert_eq!(
        a.virtuals[1].key,
        ServiceKey::FwMark {
            family: Family::Inet6,
            mark: 9
        }
    );
}

#[test]
fn toml_errors_carry_line_numbers() {
    let cases: &[(&str, usize, &str)] = &[
        ("bogus = 1\n", 1, "unknown field"),
        ("checktimeout = 0\n", 1, "greater than 0"),
        ("checktimeout = \"x\"\n", 1, "invalid type"),
        ("[[virtual]]\naddress = \"10.0.0.1:80\"\nscheduler = \"WRR\"\n", 3, "lowercase"),
        ("[[virtual]]\naddress = \"10.0.0.1:80\"\nservice = \"oracle\"\n", 3, "Oracle"),
        ("[[virtual]]\naddress = \"10.0.0.1:80\"\nreceive = \"(x\"\n", 3, "receive regex"),
        ("[[virtual]]\naddress = \"10.0.0.1:80\"\n[[virtual.real]]\naddress = \"10.0.1.1\"\nforward = \"nat\"\n", 5, "forward"),
        ("[[virtual]]\naddress = \"10.0.0.1:80\"\n[[virtual.real]]\naddress = \"nohost\"\nforward = \"gate\"\n", 3, "resolve"),
        ("[[virtual]]\nfwmark = 3\naddress = \"10.0.0.1:80\"\n", 1, "exactly one"),
        ("[[virtual]]\naddress = \"10.0.0.1:80 x\"\n", 1, "invalid virtual address"),
        ("[[virtual]]\naddress = \"10.0.0.1:80\"\nprotocol = \"fwm\"\n", 3, "protocol must be"),
        ("[[virtual]]\naddress = \"10.0.0.1:80\"\nschedflags = \"sh-port\"\n", 3, "incompatible"),
        ("x = [\n", 1, ""),
    ];
    for (text, line, needle) in cases {
        let l = toml(&format!("quiescent = false\n{text}"));
        let e = errors(&l);
        assert!(
            e.iter().any(|(l, m)| *l == line + 1 && m.contains(needle)),
            "for {text:?} expected an error at line {} containing {needle:?}, got {e:#?}",
            line + 1
        );
    }
}

#[test]
fn toml_defaults_match_cf_defaults() {
    let (mut a, mut b) = (
        cf("virtual=10.0.0.1:53\n\treal=10.0.1.1 gate\n").config,
        toml("[[virtual]]\naddress = \"10.0.0.1:53\"\n[[virtual.real]]\naddress = \"10.0.1.1\"\nforward = \"gate\"\n").config,
    );
    a.erase_lines();
    b.erase_lines();
    assert_eq!(a, b);
    assert_eq!(a.virtuals[0].reals[0].forward, Forward::Route);
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == ext));
    v.sort();
    v
}

/// The corpus uses names from the test's /etc/hosts; give them to the fake.
fn corpus_resolver() -> Static {
    let mut r = Static::new(
        &[
            ("vip.lvs.test", "10.20.0.100"),
            ("vip", "10.20.0.100"),
            ("web1.lvs.test", "10.20.1.1"),
            ("web1", "10.20.1.1"),
            ("web2.lvs.test", "10.20.1.2"),
            ("web2", "10.20.1.2"),
            ("web3.lvs.test", "10.20.1.3"),
            ("web3", "10.20.1.3"),
            ("vip6.lvs.test", "2001:db8:20::100"),
            ("web6a.lvs.test", "2001:db8:20::1a"),
            ("web1.example.com", "192.168.10.11"),
            ("web2.example.com", "192.168.10.12"),
        ],
        &std::fs::read_to_string("/etc/services").unwrap_or_default(),
    );
    r.services.extend(Static::new(&[], SERVICES).services);
    r
}

fn round_trip(path: &Path) {
    round_trip_bytes(path, &std::fs::read(path).unwrap_or_default());
}

fn round_trip_bytes(path: &Path, bytes: &[u8]) {
    let r = corpus_resolver();
    let first = config::parse(path, bytes, Format::of(path), &r);
    assert!(
        !first.has_errors(),
        "{}: {:#?}",
        path.display(),
        first.diagnostics
    );
    let text = to_toml(&first.config);
    let second = config::parse(
        Path::new("converted.toml"),
        text.as_bytes(),
        Format::Toml,
        &r,
    );
    assert!(
        !second.has_errors(),
        "{}: the converted TOML does not load: {:#?}\n{text}",
        path.display(),
        second.diagnostics
    );
    let (mut a, mut b): (Config, Config) = (first.config, second.config);
    a.erase_lines();
    b.erase_lines();
    assert_eq!(
        a,
        b,
        "{}: cf -> model differs from cf -> TOML -> model\n{text}",
        path.display()
    );
}

#[test]
fn convert_round_trips_every_example_and_corpus_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = files_in(&root.join("conf"), "cf");
    files.extend(files_in(&root.join("conf"), "toml"));
    files.extend(files_in(
        &root.join("integration/ldirectord-corpus/accept"),
        "cf",
    ));
    assert!(
        files.len() >= 20,
        "expected the conf/ examples and the corpus, found {files:?}"
    );
    for f in &files {
        round_trip(f);
    }
}

#[test]
fn the_documented_toml_says_what_the_commented_cf_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let r = corpus_resolver();
    let load = |name: &str| {
        let p = root.join(name);
        let l = config::parse(
            &p,
            &std::fs::read(&p).unwrap_or_default(),
            Format::of(&p),
            &r,
        );
        assert!(!l.has_errors(), "{name}: {:#?}", l.diagnostics);
        let mut c = l.config;
        c.erase_lines();
        c
    };
    assert_eq!(load("ldirectord.cf"), load("lvsd.toml"));
}

/// Inputs `cargo fuzz run cf_parser` found; each once broke the round trip.
#[test]
fn fuzz_regressions_round_trip() {
    let cases: &[&[u8]] = &[
        // A fwmark with a leading zero (and trailing junk): written back as 9.
        b"virtual=10.20.0.1:80\n\treal=10.20.1.1:80 masq\nvirtual=09.20$0.1:80\n\treal=10.20.1.2:80 masq\n",
    ];
    for bytes in cases {
        round_trip_bytes(Path::new("fuzz.cf"), bytes);
    }
}
