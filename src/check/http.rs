//! `service=http`, `https` and `http_proxy`, as ldirectord's `check_http`:
//! GET (or HEAD) the URL, follow redirects, and call the server up iff the
//! final status is 2xx and, when `receive` is set, the body matches it.
//!
//! The URL is `scheme://RIP:PORT/request`, or `request` itself when it is an
//! absolute URL of that scheme (for `http_proxy`, always the request, sent
//! through the real server as a proxy). `Host:` is `virtualhost` when set.
//! Like ldirectord, https verifies nothing and sends no SNI (the URL holds an
//! IP address); the lvsd extension `verify_tls` verifies the chain (against
//! `ca_file` alone when set, else the built-in public roots) and the name
//! (`tls_name`, else `virtualhost`'s host, sent as SNI; else the real's
//! address). Connections are not
//! reused between probes, so each probe proves the server accepts new ones.
//! Plain http to the real's address, the bulk of all checks, takes the
//! lighter path of [`http_plain`]; everything else goes through reqwest.
//! Bodies are read up to [`BODY_LIMIT`]; more is a failure, not a hang.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use reqwest::header::{HeaderValue, HOST};
use reqwest::{redirect, Certificate, Client, Proxy, StatusCode};

use super::http_head::BODY_LIMIT;
use super::http_plain::{self, Answer};
use super::io::error_chain;
use super::spec::{Http, HttpMethod, Probe};
use super::Outcome;

/// LWP's default redirect limit.
const MAX_REDIRECTS: usize = 7;

/// Shared HTTP clients: one for the common case, and one per name and
/// address (verified https) or per proxy (they fix routing at build time).
pub(crate) struct HttpChecker {
    plain: Result<Client, String>,
    special: Mutex<HashMap<ClientKey, Client>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ClientKey {
    /// Verifies the certificate; with `pin`, the name is sent to that
    /// address (the real's) whatever DNS says of it. `ca_file`: the only
    /// trust anchors, else the built-in public roots.
    Verified {
        pin: Option<(String, SocketAddr)>,
        ca_file: Option<PathBuf>,
    },
    Proxy(SocketAddr),
}

fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .use_rustls_tls()
        .redirect(redirect::Policy::limited(MAX_REDIRECTS))
        .pool_max_idle_per_host(0)
        .no_proxy()
        .user_agent(concat!("lvsd/", env!("CARGO_PKG_VERSION")))
}

impl HttpChecker {
    pub(crate) fn new() -> HttpChecker {
        let plain = builder()
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {}", error_chain(&e)));
        HttpChecker {
            plain,
            special: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, key: Option<ClientKey>) -> Result<Client, String> {
        let Some(key) = key else {
            return self.plain.clone();
        };
        let mut cache = self.special.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let built = match &key {
            ClientKey::Verified { pin, ca_file } => {
                let mut b = builder();
                if let Some((host, addr)) = pin {
                    b = b.resolve(host, *addr);
                }
                if let Some(path) = ca_file {
                    // The operator's CA alone: a certificate a public CA
                    // issued for the name must not pass.
                    b = b.tls_built_in_root_certs(false);
                    for cert in read_certificates(path)? {
                        b = b.add_root_certificate(cert);
                    }
                }
                b.build()
            }
            ClientKey::Proxy(addr) => {
                let proxy = Proxy::all(format!("http://{addr}/"))
                    .map_err(|e| format!("bad proxy address {addr}: {e}"))?;
                builder()
                    .danger_accept_invalid_certs(true)
                    .proxy(proxy)
                    .build()
            }
        };
        let client =
            built.map_err(|e| format!("cannot build an HTTP client: {}", error_chain(&e)))?;
        cache.insert(key, client.clone());
        Ok(client)
    }

    pub(crate) async fn check(&self, probe: &Probe, http: &Http, proxy: bool) -> Outcome {
        let addr = probe.addr();
        // The common case, thousands of times a second: plain http to the
        // real, its outcome told without building the text of what was
        // tried unless the probe fails.
        if !proxy && !http.tls {
            if let Some(request) = plain_request(addr, http) {
                let head = http.method == HttpMethod::Head;
                let answer = http_plain::exchange(addr, &request, head).await;
                let tried = || tried_text(addr, http, proxy, &target(addr, http, proxy).0);
                if let Some(outcome) = plain_verdict(answer, tried, http) {
                    return outcome;
                }
                // A redirect or an interim answer: the full client follows it.
            }
        }
        let (url, key) = target(addr, http, proxy);
        let verb = match http.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Head => reqwest::Method::HEAD,
        };
        let tried = tried_text(addr, http, proxy, &url);
        let host_header = match (proxy, &http.virtual_host) {
            (false, Some(host)) => match HeaderValue::from_str(host) {
                Ok(value) => Some(value),
                Err(_) => {
                    return Outcome::down(
                        tried,
                        format_args!("virtualhost {host:?} is not a valid Host header"),
                    )
                }
            },
            _ => None,
        };
        let client = match self.client(key) {
            Ok(client) => client,
            Err(e) => return Outcome::down(tried, e),
        };
        let mut request = client.request(verb, &url);
        if let Some(value) = host_header {
            request = request.header(HOST, value);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Outcome::down(tried, error_chain(&e)),
        };
        let status = response.status();
        if !status_ok(http, status.as_u16()) {
            return Outcome::down(tried, format_args!("status {status}"));
        }
        // Read the whole body even without `receive`, as LWP does: a server
        // that cannot finish its answer is not up.
        let keep = http.exchange.receive.is_some();
        let mut body = Vec::new();
        let mut length = 0usize;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    length += chunk.len();
                    if length > BODY_LIMIT {
                        return Outcome::down(
                            tried,
                            format_args!("status {status}, body longer than {BODY_LIMIT} bytes"),
                        );
                    }
                    if keep {
                        body.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome::down(
                        tried,
                        format_args!("status {status}, body: {}", error_chain(&e)),
                    )
                }
            }
        }
        judge(|| tried, http, status.as_u16(), &body)
    }
}

