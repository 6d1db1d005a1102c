//! A twin's place in the world: the `$placement` field (parent, pose, asset), its
//! JSON form, and the maths that turns a chain of local poses into a world pose.

use glam::{DQuat, DVec3};
use serde_json::{Map, Value, json};

/// Longest asset reference (URL or `asset:<id>`).
pub const ASSET_LEN_MAX: usize = 2048;
/// Largest magnitude of a coordinate; keeps world maths finite.
pub const COORDINATE_ABS_MAX: f64 = 1.0e9;

/// Where a twin is, relative to its parent (or the world when it has none).
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// The twin this one is placed in; its pose is relative to that twin's.
    pub parent: Option<crate::TwinId>,
    /// Position in metres.
    pub position: DVec3,
    /// Orientation as a unit quaternion.
    pub rotation: DQuat,
    /// Scale per axis.
    pub scale: DVec3,
    /// A glTF/GLB URL or `asset:<id>` of an uploaded asset.
    pub asset: Option<String>,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            parent: None,
            position: DVec3::ZERO,
            rotation: DQuat::IDENTITY,
            scale: DVec3::ONE,
            asset: None,
        }
    }
}

/// A pose in world coordinates: where a placed twin ends up after its parents.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// World position.
    pub position: DVec3,
    /// World orientation.
    pub rotation: DQuat,
    /// World scale (per axis, ignoring shear from non-uniform parent scale).
    pub scale: DVec3,
}

impl Pose {
    /// The identity: the world's own frame.
    pub const WORLD: Pose = Pose {
        position: DVec3::ZERO,
        rotation: DQuat::IDENTITY,
        scale: DVec3::ONE,
    };

    /// The world pose of a child placed at `local` inside this pose.
    pub fn compose(&self, local: &Placement) -> Pose {
        Pose {
            position: self.position + self.rotation * (self.scale * local.position),
            rotation: (self.rotation * local.rotation).normalize(),
            scale: self.scale * local.scale,
        }
    }
}

impl Placement {
    /// Reads a `$placement` object; every problem is reported with its JSON pointer
    /// below `$placement`.
    pub fn from_json(value: &Value) -> Result<Placement, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let Some(object) = value.as_object() else {
            return Err(vec![(String::new(), "must be an object".into())]);
        };
        let mut placement = Placement::default();
        for (key, field) in object {
            match key.as_str() {
                "parent" => match field {
                    Value::Null => {}
                    Value::String(s) => match crate::TwinId::parse(s) {
                        Ok(id) => placement.parent = Some(id),
                        Err(e) => problems.push(("/parent".into(), e.to_string())),
                    },
                    _ => problems.push(("/parent".into(), "must be a twin id or null".into())),
                },
                "position" => match vector::<3>(field) {
                    Some(v) => placement.position = DVec3::from_array(v),
                    None => problems.push(("/position".into(), numbers_message(3))),
                },
                "scale" => match vector::<3>(field) {
                    Some(v) => placement.scale = DVec3::from_array(v),
                    None => problems.push(("/scale".into(), numbers_message(3))),
                },
                "rotation" => match vector::<4>(field) {
                    Some(q) => {
                        let q = DQuat::from_array(q);
                        if q.length() < 1e-9 {
                            problems.push((
                                "/rotation".into(),
                                "the quaternion [x, y, z, w] must not be zero".into(),
                            ));
                        } else {
                            placement.rotation = q.normalize();
                        }
                    }
                    None => problems.push(("/rotation".into(), numbers_message(4))),
                },
                "asset" => match field {
                    Value::Null => {}
                    Value::String(s) if !s.is_empty() && s.len() <= ASSET_LEN_MAX => {
                        placement.asset = Some(s.clone())
                    }
                    _ => problems.push((
                        "/asset".into(),
                        format!("must be a URL or asset id of 1 to {ASSET_LEN_MAX} bytes, or null"),
                    )),
                },
                other => problems.push((
                    format!("/{other}"),
                    "unknown field; a placement has parent, position, rotation, scale and asset"
                        .into(),
                )),
            }
        }
        if problems.is_empty() {
            Ok(placement)
        } else {
            Err(problems)
        }
    }

    /// The `$placement` object as the API shows it.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert(
            "parent".into(),
            self.parent
                .as_ref()
                .map_or(Value::Null, |p| json!(p.as_str())),
        );
        object.insert("position".into(), json!(self.position.to_array()));
        object.insert("rotation".into(), json!(self.rotation.to_array()));
        object.insert("scale".into(), json!(self.scale.to_array()));
        object.insert(
            "asset".into(),
            self.asset.as_ref().map_or(Value::Null, |a| json!(a)),
        );
        Value::Object(object)
    }
}

fn numbers_message(n: usize) -> String {
    format!("must be an array of {n} finite numbers with magnitude at most {COORDINATE_ABS_MAX}")
}

fn vector<const N: usize>(value: &Value) -> Option<[f64; N]> {
    let items = value.as_array()?;
    if items.len() != N {
        return None;
    }
    let mut out = [0.0; N];
    for (slot, item) in out.iter_mut().zip(items) {
        let x = item.as_f64()?;
        if !x.is_finite() || x.abs() > COORDINATE_ABS_MAX {
            return None;
        }
        *slot = x;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_poses_follow_rotated_and_scaled_parents() {
        let parent = Pose::WORLD.compose(&Placement {
            position: DVec3::new(10.0, 0.0, 0.0),
            rotation: DQuat::from_rotation_z(std::f64::consts::FRAC_PI_2),
            scale: DVec3::splat(2.0),
            ..Placement::default()
        });
        let child = parent.compose(&Placement {
            position: DVec3::new(1.0, 0.0, 0.0),
            ..Placement::default()
        });
        assert!(
            (child.position - DVec3::new(10.0, 2.0, 0.0)).length() < 1e-12,
            "{:?}",
            child.position
        );
        assert_eq!(child.scale, DVec3::splat(2.0));
    }

    #[test]
    fn placement_json_reports_every_bad_field() {
        let bad =
            json!({ "position": [1, 2], "rotation": [0, 0, 0, 0], "colour": "red", "parent": 3 });
        let problems = Placement::from_json(&bad).unwrap_err();
        let paths: Vec<_> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/position", "/rotation", "/colour", "/parent"]);
        let good = json!({ "parent": "hall", "position": [1, 2, 3], "asset": "asset:robot" });
        let placement = Placement::from_json(&good).unwrap();
        assert_eq!(
            Placement::from_json(&placement.to_json()).unwrap(),
            placement
        );
    }
}
