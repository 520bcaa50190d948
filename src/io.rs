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

/// The most memory an evaluation may hold: `INFRA_MAX_MEMORY` (`8G`, `512M`: a number of
/// bytes, or of KiB, MiB, GiB or TiB with `K`, `M`, `G`, `T`; at least 1 MiB; `off` for no
/// limit), else three quarters of the memory the process may use (the machine's, or its
/// control group's when smaller). Read once; a value that is no size is warned about and the
/// default used.
#[allow(clippy::disallowed_methods, clippy::print_stderr)]
fn memory_limit() -> &'static Option<u64> {
    static LIMIT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    LIMIT.get_or_init(|| {
        if let Ok(text) = std::env::var("INFRA_MAX_MEMORY") {
            match parse_size(&text) {
                Ok(limit) => return limit,
                Err(()) => eprintln!(
                    "warning: INFRA_MAX_MEMORY={text:?} is not a size of at least 1M (like \
                     `8G` or `512M`) nor `off`; using the default limit"
                ),
            }
        }
        let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
        });
        let usable = match (machine, group_limit()) {
            (Some(m), Some(g)) => m.min(g),
            (m, g) => m.or(g)?,
        };
        Some(usable / 4 * 3)
    })
}

/// The memory limit of the process's control group: the smallest `memory.max` from its
/// group up to the root (cgroup v2), or `memory.limit_in_bytes` of its memory group (v1).
fn group_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read = |path: &Path| std::fs::read_to_string(path).ok()?.trim().parse::<u64>().ok();
    for line in groups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            // v2: a limit of `max` (no number) does not count.
            let mut dir = PathBuf::from("/sys/fs/cgroup").join(path);
            let mut least: Option<u64> = None;
            loop {
                if let Some(limit) = read(&dir.join("memory.max")) {
                    least = Some(least.map_or(limit, |l| l.min(limit)));
                }
                if dir == Path::new("/sys/fs/cgroup") || !dir.pop() {
                    break;
                }
            }
            return least;
        }
        if controllers.split(',').any(|c| c == "memory") {
            let file =
                PathBuf::from("/sys/fs/cgroup/memory").join(path).join("memory.limit_in_bytes");
            // v1 says "no limit" with a huge number.
            return read(&file).filter(|&limit| limit < 1 << 60);
        }
    }
    None
}

/// `8G`, `512M`, `1536MiB`, `1048576` (bytes), `off`: `Ok(None)` for no limit. A size below
/// 1 MiB is refused (messages count in MiB; a smaller limit would stop every evaluation).
fn parse_size(text: &str) -> Result<Option<u64>, ()> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let upper = text.to_ascii_uppercase();
    let number = upper.strip_suffix("IB").or_else(|| upper.strip_suffix('B')).unwrap_or(&upper);
    let (digits, shift) = match number.chars().last() {
        Some('K') => (&number[..number.len() - 1], 10),
        Some('M') => (&number[..number.len() - 1], 20),
        Some('G') => (&number[..number.len() - 1], 30),
        Some('T') => (&number[..number.len() - 1], 40),
        _ => (number, 0),
    };
    let value: u64 = digits.trim().parse().map_err(|_| ())?;
    match value.checked_mul(1 << shift) {
        Some(bytes) if bytes >= 1 << 20 => Ok(Some(bytes)),
        _ => Err(()),
    }
}

/// The process's resident memory now, in bytes (Linux: `VmRSS` of /proc/self/status, in kB
/// whatever the page size): for the memory limit and for `INFRA_TIMINGS`.
pub(crate) fn resident_bytes() -> Option<u64> {
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
        assert_eq!(parse_size("2048KB"), Ok(Some(2 << 20)));
        assert_eq!(parse_size(" 4194304 "), Ok(Some(4 << 20)));
        assert_eq!(parse_size("OFF"), Ok(None));
        // Below 1 MiB (zero included) is no limit anyone means.
        assert_eq!(parse_size("0"), Err(()));
        assert_eq!(parse_size("0G"), Err(()));
        assert_eq!(parse_size("200K"), Err(()));
        assert_eq!(parse_size("8BBB"), Err(()));
        assert_eq!(parse_size("lots"), Err(()));
        assert_eq!(parse_size("99999999999T"), Err(()));
    }
}
