//! The seam the director is written against: read the whole table, apply one
//! change. [`super::wire::Client`] implements it over netlink,
//! [`super::memory::MemoryKernel`] in memory for unit tests.

use super::change::Change;
use super::error::IpvsError;
use super::table::Table;

pub trait Kernel {
    /// The whole table: complete, or an error. Never a partial table.
    fn dump(&mut self) -> Result<Table, IpvsError>;

    /// Applies one change; the error names the service or real server.
    fn apply(&mut self, change: &Change) -> Result<(), IpvsError>;

    /// Applies changes in order; one result per change. The outer error
    /// means the outcome of some changes is unknown (transport failure).
    fn apply_all(&mut self, changes: &[Change]) -> Result<Vec<Result<(), IpvsError>>, IpvsError> {
        Ok(changes.iter().map(|c| self.apply(c)).collect())
    }
}
