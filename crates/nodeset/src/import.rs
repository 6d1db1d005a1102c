//! Joins several parsed NodeSets (a model with the models it requires) and turns
//! their object types into DTDL v3 interfaces:
//!
//! - object type → Interface; `HasSubtype` → `extends`;
//! - `HasComponent`/`Organizes`/`HasAddIn` objects → Component when the object's
//!   type has no objects of its own (DTDL forbids Components inside a Component's
//!   schema), otherwise a Relationship to that type's interface (a twin graph
//!   models deeper containment with relationships); an object declaration that
//!   adds members its type lacks gets an interface of its own
//!   (`…:MachineToolType:MachineryBuildingBlocks`) extending the type;
//!   placeholders (`<Name>`, any number of instances) → Relationship;
//! - `HasProperty` variables and writable variables → Property; other
//!   `HasComponent` variables (data items, analog items, values that change) →
//!   Telemetry, with a DTDL semantic type and unit when the engineering unit is in
//!   [`crate::units`], else the unit and range in the description;
//! - methods → Command, input and output arguments as Object request/response;
//! - non-hierarchical references of a type → Relationship;
//! - built-in data types → DTDL primitives, enumerations → Enum, structures → Object.
//!
//! A subtype's instance declaration that refines one of its supertype's (same
//! browse name) is left out, since DTDL forbids a name an ancestor already uses.
//! The result is checked with [`model::ModelSet`] before it is returned.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::error::NodesetError;
use crate::limits::{
    MAX_DOCUMENTS, MAX_EXTENDS_DEPTH, MAX_INTERFACE_DTMI_LEN, MAX_NAME_LEN, MAX_SCHEMA_DEPTH,
    MAX_TEXT_LEN,
};
use crate::names::{dtmi, dtmi_version, escape, model_segments};
use crate::parse::{Argument, Node, NodeClass, NodeKey, NodeSet, UA_NAMESPACE};
use crate::units::dtdl_unit;

/// Node ids of the base namespace the importer relies on (OPC UA Part 3/5/6).
mod ua {
    pub(super) const BASE_OBJECT_TYPE: u32 = 58;
    pub(super) const HIERARCHICAL_REFERENCES: u32 = 33;
    pub(super) const HAS_SUBTYPE: u32 = 45;
    pub(super) const HAS_PROPERTY: u32 = 46;
    pub(super) const HAS_TYPE_DEFINITION: u32 = 40;
    pub(super) const HAS_MODELLING_RULE: u32 = 37;
    pub(super) const HAS_ENCODING: u32 = 38;
    pub(super) const GENERATES_EVENT: u32 = 41;
    pub(super) const ALWAYS_GENERATES_EVENT: u32 = 3065;
    pub(super) const HAS_INTERFACE: u32 = 17603;
    pub(super) const OPTIONAL_PLACEHOLDER: u32 = 11508;
    pub(super) const MANDATORY_PLACEHOLDER: u32 = 11510;
    pub(super) const STRUCTURE: u32 = 22;
    pub(super) const ENUMERATION: u32 = 29;
}

/// Most supertype steps followed when walking a type hierarchy; real hierarchies
/// are under twenty deep, and the bound stops a cyclic `HasSubtype` in a broken file.
const MAX_SUPERTYPE_STEPS: usize = 64;

/// Deepest nesting of instance declarations that get interfaces of their own
/// (an object declared inside a type that adds members its own type lacks, such as
/// `MachineToolType/Equipment/Tools`). Real models nest two or three levels; the
/// bound also stops a declaration that contains itself in a broken file.
const MAX_DECLARATION_NESTING: usize = 6;

/// DTDL v3 context, and the extension that semantic types and units need.
const DTDL_CONTEXT: &str = "dtmi:dtdl:context;3";
const UNITS_CONTEXT: &str = "dtmi:dtdl:extension:quantitativeTypes;1";

/// Counts of what an import produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Object types turned into interfaces.
    pub interfaces: usize,
    /// Components generated.
    pub components: usize,
    /// Properties generated.
    pub properties: usize,
    /// Telemetry generated.
    pub telemetry: usize,
    /// Commands generated.
    pub commands: usize,
    /// Relationships generated (object containment beyond one level, and
    /// non-hierarchical references).
    pub relationships: usize,
    /// Enum schemas generated (inline, so counted per use).
    pub enums: usize,
    /// Object schemas generated from structures (inline, counted per use).
    pub objects: usize,
    /// Telemetry/properties carrying a DTDL unit.
    pub units: usize,
    /// Instance declarations left out because an ancestor already has the name.
    pub refinements_skipped: usize,
    /// Interfaces generated for object declarations that add members to their
    /// type (included in `interfaces`).
    pub declaration_interfaces: usize,
}

