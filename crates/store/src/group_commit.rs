//! Group commit: many writers, one fsync. Writers queue batches with
//! [`GroupCommit::submit`] and get a [`Ticket`]; a dedicated committer thread takes
//! everything queued, applies it with one `Store::commit` (one transaction, one
//! fsync) and then resolves every ticket of that group. While one group is being
//! committed the next one accumulates, so the fsync cost is shared by all writers
//! that arrived during it.
//!
//! Failure policy: a failed commit fails every ticket in its group, and the
//! committer then *halts*: every later batch is refused with
//! [`StoreError::Halted`]. Later batches were produced from a world state that
//! includes the lost ones (the server applies changes in memory before they are
//! durable), so committing them would store a state that never existed. The way
//! back is to reopen the store and reload the world from it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Batch, Store, StoreError};

/// Bounds of a [`GroupCommit`] queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitLimits {
    /// Bytes (as counted by `Batch::size_bytes`) that may wait in the queue.
    /// `submit` blocks while the next batch does not fit. A group being committed
    /// no longer counts, so at most twice this is held in memory: the group in
    /// the transaction and the queue filling behind it. Default 64 MiB: at
    /// ~400 bytes per update that is ~160,000 updates, more than one fsync's worth
    /// at the target rate, without letting a stalled disk pin unbounded memory.
    pub queue_bytes_max: usize,
    /// Largest single batch, in bytes; bigger ones are refused with
    /// [`StoreError::BatchTooLarge`]. Default 16 MiB: a batch is one world command's
    /// writes, and even a bulk model upload stays below that. Values above
    /// `queue_bytes_max` are lowered to it, since such a batch could never queue.
    pub batch_bytes_max: usize,
}

impl Default for CommitLimits {
    fn default() -> Self {
        CommitLimits {
            queue_bytes_max: 64 * 1024 * 1024,
            batch_bytes_max: 16 * 1024 * 1024,
        }
    }
}

/// Totals since the [`GroupCommit`] started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Successful `Store::commit` calls (each one transaction and one fsync).
    pub commits: u64,
    /// Batches made durable.
    pub batches: u64,
    /// Writes made durable.
    pub writes: u64,
    /// Bytes made durable, as counted by `Batch::size_bytes`.
    pub bytes: u64,
    /// Time spent in `Store::commit` (transaction and fsync), in nanoseconds.
    pub commit_time_ns_total: u64,
    /// The slowest single commit, in nanoseconds.
    pub commit_time_ns_max: u64,
    /// The most batches in one commit.
    pub group_batches_max: u64,
    /// Commits that failed (at most one before the committer halts, unless the
    /// store panicked and recovered).
    pub failed_commits: u64,
    /// Bytes waiting in the queue right now.
    pub queued_bytes: u64,
    /// The most bytes that ever waited in the queue.
    pub queued_bytes_max: u64,
}

/// Many writers, one fsync: a dedicated committer thread drains the queue,
/// commits every queued batch in one `Store::commit`, then resolves all their
/// tickets. Dropping it flushes the queue and stops the thread.
///
/// A failed commit fails every ticket of its group and halts the committer:
/// every later batch is refused with [`StoreError::Halted`] (and
/// [`GroupCommit::halted`] says why), because later batches were derived from
/// in-memory state that includes the lost ones. Batches refused before queueing
/// (too large, invalid) do not halt it. Recover by reopening the store, reloading
/// from it and starting a new `GroupCommit`.
pub struct GroupCommit {
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    store: Arc<dyn Store>,
    limits: CommitLimits,
    state: Mutex<State>,
    /// Signalled when queue space frees up or a submitter's turn comes.
    room: Condvar,
    /// Signalled when there is work (or shutdown) for the committer.
    work: Condvar,
    stats: Mutex<CommitStats>,
}

