//! The long-running director process and the commands that drive it
//! (start, stop, reload, status): pid files, signals, readiness.

pub mod notify;
pub mod pidfile;
