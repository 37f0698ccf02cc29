//! A blocking HTTP client with timeouts, retries with backoff, basic auth and a CA file.

use crate::{wait, ModuleError, Secret};
use reqwest::blocking::{Client, RequestBuilder, Response};
use std::path::PathBuf;
use std::time::Duration;

/// How to reach an HTTP API.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra attempts after the first for connection errors and 502/503/504.
    pub retries: u32,
    pub backoff: Duration,
    pub basic_auth: Option<(String, Secret)>,
    pub ca_file: Option<PathBuf>,
    pub verify_tls: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            retries: 2,
            backoff: Duration::from_millis(250),
            basic_auth: None,
            ca_file: None,
            verify_tls: true,
        }
    }
}

pub struct Http {
    client: Client,
    opts: HttpOptions,
}

impl Http {
    pub fn new(opts: HttpOptions) -> Result<Http, ModuleError> {
        let mut b = Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .danger_accept_invalid_certs(!opts.verify_tls);
        if let Some(ca) = &opts.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                ModuleError::param(
                    "ca_file",
                    format!("cannot read {}: {e}", ca.display()),
                    "give the path of a PEM CA certificate",
                )
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                ModuleError::param(
                    "ca_file",
                    format!("{} is not a PEM certificate: {e}", ca.display()),
                    "give the path of a PEM CA certificate",
                )
            })?;
            b = b.add_root_certificate(cert);
        }
        let client = b
            .build()
            .map_err(|e| ModuleError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client, opts })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends the request `build` makes, retrying connection failures and
    /// 502/503/504 with backoff. Other statuses are returned to the caller.
    pub fn send(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, reqwest::Error> {
        let mut delays =
            wait::backoff(self.opts.backoff, Duration::from_secs(5), self.opts.retries);
        loop {
            let mut req = build(&self.client);
            if let Some((user, pw)) = &self.opts.basic_auth {
                req = req.basic_auth(user, Some(pw.expose()));
            }
            let res = req.send();
            let retry = match &res {
                Ok(r) => matches!(r.status().as_u16(), 502..=504),
                Err(e) => e.is_connect() || e.is_timeout(),
            };
            match (retry, delays.next()) {
                (true, Some(d)) => std::thread::sleep(d),
                _ => return res,
            }
        }
    }
}

/// Describes a transport error for a user: refused, timed out, TLS, or other.
pub fn explain(url: &str, e: &reqwest::Error) -> String {
    if e.is_connect() {
        format!("cannot connect to {url} (connection refused or host unreachable)")
    } else if e.is_timeout() {
        format!("{url} did not answer in time")
    } else {
        format!("request to {url} failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves the given raw responses, one per connection, on 127.0.0.1; returns the URL.
    fn serve(responses: Vec<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for r in responses {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(r.as_bytes());
            }
        });
        url
    }

    const UNAVAILABLE: &str =
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

    fn fast(retries: u32) -> HttpOptions {
        HttpOptions {
            retries,
            backoff: Duration::from_millis(10),
            ..HttpOptions::default()
        }
    }

    #[test]
    fn retries_503_until_success() {
        let url = serve(vec![UNAVAILABLE, UNAVAILABLE, OK]);
        let http = Http::new(fast(2)).unwrap();
        let r = http.send(|c| c.get(&url)).unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.text().unwrap(), "ok");
    }

    #[test]
    fn gives_up_after_the_retries() {
        let url = serve(vec![UNAVAILABLE, UNAVAILABLE]);
        let http = Http::new(fast(1)).unwrap();
        assert_eq!(http.send(|c| c.get(&url)).unwrap().status().as_u16(), 503);
    }

    #[test]
    fn refused_connection_is_explained() {
        // Bind then drop: the port is closed when the request is made.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/");
        let http = Http::new(fast(0)).unwrap();
        let e = http.send(|c| c.get(&url)).unwrap_err();
        assert!(explain(&url, &e).contains("cannot connect"), "{e}");
    }

    #[test]
    fn unreadable_ca_file_names_the_parameter() {
        let opts = HttpOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..HttpOptions::default()
        };
        let e = Http::new(opts).err().unwrap();
        assert_eq!(e.param.as_deref(), Some("ca_file"));
    }
}
