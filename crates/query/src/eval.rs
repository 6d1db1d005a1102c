//! Runs a checked [`Query`] over a [`TwinGraph`]. The `WHERE` is compiled once into
//! a small tree whose paths are ready-made `&[&str]` slices, split into top-level
//! conjuncts that are each tested as soon as the aliases they name are bound (so a
//! filter on `T` runs before `T`'s relationships are followed). Rows are built only
//! for the requested page; scanning allocates nothing per twin.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use serde_json::{Map, Value};
use smallvec::SmallVec;

use crate::ast::{
    Aggregate, Collection, ColumnExpr, CompareOp, Expr, Function, Path, Query, SelectList, Span,
    TypeTest,
};
use crate::error::{QueryError, QueryErrorKind};
use crate::{Conjunct, TwinGraph};

/// Bounds on the work one [`execute`] call may do. A query that would pass one is
/// refused with [`QueryErrorKind::LimitExceeded`] pointing at the clause to narrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most rows examined: candidate twins or relationships plus every row a JOIN
    /// produces. Bounds the CPU one query takes from the world's read lock.
    /// Default 10,000,000: ten full scans of a million-twin world.
    pub max_rows_scanned: u64,
    /// Most relationships one JOIN may follow from a single twin. Bounds the rows
    /// one twin can multiply into. Default 10,000.
    pub max_join_fanout: usize,
    /// Most groups a `GROUP BY` may build; each one is held in memory until the
    /// scan ends. Default 100,000.
    pub max_groups: usize,
    /// Most rows in one page: a larger `take` is cut to this, and the page says
    /// `more`, so a client keeps paging instead of the server building one huge
    /// response. Default 10,000.
    pub max_page_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rows_scanned: 10_000_000,
            max_join_fanout: 10_000,
            max_groups: 100_000,
            max_page_rows: 10_000,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The rows, in the shape ADT gives them.
    pub rows: Vec<Value>,
    /// Whether more rows follow this page (ask again with `skip + rows.len()`).
    pub more: bool,
}

/// Runs `query` over `graph` and returns the rows `skip .. skip + take` of its result.
///
/// Every call scans from the start and passes over `skip` matching rows; to page
/// through a long result without re-examining earlier rows, use [`execute_from`].
///
/// # Errors
/// [`QueryErrorKind::LimitExceeded`] when the query would pass one of `limits`;
/// [`QueryErrorKind::Invalid`] for a hand-built [`Query`] that names an alias it
/// does not declare (queries from [`crate::parse`] never do).
pub fn execute<G: TwinGraph>(
    query: &Query,
    graph: &G,
    skip: usize,
    take: usize,
    limits: &Limits,
) -> Result<Page, QueryError> {
    let start = Start {
        roots: 0,
        skip: skip as u64,
        before: 0,
    };
    run(query, graph, start, take, limits).map(|(page, _)| page)
}

/// Where a page of [`execute_from`] ended, so that the next page resumes the scan
/// there. Valid only for the same query over an unchanged graph (as ADT's
/// continuation tokens); on a changed graph rows may repeat or be missed, never
/// invented. The server can carry it in its continuation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    /// Candidates (`FROM` twins or relationships) fully consumed.
    pub roots: u64,
    /// Rows already returned from the next candidate (several when it JOINs).
    pub rows_in_root: u64,
    /// Rows returned by all pages so far (`TOP` and grouped results count them).
    pub returned: u64,
}

/// One page of [`execute_from`]: the rows, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorPage {
    /// The rows, in the shape ADT gives them.
    pub rows: Vec<Value>,
    /// `Some` when more rows follow.
    pub next: Option<Cursor>,
}

/// Runs `query` over `graph` from `cursor` (use `Cursor::default()` for the first
/// page) and returns up to `take` rows. Unlike [`execute`] with a growing `skip`,
/// a page costs the same wherever it starts, so listing a million twins page by
/// page scans them once. A `take` of 0 returns no rows and the same cursor.
///
/// # Errors
/// As [`execute`].
pub fn execute_from<G: TwinGraph>(
    query: &Query,
    graph: &G,
    cursor: Cursor,
    take: usize,
    limits: &Limits,
) -> Result<CursorPage, QueryError> {
    let grouped = matches!(Plan::compile(query)?.output, Output::Grouped { .. });
    let start = if grouped {
        // Groups are complete only after the whole scan; page through them by
        // position.
        Start {
            roots: 0,
            skip: cursor.returned,
            before: 0,
        }
    } else {
        Start {
            roots: cursor.roots,
            skip: cursor.rows_in_root,
            before: cursor.returned.saturating_sub(cursor.rows_in_root),
        }
    };
    let (page, next) = run(query, graph, start, take, limits)?;
    let next = match (page.more, grouped) {
        (false, _) => None,
        (true, true) => Some(Cursor {
            roots: 0,
            rows_in_root: 0,
            returned: cursor.returned + page.rows.len() as u64,
        }),
        (true, false) => next,
    };
    Ok(CursorPage {
        rows: page.rows,
        next,
    })
}

/// Where a run starts: candidates to pass over, matches to pass over after them,
/// and how many result rows precede the first match considered (for `TOP`).
#[derive(Clone, Copy)]
struct Start {
    roots: u64,
    skip: u64,
    before: u64,
}

