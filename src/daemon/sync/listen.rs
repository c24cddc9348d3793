//! A read-only listener on the sync group, beside the kernel's backup
//! thread: the kernel ignores a message whose syncid is not its own and
//! says nothing (a debug line at level 7), so a backup configured with
//! another syncid than its master learns no connection and a failover drops
//! every one of them. lvsd listens to the same group and reports such
//! messages (log, metrics, status).
//!
//! The kernel's receive socket is bound to the group and port with its
//! reuse flag set (SO_REUSEADDR's kernel side), and a multicast datagram is
//! delivered to every socket bound to its group and port: this socket gets
//! a copy, the kernel's thread still gets its own. SO_REUSEPORT is not set:
//! it is what makes the kernel pick one socket of a group for unicast, and
//! the kernel's socket does not have it anyway.
//!
//! Never fatal: a socket error is logged and the listener opens a new
//! socket after a backoff; the director serves on.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{info, warn};

use super::header;
use crate::config::model::Sync;
use crate::director::sync_plan::ForeignSyncid;
use crate::ipvs::snapshot::Daemon;

/// What to listen to: the backup thread's group, port and interface, and
/// its syncid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub interface: String,
    pub group: IpAddr,
    pub port: u16,
    pub ours: u8,
}

impl Spec {
    /// The running backup thread's group, port, interface and syncid;
    /// `None` for syncid 0 (the kernel's backup then takes every syncid).
    pub fn of_thread(d: &Daemon) -> Option<Spec> {
        let ours = u8::try_from(d.sync_id).ok().filter(|id| *id != 0)?;
        Some(Spec {
            interface: d.mcast_ifn.clone(),
            group: d
                .mcast_group
                .unwrap_or(IpAddr::V4(header::DEFAULT_GROUP_V4)),
            port: if d.mcast_port == 0 {
                header::DEFAULT_PORT
            } else {
                d.mcast_port
            },
            ours,
        })
    }

    /// Whether the configuration asks for a backup thread at all: only
    /// then is the kernel asked which one runs.
    pub fn wanted(s: &Sync) -> bool {
        s.role.backup()
    }
}

/// How often one foreign syncid is logged at most.
const WARN_EVERY: Duration = Duration::from_secs(60);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The messages of other syncids seen so far (pure: time is passed in).
#[derive(Debug, Default)]
pub struct Tally {
    seen: BTreeMap<u8, (u64, IpAddr, Option<Instant>)>,
}

impl Tally {
    /// Counts one message; `true` when it is to be logged now (the first
    /// of that syncid, then once every [`WARN_EVERY`]).
    pub fn record(&mut self, syncid: u8, peer: IpAddr, now: Instant) -> bool {
        let e = self
            .seen
            .entry(syncid)
            .or_insert((0, peer, None::<Instant>));
        e.0 += 1;
        e.1 = peer;
        let due = e.2.map_or(true, |t| now.duration_since(t) >= WARN_EVERY);
        if due {
            e.2 = Some(now);
        }
        due
    }

    pub fn view(&self, interface: &str, ours: u8) -> Vec<ForeignSyncid> {
        self.seen
            .iter()
            .map(|(syncid, (messages, peer, _))| ForeignSyncid {
                interface: interface.to_string(),
                syncid: *syncid,
                ours,
                messages: *messages,
                last_peer: *peer,
            })
            .collect()
    }
}

/// A running listener; dropping it stops it.
pub struct Listener {
    spec: Spec,
    tally: Arc<Mutex<Tally>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Starts listening on the runtime `rt`.
    pub fn spawn(rt: &tokio::runtime::Handle, spec: Spec) -> Listener {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let task = rt.spawn(run(spec.clone(), Arc::clone(&tally)));
        Listener { spec, tally, task }
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn view(&self) -> Vec<ForeignSyncid> {
        lock(&self.tally).view(&self.spec.interface, self.spec.ours)
    }
}

fn lock(t: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    // A count is valid whatever panicked while holding it.
    t.lock().unwrap_or_else(|p| p.into_inner())
}

async fn run(spec: Spec, tally: Arc<Mutex<Tally>>) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        match open(&spec) {
            Ok(sock) => {
                info!(interface = %spec.interface, group = %spec.group, port = spec.port, "listening for sync messages of other syncids");
                let opened = Instant::now();
                let e = receive(&sock, &spec, &tally).await;
                warn!(interface = %spec.interface, error = %e, "sync listener: cannot receive; opening a new socket");
                // Only a socket that served a while resets the backoff: one
                // that opens and fails at once would log twice a second.
                if opened.elapsed() >= BACKOFF_MAX {
                    backoff = BACKOFF_FIRST;
                }
            }
            Err(e) => {
                warn!(interface = %spec.interface, group = %spec.group, port = spec.port, error = %e, retry_in = ?backoff, "sync listener: cannot listen on the sync group (the kernel's backup thread is not affected)");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Receives until an error; returns it.
pub async fn receive(sock: &UdpSocket, spec: &Spec, tally: &Mutex<Tally>) -> std::io::Error {
    // The kernel's messages fit its sync_maxlen (at most the MTU); a larger
    // datagram is cut and then fails the size check, as it should.
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => return e,
        };
        let Some(msg) = buf.get(..n) else { continue };
        note(msg, peer, spec, tally, Instant::now());
    }
}

/// One datagram: counted and maybe logged if it is a sync message of
/// another syncid. Anything else (ours, not a sync message) is ignored: the
/// kernel drops malformed ones too.
pub fn note(msg: &[u8], peer: SocketAddr, spec: &Spec, tally: &Mutex<Tally>, now: Instant) {
    let Ok(h) = header::parse(msg) else { return };
    if h.syncid == spec.ours {
        return;
    }
    if lock(tally).record(h.syncid, peer.ip(), now) {
        warn!(
            interface = %spec.interface,
            peer = %peer.ip(),
            their_syncid = h.syncid,
            our_syncid = spec.ours,
            "sync messages with another syncid on the sync group: the backup thread drops these: no connections are learnt (set the same syncid on both nodes)"
        );
    }
}

/// The socket: bound to the group and port (so only the group's datagrams
/// arrive), to the interface, joined to the group there.
pub fn open(spec: &Spec) -> std::io::Result<UdpSocket> {
    let ifindex = nix::net::if_::if_nametoindex(spec.interface.as_str())
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    let domain = match spec.group {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.bind_device(Some(spec.interface.as_bytes()))?;
    s.bind(&SockAddr::from(SocketAddr::new(spec.group, spec.port)))?;
    match spec.group {
        IpAddr::V4(g) => {
            s.join_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(ifindex))?
        }
        IpAddr::V6(g) => s.join_multicast_v6(&g, ifindex)?,
    }
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

#[cfg(test)]
#[path = "listen_tests.rs"]
mod tests;
