//! Replay: one connection watching its world as it was, from a past instant on,
//! at a chosen speed, in the same `Tick` frames as live but marked with
//! `Tick.replay`. Pure logic: the recorded state and changes are handed in (the
//! server reads them from the world's history), and wall-clock time is an
//! argument.
//!
//! - `Clock` maps wall-clock time to recorded time: an anchor pair, a speed and
//!   a paused flag. Pause, resume, speed changes and seeks re-anchor it, so the
//!   recorded position never jumps except on a seek.
//! - `Replay` holds the replayed view (each twin's recorded fields) so that an
//!   `UPDATE` can carry whole top-level fields even when history recorded a
//!   nested path (`$placement/position`), and so that a recorded `$exists`
//!   becomes `ENTER` / `LEAVE`. Per tick it folds the changes since the last one
//!   into one event per twin (the latest value of each field, as live
//!   conflates), in the order the twins first changed.
//!
//! Bounded like live: a replay holds at most `twins_max` twins, and a reader
//! that falls behind never builds a queue: the next tick simply covers a longer
//! stretch of recorded time.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::LiveError;

/// The reserved field a history records a twin's creation (`true`) and deletion
/// (`false`) under.
pub const EXISTS_FIELD: &str = "$exists";

/// Slowest and fastest replay speeds (recorded seconds per real second): slower
/// than 1/100 is a still picture; faster than 1000× a tick spans minutes of
/// recording and reads more than a frame can carry.
pub const SPEED_MIN: f64 = 0.01;
/// See `SPEED_MIN`.
pub const SPEED_MAX: f64 = 1000.0;

/// A twin's recorded state at an instant: field paths (`temperature`,
/// `$placement/position`) and their values, removed fields left out.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedTwin {
    /// The twin's id.
    pub twin: String,
    /// Its model, when known (sent on `ENTER`).
    pub model: String,
    /// Field path and value.
    pub fields: Vec<(Arc<str>, Value)>,
}

/// One recorded change.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// When it happened, in nanoseconds since the Unix epoch.
    pub time: i64,
    /// The twin.
    pub twin: String,
    /// The field path, or `EXISTS_FIELD`.
    pub field: Arc<str>,
    /// The new value; `None` when the field was removed.
    pub value: Option<Value>,
}

/// Maps wall-clock time to recorded time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    /// Recorded instant at `wall_anchor`.
    recorded_anchor: i64,
    wall_anchor: i64,
    speed: f64,
    paused: bool,
}

impl Clock {
    /// A clock at recorded instant `from` now (`wall`), running at `speed`.
    pub fn new(from: i64, speed: f64, wall: i64) -> Result<Clock, LiveError> {
        check_speed(speed)?;
        Ok(Clock {
            recorded_anchor: from,
            wall_anchor: wall,
            speed,
            paused: false,
        })
    }

    /// The recorded instant at wall-clock `wall`.
    pub fn at(&self, wall: i64) -> i64 {
        if self.paused {
            return self.recorded_anchor;
        }
        let elapsed = wall.saturating_sub(self.wall_anchor).max(0) as f64;
        // Rounded down to whole nanoseconds; saturates far beyond any recording.
        let advanced = (elapsed * self.speed) as i64;
        self.recorded_anchor.saturating_add(advanced)
    }

    /// Stops recorded time at its current position.
    pub fn pause(&mut self, wall: i64) {
        self.recorded_anchor = self.at(wall);
        self.wall_anchor = wall;
        self.paused = true;
    }

    /// Lets recorded time run again from where it stopped.
    pub fn resume(&mut self, wall: i64) {
        if self.paused {
            self.wall_anchor = wall;
            self.paused = false;
        }
    }

    /// Changes the speed from `wall` on.
    pub fn set_speed(&mut self, speed: f64, wall: i64) -> Result<(), LiveError> {
        check_speed(speed)?;
        self.recorded_anchor = self.at(wall);
        self.wall_anchor = wall;
        self.speed = speed;
        Ok(())
    }

    /// Holds recorded time at `at` (used when the replay caught up with the
    /// present: recorded time may not run ahead of it).
    fn hold_at(&mut self, at: i64, wall: i64) {
        self.recorded_anchor = at;
        self.wall_anchor = wall;
    }

    /// Recorded seconds per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Whether recorded time stands still.
    pub fn paused(&self) -> bool {
        self.paused
    }
}

