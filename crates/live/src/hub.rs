//! `Hub`: one world's live fan-out. It holds every connection's subscriptions,
//! interest sets (the twins each subscription holds), conflated pending events,
//! presence, chat and annotations, and once per tick turns the world's durable
//! changes into at most one encoded frame per connection.
//!
//! The hub is pure logic: no sockets, no clock, no threads. The server calls
//! `Hub::tick(world, touched, now)` with the world read-locked at the `Seq` the
//! changes reach, and writes the frames it returns. Everything is read from the
//! world at that one `Seq`, so a client's view is always some `Seq` of the world,
//! never a mix.
//!
//! Flow control: a connection's queue is its pending map, keyed by
//! (subscription, twin) and conflated (a twin changed ten times between two frames
//! is sent once with its latest values). A frame is encoded for a connection only
//! when it has taken the previous one (`Hub::ready`), so a slow reader costs the
//! hub one map entry per twin it is behind on, never a queue of frames. Memory per
//! connection is bounded by `HubLimits` (see there).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use indexmap::IndexMap;
use prost::Message;
use query::TwinGraph;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use world::{Seq, Timestamp, TwinId, World};

use crate::LiveError;
use crate::criteria::{Criteria, Region};
use crate::history::{History, Touch, Touched};

/// A connection, as the hub names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A subscription id, chosen by its client and unique per connection.
pub type SubId = u32;

/// Chat lines kept per connection until its next frame: a reader that falls this
/// far behind loses the oldest lines (chat is not state; nothing depends on it).
pub const CHAT_BACKLOG_MAX: usize = 256;
/// Annotation events kept per connection until its next frame; a connection that
/// falls this far behind is disconnected as too slow (annotations are state).
pub const ANNOTATION_BACKLOG_MAX: usize = 1_024;

/// The hub's bounds. Memory per connection is at most about
/// `2 * twins_per_connection_max` pending entries (~100 bytes each) plus its
/// interest sets (`twins_per_connection_max` ids), presence of
/// `participants_max` others, `CHAT_BACKLOG_MAX` chat lines and
/// `ANNOTATION_BACKLOG_MAX` annotation events.
#[derive(Clone, Debug, PartialEq)]
pub struct HubLimits {
    /// Twins one connection may hold across all its subscriptions. A
    /// subscription that would pass it is closed with `LimitExceeded`.
    pub twins_per_connection_max: usize,
    /// Open subscriptions per connection.
    pub subscriptions_per_connection_max: usize,
    /// Largest frame the hub encodes for one tick; the rest stays pending for the
    /// next ticks (a large snapshot arrives over several frames).
    pub frame_bytes_max: usize,
    /// How long a connection may leave its last frame untaken, while it has more
    /// to receive, before it is disconnected as too slow.
    pub behind_ns_max: i64,
    /// Changes kept for resuming after a reconnect.
    pub history_changes_max: usize,
    /// Participants (connections with a display name) per world.
    pub participants_max: usize,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            twins_per_connection_max: 100_000,
            subscriptions_per_connection_max: 16,
            frame_bytes_max: 1024 * 1024,
            behind_ns_max: 10_000_000_000,
            history_changes_max: 1_000_000,
            participants_max: 1_000,
        }
    }
}

/// Which fields a subscription wants.
#[derive(Clone, Debug)]
enum Fields {
    All,
    Named(Vec<Arc<str>>),
}

impl Fields {
    fn wants(&self, name: &str) -> bool {
        match self {
            Fields::All => true,
            Fields::Named(names) => names.iter().any(|n| &**n == name),
        }
    }
}

/// Where a subscription stands.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for the next tick to take its snapshot (or resume after a `Seq`).
    Starting { resume_after: Seq },
    /// Receiving deltas.
    Live,
}

#[derive(Debug)]
struct Sub {
    criteria: Criteria,
    fields: Fields,
    members: HashSet<TwinId>,
    phase: Phase,
    /// Pending entries of this subscription in its connection's map.
    pending: usize,
    /// `Some(resumed)` until `SubscriptionSynced` is sent.
    awaiting_sync: Option<bool>,
}

/// A pending event, conflated.
#[derive(Clone, Debug)]
enum Pending {
    Enter,
    /// Changed fields (`None`: all of them).
    Update(Option<Vec<Arc<str>>>),
    Leave,
}

