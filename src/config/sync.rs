//! The kernel's connection synchronisation and IPVS timeouts (lvsd
//! extensions; ldirectord refuses these lines). A pair of directors that
//! fail over keeps its connections only if the backup's kernel already
//! knows them: `syncdaemon` starts the kernel's sync threads, and
//! `ipvstimeouts` keeps the connection timeouts equal on both nodes (a
//! synced connection expires on the backup by the backup's timeouts).
//!
//! Both formats read the same directives through [`directive`]; the checks
//! across them are in [`validate`]. Pure: whether the interface exists is
//! the daemon's to find out at start and reload.

use std::net::IpAddr;

use super::diag::Diagnostics;

/// Which sync threads to run (`ipvsadm --start-daemon`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncRole {
    /// No threads (the default): lvsd leaves the kernel's sync alone.
    #[default]
    No,
    Master,
    Backup,
    /// Both threads: whichever node holds the VIP sends, the other receives.
    /// What a hot standby pair runs.
    Both,
}

impl SyncRole {
    pub fn name(self) -> &'static str {
        match self {
            SyncRole::No => "no",
            SyncRole::Master => "master",
            SyncRole::Backup => "backup",
            SyncRole::Both => "both",
        }
    }

    pub fn master(self) -> bool {
        matches!(self, SyncRole::Master | SyncRole::Both)
    }

    pub fn backup(self) -> bool {
        matches!(self, SyncRole::Backup | SyncRole::Both)
    }
}

/// The connection timeouts (`ipvsadm --set TCP TCPFIN UDP`), in seconds;
/// 0 leaves that one as the kernel has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpvsTimeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// The sync directives as written; `line` of each for the diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sync {
    pub role: SyncRole,
    pub interface: Option<String>,
    /// The kernel's sync id (0-255): both nodes of a pair use the same one,
    /// and a node ignores messages with another.
    pub syncid: u8,
    /// Largest sync message payload; `None`: the kernel's choice (from the
    /// interface's MTU).
    pub maxlen: Option<u16>,
    /// Multicast group; `None`: the kernel's default, 224.0.0.81.
    pub group: Option<IpAddr>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub timeouts: Option<IpvsTimeouts>,
    /// Where `syncdaemon` was written (0: not written), for the checks.
    pub line: usize,
    /// The first sync directive other than `syncdaemon`, for the warning
    /// when they are given without it.
    pub other_line: usize,
}

impl Sync {
    /// Whether lvsd runs sync threads.
    pub fn enabled(&self) -> bool {
        self.role != SyncRole::No
    }
}

/// Reads one directive into `s`. `None`: `key` is not a sync directive.
pub fn directive(s: &mut Sync, key: &str, value: &str, line: usize) -> Option<Result<(), String>> {
    let value = value.trim();
    let r = match key {
        "syncdaemon" => role(value).map(|r| {
            s.role = r;
            s.line = line;
        }),
        "syncinterface" => interface(value).map(|i| s.interface = Some(i)),
        "syncid" => number::<u8>(key, value, 0, 255).map(|n| s.syncid = n),
        "syncmaxlen" => number::<u16>(key, value, 1, 65535).map(|n| s.maxlen = Some(n)),
        "syncgroup" => group(value).map(|g| s.group = Some(g)),
        "syncport" => number::<u16>(key, value, 1, 65535).map(|n| s.port = Some(n)),
        "syncttl" => number::<u8>(key, value, 1, 255).map(|n| s.ttl = Some(n)),
        "ipvstimeouts" => timeouts(value).map(|t| s.timeouts = Some(t)),
        _ => return None,
    };
    if key != "syncdaemon" && key != "ipvstimeouts" && s.other_line == 0 {
        s.other_line = line;
    }
    Some(r)
}

fn role(v: &str) -> Result<SyncRole, String> {
    match v {
        "no" => Ok(SyncRole::No),
        "master" => Ok(SyncRole::Master),
        "backup" => Ok(SyncRole::Backup),
        "both" => Ok(SyncRole::Both),
        _ => Err(format!(
            "invalid syncdaemon {v:?}: expected no, master, backup or both"
        )),
    }
}

/// An interface name the kernel can hold (IFNAMSIZ is 16 with the NUL).
fn interface(v: &str) -> Result<String, String> {
    let ok = (1..16).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
        && v != "."
        && v != "..";
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "invalid syncinterface {v:?}: an interface name of 1 to 15 characters"
        ))
    }
}

/// A number from `min` to `max`.
fn number<T: TryFrom<u64>>(key: &str, v: &str, min: u64, max: u64) -> Result<T, String> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("invalid {key} {v:?}: a number from {min} to {max}"))
}

