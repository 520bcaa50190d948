//! "Did you mean …?": the nearest name within a small edit distance (Levenshtein, on
//! characters). Shared by every message about a name that does not exist: variables,
//! attributes, template keys, inputs and outputs, and (through the runner and the binary)
//! component addresses.

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
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
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
    }
}
