//! Configuration: the typed model, the ldirectord.cf parser and the TOML format.
