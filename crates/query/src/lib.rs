//! The Azure Digital Twins (ADT) query language: parsing, checking and evaluation
//! over any twin graph that implements [`TwinGraph`]. The crate is pure: no I/O, no
//! async, no clock.
//!
//! # Pipeline
//!
//! [`parse`] turns text into a checked [`Query`] (every alias resolved, every
//! function known, aggregates consistent), or a [`QueryError`] that carries the byte
//! offset and length of the offending token and says what was expected.
//! [`execute`] runs a query against a [`TwinGraph`] and returns one [`Page`] of rows
//! (`skip`/`take`). [`execute_from`] pages with a [`Cursor`] instead: each page
//! resumes the scan where the last one stopped, so paging through a long result
//! costs one scan in all rather than one per page; a server can carry the cursor in
//! its continuation token.
//!
//! The parser is a small hand-written lexer plus a recursive-descent parser with
//! precedence climbing for `OR` / `AND` / `NOT` / comparisons. The grammar has about
//! a dozen productions and no ambiguity; writing it by hand keeps every token's
//! byte span at hand for error messages and keeps the error texts entirely ours,
//! which is clearly simpler than adapting a combinator library's error type, and
//! adds no dependency.
//!
//! # Language
//!
//! ```text
//! SELECT [TOP(n)] ( * | column [, column]* )
//! FROM DIGITALTWINS [alias] | FROM RELATIONSHIPS [alias]
//! [JOIN alias RELATED alias.relationshipName [relationshipAlias]]*   (at most 5)
//! [WHERE condition]
//! [GROUP BY path [, path]*]
//!
//! column    := path [AS name] | alias [AS name] | aggregate [AS name]
//! aggregate := COUNT() | COUNT(path) | MIN(path) | MAX(path) | AVG(path) | SUM(path)
//! path      := [alias.]segment(.segment | ['any text'])*   e.g. T.$metadata.$model
//! condition := condition OR condition | condition AND condition | NOT condition
//!            | ( condition ) | operand op operand | operand IN [lit, ...]
//!            | operand NIN [lit, ...] | function(...)
//! op        := = | != | <> | < | <= | > | >=
//! ```
//!
//! Keywords and function names are case-insensitive; aliases and property names are
//! case-sensitive. Strings take single or double quotes with backslash escapes.
//! Functions: `IS_OF_MODEL([alias,] 'dtmi' [, exact])`, `IS_DEFINED`, `IS_NULL`,
//! `IS_BOOL`, `IS_NUMBER`, `IS_STRING`, `IS_OBJECT`, `IS_PRIMITIVE` (one path each),
//! `STARTSWITH` / `ENDSWITH` / `CONTAINS(path, 'text')`, `ARRAY_CONTAINS(path, lit)`.
//!
//! Conditions are three-valued, as in SQL: a comparison with a missing property (or
//! an ordering between different types) is *unknown*, `NOT unknown` stays unknown,
//! and only rows whose condition is *true* are returned. `=` between values of
//! different types is false, not unknown.
//!
//! ## Beyond ADT: spatial predicates
//!
//! A twin's world position (its placement composed with its parents', as the graph
//! reports it through [`TwinGraph::world_position`]) can be tested:
//!
//! - `WITHIN_BOX([alias,] x0, y0, z0, x1, y1, z1)`: true when the position lies in
//!   the axis-aligned box with corners `(x0,y0,z0)` and `(x1,y1,z1)`, bounds
//!   included; the corners may be given in any order.
//! - `WITHIN_SPHERE([alias,] x, y, z, r)`: true when the position lies within
//!   distance `r` (metres, `r >= 0`) of `(x, y, z)`, the surface included.
//!
//! A twin without a placement is never within anything. Both use the graph's
//! spatial index ([`TwinGraph::twins_in_box`]) when they sit in the top-level `AND`.
//!
//! ## Beyond ADT: aggregates
//!
//! `COUNT()`, `COUNT(path)` (rows where the path is defined), `MIN`, `MAX`, `AVG`,
//! `SUM` over numeric values (other and missing values are skipped; with no numeric
//! value the result is `null`). With `GROUP BY path[, path]` there is one row per
//! distinct combination of group values (a missing value groups as `null`), shaped
//! `{ <group column>: value, ..., <aggregate name>: value }`, ordered by the group
//! values. Every non-aggregate column must be a `GROUP BY` path. Without `GROUP BY`
//! the aggregates produce a single row. `TOP` with an aggregate and no `GROUP BY` is
//! refused, as ADT refuses `TOP` with `COUNT()`.
//!
//! # Row shapes (as ADT)
//!
//! `SELECT *` over one collection: each row is the twin (or relationship) JSON.
//! Alias columns (`SELECT T, CT`): `{ "T": {...}, "CT": {...} }`; a single alias
//! column (`SELECT T FROM DIGITALTWINS T`) is `{ "T": {...} }` too, which is what
//! ADT returns (only `*` gives the bare document). Property columns:
//! `{ "<AS name or last path segment>": value }`, a missing property is omitted.
//! `COUNT()`: `{ "COUNT": n }`.
//!
//! # Indexes
//!
//! When the `FROM` collection is `DIGITALTWINS`, the top-level `AND` of the `WHERE`
//! is searched for a condition on the `FROM` alias that an index can answer:
//! `$dtId = 'x'` or `$dtId IN [...]` ([`TwinGraph::twin_by_id`]), `path = literal`
//! ([`TwinGraph::twins_with_value`], optional), `WITHIN_BOX` / `WITHIN_SPHERE`
//! ([`TwinGraph::twins_in_box`]), `IS_OF_MODEL` ([`TwinGraph::twins_of_model`]),
//! in that order of preference. The whole condition is still evaluated on every
//! candidate, so an index only narrows the scan.
//!
//! Before those, a graph that keeps its values in columns (or indexes) may answer
//! the simple conjuncts itself: every top-level `path op literal` comparison on
//! the `FROM` twin and every `IS_OF_MODEL` go to [`TwinGraph::twins_where`] as
//! [`Conjunct`]s, in one call. The graph returns the twins that satisfy the
//! conjuncts it could answer *exactly* and says which those were; the engine then
//! tests only the remaining conditions on those twins. A filter such as
//! `T.temperature > 80` over a million twins thus becomes one tight column scan
//! instead of a million property look-ups. `$dtId` look-ups and regions still come
//! first: they are cheaper than any scan.
//!
//! # Limits
//!
//! Parsing is bounded by [`MAX_QUERY_BYTES`], [`MAX_EXPR_DEPTH`], [`MAX_IN_LIST`],
//! [`MAX_JOINS`] and [`MAX_PATH_SEGMENTS`]; execution by [`Limits`] (rows examined,
//! JOIN fan-out per twin, groups, rows per page). Passing one is an error that
//! points at the clause to narrow, never a truncated answer (a page cut to
//! `max_page_rows` says `more`).

