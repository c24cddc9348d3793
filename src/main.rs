use std::process::ExitCode;

fn main() -> ExitCode {
    lvsd::cli::main()
}
