//! Sends the alert mails [`super::alerts`] decides on: over SMTP to
//! `smtp=` (host[:port], plain SMTP as ldirectord's Net::SMTP), or through
//! the local sendmail when `smtp` is unset (ldirectord's Mail::Send).
//!
//! Each mail goes out on its own task under a deadline, off the reconcile
//! path: a slow or failing mail server is a warning in the log, never a
//! stall of the director.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use thiserror::Error;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::alerts::Mail;

/// The sendmail ldirectord's Mail::Send finds first.
pub const SENDMAIL: &str = "/usr/sbin/sendmail";
/// The whole of one delivery, connection to QUIT.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum MailError {
    #[error("invalid address {0:?}: {1}")]
    Address(String, String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("{0}")]
    Send(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Sends mails in the background.
pub struct Mailer {
    pub sendmail: PathBuf,
    pub timeout: Duration,
    /// This host's name (the default sender's domain, and the mail body).
    pub host: String,
    in_flight: Mutex<Vec<JoinHandle<()>>>,
}

impl Default for Mailer {
    fn default() -> Self {
        Mailer::new(PathBuf::from(SENDMAIL), TIMEOUT)
    }
}

impl Mailer {
    pub fn new(sendmail: PathBuf, timeout: Duration) -> Mailer {
        Mailer {
            sendmail,
            timeout,
            host: hostname(),
            in_flight: Mutex::new(Vec::new()),
        }
    }

    /// Sends `mail` on a task of its own; logs the outcome. Needs a runtime.
    pub fn send(&self, mail: Mail) {
        info!("emailalert: {}", mail.subject);
        let sendmail = self.sendmail.clone();
        let timeout = self.timeout;
        let host = self.host.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = deliver(&mail, &sendmail, &host, timeout).await {
                let via = mail.smtp.as_deref().unwrap_or("sendmail");
                warn!(to = %mail.to, via, error = %e, "cannot send the alert mail");
            }
        });
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        in_flight.retain(|t| !t.is_finished());
        in_flight.push(task);
    }

    /// Waits for the mails still going out (each bounded by its timeout).
    pub async fn flush(&self) {
        let tasks: Vec<JoinHandle<()>> = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// Delivers one mail now.
pub async fn deliver(
    mail: &Mail,
    sendmail: &std::path::Path,
    host: &str,
    timeout: Duration,
) -> Result<(), MailError> {
    let message = build(mail, host)?;
    let sent = async {
        match &mail.smtp {
            Some(server) => {
                let (name, port) = split_host_port(server);
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(name)
                    .port(port)
                    .timeout(Some(timeout))
                    .build()
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|e| MailError::Send(e.to_string()))
            }
            None => through_sendmail(&message, sendmail).await,
        }
    };
    tokio::time::timeout(timeout, sent)
        .await
        .map_err(|_| MailError::Timeout(timeout))?
}

use crate::check::CHILD_PATH;

/// `sendmail -i -f FROM -- TO...` with the message on stdin, as lettre's
/// transport runs it but with a fixed PATH and nothing else of lvsd's
/// environment (lettre's passes all of it on). Every address is one
/// argument, the recipients after `--`, so none is read as an option.
async fn through_sendmail(message: &Message, sendmail: &std::path::Path) -> Result<(), MailError> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt as _;
    let envelope = message.envelope();
    let mut c = tokio::process::Command::new(sendmail);
    c.arg("-i");
    if let Some(from) = envelope.from() {
        c.arg("-f").arg(from);
    }
    c.arg("--")
        .args(envelope.to().iter().map(ToString::to_string))
        .env_clear()
        .env("PATH", CHILD_PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // The caller's deadline drops this future: the child goes too.
        .kill_on_drop(true);
    let failed = |what: String| MailError::Send(format!("{}: {what}", sendmail.display()));
    let mut child = c.spawn().map_err(|e| failed(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&message.formatted())
            .await
            .map_err(|e| failed(format!("cannot write the message: {e}")))?;
        // Dropped here: sendmail sees the end of the message.
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| failed(format!("cannot wait for it: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(failed(format!(
        "{}: {}",
        out.status,
        stderr.trim().escape_debug()
    )))
}

/// The message: `From:` emailalertfrom or user@host, `To:` every address
/// of the comma list.
pub fn build(mail: &Mail, host: &str) -> Result<Message, MailError> {
    let from = match &mail.from {
        Some(f) => f.clone(),
        None => format!("{}@{host}", user()),
    };
    let mut b = Message::builder()
        .from(mailbox(&from)?)
        .subject(mail.subject.clone());
    let mut any = false;
    for to in mail.to.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        b = b.to(mailbox(to)?);
        any = true;
    }
    if !any {
        return Err(MailError::Address(mail.to.clone(), "no address".into()));
    }
    b.body(mail.body.clone())
        .map_err(|e| MailError::Build(e.to_string()))
}

/// One address; surrounding quotes (kept by ldirectord's parser) dropped.
fn mailbox(text: &str) -> Result<Mailbox, MailError> {
    let t = text.trim().trim_matches('"').trim();
    t.parse::<Mailbox>()
        .map_err(|e| MailError::Address(text.to_string(), e.to_string()))
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address; port 25 by default.
pub fn split_host_port(s: &str) -> (String, u16) {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            let port = tail
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(25);
            return (h.to_string(), port);
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h.to_string(), port),
            Err(_) => (s.to_string(), 25),
        },
        _ => (s.to_string(), 25),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

fn user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_addresses() {
        assert_eq!(split_host_port("mx"), ("mx".into(), 25));
        assert_eq!(split_host_port("mx:2525"), ("mx".into(), 2525));
        assert_eq!(split_host_port("[::1]:26"), ("::1".into(), 26));
        assert_eq!(split_host_port("::1"), ("::1".into(), 25));
        assert_eq!(split_host_port("10.0.0.1"), ("10.0.0.1".into(), 25));
    }

    #[test]
    fn messages_name_every_recipient_and_the_sender() {
        let mail = Mail {
            to: "a@example.com, b@example.com".into(),
            from: Some("\"lvs@example.com\"".into()),
            smtp: None,
            subject: "Deleted real server: 10.0.0.2:80 (10.0.0.1:80)".into(),
            body: "ldirectord host: h\n".into(),
        };
        let m = build(&mail, "h").expect("valid");
        let text = String::from_utf8(m.formatted()).expect("utf-8");
        assert!(text.contains("From: lvs@example.com\r\n"), "{text}");
        assert!(
            text.contains("To: a@example.com, b@example.com\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Subject: Deleted real server: 10.0.0.2:80 (10.0.0.1:80)\r\n"),
            "{text}"
        );
        let bad = Mail {
            to: "not an address".into(),
            ..mail
        };
        assert!(matches!(build(&bad, "h"), Err(MailError::Address(..))));
    }
}
