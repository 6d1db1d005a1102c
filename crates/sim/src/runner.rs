//! The fixed-step runner: the storyboard state machine (stories, acts, maneuver
//! groups, maneuvers, events, actions with standby/running/complete and their
//! transitions), trigger evaluation with edges and delays, and the default driver
//! that keeps each entity in its lane at the commanded speed. Time advances only
//! by the configured step; nothing here reads the clock.
//!
//! One step is: advance time; move every entity with its active actions (speed,
//! lateral, trajectory); then evaluate triggers and start or stop storyboard
//! elements. Conditions therefore see the positions of the current time, and an
//! action started at time t moves its entity from the next step on.

use std::collections::{HashMap, VecDeque};

use road::{LanePosition, Network};

use crate::error::{Error, Result};
use crate::geometry::{Rect, gap, overlap, point_gap, shape_value, wrap_angle};
use crate::model::*;
use crate::report::{
    CollisionRecord, EndReason, EntitySummary, LogEntry, LogKind, PairSummary, RecordRow, Report,
};

/// Smallest and largest accepted step (s). Below 0.1 ms float error dominates;
/// above 10 s no vehicle dynamics is meaningful.
const STEP_RANGE_S: (f64, f64) = (1e-4, 10.0);
/// Most steps one `run_to_end` performs, whatever `max_time` says, so a run
/// always ends.
pub const MAX_STEPS: u64 = 50_000_000;
/// Most log entries kept; later ones are counted, not stored.
const MAX_LOG_ENTRIES: usize = 100_000;
/// Most delayed condition samples kept per condition (delay / step).
const MAX_DELAY_SAMPLES: usize = 1_000_000;
/// Most lane boundaries crossed in one step (lane sections, links); real steps
/// cross one or two.
const MAX_CROSSINGS_PER_STEP: usize = 32;
/// Below this speed (m/s) an entity stands still.
const STANDSTILL_SPEED: f64 = 1e-3;
/// Lateral gap (m, beyond half widths) under which two entities count as in the
/// same lane for headway/TTC KPIs.
const SAME_LANE_MARGIN: f64 = 0.5;
/// Lateral acceleration (m/s²) for LaneOffsetAction without maxLateralAcc.
const DEFAULT_LATERAL_ACCELERATION: f64 = 0.5;

/// The state of one entity at the current time.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityState {
    /// Entity name.
    pub name: String,
    /// World x of the reference point, m.
    pub x: f64,
    /// World y, m.
    pub y: f64,
    /// World z, m.
    pub z: f64,
    /// Heading, rad.
    pub heading: f64,
    /// Pitch, rad.
    pub pitch: f64,
    /// Roll, rad.
    pub roll: f64,
    /// Speed along the heading, m/s.
    pub speed: f64,
    /// dv/dt over the last step, m/s².
    pub acceleration: f64,
    /// Lane position when on a road.
    pub lane: Option<LanePosition>,
    /// +1 when travelling towards increasing s in `lane`, −1 otherwise.
    pub lane_direction: f64,
    /// Distance travelled, m.
    pub odometer: f64,
    standstill_time: f64,
    /// Seconds continuously off every road (only counted on a road network).
    offroad_time: f64,
    end_of_road_time: f64,
    at_end_of_road: bool,
    placed: bool,
    longitudinal: Option<SpeedMotion>,
    lateral: Option<LateralMotion>,
    trajectory: Option<TrajectoryMotion>,
    /// Roads of the assigned route, in order: at a fork the driver takes the
    /// continuation onto one of them.
    route_roads: Vec<String>,
    /// Distance a trajectory that ended in this step did not use; a trajectory
    /// started later in the same step begins with it, so chained trajectories
    /// lose no motion.
    trajectory_carry: f64,
}

#[derive(Debug, Clone, PartialEq)]
struct SpeedMotion {
    owner: Option<usize>,
    start_speed: f64,
    target: SpeedTarget,
    shape: Shape,
    duration: f64,
    elapsed: f64,
    reached: bool,
    /// SpeedProfileAction: (end time since start, speed) of each linear piece.
    profile: Vec<(f64, f64)>,
    /// LongitudinalDistanceAction: the gap to keep.
    gap: Option<GapKeeping>,
}

