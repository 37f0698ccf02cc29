//! Reading the JSON args file Ansible hands a binary module, into typed parameters.

use crate::de::{ParamError, ValueDe};
use crate::ModuleError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// What Ansible says about the task itself (the `_ansible_*` keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ctx {
    pub check_mode: bool,
    pub diff: bool,
    pub(crate) no_log: bool,
    pub verbosity: u8,
    pub(crate) module_name: Option<String>,
    /// `_ansible_tmpdir`: a directory Ansible removes after the task.
    pub(crate) tmpdir: Option<String>,
}

impl Ctx {
    fn take(map: &mut Map<String, Value>) -> Result<Ctx, ModuleError> {
        let mut ctx = Ctx::default();
        let internal: Vec<String> = map
            .keys()
            .filter(|k| k.starts_with("_ansible_"))
            .cloned()
            .collect();
        for key in internal {
            let value = map.remove(&key).unwrap_or(Value::Null);
            match key.as_str() {
                "_ansible_check_mode" => ctx.check_mode = flag(&key, &value)?,
                "_ansible_diff" => ctx.diff = flag(&key, &value)?,
                "_ansible_no_log" => ctx.no_log = flag(&key, &value)?,
                "_ansible_verbosity" => {
                    ctx.verbosity = value
                        .as_u64()
                        .map(|v| v.min(u8::MAX as u64) as u8)
                        .unwrap_or(0)
                }
                "_ansible_module_name" => ctx.module_name = value.as_str().map(str::to_owned),
                "_ansible_tmpdir" => ctx.tmpdir = value.as_str().map(str::to_owned),
                // Other internal keys (_ansible_version, _ansible_debug, …) change nothing here.
                _ => {}
            }
        }
        Ok(ctx)
    }
}

fn flag(key: &str, value: &Value) -> Result<bool, ModuleError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        // Ansible always sends booleans; accept its string forms to be safe.
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(true),
            "false" | "no" | "0" | "off" | "" => Ok(false),
            _ => Err(ModuleError::param(
                key,
                "is not a boolean",
                "this key is set by Ansible; do not pass it by hand",
            )),
        },
        _ => Err(ModuleError::param(
            key,
            "is not a boolean",
            "this key is set by Ansible; do not pass it by hand",
        )),
    }
}

/// Parses the args file's text: `_ansible_*` keys into [`Ctx`], the rest into `P`.
///
/// Errors name the parameter: `port: invalid type: string "x", expected u16`.
pub fn parse_args<P: DeserializeOwned>(text: &str) -> Result<(Ctx, P), ModuleError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ModuleError::new(format!("the arguments file is not valid JSON ({e})"))
            .with_fix("run the module through Ansible, which writes this file")
    })?;
    let Value::Object(mut map) = value else {
        return Err(
            ModuleError::new("the arguments file does not hold a JSON object")
                .with_fix("run the module through Ansible, which writes this file"),
        );
    };
    let ctx = Ctx::take(&mut map)?;
    // Ansible passes parameters the task left out as absent; a literal `null`
    // means the same thing to a user (`port: "{{ omit }}"` aside), so drop it
    // and let serde apply the default or report the parameter as missing.
    map.retain(|_, v| !v.is_null());
    let params = from_value(Value::Object(map))?;
    Ok((ctx, params))
}

/// Typed parameters from a JSON value, with the same messages as a module's
/// arguments: the parameter's path, what is wrong, and never the input value.
///
/// For the CLI (inventory values) and for hand-written `Deserialize` impls that
/// dispatch on a tag such as `action`: an internally tagged serde enum buffers
/// its content and loses the path, so such an impl reads the tag itself and
/// calls this on the rest; its error text (already `name: problem`) passes
/// through `parse_args` unchanged.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ModuleError> {
    serde_path_to_error::deserialize(ValueDe(value)).map_err(param_error)
}

fn param_error(err: serde_path_to_error::Error<ParamError>) -> ModuleError {
    let path = err.path().to_string();
    let inner = err.into_inner().0;
    if path.is_empty() || path == "." {
        if names_a_parameter(&inner) {
            ModuleError::new(inner)
        } else {
            // Top-level problems name the field themselves: "missing field `realm`",
            // "unknown field `prot`, expected one of …".
            ModuleError::new(format!("parameters: {inner}"))
        }
    } else {
        ModuleError::new(format!("{path}: {inner}"))
    }
}

