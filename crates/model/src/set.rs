//! [`ModelSet`]: the resolved model graph of one world. Batches are parsed
//! and validated as a whole and added atomically; queries answer inherited
//! contents and subtype relations.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::Value;

use crate::limits::{MAX_BATCH_BYTES, MAX_EXPANDED_SCHEMA_NODES, MAX_SOURCE_BYTES};
use crate::metamodel::Class;
use crate::parse::{Doc, Elem, Known, ParseOptions, Parsed, Parser, Val};
use crate::{
    ArraySchema, Command, CommandPayload, Component, Content, Docs, Dtmi, EnumSchema, EnumValue,
    Field, Interface, LangString, MapSchema, ModelError, ObjectSchema, Problem, Problems, Property,
    Relationship, Schema, Telemetry, ValueError,
};

/// One uploaded document: its name (file name or `models[3]`) and text. The
/// text may be one JSON object or an array of them and may start with a
/// UTF-8 byte-order mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSource {
    /// File name or position in the request, used in problems.
    pub name: String,
    /// The JSON text.
    pub text: String,
}

/// The resolved models of one world.
#[derive(Debug, Clone, Default)]
pub struct ModelSet {
    options: ParseOptions,
    interfaces: IndexMap<Dtmi, Interface>,
    /// Every `@id` defined by an element of an accepted model, with the
    /// interface that defines it (interfaces map to themselves).
    element_ids: HashMap<String, Dtmi>,
    /// Models marked decommissioned: kept for the twins that use them, but
    /// no longer offered for new twins (as in Azure Digital Twins).
    decommissioned: HashSet<Dtmi>,
    /// Per interface (by position in `interfaces`): its ancestors and where
    /// each content name it has, own or inherited, is defined. Twins look up
    /// contents for every property they carry, so this is rebuilt whenever the
    /// set changes rather than walked on every look-up.
    resolved: Vec<Resolved>,
}

/// The inheritance of one interface, flattened.
#[derive(Debug, Clone, Default)]
struct Resolved {
    /// Positions (in `interfaces`) of every interface it extends, transitively.
    ancestors: HashSet<usize>,
    /// Content name -> (position of the defining interface, index in its contents),
    /// in `contents` order: own first, then inherited.
    contents: IndexMap<String, (usize, usize)>,
}

impl ModelSet {
    /// An empty set that refuses undefined extensions.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with the given parser options.
    pub fn with_options(options: ParseOptions) -> Self {
        ModelSet {
            options,
            ..Self::default()
        }
    }

