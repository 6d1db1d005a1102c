//! The batched value path: `World::set_values` sets property values and takes
//! telemetry values of many twins in one call, without a JSON Patch per message.
//!
//! Each update (one twin, several values) is checked as a whole against the
//! twin's model and refused on its own if any value does not fit, so one bad
//! message never stops the rest of a batch. Accepted property values change the
//! twin in place; telemetry values are checked against the model's telemetry
//! schema and handed back (they are not state of the twin). Every twin that
//! changed gets one `Record::Twin` and one `Change::TwinUpdated`, all under a
//! single new `Seq`, exactly as the rest of the system expects from `apply`.

use foldhash::{HashMap, HashMapExt};
use model::Content;
use serde_json::Value;

use crate::command::{Applied, Change, Record};
use crate::error::{Invalid, WorldError};
use crate::twin::{Prop, Sym};
use crate::value::Val;
use crate::{Timestamp, TwinId};

use super::World;

/// Most values one update may carry; a twin has far fewer properties, so more
/// means a mapping went wrong, and the cap bounds the work of one update.
pub const VALUES_PER_UPDATE_MAX: usize = 1_024;

/// What an update's value is meant to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValueKind {
    /// The twin's model decides: a Telemetry of that name is telemetry,
    /// anything else must be a property.
    #[default]
    Auto,
    /// A property of the twin (or `component/property`).
    Property,
    /// A telemetry point (kept in history, never on the twin).
    Telemetry,
}

/// One value to set: `name` is a property or telemetry name, or
/// `component/name` for one of a component.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldValue {
    /// `name` or `component/name`.
    pub name: String,
    /// The value, checked against the model's schema.
    pub value: Value,
    /// Property, telemetry, or let the model decide.
    pub kind: ValueKind,
}

/// The values one message sets on one twin.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueUpdate {
    /// The twin.
    pub twin: TwinId,
    /// Its values, applied in order (a later value of a name wins).
    pub values: Vec<FieldValue>,
    /// When the values were measured; history records them at this instant.
    pub source_time: Timestamp,
}

/// A value `set_values` took: for history and observers.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The update it came from (its index in the call).
    pub update: usize,
    /// The twin.
    pub twin: TwinId,
    /// `name` or `component/name`, as history names the series.
    pub field: String,
    /// The value.
    pub value: Value,
    /// True for telemetry (not stored on the twin).
    pub telemetry: bool,
    /// The update's source time.
    pub time: Timestamp,
}

/// What `set_values` did.
#[derive(Debug)]
pub struct ValuesApplied {
    /// The records and changes of every twin whose state changed, under one new
    /// `Seq`; `None` when no twin changed (all refused, telemetry only, or
    /// every value equal to what the twin held), and then `Seq` did not move.
    pub applied: Option<Applied>,
    /// Refused updates by index, each with why.
    pub refused: Vec<(usize, WorldError)>,
    /// Every accepted value (property values too when they equal the current
    /// one: a sensor reporting the same reading is still a sample).
    pub accepted: Vec<Accepted>,
}

/// An update's value once checked: where it goes on the twin.
struct Checked {
    component: Option<Sym>,
    name: Sym,
    value: Value,
    telemetry: bool,
    field_index: usize,
}

impl World {
    /// Sets property values and takes telemetry values of many twins (see the
    /// module documentation). `now` becomes the `lastUpdateTime` of changed
    /// values; each update's `source_time` is the time history records.
    pub fn set_values(&mut self, updates: Vec<ValueUpdate>, now: Timestamp) -> ValuesApplied {
        let seq = self.seq.next();
        let mut refused = Vec::new();
        let mut accepted = Vec::with_capacity(updates.len());
        // Changed twins in first-change order, with their changed top-level fields.
        let mut touched: Vec<(u32, Vec<String>)> = Vec::new();
        let mut touched_at: HashMap<u32, usize> = HashMap::new();
        let mut checked = Vec::new();
        for (position, update) in updates.into_iter().enumerate() {
            let Some(index) = self.twin_index(update.twin.as_str()) else {
                refused.push((
                    position,
                    WorldError::TwinNotFound(update.twin.as_str().into()),
                ));
                continue;
            };
            checked.clear();
            if let Err(error) = self.check_values(index, &update, &mut checked) {
                refused.push((position, error));
                continue;
            }
            let mut changed_fields: Vec<Sym> = Vec::new();
            for item in checked.drain(..) {
                let field = update.values[item.field_index].name.clone();
                if !item.telemetry
                    && self.set_prop(index, item.component, item.name, &item.value, now)
                {
                    let top = item.component.unwrap_or(item.name);
                    if !changed_fields.contains(&top) {
                        changed_fields.push(top);
                    }
                }
                accepted.push(Accepted {
                    update: position,
                    twin: update.twin.clone(),
                    field,
                    value: item.value,
                    telemetry: item.telemetry,
                    time: update.source_time,
                });
            }
            if changed_fields.is_empty() {
                continue;
            }
            let slot = *touched_at.entry(index).or_insert_with(|| {
                touched.push((index, Vec::new()));
                touched.len() - 1
            });
            let fields = &mut touched[slot].1;
            for sym in changed_fields {
                let name = self.symbols.name(sym);
                if !fields.iter().any(|f| f == name) {
                    fields.push(name.to_owned());
                }
            }
        }
        if touched.is_empty() {
            return ValuesApplied {
                applied: None,
                refused,
                accepted,
            };
        }
        let mut records = Vec::with_capacity(touched.len());
        let mut changes = Vec::with_capacity(touched.len());
        for (index, fields) in touched {
            let twin = self.twin_mut(index);
            twin.seq = seq;
            twin.updated = now;
            self.write_row(index);
            let id = self.twin(index).id.clone();
            records.push(Record::Twin {
                id: id.clone(),
                value: self.twin_json_at(index),
            });
            changes.push(Change::TwinUpdated { id, fields });
        }
        self.seq = seq;
        ValuesApplied {
            applied: Some(Applied {
                seq,
                body: Value::Null,
                records,
                changes,
            }),
            refused,
            accepted,
        }
    }

