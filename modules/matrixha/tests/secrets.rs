//! `matrixha secrets` never puts the clear-text vault on disk, in a process argument or on its output.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn real_ansible_vault() -> PathBuf {
    let p = repo().join(".venv/bin/ansible-vault");
    assert!(p.is_file(), "{} missing: run scripts/venv.sh", p.display());
    p
}

/// Every regular file under `dir` (recursively), with its content.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

/// An `ansible-vault` stand-in that records, at the moment it is called, every file in
/// the target's directory and in TMPDIR (where a clear-text copy would have to be for the
/// real one to encrypt it), and its own arguments; then runs the real ansible-vault.
fn spy(dir: &Path, watch: &[&Path]) -> (PathBuf, PathBuf) {
    let log = dir.join("spy.log");
    let script = dir.join("ansible-vault");
    let mut body = String::from("#!/bin/sh\n");
    body.push_str(&format!(
        "printf 'argv: %s\\n' \"$*\" >> '{}'\n",
        log.display()
    ));
    for w in watch {
        body.push_str(&format!(
            "find '{}' -type f -exec sh -c 'echo \"== $1\"; cat \"$1\"' _ {{}} \\; >> '{}'\n",
            w.display(),
            log.display()
        ));
    }
    body.push_str(&format!(
        "exec '{}' \"$@\"\n",
        real_ansible_vault().display()
    ));
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

#[test]
fn secrets_reach_ansible_vault_on_stdin_and_no_clear_text_file_ever_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let spy_dir = tmp.path().join("spy");
    let out_dir = tmp.path().join("inv/group_vars/all");
    let tmpdir = tmp.path().join("tmpdir");
    for d in [&spy_dir, &out_dir, &tmpdir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let pw = spy_dir.join("pw");
    std::fs::write(&pw, "correct horse battery staple\n").unwrap();
    let (vault, log) = spy(&spy_dir, &[&out_dir, &tmpdir]);
    let out = out_dir.join("vault.yml");
    let o = Command::new(env!("CARGO_BIN_EXE_matrixha"))
        .args(["secrets", "--out"])
        .arg(&out)
        .arg("--vault-password-file")
        .arg(&pw)
        .arg("--ansible-vault")
        .arg(&vault)
        .env("TMPDIR", &tmpdir)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{printed}");

    let raw = std::fs::read_to_string(&out).unwrap();
    assert!(raw.starts_with("$ANSIBLE_VAULT;1.1;AES256"), "{raw}");
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let clear = Command::new(real_ansible_vault())
        .arg("view")
        .arg("--vault-password-file")
        .arg(&pw)
        .arg(&out)
        .output()
        .unwrap();
    assert!(clear.status.success());
    let m: serde_yaml::Mapping = serde_yaml::from_slice(&clear.stdout).unwrap();
    let values: BTreeSet<String> = m.values().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(values.len(), matrixha::secrets::SECRETS.len());

    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(
        seen.contains("argv: encrypt"),
        "the spy was not called: {seen}"
    );
    for v in &values {
        assert!(
            !seen.contains(v.as_str()),
            "a secret was on disk (or in ansible-vault's arguments) while ansible-vault ran:\n{seen}"
        );
        assert!(!printed.contains(v.as_str()), "a secret was printed");
    }
    // Afterwards: the vault file alone, nothing in TMPDIR.
    let left: Vec<PathBuf> = files(&out_dir).into_iter().map(|(p, _)| p).collect();
    assert_eq!(left, vec![out.clone()]);
    assert!(files(&tmpdir).is_empty(), "{:?}", files(&tmpdir));
}

#[test]
fn a_failing_ansible_vault_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("vault.yml");
    // A password file that does not exist: ansible-vault refuses.
    let o = Command::new(env!("CARGO_BIN_EXE_matrixha"))
        .args(["secrets", "--out"])
        .arg(&out)
        .arg("--vault-password-file")
        .arg(tmp.path().join("missing-pw"))
        .arg("--ansible-vault")
        .arg(real_ansible_vault())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(files(tmp.path()).is_empty(), "{:?}", files(tmp.path()));
}