/// The DTDL interfaces generated from a set of NodeSets.
#[derive(Debug, Clone)]
pub struct Import {
    /// DTDL v3 interfaces, suppliers first is not guaranteed (the validator
    /// resolves a batch in any order).
    pub interfaces: Vec<Value>,
    /// What was generated.
    pub stats: ImportStats,
}

/// The joined address space of all given NodeSets.
struct Space<'a> {
    nodes: HashMap<&'a NodeKey, &'a Node>,
    /// Forward references per source node (inverse references turned around),
    /// as (reference type, target).
    forward: HashMap<&'a NodeKey, Vec<(&'a NodeKey, &'a NodeKey)>>,
    /// Supertype of each type node.
    supertype: HashMap<&'a NodeKey, &'a NodeKey>,
    /// Model version per namespace URI.
    versions: HashMap<&'a str, &'a str>,
    /// The DTMI of every object type, assigned up front so that two types whose
    /// names escape alike (a broken or hostile file) still get distinct ids.
    interface_ids: HashMap<&'a NodeKey, String>,
}

impl<'a> Space<'a> {
    fn new(nodesets: &'a [NodeSet]) -> Space<'a> {
        let has_subtype = NodeKey::ua(ua::HAS_SUBTYPE);
        let mut space = Space {
            nodes: HashMap::new(),
            forward: HashMap::new(),
            supertype: HashMap::new(),
            versions: HashMap::new(),
            interface_ids: HashMap::new(),
        };
        let mut seen: HashSet<(&NodeKey, &NodeKey, &NodeKey)> = HashSet::new();
        for nodeset in nodesets {
            for model in &nodeset.models {
                space
                    .versions
                    .insert(model.uri.as_str(), model.version.as_str());
            }
            for node in &nodeset.nodes {
                space.nodes.entry(&node.id).or_insert(node);
                for reference in &node.references {
                    let (source, target) = if reference.forward {
                        (&node.id, &reference.target)
                    } else {
                        (&reference.target, &node.id)
                    };
                    if !seen.insert((source, &reference.reference_type, target)) {
                        continue;
                    }
                    space
                        .forward
                        .entry(source)
                        .or_default()
                        .push((&reference.reference_type, target));
                    if reference.reference_type == has_subtype {
                        space.supertype.entry(target).or_insert(source);
                    }
                }
            }
        }
        let mut taken = HashSet::new();
        for nodeset in nodesets {
            for node in &nodeset.nodes {
                // A node id given twice keeps its first definition (as `nodes` does):
                // a later object type reusing an object's id must not get an
                // interface of its own, or it would replace that object's.
                let first = space
                    .nodes
                    .get(&node.id)
                    .is_some_and(|n| std::ptr::eq(*n, node));
                if node.class != NodeClass::ObjectType || !first {
                    continue;
                }
                let id = space.unique_interface_id(node, &taken);
                taken.insert(id.clone());
                space.interface_ids.insert(&node.id, id);
            }
        }
        space
    }

    /// The readable DTMI of an object type, or when that is taken, one with the
    /// node identifier (and if need be a counter) as an extra segment.
    fn unique_interface_id(&self, node: &Node, taken: &HashSet<String>) -> String {
        let mut segments = model_segments(&node.id.namespace);
        segments.push(escape(&node.browse_name));
        let version = dtmi_version(
            self.versions
                .get(node.id.namespace.as_str())
                .copied()
                .unwrap_or_default(),
        );
        let plain = dtmi(&segments, &version);
        if !taken.contains(&plain) {
            return plain;
        }
        segments.push(escape(&node.id.identifier));
        let mut candidate = dtmi(&segments, &version);
        // Each taken id belongs to one earlier node, so at most that many tries.
        let mut counter = 1usize;
        while taken.contains(&candidate) && counter <= taken.len() {
            candidate = dtmi(
                &[segments.clone(), vec![format!("n{counter}")]].concat(),
                &version,
            );
            counter += 1;
        }
        candidate
    }

    fn node(&self, key: &NodeKey) -> Option<&'a Node> {
        self.nodes.get(key).copied()
    }

