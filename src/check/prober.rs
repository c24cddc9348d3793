//! The real [`Checker`]: dispatches each probe to its checker module and owns
//! what they share (ICMP sockets, HTTP clients).

use super::http::HttpChecker;
use super::ping::Pinger;
use super::spec::{Method, Probe, Protocol, Service};
use super::{
    connect, dns, external, ftp, imap, ldap, nntp, pop, radius, sctp, simpletcp, sip, smtp, sql,
    Checker, Outcome,
};

/// Runs probes against real servers.
pub struct Prober {
    pinger: Pinger,
    http: HttpChecker,
}

impl Prober {
    pub fn new() -> Prober {
        Prober {
            pinger: Pinger::default(),
            http: HttpChecker::new(),
        }
    }

    async fn ping(&self, probe: &Probe) -> Outcome {
        self.pinger
            .check(probe.ip(), probe.check_count, probe.timeouts.check)
            .await
    }

    async fn negotiate(&self, probe: &Probe, service: &Service) -> Outcome {
        match service {
            Service::Http(http) => self.http.check(probe, http, false).await,
            Service::HttpProxy(http) => self.http.check(probe, http, true).await,
            Service::Dns(dns) => dns::check(probe, dns).await,
            Service::Smtp { tls } => smtp::check(probe.addr(), *tls).await,
            Service::Pop { tls, credentials } => pop::check(probe.addr(), *tls, credentials).await,
            Service::Imap { tls, credentials } => {
                imap::check(probe.addr(), *tls, credentials).await
            }
            Service::Nntp => nntp::check(probe.addr()).await,
            Service::Ftp {
                exchange,
                credentials,
            } => ftp::check(probe.addr(), exchange, credentials).await,
            Service::SimpleTcp(exchange) => simpletcp::check(probe.addr(), exchange).await,
            Service::Ldap {
                tls,
                exchange,
                credentials,
            } => ldap::check(probe.addr(), *tls, exchange, credentials).await,
            Service::Mysql {
                exchange,
                credentials,
            } => sql::check(sql::Engine::Mysql, probe.addr(), exchange, credentials).await,
            Service::Pgsql {
                exchange,
                credentials,
            } => sql::check(sql::Engine::Pgsql, probe.addr(), exchange, credentials).await,
            Service::Sip { login } => {
                sip::check(probe.addr(), probe.target.protocol == Protocol::Udp, login).await
            }
            Service::Radius {
                credentials,
                secret,
            } => radius::check(probe.addr(), credentials, secret).await,
            Service::None => Outcome::Up,
        }
    }
}

impl Default for Prober {
    fn default() -> Self {
        Prober::new()
    }
}

impl Checker for Prober {
    async fn check(&self, probe: &Probe, method: Method<'_>) -> Outcome {
        match method {
            Method::Connect if probe.target.protocol == Protocol::Udp => self.ping(probe).await,
            Method::Connect if probe.target.protocol == Protocol::Sctp => sctp::check(probe).await,
            Method::Connect => connect::check(probe).await,
            Method::Ping => self.ping(probe).await,
            Method::External(ext) => external::check(probe, ext).await,
            Method::Negotiate(service) => self.negotiate(probe, service).await,
        }
    }
}

/// ldirectord's name for a service, for messages.
pub fn service_name(service: &Service) -> &'static str {
    match service {
        Service::Http(h) if h.tls => "https",
        Service::Http(_) => "http",
        Service::HttpProxy(_) => "http_proxy",
        Service::Dns(_) => "dns",
        Service::Smtp { tls: false } => "smtp",
        Service::Smtp { tls: true } => "smtps",
        Service::Pop { tls: false, .. } => "pop",
        Service::Pop { tls: true, .. } => "pops",
        Service::Imap { tls: false, .. } => "imap",
        Service::Imap { tls: true, .. } => "imaps",
        Service::Ftp { .. } => "ftp",
        Service::Nntp => "nntp",
        Service::Ldap { tls: false, .. } => "ldap",
        Service::Ldap { tls: true, .. } => "ldaps",
        Service::Sip { .. } => "sip",
        Service::Radius { .. } => "radius",
        Service::Mysql { .. } => "mysql",
        Service::Pgsql { .. } => "pgsql",
        Service::SimpleTcp(_) => "simpletcp",
        Service::None => "none",
    }
}
