//! Small I/O helpers shared by the checkers: error chains for messages and
//! bounded reads, so a hostile server cannot make a probe buffer without end.

use std::error::Error;
use std::fmt::Write as _;

/// An error and its sources on one line ("a: b: c"), for Down reasons.
pub(crate) fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        // Some crates repeat their source in their own message.
        if !text.contains(&next) {
            let _ = write!(text, ": {next}");
        }
        source = e.source();
    }
    text
}
