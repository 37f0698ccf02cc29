//! A panicking module binary prints one failed JSON object and no backtrace.
//!
//! `harness = false`: this file is its own `main`. Run plainly, it re-executes
//! itself as a module (MATRIXHA_PANIC_CHILD=1) and checks what that printed.

use matrixha_module::{run_module, Ctx, Module, ModuleError, Outcome};
use serde::{Deserialize, Serialize};
use std::process::Command;

#[derive(Deserialize, Serialize)]
struct Params {
    items: Vec<u32>,
}

struct Indexer;
impl Module for Indexer {
    const NAME: &'static str = "indexer";
    type Params = Params;
    fn run(p: Params, _: &Ctx) -> Result<Outcome, ModuleError> {
        // Deliberately indexes past the end when the list is short.
        Ok(Outcome::unchanged().field("third", p.items[2]))
    }
}

fn main() {
    if std::env::var_os("MATRIXHA_PANIC_CHILD").is_some() {
        run_module::<Indexer>();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let args = dir.path().join("args");
    std::fs::write(&args, r#"{"items":[1],"_ansible_check_mode":false}"#).expect("write args");
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .arg(&args)
        .env("MATRIXHA_PANIC_CHILD", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout:?}"));
    assert_eq!(v["failed"], true, "{v}");
    let msg = v["msg"].as_str().expect("msg");
    assert!(
        msg.contains("internal error in matrixha.stack.indexer"),
        "{msg}"
    );
    assert!(msg.contains("index out of bounds"), "{msg}");
    assert!(!stdout.contains("stack backtrace"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "exit status");
    println!("panic_conversion: ok");
}
