//! `lvsd list`, `lvsd save`, `lvsd restore`: the kernel's IPVS table printed
//! as ipvsadm prints it, and `ipvsadm -S` rules loaded through lvsd's own
//! netlink client.

use std::io::{Read, Write};
use std::net::SocketAddr;

use clap::{ArgGroup, Args};

use crate::ipvs::conn;
use crate::ipvs::error::IpvsError;
use crate::ipvs::json::render_json;
use crate::ipvs::list::{
    listing_order, render_daemons, render_head, render_list, render_service, render_timeouts,
    Columns, ListOptions,
};
use crate::ipvs::names::{Names, Numeric, SystemNames};
use crate::ipvs::rules;
use crate::ipvs::save::render_service_save;
use crate::ipvs::{Client, Family, Protocol, ServiceKey};

/// Exit code when IPVS cannot be reached at all (ipvsadm uses 2 as well).
const EXIT_UNAVAILABLE: u8 = 2;
const CONN_PROC_FILE: &str = "/proc/net/ip_vs_conn";

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("columns").args(["stats", "rate", "thresholds", "persistent_conn", "tun_info"])))]
#[command(group(ArgGroup::new("what").args(["connection", "timeout", "daemon", "json"])))]
pub struct ListArgs {
    /// Numeric output of addresses and ports.
    #[arg(short = 'n', long)]
    pub numeric: bool,
    /// Counters: connections, packets and bytes.
    #[arg(long)]
    pub stats: bool,
    /// Rates: connections, packets and bytes per second.
    #[arg(long)]
    pub rate: bool,
    /// Upper and lower connection thresholds.
    #[arg(long)]
    pub thresholds: bool,
    /// Persistent connection counts (with -c: persistence engine data).
    #[arg(long)]
    pub persistent_conn: bool,
    /// Tunnel information of real servers.
    #[arg(long)]
    pub tun_info: bool,
    /// Exact numbers, not K/M/G/T.
    #[arg(short = 'X', long)]
    pub exact: bool,
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The connection table (from /proc/net/ip_vs_conn).
    #[arg(short = 'c', long, conflicts_with_all = ["stats", "rate", "thresholds", "tun_info", "service"])]
    pub connection: bool,
    /// Connection timeouts.
    #[arg(long, conflicts_with_all = ["columns", "service"])]
    pub timeout: bool,
    /// Connection sync daemons.
    #[arg(long, conflicts_with_all = ["columns", "service"])]
    pub daemon: bool,
    /// The table as JSON, with every counter (an lvsd extension).
    #[arg(long, conflicts_with_all = ["columns"])]
    pub json: bool,
    /// Sorted output: accepted as ipvsadm does (it is the default).
    #[arg(long)]
    pub sort: bool,
    /// Services and real servers in the kernel's order, as `ipvsadm --nosort`.
    #[arg(long, conflicts_with = "sort")]
    pub nosort: bool,
    /// `-L`/`-l` as in `ipvsadm -Ln`: accepted and ignored, so `lvsd list
    /// -Ln` works from muscle memory.
    #[arg(short = 'L', short_alias = 'l', hide = true)]
    pub list: bool,
}

/// One service, named as ipvsadm names it.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("service").args(["tcp_service", "udp_service", "sctp_service", "fwmark_service"])))]
pub struct ServiceArgs {
    /// Only this TCP service (ADDRESS:PORT).
    #[arg(short = 't', long, value_name = "SERVICE")]
    pub tcp_service: Option<SocketAddr>,
    /// Only this UDP service (ADDRESS:PORT).
    #[arg(short = 'u', long, value_name = "SERVICE")]
    pub udp_service: Option<SocketAddr>,
    /// Only this SCTP service (ADDRESS:PORT).
    #[arg(long, value_name = "SERVICE")]
    pub sctp_service: Option<SocketAddr>,
    /// Only this firewall-mark service.
    #[arg(short = 'f', long, value_name = "MARK", allow_negative_numbers = true)]
    pub fwmark_service: Option<i64>,
    /// The firewall-mark service is IPv6.
    #[arg(short = '6', long, requires = "fwmark_service")]
    pub ipv6: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Numeric output of addresses and ports.
    #[arg(short = 'n', long)]
    pub numeric: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {}

fn names(numeric: bool) -> &'static dyn Names {
    if numeric {
        &Numeric
    } else {
        &SystemNames
    }
}

pub(super) fn service_key(a: &ServiceArgs) -> Result<Option<ServiceKey>, String> {
    let inet = |protocol, addr| Some(ServiceKey::Inet { protocol, addr });
    Ok(
        match (
            a.tcp_service,
            a.udp_service,
            a.sctp_service,
            a.fwmark_service,
        ) {
            (Some(s), ..) => inet(Protocol::Tcp, s),
            (_, Some(s), ..) => inet(Protocol::Udp, s),
            (_, _, Some(s), _) => inet(Protocol::Sctp, s),
            (_, _, _, Some(m)) => {
                let mark = u32::try_from(m)
                    .or_else(|_| i32::try_from(m).map(|m| m as u32))
                    .map_err(|_| format!("fwmark {m} is out of range"))?;
                let family = if a.ipv6 { Family::Inet6 } else { Family::Inet };
                Some(ServiceKey::FwMark { family, mark })
            }
            _ => None,
        },
    )
}

