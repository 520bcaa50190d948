//! Process slots handed out by priority: when a slot frees up, the waiting component with the
//! longest chain of work still behind it gets it (ties: first come). FIFO slots would let a
//! crowd of independent leaves delay the critical path; this keeps a run close to the
//! critical-path bound.
//!
//! Slots are gated: a component that has just become ready (at the start, or when the last
//! one it waits for finishes, before that one frees its slot) holds a `StartTicket`, and no
//! slot is handed out while a ticket is out — it arrives at `acquire`, or is dropped by a
//! component that needed no process. Without the gate a freed slot goes to whichever waiting
//! leaf asked first, while the next component of the critical path is still preparing.

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
    /// Start tickets still out: while any is, slots are not handed out.
    gate: usize,
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
    fn cmp(&self, other: &Waiter) -> Ordering {
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A held slot; dropping it frees it.
pub(crate) struct Slot {
    slots: Arc<Slots>,
}

/// Held by a component that can start at once; it arrives at `acquire`, or when dropped.
pub(crate) struct StartTicket {
    slots: Option<Arc<Slots>>,
}

impl Slots {
    pub(crate) fn new(count: usize) -> Arc<Slots> {
        Arc::new(Slots {
            state: Mutex::new(State {
                free: count.max(1),
                next: 0,
                waiting: BinaryHeap::new(),
                gate: 0,
            }),
        })
    }

    /// A ticket for a component that is ready now: no slot is handed out until it arrives.
    pub(crate) fn ticket(self: &Arc<Self>) -> StartTicket {
        if let Ok(mut state) = self.state.lock() {
            state.gate += 1;
        }
        StartTicket { slots: Some(self.clone()) }
    }

    /// Waits for a slot; `ticket` (the component's start ticket, if it still has it) arrives.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        priority: usize,
        ticket: Option<StartTicket>,
    ) -> Slot {
        let receiver = {
            let Ok(mut state) = self.state.lock() else { return Slot { slots: self.clone() } };
            if let Some(mut ticket) = ticket
                && ticket.slots.take().is_some()
            {
                state.gate = state.gate.saturating_sub(1);
            }
            if state.gate == 0 && state.free > 0 && state.waiting.is_empty() {
                state.free -= 1;
                return Slot { slots: self.clone() };
            }
            let (wake, receiver) = oneshot::channel();
            let seq = state.next;
            state.next += 1;
            state.waiting.push(Waiter { priority, seq, wake });
            dispatch(&mut state);
            receiver
        };
        let _ = receiver.await;
        Slot { slots: self.clone() }
    }

    fn release(&self) {
        let Ok(mut state) = self.state.lock() else { return };
        state.free += 1;
        dispatch(&mut state);
    }

    fn arrive(&self) {
        let Ok(mut state) = self.state.lock() else { return };
        state.gate = state.gate.saturating_sub(1);
        dispatch(&mut state);
    }
}

/// Once the gate is open, hands the free slots to the highest waiters.
fn dispatch(state: &mut State) {
    if state.gate > 0 {
        return;
    }
    while state.free > 0 {
        let Some(waiter) = state.waiting.pop() else { break };
        if waiter.wake.send(()).is_ok() {
            state.free -= 1;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release();
    }
}

impl Drop for StartTicket {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.arrive();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gate_hands_out_slots_by_priority_once_every_starter_arrived() {
        let slots = Slots::new(1);
        let (low, high, idle) = (slots.ticket(), slots.ticket(), slots.ticket());
        let order = Arc::new(Mutex::new(Vec::new()));
        let take = |priority: usize, ticket: StartTicket| {
            let (slots, order) = (slots.clone(), order.clone());
            tokio::spawn(async move {
                let slot = slots.acquire(priority, Some(ticket)).await;
                order.lock().expect("lock").push(priority);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                drop(slot);
            })
        };
        // The low-priority starter arrives first; the slot waits for the others.
        let a = take(1, low);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(order.lock().expect("lock").is_empty(), "the gate is closed");
        let b = take(5, high);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(order.lock().expect("lock").is_empty(), "one ticket is still out");
        drop(idle); // a starter that needed no process
        let _ = (a.await, b.await);
        assert_eq!(*order.lock().expect("lock"), vec![5, 1]);
    }
}
