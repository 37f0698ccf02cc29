//! The `matrixha` command line: plan, check and operate a deployment.

use clap::Parser;
use std::process::ExitCode;

/// Plan, check and operate a high-availability Matrix deployment.
#[derive(Parser, Debug)]
#[command(name = "matrixha", version, about)]
struct Opts {}

fn main() -> ExitCode {
    let _opts = Opts::parse();
    ExitCode::SUCCESS
}