fn run<G: TwinGraph>(
    query: &Query,
    graph: &G,
    start: Start,
    take: usize,
    limits: &Limits,
) -> Result<(Page, Option<Cursor>), QueryError> {
    let take = take.min(limits.max_page_rows);
    let plan = Plan::compile(query)?;
    let mut run = Run {
        plan: &plan,
        graph,
        limits,
        scanned: 0,
        bindings: vec![Binding::Empty; plan.slot_count],
        sink: Sink::new(&plan, query, start, take),
        from_span: query.from.span,
        group_span: query.group_span.unwrap_or(query.from.span),
        root_ordinal: start.roots,
        root_matches: 0,
        settled: Vec::new(),
    };
    let skip_roots = usize::try_from(start.roots).unwrap_or(usize::MAX);
    // Each candidate makes at most one row without JOINs or groups: the run
    // needs the candidates it passes over, the rows it skips, the page, and one
    // more to know whether more follow.
    let rows_wanted = (plan.joins.is_empty()
        && matches!(plan.output, Output::Star | Output::Columns(_)))
    .then(|| {
        skip_roots
            .saturating_add(usize::try_from(start.skip).unwrap_or(usize::MAX))
            .saturating_add(take)
            .saturating_add(1)
    });
    match query.from.collection {
        Collection::DigitalTwins => match plan.index_candidates(graph, rows_wanted) {
            Some((twins, settled)) => {
                run.settled = settled;
                run.roots(twins.into_iter().skip(skip_roots).map(Binding::Twin))?;
            }
            None => run.roots(graph.twins().skip(skip_roots).map(Binding::Twin))?,
        },
        Collection::Relationships => {
            run.roots(graph.relationships().skip(skip_roots).map(Binding::Rel))?;
        }
    }
    let next = Cursor {
        roots: run.root_ordinal,
        rows_in_root: run.root_matches,
        returned: 0,
    };
    let Run { sink, .. } = run;
    let page = sink.finish(&plan, query, start.skip as usize, take);
    page.map(|page| {
        let returned = start.before + start.skip + page.rows.len() as u64;
        (page, Some(Cursor { returned, ..next }))
    })
}

// ---- compiled form ---------------------------------------------------------------

#[derive(Clone, Copy)]
enum Binding<T, R> {
    Empty,
    Twin(T),
    Rel(R),
}

/// A path bound to a slot (0 for `FROM`, then two per JOIN: twin, relationship).
struct PathRef<'q> {
    slot: usize,
    segments: Vec<&'q str>,
}

enum Operand<'q> {
    Value(Value),
    Path(PathRef<'q>),
}

#[derive(Clone, Copy)]
enum TextTest {
    StartsWith,
    EndsWith,
    Contains,
}

