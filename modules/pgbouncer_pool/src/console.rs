//! A minimal PostgreSQL wire-protocol client for PgBouncer's admin console (simple query protocol only).
//!
//! The admin console is the pseudo-database `pgbouncer`; it speaks only the
//! simple query protocol (PgBouncer docs, "Admin console"), so startup,
//! authentication (SCRAM-SHA-256, md5, cleartext) and `Q` messages are all this
//! needs — a full driver would add an async runtime to a binary copied on every task.

use matrixha_module::Secret;
use pg_auth::{md5_response, ClientExchange};
use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Where and as whom to reach the console.
#[derive(Debug, Clone)]
pub struct Target {
    /// An IP address or host name, or an absolute directory holding `.s.PGSQL.<port>`.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub timeout: Duration,
    /// `pgbouncer` for the admin console; a real database when reading PostgreSQL.
    pub database: String,
}

impl Target {
    /// "the PgBouncer admin console" or "PostgreSQL", for messages.
    pub fn what(&self) -> &'static str {
        if self.database == "pgbouncer" {
            "the PgBouncer admin console"
        } else {
            "PostgreSQL"
        }
    }

    pub fn describe(&self) -> String {
        if self.host.starts_with('/') {
            format!("{}/.s.PGSQL.{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

pub struct Console {
    stream: Box<dyn Stream>,
}

/// One result set: column names and rows of text values (`None` = SQL NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// Rows as JSON objects; integer-looking values become numbers so playbooks can compare them.
    pub fn to_json(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|row| {
                let mut m = Map::new();
                for (c, v) in self.columns.iter().zip(row) {
                    let value = match v {
                        None => Value::Null,
                        Some(s) => s
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or_else(|_| Value::String(s.clone())),
                    };
                    m.insert(c.clone(), value);
                }
                Value::Object(m)
            })
            .collect()
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Why the console could not be used.
#[derive(Debug)]
pub enum ConsoleError {
    /// Nothing listens, or the network said no.
    Unreachable(String),
    /// The console answered but refused the login.
    Auth(String),
    /// A command failed (`ERROR` response) or the protocol broke.
    Command(String),
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsoleError::Unreachable(s) | ConsoleError::Auth(s) | ConsoleError::Command(s) => {
                f.write_str(s)
            }
        }
    }
}

fn io_err(e: std::io::Error) -> ConsoleError {
    ConsoleError::Command(format!("the connection broke: {e}"))
}

impl Console {
    pub fn connect(t: &Target) -> Result<Console, ConsoleError> {
        let unreachable = |e: std::io::Error| {
            ConsoleError::Unreachable(format!(
                "cannot reach {} at {}: {e}",
                t.what(),
                t.describe()
            ))
        };
        let stream: Box<dyn Stream> = if t.host.starts_with('/') {
            let s = UnixStream::connect(format!("{}/.s.PGSQL.{}", t.host, t.port))
                .map_err(unreachable)?;
            s.set_read_timeout(Some(t.timeout)).map_err(unreachable)?;
            s.set_write_timeout(Some(t.timeout)).map_err(unreachable)?;
            Box::new(s)
        } else {
            let addrs: Vec<_> = (t.host.as_str(), t.port)
                .to_socket_addrs()
                .map_err(unreachable)?
                .collect();
            let mut last = None;
            let mut found = None;
            for a in addrs {
                match TcpStream::connect_timeout(&a, t.timeout) {
                    Ok(s) => {
                        found = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let s = found.ok_or_else(|| {
                unreachable(last.unwrap_or_else(|| std::io::Error::other("no address")))
            })?;
            s.set_read_timeout(Some(t.timeout)).map_err(unreachable)?;
            s.set_write_timeout(Some(t.timeout)).map_err(unreachable)?;
            s.set_nodelay(true).map_err(unreachable)?;
            Box::new(s)
        };
        let mut c = Console { stream };
        c.startup(t)?;
        Ok(c)
    }

    fn startup(&mut self, t: &Target) -> Result<(), ConsoleError> {
        let mut body = Vec::new();
        body.extend_from_slice(&196608u32.to_be_bytes()); // protocol 3.0
        for (k, v) in [
            ("user", t.user.as_str()),
            ("database", t.database.as_str()),
            ("application_name", "matrixha.stack.pgbouncer_pool"),
        ] {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        self.stream.write_all(&msg).map_err(|e| {
            ConsoleError::Unreachable(format!("{} closed the connection: {e}", t.describe()))
        })?;

        let mut scram: Option<ClientExchange> = None;
        let need_password = || {
            ConsoleError::Auth(format!(
                "{} at {} asks user '{}' for a password and none was given",
                t.what(),
                t.describe(),
                t.user
            ))
        };
        loop {
            let (tag, body) = self.read_message()?;
            match tag {
                b'R' => {
                    let code = be32(&body, 0)?;
                    let rest = &body[4..];
                    match code {
                        0 => {}
                        3 => {
                            let pw = t.password.as_ref().ok_or_else(need_password)?;
                            let mut m = pw.expose().as_bytes().to_vec();
                            m.push(0);
                            self.send(b'p', &m)?;
                        }
                        5 => {
                            let pw = t.password.as_ref().ok_or_else(need_password)?;
                            let salt: [u8; 4] = rest
                                .get(..4)
                                .and_then(|s| s.try_into().ok())
                                .ok_or_else(|| ConsoleError::Command("short md5 salt".into()))?;
                            let mut m = md5_response(&t.user, pw.expose(), &salt).expose().as_bytes().to_vec();
                            m.push(0);
                            self.send(b'p', &m)?;
                        }
                        10 => {
                            t.password.as_ref().ok_or_else(need_password)?;
                            let mechanisms = String::from_utf8_lossy(rest);
                            if !mechanisms.split('\0').any(|m| m == "SCRAM-SHA-256") {
                                return Err(ConsoleError::Auth(format!(
                                    "the admin console offers SASL mechanisms {mechanisms:?}, not SCRAM-SHA-256"
                                )));
                            }
                            let ex = ClientExchange::new().map_err(io_err)?;
                            let first = ex.client_first();
                            let mut m = b"SCRAM-SHA-256\0".to_vec();
                            m.extend_from_slice(&(first.len() as u32).to_be_bytes());
                            m.extend_from_slice(first.as_bytes());
                            self.send(b'p', &m)?;
                            scram = Some(ex);
                        }
                        11 => {
                            let pw = t.password.as_ref().ok_or_else(need_password)?;
                            let ex = scram.as_mut().ok_or_else(|| {
                                ConsoleError::Command("SCRAM continue without a start".into())
                            })?;
                            let fin = ex
                                .client_final(pw.expose(), &String::from_utf8_lossy(rest))
                                .map_err(ConsoleError::Auth)?;
                            self.send(b'p', fin.expose().as_bytes())?;
                        }
                        12 => {
                            let ex = scram.as_ref().ok_or_else(|| {
                                ConsoleError::Command("SCRAM final without a start".into())
                            })?;
                            ex.verify_server(&String::from_utf8_lossy(rest))
                                .map_err(ConsoleError::Auth)?;
                        }
                        other => {
                            return Err(ConsoleError::Auth(format!(
                                "the admin console asks for authentication method {other}, which this module does not speak"
                            )))
                        }
                    }
                }
                b'E' => {
                    return Err(ConsoleError::Auth(format!(
                        "{} at {} refused user '{}': {}",
                        t.what(),
                        t.describe(),
                        t.user,
                        error_text(&body)
                    )))
                }
                b'Z' => return Ok(()),
                // ParameterStatus, BackendKeyData, NoticeResponse.
                _ => {}
            }
        }
    }

    fn send(&mut self, tag: u8, body: &[u8]) -> Result<(), ConsoleError> {
        let mut msg = vec![tag];
        msg.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        msg.extend_from_slice(body);
        self.stream.write_all(&msg).map_err(io_err)
    }

    fn read_message(&mut self) -> Result<(u8, Vec<u8>), ConsoleError> {
        let mut head = [0u8; 5];
        self.stream
            .read_exact(&mut head)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    ConsoleError::Command("the admin console did not answer in time".into())
                }
                _ => io_err(e),
            })?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if !(4..=16 * 1024 * 1024).contains(&len) {
            return Err(ConsoleError::Command(format!("bad message length {len}")));
        }
        let mut body = vec![0u8; len - 4];
        self.stream.read_exact(&mut body).map_err(io_err)?;
        Ok((head[0], body))
    }

    /// Runs one simple-query command; returns its last result set (empty for `RELOAD`, `PAUSE`…).
    pub fn query(&mut self, sql: &str) -> Result<Rows, ConsoleError> {
        let mut q = sql.as_bytes().to_vec();
        q.push(0);
        self.send(b'Q', &q)?;
        let mut rows = Rows::default();
        let mut error = None;
        loop {
            let (tag, body) = self.read_message()?;
            match tag {
                b'T' => {
                    rows = Rows::default();
                    let n = be16(&body, 0)? as usize;
                    let mut at = 2;
                    for _ in 0..n {
                        let field = body.get(at..).unwrap_or_default();
                        let end = field
                            .iter()
                            .position(|b| *b == 0)
                            .ok_or_else(|| ConsoleError::Command("bad row description".into()))?;
                        rows.columns
                            .push(String::from_utf8_lossy(&field[..end]).into_owned());
                        at += end + 1 + 18;
                    }
                }
                b'D' => {
                    let n = be16(&body, 0)? as usize;
                    let mut at = 2;
                    let mut row = Vec::with_capacity(n);
                    for _ in 0..n {
                        let len = be32(&body, at)? as i32;
                        at += 4;
                        if len < 0 {
                            row.push(None);
                        } else {
                            let end = at + len as usize;
                            let v = body
                                .get(at..end)
                                .ok_or_else(|| ConsoleError::Command("short data row".into()))?;
                            row.push(Some(String::from_utf8_lossy(v).into_owned()));
                            at = end;
                        }
                    }
                    rows.rows.push(row);
                }
                b'E' => error = Some(error_text(&body)),
                b'Z' => break,
                // CommandComplete, EmptyQueryResponse, NoticeResponse, ParameterStatus.
                _ => {}
            }
        }
        match error {
            Some(e) => Err(ConsoleError::Command(format!("{sql}: {e}"))),
            None => Ok(rows),
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        // Terminate, so PgBouncer does not log an unexpected EOF.
        let _ = self.stream.write_all(&[b'X', 0, 0, 0, 4]);
    }
}

fn be32(b: &[u8], at: usize) -> Result<u32, ConsoleError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| ConsoleError::Command("truncated message".into()))
}

fn be16(b: &[u8], at: usize) -> Result<u16, ConsoleError> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or_else(|| ConsoleError::Command("truncated message".into()))
}

