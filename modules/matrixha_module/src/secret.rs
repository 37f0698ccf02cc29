//! A secret is a type: it cannot be printed, serialises masked, and is scrubbed from all output.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::cell::Cell;
use std::fmt;
use std::sync::Mutex;

/// The placeholder Ansible itself uses for `no_log` values.
pub(crate) const MASK: &str = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER";

/// Every secret this process has read, so the runner can scrub them from any
/// string in the result (an error message from a server may quote one).
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        remember(&value);
        Secret(value)
    }
    /// The clear value. Reviewers grep for `expose()`: each call is a place a secret leaves.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn remember(value: &str) {
    if let Ok(mut seen) = SEEN.lock() {
        if !value.is_empty() && !seen.iter().any(|s| s == value) {
            seen.push(value.to_owned());
        }
    }
}

thread_local! {
    /// Set by tests that must see what a module would print without the scrubber.
    /// Per thread, so one test switching it off leaves the others' safety net on.
    static SCRUBBER_OFF: Cell<bool> = const { Cell::new(false) };
}

/// Switches the output scrubber off for the calling thread, so a test that asserts
/// "the secret is absent" checks the module's own masking, not the safety net.
#[doc(hidden)]
pub fn disable_scrubber_for_tests() {
    SCRUBBER_OFF.with(|off| off.set(true));
}

/// `MATRIXHA_TEST_NO_SCRUB=1` does the same for a module binary, in debug
/// builds only (what `cargo test` runs); release binaries always scrub.
fn scrubber_off() -> bool {
    SCRUBBER_OFF.with(Cell::get)
        || (cfg!(debug_assertions)
            && std::env::var_os("MATRIXHA_TEST_NO_SCRUB").is_some_and(|v| v == "1"))
}

/// Replaces every remembered secret in `text` with `********`.
pub(crate) fn scrub(text: &str) -> String {
    if scrubber_off() {
        return text.to_owned();
    }
    let seen = match SEEN.lock() {
        Ok(seen) => seen.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let mut out = text.to_owned();
    // Longest first, so a secret that contains another is replaced whole.
    let mut seen = seen;
    seen.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in seen.iter().filter(|s| s.len() >= 3) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "********");
        }
    }
    out
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(MASK)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

/// serde's default error for a wrong type quotes the value ("invalid type:
/// integer `123`"); for a secret that would leak it, so every branch here
/// reports the kind only.
struct SecretVisitor;

impl SecretVisitor {
    fn wrong<E: de::Error>(kind: &str) -> E {
        E::custom(format!(
            "invalid type: {kind} (value hidden), expected a string; quote the value in YAML"
        ))
    }
}

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(Self::wrong("boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(Self::wrong("integer"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(Self::wrong("integer"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(Self::wrong("number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Secret, E> {
        Err(Self::wrong("null"))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Err(Self::wrong("list"))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Err(Self::wrong("mapping"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_hide_the_value() {
        let s = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{MASK}\""));
        assert_eq!(s.expose(), "hunter2-hunter2");
    }

    #[test]
    fn scrub_removes_remembered_values_anywhere() {
        if scrubber_off() {
            return; // MATRIXHA_TEST_NO_SCRUB=1 in the environment
        }
        let _ = Secret::new("s3cr3t-value-xyz");
        let out = scrub("FATAL: password \"s3cr3t-value-xyz\" rejected");
        assert_eq!(out, "FATAL: password \"********\" rejected");
    }
}
