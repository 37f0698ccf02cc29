//! The one error type of the CLI: what went wrong and what to do about it.

use std::fmt;

#[derive(Debug)]
pub struct CliError {
    pub problem: String,
    pub fix: String,
}

impl CliError {
    pub fn new(problem: impl Into<String>, fix: impl Into<String>) -> CliError {
        CliError {
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fix.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}. Fix: {}", self.problem, self.fix)
        }
    }
}

impl std::error::Error for CliError {}

pub type Result<T> = std::result::Result<T, CliError>;

/// Reads a file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            format!("cannot read {}: {e}", path.display()),
            "check the path and its permissions",
        )
    })
}
