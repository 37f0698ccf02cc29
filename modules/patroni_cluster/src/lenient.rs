//! Numbers and booleans as Ansible may send them: `8008` or `"8008"`, `true` or `"yes"`.
//!
//! Binary modules get no controller-side type conversion, and values from INI
//! inventories or `-e key=value` arrive as strings.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Value;

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn to_int<T: TryFrom<u64>>(v: &Value) -> Result<T, String> {
    let n = match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a whole number of 0 or more"))?,
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("'{s}' is not a whole number of 0 or more"))?,
        other => return Err(format!("expected a whole number, got {}", kind(other))),
    };
    T::try_from(n).map_err(|_| format!("{n} is out of range"))
}

fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(format!("'{s}' is not a boolean (true/false)")),
        },
        other => Err(format!("expected a boolean, got {}", kind(other))),
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

/// A boolean in any of Ansible's spellings, else the string itself (`quorum`).
pub fn bool_or_word(v: &str) -> Option<bool> {
    to_bool(&Value::String(v.to_owned())).ok()
}
