//! The TOML format: everything ldirectord.cf can say, with the same names
//! (`checktimeout`, `quiescent`, ...), typed values and `[[virtual]]` /
//! `[[virtual.real]]` tables. `conf/lvsd.toml` documents every key.
//!
//! - [`read`]: TOML text → [`Config`](super::Config), via the shared drafts.
//! - [`write`]: [`Config`](super::Config) → TOML text (`lvsd convert`).

pub mod read;
mod real;
pub mod write;

use toml::Spanned;

/// Byte offset → 1-based line, by binary search over line starts.
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { starts }
    }

    pub fn at(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    pub fn of<T>(&self, s: &Spanned<T>) -> usize {
        self.at(s.span().start)
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn offsets_to_lines() {
        let l = Lines::new("a\nbc\n\nd");
        assert_eq!(
            [l.at(0), l.at(1), l.at(2), l.at(4), l.at(5), l.at(6)],
            [1, 1, 2, 2, 3, 4]
        );
    }
}
