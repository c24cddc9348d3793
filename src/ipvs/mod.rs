//! IPVS: the kernel's virtual server table.
//!
//! - [`table`]: the table as data (services, destinations), no wire format;
//!   [`snapshot`]: what a listing adds (counters, rates, info).
//! - [`change`]: one change to a table, and its in-memory replay.
//! - [`kernel`]: the seam the director uses (dump, apply); [`socket`]
//!   implements it over generic netlink (reads and the rest of the family in
//!   [`queries`]), [`memory`] in memory.
//! - Wire: [`consts`] (numbers from `ip_vs.h`), [`attr`] (netlink
//!   attributes), [`codec`] (requests), [`decode`] (replies), [`frame`]
//!   (netlink message framing); [`error`] for what can go wrong.
//! - Renderings, pure: [`order`] (ipvsadm's listing order), [`save`]
//!   (`ipvsadm -S`), [`list`] (`ipvsadm -L` and its options), [`conn`]
//!   (`ipvsadm -Lc` from `/proc/net/ip_vs_conn`), [`names`] (numeric or
//!   resolved addresses and ports), [`rules`] (reading `ipvsadm -S` lines
//!   back for `lvsd restore`), [`json`] (`lvsd list --json`).

pub mod attr;
pub mod change;
pub mod codec;
pub mod conn;
pub mod consts;
pub mod decode;
pub mod error;
pub mod frame;
pub mod json;
pub mod kernel;
pub mod list;
pub mod memory;
pub mod names;
pub mod order;
pub mod queries;
pub mod rules;
pub mod save;
pub mod snapshot;
pub mod socket;
pub mod table;

pub use change::Change;
pub use error::{Errno, IpvsError};
pub use kernel::Kernel;
pub use memory::MemoryKernel;
pub use snapshot::Snapshot;
pub use socket::Client;
pub use table::{Dest, Family, Forward, Protocol, Service, ServiceEntry, ServiceKey, Table};
