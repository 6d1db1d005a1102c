//! Live worlds over WebSocket (`GET /worlds/{world}/live`, `GET /live`): the glue
//! between the durable write path and the `live::Hub` fan-out engine.
//!
//! - `Feed` sits in every `WorldHandle`. The write path calls `Feed::capture`
//!   while it still holds the world's write lock (so changes arrive in `Seq`
//!   order) and `Feed::durable` once the commit ticket resolved. Nothing is
//!   captured until the world has a live connection.
//! - `WorldLive` is one world's hub plus the outboxes of its connections, created
//!   at the world's first connection together with its tick task.
//! - The tick task (`run_ticks`), `tick_hz` times a second: takes the world's read
//!   lock, drains the captured changes, runs `Hub::tick` at the world's `Seq`,
//!   waits until that `Seq` is durable, and only then hands each connection its
//!   one frame. A connection's outbox holds at most one frame: the hub encodes the
//!   next one only after the session took the last, so a slow client's backlog is
//!   its conflated pending map inside the hub, never a queue of frames.
//! - `session` runs one connection: handshake, requests, replies, frames.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use world::{Applied, Seq, Timestamp};

use crate::App;
use crate::worlds::{WorldHandle, now};

pub(crate) mod annotations;
pub(crate) mod replay;
pub(crate) mod session;

/// Changes captured between two ticks, at most. A tick drains them all, so only a
/// stalled tick task can reach this; past it the hub cannot know what its clients
/// missed, and every connection of the world is closed (they reconnect and get
/// fresh snapshots) rather than the buffer growing.
const INBOX_CHANGES_MAX: usize = 4_000_000;

/// How long a tick waits for its `Seq` to become durable before giving up on
/// the store (a halted store never gets there).
const DURABLE_WAIT_MAX: Duration = Duration::from_secs(5);

/// A world's side of the live fan-out; lives in its `WorldHandle`.
pub(crate) struct Feed {
    inbox: Mutex<Inbox>,
    /// The newest `Seq` known durable.
    durable: AtomicU64,
    durable_changed: Notify,
    live: OnceLock<Arc<WorldLive>>,
}

#[derive(Default)]
struct Inbox {
    touched: Vec<live::Touched>,
    /// Set once the world has a hub: before that nothing is captured.
    listening: bool,
    overflowed: bool,
}

impl Feed {
    /// A feed for a world whose changes up to `seq` are durable.
    pub(crate) fn new(seq: Seq) -> Feed {
        Feed {
            inbox: Mutex::new(Inbox::default()),
            durable: AtomicU64::new(seq.0),
            durable_changed: Notify::new(),
            live: OnceLock::new(),
        }
    }

    /// Records an applied command's twin changes for the next tick. Called with
    /// the world's write lock held, so calls come in `Seq` order.
    pub(crate) fn capture(&self, applied: &Applied) {
        let mut inbox = self.inbox.lock();
        if !inbox.listening || inbox.overflowed {
            return;
        }
        if inbox.touched.len() >= INBOX_CHANGES_MAX {
            inbox.overflowed = true;
            inbox.touched = Vec::new();
            return;
        }
        inbox
            .touched
            .extend(live::touched(applied.seq, now(), &applied.changes));
    }

    /// Everything up to `seq` is durable.
    pub(crate) fn durable(&self, seq: Seq) {
        self.durable.fetch_max(seq.0, Ordering::SeqCst);
        self.durable_changed.notify_waiters();
    }

    /// The world was reloaded from the store at `seq`: changes captured after it
    /// were never made durable and will not be.
    pub(crate) fn rewind(&self, seq: Seq) {
        self.inbox.lock().touched.retain(|t| t.seq <= seq);
    }