#[derive(Debug, Clone, PartialEq)]
struct GapKeeping {
    reference: usize,
    distance: f64,
    time_gap: Option<f64>,
    freespace: bool,
    continuous: bool,
    leading: bool,
    limits: Option<(f64, f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
struct LateralMotion {
    owner: Option<usize>,
    start_offset: f64,
    end_offset: f64,
    shape: Shape,
    /// Duration (s) or distance (m) the transition takes.
    length: f64,
    by_distance: bool,
    progress: f64,
    /// LaneOffsetAction with continuous="true" keeps running after reaching.
    continuous: bool,
    /// A lane change spends part of the speed sideways; a lane offset drifts
    /// sideways on top of the longitudinal speed (both as esmini moves them).
    shares_speed: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct TrajectoryMotion {
    owner: Option<usize>,
    points: Vec<(f64, f64, f64)>,
    segment: usize,
    along: f64,
    /// Simulation time of each point when the trajectory is timed.
    times: Option<Vec<f64>>,
}

#[derive(Debug, Clone)]
enum NodeData {
    Story,
    Act {
        start: Option<usize>,
        stop: Option<usize>,
    },
    Group {
        max: u32,
        actors: Vec<String>,
        select_triggering: bool,
    },
    Maneuver,
    Event {
        priority: Priority,
        max: u32,
        start: Option<usize>,
    },
    Action {
        // Boxed: actions (trajectories) are much larger than the other variants.
        action: Box<Action>,
        init_entity: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    parent: Option<usize>,
    children: Vec<usize>,
    data: NodeData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Standby,
    Running,
    Complete,
}

#[derive(Debug, Clone)]
struct NodeState {
    state: State,
    /// Last transition and the step it happened in.
    transition: Option<(ElementState, u64)>,
    executions: u32,
    /// Entity motions this action still waits for.
    pending: u32,
    /// Entities that fired this event's trigger (for selectTriggeringEntities).
    triggering: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct ConditionState {
    last: Option<bool>,
    delayed: VecDeque<(f64, bool)>,
    last_logged: bool,
    last_evaluated: u64,
    /// For collision conditions: how many collisions the triggering entities
    /// were in when the value was last logged. esmini logs a true collision
    /// condition again when that number changes (its log line lists them).
    last_collisions: usize,
}

/// A scenario being run on a road network with a fixed step.
#[derive(Debug)]
pub struct Runner {
    scenario: Scenario,
    network: Option<Network>,
    step_s: f64,
    time: f64,
    steps: u64,
    entities: Vec<EntityState>,
    index: HashMap<String, usize>,
    nodes: Vec<Node>,
    states: Vec<NodeState>,
    stories: Vec<usize>,
    init_actions: Vec<usize>,
    triggers: Vec<std::sync::Arc<Trigger>>,
    /// First element of each kind and name, for StoryboardElementStateCondition.
    element_index: HashMap<(ElementKind, String), usize>,
    condition_states: Vec<Vec<Vec<ConditionState>>>,
    stop_trigger: Option<usize>,
    parameters: Vec<(String, String)>,
    variables: Vec<(String, String)>,
    started: bool,
    end: Option<EndReason>,
    log: Vec<LogEntry>,
    log_dropped: u64,
    record: Option<Vec<RecordRow>>,
    collisions_active: Vec<(usize, usize)>,
    collisions: Vec<CollisionRecord>,
    pairs: HashMap<(usize, usize), (f64, f64)>,
    max_deceleration: Vec<f64>,
    controllers: Vec<(String, String)>,
}

impl Runner {
    /// A runner at time 0 with Init not yet applied (the first [`Runner::step`]
    /// applies it). `network` is needed for lane and road positions.
    pub fn new(scenario: Scenario, network: Option<Network>, step_s: f64) -> Result<Runner> {
        if !(STEP_RANGE_S.0..=STEP_RANGE_S.1).contains(&step_s) {
            return Err(Error::Runner(format!(
                "step {step_s} s is outside the allowed {}..={} s",
                STEP_RANGE_S.0, STEP_RANGE_S.1
            )));
        }
        let mut runner = Runner {
            entities: scenario
                .entities
                .iter()
                .map(|e| EntityState {
                    name: e.name.clone(),
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                    heading: 0.0,
                    pitch: 0.0,
                    roll: 0.0,
                    speed: 0.0,
                    acceleration: 0.0,
                    lane: None,
                    lane_direction: 1.0,
                    odometer: 0.0,
                    standstill_time: 0.0,
                    offroad_time: 0.0,
                    end_of_road_time: 0.0,
                    at_end_of_road: false,
                    placed: false,
                    longitudinal: None,
                    lateral: None,
                    trajectory: None,
                    route_roads: Vec::new(),
                    trajectory_carry: 0.0,
                })
                .collect(),
            index: scenario
                .entities
                .iter()
                .enumerate()
                .map(|(i, e)| (e.name.clone(), i))
                .collect(),
            max_deceleration: vec![0.0; scenario.entities.len()],
            parameters: scenario.parameters.clone(),
            variables: scenario.variables.clone(),
            scenario,
            network,
            step_s,
            time: 0.0,
            steps: 0,
            nodes: Vec::new(),
            states: Vec::new(),
            stories: Vec::new(),
            init_actions: Vec::new(),
            triggers: Vec::new(),
            element_index: HashMap::new(),
            condition_states: Vec::new(),
            stop_trigger: None,
            started: false,
            end: None,
            log: Vec::new(),
            log_dropped: 0,
            record: None,
            collisions_active: Vec::new(),
            collisions: Vec::new(),
            pairs: HashMap::new(),
            controllers: Vec::new(),
        };
        runner.build_plan();
        Ok(runner)
    }

    /// Keeps a per-step trajectory record (see [`crate::record_csv`]).
    pub fn set_recording(&mut self, on: bool) {
        self.record = if on { Some(Vec::new()) } else { None };
    }

    /// Simulation time, s.
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Entity states, in declaration order.
    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }

    /// The events logged so far (condition changes, trigger firings, state changes, collisions).
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// Why the run ended, once it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.end
    }

    /// The trajectory record, if recording.
    pub fn record(&self) -> Option<&[RecordRow]> {
        self.record.as_deref()
    }

    fn add_trigger(&mut self, trigger: &Trigger) -> usize {
        self.triggers.push(std::sync::Arc::new(trigger.clone()));
        self.condition_states.push(
            trigger
                .groups
                .iter()
                .map(|g| vec![ConditionState::default(); g.len()])
                .collect(),
        );
        self.triggers.len() - 1
    }

    fn add_node(
        &mut self,
        kind: ElementKind,
        name: &str,
        parent: Option<usize>,
        data: NodeData,
    ) -> usize {
        self.element_index
            .entry((kind, name.to_string()))
            .or_insert(self.nodes.len());
        self.nodes.push(Node {
            name: name.to_string(),
            parent,
            children: Vec::new(),
            data,
        });
        self.states.push(NodeState {
            state: State::Standby,
            transition: None,
            executions: 0,
            pending: 0,
            triggering: Vec::new(),
        });
        let id = self.nodes.len() - 1;
        if let Some(p) = parent {
            self.nodes[p].children.push(id);
        }
        id
    }

    fn build_plan(&mut self) {
        let scenario = self.scenario.clone();
        for init in &scenario.init {
            let (name, action, entity) = match init {
                InitAction::Private { entity, action } => {
                    let domain = match action {
                        PrivateAction::Speed { .. }
                        | PrivateAction::SpeedProfile { .. }
                        | PrivateAction::LongitudinalDistance { .. } => "LongitudinalAction",
                        PrivateAction::LaneChange { .. } | PrivateAction::LaneOffset { .. } => {
                            "LateralAction"
                        }
                        PrivateAction::Teleport(_) => "TeleportAction",
                        PrivateAction::FollowTrajectory { .. }
                        | PrivateAction::AssignRoute { .. } => "RoutingAction",
                        PrivateAction::ActivateController { .. } => "ActivateControllerAction",
                        PrivateAction::AssignController { .. } => "ControllerAction",
                    };
                    (
                        format!("Init {entity} {domain}"),
                        Action::Private(action.clone()),
                        Some(entity.clone()),
                    )
                }
                InitAction::Global(g) => (
                    "Init GlobalAction".to_string(),
                    Action::Global(g.clone()),
                    None,
                ),
            };
            let id = self.add_node(
                ElementKind::Action,
                &name,
                None,
                NodeData::Action {
                    action: Box::new(action),
                    init_entity: entity,
                },
            );
            self.init_actions.push(id);
        }
        for story in &scenario.stories {
            let s = self.add_node(ElementKind::Story, &story.name, None, NodeData::Story);
            self.stories.push(s);
            for act in &story.acts {
                let start = act
                    .start_trigger
                    .as_ref()
                    .filter(|t| !t.groups.is_empty())
                    .map(|t| self.add_trigger(t));
                let stop = act.stop_trigger.as_ref().map(|t| self.add_trigger(t));
                let a = self.add_node(
                    ElementKind::Act,
                    &act.name,
                    Some(s),
                    NodeData::Act { start, stop },
                );
                for group in &act.maneuver_groups {
                    let g = self.add_node(
                        ElementKind::ManeuverGroup,
                        &group.name,
                        Some(a),
                        NodeData::Group {
                            max: group.max_executions,
                            actors: group.actors.clone(),
                            select_triggering: group.select_triggering,
                        },
                    );
                    for maneuver in &group.maneuvers {
                        let m = self.add_node(
                            ElementKind::Maneuver,
                            &maneuver.name,
                            Some(g),
                            NodeData::Maneuver,
                        );
                        for event in &maneuver.events {
                            let start = event
                                .start_trigger
                                .as_ref()
                                .filter(|t| !t.groups.is_empty())
                                .map(|t| self.add_trigger(t));
                            let e = self.add_node(
                                ElementKind::Event,
                                &event.name,
                                Some(m),
                                NodeData::Event {
                                    priority: event.priority,
                                    max: event.max_executions,
                                    start,
                                },
                            );
                            for action in &event.actions {
                                self.add_node(
                                    ElementKind::Action,
                                    &action.name,
                                    Some(e),
                                    NodeData::Action {
                                        action: Box::new(action.action.clone()),
                                        init_entity: None,
                                    },
                                );
                            }
                        }
                    }
                }
            }
        }
        self.stop_trigger = scenario.stop_trigger.as_ref().map(|t| self.add_trigger(t));
    }

    fn push_log(&mut self, kind: LogKind) {
        if self.log.len() < MAX_LOG_ENTRIES {
            self.log.push(LogEntry {
                time: self.time,
                kind,
            });
        } else {
            self.log_dropped += 1;
        }
    }

    fn transition(&mut self, node: usize, to: State, transition: ElementState) {
        let from = self.states[node].state;
        self.states[node].state = to;
        self.states[node].transition = Some((transition, self.steps));
        let name = self.nodes[node].name.clone();
        self.push_log(LogKind::StateChange {
            element: name,
            from: state_name(from),
            transition: transition_name(transition),
            to: state_name(to),
        });
    }

    /// Advances the simulation by one step (the first call applies Init at time 0).
    /// Returns false once the run has ended.
    pub fn step(&mut self) -> Result<bool> {
        if self.end.is_some() {
            return Ok(false);
        }
        if !self.started {
            self.started = true;
            self.push_log(LogKind::StateChange {
                element: "storyBoard".into(),
                from: "initState",
                transition: "startTransition",
                to: "runningState",
            });
            for id in self.init_actions.clone() {
                self.start_action(id, &[])?;
            }
            for story in self.stories.clone() {
                self.transition(story, State::Running, ElementState::StartTransition);
            }
            self.evaluate_storyboard()?;
            self.settle();
            self.after_step();
            return Ok(self.end.is_none());
        }
        self.steps += 1;
        self.time = self.steps as f64 * self.step_s;
        self.move_entities()?;
        self.settle();
        self.evaluate_storyboard()?;
        self.settle();
        self.after_step();
        Ok(self.end.is_none())
    }

    /// Runs until the storyboard ends or `max_time_s` passes, then reports.
    pub fn run_to_end(&mut self, max_time_s: f64) -> Result<Report> {
        let mut guard = 0u64;
        while self.end.is_none() {
            if self.time + self.step_s * 0.5 > max_time_s || guard >= MAX_STEPS {
                self.end = Some(EndReason::MaxTime);
                break;
            }
            self.step()?;
            guard += 1;
        }
        Ok(self.report())
    }

    /// The report of the run so far.
    pub fn report(&self) -> Report {
        let name = |i: usize| self.entities[i].name.clone();
        let mut pairs: Vec<PairSummary> = self
            .pairs
            .iter()
            .map(|(&(a, b), &(headway, ttc))| PairSummary {
                a: name(a),
                b: name(b),
                min_time_headway_s: headway.is_finite().then_some(headway),
                min_time_to_collision_s: ttc.is_finite().then_some(ttc),
            })
            .collect();
        pairs.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
        Report {
            scenario: self.scenario.file.clone(),
            description: self.scenario.description.clone(),
            step_s: self.step_s,
            end_reason: self.end,
            time_s: self.time,
            steps: self.steps,
            collisions: self.collisions.clone(),
            pairs,
            entities: self
                .entities
                .iter()
                .enumerate()
                .map(|(i, e)| EntitySummary {
                    name: e.name.clone(),
                    distance_m: e.odometer,
                    max_deceleration: self.max_deceleration[i],
                    final_speed: e.speed,
                })
                .collect(),
            controllers: self.controllers.clone(),
            notes: self.scenario.notes.clone(),
            log: self.log.clone(),
            log_dropped: self.log_dropped,
        }
    }

    // ---- positions ----

    fn network(&self) -> Result<&Network> {
        self.network.as_ref().ok_or_else(|| {
            Error::Runner("a road or lane position needs a road network; none was given".into())
        })
    }

    fn entity(&self, name: &str) -> Result<usize> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| Error::Runner(format!("unknown entity `{name}`")))
    }

    /// World pose (x, y, z, heading, pitch, roll), lane position and lane direction of a position.
    fn resolve(&self, position: &Position, for_entity: Option<usize>) -> Result<Placement> {
        let road_error = |e: road::RoadError| Error::Road(e.to_string());
        match position {
            Position::World { x, y, z, h, p, r } => {
                let lane = self
                    .network
                    .as_ref()
                    .and_then(|n| n.world_to_lane(*x, *y, *z));
                let heading = h.unwrap_or(0.0);
                let z = z.unwrap_or_else(|| {
                    lane.as_ref()
                        .and_then(|l| {
                            self.network
                                .as_ref()?
                                .lane_to_world(&l.road, l.lane, l.s, l.offset)
                                .ok()
                        })
                        .map_or(0.0, |p| p.z)
                });
                Ok(Placement {
                    x: *x,
                    y: *y,
                    z,
                    heading,
                    pitch: p.unwrap_or(0.0),
                    roll: r.unwrap_or(0.0),
                    lane,
                    direction: None,
                })
            }
            Position::RelativeWorld {
                entity,
                dx,
                dy,
                dz,
                orientation,
            } => {
                let e = &self.entities[self.entity(entity)?];
                let (x, y) = (e.x + dx, e.y + dy);
                let lane = self
                    .network
                    .as_ref()
                    .and_then(|n| n.world_to_lane(x, y, None));
                Ok(Placement {
                    x,
                    y,
                    z: e.z + dz,
                    heading: orient(orientation, e.heading),
                    pitch: 0.0,
                    roll: 0.0,
                    lane,
                    direction: None,
                })
            }
            Position::RelativeObject {
                entity,
                dx,
                dy,
                dz,
                orientation,
            } => {
                let e = &self.entities[self.entity(entity)?];
                let (s, c) = e.heading.sin_cos();
                let (x, y) = (e.x + dx * c - dy * s, e.y + dx * s + dy * c);
                let lane = self
                    .network
                    .as_ref()
                    .and_then(|n| n.world_to_lane(x, y, None));
                Ok(Placement {
                    x,
                    y,
                    z: e.z + dz,
                    heading: orient(orientation, e.heading),
                    pitch: 0.0,
                    roll: 0.0,
                    lane,
                    direction: None,
                })
            }
            Position::Road {
                road,
                s,
                t,
                orientation,
            } => {
                let network = self.network()?;
                let pose = network.road_to_world(road, *s, *t).map_err(road_error)?;
                let lane = network.world_to_lane(pose.x, pose.y, Some(pose.z));
                Ok(Placement {
                    x: pose.x,
                    y: pose.y,
                    z: pose.z,
                    heading: orient(orientation, pose.heading),
                    pitch: pose.pitch,
                    roll: pose.roll,
                    lane,
                    direction: None,
                })
            }
            Position::RelativeRoad {
                entity,
                ds,
                dt,
                orientation,
            } => {
                let network = self.network()?;
                let e = &self.entities[self.entity(entity)?];
                let lane = e
                    .lane
                    .clone()
                    .ok_or_else(|| Error::Runner(format!("entity `{entity}` is not on a road")))?;
                let (s0, t0) = network.world_to_road(&lane.road, e.x, e.y).ok_or_else(|| {
                    Error::Runner(format!("entity `{entity}` is not on road {}", lane.road))
                })?;
                let pose = network
                    .road_to_world(&lane.road, s0 + ds, t0 + dt)
                    .map_err(road_error)?;
                let lane = network.world_to_lane(pose.x, pose.y, Some(pose.z));
                Ok(Placement {
                    x: pose.x,
                    y: pose.y,
                    z: pose.z,
                    heading: orient(orientation, pose.heading),
                    pitch: pose.pitch,
                    roll: pose.roll,
                    lane,
                    direction: None,
                })
            }
            Position::Lane {
                road,
                lane,
                s,
                offset,
                orientation,
            } => {
                let network = self.network()?;
                let pose = network
                    .lane_to_world(road, *lane, *s, *offset)
                    .map_err(road_error)?;
                let forward = network
                    .road(road)
                    .is_none_or(|r| r.lane_runs_forward(*lane));
                let lane_heading = if forward {
                    pose.heading
                } else {
                    pose.heading + std::f64::consts::PI
                };
                let heading = match orientation.h {
                    None => lane_heading,
                    Some(h) if orientation.relative => pose.heading + h,
                    Some(h) => h,
                };
                let _ = for_entity;
                Ok(Placement {
                    x: pose.x,
                    y: pose.y,
                    z: pose.z,
                    heading,
                    pitch: pose.pitch,
                    roll: pose.roll,
                    lane: Some(LanePosition {
                        road: road.clone(),
                        lane: *lane,
                        s: *s,
                        offset: *offset,
                    }),
                    direction: Some(if forward { 1.0 } else { -1.0 }),
                })
            }
            Position::RelativeLane {
                entity,
                d_lane,
                ds,
                offset,
                orientation,
            } => {
                let network = self.network()?;
                let e = &self.entities[self.entity(entity)?];
                let lane = e
                    .lane
                    .clone()
                    .ok_or_else(|| Error::Runner(format!("entity `{entity}` is not on a road")))?;
                let target_lane = shift_lane(lane.lane, *d_lane, e.lane_direction);
                let s = lane.s + ds * e.lane_direction;
                let position = Position::Lane {
                    road: lane.road.clone(),
                    lane: target_lane,
                    s,
                    offset: *offset,
                    orientation: *orientation,
                };
                let _ = network;
                self.resolve(&position, for_entity)
            }
            Position::Route(place) => self.resolve_on_route(
                &place.route,
                &place.waypoints,
                &place.at,
                &place.orientation,
                for_entity,
            ),
        }
    }

    /// A RoutePosition: the waypoints are joined by the network's router into
    /// road spans, and `pathS` is measured along them from the first waypoint.
    fn resolve_on_route(
        &self,
        route: &str,
        waypoints: &[Position],
        at: &InRoutePosition,
        orientation: &Orientation,
        for_entity: Option<usize>,
    ) -> Result<Placement> {
        let network = self.network()?;
        let mut lanes = Vec::with_capacity(waypoints.len());
        for (i, waypoint) in waypoints.iter().enumerate() {
            let lane = self.resolve(waypoint, for_entity)?.lane.ok_or_else(|| {
                Error::Runner(format!(
                    "route `{route}`: waypoint {} is not on a lane of the road network",
                    i + 1
                ))
            })?;
            lanes.push(lane);
        }
        let spans = route_spans(network, route, &lanes)?;
        // Orientation: absent means along the driving direction; relative is
        // added to it; absolute replaces it.
        let heading = |along: f64| match orientation.h {
            None => along,
            Some(h) if orientation.relative => along + h,
            Some(h) => h,
        };
        match at {
            InRoutePosition::FromCurrentEntity { entity } => {
                let e = &self.entities[self.entity(entity)?];
                let on_route = e
                    .lane
                    .as_ref()
                    .is_some_and(|l| spans.iter().any(|span| span.road == l.road));
                if !on_route {
                    return Err(Error::Runner(format!(
                        "entity `{entity}` is not on a road of route `{route}`"
                    )));
                }
                Ok(Placement {
                    x: e.x,
                    y: e.y,
                    z: e.z,
                    heading: heading(e.heading),
                    pitch: e.pitch,
                    roll: e.roll,
                    lane: e.lane.clone(),
                    direction: Some(e.lane_direction),
                })
            }
            InRoutePosition::FromRoadCoordinates { path_s, t } => {
                let (span, s) = locate_on_route(&spans, route, *path_s)?;
                let pose = network
                    .road_to_world(&span.road, s, *t)
                    .map_err(|e| Error::Road(e.to_string()))?;
                let along = if span.forward {
                    pose.heading
                } else {
                    pose.heading + std::f64::consts::PI
                };
                Ok(Placement {
                    x: pose.x,
                    y: pose.y,
                    z: pose.z,
                    heading: heading(along),
                    pitch: pose.pitch,
                    roll: pose.roll,
                    lane: network.world_to_lane(pose.x, pose.y, Some(pose.z)),
                    direction: Some(if span.forward { 1.0 } else { -1.0 }),
                })
            }
            InRoutePosition::FromLaneCoordinates {
                path_s,
                lane,
                offset,
            } => {
                let (span, s) = locate_on_route(&spans, route, *path_s)?;
                let mut placement = self.resolve(
                    &Position::Lane {
                        road: span.road.clone(),
                        lane: *lane,
                        s,
                        offset: *offset,
                        orientation: Orientation::default(),
                    },
                    for_entity,
                )?;
                // Like a LanePosition, the lane's own driving direction sets the heading.
                placement.heading = heading(placement.heading);
                Ok(placement)
            }
        }
    }

    fn place(&mut self, entity: usize, placement: Placement) {
        let e = &mut self.entities[entity];
        e.x = placement.x;
        e.y = placement.y;
        e.z = placement.z;
        e.heading = wrap_angle(placement.heading);
        e.pitch = placement.pitch;
        e.roll = placement.roll;
        e.placed = true;
        e.at_end_of_road = false;
        e.lane = placement.lane;
        e.lane_direction = match (placement.direction, &e.lane, &self.network) {
            (Some(d), _, _) => d,
            (None, Some(lane), Some(network)) => {
                match network.lane_to_world(&lane.road, lane.lane, lane.s, lane.offset) {
                    // Travel along the lane in whichever sense the entity faces.
                    Ok(pose) if wrap_angle(e.heading - pose.heading).cos() < 0.0 => -1.0,
                    _ => 1.0,
                }
            }
            _ => 1.0,
        };
        // A teleport cancels lateral motion relative to the old lane.
        if let Some(lateral) = e.lateral.take()
            && let Some(owner) = lateral.owner
        {
            self.finish_owner(owner);
        }
    }

    // ---- actions ----

    fn actors_of(&self, action: usize) -> Vec<String> {
        let mut node = self.nodes[action].parent;
        let mut event = None;
        while let Some(n) = node {
            match &self.nodes[n].data {
                NodeData::Event { .. } => event = Some(n),
                NodeData::Group {
                    actors,
                    select_triggering,
                    ..
                } => {
                    if *select_triggering && let Some(e) = event {
                        let triggering = self.states[e].triggering.clone();
                        if !triggering.is_empty() {
                            return triggering;
                        }
                    }
                    return actors.clone();
                }
                _ => {}
            }
            node = self.nodes[n].parent;
        }
        Vec::new()
    }

    fn start_action(&mut self, id: usize, _triggering: &[String]) -> Result<()> {
        let NodeData::Action {
            action,
            init_entity,
        } = self.nodes[id].data.clone()
        else {
            return Ok(());
        };
        let from = self.states[id].state;
        self.states[id].pending = 0;
        self.transition(id, State::Running, ElementState::StartTransition);
        let _ = from;
        match *action {
            Action::Global(global) => self.apply_global(&global),
            Action::Private(private) => {
                let actors = match init_entity {
                    Some(e) => vec![e],
                    None => self.actors_of(id),
                };
                for actor in actors {
                    let entity = self.entity(&actor)?;
                    if self.start_private(entity, &private, Some(id))? {
                        self.states[id].pending += 1;
                    }
                }
            }
        }
        if self.states[id].pending == 0 {
            self.transition(id, State::Complete, ElementState::EndTransition);
        }
        Ok(())
    }

    fn apply_global(&mut self, global: &GlobalAction) {
        let (variable, name, new_value) = match global {
            GlobalAction::ParameterSet {
                variable,
                name,
                value,
            } => (*variable, name, Some(value.clone())),
            GlobalAction::ParameterModify {
                variable,
                name,
                multiply,
                value,
            } => {
                let store = if *variable {
                    &self.variables
                } else {
                    &self.parameters
                };
                let current = store
                    .iter()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| crate::expr::scalar(v))
                    .unwrap_or(0.0);
                let v = if *multiply {
                    current * value
                } else {
                    current + value
                };
                (*variable, name, Some(crate::expr::format_number(v)))
            }
        };
        let Some(value) = new_value else { return };
        let store = if variable {
            &mut self.variables
        } else {
            &mut self.parameters
        };
        if let Some(p) = store.iter_mut().find(|(k, _)| k == name) {
            p.1 = value.clone();
        }
        let name = name.clone();
        self.push_log(if variable {
            LogKind::VariableSet { name, value }
        } else {
            LogKind::ParameterSet { name, value }
        });
    }

