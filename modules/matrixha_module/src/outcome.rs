//! What a module run produces: an [`Outcome`] (success) or a [`ModuleError`].

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// One before/after pair for Ansible's diff mode.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Diff {
    pub(crate) before: String,
    pub(crate) after: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) before_header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) after_header: Option<String>,
}

/// A successful run.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub(crate) changed: bool,
    pub(crate) msg: Option<String>,
    pub(crate) diffs: Vec<Diff>,
    pub(crate) warnings: Vec<String>,
    pub(crate) facts: Map<String, Value>,
    pub(crate) fields: Map<String, Value>,
}

impl Outcome {
    pub fn changed_if(changed: bool) -> Outcome {
        Outcome {
            changed,
            ..Outcome::default()
        }
    }
    pub fn unchanged() -> Outcome {
        Outcome::changed_if(false)
    }
    pub fn msg(mut self, msg: impl Into<String>) -> Outcome {
        self.msg = Some(msg.into());
        self
    }
    /// A diff of one file or object; `header` names it (a path, `pgbouncer.ini`, `/config`).
    pub fn diff(mut self, header: &str, before: String, after: String) -> Outcome {
        self.diffs.push(Diff {
            before,
            after,
            before_header: Some(format!("{header} (before)")),
            after_header: Some(format!("{header} (after)")),
        });
        self
    }
    pub fn warn(mut self, warning: impl Into<String>) -> Outcome {
        self.warnings.push(warning.into());
        self
    }
    pub fn field(mut self, key: &str, value: impl Serialize) -> Outcome {
        self.fields.insert(key.to_owned(), to_value(value));
        self
    }
    pub fn fact(mut self, key: &str, value: impl Serialize) -> Outcome {
        self.facts.insert(key.to_owned(), to_value(value));
        self
    }
}

fn to_value(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| Value::String(format!("<unserialisable: {e}>")))
}

/// A failure a user can act on: which parameter, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleError {
    pub param: Option<String>,
    pub problem: String,
    pub fix: Option<String>,
}

impl ModuleError {
    pub fn new(problem: impl Into<String>) -> ModuleError {
        ModuleError {
            param: None,
            problem: problem.into(),
            fix: None,
        }
    }
    /// `ModuleError::param("rest_url", "refused the connection", "start patroni.service")`
    pub fn param(
        param: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ModuleError {
        ModuleError {
            param: Some(param.into()),
            problem: problem.into(),
            fix: Some(fix.into()),
        }
    }
    pub fn with_fix(mut self, fix: impl Into<String>) -> ModuleError {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.param {
            write!(f, "{p}: ")?;
        }
        f.write_str(self.problem.trim_end_matches('.'))?;
        if let Some(fix) = &self.fix {
            write!(f, ". Fix: {fix}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModuleError {}

impl From<std::io::Error> for ModuleError {
    fn from(e: std::io::Error) -> ModuleError {
        ModuleError::new(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_names_param_problem_and_fix() {
        let e = ModuleError::param(
            "rest_url",
            "Patroni REST API at http://127.0.0.1:8008 refused the connection.",
            "check that patroni.service runs",
        );
        assert_eq!(
            e.to_string(),
            "rest_url: Patroni REST API at http://127.0.0.1:8008 refused the connection. \
             Fix: check that patroni.service runs"
        );
    }

    #[test]
    fn builder_collects_fields_facts_and_diffs() {
        let o = Outcome::changed_if(true)
            .field("path", "/etc/x")
            .fact("x_port", 5)
            .diff("/etc/x", "a\n".into(), "b\n".into())
            .warn("careful");
        assert!(o.changed);
        assert_eq!(o.fields["path"], "/etc/x");
        assert_eq!(o.facts["x_port"], 5);
        assert_eq!(o.diffs[0].before_header.as_deref(), Some("/etc/x (before)"));
        assert_eq!(o.warnings, vec!["careful"]);
    }
}
