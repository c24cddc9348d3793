//! Health checks of real servers (ldirectord check types and services).