    fn references(&self, key: &NodeKey) -> &[(&'a NodeKey, &'a NodeKey)] {
        self.forward.get(key).map_or(&[], Vec::as_slice)
    }

    /// Whether `key` is `ancestor` or one of its subtypes.
    fn is_a(&self, key: &NodeKey, ancestor: u32) -> bool {
        let ancestor = NodeKey::ua(ancestor);
        let mut current = key;
        for _ in 0..MAX_SUPERTYPE_STEPS {
            if *current == ancestor {
                return true;
            }
            match self.supertype.get(current) {
                Some(parent) => current = parent,
                None => return false,
            }
        }
        false
    }

    fn type_definition(&self, key: &NodeKey) -> Option<&'a NodeKey> {
        let has_type = NodeKey::ua(ua::HAS_TYPE_DEFINITION);
        self.references(key)
            .iter()
            .find(|(reference_type, _)| **reference_type == has_type)
            .map(|(_, target)| *target)
    }

    /// Whether an instance declaration is a placeholder (`<Name>`, any number of
    /// instances with their own names), by its modelling rule.
    fn is_placeholder(&self, key: &NodeKey) -> bool {
        let rule = NodeKey::ua(ua::HAS_MODELLING_RULE);
        let placeholders = [
            NodeKey::ua(ua::OPTIONAL_PLACEHOLDER),
            NodeKey::ua(ua::MANDATORY_PLACEHOLDER),
        ];
        self.references(key).iter().any(|(reference_type, target)| {
            **reference_type == rule && placeholders.contains(target)
        })
    }

    /// Hierarchical children (instance declarations) of a node, in file order.
    fn children(&self, key: &NodeKey) -> Vec<(&'a NodeKey, &'a Node)> {
        let has_subtype = NodeKey::ua(ua::HAS_SUBTYPE);
        self.references(key)
            .iter()
            .filter(|(reference_type, _)| {
                **reference_type != has_subtype
                    && self.is_a(reference_type, ua::HIERARCHICAL_REFERENCES)
            })
            .filter_map(|(reference_type, target)| {
                let node = self.node(target)?;
                matches!(
                    node.class,
                    NodeClass::Object | NodeClass::Variable | NodeClass::Method
                )
                .then_some((*reference_type, node))
            })
            .collect()
    }

    /// The object-type supertype of an object type, if generated (not past BaseObjectType).
    fn object_supertype(&self, key: &NodeKey) -> Option<&'a NodeKey> {
        if *key == NodeKey::ua(ua::BASE_OBJECT_TYPE) {
            return None;
        }
        let parent = self.supertype.get(key)?;
        let node = self.node(parent)?;
        (node.class == NodeClass::ObjectType).then_some(*parent)
    }

    /// Whether an object type, or one of its supertypes, declares objects.
    fn declares_objects(&self, key: &NodeKey) -> bool {
        let mut current = Some(key);
        let mut steps = 0;
        while let Some(key) = current
            && steps < MAX_SUPERTYPE_STEPS
        {
            if self
                .children(key)
                .iter()
                .any(|(_, node)| node.class == NodeClass::Object)
            {
                return true;
            }
            current = self.object_supertype(key);
            steps += 1;
        }
        false
    }

    fn interface_id(&self, node: &Node) -> String {
        self.interface_ids
            .get(&node.id)
            .cloned()
            .unwrap_or_else(|| self.unique_interface_id(node, &HashSet::new()))
    }
}

/// The DTDL name of an instance declaration: its escaped browse name, without the
/// angle brackets a placeholder's name wears (`<ProgramName>` → `ProgramName`).
fn content_name(space: &Space<'_>, child: &Node) -> String {
    let name = child.browse_name.as_str();
    let bare = name
        .strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .filter(|inner| !inner.is_empty() && space.is_placeholder(&child.id));
    escape(bare.unwrap_or(name))
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_TEXT_LEN).collect()
}

/// Builds interfaces, remembering the ones done and the names each one has
/// (own and inherited), so subtypes can leave out refined declarations.
struct Generator<'a, 's> {
    space: &'s Space<'a>,
    done: IndexMap<&'a NodeKey, Value>,
    names: HashMap<&'a NodeKey, HashSet<String>>,
    depth: HashMap<&'a NodeKey, usize>,
    in_progress: HashSet<&'a NodeKey>,
    queue: Vec<&'a NodeKey>,
    stats: ImportStats,
    /// Every DTMI given out, so declaration interfaces never reuse one.
    taken: HashSet<String>,
    nesting: usize,
}