    /// Parses and validates a batch (members reference each other in any
    /// order and may reference models already in the set). Atomic: on error
    /// the set is unchanged. Returns the ids of the top-level interfaces
    /// added, in input order.
    pub fn add(&mut self, sources: &[ModelSource]) -> Result<Vec<Dtmi>, Problems> {
        let total: usize = sources.iter().map(|s| s.text.len()).sum();
        if total > MAX_BATCH_BYTES {
            return Err(Problems(vec![Problem {
                source: format!("{} documents", sources.len()),
                model: None,
                path: String::new(),
                rule: "max-batch-size",
                message: format!(
                    "the batch is {total} bytes; at most {MAX_BATCH_BYTES} are accepted in one upload"
                ),
            }]));
        }
        let mut problems = Vec::new();
        let mut values = Vec::with_capacity(sources.len());
        for source in sources {
            let text = source.text.strip_prefix('\u{feff}').unwrap_or(&source.text);
            if text.len() > MAX_SOURCE_BYTES {
                problems.push(Problem {
                    source: source.name.clone(),
                    model: None,
                    path: String::new(),
                    rule: "max-source-size",
                    message: format!(
                        "document is {} bytes; at most {MAX_SOURCE_BYTES} are accepted",
                        text.len()
                    ),
                });
                continue;
            }
            match serde_json::from_str::<Value>(text) {
                Ok(v) => values.push((source.name.as_str(), v)),
                Err(e) => problems.push(Problem {
                    source: source.name.clone(),
                    model: None,
                    path: format!("line {} column {}", e.line(), e.column()),
                    rule: "json-syntax",
                    message: format!("not valid JSON: {e}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        let docs: Vec<Doc<'_>> = values
            .iter()
            .map(|(name, value)| Doc {
                source: name,
                value,
            })
            .collect();
        self.add_docs(&docs)
    }

    /// Same as [`ModelSet::add`], for documents already parsed (the REST body
    /// of `POST /models` is a JSON array of interfaces).
    pub fn add_values(&mut self, docs: &[Value]) -> Result<Vec<Dtmi>, Problems> {
        let names: Vec<String> = (0..docs.len()).map(|i| format!("models[{i}]")).collect();
        let docs: Vec<Doc<'_>> = docs
            .iter()
            .zip(&names)
            .map(|(value, name)| Doc {
                source: name,
                value,
            })
            .collect();
        self.add_docs(&docs)
    }

    fn add_docs(&mut self, docs: &[Doc<'_>]) -> Result<Vec<Dtmi>, Problems> {
        let parsed = Parser::new(self.options, self, docs)
            .run()
            .map_err(Problems)?;
        let built = Builder::new(&parsed).build().map_err(Problems)?;
        let mut added = Vec::new();
        for &root in &parsed.roots {
            if let Some(id) = &parsed.elems[root].id {
                added.push(Dtmi::from_checked(id.clone()));
            }
        }
        for (interface, ids) in built {
            for id in ids {
                self.element_ids.insert(id, interface.id.clone());
            }
            self.element_ids
                .insert(interface.id.as_str().to_owned(), interface.id.clone());
            self.interfaces.insert(interface.id.clone(), interface);
        }
        self.resolve();
        Ok(added)
    }

    /// Rebuilds `resolved` from `interfaces`.
    fn resolve(&mut self) {
        let resolved = (0..self.interfaces.len())
            .map(|position| {
                let mut ancestors = HashSet::new();
                let mut order = vec![position];
                let mut stack: Vec<usize> = Vec::new();
                let push_parents = |p: usize, stack: &mut Vec<usize>| {
                    if let Some((_, interface)) = self.interfaces.get_index(p) {
                        for parent in interface.extends.iter().rev() {
                            if let Some(q) = self.interfaces.get_index_of(parent) {
                                stack.push(q);
                            }
                        }
                    }
                };
                push_parents(position, &mut stack);
                while let Some(p) = stack.pop() {
                    if p == position || !ancestors.insert(p) {
                        continue;
                    }
                    order.push(p);
                    push_parents(p, &mut stack);
                }
                let mut contents = IndexMap::new();
                for p in order {
                    let (_, interface) = self
                        .interfaces
                        .get_index(p)
                        .expect("positions are in range");
                    for (i, content) in interface.contents.iter().enumerate() {
                        contents.entry(content.name().to_owned()).or_insert((p, i));
                    }
                }
                Resolved {
                    ancestors,
                    contents,
                }
            })
            .collect();
        self.resolved = resolved;
    }

    /// The interface with this id.
    pub fn get(&self, id: &Dtmi) -> Option<&Interface> {
        self.interfaces.get(id)
    }

    /// Whether the set has an interface with this id.
    pub fn contains(&self, id: &Dtmi) -> bool {
        self.interfaces.contains_key(id)
    }

    /// All interfaces, in the order they were added (inline interfaces
    /// defined inside another model's `extends` or component are included).
    pub fn iter(&self) -> impl Iterator<Item = &Interface> {
        self.interfaces.values()
    }

    /// Number of interfaces.
    pub fn len(&self) -> usize {
        self.interfaces.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.interfaces.is_empty()
    }

    /// Removes a model; refused while another model in the set extends or
    /// references it (as a component schema or relationship target).
    pub fn remove(&mut self, id: &Dtmi) -> Result<Interface, ModelError> {
        if !self.interfaces.contains_key(id) {
            return Err(ModelError::NotFound { id: id.to_string() });
        }
        for other in self.interfaces.values() {
            if other.id == *id {
                continue;
            }
            let uses = other.extends.contains(id)
                || other.contents.iter().any(|c| match c {
                    Content::Component(c) => c.schema == *id,
                    Content::Relationship(r) => r.target.as_ref() == Some(id),
                    _ => false,
                });
            if uses {
                return Err(ModelError::InUse {
                    id: id.to_string(),
                    used_by: other.id.to_string(),
                });
            }
        }
        self.element_ids.retain(|_, owner| owner != id);
        self.decommissioned.remove(id);
        let removed = self
            .interfaces
            .shift_remove(id)
            .ok_or_else(|| ModelError::NotFound { id: id.to_string() });
        self.resolve();
        removed
    }

    /// Marks a model decommissioned (or, with `false`, active again). The
    /// model stays in the set; callers refuse new twins of it.
    pub fn set_decommissioned(
        &mut self,
        id: &Dtmi,
        decommissioned: bool,
    ) -> Result<(), ModelError> {
        if !self.interfaces.contains_key(id) {
            return Err(ModelError::NotFound { id: id.to_string() });
        }
        if decommissioned {
            self.decommissioned.insert(id.clone());
        } else {
            self.decommissioned.remove(id);
        }
        Ok(())
    }

    /// Whether the model is decommissioned.
    pub fn is_decommissioned(&self, id: &Dtmi) -> bool {
        self.decommissioned.contains(id)
    }

    /// Every Property a twin of `model` can carry: its own and inherited
    /// ones (component `None`), then those of its components, each with the
    /// component's name (component properties live under that name in a twin).
    pub fn properties<'a>(&'a self, model: &Dtmi) -> Vec<(Option<&'a str>, &'a Property)> {
        let mut out = Vec::new();
        let mut components = Vec::new();
        for content in self.contents(model) {
            match content {
                Content::Property(p) => out.push((None, p)),
                Content::Component(c) => components.push(c),
                _ => {}
            }
        }
        for component in components {
            for content in self.contents(&component.schema) {
                if let Content::Property(p) = content {
                    out.push((Some(component.name.as_str()), p));
                }
            }
        }
        out
    }

    /// IS_OF_MODEL: true if `model` is `base` or (unless `exact`) extends it
    /// transitively.
    pub fn is_of_model(&self, model: &Dtmi, base: &Dtmi, exact: bool) -> bool {
        if model == base {
            return self.contains(model);
        }
        if exact {
            return false;
        }
        let (Some(m), Some(b)) = (
            self.interfaces.get_index_of(model),
            self.interfaces.get_index_of(base),
        ) else {
            return false;
        };
        self.resolved[m].ancestors.contains(&b)
    }

    /// The content named `name` of an interface, own or inherited.
    pub fn content(&self, model: &Dtmi, name: &str) -> Option<&Content> {
        let position = self.interfaces.get_index_of(model)?;
        let &(owner, index) = self.resolved[position].contents.get(name)?;
        self.interfaces
            .get_index(owner)
            .map(|(_, i)| &i.contents[index])
    }

    /// All contents of an interface, its own first, then inherited ones
    /// (each name once; DTDL forbids two different contents with one name).
    pub fn contents<'a>(&'a self, model: &Dtmi) -> impl Iterator<Item = &'a Content> + 'a {
        let resolved = self
            .interfaces
            .get_index_of(model)
            .map(|p| &self.resolved[p]);
        resolved.into_iter().flat_map(move |r| {
            r.contents.values().map(move |&(owner, index)| {
                let (_, interface) = self
                    .interfaces
                    .get_index(owner)
                    .expect("resolved positions are in range");
                &interface.contents[index]
            })
        })
    }

    /// Checks a JSON value against a schema; the error names the JSON
    /// pointer below `value` and the rule broken.
    pub fn check_value(&self, schema: &Schema, value: &Value) -> Result<(), ValueError> {
        crate::value::check(schema, value)
    }
}

impl Known for ModelSet {
    fn has_interface(&self, id: &str) -> bool {
        Dtmi::parse(id).is_ok_and(|d| self.interfaces.contains_key(&d))
    }

    fn has_id(&self, id: &str) -> bool {
        self.element_ids.contains_key(id)
    }

    fn extends_of(&self, id: &str) -> Vec<String> {
        Dtmi::parse(id)
            .ok()
            .and_then(|d| self.interfaces.get(&d))
            .map(|i| i.extends.iter().map(|e| e.as_str().to_owned()).collect())
            .unwrap_or_default()
    }

    fn content_names(&self, id: &str) -> Vec<String> {
        match Dtmi::parse(id) {
            Ok(d) => self.contents(&d).map(|c| c.name().to_owned()).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn has_component(&self, id: &str) -> bool {
        match Dtmi::parse(id) {
            Ok(d) => self
                .contents(&d)
                .any(|c| matches!(c, Content::Component(_))),
            Err(_) => false,
        }
    }
}

/// Turns the parser's arena into [`Interface`] values.
struct Builder<'p, 'a> {
    parsed: &'p Parsed<'a>,
    budget: usize,
    problems: Vec<Problem>,
}

impl<'p, 'a> Builder<'p, 'a> {
    fn new(parsed: &'p Parsed<'a>) -> Self {
        Builder {
            parsed,
            budget: MAX_EXPANDED_SCHEMA_NODES,
            problems: Vec::new(),
        }
    }

    fn elem(&self, i: usize) -> &'p Elem<'a> {
        &self.parsed.elems[i]
    }

    /// Every interface in the batch with the ids of the elements inside it.
    fn build(mut self) -> Result<Vec<(Interface, Vec<String>)>, Vec<Problem>> {
        // The nearest enclosing interface of each element, in one pass:
        // parents always precede their children in the arena.
        let elems = &self.parsed.elems;
        let mut owner: Vec<Option<usize>> = Vec::with_capacity(elems.len());
        let mut owned: HashMap<usize, Vec<String>> = HashMap::new();
        for e in elems {
            let o = match e.parent {
                Some(p) if elems[p].class == Class::Interface => Some(p),
                Some(p) => owner[p],
                None => None,
            };
            owner.push(o);
            if e.class != Class::Interface
                && let (Some(id), Some(o)) = (&e.id, o)
            {
                owned.entry(o).or_default().push(id.clone());
            }
        }
        let mut out = Vec::new();
        for i in 0..self.parsed.elems.len() {
            let e = self.elem(i);
            if e.class != Class::Interface {
                continue;
            }
            let Some(id) = &e.id else { continue };
            let interface = self.interface(i, id);
            out.push((interface, owned.remove(&i).unwrap_or_default()));
        }
        if self.problems.is_empty() {
            Ok(out)
        } else {
            Err(self.problems)
        }
    }

    fn resolve(&self, v: &Val) -> Option<usize> {
        match v {
            Val::Elem(e) => Some(*e),
            Val::Ref(r) => self.parsed.ids.get(r).copied(),
            _ => None,
        }
    }

    fn dtmi_of(&self, v: &Val) -> Option<Dtmi> {
        match v {
            Val::Elem(e) => self.elem(*e).id.clone().map(Dtmi::from_checked),
            Val::Ref(r) => Some(Dtmi::from_checked(r.clone())),
            _ => None,
        }
    }

    fn string(&self, i: usize, term: &str) -> Option<String> {
        match self.elem(i).get(term).first() {
            Some(Val::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    fn lang(&self, i: usize, term: &str) -> LangString {
        match self.elem(i).get(term).first() {
            Some(Val::Lang(l)) => l.clone(),
            _ => LangString::new(),
        }
    }

    fn flag(&self, i: usize, term: &str) -> bool {
        matches!(self.elem(i).get(term).first(), Some(Val::Bool(true)))
    }

    fn int(&self, i: usize, term: &str) -> Option<u32> {
        match self.elem(i).get(term).first() {
            Some(Val::Int(n)) => u32::try_from(*n).ok(),
            _ => None,
        }
    }

    fn docs(&self, i: usize) -> Docs {
        Docs {
            description: self.lang(i, "description"),
            comment: self.string(i, "comment"),
        }
    }

    fn id(&self, i: usize) -> Option<Dtmi> {
        self.elem(i).id.clone().map(Dtmi::from_checked)
    }

    fn interface(&mut self, i: usize, id: &str) -> Interface {
        let e = self.elem(i);
        // `extends` is a set: a base listed twice is one base.
        let mut extends: Vec<Dtmi> = Vec::new();
        for base in e.get("extends").iter().filter_map(|v| self.dtmi_of(v)) {
            if !extends.contains(&base) {
                extends.push(base);
            }
        }
        let mut contents = Vec::new();
        for v in e.get("contents") {
            if let Some(c) = self.resolve(v)
                && let Some(content) = self.content(c)
            {
                contents.push(content);
            }
        }
        let mut schemas = Vec::new();
        for v in e.get("schemas") {
            if let (Some(s), Some(sid)) = (self.resolve(v), self.dtmi_of(v)) {
                let schema = self.schema_elem(s);
                schemas.push((sid, schema));
            }
        }
        Interface {
            id: Dtmi::from_checked(id.to_owned()),
            dtdl_version: e.version,
            extends,
            display_name: self.lang(i, "displayName"),
            description: self.lang(i, "description"),
            comment: self.string(i, "comment"),
            contents,
            schemas,
            extra_types: e
                .semantic_types
                .iter()
                .chain(&e.extra_types)
                .cloned()
                .collect(),
            source: Value::Object(e.json.clone()),
        }
    }

    fn property(&mut self, c: usize) -> Property {
        let e = self.elem(c);
        Property {
            id: self.id(c),
            name: self.string(c, "name").unwrap_or_default(),
            schema: self.schema_of(c, "schema"),
            writable: self.flag(c, "writable"),
            semantic_types: e.semantic_types.clone(),
            unit: self.string(c, "unit"),
            display_name: self.lang(c, "displayName"),
            docs: self.docs(c),
        }
    }

    fn payload(&mut self, c: usize, term: &str) -> Option<CommandPayload> {
        let v = self.elem(c).get(term).first()?;
        let p = self.resolve(v)?;
        Some(CommandPayload {
            name: self.string(p, "name").unwrap_or_default(),
            schema: self.schema_of(p, "schema"),
            nullable: self.flag(p, "nullable"),
        })
    }

    fn content(&mut self, c: usize) -> Option<Content> {
        let e = self.elem(c);
        Some(match e.class {
            Class::Property => Content::Property(self.property(c)),
            Class::Telemetry => Content::Telemetry(Telemetry {
                id: self.id(c),
                name: self.string(c, "name").unwrap_or_default(),
                schema: self.schema_of(c, "schema"),
                semantic_types: e.semantic_types.clone(),
                unit: self.string(c, "unit"),
                display_name: self.lang(c, "displayName"),
                docs: self.docs(c),
            }),
            Class::Command => Content::Command(Command {
                id: self.id(c),
                name: self.string(c, "name").unwrap_or_default(),
                request: self.payload(c, "request"),
                response: self.payload(c, "response"),
                display_name: self.lang(c, "displayName"),
                docs: self.docs(c),
            }),
            Class::Relationship => {
                let mut properties = Vec::new();
                for v in e.get("properties") {
                    if let Some(p) = self.resolve(v) {
                        properties.push(self.property(p));
                    }
                }
                Content::Relationship(Relationship {
                    id: self.id(c),
                    name: self.string(c, "name").unwrap_or_default(),
                    target: self.string(c, "target").map(Dtmi::from_checked),
                    min_multiplicity: self.int(c, "minMultiplicity"),
                    max_multiplicity: self.int(c, "maxMultiplicity"),
                    properties,
                    writable: self.flag(c, "writable"),
                    display_name: self.lang(c, "displayName"),
                    docs: self.docs(c),
                })
            }
            Class::Component => Content::Component(Component {
                id: self.id(c),
                name: self.string(c, "name").unwrap_or_default(),
                schema: e.get("schema").first().and_then(|v| self.dtmi_of(v))?,
                display_name: self.lang(c, "displayName"),
                docs: self.docs(c),
            }),
            _ => return None,
        })
    }

    fn schema_of(&mut self, owner: usize, term: &str) -> Schema {
        match self.elem(owner).get(term).first() {
            Some(Val::Prim(p)) => primitive(p),
            Some(v) => match self.resolve(v) {
                Some(s) => self.schema_elem(s),
                None => Schema::String,
            },
            None => Schema::String,
        }
    }

    fn schema_elem(&mut self, s: usize) -> Schema {
        if self.budget == 0 {
            if self.problems.is_empty() {
                let e = self.elem(s);
                let root = e.root;
                self.problems.push(Problem {
                    source: String::new(),
                    model: self.elem(root).id.clone(),
                    path: e.path.clone(),
                    rule: "max-expanded-schemas",
                    message: format!(
                        "expanding schema references produces more than {MAX_EXPANDED_SCHEMA_NODES} schema nodes"
                    ),
                });
            }
            return Schema::String;
        }
        self.budget -= 1;
        let e = self.elem(s);
        match e.class {
            Class::Array => Schema::Array(Box::new(ArraySchema {
                id: self.id(s),
                element_schema: self.schema_of(s, "elementSchema"),
            })),
            Class::Enum => {
                let value_schema = self.schema_of(s, "valueSchema");
                let mut values = Vec::new();
                for v in e.get("enumValues") {
                    if let Some(ev) = self.resolve(v) {
                        let value = match self.elem(ev).get("enumValue").first() {
                            Some(Val::Literal(l)) => l.clone(),
                            _ => Value::Null,
                        };
                        values.push(EnumValue {
                            name: self.string(ev, "name").unwrap_or_default(),
                            value,
                            display_name: self.lang(ev, "displayName"),
                        });
                    }
                }
                Schema::Enum(Box::new(EnumSchema {
                    id: self.id(s),
                    value_schema,
                    values,
                }))
            }
            Class::Object => {
                let mut fields = Vec::new();
                for v in e.get("fields") {
                    if let Some(f) = self.resolve(v) {
                        fields.push(Field {
                            name: self.string(f, "name").unwrap_or_default(),
                            schema: self.schema_of(f, "schema"),
                            display_name: self.lang(f, "displayName"),
                        });
                    }
                }
                Schema::Object(Box::new(ObjectSchema {
                    id: self.id(s),
                    fields,
                }))
            }
            Class::Map => {
                let key = e.get("mapKey").first().and_then(|v| self.resolve(v));
                let value = e.get("mapValue").first().and_then(|v| self.resolve(v));
                Schema::Map(Box::new(MapSchema {
                    id: self.id(s),
                    key_name: key.and_then(|k| self.string(k, "name")).unwrap_or_default(),
                    value_name: value
                        .and_then(|v| self.string(v, "name"))
                        .unwrap_or_default(),
                    value_schema: value.map_or(Schema::String, |v| self.schema_of(v, "schema")),
                }))
            }
            _ => Schema::String,
        }
    }
}

fn primitive(term: &str) -> Schema {
    match term {
        "boolean" => Schema::Boolean,
        "date" => Schema::Date,
        "dateTime" => Schema::DateTime,
        "double" => Schema::Double,
        "duration" => Schema::Duration,
        "float" => Schema::Float,
        "integer" => Schema::Integer,
        "long" => Schema::Long,
        "time" => Schema::Time,
        "byte" => Schema::Byte,
        "bytes" => Schema::Bytes,
        "decimal" => Schema::Decimal,
        "short" => Schema::Short,
        "uuid" => Schema::Uuid,
        "unsignedByte" => Schema::UnsignedByte,
        "unsignedShort" => Schema::UnsignedShort,
        "unsignedInteger" => Schema::UnsignedInteger,
        "unsignedLong" => Schema::UnsignedLong,
        "point" => Schema::Point,
        "multiPoint" => Schema::MultiPoint,
        "lineString" => Schema::LineString,
        "multiLineString" => Schema::MultiLineString,
        "polygon" => Schema::Polygon,
        "multiPolygon" => Schema::MultiPolygon,
        _ => Schema::String,
    }
}
