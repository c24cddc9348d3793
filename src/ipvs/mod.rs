//! IPVS: the kernel's virtual server table.
//!
//! - [`table`]: the table as data (services, destinations), no wire format.
//! - [`change`]: one change to a table, and its in-memory replay.
//! - [`order`]: ipvsadm's listing order, quirks included.
//! - [`save`]: `ipvsadm -S -n` rendering.

pub mod change;
pub mod order;
pub mod save;
pub mod table;

pub use change::Change;
pub use table::{Dest, Family, Forward, Protocol, Service, ServiceEntry, ServiceKey, Table};