#[derive(Clone, Debug)]
struct PendingEntry {
    event: Pending,
    changed_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PresenceKind {
    Join,
    Update,
    Leave,
}

#[derive(Debug)]
struct Conn {
    subs: BTreeMap<SubId, Sub>,
    /// Twins held over all subscriptions.
    held: usize,
    pending: IndexMap<(SubId, TwinId), PendingEntry>,
    resets: Vec<SubId>,
    closed: Vec<proto::SubscriptionClosed>,
    starting: Vec<SubId>,
    region_moves: IndexMap<SubId, Option<Region>>,
    presence: IndexMap<ConnId, PresenceKind>,
    chat: VecDeque<proto::ChatMessage>,
    annotations: VecDeque<proto::AnnotationEvent>,
    /// Whether the connection took its last frame.
    ready: bool,
    /// Since when it has had something to receive but not taken its last frame.
    behind_since: Option<i64>,
    /// Every change up to here has been sent (its pending map was empty).
    complete_seq: Seq,
    /// Set when a bound was passed that only a disconnect can resolve.
    hopeless: bool,
}

impl Conn {
    fn has_output(&self) -> bool {
        !self.pending.is_empty()
            || !self.resets.is_empty()
            || !self.closed.is_empty()
            || !self.presence.is_empty()
            || !self.chat.is_empty()
            || !self.annotations.is_empty()
            || self.subs.values().any(|s| s.awaiting_sync.is_some())
    }
}

#[derive(Clone, Debug, Default)]
struct Participant {
    id: String,
    display_name: String,
    color: String,
    head: Option<proto::Pose>,
    left_hand: Option<proto::Pose>,
    right_hand: Option<proto::Pose>,
    pointer: Option<proto::Ray>,
    selected_twin_id: String,
}

/// What a tick produced.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// The `Seq` the tick brought the hub to.
    pub seq: Seq,
    /// One encoded `ServerMessage` per connection that had something and was ready.
    pub frames: Vec<(ConnId, Vec<u8>)>,
    /// Connections to close as too slow (close code 4008), with the reason.
    pub too_slow: Vec<(ConnId, String)>,
    /// Twin events encoded in this tick (for metrics and benchmarks).
    pub events: usize,
}

/// A twin's changes since the last tick: the changed fields (`None`: all, it was
/// created or deleted) and the newest change time.
type MergedChange = (Option<Vec<Arc<str>>>, i64);

type RegionEntry = GeomWithData<Rectangle<[f64; 3]>, (ConnId, SubId)>;

/// One world's live state. See the module documentation.
#[derive(Debug)]
pub struct Hub {
    limits: HubLimits,
    seq: Seq,
    history: History,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: u64,
    /// Which (connection, subscription) hold each twin.
    holders: HashMap<TwinId, Vec<(ConnId, SubId)>>,
    /// Live subscriptions with a region, indexed by their envelope.
    regions: RTree<RegionEntry>,
    /// Live subscriptions without a region: every change is checked against them.
    unbounded: Vec<(ConnId, SubId)>,
    /// Set when subscriptions or regions changed since `regions` was built.
    index_dirty: bool,
    participants: BTreeMap<ConnId, Participant>,
}

/// Values read from the world once per tick and shared by every frame.
#[derive(Default)]
struct TickCache {
    fields: HashMap<(u32, Arc<str>), Option<proto::Value>>,
    poses: HashMap<u32, Option<proto::Pose>>,
    full: HashMap<u32, Arc<(String, Vec<proto::Field>)>>,
}

impl Hub {
    /// A hub for a world now at `seq`.
    pub fn new(seq: Seq, limits: HubLimits) -> Hub {
        Hub {
            history: History::new(seq, limits.history_changes_max),
            limits,
            seq,
            conns: BTreeMap::new(),
            next_conn: 1,
            holders: HashMap::new(),
            regions: RTree::new(),
            unbounded: Vec::new(),
            index_dirty: false,
            participants: BTreeMap::new(),
        }
    }

    /// The `Seq` of the last tick.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// The oldest `Seq` a subscription can resume after.
    pub fn resume_floor(&self) -> Seq {
        self.history.floor()
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Registers a connection. With a non-empty `display_name` it joins presence
    /// (everyone is told next tick, and it is told about everyone present).
    /// `annotations` are the world's stored annotations, sent in its first frame.
    pub fn connect(
        &mut self,
        display_name: &str,
        color: &str,
        annotations: Vec<proto::Annotation>,
    ) -> Result<ConnId, LiveError> {
        let id = ConnId(self.next_conn);
        let joins = !display_name.is_empty();
        if joins && self.participants.len() >= self.limits.participants_max {
            return Err(LiveError::TooManyParticipants {
                max: self.limits.participants_max,
            });
        }
        self.next_conn += 1;
        let mut conn = Conn {
            subs: BTreeMap::new(),
            held: 0,
            pending: IndexMap::new(),
            resets: Vec::new(),
            closed: Vec::new(),
            starting: Vec::new(),
            region_moves: IndexMap::new(),
            presence: self
                .participants
                .keys()
                .map(|p| (*p, PresenceKind::Join))
                .collect(),
            chat: VecDeque::new(),
            annotations: annotations
                .into_iter()
                .take(ANNOTATION_BACKLOG_MAX)
                .map(|a| proto::AnnotationEvent {
                    kind: proto::annotation_event::Kind::Created.into(),
                    annotation: Some(a),
                })
                .collect(),
            ready: true,
            behind_since: None,
            complete_seq: self.seq,
            hopeless: false,
        };
        if joins {
            self.participants.insert(
                id,
                Participant {
                    id: participant_id(id),
                    display_name: display_name.to_owned(),
                    color: color.to_owned(),
                    ..Participant::default()
                },
            );
            for other in self.conns.values_mut() {
                other.presence.insert(id, PresenceKind::Join);
            }
            conn.presence.insert(id, PresenceKind::Join);
        }
        self.conns.insert(id, conn);
        Ok(id)
    }

    /// Forgets a connection: its subscriptions end and, if it was present, the
    /// others see it leave.
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(mut state) = self.conns.remove(&conn) else {
            return;
        };
        for (sub, state) in std::mem::take(&mut state.subs) {
            self.forget_members(conn, sub, state.members);
        }
        self.index_dirty = true;
        if self.participants.remove(&conn).is_some() {
            for other in self.conns.values_mut() {
                merge_presence(&mut other.presence, conn, PresenceKind::Leave);
            }
        }
    }