    /// Ends an action instance's claim on its owner; completes the owner when it
    /// was the last one.
    fn finish_owner(&mut self, owner: usize) {
        let state = &mut self.states[owner];
        state.pending = state.pending.saturating_sub(1);
        if state.pending == 0 && state.state == State::Running {
            self.transition(owner, State::Complete, ElementState::EndTransition);
        }
    }

    /// Starts a private action on an entity. Returns true when it keeps running
    /// (its owner must wait), false when it finished at once.
    fn start_private(
        &mut self,
        entity: usize,
        action: &PrivateAction,
        owner: Option<usize>,
    ) -> Result<bool> {
        match action {
            PrivateAction::Teleport(position) => {
                let placement = self.resolve(position, Some(entity))?;
                self.place(entity, placement);
                Ok(false)
            }
            PrivateAction::Speed { dynamics, target } => {
                if let Some(old) = self.entities[entity].longitudinal.take()
                    && let Some(o) = old.owner
                {
                    self.finish_owner(o);
                }
                let start_speed = self.entities[entity].speed;
                let target_speed = self.speed_target(target)?;
                let delta = (target_speed - start_speed).abs();
                let duration = match dynamics.dimension {
                    _ if dynamics.shape == Shape::Step => 0.0,
                    Dimension::Time => dynamics.value,
                    Dimension::Rate => {
                        // A rate beyond the vehicle's limits is held to them
                        // (as esmini does): a car asked to speed up at 10 m/s²
                        // with maxAcceleration 5 takes twice as long.
                        let performance = &self.scenario.entities[entity].performance;
                        let limit = if target_speed.abs() >= start_speed.abs() {
                            performance.max_acceleration
                        } else {
                            performance.max_deceleration
                        };
                        let rate = if limit > 0.0 {
                            dynamics.value.abs().min(limit)
                        } else {
                            dynamics.value.abs()
                        };
                        if rate > 0.0 { delta / rate } else { 0.0 }
                    }
                    // Over a distance the transition takes the time needed at the
                    // average of start and target speed.
                    Dimension::Distance => {
                        let average = (start_speed.abs() + target_speed.abs()) / 2.0;
                        if average > 0.0 {
                            dynamics.value / average
                        } else {
                            0.0
                        }
                    }
                };
                let continuous = matches!(
                    target,
                    SpeedTarget::Relative {
                        continuous: true,
                        ..
                    }
                );
                let mut motion = SpeedMotion {
                    gap: None,
                    profile: Vec::new(),
                    owner,
                    start_speed,
                    target: target.clone(),
                    shape: dynamics.shape,
                    duration,
                    elapsed: 0.0,
                    reached: false,
                };
                if duration <= 0.0 {
                    let limit = self.scenario.entities[entity].performance.max_speed;
                    self.entities[entity].speed = target_speed.clamp(-limit, limit);
                    motion.reached = true;
                    if !continuous {
                        return Ok(false);
                    }
                }
                self.entities[entity].longitudinal = Some(motion);
                Ok(true)
            }
            PrivateAction::LongitudinalDistance {
                entity: reference,
                distance,
                time_gap,
                freespace,
                continuous,
                leading,
                limits,
            } => {
                if let Some(old) = self.entities[entity].longitudinal.take()
                    && let Some(o) = old.owner
                {
                    self.finish_owner(o);
                }
                let reference = self.entity(reference)?;
                let speed = self.entities[entity].speed;
                self.entities[entity].longitudinal = Some(SpeedMotion {
                    owner,
                    start_speed: speed,
                    target: SpeedTarget::Absolute(speed),
                    shape: Shape::Linear,
                    duration: f64::INFINITY,
                    elapsed: 0.0,
                    reached: false,
                    profile: Vec::new(),
                    gap: Some(GapKeeping {
                        reference,
                        distance: *distance,
                        time_gap: *time_gap,
                        freespace: *freespace,
                        continuous: *continuous,
                        leading: *leading,
                        limits: *limits,
                    }),
                });
                Ok(true)
            }
            PrivateAction::SpeedProfile { entries } => {
                if let Some(old) = self.entities[entity].longitudinal.take()
                    && let Some(o) = old.owner
                {
                    self.finish_owner(o);
                }
                let mut end = 0.0;
                let profile: Vec<(f64, f64)> = entries
                    .iter()
                    .map(|(time, speed)| {
                        end += time;
                        (end, *speed)
                    })
                    .collect();
                let last = profile.last().map_or(0.0, |p| p.1);
                let start_speed = self.entities[entity].speed;
                if end <= 0.0 {
                    let limit = self.scenario.entities[entity].performance.max_speed;
                    self.entities[entity].speed = last.clamp(-limit, limit);
                    return Ok(false);
                }
                self.entities[entity].longitudinal = Some(SpeedMotion {
                    owner,
                    start_speed,
                    target: SpeedTarget::Absolute(last),
                    shape: Shape::Linear,
                    duration: end,
                    elapsed: 0.0,
                    reached: false,
                    profile,
                    gap: None,
                });
                Ok(true)
            }
            PrivateAction::LaneChange {
                dynamics,
                target,
                target_offset,
            } => {
                let network = self.network()?;
                let e = &self.entities[entity];
                let lane = e.lane.clone().ok_or_else(|| {
                    Error::Runner(format!(
                        "LaneChangeAction: entity `{}` is not on a road",
                        e.name
                    ))
                })?;
                let target_lane = match target {
                    LaneTarget::Absolute(id) => *id,
                    LaneTarget::Relative {
                        entity: reference,
                        value,
                    } => {
                        let r = &self.entities[self.entity(reference)?];
                        let reference_lane = r.lane.as_ref().ok_or_else(|| {
                            Error::Runner(format!(
                                "LaneChangeAction: `{reference}` is not on a road"
                            ))
                        })?;
                        shift_lane(reference_lane.lane, *value, r.lane_direction)
                    }
                };
                let current = network
                    .lane_to_world(&lane.road, lane.lane, lane.s, lane.offset)
                    .map_err(|e| Error::Road(e.to_string()))?;
                let centre = network
                    .lane_to_world(&lane.road, target_lane, lane.s, 0.0)
                    .map_err(|e| Error::Road(e.to_string()))?;
                // The entity's offset from the target lane's centre along +t.
                let (ns, nc) = (centre.heading.sin(), centre.heading.cos());
                let start_offset = (current.x - centre.x) * -ns + (current.y - centre.y) * nc;
                let end_offset = target_offset * self.entities[entity].lane_direction;
                let speed = self.entities[entity].speed.abs();
                let (length, by_distance) = match dynamics.dimension {
                    Dimension::Time => (dynamics.value, false),
                    Dimension::Distance => (dynamics.value, true),
                    Dimension::Rate => (
                        if dynamics.value > 0.0 {
                            (end_offset - start_offset).abs() / dynamics.value
                        } else {
                            0.0
                        },
                        false,
                    ),
                };
                let _ = speed;
                if let Some(old) = self.entities[entity].lateral.take()
                    && let Some(o) = old.owner
                {
                    self.finish_owner(o);
                }
                let e = &mut self.entities[entity];
                if let Some(l) = e.lane.as_mut() {
                    l.lane = target_lane;
                    l.offset = start_offset;
                }
                if dynamics.shape == Shape::Step || length <= 0.0 {
                    if let Some(l) = e.lane.as_mut() {
                        l.offset = end_offset;
                    }
                    self.refresh_pose(entity, 0.0, 0.0)?;
                    return Ok(false);
                }
                e.lateral = Some(LateralMotion {
                    owner,
                    start_offset,
                    end_offset,
                    shape: dynamics.shape,
                    length,
                    by_distance,
                    progress: 0.0,
                    continuous: false,
                    shares_speed: true,
                });
                Ok(true)
            }
            PrivateAction::LaneOffset {
                shape,
                max_lateral_acceleration,
                target,
                continuous,
            } => {
                // An absolute offset is reached and done even when continuous (as
                // esmini ends it); only a relative one keeps following.
                let continuous = &(*continuous && matches!(target, OffsetTarget::Relative { .. }));
                let e = &self.entities[entity];
                let lane = e.lane.clone().ok_or_else(|| {
                    Error::Runner(format!(
                        "LaneOffsetAction: entity `{}` is not on a road",
                        e.name
                    ))
                })?;
                let direction = e.lane_direction;
                let wanted = match target {
                    OffsetTarget::Absolute(v) => *v,
                    OffsetTarget::Relative {
                        entity: reference,
                        value,
                    } => {
                        let r = &self.entities[self.entity(reference)?];
                        r.lane.as_ref().map_or(0.0, |l| l.offset * r.lane_direction) + value
                    }
                };
                let end_offset = wanted * direction;
                let distance = (end_offset - lane.offset).abs();
                let acceleration = max_lateral_acceleration
                    .unwrap_or(DEFAULT_LATERAL_ACCELERATION)
                    .max(1e-6);
                // Durations that keep the shape's peak lateral acceleration at the limit.
                let duration = match shape {
                    Shape::Step => 0.0,
                    Shape::Linear => 2.0 * (distance / acceleration).sqrt(),
                    Shape::Cubic => (6.0 * distance / acceleration).sqrt(),
                    Shape::Sinusoidal => {
                        std::f64::consts::PI * (distance / (2.0 * acceleration)).sqrt()
                    }
                };
                if let Some(old) = self.entities[entity].lateral.take()
                    && let Some(o) = old.owner
                {
                    self.finish_owner(o);
                }
                if duration <= 0.0 {
                    if let Some(l) = self.entities[entity].lane.as_mut() {
                        l.offset = end_offset;
                    }
                    self.refresh_pose(entity, 0.0, 0.0)?;
                    return Ok(*continuous);
                }
                self.entities[entity].lateral = Some(LateralMotion {
                    owner,
                    start_offset: lane.offset,
                    end_offset,
                    shape: *shape,
                    length: duration,
                    by_distance: false,
                    progress: 0.0,
                    continuous: *continuous,
                    shares_speed: false,
                });
                Ok(true)
            }
            PrivateAction::FollowTrajectory {
                vertices,
                closed,
                timing,
                clothoid,
                ..
            } => {
                let mut points = Vec::new();
                for v in vertices {
                    let p = self.resolve(&v.position, Some(entity))?;
                    points.push((p.x, p.y, p.z));
                }
                if let Some(c) = clothoid {
                    points = self.clothoid_points(entity, c)?;
                }
                // With Timing and a time on every vertex the entity keeps the
                // schedule; otherwise it follows the polyline at its own speed.
                let times = match timing {
                    Some(t) if !*closed && vertices.iter().all(|v| v.time.is_some()) => {
                        let base = if t.relative { self.time } else { 0.0 };
                        Some(
                            vertices
                                .iter()
                                .map(|v| base + t.scale * v.time.unwrap_or(0.0) + t.offset)
                                .collect::<Vec<f64>>(),
                        )
                    }
                    _ => None,
                };
                if *closed && let Some(first) = points.first().copied() {
                    points.push(first);
                }
                if let Some(old) = self.entities[entity].trajectory.take()
                    && let Some(o) = old.owner
                {
                    self.finish_owner(o);
                }
                if let Some(old) = self.entities[entity].lateral.take()
                    && let Some(o) = old.owner
                {
                    self.finish_owner(o);
                }
                if points.len() < 2 {
                    if let Some(&(x, y, z)) = points.first() {
                        let h = self.entities[entity].heading;
                        self.place(
                            entity,
                            Placement {
                                x,
                                y,
                                z,
                                heading: h,
                                pitch: 0.0,
                                roll: 0.0,
                                lane: None,
                                direction: None,
                            },
                        );
                    }
                    return Ok(false);
                }
                self.entities[entity].placed = true;
                self.entities[entity].trajectory = Some(TrajectoryMotion {
                    owner,
                    points,
                    segment: 0,
                    along: 0.0,
                    times,
                });
                let carry = std::mem::take(&mut self.entities[entity].trajectory_carry);
                self.advance_trajectory(entity, carry);
                Ok(true)
            }
            PrivateAction::AssignRoute { waypoints, .. } => {
                let mut roads = Vec::new();
                for waypoint in waypoints {
                    if let Some(lane) = self.resolve(waypoint, Some(entity))?.lane
                        && roads.last() != Some(&lane.road)
                    {
                        roads.push(lane.road);
                    }
                }
                // Roads between waypoints (through junctions) come from the network's router.
                if let Some(network) = self.network.as_ref() {
                    let mut full: Vec<String> = Vec::new();
                    let positions: Vec<LanePosition> = waypoints
                        .iter()
                        .filter_map(|w| self.resolve(w, Some(entity)).ok()?.lane)
                        .collect();
                    for pair in positions.windows(2) {
                        if let Some(path) = network.route(&pair[0], &pair[1]) {
                            for p in path {
                                if full.last() != Some(&p.road) {
                                    full.push(p.road);
                                }
                            }
                        }
                    }
                    if !full.is_empty() {
                        roads = full;
                    }
                }
                self.entities[entity].route_roads = roads;
                Ok(false)
            }
            PrivateAction::ActivateController {
                lateral,
                longitudinal,
            } => {
                let controller = self.scenario.entities[entity]
                    .controller
                    .clone()
                    .unwrap_or_else(|| "DefaultDriver".into());
                let domains = match (lateral, longitudinal) {
                    (Some(false), Some(true)) => "longitudinal",
                    (Some(true), Some(false)) => "lateral",
                    (Some(false), Some(false)) => "none",
                    _ => "lateral+longitudinal",
                };
                self.controllers.push((
                    self.entities[entity].name.clone(),
                    format!("{controller} ({domains})"),
                ));
                Ok(false)
            }
            PrivateAction::AssignController { name } => {
                self.controllers.push((
                    self.entities[entity].name.clone(),
                    format!("{name} (assigned)"),
                ));
                Ok(false)
            }
        }
    }

