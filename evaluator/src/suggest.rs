//! "Did you mean …?": the nearest name within a small edit distance (Levenshtein on
//! characters, a swap of two neighbours counting as one edit: `cdir` for `cidr`). Shared by
//! every message about a name that does not exist: variables, attributes, template keys,
//! inputs and outputs, and (through the runner and the binary) component addresses.

/// The closest candidate within a small edit distance, for "did you mean".
pub fn did_you_mean<'n>(name: &str, candidates: impl Iterator<Item = &'n str>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table: the one before last (for swaps), the last, the current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j - 1] + cost).min(row[j - 1] + 1).min(last[j] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[track_caller]
    fn check(name: &str, candidates: &[&str], expected: Option<&str>) {
        assert_eq!(did_you_mean(name, candidates.iter().copied()).as_deref(), expected);
    }

    #[test]
    fn nearest_close_name() {
        check("dev/clustr", &["dev/cluster", "dev/network", "prod/cluster"], Some("dev/cluster"));
        check("network_idd", &["network_id", "cidr_block"], Some("network_id"));
        check("vpc", &["gke", "dns"], None);
        check("x", &["x"], None);
        // A swap of two neighbours is one edit.
        check("cdir", &["name", "cidr"], Some("cidr"));
        check("ab", &["ba"], Some("ba"));
        check("abc", &["cba"], None);
    }
}