    /// The participant id of a connection (as presence and chat name it).
    pub fn participant_id(&self, conn: ConnId) -> String {
        participant_id(conn)
    }

    /// Opens a subscription; its snapshot (or resume) is taken at the next tick.
    pub fn subscribe(&mut self, conn: ConnId, request: &proto::Subscribe) -> Result<(), LiveError> {
        let criteria = Criteria::new(&request.query, &request.model, request.region.as_ref())?;
        let max = self.limits.subscriptions_per_connection_max;
        let state = self.conns.get_mut(&conn).ok_or(LiveError::NoConnection)?;
        if state.subs.contains_key(&request.subscription) {
            return Err(LiveError::DuplicateSubscription(request.subscription));
        }
        if state.subs.len() >= max {
            return Err(LiveError::TooManySubscriptions { max });
        }
        let fields = if request.fields.is_empty() {
            Fields::All
        } else {
            Fields::Named(
                request
                    .fields
                    .iter()
                    .map(|f| Arc::from(f.as_str()))
                    .collect(),
            )
        };
        state.subs.insert(
            request.subscription,
            Sub {
                criteria,
                fields,
                members: HashSet::new(),
                phase: Phase::Starting {
                    resume_after: Seq(request.resume_after_seq),
                },
                pending: 0,
                awaiting_sync: None,
            },
        );
        state.starting.push(request.subscription);
        Ok(())
    }

    /// Ends a subscription; its twins are dropped without `LEAVE` events.
    pub fn unsubscribe(&mut self, conn: ConnId, sub: SubId) -> Result<(), LiveError> {
        let state = self.conns.get_mut(&conn).ok_or(LiveError::NoConnection)?;
        let removed = state
            .subs
            .remove(&sub)
            .ok_or(LiveError::SubscriptionNotFound(sub))?;
        state.pending.retain(|(s, _), _| *s != sub);
        state.starting.retain(|s| *s != sub);
        state.region_moves.shift_remove(&sub);
        state.held -= removed.members.len();
        self.forget_members(conn, sub, removed.members);
        self.index_dirty = true;
        Ok(())
    }

    /// Moves a subscription's region (or removes it with `None`); applied at the
    /// next tick, and only the latest move per tick counts.
    pub fn move_region(
        &mut self,
        conn: ConnId,
        sub: SubId,
        region: Option<&proto::Region>,
    ) -> Result<(), LiveError> {
        let region = region.map(Region::from_proto).transpose()?;
        let state = self.conns.get_mut(&conn).ok_or(LiveError::NoConnection)?;
        if !state.subs.contains_key(&sub) {
            return Err(LiveError::SubscriptionNotFound(sub));
        }
        state.region_moves.insert(sub, region);
        Ok(())
    }

    /// Updates a participant's presence; absent fields keep their value.
    pub fn set_presence(
        &mut self,
        conn: ConnId,
        update: &proto::SetPresence,
    ) -> Result<(), LiveError> {
        let participant = self
            .participants
            .get_mut(&conn)
            .ok_or(LiveError::NotAParticipant)?;
        if update.head.is_some() {
            participant.head.clone_from(&update.head);
        }
        if update.left_hand.is_some() {
            participant.left_hand.clone_from(&update.left_hand);
        }
        if update.right_hand.is_some() {
            participant.right_hand.clone_from(&update.right_hand);
        }
        if update.pointer.is_some() {
            participant.pointer.clone_from(&update.pointer);
        }
        if update.clear_selection {
            participant.selected_twin_id.clear();
        } else if !update.selected_twin_id.is_empty() {
            participant
                .selected_twin_id
                .clone_from(&update.selected_twin_id);
        }
        for other in self.conns.values_mut() {
            merge_presence(&mut other.presence, conn, PresenceKind::Update);
        }
        Ok(())
    }

