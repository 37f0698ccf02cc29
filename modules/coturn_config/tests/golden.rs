//! Golden cases: the built binary on `tests/golden/<case>/args.json`, scrubber off, compared with `result.json`; no line of `secrets.txt` may appear.

use std::path::Path;

#[test]
fn golden_cases_match_and_leak_no_secret() {
    matrixha_module::golden::run_cases(
        env!("CARGO_BIN_EXE_coturn_config"),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")),
    );
}
