//! Masking secrets in the before/after texts of a diff, so a secret-only change still shows.

use std::collections::BTreeMap;
use std::ops::Range;

/// What stands in a diff where a secret was.
pub const MASKED: &str = "********";
/// Appended to a masked line whose secret changes.
pub const WILL_CHANGE: &str = " (will change)";

/// Masks the secret inside every line of both texts.
///
/// `span(line)` gives the byte range of the secret value within one line (`None`:
/// no secret there). A line of `after` whose key (the line without its secret)
/// is in `before` with another value gets [`WILL_CHANGE`]; when the masked texts
/// still read the same although the real ones differ (a secret moved between
/// lines, a duplicate key), `after` gets one more line saying a secret changes.
/// So diff mode never shows an identical before and after for a real change.
pub fn mask_secrets(
    before: &str,
    after: &str,
    span: impl Fn(&str) -> Option<Range<usize>>,
) -> (String, String) {
    let split = |line: &str| -> Option<(String, String)> {
        let r = span(line).filter(|r| r.start <= r.end && line.get(r.clone()).is_some())?;
        let key = format!("{}\u{0}{}", &line[..r.start], &line[r.end..]);
        Some((key, line[r.clone()].to_owned()))
    };
    let mask = |line: &str| -> String {
        match span(line).filter(|r| r.start <= r.end && line.get(r.clone()).is_some()) {
            Some(r) => format!("{}{MASKED}{}", &line[..r.start], &line[r.end..]),
            None => line.to_owned(),
        }
    };
    let old: BTreeMap<String, String> = before.lines().filter_map(split).collect();
    let mut masked_before = join(before.lines().map(mask), before);
    let mut masked_after = join(
        after.lines().map(|line| match split(line) {
            Some((key, value)) if old.get(&key).is_some_and(|v| *v != value) => {
                format!("{}{WILL_CHANGE}", mask(line))
            }
            _ => mask(line),
        }),
        after,
    );
    if masked_before == masked_after && before != after {
        if !masked_after.is_empty() && !masked_after.ends_with('\n') {
            masked_after.push('\n');
        }
        masked_after.push_str("# a secret value (will change)\n");
    }
    if before.is_empty() {
        masked_before.clear();
    }
    (masked_before, masked_after)
}

/// Lines joined with `\n`, with a final newline when the original had one.
fn join(lines: impl Iterator<Item = String>, original: &str) -> String {
    let mut out = lines.collect::<Vec<_>>().join("\n");
    if original.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The span of the value after `key` + `sep` at the start of a line (after indentation):
/// `value_after(line, "password", '=')` for `password = x` or `password=x`.
pub fn value_after(line: &str, key: &str, sep: char) -> Option<Range<usize>> {
    let indent = line.len() - line.trim_start().len();
    let rest = line[indent..].strip_prefix(key)?;
    let gap = rest.len() - rest.trim_start().len();
    let rest = rest.trim_start().strip_prefix(sep)?;
    let start = indent + key.len() + gap + 1 + (rest.len() - rest.trim_start().len());
    let end = line.trim_end().len().max(start);
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(line: &str) -> Option<Range<usize>> {
        value_after(line, "password", '=')
    }

    #[test]
    fn secrets_are_masked_on_both_sides() {
        let (b, a) = mask_secrets(
            "a = 1\npassword = old-one\n",
            "a = 2\npassword = old-one\n",
            ini,
        );
        assert_eq!(b, "a = 1\npassword = ********\n");
        assert_eq!(a, "a = 2\npassword = ********\n");
    }

    #[test]
    fn a_secret_only_change_says_will_change() {
        let (b, a) = mask_secrets("password=old-one\n", "password=new-one\n", ini);
        assert_eq!(b, "password=********\n");
        assert_eq!(a, "password=******** (will change)\n");
        assert_ne!(a, b);
        assert!(!a.contains("new-one") && !b.contains("old-one"));
    }

    #[test]
    fn masked_texts_never_read_the_same_for_a_real_change() {
        // Two secrets swapped between duplicate keys.
        let (b, a) = mask_secrets(
            "password=x1\npassword=x2\n",
            "password=x2\npassword=x1\n",
            ini,
        );
        assert_ne!(a, b);
        assert!(!a.contains("x1") && !a.contains("x2") && !b.contains("x1"));
        let (b, a) = mask_secrets("x\n", "x\n", ini);
        assert_eq!(a, b);
    }

    #[test]
    fn value_after_finds_the_value_span() {
        assert_eq!(
            value_after("  password = abc  ", "password", '='),
            Some(13..16)
        );
        assert_eq!(value_after("password=abc", "password", '='), Some(9..12));
        assert_eq!(value_after("passwords=abc", "password", '='), None);
        assert_eq!(value_after("password=", "password", '='), Some(9..9));
    }
}
