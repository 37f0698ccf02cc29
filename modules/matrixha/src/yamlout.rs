//! YAML written for people: comments next to the values they explain.

use serde_yaml::Value;

#[derive(Debug, Default)]
pub struct Doc {
    lines: Vec<String>,
}

fn scalar(v: &Value) -> String {
    serde_yaml::to_string(v)
        .unwrap_or_default()
        .trim_end_matches('\n')
        .to_owned()
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Mapping(m) => !m.is_empty(),
        Value::Sequence(s) => !s.is_empty(),
        _ => false,
    }
}

/// Block lines of a non-empty mapping or sequence, every level indented by two
/// spaces (sequences too, as yamllint's default `indent-sequences` expects).
fn block(v: &Value, indent: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    match v {
        Value::Mapping(m) => {
            for (k, x) in m {
                let k = scalar(k);
                if is_block(x) {
                    out.push(format!("{pad}{k}:"));
                    out.extend(block(x, indent + 2));
                } else {
                    out.push(format!("{pad}{k}: {}", scalar(x)));
                }
            }
        }
        Value::Sequence(s) => {
            for x in s {
                if is_block(x) {
                    let inner = block(x, indent + 2);
                    let mut first = true;
                    for l in inner {
                        if first {
                            out.push(format!("{pad}- {}", l.trim_start()));
                            first = false;
                        } else {
                            out.push(l);
                        }
                    }
                } else {
                    out.push(format!("{pad}- {}", scalar(x)));
                }
            }
        }
        _ => out.push(format!("{pad}{}", scalar(v))),
    }
    out
}

/// `key: value`, or `key:` followed by the indented block.
pub fn render_entry(key: &str, value: &Value) -> Vec<String> {
    if !is_block(value) {
        return vec![format!("{key}: {}", scalar(value))];
    }
    let mut out = vec![format!("{key}:")];
    out.extend(block(value, 2));
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
