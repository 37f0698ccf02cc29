//! A line diff in unified form, for messages and the CLI (Ansible renders diff mode itself).

/// Unified diff of two texts with `context` lines around each change; empty when equal.
pub fn unified(before: &str, after: &str, label: &str, context: usize) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let ops = line_ops(&a, &b);
    if ops.iter().all(|op| matches!(op, Op::Same(..))) {
        return String::new();
    }
    let mut out = format!("--- {label} (before)\n+++ {label} (after)\n");
    // Group changes into hunks that share context.
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut start = 0;
    while start < changed.len() {
        let mut end = start;
        while end + 1 < changed.len() && changed[end + 1] - changed[end] <= 2 * context + 1 {
            end += 1;
        }
        let lo = changed[start].saturating_sub(context);
        let hi = (changed[end] + context + 1).min(ops.len());
        let (a0, b0) = positions(&ops[..lo]);
        let (an, bn) = positions(&ops[lo..hi]);
        out.push_str(&format!("@@ -{},{an} +{},{bn} @@\n", a0 + 1, b0 + 1));
        for op in &ops[lo..hi] {
            match op {
                Op::Same(l) => out.push_str(&format!(" {l}\n")),
                Op::Del(l) => out.push_str(&format!("-{l}\n")),
                Op::Add(l) => out.push_str(&format!("+{l}\n")),
            }
        }
        start = end + 1;
    }
    out
}

#[derive(Debug, PartialEq)]
enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

fn positions(ops: &[Op]) -> (usize, usize) {
    ops.iter().fold((0, 0), |(a, b), op| match op {
        Op::Same(_) => (a + 1, b + 1),
        Op::Del(_) => (a + 1, b),
        Op::Add(_) => (a, b + 1),
    })
}

/// Longest-common-subsequence line diff; config files are small enough for O(n·m).
fn line_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::with_capacity(n + m));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Del(a[i]));
            i += 1;
        } else {
            ops.push(Op::Add(b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "f", 3), "");
    }

    #[test]
    fn changed_line_shows_as_delete_and_add_with_context() {
        let d = unified("a\nb\nc\nd\n", "a\nB\nc\nd\n", "f", 1);
        assert_eq!(
            d,
            "--- f (before)\n+++ f (after)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
    }

    #[test]
    fn distant_changes_make_two_hunks() {
        let before: String = (0..20).map(|i| format!("l{i}\n")).collect();
        let after = before.replace("l2\n", "x\n").replace("l17\n", "y\n");
        let d = unified(&before, &after, "f", 2);
        assert_eq!(d.matches("@@").count(), 4, "{d}");
    }
}
