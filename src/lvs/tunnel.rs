//! How a tunnel real is reached (GUE, GRE or plain IP-in-IP, with GUE's
//! port and the checksum options) and the persistence engine of a service:
//! what ipvsadm's `--tun-*` and `--pe` say, shared by the configuration and
//! the kernel layer.

/// Tunnel encapsulation of a `Tunnel` destination (kernel ≥ 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelType {
    Ipip,
    /// GUE with its UDP destination port.
    Gue {
        port: u16,
    },
    Gre,
}

impl TunnelType {
    /// ipvsadm's `--tun-type` name.
    pub fn name(self) -> &'static str {
        match self {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue { .. } => "gue",
            TunnelType::Gre => "gre",
        }
    }
}

/// Checksum options of a GUE/GRE tunnel (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TunnelCsum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

impl TunnelCsum {
    /// The word after ipvsadm's `--tun-` (`--tun-nocsum`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TunnelCsum::NoCsum => "nocsum",
            TunnelCsum::Csum => "csum",
            TunnelCsum::RemCsum => "remcsum",
        }
    }

    pub fn from_name(s: &str) -> Option<TunnelCsum> {
        [TunnelCsum::NoCsum, TunnelCsum::Csum, TunnelCsum::RemCsum]
            .into_iter()
            .find(|c| c.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    pub kind: TunnelType,
    pub csum: TunnelCsum,
}

/// A persistence engine (`--pe`). Linux has one: SIP, which makes UDP SIP
/// messages of one Call-ID persist to one real.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersistenceEngine {
    Sip,
}

impl PersistenceEngine {
    /// The name the kernel loads it by (`ip_vs_pe_NAME`).
    pub fn name(self) -> &'static str {
        match self {
            PersistenceEngine::Sip => "sip",
        }
    }

    pub fn from_name(s: &str) -> Option<PersistenceEngine> {
        (s == "sip").then_some(PersistenceEngine::Sip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_ipvsadms() {
        for c in [TunnelCsum::NoCsum, TunnelCsum::Csum, TunnelCsum::RemCsum] {
            assert_eq!(TunnelCsum::from_name(c.name()), Some(c));
        }
        assert_eq!(TunnelCsum::from_name("csum "), None);
        assert_eq!(TunnelType::Gue { port: 1 }.name(), "gue");
        assert_eq!(
            PersistenceEngine::from_name("sip").map(|p| p.name()),
            Some("sip")
        );
        assert_eq!(PersistenceEngine::from_name("SIP"), None);
    }
}