    async fn wait_durable(&self, seq: Seq) -> bool {
        let wait = async {
            loop {
                let notified = self.durable_changed.notified();
                if self.durable.load(Ordering::SeqCst) >= seq.0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(DURABLE_WAIT_MAX, wait).await.is_ok()
    }
}

/// One connection's mailbox: at most one frame, or a close.
pub(crate) struct Outbox {
    frame: Mutex<Option<Vec<u8>>>,
    close: Mutex<Option<(u16, String)>>,
    wake: Notify,
}

impl Outbox {
    fn new() -> Outbox {
        Outbox {
            frame: Mutex::new(None),
            close: Mutex::new(None),
            wake: Notify::new(),
        }
    }

    fn close(&self, code: u16, reason: String) {
        *self.close.lock() = Some((code, reason));
        self.wake.notify_one();
    }
}

/// One world's hub, its connections' outboxes and its stored annotations.
pub(crate) struct WorldLive {
    pub(crate) hub: Mutex<live::Hub>,
    outboxes: Mutex<HashMap<live::ConnId, Arc<Outbox>>>,
    pub(crate) tick_hz: u32,
    /// Locked only after `hub` when both are needed (see `annotations`).
    pub(crate) annotations: Mutex<annotations::Annotations>,
    /// Makes annotation ids unique within a nanosecond.
    pub(crate) annotation_counter: AtomicU64,
}

impl WorldLive {
    fn close_all(&self, code: u16, reason: &str) {
        for outbox in self.outboxes.lock().values() {
            outbox.close(code, reason.to_owned());
        }
    }
}

/// Server-wide live state: open connections per token, and the store that
/// annotations are read from when a world's live state starts.
pub(crate) struct Registry {
    per_token: Mutex<HashMap<String, usize>>,
    store: Arc<dyn store::Store>,
}

impl Registry {
    pub(crate) fn new(store: Arc<dyn store::Store>) -> Registry {
        Registry {
            per_token: Mutex::new(HashMap::new()),
            store,
        }
    }

    /// Counts a connection for `token`, unless it already has `max`.
    fn admit(&self, token: &str, max: usize) -> bool {
        let mut map = self.per_token.lock();
        let count = map.entry(token.to_owned()).or_insert(0);
        if *count >= max {
            return false;
        }
        *count += 1;
        true
    }

    fn release(&self, token: &str) {
        let mut map = self.per_token.lock();
        if let Some(count) = map.get_mut(token) {
            *count -= 1;
            if *count == 0 {
                map.remove(token);
            }
        }
    }
}

/// The world's hub, created (with its tick task) at its first connection; fails
/// only when the world's stored annotations cannot be read.
pub(crate) fn world_live(
    app: &App,
    handle: &Arc<WorldHandle>,
) -> Result<Arc<WorldLive>, store::StoreError> {
    let feed = &handle.live;
    if let Some(live) = feed.live.get() {
        return Ok(Arc::clone(live));
    }
    // Read before `get_or_init` (which cannot fail); a connection racing this one
    // may read them too, and one of the two reads is dropped.
    let stored = annotations::Annotations::load(app.inner.live.store.as_ref(), handle.id())?;
    Ok(Arc::clone(feed.live.get_or_init(|| {
        let limits = &app.inner.limits;
        let tick_hz = limits.live_tick_hz.clamp(TICK_HZ_MIN, TICK_HZ_MAX);
        let hub_limits = live::HubLimits {
            twins_per_connection_max: limits.live_twins_per_connection_max,
            subscriptions_per_connection_max: limits.live_subscriptions_max,
            frame_bytes_max: limits.live_tick_bytes_max,
            behind_ns_max: i64::try_from(limits.live_behind_ms_max)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000),
            history_changes_max: limits.live_history_changes_max,
            participants_max: limits.live_participants_max,
        };
        // Under the world's read lock no write is between apply and capture: the
        // hub starts at exactly the `Seq` after which capturing begins.
        let world = handle.read();
        let hub = live::Hub::new(world.seq(), hub_limits);
        feed.inbox.lock().listening = true;
        drop(world);
        let live = Arc::new(WorldLive {
            hub: Mutex::new(hub),
            outboxes: Mutex::new(HashMap::new()),
            tick_hz,
            annotations: Mutex::new(stored),
            annotation_counter: AtomicU64::new(0),
        });
        tokio::spawn(run_ticks(
            app.clone(),
            Arc::downgrade(handle),
            Arc::clone(&live),
        ));
        live
    })))
}

/// Slowest and fastest tick rates: below 20 Hz motion looks jerky; above 60 Hz
/// frames outrun displays and only cost CPU.
pub(crate) const TICK_HZ_MIN: u32 = 20;
/// See `TICK_HZ_MIN`.
pub(crate) const TICK_HZ_MAX: u32 = 60;

async fn run_ticks(app: App, world: Weak<WorldHandle>, live: Arc<WorldLive>) {
    let period = Duration::from_secs(1) / live.tick_hz;
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let Some(handle) = world.upgrade() else {
            live.close_all(proto::close::WORLD_NOT_FOUND, "the world was deleted");
            return;
        };
        let current = app.inner.worlds.get(handle.id().as_str());
        if !current.is_some_and(|c| Arc::ptr_eq(&c, &handle)) {
            live.close_all(proto::close::WORLD_NOT_FOUND, "the world was deleted");
            return;
        }
        // The tick is CPU work under the world's read lock; keep it off the
        // async workers' queue where the runtime allows it.
        let (output, overflowed) = off_the_workers(|| {
            let world = handle.read();
            let (touched, overflowed) = {
                let mut inbox = handle.live.inbox.lock();
                let overflowed = std::mem::take(&mut inbox.overflowed);
                (std::mem::take(&mut inbox.touched), overflowed)
            };
            let mut hub = live.hub.lock();
            for (conn, outbox) in live.outboxes.lock().iter() {
                if outbox.frame.lock().is_none() {
                    hub.ready(*conn);
                }
            }
            (hub.tick(&world, touched, now()), overflowed)
        });
        if overflowed {
            tracing::error!(world = %handle.id(), "live changes piled up past the inbox bound; closing every connection");
            live.close_all(
                proto::close::INTERNAL,
                "the server fell behind on this world's changes; reconnect for a fresh snapshot",
            );
        }
        if !handle.live.wait_durable(output.seq).await {
            tracing::error!(world = %handle.id(), seq = %output.seq, "a tick's changes did not become durable");
            live.close_all(
                proto::close::INTERNAL,
                "the store did not make the world's changes durable",
            );
            continue;
        }
        let outboxes = live.outboxes.lock();
        for (conn, frame) in output.frames {
            if let Some(outbox) = outboxes.get(&conn) {
                *outbox.frame.lock() = Some(frame);
                outbox.wake.notify_one();
            }
        }
        for (conn, reason) in output.too_slow {
            if let Some(outbox) = outboxes.get(&conn) {
                outbox.close(proto::close::TOO_SLOW, reason);
            }
        }
    }
}

/// Runs blocking work with `block_in_place` on a multi-threaded runtime (so other
/// tasks move to another worker), or directly on a single-threaded one.
fn off_the_workers<R>(work: impl FnOnce() -> R) -> R {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// Time as the hub counts it.
fn timestamp() -> Timestamp {
    now()
}