/// What a probe tried, as its failures say it ("GET http://...").
fn tried_text(addr: SocketAddr, http: &Http, proxy: bool, url: &str) -> String {
    let verb = verb_name(http.method);
    if proxy {
        format!("{verb} {url} via proxy {addr}")
    } else {
        format!("{verb} {url}")
    }
}

/// The request bytes when the check can go the plain way: straight from
/// `request` when it needs no URL parser ([`simple_request`]), else from
/// the parsed URL when that is plain http to the real itself. `None` (also
/// for a `virtualhost` that is no valid header) leaves it to the full
/// client.
fn plain_request(addr: SocketAddr, http: &Http) -> Option<Vec<u8>> {
    if http
        .virtual_host
        .as_deref()
        .is_some_and(|v| !valid_header_value(v))
    {
        return None;
    }
    simple_request(addr, http).or_else(|| {
        let (url, key) = target(addr, http, false);
        let to_the_real = key.is_none() && url.starts_with(&format!("http://{addr}/"));
        to_the_real.then(|| parsed_request(&url, http)).flatten()
    })
}

fn verb_name(method: HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
    }
}

/// The outcome of a plain exchange; `None` for a redirect or an interim
/// answer, which the full client follows from the start.
fn plain_verdict(
    answer: Result<Answer, String>,
    tried: impl FnOnce() -> String,
    http: &Http,
) -> Option<Outcome> {
    match answer {
        Ok(Answer::Complete { status, body }) => Some(judge(tried, http, status, &body)),
        Ok(Answer::BadBody { status, why }) => Some(Outcome::down(
            tried(),
            format_args!("status {}, {why}", show(status)),
        )),
        Err(e) => Some(Outcome::down(tried(), e)),
        Ok(Answer::Defer) => None,
    }
}

/// The request for `http://addr/request` when `request` needs no URL
/// parser: a path (and query) the parser would leave as it is. `None` sends
/// the check the longer way, which gives the same bytes when it can.
fn simple_request(addr: SocketAddr, http: &Http) -> Option<Vec<u8>> {
    if let SocketAddr::V6(a) = addr {
        // The URL form differs: no zone, and a mapped IPv4 in hex.
        if a.scope_id() != 0 || a.ip().to_ipv4_mapped().is_some() {
            return None;
        }
    }
    let rest = simple_path(http.exchange.request.trim_start_matches('/'))?;
    let verb = verb_name(http.method);
    Some(match &http.virtual_host {
        Some(vhost) => http_plain::request(verb, format_args!("/{rest}"), vhost),
        // As the URL parser has it: no port when it is the scheme's.
        None if addr.port() == 80 => match addr {
            SocketAddr::V4(a) => http_plain::request(verb, format_args!("/{rest}"), a.ip()),
            SocketAddr::V6(a) => {
                http_plain::request(verb, format_args!("/{rest}"), format_args!("[{}]", a.ip()))
            }
        },
        None => http_plain::request(verb, format_args!("/{rest}"), addr),
    })
}

