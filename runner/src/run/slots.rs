//! Process slots handed out by priority: when a slot frees up, the waiting step with the
//! longest chain of work still behind it gets it (ties: first come). FIFO slots would let a
//! crowd of independent leaves delay the critical path; this keeps a run close to the
//! critical-path bound.

use std::{
    cmp::Ordering,
    collections::BinaryHeap,
    sync::{Arc, Mutex},
};

use tokio::sync::oneshot;

pub(crate) struct Slots {
    state: Mutex<State>,
}

struct State {
    free: usize,
    next: u64,
    waiting: BinaryHeap<Waiter>,
}

struct Waiter {
    priority: usize,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Waiter) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Waiter) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// Higher priority first, then the earlier arrival.
    fn cmp(&self, other: &Waiter) -> Ordering {
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A held slot; dropping it hands the slot to the best waiter.
pub(crate) struct Slot {
    slots: Arc<Slots>,
}

impl Slots {
    pub(crate) fn new(count: usize) -> Arc<Slots> {
        Arc::new(Slots {
            state: Mutex::new(State { free: count.max(1), next: 0, waiting: BinaryHeap::new() }),
        })
    }

    pub(crate) async fn acquire(self: &Arc<Self>, priority: usize) -> Slot {
        let receiver = {
            let Ok(mut state) = self.state.lock() else { return Slot { slots: self.clone() } };
            if state.free > 0 && state.waiting.is_empty() {
                state.free -= 1;
                return Slot { slots: self.clone() };
            }
            let (wake, receiver) = oneshot::channel();
            let seq = state.next;
            state.next += 1;
            state.waiting.push(Waiter { priority, seq, wake });
            receiver
        };
        // The slot is handed over by `release`; a dropped sender cannot happen while `self`
        // lives, and either way the caller proceeds.
        let _ = receiver.await;
        Slot { slots: self.clone() }
    }

    fn release(&self) {
        let Ok(mut state) = self.state.lock() else { return };
        while let Some(waiter) = state.waiting.pop() {
            if waiter.wake.send(()).is_ok() {
                return;
            }
        }
        state.free += 1;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_highest_priority_waiter_goes_first() {
        let slots = Slots::new(1);
        let held = slots.acquire(0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for priority in [1, 5, 3] {
            let (slots, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire(priority).await;
                order.lock().expect("lock").push(priority);
            }));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(held);
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(*order.lock().expect("lock"), [5, 3, 1]);
    }
}