    /// A clothoid sampled into a polyline, from its start position (or the
    /// entity's pose), with the road crate's spiral evaluation.
    fn clothoid_points(&self, entity: usize, c: &Clothoid) -> Result<Vec<(f64, f64, f64)>> {
        /// Spacing of the samples, m: the chord error of a 0.25 m chord on a
        /// 10 m radius is under a millimetre.
        const SAMPLE_M: f64 = 0.25;
        let (x, y, z, heading) = match &c.start {
            Some(p) => {
                let p = self.resolve(p, Some(entity))?;
                (p.x, p.y, p.z, p.heading)
            }
            None => {
                let e = &self.entities[entity];
                (e.x, e.y, e.z, e.heading)
            }
        };
        let end_curvature = c.curvature + c.curvature_prime * c.length;
        let shape = if c.curvature_prime == 0.0 {
            if c.curvature == 0.0 {
                road::Shape::Line
            } else {
                road::Shape::Arc {
                    curvature: c.curvature,
                }
            }
        } else {
            road::Shape::Spiral {
                curvature_start: c.curvature,
                curvature_end: end_curvature,
            }
        };
        let geometry = road::Geometry::new(0.0, x, y, heading, c.length, shape);
        // The parser bounds the length, so the count is bounded too.
        let count = (c.length / SAMPLE_M).ceil().max(1.0) as usize;
        Ok((0..=count)
            .map(|i| {
                let point = geometry.point(c.length * i as f64 / count as f64);
                (point.x, point.y, z)
            })
            .collect())
    }

