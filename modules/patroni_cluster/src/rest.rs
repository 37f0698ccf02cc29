//! Patroni's REST API: JSON GETs, PATCH /config and the POST operations, with errors a user can act on.

use crate::params::Connection;
use matrixha_module::http::{explain, Http, HttpOptions};
use matrixha_module::ModuleError;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

pub struct Api {
    /// GETs and PATCH /config (idempotent): connection errors and 502-504 are retried.
    http: Http,
    /// Operations: sent once; Patroni answers 503 when a switchover failed, and
    /// resending it would start another.
    once: Http,
    opts: HttpOptions,
    once_opts: HttpOptions,
    /// `http(s)://host:port` of the member the task named.
    pub base: String,
    authenticated: bool,
}

/// What an operation endpoint answered: Patroni replies with plain text for
/// operations (`Successfully switched over to "b"`) and JSON for /config.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Api {
    /// A client for the member at `api_url`. `op_timeout`: seconds an operation
    /// (switchover, restart …) may take before Patroni answers.
    pub fn new(p: &Connection, op_timeout: Option<u64>) -> Result<Api, ModuleError> {
        let basic_auth = match (&p.api_username, &p.api_password) {
            (Some(u), Some(pw)) => Some((u.clone(), pw.clone())),
            _ => None,
        };
        let opts = HttpOptions {
            timeout: Duration::from_secs(p.api_timeout),
            connect_timeout: Duration::from_secs(p.api_timeout.min(5)),
            retries: 1,
            backoff: Duration::from_millis(300),
            basic_auth,
            ca_file: p.ca_file.as_ref().map(PathBuf::from),
            verify_tls: p.validate_certs,
        };
        // A switchover or restart can take longer than a GET: Patroni answers when it is done.
        let once_opts = HttpOptions {
            retries: 0,
            timeout: Duration::from_secs(p.api_timeout.max(op_timeout.unwrap_or(0))),
            ..opts.clone()
        };
        Api::build(opts, once_opts, &p.api_url, p.api_username.is_some())
    }

    fn build(
        opts: HttpOptions,
        once_opts: HttpOptions,
        base: &str,
        authenticated: bool,
    ) -> Result<Api, ModuleError> {
        Ok(Api {
            http: Http::new(opts.clone())?,
            once: Http::new(once_opts.clone())?,
            opts,
            once_opts,
            base: base.trim_end_matches('/').to_owned(),
            authenticated,
        })
    }

    /// The same client for another member (`api_url` from `/cluster`).
    pub fn sibling(&self, base: &str) -> Result<Api, ModuleError> {
        Api::build(
            self.opts.clone(),
            self.once_opts.clone(),
            base,
            self.authenticated,
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET returning JSON; health endpoints answer 503 with a JSON body too, so any status with JSON is fine.
    pub fn get(&self, path: &str) -> Result<Value, ModuleError> {
        let url = self.url(path);
        let r = self
            .http
            .send(|c| c.get(&url))
            .map_err(|e| unreachable(&url, &e))?;
        let status = r.status().as_u16();
        let body = r.text().unwrap_or_default();
        serde_json::from_str(&body).map_err(|_| {
            ModuleError::param(
                "api_url",
                format!("{url} answered {status} without JSON ({})", snippet(&body)),
                "point api_url at Patroni's REST API (restapi.listen, port 8008 by default)",
            )
        })
    }

    /// `PATCH /config` with a JSON merge patch; returns the new configuration.
    pub fn patch_config(&self, patch: &Value) -> Result<Value, ModuleError> {
        let url = self.url("/config");
        let r = self
            .http
            .send(|c| c.patch(&url).json(patch))
            .map_err(|e| unreachable(&url, &e))?;
        let status = r.status().as_u16();
        let body = r.text().unwrap_or_default();
        self.check_auth(status, &url)?;
        if status != 200 {
            return Err(ModuleError::new(format!(
                "Patroni refused PATCH {url} with {status}: {}",
                snippet(&body)
            ))
            .with_fix("check the dcs values against Patroni's dynamic configuration settings"));
        }
        serde_json::from_str(&body).map_err(|_| {
            ModuleError::new(format!(
                "PATCH {url} answered without JSON: {}",
                snippet(&body)
            ))
        })
    }

    /// POST an operation; the caller interprets the status (200, 202, 412, 503 …).
    pub fn post(&self, path: &str, body: &Value) -> Result<Reply, ModuleError> {
        let url = self.url(path);
        // Operations are not idempotent: never resend one that may have reached Patroni.
        let r = self
            .once
            .send(|c| c.post(&url).json(body))
            .map_err(|e| unreachable(&url, &e))?;
        let status = r.status().as_u16();
        let body = r.text().unwrap_or_default();
        self.check_auth(status, &url)?;
        Ok(Reply { status, body })
    }

    fn check_auth(&self, status: u16, url: &str) -> Result<(), ModuleError> {
        match status {
            401 if self.authenticated => Err(ModuleError::param(
                "api_password",
                format!("Patroni at {url} rejected api_username/api_password (401)"),
                "give the credentials of restapi.authentication in the node's patroni.yml",
            )),
            401 => Err(ModuleError::param(
                "api_username",
                format!("Patroni at {url} requires authentication (401)"),
                "set api_username and api_password to restapi.authentication of patroni.yml",
            )),
            403 => Err(ModuleError::param(
                "api_url",
                format!("Patroni at {url} refused this client (403, restapi.allowlist)"),
                "run the task from a host in restapi.allowlist, or add this host to it",
            )),
            _ => Ok(()),
        }
    }
}

fn unreachable(url: &str, e: &reqwest::Error) -> ModuleError {
    let tls = format!("{e:?}").to_ascii_lowercase();
    let fix = if tls.contains("certificate") || tls.contains("tls") || tls.contains("invalid peer")
    {
        "give the CA that signed the REST API's certificate in ca_file (or validate_certs: false for a lab)"
    } else {
        "check that Patroni runs on that host and that api_url names its restapi.listen address and port"
    };
    ModuleError::param(
        "api_url",
        format!("Patroni REST API unreachable: {}", explain(url, e)),
        fix,
    )
}

/// The first line of a body, short enough for a message.
pub fn snippet(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or("").trim();
    if line.chars().count() > 200 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else if line.is_empty() {
        "empty body".into()
    } else {
        line.to_owned()
    }
}