mod ast;
mod error;
mod eval;
mod lexer;
mod parser;

pub use ast::{
    Aggregate, Collection, Column, ColumnExpr, CompareOp, Expr, FromClause, Function, Join,
    Literal, Path, Query, Select, SelectList, Span, TypeTest,
};
pub use error::{QueryError, QueryErrorKind};
pub use eval::{Cursor, CursorPage, Limits, Page, execute, execute_from};
pub use parser::{MAX_EXPR_DEPTH, MAX_IN_LIST, MAX_JOINS, MAX_PATH_SEGMENTS, MAX_QUERY_BYTES};

use std::borrow::Cow;

/// What a twin graph must offer so that queries can run over it. `world` implements
/// it; tests implement it over plain vectors.
pub trait TwinGraph {
    /// A cheap handle to one twin (an index or a key).
    type Twin: Copy + Eq + std::hash::Hash;
    /// A cheap handle to one relationship.
    type Rel: Copy;
    /// Every twin, in a stable order (paging relies on it between calls).
    fn twins(&self) -> Box<dyn Iterator<Item = Self::Twin> + '_>;
    /// Candidates for IS_OF_MODEL from an index, if the graph keeps one.
    fn twins_of_model(&self, model: &str, exact: bool) -> Option<Vec<Self::Twin>>;
    /// Candidates whose world position lies in the box, if the graph keeps a spatial index.
    fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Option<Vec<Self::Twin>>;
    /// Candidates whose value at `path` equals `value` (numbers by value, so `1`
    /// and `1.0` are equal), if the graph indexes that property. Optional: the
    /// default keeps no such index and the query scans.
    fn twins_with_value(
        &self,
        path: &[&str],
        value: &serde_json::Value,
    ) -> Option<Vec<Self::Twin>> {
        let _ = (path, value);
        None
    }
    /// Candidates for a conjunction of simple conditions on the `FROM` twin, from
    /// the graph's own columns or indexes. Optional: the default answers nothing
    /// and the engine uses the other indexes or scans.
    ///
    /// The answer must be exact for the conjuncts it marks as applied: `twins`
    /// holds every twin, in [`TwinGraph::twins`] order, for which each applied
    /// conjunct is *true* under the language's rules (a missing value or an
    /// ordering between different types is unknown, so not true; `=` compares
    /// numbers by value). The engine does not test applied conjuncts again. A
    /// graph that cannot answer a conjunct exactly leaves it unapplied; when it
    /// applies none it returns `None`.
    ///
    /// `enough` is set when the conjuncts are the whole condition and every
    /// candidate becomes one row: if the graph applied them all, it may stop
    /// after the first `enough` twins (in `twins()` order), since the engine
    /// will not look further.
    fn twins_where(
        &self,
        conjuncts: &[Conjunct<'_>],
        enough: Option<usize>,
    ) -> Option<Matches<Self::Twin>> {
        let _ = (conjuncts, enough);
        None
    }
    /// The twin with this `$dtId`.
    fn twin_by_id(&self, id: &str) -> Option<Self::Twin>;
    /// The `$dtId` of a twin.
    fn twin_id(&self, twin: Self::Twin) -> &str;
    /// Whether the twin's model is `model` (or, unless `exact`, extends it).
    fn is_of_model(&self, twin: Self::Twin, model: &str, exact: bool) -> bool;
    /// Value at a path in the twin's JSON (first segment a property/component name or `$dtId`, `$metadata`, ...).
    fn twin_value(&self, twin: Self::Twin, path: &[&str]) -> Option<Cow<'_, serde_json::Value>>;
    /// The twin as ADT returns it.
    fn twin_json(&self, twin: Self::Twin) -> serde_json::Value;
    /// Outgoing relationships of a twin with this name, with their targets.
    fn outgoing(&self, twin: Self::Twin, relationship_name: &str) -> Vec<(Self::Rel, Self::Twin)>;
    /// Every relationship, in a stable order.
    fn relationships(&self) -> Box<dyn Iterator<Item = Self::Rel> + '_>;
    /// Value at a path in the relationship's JSON (`$relationshipId`, `$sourceId`, ...).
    fn relationship_value(
        &self,
        rel: Self::Rel,
        path: &[&str],
    ) -> Option<Cow<'_, serde_json::Value>>;
    /// The relationship as ADT returns it.
    fn relationship_json(&self, rel: Self::Rel) -> serde_json::Value;
    /// The twin's position in world coordinates (metres), if it is placed.
    fn world_position(&self, twin: Self::Twin) -> Option<[f64; 3]>;
}

/// A simple condition on the `FROM` twin that a graph may answer from its own
/// columns or indexes ([`TwinGraph::twins_where`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conjunct<'a> {
    /// `path op value`, the literal on the right (the engine flips `5 < T.x`).
    Compare {
        /// The property path below the twin, e.g. `["temperature"]`.
        path: &'a [&'a str],
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: &'a serde_json::Value,
    },
    /// `IS_OF_MODEL(model, exact)`.
    OfModel {
        /// The model id as written in the query.
        model: &'a str,
        /// Whether subtypes are excluded.
        exact: bool,
    },
}

