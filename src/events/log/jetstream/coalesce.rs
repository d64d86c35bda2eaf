//! One run of an operation for every caller that asks while another run is under way: the
//! JetStream log reads the stream's state once per round trip however many appends end meanwhile.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

/// Runs an operation for callers that need a run begun after they asked, sharing runs between
/// callers that wait at the same time.
#[derive(Debug, Default)]
pub(crate) struct Coalesced {
    /// Held during a run; holds the number of the last run that succeeded.
    last_succeeded: tokio::sync::Mutex<Option<u64>>,
    /// Runs begun (the next run's number).
    begun: AtomicU64,
}

impl Coalesced {
    /// Returns once a run of `operation` begun after this call has succeeded: the run of another
    /// caller, or one made here when none has (this call's run fails with its error).
    pub(crate) async fn run<F, E>(&self, operation: impl FnOnce() -> F) -> Result<(), E>
    where
        F: Future<Output = Result<(), E>>,
    {
        // Every run numbered `wanted` or higher begins after this point.
        let wanted = self.begun.load(Ordering::Acquire);
        let mut last_succeeded = self.last_succeeded.lock().await;
        if last_succeeded.is_some_and(|number| number >= wanted) {
            return Ok(());
        }
        let number = self.begun.fetch_add(1, Ordering::AcqRel);
        operation().await?;
        *last_succeeded = Some(number);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::Poll;

    use futures::poll;
    use tokio::sync::Semaphore;

    use super::*;

    /// An operation that counts its runs and finishes when `finish` gets a permit.
    async fn counted(
        runs: &AtomicUsize,
        finish: &Semaphore,
        fails: bool,
    ) -> Result<(), &'static str> {
        runs.fetch_add(1, Ordering::SeqCst);
        finish.acquire().await.expect("open").forget();
        if fails { Err("failed") } else { Ok(()) }
    }

    #[tokio::test]
    async fn callers_waiting_during_a_run_share_the_next_one() {
        let (coalesced, runs, finish) =
            (Coalesced::default(), AtomicUsize::new(0), Semaphore::new(0));
        let run = || coalesced.run(|| counted(&runs, &finish, false));
        let mut first = pin!(run());
        assert_eq!(poll!(&mut first), Poll::Pending);
        // Asked while the first run is under way: that run may have missed what they wait for.
        let (mut second, mut third, mut fourth) = (pin!(run()), pin!(run()), pin!(run()));
        assert_eq!(poll!(&mut second), Poll::Pending);
        assert_eq!(poll!(&mut third), Poll::Pending);
        assert_eq!(poll!(&mut fourth), Poll::Pending);

        finish.add_permits(1);
        assert_eq!(poll!(&mut first), Poll::Ready(Ok(())));
        assert_eq!(
            poll!(&mut second),
            Poll::Pending,
            "runs again for the waiters"
        );
        finish.add_permits(1);
        assert_eq!(poll!(&mut second), Poll::Ready(Ok(())));
        assert_eq!(poll!(&mut third), Poll::Ready(Ok(())));
        assert_eq!(poll!(&mut fourth), Poll::Ready(Ok(())));
        assert_eq!(runs.load(Ordering::SeqCst), 2);

        // A caller after those runs gets a run of its own.
        finish.add_permits(1);
        assert_eq!(run().await, Ok(()));
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_run_serves_nobody_else() {
        let (coalesced, runs, finish) =
            (Coalesced::default(), AtomicUsize::new(0), Semaphore::new(0));
        let mut failing = pin!(coalesced.run(|| counted(&runs, &finish, true)));
        assert_eq!(poll!(&mut failing), Poll::Pending);
        let mut waiting = pin!(coalesced.run(|| counted(&runs, &finish, false)));
        assert_eq!(poll!(&mut waiting), Poll::Pending);

        finish.add_permits(2);
        assert_eq!(poll!(&mut failing), Poll::Ready(Err("failed")));
        assert_eq!(waiting.await, Ok(()));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