    /// Sends a chat line to everyone (the sender too, as its echo).
    pub fn chat(&mut self, conn: ConnId, text: &str, now: Timestamp) -> Result<(), LiveError> {
        let participant = self
            .participants
            .get(&conn)
            .ok_or(LiveError::NotAParticipant)?;
        let line = proto::ChatMessage {
            participant_id: participant.id.clone(),
            display_name: participant.display_name.clone(),
            text: text.to_owned(),
            sent_at_unix_ns: now.0,
        };
        for other in self.conns.values_mut() {
            if other.chat.len() == CHAT_BACKLOG_MAX {
                other.chat.pop_front();
            }
            other.chat.push_back(line.clone());
        }
        Ok(())
    }

    /// Tells everyone that an annotation was created or deleted (after it is durable).
    pub fn annotation(&mut self, event: &proto::AnnotationEvent) {
        for other in self.conns.values_mut() {
            if other.annotations.len() == ANNOTATION_BACKLOG_MAX {
                other.hopeless = true;
                continue;
            }
            other.annotations.push_back(event.clone());
        }
    }

    /// The connection took its last frame: the next tick may encode another.
    pub fn ready(&mut self, conn: ConnId) {
        if let Some(state) = self.conns.get_mut(&conn) {
            state.ready = true;
        }
    }

    /// Runs one tick: folds `touched` (every change after the previous tick, up to
    /// `world.seq()`, in `Seq` order) into the interest sets and pending maps,
    /// moves regions, takes snapshots of new subscriptions, and encodes one frame
    /// for each connection that is ready and has something to receive.
    pub fn tick(&mut self, world: &World, touched: Vec<Touched>, now: Timestamp) -> TickOutput {
        debug_assert!(touched.windows(2).all(|w| w[0].seq <= w[1].seq));
        debug_assert!(
            touched
                .iter()
                .all(|t| t.seq > self.seq && t.seq <= world.seq())
        );
        self.seq = world.seq();
        if self.index_dirty {
            self.rebuild_index();
        }
        // The same twin touched several times since the last tick is one change:
        // the union of its fields at its newest time.
        let mut merged: IndexMap<TwinId, MergedChange> = IndexMap::new();
        for change in touched {
            self.history.push(change.seq, change.twin.clone());
            let entry = merged
                .entry(change.twin)
                .or_insert_with(|| (Some(Vec::new()), change.at.0));
            entry.1 = entry.1.max(change.at.0);
            match (&mut entry.0, change.touch) {
                (Some(fields), Touch::Updated(changed)) => {
                    for field in changed.iter() {
                        if !fields.contains(field) {
                            fields.push(field.clone());
                        }
                    }
                }
                (fields, Touch::Created | Touch::Deleted) => *fields = None,
                (None, Touch::Updated(_)) => {}
            }
        }
        let mut candidates = Vec::new();
        for (twin, (fields, at)) in merged {
            self.apply_change(world, &twin, fields.as_deref(), at, &mut candidates);
        }
        self.move_regions(world, now);
        self.start_subscriptions(world, now);
        self.encode(world, now)
    }

    fn rebuild_index(&mut self) {
        let mut boxes = Vec::new();
        self.unbounded.clear();
        for (conn_id, conn) in &self.conns {
            for (sub_id, sub) in &conn.subs {
                if sub.phase != Phase::Live {
                    continue;
                }
                match &sub.criteria.region {
                    Some(region) => {
                        let (min, max) = region.envelope();
                        boxes.push(GeomWithData::new(
                            Rectangle::from_corners(min, max),
                            (*conn_id, *sub_id),
                        ));
                    }
                    None => self.unbounded.push((*conn_id, *sub_id)),
                }
            }
        }
        self.regions = RTree::bulk_load(boxes);
        self.index_dirty = false;
    }

    /// Re-evaluates one changed twin against the subscriptions that hold it or
    /// might now match it.
    fn apply_change(
        &mut self,
        world: &World,
        twin: &TwinId,
        fields: Option<&[Arc<str>]>,
        at: i64,
        candidates: &mut Vec<(ConnId, SubId)>,
    ) {
        let index = world.twin_by_id(twin.as_str());
        let position = index.and_then(|i| world.world_position(i));
        candidates.clear();
        if let Some(held) = self.holders.get(twin) {
            candidates.extend_from_slice(held);
        }
        if index.is_some() {
            if let Some(p) = position {
                let point = AABB::from_point(p);
                candidates.extend(
                    self.regions
                        .locate_in_envelope_intersecting(point)
                        .map(|entry| entry.data),
                );
            }
            candidates.extend_from_slice(&self.unbounded);
        }
        candidates.sort_unstable();
        candidates.dedup();
        for &(conn_id, sub_id) in candidates.iter() {
            let Some(conn) = self.conns.get_mut(&conn_id) else {
                continue;
            };
            let Some(sub) = conn.subs.get(&sub_id) else {
                continue;
            };
            if sub.phase != Phase::Live {
                continue;
            }
            let matches = index.is_some_and(|i| sub.criteria.matches(world, i, position));
            let held = sub.members.contains(twin);
            match (held, matches) {
                (false, true) => self.enter(conn_id, sub_id, twin, at),
                (true, true) => {
                    let wanted: Option<Vec<Arc<str>>> = fields.map(|changed| {
                        changed
                            .iter()
                            .filter(|f| sub.fields.wants(f))
                            .cloned()
                            .collect()
                    });
                    if wanted.as_ref().is_some_and(Vec::is_empty) {
                        continue;
                    }
                    push_pending(conn, sub_id, twin, Pending::Update(wanted), at);
                }
                (true, false) => self.leave(conn_id, sub_id, twin, at),
                (false, false) => {}
            }
        }
        self.enforce_pending_bound(candidates);
    }

