//! How a twin is held in memory (`Twin`, `Prop`), checked against its model, and
//! shown as the JSON that Azure Digital Twins clients expect.
//!
//! Property names are interned (`Sym`) and values kept per property with their own
//! update time, so a million twins with ten properties fit in well under a GiB.

use foldhash::HashMap;
use std::sync::Arc;

use model::{Content, Dtmi, ModelSet};
use serde_json::{Map, Value};

use crate::placement::Placement;
use crate::value::Val;
use crate::{Seq, Timestamp, TwinId};

/// An interned property name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(pub(crate) u32);

/// Interned names of one world: every property and relationship name is stored once.
#[derive(Default, Clone)]
pub(crate) struct Symbols {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, Sym>,
}

impl Symbols {
    pub(crate) fn intern(&mut self, name: &str) -> Sym {
        if let Some(sym) = self.index.get(name) {
            return *sym;
        }
        let sym = Sym(u32::try_from(self.names.len()).expect("fewer than 2^32 distinct names"));
        let name: Arc<str> = name.into();
        self.names.push(name.clone());
        self.index.insert(name, sym);
        sym
    }

    pub(crate) fn get(&self, name: &str) -> Option<Sym> {
        self.index.get(name).copied()
    }

    pub(crate) fn name(&self, sym: Sym) -> &str {
        &self.names[sym.0 as usize]
    }
}

/// One property (or component) value of a twin.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Prop {
    pub(crate) name: Sym,
    pub(crate) value: Val,
    pub(crate) updated: Timestamp,
}

impl Prop {
    /// A component's properties, if this is a component.
    pub(crate) fn component(&self) -> Option<&[Prop]> {
        match &self.value {
            Val::Component(inner) => Some(inner),
            _ => None,
        }
    }
}

/// A placed twin's local placement and where it ends up in the world. Rotation
/// and scale in world terms are computed on demand (`World::world_pose`); only
/// the position is kept, for the spatial index.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    pub(crate) local: Placement,
    pub(crate) world_position: [f64; 3],
    pub(crate) updated: Timestamp,
}

/// A twin as the world holds it.
#[derive(Clone, Debug)]
pub(crate) struct Twin {
    pub(crate) id: TwinId,
    /// Index into `World::model_refs` (and `World::tables`).
    pub(crate) model: u32,
    /// The twin's row in its model's table (`columns::ModelTable`).
    pub(crate) row: u32,
    pub(crate) seq: Seq,
    pub(crate) updated: Timestamp,
    pub(crate) props: Vec<Prop>,
    pub(crate) placement: Option<Box<Placed>>,
}

impl Twin {
    pub(crate) fn prop(&self, name: Sym) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }
}

/// A checked top-level value of a twin body: (name, value, component values).
pub(crate) type BodyValue = (String, Value, Option<Vec<(String, Value)>>);

/// The checked contents of a twin body: properties and components (with values not
/// yet timestamped) and the placement, if any.
pub(crate) struct Body {
    pub(crate) props: Vec<BodyValue>,
    pub(crate) placement: Option<Placement>,
}

