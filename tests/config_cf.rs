//! ldirectord.cf: every directive, its default, inheritance, and its errors
//! with their line numbers. Expected values come from ldirectord's code
//! (`set_defaults`, `read_config`, `ld_setup`); the differential test in
//! integration/ checks the same grammar against the real ldirectord.

mod config_common;

use config_common::*;
use lvsd::config::model::{
    AlertStatus, CheckService, CheckType, HttpMethod, LogTarget, Netmask, Virtual,
};
use lvsd::ipvs::{Family, Forward, Protocol, ServiceKey};

const V: &str = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n";

fn one(extra: &str) -> Virtual {
    let c = valid(&format!("{V}{extra}"));
    assert_eq!(c.virtuals.len(), 1);
    c.virtuals
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!())
}

#[test]
fn global_defaults_are_ldirectords_code_defaults() {
    let g = valid("").global;
    assert_eq!(g.checktimeout, None);
    assert_eq!(g.negotiatetimeout, None);
    assert_eq!((g.checkinterval, g.checkcount, g.failurecount), (10, 1, 1));
    assert!(!g.autoreload && !g.fork && !g.supervised);
    assert!(
        !g.quiescent,
        "the code default is no, whatever the manual says"
    );
    assert!(!g.readdquiescent);
    assert!(g.cleanstop);
    assert_eq!(g.logfile, LogTarget::File("/var/log/ldirectord.log".into()));
    assert_eq!(g.emailalertstatus, AlertStatus::ALL);
    assert_eq!(g.emailalertfreq, 0);
}

#[test]
fn global_directives() {
    let g = valid(
        "checktimeout=3\nnegotiatetimeout=7\ncheckinterval=4\ncheckcount=2\nfailurecount=5\n\
         autoreload=yes\ncallback=\"/bin/cb\"\nfallbackcommand=/bin/fb\nlogfile=\"local0\"\n\
         emailalert=\"a@b, c@d\"\nemailalertfrom=me@x\nemailalertfreq=30\n\
         emailalertstatus=starting,stopping\nsmtp=mail.example\nexecute=other.cf\nexecute = \"third.cf\"\nfork=yes\n\
         supervised=yes\nquiescent=yes\nreaddquiescent=yes\ncleanstop=no\nmaintenancedir=/m\n",
    )
    .global;
    assert_eq!((g.checktimeout, g.negotiatetimeout), (Some(3), Some(7)));
    assert_eq!((g.checkinterval, g.checkcount, g.failurecount), (4, 2, 5));
    assert!(g.autoreload && g.fork && g.supervised && g.quiescent && g.readdquiescent);
    assert!(!g.cleanstop);
    assert_eq!(g.callback.as_deref(), Some("/bin/cb"));
    assert_eq!(g.fallbackcommand.as_deref(), Some("/bin/fb"));
    assert_eq!(g.logfile, LogTarget::Syslog("local0".into()));
    assert_eq!(g.emailalert.as_deref(), Some("a@b, c@d"));
    assert_eq!(g.emailalertfrom.as_deref(), Some("me@x"));
    assert_eq!(g.emailalertfreq, 30);
    assert!(g.emailalertstatus.starting && g.emailalertstatus.stopping);
    assert!(!g.emailalertstatus.running);
    assert_eq!(g.smtp.as_deref(), Some("mail.example"));
    assert_eq!(g.execute, ["other.cf", "third.cf"]);
    assert_eq!(
        g.maintenancedir.as_deref(),
        Some(std::path::Path::new("/m"))
    );
}

#[test]
fn virtual_defaults() {
    let v = one("");
    assert_eq!(
        v.key,
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1:80".parse().unwrap_or_else(|_| unreachable!())
        }
    );
    assert_eq!(v.checktype, CheckType::Negotiate);
    assert_eq!(v.service, CheckService::Http, "derived from port 80");
    assert_eq!(v.scheduler, "wrr");
    assert_eq!(v.checkcommand, "/bin/true");
    assert_eq!(v.request, "/");
    assert_eq!(v.receive, None);
    assert_eq!(v.httpmethod, HttpMethod::Get);
    assert_eq!((v.checktimeout, v.negotiatetimeout), (5, 30));
    assert_eq!((v.persistent, v.netmask, v.ops), (None, None, false));
    assert_eq!(v.login, "", "a port-derived ftp/sip service sets no login");
    let r = &v.reals[0];
    assert_eq!(
        (r.forward, r.weight, r.lower_threshold, r.upper_threshold),
        (Forward::Masq, 1, 0, 0)
    );
}

