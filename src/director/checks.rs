//! From the configuration to the checks the engine runs: one spec per
//! (virtual, real), in the shape ldirectord gives each check. Pure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::check::spec::{
    self, CheckKind, CheckSpec, Credentials, Dns, Exchange, External, Http, Probe, Target,
    Timeouts, VirtualService,
};
use crate::config::model::{CheckService, CheckType, Config, HttpMethod, Real, Virtual};
use crate::ipvs::table::{Protocol, ServiceKey};

use super::desired::RealKey;

/// A configuration the checks cannot be built from. `config::load` already
/// refuses these, so seeing one means the two disagree: the daemon treats it
/// like an invalid configuration.
#[derive(Debug, Error)]
pub enum SpecError {
    #[error("line {line}: lvsd cannot check service {service}")]
    Unsupported { line: usize, service: &'static str },
}

/// Every check the configuration asks for.
pub fn specs(config: &Config) -> Result<Vec<CheckSpec<RealKey>>, SpecError> {
    let mut out = Vec::new();
    for v in &config.virtuals {
        for r in &v.reals {
            out.push(spec_for(v, r)?);
        }
    }
    Ok(out)
}

fn spec_for(v: &Virtual, r: &Real) -> Result<CheckSpec<RealKey>, SpecError> {
    let key = RealKey {
        service: v.key,
        real: r.addr,
    };
    let kind = match v.checktype {
        CheckType::On => CheckKind::On,
        CheckType::Off => CheckKind::Off,
        CheckType::Connect => CheckKind::Connect,
        CheckType::Ping => CheckKind::Ping,
        CheckType::External | CheckType::ExternalPerl => CheckKind::External(External {
            command: PathBuf::from(&v.checkcommand),
            perl: v.checktype == CheckType::ExternalPerl,
        }),
        CheckType::Negotiate => CheckKind::Negotiate(service_for(v, r)?),
        CheckType::Combined(n) => CheckKind::Combined {
            connects: n,
            service: service_for(v, r)?,
        },
    };
    let probe = Probe {
        target: target_for(v, r),
        kind,
        timeouts: Timeouts {
            check: Duration::from_secs(u64::from(v.checktimeout)),
            negotiate: Duration::from_secs(u64::from(v.negotiatetimeout)),
        },
        check_count: v.checkcount,
    };
    Ok(CheckSpec {
        key,
        probe,
        interval: Duration::from_secs(u64::from(v.checkinterval)),
        failure_count: v.failurecount,
    })
}

/// Where to check: `checkport`, else the real's port, else (port 0, as in
/// fwmark services) the service's well-known port.
fn target_for(v: &Virtual, r: &Real) -> Target {
    let port = v
        .checkport
        .or(Some(r.addr.port()).filter(|p| *p != 0))
        .or_else(|| v.service.default_port())
        .unwrap_or(0);
    let protocol = match v.key {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            ..
        } => spec::Protocol::Tcp,
        ServiceKey::Inet {
            protocol: Protocol::Udp,
            ..
        } => spec::Protocol::Udp,
        ServiceKey::Inet {
            protocol: Protocol::Sctp,
            ..
        } => spec::Protocol::Sctp,
        ServiceKey::FwMark { .. } => spec::Protocol::Fwm,
    };
    let virtual_service = match v.key {
        ServiceKey::Inet { addr, .. } => VirtualService::Addr(addr),
        ServiceKey::FwMark { mark, .. } => VirtualService::FwMark(mark),
    };
    Target {
        addr: SocketAddr::new(r.addr.ip(), port),
        real_port: r.addr.port(),
        protocol,
        virtual_service,
    }
}

fn exchange_for(v: &Virtual, r: &Real) -> Exchange {
    let (request, receive) = v.exchange_of(r);
    Exchange {
        request: request.to_string(),
        receive: receive.cloned(),
    }
}

fn credentials(v: &Virtual) -> Credentials {
    Credentials {
        login: v.login.clone(),
        password: v.passwd.clone(),
        database: v.database.clone(),
    }
}

fn service_for(v: &Virtual, r: &Real) -> Result<spec::Service, SpecError> {
    let http = |tls: bool| Http {
        tls,
        exchange: exchange_for(v, r),
        virtual_host: v.virtualhost.clone(),
        method: match v.httpmethod {
            HttpMethod::Get => spec::HttpMethod::Get,
            HttpMethod::Head => spec::HttpMethod::Head,
        },
        verify_tls: v.httpcheck.verify_tls,
        ca_file: v.httpcheck.tls_ca_file.clone(),
        tls_name: v.httpcheck.tls_name.clone(),
        expect_status: v.httpcheck.expect_status.clone(),
    };
    Ok(match v.service {
        CheckService::Http => spec::Service::Http(http(false)),
        CheckService::Https => spec::Service::Http(http(true)),
        CheckService::HttpProxy => spec::Service::HttpProxy(http(false)),
        CheckService::Dns => spec::Service::Dns(Dns {
            exchange: exchange_for(v, r),
            tcp: v.protocol() == Some(Protocol::Tcp),
        }),
        CheckService::Smtp | CheckService::Submission => spec::Service::Smtp { tls: false },
        CheckService::Pop => spec::Service::Pop {
            tls: false,
            credentials: credentials(v),
        },
        CheckService::Pops => spec::Service::Pop {
            tls: true,
            credentials: credentials(v),
        },
        CheckService::Imap => spec::Service::Imap {
            tls: false,
            credentials: credentials(v),
        },
        CheckService::Imaps => spec::Service::Imap {
            tls: true,
            credentials: credentials(v),
        },
        CheckService::Ftp => spec::Service::Ftp {
            exchange: exchange_for(v, r),
            credentials: credentials(v),
        },
        CheckService::Nntp => spec::Service::Nntp,
        CheckService::Ldap | CheckService::Ldaps => spec::Service::Ldap {
            tls: v.service == CheckService::Ldaps,
            exchange: exchange_for(v, r),
            credentials: credentials(v),
        },
        CheckService::Sip => spec::Service::Sip {
            login: v.login.clone(),
        },
        CheckService::Radius => spec::Service::Radius {
            credentials: credentials(v),
            secret: v.secret.clone(),
        },
        CheckService::Mysql => spec::Service::Mysql {
            exchange: exchange_for(v, r),
            credentials: credentials(v),
        },
        CheckService::Pgsql => spec::Service::Pgsql {
            exchange: exchange_for(v, r),
            credentials: credentials(v),
        },
        CheckService::Simpletcp => spec::Service::SimpleTcp(exchange_for(v, r)),
        CheckService::None => spec::Service::None,
        CheckService::Oracle => {
            return Err(SpecError::Unsupported {
                line: v.line,
                service: "oracle",
            })
        }
    })
}