impl<'a> Generator<'a, '_> {
    fn build(&mut self, key: &'a NodeKey) {
        if self.done.contains_key(key) || !self.in_progress.insert(key) {
            return;
        }
        // Only object types become interfaces here; a key whose first definition
        // is some other node (an id given twice) is not one.
        let Some(node) = self
            .space
            .node(key)
            .filter(|n| n.class == NodeClass::ObjectType)
        else {
            self.in_progress.remove(key);
            return;
        };
        let mut supertype = self.space.object_supertype(key);
        if let Some(parent) = supertype {
            self.build(parent);
            if !self.done.contains_key(parent) {
                supertype = None;
            }
        }
        // Cut the chain where DTDL's extends depth would be exceeded: this
        // interface then carries its ancestors' declarations itself.
        let mut depth =
            supertype.map_or(0, |parent| self.depth.get(parent).copied().unwrap_or(0) + 1);
        let mut sources = vec![key];
        if depth + 1 >= MAX_EXTENDS_DEPTH {
            depth = 0;
            let mut ancestor = supertype;
            let mut steps = 0;
            while let Some(current) = ancestor
                && steps < MAX_SUPERTYPE_STEPS
            {
                sources.push(current);
                ancestor = self.space.object_supertype(current);
                steps += 1;
            }
            supertype = None;
        }
        let inherited: HashSet<String> = supertype
            .and_then(|parent| self.names.get(parent).cloned())
            .unwrap_or_default();
        let mut names = inherited.clone();
        let mut contents = Vec::new();
        let mut uses_units = false;
        let own_id = self.space.interface_id(node);
        for source in sources {
            for (reference_type, child) in self.space.children(source) {
                let name = content_name(self.space, child);
                if name.len() > MAX_NAME_LEN {
                    continue;
                }
                if names.contains(&name) {
                    if inherited.contains(&name) {
                        self.stats.refinements_skipped += 1;
                    }
                    continue;
                }
                if let Some((content, units)) = self.content(reference_type, child, &name, &own_id)
                {
                    uses_units |= units;
                    names.insert(name);
                    contents.push(content);
                }
            }
            for content in self.relationships(source, &mut names) {
                contents.push(content);
            }
        }
        let mut interface = Map::new();
        interface.insert(
            "@context".into(),
            if uses_units {
                json!([DTDL_CONTEXT, UNITS_CONTEXT])
            } else {
                json!(DTDL_CONTEXT)
            },
        );
        interface.insert("@id".into(), json!(own_id));
        interface.insert("@type".into(), json!("Interface"));
        interface.insert("displayName".into(), json!(truncate(&node.browse_name)));
        if let Some(description) = &node.description {
            interface.insert("description".into(), json!(truncate(description)));
        }
        interface.insert(
            "comment".into(),
            json!(truncate(&format!(
                "OPC UA {}{} {}",
                node.id,
                if node.is_abstract { " (abstract)" } else { "" },
                node.browse_name
            ))),
        );
        if let Some(parent) = supertype
            && let Some(parent_node) = self.space.node(parent)
        {
            interface.insert(
                "extends".into(),
                json!([self.space.interface_id(parent_node)]),
            );
        }
        interface.insert("contents".into(), Value::Array(contents));
        self.stats.interfaces += 1;
        self.depth.insert(key, depth);
        self.names.insert(key, names);
        self.done.insert(key, Value::Object(interface));
        self.in_progress.remove(key);
    }

    /// The content for one instance declaration, and whether it uses units.
    fn content(
        &mut self,
        reference_type: &NodeKey,
        child: &'a Node,
        name: &str,
        owner: &str,
    ) -> Option<(Value, bool)> {
        let mut content = Map::new();
        let mut uses_units = false;
        match child.class {
            NodeClass::Object => {
                let type_key = self.space.type_definition(&child.id)?;
                let type_node = self.space.node(type_key)?;
                if type_node.class != NodeClass::ObjectType {
                    return None;
                }
                self.queue.push(type_key);
                let placeholder = self.space.is_placeholder(&child.id);
                let nested = if placeholder {
                    None
                } else {
                    self.declaration_interface(owner, child, type_key)
                };
                let (target, declares_objects) = nested.unwrap_or_else(|| {
                    (
                        self.space.interface_id(type_node),
                        self.space.declares_objects(type_key),
                    )
                });
                if placeholder {
                    // Any number of instances, each with its own name: a
                    // relationship with one edge per instance.
                    content.insert("@type".into(), json!("Relationship"));
                    content.insert("target".into(), json!(target));
                    content.insert(
                        "comment".into(),
                        json!(truncate(&format!(
                            "OPC UA placeholder {}: any number of instances",
                            child.browse_name
                        ))),
                    );
                    self.stats.relationships += 1;
                } else if declares_objects {
                    content.insert("@type".into(), json!("Relationship"));
                    content.insert("target".into(), json!(target));
                    self.stats.relationships += 1;
                } else {
                    content.insert("@type".into(), json!("Component"));
                    content.insert("schema".into(), json!(target));
                    self.stats.components += 1;
                }
            }
            NodeClass::Variable => {
                let placeholder = self.space.is_placeholder(&child.id);
                let value = self.schema(
                    child.data_type.as_ref(),
                    child.value_rank,
                    usize::from(placeholder),
                );
                // Placeholder variables (any number, each named) become a map from
                // the instance's browse name to its value.
                let schema = if placeholder {
                    json!({
                        "@type": "Map",
                        "mapKey": { "name": "browseName", "schema": "string" },
                        "mapValue": { "name": "value", "schema": value },
                    })
                } else {
                    value
                };
                let is_property = placeholder || self.space.is_a(reference_type, ua::HAS_PROPERTY);
                let writable = child.access_level & 2 != 0;
                let class = if is_property || writable {
                    "Property"
                } else {
                    "Telemetry"
                };
                let numeric = matches!(
                    schema.as_str(),
                    Some("double" | "float" | "integer" | "long")
                );
                let (unit_text, semantic) = self.unit(&child.id);
                match semantic {
                    Some((semantic_type, unit)) if numeric => {
                        content.insert("@type".into(), json!([class, semantic_type]));
                        content.insert("unit".into(), json!(unit));
                        uses_units = true;
                        self.stats.units += 1;
                    }
                    _ => {
                        content.insert("@type".into(), json!(class));
                    }
                }
                if class == "Property" {
                    self.stats.properties += 1;
                    if writable {
                        content.insert("writable".into(), json!(true));
                    }
                } else {
                    self.stats.telemetry += 1;
                }
                content.insert("schema".into(), schema);
                let description = match (&child.description, unit_text) {
                    (Some(text), Some(unit)) => Some(format!("{text} ({unit})")),
                    (Some(text), None) => Some(text.clone()),
                    (None, unit) => unit,
                };
                if let Some(description) = description {
                    content.insert("description".into(), json!(truncate(&description)));
                }
            }
            NodeClass::Method => {
                content.insert("@type".into(), json!("Command"));
                let (input, output) = self.arguments(child);
                if !input.is_empty() {
                    content.insert("request".into(), self.payload("input", &input));
                }
                if !output.is_empty() {
                    content.insert("response".into(), self.payload("output", &output));
                }
                self.stats.commands += 1;
            }
            _ => return None,
        }
        content.insert("name".into(), json!(name));
        if child.description.is_some() && !content.contains_key("description") {
            content.insert(
                "description".into(),
                json!(truncate(child.description.as_deref().unwrap_or_default())),
            );
        }
        Some((Value::Object(content), uses_units))
    }

    /// An interface of its own for an object declaration that adds members its
    /// type lacks: it extends the type and holds the additions. Returns its DTMI
    /// and whether it declares objects; `None` when the type serves as it is (or
    /// nesting, extends depth or DTMI length would exceed DTDL's bounds).
    fn declaration_interface(
        &mut self,
        owner: &str,
        child: &'a Node,
        type_key: &'a NodeKey,
    ) -> Option<(String, bool)> {
        if self.nesting >= MAX_DECLARATION_NESTING || self.done.contains_key(&child.id) {
            return None;
        }
        self.build(type_key);
        let base_names = self.names.get(type_key)?.clone();
        let base_depth = *self.depth.get(type_key)?;
        if base_depth + 2 >= MAX_EXTENDS_DEPTH {
            return None;
        }
        let additions: Vec<(&'a NodeKey, &'a Node)> = self
            .space
            .children(&child.id)
            .into_iter()
            .filter(|(_, member)| !base_names.contains(&content_name(self.space, member)))
            .collect();
        if additions.is_empty() {
            return None;
        }
        let (path, version) = owner.rsplit_once(';')?;
        let id = format!("{path}:{};{version}", escape(&child.browse_name));
        if id.len() > MAX_INTERFACE_DTMI_LEN || !self.taken.insert(id.clone()) {
            return None;
        }
        self.nesting += 1;
        let mut names = base_names;
        let mut contents = Vec::new();
        let mut uses_units = false;
        let mut has_objects = false;
        for (reference_type, member) in additions {
            let name = content_name(self.space, member);
            if name.len() > MAX_NAME_LEN || names.contains(&name) {
                continue;
            }
            if let Some((content, units)) = self.content(reference_type, member, &name, &id) {
                uses_units |= units;
                has_objects |= member.class == NodeClass::Object;
                names.insert(name);
                contents.push(content);
            }
        }
        self.nesting -= 1;
        if contents.is_empty() {
            return None;
        }
        let type_node = self.space.node(type_key)?;
        let mut interface = Map::new();
        interface.insert(
            "@context".into(),
            if uses_units {
                json!([DTDL_CONTEXT, UNITS_CONTEXT])
            } else {
                json!(DTDL_CONTEXT)
            },
        );
        interface.insert("@id".into(), json!(id));
        interface.insert("@type".into(), json!("Interface"));
        interface.insert("displayName".into(), json!(truncate(&child.browse_name)));
        if let Some(description) = &child.description {
            interface.insert("description".into(), json!(truncate(description)));
        }
        interface.insert(
            "comment".into(),
            json!(truncate(&format!(
                "OPC UA instance declaration {} {} of type {}",
                child.id, child.browse_name, type_node.browse_name
            ))),
        );
        interface.insert(
            "extends".into(),
            json!([self.space.interface_id(type_node)]),
        );
        interface.insert("contents".into(), Value::Array(contents));
        self.stats.interfaces += 1;
        self.stats.declaration_interfaces += 1;
        self.depth.insert(&child.id, base_depth + 1);
        self.names.insert(&child.id, names);
        self.done.insert(&child.id, Value::Object(interface));
        let declares_objects = has_objects || self.space.declares_objects(type_key);
        Some((id, declares_objects))
    }

    /// A variable's engineering unit and range as text, and its DTDL unit if known.
    fn unit(&self, key: &NodeKey) -> (Option<String>, Option<(&'static str, &'static str)>) {
        let mut text = Vec::new();
        let mut semantic = None;
        for (_, property) in self.space.children(key) {
            if let Some(unit) = &property.engineering_unit {
                semantic = dtdl_unit(unit.unit_id, unit.display_name.as_deref());
                if let Some(name) = &unit.display_name {
                    text.push(format!("unit {name}"));
                }
            }
            if let Some((low, high)) = property.range {
                text.push(format!("{} {low} to {high}", property.browse_name));
            }
        }
        ((!text.is_empty()).then(|| text.join(", ")), semantic)
    }

    fn arguments(&self, method: &'a Node) -> (Vec<&'a Argument>, Vec<&'a Argument>) {
        let collect = |key: &NodeKey| {
            let mut input = Vec::new();
            let mut output = Vec::new();
            for (_, property) in self.space.children(key) {
                match property.browse_name.as_str() {
                    "InputArguments" => input.extend(property.arguments.iter()),
                    "OutputArguments" => output.extend(property.arguments.iter()),
                    _ => {}
                }
            }
            (input, output)
        };
        let (input, output) = collect(&method.id);
        if input.is_empty()
            && output.is_empty()
            && let Some(declaration) = &method.method_declaration
        {
            return collect(declaration);
        }
        (input, output)
    }

    fn payload(&mut self, name: &str, arguments: &[&Argument]) -> Value {
        let mut fields = Vec::new();
        let mut seen = HashSet::new();
        for argument in arguments {
            let field_name = escape(&argument.name);
            if field_name.len() > MAX_NAME_LEN || !seen.insert(field_name.clone()) {
                continue;
            }
            let mut field = Map::new();
            field.insert("name".into(), json!(field_name));
            field.insert(
                "schema".into(),
                self.schema(argument.data_type.as_ref(), argument.value_rank, 1),
            );
            if let Some(description) = &argument.description {
                field.insert("description".into(), json!(truncate(description)));
            }
            fields.push(Value::Object(field));
        }
        json!({ "name": name, "schema": { "@type": "Object", "fields": fields } })
    }

    /// Forward non-hierarchical references of a type → Relationships.
    fn relationships(&mut self, key: &'a NodeKey, names: &mut HashSet<String>) -> Vec<Value> {
        let skipped = [
            ua::HAS_TYPE_DEFINITION,
            ua::HAS_MODELLING_RULE,
            ua::HAS_ENCODING,
            ua::GENERATES_EVENT,
            ua::ALWAYS_GENERATES_EVENT,
            ua::HAS_INTERFACE,
            ua::HAS_SUBTYPE,
        ];
        let mut out = Vec::new();
        for (reference_type, target) in self.space.references(key) {
            if self.space.is_a(reference_type, ua::HIERARCHICAL_REFERENCES)
                || skipped
                    .iter()
                    .any(|id| self.space.is_a(reference_type, *id))
            {
                continue;
            }
            let Some(target_node) = self.space.node(target) else {
                continue;
            };
            let type_key = match target_node.class {
                NodeClass::ObjectType => *target,
                NodeClass::Object => match self.space.type_definition(target) {
                    Some(type_key) => type_key,
                    None => continue,
                },
                _ => continue,
            };
            let Some(type_node) = self.space.node(type_key) else {
                continue;
            };
            if type_node.class != NodeClass::ObjectType {
                continue;
            }
            let type_name = self
                .space
                .node(reference_type)
                .map_or_else(|| "References".to_owned(), |node| node.browse_name.clone());
            let name = escape(&format!("{type_name}{}", target_node.browse_name));
            if name.len() > MAX_NAME_LEN || !names.insert(name.clone()) {
                continue;
            }
            self.queue.push(type_key);
            self.stats.relationships += 1;
            out.push(json!({
                "@type": "Relationship",
                "name": name,
                "target": self.space.interface_id(type_node),
                "comment": truncate(&format!("OPC UA reference {type_name} to {}", target_node.id)),
            }));
        }
        out
    }

    /// The DTDL schema for a data type and value rank.
    fn schema(&mut self, data_type: Option<&NodeKey>, value_rank: i32, depth: usize) -> Value {
        let scalar = self.scalar_schema(data_type, depth + usize::from(value_rank >= 0));
        if value_rank >= 0 && depth < MAX_SCHEMA_DEPTH {
            json!({ "@type": "Array", "elementSchema": scalar })
        } else {
            scalar
        }
    }

    fn scalar_schema(&mut self, data_type: Option<&NodeKey>, depth: usize) -> Value {
        let Some(mut current) = data_type else {
            return json!("string");
        };
        for _ in 0..MAX_SUPERTYPE_STEPS {
            if let Some(primitive) = builtin(current) {
                return json!(primitive);
            }
            if let Some(node) = self.space.node(current)
                && let Some(definition) = &node.definition
                && !definition.is_option_set
                && !definition.fields.is_empty()
            {
                if self.space.is_a(current, ua::ENUMERATION) {
                    // DTDL wants names and values unique; a repeated one (a broken
                    // file) keeps its first use.
                    let mut seen_names = HashSet::new();
                    let mut seen_values = HashSet::new();
                    let values: Vec<Value> = definition
                        .fields
                        .iter()
                        .filter_map(|field| {
                            let name = escape(&field.name);
                            let value = i32::try_from(field.value?).ok()?;
                            (name.len() <= MAX_NAME_LEN
                                && !seen_names.contains(&name)
                                && seen_values.insert(value))
                            .then(|| {
                                seen_names.insert(name.clone());
                                json!({ "name": name, "enumValue": value })
                            })
                        })
                        .collect();
                    if !values.is_empty() {
                        self.stats.enums += 1;
                        return json!({ "@type": "Enum", "valueSchema": "integer", "enumValues": values });
                    }
                } else if self.space.is_a(current, ua::STRUCTURE) && depth < MAX_SCHEMA_DEPTH {
                    let fields: Vec<Value> = definition
                        .fields
                        .iter()
                        .filter(|field| escape(&field.name).len() <= MAX_NAME_LEN)
                        .map(|field| {
                            json!({
                                "name": escape(&field.name),
                                "schema": self.schema(field.data_type.as_ref(), field.value_rank, depth + 1),
                            })
                        })
                        .collect();
                    self.stats.objects += 1;
                    return json!({ "@type": "Object", "fields": fields });
                }
            }
            match self.space.supertype.get(current) {
                Some(parent) => current = parent,
                None => break,
            }
        }
        // Abstract types (BaseDataType, Structure past the depth bound) have no
        // DTDL counterpart; their values travel as JSON text.
        json!("string")
    }
}

