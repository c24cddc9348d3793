//! IPVS: the kernel's virtual server table.
//!
//! - [`table`]: the table as data (services, destinations), no wire format.
//! - [`order`]: ipvsadm's listing order, quirks included.
//! - [`save`]: `ipvsadm -S -n` rendering.

pub mod order;
pub mod save;
pub mod table;

pub use table::{Dest, Family, Forward, Protocol, Service, ServiceEntry, ServiceKey, Table};
