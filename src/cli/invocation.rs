//! One ldirectord-style request to the daemon's control side (`start`,
//! `stop`, `status`...): what `ldcompat` parses argv into and `control`
//! carries out.

use std::path::PathBuf;

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

/// How `status` prints the daemon's view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// For people: ldirectord's lines and the table.
    #[default]
    Text,
    /// One JSON object.
    Json,
    /// Tab-separated lines for shell scripts (the OCF agent).
    Porcelain,
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
    /// `--pidfile FILE`: instead of the name derived from the configuration.
    pub pidfile: Option<PathBuf>,
    pub format: Format,
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
