//! [`Wakeups`]: when a worker looks for due jobs — at once when this process pushed one, and
//! every `interval` for the rest (another process's pushes, delayed jobs coming due).
//!
//! apalis-core 1.0's own `IntervalStrategy` creates its next timer when one fires but does not
//! poll it, so no waker is registered: after its first tick the interval stays silent until
//! something else wakes the worker — in practice the 30 s heartbeat, which is how a 100 ms retry
//! came to wait 30 s (issue #13, fault 1). Its multi-strategy also stops at the first ready
//! strategy. This strategy drains every source until each is `Pending`, so each has a waker
//! registered for its next event whenever it returns.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};
use futures::{Stream, StreamExt};
use tokio::sync::Notify;
use tokio::time::{Interval, MissedTickBehavior};

type Signal = Pin<Box<dyn Stream<Item = ()> + Send + Sync>>;

/// Polls on every notification of an in-process signal and every `interval`.
pub struct Wakeups {
    interval: Interval,
    signal: Option<Signal>,
}

impl Wakeups {
    /// Wakes every `interval`, and on each notification of `signal` (a stored permit included).
    ///
    /// Must be created inside a Tokio runtime (it holds a Tokio timer).
    pub fn new(interval: Duration, signal: Option<Arc<Notify>>) -> Self {
        let mut interval = tokio::time::interval(interval);
        // A worker busy for a while needs one poll afterwards, not a burst of missed ticks.
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { interval, signal: signal.map(notifications) }
    }
}

/// A stream that yields once per notification of `signal`.
fn notifications(signal: Arc<Notify>) -> Signal {
    Box::pin(futures::stream::unfold(signal, |signal| async move {
        signal.notified().await;
        Some(((), signal))
    }))
}

impl PollStrategy for Wakeups {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut woken = false;
        // Each loop ends on `Pending`, which registers `cx`'s waker for the next tick/notification.
        while self.interval.poll_tick(cx).is_ready() {
            woken = true;
        }
        if let Some(signal) = self.signal.as_mut() {
            while let Poll::Ready(Some(())) = signal.poll_next_unpin(cx) {
                woken = true;
            }
        }
        if woken { Poll::Ready(Some(())) } else { Poll::Pending }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Polls once with a waker that counts its wake-ups.
    fn poll(strategy: &mut Wakeups, counter: &Arc<Counter>) -> bool {
        let waker = std::task::Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        strategy.poll_drive(&mut cx, &PollSnapshot::default()).is_ready()
    }

    async fn wait_for_wakes(counter: &Arc<Counter>, at_least: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while counter.0.load(Ordering::SeqCst) < at_least {
            assert!(tokio::time::Instant::now() < deadline, "the strategy stopped waking the worker");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The fault in apalis's interval: after a tick, nothing woke the worker again. Here every
    /// tick re-arms the timer, so the waker keeps being woken without any other poll source.
    #[tokio::test]
    async fn the_interval_keeps_waking_after_each_tick() {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let mut strategy = Wakeups::new(Duration::from_millis(20), None);
        poll(&mut strategy, &counter);
        for round in 1..=5 {
            wait_for_wakes(&counter, round).await;
            assert!(poll(&mut strategy, &counter), "woken by a tick");
        }
    }

    #[tokio::test]
    async fn a_notification_wakes_the_worker_and_re_registers() {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let signal = Arc::new(Notify::new());
        let mut strategy = Wakeups::new(Duration::from_secs(3600), Some(signal.clone()));
        poll(&mut strategy, &counter);
        // The interval's first tick is due at once; after it, only notifications wake.
        wait_for_wakes(&counter, 1).await;
        assert!(poll(&mut strategy, &counter));
        for round in 1..=3 {
            signal.notify_one();
            wait_for_wakes(&counter, 1 + round).await;
            assert!(poll(&mut strategy, &counter));
            assert!(!poll(&mut strategy, &counter), "nothing new: pending");
        }
    }
}
