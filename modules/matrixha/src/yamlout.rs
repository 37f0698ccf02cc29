//! YAML written for people: comments next to the values they explain.

use serde_yaml::Value;

#[derive(Debug, Default)]
pub struct Doc {
    lines: Vec<String>,
}

/// One scalar or block value rendered by serde_yaml, indented under its key.
pub fn render_entry(key: &str, value: &Value) -> Vec<String> {
    let text = serde_yaml::to_string(value).unwrap_or_default();
    let text = text.trim_end_matches('\n');
    let block = match value {
        Value::Mapping(m) => !m.is_empty(),
        Value::Sequence(s) => !s.is_empty(),
        _ => false,
    };
    if !block && !text.contains('\n') {
        return vec![format!("{key}: {text}")];
    }
    let mut out = vec![format!("{key}:")];
    out.extend(text.lines().map(|l| format!("  {l}")));
    out
}

impl Doc {
    pub fn new(header: &[&str]) -> Doc {
        let mut d = Doc {
            lines: vec!["---".into()],
        };
        for h in header {
            d.comment(h);
        }
        d
    }

    pub fn comment(&mut self, text: &str) -> &mut Doc {
        for l in text.lines() {
            if l.is_empty() {
                self.lines.push("#".into());
            } else {
                self.lines.push(format!("# {l}"));
            }
        }
        self
    }

    pub fn blank(&mut self) -> &mut Doc {
        self.lines.push(String::new());
        self
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Doc {
        let v: Value = value.into();
        self.lines.extend(render_entry(key, &v));
        self
    }

    /// A value with its explanation on the line above.
    pub fn set_c(&mut self, comment: &str, key: &str, value: impl Into<Value>) -> &mut Doc {
        self.comment(comment);
        self.set(key, value)
    }

    pub fn raw(&mut self, line: &str) -> &mut Doc {
        self.lines.push(line.to_owned());
        self
    }

    pub fn render(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

pub fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
    Value::Sequence(items.into_iter().map(|s| Value::String(s.into())).collect())
}

pub fn map<I: IntoIterator<Item = (K, Value)>, K: Into<String>>(items: I) -> Value {
    let mut m = serde_yaml::Mapping::new();
    for (k, v) in items {
        m.insert(Value::String(k.into()), v);
    }
    Value::Mapping(m)
}

/// A reference to a vault variable, as Ansible reads it.
pub fn vault_ref(name: &str) -> Value {
    Value::String(format!("{{{{ {name} }}}}"))
}