    /// The speed that keeps (or closes in on) a LongitudinalDistanceAction's
    /// gap this step, and whether the gap is held. Without DynamicConstraints the
    /// gap is closed in one step; with them a proportional controller (gain
    /// below) moves within the acceleration and speed limits.
    fn gap_speed(&self, entity: usize, gap: &GapKeeping, dt: f64) -> (f64, bool) {
        /// 1/s: how much speed each metre of gap error asks for.
        const GAIN: f64 = 0.5;
        let own = self.entities[entity].speed;
        let other = self.entities[gap.reference].speed;
        let (ahead, _) = self.relative_in(entity, gap.reference, gap.freespace, true);
        let wanted = gap.time_gap.map_or(gap.distance, |t| t * own.abs());
        // Positive error: too far from where the actor should be.
        let error = if gap.leading {
            -ahead - wanted
        } else {
            ahead - wanted
        };
        let speed = match gap.limits {
            None => other + error / dt,
            Some((max_acceleration, max_deceleration, max_speed)) => {
                let desired = (other + GAIN * error).clamp(-max_speed, max_speed);
                let change = (desired - own).clamp(-max_deceleration * dt, max_acceleration * dt);
                own + change
            }
        };
        let settled = error.abs() < 0.1 && (speed - other).abs() < 0.1;
        (speed, settled)
    }

    fn speed_target(&self, target: &SpeedTarget) -> Result<f64> {
        Ok(match target {
            SpeedTarget::Absolute(v) => *v,
            SpeedTarget::Relative {
                entity,
                value,
                factor,
                ..
            } => {
                let reference = self.entities[self.entity(entity)?].speed;
                if *factor {
                    reference * value
                } else {
                    reference + value
                }
            }
        })
    }

    // ---- motion ----

    fn move_entities(&mut self) -> Result<()> {
        let dt = self.step_s;
        for i in 0..self.entities.len() {
            self.entities[i].trajectory_carry = 0.0;
            let old_speed = self.entities[i].speed;
            // Longitudinal: the active speed action sets the speed.
            let gap = self.entities[i]
                .longitudinal
                .as_ref()
                .and_then(|m| m.gap.clone());
            if let Some(gap) = gap
                && let Some(motion) = self.entities[i].longitudinal.take()
            {
                let (speed, settled) = self.gap_speed(i, &gap, dt);
                self.entities[i].speed = speed;
                if settled && !gap.continuous {
                    if let Some(o) = motion.owner {
                        self.finish_owner(o);
                    }
                } else {
                    self.entities[i].longitudinal = Some(motion);
                }
            } else if let Some(mut motion) = self.entities[i].longitudinal.take() {
                motion.elapsed += dt;
                let target = self.speed_target(&motion.target)?;
                let speed = if !motion.profile.is_empty() {
                    profile_speed(&motion.profile, motion.start_speed, motion.elapsed)
                } else if motion.reached || motion.duration <= 0.0 {
                    target
                } else {
                    let tau = motion.elapsed / motion.duration;
                    motion.start_speed
                        + (target - motion.start_speed) * shape_value(motion.shape, tau)
                };
                self.entities[i].speed = speed;
                let continuous = matches!(
                    motion.target,
                    SpeedTarget::Relative {
                        continuous: true,
                        ..
                    }
                );
                if motion.elapsed >= motion.duration - 1e-9 {
                    motion.reached = true;
                }
                if motion.reached && !continuous {
                    if let Some(o) = motion.owner {
                        self.finish_owner(o);
                    }
                } else {
                    self.entities[i].longitudinal = Some(motion);
                }
            }
            let limit = self.scenario.entities[i].performance.max_speed;
            let e = &mut self.entities[i];
            e.speed = e.speed.clamp(-limit, limit);
            e.acceleration = (e.speed - old_speed) / dt;
            let distance = e.speed * dt;
            e.odometer += distance.abs();
            if e.speed.abs() < STANDSTILL_SPEED {
                e.standstill_time += dt;
            } else {
                e.standstill_time = 0.0;
            }
            if !e.placed {
                continue;
            }
            if e.trajectory.is_some() {
                self.advance_trajectory(i, distance);
            } else if e.lane.is_some() && self.network.is_some() {
                self.advance_lane(i, distance, dt)?;
            } else {
                let e = &mut self.entities[i];
                e.x += distance * e.heading.cos();
                e.y += distance * e.heading.sin();
            }
            let e = &mut self.entities[i];
            if e.at_end_of_road {
                e.end_of_road_time += dt;
            } else {
                e.end_of_road_time = 0.0;
            }
        }
        Ok(())
    }

    fn advance_trajectory(&mut self, entity: usize, distance: f64) {
        self.entities[entity].trajectory_carry = 0.0;
        let Some(mut motion) = self.entities[entity].trajectory.take() else {
            return;
        };
        if let Some(times) = motion.times.clone() {
            self.advance_timed(entity, motion, &times);
            return;
        }
        motion.along += distance.max(0.0);
        let done;
        loop {
            let (Some(a), Some(b)) = (
                motion.points.get(motion.segment),
                motion.points.get(motion.segment + 1),
            ) else {
                done = true;
                break;
            };
            let length = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            if motion.along <= length || motion.segment + 2 >= motion.points.len() {
                let f = if length > 0.0 {
                    (motion.along / length).min(1.0)
                } else {
                    1.0
                };
                let e = &mut self.entities[entity];
                e.x = a.0 + (b.0 - a.0) * f;
                e.y = a.1 + (b.1 - a.1) * f;
                e.z = a.2 + (b.2 - a.2) * f;
                if length > 0.0 {
                    e.heading = (b.1 - a.1).atan2(b.0 - a.0);
                }
                done = motion.along >= length && motion.segment + 2 >= motion.points.len();
                if done {
                    self.entities[entity].trajectory_carry = (motion.along - length).max(0.0);
                }
                break;
            }
            motion.along -= length;
            motion.segment += 1;
        }
        // The entity leaves its lane while on a trajectory; it is found again at the end.
        let e = &self.entities[entity];
        let lane = self
            .network
            .as_ref()
            .and_then(|n| n.world_to_lane(e.x, e.y, Some(e.z)));
        self.entities[entity].lane = lane;
        if done {
            if let Some(o) = motion.owner {
                self.finish_owner(o);
            }
            let (x, y, z, heading) = {
                let e = &self.entities[entity];
                (e.x, e.y, e.z, e.heading)
            };
            let lane = self
                .network
                .as_ref()
                .and_then(|n| n.world_to_lane(x, y, Some(z)));
            self.place(
                entity,
                Placement {
                    x,
                    y,
                    z,
                    heading,
                    pitch: 0.0,
                    roll: 0.0,
                    lane,
                    direction: None,
                },
            );
        } else {
            self.entities[entity].trajectory = Some(motion);
        }
    }

    /// Places an entity on a timed trajectory at the current time: linear
    /// between the vertices around it, with the segment's speed and heading.
    fn advance_timed(&mut self, entity: usize, motion: TrajectoryMotion, times: &[f64]) {
        let now = self.time;
        let last = times.len().saturating_sub(1);
        let segment = (0..last)
            .find(|k| now < times[k + 1])
            .unwrap_or(last.saturating_sub(1));
        let (Some(a), Some(b)) = (motion.points.get(segment), motion.points.get(segment + 1))
        else {
            return;
        };
        let (t0, t1) = (times[segment], times[segment + 1]);
        let span = t1 - t0;
        let f = if span > 0.0 {
            ((now - t0) / span).clamp(0.0, 1.0)
        } else {
            1.0
        };
        // Speed over ground, like the lane-following speed (s is horizontal).
        let length = (b.0 - a.0).hypot(b.1 - a.1);
        let e = &mut self.entities[entity];
        e.x = a.0 + (b.0 - a.0) * f;
        e.y = a.1 + (b.1 - a.1) * f;
        e.z = a.2 + (b.2 - a.2) * f;
        if (b.0 - a.0).hypot(b.1 - a.1) > 0.0 {
            e.heading = (b.1 - a.1).atan2(b.0 - a.0);
        }
        if span > 0.0 {
            e.speed = length / span;
        }
        let done = now >= times[last] - 1e-9;
        let (x, y, z, heading) = (e.x, e.y, e.z, e.heading);
        if done {
            if let Some(o) = motion.owner {
                self.finish_owner(o);
            }
            let lane = self
                .network
                .as_ref()
                .and_then(|n| n.world_to_lane(x, y, None));
            self.place(
                entity,
                Placement {
                    x,
                    y,
                    z,
                    heading,
                    pitch: 0.0,
                    roll: 0.0,
                    lane,
                    direction: None,
                },
            );
        } else {
            self.entities[entity].lane = None;
            self.entities[entity].trajectory = Some(motion);
        }
    }

    fn advance_lane(&mut self, entity: usize, distance: f64, dt: f64) -> Result<()> {
        let Some(network) = self.network.as_ref() else {
            return Ok(());
        };
        let e = &mut self.entities[entity];
        let Some(mut lane) = e.lane.clone() else {
            return Ok(());
        };
        let mut direction = e.lane_direction;
        let mut remaining;
        // Lateral motion: the offset follows the shape over time or distance.
        let old_offset = lane.offset;
        let mut finished_lateral = None;
        let shares_speed = e.lateral.as_ref().is_some_and(|l| l.shares_speed);
        if let Some(lateral) = e.lateral.as_mut() {
            lateral.progress += if lateral.by_distance {
                distance.abs()
            } else {
                dt
            };
            let tau = if lateral.length > 0.0 {
                lateral.progress / lateral.length
            } else {
                1.0
            };
            lane.offset = lateral.start_offset
                + (lateral.end_offset - lateral.start_offset) * shape_value(lateral.shape, tau);
            if tau >= 1.0 - 1e-9 && !lateral.continuous {
                finished_lateral = lateral.owner.map(Some).unwrap_or(None);
                e.lateral = None;
            }
        }
        // The speed is the speed along the path: a lateral move takes its share,
        // the rest carries the entity along the lane.
        let lateral_step = lane.offset - old_offset;
        let shared = if shares_speed { lateral_step } else { 0.0 };
        let along = (distance * distance - shared * shared).max(0.0).sqrt() * distance.signum();
        remaining = along * direction;
        // `along` is distance travelled in the lane; s is measured on the reference
        // line, which is shorter or longer than a lane on a curve. Scale by how far
        // the lane's own path moves for this step of s.
        if let Some(road) = network.road(&lane.road) {
            let target = lane.s + remaining;
            if remaining != 0.0 && (0.0..=road.length).contains(&target) {
                let from = network.lane_to_world(&lane.road, lane.lane, lane.s, lane.offset);
                let to = network.lane_to_world(&lane.road, lane.lane, target, lane.offset);
                if let (Ok(a), Ok(b)) = (from, to) {
                    let path = (b.x - a.x).hypot(b.y - a.y);
                    if path > 1e-9 {
                        // Bounded: a lane path is never this far off its reference line.
                        remaining *= (remaining.abs() / path).clamp(0.5, 2.0);
                    }
                }
            }
        }
        let mut at_end = false;
        for _ in 0..MAX_CROSSINGS_PER_STEP {
            let Some(road) = network.road(&lane.road) else {
                break;
            };
            let Some(section_index) = road.lane_section_index(lane.s.clamp(0.0, road.length))
            else {
                break;
            };
            let section_start = road.lane_sections[section_index].s;
            let section_end = road
                .lane_sections
                .get(section_index + 1)
                .map_or(road.length, |n| n.s);
            let target = lane.s + remaining;
            if (target >= section_start - 1e-9 || remaining >= 0.0)
                && (target <= section_end + 1e-9 || remaining <= 0.0)
            {
                lane.s = target;
                break;
            }
            let boundary = if remaining > 0.0 {
                section_end
            } else {
                section_start
            };
            let used = boundary - lane.s;
            let probe = LanePosition {
                s: if remaining > 0.0 {
                    section_end
                } else {
                    section_start
                },
                ..lane.clone()
            };
            let steps = network.next_lanes(&probe, remaining > 0.0);
            let route = &self.entities[entity].route_roads;
            let preferred = steps
                .iter()
                .position(|step| route.contains(&step.position.road))
                .unwrap_or(0);
            let Some(next) = steps.into_iter().nth(preferred) else {
                lane.s = boundary;
                at_end = true;
                break;
            };
            let left = (remaining - used).abs();
            let new_direction = if next.forward { 1.0 } else { -1.0 };
            let mut position = next.position;
            if new_direction != direction {
                position.offset = -position.offset;
                if let Some(l) = self.entities[entity].lateral.as_mut() {
                    l.start_offset = -l.start_offset;
                    l.end_offset = -l.end_offset;
                }
            }
            direction = new_direction;
            lane = position;
            remaining = left * direction;
        }
        let e = &mut self.entities[entity];
        e.lane = Some(lane.clone());
        e.lane_direction = direction;
        e.at_end_of_road = at_end;
        self.refresh_pose(entity, along.abs(), lateral_step)?;
        if let Some(owner) = finished_lateral {
            self.finish_owner(owner);
        }
        Ok(())
    }