#[derive(Default)]
struct State {
    batches: Vec<Batch>,
    resolvers: Vec<Resolver>,
    queued_bytes: usize,
    /// Submitters take a number on arrival and enter the queue in that order, so
    /// a large batch waiting for room is not overtaken forever by small ones.
    next_turn: u64,
    /// The turn now allowed to enter.
    admitted: u64,
    /// Turns given up (withdrawn async submissions) that the line skips.
    abandoned: std::collections::BTreeSet<u64>,
    /// Async submitters waiting for their turn or for room, by turn.
    wakers: std::collections::BTreeMap<u64, Waker>,
    shutting_down: bool,
    halted: Option<StoreError>,
    /// Threads blocked in `submit` on `room`; notifying an empty condvar is still a
    /// system call, and it would be one per submitted batch.
    blocked_submitters: usize,
    /// The committer is waiting on `work` (not committing), so a submit must wake it.
    committer_idle: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves consistent data here (all
    // updates are single assignments), so poisoning is not a reason to fail.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroupCommit {
    /// Starts the committer thread for `store`.
    pub fn new(store: Arc<dyn Store>, limits: CommitLimits) -> Self {
        let limits = CommitLimits {
            batch_bytes_max: limits.batch_bytes_max.min(limits.queue_bytes_max),
            ..limits
        };
        let shared = Arc::new(Shared {
            store,
            limits,
            state: Mutex::new(State::default()),
            room: Condvar::new(),
            work: Condvar::new(),
            stats: Mutex::new(CommitStats::default()),
        });
        let for_thread = Arc::clone(&shared);
        let committer = std::thread::Builder::new()
            .name("store-group-commit".to_owned())
            .spawn(move || run_committer(&for_thread));
        let committer = match committer {
            Ok(handle) => Some(handle),
            Err(error) => {
                // Without a committer nothing could ever be durable: refuse all.
                lock(&shared.state).halted = Some(StoreError::backend(
                    "start the group commit thread",
                    None,
                    error,
                ));
                None
            }
        };
        GroupCommit {
            shared,
            committer: Mutex::new(committer),
        }
    }

    /// The limits in force (`batch_bytes_max` capped at `queue_bytes_max`).
    pub fn limits(&self) -> &CommitLimits {
        &self.shared.limits
    }

    /// Queues a batch. Submission order is commit order. Blocks (backpressure)
    /// while the queue has no room for the batch; do not call it from an async
    /// task without `block_in_place`/`spawn_blocking` if the queue may be full, or
    /// use [`GroupCommit::try_submit`]. Returns a ticket that resolves once the
    /// batch is durable (or the commit failed). Invalid or oversized batches get a
    /// ticket that is already resolved with the error and are never queued.
    pub fn submit(&self, batch: Batch) -> Ticket {
        match self.enqueue(batch, true) {
            Ok(ticket) => ticket,
            // Unreachable in blocking mode: enqueue only hands the batch back when
            // it would have had to wait.
            Err(_) => Ticket::ready(Err(StoreError::ShutDown)),
        }
    }

    /// Like [`GroupCommit::submit`] but never blocks: when the batch would have to
    /// wait for room (or for earlier waiting submitters), it is handed back.
    pub fn try_submit(&self, batch: Batch) -> Result<Ticket, Batch> {
        self.enqueue(batch, false)
    }

    /// Like [`GroupCommit::submit`] for async callers: instead of blocking the
    /// thread while the queue is full, the returned future waits. It resolves to
    /// the [`Ticket`] once the batch has its place in the queue, so a caller can
    /// hold a lock only until the order is fixed and then await durability:
    /// `let ticket = group.submit_async(batch).await; drop(guard); ticket.await?`.
    /// Dropping the future before it resolves withdraws the batch.
    pub fn submit_async(&self, batch: Batch) -> Submit<'_> {
        match self.precheck(&batch) {
            Ok(bytes) => Submit {
                shared: &self.shared,
                batch: Some(batch),
                bytes,
                turn: None,
                refused: None,
            },
            Err(error) => Submit {
                shared: &self.shared,
                batch: None,
                bytes: 0,
                turn: None,
                refused: Some(error),
            },
        }
    }

    /// Limits every batch must meet before it may wait in line; returns its size.
    fn precheck(&self, batch: &Batch) -> Result<usize, StoreError> {
        let bytes = batch.size_bytes();
        let max = self.shared.limits.batch_bytes_max;
        if bytes > max {
            return Err(StoreError::BatchTooLarge {
                writes: batch.writes.len(),
                bytes,
                max,
            });
        }
        batch.validate()?;
        Ok(bytes)
    }

    fn enqueue(&self, batch: Batch, block: bool) -> Result<Ticket, Batch> {
        let bytes = match self.precheck(&batch) {
            Ok(bytes) => bytes,
            Err(error) => return Ok(Ticket::ready(Err(error))),
        };
        let shared = &*self.shared;
        let mut state = lock(&shared.state);
        if let Some(refusal) = refusal(&state) {
            return Ok(Ticket::ready(Err(refusal)));
        }
        if !block && !shared.may_enter(&state, state.next_turn, bytes) {
            return Err(batch);
        }
        let turn = state.next_turn;
        state.next_turn += 1;
        while refusal(&state).is_none() && !shared.may_enter(&state, turn, bytes) {
            state.blocked_submitters += 1;
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.blocked_submitters -= 1;
        }
        Ok(shared.enter(state, turn, batch, bytes))
    }

