//! Pooling rules the module and `matrixha check` share: pool mode parsing, DN-4's pool-mode verdict, DN-1's wildcard bind.
//!
//! Pure functions, no I/O. The module turns an [`Level::Error`] finding into a
//! `ModuleError` and a [`Level::Warning`] into `Outcome::warn`; the CLI reports
//! both with its own variable names. Neither re-implements the rule.

use crate::sizing::PoolMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The configuration breaks Synapse: the module fails, `check` reports an error.
    Error,
    /// Works, with a cost the operator should know: the module warns, `check` warns.
    Warning,
}

/// One verdict of a rule: what is wrong and what to do. Callers add the
/// parameter (module) or inventory variable (CLI) themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub problem: String,
    pub fix: String,
}

/// Synapse's per-connection settings (synapse/storage/engines/postgres.py,
/// `on_new_connection`) as role defaults: what makes transaction pooling
/// tolerable (DN-4).
pub const SYNAPSE_ROLE_SETTINGS: &str = "ALTER ROLE <synapse role> SET bytea_output = 'escape'; \
     ALTER ROLE <synapse role> SET default_transaction_isolation = 'repeatable read'; \
     ALTER ROLE <synapse role> SET statement_timeout = '1h'";

impl PoolMode {
    pub const ALL: [PoolMode; 3] = [
        PoolMode::Session,
        PoolMode::Transaction,
        PoolMode::Statement,
    ];

    /// The one parser of a pool mode: PgBouncer's lower-case names only.
    /// The error never quotes the text (it may come from a mis-rendered template).
    pub fn parse(text: &str) -> Result<PoolMode, Finding> {
        PoolMode::ALL
            .into_iter()
            .find(|m| m.as_str() == text)
            .ok_or_else(|| Finding {
                level: Level::Error,
                problem: format!(
                    "unknown pool mode (a string of {} characters), expected one of {}",
                    text.chars().count(),
                    PoolMode::ALL
                        .map(|m| format!("`{}`", m.as_str()))
                        .join(", ")
                ),
                fix: "use session, the mode Synapse needs (DN-4)".into(),
            })
    }
}

impl<'de> serde::Deserialize<'de> for PoolMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PoolMode, D::Error> {
        let text = String::deserialize(d)?;
        PoolMode::parse(&text)
            .map_err(|f| serde::de::Error::custom(format!("{}. Fix: {}", f.problem, f.fix)))
    }
}

/// DN-4: which pool mode the Synapse database may use.
///
/// - `session`: fine.
/// - `transaction`: Synapse sets `bytea_output`, `default_transaction_isolation`
///   and `statement_timeout` once per connection, and its background updates run
///   `SET SESSION statement_timeout = 0` before `CREATE INDEX CONCURRENTLY`; in
///   transaction mode those land on whichever server connection serves the
///   statement and leak to other clients. Role defaults ([`SYNAPSE_ROLE_SETTINGS`])
///   cover the first three. Nothing in the stack applies them today, so this is an
///   **error** unless the caller states they are in place
///   (`session_settings_per_role`); then it is a **warning**, because a background
///   index build still runs under the role's statement_timeout.
/// - `statement`: always an error: Synapse runs multi-statement transactions,
///   which PgBouncer refuses in statement mode (its docs, "pool_mode").
pub fn pool_mode_finding(mode: PoolMode, session_settings_per_role: bool) -> Option<Finding> {
    match (mode, session_settings_per_role) {
        (PoolMode::Session, _) => None,
        (PoolMode::Statement, _) => Some(Finding {
            level: Level::Error,
            problem: "statement pooling refuses multi-statement transactions, and Synapse runs \
                      them on every request"
                .into(),
            fix: "use pool_mode session (the pools are sized for it, DN-11)".into(),
        }),
        (PoolMode::Transaction, false) => Some(Finding {
            level: Level::Error,
            problem:
                "transaction pooling hands Synapse's connection-level settings \
                      (bytea_output, default_transaction_isolation, statement_timeout) to other \
                      clients, and its background updates run SET SESSION statement_timeout = 0 \
                      before CREATE INDEX CONCURRENTLY on a connection they may not get back (DN-4)"
                    .into(),
            fix: format!(
                "use pool_mode session (the pools are sized for it, DN-11); to keep transaction \
                 pooling, first set the settings per role ({SYNAPSE_ROLE_SETTINGS}) and then \
                 pass session_settings_per_role: true"
            ),
        }),
        (PoolMode::Transaction, true) => Some(Finding {
            level: Level::Warning,
            problem: "transaction pooling with Synapse's settings per role: a background index \
                      build's SET SESSION statement_timeout = 0 still lands on a shared server \
                      connection, so long CREATE INDEX CONCURRENTLY runs stop at the role's \
                      statement_timeout and the SET leaks to other clients (DN-4)"
                .into(),
            fix: "prefer pool_mode session; otherwise watch Synapse's background updates".into(),
        }),
    }
}

/// Addresses that mean "every address" to PgBouncer's `listen_addr` (`*`) and to the OS.
pub fn is_wildcard(addr: &str) -> bool {
    matches!(addr.trim(), "*" | "0.0.0.0" | "::" | "[::]")
}

/// DN-1: a wildcard `listen_addr` takes `<VIP>:6432` from the DB VIP's HAProxy on the same node.
pub fn listen_addr_finding(listen_addr: &[String]) -> Option<Finding> {
    listen_addr.iter().any(|a| is_wildcard(a)).then(|| Finding {
        level: Level::Warning,
        problem: "listen_addr binds every address: the DB VIP's HAProxy on this node cannot then \
                  bind <VIP>:6432 (DN-1)"
            .into(),
        fix: "list the node's own address and 127.0.0.1 instead".into(),
    })
}

