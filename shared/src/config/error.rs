//! Errors found in an isinittab, rendered as `PATH:LINE: message`.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in an isinittab.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file the problem is in.
    pub path: PathBuf,
    /// 1-based line number; `None` when the problem is the whole file
    /// (it cannot be read).
    pub line: Option<usize>,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn at(path: &Path, line: usize, message: impl Into<String>) -> Self {
        ConfigError { path: path.to_owned(), line: Some(line), message: message.into() }
    }

    pub(crate) fn whole_file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError { path: path.to_owned(), line: None, message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Every problem found in one file, in line order. Never empty when returned
/// as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors as `PATH:LINE: message` strings, one per problem; the form
    /// they travel in over the socket.
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