/// Checks the non-`$` fields of a twin body against `model`, collecting every
/// problem with its JSON pointer.
pub(crate) fn check_body(
    models: &ModelSet,
    model: &Dtmi,
    object: &Map<String, Value>,
    problems: &mut Vec<(String, String)>,
) -> Body {
    let mut body = Body {
        props: Vec::new(),
        placement: None,
    };
    for (key, value) in object {
        match key.as_str() {
            "$dtId" | "$etag" | "$metadata" => continue,
            "$placement" => {
                if value.is_null() {
                    continue;
                }
                match Placement::from_json(value) {
                    Ok(p) => body.placement = Some(p),
                    Err(errors) => problems.extend(
                        errors
                            .into_iter()
                            .map(|(path, msg)| (format!("/$placement{path}"), msg)),
                    ),
                }
                continue;
            }
            _ if key.starts_with('$') => {
                problems.push((
                    pointer(&[key]),
                    "unknown system field; twins may carry $dtId, $etag, $metadata and $placement"
                        .into(),
                ));
                continue;
            }
            _ => {}
        }
        match models.content(model, key) {
            Some(Content::Property(property)) => {
                if let Err(e) = models.check_value(&property.schema, value) {
                    problems.push((format!("{}{}", pointer(&[key]), e.path), e.message));
                } else {
                    body.props.push((key.clone(), value.clone(), None));
                }
            }
            Some(Content::Component(component)) => {
                let Some(inner) = value.as_object() else {
                    problems.push((
                        pointer(&[key]),
                        format!("component '{key}' must be an object"),
                    ));
                    continue;
                };
                let mut values = Vec::new();
                for (inner_key, inner_value) in inner {
                    if inner_key == "$metadata" {
                        continue;
                    }
                    match models.content(&component.schema, inner_key) {
                        Some(Content::Property(property)) => {
                            match models.check_value(&property.schema, inner_value) {
                                Ok(()) => values.push((inner_key.clone(), inner_value.clone())),
                                Err(e) => problems.push((
                                    format!("{}{}", pointer(&[key, inner_key]), e.path),
                                    e.message,
                                )),
                            }
                        }
                        other => problems.push((
                            pointer(&[key, inner_key]),
                            not_a_property(inner_key, component.schema.as_str(), other),
                        )),
                    }
                }
                body.props.push((key.clone(), Value::Null, Some(values)));
            }
            other => problems.push((pointer(&[key]), not_a_property(key, model.as_str(), other))),
        }
    }
    body
}

fn not_a_property(name: &str, model: &str, found: Option<&Content>) -> String {
    let kind = match found {
        Some(Content::Telemetry(_)) => "a telemetry",
        Some(Content::Relationship(_)) => "a relationship",
        Some(Content::Command(_)) => "a command",
        Some(Content::Property(_) | Content::Component(_)) | None => {
            return format!("'{name}' is not a property or component of {model}");
        }
    };
    format!("'{name}' is {kind} of {model}, not a property: it cannot be set on the twin")
}

