//! The DTDL parser and validator: JSON documents in, a validated arena of
//! elements out, or every problem found.
//!
//! It works in two passes. The first walks each document once, resolving
//! `@context`, `@type` and property keys against the tables in
//! `metamodel.rs` and recording one [`Elem`] per DTDL element, with
//! references to other elements kept as DTMIs. The second pass resolves
//! those references across the whole batch (and the models already in the
//! set) and checks the rules that need the whole graph: `extends` cycles and
//! depth, schema nesting, name uniqueness with inherited contents, semantic
//! units. Problems are collected, never thrown, so one upload reports all of
//! them.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::dtmi;
use crate::limits::{MAX_ELEMENTS, MAX_JSON_DEPTH};
use crate::metamodel::{self, Class, Kind, PropDef, Terms};
use crate::semantic;
use crate::{LangString, Problem};

/// Parser options that the DTDL specification leaves to the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept `@context` entries naming extensions this parser does not know
    /// (their terms and co-types are then accepted unchecked). Off by
    /// default: an unknown extension is reported as a problem.
    pub allow_undefined_extensions: bool,
}

/// What the scope of an element's `@context` enables.
#[derive(Clone, Copy, Debug)]
struct Scope {
    version: u32,
    /// Semantic types and units: built into v2, the quantitativeTypes
    /// extension in v3.
    semantic: bool,
    /// An extension the parser does not know is in force (only when allowed).
    undefined_extension: bool,
}

/// One parsed value of a property.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// An element defined inline.
    Elem(usize),
    /// A DTMI naming an element defined elsewhere.
    Ref(String),
    /// A primitive schema term.
    Prim(&'static str),
    Str(String),
    Bool(bool),
    Int(i64),
    Lang(LangString),
    /// An `enumValue` literal.
    Literal(Value),
}

/// One DTDL element found in the input.
#[derive(Debug)]
pub(crate) struct Elem<'a> {
    pub(crate) class: Class,
    pub(crate) version: u32,
    pub(crate) id: Option<String>,
    pub(crate) json: &'a Map<String, Value>,
    pub(crate) doc: usize,
    pub(crate) path: String,
    pub(crate) root: usize,
    pub(crate) parent: Option<usize>,
    pub(crate) props: Vec<(&'static str, Vec<Val>)>,
    pub(crate) semantic_types: Vec<String>,
    pub(crate) extra_types: Vec<String>,
}

impl Elem<'_> {
    pub(crate) fn get(&self, term: &str) -> &[Val] {
        self.props
            .iter()
            .find(|(t, _)| *t == term)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

/// A document to parse: where it came from and its JSON.
pub(crate) struct Doc<'a> {
    pub(crate) source: &'a str,
    pub(crate) value: &'a Value,
}

/// What the parser needs to know about models already accepted.
pub(crate) trait Known {
    /// Whether an interface with this id exists.
    fn has_interface(&self, id: &str) -> bool;
    /// Whether any element (interface or not) has this id.
    fn has_id(&self, id: &str) -> bool;
    /// Direct `extends` of an existing interface.
    fn extends_of(&self, id: &str) -> Vec<String>;
    /// Content names of an existing interface including inherited ones.
    fn content_names(&self, id: &str) -> Vec<String>;
    /// Whether an existing interface (or one it extends) has a Component.
    fn has_component(&self, id: &str) -> bool;
}

pub(crate) struct Parsed<'a> {
    pub(crate) elems: Vec<Elem<'a>>,
    /// Top-level interfaces in input order.
    pub(crate) roots: Vec<usize>,
    /// Resolution of every `Val::Ref` found: DTMI -> element in this batch
    /// (`None` when it names an existing interface of the set).
    pub(crate) ids: HashMap<String, usize>,
}

pub(crate) struct Parser<'a, 'k> {
    opts: ParseOptions,
    known: &'k dyn Known,
    docs: &'a [Doc<'a>],
    elems: Vec<Elem<'a>>,
    roots: Vec<usize>,
    problems: Vec<Problem>,
    doc: usize,
    model: Option<String>,
    root: usize,
}

fn is_dtmi_like(s: &str) -> bool {
    s.starts_with("dtmi:")
}

fn reserved(id: &str) -> bool {
    id.starts_with("dtmi:dtdl:") || id.starts_with("dtmi:standard:")
}

fn name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphabetic()
                && (l.is_ascii_alphanumeric())
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }
        _ => false,
    }
}

/// Language tags as Microsoft's DTDL parser accepts them (probed with its
/// differential oracle): a lowercase language of 2 to 4 letters, then
/// optionally a script (`Hant`), then optionally a region (`TW` or `155`).
fn language_ok(s: &str) -> bool {
    let mut parts = s.split('-').peekable();
    let Some(language) = parts.next() else {
        return false;
    };
    if !(2..=4).contains(&language.len()) || !language.bytes().all(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let is_script = |p: &str| {
        let b = p.as_bytes();
        b.len() == 4 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_lowercase)
    };
    let is_region = |p: &str| {
        let b = p.as_bytes();
        (b.len() == 2 && b.iter().all(u8::is_ascii_uppercase))
            || (b.len() == 3 && b.iter().all(u8::is_ascii_digit))
    };
    if parts.peek().is_some_and(|p| is_script(p)) {
        parts.next();
    }
    if parts.peek().is_some_and(|p| is_region(p)) {
        parts.next();
    }
    parts.next().is_none()
}

fn json_depth_ok(v: &Value, depth: usize) -> bool {
    if depth > MAX_JSON_DEPTH {
        return false;
    }
    match v {
        Value::Array(a) => a.iter().all(|x| json_depth_ok(x, depth + 1)),
        Value::Object(o) => o.values().all(|x| json_depth_ok(x, depth + 1)),
        _ => true,
    }
}

