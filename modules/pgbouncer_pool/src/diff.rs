//! Diff texts of pgbouncer.ini and the auth file with every secret masked, before and after (pure).
//!
//! The "before" text is whatever file the module takes over, so it may hold
//! secrets this module never wrote: `password=` in a `[databases]` connection
//! string (pgbouncer.ini(5), "Section [databases]"), plain-text passwords, md5
//! hashes or SCRAM secrets in the auth file (pgbouncer.ini(5), "Authentication
//! file format"). Both texts go through `textdiff::mask_secrets`, so a change of
//! a secret alone still shows, as `(will change)`.

use matrixha_module::textdiff::mask_secrets;
use std::ops::Range;

/// pgbouncer.ini: before and after with secrets masked.
pub fn ini(before: &str, after: &str) -> (String, String) {
    mask_secrets(before, after, ini_secret_span)
}

/// The auth file: before and after with secrets masked (the secret's kind stays visible).
pub fn auth_file(before: &str, after: &str) -> (String, String) {
    mask_secrets(before, after, auth_secret_span)
}

/// The secret inside one pgbouncer.ini line, comments included (a commented-out
/// connection string still holds its password).
///
/// - `key = value` where the key names a password (`auth_password = …`): the value.
/// - `password=…` anywhere else (a `[databases]` connection string, PgBouncer's
///   `key=value` syntax with optional spaces and `'quoted values'`): that value.
///
/// PgBouncer 1.18 has no other secret-bearing setting: TLS keys, `auth_file` and
/// `auth_hba_file` are paths, `auth_user` is a name whose secret is in the auth file.
/// A line with more than one password is masked from the first to the line's end.
pub fn ini_secret_span(line: &str) -> Option<Range<usize>> {
    let lower = line.to_ascii_lowercase();
    let body_start = line.len() - line.trim_start_matches([' ', '\t', ';', '#']).len();
    if let Some(eq) = line[body_start..].find('=').map(|i| body_start + i) {
        let key = lower[body_start..eq].trim();
        let is_setting_key = !key.is_empty() && !key.contains(char::is_whitespace);
        if is_setting_key && key.contains("password") {
            let start = eq + 1 + (line[eq + 1..].len() - line[eq + 1..].trim_start().len());
            return Some(start..line.trim_end().len().max(start));
        }
    }
    let mut spans = password_values(line, &lower);
    let first = spans.next()?;
    match spans.next() {
        Some(_) => Some(first.start..line.trim_end().len().max(first.start)),
        None => Some(first),
    }
}