/// A compiled condition; `eval` gives `Some(true)`, `Some(false)` or `None` (unknown).
enum Pred<'q> {
    And(Vec<Pred<'q>>),
    Or(Vec<Pred<'q>>),
    Not(Box<Pred<'q>>),
    Const(Option<bool>),
    Compare(CompareOp, Operand<'q>, Operand<'q>),
    In {
        operand: Operand<'q>,
        list: Vec<Value>,
        negated: bool,
    },
    TypeTest(TypeTest, PathRef<'q>),
    Text(TextTest, PathRef<'q>, &'q str),
    ArrayContains(PathRef<'q>, Value),
    OfModel {
        slot: usize,
        model: &'q str,
        exact: bool,
    },
    WithinBox {
        slot: usize,
        min: [f64; 3],
        max: [f64; 3],
    },
    WithinSphere {
        slot: usize,
        center: [f64; 3],
        radius: f64,
    },
}

struct JoinStep<'q> {
    source_slot: usize,
    relationship: &'q str,
    target_slot: usize,
    rel_slot: usize,
    span: Span,
}

enum ColumnPlan<'q> {
    Whole(usize),
    Path(PathRef<'q>),
}

enum Output<'q> {
    /// `SELECT *`: the `FROM` document itself.
    Star,
    /// Named columns, one row per match.
    Columns(Vec<(&'q str, ColumnPlan<'q>)>),
    /// Aggregates, one row per group.
    Grouped {
        keys: Vec<PathRef<'q>>,
        aggregates: Vec<(Aggregate, Option<PathRef<'q>>)>,
        /// Per output column: its name and whether it is a key (index into
        /// `keys`) or an aggregate (index into `aggregates`).
        columns: Vec<(&'q str, OutputColumn)>,
    },
}

#[derive(Clone, Copy)]
enum OutputColumn {
    Key(usize),
    Aggregate(usize),
}

struct Plan<'q> {
    slot_count: usize,
    joins: Vec<JoinStep<'q>>,
    /// Conjuncts to test once `level` joins are bound (index = level).
    levels: Vec<Vec<Pred<'q>>>,
    output: Output<'q>,
}

/// Aliases to slots while compiling.
struct Slots<'q> {
    named: Vec<(&'q str, usize)>,
}

impl<'q> Slots<'q> {
    fn slot(&self, alias: &Option<String>, span: Span) -> Result<usize, QueryError> {
        match alias {
            None => Ok(0),
            Some(alias) => self
                .named
                .iter()
                .find(|(name, _)| *name == alias.as_str())
                .map(|(_, slot)| *slot)
                .ok_or_else(|| QueryError {
                    kind: QueryErrorKind::Invalid,
                    offset: span.offset,
                    len: span.len,
                    token: alias.clone(),
                    message: format!("alias '{alias}' is not declared in FROM or JOIN"),
                }),
        }
    }

    fn path(&self, path: &'q Path) -> Result<PathRef<'q>, QueryError> {
        Ok(PathRef {
            slot: self.slot(&path.alias, path.span)?,
            segments: path.segments.iter().map(String::as_str).collect(),
        })
    }
}

/// The JOIN level at which a slot is bound.
fn slot_level(slot: usize) -> usize {
    slot.div_ceil(2)
}

impl<'q> Plan<'q> {
    fn compile(query: &'q Query) -> Result<Plan<'q>, QueryError> {
        let mut slots = Slots { named: Vec::new() };
        if let Some(alias) = &query.from.alias {
            slots.named.push((alias, 0));
        }
        let mut joins = Vec::new();
        for (i, join) in query.joins.iter().enumerate() {
            let source_slot = slots.slot(&Some(join.source.clone()), join.span)?;
            let target_slot = 1 + 2 * i;
            let rel_slot = 2 + 2 * i;
            slots.named.push((&join.target, target_slot));
            if let Some(alias) = &join.relationship_alias {
                slots.named.push((alias, rel_slot));
            }
            joins.push(JoinStep {
                source_slot,
                relationship: &join.relationship,
                target_slot,
                rel_slot,
                span: join.span,
            });
        }
        let mut levels: Vec<Vec<Pred<'q>>> = (0..=joins.len()).map(|_| Vec::new()).collect();
        if let Some(condition) = &query.condition {
            let mut conjuncts = Vec::new();
            flatten_and(condition, &mut conjuncts);
            for conjunct in conjuncts {
                let pred = compile_pred(conjunct, &slots)?;
                let level = pred_level(&pred).min(joins.len());
                levels[level].push(pred);
            }
        }
        let output = match &query.select.list {
            SelectList::Star => Output::Star,
            SelectList::Columns(columns) => {
                let grouped = !query.group_by.is_empty()
                    || columns
                        .iter()
                        .any(|c| matches!(c.expr, ColumnExpr::Aggregate(..)));
                if grouped {
                    let keys = query
                        .group_by
                        .iter()
                        .map(|p| slots.path(p))
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut aggregates = Vec::new();
                    let mut out = Vec::new();
                    for column in columns {
                        let kind = match &column.expr {
                            ColumnExpr::Aggregate(aggregate, path) => {
                                let path = path.as_ref().map(|p| slots.path(p)).transpose()?;
                                aggregates.push((*aggregate, path));
                                OutputColumn::Aggregate(aggregates.len() - 1)
                            }
                            ColumnExpr::Path(path) => {
                                let index = query
                                    .group_by
                                    .iter()
                                    .position(|g| {
                                        g.alias == path.alias && g.segments == path.segments
                                    })
                                    .ok_or_else(|| not_grouped(column.span))?;
                                OutputColumn::Key(index)
                            }
                            ColumnExpr::Collection(_) => return Err(not_grouped(column.span)),
                        };
                        out.push((column.name(), kind));
                    }
                    Output::Grouped {
                        keys,
                        aggregates,
                        columns: out,
                    }
                } else {
                    let mut out = Vec::new();
                    for column in columns {
                        let plan = match &column.expr {
                            ColumnExpr::Collection(alias) => {
                                ColumnPlan::Whole(slots.slot(&Some(alias.clone()), column.span)?)
                            }
                            ColumnExpr::Path(path) => ColumnPlan::Path(slots.path(path)?),
                            ColumnExpr::Aggregate(..) => return Err(not_grouped(column.span)),
                        };
                        out.push((column.name(), plan));
                    }
                    Output::Columns(out)
                }
            }
        };
        Ok(Plan {
            slot_count: 1 + 2 * joins.len(),
            joins,
            levels,
            output,
        })
    }

    /// Candidates from an index for the `FROM` twins, if a top-level conjunct on
    /// them can use one, and which top-level conjuncts (positions in
    /// `levels[0]`) every candidate already satisfies. `$dtId` beats a region, a
    /// region beats the graph's own answer for comparisons and models
    /// (`twins_where`), which beats a value index, which beats a model index.
    ///
    /// `rows_wanted` bounds the candidates the run can use when each candidate
    /// makes at most one row (no JOIN, no grouping).
    fn index_candidates<G: TwinGraph>(
        &self,
        graph: &G,
        rows_wanted: Option<usize>,
    ) -> Option<(Vec<G::Twin>, Vec<bool>)> {
        let conjuncts = self.levels.first()?;
        let unsettled = || vec![false; conjuncts.len()];
        // Regions and `$dtId` come first: they are cheaper than any column scan.
        let has_id_or_region = conjuncts.iter().any(|pred| match pred {
            Pred::WithinBox { slot: 0, .. } | Pred::WithinSphere { slot: 0, .. } => true,
            Pred::Compare(CompareOp::Eq, a, b) => [a, b]
                .iter()
                .any(|o| matches!(o, Operand::Path(p) if p.slot == 0 && p.segments == ["$dtId"])),
            Pred::In {
                operand: Operand::Path(p),
                negated: false,
                ..
            } => p.slot == 0 && p.segments == ["$dtId"],
            _ => false,
        });
        if !has_id_or_region {
            let mut asked = Vec::new();
            let mut positions = Vec::new();
            for (position, pred) in conjuncts.iter().enumerate() {
                let conjunct = match pred {
                    Pred::Compare(op, Operand::Path(p), Operand::Value(v)) if p.slot == 0 => {
                        Conjunct::Compare {
                            path: &p.segments,
                            op: *op,
                            value: v,
                        }
                    }
                    Pred::Compare(op, Operand::Value(v), Operand::Path(p)) if p.slot == 0 => {
                        Conjunct::Compare {
                            path: &p.segments,
                            op: op.flipped(),
                            value: v,
                        }
                    }
                    Pred::OfModel {
                        slot: 0,
                        model,
                        exact,
                    } => Conjunct::OfModel {
                        model,
                        exact: *exact,
                    },
                    _ => continue,
                };
                asked.push(conjunct);
                positions.push(position);
            }
            // Only when the graph sees the whole condition may it stop early.
            let enough = rows_wanted.filter(|_| asked.len() == conjuncts.len());
            if !asked.is_empty()
                && let Some(matches) = graph.twins_where(&asked, enough)
                && matches.applied.len() == asked.len()
            {
                let mut settled = unsettled();
                for (position, applied) in positions.into_iter().zip(matches.applied) {
                    settled[position] = applied;
                }
                return Some((matches.twins, settled));
            }
        }
        self.other_index_candidates(graph)
            .map(|twins| (twins, unsettled()))
    }

    /// Candidates from `$dtId`, a value index, a region or a model index.
    fn other_index_candidates<G: TwinGraph>(&self, graph: &G) -> Option<Vec<G::Twin>> {
        let conjuncts = self.levels.first()?;
        let is_id_path = |operand: &Operand<'_>| matches!(operand, Operand::Path(p) if p.slot == 0 && p.segments == ["$dtId"]);
        let mut ids: Option<Vec<&str>> = None;
        let mut region = None;
        let mut model = None;
        let mut equal: Option<(&[&str], &Value)> = None;
        for pred in conjuncts {
            match pred {
                Pred::Compare(CompareOp::Eq, a, b) => {
                    let id = match (a, b) {
                        (path, Operand::Value(Value::String(s)))
                        | (Operand::Value(Value::String(s)), path)
                            if is_id_path(path) =>
                        {
                            Some(s.as_str())
                        }
                        _ => None,
                    };
                    if let Some(id) = id {
                        ids = Some(vec![id]);
                    } else if equal.is_none() {
                        equal = match (a, b) {
                            (Operand::Path(p), Operand::Value(v))
                            | (Operand::Value(v), Operand::Path(p))
                                if p.slot == 0 =>
                            {
                                Some((p.segments.as_slice(), v))
                            }
                            _ => None,
                        };
                    }
                }
                Pred::In {
                    operand,
                    list,
                    negated: false,
                } if is_id_path(operand) && ids.is_none() => {
                    // Non-string members can never equal a `$dtId`; drop them.
                    ids = Some(list.iter().filter_map(Value::as_str).collect());
                }
                Pred::WithinBox { slot: 0, min, max } => region = Some((*min, *max)),
                Pred::WithinSphere {
                    slot: 0,
                    center,
                    radius,
                } => {
                    let r = *radius;
                    region = Some((
                        [center[0] - r, center[1] - r, center[2] - r],
                        [center[0] + r, center[1] + r, center[2] + r],
                    ));
                }
                Pred::OfModel {
                    slot: 0,
                    model: m,
                    exact,
                } => model = Some((*m, *exact)),
                _ => {}
            }
        }
        if let Some(ids) = ids {
            let mut seen = std::collections::HashSet::new();
            return Some(
                ids.into_iter()
                    .filter_map(|id| graph.twin_by_id(id))
                    .filter(|twin| seen.insert(*twin))
                    .collect(),
            );
        }
        if let Some((path, value)) = equal
            && let Some(twins) = graph.twins_with_value(path, value)
        {
            return Some(twins);
        }
        if let Some((min, max)) = region
            && let Some(twins) = graph.twins_in_box(min, max)
        {
            return Some(twins);
        }
        let (model, exact) = model?;
        graph.twins_of_model(model, exact)
    }
}

fn not_grouped(span: Span) -> QueryError {
    QueryError {
        kind: QueryErrorKind::Invalid,
        offset: span.offset,
        len: span.len,
        token: String::new(),
        message: "column is neither an aggregate nor a GROUP BY path".to_owned(),
    }
}

fn flatten_and<'q>(expr: &'q Expr, out: &mut Vec<&'q Expr>) {
    match expr {
        Expr::And(a, b) => {
            flatten_and(a, out);
            flatten_and(b, out);
        }
        other => out.push(other),
    }
}

fn flatten_or<'q>(expr: &'q Expr, out: &mut Vec<&'q Expr>) {
    match expr {
        Expr::Or(a, b) => {
            flatten_or(a, out);
            flatten_or(b, out);
        }
        other => out.push(other),
    }
}

fn compile_operand<'q>(expr: &'q Expr, slots: &Slots<'q>) -> Result<Operand<'q>, QueryError> {
    match expr {
        Expr::Literal(literal) => Ok(Operand::Value(literal.to_json())),
        Expr::Path(path) => Ok(Operand::Path(slots.path(path)?)),
        // Hand-built trees may put a condition where an operand belongs; treat it
        // as a value that matches nothing rather than guessing.
        _ => Ok(Operand::Value(Value::Null)),
    }
}

fn compile_pred<'q>(expr: &'q Expr, slots: &Slots<'q>) -> Result<Pred<'q>, QueryError> {
    Ok(match expr {
        Expr::And(..) => {
            let mut parts = Vec::new();
            flatten_and(expr, &mut parts);
            Pred::And(
                parts
                    .into_iter()
                    .map(|p| compile_pred(p, slots))
                    .collect::<Result<_, _>>()?,
            )
        }
        Expr::Or(..) => {
            let mut parts = Vec::new();
            flatten_or(expr, &mut parts);
            Pred::Or(
                parts
                    .into_iter()
                    .map(|p| compile_pred(p, slots))
                    .collect::<Result<_, _>>()?,
            )
        }
        Expr::Not(inner) => Pred::Not(Box::new(compile_pred(inner, slots)?)),
        Expr::Literal(literal) => Pred::Const(match literal {
            crate::ast::Literal::Bool(b) => Some(*b),
            _ => None,
        }),
        // A bare path is not a condition the parser accepts; hand-built trees get
        // "true when the value is the boolean true".
        Expr::Path(path) => Pred::Compare(
            CompareOp::Eq,
            Operand::Path(slots.path(path)?),
            Operand::Value(Value::Bool(true)),
        ),
        Expr::Compare(op, a, b) => {
            Pred::Compare(*op, compile_operand(a, slots)?, compile_operand(b, slots)?)
        }
        Expr::In {
            operand,
            list,
            negated,
        } => Pred::In {
            operand: compile_operand(operand, slots)?,
            list: list.iter().map(crate::ast::Literal::to_json).collect(),
            negated: *negated,
        },
        Expr::Call(function) => match function {
            Function::IsOfModel {
                alias,
                model,
                exact,
            } => Pred::OfModel {
                slot: slots.slot(alias, Span::default())?,
                model,
                exact: *exact,
            },
            Function::TypeTest(test, path) => Pred::TypeTest(*test, slots.path(path)?),
            Function::StartsWith(path, s) => Pred::Text(TextTest::StartsWith, slots.path(path)?, s),
            Function::EndsWith(path, s) => Pred::Text(TextTest::EndsWith, slots.path(path)?, s),
            Function::Contains(path, s) => Pred::Text(TextTest::Contains, slots.path(path)?, s),
            Function::ArrayContains(path, literal) => {
                Pred::ArrayContains(slots.path(path)?, literal.to_json())
            }
            Function::WithinBox { alias, min, max } => Pred::WithinBox {
                slot: slots.slot(alias, Span::default())?,
                min: *min,
                max: *max,
            },
            Function::WithinSphere {
                alias,
                center,
                radius,
            } => Pred::WithinSphere {
                slot: slots.slot(alias, Span::default())?,
                center: *center,
                radius: *radius,
            },
        },
    })
}

/// The deepest JOIN level a condition needs bound.
fn pred_level(pred: &Pred<'_>) -> usize {
    let operand = |o: &Operand<'_>| match o {
        Operand::Path(p) => slot_level(p.slot),
        Operand::Value(_) => 0,
    };
    match pred {
        Pred::And(parts) | Pred::Or(parts) => parts.iter().map(pred_level).max().unwrap_or(0),
        Pred::Not(inner) => pred_level(inner),
        Pred::Const(_) => 0,
        Pred::Compare(_, a, b) => operand(a).max(operand(b)),
        Pred::In { operand: o, .. } => operand(o),
        Pred::TypeTest(_, p) | Pred::Text(_, p, _) | Pred::ArrayContains(p, _) => {
            slot_level(p.slot)
        }
        Pred::OfModel { slot, .. }
        | Pred::WithinBox { slot, .. }
        | Pred::WithinSphere { slot, .. } => slot_level(*slot),
    }
}

// ---- evaluation ------------------------------------------------------------------

fn value_at<'g, G: TwinGraph>(
    graph: &'g G,
    bindings: &[Binding<G::Twin, G::Rel>],
    path: &PathRef<'_>,
) -> Option<Cow<'g, Value>> {
    match bindings.get(path.slot)? {
        Binding::Twin(twin) => graph.twin_value(*twin, &path.segments),
        Binding::Rel(rel) => graph.relationship_value(*rel, &path.segments),
        Binding::Empty => None,
    }
}

