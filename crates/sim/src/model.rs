//! The parsed scenario: plain data with parameters already substituted and
//! catalog references already resolved, so the runner never looks at XML.

/// A parsed OpenSCENARIO scenario, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// File name given to the parser.
    pub file: String,
    /// `FileHeader` revMajor.revMinor, e.g. (1, 2).
    pub revision: (u32, u32),
    /// `FileHeader` description.
    pub description: String,
    /// Global parameters after substitution, in declaration order (name, value);
    /// ParameterCondition and ParameterSetAction work on these at run time.
    pub parameters: Vec<(String, String)>,
    /// Variables (OpenSCENARIO 1.2 VariableDeclarations), as parameters are.
    pub variables: Vec<(String, String)>,
    /// `RoadNetwork/LogicFile/@filepath` as written (relative to the scenario).
    pub road_network: Option<String>,
    /// Entities in declaration order.
    pub entities: Vec<Entity>,
    /// Init actions in order.
    pub init: Vec<InitAction>,
    /// Stories in order.
    pub stories: Vec<Story>,
    /// The storyboard's stop trigger; `None` means it never fires.
    pub stop_trigger: Option<Trigger>,
    /// Elements accepted without effect on the run (lights, environment, ...),
    /// each with its location, so nothing is dropped silently.
    pub notes: Vec<String>,
}

/// What sort of object an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// `Vehicle`.
    Vehicle,
    /// `Pedestrian`.
    Pedestrian,
    /// `MiscObject`.
    MiscObject,
}

/// A bounding box relative to the entity's reference point (rear axle for vehicles).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Centre in the entity's frame (x forward, y left, z up), metres.
    pub center: [f64; 3],
    /// Length along x, metres.
    pub length: f64,
    /// Width along y, metres.
    pub width: f64,
    /// Height along z, metres.
    pub height: f64,
}

/// Vehicle performance limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Performance {
    /// m/s.
    pub max_speed: f64,
    /// m/s².
    pub max_acceleration: f64,
    /// m/s², positive.
    pub max_deceleration: f64,
}

/// A scenario object with its resolved definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// `ScenarioObject/@name`.
    pub name: String,
    /// Vehicle, pedestrian or misc object.
    pub kind: EntityKind,
    /// vehicleCategory / pedestrianCategory / miscObjectCategory.
    pub category: String,
    /// The definition's own name (catalog entry or inline element name).
    pub model: String,
    /// Bounding box.
    pub bounding_box: BoundingBox,
    /// Limits (pedestrians and objects get generous defaults).
    pub performance: Performance,
    /// `Properties/Property` pairs of the definition.
    pub properties: Vec<(String, String)>,
    /// The assigned controller's name, if any (recorded, not simulated).
    pub controller: Option<String>,
}

/// How an orientation is meant.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Orientation {
    /// Heading, radians.
    pub h: Option<f64>,
    /// Pitch, radians.
    pub p: Option<f64>,
    /// Roll, radians.
    pub r: Option<f64>,
    /// `type="relative"` (to the road or reference) instead of absolute.
    pub relative: bool,
}

/// A position as OpenSCENARIO writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Position {
    /// Absolute world coordinates.
    World {
        /// Metres.
        x: f64,
        /// Metres.
        y: f64,
        /// Metres (None: on the road surface / 0).
        z: Option<f64>,
        /// Heading.
        h: Option<f64>,
        /// Pitch.
        p: Option<f64>,
        /// Roll.
        r: Option<f64>,
    },
    /// Offset in world axes from an entity.
    RelativeWorld {
        /// Reference entity.
        entity: String,
        /// Metres.
        dx: f64,
        /// Metres.
        dy: f64,
        /// Metres.
        dz: f64,
        /// Orientation.
        orientation: Orientation,
    },
    /// Offset in the entity's own axes.
    RelativeObject {
        /// Reference entity.
        entity: String,
        /// Metres forward.
        dx: f64,
        /// Metres left.
        dy: f64,
        /// Metres up.
        dz: f64,
        /// Orientation.
        orientation: Orientation,
    },
    /// Road coordinates.
    Road {
        /// Road id.
        road: String,
        /// Metres along the reference line.
        s: f64,
        /// Metres left of the reference line.
        t: f64,
        /// Orientation.
        orientation: Orientation,
    },
    /// Offset in road coordinates from an entity.
    RelativeRoad {
        /// Reference entity.
        entity: String,
        /// Metres along s.
        ds: f64,
        /// Metres along t.
        dt: f64,
        /// Orientation.
        orientation: Orientation,
    },
    /// Lane coordinates.
    Lane {
        /// Road id.
        road: String,
        /// Lane id.
        lane: i32,
        /// Metres along the reference line.
        s: f64,
        /// Metres left of the lane centre.
        offset: f64,
        /// Orientation.
        orientation: Orientation,
    },
    /// Offset in lanes from an entity.
    RelativeLane {
        /// Reference entity.
        entity: String,
        /// Lanes to the left (positive) in the entity's driving direction.
        d_lane: i32,
        /// Metres along s (dsLane is treated the same).
        ds: f64,
        /// Metres from the lane centre.
        offset: f64,
        /// Orientation.
        orientation: Orientation,
    },
    /// A place on a route (RoutePosition), boxed: it is much larger than the others.
    Route(Box<RoutePosition>),
}

