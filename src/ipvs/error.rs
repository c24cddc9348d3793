//! Errors of the IPVS client: what went wrong, on which operation, for which
//! service or real server. Kernel errnos become [`Errno`] values; the text is
//! written for an operator, one line each.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::table::ServiceKey;

/// A reply (or part of one) could not be decoded. Names the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated netlink attribute at byte {offset}")]
    Truncated { offset: usize },
    #[error("{attr}: expected {expected} bytes, got {got}")]
    Length {
        attr: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{attr} is missing")]
    Missing { attr: &'static str },
    #[error("{attr}: unexpected value {value}")]
    Invalid { attr: &'static str, value: u64 },
    #[error("{attr}: not UTF-8")]
    BadString { attr: &'static str },
    #[error("netlink message: {what}")]
    Message { what: &'static str },
}

/// The IPVS operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ResolveFamily,
    GetInfo,
    AddService,
    EditService,
    DelService,
    GetService,
    ListServices,
    AddDest,
    EditDest,
    DelDest,
    ListDests,
    StartDaemon,
    StopDaemon,
    ListDaemons,
    SetTimeouts,
    GetTimeouts,
    Zero,
    Flush,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::ResolveFamily => "look up the IPVS netlink family",
            Op::GetInfo => "get IPVS info",
            Op::AddService => "add service",
            Op::EditService => "edit service",
            Op::DelService => "delete service",
            Op::GetService => "get service",
            Op::ListServices => "list services",
            Op::AddDest => "add real server",
            Op::EditDest => "edit real server",
            Op::DelDest => "delete real server",
            Op::ListDests => "list real servers",
            Op::StartDaemon => "start sync daemon",
            Op::StopDaemon => "stop sync daemon",
            Op::ListDaemons => "list sync daemons",
            Op::SetTimeouts => "set timeouts",
            Op::GetTimeouts => "get timeouts",
            Op::Zero => "zero counters",
            Op::Flush => "flush the table",
        })
    }
}

/// What an operation was about, for the error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    None,
    Service(ServiceKey),
    Dest(ServiceKey, SocketAddr),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::None => Ok(()),
            Target::Service(k) => write!(f, " {k}"),
            Target::Dest(k, a) => write!(f, " {a} of {k}"),
        }
    }
}

/// A kernel error number, with the meanings IPVS gives the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    /// EEXIST
    Exists,
    /// ENOENT: no such real server, or an unknown scheduler / PE on add.
    NotFound,
    /// ESRCH: no such service (or sync daemon).
    NoSuchService,
    /// EINVAL
    Invalid,
    /// EPERM
    Permission,
    /// EAFNOSUPPORT
    FamilyNotSupported,
    /// EBUSY
    Busy,
    /// Any other errno (positive).
    Other(i32),
}

impl Errno {
    /// From the positive errno (NLMSG_ERROR carries it negated).
    pub fn from_raw(n: i32) -> Errno {
        match n {
            libc::EEXIST => Errno::Exists,
            libc::ENOENT => Errno::NotFound,
            libc::ESRCH => Errno::NoSuchService,
            libc::EINVAL => Errno::Invalid,
            libc::EPERM => Errno::Permission,
            libc::EAFNOSUPPORT => Errno::FamilyNotSupported,
            libc::EBUSY => Errno::Busy,
            n => Errno::Other(n),
        }
    }

    pub fn raw(self) -> i32 {
        match self {
            Errno::Exists => libc::EEXIST,
            Errno::NotFound => libc::ENOENT,
            Errno::NoSuchService => libc::ESRCH,
            Errno::Invalid => libc::EINVAL,
            Errno::Permission => libc::EPERM,
            Errno::FamilyNotSupported => libc::EAFNOSUPPORT,
            Errno::Busy => libc::EBUSY,
            Errno::Other(n) => n,
        }
    }
}

/// What the kernel said, in IPVS terms (ipvsadm's `ipvs_strerror` table).
fn explain(op: Op, errno: Errno) -> String {
    match (op, errno) {
        (Op::AddService, Errno::Exists) => "service already exists (EEXIST)".into(),
        (Op::AddService | Op::EditService, Errno::NotFound) => {
            "scheduler or persistence engine not found (ENOENT)".into()
        }
        (Op::AddDest, Errno::Exists) => "real server already exists (EEXIST)".into(),
        (Op::EditDest | Op::DelDest, Errno::NotFound) => "no such real server (ENOENT)".into(),
        (Op::StartDaemon, Errno::Exists) => "sync daemon is already running (EEXIST)".into(),
        (Op::StopDaemon, Errno::NoSuchService) => "no such sync daemon (ESRCH)".into(),
        (_, Errno::NoSuchService) => "no such service (ESRCH)".into(),
        (_, Errno::Permission) => "permission denied: IPVS needs CAP_NET_ADMIN (EPERM)".into(),
        (_, Errno::Invalid) => "invalid argument (EINVAL)".into(),
        (_, Errno::FamilyNotSupported) => "address family not supported (EAFNOSUPPORT)".into(),
        // e.g. "Numerical result out of range (os error 34)"
        (_, e) => io::Error::from_raw_os_error(e.raw()).to_string(),
    }
}

/// Why an IPVS request failed.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The kernel has no "IPVS" generic netlink family.
    #[error("IPVS is not available: the kernel has no \"IPVS\" generic netlink family (is the ip_vs module loaded? try `modprobe ip_vs`)")]
    FamilyMissing,
    /// The kernel refused the request for lack of privilege.
    #[error("IPVS: permission denied to {op}: IPVS needs CAP_NET_ADMIN (run as root)")]
    PermissionDenied { op: Op },
    /// The kernel refused the request.
    #[error("{op}{target}: {}", explain(*.op, *.errno))]
    Kernel {
        op: Op,
        target: Target,
        errno: Errno,
    },
    /// No reply within the socket timeout.
    #[error("{op}: no reply from the kernel within {secs} s")]
    Timeout { op: Op, secs: u64 },
    /// The netlink socket failed.
    #[error("{op}: netlink socket: {source}")]
    Socket {
        op: Op,
        #[source]
        source: io::Error,
    },
    /// A reply could not be decoded.
    #[error("{op}: malformed reply from the kernel: {source}")]
    Decode {
        op: Op,
        #[source]
        source: DecodeError,
    },
    /// A request could not be expressed (e.g. a name longer than the kernel allows).
    #[error("{op}{target}: {what}")]
    Request {
        op: Op,
        target: Target,
        what: String,
    },
}

impl IpvsError {
    /// The kernel errno, if the kernel refused the request.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            IpvsError::Kernel { errno, .. } => Some(*errno),
            IpvsError::PermissionDenied { .. } => Some(Errno::Permission),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::table::Protocol;

    #[test]
    fn kernel_errors_name_the_object_and_the_cause() {
        let k = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1:80".parse().unwrap(),
        };
        let e = IpvsError::Kernel {
            op: Op::AddDest,
            target: Target::Dest(k, "10.0.0.2:80".parse().unwrap()),
            errno: Errno::from_raw(libc::EEXIST),
        };
        assert_eq!(
            e.to_string(),
            "add real server 10.0.0.2:80 of tcp 10.0.0.1:80: real server already exists (EEXIST)"
        );
        let e = IpvsError::Kernel {
            op: Op::DelService,
            target: Target::Service(k),
            errno: Errno::from_raw(libc::ESRCH),
        };
        assert_eq!(
            e.to_string(),
            "delete service tcp 10.0.0.1:80: no such service (ESRCH)"
        );
        assert_eq!(Errno::from_raw(7), Errno::Other(7));
    }
}
