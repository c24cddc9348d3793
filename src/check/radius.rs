//! `service=radius`, as ldirectord's Authen::Radius check: send one
//! Access-Request for `login`/`passwd` with the shared `secret`, and call the
//! server up iff it answers. As in ldirectord, an Access-Reject is an answer
//! (the server works; the test account may not): only silence or a broken
//! reply is down. A reply whose Response Authenticator does not verify with
//! the secret is broken (usually a wrong secret).
//!
//! The packet follows RFC 2865 (User-Password hiding) and carries a
//! Message-Authenticator (RFC 3579), which current FreeRADIUS requires.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};

use md5::{Digest, Md5};

use super::spec::Credentials;
use super::Outcome;

const ACCESS_REQUEST: u8 = 1;
const ACCESS_ACCEPT: u8 = 2;
const ACCESS_REJECT: u8 = 3;
const ACCESS_CHALLENGE: u8 = 11;
const USER_NAME: u8 = 1;
const USER_PASSWORD: u8 = 2;
const NAS_IDENTIFIER: u8 = 32;
const MESSAGE_AUTHENTICATOR: u8 = 80;

static NEXT_ID: AtomicU8 = AtomicU8::new(0);

pub(crate) async fn check(addr: SocketAddr, credentials: &Credentials, secret: &str) -> Outcome {
    let tried = format!(
        "RADIUS Access-Request for {:?} to {addr}",
        credentials.login
    );
    match exchange(addr, credentials, secret).await {
        Ok(ACCESS_ACCEPT) => Outcome::Up,
        Ok(_) => {
            tracing::debug!(%addr, "RADIUS answered with a reject or challenge: up, as ldirectord");
            Outcome::Up
        }
        Err(e) => Outcome::down(tried, e),
    }
}

/// Sends the request and returns the code of the verified reply.
async fn exchange(addr: SocketAddr, credentials: &Credentials, secret: &str) -> Result<u8, String> {
    let socket = super::io::udp_connected(addr).await?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let authenticator = random_authenticator();
    let packet = access_request(id, authenticator, credentials, secret.as_bytes());
    socket
        .send(&packet)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = [0u8; 4096];
    loop {
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        match verify_reply(&buf[..n], id, &authenticator, secret.as_bytes()) {
            Reply::Code(code) => return Ok(code),
            // Someone else's late reply: keep waiting for ours.
            Reply::OtherId => continue,
            Reply::Broken(why) => return Err(why),
        }
    }
}

enum Reply {
    Code(u8),
    OtherId,
    Broken(String),
}

fn verify_reply(reply: &[u8], id: u8, request_auth: &[u8; 16], secret: &[u8]) -> Reply {
    if reply.len() < 20 {
        return Reply::Broken(format!(
            "a {}-byte reply, too short for RADIUS",
            reply.len()
        ));
    }
    if reply[1] != id {
        return Reply::OtherId;
    }
    let length = usize::from(u16::from_be_bytes([reply[2], reply[3]]));
    if length < 20 || length > reply.len() {
        return Reply::Broken(format!(
            "reply length field {length} for {} bytes",
            reply.len()
        ));
    }
    let reply = &reply[..length];
    if response_authenticator(reply, request_auth, secret) != reply[4..20] {
        return Reply::Broken(
            "the reply's authenticator does not verify (wrong secret?)".to_owned(),
        );
    }
    match reply[0] {
        code @ (ACCESS_ACCEPT | ACCESS_REJECT | ACCESS_CHALLENGE) => Reply::Code(code),
        code => Reply::Broken(format!("unexpected reply code {code}")),
    }
}

/// RFC 2865 §3: MD5(Code + Identifier + Length + the request's
/// authenticator + the attributes + the secret). `reply` is at least 20
/// bytes long.
fn response_authenticator(reply: &[u8], request_auth: &[u8; 16], secret: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(&reply[..4]);
    md5.update(request_auth);
    md5.update(&reply[20..]);
    md5.update(secret);
    md5.finalize().into()
}