    /// Checks every value of `update` against the twin's model; all problems
    /// are reported together.
    fn check_values(
        &mut self,
        index: u32,
        update: &ValueUpdate,
        out: &mut Vec<Checked>,
    ) -> Result<(), WorldError> {
        let subject = || format!("twin '{}'", update.twin);
        if update.values.len() > VALUES_PER_UPDATE_MAX {
            return Err(WorldError::Invalid(Invalid {
                subject: subject(),
                problems: vec![(
                    String::new(),
                    format!(
                        "{} values in one update; at most {VALUES_PER_UPDATE_MAX} are allowed",
                        update.values.len()
                    ),
                )],
            }));
        }
        let model_ref = self.twin(index).model as usize;
        let mut problems = Vec::new();
        for (field_index, field) in update.values.iter().enumerate() {
            let (component, name) = match field.name.split_once('/') {
                Some((component, name)) => (Some(component), name),
                None => (None, field.name.as_str()),
            };
            let model = &self.model_refs[model_ref];
            // Built only for a problem: the path of a valid value costs nothing.
            let pointer = || crate::twin::pointer(&field.name.split('/').collect::<Vec<_>>());
            let owner = match component {
                None => model,
                Some(component) => match self.models.content(model, component) {
                    Some(Content::Component(c)) => &c.schema,
                    _ => {
                        problems.push((
                            pointer(),
                            format!("'{component}' is not a component of {model}"),
                        ));
                        continue;
                    }
                },
            };
            let telemetry = match (self.models.content(owner, name), field.kind) {
                (Some(Content::Property(p)), ValueKind::Auto | ValueKind::Property) => {
                    match self.models.check_value(&p.schema, &field.value) {
                        Ok(()) => false,
                        Err(e) => {
                            problems.push((format!("{}{}", pointer(), e.path), e.message));
                            continue;
                        }
                    }
                }
                (Some(Content::Telemetry(t)), ValueKind::Auto | ValueKind::Telemetry) => {
                    match self.models.check_value(&t.schema, &field.value) {
                        Ok(()) => true,
                        Err(e) => {
                            problems.push((format!("{}{}", pointer(), e.path), e.message));
                            continue;
                        }
                    }
                }
                (found, kind) => {
                    let wanted = match kind {
                        ValueKind::Property => "a property",
                        ValueKind::Telemetry => "a telemetry",
                        ValueKind::Auto => "a property or telemetry",
                    };
                    let is = match found {
                        Some(Content::Property(_)) => "a property",
                        Some(Content::Telemetry(_)) => "a telemetry",
                        Some(Content::Component(_)) => {
                            "a component (set its properties as 'component/name')"
                        }
                        Some(Content::Relationship(_)) => "a relationship",
                        Some(Content::Command(_)) => "a command",
                        None => "not defined",
                    };
                    problems.push((
                        pointer(),
                        format!("'{name}' is {is} in {owner}; only {wanted} can be set here"),
                    ));
                    continue;
                }
            };
            out.push(Checked {
                component: component.map(|c| self.symbols.intern(c)),
                name: self.symbols.intern(name),
                value: field.value.clone(),
                telemetry,
                field_index,
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WorldError::Invalid(Invalid {
                subject: subject(),
                problems,
            }))
        }
    }

    /// Sets one (component) property of a twin; true if its value changed.
    fn set_prop(
        &mut self,
        index: u32,
        component: Option<Sym>,
        name: Sym,
        value: &Value,
        now: Timestamp,
    ) -> bool {
        let twin = self.twin_mut(index);
        match component {
            None => set_in(&mut twin.props, name, value, now),
            Some(component) => {
                let position = match twin.props.iter().position(|p| p.name == component) {
                    Some(position) => position,
                    None => {
                        twin.props.push(Prop {
                            name: component,
                            value: Val::Component(Box::new([])),
                            updated: now,
                        });
                        twin.props.len() - 1
                    }
                };
                let prop = &mut twin.props[position];
                let inner = match &mut prop.value {
                    Val::Component(inner) => inner,
                    // A model's component name never holds a plain value: check_body
                    // stores components as components. Replace defensively.
                    other => {
                        *other = Val::Component(Box::new([]));
                        match other {
                            Val::Component(inner) => inner,
                            _ => return false,
                        }
                    }
                };
                let mut values = std::mem::take(inner).into_vec();
                let changed = set_in(&mut values, name, value, now);
                *inner = values.into_boxed_slice();
                if changed {
                    prop.updated = now;
                }
                changed
            }
        }
    }
}

/// Sets `name` in `props` to `value`; true if it changed (then stamped `now`).
fn set_in(props: &mut Vec<Prop>, name: Sym, value: &Value, now: Timestamp) -> bool {
    match props.iter_mut().find(|p| p.name == name) {
        Some(prop) => {
            if prop.value.eq_json(value) {
                return false;
            }
            prop.value = Val::from_json(value.clone());
            prop.updated = now;
            true
        }
        None => {
            props.push(Prop {
                name,
                value: Val::from_json(value.clone()),
                updated: now,
            });
            true
        }
    }
}