fn operand_value<'a, G: TwinGraph>(
    graph: &'a G,
    bindings: &[Binding<G::Twin, G::Rel>],
    operand: &'a Operand<'_>,
) -> Option<Cow<'a, Value>> {
    match operand {
        Operand::Value(value) => Some(Cow::Borrowed(value)),
        Operand::Path(path) => value_at(graph, bindings, path),
    }
}

fn number_cmp(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Equality as the language sees it: numbers by value (`1 = 1.0`), everything else
/// structurally; values of different types are simply unequal.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_cmp(x, y) == Some(Ordering::Equal),
        _ => a == b,
    }
}

/// Ordering between values of the same primitive type; `None` otherwise.
fn json_order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_cmp(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

pub(crate) fn compare(op: CompareOp, a: &Value, b: &Value) -> Option<bool> {
    match op {
        CompareOp::Eq => Some(json_eq(a, b)),
        CompareOp::Ne => Some(!json_eq(a, b)),
        _ => {
            let ordering = json_order(a, b)?;
            Some(match op {
                CompareOp::Lt => ordering.is_lt(),
                CompareOp::Le => ordering.is_le(),
                CompareOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            })
        }
    }
}

fn twin_of<G: TwinGraph>(bindings: &[Binding<G::Twin, G::Rel>], slot: usize) -> Option<G::Twin> {
    match bindings.get(slot)? {
        Binding::Twin(twin) => Some(*twin),
        _ => None,
    }
}

fn eval<G: TwinGraph>(
    pred: &Pred<'_>,
    graph: &G,
    bindings: &[Binding<G::Twin, G::Rel>],
) -> Option<bool> {
    match pred {
        Pred::And(parts) => {
            let mut result = Some(true);
            for part in parts {
                match eval(part, graph, bindings) {
                    Some(false) => return Some(false),
                    None => result = None,
                    Some(true) => {}
                }
            }
            result
        }
        Pred::Or(parts) => {
            let mut result = Some(false);
            for part in parts {
                match eval(part, graph, bindings) {
                    Some(true) => return Some(true),
                    None => result = None,
                    Some(false) => {}
                }
            }
            result
        }
        Pred::Not(inner) => eval(inner, graph, bindings).map(|b| !b),
        Pred::Const(value) => *value,
        Pred::Compare(op, a, b) => {
            let a = operand_value(graph, bindings, a)?;
            let b = operand_value(graph, bindings, b)?;
            compare(*op, &a, &b)
        }
        Pred::In {
            operand,
            list,
            negated,
        } => {
            let value = operand_value(graph, bindings, operand)?;
            let found = list.iter().any(|item| json_eq(&value, item));
            Some(found != *negated)
        }
        Pred::TypeTest(test, path) => {
            let value = value_at(graph, bindings, path);
            let value = value.as_deref();
            Some(match test {
                TypeTest::Defined => value.is_some(),
                TypeTest::Null => matches!(value, Some(Value::Null)),
                TypeTest::Bool => matches!(value, Some(Value::Bool(_))),
                TypeTest::Number => matches!(value, Some(Value::Number(_))),
                TypeTest::String => matches!(value, Some(Value::String(_))),
                TypeTest::Object => matches!(value, Some(Value::Object(_))),
                TypeTest::Primitive => matches!(
                    value,
                    Some(Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))
                ),
            })
        }
        Pred::Text(test, path, needle) => {
            let value = value_at(graph, bindings, path)?;
            let text = value.as_str()?;
            Some(match test {
                TextTest::StartsWith => text.starts_with(needle),
                TextTest::EndsWith => text.ends_with(needle),
                TextTest::Contains => text.contains(needle),
            })
        }
        Pred::ArrayContains(path, item) => {
            let value = value_at(graph, bindings, path)?;
            let array = value.as_array()?;
            Some(array.iter().any(|v| json_eq(v, item)))
        }
        Pred::OfModel { slot, model, exact } => {
            let twin = twin_of::<G>(bindings, *slot)?;
            Some(graph.is_of_model(twin, model, *exact))
        }
        Pred::WithinBox { slot, min, max } => {
            let twin = twin_of::<G>(bindings, *slot)?;
            Some(
                graph.world_position(twin).is_some_and(|p| {
                    (0..3).all(|axis| min[axis] <= p[axis] && p[axis] <= max[axis])
                }),
            )
        }
        Pred::WithinSphere {
            slot,
            center,
            radius,
        } => {
            let twin = twin_of::<G>(bindings, *slot)?;
            Some(graph.world_position(twin).is_some_and(|p| {
                let d2: f64 = (0..3).map(|axis| (p[axis] - center[axis]).powi(2)).sum();
                d2 <= radius * radius
            }))
        }
    }
}