    /// Flushes the queue and stops the committer thread (also done on drop).
    /// Batches submitted afterwards are refused with [`StoreError::ShutDown`].
    pub fn shutdown(&self) {
        {
            let mut state = lock(&self.shared.state);
            state.shutting_down = true;
            self.shared.wake_waiters(&mut state);
        }
        self.shared.work.notify_all();
        let handle = lock(&self.committer).take();
        if let Some(handle) = handle {
            // The committer catches store panics, so a join error would be a bug in
            // this file; the tickets are resolved by their resolvers' drop anyway.
            let _ = handle.join();
        }
    }

    /// The failure that halted the committer, if one did. A server reports
    /// itself unready while this is `Some`: no write can become durable.
    pub fn halted(&self) -> Option<StoreError> {
        lock(&self.shared.state).halted.clone()
    }

    /// Totals since start, and the queue's current fill.
    pub fn stats(&self) -> CommitStats {
        let queued_bytes = lock(&self.shared.state).queued_bytes as u64;
        CommitStats {
            queued_bytes,
            ..lock(&self.shared.stats).clone()
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn refusal(state: &State) -> Option<StoreError> {
    if let Some(first_failure) = &state.halted {
        return Some(StoreError::Halted {
            first_failure: Box::new(first_failure.clone()),
        });
    }
    state.shutting_down.then_some(StoreError::ShutDown)
}

impl Shared {
    fn may_enter(&self, state: &State, turn: u64, bytes: usize) -> bool {
        state.admitted == turn
            && (state.queued_bytes == 0
                || state.queued_bytes + bytes <= self.limits.queue_bytes_max)
    }

    /// Takes `turn` out of the line (entered, refused or withdrawn) and wakes
    /// everyone waiting, since the next turn or more room may have come.
    fn leave_line(&self, state: &mut State, turn: u64) {
        if turn == state.admitted {
            state.admitted += 1;
            while state.abandoned.remove(&state.admitted) {
                state.admitted += 1;
            }
        } else {
            state.abandoned.insert(turn);
        }
        self.wake_waiters(state);
    }

    fn wake_waiters(&self, state: &mut State) {
        if state.blocked_submitters > 0 {
            self.room.notify_all();
        }
        for (_, waker) in std::mem::take(&mut state.wakers) {
            waker.wake();
        }
    }

    /// Ends `turn`'s wait: queues the batch, or refuses it if the committer has
    /// halted or is shutting down meanwhile.
    fn enter(
        &self,
        mut state: MutexGuard<'_, State>,
        turn: u64,
        batch: Batch,
        bytes: usize,
    ) -> Ticket {
        self.leave_line(&mut state, turn);
        if let Some(refusal) = refusal(&state) {
            return Ticket::ready(Err(refusal));
        }
        let (ticket, resolver) = Ticket::pending();
        state.batches.push(batch);
        state.resolvers.push(resolver);
        state.queued_bytes += bytes;
        let queued_bytes = state.queued_bytes as u64;
        let wake_committer = state.committer_idle;
        drop(state);
        if wake_committer {
            self.work.notify_one();
        }
        let mut stats = lock(&self.stats);
        stats.queued_bytes_max = stats.queued_bytes_max.max(queued_bytes);
        ticket
    }
}

/// The future of [`GroupCommit::submit_async`]: resolves to the batch's
/// [`Ticket`] once the batch is queued (or refused).
#[must_use = "the batch is only queued when this future is awaited"]
pub struct Submit<'group> {
    shared: &'group Shared,
    batch: Option<Batch>,
    bytes: usize,
    /// Our place in line, once taken; `None` before the first poll and after.
    turn: Option<u64>,
    refused: Option<StoreError>,
}

impl std::future::Future for Submit<'_> {
    type Output = Ticket;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Ticket> {
        let this = self.get_mut();
        if let Some(error) = this.refused.take() {
            return Poll::Ready(Ticket::ready(Err(error)));
        }
        let Some(batch) = this.batch.take() else {
            // Polled after completion: the batch was already handed over.
            return Poll::Ready(Ticket::ready(Err(StoreError::ShutDown)));
        };
        let shared = this.shared;
        let mut state = lock(&shared.state);
        let turn = match this.turn {
            Some(turn) => turn,
            None => {
                if let Some(refusal) = refusal(&state) {
                    return Poll::Ready(Ticket::ready(Err(refusal)));
                }
                let turn = state.next_turn;
                state.next_turn += 1;
                this.turn = Some(turn);
                turn
            }
        };
        if refusal(&state).is_some() || shared.may_enter(&state, turn, this.bytes) {
            state.wakers.remove(&turn);
            this.turn = None;
            return Poll::Ready(shared.enter(state, turn, batch, this.bytes));
        }
        state.wakers.insert(turn, context.waker().clone());
        this.batch = Some(batch);
        Poll::Pending
    }
}

impl Drop for Submit<'_> {
    fn drop(&mut self) {
        if let Some(turn) = self.turn.take() {
            let mut state = lock(&self.shared.state);
            state.wakers.remove(&turn);
            self.shared.leave_line(&mut state, turn);
        }
    }
}

