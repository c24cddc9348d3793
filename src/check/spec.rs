//! What to check: the engine's input, one [`CheckSpec`] per (virtual, real).
//!
//! The shapes follow ldirectord's directives so the director can build them
//! from the configuration one to one: `checktype` is [`CheckKind`], `service`
//! is [`Service`], `checktimeout`/`negotiatetimeout` are [`Timeouts`] (already
//! resolved against each other and the globals, anchors §1.7), `checkport`
//! lands in [`Target::port`]. A [`Probe`] is everything that decides what goes
//! on the wire; two specs with equal probes are checked once (ldirectord's
//! `real_id`). Nothing here does I/O.

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// One (virtual, real) pair to keep an eye on. `K` is the director's key for
/// the pair; the engine reports health per key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSpec<K> {
    pub key: K,
    pub probe: Probe,
    /// ldirectord's `checkinterval`: pause between the end of one probe and
    /// the start of the next.
    pub interval: Duration,
    /// ldirectord's `failurecount`: consecutive failures before Down (≥ 1).
    pub failure_count: u32,
}

/// Everything that decides what a check sends and how long it may take.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    pub target: Target,
    pub kind: CheckKind,
    pub timeouts: Timeouts,
    /// ldirectord's `checkcount`: ICMP echo attempts for `ping` (≥ 1).
    pub check_count: u32,
}

/// Where the real server is and which virtual service it serves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Address and port to check (`checkport` when set, else the real's port).
    pub addr: SocketAddr,
    /// The real server's own port, passed to external checks as `RPORT`.
    pub real_port: u16,
    pub protocol: Protocol,
    /// The virtual service, passed to external checks as `VIP VPORT`.
    pub virtual_service: VirtualService,
}

/// The virtual service's transport, as in `protocol=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    /// A firewall-mark virtual: checks use TCP as ldirectord does.
    Fwm,
}

/// The virtual side of a check, as ldirectord hands it to `checkcommand`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VirtualService {
    Addr(SocketAddr),
    FwMark(u32),
}

/// `checktimeout` and `negotiatetimeout`, both resolved (anchors §1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeouts {
    pub check: Duration,
    pub negotiate: Duration,
}

impl Default for Timeouts {
    /// ldirectord's defaults when nothing is set: 5 s and 30 s.
    fn default() -> Self {
        Timeouts {
            check: Duration::from_secs(5),
            negotiate: Duration::from_secs(30),
        }
    }
}

/// `checktype=`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// Always up, never probed.
    On,
    /// Never probed and never up.
    Off,
    /// TCP connect; an ICMP echo for UDP virtuals, as ldirectord does.
    Connect,
    /// ICMP echo, `checkcount` attempts.
    Ping,
    External(External),
    Negotiate(Service),
    /// `checktype=N`: N connects, then one negotiate.
    Combined {
        connects: u32,
        service: Service,
    },
}

/// `checktype=external` or `external-perl`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct External {
    pub command: PathBuf,
    /// Run the file with perl (`external-perl`) instead of executing it.
    pub perl: bool,
}

/// One concrete probe: what a [`crate::check::Checker`] is asked to run.
#[derive(Clone, Copy, Debug)]
pub enum Method<'a> {
    Connect,
    Ping,
    External(&'a External),
    Negotiate(&'a Service),
}

/// Parameters shared by the request/response services.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Exchange {
    /// `request=` (path, URL, query, name, ...), per real or per virtual.
    pub request: String,
    /// `receive=`; `None` when unset or empty.
    pub receive: Option<Receive>,
}

/// `login=`, `passwd=` and `database=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub login: String,
    pub password: String,
    pub database: String,
}

/// `service=`, with the parameters each one reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Http(Http),
    /// The real server is an HTTP proxy; `request` is an absolute URL.
    HttpProxy(Http),
    Dns(Dns),
    Smtp {
        tls: bool,
    },
    Pop {
        tls: bool,
        credentials: Credentials,
    },
    Imap {
        tls: bool,
        credentials: Credentials,
    },
    Ftp {
        exchange: Exchange,
        credentials: Credentials,
    },
    Nntp,
    Ldap {
        tls: bool,
        exchange: Exchange,
        credentials: Credentials,
    },
    Sip {
        login: String,
    },
    Radius {
        credentials: Credentials,
        secret: String,
    },
    Mysql {
        exchange: Exchange,
        credentials: Credentials,
    },
    Pgsql {
        exchange: Exchange,
        credentials: Credentials,
    },
    SimpleTcp(Exchange),
    /// No negotiation: always up.
    None,
}

/// `service=http` / `https` (and the proxy check).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Http {
    pub tls: bool,
    pub exchange: Exchange,
    /// `virtualhost=`: the `Host:` header (and SNI when verifying).
    pub virtual_host: Option<String>,
    /// `httpmethod=`.
    pub method: HttpMethod,
    /// lvsd extension: verify the certificate chain and name, and send SNI.
    pub verify_tls: bool,
    /// lvsd extension: when verifying, the PEM file whose certificates are
    /// the only trust anchors (instead of the built-in public roots).
    pub ca_file: Option<PathBuf>,
    /// lvsd extension: the name to verify and send as SNI; `None` takes
    /// the host of `virtual_host`, else the real's IP address (verified,
    /// not sent).
    pub tls_name: Option<String>,
    /// lvsd extension: accepted final status codes; empty means any 2xx.
    pub expect_status: Vec<u16>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
}

/// `service=dns`: resolve `request` (a name for A, an address for PTR).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dns {
    pub exchange: Exchange,
    /// Query over TCP (ldirectord does when `protocol=tcp`).
    pub tcp: bool,
}

pub use crate::lvs::Receive;

// === impl Probe ===

impl Probe {
    /// The hard total deadline of one probe of this method, as ldirectord
    /// times each check (anchors §1.5–1.7). SQL checks have no timeout in
    /// ldirectord; lvsd gives them negotiatetimeout rather than hang.
    pub fn deadline(&self, method: Method<'_>) -> Duration {
        let t = self.timeouts;
        match method {
            Method::Connect if self.target.protocol == Protocol::Udp => {
                t.check.saturating_mul(self.check_count.max(1))
            }
            Method::Connect | Method::External(_) => t.check,
            Method::Ping => t.check.saturating_mul(self.check_count.max(1)),
            Method::Negotiate(Service::Ldap { .. } | Service::Radius { .. }) => t.check,
            Method::Negotiate(_) => t.negotiate,
        }
    }

    /// The address checked, for messages.
    pub fn addr(&self) -> SocketAddr {
        self.target.addr
    }

    pub fn ip(&self) -> IpAddr {
        self.target.addr.ip()
    }
}

impl fmt::Display for VirtualService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VirtualService::Addr(a) => write!(f, "{a}"),
            VirtualService::FwMark(m) => write!(f, "fwmark {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Receive;

    #[test]
    fn perl_features_and_dollar_before_a_final_newline() {
        let r = |p: &str| Receive::new(p).unwrap();
        assert!(r(r"^(a)\1b$").is_match("aab\n"));
        assert!(r(r"a(?=b)").is_match("ab"));
        assert!(!r(r"a(?!b)").is_match("ab"));
        assert!(!r(r"^ok$").is_match("ok\n\n"));
        assert!(r(r"ok\n$").is_match("ok\n"));
        assert!(!r("x").is_match("ok"));
    }
}