#[test]
fn virtual_directives() {
    let v = one(
        "\tchecktype=connect\n\tservice=https\n\tcheckcommand=\"/bin/chk arg\"\n\tcheckport=8443\n\
         \trequest=\"health\"\n\treceive=\"^OK$\"\n\thttpmethod=head\n\tvirtualhost=\"www.x\"\n\
         \tlogin=\"u\"\n\tpasswd=\"p\"\n\tdatabase=\"d\"\n\tsecret=\"s\"\n\tload=\"w1 w2\"\n\
         \tscheduler=rr\n\tpersistent=300\n\tnetmask=255.255.255.0\n\tschedflags=flag-1\n\
         \tmonitorfile=/tmp/m\n\tservicename=Web\n\tcomment=a comment\n",
    );
    assert_eq!(v.checktype, CheckType::Connect);
    assert_eq!(v.service, CheckService::Https);
    assert_eq!(v.checkcommand, "/bin/chk arg");
    assert_eq!(v.checkport, Some(8443));
    assert_eq!(v.request, "/health", "a leading / is prepended");
    assert_eq!(v.receive.as_ref().map(|r| r.source()), Some("^OK$"));
    assert_eq!(v.httpmethod, HttpMethod::Head);
    assert_eq!(v.virtualhost.as_deref(), Some("www.x"));
    assert_eq!((v.login.as_str(), v.passwd.as_str()), ("u", "p"));
    assert_eq!((v.database.as_str(), v.secret.as_str()), ("d", "s"));
    assert_eq!(v.load.as_deref(), Some("w1"));
    assert_eq!(v.scheduler, "rr");
    assert_eq!(v.persistent, Some(300));
    assert_eq!(
        v.netmask,
        Some(Netmask::V4(
            "255.255.255.0".parse().unwrap_or_else(|_| unreachable!())
        ))
    );
    assert_eq!(
        v.schedflags.as_ref().map(|f| f.to_string()).as_deref(),
        Some("flag-1")
    );
    assert_eq!(v.monitorfile.as_deref(), Some("/tmp/m"));
    assert_eq!(v.servicename.as_deref(), Some("Web"));
    assert_eq!(v.comment.as_deref(), Some("a comment"));
}

#[test]
fn checktype_values() {
    let cases = [
        ("connect", CheckType::Connect),
        ("negotiate", CheckType::Negotiate),
        ("ping", CheckType::Ping),
        ("external", CheckType::External),
        ("external-perl", CheckType::ExternalPerl),
        ("off", CheckType::Off),
        ("on", CheckType::On),
        ("3", CheckType::Combined(3)),
    ];
    for (text, want) in cases {
        assert_eq!(
            one(&format!("\tchecktype={text}\n")).checktype,
            want,
            "{text}"
        );
    }
}

#[test]
fn service_defaults_from_the_port() {
    let cases = [
        ("21", CheckService::Ftp),
        ("25", CheckService::Smtp),
        ("http", CheckService::Http),
        ("443", CheckService::Https),
        ("3306", CheckService::Mysql),
        ("8080", CheckService::None),
    ];
    for (port, want) in cases {
        let c = valid(&format!("virtual=10.0.0.1:{port}\n\treal=10.0.1.1 masq\n"));
        assert_eq!(c.virtuals[0].service, want, "port {port}");
    }
    let c = valid("virtual=7\n\treal=10.0.1.1 gate\n");
    assert_eq!(c.virtuals[0].service, CheckService::None, "fwmark");
}

#[test]
fn explicit_ftp_and_sip_services_set_default_logins() {
    let v = one("\tservice=ftp\n");
    assert_eq!(
        (v.login.as_str(), v.passwd.as_str()),
        ("anonymous", "ldirectord@director")
    );
    let v = one("\tservice=sip\n");
    assert_eq!(v.login, "ldirectord@director");
    let v = one("\tlogin=\"me\"\n\tservice=ftp\n");
    assert_eq!(v.login, "me");
}