/// Prints the error and picks the exit code.
pub(super) fn fail(e: &IpvsError) -> u8 {
    eprintln!("lvsd: {e}");
    match e {
        IpvsError::FamilyMissing | IpvsError::PermissionDenied { .. } => EXIT_UNAVAILABLE,
        _ => 1,
    }
}

/// The bytes a listing of `services` will take, guessed from the first
/// one's `dests`: a line is ~60 bytes. Reserving once spares doubling a
/// megabyte of output a dozen times; capped, as the first service may not
/// be typical.
fn output_estimate(services: usize, dests: usize) -> usize {
    services
        .saturating_mul(1 + dests)
        .saturating_mul(64)
        .min(16 << 20)
}

fn emit(text: &str) -> u8 {
    // A closed pipe (`lvsd list | head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    0
}

fn list_connections(a: &ListArgs) -> u8 {
    match std::fs::read_to_string(CONN_PROC_FILE) {
        Ok(text) => emit(&conn::render(
            &conn::parse(&text),
            a.persistent_conn,
            names(a.numeric),
        )),
        Err(e) => {
            eprintln!("lvsd: cannot open file {CONN_PROC_FILE}: {e} (is the ip_vs module loaded?)");
            1
        }
    }
}

pub fn list(a: ListArgs) -> u8 {
    if a.connection {
        return list_connections(&a);
    }
    let key = match service_key(&a.service) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return 1;
        }
    };
    let mut client = match Client::connect() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if a.timeout {
        return client
            .timeouts()
            .map_or_else(|e| fail(&e), |t| emit(&render_timeouts(&t)));
    }
    if a.daemon {
        return client
            .daemons()
            .map_or_else(|e| fail(&e), |d| emit(&render_daemons(&d)));
    }
    let opts = ListOptions {
        columns: columns(&a),
        exact: a.exact,
        header: key.is_none(),
        sort: !a.nosort,
    };
    let order = |kernel: &[ServiceKey]| {
        if opts.sort {
            listing_order(kernel)
        } else {
            (0..kernel.len()).collect()
        }
    };
    if key.is_none() && !a.json {
        // Service by service: the output is all that is held.
        let mut body = String::new();
        let names = names(a.numeric);
        let info = client.for_each_service(order, |one, count| {
            if body.is_empty() {
                body.reserve(output_estimate(count, one.dests.len()));
            }
            render_service(&mut body, one, &opts, names);
        });
        return match info {
            Ok(info) => {
                let mut head = String::new();
                render_head(&mut head, &info, &opts);
                emit(&head);
                emit(&body)
            }
            Err(e) => fail(&e),
        };
    }
    let snap = match key {
        Some(k) => client.snapshot_of(&k),
        None => client.snapshot(),
    };
    let snap = match snap {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if a.json {
        let mut text = render_json(&snap).to_string();
        text.push('\n');
        return emit(&text);
    }
    emit(&render_list(&snap, &opts, names(a.numeric)))
}

fn columns(a: &ListArgs) -> Columns {
    match (a.stats, a.rate, a.thresholds, a.persistent_conn, a.tun_info) {
        (true, ..) => Columns::Stats,
        (_, true, ..) => Columns::Rate,
        (_, _, true, ..) => Columns::Thresholds,
        (_, _, _, true, _) => Columns::PersistentConn,
        (.., true) => Columns::TunInfo,
        _ => Columns::Default,
    }
}

pub fn save(a: SaveArgs) -> u8 {
    // Service by service, as `list` does.
    let mut out = String::new();
    let names = names(a.numeric);
    let done = Client::connect().and_then(|mut c| {
        c.for_each_service(listing_order, |one, count| {
            if out.is_empty() {
                out.reserve(output_estimate(count, one.dests.len()));
            }
            render_service_save(&mut out, one, names);
        })
    });
    match done {
        Ok(_) => emit(&out),
        Err(e) => fail(&e),
    }
}

/// Reads rules from stdin and applies them in order, pipelined. Every
/// failed line is reported; the exit code is 1 if any failed.
pub fn restore(_a: RestoreArgs) -> u8 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("lvsd restore: cannot read standard input: {e}");
        return 1;
    }
    let mut changes = Vec::new();
    let mut lines = Vec::new();
    let mut bad = false;
    for (n, line) in text.lines().enumerate() {
        match rules::parse_line(line) {
            Ok(Some(c)) => {
                changes.push(c);
                lines.push(n + 1);
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("lvsd restore: line {}: {e}", n + 1);
                bad = true;
            }
        }
    }
    if bad {
        return 1;
    }
    let results = match Client::connect().and_then(|mut c| c.apply_all(&changes)) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let mut code = 0;
    for (line, r) in lines.iter().zip(&results) {
        if let Err(e) = r {
            eprintln!("lvsd restore: line {line}: {e}");
            code = 1;
        }
    }
    code
}
