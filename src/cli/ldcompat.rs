//! ldirectord's command line: `[-d|--debug] [--] [CONFIG] ACTION`, so that
//! init scripts, Heartbeat `haresources` and `ocf:heartbeat:ldirectord` can
//! drive lvsd unchanged. Pure: argv in, a parsed request out.
//!
//! lvsd adds options ldirectord lacks: `--pidfile FILE` (a cluster manager's
//! choice of pid file) and, for `status`, `--json` or `--porcelain`.

use std::path::PathBuf;

pub use super::invocation::{Action, Format, LdArgs};

/// Why an argv in ldirectord's form cannot run.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LdError {
    #[error("--pidfile needs a file name")]
    PidfileMissing,
    #[error("--json and --porcelain only apply to status")]
    FormatWithoutStatus,
    #[error("--json and --porcelain exclude each other")]
    TwoFormats,
}

/// Parses argv (without argv[0]) in ldirectord's form, or returns `None` when
/// it is not that form (then it is one of lvsd's own subcommands).
pub fn parse(args: &[String]) -> Option<Result<LdArgs, LdError>> {
    let mut debug = false;
    let mut pidfile = None;
    let mut formats = Vec::new();
    let mut positional = Vec::new();
    let mut options_done = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-d" | "--debug" if !options_done => debug = true,
            "--" if !options_done => options_done = true,
            "--json" if !options_done => formats.push(Format::Json),
            "--porcelain" if !options_done => formats.push(Format::Porcelain),
            "--pidfile" if !options_done => match it.next() {
                Some(f) if !f.is_empty() => pidfile = Some(PathBuf::from(f)),
                _ => pidfile = Some(PathBuf::new()),
            },
            s if s.starts_with("--pidfile=") && !options_done => {
                pidfile = Some(PathBuf::from(&s["--pidfile=".len()..]));
            }
            s if s.starts_with('-') && !options_done => return None,
            s => positional.push(s),
        }
    }
    let (config, action) = match positional.as_slice() {
        [action] => (None, Action::parse(action)?),
        [config, action] => (Some((*config).to_string()), Action::parse(action)?),
        _ => return None,
    };
    if pidfile.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        return Some(Err(LdError::PidfileMissing));
    }
    let format = match formats.as_slice() {
        [] => Format::Text,
        [f] if action == Action::Status => *f,
        [_] => return Some(Err(LdError::FormatWithoutStatus)),
        _ => return Some(Err(LdError::TwoFormats)),
    };
    Some(Ok(LdArgs {
        debug,
        config,
        action,
        pidfile,
        format,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<LdArgs> {
        parse_r(s).map(|r| r.unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    fn parse_r(s: &str) -> Option<Result<LdArgs, LdError>> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&v)
    }

    #[test]
    fn ldirectord_forms() {
        let cases = [
            ("start", false, None, Action::Start, "ldirectord"),
            ("-d lb.cf stop", true, Some("lb.cf"), Action::Stop, "lb.cf"),
            (
                "--debug -- /etc/ha.d/web.cf force-reload",
                true,
                Some("/etc/ha.d/web.cf"),
                Action::ForceReload,
                "web.cf",
            ),
            (
                "ldirectord.cf status",
                false,
                Some("ldirectord.cf"),
                Action::Status,
                "ldirectord.cf",
            ),
            ("x try-restart", false, Some("x"), Action::TryRestart, "x"),
            ("restart", false, None, Action::Restart, "ldirectord"),
            ("reload", false, None, Action::Reload, "ldirectord"),
        ];
        for (argv, debug, config, action, name) in cases {
            let got = p(argv).unwrap_or_else(|| panic!("{argv} not parsed"));
            assert_eq!(got.debug, debug, "{argv}");
            assert_eq!(got.config.as_deref(), config, "{argv}");
            assert_eq!(got.action, action, "{argv}");
            assert_eq!(got.config_name(), name, "{argv}");
            assert_eq!(got.pidfile, None, "{argv}");
            assert_eq!(got.format, Format::Text, "{argv}");
        }
    }

    #[test]
    fn lvsd_options_in_ldirectord_form() {
        let a = p("--pidfile /run/x.pid lb.cf status --porcelain").unwrap();
        assert_eq!(
            a.pidfile.as_deref(),
            Some(std::path::Path::new("/run/x.pid"))
        );
        assert_eq!(a.format, Format::Porcelain);
        assert_eq!(a.config.as_deref(), Some("lb.cf"));
        let a = p("status --json").unwrap();
        assert_eq!(
            (a.config, a.action, a.format),
            (None, Action::Status, Format::Json)
        );
        let a = p("-d --pidfile=/tmp/p lb.cf start").unwrap();
        assert!(a.debug);
        assert_eq!(a.pidfile.as_deref(), Some(std::path::Path::new("/tmp/p")));
        // The pid file does not change ldirectord's name for the state files.
        assert_eq!(a.config_name(), "lb.cf");
        // After "--" everything is positional, as before.
        assert_eq!(p("-- --json"), None);
        assert_eq!(
            parse_r("lb.cf start --json"),
            Some(Err(LdError::FormatWithoutStatus))
        );
        assert_eq!(
            parse_r("status --json --porcelain"),
            Some(Err(LdError::TwoFormats))
        );
        assert_eq!(
            parse_r("stop --pidfile"),
            Some(Err(LdError::PidfileMissing))
        );
        assert_eq!(
            parse_r("--pidfile= stop"),
            Some(Err(LdError::PidfileMissing))
        );
    }

    #[test]
    fn other_forms_belong_to_lvsd_subcommands() {
        for argv in [
            "check lb.cf",
            "list -n",
            "plan --all-up x.cf",
            "",
            "a b start",
            "-x start",
        ] {
            assert_eq!(p(argv), None, "{argv}");
        }
    }
}