#[test]
fn protocol_defaults_and_overrides() {
    let proto = |text: &str| match valid(text).virtuals[0].key {
        ServiceKey::Inet { protocol, .. } => Some(protocol),
        ServiceKey::FwMark { .. } => None,
    };
    assert_eq!(
        proto("virtual=10.0.0.1:53\n\treal=10.0.1.1 masq\n"),
        Some(Protocol::Udp)
    );
    assert_eq!(
        proto("virtual=10.0.0.1:domain\n\treal=10.0.1.1 masq\n"),
        Some(Protocol::Udp)
    );
    assert_eq!(
        proto("virtual=10.0.0.1:53\n\treal=10.0.1.1 masq\n\tprotocol=tcp\n"),
        Some(Protocol::Tcp)
    );
    assert_eq!(
        proto("virtual=10.0.0.1:80\n\treal=10.0.1.1 masq\n\tprotocol=sctp\n"),
        Some(Protocol::Sctp)
    );
    assert_eq!(
        proto("virtual=9\n\treal=10.0.1.1 gate\n\tprotocol=fwm\n"),
        None
    );
}

#[test]
fn virtual_address_forms() {
    let key = |text: &str| valid(text).virtuals[0].key;
    let inet = |p, a: &str| ServiceKey::Inet {
        protocol: p,
        addr: a.parse().unwrap_or_else(|_| unreachable!()),
    };
    assert_eq!(
        key("virtual=vip:www\n\treal=web1 masq\n"),
        inet(Protocol::Tcp, "10.0.0.100:80")
    );
    assert_eq!(
        key("virtual6=[2001:db8::1]:443\n\treal6=[2001:db8::2] masq\n"),
        inet(Protocol::Tcp, "[2001:db8::1]:443")
    );
    assert_eq!(
        key("virtual6=web6:80\n\treal6=web6 masq\n"),
        inet(Protocol::Tcp, "[2001:db8::10]:80")
    );
    assert_eq!(
        key("virtual6=12\n\treal6=[2001:db8::2] gate\n"),
        ServiceKey::FwMark {
            family: Family::Inet6,
            mark: 12
        }
    );
}

#[test]
fn address_without_port_is_a_fwmark_with_a_warning() {
    let l = cf("quiescent=no\nvirtual=10.0.0.1\n\treal=10.0.1.1 gate\n");
    assert!(!l.has_errors());
    assert_eq!(
        l.config.virtuals[0].key,
        ServiceKey::FwMark {
            family: Family::Inet,
            mark: 10
        }
    );
    let w = warnings(&l);
    assert!(
        w.iter()
            .any(|d| d.line == 2 && d.message.contains("fwmark 10")),
        "{w:#?}"
    );
}

#[test]
fn quiescent_default_warns_once() {
    let l = cf(&format!("{V}{V}"));
    let w: Vec<_> = warnings(&l)
        .into_iter()
        .filter(|d| d.message.contains("quiescent"))
        .collect();
    assert_eq!(w.len(), 1);
    assert!(warnings(&cf(&format!("quiescent=no\n{V}")))
        .iter()
        .all(|d| !d.message.contains("quiescent")));
}

#[test]
fn a_plain_file_draws_no_diagnostic_at_all() {
    let l = lvsd::config::parse(
        std::path::Path::new("t.cf"),
        b"quiescent=no\nvirtual=10.0.0.1:80\n\tscheduler=wlc\n\tchecktype=on\n\treal=10.0.1.1:80 masq 1\n\treal=10.0.1.2:80 masq 1\n",
        lvsd::config::Format::Ldirectord,
        &lvsd::config::resolve::Static::new(&[], ""),
    );
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    assert_eq!(l.config.virtuals[0].reals.len(), 2);
}