/// `rest` when it is a path and query of characters the URL parser keeps
/// verbatim, with no dot segment it would resolve.
fn simple_path(rest: &str) -> Option<&str> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@".contains(&b);
    let path_ok = path.bytes().all(|b| plain(b) || b == b'/')
        && path.split('/').all(|seg| seg != "." && seg != "..");
    let query_ok = query.bytes().all(|b| plain(b) || b == b'/' || b == b'?');
    (path_ok && query_ok && !rest.contains("://")).then_some(rest)
}

/// What a `Host:` header may hold (as `HeaderValue::from_str` allows).
fn valid_header_value(s: &str) -> bool {
    s.bytes().all(|b| (b >= 32 && b != 127) || b == b'\t')
}

/// The request bytes for `url` as the full client would send its path.
fn parsed_request(url: &str, http: &Http) -> Option<Vec<u8>> {
    // Parsed as the full client would, so the path is normalized and
    // escaped the same way.
    let parsed = reqwest::Url::parse(url).ok()?;
    let mut path = parsed.path().to_owned();
    if let Some(query) = parsed.query() {
        path.push('?');
        path.push_str(query);
    }
    let host = match (&http.virtual_host, parsed.host_str(), parsed.port()) {
        (Some(vhost), _, _) => vhost.clone(),
        (None, Some(h), Some(port)) => format!("{h}:{port}"),
        (None, Some(h), None) => h.to_owned(),
        (None, None, _) => return None,
    };
    Some(http_plain::request(verb_name(http.method), &path, &host))
}

fn status_ok(http: &Http, status: u16) -> bool {
    if http.expect_status.is_empty() {
        (200..300).contains(&status)
    } else {
        http.expect_status.contains(&status)
    }
}

/// A status as the full client shows it ("404 Not Found").
fn show(status: u16) -> String {
    StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

/// The verdict on a complete answer: the status, then `receive` on the body.
fn judge(tried: impl FnOnce() -> String, http: &Http, status: u16, body: &[u8]) -> Outcome {
    if !status_ok(http, status) {
        return Outcome::down(tried(), format_args!("status {}", show(status)));
    }
    let Some(receive) = http.exchange.receive.as_ref() else {
        return Outcome::Up;
    };
    let text = String::from_utf8_lossy(body);
    if receive.is_match(&text) {
        Outcome::Up
    } else {
        Outcome::down(
            tried(),
            format_args!(
                "status {}, body ({} bytes) does not match {:?}",
                show(status),
                body.len(),
                receive.source()
            ),
        )
    }
}

fn read_certificates(path: &Path) -> Result<Vec<Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("bad certificates in {}: {e}", path.display()))
}

/// The URL to fetch and which client fetches it.
fn target(addr: SocketAddr, http: &Http, proxy: bool) -> (String, Option<ClientKey>) {
    let request = http.exchange.request.trim_start_matches('/');
    if proxy {
        return (request.to_owned(), Some(ClientKey::Proxy(addr)));
    }
    let scheme = if http.tls { "https" } else { "http" };
    let verify = http.tls && http.verify_tls;
    let verified = |pin| {
        Some(ClientKey::Verified {
            pin,
            ca_file: http.ca_file.clone(),
        })
    };
    if http.exchange.request.contains(&format!("{scheme}://")) {
        // An absolute URL is fetched as written, verified when asked.
        return (
            request.to_owned(),
            if verify { verified(None) } else { None },
        );
    }
    if !verify {
        return (format!("{scheme}://{addr}/{request}"), None);
    }
    let name = http
        .tls_name
        .as_deref()
        .or_else(|| {
            let host = http.virtual_host.as_deref()?;
            host.split(':').next()
        })
        // A name that is an address would send the probe there: the real's
        // own address is verified instead.
        .filter(|name| !name.is_empty() && name.parse::<IpAddr>().is_err());
    match name {
        // The name in the URL drives SNI and verification; `resolve` pins
        // it to the real server.
        Some(name) => (
            format!("https://{name}:{}/{request}", addr.port()),
            verified(Some((name.to_owned(), addr))),
        ),
        // No name: the certificate must hold the real's address.
        None => (format!("https://{addr}/{request}"), verified(None)),
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
