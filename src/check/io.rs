//! Small I/O helpers shared by the checkers: error chains for messages and
//! bounded reads, so a hostile server cannot make a probe buffer without end.

use std::error::Error;
use std::fmt::Write as _;

/// An error and its sources on one line ("a: b: c"), for Down reasons.
pub(crate) fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        // Some crates repeat their source in their own message.
        if !text.contains(&next) {
            let _ = write!(text, ": {next}");
        }
        source = e.source();
    }
    text
}

/// A UDP socket on an ephemeral port of the right family, connected to
/// `addr` (so only its replies are received). Errors are Down reasons.
pub(crate) async fn udp_connected(
    addr: std::net::SocketAddr,
) -> Result<tokio::net::UdpSocket, String> {
    let bind: std::net::SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("bind: {e}"))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    Ok(socket)
}
