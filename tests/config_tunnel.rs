//! lvsd's tunnel options of ipip reals (`tuntype`, `tunport`, `tuncsum`)
//! and the persistence engine of a virtual (`pe`): read the same from both
//! formats, refused with `FILE:LINE` where ipvsadm or the kernel would
//! refuse (or silently ignore) them, programmed as ipvsadm would, and kept
//! by `lvsd convert`.

mod config_common;

use std::path::Path;

use config_common::*;
use lvsd::config::toml::write::to_toml;
use lvsd::config::{self, Format, Loaded};
use lvsd::director::desired::{self, desired};
use lvsd::ipvs::save::render_save;
use lvsd::lvs::{PersistenceEngine, Tunnel, TunnelCsum, TunnelType};

const HEAD: &str = "quiescent=no\nvirtual=10.0.0.1:80\n";

fn tunnel_of(real_line: &str) -> Option<Tunnel> {
    let c = valid(&format!("{HEAD}\treal={real_line}\n"));
    c.virtuals[0].reals[0].tunnel
}

#[test]
fn real_lines_take_tunnel_options_at_their_end() {
    let gue = |port, csum| {
        Some(Tunnel {
            kind: TunnelType::Gue { port },
            csum,
        })
    };
    let gre = |csum| {
        Some(Tunnel {
            kind: TunnelType::Gre,
            csum,
        })
    };
    let cases = [
        ("10.0.1.1 ipip", None),
        ("10.0.1.1 ipip 5 tuntype=ipip", None),
        (
            "10.0.1.1 ipip tuntype=gue tunport=6080",
            gue(6080, TunnelCsum::NoCsum),
        ),
        (
            "10.0.1.1:80 ipip 3 \"/x\", \"ok\" l:1 u:9 tunport=6080 tuntype=gue tuncsum=remcsum",
            gue(6080, TunnelCsum::RemCsum),
        ),
        ("10.0.1.1 ipip 2 tuntype=gre", gre(TunnelCsum::NoCsum)),
        (
            "10.0.1.1 ipip 2\ttuntype=gre  tuncsum=csum",
            gre(TunnelCsum::Csum),
        ),
        (
            "10.0.1.1 ipip tuntype=gre tuncsum=nocsum",
            gre(TunnelCsum::NoCsum),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(tunnel_of(line), want, "real={line}");
    }
    // The other fields are read as ldirectord reads them.
    let c = valid(&format!(
        "{HEAD}\treal=10.0.1.1 ipip 3 l:1 u:9 tuntype=gue tunport=6080\n"
    ));
    let r = &c.virtuals[0].reals[0];
    assert_eq!((r.weight, r.lower_threshold, r.upper_threshold), (3, 1, 9));
}

#[test]
fn each_extension_warns_that_ldirectord_refuses_the_file() {
    let l = cf(&format!(
        "{HEAD}\treal=10.0.1.1 ipip tuntype=gue tunport=6080\n\
         virtual=10.0.0.1:5060\n\tprotocol=udp\n\tpersistent=60\n\tpe=sip\n\treal=10.0.1.1 gate\n"
    ));
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    let w: Vec<(usize, &str)> = warnings(&l)
        .iter()
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    for (line, key) in [(3, "tuntype"), (3, "tunport"), (7, "pe")] {
        let msg = format!("{key} is an lvsd extension: ldirectord refuses this file");
        assert!(w.contains(&(line, msg.as_str())), "{key}: {w:#?}");
    }
}

#[test]
fn bad_tunnel_options_are_errors_at_their_line() {
    let cases = [
        (
            "10.0.1.1 gate tuntype=gue tunport=6080",
            "this real is gate",
        ),
        ("10.0.1.1 gate tunport=6080", "this real is gate"),
        ("10.0.1.1:8080 masq tuntype=gre", "this real is masq"),
        ("10.0.1.1 gate tuncsum=csum", "tunnel forwarding"),
        (
            "10.0.1.1 ipip tuntype=gue",
            "tuntype=gue needs tunport=PORT",
        ),
        ("10.0.1.1 ipip tunport=6080", "this real's tunnel is ipip"),
        (
            "10.0.1.1 ipip tuntype=gre tunport=6080",
            "this real's tunnel is gre",
        ),
        ("10.0.1.1 ipip tuncsum=csum", "ipip carries no checksum"),
        (
            "10.0.1.1 ipip tuntype=ipip tuncsum=nocsum",
            "ipip carries no checksum",
        ),
        ("10.0.1.1 ipip tuntype=gre tuncsum=remcsum", "remcsum"),
        ("10.0.1.1 ipip tuntype=vxlan", "invalid tuntype \"vxlan\""),
        (
            "10.0.1.1 ipip tuntype=gue tunport=0",
            "invalid tunport \"0\"",
        ),
        ("10.0.1.1 ipip tuntype=gue tunport=65536", "invalid tunport"),
        ("10.0.1.1 ipip tuntype=gue tunport=fou", "invalid tunport"),
        (
            "10.0.1.1 ipip tuntype=gre tuncsum=yes",
            "invalid tuncsum \"yes\"",
        ),
        ("10.0.1.1 ipip tuntype=gre junk", "Invalid real server line"),
        ("10.0.1.1 ipip tunnel=gre", "Invalid real server line"),
    ];
    for (line, needle) in cases {
        assert_error(&format!("{HEAD}\treal={line}\n"), 3, needle);
    }
    // A range line is one error, not one per address.
    assert_error(
        &format!("{HEAD}\treal=10.0.1.1->10.0.1.3 gate tuntype=gre\n"),
        3,
        "this real is gate",
    );
}

#[test]
fn pe_needs_persistence_and_udp() {
    let v =
        |extra: &str| format!("quiescent=no\nvirtual=10.0.0.1:5060\n\treal=10.0.1.1 gate\n{extra}");
    let c = valid(&v("\tprotocol=udp\n\tpersistent=60\n\tpe=sip\n"));
    assert_eq!(c.virtuals[0].pe, Some(PersistenceEngine::Sip));
    // A fwmark service may mark UDP: allowed.
    let c = valid("quiescent=no\nvirtual=7\n\treal=10.0.1.1 gate\n\tpersistent=60\n\tpe=sip\n");
    assert_eq!(c.virtuals[0].pe, Some(PersistenceEngine::Sip));
    assert_error(
        &v("\tprotocol=udp\n\tpe=sip\n"),
        5,
        "pe=sip needs persistent=SECONDS",
    );
    assert_error(
        &v("\tpersistent=60\n\tpe=sip\n"),
        5,
        "this virtual service is tcp",
    );
    assert_error(
        &v("\tprotocol=sctp\n\tchecktype=connect\n\tpersistent=60\n\tpe=sip\n"),
        7,
        "this virtual service is sctp",
    );
    assert_error(
        &v("\tprotocol=udp\n\tpersistent=60\n\tpe=dns\n"),
        6,
        "only persistence engine is sip",
    );
}

#[test]
fn the_plan_programs_what_ipvsadm_would() {
    let c = valid(
        "quiescent=no\nvirtual=10.0.0.1:80\n\treal=10.0.1.1 ipip\n\
         \treal=10.0.1.2 ipip tuntype=gue tunport=6080\n\
         \treal=10.0.1.3 ipip 2 tuntype=gue tunport=6081 tuncsum=remcsum\n\
         \treal=10.0.1.4 ipip tuntype=gre tuncsum=csum\n\
         virtual=10.0.0.1:5060\n\tprotocol=udp\n\tpersistent=60\n\tpe=sip\n\treal=10.0.1.1 gate\n",
    );
    assert_eq!(
        render_save(&desired::all_up(&c)),
        "-A -t 10.0.0.1:80 -s wrr\n\
         -a -t 10.0.0.1:80 -r 10.0.1.1:80 -i -w 1 --tun-type ipip\n\
         -a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum\n\
         -a -t 10.0.0.1:80 -r 10.0.1.3:80 -i -w 2 --tun-type gue --tun-port 6081 --tun-remcsum\n\
         -a -t 10.0.0.1:80 -r 10.0.1.4:80 -i -w 1 --tun-type gre --tun-csum\n\
         -A -u 10.0.0.1:5060 -s wrr -p 60 --pe sip\n\
         -a -u 10.0.0.1:5060 -r 10.0.1.1:5060 -g -w 1\n"
    );
}

/// A quiesced real is edited to weight 0: without its tunnel, the kernel
/// would turn it into plain ipip.
#[test]
fn a_quiesced_real_keeps_its_tunnel() {
    let c = valid(
        "quiescent=yes\nvirtual=10.0.0.1:80\n\treal=10.0.1.2 ipip 5 tuntype=gue tunport=6080\n",
    );
    let mut facts = desired::Facts::all_up(&c);
    for h in facts.health.values_mut() {
        *h = lvsd::check::Health::Down;
    }
    assert_eq!(
        render_save(&desired(
            &c,
            &facts,
            &std::collections::BTreeSet::new(),
            &lvsd::ipvs::Table::new()
        )),
        "-A -t 10.0.0.1:80 -s wrr\n\
         -a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 0 --tun-type gue --tun-port 6080 --tun-nocsum\n"
    );
}

const TOML_HEAD: &str = "quiescent = false\n[[virtual]]\naddress = \"10.0.0.1:80\"\n";

fn toml_real(keys: &str) -> Loaded {
    toml(&format!(
        "{TOML_HEAD}[[virtual.real]]\naddress = \"10.0.1.1\"\nforward = \"ipip\"\n{keys}"
    ))
}

#[test]
fn toml_reals_take_the_same_keys() {
    let l = toml_real("tuntype = \"gue\"\ntunport = 6080\ntuncsum = \"csum\"\n");
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    assert_eq!(
        l.config.virtuals[0].reals[0].tunnel,
        Some(Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: TunnelCsum::Csum,
        })
    );
    // Errors are at the line of the key at fault.
    let cases = [
        ("tuntype = \"gue\"\n", 7, "tuntype=gue needs tunport=PORT"),
        (
            "tuntype = \"gre\"\ntunport = 6080\n",
            8,
            "this real's tunnel is gre",
        ),
        ("tuncsum = \"csum\"\n", 7, "ipip carries no checksum"),
        ("tuntype = \"gre\"\ntuncsum = \"remcsum\"\n", 8, "remcsum"),
        (
            "tuntype = \"gue\"\ntunport = -1\n",
            8,
            "invalid tunport \"-1\"",
        ),
        ("tuntype = \"gue\"\ntunport = 70000\n", 8, "invalid tunport"),
        ("tuntype = \"ipgre\"\n", 7, "invalid tuntype"),
    ];
    for (keys, line, needle) in cases {
        assert_one_error(&toml_real(keys), line, needle, keys);
    }
    let gate = toml(&format!(
        "{TOML_HEAD}[[virtual.real]]\naddress = \"10.0.1.1\"\nforward = \"gate\"\ntuntype = \"gre\"\n"
    ));
    assert_one_error(&gate, 7, "this real is gate", "a gate real with tuntype");
}

