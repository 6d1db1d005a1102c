//! What a subscription matches: an ADT query's WHERE, a model, a region (box or
//! sphere), or any combination (all must hold). Checked once when subscribing
//! (`Criteria::new`), then evaluated per changed twin on every tick and over the
//! whole world for a snapshot.
//!
//! A query is evaluated on one twin by running it over `Single`, a view of the
//! world that holds only that twin: the query engine stays the one source of
//! truth for the language, and no second evaluator can drift from it.

use std::borrow::Cow;

use query::{Collection, Column, ColumnExpr, Path, Query, SelectList, TwinGraph};
use serde_json::Value;
use world::World;

use crate::LiveError;

/// Largest region extent, in metres per axis: a region is a viewpoint's
/// surroundings; a bigger one is a whole-world subscription in disguise and the
/// region index would hand it every change.
pub const REGION_EXTENT_MAX: f64 = 1.0e7;

/// A region of world space.
#[derive(Clone, Debug, PartialEq)]
pub enum Region {
    /// Axis-aligned box, bounds included; `min <= max` per axis.
    Box {
        /// Lower corner.
        min: [f64; 3],
        /// Upper corner.
        max: [f64; 3],
    },
    /// Sphere, surface included.
    Sphere {
        /// Centre.
        center: [f64; 3],
        /// Radius, `>= 0`.
        radius: f64,
    },
}

impl Region {
    /// Reads a protocol region; corners in any order; every number finite.
    pub fn from_proto(region: &proto::Region) -> Result<Region, LiveError> {
        let invalid = |why: &str| LiveError::InvalidRegion(why.to_owned());
        let vec = |v: &Option<proto::Vec3>, what: &str| {
            v.as_ref()
                .map(proto::Vec3::to_array)
                .ok_or_else(|| invalid(&format!("{what} is missing")))
        };
        let region = match &region.shape {
            Some(proto::region::Shape::Box(b)) => {
                let (a, c) = (vec(&b.min, "box.min")?, vec(&b.max, "box.max")?);
                Region::Box {
                    min: [a[0].min(c[0]), a[1].min(c[1]), a[2].min(c[2])],
                    max: [a[0].max(c[0]), a[1].max(c[1]), a[2].max(c[2])],
                }
            }
            Some(proto::region::Shape::Sphere(s)) => Region::Sphere {
                center: vec(&s.center, "sphere.center")?,
                radius: s.radius,
            },
            None => return Err(invalid("neither a box nor a sphere is set")),
        };
        let (min, max) = region.envelope();
        if min.iter().chain(max.iter()).any(|v| !v.is_finite()) {
            return Err(invalid("every coordinate and the radius must be finite"));
        }
        if let Region::Sphere { radius, .. } = region
            && radius < 0.0
        {
            return Err(invalid("the radius must be 0 or more"));
        }
        if (0..3).any(|i| max[i] - min[i] > REGION_EXTENT_MAX) {
            return Err(invalid(&format!(
                "a region may span at most {REGION_EXTENT_MAX} m per axis"
            )));
        }
        Ok(region)
    }

    /// The smallest box holding the region.
    pub fn envelope(&self) -> ([f64; 3], [f64; 3]) {
        match *self {
            Region::Box { min, max } => (min, max),
            Region::Sphere { center, radius } => (
                [center[0] - radius, center[1] - radius, center[2] - radius],
                [center[0] + radius, center[1] + radius, center[2] + radius],
            ),
        }
    }

    /// Whether a world position lies in the region.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        match *self {
            Region::Box { min, max } => (0..3).all(|i| min[i] <= p[i] && p[i] <= max[i]),
            Region::Sphere { center, radius } => {
                let d: f64 = (0..3).map(|i| (p[i] - center[i]).powi(2)).sum();
                d <= radius * radius
            }
        }
    }
}

/// A subscription's filter: every part that is set must hold.
#[derive(Clone, Debug)]
pub struct Criteria {
    /// The checked query (FROM DIGITALTWINS, no JOIN, no aggregate), if any.
    query: Option<Query>,
    /// A model (twins of it or of a model extending it), if any.
    model: Option<String>,
    /// A region, if any.
    pub(crate) region: Option<Region>,
}