// ---- driving the scan ------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

struct Run<'a, 'q, G: TwinGraph> {
    plan: &'a Plan<'q>,
    graph: &'a G,
    limits: &'a Limits,
    scanned: u64,
    bindings: Vec<Binding<G::Twin, G::Rel>>,
    sink: Sink,
    from_span: Span,
    group_span: Span,
    /// Position of the current candidate among all candidates (cursor `roots`).
    root_ordinal: u64,
    /// Matches of the current candidate passed over or returned so far.
    root_matches: u64,
    /// Top-level conjuncts (positions in `levels[0]`) that the candidates are
    /// known to satisfy, so they are not tested again; empty when scanning.
    settled: Vec<bool>,
}

impl<G: TwinGraph> Run<'_, '_, G> {
    fn count_row(&mut self, span: Span, what: &str) -> Result<(), QueryError> {
        self.scanned += 1;
        if self.scanned > self.limits.max_rows_scanned {
            return Err(QueryError {
                kind: QueryErrorKind::LimitExceeded,
                offset: span.offset,
                len: span.len,
                token: what.to_owned(),
                message: format!(
                    "the query examines more than {} rows (max_rows_scanned); narrow it with $dtId, IS_OF_MODEL or a region",
                    self.limits.max_rows_scanned
                ),
            });
        }
        Ok(())
    }