/// A RoutePosition: the route, given inline or from a catalog, and the place on it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutePosition {
    /// Route name.
    pub route: String,
    /// The route's waypoints; the roads between them come from the network's router.
    pub waypoints: Vec<Position>,
    /// Where on the route.
    pub at: InRoutePosition,
    /// Orientation; relative means to the driving direction at that point.
    pub orientation: Orientation,
}

/// Where on a route a [`Position::Route`] lies.
#[derive(Debug, Clone, PartialEq)]
pub enum InRoutePosition {
    /// Where the entity is now (it must be on one of the route's roads).
    FromCurrentEntity {
        /// The entity.
        entity: String,
    },
    /// `pathS` metres along the route from its first waypoint, `t` metres left
    /// of the reference line of the road reached there.
    FromRoadCoordinates {
        /// Metres along the route.
        path_s: f64,
        /// Metres along t.
        t: f64,
    },
    /// `pathS` metres along the route, in lane `laneId` (OpenDRIVE id on the
    /// road reached there), `laneOffset` metres from its centre.
    FromLaneCoordinates {
        /// Metres along the route.
        path_s: f64,
        /// Lane id.
        lane: i32,
        /// Metres from the lane centre.
        offset: f64,
    },
}

/// Shape of a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Jump at once.
    Step,
    /// Constant rate.
    Linear,
    /// 3τ² − 2τ³.
    Cubic,
    /// (1 − cos πτ)/2.
    Sinusoidal,
}

/// What a transition's `value` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Seconds.
    Time,
    /// Metres travelled.
    Distance,
    /// Units per second (m/s² for speed, m/s for lateral moves).
    Rate,
}

/// `TransitionDynamics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dynamics {
    /// Shape.
    pub shape: Shape,
    /// Dimension.
    pub dimension: Dimension,
    /// Value in the dimension's unit.
    pub value: f64,
}

/// Target of a SpeedAction.
#[derive(Debug, Clone, PartialEq)]
pub enum SpeedTarget {
    /// m/s.
    Absolute(f64),
    /// Relative to another entity's speed.
    Relative {
        /// Reference entity.
        entity: String,
        /// Delta (m/s) or factor.
        value: f64,
        /// `factor` instead of `delta`.
        factor: bool,
        /// Keep tracking after reaching the target.
        continuous: bool,
    },
}

/// Target of a LaneChangeAction.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneTarget {
    /// Lane id on the current road.
    Absolute(i32),
    /// Lanes to the left of the reference entity's lane (in its driving direction).
    Relative {
        /// Reference entity.
        entity: String,
        /// Lanes to the left.
        value: i32,
    },
}

/// Target of a LaneOffsetAction.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetTarget {
    /// Metres left of the lane centre.
    Absolute(f64),
    /// Metres left of another entity's lane offset.
    Relative {
        /// Reference entity.
        entity: String,
        /// Metres.
        value: f64,
    },
}

/// One vertex of a polyline trajectory.
#[derive(Debug, Clone, PartialEq)]
pub struct Vertex {
    /// Optional timestamp (recorded; the runner follows at the entity's speed).
    pub time: Option<f64>,
    /// Where the vertex is.
    pub position: Position,
}

