//! lvsd's extensions to the http and https checks (ldirectord refuses these
//! lines): `verifytls`, `tlscafile`, `tlsname` and `expectstatus`, set per
//! virtual. Without them a check does what ldirectord's does: https
//! verifies nothing and sends no SNI, and any final 2xx status is up.
//!
//! - `verifytls = yes`: the real's certificate must chain to a trusted root
//!   and hold the name checked ([`HttpCheck::tls_name`]); that name is sent
//!   as SNI (an IP address is checked against the certificate's addresses
//!   and, as TLS wants, not sent).
//! - `tlscafile = /PATH`: with `verifytls`, the roots are this PEM file's
//!   certificates *instead of* the built-in public ones, so only a
//!   certificate the operator's CA issued passes.
//! - `tlsname = NAME`: the DNS name to verify and send, when it is not the
//!   host of `virtualhost` (the default; without either, the real's address).
//! - `expectstatus = 200,204,401-403`: the final statuses that are up.
//!
//! Both formats read the same directives through [`directive`]; [`build`]
//! checks them against each other and reads the CA file, so that a missing
//! or empty one is a `FILE:LINE` error at load rather than every probe
//! failing later. That read is the one I/O here.

use std::path::{Path, PathBuf};

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use super::diag::Diagnostics;
use super::draft::{at, At};
use super::model::CheckService;

/// The directives' names, as both formats spell them.
pub const DIRECTIVES: [&str; 4] = ["verifytls", "tlscafile", "tlsname", "expectstatus"];

/// The resolved extensions of one virtual; the default is ldirectord's
/// behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCheck {
    pub verify_tls: bool,
    pub tls_ca_file: Option<PathBuf>,
    /// `tlsname` as written; `None` leaves the name to the check
    /// (`virtualhost`'s host, else the real's address).
    pub tls_name: Option<String>,
    /// Empty: any 2xx, as ldirectord.
    pub expect_status: Vec<u16>,
}

/// The directives as written, each with its line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCheckDraft {
    pub verifytls: Option<At<bool>>,
    pub tlscafile: Option<At<PathBuf>>,
    pub tlsname: Option<At<String>>,
    pub expectstatus: Option<At<Vec<u16>>>,
}

/// Reads one directive into `d`: `None` when `key` is not one of these.
pub fn directive(
    d: &mut HttpCheckDraft,
    key: &str,
    value: &str,
    line: usize,
) -> Option<Result<(), String>> {
    // A path or name may be quoted in .cf, as ldirectord's paths may be.
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let result = match key {
        "verifytls" => super::values::yes_no(value)
            .map(|b| d.verifytls = at(b, line))
            .map_err(|m| format!("verifytls {m}")),
        "tlscafile" => ca_file(unquoted).map(|p| d.tlscafile = at(p, line)),
        "tlsname" => tls_name(unquoted).map(|n| d.tlsname = at(n, line)),
        "expectstatus" => expect_status(value).map(|s| d.expectstatus = at(s, line)),
        _ => return None,
    };
    Some(result)
}

fn ca_file(value: &str) -> Result<PathBuf, String> {
    let path = Path::new(value);
    if value.is_empty() || !path.is_absolute() {
        // The daemon runs from `/`; a relative path would depend on where
        // `lvsd check` was run.
        return Err(format!("tlscafile must be an absolute path, not {value:?}"));
    }
    Ok(path.to_path_buf())
}

/// A DNS name. An address is not taken: the probe connects to the real,
/// and without a name it verifies the real's own address.
pub fn tls_name(value: &str) -> Result<String, String> {
    match ServerName::try_from(value) {
        Ok(ServerName::DnsName(_)) => Ok(value.to_owned()),
        Ok(_) => Err(format!(
            "invalid tlsname {value:?}: a DNS name, not an address (without tlsname \
             and virtualhost the real's own address is verified)"
        )),
        Err(_) => Err(format!("invalid tlsname {value:?}: not a DNS name")),
    }
}