#[test]
fn a_range_ldirectord_cuts_to_nothing_yields_no_real() {
    // 0.0.0.9 -> 0.0.0.10 compares "9" le "10" as strings: no address.
    let l = lvsd::config::parse(
        std::path::Path::new("t.cf"),
        b"virtual=10.0.0.1:80\n\treal=0.0.0.9->0.0.0.10:80 masq\n\treal=10.0.1.1:80 masq\n",
        lvsd::config::Format::Ldirectord,
        &lvsd::config::resolve::Static::new(&[], ""),
    );
    let reals = &l.config.virtuals[0].reals;
    assert_eq!(reals.len(), 1, "{reals:?}");
    assert_eq!(reals[0].written, "10.0.1.1:80");
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.message.contains("yields only 0 addresses")),
        "{:?}",
        l.diagnostics
    );
}

#[test]
fn real_lines() {
    let c = valid(
        "virtual=10.0.0.1:80\n\treal=10.0.1.1->10.0.1.3:8080 masq 5 \"/ping\", \"pong\" l:2 u:9\n\
         \treal=web2:www ipip\n\treal=10.0.1.9 gate 0\n",
    );
    let r = &c.virtuals[0].reals;
    assert_eq!(r.len(), 5);
    assert_eq!(
        r[0].addr,
        "10.0.1.1:8080".parse().unwrap_or_else(|_| unreachable!())
    );
    assert_eq!(
        r[2].addr,
        "10.0.1.3:8080".parse().unwrap_or_else(|_| unreachable!())
    );
    assert_eq!(
        (r[1].weight, r[1].lower_threshold, r[1].upper_threshold),
        (5, 2, 9)
    );
    assert_eq!(
        (
            r[1].request.as_deref(),
            r[1].receive.as_ref().map(|r| r.source())
        ),
        (Some("/ping"), Some("pong"))
    );
    assert_eq!(r[0].written, "10.0.1.1->10.0.1.3:8080");
    for x in &r[..3] {
        // Every address of the range carries the whole line's settings.
        assert_eq!(x.written, "10.0.1.1->10.0.1.3:8080");
        assert_eq!(
            (x.request.as_deref(), x.receive.as_ref().map(|r| r.source())),
            (Some("/ping"), Some("pong"))
        );
    }
    assert_eq!((r[3].addr.port(), r[3].forward), (80, Forward::Tunnel));
    assert_eq!((r[4].addr.port(), r[4].weight), (0, 0), "no port means 0");
    assert!(r.iter().all(|x| x.line == 2 || x.line == 3 || x.line == 4));
}

#[test]
fn timeouts_resolve_as_in_ld_setup() {
    // (globals, virtual lines, effective checktimeout, negotiatetimeout)
    let cases = [
        ("", "", 5, 30),
        ("checktimeout=3\n", "", 3, 3),
        ("negotiatetimeout=9\n", "", 9, 9),
        ("checktimeout=3\nnegotiatetimeout=9\n", "", 3, 9),
        ("checktimeout=3\n", "\tnegotiatetimeout=7\n", 7, 7),
        ("negotiatetimeout=9\n", "\tchecktimeout=2\n", 2, 2),
        (
            "checktimeout=3\nnegotiatetimeout=9\n",
            "\tchecktimeout=1\n",
            1,
            1,
        ),
    ];
    for (g, v, ct, nt) in cases {
        let c = valid(&format!("{g}{V}{v}"));
        let x = &c.virtuals[0];
        assert_eq!(
            (x.checktimeout, x.negotiatetimeout),
            (ct, nt),
            "globals {g:?} virtual {v:?}"
        );
    }
}