/// DTDL primitive for an OPC UA built-in type (Part 6 numbering).
fn builtin(key: &NodeKey) -> Option<&'static str> {
    if key.namespace != UA_NAMESPACE {
        return None;
    }
    let number: u32 = key.identifier.strip_prefix("i=")?.parse().ok()?;
    Some(match number {
        1 => "boolean",
        2..=6 => "integer",
        7..=9 => "long",
        10 => "float",
        11 => "double",
        12 | 14..=18 | 20 | 21 => "string",
        13 | 294 => "dateTime",
        19 => "long",
        26 => "double",
        27 | 28 => "long",
        // Enumeration without a definition: its integer value.
        29 => "integer",
        _ => return None,
    })
}

/// Picks, from many NodeSets (a folder of companion specifications), the ones
/// `model` needs: the document defining it and, transitively, those defining its
/// required models. Returns their positions in `nodesets`, the model's own first.
/// When several documents define a model, the first one is used.
pub fn dependencies(nodesets: &[NodeSet], model: &str) -> Result<Vec<usize>, NodesetError> {
    let mut defining: HashMap<&str, usize> = HashMap::new();
    for (index, set) in nodesets.iter().enumerate() {
        for defined in &set.models {
            defining.entry(defined.uri.as_str()).or_insert(index);
        }
    }
    let start = *defining
        .get(model)
        .ok_or_else(|| NodesetError::UnknownModel {
            uri: model.to_owned(),
        })?;
    let mut chosen = vec![start];
    let mut next = 0;
    // Each document is chosen at most once, so this ends after `nodesets.len()` steps.
    while let Some(&index) = chosen.get(next) {
        next += 1;
        for defined in &nodesets[index].models {
            for (required, version) in &defined.required {
                let Some(&supplier) = defining.get(required.as_str()) else {
                    return Err(NodesetError::MissingModel {
                        model: defined.uri.clone(),
                        required: required.clone(),
                        version: version.clone(),
                    });
                };
                if !chosen.contains(&supplier) {
                    chosen.push(supplier);
                }
            }
        }
    }
    Ok(chosen)
}