    /// A connection whose pending map outgrew twice its twin bound is hopeless:
    /// it keeps receiving twins it cannot take.
    fn enforce_pending_bound(&mut self, touched: &[(ConnId, SubId)]) {
        let max = self.limits.twins_per_connection_max.saturating_mul(2);
        for (conn_id, _) in touched {
            if let Some(conn) = self.conns.get_mut(conn_id)
                && conn.pending.len() > max
            {
                conn.hopeless = true;
            }
        }
    }

    fn enter(&mut self, conn_id: ConnId, sub_id: SubId, twin: &TwinId, at: i64) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        let Some(sub) = conn.subs.get_mut(&sub_id) else {
            return;
        };
        if sub.members.insert(twin.clone()) {
            conn.held += 1;
            self.holders
                .entry(twin.clone())
                .or_default()
                .push((conn_id, sub_id));
        }
        push_pending(conn, sub_id, twin, Pending::Enter, at);
    }

    fn leave(&mut self, conn_id: ConnId, sub_id: SubId, twin: &TwinId, at: i64) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        let Some(sub) = conn.subs.get_mut(&sub_id) else {
            return;
        };
        if sub.members.remove(twin) {
            conn.held -= 1;
            unhold(&mut self.holders, twin, (conn_id, sub_id));
        }
        push_pending(conn, sub_id, twin, Pending::Leave, at);
    }

    fn forget_members(&mut self, conn: ConnId, sub: SubId, members: HashSet<TwinId>) {
        for twin in members {
            unhold(&mut self.holders, &twin, (conn, sub));
        }
    }

    /// Applies each connection's latest region move: twins now in the region
    /// enter, twins no longer in it leave.
    fn move_regions(&mut self, world: &World, now: Timestamp) {
        let moves: Vec<(ConnId, SubId, Option<Region>)> = self
            .conns
            .iter_mut()
            .flat_map(|(conn_id, conn)| {
                std::mem::take(&mut conn.region_moves)
                    .into_iter()
                    .map(move |(sub, region)| (*conn_id, sub, region))
            })
            .collect();
        for (conn_id, sub_id, region) in moves {
            self.index_dirty = true;
            let Some(sub) = self
                .conns
                .get_mut(&conn_id)
                .and_then(|c| c.subs.get_mut(&sub_id))
            else {
                continue;
            };
            sub.criteria.region = region;
            if sub.phase != Phase::Live {
                // The snapshot, taken later this tick, uses the new region.
                continue;
            }
            self.refresh(world, conn_id, sub_id, now);
        }
    }

    /// Recomputes a live subscription's members from the world: enters for new
    /// matches, leaves for twins that no longer match.
    fn refresh(&mut self, world: &World, conn_id: ConnId, sub_id: SubId, now: Timestamp) {
        let Some(conn) = self.conns.get(&conn_id) else {
            return;
        };
        let Some(sub) = conn.subs.get(&sub_id) else {
            return;
        };
        let room = self.limits.twins_per_connection_max - (conn.held - sub.members.len());
        let now_matching = match sub.criteria.snapshot(world, room) {
            Ok(twins) => twins,
            Err(error) => {
                self.close_subscription(conn_id, sub_id, &error);
                return;
            }
        };
        // Compared as borrowed ids: only twins that enter need an id of their own.
        let matching: HashSet<&str> = now_matching.iter().map(|i| world.twin_id(*i)).collect();
        let gone: Vec<TwinId> = sub
            .members
            .iter()
            .filter(|t| !matching.contains(t.as_str()))
            .cloned()
            .collect();
        let new: Vec<TwinId> = now_matching
            .iter()
            .map(|i| world.twin_id(*i))
            .filter(|t| !sub.members.contains(*t))
            .map(twin_id_of_str)
            .collect();
        for twin in gone {
            self.leave(conn_id, sub_id, &twin, now.0);
        }
        for twin in new {
            self.enter(conn_id, sub_id, &twin, now.0);
        }
    }

    fn close_subscription(&mut self, conn_id: ConnId, sub_id: SubId, error: &LiveError) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        let Some(sub) = conn.subs.remove(&sub_id) else {
            return;
        };
        conn.pending.retain(|(s, _), _| *s != sub_id);
        conn.held -= sub.members.len();
        conn.closed.push(proto::SubscriptionClosed {
            subscription: sub_id,
            error: Some(proto::Error {
                code: error.code().to_owned(),
                message: error.to_string(),
            }),
        });
        self.forget_members(conn_id, sub_id, sub.members);
        self.index_dirty = true;
    }

    /// Takes the snapshot of (or resumes) every subscription opened since the last
    /// tick, at the world's current `Seq`.
    fn start_subscriptions(&mut self, world: &World, now: Timestamp) {
        let starting: Vec<(ConnId, SubId)> = self
            .conns
            .iter_mut()
            .flat_map(|(conn_id, conn)| {
                std::mem::take(&mut conn.starting)
                    .into_iter()
                    .map(move |sub| (*conn_id, sub))
            })
            .collect();
        for (conn_id, sub_id) in starting {
            let Some(sub) = self
                .conns
                .get_mut(&conn_id)
                .and_then(|c| c.subs.get_mut(&sub_id))
            else {
                continue;
            };
            let Phase::Starting { resume_after } = sub.phase else {
                continue;
            };
            sub.phase = Phase::Live;
            self.index_dirty = true;
            let missed = if resume_after.0 > 0 && resume_after <= self.seq {
                self.history.since(resume_after)
            } else {
                None
            };
            match missed {
                Some(missed) => {
                    // The client holds the subscription's twins as of
                    // `resume_after`: it needs only the twins changed since, as
                    // ENTER with their current fields, or LEAVE.
                    let room = self.room(conn_id, sub_id);
                    let sub = &self.conns[&conn_id].subs[&sub_id];
                    let matching = match sub.criteria.snapshot(world, room) {
                        Ok(twins) => twins,
                        Err(error) => {
                            self.close_subscription(conn_id, sub_id, &error);
                            continue;
                        }
                    };
                    let matching: HashSet<TwinId> =
                        matching.iter().map(|i| twin_id_of(world, *i)).collect();
                    let missed: HashSet<TwinId> = missed.into_iter().collect();
                    for twin in &matching {
                        self.hold(conn_id, sub_id, twin);
                        if missed.contains(twin) {
                            self.enter(conn_id, sub_id, twin, now.0);
                        }
                    }
                    for twin in missed.difference(&matching) {
                        if let Some(conn) = self.conns.get_mut(&conn_id) {
                            push_pending(conn, sub_id, twin, Pending::Leave, now.0);
                        }
                    }
                    self.set_awaiting_sync(conn_id, sub_id, true);
                }
                None => {
                    if let Some(conn) = self.conns.get_mut(&conn_id) {
                        conn.resets.push(sub_id);
                    }
                    let room = self.room(conn_id, sub_id);
                    let sub = &self.conns[&conn_id].subs[&sub_id];
                    match sub.criteria.snapshot(world, room) {
                        Ok(twins) => {
                            for index in twins {
                                self.enter(conn_id, sub_id, &twin_id_of(world, index), now.0);
                            }
                            self.set_awaiting_sync(conn_id, sub_id, false);
                        }
                        Err(error) => self.close_subscription(conn_id, sub_id, &error),
                    }
                }
            }
        }
    }

    /// How many more twins a subscription may hold within its connection's bound.
    fn room(&self, conn_id: ConnId, sub_id: SubId) -> usize {
        let conn = &self.conns[&conn_id];
        let own = conn.subs.get(&sub_id).map_or(0, |s| s.members.len());
        self.limits
            .twins_per_connection_max
            .saturating_sub(conn.held - own)
    }

    /// Adds a twin to a subscription's members without an event (a resumed
    /// client already holds it).
    fn hold(&mut self, conn_id: ConnId, sub_id: SubId, twin: &TwinId) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        let Some(sub) = conn.subs.get_mut(&sub_id) else {
            return;
        };
        if sub.members.insert(twin.clone()) {
            conn.held += 1;
            self.holders
                .entry(twin.clone())
                .or_default()
                .push((conn_id, sub_id));
        }
    }

    fn set_awaiting_sync(&mut self, conn_id: ConnId, sub_id: SubId, resumed: bool) {
        if let Some(sub) = self
            .conns
            .get_mut(&conn_id)
            .and_then(|c| c.subs.get_mut(&sub_id))
        {
            sub.awaiting_sync = Some(resumed);
        }
    }

    fn encode(&mut self, world: &World, now: Timestamp) -> TickOutput {
        let mut out = TickOutput {
            seq: self.seq,
            ..TickOutput::default()
        };
        let mut cache = TickCache::default();
        let seq = self.seq;
        let frame_max = self.limits.frame_bytes_max;
        let behind_max = self.limits.behind_ns_max;
        for (conn_id, conn) in &mut self.conns {
            if conn.hopeless {
                out.too_slow.push((
                    *conn_id,
                    "the connection fell further behind than the server holds for it".into(),
                ));
                continue;
            }
            if !conn.has_output() {
                conn.behind_since = None;
                continue;
            }
            if !conn.ready {
                let since = *conn.behind_since.get_or_insert(now.0);
                if now.0.saturating_sub(since) > behind_max {
                    out.too_slow.push((
                        *conn_id,
                        format!(
                            "the connection read nothing for {} ms while it had updates to receive",
                            behind_max / 1_000_000
                        ),
                    ));
                }
                continue;
            }
            conn.behind_since = None;
            let (tick, events) = build_tick(conn, world, &mut cache, &self.participants, frame_max);
            out.events += events;
            if conn.pending.is_empty() {
                conn.complete_seq = seq;
            }
            let message = proto::ServerMessage {
                seq: conn.complete_seq.0,
                sent_at_unix_ns: now.0,
                body: Some(proto::server_message::Body::Tick(tick)),
            };
            conn.ready = false;
            out.frames.push((*conn_id, message.encode_to_vec()));
        }
        out
    }
}