    /// Recomputes the world pose from the lane position; `ds`/`lateral` give the
    /// motion of the last step so the heading follows a lane change.
    fn refresh_pose(&mut self, entity: usize, ds: f64, lateral: f64) -> Result<()> {
        let Some(network) = self.network.as_ref() else {
            return Ok(());
        };
        let e = &mut self.entities[entity];
        let Some(lane) = e.lane.as_ref() else {
            return Ok(());
        };
        let pose = match network.lane_to_world(&lane.road, lane.lane, lane.s, lane.offset) {
            Ok(p) => p,
            Err(err) => return Err(Error::Road(format!("entity `{}`: {err}", e.name))),
        };
        e.x = pose.x;
        e.y = pose.y;
        e.z = pose.z;
        // The heading follows the motion over the road surface: esmini measures the
        // along-road share on the slope (ds·cos pitch), and so do we.
        let slope = if ds > 1e-12 {
            lateral.atan2(ds * pose.pitch.cos())
        } else {
            0.0
        };
        let base = if e.lane_direction > 0.0 {
            pose.heading
        } else {
            pose.heading + std::f64::consts::PI
        };
        e.heading = wrap_angle(base + slope * e.lane_direction);
        e.pitch = pose.pitch * e.lane_direction;
        e.roll = pose.roll * e.lane_direction;
        Ok(())
    }

    // ---- storyboard ----

    fn settle(&mut self) {
        // Children come after their parents in `nodes` (pre-order), so one pass in
        // reverse settles actions before events before maneuvers ... before stories.
        // A second pass catches maneuver groups that restarted.
        for _ in 0..2 {
            let mut changed = false;
            for id in (0..self.nodes.len()).rev() {
                if self.states[id].state != State::Running {
                    continue;
                }
                let (repeats, max) = match &self.nodes[id].data {
                    NodeData::Action { .. } => continue,
                    NodeData::Event { max, .. } | NodeData::Group { max, .. } => (true, *max),
                    NodeData::Maneuver | NodeData::Act { .. } | NodeData::Story => (false, 1),
                };
                let done = self.nodes[id]
                    .children
                    .iter()
                    .all(|c| self.states[*c].state == State::Complete);
                if !done {
                    continue;
                }
                changed = true;
                if !repeats {
                    self.transition(id, State::Complete, ElementState::EndTransition);
                    continue;
                }
                self.states[id].executions += 1;
                let again = self.states[id].executions < max;
                if matches!(self.nodes[id].data, NodeData::Event { .. }) {
                    if again {
                        self.transition(id, State::Standby, ElementState::EndTransition);
                        for k in 0..self.nodes[id].children.len() {
                            let c = self.nodes[id].children[k];
                            self.states[c].state = State::Standby;
                        }
                    } else {
                        self.transition(id, State::Complete, ElementState::EndTransition);
                    }
                } else {
                    self.transition(id, State::Complete, ElementState::EndTransition);
                    if again {
                        self.start_group(id);
                    }
                }
            }
            if !changed {
                break;
            }
        }
        // With a stop trigger the storyboard waits for it (as esmini does), even
        // when every story is done; without one, completing the stories ends it.
        if self.end.is_none()
            && self.stop_trigger.is_none()
            && !self.stories.is_empty()
            && self
                .stories
                .iter()
                .all(|s| self.states[*s].state == State::Complete)
        {
            self.end = Some(EndReason::StoryboardComplete);
            self.push_log(LogKind::StateChange {
                element: "storyBoard".into(),
                from: "runningState",
                transition: "endTransition",
                to: "completeState",
            });
        }
    }

    fn start_group(&mut self, group: usize) {
        self.transition(group, State::Running, ElementState::StartTransition);
        for m in self.nodes[group].children.clone() {
            self.transition(m, State::Running, ElementState::StartTransition);
            for e in self.nodes[m].children.clone() {
                self.states[e].state = State::Standby;
                self.states[e].executions = 0;
                for a in self.nodes[e].children.clone() {
                    self.states[a].state = State::Standby;
                }
            }
        }
    }

    fn stop_subtree(&mut self, node: usize) {
        for child in self.nodes[node].children.clone() {
            self.stop_subtree(child);
        }
        if self.states[node].state != State::Complete {
            self.transition(node, State::Complete, ElementState::StopTransition);
        }
        // Running motions owned by a stopped action end with it.
        if matches!(self.nodes[node].data, NodeData::Action { .. }) {
            for e in &mut self.entities {
                if e.longitudinal
                    .as_ref()
                    .is_some_and(|m| m.owner == Some(node))
                {
                    e.longitudinal = None;
                }
                if e.lateral.as_ref().is_some_and(|m| m.owner == Some(node)) {
                    e.lateral = None;
                }
                if e.trajectory.as_ref().is_some_and(|m| m.owner == Some(node)) {
                    e.trajectory = None;
                }
            }
        }
    }