fn run_committer(shared: &Shared) {
    loop {
        let mut state = lock(&shared.state);
        while state.batches.is_empty() && !state.shutting_down {
            state.committer_idle = true;
            state = shared
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.committer_idle = false;
        }
        if state.batches.is_empty() {
            return; // shutting down with nothing left to flush
        }
        let batches = std::mem::take(&mut state.batches);
        let resolvers = std::mem::take(&mut state.resolvers);
        let bytes = std::mem::replace(&mut state.queued_bytes, 0);
        let halted = state.halted.clone();
        shared.wake_waiters(&mut state);
        drop(state);

        if let Some(first_failure) = halted {
            let refusal = StoreError::Halted {
                first_failure: Box::new(first_failure),
            };
            resolvers
                .into_iter()
                .for_each(|resolver| resolver.resolve(Err(refusal.clone())));
            continue;
        }

        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| shared.store.commit(&batches)))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Err(StoreError::backend(
                    "commit a group (the store panicked)",
                    None,
                    message,
                ))
            });
        let elapsed_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        {
            let mut stats = lock(&shared.stats);
            if result.is_ok() {
                stats.commits += 1;
                stats.batches += batches.len() as u64;
                stats.writes += batches.iter().map(|b| b.writes.len() as u64).sum::<u64>();
                stats.bytes += bytes as u64;
                stats.commit_time_ns_total += elapsed_ns;
                stats.commit_time_ns_max = stats.commit_time_ns_max.max(elapsed_ns);
                stats.group_batches_max = stats.group_batches_max.max(batches.len() as u64);
            } else {
                stats.failed_commits += 1;
            }
        }
        if let Err(error) = &result {
            tracing::error!(%error, batches = batches.len(), "group commit failed; halting the committer");
            let mut state = lock(&shared.state);
            state.halted = Some(error.clone());
            // Wake waiting submitters so they see the halt instead of waiting.
            shared.wake_waiters(&mut state);
        }
        resolvers
            .into_iter()
            .for_each(|resolver| resolver.resolve(result.clone()));
    }
}

/// Resolves once its batch is durable (`Ok`) or its commit failed (`Err`). Await
/// it from async code, or call [`Ticket::wait`] from a thread.
#[must_use = "a batch is only known to be durable once its ticket resolves"]
pub struct Ticket {
    slot: Arc<Slot>,
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    resolved: Condvar,
}

#[derive(Default)]
struct SlotState {
    result: Option<Result<(), StoreError>>,
    waker: Option<Waker>,
    /// Threads blocked in `wait`/`wait_timeout`; most tickets have none (they are
    /// awaited, or waited for only after resolving), and notifying costs a syscall.
    waiting_threads: usize,
}

/// The committer's end of a ticket. Dropping it unresolved resolves the ticket
/// with [`StoreError::CommitterLost`], so no waiter can hang on a lost batch.
struct Resolver {
    slot: Option<Arc<Slot>>,
}

impl Resolver {
    fn resolve(mut self, result: Result<(), StoreError>) {
        if let Some(slot) = self.slot.take() {
            slot.set(result);
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.set(Err(StoreError::CommitterLost));
        }
    }
}