fn check_speed(speed: f64) -> Result<(), LiveError> {
    if (SPEED_MIN..=SPEED_MAX).contains(&speed) {
        Ok(())
    } else {
        Err(LiveError::InvalidReplay(format!(
            "speed {speed} is outside {SPEED_MIN} to {SPEED_MAX}"
        )))
    }
}

/// One twin's changes within a tick: changed top-level fields, whether it
/// entered (`Some(true)`) or left (`Some(false)`), and the newest change time.
type Folded = (Vec<Arc<str>>, Option<bool>, i64);

/// One connection's replay. See the module documentation.
#[derive(Debug)]
pub struct Replay {
    subscription: u32,
    clock: Clock,
    /// Every recorded change at or before this instant has been sent.
    sent_until: i64,
    /// The replayed view: twin id → (model, field path → value).
    twins: BTreeMap<String, (String, BTreeMap<Arc<str>, Value>)>,
    twins_max: usize,
    snapshot_sent: bool,
    caught_up: bool,
}

impl Replay {
    /// A replay of `subscription` from recorded instant `from` at `speed`, started
    /// at wall-clock `wall`, holding at most `twins_max` twins.
    pub fn new(
        subscription: u32,
        from: i64,
        speed: f64,
        wall: i64,
        twins_max: usize,
    ) -> Result<Replay, LiveError> {
        Ok(Replay {
            subscription,
            clock: Clock::new(from, speed, wall)?,
            sent_until: from,
            twins: BTreeMap::new(),
            twins_max,
            snapshot_sent: false,
            caught_up: false,
        })
    }

    /// The subscription id its events name.
    pub fn subscription(&self) -> u32 {
        self.subscription
    }

    /// The clock (to pause, resume or change speed).
    pub fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    /// The recorded instant the snapshot is to be taken at (the start).
    pub fn start(&self) -> i64 {
        self.sent_until
    }

    /// Whether the snapshot still has to be sent (`snapshot` first, then `advance`).
    pub fn needs_snapshot(&self) -> bool {
        !self.snapshot_sent
    }

    /// The stretch of recorded time the next tick covers at wall-clock `wall`:
    /// `(after, until]`, capped at `present` (nothing is recorded after it). `None`
    /// when there is nothing new to cover (paused, or still at the same instant).
    pub fn window(&mut self, wall: i64, present: i64) -> Option<(i64, i64)> {
        let mut until = self.clock.at(wall);
        if until >= present {
            until = present;
            // Caught up: recorded time may not run ahead of the present.
            self.clock.hold_at(present, wall);
            self.caught_up = true;
        }
        (until > self.sent_until).then_some((self.sent_until, until))
    }

    /// The snapshot tick: a reset of the replay's subscription, then every twin
    /// of `state` as `ENTER`. Refused (and the replay should end) when the state
    /// holds more than `twins_max` twins.
    pub fn snapshot(
        &mut self,
        state: Vec<RecordedTwin>,
        wall: i64,
    ) -> Result<proto::Tick, LiveError> {
        if state.len() > self.twins_max {
            return Err(LiveError::TooManyTwins {
                max: self.twins_max,
            });
        }
        self.twins.clear();
        let mut events = Vec::with_capacity(state.len());
        for twin in state {
            let fields: BTreeMap<Arc<str>, Value> = twin
                .fields
                .into_iter()
                .filter(|(path, _)| &**path != EXISTS_FIELD)
                .collect();
            events.push(self.enter_event(&twin.twin, &twin.model, &fields, self.sent_until));
            self.twins.insert(twin.twin, (twin.model, fields));
        }
        self.snapshot_sent = true;
        Ok(proto::Tick {
            resets: vec![proto::SubscriptionReset {
                subscription: self.subscription,
            }],
            events,
            synced: vec![proto::SubscriptionSynced {
                subscription: self.subscription,
                resumed: false,
            }],
            replay: Some(self.position(wall, true)),
            ..proto::Tick::default()
        })
    }

