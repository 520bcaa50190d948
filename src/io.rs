//! The real `EvalIo`: the file system, the process environment and stderr for traces.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use evaluator::EvalIo;

/// The real file system and environment. Keeps the blake3 of every file it read, for the
/// evaluation cache.
#[derive(Clone, Default)]
pub(crate) struct RealIo {
    pub(crate) read: Arc<Mutex<BTreeMap<PathBuf, String>>>,
}

impl EvalIo for RealIo {
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let bytes = std::fs::read(path)?;
        if let Ok(mut read) = self.read.lock() {
            read.insert(path.to_path_buf(), blake3::hash(&bytes).to_hex().to_string());
        }
        Ok(bytes)
    }

    fn path_exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(String, &'static str)>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let file_type = entry.file_type()?;
            let kind = if file_type.is_symlink() {
                "symlink"
            } else if file_type.is_dir() {
                "directory"
            } else if file_type.is_file() {
                "regular"
            } else {
                "unknown"
            };
            entries.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        Ok(entries)
    }

    #[allow(clippy::disallowed_methods)]
    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    #[allow(clippy::print_stderr)]
    fn trace(&self, message: &str) {
        eprintln!("{message}");
    }

    fn memory(&self) -> Option<(u64, u64)> {
        let limit = (*memory_limit())?;
        Some((resident_bytes()?, limit))
    }

    fn allocated(&self) -> usize {
        alloc_shim::allocated()
    }
}

/// The most memory an evaluation may hold: `INFRA_MAX_MEMORY` (bytes, or with a `K`, `M`, `G`
/// or `T` suffix in powers of 1024; `off` for no limit), else three quarters of the memory the
/// process may use (the machine's, or its control group's when smaller). Read once.
#[allow(clippy::disallowed_methods, clippy::print_stderr)]
fn memory_limit() -> &'static Option<u64> {
    static LIMIT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    LIMIT.get_or_init(|| {
        if let Ok(text) = std::env::var("INFRA_MAX_MEMORY") {
            match parse_size(&text) {
                Ok(limit) => return limit,
                Err(()) => eprintln!(
                    "warning: INFRA_MAX_MEMORY={text:?} is not a size (like `8G`, `512M` or \
                     `off`); using the default limit"
                ),
            }
        }
        let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
        });
        let group = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        let usable = match (machine, group) {
            (Some(m), Some(g)) => m.min(g),
            (m, g) => m.or(g)?,
        };
        Some(usable / 4 * 3)
    })
}

/// `8G`, `512M`, `1024K`, `123` (bytes), `off`: `Ok(None)` for no limit.
fn parse_size(text: &str) -> Result<Option<u64>, ()> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") || text == "0" {
        return Ok(None);
    }
    let upper = text.to_ascii_uppercase();
    let number = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match number.chars().last() {
        Some('K') => (&number[..number.len() - 1], 10),
        Some('M') => (&number[..number.len() - 1], 20),
        Some('G') => (&number[..number.len() - 1], 30),
        Some('T') => (&number[..number.len() - 1], 40),
        _ => (number, 0),
    };
    let value: u64 = digits.trim().parse().map_err(|_| ())?;
    value.checked_mul(1 << shift).map(Some).ok_or(())
}

/// The process's resident memory now (Linux: `VmRSS` of /proc/self/status).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn memory_sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("8G"), Ok(Some(8 << 30)));
        assert_eq!(parse_size("512m"), Ok(Some(512 << 20)));
        assert_eq!(parse_size("1536MiB"), Ok(Some(1536 << 20)));
        assert_eq!(parse_size(" 4096 "), Ok(Some(4096)));
        assert_eq!(parse_size("off"), Ok(None));
        assert_eq!(parse_size("0"), Ok(None));
        assert_eq!(parse_size("lots"), Err(()));
        assert_eq!(parse_size("99999999999T"), Err(()));
    }
}
