//! OpenSCENARIO XML → [`Scenario`]: parameter scopes, `$name` and `${...}`
//! substitution, catalog references, and the typed model. Files come only from the
//! caller's [`Resolver`], so parsing does no I/O of its own. Elements the parser does
//! not run are reported as [`Error::Unsupported`] with their location; elements that
//! are accepted without effect on the motion (lights, environment, visibility) are
//! listed in [`Scenario::notes`] so nothing is dropped silently.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::error::{Error, Location, Result};
use crate::expr;
use crate::model::*;
use crate::xml::{self, Element};

/// Supplies the files a scenario refers to (catalogs, road networks). Paths are as
/// written in the scenario, relative to the scenario's own directory; the
/// implementation decides what that means (a directory, an archive, a map in a test).
pub trait Resolver {
    /// The text of the file at `path`.
    fn read(&self, path: &str) -> std::result::Result<String, String>;
    /// The file names (not paths) in the catalog directory `directory`. Needed for
    /// `CatalogLocations/*/Directory`, which name folders, not files.
    fn list(&self, directory: &str) -> std::result::Result<Vec<String>, String>;
}

/// A [`Resolver`] over an in-memory map of path → text, for tests and embedding.
/// `list(dir)` returns the names of the entries whose path is `dir/<name>`.
#[derive(Debug, Clone, Default)]
pub struct MapResolver {
    files: BTreeMap<String, String>,
}

impl MapResolver {
    /// An empty resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file.
    pub fn with(mut self, path: &str, text: &str) -> Self {
        self.files.insert(normalize(path), text.to_string());
        self
    }
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

impl Resolver for MapResolver {
    fn read(&self, path: &str) -> std::result::Result<String, String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| format!("no file `{path}` in the map"))
    }

    fn list(&self, directory: &str) -> std::result::Result<Vec<String>, String> {
        let prefix = normalize(directory) + "/";
        Ok(self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect())
    }
}

/// How deep catalog references may nest (a catalog maneuver referring to another
/// catalog entry, ...). Real files use one or two levels; the bound stops cycles.
const MAX_CATALOG_DEPTH: usize = 8;
/// Longest clothoid trajectory accepted, m; it is sampled into a polyline.
const MAX_CLOTHOID_LENGTH_M: f64 = 10_000.0;
/// Most vertices in one trajectory, bounding per-step work and memory.
const MAX_TRAJECTORY_VERTICES: usize = 100_000;

struct CatalogFile {
    file: String,
    root: Element,
}

struct Parser<'r> {
    resolver: &'r dyn Resolver,
    file: String,
    scopes: Vec<Vec<(String, String)>>,
    catalog_directories: Vec<(String, Location)>,
    catalogs: RefCell<Option<HashMap<String, Rc<CatalogFile>>>>,
    catalog_problems: RefCell<Vec<String>>,
    catalog_depth: usize,
    /// ParameterAssignments of the catalog reference being resolved: consumed by
    /// the entry's ParameterDeclarations.
    assignments: Option<Vec<(String, String, Location)>>,
    /// Assignments the entry's declarations did not take.
    unused_assignments: Option<Vec<(String, String, Location)>>,
    entity_names: Vec<String>,
    variables: Vec<(String, String)>,
    notes: Vec<String>,
    element_refs: Vec<(ElementKind, String, Location)>,
    element_names: Vec<(ElementKind, String)>,
}

impl Scenario {
    /// Parses an OpenSCENARIO document. `file` names it in errors; catalogs are
    /// read through `resolver`. Errors name the file, line and column.
    pub fn parse(xml_text: &str, file: &str, resolver: &dyn Resolver) -> Result<Scenario> {
        let root = xml::parse(xml_text, file)?;
        let mut parser = Parser {
            resolver,
            file: file.to_string(),
            scopes: vec![Vec::new()],
            catalog_directories: Vec::new(),
            catalogs: RefCell::new(None),
            catalog_problems: RefCell::new(Vec::new()),
            catalog_depth: 0,
            assignments: None,
            unused_assignments: None,
            entity_names: Vec::new(),
            variables: Vec::new(),
            notes: Vec::new(),
            element_refs: Vec::new(),
            element_names: Vec::new(),
        };
        parser.scenario(&root)
    }
}

fn choice(names: &[&str]) -> String {
    let listed: Vec<String> = names.iter().map(|n| format!("<{n}>")).collect();
    if listed.len() == 1 {
        listed.join("")
    } else {
        format!("one of {}", listed.join(", "))
    }
}

