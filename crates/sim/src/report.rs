//! What a run produces — the event log, the per-step trajectory record, the KPI
//! report — and the pure writers that turn them into CSV, JSON and JUnit XML
//! strings (the caller decides where the bytes go).

use serde::Serialize;

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The storyboard's stop trigger fired.
    StopTrigger,
    /// Every story completed.
    StoryboardComplete,
    /// `max_time` passed first.
    MaxTime,
}

/// Something that happened in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogKind {
    /// A condition's value (after its edge) became true; its delay starts now.
    ConditionTrue {
        /// Condition name.
        condition: String,
        /// Its delay, s.
        delay_s: f64,
    },
    /// A condition's value (after its edge) stopped being true.
    ConditionFalse {
        /// Condition name.
        condition: String,
    },
    /// A condition counted for its trigger (after its delay).
    TriggerFired {
        /// Condition name.
        condition: String,
    },
    /// A storyboard element changed state.
    StateChange {
        /// Element name (`storyBoard` for the storyboard itself; init actions are
        /// named `Init <entity> <ActionType>`).
        element: String,
        /// State before.
        from: &'static str,
        /// Transition.
        transition: &'static str,
        /// State after.
        to: &'static str,
    },
    /// Two bounding boxes started to overlap.
    Collision {
        /// First entity.
        a: String,
        /// Second entity.
        b: String,
    },
    /// They stopped overlapping.
    CollisionDissolved {
        /// First entity.
        a: String,
        /// Second entity.
        b: String,
    },
    /// A VariableAction set a variable.
    VariableSet {
        /// Variable.
        name: String,
        /// New value.
        value: String,
    },
    /// A ParameterAction set a parameter.
    ParameterSet {
        /// Parameter.
        name: String,
        /// New value.
        value: String,
    },
}

/// A log entry with its simulation time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    /// Simulation time, s.
    pub time: f64,
    /// What happened.
    #[serde(flatten)]
    pub kind: LogKind,
}

/// One row of the trajectory record: one entity at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    /// s.
    pub time_s: f64,
    /// Entity name.
    pub entity: String,
    /// m.
    pub x: f64,
    /// m.
    pub y: f64,
    /// m.
    pub z: f64,
    /// rad.
    pub heading: f64,
    /// rad.
    pub pitch: f64,
    /// rad.
    pub roll: f64,
    /// m/s.
    pub speed: f64,
    /// m/s².
    pub acceleration: f64,
    /// Road id when on a road.
    pub road: Option<String>,
    /// Lane id.
    pub lane: Option<i32>,
    /// s on the road, m.
    pub s: Option<f64>,
    /// Offset from the lane centre along +t, m.
    pub offset: Option<f64>,
}

/// A collision: two bounding boxes began to overlap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollisionRecord {
    /// s.
    pub time_s: f64,
    /// First entity.
    pub a: String,
    /// Second entity.
    pub b: String,
}

/// Minimum headway and time to collision seen between two entities (either
/// following the other in the same lane), bounding-box gaps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairSummary {
    /// First entity (declaration order).
    pub a: String,
    /// Second entity.
    pub b: String,
    /// s; None when neither ever followed the other.
    pub min_time_headway_s: Option<f64>,
    /// s; None when they never closed in.
    pub min_time_to_collision_s: Option<f64>,
}

/// Per-entity figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntitySummary {
    /// Entity.
    pub name: String,
    /// Distance travelled, m.
    pub distance_m: f64,
    /// Largest deceleration over one step, m/s² (positive).
    pub max_deceleration: f64,
    /// Speed at the end, m/s.
    pub final_speed: f64,
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Scenario file.
    pub scenario: String,
    /// FileHeader description.
    pub description: String,
    /// Step, s.
    pub step_s: f64,
    /// Why it ended (None while running).
    pub end_reason: Option<EndReason>,
    /// Simulation time reached, s.
    pub time_s: f64,
    /// Steps taken.
    pub steps: u64,
    /// Collisions in order.
    pub collisions: Vec<CollisionRecord>,
    /// Pair KPIs.
    pub pairs: Vec<PairSummary>,
    /// Entity KPIs.
    pub entities: Vec<EntitySummary>,
    /// Controllers assigned or activated (entity, description); recorded only.
    pub controllers: Vec<(String, String)>,
    /// Elements accepted without effect.
    pub notes: Vec<String>,
    /// Event log.
    pub log: Vec<LogEntry>,
    /// Log entries beyond the log's bound.
    pub log_dropped: u64,
}

impl Report {
    /// Passed: ended by its stop trigger or by completing, with no collision.
    pub fn passed(&self) -> bool {
        self.collisions.is_empty()
            && matches!(
                self.end_reason,
                Some(EndReason::StopTrigger | EndReason::StoryboardComplete)
            )
    }

