//! Golden cases for module binaries: `args.json` in, `result.json` out, listed secrets nowhere.
//!
//! Each module crate calls [`run_cases`] from `tests/golden.rs` with its built
//! binary. The binary runs with the output scrubber switched off
//! (`MATRIXHA_TEST_NO_SCRUB=1`), so a secret that is absent is absent because the
//! module never printed it, not because the safety net caught it.

use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Command;

/// In `args.json` (and files copied from `files/`), replaced by the case's temp dir.
pub const TMPDIR_TOKEN: &str = "@TMPDIR@";

/// Runs every case under `dir`; panics with every failing case's story.
///
/// A case is a folder with `args.json`, `result.json` (written when
/// `MATRIXHA_BLESS=1`), optionally `files/` (copied into the temp dir first) and
/// `secrets.txt` (one literal secret per line, derived ones included, none of
/// which may appear in the binary's output).
pub fn run_cases(bin: &str, dir: &Path) {
    let bless = std::env::var_os("MATRIXHA_BLESS").is_some_and(|v| v == "1");
    let mut cases: Vec<_> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) => panic!("golden cases: cannot read {}: {e}", dir.display()),
    };
    cases.sort();
    assert!(
        !cases.is_empty(),
        "golden cases: none under {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = run_case(bin, case, bless) {
            failures.push(format!("{}: {why}", case.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "golden cases failed:\n{}",
        failures.join("\n\n")
    );
}

fn run_case(bin: &str, case: &Path, bless: bool) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let tmp_path = tmp.path().to_string_lossy().into_owned();
    let files = case.join("files");
    if files.is_dir() {
        copy_tree(&files, tmp.path(), &tmp_path)?;
    }
    let args = fs::read_to_string(case.join("args.json")).map_err(|e| format!("args.json: {e}"))?;
    let args_path = tmp.path().join("args.json");
    fs::write(&args_path, args.replace(TMPDIR_TOKEN, &tmp_path))
        .map_err(|e| format!("writing args: {e}"))?;
    let out = Command::new(bin)
        .arg(&args_path)
        .env("MATRIXHA_TEST_NO_SCRUB", "1")
        .output()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&tmp_path, TMPDIR_TOKEN);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Ok(secrets) = fs::read_to_string(case.join("secrets.txt")) {
        for s in secrets.lines().map(str::trim).filter(|s| !s.is_empty()) {
            if stdout.contains(s) || stderr.contains(s) {
                return Err(format!(
                    "a secret listed in secrets.txt (line of {} characters) is in the output:\n{stdout}",
                    s.len()
                ));
            }
        }
    }
    let got: Value = serde_json::from_str(stdout.trim()).map_err(|e| {
        format!("stdout is not one JSON object ({e}):\n{stdout}\nstderr:\n{stderr}")
    })?;
    let expected_path = case.join("result.json");
    if bless {
        let text = serde_json::to_string_pretty(&got).map_err(|e| e.to_string())?;
        return fs::write(&expected_path, text + "\n").map_err(|e| format!("result.json: {e}"));
    }
    let expected: Value = fs::read_to_string(&expected_path)
        .map_err(|e| format!("result.json: {e} (MATRIXHA_BLESS=1 writes it)"))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("result.json: {e}")))?;
    if got != expected {
        let pretty = serde_json::to_string_pretty(&got).unwrap_or_default();
        return Err(format!(
            "result differs from result.json (MATRIXHA_BLESS=1 rewrites it when intended); got:\n{pretty}"
        ));
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, tmp_path: &str) -> Result<(), String> {
    let entries = fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            fs::create_dir_all(&dst).map_err(|e| e.to_string())?;
            copy_tree(&src, &dst, tmp_path)?;
        } else {
            let bytes = fs::read(&src).map_err(|e| format!("{}: {e}", src.display()))?;
            let bytes = match String::from_utf8(bytes) {
                Ok(text) => text.replace(TMPDIR_TOKEN, tmp_path).into_bytes(),
                Err(raw) => raw.into_bytes(),
            };
            fs::write(&dst, bytes).map_err(|e| format!("{}: {e}", dst.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in "binary" that prints its args file back: enough to test the runner itself.
    fn echo_bin(dir: &Path) -> String {
        let bin = dir.join("echo-module");
        fs::write(&bin, "#!/bin/sh\ncat \"$1\"\n").unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        bin.to_string_lossy().into_owned()
    }

    #[test]
    fn a_listed_secret_in_the_output_fails_the_case() {
        let t = tempfile::tempdir().unwrap();
        let bin = echo_bin(t.path());
        let case = t.path().join("leak");
        fs::create_dir_all(&case).unwrap();
        fs::write(
            case.join("args.json"),
            r#"{"msg":"password is zz-top-secret-zz"}"#,
        )
        .unwrap();
        fs::write(case.join("secrets.txt"), "zz-top-secret-zz\n").unwrap();
        let err = run_case(&bin, &case, true).unwrap_err();
        assert!(err.contains("secrets.txt"), "{err}");
    }

    #[test]
    fn results_are_compared_with_the_temp_dir_normalised() {
        let t = tempfile::tempdir().unwrap();
        let bin = echo_bin(t.path());
        let case = t.path().join("ok");
        fs::create_dir_all(case.join("files")).unwrap();
        fs::write(case.join("files/x.conf"), "a\n").unwrap();
        fs::write(case.join("args.json"), r#"{"path":"@TMPDIR@/x.conf"}"#).unwrap();
        run_case(&bin, &case, true).unwrap();
        assert!(fs::read_to_string(case.join("result.json"))
            .unwrap()
            .contains("@TMPDIR@/x.conf"));
        run_case(&bin, &case, false).unwrap();
        fs::write(case.join("result.json"), r#"{"path":"other"}"#).unwrap();
        assert!(run_case(&bin, &case, false)
            .unwrap_err()
            .contains("differs"));
    }
}
