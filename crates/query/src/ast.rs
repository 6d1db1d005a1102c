//! The checked syntax tree of a query, and its canonical re-print (`Display`):
//! keywords upper-case, every path written with its alias, an AND inside an OR (or
//! the reverse) in parentheses, chains of one operator flat. The re-print parses
//! back to the same tree, which the property tests rely on (it can be longer than
//! the text it came from, so a query near `MAX_QUERY_BYTES` may re-print past it).

use std::fmt::{self, Write as _};

/// A byte range in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    pub(crate) fn new(offset: usize, len: usize) -> Self {
        Span { offset, len }
    }

    /// The smallest span covering both.
    pub(crate) fn to(self, end: Span) -> Span {
        let stop = (end.offset + end.len).max(self.offset + self.len);
        Span::new(self.offset, stop - self.offset)
    }
}

/// A parsed and checked query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// What each row holds.
    pub select: Select,
    /// The collection scanned.
    pub from: FromClause,
    /// Relationship hops from the `FROM` twins, in order.
    pub joins: Vec<Join>,
    /// The filter, if any.
    pub condition: Option<Expr>,
    /// `GROUP BY` paths (empty when not grouped).
    pub group_by: Vec<Path>,
    /// Span of the `GROUP` keyword (limits on groups point here).
    pub group_span: Option<Span>,
}

/// The `SELECT` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// `TOP(n)`: at most this many rows in all pages together.
    pub top: Option<u64>,
    /// Span of the `TOP` keyword.
    pub top_span: Option<Span>,
    /// What the rows hold.
    pub list: SelectList,
}

/// The column list of `SELECT`.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectList {
    /// `SELECT *` (also `SELECT TOP(n)` with no list).
    Star,
    /// Named columns.
    Columns(Vec<Column>),
}

/// One column of a `SELECT` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// What is projected.
    pub expr: ColumnExpr,
    /// `AS name`.
    pub alias: Option<String>,
    /// Where the column is written.
    pub span: Span,
}

impl Column {
    /// The key of this column in a result row: the `AS` name, else the alias of a
    /// collection, the last segment of a path, or the aggregate's name.
    pub fn name(&self) -> &str {
        if let Some(alias) = &self.alias {
            return alias;
        }
        match &self.expr {
            ColumnExpr::Collection(alias) => alias,
            ColumnExpr::Path(path) => path.segments.last().map_or("", String::as_str),
            ColumnExpr::Aggregate(aggregate, _) => aggregate.name(),
        }
    }
}

/// What a column projects.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnExpr {
    /// A whole twin or relationship, by alias.
    Collection(String),
    /// A value inside one.
    Path(Path),
    /// An aggregate over all rows (or each group); `None` for `COUNT()`.
    Aggregate(Aggregate, Option<Path>),
}

/// Aggregate functions (beyond ADT, except `COUNT()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `COUNT()` rows, or `COUNT(path)` rows where the path is defined.
    Count,
    /// Smallest numeric value.
    Min,
    /// Largest numeric value.
    Max,
    /// Mean of the numeric values.
    Avg,
    /// Sum of the numeric values.
    Sum,
}

impl Aggregate {
    /// The function's name, also the default column name.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "COUNT",
            Aggregate::Min => "MIN",
            Aggregate::Max => "MAX",
            Aggregate::Avg => "AVG",
            Aggregate::Sum => "SUM",
        }
    }
}

/// The collection named in `FROM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `DIGITALTWINS`
    DigitalTwins,
    /// `RELATIONSHIPS`
    Relationships,
}

/// The `FROM` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct FromClause {
    /// Which collection.
    pub collection: Collection,
    /// Its alias, if given.
    pub alias: Option<String>,
    /// Span of the `FROM` keyword (scan limits point here).
    pub span: Span,
}

/// `JOIN target RELATED source.relationship [relationship_alias]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Alias of the related (target) twins.
    pub target: String,
    /// Alias of the twins whose relationships are followed.
    pub source: String,
    /// Relationship name.
    pub relationship: String,
    /// Alias of the relationship itself, if given.
    pub relationship_alias: Option<String>,
    /// Span of the `JOIN` keyword (fan-out limits point here).
    pub span: Span,
}

/// A path into a twin's or relationship's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The alias it starts from; `None` when `FROM` has no alias.
    pub alias: Option<String>,
    /// Property, component and metadata names, in order (never empty).
    pub segments: Vec<String>,
    /// Where it is written.
    pub span: Span,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A string.
    String(String),
}