    /// Why it failed, for humans; None when it passed.
    pub fn failure(&self) -> Option<String> {
        if let Some(c) = self.collisions.first() {
            return Some(format!(
                "collision between {} and {} at {:.3} s",
                c.a, c.b, c.time_s
            ));
        }
        match self.end_reason {
            Some(EndReason::MaxTime) => Some(format!("did not end within {:.3} s", self.time_s)),
            None => Some("still running".into()),
            _ => None,
        }
    }
}

/// The CSV header of [`record_csv`]. Columns: simulation time (s), entity name,
/// world x, y, z (m) of the reference point, heading, pitch, roll (rad), speed
/// (m/s), acceleration (m/s²), road id, lane id, s (m), lane offset (m); the last
/// four are empty when the entity is off the road.
pub const RECORD_CSV_HEADER: &str = "time_s,entity,x_m,y_m,z_m,heading_rad,pitch_rad,roll_rad,speed_mps,acceleration_mps2,road,lane,s_m,offset_m";

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes a trajectory record as CSV (header [`RECORD_CSV_HEADER`]).
pub fn record_csv(rows: &[RecordRow]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(rows.len() * 96 + 128);
    out.push_str(RECORD_CSV_HEADER);
    out.push('\n');
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for r in rows {
        let _ = writeln!(
            out,
            "{:.4},{},{:.4},{:.4},{:.4},{:.5},{:.5},{:.5},{:.4},{:.4},{},{},{},{}",
            r.time_s,
            csv_field(&r.entity),
            r.x,
            r.y,
            r.z,
            r.heading,
            r.pitch,
            r.roll,
            r.speed,
            r.acceleration,
            r.road.as_deref().map(csv_field).unwrap_or_default(),
            r.lane.map(|l| l.to_string()).unwrap_or_default(),
            opt(r.s),
            opt(r.offset),
        );
    }
    out
}

/// Writes reports as one JSON document: `{"scenarios": [...], "passed": n, "failed": n}`.
pub fn report_json(reports: &[Report]) -> String {
    #[derive(Serialize)]
    struct Entry<'a> {
        passed: bool,
        failure: Option<String>,
        #[serde(flatten)]
        report: &'a Report,
    }
    #[derive(Serialize)]
    struct Document<'a> {
        passed: usize,
        failed: usize,
        scenarios: Vec<Entry<'a>>,
    }
    let scenarios: Vec<Entry<'_>> = reports
        .iter()
        .map(|r| Entry {
            passed: r.passed(),
            failure: r.failure(),
            report: r,
        })
        .collect();
    let passed = scenarios.iter().filter(|s| s.passed).count();
    let document = Document {
        passed,
        failed: scenarios.len() - passed,
        scenarios,
    };
    // Serialising plain data with string keys cannot fail; fall back to an error object anyway.
    serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Writes reports as JUnit XML: one `<testsuite name=suite>`, one `<testcase>`
/// per scenario with KPIs as `<properties>`, a `<failure>` when it failed.
pub fn junit_xml(suite: &str, reports: &[Report]) -> String {
    use std::fmt::Write;
    let failures = reports.iter().filter(|r| !r.passed()).count();
    let total_time: f64 = reports.iter().map(|r| r.time_s).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total_time:.3}\">",
        xml_escape(suite),
        reports.len()
    );
    for r in reports {
        let _ = writeln!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml_escape(suite),
            xml_escape(&r.scenario),
            r.time_s
        );
        out.push_str("    <properties>\n");
        let mut property = |name: &str, value: String| {
            let _ = writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                xml_escape(name),
                xml_escape(&value)
            );
        };
        property(
            "end_reason",
            r.end_reason.map_or("running".into(), |e| format!("{e:?}")),
        );
        property("collisions", r.collisions.len().to_string());
        for p in &r.pairs {
            if let Some(h) = p.min_time_headway_s {
                property(
                    &format!("min_time_headway_s.{}.{}", p.a, p.b),
                    format!("{h:.3}"),
                );
            }
            if let Some(t) = p.min_time_to_collision_s {
                property(
                    &format!("min_time_to_collision_s.{}.{}", p.a, p.b),
                    format!("{t:.3}"),
                );
            }
        }
        for e in &r.entities {
            property(
                &format!("max_deceleration.{}", e.name),
                format!("{:.3}", e.max_deceleration),
            );
        }
        out.push_str("    </properties>\n");
        if let Some(failure) = r.failure() {
            let _ = writeln!(out, "    <failure message=\"{}\"/>", xml_escape(&failure));
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}