/// A clothoid trajectory shape: curvature changing linearly over its length.
#[derive(Debug, Clone, PartialEq)]
pub struct Clothoid {
    /// Curvature at the start, 1/m (positive turns left).
    pub curvature: f64,
    /// Change of curvature per metre, 1/m².
    pub curvature_prime: f64,
    /// Length, m.
    pub length: f64,
    /// Start pose; None: where the entity is when the action starts.
    pub start: Option<Position>,
}

/// `TimeReference/Timing` of a trajectory: vertex time `t` means simulation
/// time `scale·t + offset`, counted from the action's start when relative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// `domainAbsoluteRelative="relative"`.
    pub relative: bool,
    /// Scale.
    pub scale: f64,
    /// Offset, s.
    pub offset: f64,
}

/// Actions that apply to one entity.
#[derive(Debug, Clone, PartialEq)]
pub enum PrivateAction {
    /// LongitudinalAction/SpeedAction.
    Speed {
        /// How to get there.
        dynamics: Dynamics,
        /// Where to get.
        target: SpeedTarget,
    },
    /// LongitudinalAction/SpeedProfileAction: speeds reached linearly, each over
    /// its entry's time (followingMode is taken as `position`).
    SpeedProfile {
        /// (time to reach it in s, speed in m/s), in order.
        entries: Vec<(f64, f64)>,
    },
    /// LongitudinalAction/LongitudinalDistanceAction: keep a distance or time gap
    /// to another entity, measured along the road.
    LongitudinalDistance {
        /// Reference entity.
        entity: String,
        /// Gap in metres (when `time_gap` is None).
        distance: f64,
        /// Gap in seconds at the actor's speed.
        time_gap: Option<f64>,
        /// Bounding-box gap instead of reference points.
        freespace: bool,
        /// Keep the gap after reaching it.
        continuous: bool,
        /// Stay ahead of the reference instead of behind it.
        leading: bool,
        /// DynamicConstraints (max acceleration, max deceleration, max speed);
        /// None: the gap is held rigidly.
        limits: Option<(f64, f64, f64)>,
    },
    /// LateralAction/LaneChangeAction.
    LaneChange {
        /// How.
        dynamics: Dynamics,
        /// Which lane.
        target: LaneTarget,
        /// targetLaneOffset, metres.
        target_offset: f64,
    },
    /// LateralAction/LaneOffsetAction.
    LaneOffset {
        /// Shape of the move.
        shape: Shape,
        /// maxLateralAcc, m/s².
        max_lateral_acceleration: Option<f64>,
        /// Offset target.
        target: OffsetTarget,
        /// Keep the offset after reaching it.
        continuous: bool,
    },
    /// TeleportAction.
    Teleport(Position),
    /// RoutingAction/FollowTrajectoryAction with a polyline.
    FollowTrajectory {
        /// Trajectory name.
        name: String,
        /// Polyline vertices.
        vertices: Vec<Vertex>,
        /// Closed loop.
        closed: bool,
        /// TimeReference/Timing: follow the vertex times instead of the speed.
        timing: Option<Timing>,
        /// A clothoid shape instead of a polyline (then `vertices` is empty).
        clothoid: Option<Clothoid>,
    },
    /// RoutingAction/AssignRouteAction.
    AssignRoute {
        /// Route name.
        name: String,
        /// Waypoint positions.
        waypoints: Vec<Position>,
    },
    /// ActivateControllerAction (accepted and recorded; the default driver stays in charge).
    ActivateController {
        /// Lateral domain flag.
        lateral: Option<bool>,
        /// Longitudinal domain flag.
        longitudinal: Option<bool>,
    },
    /// ControllerAction/AssignControllerAction (accepted and recorded).
    AssignController {
        /// Controller name.
        name: String,
    },
}

/// Actions on the world.
#[derive(Debug, Clone, PartialEq)]
pub enum GlobalAction {
    /// ParameterAction/SetAction (or VariableAction/SetAction when `variable`).
    ParameterSet {
        /// A variable (OpenSCENARIO 1.2) instead of a parameter.
        variable: bool,
        /// Parameter.
        name: String,
        /// New value.
        value: String,
    },
    /// ParameterAction/ModifyAction (or VariableAction/ModifyAction): add or multiply.
    ParameterModify {
        /// A variable (OpenSCENARIO 1.2) instead of a parameter.
        variable: bool,
        /// Parameter.
        name: String,
        /// Multiply instead of add.
        multiply: bool,
        /// Operand.
        value: f64,
    },
}