impl Criteria {
    /// Checks a subscription's criteria: the query must select from
    /// `DIGITALTWINS` without JOIN, GROUP BY or aggregates, the model must be a DTMI.
    pub fn new(
        query_text: &str,
        model: &str,
        region: Option<&proto::Region>,
    ) -> Result<Criteria, LiveError> {
        let query = if query_text.trim().is_empty() {
            None
        } else {
            let parsed =
                query::parse(query_text).map_err(|e| LiveError::InvalidQuery(e.to_string()))?;
            let unsupported = |what: &str| {
                LiveError::InvalidQuery(format!(
                    "a live subscription takes SELECT * FROM DIGITALTWINS [alias] [WHERE ...]; {what} is not supported"
                ))
            };
            if parsed.from.collection != Collection::DigitalTwins {
                return Err(unsupported("FROM RELATIONSHIPS"));
            }
            if !parsed.joins.is_empty() {
                return Err(unsupported("JOIN"));
            }
            if !parsed.group_by.is_empty() {
                return Err(unsupported("GROUP BY"));
            }
            if parsed.select.top.is_some() {
                return Err(unsupported("TOP"));
            }
            if let SelectList::Columns(columns) = &parsed.select.list
                && columns
                    .iter()
                    .any(|c| matches!(c.expr, ColumnExpr::Aggregate(..)))
            {
                return Err(unsupported("an aggregate"));
            }
            Some(parsed)
        };
        let model = if model.trim().is_empty() {
            None
        } else {
            model::Dtmi::parse(model.trim()).map_err(|e| {
                LiveError::InvalidModel(format!("'{model}' is not a model id (DTMI): {e}"))
            })?;
            Some(model.trim().to_owned())
        };
        let region = region.map(Region::from_proto).transpose()?;
        Ok(Criteria {
            query,
            model,
            region,
        })
    }

    /// Whether the twin at `index` (with world position `position`) matches.
    pub(crate) fn matches(&self, world: &World, index: u32, position: Option<[f64; 3]>) -> bool {
        if let Some(region) = &self.region {
            match position {
                Some(p) if region.contains(p) => {}
                _ => return false,
            }
        }
        if let Some(model) = &self.model
            && !world.is_of_model(index, model, false)
        {
            return false;
        }
        if let Some(query) = &self.query {
            let single = Single { world, twin: index };
            // One twin, one row at most: the engine's limits cannot be reached.
            return query::execute(query, &single, 0, 1, &query::Limits::default())
                .is_ok_and(|page| !page.rows.is_empty());
        }
        true
    }

    /// Every twin that matches now, or `None` when there are more than `max`.
    pub(crate) fn snapshot(&self, world: &World, max: usize) -> Result<Vec<u32>, LiveError> {
        let candidates: Vec<u32> = if let Some(region) = &self.region {
            let (min, max) = region.envelope();
            TwinGraph::twins_in_box(world, min, max).unwrap_or_default()
        } else if let Some(model) = &self.model {
            TwinGraph::twins_of_model(world, model, false).unwrap_or_default()
        } else if let Some(query) = &self.query {
            return query_ids(query, world, max);
        } else {
            world.twins().collect()
        };
        let mut out = Vec::new();
        for index in candidates {
            if self.matches(world, index, world.world_position(index)) {
                if out.len() == max {
                    return Err(LiveError::TooManyTwins { max });
                }
                out.push(index);
            }
        }
        Ok(out)
    }
}

/// Runs a query over the whole world (its indexes help) and returns the matching
/// twins, reading only `$dtId` per row.
fn query_ids(query: &Query, world: &World, max: usize) -> Result<Vec<u32>, LiveError> {
    let mut ids_only = query.clone();
    let span = ids_only.from.span;
    ids_only.select.list = SelectList::Columns(vec![Column {
        expr: ColumnExpr::Path(Path {
            alias: ids_only.from.alias.clone(),
            segments: vec!["$dtId".to_owned()],
            span,
        }),
        alias: None,
        span,
    }]);
    let limits = query::Limits::default();
    let mut cursor = query::Cursor::default();
    let mut out = Vec::new();
    loop {
        let page = query::execute_from(&ids_only, world, cursor, limits.max_page_rows, &limits)
            .map_err(|e| LiveError::InvalidQuery(e.to_string()))?;
        for row in &page.rows {
            let index = row
                .get("$dtId")
                .and_then(Value::as_str)
                .and_then(|id| world.twin_by_id(id));
            if let Some(index) = index {
                if out.len() == max {
                    return Err(LiveError::TooManyTwins { max });
                }
                out.push(index);
            }
        }
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(out),
        }
    }
}