#[test]
fn toml_pe_is_checked_as_in_cf() {
    let v = |keys: &str| {
        toml(&format!(
            "quiescent = false\n[[virtual]]\naddress = \"10.0.0.1:5060\"\n{keys}\
             [[virtual.real]]\naddress = \"10.0.1.1\"\nforward = \"gate\"\n"
        ))
    };
    let l = v("protocol = \"udp\"\npersistent = 60\npe = \"sip\"\n");
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    assert_eq!(l.config.virtuals[0].pe, Some(PersistenceEngine::Sip));
    for (keys, line, needle) in [
        ("protocol = \"udp\"\npe = \"sip\"\n", 5, "needs persistent"),
        (
            "persistent = 60\npe = \"sip\"\n",
            5,
            "this virtual service is tcp",
        ),
        (
            "protocol = \"udp\"\npersistent = 60\npe = \"rtsp\"\n",
            6,
            "invalid pe",
        ),
    ] {
        assert_one_error(&v(keys), line, needle, keys);
    }
}

#[test]
fn convert_keeps_tunnels_and_the_engine() {
    let c = valid(
        "quiescent=no\nvirtual=10.0.0.1:80\n\treal=10.0.1.1 ipip\n\
         \treal=10.0.1.2 ipip tuntype=gue tunport=6080\n\
         \treal=10.0.1.3 ipip tuntype=gre tuncsum=csum\n\
         virtual=10.0.0.1:5060\n\tprotocol=udp\n\tpersistent=60\n\tpe=sip\n\treal=10.0.1.1 gate\n",
    );
    let text = to_toml(&c);
    let back = config::parse(
        Path::new("converted.toml"),
        text.as_bytes(),
        Format::Toml,
        &resolver(),
    );
    assert!(!back.has_errors(), "{text}\n{:#?}", back.diagnostics);
    let (mut a, mut b) = (c, back.config);
    a.erase_lines();
    b.erase_lines();
    assert_eq!(a, b, "{text}");
    assert!(
        text.contains("tuntype = \"gue\"\ntunport = 6080\n"),
        "{text}"
    );
    assert!(text.contains("pe = \"sip\""), "{text}");
}