    /// Visits each candidate in turn until the sink has its page.
    fn roots(
        &mut self,
        candidates: impl Iterator<Item = Binding<G::Twin, G::Rel>>,
    ) -> Result<(), QueryError> {
        for binding in candidates {
            self.count_row(self.from_span, "FROM")?;
            self.bindings[0] = binding;
            if self.visit(0)? == Flow::Stop {
                return Ok(());
            }
            // This candidate is done: the next one starts with no rows returned.
            self.root_ordinal += 1;
            self.root_matches = 0;
        }
        Ok(())
    }

    fn visit(&mut self, level: usize) -> Result<Flow, QueryError> {
        for (position, pred) in self.plan.levels[level].iter().enumerate() {
            if level == 0 && self.settled.get(position) == Some(&true) {
                continue;
            }
            if eval(pred, self.graph, &self.bindings) != Some(true) {
                return Ok(Flow::Continue);
            }
        }
        let Some(step) = self.plan.joins.get(level) else {
            let flow = self.sink.accept(
                self.graph,
                self.plan,
                &self.bindings,
                self.limits,
                self.group_span,
            )?;
            if flow == Flow::Continue {
                self.root_matches += 1;
            }
            return Ok(flow);
        };
        let Some(source) = twin_of::<G>(&self.bindings, step.source_slot) else {
            return Ok(Flow::Continue);
        };
        let related = self.graph.outgoing(source, step.relationship);
        if related.len() > self.limits.max_join_fanout {
            return Err(QueryError {
                kind: QueryErrorKind::LimitExceeded,
                offset: step.span.offset,
                len: step.span.len,
                token: "JOIN".to_owned(),
                message: format!(
                    "twin '{}' has {} '{}' relationships, more than one JOIN may follow ({}, max_join_fanout); filter the source twins first",
                    self.graph.twin_id(source),
                    related.len(),
                    step.relationship,
                    self.limits.max_join_fanout
                ),
            });
        }
        for (rel, target) in related {
            self.count_row(step.span, "JOIN")?;
            self.bindings[step.target_slot] = Binding::Twin(target);
            self.bindings[step.rel_slot] = Binding::Rel(rel);
            if self.visit(level + 1)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        self.bindings[step.target_slot] = Binding::Empty;
        self.bindings[step.rel_slot] = Binding::Empty;
        Ok(Flow::Continue)
    }
}

fn document<G: TwinGraph>(graph: &G, binding: Binding<G::Twin, G::Rel>) -> Value {
    match binding {
        Binding::Twin(twin) => graph.twin_json(twin),
        Binding::Rel(rel) => graph.relationship_json(rel),
        Binding::Empty => Value::Null,
    }
}

// ---- collecting results ----------------------------------------------------------

/// Running totals of one aggregate in one group.
#[derive(Clone, Default)]
struct Accumulator {
    /// Rows counted (COUNT) or numeric values seen (the others).
    count: u64,
    sum: f64,
    /// Exact integer sum while every value is an integer and it does not overflow.
    int_sum: Option<i64>,
    min: Option<(f64, serde_json::Number)>,
    max: Option<(f64, serde_json::Number)>,
}

impl Accumulator {
    fn new() -> Self {
        Accumulator {
            int_sum: Some(0),
            ..Accumulator::default()
        }
    }

    fn add_number(&mut self, number: &serde_json::Number) {
        let Some(x) = number.as_f64() else { return };
        self.count += 1;
        self.sum += x;
        self.int_sum = match (self.int_sum, number.as_i64()) {
            (Some(total), Some(n)) => total.checked_add(n),
            _ => None,
        };
        if self.min.as_ref().is_none_or(|(m, _)| x < *m) {
            self.min = Some((x, number.clone()));
        }
        if self.max.as_ref().is_none_or(|(m, _)| x > *m) {
            self.max = Some((x, number.clone()));
        }
    }