impl<'a, 'k> Parser<'a, 'k> {
    pub(crate) fn new(opts: ParseOptions, known: &'k dyn Known, docs: &'a [Doc<'a>]) -> Self {
        Parser {
            opts,
            known,
            docs,
            elems: Vec::new(),
            roots: Vec::new(),
            problems: Vec::new(),
            doc: 0,
            model: None,
            root: 0,
        }
    }

    fn problem(&mut self, path: &str, rule: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            source: self
                .docs
                .get(self.doc)
                .map_or_else(String::new, |d| d.source.to_owned()),
            model: self.model.clone(),
            path: path.to_owned(),
            rule,
            message: message.into(),
        });
    }

    /// Runs both passes.
    pub(crate) fn run(mut self) -> Result<Parsed<'a>, Vec<Problem>> {
        for i in 0..self.docs.len() {
            self.doc = i;
            self.model = None;
            let value = self.docs[i].value;
            if !json_depth_ok(value, 0) {
                self.problem(
                    "",
                    "max-json-depth",
                    format!("JSON nesting deeper than {MAX_JSON_DEPTH} levels"),
                );
                continue;
            }
            match value {
                Value::Object(o) => self.top_level(o, String::new()),
                Value::Array(items) => {
                    for (j, item) in items.iter().enumerate() {
                        match item {
                            Value::Object(o) => self.top_level(o, format!("[{j}]")),
                            _ => self.problem(
                                &format!("[{j}]"),
                                "root-array-or-object",
                                "a top-level array may contain only JSON objects (interfaces)",
                            ),
                        }
                    }
                }
                _ => self.problem(
                    "",
                    "root-array-or-object",
                    "a DTDL document must be a JSON object or an array of objects",
                ),
            }
        }
        if self.elems.len() > MAX_ELEMENTS {
            return Err(self.problems);
        }
        let ids = self.resolve();
        if self.problems.is_empty() {
            Ok(Parsed {
                elems: self.elems,
                roots: self.roots,
                ids,
            })
        } else {
            Err(self.problems)
        }
    }

    fn top_level(&mut self, obj: &'a Map<String, Value>, path: String) {
        self.model = obj.get("@id").and_then(Value::as_str).map(str::to_owned);
        let Some(ctx) = obj.get("@context") else {
            self.problem(
                &path,
                "context-at-top-level",
                "a top-level element must have an @context naming the DTDL version (\"dtmi:dtdl:context;3\")",
            );
            return;
        };
        let Some(scope) = self.context(ctx, None, &path) else {
            return;
        };
        self.root = self.elems.len();
        if let Some(idx) = self.element(obj, &[Class::Interface], scope, path, None, 0, "")
            && self.elems[idx].class == Class::Interface
        {
            self.roots.push(idx);
        }
    }

    /// Applies an `@context` value to the enclosing scope (`None` at top level).
    fn context(&mut self, ctx: &Value, outer: Option<Scope>, path: &str) -> Option<Scope> {
        let entries: Vec<&Value> = match ctx {
            Value::String(_) => vec![ctx],
            Value::Array(a) => a.iter().collect(),
            _ => {
                self.problem(
                    path,
                    "context-string-or-array",
                    "@context must be a string or an array of strings",
                );
                return None;
            }
        };
        let mut scope = outer;
        let mut ok = true;
        for entry in &entries {
            let Some(text) = entry.as_str() else {
                self.problem(
                    path,
                    "context-array-all-strings",
                    "every @context entry must be a string",
                );
                ok = false;
                continue;
            };
            match text {
                "dtmi:dtdl:context;2" | "dtmi:dtdl:context;3" => {
                    let version = if text.ends_with('2') { 2 } else { 3 };
                    scope = Some(Scope {
                        version,
                        semantic: version == 2,
                        undefined_extension: scope.is_some_and(|s| s.undefined_extension),
                    });
                    continue;
                }
                _ => {}
            }
            if scope.is_none() && text == "dtmi:iotcentral:context;2" {
                // DTDL v2 tolerates the IoT Central context before the DTDL one.
                continue;
            }
            let Some(s) = scope.as_mut() else {
                self.problem(
                    path,
                    "context-dtdl-first",
                    format!("the DTDL context must come before {text:?} in the top-level @context"),
                );
                ok = false;
                continue;
            };
            if dtmi::check(text, false).is_err() {
                self.problem(
                    path,
                    "context-dtmi-with-version",
                    format!("@context entry {text:?} is not a DTMI with a version"),
                );
                ok = false;
                continue;
            }
            match (s.version, text) {
                (3, "dtmi:dtdl:extension:quantitativeTypes;1") => s.semantic = true,
                (3, "dtmi:dtdl:extension:historization;1")
                | (3, "dtmi:dtdl:extension:annotation;1")
                | (3, "dtmi:dtdl:extension:overriding;1")
                | (3, "dtmi:dtdl:extension:mqtt;1")
                | (3, "dtmi:dtdl:extension:mqtt;2")
                | (3, "dtmi:dtdl:extension:requirement;1")
                | (2, "dtmi:iotcentral:context;2") => {}
                _ if text.starts_with("dtmi:dtdl:") => {
                    self.problem(
                        path,
                        "context-unknown-dtdl",
                        format!("{text:?} is not a DTDL context or extension"),
                    );
                    ok = false;
                }
                _ if self.opts.allow_undefined_extensions => s.undefined_extension = true,
                _ => {
                    self.problem(
                        path,
                        "context-undefined-extension",
                        format!("@context names the unknown extension {text:?}"),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        match scope {
            Some(s) => Some(s),
            None => {
                self.problem(
                    path,
                    "context-dtdl-top-level",
                    "the top-level @context must start with \"dtmi:dtdl:context;2\" or \";3\"",
                );
                None
            }
        }
    }

    /// Parses one element object. `allowed` are the classes its position admits.
    #[expect(
        clippy::too_many_arguments,
        reason = "the walk's state (scope, path, parent, depth, position) is threaded explicitly"
    )]
    fn element(
        &mut self,
        obj: &'a Map<String, Value>,
        allowed: &[Class],
        outer: Scope,
        path: String,
        parent: Option<usize>,
        depth: usize,
        via: &'static str,
    ) -> Option<usize> {
        // Elements in `schemas` are referenced by id, so they need one.
        let id_required = via == "schemas";
        if depth > MAX_JSON_DEPTH {
            self.problem(
                &path,
                "max-json-depth",
                format!("elements nested deeper than {MAX_JSON_DEPTH} levels"),
            );
            return None;
        }
        if self.elems.len() >= MAX_ELEMENTS {
            if self.elems.len() == MAX_ELEMENTS {
                self.problem(
                    &path,
                    "max-elements",
                    format!("more than {MAX_ELEMENTS} elements in one batch"),
                );
            }
            return None;
        }
        let mut scope = outer;
        if parent.is_some()
            && let Some(ctx) = obj.get("@context")
        {
            match ctx {
                Value::String(_) | Value::Array(_) => {
                    scope = self.context(ctx, Some(outer), &path)?
                }
                _ => {
                    self.problem(
                        &path,
                        "context-string-or-array",
                        "@context must be a string or an array of strings",
                    );
                    return None;
                }
            }
        }
        let version = scope.version;
        if version != outer.version {
            // A v3 element may hold v2 contents, bases, component interfaces,
            // relationship properties and schemas of values; v2 cannot hold v3.
            let allowed_down = outer.version == 3
                && matches!(
                    via,
                    "contents" | "extends" | "schema" | "elementSchema" | "properties"
                );
            if !allowed_down {
                self.problem(
                    &path,
                    "context-version-mix",
                    format!(
                        "a DTDL v{} element may not appear here inside DTDL v{}",
                        version, outer.version
                    ),
                );
                return None;
            }
        }
        let mut ok = true;

        // Keywords other than @id, @type and @context.
        for key in obj.keys().filter(|k| k.starts_with('@')) {
            match key.as_str() {
                "@id" | "@type" | "@context" => {}
                "@graph" => {
                    self.problem(&path, "invalid-keyword", "@graph is not allowed in DTDL");
                    ok = false;
                }
                _ if version >= 3 => {
                    self.problem(
                        &path,
                        "invalid-keyword",
                        format!("the JSON-LD keyword {key} is not allowed here"),
                    );
                    ok = false;
                }
                _ => {}
            }
        }

        // @type.
        let types: Vec<&Value> = match obj.get("@type") {
            None => vec![],
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
        };
        if matches!(obj.get("@type"), Some(Value::Array(a)) if a.is_empty()) {
            self.problem(&path, "type-string-or-array", "@type must not be empty");
            ok = false;
        }
        let mut class: Option<Class> = None;
        let mut semantic_types = Vec::new();
        let mut extra_types = Vec::new();
        let mut undefined_cotype = false;
        let mut conflict = false;
        for t in &types {
            let Some(text) = t.as_str() else {
                self.problem(
                    &path,
                    "type-string-or-array",
                    "@type must be a string or an array of strings",
                );
                ok = false;
                continue;
            };
            if let Some((c, _)) = Class::lookup(text, version) {
                if !allowed.contains(&c) {
                    self.problem(
                        &path,
                        "type-conformance",
                        format!(
                            "{} is not allowed here; expected {}",
                            c.term(),
                            terms_list(allowed)
                        ),
                    );
                    ok = false;
                    conflict = true;
                } else if class.is_some_and(|old| old != c) {
                    self.problem(
                        &path,
                        "type-material",
                        "@type names more than one DTDL class",
                    );
                    ok = false;
                    conflict = true;
                } else {
                    class = Some(c);
                }
                continue;
            }
            if scope.semantic
                && let Some(st) = semantic::lookup_type(text, version)
            {
                if !semantic_types.iter().any(|s: &String| s == st) {
                    semantic_types.push(st.to_owned());
                }
                continue;
            }
            let undefined_ok = scope.undefined_extension;
            if is_dtmi_like(text) {
                if dtmi::check(text, version >= 3).is_err() {
                    self.problem(
                        &path,
                        "type-invalid-dtmi",
                        format!("@type {text:?} is not a valid DTMI"),
                    );
                    ok = false;
                } else if undefined_ok {
                    undefined_cotype = true;
                    extra_types.push(text.to_owned());
                } else {
                    self.problem(
                        &path,
                        "type-irrelevant",
                        format!("@type {text:?} is not a class that applies here"),
                    );
                    ok = false;
                }
            } else if text.contains(':') {
                if version == 2 {
                    undefined_cotype = true;
                    extra_types.push(text.to_owned());
                } else {
                    self.problem(
                        &path,
                        "type-not-dtmi-nor-term",
                        format!("@type {text:?} is neither a DTMI nor a term"),
                    );
                    ok = false;
                }
            } else if is_defined_term(text, version) || semantic::is_term(text, version) {
                if undefined_ok {
                    undefined_cotype = true;
                    extra_types.push(text.to_owned());
                } else {
                    self.problem(
                        &path,
                        "type-irrelevant",
                        format!("@type {text:?} does not apply here"),
                    );
                    ok = false;
                }
            } else if version == 2 || undefined_ok {
                undefined_cotype = true;
                extra_types.push(text.to_owned());
            } else {
                self.problem(
                    &path,
                    "type-undefined-term",
                    format!("@type {text:?} is not a defined term"),
                );
                ok = false;
            }
        }
        if conflict {
            return None;
        }
        let class = match class {
            Some(c) => c,
            // Only the parts of schemas and commands may leave their
            // (then implied) @type out.
            None if types.is_empty()
                && allowed.len() == 1
                && matches!(
                    allowed[0],
                    Class::EnumValue
                        | Class::Field
                        | Class::MapKey
                        | Class::MapValue
                        | Class::CommandPayload
                        | Class::CommandRequest
                        | Class::CommandResponse
                ) =>
            {
                allowed[0]
            }
            None => {
                self.problem(
                    &path,
                    "type-required",
                    format!("@type must name one of {}", terms_list(allowed)),
                );
                return None;
            }
        };
        if semantic_types.len() > 1 {
            self.problem(
                &path,
                "multiple-semantic-types",
                "at most one semantic type is allowed",
            );
            ok = false;
        }
        if !semantic_types.is_empty() && !semantic::applies_to(class, version) {
            self.problem(
                &path,
                "semantic-type-class",
                format!("semantic types do not apply to {}", class.term()),
            );
            ok = false;
        }

        // @id.
        let mut id = None;
        match obj.get("@id") {
            None if id_required || class == Class::Interface => {
                self.problem(
                    &path,
                    "id-required",
                    format!("{} here must have an @id", class.term()),
                );
                ok = false;
            }
            None => {}
            Some(Value::String(s)) => {
                let max = if class == Class::Interface {
                    metamodel::limits(version).interface_id_len
                } else {
                    dtmi::MAX_DTMI_LEN
                };
                if let Err(reason) = dtmi::check(s, version >= 3) {
                    self.problem(
                        &path,
                        "id-is-dtmi",
                        format!("@id {s:?} is not a valid DTMI: {reason}"),
                    );
                    ok = false;
                } else if s.len() > max {
                    self.problem(
                        &path,
                        "id-too-long",
                        format!("@id of {} must be at most {max} characters", class.term()),
                    );
                    ok = false;
                } else if reserved(s) {
                    self.problem(
                        &path,
                        "dtmi-reserved",
                        format!("@id {s:?} uses a reserved prefix (dtmi:dtdl:, dtmi:standard:)"),
                    );
                    ok = false;
                } else {
                    id = Some(s.clone());
                }
            }
            Some(_) => {
                self.problem(&path, "id-is-string", "@id must be a single string");
                ok = false;
            }
        }

        let idx = self.elems.len();
        let root = if parent.is_none() { idx } else { self.root };
        self.elems.push(Elem {
            class,
            version,
            id,
            json: obj,
            doc: self.doc,
            path: path.clone(),
            root,
            parent,
            props: Vec::new(),
            semantic_types,
            extra_types,
        });

        // Properties.
        let defs = metamodel::properties(class, version);
        let mut seen: Vec<&'static str> = Vec::new();
        let mut props: Vec<(&'static str, Vec<Val>)> = Vec::new();
        for (key, value) in obj {
            if key.starts_with('@') {
                continue;
            }
            let found = defs
                .iter()
                .find(|d| d.term == key.as_str())
                .map(|d| (d, false))
                .or_else(|| {
                    let rest = key.strip_prefix("dtmi:dtdl:property:")?;
                    let (name, ver) = rest.rsplit_once(';')?;
                    if ver != metamodel::version_str(version) {
                        return None;
                    }
                    defs.iter().find(|d| d.term == name).map(|d| (d, true))
                });
            let Some((def, _via_dtmi)) = found else {
                let cotype_ok = undefined_cotype;
                if is_dtmi_like(key) {
                    if dtmi::check(key, version >= 3).is_err() {
                        if !(version == 2 && cotype_ok) {
                            self.problem(
                                &path,
                                "property-invalid-dtmi",
                                format!("property key {key:?} is not a valid DTMI"),
                            );
                            ok = false;
                        }
                    } else if !cotype_ok {
                        self.problem(
                            &path,
                            "property-irrelevant",
                            format!("{key:?} is not a property of {}", class.term()),
                        );
                        ok = false;
                    }
                } else if key.contains(':') {
                    if !(version == 2 && cotype_ok) {
                        self.problem(
                            &path,
                            "property-not-dtmi-nor-term",
                            format!("property key {key:?} is neither a DTMI nor a term"),
                        );
                        ok = false;
                    }
                } else if !cotype_ok {
                    let rule = if metamodel::is_any_property_term(key, version)
                        || is_defined_term(key, version)
                    {
                        "property-irrelevant"
                    } else {
                        "property-undefined-term"
                    };
                    self.problem(
                        &path,
                        rule,
                        format!("{key:?} is not a property of {}", class.term()),
                    );
                    ok = false;
                }
                continue;
            };
            if seen.contains(&def.term) {
                self.problem(
                    &path,
                    "property-term-and-dtmi",
                    format!("{} is given both as a term and as a DTMI", def.term),
                );
                ok = false;
                continue;
            }
            seen.push(def.term);
            let child_path = if path.is_empty() {
                def.term.to_owned()
            } else {
                format!("{path}.{}", def.term)
            };
            match self.property(def, value, scope, &child_path, idx, depth) {
                Some(vals) => props.push((def.term, vals)),
                None => ok = false,
            }
        }
        for def in defs {
            let present = props.iter().find(|(t, _)| *t == def.term);
            match present {
                None if def.required && !seen.contains(&def.term) => {
                    self.problem(
                        &path,
                        "required-property",
                        format!("{} requires property {}", class.term(), def.term),
                    );
                    ok = false;
                }
                Some((_, vals)) => {
                    // A multi-valued property is a set: the same reference
                    // given twice counts once.
                    let count = if def.max_count == Some(1) {
                        vals.len()
                    } else {
                        let refs: HashSet<&str> = vals
                            .iter()
                            .filter_map(|v| match v {
                                Val::Ref(r) => Some(r.as_str()),
                                _ => None,
                            })
                            .collect();
                        vals.iter().filter(|v| !matches!(v, Val::Ref(_))).count() + refs.len()
                    };
                    if let Some(max) = def.max_count
                        && count > max
                    {
                        self.problem(
                            &path,
                            "max-count",
                            format!("{} allows at most {max} values, found {count}", def.term),
                        );
                        ok = false;
                    }
                    if vals.len() < def.min_count.max(usize::from(def.required)) {
                        self.problem(
                            &path,
                            "min-count",
                            format!(
                                "{} needs at least {} value(s)",
                                def.term,
                                def.min_count.max(1)
                            ),
                        );
                        ok = false;
                    }
                }
                None => {}
            }
        }
        // A semantic type needs a unit; a unit needs a semantic type.
        let has_unit = props.iter().any(|(t, v)| *t == "unit" && !v.is_empty());
        if let Some(st) = self.elems[idx].semantic_types.first().cloned()
            && !has_unit
        {
            self.problem(
                &path,
                "semantic-type-unit",
                format!("semantic type {st} requires a unit"),
            );
            ok = false;
        }
        self.elems[idx].props = props;
        if ok { Some(idx) } else { None }
    }

    /// Parses the value(s) of one property.
    fn property(
        &mut self,
        def: &PropDef,
        value: &'a Value,
        scope: Scope,
        path: &str,
        owner: usize,
        depth: usize,
    ) -> Option<Vec<Val>> {
        let version = scope.version;
        let limits = metamodel::limits(version);
        match def.kind {
            Kind::Elements(classes, terms) => {
                let items: Vec<(&'a Value, String)> = match value {
                    Value::Array(_) => flatten(value)
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (v, format!("{path}[{i}]")))
                        .collect(),
                    v => vec![(v, path.to_owned())],
                };
                let mut out = Vec::new();
                let mut ok = true;
                for (item, item_path) in items {
                    match item {
                        Value::Object(o) if !classes.is_empty() => {
                            match self.element(
                                o,
                                classes,
                                scope,
                                item_path,
                                Some(owner),
                                depth + 1,
                                def.term,
                            ) {
                                Some(i) => out.push(Val::Elem(i)),
                                None => ok = false,
                            }
                        }
                        Value::String(s) => {
                            let prim = match terms {
                                Terms::None => None,
                                _ => metamodel::lookup_primitive(s, version),
                            };
                            // Geospatial schemas are predefined Objects, so they
                            // may also be listed among an interface's `schemas`.
                            let prim = prim.or_else(|| {
                                metamodel::lookup_primitive(s, version).filter(|(t, _)| {
                                    def.term == "schemas" && metamodel::is_geospatial(t)
                                })
                            });
                            let prim_ok = match (terms, prim) {
                                (Terms::None, Some(_)) => true,
                                (Terms::Primitive, Some(_)) => true,
                                (Terms::StringOnly, Some((t, _))) => t == "string",
                                (Terms::IntegerOrString, Some((t, _))) => {
                                    t == "integer" || t == "string"
                                }
                                _ => false,
                            };
                            if prim_ok {
                                if let Some((t, _)) = prim {
                                    out.push(Val::Prim(t));
                                }
                            } else if !classes.is_empty() && dtmi::check(s, version >= 3).is_ok() {
                                out.push(Val::Ref(s.clone()));
                            } else {
                                let allowed = match terms {
                                    Terms::Primitive => {
                                        "a primitive schema, a schema object or a DTMI".to_owned()
                                    }
                                    Terms::StringOnly => "\"string\"".to_owned(),
                                    Terms::IntegerOrString => {
                                        "\"integer\" or \"string\"".to_owned()
                                    }
                                    Terms::None => {
                                        format!("a {} object or its DTMI", terms_list(classes))
                                    }
                                };
                                self.problem(
                                    &item_path,
                                    "property-value",
                                    format!(
                                        "{s:?} is not allowed for {}; expected {allowed}",
                                        def.term
                                    ),
                                );
                                ok = false;
                            }
                        }
                        _ => {
                            self.problem(
                                &item_path,
                                "property-value",
                                format!(
                                    "{} must be {}",
                                    def.term,
                                    if classes.is_empty() {
                                        "a string"
                                    } else {
                                        "an object or a string"
                                    }
                                ),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            _ if value.is_array() && def.kind != Kind::LangString => {
                // JSON-LD: a literal property may be written as an array of values.
                let mut out = Vec::new();
                for item in flatten(value) {
                    out.extend(self.property(def, item, scope, path, owner, depth)?);
                }
                Some(out)
            }
            Kind::Name | Kind::Comment | Kind::Target | Kind::CommandType | Kind::Unit => {
                let s = if def.kind == Kind::Target {
                    value
                } else {
                    self.literal(value, "string", path, def.term, version)?
                };
                let Value::String(s) = s else {
                    self.problem(
                        path,
                        "property-string",
                        format!("{} must be a string", def.term),
                    );
                    return None;
                };
                match def.kind {
                    Kind::Name => {
                        if s.chars().count() > limits.name_len {
                            self.problem(
                                path,
                                "string-length",
                                format!("name must be at most {} characters", limits.name_len),
                            );
                            return None;
                        }
                        if !name_ok(s) {
                            self.problem(path, "name-pattern", format!("name {s:?} must start with a letter, contain only letters, digits and underscores, and not end with an underscore"));
                            return None;
                        }
                    }
                    Kind::Comment if s.chars().count() > limits.comment_len => {
                        self.problem(
                            path,
                            "string-length",
                            format!("comment must be at most {} characters", limits.comment_len),
                        );
                        return None;
                    }
                    Kind::Target => {
                        if let Err(reason) = dtmi::check(s, version >= 3) {
                            self.problem(
                                path,
                                "target-is-dtmi",
                                format!("target {s:?} is not a DTMI: {reason}"),
                            );
                            return None;
                        }
                    }
                    Kind::CommandType => {
                        let plain = s
                            .strip_prefix("dtmi:dtdl:instance:CommandType:")
                            .and_then(|r| r.rsplit_once(';'))
                            .filter(|(_, v)| *v == metamodel::version_str(version))
                            .map_or(s.as_str(), |(n, _)| n);
                        if plain != "synchronous" && plain != "asynchronous" {
                            self.problem(
                                path,
                                "command-type",
                                "commandType must be \"synchronous\" or \"asynchronous\"",
                            );
                            return None;
                        }
                    }
                    Kind::Unit => {
                        // Keep the canonical name of a known unit; an unknown
                        // one is judged once the element's co-types are known
                        // (an undefined co-type may be what defines it).
                        let unit = if scope.semantic {
                            semantic::lookup_unit(s, version)
                        } else {
                            None
                        };
                        return Some(vec![Val::Str(
                            unit.map_or_else(|| s.clone(), str::to_owned),
                        )]);
                    }
                    _ => {}
                }
                Some(vec![Val::Str(s.clone())])
            }
            Kind::LangString => {
                let max = if def.term == "displayName" {
                    limits.display_name_len
                } else {
                    limits.description_len
                };
                self.lang_string(value, max, path, version)
                    .map(|l| vec![Val::Lang(l)])
            }
            Kind::Bool => match self.literal(value, "boolean", path, def.term, version)? {
                Value::Bool(b) => Some(vec![Val::Bool(*b)]),
                _ => {
                    self.problem(
                        path,
                        "property-boolean",
                        format!("{} must be true or false", def.term),
                    );
                    None
                }
            },
            Kind::MinMultiplicity | Kind::MaxMultiplicity => {
                let v = self.literal(value, "integer", path, def.term, version)?;
                let Some(n) = v.as_i64().filter(|_| v.is_i64() || v.is_u64()) else {
                    self.problem(
                        path,
                        "property-integer",
                        format!("{} must be an integer", def.term),
                    );
                    return None;
                };
                if def.kind == Kind::MinMultiplicity && n != 0 {
                    self.problem(path, "min-multiplicity", "minMultiplicity must be 0");
                    return None;
                }
                if def.kind == Kind::MaxMultiplicity {
                    if n < 1 {
                        self.problem(
                            path,
                            "max-multiplicity",
                            "maxMultiplicity must be at least 1",
                        );
                        return None;
                    }
                    if let Some(max) = limits.max_multiplicity
                        && n > max
                    {
                        self.problem(
                            path,
                            "max-multiplicity",
                            format!("maxMultiplicity must be at most {max}"),
                        );
                        return None;
                    }
                }
                Some(vec![Val::Int(n)])
            }
            Kind::EnumValue => {
                let v = match value {
                    Value::Object(_) => {
                        let hinted = match value.get("@type").and_then(Value::as_str) {
                            Some(t) if t.ends_with("integer") => "integer",
                            _ => "string",
                        };
                        self.literal(value, hinted, path, def.term, version)?
                    }
                    v => v,
                };
                match v {
                    Value::String(_) => Some(vec![Val::Literal(v.clone())]),
                    Value::Number(n) if n.is_i64() => Some(vec![Val::Literal(v.clone())]),
                    _ => {
                        self.problem(
                            path,
                            "enum-value",
                            "enumValue must be an integer or a string",
                        );
                        None
                    }
                }
            }
        }
    }

    /// Unwraps a JSON-LD value object (`{"@value": 3, "@type": "xsd:integer"}`).
    fn literal(
        &mut self,
        value: &'a Value,
        xsd: &str,
        path: &str,
        term: &str,
        version: u32,
    ) -> Option<&'a Value> {
        let Value::Object(o) = value else {
            return Some(value);
        };
        let Some(inner) = o.get("@value") else {
            self.problem(
                path,
                "value-object",
                format!("{term} as an object must have @value"),
            );
            return None;
        };
        for key in o.keys() {
            // DTDL v2 ignores other members except the structural keywords.
            let tolerated = version == 2
                && key.starts_with('@')
                && !matches!(key.as_str(), "@id" | "@context" | "@graph");
            if key != "@value" && key != "@type" && !tolerated {
                self.problem(
                    path,
                    "value-object",
                    format!("{term} as an object may have only @value and @type"),
                );
                return None;
            }
        }
        if let Some(t) = o.get("@type") {
            let t = match t {
                Value::Array(a) if a.len() == 1 => &a[0],
                t => t,
            };
            let expected_short = format!("xsd:{xsd}");
            let expected_long = format!("http://www.w3.org/2001/XMLSchema#{xsd}");
            if t.as_str() != Some(expected_short.as_str())
                && t.as_str() != Some(expected_long.as_str())
            {
                self.problem(
                    path,
                    "value-object-type",
                    format!("{term} value object must have @type {expected_short}"),
                );
                return None;
            }
        }
        if matches!(inner, Value::Object(_) | Value::Array(_) | Value::Null) {
            self.problem(
                path,
                "value-object",
                format!("{term} @value must be a literal"),
            );
            return None;
        }
        Some(inner)
    }

    fn lang_string(
        &mut self,
        value: &Value,
        max: usize,
        path: &str,
        version: u32,
    ) -> Option<LangString> {
        let mut out = LangString::new();
        let mut add = |this: &mut Self, lang: &str, text: &str| -> bool {
            if text.chars().count() > max {
                this.problem(
                    path,
                    "string-length",
                    format!("text must be at most {max} characters"),
                );
                return false;
            }
            if out.insert(lang.to_owned(), text.to_owned()).is_some() {
                this.problem(
                    path,
                    "lang-string-unique",
                    format!("language {lang:?} is given twice"),
                );
                return false;
            }
            true
        };
        match value {
            Value::String(s) => {
                if !add(self, "en", s) {
                    return None;
                }
            }
            Value::Object(o) => {
                for (lang, text) in o {
                    if !language_ok(lang) {
                        self.problem(
                            path,
                            "lang-string-language",
                            format!("{lang:?} is not a language code"),
                        );
                        return None;
                    }
                    let Some(text) = text.as_str() else {
                        self.problem(path, "lang-string-value", "localized texts must be strings");
                        return None;
                    };
                    if !add(self, lang, text) {
                        return None;
                    }
                }
            }
            Value::Array(_) => {
                let mut defaults = 0;
                for item in flatten(value) {
                    match item {
                        Value::String(s) => {
                            defaults += 1;
                            if defaults > 1 {
                                self.problem(
                                    path,
                                    "lang-string-one-default",
                                    "only one text may omit its language",
                                );
                                return None;
                            }
                            if !add(self, "en", s) {
                                return None;
                            }
                        }
                        Value::Object(o) => {
                            for key in o.keys() {
                                if key != "@value"
                                    && key != "@language"
                                    && (version >= 3
                                        || !key.starts_with('@')
                                        || matches!(key.as_str(), "@id" | "@context" | "@graph"))
                                {
                                    self.problem(
                                        path,
                                        "lang-string-keywords",
                                        "localized text objects may have only @value and @language",
                                    );
                                    return None;
                                }
                            }
                            let Some(text) = o.get("@value") else {
                                self.problem(
                                    path,
                                    "lang-string-value",
                                    "localized text objects need @value",
                                );
                                return None;
                            };
                            let Some(text) = text.as_str() else {
                                self.problem(path, "lang-string-value", "@value must be a string");
                                return None;
                            };
                            let lang = match o.get("@language") {
                                Some(Value::String(l)) => {
                                    if !language_ok(l) {
                                        self.problem(
                                            path,
                                            "lang-string-language",
                                            format!("{l:?} is not a language code"),
                                        );
                                        return None;
                                    }
                                    l.as_str()
                                }
                                Some(_) => {
                                    self.problem(
                                        path,
                                        "lang-string-language",
                                        "@language must be a string",
                                    );
                                    return None;
                                }
                                None => {
                                    defaults += 1;
                                    if defaults > 1 {
                                        self.problem(
                                            path,
                                            "lang-string-one-default",
                                            "only one text may omit its language",
                                        );
                                        return None;
                                    }
                                    "en"
                                }
                            };
                            if !add(self, lang, text) {
                                return None;
                            }
                        }
                        _ => {
                            self.problem(
                                path,
                                "lang-string-element",
                                "localized text entries must be strings or objects",
                            );
                            return None;
                        }
                    }
                }
            }
            _ => {
                self.problem(
                    path,
                    "lang-string",
                    "must be a string, a language map or an array of localized texts",
                );
                return None;
            }
        }
        Some(out)
    }

    /// Second pass: references and whole-graph rules. Returns the id index.
    fn resolve(&mut self) -> HashMap<String, usize> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        for i in 0..self.elems.len() {
            let Some(id) = self.elems[i].id.clone() else {
                continue;
            };
            self.set_location(i);
            if ids.contains_key(&id) {
                let path = self.elems[i].path.clone();
                self.problem(
                    &path,
                    "id-duplicate",
                    format!("@id {id} is defined more than once"),
                );
                continue;
            }
            if self.known.has_id(&id) {
                let path = self.elems[i].path.clone();
                self.problem(
                    &path,
                    "id-exists",
                    format!("model {id} already exists; delete it first to replace it"),
                );
                continue;
            }
            ids.insert(id, i);
        }

        // References: existence, class conformance, partitions.
        for i in 0..self.elems.len() {
            let class = self.elems[i].class;
            let version = self.elems[i].version;
            let defs = metamodel::properties(class, version);
            // Only references need resolving; copy just those out so the
            // arena can be borrowed mutably for reporting.
            let refs: Vec<(&'static str, String)> = self.elems[i]
                .props
                .iter()
                .flat_map(|(term, vals)| {
                    vals.iter().filter_map(move |v| match v {
                        Val::Ref(r) => Some((*term, r.clone())),
                        _ => None,
                    })
                })
                .collect();
            for (term, target) in &refs {
                let term = *term;
                let Some(def) = defs.iter().find(|d| d.term == term) else {
                    continue;
                };
                let Kind::Elements(classes, _) = def.kind else {
                    continue;
                };
                {
                    self.set_location(i);
                    let path = format!(
                        "{}{}{}",
                        self.elems[i].path,
                        if self.elems[i].path.is_empty() {
                            ""
                        } else {
                            "."
                        },
                        term
                    );
                    match ids.get(target) {
                        Some(&t) => {
                            let tc = self.elems[t].class;
                            if !classes.contains(&tc) {
                                self.problem(
                                    &path,
                                    "type-conformance",
                                    format!(
                                        "{target} is a {}, but {term} needs {}",
                                        tc.term(),
                                        terms_list(classes)
                                    ),
                                );
                            } else if tc != Class::Interface
                                && self.elems[t].root != self.elems[i].root
                            {
                                self.problem(&path, "reference-partition", format!("{target} is defined inside another interface and cannot be referenced from here"));
                            }
                        }
                        None => {
                            if classes.contains(&Class::Interface)
                                && self.known.has_interface(target)
                            {
                                continue;
                            }
                            if self.known.has_id(target) {
                                self.problem(&path, "reference-partition", format!("{target} is defined inside another interface and cannot be referenced from here"));
                            } else {
                                self.problem(
                                    &path,
                                    "unresolved-reference",
                                    format!(
                                        "{target} is not defined in this batch or the model set"
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
        // The graph rules still run after reference problems (unresolved
        // targets are simply not followed), so one upload reports everything.
        self.check_extends(&ids);
        self.check_schemas(&ids);
        self.check_names(&ids);
        self.check_semantics();
        ids
    }

    fn set_location(&mut self, i: usize) {
        self.doc = self.elems[i].doc;
        let root = self.elems[i].root;
        self.model = self.elems[root].id.clone();
    }

    /// Targets of an element-valued property, resolved within the batch.
    fn targets(&self, ids: &HashMap<String, usize>, i: usize, term: &str) -> Vec<Target> {
        self.elems[i]
            .get(term)
            .iter()
            .filter_map(|v| match v {
                Val::Elem(e) => Some(Target::Batch(*e)),
                Val::Ref(r) => Some(
                    ids.get(r)
                        .map_or_else(|| Target::Known(r.clone()), |e| Target::Batch(*e)),
                ),
                _ => None,
            })
            .collect()
    }

    fn check_extends(&mut self, ids: &HashMap<String, usize>) {
        // Depth of the extends hierarchy and cycles, over batch and known models.
        let mut memo: HashMap<String, Option<usize>> = HashMap::new();
        for i in 0..self.elems.len() {
            if self.elems[i].class != Class::Interface {
                continue;
            }
            let Some(id) = self.elems[i].id.clone() else {
                continue;
            };
            let mut stack = Vec::new();
            let depth = self.extends_depth(ids, &id, &mut memo, &mut stack);
            self.set_location(i);
            let path = self.elems[i].path.clone();
            match depth {
                None => self.problem(
                    &path,
                    "extends-cycle",
                    format!("{id} extends itself (directly or through other interfaces)"),
                ),
                Some(d) => {
                    let max = metamodel::limits(self.elems[i].version).extends_depth;
                    if d > max {
                        self.problem(
                            &path,
                            "extends-depth",
                            format!(
                                "extends chain of {id} is {d} levels deep; at most {max} allowed"
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Length of the longest extends chain below `id`; `None` on a cycle.
    fn extends_depth(
        &self,
        ids: &HashMap<String, usize>,
        id: &str,
        memo: &mut HashMap<String, Option<usize>>,
        stack: &mut Vec<String>,
    ) -> Option<usize> {
        if let Some(d) = memo.get(id) {
            return *d;
        }
        if stack.iter().any(|s| s == id) || stack.len() > MAX_JSON_DEPTH * 4 {
            return None;
        }
        stack.push(id.to_owned());
        let parents: Vec<String> = match ids.get(id) {
            Some(&i) => self
                .targets(ids, i, "extends")
                .into_iter()
                .filter_map(|t| match t {
                    Target::Batch(e) => self.elems[e].id.clone(),
                    Target::Known(s) => Some(s),
                })
                .collect(),
            None => self.known.extends_of(id),
        };
        let mut depth = Some(0);
        for p in parents {
            match self.extends_depth(ids, &p, memo, stack) {
                None => {
                    depth = None;
                    break;
                }
                Some(d) => depth = depth.map(|x: usize| x.max(d + 1)),
            }
        }
        stack.pop();
        memo.insert(id.to_owned(), depth);
        depth
    }

    /// Complex schema nesting depth, self reference, and the v2 rule that
    /// properties do not use arrays.
    fn check_schemas(&mut self, ids: &HashMap<String, usize>) {
        let mut memo: HashMap<usize, Option<usize>> = HashMap::new();
        for i in 0..self.elems.len() {
            if !self.elems[i].class.is_complex_schema() {
                continue;
            }
            let mut stack = Vec::new();
            let depth = self.schema_depth(ids, i, &mut memo, &mut stack);
            self.set_location(i);
            let path = self.elems[i].path.clone();
            match depth {
                None => self.problem(&path, "schema-self-reference", "a schema contains itself"),
                Some(d) => {
                    let max = metamodel::limits(self.elems[i].version).schema_depth;
                    if d > max {
                        self.problem(
                            &path,
                            "schema-depth",
                            format!(
                                "complex schemas nested {d} levels deep; at most {max} allowed"
                            ),
                        );
                    }
                }
            }
        }
        // DTDL v2: a Property's schema may not be or contain an Array.
        for i in 0..self.elems.len() {
            if self.elems[i].class != Class::Property || self.elems[i].version != 2 {
                continue;
            }
            let mut seen = HashSet::new();
            if self.contains_array(ids, i, &mut seen) {
                self.set_location(i);
                let path = self.elems[i].path.clone();
                self.problem(
                    &path,
                    "property-schema-array",
                    "in DTDL v2 a Property's schema may not be or contain an Array",
                );
            }
        }
        // A component's interface may not itself contain components.
        for i in 0..self.elems.len() {
            if self.elems[i].class != Class::Component {
                continue;
            }
            for t in self.targets(ids, i, "schema") {
                let has = match t {
                    Target::Batch(e) => self.interface_has_component(ids, e, &mut HashSet::new()),
                    Target::Known(s) => self.known.has_component(&s),
                };
                if has {
                    self.set_location(i);
                    let path = self.elems[i].path.clone();
                    self.problem(
                        &path,
                        "component-nesting",
                        "the schema of a Component may not contain Components",
                    );
                }
            }
        }
    }

    fn interface_has_component(
        &self,
        ids: &HashMap<String, usize>,
        e: usize,
        visited: &mut HashSet<usize>,
    ) -> bool {
        // Each interface is looked at once, so diamond-shaped hierarchies
        // stay linear.
        if !visited.insert(e) {
            return false;
        }
        let own = self
            .targets(ids, e, "contents")
            .into_iter()
            .any(|t| match t {
                Target::Batch(c) => self.elems[c].class == Class::Component,
                Target::Known(_) => false,
            });
        own || self
            .targets(ids, e, "extends")
            .into_iter()
            .any(|t| match t {
                Target::Batch(p) => self.interface_has_component(ids, p, visited),
                Target::Known(s) => self.known.has_component(&s),
            })
    }

    /// Batch elements that are schemas used directly by element `i`.
    fn schema_children(&self, ids: &HashMap<String, usize>, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for term in ["schema", "elementSchema", "fields", "mapValue"] {
            for t in self.targets(ids, i, term) {
                if let Target::Batch(e) = t {
                    out.push(e);
                }
            }
        }
        out
    }

    fn contains_array(
        &self,
        ids: &HashMap<String, usize>,
        e: usize,
        seen: &mut HashSet<usize>,
    ) -> bool {
        if !seen.insert(e) {
            return false;
        }
        if self.elems[e].class == Class::Array {
            return true;
        }
        // Geospatial schemas are arrays of coordinates underneath.
        let geo = ["schema", "elementSchema"].iter().any(|t| {
            self.elems[e].get(t).iter().any(|v| {
                matches!(
                    v,
                    Val::Prim(
                        "point"
                            | "multiPoint"
                            | "lineString"
                            | "multiLineString"
                            | "polygon"
                            | "multiPolygon"
                    )
                )
            })
        });
        if geo {
            return true;
        }
        self.schema_children(ids, e)
            .into_iter()
            .any(|c| self.contains_array(ids, c, seen))
    }

    fn schema_depth(
        &self,
        ids: &HashMap<String, usize>,
        e: usize,
        memo: &mut HashMap<usize, Option<usize>>,
        stack: &mut Vec<usize>,
    ) -> Option<usize> {
        if let Some(d) = memo.get(&e) {
            return *d;
        }
        if stack.contains(&e) || stack.len() > MAX_JSON_DEPTH {
            return None;
        }
        stack.push(e);
        let own = usize::from(self.elems[e].class.is_complex_schema());
        // Geospatial schemas are predefined Objects over nested coordinate
        // arrays, so they count with their own depth.
        let geo = ["schema", "elementSchema"]
            .iter()
            .flat_map(|t| self.elems[e].get(t))
            .filter_map(|v| match v {
                Val::Prim(p) => Some(metamodel::geospatial_depth(p)),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut depth = Some(own + geo);
        for c in self.schema_children(ids, e) {
            match self.schema_depth(ids, c, memo, stack) {
                None => {
                    depth = None;
                    break;
                }
                Some(d) => depth = depth.map(|x| x.max(own + d)),
            }
        }
        stack.pop();
        memo.insert(e, depth);
        depth
    }

    /// Name uniqueness among contents (with inherited ones), fields, enum
    /// values and relationship properties; enum values match their schema.
    fn check_names(&mut self, ids: &HashMap<String, usize>) {
        for i in 0..self.elems.len() {
            let class = self.elems[i].class;
            let term = match class {
                Class::Interface => "contents",
                Class::Object => "fields",
                Class::Enum => "enumValues",
                Class::Relationship => "properties",
                _ => continue,
            };
            let mut names: Vec<(String, Option<usize>)> = Vec::new();
            if class == Class::Interface {
                let mut visited = HashSet::new();
                self.collect_content_names(ids, i, &mut names, &mut visited, 0);
            } else {
                for t in self.targets(ids, i, term) {
                    if let Target::Batch(c) = t
                        && let Some(Val::Str(n)) = self.elems[c].get("name").first()
                    {
                        names.push((n.clone(), Some(c)));
                    }
                }
            }
            let mut seen: HashMap<&str, Option<usize>> = HashMap::new();
            let mut dup = None;
            for (n, e) in &names {
                match seen.get(n.as_str()) {
                    Some(_) => {
                        dup = Some(n.clone());
                        break;
                    }
                    None => {
                        seen.insert(n, *e);
                    }
                }
            }
            if let Some(n) = dup {
                self.set_location(i);
                let path = self.elems[i].path.clone();
                self.problem(
                    &path,
                    "name-unique",
                    format!("name {n:?} is used more than once among {term}"),
                );
            }
            if class == Class::Enum {
                let schema = self.elems[i].get("valueSchema").first().cloned();
                let want_int = matches!(schema, Some(Val::Prim("integer")));
                let mut values = HashSet::new();
                for t in self.targets(ids, i, "enumValues") {
                    let Target::Batch(c) = t else { continue };
                    let Some(Val::Literal(v)) = self.elems[c].get("enumValue").first().cloned()
                    else {
                        continue;
                    };
                    self.set_location(c);
                    let path = self.elems[c].path.clone();
                    if want_int != v.is_number() {
                        self.problem(
                            &path,
                            "enum-value-schema",
                            format!("enumValue {v} does not match the Enum's valueSchema"),
                        );
                    } else if !values.insert(v.to_string()) {
                        self.problem(
                            &path,
                            "enum-value-unique",
                            format!("enumValue {v} is used more than once"),
                        );
                    }
                }
            }
        }
    }

    fn collect_content_names(
        &self,
        ids: &HashMap<String, usize>,
        i: usize,
        out: &mut Vec<(String, Option<usize>)>,
        visited: &mut HashSet<usize>,
        depth: usize,
    ) {
        if !visited.insert(i) || depth > MAX_JSON_DEPTH {
            return;
        }
        for t in self.targets(ids, i, "contents") {
            if let Target::Batch(c) = t
                && let Some(Val::Str(n)) = self.elems[c].get("name").first()
            {
                out.push((n.clone(), Some(c)));
            }
        }
        for t in self.targets(ids, i, "extends") {
            match t {
                Target::Batch(p) => self.collect_content_names(ids, p, out, visited, depth + 1),
                Target::Known(s) => {
                    for n in self.known.content_names(&s) {
                        // Known contents are distinct from batch contents;
                        // the same known interface reached twice is the same element.
                        if !out.iter().any(|(m, e)| *m == n && e.is_none()) {
                            out.push((n, None));
                        }
                    }
                }
            }
        }
    }

    /// Units must belong to the semantic type's unit type and the schema be numeric.
    fn check_semantics(&mut self) {
        for i in 0..self.elems.len() {
            let unit = match self.elems[i].get("unit").first() {
                Some(Val::Str(u)) => Some(u.clone()),
                _ => None,
            };
            let st = self.elems[i].semantic_types.first().cloned();
            self.set_location(i);
            let path = self.elems[i].path.clone();
            let version = self.elems[i].version;
            let undefined_cotypes = !self.elems[i].extra_types.is_empty();
            if let Some(u) = &unit
                && semantic::lookup_unit(u, version).is_none()
                && !undefined_cotypes
            {
                self.problem(&path, "unit-value", format!("{u:?} is not a known unit"));
                continue;
            }
            match (st, unit) {
                (Some(st), Some(unit)) => {
                    if !semantic::unit_fits(&st, &unit, version) {
                        self.problem(
                            &path,
                            "unit-matches-semantic-type",
                            format!("unit {unit} is not a unit of {st}"),
                        );
                    }
                    let numeric = matches!(
                        self.elems[i].get("schema").first(),
                        Some(Val::Prim(
                            "double"
                                | "float"
                                | "integer"
                                | "long"
                                | "byte"
                                | "short"
                                | "decimal"
                                | "unsignedByte"
                                | "unsignedShort"
                                | "unsignedInteger"
                                | "unsignedLong"
                        ))
                    );
                    if !numeric {
                        self.problem(
                            &path,
                            "semantic-type-schema",
                            format!("a {st} must have a numeric schema"),
                        );
                    }
                }
                // An undefined co-type (DTDL v2, or an undefined extension)
                // may be the semantic type the unit belongs to.
                (None, Some(unit)) if self.elems[i].extra_types.is_empty() => {
                    self.problem(
                        &path,
                        "unit-needs-semantic-type",
                        format!("unit {unit} needs a semantic type in @type"),
                    );
                }
                _ => {}
            }
        }
    }
}

/// JSON-LD reads nested arrays of values as one flat set of values.
fn flatten(value: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter().rev()),
            other => out.push(other),
        }
    }
    out
}

enum Target {
    Batch(usize),
    Known(String),
}

fn terms_list(classes: &[Class]) -> String {
    let names: Vec<&str> = classes.iter().map(|c| c.term()).collect();
    names.join(", ")
}

/// Terms of the DTDL language that are not classes applicable as co-types.
fn is_defined_term(term: &str, version: u32) -> bool {
    metamodel::lookup_primitive(term, version).is_some()
        || metamodel::is_any_property_term(term, version)
        || Class::lookup(term, version).is_some()
        // Class names of the other DTDL version are known words too.
        || matches!(term, "CommandPayload" | "CommandRequest" | "CommandResponse")
        || matches!(term, "synchronous" | "asynchronous")
}
