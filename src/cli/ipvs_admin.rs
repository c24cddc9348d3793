//! `lvsd zero` and `lvsd set`: ipvsadm's `--zero` and `--set`, through
//! lvsd's netlink client, for operators' muscle memory.

use clap::Args;

use super::ipvs_cmds::{fail, service_key, ServiceArgs};
use crate::ipvs::snapshot::Timeouts;
use crate::ipvs::Client;

#[derive(Debug, Args)]
pub struct ZeroArgs {
    /// Only this service (as for `lvsd list`: -t, -u, --sctp-service, -f [-6]).
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// TCP session timeout, seconds (0: unchanged).
    pub tcp: u32,
    /// TCP timeout after a FIN, seconds (0: unchanged).
    pub tcpfin: u32,
    /// UDP timeout, seconds (0: unchanged).
    pub udp: u32,
}

/// `ipvsadm -Z [SERVICE]`: the counters of one service, or of all.
pub fn zero(a: ZeroArgs) -> u8 {
    let key = match service_key(&a.service) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return 1;
        }
    };
    match Client::connect().and_then(|mut c| c.zero(key.as_ref())) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// `ipvsadm --set TCP TCPFIN UDP`: the kernel keeps a 0 as it is.
pub fn set(a: SetArgs) -> u8 {
    let t = Timeouts {
        tcp: a.tcp,
        tcp_fin: a.tcpfin,
        udp: a.udp,
    };
    match Client::connect().and_then(|mut c| c.set_timeouts(&t)) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}