    fn result(&self, aggregate: Aggregate) -> Value {
        match aggregate {
            Aggregate::Count => Value::from(self.count),
            _ if self.count == 0 => Value::Null,
            Aggregate::Sum => match self.int_sum {
                Some(total) => Value::from(total),
                None => float(self.sum),
            },
            Aggregate::Avg => float(self.sum / self.count as f64),
            Aggregate::Min => self
                .min
                .as_ref()
                .map_or(Value::Null, |(_, n)| Value::Number(n.clone())),
            Aggregate::Max => self
                .max
                .as_ref()
                .map_or(Value::Null, |(_, n)| Value::Number(n.clone())),
        }
    }
}

fn float(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

struct Group {
    key: Vec<Value>,
    accumulators: Vec<Accumulator>,
}

enum Sink {
    /// One row per match; only the page's rows are built.
    Rows {
        /// Matches so far (including skipped ones).
        matched: u64,
        /// Matches to pass over before the page starts.
        skip: u64,
        /// Rows in the page.
        take: usize,
        /// `TOP(n)`: matches after the n-th are not part of the result.
        top: Option<u64>,
        rows: Vec<Value>,
        more: bool,
    },
    /// One accumulator set per group; rows are built at the end.
    Groups {
        groups: Vec<Group>,
        /// Hash of a group's key values to the groups with that hash.
        index: GroupIndex,
    },
}

impl Sink {
    fn new(plan: &Plan<'_>, query: &Query, start: Start, take: usize) -> Sink {
        match &plan.output {
            Output::Grouped {
                keys, aggregates, ..
            } => {
                let mut sink = Sink::Groups {
                    groups: Vec::new(),
                    index: GroupIndex::default(),
                };
                // Without GROUP BY there is exactly one group, even over no rows:
                // `COUNT()` of nothing is 0, not an empty result.
                if keys.is_empty()
                    && let Sink::Groups { groups, .. } = &mut sink
                {
                    groups.push(Group {
                        key: Vec::new(),
                        accumulators: vec![Accumulator::new(); aggregates.len()],
                    });
                }
                sink
            }
            Output::Star | Output::Columns(_) => Sink::Rows {
                matched: 0,
                skip: start.skip,
                take,
                // Rows before this run's first match count against TOP.
                top: query.select.top.map(|top| top.saturating_sub(start.before)),
                rows: Vec::new(),
                more: false,
            },
        }
    }

    fn accept<G: TwinGraph>(
        &mut self,
        graph: &G,
        plan: &Plan<'_>,
        bindings: &[Binding<G::Twin, G::Rel>],
        limits: &Limits,
        group_span: Span,
    ) -> Result<Flow, QueryError> {
        match self {
            Sink::Rows {
                matched,
                skip,
                take,
                top,
                rows,
                more,
            } => {
                if top.is_some_and(|top| *matched >= top) {
                    return Ok(Flow::Stop);
                }
                if *matched < *skip {
                    *matched += 1;
                    return Ok(Flow::Continue);
                }
                if rows.len() >= *take {
                    *more = true;
                    return Ok(Flow::Stop);
                }
                *matched += 1;
                rows.push(build_row(graph, plan, bindings));
                Ok(Flow::Continue)
            }
            Sink::Groups { groups, index } => {
                let Output::Grouped {
                    keys, aggregates, ..
                } = &plan.output
                else {
                    return Ok(Flow::Continue);
                };
                let group = if keys.is_empty() {
                    0
                } else {
                    find_or_add_group(
                        graph,
                        bindings,
                        keys,
                        aggregates.len(),
                        groups,
                        index,
                        limits,
                        group_span,
                    )?
                };
                let Some(group) = groups.get_mut(group) else {
                    return Ok(Flow::Continue);
                };
                for ((aggregate, path), accumulator) in
                    aggregates.iter().zip(&mut group.accumulators)
                {
                    match (aggregate, path) {
                        (Aggregate::Count, None) => accumulator.count += 1,
                        (Aggregate::Count, Some(path)) => {
                            if value_at(graph, bindings, path).is_some() {
                                accumulator.count += 1;
                            }
                        }
                        (_, Some(path)) => {
                            if let Some(value) = value_at(graph, bindings, path)
                                && let Value::Number(number) = value.as_ref()
                            {
                                accumulator.add_number(number);
                            }
                        }
                        (_, None) => {}
                    }
                }
                Ok(Flow::Continue)
            }
        }
    }

    fn finish(
        self,
        plan: &Plan<'_>,
        query: &Query,
        skip: usize,
        take: usize,
    ) -> Result<Page, QueryError> {
        match self {
            Sink::Rows { rows, more, .. } => Ok(Page { rows, more }),
            Sink::Groups { mut groups, .. } => {
                let Output::Grouped {
                    aggregates,
                    columns,
                    ..
                } = &plan.output
                else {
                    return Ok(Page {
                        rows: Vec::new(),
                        more: false,
                    });
                };
                groups.sort_by(|a, b| {
                    a.key
                        .iter()
                        .zip(&b.key)
                        .map(|(x, y)| total_order(x, y))
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                });
                let total = query.select.top.map_or(groups.len(), |top| {
                    groups.len().min(usize::try_from(top).unwrap_or(usize::MAX))
                });
                let end = skip.saturating_add(take).min(total);
                let rows = groups
                    .iter()
                    .take(end)
                    .skip(skip)
                    .map(|group| {
                        let mut row = Map::new();
                        for (name, column) in columns {
                            let value = match column {
                                OutputColumn::Key(i) => {
                                    group.key.get(*i).cloned().unwrap_or(Value::Null)
                                }
                                OutputColumn::Aggregate(i) => {
                                    match (aggregates.get(*i), group.accumulators.get(*i)) {
                                        (Some((aggregate, _)), Some(accumulator)) => {
                                            accumulator.result(*aggregate)
                                        }
                                        _ => Value::Null,
                                    }
                                }
                            };
                            row.insert((*name).to_owned(), value);
                        }
                        Value::Object(row)
                    })
                    .collect();
                Ok(Page {
                    rows,
                    more: total > end,
                })
            }
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces are the sink's own fields"
)]
fn find_or_add_group<G: TwinGraph>(
    graph: &G,
    bindings: &[Binding<G::Twin, G::Rel>],
    keys: &[PathRef<'_>],
    aggregate_count: usize,
    groups: &mut Vec<Group>,
    index: &mut GroupIndex,
    limits: &Limits,
    group_span: Span,
) -> Result<usize, QueryError> {
    // Hash the borrowed values first, so that a row of an existing group allocates
    // nothing; only a new group clones its key.
    let null = Value::Null;
    let values: SmallVec<[Cow<'_, Value>; 4]> = keys
        .iter()
        .map(|path| value_at(graph, bindings, path).unwrap_or(Cow::Borrowed(&null)))
        .collect();
    let mut hasher = FxHasher::default();
    for value in &values {
        hash_value(value, &mut hasher);
    }
    let hash = hasher.finish();
    let bucket = index.entry(hash).or_default();
    for &candidate in bucket.iter() {
        if let Some(group) = groups.get(candidate)
            && group.key.iter().zip(&values).all(|(a, b)| json_eq(a, b))
        {
            return Ok(candidate);
        }
    }
    if groups.len() >= limits.max_groups {
        return Err(QueryError {
            kind: QueryErrorKind::LimitExceeded,
            offset: group_span.offset,
            len: group_span.len,
            token: "GROUP".to_owned(),
            message: format!(
                "GROUP BY makes more than {} groups (max_groups); group by fewer distinct values",
                limits.max_groups
            ),
        });
    }
    groups.push(Group {
        key: values.into_iter().map(Cow::into_owned).collect(),
        accumulators: vec![Accumulator::new(); aggregate_count],
    });
    bucket.push(groups.len() - 1);
    Ok(groups.len() - 1)
}

/// Group hashes to group indexes. The keys are already hashes, so the map passes
/// them through instead of hashing them again.
type GroupIndex = HashMap<u64, Vec<usize>, BuildHasherDefault<PassThrough>>;

#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A fast, non-cryptographic hasher (the multiply-rotate scheme of rustc's
/// FxHasher) for group keys. Query results do not depend on it, and a crafted
/// collision only puts more groups in one bucket, bounded by `max_groups`.
#[derive(Default)]
struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// Hashes a value consistently with [`json_eq`]: numbers by their `f64` value,
/// object members independently of their order.
fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => {
            1u8.hash(hasher);
            b.hash(hasher);
        }
        Value::Number(n) => {
            2u8.hash(hasher);
            // -0.0 and 0.0 are equal numbers; give them one hash.
            let x = n.as_f64().unwrap_or(0.0);
            let x = if x == 0.0 { 0.0 } else { x };
            x.to_bits().hash(hasher);
        }
        Value::String(s) => {
            3u8.hash(hasher);
            s.hash(hasher);
        }
        Value::Array(items) => {
            4u8.hash(hasher);
            items.len().hash(hasher);
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(members) => {
            5u8.hash(hasher);
            members.len().hash(hasher);
            let mut combined = 0u64;
            for (key, member) in members {
                let mut inner = FxHasher::default();
                key.hash(&mut inner);
                hash_value(member, &mut inner);
                combined = combined.wrapping_add(inner.finish());
            }
            combined.hash(hasher);
        }
    }
}

/// A total order over JSON values for sorting groups: null < bool < number <
/// string < array < object, then by value within a type.
fn total_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            a.to_string().cmp(&b.to_string())
        }
        _ => json_order(a, b).unwrap_or(Ordering::Equal),
    })
}