/// `CODE[,CODE|LOW-HIGH]...`, each a final status (200-299 or 400-599).
/// 1xx and 3xx never end an exchange: the check follows redirects, as
/// ldirectord's does, and judges the status it ends on.
pub fn expect_status(value: &str) -> Result<Vec<u16>, String> {
    let bad = |why: String| format!("invalid expectstatus {value:?}: {why}");
    let mut codes = Vec::new();
    for item in value.split(',').map(str::trim) {
        let (low, high) = match item.split_once('-') {
            Some((l, h)) => (l.trim(), h.trim()),
            None => (item, item),
        };
        let code = |s: &str| {
            s.parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| bad(format!("{s:?} is not a status code (100-599)")))
        };
        let (low, high) = (code(low)?, code(high)?);
        if low > high {
            return Err(bad(format!("range {item} runs backwards")));
        }
        if let Some(c) = (low..=high).find(|c| (100..200).contains(c) || (300..400).contains(c)) {
            return Err(bad(format!(
                "{c} is never a final status: the check follows redirects (as ldirectord's) \
                 and judges the status it ends on"
            )));
        }
        codes.extend(low..=high);
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
}

/// `codes` as [`expect_status`] reads them, runs written as ranges.
pub fn show_status(codes: &[u16]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let mut j = i;
        while j + 1 < codes.len() && codes[j + 1] == codes[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            codes[i].to_string()
        } else {
            format!("{}-{}", codes[i], codes[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// The warning the .cf parser gives for each directive read.
pub fn extension_warning(key: &str) -> String {
    format!("{key} is an lvsd extension: ldirectord refuses this file")
}

/// The draft resolved and checked: `tlscafile` and `tlsname` only with
/// `verifytls = yes`, TLS directives only where the check speaks TLS, the
/// CA file readable and holding a certificate.
pub fn build(d: &HttpCheckDraft, service: CheckService, diags: &mut Diagnostics) -> HttpCheck {
    let verify = d.verifytls.as_ref().is_some_and(|v| v.value);
    for (written, key) in [
        (d.tlscafile.as_ref().map(|a| a.line), "tlscafile"),
        (d.tlsname.as_ref().map(|a| a.line), "tlsname"),
    ] {
        if let (Some(line), false) = (written, verify) {
            diags.error(
                line,
                format!("{key} is used only with verifytls = yes, which this virtual does not set"),
            );
        }
    }
    let http = matches!(
        service,
        CheckService::Http | CheckService::Https | CheckService::HttpProxy
    );
    if let (Some(v), false) = (&d.verifytls, service == CheckService::Https) {
        if v.value {
            diags.warn(
                v.line,
                format!(
                    "verifytls has no effect: this virtual's check is service={} (no TLS)",
                    service.name()
                ),
            );
        }
    }
    if let (Some(s), false) = (&d.expectstatus, http) {
        diags.warn(
            s.line,
            format!(
                "expectstatus has no effect: this virtual's check is service={} (not HTTP)",
                service.name()
            ),
        );
    }
    let tls_ca_file = d.tlscafile.as_ref().map(|a| {
        if let Err(m) = readable_roots(&a.value) {
            diags.error(a.line, m);
        }
        a.value.clone()
    });
    HttpCheck {
        verify_tls: verify,
        tls_ca_file: tls_ca_file.filter(|_| verify),
        tls_name: d.tlsname.as_ref().map(|a| a.value.clone()),
        expect_status: d
            .expectstatus
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default(),
    }
}

/// Whether `path` holds at least one PEM certificate.
fn readable_roots(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("tlscafile {shown}: cannot read it: {e}"))?;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| format!("tlscafile {shown}: bad PEM: {e:?}"))?;
        count += 1;
    }
    if count == 0 {
        return Err(format!("tlscafile {shown}: no PEM certificate in it"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_take_codes_and_ranges_of_final_statuses() {
        assert_eq!(
            expect_status("204, 200,401-403,200"),
            Ok(vec![200, 204, 401, 402, 403])
        );
        for bad in [
            "", "200,", "abc", "99", "600", "403-401", "301", "200-302", "100",
        ] {
            assert!(expect_status(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(show_status(&[200, 204, 401, 402, 403]), "200,204,401-403");
        let e = expect_status("200,302").unwrap_err();
        assert!(e.contains("302 is never a final status"), "{e}");
    }

    #[test]
    fn names_are_dns_names_or_addresses_and_ca_files_absolute() {
        assert!(tls_name("www.example.test").is_ok());
        assert!(tls_name("192.0.2.1").is_err());
        assert!(tls_name("bad name").is_err());
        assert!(tls_name("").is_err());
        assert!(ca_file("ca.pem").is_err());
        assert!(ca_file("/etc/ssl/ca.pem").is_ok());
    }
}