    /// Folds the recorded changes of `(after, until]` (as `window` gave it) into
    /// one tick: one event per twin that changed, in the order the twins first
    /// changed, carrying the latest value of each changed field. `changes` may
    /// come in any order; those outside the window are ignored. Returns `None`
    /// when nothing changed (the position still moved). Fails when the replay
    /// would hold more than `twins_max` twins.
    pub fn advance(
        &mut self,
        mut changes: Vec<Recorded>,
        until: i64,
        wall: i64,
    ) -> Result<Option<proto::Tick>, LiveError> {
        let after = self.sent_until;
        changes.retain(|c| c.time > after && c.time <= until);
        // Stable: equal times keep the order the source gave them.
        changes.sort_by_key(|c| c.time);
        self.sent_until = self.sent_until.max(until);
        // Per twin: changed top-level fields, whether it entered or left, and the
        // newest change time.
        let mut touched: IndexMap<String, Folded> = IndexMap::new();
        for change in changes {
            let entry =
                touched
                    .entry(change.twin.clone())
                    .or_insert((Vec::new(), None, change.time));
            entry.2 = change.time;
            if &*change.field == EXISTS_FIELD {
                let exists = change.value == Some(Value::Bool(true));
                if exists {
                    if !self.twins.contains_key(&change.twin) {
                        if self.twins.len() >= self.twins_max {
                            return Err(LiveError::TooManyTwins {
                                max: self.twins_max,
                            });
                        }
                        self.twins
                            .insert(change.twin.clone(), (String::new(), BTreeMap::new()));
                    }
                } else {
                    self.twins.remove(&change.twin);
                }
                entry.1 = Some(exists);
                continue;
            }
            // A change to a twin recorded before its creation was (a history
            // without lifecycle records) makes it appear.
            if !self.twins.contains_key(&change.twin) {
                if self.twins.len() >= self.twins_max {
                    return Err(LiveError::TooManyTwins {
                        max: self.twins_max,
                    });
                }
                self.twins
                    .insert(change.twin.clone(), (String::new(), BTreeMap::new()));
                entry.1 = Some(true);
            }
            let Some((_, fields)) = self.twins.get_mut(&change.twin) else {
                continue;
            };
            match change.value {
                Some(value) => fields.insert(Arc::clone(&change.field), value),
                None => fields.remove(&change.field),
            };
            let top = top_level(&change.field);
            if !entry.0.iter().any(|f| **f == *top) {
                entry.0.push(Arc::from(top));
            }
        }
        if touched.is_empty() {
            return Ok(None);
        }
        let mut events = Vec::with_capacity(touched.len());
        for (twin, (changed, lifecycle, time)) in touched {
            match (self.twins.get(&twin), lifecycle) {
                (None, _) => events.push(proto::TwinEvent {
                    subscription: self.subscription,
                    kind: proto::TwinEventKind::Leave.into(),
                    twin_id: twin,
                    changed_at_unix_ns: time,
                    ..proto::TwinEvent::default()
                }),
                (Some((model, fields)), Some(true)) => {
                    events.push(self.enter_event(&twin, model, fields, time));
                }
                (Some((_, fields)), _) => events.push(proto::TwinEvent {
                    subscription: self.subscription,
                    kind: proto::TwinEventKind::Update.into(),
                    twin_id: twin,
                    fields: changed
                        .iter()
                        .map(|name| proto::Field {
                            name: name.to_string(),
                            value: assemble(fields, name).map(|v| proto::Value::from_json(&v)),
                        })
                        .collect(),
                    changed_at_unix_ns: time,
                    ..proto::TwinEvent::default()
                }),
            }
        }
        Ok(Some(proto::Tick {
            events,
            replay: Some(self.position(wall, false)),
            ..proto::Tick::default()
        }))
    }

    /// A tick with no events that only tells where the replay stands (after a
    /// pause, resume or speed change).
    pub fn position_tick(&self, wall: i64) -> proto::Tick {
        proto::Tick {
            replay: Some(self.position(wall, false)),
            ..proto::Tick::default()
        }
    }

    fn position(&self, _wall: i64, snapshot: bool) -> proto::ReplayPosition {
        proto::ReplayPosition {
            subscription: self.subscription,
            at_unix_ns: self.sent_until,
            speed: self.clock.speed(),
            paused: self.clock.paused(),
            snapshot,
            caught_up: self.caught_up,
        }
    }

    fn enter_event(
        &self,
        twin: &str,
        model: &str,
        fields: &BTreeMap<Arc<str>, Value>,
        time: i64,
    ) -> proto::TwinEvent {
        let mut names: Vec<&str> = fields.keys().map(|p| top_level(p)).collect();
        names.dedup();
        proto::TwinEvent {
            subscription: self.subscription,
            kind: proto::TwinEventKind::Enter.into(),
            twin_id: twin.to_owned(),
            model: model.to_owned(),
            fields: names
                .into_iter()
                .map(|name| proto::Field {
                    name: name.to_owned(),
                    value: assemble(fields, name).map(|v| proto::Value::from_json(&v)),
                })
                .collect(),
            changed_at_unix_ns: time,
            ..proto::TwinEvent::default()
        }
    }
}