fn build_row<G: TwinGraph>(
    graph: &G,
    plan: &Plan<'_>,
    bindings: &[Binding<G::Twin, G::Rel>],
) -> Value {
    match &plan.output {
        Output::Star => bindings
            .first()
            .map_or(Value::Null, |b| document(graph, *b)),
        Output::Columns(columns) => {
            let mut row = Map::new();
            for (name, column) in columns {
                match column {
                    ColumnPlan::Whole(slot) => {
                        if let Some(binding) = bindings.get(*slot) {
                            row.insert((*name).to_owned(), document(graph, *binding));
                        }
                    }
                    ColumnPlan::Path(path) => {
                        // ADT leaves a missing property out of the row.
                        if let Some(value) = value_at(graph, bindings, path) {
                            row.insert((*name).to_owned(), value.into_owned());
                        }
                    }
                }
            }
            Value::Object(row)
        }
        Output::Grouped { .. } => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hash(value: &Value) -> u64 {
        let mut hasher = FxHasher::default();
        hash_value(value, &mut hasher);
        hasher.finish()
    }

    #[test]
    fn equal_values_hash_alike() {
        let pairs = [
            (json!(1), json!(1.0)),
            (json!(0.0), json!(-0.0)),
            (
                json!({ "a": 1, "b": [true, null] }),
                json!({ "b": [true, null], "a": 1 }),
            ),
        ];
        for (a, b) in pairs {
            assert!(json_eq(&a, &b), "{a} = {b}");
            assert_eq!(hash(&a), hash(&b), "{a} and {b} hash differently");
        }
        assert_ne!(hash(&json!("a")), hash(&json!("b")));
        assert_ne!(hash(&json!([1, 2])), hash(&json!([2, 1])));
    }

    #[test]
    fn comparisons_follow_the_type_rules() {
        assert_eq!(compare(CompareOp::Lt, &json!(1), &json!(1.5)), Some(true));
        assert_eq!(
            compare(CompareOp::Ge, &json!(u64::MAX), &json!(-1)),
            Some(true)
        );
        assert_eq!(compare(CompareOp::Lt, &json!("a"), &json!("b")), Some(true));
        assert_eq!(
            compare(CompareOp::Lt, &json!(false), &json!(true)),
            Some(true)
        );
        // Different types: unequal, and unordered.
        assert_eq!(compare(CompareOp::Eq, &json!("1"), &json!(1)), Some(false));
        assert_eq!(compare(CompareOp::Ne, &json!("1"), &json!(1)), Some(true));
        assert_eq!(compare(CompareOp::Lt, &json!("1"), &json!(1)), None);
        assert_eq!(compare(CompareOp::Gt, &json!({}), &json!({})), None);
    }

    #[test]
    fn groups_sort_by_type_then_value() {
        let mut values = vec![
            json!("b"),
            json!(2),
            json!(null),
            json!(true),
            json!(-1.5),
            json!("a"),
            json!([1]),
        ];
        values.sort_by(total_order);
        assert_eq!(json!(values), json!([null, true, -1.5, 2, "a", "b", [1]]));
    }

    #[test]
    fn sums_stay_integer_until_a_fraction_or_overflow() {
        let mut acc = Accumulator::new();
        for n in [json!(2), json!(3)] {
            if let Value::Number(n) = n {
                acc.add_number(&n);
            }
        }
        assert_eq!(acc.result(Aggregate::Sum), json!(5));
        if let Value::Number(n) = json!(i64::MAX) {
            acc.add_number(&n);
        }
        assert!(acc.result(Aggregate::Sum).is_f64());
        assert_eq!(acc.result(Aggregate::Min), json!(2));
        assert_eq!(acc.result(Aggregate::Max), json!(i64::MAX));
        assert_eq!(Accumulator::new().result(Aggregate::Avg), Value::Null);
    }
}