fn participant_id(conn: ConnId) -> String {
    format!("p{}", conn.0)
}

fn twin_id_of(world: &World, index: u32) -> TwinId {
    twin_id_of_str(world.twin_id(index))
}

fn twin_id_of_str(id: &str) -> TwinId {
    // Ids in the world were checked when the twin was made, so this cannot fail;
    // an unchecked Arc would need a constructor the world crate does not offer.
    TwinId::parse(id).unwrap_or_else(|_| unreachable!("world ids are valid"))
}

fn unhold(
    holders: &mut HashMap<TwinId, Vec<(ConnId, SubId)>>,
    twin: &TwinId,
    key: (ConnId, SubId),
) {
    if let Some(list) = holders.get_mut(twin) {
        list.retain(|k| *k != key);
        if list.is_empty() {
            holders.remove(twin);
        }
    }
}

/// Folds a new event into a connection's pending map (see the merge rules in the
/// match below: an ENTER absorbs later UPDATEs, the last of ENTER and LEAVE wins).
fn push_pending(conn: &mut Conn, sub_id: SubId, twin: &TwinId, event: Pending, at: i64) {
    let key = (sub_id, twin.clone());
    match conn.pending.get_mut(&key) {
        Some(entry) => {
            entry.changed_at = entry.changed_at.max(at);
            entry.event = match (std::mem::replace(&mut entry.event, Pending::Leave), event) {
                (Pending::Enter, Pending::Update(_)) => Pending::Enter,
                (Pending::Update(Some(mut a)), Pending::Update(Some(b))) => {
                    for field in b {
                        if !a.contains(&field) {
                            a.push(field);
                        }
                    }
                    Pending::Update(Some(a))
                }
                (Pending::Update(_), Pending::Update(_)) => Pending::Update(None),
                (Pending::Leave, Pending::Update(_)) => Pending::Leave,
                (_, newer) => newer,
            };
        }
        None => {
            conn.pending.insert(
                key,
                PendingEntry {
                    event,
                    changed_at: at,
                },
            );
            if let Some(sub) = conn.subs.get_mut(&sub_id) {
                sub.pending += 1;
            }
        }
    }
}

