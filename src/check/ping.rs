//! `checktype=ping`: ICMP echo (IPv4 or IPv6), `checkcount` attempts of
//! `checktimeout` each; one reply is enough, as with ldirectord's Net::Ping.
//!
//! One raw socket per address family is shared by every ping (surge-ping
//! matches replies to waiters by identifier and sequence), so 10,000 targets
//! do not mean 10,000 sockets. Each ping takes a fresh sequence number, so a
//! probe cancelled mid-wait cannot collide with the next one.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use surge_ping::{Client, Config, PingIdentifier, PingSequence, ICMP};
use tokio::sync::OnceCell;

use super::Outcome;

/// The shared ICMP sockets, opened on first use.
#[derive(Default)]
pub(crate) struct Pinger {
    v4: OnceCell<Result<Client, String>>,
    v6: OnceCell<Result<Client, String>>,
    sequence: AtomicU16,
}

/// A payload like Net::Ping's: any bytes will do, the reply echoes them.
const PAYLOAD: [u8; 56] = [0x6c; 56];

impl Pinger {
    async fn client(&self, ip: IpAddr) -> Result<&Client, &str> {
        let (cell, kind) = match ip {
            IpAddr::V4(_) => (&self.v4, ICMP::V4),
            IpAddr::V6(_) => (&self.v6, ICMP::V6),
        };
        let opened = cell
            .get_or_init(|| async move {
                Client::new(&Config::builder().kind(kind).build())
                    .map_err(|e| format!("cannot open an ICMP socket: {e}"))
            })
            .await;
        opened.as_ref().map_err(String::as_str)
    }

    pub(crate) async fn check(&self, ip: IpAddr, attempts: u32, each: Duration) -> Outcome {
        let attempts = attempts.max(1);
        let tried = format!("ICMP echo to {ip} ({attempts} × {each:?})");
        let client = match self.client(ip).await {
            Ok(client) => client,
            Err(e) => return Outcome::down(tried, e),
        };
        let ident = PingIdentifier(self.sequence.fetch_add(1, Ordering::Relaxed));
        let mut pinger = client.pinger(ip, ident).await;
        pinger.timeout(each);
        let mut last = String::new();
        for _ in 0..attempts {
            let seq = PingSequence(self.sequence.fetch_add(1, Ordering::Relaxed));
            match pinger.ping(seq, &PAYLOAD).await {
                Ok(_) => return Outcome::Up,
                Err(e) => last = e.to_string(),
            }
        }
        Outcome::down(tried, last)
    }
}
