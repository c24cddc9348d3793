//! `service=dns`, as ldirectord's `check_dns`: ask the real server for
//! `request` (an A query for a name, a PTR query for an address), over UDP,
//! or TCP when the virtual is TCP; up iff some A address or PTR name in the
//! answer matches `receive`. An empty `receive` always fails, as it does in
//! ldirectord.
//!
//! Each probe builds its own resolver aimed at the one server, with no cache,
//! no hosts file, no search list and a single attempt: every probe asks the
//! server, and dropping the probe drops the resolver and its connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::Message;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use hickory_resolver::proto::xfer::Protocol as Transport;
use hickory_resolver::{Name, Resolver};

use super::io::error_chain;
use super::spec::{Dns, Probe, Receive};
use super::Outcome;

pub(crate) async fn check(probe: &Probe, dns: &Dns) -> Outcome {
    let addr = probe.addr();
    let request = dns.exchange.request.trim_start_matches('/');
    let (name, kind) = match request.parse::<IpAddr>() {
        Ok(ip) => (Name::from(ip), RecordType::PTR),
        // A trailing dot keeps the resolver from trying search domains.
        Err(_) => match Name::from_ascii(request) {
            Ok(mut name) => {
                name.set_fqdn(true);
                (name, RecordType::A)
            }
            Err(e) => {
                return Outcome::down(
                    format!("DNS query for {request:?}"),
                    format_args!("bad name: {e}"),
                )
            }
        },
    };
    let transport = if dns.tcp {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let tried = format!("DNS {kind} query for {name} to {addr} over {transport}");
    let Some(receive) = &dns.exchange.receive else {
        return Outcome::down(
            tried,
            "receive is empty, and ldirectord never calls that up",
        );
    };
    let resolver = resolver(addr, transport, probe.timeouts.negotiate);
    let lookup = match resolver.lookup(name, kind).await {
        Ok(lookup) => lookup,
        Err(e) => return Outcome::down(tried, error_chain(&e)),
    };
    match matching(lookup.record_iter(), receive) {
        Ok(()) => Outcome::Up,
        Err(seen) => Outcome::down(
            tried,
            format_args!("answer {seen:?} does not match {:?}", receive.source()),
        ),
    }
}

/// `Ok` if some A address or PTR name in `records` matches `receive`, else
/// the addresses and names seen.
fn matching<'a>(
    records: impl Iterator<Item = &'a Record>,
    receive: &Receive,
) -> Result<(), Vec<String>> {
    let mut seen = Vec::new();
    for record in records {
        let text = match record.data() {
            RData::A(a) => a.0.to_string(),
            RData::PTR(p) => p.0.to_utf8().trim_end_matches('.').to_owned(),
            _ => continue,
        };
        if receive.is_match(&text) {
            return Ok(());
        }
        seen.push(text);
    }
    Err(seen)
}

/// A DNS answer's bytes, decoded by hickory (as the resolver does) and
/// matched as a probe matches them, for `fuzz/` only: never a panic.
pub(crate) fn fuzz_answer(bytes: &[u8]) {
    static RECEIVE: std::sync::OnceLock<Option<Receive>> = std::sync::OnceLock::new();
    let Some(receive) = RECEIVE.get_or_init(|| Receive::new(r"^10\.91\.|example").ok()) else {
        return;
    };
    if let Ok(message) = Message::from_vec(bytes) {
        let _ = matching(message.answers().iter(), receive);
    }
}

fn resolver(
    addr: SocketAddr,
    transport: Transport,
    timeout: Duration,
) -> Resolver<TokioConnectionProvider> {
    let mut config = ResolverConfig::new();
    config.add_name_server(NameServerConfig::new(addr, transport));
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.attempts = 1;
    opts.timeout = timeout;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.try_tcp_on_error = false;
    opts.edns0 = false;
    Resolver::builder_with_config(config, TokioConnectionProvider::default())
        .with_options(opts)
        .build()
}