fn merge_presence(map: &mut IndexMap<ConnId, PresenceKind>, who: ConnId, kind: PresenceKind) {
    match (map.get(&who).copied(), kind) {
        // The joiner's first state goes out with its JOIN.
        (Some(PresenceKind::Join), PresenceKind::Update) => {}
        // Joined and left between two frames: nothing to say.
        (Some(PresenceKind::Join), PresenceKind::Leave) => {
            map.shift_remove(&who);
        }
        _ => {
            map.insert(who, kind);
        }
    }
}

/// Builds one connection's tick within `frame_max` bytes; returns it and the
/// number of twin events in it.
fn build_tick(
    conn: &mut Conn,
    world: &World,
    cache: &mut TickCache,
    participants: &BTreeMap<ConnId, Participant>,
    frame_max: usize,
) -> (proto::Tick, usize) {
    let mut tick = proto::Tick {
        resets: conn
            .resets
            .drain(..)
            .map(|subscription| proto::SubscriptionReset { subscription })
            .collect(),
        ..proto::Tick::default()
    };
    let mut size = tick.encoded_len();
    let mut taken = 0;
    for ((sub_id, twin), entry) in &conn.pending {
        let Some(sub) = conn.subs.get(sub_id) else {
            taken += 1;
            continue;
        };
        let event = twin_event(*sub_id, sub, twin, entry, world, cache);
        let len = event.encoded_len() + 4;
        // Always send at least one event, so a twin bigger than the frame budget
        // cannot wedge the connection.
        if taken > 0 && size + len > frame_max {
            break;
        }
        size += len;
        taken += 1;
        tick.events.push(event);
    }
    for ((sub_id, _), _) in conn.pending.drain(..taken) {
        if let Some(sub) = conn.subs.get_mut(&sub_id) {
            sub.pending -= 1;
        }
    }
    for (sub_id, sub) in &mut conn.subs {
        if sub.pending == 0
            && let Some(resumed) = sub.awaiting_sync.take()
        {
            tick.synced.push(proto::SubscriptionSynced {
                subscription: *sub_id,
                resumed,
            });
        }
    }
    for (who, kind) in conn.presence.drain(..) {
        let mut event = proto::PresenceEvent {
            participant_id: participant_id(who),
            kind: match kind {
                PresenceKind::Join => proto::presence_event::Kind::Join,
                PresenceKind::Update => proto::presence_event::Kind::Update,
                PresenceKind::Leave => proto::presence_event::Kind::Leave,
            }
            .into(),
            ..proto::PresenceEvent::default()
        };
        if kind != PresenceKind::Leave {
            let Some(p) = participants.get(&who) else {
                continue;
            };
            event.display_name.clone_from(&p.display_name);
            event.color.clone_from(&p.color);
            event.head.clone_from(&p.head);
            event.left_hand.clone_from(&p.left_hand);
            event.right_hand.clone_from(&p.right_hand);
            event.pointer.clone_from(&p.pointer);
            event.selected_twin_id.clone_from(&p.selected_twin_id);
        }
        tick.presence.push(event);
    }
    tick.chat.extend(conn.chat.drain(..));
    tick.annotations.extend(conn.annotations.drain(..));
    tick.closed.append(&mut conn.closed);
    let events = tick.events.len();
    (tick, events)
}