/// Issue 19: an in-flight query whose path lost a host must end within this
/// many seconds after the writer VIP moved. A powered-off peer sends no FIN/RST,
/// so only TCP keepalive (or the user timeout) ends such a connection.
pub const DEAD_PEER_BOUND_SECS: u32 = 10;

/// Default keepalive numbers every DB hop uses (libpq, HAProxy, PgBouncer,
/// PostgreSQL): 5 s idle, 1 s between probes, 3 probes, 8000 ms user timeout.
pub const KEEPALIVE_IDLE_SECS: u32 = 5;
pub const KEEPALIVE_INTERVAL_SECS: u32 = 1;
pub const KEEPALIVE_COUNT: u32 = 3;
pub const TCP_USER_TIMEOUT_MS: u32 = 8000;

/// Seconds from a peer's last packet until keepalive declares it dead:
/// idle + interval x count (saturating, never panics on large inputs).
pub fn dead_peer_detection_secs(idle: u32, interval: u32, count: u32) -> u32 {
    idle.saturating_add(interval.saturating_mul(count))
}

/// Error when keepalive is off (a zero) or finds a dead peer later than the
/// bound; the CLI names the inventory variables (matrixha_tcp_keepalive_*).
pub fn keepalive_finding(idle: u32, interval: u32, count: u32) -> Option<Finding> {
    if idle == 0 || interval == 0 || count == 0 {
        return Some(Finding {
            level: Level::Error,
            problem:
                "TCP keepalive idle, interval and count must all be at least 1: with a zero a \
                      connection through a powered-off host hangs for the OS default (2 h)"
                    .into(),
            fix: "e.g. idle 5, interval 1, count 3".into(),
        });
    }
    let secs = dead_peer_detection_secs(idle, interval, count);
    (secs > DEAD_PEER_BOUND_SECS).then(|| Finding {
        level: Level::Error,
        problem: format!(
            "TCP keepalive finds a dead peer after {secs} s (idle + interval x count), more than \
             the {DEAD_PEER_BOUND_SECS} s an in-flight query may hang after a host loses power"
        ),
        fix: "lower idle, interval or count, e.g. idle 5, interval 1, count 3".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_defaults_fit_the_bound_and_slow_or_off_settings_do_not() {
        assert_eq!(dead_peer_detection_secs(5, 1, 3), 8);
        assert_eq!(
            keepalive_finding(
                KEEPALIVE_IDLE_SECS,
                KEEPALIVE_INTERVAL_SECS,
                KEEPALIVE_COUNT
            ),
            None
        );
        assert!(u64::from(TCP_USER_TIMEOUT_MS) <= u64::from(DEAD_PEER_BOUND_SECS) * 1000);
        assert_eq!(keepalive_finding(7, 1, 3), None);
        let slow = keepalive_finding(7200, 75, 9).map(|f| (f.level, f.problem));
        assert!(
            matches!(&slow, Some((Level::Error, p)) if p.contains("7875 s")),
            "{slow:?}"
        );
        assert!(keepalive_finding(8, 1, 3).is_some());
        assert!(keepalive_finding(5, 0, 3).is_some());
        assert_eq!(dead_peer_detection_secs(u32::MAX, u32::MAX, 2), u32::MAX);
    }

    #[test]
    fn parse_accepts_pgbouncers_names_and_round_trips() {
        for m in PoolMode::ALL {
            assert_eq!(PoolMode::parse(m.as_str()), Ok(m));
        }
    }

    #[test]
    fn unknown_pool_mode_is_an_error_that_does_not_quote_it() {
        // The CLI once read an unknown mode as session; here it is an error for both.
        for text in ["statment", "Session", "", "tx-pool-42"] {
            let f = PoolMode::parse(text).unwrap_err();
            assert_eq!(f.level, Level::Error);
            assert!(f.problem.starts_with("unknown pool mode"), "{}", f.problem);
            assert!(
                text.is_empty() || !f.problem.contains(text),
                "{}",
                f.problem
            );
            assert!(f.problem.contains("`session`, `transaction`, `statement`"));
        }
    }

    #[test]
    fn session_mode_has_no_finding() {
        assert_eq!(pool_mode_finding(PoolMode::Session, false), None);
        assert_eq!(pool_mode_finding(PoolMode::Session, true), None);
    }

    #[test]
    fn transaction_mode_is_an_error_until_settings_are_per_role() {
        let e = pool_mode_finding(PoolMode::Transaction, false).unwrap();
        assert_eq!(e.level, Level::Error);
        assert!(
            e.fix.contains("session_settings_per_role: true"),
            "{}",
            e.fix
        );
        assert!(e.fix.contains("ALTER ROLE"), "{}", e.fix);
        let w = pool_mode_finding(PoolMode::Transaction, true).unwrap();
        assert_eq!(w.level, Level::Warning);
    }

    #[test]
    fn statement_mode_is_always_an_error() {
        for per_role in [false, true] {
            let f = pool_mode_finding(PoolMode::Statement, per_role).unwrap();
            assert_eq!(f.level, Level::Error);
        }
    }

    #[test]
    fn wildcard_listen_addr_warns_and_node_addresses_do_not() {
        for a in ["*", "0.0.0.0", "::"] {
            let f = listen_addr_finding(&[a.to_owned(), "127.0.0.1".to_owned()]).unwrap();
            assert_eq!(f.level, Level::Warning);
        }
        assert_eq!(
            listen_addr_finding(&["10.0.3.11".into(), "127.0.0.1".into()]),
            None
        );
    }
}
