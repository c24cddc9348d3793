//! The `status` action: what the daemon's status file and lock say, in
//! ldirectord's words and exit codes, or as JSON / porcelain.

use super::*;

pub(super) fn status(inst: &Instance, format: Format) -> u8 {
    let proc = state(inst);
    let mut execute = Vec::new();
    let code = match proc {
        ProcState::Running(_) => {
            // The daemon runs the configuration it loaded; a file broken
            // since then does not change that, but the next reload will fail.
            let loaded = config::load(&inst.config);
            if loaded.has_errors() {
                eprintln!(
                    "warning: {} has errors; the daemon keeps running its last good configuration (see lvsd check)",
                    inst.config.display()
                );
            } else {
                execute = loaded.config.global.execute;
            }
            EXIT_OK
        }
        // As ldirectord: a missing (1) or invalid (2) configuration answers
        // before the pid file is looked at.
        _ => match check_config(inst) {
            Err(code) => code,
            Ok(_) if matches!(proc, ProcState::Stale(_)) => EXIT_FAIL,
            Ok(_) => EXIT_STOPPED,
        },
    };
    let loaded = match proc {
        ProcState::Running(_) => match status::load(&status::path(&inst.state_dir, &inst.key)) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                eprintln!("warning: cannot read the daemon's status: {e}");
                None
            }
        },
        _ => None,
    };
    let report = status::Report::new(proc, &inst.config, &pidfile_path(inst), loaded);
    match format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("{}: cannot render the status: {e}", inst.prog());
                return EXIT_FAIL;
            }
        },
        Format::Porcelain => print!("{}", status::render_porcelain(&report)),
        Format::Text => {
            print_text_status(inst, &report, code);
            // As ldirectord: a running daemon's execute= instances answer too.
            print_execute_status(inst.prog(), &execute);
        }
    }
    code
}

/// ldirectord's status lines, then the daemon's table when it runs.
pub(super) fn print_text_status(inst: &Instance, r: &status::Report, code: u8) {
    let (prog, config) = (inst.prog(), inst.config.display());
    match (r.state, r.pid) {
        (status::DaemonState::Running, Some(pid)) => {
            eprintln!("{prog} for {config} is running with pid: {pid}");
            if let Some(s) = &r.status {
                print!("{}", status::render(s));
            } else {
                eprintln!("warning: the daemon has not written its status yet");
            }
        }
        // A configuration error was already reported by check_config.
        _ if code == EXIT_CONFIG || (code == EXIT_FAIL && !inst.config.is_file()) => {}
        (status::DaemonState::Stale, _) => {
            eprintln!(
                "{prog} stale pid file {} for {config}",
                inst.pidfile.path.display()
            );
            println!("{prog} is stopped for {config}");
        }
        _ => println!("{prog} is stopped for {config}"),
    }
}

/// `status` of every instance, its output on ours (the command line's
/// `status` of a running daemon, as ldirectord prints it).
fn print_execute_status(arg0: &str, configs: &[String]) {
    let Ok(path) = std::env::current_exe() else {
        eprintln!("{arg0}: cannot find my own executable to ask the execute= instances");
        return;
    };
    for c in configs {
        let _ = Command::new(&path)
            .arg0(arg0)
            .arg("--")
            .arg(c)
            .arg("status")
            .stdin(Stdio::null())
            .status();
    }
}