/// What [`TwinGraph::twins_where`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches<T> {
    /// The twins satisfying every applied conjunct, in [`TwinGraph::twins`] order.
    pub twins: Vec<T>,
    /// Per conjunct (same positions as the request): whether `twins` accounts
    /// for it exactly.
    pub applied: Vec<bool>,
}

/// `a op b` as the language defines it: `Some(true)` or `Some(false)`, or `None`
/// when unknown (an ordering between values of different types, or of objects
/// and arrays). Numbers compare by value (`1 = 1.0`); `=` between different
/// types is false. A graph answering [`TwinGraph::twins_where`] from its own
/// columns can settle the cases its columns cannot decide with this.
pub fn compare(op: CompareOp, a: &serde_json::Value, b: &serde_json::Value) -> Option<bool> {
    eval::compare(op, a, b)
}

/// Parses and checks a query.
///
/// ```
/// let query = query::parse("select T.name from digitaltwins T where T.area > 20 and not is_defined(T.x)")?;
/// assert_eq!(
///     query.to_string(),
///     "SELECT T.name FROM DIGITALTWINS T WHERE T.area > 20 AND NOT IS_DEFINED(T.x)"
/// );
///
/// let err = query::parse("SELECT * FROM DIGITALTWINS T WHERE T.area >").unwrap_err();
/// assert_eq!((err.offset, err.len), (43, 0));
/// assert_eq!(
///     err.to_string(),
///     "at offset 43 (end of input): expected a condition: a property path, a literal, a function, NOT or '('"
/// );
/// # Ok::<(), query::QueryError>(())
/// ```
///
/// # Errors
/// A [`QueryError`] pointing at the first token that does not fit the grammar, or
/// that names something the query cannot answer (unknown alias or function, an
/// aggregate mixed with a column that is not grouped, ...).
pub fn parse(text: &str) -> Result<Query, QueryError> {
    parser::parse(text)
}