/// Imports object types into DTDL. `models` names the model URIs whose object
/// types are wanted (with everything they use from other models); empty means all.
/// Every model a document requires must be among `nodesets`.
pub fn import(nodesets: &[NodeSet], models: &[&str]) -> Result<Import, NodesetError> {
    if nodesets.len() > MAX_DOCUMENTS {
        return Err(NodesetError::Limit {
            what: "number of NodeSet documents in one import",
            limit: MAX_DOCUMENTS,
            offset: 0,
        });
    }
    let mut defined = HashSet::new();
    for model in nodesets.iter().flat_map(|set| &set.models) {
        if !defined.insert(model.uri.as_str()) {
            return Err(NodesetError::DuplicateModel {
                uri: model.uri.clone(),
            });
        }
    }
    for model in nodesets.iter().flat_map(|set| &set.models) {
        for (required, version) in &model.required {
            if !defined.contains(required.as_str()) {
                return Err(NodesetError::MissingModel {
                    model: model.uri.clone(),
                    required: required.clone(),
                    version: version.clone(),
                });
            }
        }
    }
    for uri in models {
        if !defined.contains(uri) {
            return Err(NodesetError::UnknownModel {
                uri: (*uri).to_owned(),
            });
        }
    }
    let space = Space::new(nodesets);
    let mut generator = Generator {
        space: &space,
        done: IndexMap::new(),
        names: HashMap::new(),
        depth: HashMap::new(),
        in_progress: HashSet::new(),
        queue: Vec::new(),
        stats: ImportStats::default(),
        taken: space.interface_ids.values().cloned().collect(),
        nesting: 0,
    };
    for node in nodesets.iter().flat_map(|set| &set.nodes) {
        if node.class == NodeClass::ObjectType
            && (models.is_empty() || models.contains(&node.id.namespace.as_str()))
        {
            generator.queue.push(&node.id);
        }
    }
    // Each object type is built once, so the queue drains after at most as many
    // builds as there are object types.
    while let Some(key) = generator.queue.pop() {
        generator.build(key);
    }
    let interfaces: Vec<Value> = generator.done.into_values().collect();
    let mut check = model::ModelSet::new();
    if let Err(problems) = check.add_values(&interfaces) {
        return Err(NodesetError::Generated(problems.to_string()));
    }
    Ok(Import {
        interfaces,
        stats: generator.stats,
    })
}
