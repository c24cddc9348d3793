//! `service=ldap` and `ldaps`, as ldirectord's Net::LDAP check: bind (as
//! `login` with `passwd` when both are set, else anonymously), search the
//! base `request` (its leading `/` dropped) with scope base and filter
//! `(objectClass=*)`, and call the server up iff exactly one entry comes back
//! and, when `receive` is set, its DN matches it.
//!
//! ldaps verifies no certificate, like Net::LDAP's default. The connection
//! is driven inside the probe's future (no spawned task), and at most two
//! entries are read, enough to tell "exactly one".

use std::net::SocketAddr;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use super::io::error_chain;
use super::line::unverified_tls;
use super::spec::{Credentials, Exchange};
use super::Outcome;

pub(crate) async fn check(
    addr: SocketAddr,
    tls: bool,
    exchange: &Exchange,
    credentials: &Credentials,
) -> Outcome {
    let base = exchange
        .request
        .strip_prefix('/')
        .unwrap_or(&exchange.request);
    let scheme = if tls { "ldaps" } else { "ldap" };
    let tried = format!("{scheme} bind and base search of {base:?} at {addr}");
    let dn = match session(addr, tls, base, credentials).await {
        Ok(dn) => dn,
        Err(e) => return Outcome::down(tried, e),
    };
    match &exchange.receive {
        Some(receive) if !receive.is_match(&dn) => Outcome::down(
            tried,
            format_args!("DN {dn:?} does not match {:?}", receive.source()),
        ),
        _ => Outcome::Up,
    }
}

/// Binds, searches, and returns the DN of the one entry found.
async fn session(
    addr: SocketAddr,
    tls: bool,
    base: &str,
    credentials: &Credentials,
) -> Result<String, String> {
    let url = format!("{}://{addr}", if tls { "ldaps" } else { "ldap" });
    let mut settings = LdapConnSettings::new();
    if tls {
        settings = settings.set_config(unverified_tls()?);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &url)
        .await
        .map_err(|e| error_chain(&e))?;
    let exchange = async {
        let (dn, password) = if !credentials.login.is_empty() && !credentials.password.is_empty() {
            (credentials.login.as_str(), credentials.password.as_str())
        } else {
            ("", "")
        };
        ldap.simple_bind(dn, password)
            .await
            .and_then(|r| r.success())
            .map_err(|e| format!("bind: {}", error_chain(&e)))?;
        let mut search = ldap
            .streaming_search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .map_err(|e| format!("search: {}", error_chain(&e)))?;
        let mut entries = Vec::new();
        while entries.len() < 2 {
            match search
                .next()
                .await
                .map_err(|e| format!("search: {}", error_chain(&e)))?
            {
                Some(entry) => entries.push(SearchEntry::construct(entry).dn),
                None => break,
            }
        }
        if entries.len() < 2 {
            let done = search.finish().await;
            if done.rc != 0 {
                return Err(format!("search: result code {} {}", done.rc, done.text));
            }
        }
        match entries.as_slice() {
            [dn] => Ok(dn.clone()),
            [] => Err("search: no entry".to_owned()),
            _ => Err("search: more than one entry".to_owned()),
        }
    };
    // The connection object does the I/O; drive it here rather than in a
    // spawned task so that dropping the probe ends it.
    let dn = tokio::select! {
        dn = exchange => dn,
        ended = conn.drive() => Err(match ended {
            Ok(()) => "the server closed the connection".to_owned(),
            Err(e) => error_chain(&e),
        }),
    };
    let _ = ldap.unbind().await;
    dn
}