/// An action in an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Applies to the maneuver group's actors.
    Private(PrivateAction),
    /// Applies to the world.
    Global(GlobalAction),
}

/// An action in Init.
#[derive(Debug, Clone, PartialEq)]
pub enum InitAction {
    /// `Private entityRef=..`.
    Private {
        /// Entity.
        entity: String,
        /// Its actions.
        action: PrivateAction,
    },
    /// `GlobalAction`.
    Global(GlobalAction),
}

/// Comparison rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `>`.
    GreaterThan,
    /// `<`.
    LessThan,
    /// `==`.
    EqualTo,
    /// `>=`.
    GreaterOrEqual,
    /// `<=`.
    LessOrEqual,
    /// `!=`.
    NotEqualTo,
}

impl Rule {
    /// Applies the rule to numbers. Equality uses a small tolerance because
    /// simulated values are sums of floating-point steps.
    pub fn holds(self, left: f64, right: f64) -> bool {
        const EQUALITY_TOLERANCE: f64 = 1e-9;
        match self {
            Rule::GreaterThan => left > right,
            Rule::LessThan => left < right,
            Rule::EqualTo => (left - right).abs() <= EQUALITY_TOLERANCE,
            Rule::GreaterOrEqual => left >= right,
            Rule::LessOrEqual => left <= right,
            Rule::NotEqualTo => (left - right).abs() > EQUALITY_TOLERANCE,
        }
    }
}

/// When a condition's value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// false → true.
    Rising,
    /// true → false.
    Falling,
    /// Either change.
    RisingOrFalling,
    /// Level: whenever true.
    None,
}

/// Storyboard element kinds for StoryboardElementStateCondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementKind {
    /// Story.
    Story,
    /// Act.
    Act,
    /// ManeuverGroup.
    ManeuverGroup,
    /// Maneuver.
    Maneuver,
    /// Event.
    Event,
    /// Action.
    Action,
}

/// States and transitions of a storyboard element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementState {
    /// Waiting.
    Standby,
    /// Executing.
    Running,
    /// Finished.
    Complete,
    /// standby → running.
    StartTransition,
    /// running → complete (by itself).
    EndTransition,
    /// running → complete (stopped or overridden).
    StopTransition,
    /// standby → standby (event skipped for priority).
    SkipTransition,
}

/// How a relative distance is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceType {
    /// Along the reference direction.
    Longitudinal,
    /// Across it.
    Lateral,
    /// Straight-line.
    Euclidean,
}

/// Conditions about entities.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityCondition {
    /// TimeHeadwayCondition.
    TimeHeadway {
        /// The entity ahead.
        entity: String,
        /// Seconds.
        value: f64,
        /// Bounding-box gap instead of reference points.
        freespace: bool,
        /// Measured along the road (coordinateSystem road or lane) instead of
        /// in the triggering entity's frame.
        road_coordinates: bool,
        /// Rule.
        rule: Rule,
    },
    /// TimeToCollisionCondition.
    TimeToCollision {
        /// Target entity, or a position.
        target: Target,
        /// Seconds.
        value: f64,
        /// Bounding-box gap.
        freespace: bool,
        /// Rule.
        rule: Rule,
    },
    /// RelativeDistanceCondition.
    RelativeDistance {
        /// Other entity.
        entity: String,
        /// How measured.
        distance_type: DistanceType,
        /// Metres.
        value: f64,
        /// Bounding-box gap.
        freespace: bool,
        /// Measured along the road (coordinateSystem road or lane) instead of
        /// in the triggering entity's frame.
        road_coordinates: bool,
        /// Rule.
        rule: Rule,
    },
    /// DistanceCondition.
    Distance {
        /// To where.
        position: Position,
        /// Metres.
        value: f64,
        /// Bounding-box gap.
        freespace: bool,
        /// Rule.
        rule: Rule,
    },
    /// SpeedCondition.
    Speed {
        /// m/s.
        value: f64,
        /// Rule.
        rule: Rule,
    },
    /// RelativeSpeedCondition (triggering minus reference).
    RelativeSpeed {
        /// Reference entity.
        entity: String,
        /// m/s.
        value: f64,
        /// Rule.
        rule: Rule,
        /// OpenSCENARIO 1.3 `direction`: the component of the relative velocity
        /// along the reference entity's axes; None compares plain speeds.
        direction: Option<SpeedDirection>,
    },
    /// ReachPositionCondition.
    ReachPosition {
        /// Where.
        position: Position,
        /// Metres.
        tolerance: f64,
    },
    /// AccelerationCondition.
    Acceleration {
        /// m/s².
        value: f64,
        /// Rule.
        rule: Rule,
    },
    /// CollisionCondition.
    Collision {
        /// Entity name or, with `by_type`, an object category (vehicle, pedestrian, miscellaneous).
        target: String,
        /// Target is a type.
        by_type: bool,
    },
    /// EndOfRoadCondition.
    EndOfRoad {
        /// Seconds off the road's end.
        duration: f64,
    },
    /// StandStillCondition.
    StandStill {
        /// Seconds at rest.
        duration: f64,
    },
    /// OffroadCondition: off every road of the network for at least this long.
    Offroad {
        /// Seconds off road.
        duration: f64,
    },
    /// TraveledDistanceCondition.
    TraveledDistance {
        /// Metres.
        value: f64,
    },
}

