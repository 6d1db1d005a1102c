//! Recursive-descent parser with precedence climbing (`OR` < `AND` < `NOT` <
//! comparison) that also checks the query while it reads it: aliases are resolved
//! as soon as they are declared, so an unknown alias, function or argument is
//! reported at its own token.

use crate::ast::{
    Aggregate, Collection, Column, ColumnExpr, CompareOp, Expr, FromClause, Function, Join,
    Literal, Path, Query, Select, SelectList, Span, TypeTest,
};
use crate::error::{QueryError, QueryErrorKind};
use crate::lexer::{Token, TokenKind, lex};

/// Longest query text accepted. ADT caps queries at 8,000 characters; twice that
/// leaves room for long `IN` lists while bounding the parser's work and memory.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Deepest nesting of parentheses and `NOT`; bounds the parser's recursion (and
/// the evaluator's, which follows the tree) so hostile input cannot overflow the stack.
pub const MAX_EXPR_DEPTH: usize = 64;
/// Most literals in one `IN` / `NIN` list; the list is searched linearly per row.
pub const MAX_IN_LIST: usize = 1_000;
/// Most `JOIN`s in a query, as in ADT; each one multiplies the rows examined.
pub const MAX_JOINS: usize = 5;
/// Most segments in one property path; DTDL nesting is far shallower.
pub const MAX_PATH_SEGMENTS: usize = 32;
/// Most columns in a `SELECT` list; each one is looked up per returned row.
const MAX_COLUMNS: usize = 64;

/// Words that cannot name an alias or start a path without an alias.
const RESERVED: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "JOIN",
    "RELATED",
    "AND",
    "OR",
    "NOT",
    "IN",
    "NIN",
    "AS",
    "TOP",
    "GROUP",
    "BY",
    "DIGITALTWINS",
    "RELATIONSHIPS",
];

/// Longest word in [`RESERVED`].
const RESERVED_LEN_MAX: usize = 13;

/// Whether `text` is a reserved word, in any case. Upper-cases into a stack buffer
/// once instead of comparing against every word case-insensitively: this runs for
/// nearly every identifier the parser looks at.
fn is_reserved_word(text: &str) -> bool {
    let len = text.len();
    if !(2..=RESERVED_LEN_MAX).contains(&len) {
        return false;
    }
    let mut upper = [0u8; RESERVED_LEN_MAX];
    for (slot, byte) in upper.iter_mut().zip(text.bytes()) {
        *slot = byte.to_ascii_uppercase();
    }
    let upper = &upper[..len];
    RESERVED.iter().any(|word| word.as_bytes() == upper)
}

const KNOWN_FUNCTIONS: &str = "IS_OF_MODEL, IS_DEFINED, IS_NULL, IS_BOOL, IS_NUMBER, IS_STRING, \
    IS_OBJECT, IS_PRIMITIVE, STARTSWITH, ENDSWITH, CONTAINS, ARRAY_CONTAINS, WITHIN_BOX, WITHIN_SPHERE";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AliasKind {
    Twin,
    Relationship,
}

/// The aliases declared so far, to resolve paths against.
#[derive(Default)]
struct Scope {
    /// Declared aliases with their kind.
    aliases: Vec<(String, AliasKind)>,
    /// The collection's kind when `FROM` has no alias (paths then start with a
    /// property name).
    implicit: Option<AliasKind>,
}

impl Scope {
    fn kind_of(&self, alias: &str) -> Option<AliasKind> {
        self.aliases
            .iter()
            .find(|(a, _)| a == alias)
            .map(|(_, k)| *k)
    }

    fn alias_list(&self) -> String {
        self.aliases
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    scope: Scope,
}

pub(crate) fn parse(text: &str) -> Result<Query, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        // Point at the first character past the limit.
        let mut cut = MAX_QUERY_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let len = text[cut..].chars().next().map_or(0, char::len_utf8);
        return Err(QueryError::new(
            QueryErrorKind::Syntax,
            text,
            cut,
            len,
            format!(
                "query is longer than {MAX_QUERY_BYTES} bytes; shorten it (e.g. split long IN lists)"
            ),
        ));
    }
    let tokens = lex(text)?;
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        depth: 0,
        scope: Scope::default(),
    };
    parser.query()
}