/// The `M` (message) field of an ErrorResponse, with its SQLSTATE.
fn error_text(body: &[u8]) -> String {
    let mut msg = String::new();
    let mut code = String::new();
    for field in body.split(|b| *b == 0) {
        if let Some((&t, v)) = field.split_first() {
            match t {
                b'M' => msg = String::from_utf8_lossy(v).into_owned(),
                b'C' => code = String::from_utf8_lossy(v).into_owned(),
                _ => {}
            }
        }
    }
    if code.is_empty() {
        msg
    } else {
        format!("{msg} (SQLSTATE {code})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_takes_message_and_code() {
        let body = b"SERROR\0C08P01\0Mno such user\0\0";
        assert_eq!(error_text(body), "no such user (SQLSTATE 08P01)");
    }

    #[test]
    fn rows_become_json_with_numbers() {
        let r = Rows {
            columns: vec!["database".into(), "cl_active".into(), "x".into()],
            rows: vec![vec![Some("synapse".into()), Some("3".into()), None]],
        };
        let j = r.to_json();
        assert_eq!(j[0]["database"], "synapse");
        assert_eq!(j[0]["cl_active"], 3);
        assert!(j[0]["x"].is_null());
    }

    #[test]
    fn closed_port_is_unreachable_not_a_hang() {
        // Bind then drop: the port is free, so the connect is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = Target {
            host: "127.0.0.1".into(),
            port,
            user: "admin".into(),
            password: None,
            timeout: Duration::from_secs(2),
            database: "pgbouncer".into(),
        };
        match Console::connect(&t) {
            Err(ConsoleError::Unreachable(m)) => {
                assert!(m.contains("PgBouncer admin console at 127.0.0.1:"), "{m}")
            }
            other => panic!("expected Unreachable, got {:?}", other.err()),
        }
    }
}
