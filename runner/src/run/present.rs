//! What a run finds on disk as it begins, read at once rather than node by node: the
//! selected nodes' records (in parallel), and which of them have a failure note or a kept
//! plan (a listing of each stack's directories). A no-op plan of 10,000 nodes spent a third
//! of its time asking for these one node at a time.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use crate::{layout::Layout, record::RecordHead};

/// The heads of the records of `selected` (those that exist), read in parallel: a no-op plan
/// of 10,000 nodes spent a seventh of its time reading them one after another.
pub(super) fn prefetch_records(root: &Path, selected: &[String]) -> BTreeMap<String, RecordHead> {
    use rayon::prelude::*;
    let read = |address: &String| {
        crate::record::read_head(root, address).map(|head| (address.clone(), head))
    };
    // A few are read here: starting the thread pool would cost more.
    match selected.len() {
        0..=64 => selected.iter().filter_map(read).collect(),
        _ => selected.par_iter().filter_map(read).collect(),
    }
}

/// The failure notes and kept plans of the selected nodes when the run began, from a listing
/// of each stack's directories: an up-to-date node clears both, and asking the file system
/// for each of 10,000 nodes was a tenth of a no-op run. (The project lock keeps other runs
/// out; this run adds what it writes itself after this listing.)
#[derive(Debug, Default)]
pub(crate) struct Present {
    pub(crate) failures: BTreeSet<String>,
    pub(crate) plans: BTreeSet<String>,
}

impl Present {
    pub(super) fn list(layout: &Layout, selected: &[String]) -> Present {
        let stacks: BTreeSet<&str> =
            selected.iter().filter_map(|a| a.split_once('/').map(|(s, _)| s)).collect();
        let mut present = Present::default();
        for stack in stacks {
            // `records/STACK/NAME.failed` (see `Layout::failure`).
            present.failures.extend(
                store::fsutil::names(&layout.records().join(stack))
                    .iter()
                    .filter_map(|n| n.strip_suffix(".failed"))
                    .map(|n| format!("{stack}/{n}")),
            );
            present.plans.extend(
                store::fsutil::names(&layout.plans().join(stack))
                    .iter()
                    .map(|n| format!("{stack}/{n}")),
            );
        }
        present
    }
}