#[test]
fn globals_are_inherited_unless_overridden() {
    let c = valid(&format!(
        "failurecount=4\ncheckcount=2\nquiescent=yes\ncleanstop=no\nemailalert=\"x@y\"\n\
         emailalertfreq=9\nsmtp=m\nfallbackcommand=/bin/fb\n{V}{V2}\tfailurecount=1\n\
         \tquiescent=no\n\tcleanstop=yes\n\temailalert=\"z@y\"\n\tsmtp=n\n\tfallbackcommand=\"/x\"\n",
        V2 = "virtual=10.0.0.2:80\n\treal=10.0.1.1:80 masq\n"
    ));
    let (a, b) = (&c.virtuals[0], &c.virtuals[1]);
    assert_eq!(
        (a.failurecount, a.checkcount, a.quiescent, a.cleanstop),
        (4, 2, true, false)
    );
    assert_eq!(
        (a.emailalert.as_deref(), a.emailalertfreq, a.smtp.as_deref()),
        (Some("x@y"), 9, Some("m"))
    );
    assert_eq!(a.fallbackcommand.as_deref(), Some("/bin/fb"));
    assert_eq!((b.failurecount, b.quiescent, b.cleanstop), (1, false, true));
    assert_eq!(
        (b.emailalert.as_deref(), b.smtp.as_deref()),
        (Some("z@y"), Some("n"))
    );
    assert_eq!(b.fallbackcommand.as_deref(), Some("/x"));
    assert_eq!(a.overrides.quiescent, None);
    assert_eq!(b.overrides.quiescent, Some(false));
}

#[test]
fn fallbacks() {
    let c = valid(
        "fallback=127.0.0.1\nvirtual=10.0.0.1:80\n\treal=10.0.1.1 masq\n\
         virtual=10.0.0.2:81\n\treal=10.0.1.1 masq\n\tfallback=127.0.0.2:8080 masq\n",
    );
    let f0 = c.virtuals[0]
        .fallback
        .as_ref()
        .map(|f| (f.addr.to_string(), f.forward));
    let f1 = c.virtuals[1]
        .fallback
        .as_ref()
        .map(|f| (f.addr.to_string(), f.forward));
    assert_eq!(
        f0,
        Some(("127.0.0.1:80".into(), Forward::Route)),
        "port-less global takes the virtual port"
    );
    assert_eq!(f1, Some(("127.0.0.2:8080".into(), Forward::Masq)));
}

#[test]
fn block_structure_tabs_comments_and_blank_lines() {
    let c = valid(
        "quiescent=no\nvirtual=10.0.0.1:80 # vip\n    real=10.0.1.1:80 masq # one\n# inside\n\
         \t\treal=10.0.1.2:80 masq\n  \tscheduler=rr # c\n\nvirtual=10.0.0.2:80\n\treal=10.0.1.3 masq\n",
    );
    assert_eq!(c.virtuals.len(), 2);
    assert_eq!(c.virtuals[0].reals.len(), 2);
    assert_eq!(c.virtuals[0].scheduler, "rr");
}

