//! Phase timings for people working on infra's speed: with `INFRA_TIMINGS=1`, each phase of
//! a command prints `infra timing: PHASE +MS (total MS, RSS MB, at UNIX-SECONDS)` to standard
//! error as it ends (the resident memory where Linux says it; the wall clock, to compare with
//! a harness's). Off, a mark costs one relaxed load.

use std::{
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicU8, Ordering},
    },
    time::Instant,
};

/// 0: not asked yet, 1: off, 2: on.
static ENABLED: AtomicU8 = AtomicU8::new(0);
static LAST: OnceLock<Mutex<(Instant, Instant)>> = OnceLock::new();

/// Marks the end of `phase`.
#[allow(clippy::print_stderr)]
pub(crate) fn mark(phase: &str) {
    let enabled = match ENABLED.load(Ordering::Relaxed) {
        0 => {
            #[allow(clippy::disallowed_methods)]
            let on = std::env::var_os("INFRA_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0");
            ENABLED.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        state => state == 2,
    };
    if !enabled {
        return;
    }
    let now = Instant::now();
    let last = LAST.get_or_init(|| Mutex::new((now, now)));
    if let Ok(mut last) = last.lock() {
        let (start, previous) = *last;
        // The wall clock too, for a harness that measures what happens before `main` and
        // after it (the process's start and exit).
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        eprintln!(
            "infra timing: {phase} +{:.1} ms (total {:.1} ms{}, at {at:.6})",
            (now - previous).as_secs_f64() * 1e3,
            (now - start).as_secs_f64() * 1e3,
            resident().map(|mb| format!(", {mb} MB")).unwrap_or_default()
        );
        *last = (start, now);
    }
}

/// The process's resident memory in MB.
fn resident() -> Option<u64> {
    crate::io::resident_bytes().map(|bytes| bytes >> 20)
}
