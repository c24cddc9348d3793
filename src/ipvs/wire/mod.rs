//! The kernel's side of the table: IPVS over generic netlink (family
//! "IPVS"), from the numbers of `ip_vs.h` up to the [`Client`] that
//! implements [`Kernel`](crate::ipvs::Kernel). Depends on the model
//! (`table`, `snapshot`, `change`, `error`), never on the renderings.

pub mod attr;
pub mod codec;
pub mod consts;
pub mod decode;
pub mod frame;
pub mod queries;
mod sock;
pub mod socket;

pub use socket::Client;