/// The world seen through a keyhole: a graph holding one twin, so that the query
/// engine answers "does this twin match?" with its own evaluation.
struct Single<'a> {
    world: &'a World,
    twin: u32,
}

impl TwinGraph for Single<'_> {
    type Twin = u32;
    type Rel = u32;

    fn twins(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(std::iter::once(self.twin))
    }
    // No index: the engine then scans `twins()`, which is the one twin.
    fn twins_of_model(&self, _: &str, _: bool) -> Option<Vec<u32>> {
        None
    }
    fn twins_in_box(&self, _: [f64; 3], _: [f64; 3]) -> Option<Vec<u32>> {
        None
    }
    fn twin_by_id(&self, id: &str) -> Option<u32> {
        (self.world.twin_id(self.twin) == id).then_some(self.twin)
    }
    fn twin_id(&self, twin: u32) -> &str {
        self.world.twin_id(twin)
    }
    fn is_of_model(&self, twin: u32, model: &str, exact: bool) -> bool {
        self.world.is_of_model(twin, model, exact)
    }
    fn twin_value(&self, twin: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        self.world.twin_value(twin, path)
    }
    fn twin_json(&self, twin: u32) -> Value {
        TwinGraph::twin_json(self.world, twin)
    }
    // Live subscriptions refuse JOIN and FROM RELATIONSHIPS, so relationships are
    // never asked for.
    fn outgoing(&self, _: u32, _: &str) -> Vec<(u32, u32)> {
        Vec::new()
    }
    fn relationships(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(std::iter::empty())
    }
    fn relationship_value(&self, _: u32, _: &[&str]) -> Option<Cow<'_, Value>> {
        None
    }
    fn relationship_json(&self, _: u32) -> Value {
        Value::Null
    }
    fn world_position(&self, twin: u32) -> Option<[f64; 3]> {
        self.world.world_position(twin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec3(x: f64, y: f64, z: f64) -> Option<proto::Vec3> {
        Some(proto::Vec3 { x, y, z })
    }

    #[test]
    fn regions_are_checked_and_normalised() {
        let boxed = proto::Region {
            shape: Some(proto::region::Shape::Box(proto::Box {
                min: vec3(5.0, 0.0, 0.0),
                max: vec3(0.0, 5.0, 5.0),
            })),
        };
        let region = Region::from_proto(&boxed).unwrap();
        assert!(region.contains([0.0, 0.0, 0.0]));
        assert!(region.contains([5.0, 5.0, 5.0]));
        assert!(!region.contains([5.1, 1.0, 1.0]));
        let sphere = |radius: f64| proto::Region {
            shape: Some(proto::region::Shape::Sphere(proto::Sphere {
                center: vec3(0.0, 0.0, 0.0),
                radius,
            })),
        };
        let s = Region::from_proto(&sphere(2.0)).unwrap();
        assert!(s.contains([0.0, 2.0, 0.0]));
        assert!(!s.contains([1.5, 1.5, 0.0]));
        for bad in [sphere(-1.0), sphere(f64::NAN), sphere(1e8)] {
            assert!(matches!(
                Region::from_proto(&bad),
                Err(LiveError::InvalidRegion(_))
            ));
        }
        assert!(Region::from_proto(&proto::Region { shape: None }).is_err());
    }

    #[test]
    fn queries_outside_the_live_subset_are_refused_with_the_reason() {
        for (text, reason) in [
            ("SELECT * FROM RELATIONSHIPS", "FROM RELATIONSHIPS"),
            (
                "SELECT T FROM DIGITALTWINS T JOIN C RELATED T.contains",
                "JOIN",
            ),
            ("SELECT COUNT() FROM DIGITALTWINS", "aggregate"),
            ("SELECT TOP(3) FROM DIGITALTWINS", "TOP"),
            ("SELECT * FROM", "expected"),
        ] {
            let error = Criteria::new(text, "", None).unwrap_err().to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
        assert!(matches!(
            Criteria::new("", "not a dtmi", None),
            Err(LiveError::InvalidModel(_))
        ));
    }
}
