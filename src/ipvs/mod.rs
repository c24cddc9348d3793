//! IPVS: the kernel's virtual server table.
//!
//! Three rooms:
//!
//! - Here, the model: [`table`] (services, destinations as data, no wire
//!   format), [`snapshot`] (what a listing adds: counters, rates, info),
//!   [`change`] (one change to a table, and its in-memory replay),
//!   [`kernel`] (the seam the director uses: dump, apply), [`memory`] (that
//!   seam in memory) and [`error`] (what the seam can answer).
//! - [`wire`]: the kernel's side, over generic netlink: [`socket`] implements
//!   [`Kernel`] (reads and the rest of the family in [`queries`]) with
//!   [`consts`] (numbers from `ip_vs.h`), [`attr`] (netlink attributes),
//!   [`codec`] (requests), [`decode`] (replies), [`frame`] (framing).
//! - [`render`]: the text an operator reads, pure: [`order`] (ipvsadm's
//!   listing order), [`save`] (`ipvsadm -S`), [`list`] (`ipvsadm -L` and
//!   its options), [`conn`] (`ipvsadm -Lc`), [`names`] (numeric or resolved
//!   addresses and ports), [`rules`] (`ipvsadm -S` lines read back for
//!   `lvsd restore`), [`json`] (`lvsd list --json`).
//!
//! Both rooms depend on the model, never on each other, and the model on
//! neither. Each module of both is re-exported here, so `ipvs::save`,
//! `ipvs::socket` and the rest name what they always did.

pub mod change;
pub mod error;
pub mod kernel;
pub mod memory;
pub mod render;
pub mod snapshot;
pub mod table;
pub mod wire;

pub use render::{conn, json, list, names, order, rules, save};
pub use wire::{attr, codec, consts, decode, frame, queries, socket};

pub use change::Change;
pub use error::{Errno, IpvsError};
pub use kernel::Kernel;
pub use memory::MemoryKernel;
pub use snapshot::Snapshot;
pub use socket::Client;
pub use table::{Dest, Family, Forward, Protocol, Service, ServiceEntry, ServiceKey, Table};
