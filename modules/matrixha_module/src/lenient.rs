//! Numbers and booleans as Ansible may send them: `8008` or `"8008"`, `true` or `"yes"`.
//!
//! Binary modules get no controller-side type conversion, and values from INI
//! inventories or `-e key=value` arrive as strings. Every module uses these
//! (`#[serde(deserialize_with = "matrixha_module::lenient::int")]`), so one
//! spelling rule holds everywhere. Messages describe what was found, never the
//! value itself (it may be a secret that landed in the wrong parameter).

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Value;

/// What a value is, without quoting it: "a string of 5 characters".
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(s) => format!("a string of {} characters", s.chars().count()),
        Value::Array(a) => format!("a list of {} items", a.len()),
        Value::Object(m) => format!("a mapping of {} keys", m.len()),
    }
}

fn to_int<T: TryFrom<u64>>(v: &Value) -> Result<T, String> {
    let n = match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| "found a number that is not a whole number of 0 or more".to_owned())?,
        Value::String(s) => s.trim().parse::<u64>().map_err(|_| {
            format!(
                "expected a whole number of 0 or more, found {}",
                describe(v)
            )
        })?,
        other => {
            return Err(format!(
                "expected a whole number, found {}",
                describe(other)
            ))
        }
    };
    T::try_from(n).map_err(|_| "the number is out of range".to_owned())
}

/// Ansible's boolean spellings, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => parse_bool(s).ok_or_else(|| {
            format!(
                "expected a boolean (true/false, yes/no), found {}",
                describe(v)
            )
        }),
        other => Err(format!("expected a boolean, found {}", describe(other))),
    }
}

pub fn int<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    to_int(&Value::deserialize(d)?).map_err(D::Error::custom)
}

pub fn opt_int<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => to_int(&v).map(Some).map_err(D::Error::custom),
    }
}

pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    to_bool(&Value::deserialize(d)?).map_err(D::Error::custom)
}

pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => to_bool(&v).map(Some).map_err(D::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct P {
        #[serde(deserialize_with = "int")]
        port: u16,
        #[serde(default, deserialize_with = "opt_bool")]
        on: Option<bool>,
    }

    #[test]
    fn strings_and_numbers_both_parse() {
        let p: P = serde_json::from_str(r#"{"port":"8008","on":"yes"}"#).unwrap();
        assert_eq!((p.port, p.on), (8008, Some(true)));
        let p: P = serde_json::from_str(r#"{"port":8008,"on":false}"#).unwrap();
        assert_eq!((p.port, p.on), (8008, Some(false)));
    }

    #[test]
    fn errors_describe_the_value_without_quoting_it() {
        let e = serde_json::from_str::<P>(r#"{"port":"hunter2hunter2"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a string of 14 characters"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = serde_json::from_str::<P>(r#"{"port":1,"on":"maybe-secret"}"#)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("maybe-secret"), "{e}");
        let e = serde_json::from_str::<P>(r#"{"port":99999}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range") && !e.contains("99999"), "{e}");
    }
}