/// Spans of the values of every `password=` pair in a connection string.
fn password_values<'a>(line: &'a str, lower: &'a str) -> impl Iterator<Item = Range<usize>> + 'a {
    lower.match_indices("password").filter_map(move |(at, _)| {
        // A key of its own: not `rolpassword` or `old_password`.
        let before = lower[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let after = &line[at + "password".len()..];
        let rest = after.trim_start().strip_prefix('=')?;
        let start = line.len() - rest.trim_start().len();
        Some(start..value_end(line, start))
    })
}

/// End of a connection-string value at `start`: a `'quoted'` value (`''` is a
/// quote inside it) or up to the next whitespace.
fn value_end(line: &str, start: usize) -> usize {
    let bytes = line.as_bytes();
    if bytes.get(start) == Some(&b'\'') {
        let mut i = start + 1;
        while i < bytes.len() {
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        return line.trim_end().len().max(start);
    }
    line[start..]
        .find(char::is_whitespace)
        .map_or(line.trim_end().len(), |i| start + i)
}

/// The secret inside one auth-file line.
///
/// PgBouncer reads `"user" "secret" …` and ignores other lines, which may still
/// hold a secret (an old entry commented out), so:
/// - `"user" "SCRAM-SHA-256$…"` / `"user" "md5…"`: the part after the kind prefix,
///   so the diff still says which kind of secret a user has;
/// - `"user" "plain text"` and anything after the second field: masked;
/// - any other non-blank line: masked whole.
pub fn auth_secret_span(line: &str) -> Option<Range<usize>> {
    let trimmed_end = line.trim_end().len();
    if line.trim().is_empty() {
        return None;
    }
    let Some(second) = second_field_start(line) else {
        let start = line.len() - line.trim_start().len();
        return Some(start..trimmed_end);
    };
    let value = &line[second..];
    let skip = ["SCRAM-SHA-256$", "md5"]
        .iter()
        .find(|p| value.starts_with(*p))
        .map_or(0, |p| p.len());
    // The closing quote of the second field stays, unless more follows it.
    let end = match closing_quote(line, second) {
        Some(q) if line[q + 1..].trim().is_empty() => q,
        _ => trimmed_end,
    };
    Some((second + skip).min(end)..end)
}

/// Byte offset of the second field's first character (after its opening quote).
fn second_field_start(line: &str) -> Option<usize> {
    let start = line.len() - line.trim_start().len();
    if !line[start..].starts_with('"') {
        return None;
    }
    let first_end = closing_quote(line, start + 1)?;
    let rest = &line[first_end + 1..];
    let open = first_end + 1 + (rest.len() - rest.trim_start().len());
    line[open..].starts_with('"').then_some(open + 1)
}

/// The quote closing a field whose text starts at `from` (`""` is a quote inside it).
fn closing_quote(line: &str, from: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            if bytes.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(line: &str, span: fn(&str) -> Option<Range<usize>>) -> String {
        match span(line) {
            Some(r) => format!("{}<>{}", &line[..r.start], &line[r.end..]),
            None => line.to_owned(),
        }
    }

    #[test]
    fn database_connection_string_password_is_masked() {
        for (line, want) in [
            (
                "synapse = host=10.0.3.10 port=5432 password=pw-in-ini-1 pool_size=5",
                "synapse = host=10.0.3.10 port=5432 password=<> pool_size=5",
            ),
            (
                "synapse = host=10.0.3.10 password = 'a b '' c' dbname=synapse",
                "synapse = host=10.0.3.10 password = <> dbname=synapse",
            ),
            (
                "forcedb = host=x user=baz PASSWORD=foo",
                "forcedb = host=x user=baz PASSWORD=<>",
            ),
            (
                ";old = host=x password=pw-commented",
                ";old = host=x password=<>",
            ),
            (
                "two = host=x password=one user=y password=two",
                "two = host=x password=<>",
            ),
        ] {
            assert_eq!(masked(line, ini_secret_span), want, "{line}");
        }
    }

    #[test]
    fn password_settings_are_masked_and_other_lines_kept() {
        assert_eq!(
            masked("auth_password = s3 cret", ini_secret_span),
            "auth_password = <>"
        );
        for line in [
            "auth_query = SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1",
            "auth_user = pgbouncer_auth",
            "listen_port = 6432",
            "[databases]",
            "",
        ] {
            assert_eq!(ini_secret_span(line), None, "{line}");
        }
    }

    #[test]
    fn auth_file_secrets_are_masked_keeping_their_kind() {
        for (line, want) in [
            (
                "\"synapse\" \"SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB\"",
                "\"synapse\" \"SCRAM-SHA-256$<>\"",
            ),
            ("\"admin\" \"md5abcdef0123\"", "\"admin\" \"md5<>\""),
            ("\"plain\" \"clear text pw\"", "\"plain\" \"<>\""),
            ("\"q\"\"uote\" \"pw\" extra", "\"q\"\"uote\" \"<>"),
            (";\"old\" \"md5olderhash\"", "<>"),
            ("garbage-with-secret", "<>"),
        ] {
            assert_eq!(masked(line, auth_secret_span), want, "{line}");
        }
        assert_eq!(auth_secret_span("   "), None);
    }

    #[test]
    fn a_password_only_change_in_databases_says_will_change() {
        let before = "[databases]\nsynapse = host=h password=old-pw-1\n";
        let after = "[databases]\nsynapse = host=h password=new-pw-2\n";
        let (b, a) = ini(before, after);
        assert_eq!(b, "[databases]\nsynapse = host=h password=********\n");
        assert_eq!(
            a,
            "[databases]\nsynapse = host=h password=******** (will change)\n"
        );
    }

    #[test]
    fn a_secret_only_change_in_the_auth_file_says_will_change() {
        let before = "\"synapse\" \"SCRAM-SHA-256$4096:b2xk$OLD:OLD\"\n\"admin\" \"md5aaaa\"\n";
        let after = "\"synapse\" \"SCRAM-SHA-256$4096:bmV3$NEW:NEW\"\n\"admin\" \"md5aaaa\"\n";
        let (b, a) = auth_file(before, after);
        assert_eq!(
            b,
            "\"synapse\" \"SCRAM-SHA-256$********\"\n\"admin\" \"md5********\"\n"
        );
        assert_eq!(
            a,
            "\"synapse\" \"SCRAM-SHA-256$********\" (will change)\n\"admin\" \"md5********\"\n"
        );
        for secret in ["OLD", "NEW", "b2xk", "bmV3", "aaaa"] {
            assert!(!a.contains(secret) && !b.contains(secret), "{secret}");
        }
    }
}