impl<'t> Parser<'t> {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn token_text(&self, token: &Token) -> &'t str {
        let text: &'t str = self.text;
        text.get(token.span.offset..token.span.offset + token.span.len)
            .unwrap_or("")
    }

    fn error_at(&self, kind: QueryErrorKind, span: Span, message: impl Into<String>) -> QueryError {
        QueryError::new(kind, self.text, span.offset, span.len, message)
    }

    /// A syntax error at the current token.
    fn expected(&self, what: &str) -> QueryError {
        let span = self.peek().span;
        self.error_at(QueryErrorKind::Syntax, span, format!("expected {what}"))
    }

    fn invalid(&self, span: Span, message: impl Into<String>) -> QueryError {
        self.error_at(QueryErrorKind::Invalid, span, message)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        let token = self.peek();
        token.kind == TokenKind::Ident && self.token_text(token).eq_ignore_ascii_case(keyword)
    }

    fn eat_keyword(&mut self, keyword: &str) -> Option<Span> {
        if self.at_keyword(keyword) {
            Some(self.advance().span)
        } else {
            None
        }
    }

    fn expect_keyword(&mut self, keyword: &str, what: &str) -> Result<Span, QueryError> {
        self.eat_keyword(keyword).ok_or_else(|| self.expected(what))
    }

    fn eat(&mut self, kind: &TokenKind) -> Option<Span> {
        if &self.peek().kind == kind {
            Some(self.advance().span)
        } else {
            None
        }
    }

    fn expect(&mut self, kind: &TokenKind, context: &str) -> Result<Span, QueryError> {
        match self.eat(kind) {
            Some(span) => Ok(span),
            None => Err(self.expected(&format!("{} {context}", kind.describe()))),
        }
    }

    fn is_reserved(&self, token: &Token) -> bool {
        token.kind == TokenKind::Ident && is_reserved_word(self.token_text(token))
    }

    /// An identifier that may name an alias (not a keyword, no `$`).
    fn alias_name(&mut self, what: &str) -> Result<(String, Span), QueryError> {
        let token = self.peek().clone();
        let text = self.token_text(&token);
        if token.kind != TokenKind::Ident || self.is_reserved(&token) || text.starts_with('$') {
            return Err(self.expected(what));
        }
        self.advance();
        Ok((text.to_owned(), token.span))
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            let span = self.peek().span;
            return Err(self.error_at(
                QueryErrorKind::Syntax,
                span,
                format!("condition nested deeper than {MAX_EXPR_DEPTH} levels; simplify it"),
            ));
        }
        Ok(())
    }

    fn declare(&mut self, alias: String, span: Span, kind: AliasKind) -> Result<(), QueryError> {
        if self.scope.kind_of(&alias).is_some() {
            return Err(self.invalid(
                span,
                format!("alias '{alias}' is declared twice; give each collection its own alias"),
            ));
        }
        self.scope.aliases.push((alias, kind));
        Ok(())
    }

    // ---- clauses -------------------------------------------------------------

    fn query(&mut self) -> Result<Query, QueryError> {
        self.expect_keyword("SELECT", "SELECT at the start of the query")?;
        let (select, star_span) = self.select()?;
        let from = self.from()?;
        let mut joins = Vec::new();
        while self.at_keyword("JOIN") {
            if joins.len() == MAX_JOINS {
                let span = self.peek().span;
                return Err(self.invalid(span, format!("more than {MAX_JOINS} JOINs; a query may follow at most {MAX_JOINS} relationship hops")));
            }
            joins.push(self.join(&from)?);
        }
        let condition = if self.eat_keyword("WHERE").is_some() {
            Some(self.or()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        let mut group_span = None;
        if let Some(span) = self.eat_keyword("GROUP") {
            group_span = Some(span);
            self.expect_keyword("BY", "BY after GROUP")?;
            loop {
                let path = self.path()?;
                let path = self.resolve(path, false)?.1;
                group_by.push(path);
                if self.eat(&TokenKind::Comma).is_none() {
                    break;
                }
                if group_by.len() == MAX_COLUMNS {
                    let span = self.peek().span;
                    return Err(
                        self.invalid(span, format!("more than {MAX_COLUMNS} GROUP BY paths"))
                    );
                }
            }
        }
        if self.peek().kind != TokenKind::Eof {
            let what = if group_span.is_some() {
                "',' or the end of the query"
            } else if condition.is_some() {
                "AND, OR, GROUP BY or the end of the query"
            } else {
                "JOIN, WHERE, GROUP BY or the end of the query"
            };
            return Err(self.expected(what));
        }
        let mut query = Query {
            select,
            from,
            joins,
            condition,
            group_by,
            group_span,
        };
        self.check_select(&mut query, star_span)?;
        Ok(query)
    }

    fn select(&mut self) -> Result<(Select, Option<Span>), QueryError> {
        let mut top = None;
        let mut top_span = None;
        if let Some(span) = self.eat_keyword("TOP") {
            top_span = Some(span);
            self.expect(&TokenKind::LParen, "after TOP")?;
            let token = self.peek().clone();
            let n = match &token.kind {
                TokenKind::Number(n) => n.as_u64().filter(|n| *n >= 1),
                _ => None,
            };
            let Some(n) = n else {
                return Err(self.expected("a whole number of rows, at least 1, in TOP(n)"));
            };
            self.advance();
            top = Some(n);
            self.expect(&TokenKind::RParen, "to close TOP(n)")?;
        }
        if let Some(span) = self.eat(&TokenKind::Star) {
            return Ok((
                Select {
                    top,
                    top_span,
                    list: SelectList::Star,
                },
                Some(span),
            ));
        }
        if top.is_some() && self.at_keyword("FROM") {
            // `SELECT TOP(5) FROM DIGITALTWINS` returns whole twins, as in ADT.
            return Ok((
                Select {
                    top,
                    top_span,
                    list: SelectList::Star,
                },
                None,
            ));
        }
        let mut columns = Vec::new();
        loop {
            if columns.len() == MAX_COLUMNS {
                let span = self.peek().span;
                return Err(
                    self.invalid(span, format!("more than {MAX_COLUMNS} columns in SELECT"))
                );
            }
            columns.push(self.column()?);
            if self.eat(&TokenKind::Comma).is_none() {
                break;
            }
        }
        Ok((
            Select {
                top,
                top_span,
                list: SelectList::Columns(columns),
            },
            None,
        ))
    }

    fn column(&mut self) -> Result<Column, QueryError> {
        let start = self.peek().clone();
        if start.kind == TokenKind::Ident && self.peek_at(1).kind == TokenKind::LParen {
            let name = self.token_text(&start).to_ascii_uppercase();
            let aggregate = match name.as_str() {
                "COUNT" => Aggregate::Count,
                "MIN" => Aggregate::Min,
                "MAX" => Aggregate::Max,
                "AVG" => Aggregate::Avg,
                "SUM" => Aggregate::Sum,
                _ => {
                    return Err(self.invalid(
                        start.span,
                        format!("'{name}' cannot be a column; SELECT allows paths, aliases and the aggregates COUNT, MIN, MAX, AVG, SUM"),
                    ));
                }
            };
            self.advance();
            self.advance();
            let path = if aggregate == Aggregate::Count && self.peek().kind == TokenKind::RParen {
                None
            } else {
                Some(self.path()?)
            };
            let close = self.expect(&TokenKind::RParen, &format!("to close {name}("))?;
            let alias = self.column_alias()?;
            return Ok(Column {
                expr: ColumnExpr::Aggregate(aggregate, path),
                alias,
                span: start.span.to(close),
            });
        }
        if start.kind != TokenKind::Ident || self.is_reserved(&start) {
            return Err(self
                .expected("'*', TOP(n), a column (alias, path or aggregate) after SELECT or ','"));
        }
        let path = self.path()?;
        let span = path.span;
        let alias = self.column_alias()?;
        Ok(Column {
            expr: ColumnExpr::Path(path),
            alias,
            span,
        })
    }

    fn column_alias(&mut self) -> Result<Option<String>, QueryError> {
        if self.eat_keyword("AS").is_none() {
            return Ok(None);
        }
        Ok(Some(self.alias_name("a column name after AS")?.0))
    }

    fn from(&mut self) -> Result<FromClause, QueryError> {
        let span = self.expect_keyword(
            "FROM",
            "FROM after the SELECT list (or ',' before another column)",
        )?;
        let collection = if self.eat_keyword("DIGITALTWINS").is_some() {
            Collection::DigitalTwins
        } else if self.eat_keyword("RELATIONSHIPS").is_some() {
            Collection::Relationships
        } else {
            return Err(self.expected("DIGITALTWINS or RELATIONSHIPS after FROM"));
        };
        let kind = match collection {
            Collection::DigitalTwins => AliasKind::Twin,
            Collection::Relationships => AliasKind::Relationship,
        };
        let explicit_as = self.eat_keyword("AS").is_some();
        let alias = if explicit_as
            || (self.peek().kind == TokenKind::Ident && !self.is_reserved(self.peek()))
        {
            let (alias, alias_span) = self.alias_name("an alias for the collection")?;
            self.declare(alias.clone(), alias_span, kind)?;
            Some(alias)
        } else {
            self.scope.implicit = Some(kind);
            None
        };
        Ok(FromClause {
            collection,
            alias,
            span,
        })
    }

    fn join(&mut self, from: &FromClause) -> Result<Join, QueryError> {
        let span = self.advance().span;
        if from.collection == Collection::Relationships {
            return Err(self.invalid(
                span,
                "JOIN follows relationships of twins; it needs FROM DIGITALTWINS",
            ));
        }
        if from.alias.is_none() {
            return Err(self.invalid(
                span,
                "JOIN needs an alias on the FROM collection, e.g. FROM DIGITALTWINS T",
            ));
        }
        let (target, target_span) = self.alias_name("an alias for the related twins after JOIN")?;
        self.expect_keyword("RELATED", "RELATED after the JOIN alias")?;
        let (source, source_span) =
            self.alias_name("the alias of the twins whose relationships to follow")?;
        match self.scope.kind_of(&source) {
            Some(AliasKind::Twin) => {}
            Some(AliasKind::Relationship) => {
                return Err(self.invalid(
                    source_span,
                    format!("'{source}' is a relationship alias; RELATED needs a twin alias"),
                ));
            }
            None => {
                return Err(self.invalid(
                    source_span,
                    format!(
                        "unknown alias '{source}'; RELATED may follow one of: {}",
                        self.scope.alias_list()
                    ),
                ));
            }
        }
        self.expect(
            &TokenKind::Dot,
            "and a relationship name after the alias (alias.relationshipName)",
        )?;
        let rel_token = self.peek().clone();
        if rel_token.kind != TokenKind::Ident {
            return Err(self.expected("a relationship name"));
        }
        self.advance();
        let relationship = self.token_text(&rel_token).to_owned();
        self.declare(target.clone(), target_span, AliasKind::Twin)?;
        let relationship_alias =
            if self.peek().kind == TokenKind::Ident && !self.is_reserved(self.peek()) {
                let (alias, alias_span) = self.alias_name("an alias for the relationship")?;
                self.declare(alias.clone(), alias_span, AliasKind::Relationship)?;
                Some(alias)
            } else {
                None
            };
        Ok(Join {
            target,
            source,
            relationship,
            relationship_alias,
            span,
        })
    }

    // ---- paths ---------------------------------------------------------------

    /// A path as written; aliases are not yet told apart from properties.
    fn path(&mut self) -> Result<Path, QueryError> {
        let first = self.peek().clone();
        if first.kind != TokenKind::Ident || self.is_reserved(&first) {
            return Err(self.expected("a property path (alias.property)"));
        }
        self.advance();
        let mut segments = vec![self.token_text(&first).to_owned()];
        let mut span = first.span;
        loop {
            let segment = if self.eat(&TokenKind::Dot).is_some() {
                let token = self.peek().clone();
                if token.kind != TokenKind::Ident {
                    return Err(self.expected("a property name after '.'"));
                }
                self.advance();
                span = span.to(token.span);
                self.token_text(&token).to_owned()
            } else if self.eat(&TokenKind::LBracket).is_some() {
                let TokenKind::Str(name) = self.peek().kind.clone() else {
                    return Err(self.expected("a quoted property name in [...]"));
                };
                self.advance();
                let close = self.expect(&TokenKind::RBracket, "after the property name")?;
                span = span.to(close);
                name
            } else {
                break;
            };
            if segments.len() == MAX_PATH_SEGMENTS {
                return Err(self.invalid(
                    span,
                    format!("path longer than {MAX_PATH_SEGMENTS} segments"),
                ));
            }
            segments.push(segment);
        }
        Ok(Path {
            alias: None,
            segments,
            span,
        })
    }

    /// Splits the alias off a path. Returns the alias's kind and the path; a bare
    /// alias (`T`) comes back with no segments only when `allow_bare` is set.
    fn resolve(&self, mut path: Path, allow_bare: bool) -> Result<(AliasKind, Path), QueryError> {
        let first = &path.segments[0];
        if let Some(kind) = self.scope.kind_of(first) {
            if path.segments.len() == 1 && !allow_bare {
                return Err(self.invalid(
                    path.span,
                    format!(
                        "'{first}' is a whole {}; use one of its properties, e.g. {first}.$dtId",
                        kind_name(kind)
                    ),
                ));
            }
            path.alias = Some(path.segments.remove(0));
            return Ok((kind, path));
        }
        match self.scope.implicit {
            Some(kind) => Ok((kind, path)),
            None => {
                let len = first.len();
                Err(self.invalid(
                    Span::new(path.span.offset, len),
                    format!(
                        "unknown alias '{first}'; paths start with one of: {}",
                        self.scope.alias_list()
                    ),
                ))
            }
        }
    }

    // ---- conditions ----------------------------------------------------------

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR").is_some() {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND").is_some() {
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_keyword("NOT").is_some() {
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, QueryError> {
        if self.eat(&TokenKind::LParen).is_some() {
            self.enter()?;
            let inner = self.or()?;
            self.depth -= 1;
            self.expect(
                &TokenKind::RParen,
                "to close '(' (or AND / OR to continue the condition)",
            )?;
            return Ok(inner);
        }
        let token = self.peek().clone();
        if token.kind == TokenKind::Ident
            && self.peek_at(1).kind == TokenKind::LParen
            && !self.is_reserved(&token)
        {
            return Ok(Expr::Call(self.function()?));
        }
        let left = self.operand()?;
        let op = match self.peek().kind {
            TokenKind::Eq => Some(CompareOp::Eq),
            TokenKind::Ne => Some(CompareOp::Ne),
            TokenKind::Lt => Some(CompareOp::Lt),
            TokenKind::Le => Some(CompareOp::Le),
            TokenKind::Gt => Some(CompareOp::Gt),
            TokenKind::Ge => Some(CompareOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            let right = self.operand()?;
            return Ok(Expr::Compare(op, Box::new(left), Box::new(right)));
        }
        let negated = if self.eat_keyword("IN").is_some() {
            false
        } else if self.eat_keyword("NIN").is_some() {
            true
        } else {
            return Err(
                self.expected("a comparison (= != <> < <= > >=), IN or NIN after the operand")
            );
        };
        let list = self.literal_list()?;
        Ok(Expr::In {
            operand: Box::new(left),
            list,
            negated,
        })
    }

    fn literal(&mut self) -> Option<Literal> {
        let token = self.peek().clone();
        let literal = match token.kind {
            TokenKind::Str(s) => Literal::String(s),
            TokenKind::Number(n) => Literal::Number(n),
            TokenKind::Ident => {
                let text = self.token_text(&token);
                if text.eq_ignore_ascii_case("true") {
                    Literal::Bool(true)
                } else if text.eq_ignore_ascii_case("false") {
                    Literal::Bool(false)
                } else if text.eq_ignore_ascii_case("null") {
                    Literal::Null
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        self.advance();
        Some(literal)
    }

    fn operand(&mut self) -> Result<Expr, QueryError> {
        if let Some(literal) = self.literal() {
            return Ok(Expr::Literal(literal));
        }
        let token = self.peek().clone();
        if token.kind != TokenKind::Ident || self.is_reserved(&token) {
            return Err(
                self.expected("a condition: a property path, a literal, a function, NOT or '('")
            );
        }
        let path = self.path()?;
        Ok(Expr::Path(self.resolve(path, false)?.1))
    }

    fn literal_list(&mut self) -> Result<Vec<Literal>, QueryError> {
        self.expect(&TokenKind::LBracket, "to open the list after IN / NIN")?;
        let mut list = Vec::new();
        if self.eat(&TokenKind::RBracket).is_some() {
            return Ok(list);
        }
        loop {
            if list.len() == MAX_IN_LIST {
                let span = self.peek().span;
                return Err(self.invalid(
                    span,
                    format!("more than {MAX_IN_LIST} values in an IN / NIN list"),
                ));
            }
            match self.literal() {
                Some(literal) => list.push(literal),
                None => {
                    return Err(self
                        .expected("a literal (string, number, true, false or null) in the list"));
                }
            }
            if self.eat(&TokenKind::RBracket).is_some() {
                return Ok(list);
            }
            self.expect(&TokenKind::Comma, "or ']' in the list")?;
        }
    }

    /// An argument that is a path (not a bare alias).
    fn path_argument(&mut self) -> Result<Path, QueryError> {
        let path = self.path()?;
        Ok(self.resolve(path, false)?.1)
    }

    fn string_argument(&mut self, what: &str) -> Result<String, QueryError> {
        match self.peek().kind.clone() {
            TokenKind::Str(s) => {
                self.advance();
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn number_argument(&mut self, what: &str) -> Result<(f64, Span), QueryError> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::Number(n) => {
                let Some(x) = n.as_f64() else {
                    return Err(self.expected(what));
                };
                self.advance();
                Ok((x, token.span))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// The optional leading twin alias of IS_OF_MODEL / WITHIN_*: given when the
    /// next tokens are `name ,`; otherwise the single twin collection is meant.
    fn twin_alias_argument(
        &mut self,
        function: &str,
        name_span: Span,
    ) -> Result<Option<String>, QueryError> {
        let token = self.peek().clone();
        if token.kind == TokenKind::Ident && self.peek_at(1).kind == TokenKind::Comma {
            let alias = self.token_text(&token).to_owned();
            match self.scope.kind_of(&alias) {
                Some(AliasKind::Twin) => {}
                Some(AliasKind::Relationship) => {
                    return Err(self.invalid(
                        token.span,
                        format!("'{alias}' is a relationship alias; {function} tests twins"),
                    ));
                }
                None => {
                    return Err(self.invalid(
                        token.span,
                        format!(
                            "unknown alias '{alias}'; {function} takes one of: {}",
                            self.scope.alias_list()
                        ),
                    ));
                }
            }
            self.advance();
            self.advance();
            return Ok(Some(alias));
        }
        // No alias written: there must be exactly one twin collection.
        let twins: Vec<&str> = self
            .scope
            .aliases
            .iter()
            .filter(|(_, kind)| *kind == AliasKind::Twin)
            .map(|(alias, _)| alias.as_str())
            .collect();
        match (self.scope.implicit, twins.as_slice()) {
            (Some(AliasKind::Twin), []) => Ok(None),
            (None, [single]) => Ok(Some((*single).to_owned())),
            (Some(AliasKind::Relationship), _) | (None, []) => {
                Err(self.invalid(name_span, format!("{function} tests twins; FROM RELATIONSHIPS has none")))
            }
            _ => Err(self.invalid(
                name_span,
                format!("{function} needs the twin alias as first argument when the query has several ({})", twins.join(", ")),
            )),
        }
    }

    fn function(&mut self) -> Result<Function, QueryError> {
        let name_token = self.advance();
        let name = self.token_text(&name_token).to_ascii_uppercase();
        let name_span = name_token.span;
        let open_context = format!("after {name}");
        self.expect(&TokenKind::LParen, &open_context)?;
        let type_test = match name.as_str() {
            "IS_DEFINED" => Some(TypeTest::Defined),
            "IS_NULL" => Some(TypeTest::Null),
            "IS_BOOL" => Some(TypeTest::Bool),
            "IS_NUMBER" => Some(TypeTest::Number),
            "IS_STRING" => Some(TypeTest::String),
            "IS_OBJECT" => Some(TypeTest::Object),
            "IS_PRIMITIVE" => Some(TypeTest::Primitive),
            _ => None,
        };
        let function = if let Some(test) = type_test {
            Function::TypeTest(test, self.path_argument()?)
        } else {
            match name.as_str() {
                "IS_OF_MODEL" => {
                    let alias = self.twin_alias_argument("IS_OF_MODEL", name_span)?;
                    let model =
                        self.string_argument("a model id string, e.g. 'dtmi:example:Room;1'")?;
                    let exact = if self.eat(&TokenKind::Comma).is_some() {
                        if self.eat_keyword("exact").is_none() {
                            return Err(
                                self.expected("'exact' as the last argument of IS_OF_MODEL")
                            );
                        }
                        true
                    } else {
                        false
                    };
                    Function::IsOfModel {
                        alias,
                        model,
                        exact,
                    }
                }
                "STARTSWITH" | "ENDSWITH" | "CONTAINS" => {
                    let path = self.path_argument()?;
                    self.expect(
                        &TokenKind::Comma,
                        &format!("after the first argument of {name}"),
                    )?;
                    let text = self
                        .string_argument(&format!("a string as the second argument of {name}"))?;
                    match name.as_str() {
                        "STARTSWITH" => Function::StartsWith(path, text),
                        "ENDSWITH" => Function::EndsWith(path, text),
                        _ => Function::Contains(path, text),
                    }
                }
                "ARRAY_CONTAINS" => {
                    let path = self.path_argument()?;
                    self.expect(&TokenKind::Comma, "after the array path of ARRAY_CONTAINS")?;
                    let Some(literal) = self.literal() else {
                        return Err(self.expected("a literal to look for in the array"));
                    };
                    Function::ArrayContains(path, literal)
                }
                "WITHIN_BOX" => {
                    let alias = self.twin_alias_argument("WITHIN_BOX", name_span)?;
                    let mut corners = [0.0; 6];
                    for (i, corner) in corners.iter_mut().enumerate() {
                        if i > 0 {
                            self.expect(
                                &TokenKind::Comma,
                                "between the coordinates of WITHIN_BOX",
                            )?;
                        }
                        *corner = self
                            .number_argument("six numbers x0, y0, z0, x1, y1, z1 in WITHIN_BOX")?
                            .0;
                    }
                    let mut min = [0.0; 3];
                    let mut max = [0.0; 3];
                    for axis in 0..3 {
                        min[axis] = corners[axis].min(corners[axis + 3]);
                        max[axis] = corners[axis].max(corners[axis + 3]);
                    }
                    Function::WithinBox { alias, min, max }
                }
                "WITHIN_SPHERE" => {
                    let alias = self.twin_alias_argument("WITHIN_SPHERE", name_span)?;
                    let mut center = [0.0; 3];
                    for x in &mut center {
                        *x = self
                            .number_argument("the centre x, y, z of WITHIN_SPHERE")?
                            .0;
                        self.expect(&TokenKind::Comma, "after a coordinate of WITHIN_SPHERE")?;
                    }
                    let (radius, radius_span) =
                        self.number_argument("the radius of WITHIN_SPHERE")?;
                    if radius < 0.0 {
                        return Err(self.invalid(
                            radius_span,
                            "the radius of WITHIN_SPHERE must be 0 or more",
                        ));
                    }
                    Function::WithinSphere {
                        alias,
                        center,
                        radius,
                    }
                }
                "COUNT" | "MIN" | "MAX" | "AVG" | "SUM" => {
                    return Err(self.invalid(
                        name_span,
                        format!("aggregate {name} is allowed only in the SELECT list, not in a condition"),
                    ));
                }
                _ => {
                    return Err(self.invalid(
                        name_span,
                        format!("unknown function '{name}'; known functions are {KNOWN_FUNCTIONS}"),
                    ));
                }
            }
        };
        self.expect(&TokenKind::RParen, &format!("to close {name}("))?;
        Ok(function)
    }

    // ---- SELECT checks -------------------------------------------------------

    /// Resolves the SELECT list now that every alias is known, and checks that the
    /// query can be answered: `*` without JOIN, aggregates only with grouped
    /// columns, distinct column names.
    fn check_select(&self, query: &mut Query, star_span: Option<Span>) -> Result<(), QueryError> {
        let columns = match &mut query.select.list {
            SelectList::Star => {
                let span = star_span.unwrap_or(query.from.span);
                if !query.joins.is_empty() {
                    return Err(self.invalid(span, "SELECT * cannot be used with JOIN; name the aliases to return, e.g. SELECT T, CT"));
                }
                if !query.group_by.is_empty() {
                    return Err(self.invalid(
                        span,
                        "SELECT * cannot be grouped; list the GROUP BY paths and aggregates",
                    ));
                }
                return Ok(());
            }
            SelectList::Columns(columns) => columns,
        };
        for column in columns.iter_mut() {
            let expr = std::mem::replace(&mut column.expr, ColumnExpr::Collection(String::new()));
            column.expr = match expr {
                ColumnExpr::Path(path) => {
                    let (_, path) = self.resolve(path, true)?;
                    if path.segments.is_empty() {
                        ColumnExpr::Collection(path.alias.unwrap_or_default())
                    } else {
                        ColumnExpr::Path(path)
                    }
                }
                ColumnExpr::Aggregate(aggregate, Some(path)) => {
                    ColumnExpr::Aggregate(aggregate, Some(self.resolve(path, false)?.1))
                }
                other => other,
            };
        }
        let has_aggregate = columns
            .iter()
            .any(|c| matches!(c.expr, ColumnExpr::Aggregate(..)));
        if has_aggregate || !query.group_by.is_empty() {
            for column in columns.iter() {
                let grouped = match &column.expr {
                    ColumnExpr::Aggregate(..) => true,
                    ColumnExpr::Path(path) => query
                        .group_by
                        .iter()
                        .any(|g| g.alias == path.alias && g.segments == path.segments),
                    ColumnExpr::Collection(_) => false,
                };
                if !grouped {
                    return Err(self.invalid(
                        column.span,
                        "column is neither an aggregate nor a GROUP BY path; add it to GROUP BY or aggregate it",
                    ));
                }
            }
            if let (Some(span), true) = (query.select.top_span, query.group_by.is_empty()) {
                return Err(self.invalid(
                    span,
                    "TOP cannot be combined with COUNT() or other aggregates without GROUP BY",
                ));
            }
        }
        for (i, column) in columns.iter().enumerate() {
            let name = column.name();
            if columns[..i].iter().any(|c| c.name() == name) {
                return Err(self.invalid(
                    column.span,
                    format!(
                        "a second column named '{name}'; give one of them another name with AS"
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn kind_name(kind: AliasKind) -> &'static str {
    match kind {
        AliasKind::Twin => "twin",
        AliasKind::Relationship => "relationship",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_found_in_any_case() {
        assert_eq!(
            RESERVED.iter().map(|w| w.len()).max(),
            Some(RESERVED_LEN_MAX)
        );
        for word in RESERVED {
            assert!(is_reserved_word(word));
            assert!(is_reserved_word(&word.to_ascii_lowercase()));
        }
        for word in ["T", "name", "SELECTS", "DIGITALTWINSX", "séLECT", ""] {
            assert!(!is_reserved_word(word), "{word}");
        }
    }
}