impl Literal {
    /// The literal as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Literal::Null => serde_json::Value::Null,
            Literal::Bool(b) => serde_json::Value::Bool(*b),
            Literal::Number(n) => serde_json::Value::Number(n.clone()),
            Literal::String(s) => serde_json::Value::String(s.clone()),
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator with its operands swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> CompareOp {
        match self {
            CompareOp::Eq => CompareOp::Eq,
            CompareOp::Ne => CompareOp::Ne,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// Type tests, one path argument each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeTest {
    /// `IS_DEFINED`
    Defined,
    /// `IS_NULL`
    Null,
    /// `IS_BOOL`
    Bool,
    /// `IS_NUMBER`
    Number,
    /// `IS_STRING`
    String,
    /// `IS_OBJECT`
    Object,
    /// `IS_PRIMITIVE` (string, number, bool or null)
    Primitive,
}

impl TypeTest {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TypeTest::Defined => "IS_DEFINED",
            TypeTest::Null => "IS_NULL",
            TypeTest::Bool => "IS_BOOL",
            TypeTest::Number => "IS_NUMBER",
            TypeTest::String => "IS_STRING",
            TypeTest::Object => "IS_OBJECT",
            TypeTest::Primitive => "IS_PRIMITIVE",
        }
    }
}

/// Functions that may stand as a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    /// `IS_OF_MODEL([alias,] 'dtmi' [, exact])`
    IsOfModel {
        /// Twin alias tested (`None` when `FROM` has no alias).
        alias: Option<String>,
        /// Model id.
        model: String,
        /// Only the model itself, not models extending it.
        exact: bool,
    },
    /// `IS_DEFINED(path)` and the other type tests.
    TypeTest(TypeTest, Path),
    /// `STARTSWITH(path, 'text')`
    StartsWith(Path, String),
    /// `ENDSWITH(path, 'text')`
    EndsWith(Path, String),
    /// `CONTAINS(path, 'text')`
    Contains(Path, String),
    /// `ARRAY_CONTAINS(path, literal)`
    ArrayContains(Path, Literal),
    /// `WITHIN_BOX([alias,] x0, y0, z0, x1, y1, z1)`, corners sorted per axis.
    WithinBox {
        /// Twin alias tested.
        alias: Option<String>,
        /// Lower corner.
        min: [f64; 3],
        /// Upper corner.
        max: [f64; 3],
    },
    /// `WITHIN_SPHERE([alias,] x, y, z, r)`
    WithinSphere {
        /// Twin alias tested.
        alias: Option<String>,
        /// Centre.
        center: [f64; 3],
        /// Radius, `>= 0`.
        radius: f64,
    },
}

/// A condition or one of its operands.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal operand.
    Literal(Literal),
    /// A path operand.
    Path(Path),
    /// `NOT c`
    Not(Box<Expr>),
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// `a op b` (operands are literals or paths)
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    /// `operand IN [...]`, or `NIN` when `negated`
    In {
        /// A literal or path.
        operand: Box<Expr>,
        /// The literals.
        list: Vec<Literal>,
        /// `NIN`
        negated: bool,
    },
    /// A function call.
    Call(Function),
}

