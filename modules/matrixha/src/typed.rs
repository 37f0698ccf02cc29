//! Inventory values read as the modules' own types, through their deserializer: a wrong type is described, never quoted.

use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// serde_yaml's message without any input it quotes: its syntax errors name a
/// place, but a value it cannot hold is quoted (`invalid type: integer `1234…` as
/// u128`), and that value may be a secret.
pub fn yaml_error(e: &serde_yaml::Error) -> String {
    let at = e
        .location()
        .map(|l| format!(" at line {} column {}", l.line(), l.column()))
        .unwrap_or_default();
    let msg = e.to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    };
    if msg.contains(['`', '"', '\'']) {
        format!("a value YAML cannot represent{at} (a number too large, for one: quote it)")
    } else {
        format!("{msg}{at}")
    }
}

/// A YAML document as JSON, the form the modules' parameters are read from.
pub fn to_json(v: &serde_yaml::Value) -> Result<serde_json::Value, String> {
    // serde_json's own error never holds a value: it fails only on keys that
    // are not scalars ("key must be a string").
    serde_json::to_value(v).map_err(|e| e.to_string())
}

/// The value of inventory variable `name` as a `T`; the error reads
/// `name: invalid type: a number, expected a string`, without the value.
pub fn var<T: DeserializeOwned>(name: &str, v: &serde_yaml::Value) -> Result<T, String> {
    let json = to_json(v).map_err(|e| format!("{name}: {e}"))?;
    let mut one = serde_json::Map::new();
    one.insert(name.to_owned(), json);
    let mut m: BTreeMap<String, T> =
        matrixha_module::from_value(serde_json::Value::Object(one)).map_err(|e| e.to_string())?;
    m.remove(name)
        .ok_or_else(|| format!("{name}: the value could not be read"))
}

/// A whole number as the modules read one (`8008` or `"8008"`), through their one
/// lenient parser (`matrixha_module::lenient::int`).
#[derive(serde::Deserialize)]
pub struct Whole(#[serde(deserialize_with = "matrixha_module::lenient::int")] pub u64);

/// `v` as a whole number, if the modules would read it as one.
pub fn whole(v: &serde_yaml::Value) -> Option<u64> {
    var::<Whole>("value", v).ok().map(|Whole(n)| n)
}

/// [`var`]'s message without the leading `name: `, for a finding that names the variable itself.
pub fn var_problem<T: DeserializeOwned>(name: &str, v: &serde_yaml::Value) -> Result<T, String> {
    var(name, v).map_err(|e| match e.strip_prefix(&format!("{name}: ")) {
        Some(rest) => rest.to_owned(),
        None => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrixha_module::Secret;

    #[test]
    fn a_yaml_value_error_does_not_quote_the_value() {
        let e =
            serde_yaml::from_str::<serde_yaml::Value>("p: 12345678901234567890123456789012345\n")
                .unwrap_err();
        assert!(
            e.to_string().contains("1234567890"),
            "serde_yaml quotes it: {e}"
        );
        let m = yaml_error(&e);
        assert!(!m.contains("1234567890"), "{m}");
        assert!(m.contains("line 1"), "{m}");
        let e = serde_yaml::from_str::<serde_yaml::Value>("a: [\n").unwrap_err();
        assert!(!yaml_error(&e).is_empty());
    }

    #[test]
    fn a_wrong_type_is_described_without_the_value() {
        let v: serde_yaml::Value = serde_yaml::from_str("[Zq8vJ2pLw0xN4rT6yB1cD3eF5gH7]").unwrap();
        let e = var::<Secret>("vault_x_password", &v).unwrap_err();
        assert!(e.starts_with("vault_x_password: invalid type"), "{e}");
        assert!(!e.contains("Zq8v"), "{e}");
        let v: serde_yaml::Value = serde_yaml::from_str("1234567890123456789").unwrap();
        let e = var::<Secret>("p", &v).unwrap_err();
        assert!(!e.contains("1234567890"), "{e}");
        assert_eq!(
            var::<Secret>("p", &serde_yaml::Value::from("ok"))
                .unwrap()
                .expose(),
            "ok"
        );
    }
}
