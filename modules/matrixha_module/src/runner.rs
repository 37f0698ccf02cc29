//! Runs a [`Module`]: args file in, exactly one JSON object out, panics included.

use crate::args::parse_args;
use crate::secret::{scrub, MASK};
use crate::{Ctx, Module, ModuleError, Outcome};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::panic;

/// The entry point of every module binary. Never returns.
///
/// This file holds the only `process::exit` calls of the workspace: library
/// code returns errors; only here do they become an exit status.
pub fn run_module<M: Module>() -> ! {
    panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        emit(&render_panic(M::NAME, &payload, &location));
        // With panic = "abort" the process would abort after this hook; exit
        // with an ordinary failure status instead.
        std::process::exit(1);
    }));

    let result = match std::env::args_os().nth(1) {
        None => failure(
            &ModuleError::new(format!(
                "{} is an Ansible module and expects the path of a JSON arguments file",
                M::NAME
            ))
            .with_fix(format!("call it from a task as matrixha.stack.{}", M::NAME)),
            None,
        ),
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => run_with_args::<M>(&text),
            Err(e) => failure(
                &ModuleError::new(format!(
                    "cannot read the arguments file {}: {e}",
                    path.to_string_lossy()
                )),
                None,
            ),
        },
    };
    let failed = result
        .get("failed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    emit(&result);
    std::process::exit(if failed { 1 } else { 0 });
}

/// Everything `run_module` does except reading argv and exiting: args text in,
/// the (scrubbed) result object out. Tests call this directly.
pub fn run_with_args<M: Module>(text: &str) -> Value {
    let (ctx, params): (Ctx, M::Params) = match parse_args(text) {
        Ok(parsed) => parsed,
        Err(e) => return scrubbed(failure(&e, None)),
    };
    // Serialised before `run` takes ownership; secrets serialise masked.
    let invocation = serde_json::to_value(&params).unwrap_or(Value::Null);
    let result = match M::run(params, &ctx) {
        Ok(outcome) => success(outcome, &ctx, invocation),
        Err(e) => failure(&e, Some(invocation)),
    };
    scrubbed(result)
}

fn success(o: Outcome, ctx: &Ctx, invocation: Value) -> Value {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(o.changed));
    r.insert("failed".into(), Value::Bool(false));
    if let Some(msg) = o.msg {
        r.insert("msg".into(), Value::String(msg));
    }
    // Ansible shows diffs only with --diff; sending them otherwise costs bytes only.
    if ctx.diff && !o.diffs.is_empty() {
        let diffs = serde_json::to_value(&o.diffs).unwrap_or(Value::Null);
        r.insert("diff".into(), diffs);
    }
    if !o.warnings.is_empty() {
        r.insert("warnings".into(), json!(o.warnings));
    }
    if !o.facts.is_empty() {
        r.insert("ansible_facts".into(), Value::Object(o.facts));
    }
    for (k, v) in o.fields {
        // Module fields never override the protocol's own keys.
        r.entry(k).or_insert(v);
    }
    r.insert("invocation".into(), json!({ "module_args": invocation }));
    Value::Object(r)
}

fn failure(e: &ModuleError, invocation: Option<Value>) -> Value {
    let mut r = json!({ "failed": true, "changed": false, "msg": e.to_string() });
    if let Some(param) = &e.param {
        r["param"] = Value::String(param.clone());
    }
    if let Some(inv) = invocation {
        r["invocation"] = json!({ "module_args": inv });
    }
    r
}

/// The result of a panic: a failed task with a readable message, no backtrace.
fn render_panic(module: &str, payload: &str, location: &str) -> Value {
    let at = if location.is_empty() {
        String::new()
    } else {
        format!(" at {location}")
    };
    scrubbed(json!({
        "failed": true,
        "changed": false,
        "msg": format!(
            "internal error in matrixha.stack.{module}: {payload}{at}. \
             This is a bug in the module, not in your task; please report it with the task that triggered it"
        ),
    }))
}

/// Removes every secret the run has seen from every string in the result.
fn scrubbed(v: Value) -> Value {
    match v {
        Value::String(s) if s == MASK => Value::String(s),
        Value::String(s) => Value::String(scrub(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(scrubbed).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, scrubbed(v))).collect()),
        other => other,
    }
}

fn emit(v: &Value) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Params {
        path: String,
        password: Secret,
        #[serde(default)]
        fail: bool,
    }

    struct Demo;
    impl Module for Demo {
        const NAME: &'static str = "demo";
        type Params = Params;
        fn run(p: Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
            if p.fail {
                return Err(ModuleError::param(
                    "path",
                    format!("server said: bad password {}", p.password.expose()),
                    "use the right one",
                ));
            }
            Ok(Outcome::changed_if(!ctx.check_mode)
                .field("path", &p.path)
                .field("echo", p.password.expose())
                .diff(&p.path, "old\n".into(), "new\n".into()))
        }
    }

    const PW: &str = "correct-horse-battery";

    #[test]
    fn success_result_has_protocol_keys_and_masked_invocation() {
        let r = run_with_args::<Demo>(&format!(
            r#"{{"path":"/x","password":"{PW}","_ansible_diff":true}}"#
        ));
        assert_eq!(r["changed"], true);
        assert_eq!(r["failed"], false);
        assert_eq!(r["path"], "/x");
        assert_eq!(r["diff"][0]["after"], "new\n");
        assert_eq!(r["invocation"]["module_args"]["password"], MASK);
        assert!(!r.to_string().contains(PW), "{r}");
    }

    #[test]
    fn check_mode_reaches_the_module() {
        let r = run_with_args::<Demo>(&format!(
            r#"{{"path":"/x","password":"{PW}","_ansible_check_mode":true}}"#
        ));
        assert_eq!(r["changed"], false);
        assert!(r.get("diff").is_none(), "no diff without --diff");
    }

    #[test]
    fn errors_are_failed_results_without_the_secret() {
        let r = run_with_args::<Demo>(&format!(r#"{{"path":"/x","password":"{PW}","fail":true}}"#));
        assert_eq!(r["failed"], true);
        assert_eq!(r["param"], "path");
        let msg = r["msg"].as_str().unwrap();
        assert!(msg.starts_with("path: server said"), "{msg}");
        assert!(msg.contains("Fix: use the right one"), "{msg}");
        assert!(!r.to_string().contains(PW), "{r}");
    }

    #[test]
    fn bad_params_fail_naming_the_parameter() {
        let r = run_with_args::<Demo>(r#"{"path":5,"password":"x"}"#);
        assert_eq!(r["failed"], true);
        assert!(r["msg"].as_str().unwrap().starts_with("path: invalid type"));
    }

    #[test]
    fn panic_renders_as_failed_result() {
        let r = render_panic("demo", "index out of bounds", "src/x.rs:3");
        assert_eq!(r["failed"], true);
        let msg = r["msg"].as_str().unwrap();
        assert!(msg
            .contains("internal error in matrixha.stack.demo: index out of bounds at src/x.rs:3"));
        assert!(!msg.contains("stack backtrace"));
    }
}
