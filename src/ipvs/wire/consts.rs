//! Numbers of the IPVS generic netlink family, copied with their header names
//! from the kernel UAPI `include/uapi/linux/ip_vs.h` (6.1). Nothing else lives
//! here: byte orders are written down once, next to the codec.

/// `IPVS_GENL_NAME`
pub const GENL_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`
pub const GENL_VERSION: u8 = 1;

/// `enum { IPVS_CMD_* }`
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
}

/// `enum { IPVS_CMD_ATTR_* }`: first-level attributes.
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
}

/// `enum { IPVS_SVC_ATTR_* }`: inside `IPVS_CMD_ATTR_SERVICE`.
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
}

/// `enum { IPVS_DEST_ATTR_* }`: inside `IPVS_CMD_ATTR_DEST`.
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
}

/// `enum { IPVS_DAEMON_ATTR_* }`: inside `IPVS_CMD_ATTR_DAEMON`.
pub mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
}

/// `enum { IPVS_STATS_ATTR_* }`: inside `*_ATTR_STATS` and `*_ATTR_STATS64`.
pub mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
    pub const CPS: u16 = 6;
    pub const INPPS: u16 = 7;
    pub const OUTPPS: u16 = 8;
    pub const INBPS: u16 = 9;
    pub const OUTBPS: u16 = 10;
    pub const PAD: u16 = 11;
}

/// `enum { IPVS_INFO_ATTR_* }`: first level of a `GET_INFO` reply.
pub mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
}

/// `IP_VS_STATE_*`: sync daemon roles.
pub mod daemon_state {
    pub const MASTER: u32 = 1;
    pub const BACKUP: u32 = 2;
}

/// `IP_VS_CONN_F_FWD_MASK`: the forwarding method bits of a destination.
pub const CONN_F_FWD_MASK: u32 = 0x0007;

/// `IP_VS_SCHEDNAME_MAXLEN`, `IP_VS_PENAME_MAXLEN`, `IP_VS_IFNAME_MAXLEN`
/// (with the terminating NUL).
pub const NAME_MAXLEN: usize = 16;

/// Generic netlink controller (`linux/genetlink.h`): the family-id lookup.
pub mod ctrl {
    /// `GENL_ID_CTRL`
    pub const ID: u16 = 0x10;
    /// `CTRL_CMD_GETFAMILY`
    pub const CMD_GETFAMILY: u8 = 3;
    /// `CTRL_ATTR_FAMILY_ID` (u16)
    pub const ATTR_FAMILY_ID: u16 = 1;
    /// `CTRL_ATTR_FAMILY_NAME` (NUL-terminated string)
    pub const ATTR_FAMILY_NAME: u16 = 2;
}
