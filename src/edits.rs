//! How far one name is from another, for "did you mean" advice.
//!
//! The variables start-up reads and the keys a message carries are both checked for near
//! misses of the product's own names. One measure serves both, so that what counts as a slip of
//! the fingers is the same wherever a name is typed.

/// The edits from `a` to `b`, when at most `limit`: inserts, deletes, replaces and swaps of
/// neighbours (optimal string alignment), a swap counting as one, since `MACHIEN_TYPE` is one
/// slip from `MACHINE_TYPE`, not two. Lengths further apart than `limit` are answered before
/// any table is built, so a name of any length is cheap to judge.
pub fn within<T: PartialEq>(a: &[T], b: &[T], limit: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    // Rows i-2, i-1 and i of the table of distances between prefixes.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let change = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + change);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    Some(last[b.len()]).filter(|edits| *edits <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edits(a: &str, b: &str, limit: usize) -> Option<usize> {
        within(a.as_bytes(), b.as_bytes(), limit)
    }

    #[test]
    fn each_kind_of_edit_counts_once() {
        for (a, b, expected) in [
            ("parameters", "parameters", 0),
            ("paramters", "parameters", 1),
            ("parametres", "parameters", 1),
            ("profiel", "profile", 1),
            ("profil", "profile", 1),
            ("profiles", "profile", 1),
            ("prfle", "profile", 2),
            ("overides", "overrides", 1),
            ("MACHIEN_TYPE", "MACHINE_TYPE", 1),
            ("MACHINE_TYPES", "MACHINE_TYPE", 1),
            ("MASHNE_TYPE", "MACHINE_TYPE", 2),
            ("HOME", "HOST", 2),
            ("ABC", "CA", 3),
            ("", "PORT", 4),
        ] {
            assert_eq!(edits(a, b, 4), Some(expected), "{a}");
        }
        assert_eq!(edits("profit", "profile", 1), None);
        assert_eq!(edits(&"x".repeat(100_000), "action", 2), None);
    }
}