#[test]
fn errors_with_their_line_numbers() {
    let cases: &[(&str, usize, &str)] = &[
        ("frob=1\n", 1, "Unknown command"),
        ("timeout=5\n", 1, "deprecated"),
        ("connecttimeout=5\n", 1, "deprecated"),
        ("quiescent=no\ncheckinterval=0\n", 2, "check interval"),
        ("autoreload = yes # x\n", 1, "trailing"),
        ("logfile=/x\n", 1, "quoted"),
        ("fork\n", 1, "Unknown command"),
        ("emailalertstatus=none,running\n", 1, "none"),
        ("fallback=10.0.0.1:80 nat\n", 1, "forward method"),
        ("virtual=[::1]:80\n", 1, "virtual6"),
        (&format!("{V}\tfrob=1\n"), 3, "Unknown command"),
        (&format!("{V}\tconnecttimeout=3\n"), 3, "deprecated"),
        (&format!("{V}\treal6=[::1]:80 masq\n"), 3, "real"),
        (&format!("{V}\treal=10.0.1.2:80\n"), 3, "wrong format"),
        (&format!("{V}\treal=10.0.1.2:80 nat\n"), 3, "forward method"),
        (&format!("{V}\treal=10.0.1.2:80 masq 1 junk\n"), 3, "Invalid real server line"),
        (&format!("{V}\treal=10.0.1.3->10.0.1.2:80 masq\n"), 3, "Invalid Range"),
        (&format!("{V}\treal=nohost:80 masq\n"), 3, "could not resolve host"),
        (&format!("{V}\treal=10.0.1.2:nosuch masq\n"), 3, "could not resolve port"),
        (&format!("{V}\treal=10.0.1.2:80 masq l:5\n"), 3, "lower threshold"),
        (&format!("{V}\treal=10.0.1.2:80 masq 70000\n"), 3, "weight"),
        (&format!("{V}\tchecktype=sometimes\n"), 3, "checktype must be"),
        (&format!("{V}\tservice=gopher\n"), 3, "service must be"),
        (&format!("{V}\tservice=oracle\n"), 3, "cannot check Oracle"),
        (
            &format!("{V}\tprotocol=sctp\n\tservice=http\n"),
            4,
            "do not speak SCTP",
        ),
        (&format!("{V}\trequest=/x\n"), 3, "double-quoted"),
        (&format!("{V}\treceive=\"\"\n"), 3, "invalid receive string"),
        (&format!("{V}\treceive=\"(unclosed\"\n"), 3, "invalid receive regex"),
        (&format!("{V}\tchecktimeout=0\n"), 3, "check timeout"),
        (&format!("{V}\tcheckport=0\n"), 3, "checkport"),
        (&format!("{V}\tscheduler=WRR\n"), 3, "lowercase"),
        (&format!("{V}\tschedflags=sh-port\n"), 3, "incompatible"),
        (&format!("{V}\tschedflags=sh-bogus\n"), 3, "invalid scheduler flag"),
        (&format!("{V}\tpersistent=0\n"), 3, "persistent"),
        (&format!("{V}\tpersistent=5\n\tnetmask=24\n"), 4, "dotted quad"),
        (&format!("{V}\tprotocol=fwm\n"), 3, "protocol must be"),
        (&format!("{V}\tops=true\n"), 3, "ops"),
        (&format!("{V}\thttpmethod=POST\n"), 3, "GET or HEAD"),
        (&format!("{V}\temailalertstatus=bogus\n"), 3, "email alert status"),
        (&format!("{V}\tfallback6=[::1]:80\n"), 3, "fallback"),
        (&format!("{V}\n\tchecktype=on\n"), 4, "blank line ends the block"),
        (&format!("{V}{V}"), 3, "duplicate virtual server"),
        ("virtual=10.0.0.1:0\n\treal=10.0.1.1 masq\n", 1, "port 0"),
        ("virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]->[2001:db8::3] masq\n", 2, "IPv6"),
        ("virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2] masq\n\tpersistent=5\n\tnetmask=200\n", 4, "prefix length"),
        ("virtual=7\n\treal=10.0.1.1 gate\n\tprotocol=tcp\n", 3, "must be fwm"),
        ("virtual=nohost:80\n\treal=10.0.1.1 masq\n", 1, "cannot resolve"),
    ];
    for (text, line, needle) in cases {
        assert_error(&format!("quiescent=no\n{text}"), line + 1, needle);
    }
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let l =
        cf("frob=1\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:80 nat\n\tservice=gopher\nfork=maybe\n");
    let lines: Vec<usize> = errors(&l).iter().map(|e| e.0).collect();
    assert_eq!(lines, [1, 3, 4, 5]);
}

#[test]
fn warnings_for_traps_and_ignored_settings() {
    let l = cf(&format!(
        "quiescent=no\ncheckcount=2\n{V}\tops=yes\n\tnetmask=255.0.0.0\n\tcheckinterval=5\n"
    ));
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    let w: Vec<(usize, &str)> = warnings(&l)
        .iter()
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert!(
        w.iter().any(|(l, m)| *l == 2 && m.contains("deprecated")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|(l, m)| *l == 5 && m.contains("-o only for udp")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|(l, m)| *l == 6 && m.contains("without persistent")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|(l, m)| *l == 3 && m.contains("fork=no")),
        "{w:?}"
    );
}

#[test]
fn two_lines_naming_one_kernel_destination_draw_a_warning() {
    let l = cf(
        "quiescent=no\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:80 gate\n\treal=10.0.1.1:8080 gate 2\n\
         \treal=10.0.1.2:8080 masq\n\treal=10.0.1.2:8081 masq\n",
    );
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    let w: Vec<(usize, &str)> = warnings(&l)
        .iter()
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, 4);
    assert!(
        w[0].1
            .contains("kernel destination 10.0.1.1:80, as is the one at line 3"),
        "{w:?}"
    );
}
