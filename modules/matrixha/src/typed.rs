//! Inventory values read as the modules' own types, through their deserializer: a wrong type is described, never quoted.

use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;
    use matrixha_module::Secret;

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
