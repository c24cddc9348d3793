//! `verifytls`, `tlscafile`, `tlsname`, `expectstatus` (lvsd extensions of
//! the http checks): off by default, the same from both formats, errors at
//! their line, a warning in .cf that ldirectord refuses them, and `lvsd
//! convert` keeps them.

mod config_common;

use config_common::*;
use lvsd::config::httpcheck::HttpCheck;
use lvsd::config::toml::write::to_toml;
use lvsd::config::Format;

const HEAD: &str =
    "quiescent=no\nvirtual=10.0.0.1:443\n\treal=10.0.1.1:443 masq\n\tservice=https\n";

/// A PEM file with one certificate in a fresh directory.
fn ca_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let (key, crt) = (dir.path().join("ca.key"), dir.path().join("ca.crt"));
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-days", "2", "-subj", "/CN=ca", "-newkey", "ec",
        ])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (package openssl) must be installed");
    assert!(status.success());
    let crt = crt.display().to_string();
    (dir, crt)
}

#[test]
fn off_by_default_as_ldirectord() {
    let c = valid(HEAD);
    assert_eq!(c.virtuals[0].httpcheck, HttpCheck::default());
    assert!(!c.virtuals[0].httpcheck.verify_tls);
}

#[test]
fn both_formats_read_the_same_values_and_convert_keeps_them() {
    let (_dir, ca) = ca_file();
    let cf_text = format!(
        "{HEAD}\tverifytls=yes\n\ttlscafile={ca}\n\ttlsname=www.example.test\n\texpectstatus=200,401-403\n"
    );
    let l = cf(&cf_text);
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    let want = HttpCheck {
        verify_tls: true,
        tls_ca_file: Some(ca.clone().into()),
        tls_name: Some("www.example.test".into()),
        expect_status: vec![200, 401, 402, 403],
    };
    assert_eq!(l.config.virtuals[0].httpcheck, want);
    // Each line warns that ldirectord refuses the file, at its line.
    let w: Vec<(usize, &str)> = warnings(&l)
        .iter()
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    for (line, key) in [
        (5, "verifytls"),
        (6, "tlscafile"),
        (7, "tlsname"),
        (8, "expectstatus"),
    ] {
        assert!(
            w.iter()
                .any(|(l, m)| *l == line && m.starts_with(&format!("{key} is an lvsd extension"))),
            "no warning for {key} at {line}: {w:#?}"
        );
    }

    // Quoted, as ldirectord's paths may be.
    let quoted = cf_text
        .replace(&format!("={ca}"), &format!("=\"{ca}\""))
        .replace("=www.example.test", "=\"www.example.test\"");
    assert_eq!(valid(&quoted).virtuals[0].httpcheck, want);

    let toml_text = to_toml(&l.config);
    assert!(
        toml_text.contains("expectstatus = \"200,401-403\""),
        "{toml_text}"
    );
    let t = parse_as(&toml_text, Format::Toml);
    assert!(!t.has_errors(), "{toml_text}\n{:#?}", t.diagnostics);
    assert_eq!(t.config.virtuals[0].httpcheck, want);

    let written = format!(
        "quiescent = false\n[[virtual]]\naddress = \"10.0.0.1:443\"\nservice = \"https\"\n\
         verifytls = true\ntlscafile = \"{ca}\"\ntlsname = \"www.example.test\"\n\
         expectstatus = \"200,401-403\"\n[[virtual.real]]\naddress = \"10.0.1.1:443\"\nforward = \"masq\"\n"
    );
    let t = toml(&written);
    assert!(!t.has_errors(), "{:#?}", t.diagnostics);
    assert_eq!(t.config.virtuals[0].httpcheck, want);
}

#[test]
fn bad_values_are_errors_at_their_line() {
    let (_dir, ca) = ca_file();
    let empty = tempfile::NamedTempFile::new().unwrap();
    let empty = empty.path().display().to_string();
    let v = "\tverifytls=yes\n";
    let cases = [
        (
            format!("{v}\ttlscafile=/nonexistent/ca.pem\n"),
            6,
            "tlscafile /nonexistent/ca.pem: cannot read it",
        ),
        (
            format!("{v}\ttlscafile={empty}\n"),
            6,
            "no PEM certificate in it",
        ),
        (
            format!("{v}\ttlscafile=ca.pem\n"),
            6,
            "must be an absolute path",
        ),
        (
            format!("\ttlscafile={ca}\n"),
            5,
            "tlscafile is used only with verifytls = yes",
        ),
        (
            "\ttlsname=www.example.test\n".into(),
            5,
            "tlsname is used only with verifytls",
        ),
        (
            format!("{v}\ttlsname=bad name\n"),
            6,
            "invalid tlsname \"bad name\"",
        ),
        (
            format!("{v}\ttlsname=192.0.2.1\n"),
            6,
            "a DNS name, not an address",
        ),
        (
            "\tverifytls=maybe\n".into(),
            5,
            "verifytls must be 'yes' or 'no'",
        ),
        (
            "\texpectstatus=200,abc\n".into(),
            5,
            "invalid expectstatus \"200,abc\"",
        ),
        ("\texpectstatus=404-400\n".into(), 5, "runs backwards"),
        (
            "\texpectstatus=200,302\n".into(),
            5,
            "302 is never a final status",
        ),
        ("\texpectstatus=\n".into(), 5, "invalid expectstatus"),
    ];
    for (extra, line, needle) in cases {
        assert_error(&format!("{HEAD}{extra}"), line, needle);
    }
    // TOML: the same messages, at the key's line.
    let t = toml(
        "[[virtual]]\naddress = \"10.0.0.1:443\"\nservice = \"https\"\nverifytls = true\n\
         tlscafile = \"/nonexistent/ca.pem\"\nexpectstatus = \"2000\"\n\
         [[virtual.real]]\naddress = \"10.0.1.1:443\"\nforward = \"masq\"\n",
    );
    let e = errors(&t);
    assert!(
        e.iter()
            .any(|(l, m)| *l == 5 && m.contains("cannot read it"))
            && e.iter()
                .any(|(l, m)| *l == 6 && m.contains("invalid expectstatus")),
        "{e:#?}"
    );
}

#[test]
fn tls_directives_on_a_check_without_tls_warn() {
    let l = cf("quiescent=no\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n\tservice=http\n\tverifytls=yes\n");
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    assert!(
        warnings(&l)
            .iter()
            .any(|d| d.line == 5 && d.message.contains("verifytls has no effect")),
        "{:#?}",
        l.diagnostics
    );
}