impl Slot {
    fn set(&self, result: Result<(), StoreError>) {
        let (waker, notify) = {
            let mut state = lock(&self.state);
            state.result = Some(result);
            (state.waker.take(), state.waiting_threads > 0)
        };
        if notify {
            self.resolved.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Ticket {
    fn pending() -> (Ticket, Resolver) {
        let slot = Arc::new(Slot::default());
        let resolver = Resolver {
            slot: Some(Arc::clone(&slot)),
        };
        (Ticket { slot }, resolver)
    }

    fn ready(result: Result<(), StoreError>) -> Ticket {
        let slot = Arc::new(Slot::default());
        lock(&slot.state).result = Some(result);
        Ticket { slot }
    }

    /// Blocks the thread until the batch is durable or its commit failed.
    pub fn wait(self) -> Result<(), StoreError> {
        let mut state = lock(&self.slot.state);
        loop {
            if let Some(result) = &state.result {
                return result.clone();
            }
            state.waiting_threads += 1;
            state = self
                .slot
                .resolved
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.waiting_threads -= 1;
        }
    }

    /// Waits at most `timeout`; `None` when the ticket is still unresolved.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<(), StoreError>> {
        let mut state = lock(&self.slot.state);
        if state.result.is_none() {
            state.waiting_threads += 1;
            state = self
                .slot
                .resolved
                .wait_timeout_while(state, timeout, |state| state.result.is_none())
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting_threads -= 1;
        }
        state.result.clone()
    }

    /// The result if the ticket has resolved, without waiting.
    pub fn try_result(&self) -> Option<Result<(), StoreError>> {
        lock(&self.slot.state).result.clone()
    }
}

impl std::future::Future for Ticket {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.slot.state);
        if let Some(result) = &state.result {
            return Poll::Ready(result.clone());
        }
        match &state.waker {
            Some(waker) if waker.will_wake(context.waker()) => {}
            _ => state.waker = Some(context.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;
    use crate::{RedbStore, TableName};

    /// A real in-memory redb store whose commits can be held at a gate, made to
    /// fail, or made to panic, to drive the committer through its edge cases.
    struct TestStore {
        inner: RedbStore,
        gate_closed: Mutex<bool>,
        gate: Condvar,
        commits_entered: AtomicUsize,
        fail: AtomicBool,
        panic: AtomicBool,
    }

    impl TestStore {
        fn new() -> Arc<Self> {
            Arc::new(TestStore {
                inner: RedbStore::open_in_memory().unwrap(),
                gate_closed: Mutex::new(false),
                gate: Condvar::new(),
                commits_entered: AtomicUsize::new(0),
                fail: AtomicBool::new(false),
                panic: AtomicBool::new(false),
            })
        }
        fn close_gate(&self) {
            *lock(&self.gate_closed) = true;
        }
        fn open_gate(&self) {
            *lock(&self.gate_closed) = false;
            self.gate.notify_all();
        }
        fn wait_for_commits_entered(&self, count: usize) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.commits_entered.load(Ordering::SeqCst) < count {
                assert!(
                    Instant::now() < deadline,
                    "the committer never called commit"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    impl Store for TestStore {
        fn commit(&self, batches: &[Batch]) -> Result<(), StoreError> {
            self.commits_entered.fetch_add(1, Ordering::SeqCst);
            // The gate gives up after 10 s so that a failing test (which never
            // opens it) ends with its panic instead of hanging in shutdown.
            let closed = lock(&self.gate_closed);
            drop(
                self.gate
                    .wait_timeout_while(closed, Duration::from_secs(10), |closed| *closed)
                    .unwrap(),
            );
            if self.panic.load(Ordering::SeqCst) {
                panic!("disk on fire");
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreError::backend("commit", None, "injected failure"));
            }
            self.inner.commit(batches)
        }
        fn get(&self, table: &TableName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(table, key)
        }
        fn scan(
            &self,
            table: &TableName,
            visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
        ) -> Result<(), StoreError> {
            self.inner.scan(table, visit)
        }
        fn scan_range(
            &self,
            table: &TableName,
            start: &[u8],
            end: &[u8],
            visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
        ) -> Result<(), StoreError> {
            self.inner.scan_range(table, start, end, visit)
        }
        fn tables(&self, prefix: &str) -> Result<Vec<TableName>, StoreError> {
            self.inner.tables(prefix)
        }
        fn drop_tables(&self, tables: &[TableName]) -> Result<(), StoreError> {
            self.inner.drop_tables(tables)
        }
    }

    fn table() -> TableName {
        TableName::new("t").unwrap()
    }

    fn batch(key: &str, value: &str) -> Batch {
        let mut batch = Batch::new();
        batch.put(&table(), key, value);
        batch
    }

    fn value(store: &dyn Store, key: &str) -> Option<String> {
        store
            .get(&table(), key.as_bytes())
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn many_writers_all_become_durable_in_fewer_commits() {
        let store = TestStore::new();
        let group = Arc::new(GroupCommit::new(store.clone(), CommitLimits::default()));
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let group = Arc::clone(&group);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        group
                            .submit(batch(&format!("{thread}/{i}"), &format!("v{i}")))
                            .wait()
                            .unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        for thread in 0..8 {
            for i in 0..50 {
                assert_eq!(
                    value(&*store, &format!("{thread}/{i}")),
                    Some(format!("v{i}"))
                );
            }
        }
        let stats = group.stats();
        assert_eq!(
            (stats.batches, stats.writes, stats.failed_commits),
            (400, 400, 0)
        );
        assert!(stats.commits >= 1 && stats.commits <= 400, "{stats:?}");
        assert_eq!(stats.queued_bytes, 0);
    }

    #[test]
    fn submission_order_is_commit_order_within_and_across_groups() {
        let store = TestStore::new();
        let group = GroupCommit::new(store.clone(), CommitLimits::default());
        // Hold the first group at the gate so the rest queue up behind it and form
        // a second group: the last submission must win in both places.
        store.close_gate();
        let first = group.submit(batch("k", "1"));
        store.wait_for_commits_entered(1);
        let tickets: Vec<_> = (2..=5)
            .map(|i| group.submit(batch("k", &i.to_string())))
            .collect();
        store.open_gate();
        first.wait().unwrap();
        tickets.into_iter().for_each(|t| t.wait().unwrap());
        assert_eq!(value(&*store, "k"), Some("5".to_owned()));
        assert_eq!(group.stats().commits, 2);
        assert_eq!(group.stats().group_batches_max, 4);
    }

    #[test]
    fn oversized_and_invalid_batches_are_refused_without_queueing() {
        let store = TestStore::new();
        let limits = CommitLimits {
            queue_bytes_max: 10_000,
            batch_bytes_max: 1_000,
        };
        let group = GroupCommit::new(store.clone(), limits);
        let mut big = Batch::new();
        big.put(&table(), "k", vec![0u8; 1_000]);
        let error = group.submit(big).wait().unwrap_err();
        assert_eq!(
            error.to_string(),
            "batch of 1 writes and 1066 bytes is too large; at most 1000 bytes per batch are allowed (CommitLimits::batch_bytes_max)"
        );
        let mut bad_key = Batch::new();
        bad_key.put(&table(), vec![0u8; crate::KEY_BYTES_MAX + 1], "v");
        // The batch limit is checked first, so allow big batches for this one.
        let group_wide = GroupCommit::new(
            store.clone(),
            CommitLimits {
                queue_bytes_max: 1 << 20,
                batch_bytes_max: 1 << 20,
            },
        );
        assert!(matches!(
            group_wide.submit(bad_key).wait(),
            Err(StoreError::KeyTooLarge { .. })
        ));
        assert_eq!(group.stats().commits + group_wide.stats().commits, 0);
        assert_eq!(store.commits_entered.load(Ordering::SeqCst), 0);
        // A batch limit above the queue limit is lowered to it.
        let capped = GroupCommit::new(
            store.clone(),
            CommitLimits {
                queue_bytes_max: 500,
                batch_bytes_max: 1_000,
            },
        );
        assert_eq!(capped.limits().batch_bytes_max, 500);
    }

    #[test]
    fn backpressure_blocks_instead_of_growing_the_queue() {
        let store = TestStore::new();
        let one = batch("k", "v").size_bytes();
        let limits = CommitLimits {
            queue_bytes_max: 3 * one,
            batch_bytes_max: one,
        };
        let group = Arc::new(GroupCommit::new(store.clone(), limits));
        store.close_gate();
        // The first batch goes to the (held) committer; three more fill the queue.
        let mut tickets = vec![group.submit(batch("k", "0"))];
        store.wait_for_commits_entered(1);
        tickets.extend((1..=3).map(|i| group.submit(batch("k", &i.to_string()))));
        assert_eq!(group.stats().queued_bytes, 3 * one as u64);
        // A non-blocking submit is handed back; a blocking one waits.
        let refused = group.try_submit(batch("k", "x")).err().unwrap();
        assert_eq!(refused, batch("k", "x"));
        let submitted = Arc::new(AtomicBool::new(false));
        let blocked = {
            let (group, submitted) = (Arc::clone(&group), Arc::clone(&submitted));
            std::thread::spawn(move || {
                let ticket = group.submit(batch("k", "4"));
                submitted.store(true, Ordering::SeqCst);
                ticket.wait()
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !submitted.load(Ordering::SeqCst),
            "submit did not block on a full queue"
        );
        assert_eq!(
            group.stats().queued_bytes,
            3 * one as u64,
            "the queue grew past its limit"
        );
        store.open_gate();
        blocked.join().unwrap().unwrap();
        tickets.into_iter().for_each(|t| t.wait().unwrap());
        assert_eq!(value(&*store, "k"), Some("4".to_owned()));
        let stats = group.stats();
        assert!(stats.queued_bytes_max <= 3 * one as u64, "{stats:?}");
        assert_eq!(stats.batches, 5);
    }

    #[test]
    fn a_failed_commit_fails_its_group_and_halts_the_committer() {
        let store = TestStore::new();
        let group = GroupCommit::new(store.clone(), CommitLimits::default());
        group.submit(batch("before", "ok")).wait().unwrap();
        assert_eq!(group.halted(), None);
        store.close_gate();
        store.fail.store(true, Ordering::SeqCst);
        let first = group.submit(batch("a", "1"));
        store.wait_for_commits_entered(2);
        let queued = group.submit(batch("b", "2"));
        store.open_gate();
        let error = first.wait().unwrap_err();
        assert!(error.to_string().contains("injected failure"), "{error}");
        // The queued batch came after the failed one: it must not be written.
        assert!(matches!(queued.wait(), Err(StoreError::Halted { .. })));
        store.fail.store(false, Ordering::SeqCst);
        let later = group.submit(batch("c", "3")).wait().unwrap_err();
        assert_eq!(
            later.to_string(),
            "the group committer stopped after a failed commit and refuses further batches; first failure: store backend failed to commit: injected failure"
        );
        assert_eq!(value(&*store, "before"), Some("ok".to_owned()));
        assert_eq!(
            (
                value(&*store, "a"),
                value(&*store, "b"),
                value(&*store, "c")
            ),
            (None, None, None)
        );
        assert_eq!(group.stats().failed_commits, 1);
        assert!(
            group
                .halted()
                .is_some_and(|error| error.to_string().contains("injected failure"))
        );
    }

    #[test]
    fn a_panicking_store_fails_tickets_instead_of_hanging_them() {
        let store = TestStore::new();
        store.panic.store(true, Ordering::SeqCst);
        let group = GroupCommit::new(store.clone(), CommitLimits::default());
        let error = group.submit(batch("a", "1")).wait().unwrap_err();
        assert!(error.to_string().contains("disk on fire"), "{error}");
        assert!(matches!(
            group.submit(batch("b", "1")).wait(),
            Err(StoreError::Halted { .. })
        ));
    }

    #[test]
    fn shutdown_flushes_the_queue_then_refuses() {
        let store = TestStore::new();
        let group = GroupCommit::new(store.clone(), CommitLimits::default());
        store.close_gate();
        let first = group.submit(batch("a", "1"));
        store.wait_for_commits_entered(1);
        let second = group.submit(batch("b", "2"));
        let opener = {
            let store = store.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                store.open_gate();
            })
        };
        group.shutdown();
        opener.join().unwrap();
        assert_eq!(
            second.try_result(),
            Some(Ok(())),
            "shutdown returned before flushing"
        );
        first.wait().unwrap();
        assert_eq!(value(&*store, "b"), Some("2".to_owned()));
        assert_eq!(
            group.submit(batch("c", "3")).wait(),
            Err(StoreError::ShutDown)
        );
        group.shutdown(); // idempotent
    }

    #[test]
    fn a_dropped_resolver_reports_a_lost_committer() {
        let (ticket, resolver) = Ticket::pending();
        assert_eq!(ticket.wait_timeout(Duration::from_millis(1)), None);
        drop(resolver);
        assert_eq!(ticket.wait(), Err(StoreError::CommitterLost));
    }

    struct ThreadWaker {
        thread: std::thread::Thread,
        woken: AtomicUsize,
    }

    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.woken.fetch_add(1, Ordering::SeqCst);
            self.thread.unpark();
        }
    }

    #[test]
    fn tickets_are_futures_that_wake_their_task() {
        let store = TestStore::new();
        let group = GroupCommit::new(store.clone(), CommitLimits::default());
        store.close_gate();
        let mut ticket = group.submit(batch("k", "v"));
        let waker = Arc::new(ThreadWaker {
            thread: std::thread::current(),
            woken: AtomicUsize::new(0),
        });
        let task_waker = Waker::from(Arc::clone(&waker));
        let mut context = Context::from_waker(&task_waker);
        assert!(Pin::new(&mut ticket).poll(&mut context).is_pending());
        store.open_gate();
        let deadline = Instant::now() + Duration::from_secs(10);
        let result = loop {
            if let Poll::Ready(result) = Pin::new(&mut ticket).poll(&mut context) {
                break result;
            }
            assert!(Instant::now() < deadline, "the ticket never resolved");
            std::thread::park_timeout(Duration::from_millis(100));
        };
        assert_eq!(result, Ok(()));
        assert_eq!(waker.woken.load(Ordering::SeqCst), 1);
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&ticket);
    }

    /// Polls `future` on this thread until it resolves (at most 10 s).
    fn block_on<F: std::future::Future + Unpin>(mut future: F) -> F::Output {
        let waker = Waker::from(Arc::new(ThreadWaker {
            thread: std::thread::current(),
            woken: AtomicUsize::new(0),
        }));
        let mut context = Context::from_waker(&waker);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Poll::Ready(output) = Pin::new(&mut future).poll(&mut context) {
                return output;
            }
            assert!(Instant::now() < deadline, "the future never resolved");
            std::thread::park_timeout(Duration::from_millis(50));
        }
    }

    fn noop_context_poll<F: std::future::Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        let waker = Waker::noop();
        Pin::new(future).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn async_submit_waits_for_room_without_blocking_and_keeps_order() {
        let store = TestStore::new();
        let one = batch("k", "v").size_bytes();
        let limits = CommitLimits {
            queue_bytes_max: 2 * one,
            batch_bytes_max: one,
        };
        let group = Arc::new(GroupCommit::new(store.clone(), limits));
        store.close_gate();
        let held = group.submit(batch("k", "0"));
        store.wait_for_commits_entered(1);
        let queued = [group.submit(batch("k", "1")), group.submit(batch("k", "2"))];
        let mut waiting = group.submit_async(batch("k", "3"));
        assert!(
            noop_context_poll(&mut waiting).is_pending(),
            "the queue is full"
        );
        // A blocking submitter that arrives later must enter after the async one.
        let later = {
            let group = Arc::clone(&group);
            std::thread::spawn(move || group.submit(batch("k", "4")).wait())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(noop_context_poll(&mut waiting).is_pending());
        store.open_gate();
        let ticket = block_on(&mut waiting);
        assert_eq!(block_on(ticket), Ok(()));
        later.join().unwrap().unwrap();
        held.wait().unwrap();
        queued.into_iter().for_each(|t| t.wait().unwrap());
        assert_eq!(value(&*store, "k"), Some("4".to_owned()));
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&group.submit_async(Batch::new()));
    }

    #[test]
    fn a_withdrawn_async_submit_does_not_stall_the_line() {
        let store = TestStore::new();
        let one = batch("k", "v").size_bytes();
        let limits = CommitLimits {
            queue_bytes_max: one,
            batch_bytes_max: one,
        };
        let group = Arc::new(GroupCommit::new(store.clone(), limits));
        store.close_gate();
        let held = group.submit(batch("k", "0"));
        store.wait_for_commits_entered(1);
        let queued = group.submit(batch("k", "1"));
        // Same sizes as the other batches, so only the full queue holds them back.
        let mut first = group.submit_async(batch("k", "x"));
        let mut second = group.submit_async(batch("k", "y"));
        assert!(noop_context_poll(&mut first).is_pending());
        assert!(noop_context_poll(&mut second).is_pending());
        let later = {
            let group = Arc::clone(&group);
            std::thread::spawn(move || group.submit(batch("k", "2")).wait())
        };
        std::thread::sleep(Duration::from_millis(50));
        // Withdraw the head of the line first, then one behind it.
        drop(first);
        drop(second);
        store.open_gate();
        later.join().unwrap().unwrap();
        held.wait().unwrap();
        queued.wait().unwrap();
        assert_eq!(value(&*store, "k"), Some("2".to_owned()));
        let state = lock(&group.shared.state);
        assert_eq!(state.admitted, state.next_turn, "every turn was consumed");
        assert!(state.abandoned.is_empty() && state.wakers.is_empty());
    }

    #[test]
    fn async_submit_refuses_invalid_batches_and_after_shutdown() {
        let store = TestStore::new();
        let group = GroupCommit::new(
            store,
            CommitLimits {
                queue_bytes_max: 1_000,
                batch_bytes_max: 1_000,
            },
        );
        let mut big = Batch::new();
        big.put(&table(), "k", vec![0u8; 2_000]);
        assert!(matches!(
            block_on(block_on(group.submit_async(big))),
            Err(StoreError::BatchTooLarge { .. })
        ));
        assert_eq!(
            block_on(block_on(group.submit_async(batch("a", "1")))),
            Ok(())
        );
        group.shutdown();
        assert_eq!(
            block_on(block_on(group.submit_async(batch("a", "2")))),
            Err(StoreError::ShutDown)
        );
    }
}