    fn evaluate_storyboard(&mut self) -> Result<()> {
        if let Some(stop) = self.stop_trigger
            && self.evaluate_trigger(stop)?.is_some()
        {
            self.end = Some(EndReason::StopTrigger);
            for s in self.stories.clone() {
                self.stop_subtree(s);
            }
            self.push_log(LogKind::StateChange {
                element: "storyBoard".into(),
                from: "runningState",
                transition: "stopTransition",
                to: "completeState",
            });
            return Ok(());
        }
        for story in self.stories.clone() {
            if self.states[story].state != State::Running {
                continue;
            }
            for act in self.nodes[story].children.clone() {
                let NodeData::Act { start, stop } = self.nodes[act].data.clone() else {
                    continue;
                };
                match self.states[act].state {
                    State::Standby => {
                        let fire = match start {
                            None => true,
                            Some(t) => self.evaluate_trigger(t)?.is_some(),
                        };
                        if fire {
                            self.transition(act, State::Running, ElementState::StartTransition);
                            for g in self.nodes[act].children.clone() {
                                self.start_group(g);
                            }
                        }
                    }
                    State::Running => {
                        if let Some(t) = stop
                            && self.evaluate_trigger(t)?.is_some()
                        {
                            // The act's own stop trigger ends it (endTransition, as
                            // esmini reports); what still runs inside is stopped.
                            for child in self.nodes[act].children.clone() {
                                self.stop_subtree(child);
                            }
                            self.transition(act, State::Complete, ElementState::EndTransition);
                            continue;
                        }
                    }
                    State::Complete => continue,
                }
                if self.states[act].state != State::Running {
                    continue;
                }
                for group in self.nodes[act].children.clone() {
                    if self.states[group].state != State::Running {
                        continue;
                    }
                    for maneuver in self.nodes[group].children.clone() {
                        if self.states[maneuver].state != State::Running {
                            continue;
                        }
                        for event in self.nodes[maneuver].children.clone() {
                            self.evaluate_event(maneuver, event)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn evaluate_event(&mut self, maneuver: usize, event: usize) -> Result<()> {
        if self.states[event].state != State::Standby {
            return Ok(());
        }
        let NodeData::Event {
            priority, start, ..
        } = self.nodes[event].data.clone()
        else {
            return Ok(());
        };
        let triggering = match start {
            None => Vec::new(),
            Some(t) => match self.evaluate_trigger(t)? {
                Some(entities) => entities,
                None => return Ok(()),
            },
        };
        let running: Vec<usize> = self.nodes[maneuver]
            .children
            .iter()
            .copied()
            .filter(|e| *e != event && self.states[*e].state == State::Running)
            .collect();
        match priority {
            Priority::Skip if !running.is_empty() => {
                self.transition(event, State::Standby, ElementState::SkipTransition);
                return Ok(());
            }
            Priority::Overwrite => {
                for other in running {
                    self.stop_subtree(other);
                }
            }
            _ => {}
        }
        self.states[event].triggering = triggering.clone();
        self.transition(event, State::Running, ElementState::StartTransition);
        for action in self.nodes[event].children.clone() {
            self.start_action(action, &triggering)?;
        }
        Ok(())
    }

    /// Evaluates every condition of a trigger (edges need every value every step)
    /// and returns the entities that made it fire, or None.
    fn evaluate_trigger(&mut self, trigger: usize) -> Result<Option<Vec<String>>> {
        let trigger_data = std::sync::Arc::clone(&self.triggers[trigger]);
        let groups = &trigger_data.groups;
        let mut fired: Option<Vec<String>> = None;
        for (g, group) in groups.iter().enumerate() {
            let mut all = !group.is_empty();
            let mut entities = Vec::new();
            for (c, condition) in group.iter().enumerate() {
                let (value, who) = self.condition_value(condition)?;
                let collisions = self.collision_count(condition);
                let counted = self.condition_counts(trigger, g, c, condition, value, collisions);
                if counted {
                    entities.extend(who);
                } else {
                    all = false;
                }
            }
            if all && fired.is_none() {
                fired = Some(entities);
            }
        }
        Ok(fired)
    }

    /// Applies edge and delay to a condition's raw value.
    fn condition_counts(
        &mut self,
        trigger: usize,
        g: usize,
        c: usize,
        condition: &Condition,
        value: bool,
        collisions: usize,
    ) -> bool {
        let step = self.steps;
        let time = self.time;
        let state = &mut self.condition_states[trigger][g][c];
        let edge_value = match (condition.edge, state.last) {
            (Edge::None, _) => value,
            (_, None) => false,
            (Edge::Rising, Some(last)) => value && !last,
            (Edge::Falling, Some(last)) => !value && last,
            (Edge::RisingOrFalling, Some(last)) => value != last,
        };
        state.last = Some(value);
        state.last_evaluated = step;
        // Changes of the (edge-applied) value are logged both ways, as esmini does.
        let log_value = edge_value && (!state.last_logged || collisions != state.last_collisions);
        let log_false = !edge_value && state.last_logged;
        state.last_logged = edge_value;
        state.last_collisions = if edge_value { collisions } else { 0 };
        let result = if condition.delay <= 0.0 {
            edge_value
        } else {
            if state.delayed.len() < MAX_DELAY_SAMPLES {
                state.delayed.push_back((time, edge_value));
            }
            let due = time - condition.delay + 1e-9;
            let mut result = false;
            while let Some(&(t, v)) = state.delayed.front() {
                if t <= due {
                    result |= v;
                    state.delayed.pop_front();
                } else {
                    break;
                }
            }
            result
        };
        if log_value {
            self.push_log(LogKind::ConditionTrue {
                condition: condition.name.clone(),
                delay_s: condition.delay,
            });
        }
        if log_false {
            self.push_log(LogKind::ConditionFalse {
                condition: condition.name.clone(),
            });
        }
        if result {
            self.push_log(LogKind::TriggerFired {
                condition: condition.name.clone(),
            });
        }
        result
    }

    fn condition_value(&self, condition: &Condition) -> Result<(bool, Vec<String>)> {
        Ok(match &condition.kind {
            ConditionKind::SimulationTime { value, rule } => {
                (rule.holds(self.time, *value), Vec::new())
            }
            ConditionKind::Parameter {
                variable,
                name,
                value,
                rule,
            } => {
                let store = if *variable {
                    &self.variables
                } else {
                    &self.parameters
                };
                let current = store
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let holds = match (crate::expr::scalar(&current), crate::expr::scalar(value)) {
                    (Some(a), Some(b)) => rule.holds(a, b),
                    _ => match rule {
                        Rule::EqualTo => current == *value,
                        Rule::NotEqualTo => current != *value,
                        _ => false,
                    },
                };
                (holds, Vec::new())
            }
            ConditionKind::ElementState { kind, name, state } => {
                let node = self.element_index.get(&(*kind, name.clone())).copied();
                let holds = node.is_some_and(|n| {
                    let s = &self.states[n];
                    match state {
                        ElementState::Standby => s.state == State::Standby,
                        ElementState::Running => s.state == State::Running,
                        ElementState::Complete => s.state == State::Complete,
                        // A transition counts in the step it happened and the next,
                        // so evaluation order within a step does not hide it.
                        transition => s
                            .transition
                            .is_some_and(|(t, at)| t == *transition && self.steps <= at + 1),
                    }
                });
                (holds, Vec::new())
            }
            ConditionKind::ByEntity {
                triggering,
                all,
                condition,
            } => {
                let mut who = Vec::new();
                let mut any = false;
                let mut every = !triggering.is_empty();
                for name in triggering {
                    let i = self.entity(name)?;
                    if self.entity_condition(i, condition)? {
                        any = true;
                        who.push(name.clone());
                    } else {
                        every = false;
                    }
                }
                (if *all { every } else { any }, who)
            }
        })
    }

    /// For a collision condition: how many (triggering entity, other entity)
    /// collisions there are now; 0 for every other condition.
    fn collision_count(&self, condition: &Condition) -> usize {
        let ConditionKind::ByEntity {
            triggering,
            condition: EntityCondition::Collision { target, by_type },
            ..
        } = &condition.kind
        else {
            return 0;
        };
        let mut count = 0;
        for name in triggering {
            let Some(&i) = self.index.get(name) else {
                continue;
            };
            if !self.entities[i].placed {
                continue;
            }
            let mine = self.rect(i);
            count += (0..self.entities.len())
                .filter(|j| *j != i)
                .filter(|&j| {
                    let matches = if *by_type {
                        matches!(
                            (target.as_str(), self.scenario.entities[j].kind),
                            ("vehicle", EntityKind::Vehicle)
                                | ("pedestrian", EntityKind::Pedestrian)
                                | ("miscellaneous", EntityKind::MiscObject)
                        )
                    } else {
                        self.entities[j].name == *target
                    };
                    matches && self.entities[j].placed && overlap(&mine, &self.rect(j))
                })
                .count();
        }
        count
    }

    fn rect(&self, i: usize) -> Rect {
        let e = &self.entities[i];
        let bb = &self.scenario.entities[i].bounding_box;
        let (s, c) = e.heading.sin_cos();
        Rect {
            cx: e.x + bb.center[0] * c - bb.center[1] * s,
            cy: e.y + bb.center[0] * s + bb.center[1] * c,
            heading: e.heading,
            half_length: bb.length / 2.0,
            half_width: bb.width / 2.0,
        }
    }

    /// Like [`Runner::relative`], but along the road (difference in s in `a`'s
    /// direction of travel) when asked and both are on the same road.
    fn relative_in(&self, a: usize, b: usize, freespace: bool, road: bool) -> (f64, f64) {
        let (ea, eb) = (&self.entities[a], &self.entities[b]);
        if road
            && let (Some(la), Some(lb)) = (&ea.lane, &eb.lane)
            && la.road == lb.road
        {
            let mut longitudinal = (lb.s - la.s) * ea.lane_direction;
            if freespace {
                let (ba, bb) = (
                    &self.scenario.entities[a].bounding_box,
                    &self.scenario.entities[b].bounding_box,
                );
                let same_way = ea.lane_direction == eb.lane_direction;
                let b_rear = if same_way {
                    bb.center[0] - bb.length / 2.0
                } else {
                    -(bb.center[0] + bb.length / 2.0)
                };
                let b_front = if same_way {
                    bb.center[0] + bb.length / 2.0
                } else {
                    -(bb.center[0] - bb.length / 2.0)
                };
                let a_front = ba.center[0] + ba.length / 2.0;
                let a_rear = ba.center[0] - ba.length / 2.0;
                longitudinal = if longitudinal + b_rear - a_front > 0.0 {
                    longitudinal + b_rear - a_front
                } else if longitudinal + b_front - a_rear < 0.0 {
                    longitudinal + b_front - a_rear
                } else {
                    0.0
                };
            }
            return (longitudinal, self.relative(a, b, freespace).1);
        }
        self.relative(a, b, freespace)
    }

    /// Signed longitudinal distance from `a` to `b` along `a`'s heading, and the
    /// lateral one; freespace subtracts the boxes' extents.
    fn relative(&self, a: usize, b: usize, freespace: bool) -> (f64, f64) {
        let (ea, eb) = (&self.entities[a], &self.entities[b]);
        let (s, c) = ea.heading.sin_cos();
        let (ra, rb) = (self.rect(a), self.rect(b));
        let (ax, ay, bx, by) = if freespace {
            (ra.cx, ra.cy, rb.cx, rb.cy)
        } else {
            (ea.x, ea.y, eb.x, eb.y)
        };
        let (dx, dy) = (bx - ax, by - ay);
        let mut longitudinal = dx * c + dy * s;
        let mut lateral = -dx * s + dy * c;
        if freespace {
            // Half extent of b projected on a's axes.
            let dh = eb.heading - ea.heading;
            let b_long = rb.half_length * dh.cos().abs() + rb.half_width * dh.sin().abs();
            let b_lat = rb.half_length * dh.sin().abs() + rb.half_width * dh.cos().abs();
            let shrink = |d: f64, extent: f64| {
                if d.abs() <= extent {
                    0.0
                } else {
                    d - extent * d.signum()
                }
            };
            longitudinal = shrink(longitudinal, ra.half_length + b_long);
            lateral = shrink(lateral, ra.half_width + b_lat);
        }
        (longitudinal, lateral)
    }

    fn entity_condition(&self, i: usize, condition: &EntityCondition) -> Result<bool> {
        let e = &self.entities[i];
        Ok(match condition {
            EntityCondition::Speed { value, rule } => rule.holds(e.speed, *value),
            EntityCondition::Acceleration { value, rule } => rule.holds(e.acceleration, *value),
            EntityCondition::RelativeSpeed {
                entity,
                value,
                rule,
                direction,
            } => {
                let other = &self.entities[self.entity(entity)?];
                let relative = match direction {
                    None => e.speed - other.speed,
                    // The relative velocity (this entity's minus the reference's)
                    // resolved along the reference entity's axes, as esmini does;
                    // the runner's motion is planar, so the vertical part is 0.
                    Some(direction) => {
                        let (vx, vy) = (
                            e.speed * e.heading.cos() - other.speed * other.heading.cos(),
                            e.speed * e.heading.sin() - other.speed * other.heading.sin(),
                        );
                        let (sin, cos) = other.heading.sin_cos();
                        match direction {
                            SpeedDirection::Longitudinal => vx * cos + vy * sin,
                            SpeedDirection::Lateral => -vx * sin + vy * cos,
                            SpeedDirection::Vertical => 0.0,
                        }
                    }
                };
                rule.holds(relative, *value)
            }
            EntityCondition::StandStill { duration } => e.standstill_time >= *duration - 1e-9,
            EntityCondition::Offroad { duration } => {
                e.offroad_time > 0.0 && e.offroad_time >= *duration - 1e-9
            }
            EntityCondition::EndOfRoad { duration } => {
                e.at_end_of_road && e.end_of_road_time >= *duration - 1e-9
            }
            EntityCondition::TraveledDistance { value } => e.odometer >= *value,
            EntityCondition::TimeHeadway {
                entity,
                value,
                freespace,
                rule,
                road_coordinates,
            } => {
                let other = self.entity(entity)?;
                let (longitudinal, _) = self.relative_in(i, other, *freespace, *road_coordinates);
                let headway = if e.speed.abs() > STANDSTILL_SPEED {
                    longitudinal / e.speed.abs()
                } else {
                    f64::INFINITY
                };
                rule.holds(headway, *value)
            }
            EntityCondition::TimeToCollision {
                target,
                value,
                freespace,
                rule,
            } => {
                let ttc = match target {
                    Target::Entity(name) => {
                        let other = self.entity(name)?;
                        let (longitudinal, _) = self.relative(i, other, *freespace);
                        let o = &self.entities[other];
                        let closing = e.speed - o.speed * wrap_angle(o.heading - e.heading).cos();
                        if longitudinal > 0.0 && closing > 0.0 {
                            longitudinal / closing
                        } else {
                            f64::INFINITY
                        }
                    }
                    Target::Position(p) => {
                        let p = self.resolve(p, None)?;
                        let d = if *freespace {
                            point_gap(&self.rect(i), p.x, p.y)
                        } else {
                            (p.x - e.x).hypot(p.y - e.y)
                        };
                        if e.speed > STANDSTILL_SPEED {
                            d / e.speed
                        } else {
                            f64::INFINITY
                        }
                    }
                };
                rule.holds(ttc, *value)
            }
            EntityCondition::RelativeDistance {
                entity,
                distance_type,
                value,
                freespace,
                rule,
                road_coordinates,
            } => {
                let other_index = self.entity(entity)?;
                if *road_coordinates && *distance_type == DistanceType::Longitudinal {
                    let d = self.relative_in(i, other_index, *freespace, true).0.abs();
                    return Ok(rule.holds(d, *value));
                }
                let other = self.entity(entity)?;
                let d = match distance_type {
                    DistanceType::Longitudinal => self.relative(i, other, *freespace).0.abs(),
                    DistanceType::Lateral => self.relative(i, other, *freespace).1.abs(),
                    DistanceType::Euclidean => {
                        if *freespace {
                            gap(&self.rect(i), &self.rect(other))
                        } else {
                            let o = &self.entities[other];
                            (o.x - e.x).hypot(o.y - e.y)
                        }
                    }
                };
                rule.holds(d, *value)
            }
            EntityCondition::Distance {
                position,
                value,
                freespace,
                rule,
            } => {
                let p = self.resolve(position, None)?;
                let d = if *freespace {
                    point_gap(&self.rect(i), p.x, p.y)
                } else {
                    (p.x - e.x).hypot(p.y - e.y)
                };
                rule.holds(d, *value)
            }
            EntityCondition::ReachPosition {
                position,
                tolerance,
            } => {
                let p = self.resolve(position, None)?;
                (p.x - e.x).hypot(p.y - e.y) < *tolerance
            }
            EntityCondition::Collision { target, by_type } => {
                let mine = self.rect(i);
                (0..self.entities.len()).filter(|j| *j != i).any(|j| {
                    let matches = if *by_type {
                        let kind = self.scenario.entities[j].kind;
                        matches!(
                            (target.as_str(), kind),
                            ("vehicle", EntityKind::Vehicle)
                                | ("pedestrian", EntityKind::Pedestrian)
                                | ("miscellaneous", EntityKind::MiscObject)
                        )
                    } else {
                        self.entities[j].name == *target
                    };
                    matches && self.entities[j].placed && overlap(&mine, &self.rect(j))
                })
            }
        })
    }

    // ---- KPIs and record ----

    fn after_step(&mut self) {
        let n = self.entities.len();
        let dt = self.step_s;
        // Off road: placed on a network but outside every lane of it. The lane
        // position is the nearest lane even off the road, so outside means an
        // offset beyond that lane's half width.
        let offroad: Vec<bool> = self
            .entities
            .iter()
            .map(|e| {
                let Some(network) = &self.network else {
                    return false;
                };
                if !e.placed {
                    return false;
                }
                match &e.lane {
                    None => true,
                    Some(lane) => network
                        .lane_width(&lane.road, lane.lane, lane.s)
                        .is_ok_and(|width| lane.offset.abs() > width / 2.0 + 1e-6),
                }
            })
            .collect();
        for (e, off) in self.entities.iter_mut().zip(offroad) {
            if off {
                e.offroad_time += dt;
            } else {
                e.offroad_time = 0.0;
            }
        }
        for i in 0..n {
            let deceleration = -self.entities[i].acceleration;
            if deceleration > self.max_deceleration[i] {
                self.max_deceleration[i] = deceleration;
            }
        }
        for i in 0..n {
            if !self.entities[i].placed {
                continue;
            }
            let ri = self.rect(i);
            for j in (i + 1)..n {
                if !self.entities[j].placed {
                    continue;
                }
                let rj = self.rect(j);
                let touching = overlap(&ri, &rj);
                let active = self.collisions_active.iter().position(|p| *p == (i, j));
                match (touching, active) {
                    (true, None) => {
                        self.collisions_active.push((i, j));
                        let (a, b) = (self.entities[i].name.clone(), self.entities[j].name.clone());
                        self.collisions.push(CollisionRecord {
                            time_s: self.time,
                            a: a.clone(),
                            b: b.clone(),
                        });
                        self.push_log(LogKind::Collision { a, b });
                    }
                    (false, Some(k)) => {
                        self.collisions_active.swap_remove(k);
                        let (a, b) = (self.entities[i].name.clone(), self.entities[j].name.clone());
                        self.push_log(LogKind::CollisionDissolved { a, b });
                    }
                    _ => {}
                }
                // Headway and TTC for whichever of the two follows the other in its lane.
                for (follower, leader) in [(i, j), (j, i)] {
                    let (longitudinal, lateral) = self.relative(follower, leader, true);
                    let (rf, rl) = (self.rect(follower), self.rect(leader));
                    let same_lane = lateral.abs() <= SAME_LANE_MARGIN || overlap(&rf, &rl);
                    let (f, l) = (&self.entities[follower], &self.entities[leader]);
                    if !same_lane || longitudinal < 0.0 || f.speed <= STANDSTILL_SPEED {
                        continue;
                    }
                    let headway = longitudinal / f.speed;
                    let closing = f.speed - l.speed * wrap_angle(l.heading - f.heading).cos();
                    let ttc = if closing > STANDSTILL_SPEED {
                        longitudinal / closing
                    } else {
                        f64::INFINITY
                    };
                    let entry = self
                        .pairs
                        .entry((i, j))
                        .or_insert((f64::INFINITY, f64::INFINITY));
                    entry.0 = entry.0.min(headway);
                    entry.1 = entry.1.min(ttc);
                }
            }
        }
        if let Some(record) = self.record.as_mut() {
            for e in &self.entities {
                record.push(RecordRow {
                    time_s: self.time,
                    entity: e.name.clone(),
                    x: e.x,
                    y: e.y,
                    z: e.z,
                    heading: e.heading,
                    pitch: e.pitch,
                    roll: e.roll,
                    speed: e.speed,
                    acceleration: e.acceleration,
                    road: e.lane.as_ref().map(|l| l.road.clone()),
                    lane: e.lane.as_ref().map(|l| l.lane),
                    s: e.lane.as_ref().map(|l| l.s),
                    offset: e.lane.as_ref().map(|l| l.offset),
                });
            }
        }
    }
}

/// Where a position resolves to.
#[derive(Debug, Clone)]
struct Placement {
    x: f64,
    y: f64,
    z: f64,
    heading: f64,
    pitch: f64,
    roll: f64,
    lane: Option<LanePosition>,
    direction: Option<f64>,
}

/// One stretch of a route on one road: from `from_s` to `to_s`, travelled
/// towards increasing s when `forward`.
#[derive(Debug, Clone, PartialEq)]
struct RouteSpan {
    road: String,
    from_s: f64,
    to_s: f64,
    forward: bool,
}

/// The road stretches a route drives, waypoint to waypoint along the network's
/// shortest lane route. A step onto another road ends the current stretch at
/// the road's end in the travel direction; a lane change on the same road ends
/// it where the change is made; the last stretch ends at the last waypoint.
fn route_spans(network: &Network, route: &str, lanes: &[LanePosition]) -> Result<Vec<RouteSpan>> {
    let mut spans: Vec<RouteSpan> = Vec::new();
    if let [only] = lanes {
        spans.push(RouteSpan {
            road: only.road.clone(),
            from_s: only.s,
            to_s: only.s,
            forward: network
                .road(&only.road)
                .is_none_or(|r| r.lane_runs_forward(only.lane)),
        });
    }
    for (i, pair) in lanes.windows(2).enumerate() {
        let steps = network.route(&pair[0], &pair[1]).ok_or_else(|| {
            Error::Runner(format!(
                "route `{route}`: no lane route from waypoint {} (road {} lane {} s {}) to waypoint {} (road {} lane {} s {})",
                i + 1,
                pair[0].road,
                pair[0].lane,
                pair[0].s,
                i + 2,
                pair[1].road,
                pair[1].lane,
                pair[1].s
            ))
        })?;
        for (j, step) in steps.iter().enumerate() {
            let Some(road) = network.road(&step.road) else {
                continue;
            };
            let forward = road.lane_runs_forward(step.lane);
            let to_s = match steps.get(j + 1) {
                // The goal itself: nothing more to drive.
                None => continue,
                Some(next)
                    if j + 2 == steps.len()
                        || (next.road == step.road && next.lane != step.lane) =>
                {
                    next.s
                }
                Some(_) if forward => road.length,
                Some(_) => 0.0,
            };
            spans.push(RouteSpan {
                road: step.road.clone(),
                from_s: step.s,
                to_s,
                forward,
            });
        }
    }
    if spans.is_empty() {
        return Err(Error::Runner(format!("route `{route}` has no waypoints")));
    }
    Ok(spans)
}

/// The span and road s `path_s` metres along a route from its start.
fn locate_on_route<'a>(
    spans: &'a [RouteSpan],
    route: &str,
    path_s: f64,
) -> Result<(&'a RouteSpan, f64)> {
    // Rounding slack at the route's ends, m.
    const END_TOLERANCE: f64 = 1e-6;
    let total: f64 = spans
        .iter()
        .map(|span| (span.to_s - span.from_s).abs())
        .sum();
    if !(-END_TOLERANCE..=total + END_TOLERANCE).contains(&path_s) {
        return Err(Error::Runner(format!(
            "pathS {path_s} is outside route `{route}`, which is {total:.3} m long (allowed 0 to {total:.3})"
        )));
    }
    let mut driven = 0.0;
    for (i, span) in spans.iter().enumerate() {
        let length = (span.to_s - span.from_s).abs();
        // The last span also takes the rounding slack past the end.
        if path_s <= driven + length || i + 1 == spans.len() {
            let along = (path_s - driven).clamp(0.0, length);
            let s = if span.forward {
                span.from_s + along
            } else {
                span.from_s - along
            };
            return Ok((span, s));
        }
        driven += length;
    }
    Err(Error::Runner(format!(
        "route `{route}` has no road stretches"
    )))
}

/// Speed on a piecewise-linear profile `elapsed` seconds after its start.
fn profile_speed(profile: &[(f64, f64)], start_speed: f64, elapsed: f64) -> f64 {
    let mut from = (0.0, start_speed);
    for &(end, speed) in profile {
        if elapsed < end {
            let span = end - from.0;
            let f = if span > 0.0 {
                (elapsed - from.0) / span
            } else {
                1.0
            };
            return from.1 + (speed - from.1) * f;
        }
        from = (end, speed);
    }
    from.1
}

fn orient(o: &Orientation, reference: f64) -> f64 {
    match o.h {
        None => reference,
        Some(h) if o.relative => reference + h,
        Some(h) => h,
    }
}

/// The lane `n` lanes to the left of `lane` for a driver travelling in
/// `direction` (+1 along s): lane ids skip 0, and "left" is +t when travelling
/// along s.
pub(crate) fn shift_lane(lane: i32, n: i32, direction: f64) -> i32 {
    let index = if lane > 0 { lane - 1 } else { lane };
    let step = if direction >= 0.0 { n } else { -n };
    let shifted = index.saturating_add(step);
    if shifted >= 0 { shifted + 1 } else { shifted }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Standby => "standbyState",
        State::Running => "runningState",
        State::Complete => "completeState",
    }
}

fn transition_name(t: ElementState) -> &'static str {
    match t {
        ElementState::StartTransition => "startTransition",
        ElementState::EndTransition => "endTransition",
        ElementState::StopTransition => "stopTransition",
        ElementState::SkipTransition => "skipTransition",
        ElementState::Standby => "standbyState",
        ElementState::Running => "runningState",
        ElementState::Complete => "completeState",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_shift_skips_the_centre_lane() {
        assert_eq!(shift_lane(-2, 1, 1.0), -1);
        assert_eq!(shift_lane(-1, 1, 1.0), 1);
        assert_eq!(shift_lane(1, -1, 1.0), -1);
        assert_eq!(shift_lane(2, 1, -1.0), 1);
        assert_eq!(shift_lane(1, 1, -1.0), -1);
        assert_eq!(shift_lane(-3, 0, 1.0), -3);
    }
}