/// A TTC target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Another entity.
    Entity(String),
    /// A position.
    Position(Position),
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionKind {
    /// ByEntityCondition.
    ByEntity {
        /// TriggeringEntities.
        triggering: Vec<String>,
        /// `all` instead of `any`.
        all: bool,
        /// The test.
        condition: EntityCondition,
    },
    /// SimulationTimeCondition.
    SimulationTime {
        /// Seconds.
        value: f64,
        /// Rule.
        rule: Rule,
    },
    /// StoryboardElementStateCondition.
    ElementState {
        /// Element kind.
        kind: ElementKind,
        /// Element name.
        name: String,
        /// State or transition.
        state: ElementState,
    },
    /// ParameterCondition (or VariableCondition when `variable`).
    Parameter {
        /// A variable (OpenSCENARIO 1.2) instead of a parameter.
        variable: bool,
        /// Parameter name.
        name: String,
        /// Value to compare with.
        value: String,
        /// Rule.
        rule: Rule,
    },
}

/// One condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Name.
    pub name: String,
    /// Seconds between the condition holding and the trigger counting it.
    pub delay: f64,
    /// Edge.
    pub edge: Edge,
    /// The test.
    pub kind: ConditionKind,
}

/// A trigger: OR over groups, AND inside a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trigger {
    /// Condition groups.
    pub groups: Vec<Vec<Condition>>,
}

/// Event priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Stops running events of the maneuver, then starts.
    Overwrite,
    /// Skips this start if another event of the maneuver runs.
    Skip,
    /// Starts regardless.
    Parallel,
}

/// A named action.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedAction {
    /// Name.
    pub name: String,
    /// What it does.
    pub action: Action,
}

/// An event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Name.
    pub name: String,
    /// Priority.
    pub priority: Priority,
    /// How many times it may run.
    pub max_executions: u32,
    /// Start trigger (None: starts at once).
    pub start_trigger: Option<Trigger>,
    /// Actions.
    pub actions: Vec<NamedAction>,
}

/// A maneuver.
#[derive(Debug, Clone, PartialEq)]
pub struct Maneuver {
    /// Name.
    pub name: String,
    /// Events.
    pub events: Vec<Event>,
}

/// A maneuver group.
#[derive(Debug, Clone, PartialEq)]
pub struct ManeuverGroup {
    /// Name.
    pub name: String,
    /// How many times it may run.
    pub max_executions: u32,
    /// Actor entity names.
    pub actors: Vec<String>,
    /// selectTriggeringEntities.
    pub select_triggering: bool,
    /// Maneuvers.
    pub maneuvers: Vec<Maneuver>,
}

/// An act.
#[derive(Debug, Clone, PartialEq)]
pub struct Act {
    /// Name.
    pub name: String,
    /// Maneuver groups.
    pub maneuver_groups: Vec<ManeuverGroup>,
    /// Start trigger (None: starts with its story).
    pub start_trigger: Option<Trigger>,
    /// Stop trigger.
    pub stop_trigger: Option<Trigger>,
}

/// A story.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Name.
    pub name: String,
    /// Acts.
    pub acts: Vec<Act>,
}

/// A component of a velocity in an entity's frame (OpenSCENARIO 1.3 `DirectionalDimension`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeedDirection {
    /// Along the entity's heading.
    Longitudinal,
    /// Towards the entity's left.
    Lateral,
    /// Up.
    Vertical,
}
