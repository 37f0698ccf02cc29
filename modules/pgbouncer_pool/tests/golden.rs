//! Golden cases: the built binary on tests/golden/<case>/args.json, compared with result.json; no listed secret in stdout.
//!
//! The binary runs with the output scrubber off, so every secret in secrets.txt
//! (given, derived, or found in a file taken over) is absent because the module
//! never printed it. Regenerate results with MATRIXHA_BLESS=1 after an intended change.

use std::path::Path;

#[test]
fn golden_cases() {
    matrixha_module::golden::run_cases(
        env!("CARGO_BIN_EXE_pgbouncer_pool"),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")),
    );
}
