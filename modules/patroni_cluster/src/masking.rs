//! Secrets in a `patroni.yml`, found by Patroni's configuration schema (not by a key named `password`), masked for diffs.

use crate::render;
use matrixha_module::textdiff::{MASKED, WILL_CHANGE};
use serde_yaml::Value;

/// Where Patroni's configuration holds secrets (`*` = any key). From Patroni's
/// YAML settings (docs/yaml_configuration.rst) and its config loader
/// (patroni/config.py: `_AUTH_ALLOWED_PARAMETERS`, the `restapi`/`ctl`/`raft`
/// sections, the DCS `PASSWORD`/`KEY_PASSWORD`/`TOKEN` settings, bootstrap users).
pub const SECRET_PATHS: &[&[&str]] = &[
    &["restapi", "authentication", "password"],
    &["restapi", "keyfile_password"],
    &["ctl", "authentication", "password"],
    &["ctl", "keyfile_password"],
    &["postgresql", "authentication", "*", "password"],
    &["postgresql", "authentication", "*", "sslpassword"],
    &["bootstrap", "users", "*", "password"],
    &["etcd", "password"],
    &["etcd", "key_password"],
    &["etcd3", "password"],
    &["etcd3", "key_password"],
    &["consul", "token"],
    &["consul", "key_password"],
    &["zookeeper", "key_password"],
    &["zookeeper", "auth_data"],
    &["kubernetes", "key_password"],
    &["raft", "password"],
];

/// Every concrete secret location in `doc`, with its value.
fn secrets(doc: &Value) -> Vec<(Vec<String>, Value)> {
    fn walk(
        v: &Value,
        pattern: &[&str],
        at: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, Value)>,
    ) {
        let Some((first, rest)) = pattern.split_first() else {
            out.push((at.clone(), v.clone()));
            return;
        };
        let Value::Mapping(m) = v else { return };
        for (k, child) in m {
            let Some(k) = k.as_str() else { continue };
            if *first == "*" || *first == k {
                at.push(k.to_owned());
                walk(child, rest, at, out);
                at.pop();
            }
        }
    }
    let mut out = Vec::new();
    for pattern in SECRET_PATHS {
        walk(doc, pattern, &mut Vec::new(), &mut out);
    }
    out
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, k| v.get(k.as_str()))
}

fn set(doc: &mut Value, path: &[String], value: Value) {
    let mut v = doc;
    for k in path {
        match v.get_mut(k.as_str()) {
            Some(child) => v = child,
            None => return,
        }
    }
    *v = value;
}

/// `doc` with every secret replaced by `********`; one that differs from the
/// same location in `reference` reads `******** (will change)`.
pub fn masked(doc: &Value, reference: Option<&Value>) -> Value {
    let mut out = doc.clone();
    for (path, value) in secrets(doc) {
        let changes = reference
            .and_then(|r| get(r, &path))
            .is_some_and(|old| *old != value);
        let shown = if changes {
            format!("{MASKED}{WILL_CHANGE}")
        } else {
            MASKED.to_owned()
        };
        set(&mut out, &path, Value::String(shown));
    }
    out
}

