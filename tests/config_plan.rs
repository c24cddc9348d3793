//! `director::plan`: the table a config programs, rendered as `ipvsadm -S -n`.
//! The expected texts follow the rules ipvsadm and ldirectord apply; the
//! differential test in integration/ compares the same renderings with what
//! the real ldirectord programs into a real kernel.

mod config_common;

use config_common::valid;
use lvsd::director::desired::{self, desired, Facts, RealKey};
use lvsd::ipvs::save::render_save;

fn plan_text(cf: &str) -> String {
    render_save(&desired::all_up(&valid(&format!("quiescent=no\n{cf}"))))
}

#[test]
fn plan_rules() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "gate and ipip take the virtual port, masq keeps its own, no port is 0",
            "virtual=10.0.0.1:80\n\treal=10.0.1.1:8080 gate\n\treal=10.0.1.2:8080 ipip 2\n\
             \treal=10.0.1.3:8080 masq 3\n\treal=10.0.1.4 masq\n",
            "-A -t 10.0.0.1:80 -s wrr\n\
             -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1\n\
             -a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 2 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 3\n\
             -a -t 10.0.0.1:80 -r 10.0.1.4:0 -m -w 1\n",
        ),
        (
            "fwmark reals keep their ports",
            "virtual=5\n\treal=10.0.1.1:8080 gate\n\treal=10.0.1.2 ipip\n",
            "-A -f 5 -s wrr\n-a -f 5 -r 10.0.1.1:8080 -g -w 1\n-a -f 5 -r 10.0.1.2:0 -i -w 1 --tun-type ipip\n",
        ),
        (
            "persistence with and without netmask",
            "virtual=10.0.0.1:443\n\treal=10.0.1.1 gate\n\tpersistent=600\n\tnetmask=255.255.255.0\n\
             virtual=10.0.0.2:443\n\treal=10.0.1.1 gate\n\tpersistent=60\n",
            "-A -t 10.0.0.1:443 -s wrr -p 600 -M 255.255.255.0\n\
             -a -t 10.0.0.1:443 -r 10.0.1.1:443 -g -w 1\n\
             -A -t 10.0.0.2:443 -s wrr -p 60\n\
             -a -t 10.0.0.2:443 -r 10.0.1.1:443 -g -w 1\n",
        ),
        (
            "ops only for udp; port 53 defaults to udp",
            "virtual=10.0.0.1:53\n\treal=10.0.1.1 gate\n\tops=yes\n\
             virtual=10.0.0.1:54\n\treal=10.0.1.1 gate\n\tops=yes\n",
            "-A -t 10.0.0.1:54 -s wrr\n-a -t 10.0.0.1:54 -r 10.0.1.1:54 -g -w 1\n\
             -A -u 10.0.0.1:53 -s wrr -o\n-a -u 10.0.0.1:53 -r 10.0.1.1:53 -g -w 1\n",
        ),
        (
            "scheduler flags",
            "virtual=10.0.0.1:80\n\treal=10.0.1.1 gate\n\tscheduler=mh\n\tschedflags=mh-fallback,mh-port\n",
            "-A -t 10.0.0.1:80 -s mh -b mh-fallback,mh-port\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1\n",
        ),
        (
            "ipv6 and fwmark -6 with a prefix netmask",
            "virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]:8080 masq\n\
             virtual6=9\n\treal6=[2001:db8::3] gate\n\tpersistent=30\n\tnetmask=64\n",
            "-A -t [2001:db8::1]:80 -s wrr\n-a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -m -w 1\n\
             -A -f 9 -6 -s wrr -p 30 -M 64\n-a -f 9 -6 -r [2001:db8::3]:0 -g -w 1\n",
        ),
        (
            "checktype=off: no reals, the fallback instead; quiescent keeps them at weight 0",
            "virtual=10.0.0.1:80\n\treal=10.0.1.1 masq\n\tchecktype=off\n\tfallback=127.0.0.1:80 masq\n\
             virtual=10.0.0.2:80\n\treal=10.0.1.1:80 masq 5\n\tchecktype=off\n\tquiescent=yes\n",
            "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.1:80 -m -w 1\n\
             -A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 10.0.1.1:80 -m -w 0\n",
        ),
        (
            "the fallback is absent while a real is up, present for a virtual without reals",
            "fallback=127.0.0.1\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n\
             virtual=10.0.0.2:81\n\tchecktype=on\n",
            "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n\
             -A -t 10.0.0.2:81 -s wrr\n-a -t 10.0.0.2:81 -r 127.0.0.1:81 -g -w 1\n",
        ),
        (
            "a line mapped onto an existing destination is refused; the same address is edited",
            "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 gate 3\n\treal=10.0.1.1:8080 gate 5\n\
             \treal=10.0.1.2:80 masq 1\n\treal=10.0.1.2:80 masq 9\n",
            "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 3\n\
             -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 9\n",
        ),
        (
            "a mapped line first, then the address it maps to: the later edits it",
            "virtual=10.0.0.1:80\n\treal=10.0.1.1:8080 gate 5\n\treal=10.0.1.1:80 gate 3\n",
            "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 3\n",
        ),
    ];
    for (what, cf, want) in cases {
        assert_eq!(plan_text(cf), *want, "{what}");
    }
}

#[test]
fn thresholds_are_in_the_table_though_not_in_the_save_format() {
    let c = valid("quiescent=no\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq 2 l:3 u:7\n");
    let t = desired::all_up(&c);
    let d = t
        .services
        .values()
        .next()
        .and_then(|e| e.dests.values().next());
    assert_eq!(
        d.map(|d| (d.weight, d.lower_threshold, d.upper_threshold)),
        Some((2, 3, 7))
    );
}

#[test]
fn desired_follows_health() {
    let c = valid(
        "quiescent=no\nfallback=127.0.0.1:80\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n\
         \treal=10.0.1.2:80 masq\nvirtual=10.0.0.2:80\n\treal=10.0.1.1:80 masq\n\tquiescent=yes\n",
    );
    // The first real up (or not), every other one down.
    let facts = |first_up: bool| Facts {
        health: c
            .virtuals
            .iter()
            .flat_map(|v| v.reals.iter().map(move |r| (v.key, r.addr)))
            .map(|(service, real)| {
                let up = first_up && real == "10.0.1.1:80".parse().unwrap();
                let h = if up {
                    lvsd::check::Health::Up
                } else {
                    lvsd::check::Health::Down
                };
                (RealKey { service, real }, h)
            })
            .collect(),
        maintenance: Default::default(),
    };
    let none = Default::default();
    let empty = lvsd::ipvs::Table::new();
    assert_eq!(
        render_save(&desired(&c, &facts(true), &none, &empty)),
        "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n\
         -A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 10.0.1.1:80 -m -w 1\n"
    );
    assert_eq!(
        render_save(&desired(&c, &facts(false), &none, &empty)),
        "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.1:80 -g -w 1\n\
         -A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 10.0.1.1:80 -m -w 0\n\
         -a -t 10.0.0.2:80 -r 127.0.0.1:80 -g -w 1\n"
    );
}