/// The reply check on arbitrary bytes, for `fuzz/` only: it must never
/// panic, and the same bytes signed with the secret must verify to their
/// own code (a check refusing a well-signed Accept calls a working server
/// down).
pub(crate) fn fuzz_reply(reply: &[u8]) {
    const ID: u8 = 7;
    const AUTH: [u8; 16] = [0x5a; 16];
    const SECRET: &[u8] = b"s3cret";
    let _ = verify_reply(reply, ID, &AUTH, SECRET);
    if reply.len() < 20 {
        return;
    }
    let mut signed = reply.to_vec();
    signed[1] = ID;
    let length = usize::from(u16::from_be_bytes([signed[2], signed[3]]));
    if !(20..=signed.len()).contains(&length) {
        return;
    }
    let mac = response_authenticator(&signed[..length], &AUTH, SECRET);
    signed[4..20].copy_from_slice(&mac);
    match verify_reply(&signed, ID, &AUTH, SECRET) {
        Reply::Code(code) => assert_eq!(code, signed[0]),
        Reply::Broken(why) => assert!(
            ![ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE].contains(&signed[0]),
            "a signed reply refused: {why}"
        ),
        Reply::OtherId => panic!("our own id taken for another's"),
    }
}

fn access_request(
    id: u8,
    authenticator: [u8; 16],
    credentials: &Credentials,
    secret: &[u8],
) -> Vec<u8> {
    let mut p = vec![ACCESS_REQUEST, id, 0, 0];
    p.extend_from_slice(&authenticator);
    attribute(&mut p, USER_NAME, credentials.login.as_bytes());
    attribute(
        &mut p,
        USER_PASSWORD,
        &hide_password(credentials.password.as_bytes(), secret, &authenticator),
    );
    attribute(&mut p, NAS_IDENTIFIER, b"lvsd");
    let mac_at = p.len() + 2;
    attribute(&mut p, MESSAGE_AUTHENTICATOR, &[0; 16]);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let mac = hmac_md5(secret, &p);
    p[mac_at..mac_at + 16].copy_from_slice(&mac);
    p
}

/// Appends one attribute; values are cut to the 253 bytes RADIUS allows.
fn attribute(p: &mut Vec<u8>, kind: u8, value: &[u8]) {
    let value = &value[..value.len().min(253)];
    p.push(kind);
    p.push(value.len() as u8 + 2);
    p.extend_from_slice(value);
}

/// RFC 2865 §5.2: the password, padded to 16-byte blocks, each XORed with
/// MD5(secret + previous block), the first with the request authenticator.
fn hide_password(password: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Vec<u8> {
    let password = &password[..password.len().min(128)];
    let blocks = password.len().div_ceil(16).max(1);
    let mut padded = password.to_vec();
    padded.resize(blocks * 16, 0);
    let mut previous: Vec<u8> = authenticator.to_vec();
    let mut out = Vec::with_capacity(padded.len());
    for block in padded.chunks(16) {
        let mut md5 = Md5::new();
        md5.update(secret);
        md5.update(&previous);
        let key = md5.finalize();
        let hidden: Vec<u8> = block.iter().zip(key.iter()).map(|(p, k)| p ^ k).collect();
        out.extend_from_slice(&hidden);
        previous = hidden;
    }
    out
}

/// HMAC-MD5 (RFC 2104), for the Message-Authenticator.
fn hmac_md5(key: &[u8], message: &[u8]) -> [u8; 16] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..16].copy_from_slice(&Md5::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(move |k| k ^ byte).collect::<Vec<u8>>();
    let mut inner = Md5::new();
    inner.update(pad(0x36));
    inner.update(message);
    let mut outer = Md5::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// An unpredictable Request Authenticator: the std hasher's per-process
/// random keys, mixed with a counter and the time, through MD5.
fn random_authenticator() -> [u8; 16] {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    let mut md5 = Md5::new();
    md5.update(h.finish().to_be_bytes());
    md5.update(RandomState::new().build_hasher().finish().to_be_bytes());
    md5.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_md5_matches_rfc_2104_test_vector() {
        // RFC 2104 appendix / RFC 2202 test case 2.
        let mac = hmac_md5(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn password_hiding_round_trips_and_pads() {
        let auth = [7u8; 16];
        let hidden = hide_password(b"wonderland", b"s3cret", &auth);
        assert_eq!(hidden.len(), 16);
        // Undo it: XOR with the same key stream.
        let mut md5 = Md5::new();
        md5.update(b"s3cret");
        md5.update(auth);
        let key = md5.finalize();
        let plain: Vec<u8> = hidden.iter().zip(key.iter()).map(|(h, k)| h ^ k).collect();
        assert_eq!(&plain[..10], b"wonderland");
        assert!(plain[10..].iter().all(|&b| b == 0));
        assert_eq!(hide_password(&[b'x'; 17], b"s", &auth).len(), 32);
    }
}
