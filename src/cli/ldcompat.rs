//! ldirectord's command line: `[-d|--debug] [--] [CONFIG] ACTION`, so that
//! init scripts, Heartbeat `haresources` and `ocf:heartbeat:ldirectord` can
//! drive lvsd unchanged. Pure: argv in, a parsed request out.

/// The actions ldirectord accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    TryRestart,
    Reload,
    ForceReload,
    Status,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "restart" => Action::Restart,
            "try-restart" => Action::TryRestart,
            "reload" => Action::Reload,
            "force-reload" => Action::ForceReload,
            "status" => Action::Status,
            _ => return None,
        })
    }
}

/// One ldirectord-style invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdArgs {
    /// `-d`: stay in the foreground and log to stderr.
    pub debug: bool,
    /// The configuration argument as given (searched for later, as
    /// ldirectord does); `None` means `ldirectord.cf`.
    pub config: Option<String>,
    pub action: Action,
}

impl LdArgs {
    /// ldirectord's `$CFGNAME`: the file name of the configuration argument,
    /// or `ldirectord` when none was given. It names the pid file.
    pub fn config_name(&self) -> String {
        match &self.config {
            Some(c) => c.rsplit('/').next().unwrap_or(c).to_string(),
            None => "ldirectord".to_string(),
        }
    }
}

/// Parses argv (without argv[0]) in ldirectord's form, or returns `None` when
/// it is not that form (then it is one of lvsd's own subcommands).
pub fn parse(args: &[String]) -> Option<LdArgs> {
    let mut debug = false;
    let mut positional = Vec::new();
    let mut options_done = false;
    for a in args {
        match a.as_str() {
            "-d" | "--debug" if !options_done => debug = true,
            "--" if !options_done => options_done = true,
            s if s.starts_with('-') && !options_done => return None,
            s => positional.push(s),
        }
    }
    match positional.as_slice() {
        [action] => Some(LdArgs {
            debug,
            config: None,
            action: Action::parse(action)?,
        }),
        [config, action] => Some(LdArgs {
            debug,
            config: Some((*config).to_string()),
            action: Action::parse(action)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<LdArgs> {
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
        }
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