/// `port: …` or `users[0].password: …`: a message from a nested [`from_value`].
fn names_a_parameter(msg: &str) -> bool {
    let Some((head, _)) = msg.split_once(": ") else {
        return false;
    };
    !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct P {
        name: String,
        #[serde(default = "default_port")]
        port: u16,
        #[serde(default)]
        mode: Mode,
        #[serde(default)]
        password: Option<Secret>,
    }
    fn default_port() -> u16 {
        3478
    }
    #[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        #[default]
        Session,
        Transaction,
    }

    #[test]
    fn parses_params_and_internal_keys() {
        let (ctx, p): (Ctx, P) = parse_args(
            r#"{"name":"a","_ansible_check_mode":true,"_ansible_diff":true,
                "_ansible_verbosity":3,"_ansible_module_name":"matrixha.stack.x",
                "_ansible_no_log":false,"_ansible_version":"2.19.0",
                "_ansible_selinux_special_fs":["nfs"],"_ansible_remote_tmp":"~/.ansible/tmp"}"#,
        )
        .unwrap();
        assert_eq!(p.name, "a");
        assert_eq!(p.port, 3478);
        assert!(ctx.check_mode && ctx.diff && !ctx.no_log);
        assert_eq!(ctx.verbosity, 3);
        assert_eq!(ctx.module_name.as_deref(), Some("matrixha.stack.x"));
    }

    #[test]
    fn unknown_internal_keys_are_ignored_but_unknown_params_are_not() {
        assert!(parse_args::<P>(r#"{"name":"a","_ansible_future_thing":{"x":1}}"#).is_ok());
        let err = parse_args::<P>(r#"{"name":"a","prot":1}"#).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown field `prot`"), "{msg}");
        assert!(msg.contains("`port`"), "lists valid names: {msg}");
    }

    #[test]
    fn bad_type_names_the_parameter_and_expected_type() {
        let msg = parse_args::<P>(r#"{"name":"a","port":"http"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("port: invalid type: a string of 4 characters, expected u16"),
            "{msg}"
        );
        assert!(!msg.contains("http"), "{msg}");
        assert!(!msg.contains("line 1"), "{msg}");
        let msg = parse_args::<P>(r#"{"name":"a","port":70000}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("port: invalid value: an integer"), "{msg}");
        assert!(!msg.contains("70000"), "{msg}");
    }

    #[test]
    fn bad_choice_lists_the_choices() {
        let msg = parse_args::<P>(r#"{"name":"a","mode":"statement"}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("mode: unknown choice"), "{msg}");
        assert!(!msg.contains("statement"), "the input is not quoted: {msg}");
        assert!(
            msg.contains("`session`") && msg.contains("`transaction`"),
            "{msg}"
        );
    }

    #[test]
    fn missing_required_parameter_is_named() {
        let msg = parse_args::<P>(r#"{"port":1}"#).unwrap_err().to_string();
        assert!(msg.contains("missing field `name`"), "{msg}");
    }

    #[test]
    fn null_means_absent() {
        let (_, p): (Ctx, P) = parse_args(r#"{"name":"a","port":null}"#).unwrap();
        assert_eq!(p.port, 3478);
    }

    #[test]
    fn non_object_and_broken_json_fail_readably() {
        assert!(parse_args::<P>("[1]")
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        assert!(parse_args::<P>("{")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Pool {
        users: Vec<User>,
        #[serde(default)]
        admin: Option<User>,
    }
    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct User {
        name: String,
        password: Secret,
    }

    /// On main before this crate had its own deserializer, this answered
    /// `users: invalid type: string "[{\"name\":\"synapse\",\"password\":…`.
    #[test]
    fn a_list_rendered_as_text_is_described_not_quoted() {
        crate::disable_scrubber_for_tests();
        let pw = "Zq8vJ2pLw0xN4rT6yB1cD3eF5gH7";
        let text =
            serde_json::to_string(&format!(r#"[{{"name":"synapse","password":"{pw}"}}]"#)).unwrap();
        let args = format!(r#"{{"users":{text}}}"#);
        let msg = parse_args::<Pool>(&args).unwrap_err().to_string();
        assert!(msg.starts_with("users: invalid type: a string of"), "{msg}");
        assert!(msg.contains("expected a sequence"), "{msg}");
        assert!(!msg.contains(pw) && !msg.contains("synapse"), "{msg}");
        let args = format!(r#"{{"users":[],"admin":{text}}}"#);
        let msg = parse_args::<Pool>(&args).unwrap_err().to_string();
        assert!(msg.starts_with("admin: invalid type"), "{msg}");
        assert!(!msg.contains(pw), "{msg}");
    }

    #[test]
    fn nested_errors_name_the_path() {
        let msg = parse_args::<Pool>(r#"{"users":[{"name":"a","password":["x-secret-x"]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("users[0].password: "), "{msg}");
        assert!(!msg.contains("x-secret-x"), "{msg}");
        let msg = parse_args::<Pool>(r#"{"users":[{"name":"a","pasword":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown field `pasword`"), "{msg}");
    }

    #[test]
    fn from_value_messages_pass_through_a_dispatching_impl() {
        // A hand-written Deserialize that reads a tag and calls from_value on the rest.
        #[derive(Debug)]
        struct Tagged(#[allow(dead_code)] P);
        impl<'de> Deserialize<'de> for Tagged {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tagged, D::Error> {
                let v = Value::deserialize(d)?;
                from_value(v)
                    .map(Tagged)
                    .map_err(|e| serde::de::Error::custom(e.to_string()))
            }
        }
        let msg = parse_args::<Tagged>(r#"{"name":"a","port":"http"}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("port: invalid type"), "{msg}");
        let msg = parse_args::<Tagged>(r#"{"port":1}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("parameters: missing field `name`"), "{msg}");
    }

    #[test]
    fn secret_with_wrong_type_does_not_echo_the_value() {
        let msg = parse_args::<P>(r#"{"name":"a","password":918273645}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("password: "), "{msg}");
        assert!(!msg.contains("918273645"), "{msg}");
    }
}
