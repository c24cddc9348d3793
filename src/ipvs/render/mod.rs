//! The table as an operator reads it: ipvsadm's listings (`-L`, `-S`,
//! `-Lc`) byte for byte, their order and names, `ipvsadm -S` read back, and
//! `lvsd list --json`. Pure: a [`Snapshot`](crate::ipvs::Snapshot) in, text
//! out. Depends on the model, never on the wire.

mod columns;
pub mod conn;
pub mod json;
pub mod list;
pub mod names;
pub mod order;
pub mod rules;
pub mod save;
mod settings;
