//! The estate lock in a shared cache (`--lock cache`): runs from several machines on one
//! estate take turns. `RemoteLock::take` waits for the lease (`store::cache::lock`), then a
//! thread renews it every third of its length until the lock is dropped, which releases it.
//! A holder that dies stops renewing, and the next contender takes the lock over once the
//! lease has expired. A holder that cannot renew in time (the cache did not answer until its
//! lease ran out) has lost the lock: `lost_flag` is set, and the run it guards stops as on
//! Ctrl-C.

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
    lock::{Attempt, Lease, release, renew, try_take, version_if_ours},
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
        let wanted = |now: u64| Lease {
            holder: holder.to_owned(),
            token: token.to_owned(),
            since,
            expires: now.saturating_add(lease_secs),
        };
        let (version, took_over) = loop {
            let now = now();
            let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
            match runtime.block_on(try_take(cache.as_ref(), ESTATE_LOCK, &wanted(now), now)) {
                Err(e) => return Err(format!("cannot take the lock in `{url}`: {e}")),
                Ok(Attempt::Taken { version, expired }) => break (version, expired),
                Ok(Attempt::Raced) if timed_out => {
                    return Err(format!("the lock in `{url}` kept changing while we took it"));
                }
                Ok(Attempt::Raced) => std::thread::sleep(Duration::from_millis(100)),
                Ok(Attempt::Held(held)) => {
                    if timed_out {
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
        let lost_flag = lost.clone();
        let first = wanted(now());
        let thread = std::thread::spawn(move || {
            let mut version = version;
            let mut lease = first;
            let every = Duration::from_secs(lease_secs / 3).max(Duration::from_secs(1));
            let mut pause = every;
            // Renew until told to stop (or the lock is dropped), then release.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(pause) {
                let renewed = Lease { expires: now().saturating_add(lease_secs), ..lease.clone() };
                let outcome = runtime.block_on(async {
                    match renew(cache.as_ref(), ESTATE_LOCK, &renewed, &version).await {
                        Ok(Some(new)) => Ok(Some(new)),
                        // Refused, or no answer: a renewal whose answer was lost still wrote
                        // our lease, under a version we have not seen; is it still ours?
                        _ => match version_if_ours(cache.as_ref(), ESTATE_LOCK, &renewed.token)
                            .await
                        {
                            Ok(Some(current)) => {
                                renew(cache.as_ref(), ESTATE_LOCK, &renewed, &current).await
                            }
                            Ok(None) => Ok(None),
                            Err(e) => Err(e),
                        },
                    }
                });
                match outcome {
                    Ok(Some(new)) => {
                        version = new;
                        lease = renewed;
                        pause = every;
                    }
                    // Someone else holds it: it expired and was taken over.
                    Ok(None) => {
                        lost_flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    // The cache did not answer: try again soon, until the lease we hold runs
                    // out, after which another machine may take it.
                    Err(_) if now() >= lease.expires => {
                        lost_flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(_) => pause = Duration::from_secs(1),
                }
            }
            let _ = runtime.block_on(release(cache.as_ref(), ESTATE_LOCK, &lease, &version));
        });
        Ok(RemoteLock { stop: Some(stop), thread: Some(thread), lost, took_over })
    }

    /// Set once the lock is lost while held (it could not be renewed before its lease ran
    /// out, and may now be someone else's): the run it guards must stop (`RunOptions::cancel`).
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
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