/// The first segment of a field path (`$placement/position` → `$placement`).
fn top_level(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// The value of top-level field `name` built from the recorded paths under it:
/// the value itself when recorded whole, else an object of its sub-paths.
/// `None` when nothing is recorded under it (the field was removed).
fn assemble(fields: &BTreeMap<Arc<str>, Value>, name: &str) -> Option<Value> {
    if let Some(value) = fields.get(name) {
        return Some(value.clone());
    }
    let prefix = format!("{name}/");
    let mut object = Value::Object(serde_json::Map::new());
    let mut any = false;
    for (path, value) in
        fields.range::<str, _>((std::ops::Bound::Excluded(name), std::ops::Bound::Unbounded))
    {
        let Some(rest) = path.strip_prefix(&prefix) else {
            if path.starts_with(name) {
                // `name` followed by a character that sorts before '/': keep going.
                continue;
            }
            break;
        };
        any = true;
        let mut node = &mut object;
        let segments: Vec<&str> = rest.split('/').collect();
        for (index, segment) in segments.iter().enumerate() {
            let Value::Object(map) = node else {
                break;
            };
            if index + 1 == segments.len() {
                map.insert((*segment).to_owned(), value.clone());
                break;
            }
            node = map
                .entry((*segment).to_owned())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
        }
    }
    any.then_some(object)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const S: i64 = 1_000_000_000;

    fn change(time: i64, twin: &str, field: &str, value: Option<Value>) -> Recorded {
        Recorded {
            time,
            twin: twin.into(),
            field: Arc::from(field),
            value,
        }
    }

    fn field<'a>(event: &'a proto::TwinEvent, name: &str) -> Option<&'a proto::Value> {
        event
            .fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.as_ref())
    }

    #[test]
    fn the_clock_runs_at_its_speed_and_pauses_resumes_and_changes_speed_without_jumps() {
        let mut clock = Clock::new(100 * S, 2.0, 0).unwrap();
        assert_eq!(clock.at(0), 100 * S);
        assert_eq!(clock.at(S), 102 * S);
        clock.pause(S);
        assert_eq!(clock.at(5 * S), 102 * S, "paused: recorded time stands");
        clock.resume(5 * S);
        assert_eq!(clock.at(6 * S), 104 * S);
        clock.set_speed(0.5, 6 * S).unwrap();
        assert_eq!(clock.at(8 * S), 105 * S);
        assert!(clock.set_speed(0.0, 8 * S).is_err());
        assert!(clock.set_speed(f64::NAN, 8 * S).is_err());
        assert!(Clock::new(0, 5000.0, 0).is_err());
    }

    #[test]
    fn a_value_patched_twice_replays_both_values_in_order_marked_as_replay() {
        let mut replay = Replay::new(9, 10 * S, 1.0, 0, 100).unwrap();
        assert!(replay.needs_snapshot());
        let state = vec![RecordedTwin {
            twin: "m1".into(),
            model: "dtmi:a;1".into(),
            fields: vec![
                (Arc::from("$exists"), json!(true)),
                (Arc::from("$placement/position"), json!([1.0, 2.0, 3.0])),
                (Arc::from("temperature"), json!(20.0)),
            ],
        }];
        let tick = replay.snapshot(state, 0).unwrap();
        assert_eq!(tick.resets[0].subscription, 9);
        let position = tick.replay.unwrap();
        assert!(position.snapshot);
        assert_eq!(position.at_unix_ns, 10 * S);
        let enter = &tick.events[0];
        assert_eq!(enter.kind(), proto::TwinEventKind::Enter);
        assert_eq!(enter.model, "dtmi:a;1");
        assert_eq!(
            field(enter, "$placement").and_then(proto::Value::to_json),
            Some(json!({ "position": [1.0, 2.0, 3.0] }))
        );
        assert!(
            field(enter, "$exists").is_none(),
            "lifecycle is not a field"
        );
        let recorded = vec![
            change(11 * S, "m1", "temperature", Some(json!(21.0))),
            change(13 * S, "m1", "temperature", Some(json!(22.0))),
        ];
        // One second in: only the first patch.
        let (after, until) = replay.window(S, 100 * S).unwrap();
        assert_eq!((after, until), (10 * S, 11 * S));
        let tick = replay.advance(recorded.clone(), until, S).unwrap().unwrap();
        assert_eq!(tick.events.len(), 1);
        assert_eq!(tick.events[0].kind(), proto::TwinEventKind::Update);
        assert_eq!(
            field(&tick.events[0], "temperature"),
            Some(&proto::Value::from_json(&json!(21.0)))
        );
        assert_eq!(tick.events[0].changed_at_unix_ns, 11 * S);
        assert!(tick.replay.is_some(), "replay ticks are marked");
        // Two more seconds: nothing new at 12 s, then the second patch.
        let (_, until) = replay.window(2 * S, 100 * S).unwrap();
        assert!(
            replay
                .advance(recorded.clone(), until, 2 * S)
                .unwrap()
                .is_none()
        );
        let (_, until) = replay.window(3 * S, 100 * S).unwrap();
        let tick = replay.advance(recorded, until, 3 * S).unwrap().unwrap();
        assert_eq!(
            field(&tick.events[0], "temperature"),
            Some(&proto::Value::from_json(&json!(22.0)))
        );
        assert_eq!(tick.replay.unwrap().at_unix_ns, 13 * S);
    }

    #[test]
    fn changes_in_one_tick_conflate_per_twin_and_lifecycle_becomes_enter_and_leave() {
        let mut replay = Replay::new(1, 0, 1.0, 0, 2).unwrap();
        replay.snapshot(Vec::new(), 0).unwrap();
        let recorded = vec![
            change(3, "b", "$exists", Some(json!(true))),
            change(1, "a", "x", Some(json!(1))),
            change(2, "a", "x", Some(json!(2))),
            change(3, "b", "y", Some(json!("on"))),
            change(4, "a", "z/deep", Some(json!(true))),
            change(50, "a", "x", Some(json!(3))),
        ];
        let tick = replay.advance(recorded, 10, 0).unwrap().unwrap();
        assert_eq!(tick.events.len(), 2, "{tick:?}");
        assert_eq!(tick.events[0].twin_id, "a");
        assert_eq!(
            tick.events[0].kind(),
            proto::TwinEventKind::Enter,
            "no lifecycle: appears"
        );
        assert_eq!(
            field(&tick.events[0], "x"),
            Some(&proto::Value::from_json(&json!(2)))
        );
        assert_eq!(
            field(&tick.events[0], "z").and_then(proto::Value::to_json),
            Some(json!({ "deep": true }))
        );
        assert_eq!(tick.events[1].twin_id, "b");
        assert_eq!(tick.events[1].kind(), proto::TwinEventKind::Enter);
        let tick = replay
            .advance(
                vec![
                    change(11, "a", "x", None),
                    change(12, "b", "$exists", Some(json!(false))),
                ],
                20,
                0,
            )
            .unwrap()
            .unwrap();
        assert_eq!(tick.events[0].kind(), proto::TwinEventKind::Update);
        assert_eq!(tick.events[0].fields[0].name, "x");
        assert!(tick.events[0].fields[0].value.is_none(), "removed");
        assert_eq!(tick.events[1].kind(), proto::TwinEventKind::Leave);
        // Bounded: a third twin passes twins_max = 2 (a and b left one slot).
        let more = vec![
            change(21, "c", "x", Some(json!(1))),
            change(22, "d", "x", Some(json!(1))),
        ];
        assert!(matches!(
            replay.advance(more, 30, 0),
            Err(LiveError::TooManyTwins { max: 2 })
        ));
    }

    #[test]
    fn a_replay_that_reaches_the_present_holds_there_and_says_so() {
        let mut replay = Replay::new(1, 0, 10.0, 0, 10).unwrap();
        replay.snapshot(Vec::new(), 0).unwrap();
        let (_, until) = replay.window(S, 5 * S).unwrap();
        assert_eq!(until, 5 * S, "capped at the present");
        let tick = replay.advance(Vec::new(), until, S).unwrap();
        assert!(tick.is_none());
        assert!(replay.position_tick(S).replay.unwrap().caught_up);
        assert!(replay.window(S, 5 * S).is_none());
        // Recorded time then follows the present, never passing it.
        let (after, until) = replay.window(2 * S, 6 * S).unwrap();
        assert_eq!((after, until), (5 * S, 6 * S));
    }

    #[test]
    fn a_snapshot_larger_than_the_bound_is_refused() {
        let mut replay = Replay::new(1, 0, 1.0, 0, 1).unwrap();
        let twin = |id: &str| RecordedTwin {
            twin: id.into(),
            model: String::new(),
            fields: Vec::new(),
        };
        assert!(replay.snapshot(vec![twin("a"), twin("b")], 0).is_err());
        assert!(replay.snapshot(vec![twin("a")], 0).is_ok());
    }
}