/// The diff texts for taking over `before` (the file on disk, if any) with `want`.
/// Neither carries a secret; a change that only touches secrets still shows.
pub fn diff_texts(before: Option<&str>, want: &Value) -> (String, String) {
    let old: Option<Value> = before.and_then(|t| serde_yaml::from_str(t).ok());
    let before_text = match (before, &old) {
        (None, _) => String::new(),
        (Some(text), _) if text.trim().is_empty() => text.to_owned(),
        (Some(text), Some(doc @ Value::Mapping(_))) => {
            // The first comment line (our header, or the previous owner's) is kept;
            // the rest is shown as parsed, so comments that might quote a secret are not.
            let header = text
                .lines()
                .next()
                .filter(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .unwrap_or_default();
            format!(
                "{header}{}",
                serde_yaml::to_string(&masked(doc, None)).unwrap_or_default()
            )
        }
        (Some(_), _) => {
            "(previous file is not a YAML mapping; not shown, it may hold secrets)\n".into()
        }
    };
    let mut after_text = render::text(&masked(want, old.as_ref()));
    if before_text == after_text {
        // Same masked text, different file: a secret moved or the file differs in
        // ways the parsed view hides (comments, quoting). Say so rather than show no change.
        after_text.push_str("# a secret value (will change)\n");
    }
    (before_text, after_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "# hand-written\nscope: s\nrestapi:\n  keyfile_password: keyfile-pw-123\n  authentication:\n    username: patroni\n    password: api-pw-old-123\nctl:\n  authentication:\n    password: ctl-pw-123\netcd3:\n  hosts: [a:2379]\n  password: etcd-pw-123\n  key_password: etcd-key-pw-123\nbootstrap:\n  users:\n    admin:\n      password: boot-user-pw-123\n      options: [createrole]\npostgresql:\n  authentication:\n    superuser:\n      username: postgres\n      password: su-pw-old-123\n      sslpassword: sslkey-pw-123\n  parameters:\n    password_encryption: scram-sha-256\n";
    const OLD_SECRETS: &[&str] = &[
        "keyfile-pw-123",
        "api-pw-old-123",
        "ctl-pw-123",
        "etcd-pw-123",
        "etcd-key-pw-123",
        "boot-user-pw-123",
        "su-pw-old-123",
        "sslkey-pw-123",
    ];

    fn doc(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    /// Secrets are found where Patroni keeps them, whatever their key is called;
    /// a non-secret key with "password" in its name stays readable.
    #[test]
    fn before_text_masks_every_secret_by_schema() {
        let want = doc("scope: s\n");
        let (before, _) = diff_texts(Some(OLD), &want);
        for s in OLD_SECRETS {
            assert!(!before.contains(s), "{s} leaked:\n{before}");
        }
        assert!(before.starts_with("# hand-written\n"), "{before}");
        assert!(
            before.contains("password_encryption: scram-sha-256"),
            "{before}"
        );
        assert!(before.contains("username: patroni"), "{before}");
        assert_eq!(
            before.matches(MASKED).count(),
            OLD_SECRETS.len(),
            "{before}"
        );
    }

    #[test]
    fn a_secret_only_change_says_will_change() {
        let before = render::text(&doc(
            "restapi:\n  authentication:\n    username: patroni\n    password: old-pw-0123\n",
        ));
        let want =
            doc("restapi:\n  authentication:\n    username: patroni\n    password: new-pw-0123\n");
        let (b, a) = diff_texts(Some(&before), &want);
        assert_ne!(b, a, "a changed secret must not look unchanged");
        assert!(a.contains("password: '******** (will change)'"), "{a}");
        assert!(b.contains("password: '********'"), "{b}");
        assert!(!a.contains("new-pw-0123") && !b.contains("old-pw-0123"));
        // Unchanged secret next to another change: masked, no marker.
        let want = doc("scope: s\nrestapi:\n  authentication:\n    username: patroni\n    password: old-pw-0123\n");
        let (_, a) = diff_texts(Some(&before), &want);
        assert!(!a.contains("will change"), "{a}");
        assert!(a.contains("password: '********'"), "{a}");
    }

    #[test]
    fn an_unparsable_file_is_not_shown() {
        let (b, _) = diff_texts(
            Some("password: [unclosed secret-pw-1\n"),
            &doc("scope: s\n"),
        );
        assert!(!b.contains("secret-pw-1"), "{b}");
        let (b, _) = diff_texts(Some("just-a-secret-string-pw\n"), &doc("scope: s\n"));
        assert!(!b.contains("just-a-secret"), "{b}");
        let (b, a) = diff_texts(Some("\n"), &doc("scope: s\n"));
        assert_eq!(b, "\n");
        assert!(a.contains("scope: s"), "{a}");
    }
}
