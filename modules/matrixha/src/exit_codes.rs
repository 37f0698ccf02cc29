//! Process exit codes: 0 only when nothing is wrong.

use std::process::ExitCode as StdExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done; `check` found no error (warnings do not count).
    Success,
    /// `check` found at least one problem in the plan.
    Problems,
    /// The command could not run: bad input, missing file, tool failed.
    Error,
}

impl From<ExitCode> for StdExitCode {
    fn from(c: ExitCode) -> StdExitCode {
        match c {
            ExitCode::Success => StdExitCode::from(0),
            ExitCode::Problems => StdExitCode::from(1),
            ExitCode::Error => StdExitCode::from(2),
        }
    }
}