impl Parser<'_> {
    fn at(&self, e: &Element) -> Location {
        Location {
            file: self.file.clone(),
            line: e.line,
            column: e.column,
        }
    }

    fn unsupported(&self, e: &Element, parent: &Element) -> Error {
        Error::Unsupported {
            element: e.name.clone(),
            parent: parent.name.clone(),
            at: self.at(e),
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.scopes.iter().rev().find_map(|scope| {
            scope
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    /// Substitutes `$name` and `${expr}` in an attribute value.
    fn substitute(&self, e: &Element, raw: &str) -> Result<String> {
        if let Some(body) = raw.strip_prefix("${") {
            let Some(body) = body.strip_suffix('}') else {
                return Err(Error::Expression {
                    expression: raw.to_string(),
                    offset: raw.chars().count(),
                    message: "missing closing `}`".into(),
                    at: self.at(e),
                });
            };
            return match expr::evaluate(body, &|name| self.lookup(name)) {
                Ok(value) => Ok(expr::format_number(value)),
                Err(err) => {
                    // esmini extension: `${Name + _ + $param}` joins words and
                    // parameter values into a string (used for element names).
                    if let Some(joined) = self.concatenation(body) {
                        return Ok(joined);
                    }
                    Err(Error::Expression {
                        expression: body.to_string(),
                        offset: err.offset,
                        message: err.message,
                        at: self.at(e),
                    })
                }
            };
        }
        if let Some(name) = raw.strip_prefix('$') {
            return self.lookup(name).ok_or_else(|| Error::UnknownParameter {
                name: name.to_string(),
                at: self.at(e),
            });
        }
        Ok(raw.to_string())
    }

    /// `a + b + $c` where some term is not a number: the terms joined as text.
    /// None when any term is not a plain word, number or declared parameter, or
    /// when every term is numeric (then arithmetic was meant and its error stands).
    fn concatenation(&self, body: &str) -> Option<String> {
        let mut out = String::new();
        let mut any_text = false;
        for term in body.split('+').map(str::trim) {
            let value = if let Some(name) = term.strip_prefix('$') {
                self.lookup(name)?
            } else if !term.is_empty()
                && term
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            {
                term.to_string()
            } else {
                return None;
            };
            any_text |= expr::scalar(&value).is_none();
            out.push_str(&value);
        }
        any_text.then_some(out)
    }

    fn opt(&self, e: &Element, name: &str) -> Result<Option<String>> {
        match e.attribute(name) {
            Some(raw) => Ok(Some(self.substitute(e, raw)?)),
            None => Ok(None),
        }
    }

    fn req(&self, e: &Element, name: &str) -> Result<String> {
        self.opt(e, name)?.ok_or_else(|| Error::MissingAttribute {
            element: e.name.clone(),
            attribute: name.to_string(),
            at: self.at(e),
        })
    }

    /// The parameter (`parameterRef`) or variable (`variableRef`) an action or
    /// condition names, checked to be declared.
    fn reference_name(&self, e: &Element, variable: bool) -> Result<String> {
        if !variable {
            let name = self.parameter_ref(e)?;
            if self.lookup(&name).is_none() {
                return Err(Error::UnknownParameter {
                    name,
                    at: self.at(e),
                });
            }
            return Ok(name);
        }
        let name = self.req(e, "variableRef")?;
        if self.variables.iter().any(|(k, _)| *k == name) {
            Ok(name)
        } else {
            Err(Error::Reference {
                message: format!(
                    "<{} variableRef=\"{name}\"> names no declared variable",
                    e.name
                ),
                at: self.at(e),
            })
        }
    }

    /// A `parameterRef` names a parameter; esmini writes it with or without `$`,
    /// so it is taken as written, never substituted.
    fn parameter_ref(&self, e: &Element) -> Result<String> {
        e.attribute("parameterRef")
            .map(|r| r.trim_start_matches('$').to_string())
            .ok_or_else(|| Error::MissingAttribute {
                element: e.name.clone(),
                attribute: "parameterRef".into(),
                at: self.at(e),
            })
    }

    fn bad(&self, e: &Element, name: &str, value: &str, allowed: &str) -> Error {
        Error::BadValue {
            element: e.name.clone(),
            attribute: name.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
            at: self.at(e),
        }
    }

    fn opt_f64(&self, e: &Element, name: &str) -> Result<Option<f64>> {
        match self.opt(e, name)? {
            None => Ok(None),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(self.bad(e, name, &v, "a finite decimal number is allowed")),
            },
        }
    }

    fn f64_or(&self, e: &Element, name: &str, default: f64) -> Result<f64> {
        Ok(self.opt_f64(e, name)?.unwrap_or(default))
    }

    fn req_f64(&self, e: &Element, name: &str) -> Result<f64> {
        self.opt_f64(e, name)?
            .ok_or_else(|| Error::MissingAttribute {
                element: e.name.clone(),
                attribute: name.to_string(),
                at: self.at(e),
            })
    }

    fn req_i32(&self, e: &Element, name: &str) -> Result<i32> {
        let v = self.req(e, name)?;
        let trimmed = v.trim();
        if let Ok(x) = trimmed.parse::<i32>() {
            return Ok(x);
        }
        // Expressions yield decimals like "2.0"; accept them when integral.
        match trimmed.parse::<f64>() {
            Ok(x) if x.fract() == 0.0 && x.abs() < f64::from(i32::MAX) => Ok(x as i32),
            _ => Err(self.bad(e, name, &v, "an integer is allowed")),
        }
    }

    fn opt_u32(&self, e: &Element, name: &str, default: u32) -> Result<u32> {
        match self.opt(e, name)? {
            None => Ok(default),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) => {
                    Ok(x as u32)
                }
                _ => Err(self.bad(e, name, &v, "a non-negative integer is allowed")),
            },
        }
    }

    fn opt_bool(&self, e: &Element, name: &str) -> Result<Option<bool>> {
        match self.opt(e, name)? {
            None => Ok(None),
            Some(v) => match v.trim() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(self.bad(e, name, &v, "`true` or `false` is allowed")),
            },
        }
    }

    fn enumeration<T: Copy>(&self, e: &Element, name: &str, table: &[(&str, T)]) -> Result<T> {
        let v = self.req(e, name)?;
        table
            .iter()
            .find(|(k, _)| *k == v)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
                self.bad(e, name, &v, &format!("allowed: {}", names.join(", ")))
            })
    }

    fn need<'e>(&self, e: &'e Element, child: &str) -> Result<&'e Element> {
        e.child(child).ok_or_else(|| Error::MissingChild {
            element: e.name.clone(),
            expected: choice(&[child]),
            at: self.at(e),
        })
    }

    /// The one child that says what `e` is, among `names`; anything else is an error.
    fn one_of<'e>(&self, e: &'e Element, names: &[&str]) -> Result<&'e Element> {
        let Some(first) = e.children.first() else {
            return Err(Error::MissingChild {
                element: e.name.clone(),
                expected: choice(names),
                at: self.at(e),
            });
        };
        if names.contains(&first.name.as_str()) {
            Ok(first)
        } else {
            Err(self.unsupported(first, e))
        }
    }

    fn check_children(&self, e: &Element, allowed: &[&str]) -> Result<()> {
        for child in &e.children {
            if !allowed.contains(&child.name.as_str()) {
                return Err(self.unsupported(child, e));
            }
        }
        Ok(())
    }

    fn entity_ref(&self, e: &Element, attribute: &str) -> Result<String> {
        let name = self.req(e, attribute)?;
        if self.entity_names.contains(&name) {
            Ok(name)
        } else {
            Err(Error::Reference {
                message: format!(
                    "<{} {attribute}=\"{name}\"> names no entity; declared entities: {}",
                    e.name,
                    self.entity_names.join(", ")
                ),
                at: self.at(e),
            })
        }
    }

    /// Pushes a parameter scope holding `ParameterDeclarations` of `e` (if any).
    fn declare(&mut self, e: &Element) -> Result<()> {
        self.scopes.push(Vec::new());
        // Only the entry's own declarations take a catalog reference's assignments.
        let mut assignments = self.assignments.take();
        if let Some(declarations) = e.child("ParameterDeclarations") {
            self.check_children(declarations, &["ParameterDeclaration"])?;
            for d in declarations.children_named("ParameterDeclaration") {
                let name = self.req(d, "name")?;
                let mut value = self.req(d, "value")?;
                // A catalog reference's assignment replaces the default.
                if let Some(assignments) = assignments.as_mut()
                    && let Some(i) = assignments.iter().position(|(n, _, _)| *n == name)
                {
                    value = assignments.swap_remove(i).1;
                }
                let kind = self.req(d, "parameterType")?;
                self.check_type(d, &kind, &value)?;
                if let Some(scope) = self.scopes.last_mut() {
                    scope.push((name, value));
                }
            }
        }
        if let Some(left) = assignments {
            self.unused_assignments = Some(left);
        }
        Ok(())
    }

    fn check_type(&self, d: &Element, kind: &str, value: &str) -> Result<()> {
        let ok = match kind {
            "integer" | "int" | "unsignedInt" | "unsignedShort" => {
                value.trim().parse::<f64>().is_ok_and(|x| x.fract() == 0.0)
            }
            "double" => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            "boolean" => matches!(value.trim(), "true" | "false" | "0" | "1"),
            "string" | "dateTime" => true,
            _ => {
                return Err(self.bad(
                    d,
                    "parameterType",
                    kind,
                    "allowed: integer, double, string, boolean, dateTime, unsignedInt, unsignedShort",
                ));
            }
        };
        if ok {
            Ok(())
        } else {
            Err(self.bad(
                d,
                "value",
                value,
                &format!("a value of parameterType {kind} is needed"),
            ))
        }
    }

    fn scenario(&mut self, root: &Element) -> Result<Scenario> {
        if root.name != "OpenSCENARIO" {
            return Err(Error::MissingChild {
                element: "document".into(),
                expected: format!("root <OpenSCENARIO>, found <{}>", root.name),
                at: self.at(root),
            });
        }
        if let Some(catalog) = root.child("Catalog") {
            return Err(Error::CatalogFile {
                at: self.at(catalog),
            });
        }
        self.check_children(
            root,
            &[
                "FileHeader",
                "ParameterDeclarations",
                "VariableDeclarations",
                "CatalogLocations",
                "RoadNetwork",
                "Entities",
                "Storyboard",
            ],
        )?;
        let header = self.need(root, "FileHeader")?;
        let revision = (
            self.opt_u32(header, "revMajor", 1)?,
            self.opt_u32(header, "revMinor", 0)?,
        );
        let description = self.opt(header, "description")?.unwrap_or_default();
        self.declare(root)?;
        let parameters = self.scopes.last().cloned().unwrap_or_default();
        if let Some(declarations) = root.child("VariableDeclarations") {
            self.check_children(declarations, &["VariableDeclaration"])?;
            for d in declarations.children_named("VariableDeclaration") {
                let name = self.req(d, "name")?;
                let value = self.req(d, "value")?;
                let kind = self.req(d, "variableType")?;
                self.check_type(d, &kind, &value)?;
                self.variables.push((name, value));
            }
        }
        if let Some(locations) = root.child("CatalogLocations") {
            for kind in &locations.children {
                let known = [
                    "VehicleCatalog",
                    "ControllerCatalog",
                    "PedestrianCatalog",
                    "MiscObjectCatalog",
                    "EnvironmentCatalog",
                    "ManeuverCatalog",
                    "TrajectoryCatalog",
                    "RouteCatalog",
                ];
                if !known.contains(&kind.name.as_str()) {
                    return Err(self.unsupported(kind, locations));
                }
                let directory = self.need(kind, "Directory")?;
                let path = self.req(directory, "path")?;
                self.catalog_directories.push((path, self.at(directory)));
            }
        }
        let mut road_network = None;
        if let Some(network) = root.child("RoadNetwork") {
            self.check_children(
                network,
                &["LogicFile", "SceneGraphFile", "TrafficSignals", "UsedArea"],
            )?;
            if let Some(logic) = network.child("LogicFile") {
                road_network = Some(self.req(logic, "filepath")?);
            }
            if network.child("TrafficSignals").is_some() {
                self.notes.push(format!(
                    "{}: RoadNetwork/TrafficSignals are accepted without effect",
                    self.at(network)
                ));
            }
        }
        let entities_element = self.need(root, "Entities")?;
        self.check_children(entities_element, &["ScenarioObject"])?;
        for object in entities_element.children_named("ScenarioObject") {
            let name = self.req(object, "name")?;
            if self.entity_names.contains(&name) {
                return Err(Error::Reference {
                    message: format!("entity `{name}` is declared twice"),
                    at: self.at(object),
                });
            }
            self.entity_names.push(name);
        }
        let mut entities = Vec::new();
        for object in entities_element.children_named("ScenarioObject") {
            entities.push(self.scenario_object(object)?);
        }
        let storyboard = self.need(root, "Storyboard")?;
        self.check_children(storyboard, &["Init", "Story", "StopTrigger"])?;
        let init = match storyboard.child("Init") {
            Some(init) => self.init(init)?,
            None => Vec::new(),
        };
        let mut stories = Vec::new();
        for story in storyboard.children_named("Story") {
            stories.push(self.story(story)?);
        }
        let stop_trigger = match storyboard.child("StopTrigger") {
            Some(t) => Some(self.trigger(t)?),
            None => None,
        };
        for (kind, name, at) in &self.element_refs {
            if !self
                .element_names
                .iter()
                .any(|(k, n)| k == kind && n == name)
            {
                return Err(Error::Reference {
                    message: format!(
                        "StoryboardElementStateCondition refers to {kind:?} `{name}`, which the storyboard does not contain"
                    ),
                    at: at.clone(),
                });
            }
        }
        Ok(Scenario {
            file: self.file.clone(),
            revision,
            description,
            parameters,
            road_network,
            entities,
            init,
            stories,
            stop_trigger,
            variables: std::mem::take(&mut self.variables),
            notes: std::mem::take(&mut self.notes),
        })
    }

    // ---- catalogs ----

    fn load_catalogs(&self) {
        let mut map = HashMap::new();
        let mut problems = Vec::new();
        for (directory, at) in &self.catalog_directories {
            let names = match self.resolver.list(directory) {
                Ok(names) => names,
                Err(message) => {
                    problems.push(format!("directory `{directory}` ({at}): {message}"));
                    continue;
                }
            };
            for name in names.iter().filter(|n| n.ends_with(".xosc")) {
                let path = format!("{}/{}", directory.trim_end_matches('/'), name);
                let text = match self.resolver.read(&path) {
                    Ok(t) => t,
                    Err(message) => {
                        problems.push(format!("`{path}`: {message}"));
                        continue;
                    }
                };
                match xml::parse(&text, &path) {
                    Ok(root) => {
                        for catalog in root.children_named("Catalog") {
                            if let Some(name) = catalog.attribute("name") {
                                map.entry(name.to_string()).or_insert_with(|| {
                                    Rc::new(CatalogFile {
                                        file: path.clone(),
                                        root: catalog.clone(),
                                    })
                                });
                            }
                        }
                    }
                    Err(err) => problems.push(err.to_string()),
                }
            }
        }
        *self.catalog_problems.borrow_mut() = problems;
        *self.catalogs.borrow_mut() = Some(map);
    }

    /// Resolves a `CatalogReference` and calls `f` with the entry element, the
    /// parser switched to the catalog file and the entry's parameters in scope.
    fn with_catalog_entry<T>(
        &mut self,
        reference: &Element,
        f: &mut dyn FnMut(&mut Self, &Element) -> Result<T>,
    ) -> Result<T> {
        let catalog_name = self.req(reference, "catalogName")?;
        let entry_name = self.req(reference, "entryName")?;
        if self.catalog_depth >= MAX_CATALOG_DEPTH {
            return Err(Error::Limit {
                message: format!("catalog references nested deeper than {MAX_CATALOG_DEPTH}"),
                at: self.at(reference),
            });
        }
        if self.catalogs.borrow().is_none() {
            self.load_catalogs();
        }
        let catalog = self
            .catalogs
            .borrow()
            .as_ref()
            .and_then(|m| m.get(&catalog_name).cloned());
        let Some(catalog) = catalog else {
            let problems = self.catalog_problems.borrow().join("; ");
            let dirs: Vec<&str> = self
                .catalog_directories
                .iter()
                .map(|(d, _)| d.as_str())
                .collect();
            return Err(Error::Reference {
                message: format!(
                    "no catalog named `{catalog_name}` in the CatalogLocations directories [{}]{}",
                    dirs.join(", "),
                    if problems.is_empty() {
                        String::new()
                    } else {
                        format!(" (problems: {problems})")
                    }
                ),
                at: self.at(reference),
            });
        };
        let Some(entry) = catalog
            .root
            .children
            .iter()
            .find(|c| c.attribute("name") == Some(entry_name.as_str()))
        else {
            let names: Vec<&str> = catalog
                .root
                .children
                .iter()
                .filter_map(|c| c.attribute("name"))
                .collect();
            return Err(Error::Reference {
                message: format!(
                    "catalog `{catalog_name}` ({}) has no entry `{entry_name}`; entries: {}",
                    catalog.file,
                    names.join(", ")
                ),
                at: self.at(reference),
            });
        };
        // Assignments are evaluated in the referencing scope; the entry's own
        // ParameterDeclarations (declared when its parser calls `declare`) take
        // them instead of their defaults.
        let mut assignments = Vec::new();
        if let Some(list) = reference.child("ParameterAssignments") {
            for a in list.children_named("ParameterAssignment") {
                let name = self.parameter_ref(a)?;
                assignments.push((name, self.req(a, "value")?, self.at(a)));
            }
        }
        let saved_file = std::mem::replace(&mut self.file, catalog.file.clone());
        let saved_scopes = std::mem::replace(&mut self.scopes, vec![Vec::new()]);
        let saved_assignments = self.assignments.replace(assignments);
        self.catalog_depth += 1;
        let result = f(self, entry);
        // Assignments the entry never declared are errors, as the standard says.
        let never_declared = std::mem::replace(&mut self.assignments, saved_assignments);
        let unused = self.unused_assignments.take().or(never_declared);
        let result = match (result, unused) {
            (Ok(_), Some(left)) if !left.is_empty() => {
                let (name, _, at) = &left[0];
                Err(Error::Reference {
                    message: format!(
                        "catalog entry `{entry_name}` declares no parameter `{name}` to assign"
                    ),
                    at: at.clone(),
                })
            }
            (result, _) => result,
        };
        self.catalog_depth -= 1;
        self.file = saved_file;
        self.scopes = saved_scopes;
        result
    }

    // ---- entities ----

    fn scenario_object(&mut self, object: &Element) -> Result<Entity> {
        let name = self.req(object, "name")?;
        self.check_children(
            object,
            &[
                "Vehicle",
                "Pedestrian",
                "MiscObject",
                "CatalogReference",
                "ObjectController",
            ],
        )?;
        let definition = object
            .children
            .iter()
            .find(|c| c.name != "ObjectController")
            .ok_or_else(|| Error::MissingChild {
                element: "ScenarioObject".into(),
                expected: choice(&["Vehicle", "Pedestrian", "MiscObject", "CatalogReference"]),
                at: self.at(object),
            })?;
        let mut entity = if definition.name == "CatalogReference" {
            self.with_catalog_entry(definition, &mut |p, entry| {
                p.entity_definition(&name, entry)
            })?
        } else {
            self.entity_definition(&name, definition)?
        };
        if let Some(controller) = object.child("ObjectController") {
            let c = self.one_of(controller, &["Controller", "CatalogReference"])?;
            entity.controller = Some(if c.name == "Controller" {
                self.req(c, "name")?
            } else {
                self.with_catalog_entry(c, &mut |p, entry| {
                    if entry.name != "Controller" {
                        return Err(p.unsupported(entry, controller));
                    }
                    p.controller_name(entry)
                })?
            });
        }
        Ok(entity)
    }

    /// A controller's name, with its parameters declared (and assigned) so their
    /// references resolve; its properties are not simulated.
    fn controller_name(&mut self, e: &Element) -> Result<String> {
        self.declare(e)?;
        let name = self.req(e, "name");
        self.scopes.pop();
        name
    }

    fn entity_definition(&mut self, name: &str, e: &Element) -> Result<Entity> {
        self.declare(e)?;
        let result = self.entity_body(name, e);
        self.scopes.pop();
        result
    }

    fn entity_body(&mut self, name: &str, e: &Element) -> Result<Entity> {
        let (kind, category_attribute) = match e.name.as_str() {
            "Vehicle" => (EntityKind::Vehicle, "vehicleCategory"),
            "Pedestrian" => (EntityKind::Pedestrian, "pedestrianCategory"),
            "MiscObject" => (EntityKind::MiscObject, "miscObjectCategory"),
            _ => {
                return Err(Error::Reference {
                    message: format!(
                        "entity `{name}` refers to a <{}>, not a Vehicle, Pedestrian or MiscObject",
                        e.name
                    ),
                    at: self.at(e),
                });
            }
        };
        let category = self.opt(e, category_attribute)?.unwrap_or_default();
        let model = self.opt(e, "name")?.unwrap_or_default();
        let bb = self.need(e, "BoundingBox")?;
        let center = self.need(bb, "Center")?;
        let dimensions = self.need(bb, "Dimensions")?;
        let bounding_box = BoundingBox {
            center: [
                self.req_f64(center, "x")?,
                self.req_f64(center, "y")?,
                self.req_f64(center, "z")?,
            ],
            length: self.req_f64(dimensions, "length")?,
            width: self.req_f64(dimensions, "width")?,
            height: self.req_f64(dimensions, "height")?,
        };
        if bounding_box.length < 0.0 || bounding_box.width < 0.0 || bounding_box.height < 0.0 {
            return Err(self.bad(dimensions, "length", "negative", "dimensions must be ≥ 0"));
        }
        // Pedestrians and objects have no Performance element; these bounds only
        // keep the default driver finite.
        let mut performance = Performance {
            max_speed: 100.0,
            max_acceleration: 10.0,
            max_deceleration: 10.0,
        };
        if let Some(p) = e.child("Performance") {
            performance = Performance {
                max_speed: self.req_f64(p, "maxSpeed")?,
                max_acceleration: self.req_f64(p, "maxAcceleration")?,
                max_deceleration: self.req_f64(p, "maxDeceleration")?,
            };
        } else if kind == EntityKind::Vehicle {
            return Err(Error::MissingChild {
                element: e.name.clone(),
                expected: "<Performance>".into(),
                at: self.at(e),
            });
        }
        let mut properties = Vec::new();
        if let Some(list) = e.child("Properties") {
            for p in list.children_named("Property") {
                properties.push((self.req(p, "name")?, self.req(p, "value")?));
            }
        }
        Ok(Entity {
            name: name.to_string(),
            kind,
            category,
            model,
            bounding_box,
            performance,
            properties,
            controller: None,
        })
    }

    // ---- storyboard ----

    fn init(&mut self, init: &Element) -> Result<Vec<InitAction>> {
        let mut out = Vec::new();
        let Some(actions) = init.child("Actions") else {
            return Ok(out);
        };
        for a in &actions.children {
            match a.name.as_str() {
                "GlobalAction" => {
                    if let Some(g) = self.global_action(a)? {
                        out.push(InitAction::Global(g));
                    }
                }
                "Private" => {
                    let entity = self.entity_ref(a, "entityRef")?;
                    self.check_children(a, &["PrivateAction"])?;
                    for p in a.children_named("PrivateAction") {
                        if let Some(action) = self.private_action(p)? {
                            out.push(InitAction::Private {
                                entity: entity.clone(),
                                action,
                            });
                        }
                    }
                }
                _ => return Err(self.unsupported(a, actions)),
            }
        }
        Ok(out)
    }

    fn story(&mut self, e: &Element) -> Result<Story> {
        self.declare(e)?;
        let result = (|| {
            let name = self.req(e, "name")?;
            self.element_names.push((ElementKind::Story, name.clone()));
            self.check_children(e, &["ParameterDeclarations", "Act"])?;
            let mut acts = Vec::new();
            for act in e.children_named("Act") {
                acts.push(self.act(act)?);
            }
            Ok(Story { name, acts })
        })();
        self.scopes.pop();
        result
    }

    fn act(&mut self, e: &Element) -> Result<Act> {
        let name = self.req(e, "name")?;
        self.element_names.push((ElementKind::Act, name.clone()));
        self.check_children(e, &["ManeuverGroup", "StartTrigger", "StopTrigger"])?;
        let mut maneuver_groups = Vec::new();
        for g in e.children_named("ManeuverGroup") {
            maneuver_groups.push(self.maneuver_group(g)?);
        }
        let start_trigger = match e.child("StartTrigger") {
            Some(t) => Some(self.trigger(t)?),
            None => None,
        };
        let stop_trigger = match e.child("StopTrigger") {
            Some(t) => Some(self.trigger(t)?),
            None => None,
        };
        Ok(Act {
            name,
            maneuver_groups,
            start_trigger,
            stop_trigger,
        })
    }

    fn maneuver_group(&mut self, e: &Element) -> Result<ManeuverGroup> {
        let name = self.req(e, "name")?;
        self.element_names
            .push((ElementKind::ManeuverGroup, name.clone()));
        self.check_children(e, &["Actors", "CatalogReference", "Maneuver"])?;
        let max_executions = self.opt_u32(e, "maximumExecutionCount", 1)?;
        let actors_element = self.need(e, "Actors")?;
        let select_triggering = self
            .opt_bool(actors_element, "selectTriggeringEntities")?
            .unwrap_or(false);
        let mut actors = Vec::new();
        for child in &actors_element.children {
            match child.name.as_str() {
                "EntityRef" => actors.push(self.entity_ref(child, "entityRef")?),
                _ => return Err(self.unsupported(child, actors_element)),
            }
        }
        let mut maneuvers = Vec::new();
        for child in &e.children {
            match child.name.as_str() {
                "Maneuver" => maneuvers.push(self.maneuver(child)?),
                "CatalogReference" => {
                    let m = self.with_catalog_entry(child, &mut |p, entry| {
                        if entry.name != "Maneuver" {
                            return Err(p.unsupported(entry, child));
                        }
                        p.maneuver(entry)
                    })?;
                    maneuvers.push(m);
                }
                _ => {}
            }
        }
        Ok(ManeuverGroup {
            name,
            max_executions,
            actors,
            select_triggering,
            maneuvers,
        })
    }

    fn maneuver(&mut self, e: &Element) -> Result<Maneuver> {
        self.declare(e)?;
        let result = self.maneuver_body(e);
        self.scopes.pop();
        result
    }

    fn maneuver_body(&mut self, e: &Element) -> Result<Maneuver> {
        let name = self.req(e, "name")?;
        self.element_names
            .push((ElementKind::Maneuver, name.clone()));
        self.check_children(e, &["ParameterDeclarations", "Event"])?;
        let mut events = Vec::new();
        for ev in e.children_named("Event") {
            events.push(self.event(ev)?);
        }
        Ok(Maneuver { name, events })
    }

    fn event(&mut self, e: &Element) -> Result<Event> {
        let name = self.req(e, "name")?;
        self.element_names.push((ElementKind::Event, name.clone()));
        self.check_children(e, &["Action", "StartTrigger"])?;
        let priority = self.enumeration(
            e,
            "priority",
            &[
                ("overwrite", Priority::Overwrite),
                ("override", Priority::Overwrite),
                ("skip", Priority::Skip),
                ("parallel", Priority::Parallel),
            ],
        )?;
        let max_executions = self.opt_u32(e, "maximumExecutionCount", 1)?;
        let mut actions = Vec::new();
        for a in e.children_named("Action") {
            let action_name = self.req(a, "name")?;
            self.element_names
                .push((ElementKind::Action, action_name.clone()));
            if a.children.is_empty() {
                // The schema requires a body; esmini runs an empty Action as a no-op,
                // and so do we, saying so.
                self.notes.push(format!(
                    "{}: Action `{action_name}` is empty and does nothing",
                    self.at(a)
                ));
                continue;
            }
            let body = self.one_of(a, &["PrivateAction", "GlobalAction", "UserDefinedAction"])?;
            let action = match body.name.as_str() {
                "PrivateAction" => self.private_action(body)?.map(Action::Private),
                "GlobalAction" => self.global_action(body)?.map(Action::Global),
                _ => return Err(self.unsupported(body, a)),
            };
            if let Some(action) = action {
                actions.push(NamedAction {
                    name: action_name,
                    action,
                });
            }
        }
        let start_trigger = match e.child("StartTrigger") {
            Some(t) => Some(self.trigger(t)?),
            None => None,
        };
        Ok(Event {
            name,
            priority,
            max_executions,
            start_trigger,
            actions,
        })
    }

    // ---- actions ----

    /// `None` for actions accepted without effect (noted in `notes`).
    fn global_action(&mut self, e: &Element) -> Result<Option<GlobalAction>> {
        let a = self.one_of(
            e,
            &["ParameterAction", "VariableAction", "EnvironmentAction"],
        )?;
        let variable = a.name == "VariableAction";
        match a.name.as_str() {
            "EnvironmentAction" => {
                self.notes.push(format!(
                    "{}: EnvironmentAction is accepted without effect on the run",
                    self.at(a)
                ));
                Ok(None)
            }
            _ => {
                let name = self.reference_name(a, variable)?;
                let op = self.one_of(a, &["SetAction", "ModifyAction"])?;
                if op.name == "SetAction" {
                    Ok(Some(GlobalAction::ParameterSet {
                        variable,
                        name,
                        value: self.req(op, "value")?,
                    }))
                } else {
                    let rule = self.need(op, "Rule")?;
                    let r = self.one_of(rule, &["AddValue", "MultiplyByValue"])?;
                    Ok(Some(GlobalAction::ParameterModify {
                        variable,
                        name,
                        multiply: r.name == "MultiplyByValue",
                        value: self.req_f64(r, "value")?,
                    }))
                }
            }
        }
    }

    fn dynamics(&self, e: &Element) -> Result<Dynamics> {
        let shape = self.shape(e)?;
        let dimension = self.enumeration(
            e,
            "dynamicsDimension",
            &[
                ("time", Dimension::Time),
                ("distance", Dimension::Distance),
                ("rate", Dimension::Rate),
            ],
        )?;
        // Writers put negative rates for decelerations; the sign adds nothing, the
        // direction comes from the target.
        let value = self.req_f64(e, "value")?.abs();
        Ok(Dynamics {
            shape,
            dimension,
            value,
        })
    }

    fn shape(&self, e: &Element) -> Result<Shape> {
        self.enumeration(
            e,
            "dynamicsShape",
            &[
                ("step", Shape::Step),
                ("linear", Shape::Linear),
                ("cubic", Shape::Cubic),
                ("sinusoidal", Shape::Sinusoidal),
            ],
        )
    }

    /// `None` for actions accepted without effect (noted in `notes`).
    fn private_action(&mut self, e: &Element) -> Result<Option<PrivateAction>> {
        let a = self.one_of(
            e,
            &[
                "LongitudinalAction",
                "LateralAction",
                "TeleportAction",
                "RoutingAction",
                "ActivateControllerAction",
                "ControllerAction",
                "VisibilityAction",
                "AppearanceAction",
            ],
        )?;
        match a.name.as_str() {
            "LongitudinalAction" => {
                let s = self.one_of(
                    a,
                    &[
                        "SpeedAction",
                        "SpeedProfileAction",
                        "LongitudinalDistanceAction",
                    ],
                )?;
                if s.name == "LongitudinalDistanceAction" {
                    let time_gap = self.opt_f64(s, "timeGap")?;
                    let distance = match (self.opt_f64(s, "distance")?, time_gap) {
                        (Some(d), _) => d,
                        (None, Some(_)) => 0.0,
                        (None, None) => {
                            return Err(Error::MissingAttribute {
                                element: s.name.clone(),
                                attribute: "distance or timeGap".into(),
                                at: self.at(s),
                            });
                        }
                    };
                    let limits = match s.child("DynamicConstraints") {
                        Some(c) => Some((
                            self.f64_or(c, "maxAcceleration", f64::INFINITY)?,
                            self.f64_or(c, "maxDeceleration", f64::INFINITY)?,
                            self.f64_or(c, "maxSpeed", f64::INFINITY)?,
                        )),
                        None => None,
                    };
                    let leading =
                        self.opt(s, "displacement")?.as_deref() == Some("leadingReferencedEntity");
                    return Ok(Some(PrivateAction::LongitudinalDistance {
                        entity: self.entity_ref(s, "entityRef")?,
                        distance,
                        time_gap,
                        freespace: self.opt_bool(s, "freespace")?.unwrap_or(false),
                        continuous: self.opt_bool(s, "continuous")?.unwrap_or(false),
                        leading,
                        limits,
                    }));
                }
                if s.name == "SpeedProfileAction" {
                    if s.attribute("entityRef").is_some() {
                        return Err(self.bad(
                            s,
                            "entityRef",
                            s.attribute("entityRef").unwrap_or_default(),
                            "speed profiles relative to another entity are not supported yet; use absolute speeds",
                        ));
                    }
                    self.check_children(s, &["SpeedProfileEntry", "DynamicConstraints"])?;
                    if s.child("DynamicConstraints").is_some()
                        || s.attribute("followingMode") == Some("follow")
                    {
                        self.notes.push(format!(
                            "{}: SpeedProfileAction runs in position mode; DynamicConstraints and follow mode are not applied",
                            self.at(s)
                        ));
                    }
                    let mut entries = Vec::new();
                    for entry in s.children_named("SpeedProfileEntry") {
                        let time = self.f64_or(entry, "time", 0.0)?;
                        if time < 0.0 {
                            return Err(self.bad(
                                entry,
                                "time",
                                &time.to_string(),
                                "a time ≥ 0 is allowed",
                            ));
                        }
                        entries.push((time, self.req_f64(entry, "speed")?));
                    }
                    if entries.is_empty() {
                        return Err(Error::MissingChild {
                            element: s.name.clone(),
                            expected: "<SpeedProfileEntry>".into(),
                            at: self.at(s),
                        });
                    }
                    return Ok(Some(PrivateAction::SpeedProfile { entries }));
                }
                let dynamics = self.dynamics(self.need(s, "SpeedActionDynamics")?)?;
                let target_element = self.need(s, "SpeedActionTarget")?;
                let t = self.one_of(
                    target_element,
                    &["AbsoluteTargetSpeed", "RelativeTargetSpeed"],
                )?;
                let target = if t.name == "AbsoluteTargetSpeed" {
                    SpeedTarget::Absolute(self.req_f64(t, "value")?)
                } else {
                    SpeedTarget::Relative {
                        entity: self.entity_ref(t, "entityRef")?,
                        value: self.req_f64(t, "value")?,
                        factor: self.enumeration(
                            t,
                            "speedTargetValueType",
                            &[("delta", false), ("factor", true)],
                        )?,
                        continuous: self.opt_bool(t, "continuous")?.unwrap_or(false),
                    }
                };
                Ok(Some(PrivateAction::Speed { dynamics, target }))
            }
            "LateralAction" => {
                let l = self.one_of(a, &["LaneChangeAction", "LaneOffsetAction"])?;
                if l.name == "LaneChangeAction" {
                    let dynamics = self.dynamics(self.need(l, "LaneChangeActionDynamics")?)?;
                    let target_element = self.need(l, "LaneChangeTarget")?;
                    let t = self.one_of(
                        target_element,
                        &["RelativeTargetLane", "AbsoluteTargetLane"],
                    )?;
                    let target = if t.name == "AbsoluteTargetLane" {
                        LaneTarget::Absolute(self.req_i32(t, "value")?)
                    } else {
                        LaneTarget::Relative {
                            entity: self.entity_ref(t, "entityRef")?,
                            value: self.req_i32(t, "value")?,
                        }
                    };
                    let target_offset = self.f64_or(l, "targetLaneOffset", 0.0)?;
                    Ok(Some(PrivateAction::LaneChange {
                        dynamics,
                        target,
                        target_offset,
                    }))
                } else {
                    let d = self.need(l, "LaneOffsetActionDynamics")?;
                    let shape = self.shape(d)?;
                    let max_lateral_acceleration = self.opt_f64(d, "maxLateralAcc")?;
                    let target_element = self.need(l, "LaneOffsetTarget")?;
                    let t = self.one_of(
                        target_element,
                        &["AbsoluteTargetLaneOffset", "RelativeTargetLaneOffset"],
                    )?;
                    let target = if t.name == "AbsoluteTargetLaneOffset" {
                        OffsetTarget::Absolute(self.req_f64(t, "value")?)
                    } else {
                        OffsetTarget::Relative {
                            entity: self.entity_ref(t, "entityRef")?,
                            value: self.req_f64(t, "value")?,
                        }
                    };
                    let continuous = self.opt_bool(l, "continuous")?.unwrap_or(false);
                    Ok(Some(PrivateAction::LaneOffset {
                        shape,
                        max_lateral_acceleration,
                        target,
                        continuous,
                    }))
                }
            }
            "TeleportAction" => Ok(Some(PrivateAction::Teleport(
                self.position(self.need(a, "Position")?)?,
            ))),
            "RoutingAction" => {
                let r = self.one_of(a, &["AssignRouteAction", "FollowTrajectoryAction"])?;
                if r.name == "AssignRouteAction" {
                    let route = self.one_of(r, &["Route", "CatalogReference"])?;
                    let (name, waypoints) = if route.name == "Route" {
                        self.route(route)?
                    } else {
                        self.with_catalog_entry(route, &mut |p, entry| p.route(entry))?
                    };
                    Ok(Some(PrivateAction::AssignRoute { name, waypoints }))
                } else {
                    self.follow_trajectory(r).map(Some)
                }
            }
            "ActivateControllerAction" => Ok(Some(PrivateAction::ActivateController {
                lateral: self.opt_bool(a, "lateral")?,
                longitudinal: self.opt_bool(a, "longitudinal")?,
            })),
            "ControllerAction" => {
                let c = self.one_of(a, &["AssignControllerAction", "ActivateControllerAction"])?;
                if c.name == "ActivateControllerAction" {
                    return Ok(Some(PrivateAction::ActivateController {
                        lateral: self.opt_bool(c, "lateral")?,
                        longitudinal: self.opt_bool(c, "longitudinal")?,
                    }));
                }
                let mut inner =
                    self.one_of(c, &["Controller", "CatalogReference", "ObjectController"])?;
                // OpenSCENARIO 1.3 wraps the controller in an ObjectController.
                if inner.name == "ObjectController" {
                    inner = self.one_of(inner, &["Controller", "CatalogReference"])?;
                }
                let name = if inner.name == "Controller" {
                    self.req(inner, "name")?
                } else {
                    self.with_catalog_entry(inner, &mut |p, entry| p.controller_name(entry))?
                };
                Ok(Some(PrivateAction::AssignController { name }))
            }
            // Visibility and lights change what sensors and viewers see, not the motion.
            _ => {
                self.notes.push(format!(
                    "{}: {} is accepted without effect on the run",
                    self.at(a),
                    a.name
                ));
                Ok(None)
            }
        }
    }

    fn route(&mut self, e: &Element) -> Result<(String, Vec<Position>)> {
        self.declare(e)?;
        let result = (|| {
            let name = self.req(e, "name")?;
            self.check_children(e, &["ParameterDeclarations", "Waypoint"])?;
            let mut waypoints = Vec::new();
            for w in e.children_named("Waypoint") {
                waypoints.push(self.position(self.need(w, "Position")?)?);
            }
            Ok((name, waypoints))
        })();
        self.scopes.pop();
        result
    }

    fn follow_trajectory(&mut self, e: &Element) -> Result<PrivateAction> {
        // 1.0 puts Trajectory/CatalogReference directly inside; 1.1+ wraps them in TrajectoryRef.
        let holder = e.child("TrajectoryRef").unwrap_or(e);
        let t = holder
            .children
            .iter()
            .find(|c| c.name == "Trajectory" || c.name == "CatalogReference")
            .ok_or_else(|| Error::MissingChild {
                element: holder.name.clone(),
                expected: choice(&["Trajectory", "CatalogReference"]),
                at: self.at(holder),
            })?;
        let mut action = if t.name == "Trajectory" {
            self.trajectory(t)?
        } else {
            self.with_catalog_entry(t, &mut |p, entry| p.trajectory(entry))?
        };
        let timing = match e.child("TimeReference").and_then(|r| r.child("Timing")) {
            Some(timing) => Some(Timing {
                relative: self.enumeration(
                    timing,
                    "domainAbsoluteRelative",
                    &[("absolute", false), ("relative", true)],
                )?,
                scale: self.req_f64(timing, "scale")?,
                offset: self.req_f64(timing, "offset")?,
            }),
            None => None,
        };
        if let PrivateAction::FollowTrajectory { timing: slot, .. } = &mut action {
            *slot = timing;
        }
        Ok(action)
    }

    fn trajectory(&mut self, e: &Element) -> Result<PrivateAction> {
        self.declare(e)?;
        let result = (|| {
            let name = self.req(e, "name")?;
            let closed = self.opt_bool(e, "closed")?.unwrap_or(false);
            let shape = self.need(e, "Shape")?;
            let polyline = self.one_of(shape, &["Polyline", "Clothoid"])?;
            if polyline.name == "Clothoid" {
                let c = polyline;
                let curvature_prime = match self.opt_f64(c, "curvaturePrime")? {
                    Some(v) => v,
                    // OpenSCENARIO 1.0 names it curvatureDot.
                    None => self.f64_or(c, "curvatureDot", 0.0)?,
                };
                let length = self.req_f64(c, "length")?;
                if !(length > 0.0 && length <= MAX_CLOTHOID_LENGTH_M) {
                    return Err(self.bad(
                        c,
                        "length",
                        &length.to_string(),
                        &format!("a length in (0, {MAX_CLOTHOID_LENGTH_M}] m is allowed"),
                    ));
                }
                let start = match c.child("Position") {
                    Some(p) => Some(self.position(p)?),
                    None => None,
                };
                return Ok(PrivateAction::FollowTrajectory {
                    name,
                    vertices: Vec::new(),
                    closed,
                    timing: None,
                    clothoid: Some(Clothoid {
                        curvature: self.req_f64(c, "curvature")?,
                        curvature_prime,
                        length,
                        start,
                    }),
                });
            }
            let mut vertices = Vec::new();
            for v in polyline.children_named("Vertex") {
                if vertices.len() >= MAX_TRAJECTORY_VERTICES {
                    return Err(Error::Limit {
                        message: format!(
                            "trajectory has more than {MAX_TRAJECTORY_VERTICES} vertices"
                        ),
                        at: self.at(v),
                    });
                }
                vertices.push(Vertex {
                    time: self.opt_f64(v, "time")?,
                    position: self.position(self.need(v, "Position")?)?,
                });
            }
            if vertices.is_empty() {
                return Err(Error::MissingChild {
                    element: "Polyline".into(),
                    expected: "<Vertex>".into(),
                    at: self.at(polyline),
                });
            }
            Ok(PrivateAction::FollowTrajectory {
                name,
                vertices,
                closed,
                timing: None,
                clothoid: None,
            })
        })();
        self.scopes.pop();
        result
    }

    // ---- positions ----

    fn orientation(&self, e: &Element) -> Result<Orientation> {
        let Some(o) = e.child("Orientation") else {
            return Ok(Orientation::default());
        };
        Ok(Orientation {
            h: self.opt_f64(o, "h")?,
            p: self.opt_f64(o, "p")?,
            r: self.opt_f64(o, "r")?,
            relative: self.opt(o, "type")?.is_some_and(|t| t == "relative"),
        })
    }

    fn position(&mut self, e: &Element) -> Result<Position> {
        let p = self.one_of(
            e,
            &[
                "WorldPosition",
                "RelativeWorldPosition",
                "RelativeObjectPosition",
                "RoadPosition",
                "RelativeRoadPosition",
                "LanePosition",
                "RelativeLanePosition",
                "RoutePosition",
            ],
        )?;
        Ok(match p.name.as_str() {
            "RoutePosition" => self.route_position(p)?,
            "WorldPosition" => Position::World {
                x: self.req_f64(p, "x")?,
                y: self.req_f64(p, "y")?,
                z: self.opt_f64(p, "z")?,
                h: self.opt_f64(p, "h")?,
                p: self.opt_f64(p, "p")?,
                r: self.opt_f64(p, "r")?,
            },
            "RelativeWorldPosition" => Position::RelativeWorld {
                entity: self.entity_ref(p, "entityRef")?,
                dx: self.req_f64(p, "dx")?,
                dy: self.req_f64(p, "dy")?,
                dz: self.f64_or(p, "dz", 0.0)?,
                orientation: self.orientation(p)?,
            },
            "RelativeObjectPosition" => Position::RelativeObject {
                entity: self.entity_ref(p, "entityRef")?,
                dx: self.req_f64(p, "dx")?,
                dy: self.req_f64(p, "dy")?,
                dz: self.f64_or(p, "dz", 0.0)?,
                orientation: self.orientation(p)?,
            },
            "RoadPosition" => Position::Road {
                road: self.req(p, "roadId")?,
                s: self.req_f64(p, "s")?,
                t: self.req_f64(p, "t")?,
                orientation: self.orientation(p)?,
            },
            "RelativeRoadPosition" => Position::RelativeRoad {
                entity: self.entity_ref(p, "entityRef")?,
                ds: self.req_f64(p, "ds")?,
                dt: self.req_f64(p, "dt")?,
                orientation: self.orientation(p)?,
            },
            "LanePosition" => Position::Lane {
                road: self.req(p, "roadId")?,
                lane: self.req_i32(p, "laneId")?,
                s: self.req_f64(p, "s")?,
                offset: self.f64_or(p, "offset", 0.0)?,
                orientation: self.orientation(p)?,
            },
            _ => Position::RelativeLane {
                entity: self.entity_ref(p, "entityRef")?,
                d_lane: self.req_i32(p, "dLane")?,
                ds: match self.opt_f64(p, "ds")? {
                    Some(ds) => ds,
                    None => self.f64_or(p, "dsLane", 0.0)?,
                },
                offset: self.f64_or(p, "offset", 0.0)?,
                orientation: self.orientation(p)?,
            },
        })
    }

    /// RoutePosition: the route (inline or from a catalog) and the place on it.
    fn route_position(&mut self, p: &Element) -> Result<Position> {
        self.check_children(p, &["RouteRef", "Orientation", "InRoutePosition"])?;
        let holder = self.one_of(self.need(p, "RouteRef")?, &["Route", "CatalogReference"])?;
        let (route, waypoints) = if holder.name == "Route" {
            self.route(holder)?
        } else {
            self.with_catalog_entry(holder, &mut |parser, entry| parser.route(entry))?
        };
        let place = self.one_of(
            self.need(p, "InRoutePosition")?,
            &[
                "FromCurrentEntity",
                "FromRoadCoordinates",
                "FromLaneCoordinates",
            ],
        )?;
        let at = match place.name.as_str() {
            "FromCurrentEntity" => InRoutePosition::FromCurrentEntity {
                entity: self.entity_ref(place, "entityRef")?,
            },
            "FromRoadCoordinates" => InRoutePosition::FromRoadCoordinates {
                path_s: self.req_f64(place, "pathS")?,
                t: self.req_f64(place, "t")?,
            },
            _ => InRoutePosition::FromLaneCoordinates {
                path_s: self.req_f64(place, "pathS")?,
                lane: self.req_i32(place, "laneId")?,
                offset: self.f64_or(place, "laneOffset", 0.0)?,
            },
        };
        Ok(Position::Route(Box::new(RoutePosition {
            route,
            waypoints,
            at,
            orientation: self.orientation(p)?,
        })))
    }

    // ---- triggers and conditions ----

    fn trigger(&mut self, e: &Element) -> Result<Trigger> {
        self.check_children(e, &["ConditionGroup"])?;
        let mut groups = Vec::new();
        for g in e.children_named("ConditionGroup") {
            self.check_children(g, &["Condition"])?;
            let mut conditions = Vec::new();
            for c in g.children_named("Condition") {
                conditions.push(self.condition(c)?);
            }
            groups.push(conditions);
        }
        Ok(Trigger { groups })
    }

    fn rule(&self, e: &Element) -> Result<Rule> {
        self.enumeration(
            e,
            "rule",
            &[
                ("greaterThan", Rule::GreaterThan),
                ("lessThan", Rule::LessThan),
                ("equalTo", Rule::EqualTo),
                ("greaterOrEqual", Rule::GreaterOrEqual),
                ("lessOrEqual", Rule::LessOrEqual),
                ("notEqualTo", Rule::NotEqualTo),
            ],
        )
    }

    fn condition(&mut self, e: &Element) -> Result<Condition> {
        let name = self.req(e, "name")?;
        let delay = self.f64_or(e, "delay", 0.0)?;
        if delay < 0.0 {
            return Err(self.bad(
                e,
                "delay",
                &delay.to_string(),
                "a delay ≥ 0 seconds is allowed",
            ));
        }
        let edge = self.enumeration(
            e,
            "conditionEdge",
            &[
                ("rising", Edge::Rising),
                ("falling", Edge::Falling),
                ("risingOrFalling", Edge::RisingOrFalling),
                ("none", Edge::None),
            ],
        )?;
        let body = self.one_of(e, &["ByEntityCondition", "ByValueCondition"])?;
        let kind = if body.name == "ByEntityCondition" {
            let triggering_element = self.need(body, "TriggeringEntities")?;
            let all = self.enumeration(
                triggering_element,
                "triggeringEntitiesRule",
                &[("any", false), ("all", true)],
            )?;
            let mut triggering = Vec::new();
            for r in triggering_element.children_named("EntityRef") {
                triggering.push(self.entity_ref(r, "entityRef")?);
            }
            let wrapper = self.need(body, "EntityCondition")?;
            ConditionKind::ByEntity {
                triggering,
                all,
                condition: self.entity_condition(wrapper)?,
            }
        } else {
            let c = self.one_of(
                body,
                &[
                    "SimulationTimeCondition",
                    "StoryboardElementStateCondition",
                    "ParameterCondition",
                    "VariableCondition",
                ],
            )?;
            match c.name.as_str() {
                "SimulationTimeCondition" => ConditionKind::SimulationTime {
                    value: self.req_f64(c, "value")?,
                    rule: self.rule(c)?,
                },
                "ParameterCondition" | "VariableCondition" => {
                    let variable = c.name == "VariableCondition";
                    let name = self.reference_name(c, variable)?;
                    ConditionKind::Parameter {
                        variable,
                        name,
                        value: self.req(c, "value")?,
                        rule: self.rule(c)?,
                    }
                }
                _ => {
                    let kind = self.enumeration(
                        c,
                        "storyboardElementType",
                        &[
                            ("story", ElementKind::Story),
                            ("act", ElementKind::Act),
                            ("maneuverGroup", ElementKind::ManeuverGroup),
                            ("maneuver", ElementKind::Maneuver),
                            ("event", ElementKind::Event),
                            ("action", ElementKind::Action),
                        ],
                    )?;
                    // esmini qualifies names as `Event::Action`; the last part is the element.
                    let full = self.req(c, "storyboardElementRef")?;
                    let name = full.rsplit("::").next().unwrap_or(&full).to_string();
                    self.element_refs.push((kind, name.clone(), self.at(c)));
                    let state = self.enumeration(
                        c,
                        "state",
                        &[
                            ("standbyState", ElementState::Standby),
                            ("runningState", ElementState::Running),
                            ("completeState", ElementState::Complete),
                            ("startTransition", ElementState::StartTransition),
                            ("endTransition", ElementState::EndTransition),
                            ("stopTransition", ElementState::StopTransition),
                            ("skipTransition", ElementState::SkipTransition),
                        ],
                    )?;
                    ConditionKind::ElementState { kind, name, state }
                }
            }
        };
        Ok(Condition {
            name,
            delay,
            edge,
            kind,
        })
    }

    fn entity_condition(&mut self, wrapper: &Element) -> Result<EntityCondition> {
        let c = self.one_of(
            wrapper,
            &[
                "TimeHeadwayCondition",
                "TimeToCollisionCondition",
                "RelativeDistanceCondition",
                "DistanceCondition",
                "SpeedCondition",
                "RelativeSpeedCondition",
                "ReachPositionCondition",
                "AccelerationCondition",
                "CollisionCondition",
                "EndOfRoadCondition",
                "StandStillCondition",
                "OffroadCondition",
                "TraveledDistanceCondition",
            ],
        )?;
        let freespace = |parser: &Self| -> Result<bool> {
            // 1.0 spells it `freespace`, some writers `freeSpace`; it is required in both.
            match parser.opt_bool(c, "freespace")? {
                Some(v) => Ok(v),
                None => Ok(parser.opt_bool(c, "freeSpace")?.unwrap_or(false)),
            }
        };
        let road_coordinates = |parser: &Self| -> Result<bool> {
            // 1.0 has no coordinateSystem and measures along the road for headway
            // (alongRoute="true") or in the entity frame.
            Ok(match parser.opt(c, "coordinateSystem")? {
                Some(system) => system == "road" || system == "lane",
                None => parser.opt_bool(c, "alongRoute")?.unwrap_or(false),
            })
        };
        Ok(match c.name.as_str() {
            "TimeHeadwayCondition" => EntityCondition::TimeHeadway {
                entity: self.entity_ref(c, "entityRef")?,
                value: self.req_f64(c, "value")?,
                freespace: freespace(self)?,
                road_coordinates: road_coordinates(self)?,
                rule: self.rule(c)?,
            },
            "TimeToCollisionCondition" => {
                let target_element = self.need(c, "TimeToCollisionConditionTarget")?;
                let t = self.one_of(target_element, &["EntityRef", "Position"])?;
                let target = if t.name == "EntityRef" {
                    Target::Entity(self.entity_ref(t, "entityRef")?)
                } else {
                    Target::Position(self.position(t)?)
                };
                EntityCondition::TimeToCollision {
                    target,
                    value: self.req_f64(c, "value")?,
                    freespace: freespace(self)?,
                    rule: self.rule(c)?,
                }
            }
            "RelativeDistanceCondition" => EntityCondition::RelativeDistance {
                entity: self.entity_ref(c, "entityRef")?,
                distance_type: self.enumeration(
                    c,
                    "relativeDistanceType",
                    &[
                        ("longitudinal", DistanceType::Longitudinal),
                        ("lateral", DistanceType::Lateral),
                        ("euclidianDistance", DistanceType::Euclidean),
                        ("euclideanDistance", DistanceType::Euclidean),
                        ("cartesianDistance", DistanceType::Euclidean),
                    ],
                )?,
                value: self.req_f64(c, "value")?,
                freespace: freespace(self)?,
                road_coordinates: road_coordinates(self)?,
                rule: self.rule(c)?,
            },
            "DistanceCondition" => EntityCondition::Distance {
                position: self.position(self.need(c, "Position")?)?,
                value: self.req_f64(c, "value")?,
                freespace: freespace(self)?,
                rule: self.rule(c)?,
            },
            "SpeedCondition" => EntityCondition::Speed {
                value: self.req_f64(c, "value")?,
                rule: self.rule(c)?,
            },
            "RelativeSpeedCondition" => EntityCondition::RelativeSpeed {
                entity: self.entity_ref(c, "entityRef")?,
                value: self.req_f64(c, "value")?,
                rule: self.rule(c)?,
                direction: match self.opt(c, "direction")?.as_deref() {
                    None => None,
                    Some(_) => Some(self.enumeration(
                        c,
                        "direction",
                        &[
                            ("longitudinal", SpeedDirection::Longitudinal),
                            ("lateral", SpeedDirection::Lateral),
                            ("vertical", SpeedDirection::Vertical),
                        ],
                    )?),
                },
            },
            "ReachPositionCondition" => EntityCondition::ReachPosition {
                position: self.position(self.need(c, "Position")?)?,
                tolerance: self.req_f64(c, "tolerance")?,
            },
            "AccelerationCondition" => EntityCondition::Acceleration {
                value: self.req_f64(c, "value")?,
                rule: self.rule(c)?,
            },
            "CollisionCondition" => {
                let t = self.one_of(c, &["EntityRef", "ByType"])?;
                if t.name == "EntityRef" {
                    EntityCondition::Collision {
                        target: self.entity_ref(t, "entityRef")?,
                        by_type: false,
                    }
                } else {
                    EntityCondition::Collision {
                        target: self.req(t, "type")?,
                        by_type: true,
                    }
                }
            }
            "EndOfRoadCondition" => EntityCondition::EndOfRoad {
                duration: self.req_f64(c, "duration")?,
            },
            "StandStillCondition" => EntityCondition::StandStill {
                duration: self.req_f64(c, "duration")?,
            },
            "OffroadCondition" => EntityCondition::Offroad {
                duration: self.req_f64(c, "duration")?,
            },
            _ => EntityCondition::TraveledDistance {
                value: self.req_f64(c, "value")?,
            },
        })
    }
}
