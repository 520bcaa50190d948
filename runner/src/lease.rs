//! The estate lock in a shared cache (`--lock cache`): runs from several machines on one
//! estate take turns. `RemoteLock::take` waits for the lease (`store::cache::lock`), then a
//! thread renews it every third of its length until the lock is dropped, which releases it.
//! A holder that dies stops renewing, and the next contender takes the lock over once the
//! lease has expired.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use store::cache::{
    RemoteCache,
    lock::{Attempt, Lease, release, renew, try_take},
    open_cache,
};

/// The key of the estate's lock.
pub const ESTATE_LOCK: &str = "locks/estate";

/// A held lock; dropping it releases it.
pub struct RemoteLock {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    lost: Arc<AtomicBool>,
    /// The expired lease this holding replaced (its holder died or was cut off).
    pub took_over: Option<Lease>,
}

impl RemoteLock {
    /// Takes the lock at `url` for `holder`, waiting up to `timeout` for it; `token` is unique
    /// to this run. `waiting` hears who holds it while we wait (once per holder).
    pub fn take(
        url: &str,
        holder: &str,
        token: &str,
        lease: Duration,
        timeout: Duration,
        mut waiting: impl FnMut(&Lease),
    ) -> Result<RemoteLock, String> {
        let cache: Arc<dyn RemoteCache> = Arc::from(open_cache(url).map_err(|e| e.to_string())?);
        let runtime = runtime()?;
        let lease_secs = lease.as_secs().max(3);
        let deadline = Instant::now().checked_add(timeout);
        let mut last_holder = None;
        let since = now();
        let (version, took_over) = loop {
            let now = now();
            let wanted = Lease {
                holder: holder.to_owned(),
                token: token.to_owned(),
                since,
                expires: now + lease_secs,
            };
            match runtime.block_on(try_take(cache.as_ref(), ESTATE_LOCK, &wanted, now)) {
                Err(e) => return Err(format!("cannot take the lock in `{url}`: {e}")),
                Ok(Attempt::Taken { version, expired }) => break (version, expired),
                Ok(Attempt::Raced) => continue,
                Ok(Attempt::Held(held)) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(format!(
                            "`{url}` is locked by {} since {} (its lease runs until {})",
                            held.holder,
                            crate::time::utc(held.since),
                            crate::time::utc(held.expires),
                        ));
                    }
                    if last_holder.as_ref() != Some(&held.token) {
                        waiting(&held);
                        last_holder = Some(held.token.clone());
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let lost = Arc::new(AtomicBool::new(false));
        let (holder, token, lost_flag) = (holder.to_owned(), token.to_owned(), lost.clone());
        let thread = std::thread::spawn(move || {
            let mut version = version;
            let every = Duration::from_secs(lease_secs / 3).max(Duration::from_secs(1));
            // Renew until told to stop (or the lock is dropped), then release.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let now = now();
                let lease = Lease {
                    holder: holder.clone(),
                    token: token.clone(),
                    since,
                    expires: now + lease_secs,
                };
                match runtime.block_on(renew(cache.as_ref(), ESTATE_LOCK, &lease, &version)) {
                    Ok(Some(new)) => version = new,
                    Ok(None) => {
                        lost_flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(_) => {} // a network blip: try again at the next beat
                }
            }
            let _ = runtime.block_on(release(cache.as_ref(), ESTATE_LOCK, &token));
        });
        Ok(RemoteLock { stop: Some(stop), thread: Some(thread), lost, took_over })
    }

    /// Whether the lock was lost while held (renewals failed until its lease expired and
    /// someone took it over).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the lock's runtime: {e}"))
}
