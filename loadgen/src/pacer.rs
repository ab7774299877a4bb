//! Waking a task at an instant, to tens of microseconds, without keeping a
//! core busy. Tokio's timer fires on millisecond ticks, which would bunch
//! the sends of 10,000 requests/s ten to a tick; spinning each task for the
//! last milliseconds instead costs a core at 1,000 requests/s. So a task
//! sleeps on tokio's timer until shortly before its instant, then hands the
//! rest to one pacer thread, which sleeps until the earliest instant any
//! task waits for, spins only its last stretch, and wakes that task.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How early tokio's timer hands a wait to the pacer: more than its tick.
const TIMER_SLACK: Duration = Duration::from_millis(2);
/// How early the pacer thread stops sleeping and spins: about a thread's
/// usual oversleep on Linux (the default timer slack is 50 µs). At 1,000
/// requests/s it spins a twentieth of the time at most.
const SPIN: Duration = Duration::from_micros(50);

/// Returns at `at`, or at once when it has passed.
pub async fn wait_until(at: Instant) {
    let now = Instant::now();
    if at <= now {
        return;
    }
    if at > now + TIMER_SLACK {
        tokio::time::sleep_until((at - TIMER_SLACK).into()).await;
    }
    let (wake, woken) = oneshot::channel();
    pacer().add(at, wake);
    // The pacer never drops a waiter unanswered; if it did, returning at
    // once is the safe way to be wrong.
    let _ = woken.await;
}

struct Waiter {
    at: Instant,
    order: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

#[derive(Default)]
struct Queue {
    waiters: BinaryHeap<Reverse<Waiter>>,
    added: u64,
}

struct Pacer {
    queue: Mutex<Queue>,
    /// Signalled when a waiter is due earlier than every other.
    earlier: Condvar,
}

fn pacer() -> &'static Pacer {
    static PACER: OnceLock<&'static Pacer> = OnceLock::new();
    PACER.get_or_init(|| {
        let pacer: &'static Pacer = Box::leak(Box::new(Pacer {
            queue: Mutex::new(Queue::default()),
            earlier: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("scar-pacer".to_string())
            .spawn(move || pacer.run())
            .expect("a thread starts");
        pacer
    })
}

impl Pacer {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, at: Instant, wake: oneshot::Sender<()>) {
        let mut queue = self.lock();
        let earliest = queue.waiters.peek().is_none_or(|Reverse(w)| at < w.at);
        let order = queue.added;
        queue.added += 1;
        queue.waiters.push(Reverse(Waiter { at, order, wake }));
        drop(queue);
        if earliest {
            self.earlier.notify_one();
        }
    }

    fn run(&self) {
        let mut queue = self.lock();
        loop {
            let Some(Reverse(next)) = queue.waiters.peek() else {
                queue = self.earlier.wait(queue).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let at = next.at;
            let now = Instant::now();
            if at <= now {
                let Reverse(due) = queue.waiters.pop().expect("peeked");
                let _ = due.wake.send(());
                continue;
            }
            if at - now > SPIN {
                queue = self
                    .earlier
                    .wait_timeout(queue, at - now - SPIN)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            // Waiters added meanwhile wait at most this short stretch.
            drop(queue);
            while Instant::now() < at {
                std::hint::spin_loop();
            }
            queue = self.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_wake_in_order_at_their_instant_not_before() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let start = Instant::now() + Duration::from_millis(5);
        // Added out of order, some far enough for tokio's timer, one passed.
        let offsets_us = [3_000u64, 100, 9_000, 700, 0, 2_500];
        let woke = runtime.block_on(async {
            let waits = offsets_us.iter().map(|&us| async move {
                let at = start + Duration::from_micros(us);
                wait_until(at).await;
                (us, Instant::now())
            });
            futures::future::join_all(waits).await
        });
        for (us, when) in woke {
            let at = start + Duration::from_micros(us);
            assert!(when >= at, "woke {:?} before {us} µs", at - when);
        }
        let passed = Instant::now() - Duration::from_millis(1);
        runtime.block_on(wait_until(passed));
    }
}