fn twin_event(
    sub_id: SubId,
    sub: &Sub,
    twin: &TwinId,
    entry: &PendingEntry,
    world: &World,
    cache: &mut TickCache,
) -> proto::TwinEvent {
    let mut event = proto::TwinEvent {
        subscription: sub_id,
        twin_id: twin.as_str().to_owned(),
        changed_at_unix_ns: entry.changed_at,
        ..proto::TwinEvent::default()
    };
    let index = world.twin_by_id(twin.as_str());
    let (index, kind) = match (index, &entry.event) {
        (None, _) | (_, Pending::Leave) => {
            event.kind = proto::TwinEventKind::Leave.into();
            return event;
        }
        (Some(index), Pending::Enter) | (Some(index), Pending::Update(None)) => {
            (index, proto::TwinEventKind::Enter)
        }
        (Some(index), Pending::Update(Some(_))) => (index, proto::TwinEventKind::Update),
    };
    event.kind = kind.into();
    let wants_placement = sub.fields.wants("$placement");
    match (&entry.event, kind) {
        (Pending::Update(Some(fields)), proto::TwinEventKind::Update) => {
            for name in fields {
                event.fields.push(proto::Field {
                    name: name.to_string(),
                    value: field_value(world, cache, index, name),
                });
                if &**name == "$placement" && wants_placement {
                    event.world_pose = pose(world, cache, index, twin);
                }
            }
        }
        _ => {
            let full = cache
                .full
                .entry(index)
                .or_insert_with(|| Arc::new(full_fields(world, index)))
                .clone();
            event.model.clone_from(&full.0);
            event.fields = full
                .1
                .iter()
                .filter(|f| sub.fields.wants(&f.name))
                .cloned()
                .collect();
            if wants_placement {
                event.world_pose = pose(world, cache, index, twin);
            }
        }
    }
    event
}

/// A twin's model and every top-level field (properties, components, `$placement`).
fn full_fields(world: &World, index: u32) -> (String, Vec<proto::Field>) {
    let json = TwinGraph::twin_json(world, index);
    let model = json
        .pointer("/$metadata/$model")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    let fields = json
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| !matches!(name.as_str(), "$dtId" | "$etag" | "$metadata"))
        .map(|(name, value)| proto::Field {
            name: name.clone(),
            value: Some(proto::Value::from_json(value)),
        })
        .collect();
    (model, fields)
}

fn field_value(
    world: &World,
    cache: &mut TickCache,
    index: u32,
    name: &Arc<str>,
) -> Option<proto::Value> {
    cache
        .fields
        .entry((index, name.clone()))
        .or_insert_with(|| {
            world
                .twin_value(index, &[name])
                .map(|v| proto::Value::from_json(&v))
        })
        .clone()
}

fn pose(world: &World, cache: &mut TickCache, index: u32, twin: &TwinId) -> Option<proto::Pose> {
    *cache.poses.entry(index).or_insert_with(|| {
        world.twin_pose(twin.as_str()).map(|p| proto::Pose {
            position: Some(proto::Vec3::from_array(p.position.to_array())),
            rotation: Some(proto::Quat {
                x: p.rotation.x,
                y: p.rotation.y,
                z: p.rotation.z,
                w: p.rotation.w,
            }),
            scale: Some(proto::Vec3::from_array(p.scale.to_array())),
        })
    })
}
