//! Golden cases: the built binary on `tests/golden/<case>/args.json`, output compared with `result.json`, no listed secret anywhere.

use std::path::Path;

#[test]
fn golden_cases() {
    matrixha_module::golden::run_cases(
        env!("CARGO_BIN_EXE_patroni_cluster"),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")),
    );
}