fn group(v: &str) -> Result<IpAddr, String> {
    match v
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) if ip.is_multicast() => Ok(ip),
        Ok(ip) => Err(format!("syncgroup {ip} is not a multicast address")),
        Err(_) => Err(format!("invalid syncgroup {v:?}: a multicast IP address")),
    }
}

fn timeouts(v: &str) -> Result<IpvsTimeouts, String> {
    let n: Vec<&str> = v.split_whitespace().collect();
    let parse = |s: &str| s.parse::<u32>().ok().filter(|n| *n <= i32::MAX as u32);
    match n.as_slice() {
        [a, b, c] => match (parse(a), parse(b), parse(c)) {
            (Some(tcp), Some(tcp_fin), Some(udp)) => Ok(IpvsTimeouts { tcp, tcp_fin, udp }),
            _ => Err(format!(
                "invalid ipvstimeouts {v:?}: three numbers of seconds"
            )),
        },
        _ => Err(format!(
            "invalid ipvstimeouts {v:?}: TCP TCPFIN UDP, in seconds (0 keeps one as it is)"
        )),
    }
}

/// Checks across the directives, once the file is read. `cf`: the file is
/// an ldirectord.cf, which ldirectord would refuse with these lines.
pub fn validate(s: &Sync, cf: bool, diags: &mut Diagnostics) {
    if s.enabled() && s.interface.is_none() {
        diags.error(
            s.line,
            format!(
                "syncdaemon={} needs syncinterface= (the interface the sync messages use)",
                s.role.name()
            ),
        );
    }
    if !s.enabled() && s.other_line != 0 {
        diags.warn(
            s.other_line,
            "sync settings are ignored without syncdaemon=master, backup or both",
        );
    }
    if cf && (s.line != 0 || s.other_line != 0) {
        let line = if s.line != 0 { s.line } else { s.other_line };
        diags.warn(
            line,
            "sync directives are lvsd extensions: ldirectord refuses this file",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn read(lines: &[(&str, &str)]) -> Result<Sync, String> {
        let mut s = Sync::default();
        for (i, (k, v)) in lines.iter().enumerate() {
            directive(&mut s, k, v, i + 1).expect("a sync directive")?;
        }
        Ok(s)
    }

    #[test]
    fn directives_read_into_typed_values() {
        let s = read(&[
            ("syncdaemon", "both"),
            ("syncinterface", "eth1"),
            ("syncid", "7"),
            ("syncmaxlen", "1400"),
            ("syncgroup", "224.0.0.81"),
            ("syncport", "8848"),
            ("syncttl", "1"),
            ("ipvstimeouts", "900 120 300"),
        ])
        .unwrap();
        assert!(s.role.master() && s.role.backup());
        assert_eq!(s.interface.as_deref(), Some("eth1"));
        assert_eq!(
            (s.syncid, s.maxlen, s.port, s.ttl),
            (7, Some(1400), Some(8848), Some(1))
        );
        assert_eq!(
            s.timeouts,
            Some(IpvsTimeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            })
        );
        assert_eq!((s.line, s.other_line), (1, 2));
        let mut d = Diagnostics::new(Path::new("x"));
        validate(&s, false, &mut d);
        let v = d.into_vec();
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let e = |k, v| read(&[(k, v)]).unwrap_err();
        assert!(e("syncdaemon", "yes").contains("no, master, backup or both"));
        assert!(e("syncinterface", "a-very-long-interface").contains("1 to 15"));
        assert!(e("syncinterface", "../x").contains("interface name"));
        assert!(e("syncid", "256").contains("syncid"));
        assert!(e("syncgroup", "10.0.0.1").contains("not a multicast"));
        assert!(e("syncttl", "0").contains("syncttl"));
        assert!(e("ipvstimeouts", "900 120").contains("TCP TCPFIN UDP"));
        assert!(e("ipvstimeouts", "900 x 1").contains("three numbers"));
        assert!(directive(&mut Sync::default(), "checktimeout", "3", 1).is_none());
    }

    #[test]
    fn checks_across_directives() {
        let msgs = |s: &Sync, cf: bool| {
            let mut d = Diagnostics::new(Path::new("x"));
            validate(s, cf, &mut d);
            d.into_vec()
                .into_iter()
                .map(|x| (x.line, x.message))
                .collect::<Vec<_>>()
        };
        let no_if = read(&[("syncdaemon", "master")]).unwrap();
        assert!(msgs(&no_if, false)[0].1.contains("needs syncinterface"));
        let ignored = read(&[("syncid", "3")]).unwrap();
        assert!(msgs(&ignored, false)[0]
            .1
            .contains("ignored without syncdaemon"));
        let ok = read(&[("syncdaemon", "backup"), ("syncinterface", "eth0")]).unwrap();
        assert!(msgs(&ok, false).is_empty());
        assert!(msgs(&ok, true)[0].1.contains("ldirectord refuses"));
    }
}