fn is_plain_identifier(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    match bytes.first() {
        Some(&c) if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {}
        _ => return false,
    }
    bytes[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn write_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

fn write_number(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    // `{:?}` keeps a fractional part (`1.0`) and round-trips exactly.
    write!(f, "{x:?}")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Number(n) => write!(f, "{n}"),
            Literal::String(s) => write_string(f, s),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        if let Some(alias) = &self.alias {
            f.write_str(alias)?;
            first = false;
        }
        for segment in &self.segments {
            if is_plain_identifier(segment) {
                if !first {
                    f.write_char('.')?;
                }
                f.write_str(segment)?;
            } else {
                if first {
                    // A bracket cannot open a path; this only happens for an
                    // unaliased path whose first segment is not a plain name, which
                    // the parser never produces.
                    return Err(fmt::Error);
                }
                f.write_char('[')?;
                write_string(f, segment)?;
                f.write_char(']')?;
            }
            first = false;
        }
        Ok(())
    }
}

fn write_alias_prefix(f: &mut fmt::Formatter<'_>, alias: &Option<String>) -> fmt::Result {
    match alias {
        Some(alias) => write!(f, "{alias}, "),
        None => Ok(()),
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Function::IsOfModel {
                alias,
                model,
                exact,
            } => {
                f.write_str("IS_OF_MODEL(")?;
                write_alias_prefix(f, alias)?;
                write_string(f, model)?;
                if *exact {
                    f.write_str(", exact")?;
                }
                f.write_char(')')
            }
            Function::TypeTest(test, path) => write!(f, "{}({path})", test.name()),
            Function::StartsWith(path, s)
            | Function::EndsWith(path, s)
            | Function::Contains(path, s) => {
                let name = match self {
                    Function::StartsWith(..) => "STARTSWITH",
                    Function::EndsWith(..) => "ENDSWITH",
                    _ => "CONTAINS",
                };
                write!(f, "{name}({path}, ")?;
                write_string(f, s)?;
                f.write_char(')')
            }
            Function::ArrayContains(path, literal) => {
                write!(f, "ARRAY_CONTAINS({path}, {literal})")
            }
            Function::WithinBox { alias, min, max } => {
                f.write_str("WITHIN_BOX(")?;
                write_alias_prefix(f, alias)?;
                for (i, x) in min.iter().chain(max.iter()).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_number(f, *x)?;
                }
                f.write_char(')')
            }
            Function::WithinSphere {
                alias,
                center,
                radius,
            } => {
                f.write_str("WITHIN_SPHERE(")?;
                write_alias_prefix(f, alias)?;
                for x in center {
                    write_number(f, *x)?;
                    f.write_str(", ")?;
                }
                write_number(f, *radius)?;
                f.write_char(')')
            }
        }
    }
}

impl Expr {
    fn is_compound(&self) -> bool {
        matches!(self, Expr::And(..) | Expr::Or(..))
    }

    fn fmt_operand(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_compound() {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(literal) => write!(f, "{literal}"),
            Expr::Path(path) => write!(f, "{path}"),
            Expr::Not(inner) => {
                f.write_str("NOT ")?;
                inner.fmt_operand(f)
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                // Chains parse left-associatively, so a left child of the same
                // operator needs no parentheses; leaving them out keeps the re-print
                // of a long chain as flat as the text it came from (and within
                // MAX_EXPR_DEPTH when parsed again).
                let same_operator = matches!(
                    (self, a.as_ref()),
                    (Expr::And(..), Expr::And(..)) | (Expr::Or(..), Expr::Or(..))
                );
                if same_operator {
                    write!(f, "{a}")?;
                } else {
                    a.fmt_operand(f)?;
                }
                f.write_str(if matches!(self, Expr::And(..)) {
                    " AND "
                } else {
                    " OR "
                })?;
                b.fmt_operand(f)
            }
            Expr::Compare(op, a, b) => write!(f, "{a} {} {b}", op.symbol()),
            Expr::In {
                operand,
                list,
                negated,
            } => {
                write!(f, "{operand} {} [", if *negated { "NIN" } else { "IN" })?;
                for (i, literal) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{literal}")?;
                }
                f.write_char(']')
            }
            Expr::Call(function) => write!(f, "{function}"),
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            ColumnExpr::Collection(alias) => f.write_str(alias)?,
            ColumnExpr::Path(path) => write!(f, "{path}")?,
            ColumnExpr::Aggregate(aggregate, path) => {
                write!(f, "{}(", aggregate.name())?;
                if let Some(path) = path {
                    write!(f, "{path}")?;
                }
                f.write_char(')')?;
            }
        }
        if let Some(alias) = &self.alias {
            write!(f, " AS {alias}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if let Some(top) = self.select.top {
            write!(f, "TOP({top}) ")?;
        }
        match &self.select.list {
            SelectList::Star => f.write_char('*')?,
            SelectList::Columns(columns) => {
                for (i, column) in columns.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{column}")?;
                }
            }
        }
        f.write_str(match self.from.collection {
            Collection::DigitalTwins => " FROM DIGITALTWINS",
            Collection::Relationships => " FROM RELATIONSHIPS",
        })?;
        if let Some(alias) = &self.from.alias {
            write!(f, " {alias}")?;
        }
        for join in &self.joins {
            write!(
                f,
                " JOIN {} RELATED {}.{}",
                join.target, join.source, join.relationship
            )?;
            if let Some(alias) = &join.relationship_alias {
                write!(f, " {alias}")?;
            }
        }
        if let Some(condition) = &self.condition {
            write!(f, " WHERE {condition}")?;
        }
        for (i, path) in self.group_by.iter().enumerate() {
            f.write_str(if i == 0 { " GROUP BY " } else { ", " })?;
            write!(f, "{path}")?;
        }
        Ok(())
    }
}