/// A JSON pointer from path segments (escaping `~` and `/`).
pub(crate) fn pointer(segments: &[&str]) -> String {
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        out.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// Builds stored properties from a checked body, keeping the update time of every
/// value that did not change.
pub(crate) fn timestamp_props(
    symbols: &mut Symbols,
    body: Vec<BodyValue>,
    old: &[Prop],
    now: Timestamp,
) -> Vec<Prop> {
    let stamp = |old: Option<&Prop>, value: &Value| match old {
        Some(p) if p.value.eq_json(value) => p.updated,
        _ => now,
    };
    let mut props = Vec::with_capacity(body.len());
    for (name, value, component) in body {
        let sym = symbols.intern(&name);
        let previous = old.iter().find(|p| p.name == sym);
        let prop = match component {
            None => Prop {
                name: sym,
                updated: stamp(previous, &value),
                value: Val::from_json(value),
            },
            Some(values) => {
                let old_inner = previous.and_then(Prop::component).unwrap_or(&[]);
                let inner: Box<[Prop]> = values
                    .into_iter()
                    .map(|(n, v)| {
                        let s = symbols.intern(&n);
                        let updated = stamp(old_inner.iter().find(|p| p.name == s), &v);
                        Prop {
                            name: s,
                            value: Val::from_json(v),
                            updated,
                        }
                    })
                    .collect();
                let updated = match previous.and_then(Prop::component) {
                    Some(old_inner) if *old_inner == *inner => previous.map_or(now, |p| p.updated),
                    _ => now,
                };
                Prop {
                    name: sym,
                    value: Val::Component(inner),
                    updated,
                }
            }
        };
        props.push(prop);
    }
    props
}

/// The twin's properties and components as one JSON object (components with an
/// empty `$metadata`), plus `$placement`: the document a JSON Patch applies to.
pub(crate) fn contents_json(symbols: &Symbols, twin: &Twin) -> Value {
    let mut object = Map::new();
    for prop in &twin.props {
        object.insert(
            symbols.name(prop.name).to_owned(),
            prop_value(symbols, prop, None),
        );
    }
    if let Some(placed) = &twin.placement {
        object.insert("$placement".into(), placed.local.to_json());
    }
    Value::Object(object)
}

pub(crate) fn prop_value(symbols: &Symbols, prop: &Prop, times: Option<&mut TimeText>) -> Value {
    match &prop.value {
        Val::Component(inner) => {
            let mut object = Map::with_capacity(inner.len() + 1);
            let mut metadata = Map::with_capacity(if times.is_some() { inner.len() } else { 0 });
            let mut times = times;
            for p in inner.iter() {
                object.insert(symbols.name(p.name).to_owned(), p.value.to_json());
                if let Some(times) = times.as_deref_mut() {
                    metadata.insert(
                        symbols.name(p.name).to_owned(),
                        times.last_update(p.updated),
                    );
                }
            }
            object.insert("$metadata".into(), Value::Object(metadata));
            Value::Object(object)
        }
        other => other.to_json(),
    }
}

/// Formats `{"lastUpdateTime": ...}` objects, formatting each distinct time once:
/// the properties of a twin mostly share a few update times.
#[derive(Default)]
pub(crate) struct TimeText {
    last: Option<(Timestamp, String)>,
}

impl TimeText {
    fn text(&mut self, t: Timestamp) -> String {
        match &self.last {
            Some((cached, text)) if *cached == t => text.clone(),
            _ => {
                let text = t.to_rfc3339();
                self.last = Some((t, text.clone()));
                text
            }
        }
    }

    fn last_update(&mut self, t: Timestamp) -> Value {
        let mut m = Map::with_capacity(1);
        m.insert("lastUpdateTime".into(), Value::String(self.text(t)));
        Value::Object(m)
    }
}

/// The twin as the ADT API returns it.
pub(crate) fn twin_json(symbols: &Symbols, model: &Dtmi, twin: &Twin) -> Value {
    let mut times = TimeText::default();
    let mut object = Map::with_capacity(twin.props.len() + 4);
    object.insert("$dtId".into(), Value::String(twin.id.as_str().to_owned()));
    object.insert(
        "$etag".into(),
        Value::String(crate::Etag(twin.seq).to_string()),
    );
    let mut metadata = Map::with_capacity(twin.props.len() + 3);
    metadata.insert("$model".into(), Value::String(model.as_str().to_owned()));
    metadata.insert(
        "$lastUpdateTime".into(),
        Value::String(times.text(twin.updated)),
    );
    for prop in &twin.props {
        let name = symbols.name(prop.name);
        object.insert(name.to_owned(), prop_value(symbols, prop, Some(&mut times)));
        metadata.insert(name.to_owned(), times.last_update(prop.updated));
    }
    if let Some(placed) = &twin.placement {
        object.insert("$placement".into(), placed.local.to_json());
        metadata.insert("$placement".into(), times.last_update(placed.updated));
    }
    object.insert("$metadata".into(), Value::Object(metadata));
    Value::Object(object)
}

/// Reads the update time of `name` from a stored twin's `$metadata` (restore).
pub(crate) fn stored_update_time(
    times: &mut TimeCache,
    metadata: Option<&Map<String, Value>>,
    name: &str,
) -> Option<Timestamp> {
    let text = metadata?.get(name)?.get("lastUpdateTime")?.as_str()?;
    times.parse(text)
}

/// Parses stored update times, each distinct text once: a twin's properties
/// mostly share a few update times, and a restart reads millions of them.
#[derive(Default)]
pub(crate) struct TimeCache {
    last: Option<(String, Timestamp)>,
}

impl TimeCache {
    pub(crate) fn parse(&mut self, text: &str) -> Option<Timestamp> {
        if let Some((cached, t)) = &self.last
            && cached == text
        {
            return Some(*t);
        }
        let t = Timestamp::parse_rfc3339(text)?;
        self.last = Some((text.to_owned(), t));
        Some(t)
    }
}
