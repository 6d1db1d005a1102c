//! Per-model tables of the twins' top-level values, kept beside the twins so that
//! a property filter over a million twins reads contiguous memory instead of
//! following every twin's property list.
//!
//! Each model has a `ModelTable`: one row per twin of that model and one column
//! per property name some twin of the model has held. A column holds an 8-byte
//! `Cell` per row: the number itself (an `f64`), or a tag for a missing value,
//! `null`, a boolean, a string of up to six bytes spelled out in place, a longer
//! string by a 32-bit hash, or "anything else" (objects, arrays, components,
//! integers beyond 2^53). A filter is compiled once into a `Test` per column and
//! decides most rows from the cell alone; only hashed strings that might be equal
//! and "anything else" cells send the caller back to the twin itself (`Verdict::
//! Check`), so the answers are exactly those of the query language.
//!
//! The tables are a copy: `Twin::props` stays the source of truth, and every
//! change to a twin's properties rewrites its row (`ModelTable::write`).

use std::cmp::Ordering;

use query::CompareOp;

use crate::twin::{Prop, Sym};
use crate::value::Val;

/// Marks a row whose twin was deleted (or moved to another model).
const VACANT: u32 = u32::MAX;

/// Rows kept at least before vacant rows are compacted away: compacting a small
/// table saves nothing.
const COMPACT_ROWS_MIN: usize = 1_024;

/// The largest integer magnitude an `f64` holds exactly; larger integers are
/// compared on the twin, where the query language compares them as integers.
const EXACT_INTEGER_MAX: u64 = 1 << 53;

/// Exponent all ones plus the quiet bit: no finite `f64` has these bits set,
/// so a cell with them is a tag, not a number.
const TAGGED: u64 = 0x7FF8_0000_0000_0000;
/// With `TAGGED`: the cell spells out a short string (length in bits 48..51).
const INLINE: u64 = 1 << 63;
/// Tags (bits 48..51 of a tagged cell without `INLINE`).
const TAG_MISSING: u64 = 0;
const TAG_NULL: u64 = 1;
const TAG_FALSE: u64 = 2;
const TAG_TRUE: u64 = 3;
const TAG_HASHED: u64 = 4;
const TAG_OTHER: u64 = 5;
/// Longest string a cell spells out in place.
const INLINE_LEN_MAX: usize = 6;

/// One value of a column: a finite `f64` or a tagged non-number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cell(u64);

/// A cell taken apart.
#[derive(Debug, PartialEq)]
enum Kind {
    Missing,
    Null,
    Bool(bool),
    Number(f64),
    /// A string of at most `INLINE_LEN_MAX` bytes, spelled out.
    Short([u8; INLINE_LEN_MAX], usize),
    /// A longer string, by hash.
    Hashed(u32),
    /// Something only the twin itself can compare.
    Other,
}

impl Cell {
    const MISSING: Cell = Cell::tag(TAG_MISSING, 0);
    const OTHER: Cell = Cell::tag(TAG_OTHER, 0);

    const fn tag(tag: u64, payload: u32) -> Cell {
        Cell(TAGGED | (tag << 48) | payload as u64)
    }

    fn number(x: f64) -> Cell {
        if x.is_finite() {
            Cell(x.to_bits())
        } else {
            Cell::OTHER
        }
    }

    fn string(s: &str) -> Cell {
        let bytes = s.as_bytes();
        if bytes.len() <= INLINE_LEN_MAX {
            let mut packed = 0u64;
            for b in bytes {
                packed = (packed << 8) | u64::from(*b);
            }
            packed <<= 8 * (INLINE_LEN_MAX - bytes.len());
            Cell(INLINE | TAGGED | ((bytes.len() as u64) << 48) | packed)
        } else {
            Cell::tag(TAG_HASHED, string_hash(bytes))
        }
    }

    /// The cell of a twin's value; `None` is a missing property.
    pub(crate) fn of(value: Option<&Val>) -> Cell {
        match value {
            None => Cell::MISSING,
            Some(Val::Null) => Cell::tag(TAG_NULL, 0),
            Some(Val::Bool(false)) => Cell::tag(TAG_FALSE, 0),
            Some(Val::Bool(true)) => Cell::tag(TAG_TRUE, 0),
            Some(Val::U64(u)) if *u <= EXACT_INTEGER_MAX => Cell::number(*u as f64),
            Some(Val::I64(i)) if i.unsigned_abs() <= EXACT_INTEGER_MAX => Cell::number(*i as f64),
            Some(Val::F64(x)) => Cell::number(*x),
            Some(Val::Str(s)) => Cell::string(s),
            Some(Val::U64(_) | Val::I64(_) | Val::Json(_) | Val::Component(_)) => Cell::OTHER,
        }
    }

    fn kind(self) -> Kind {
        if self.0 & TAGGED != TAGGED {
            return Kind::Number(f64::from_bits(self.0));
        }
        let field = (self.0 >> 48) & 0x7;
        if self.0 & INLINE != 0 {
            let len = field as usize;
            let mut bytes = [0u8; INLINE_LEN_MAX];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (self.0 >> (8 * (INLINE_LEN_MAX - 1 - i))) as u8;
            }
            return Kind::Short(bytes, len.min(INLINE_LEN_MAX));
        }
        match field {
            TAG_MISSING => Kind::Missing,
            TAG_NULL => Kind::Null,
            TAG_FALSE => Kind::Bool(false),
            TAG_TRUE => Kind::Bool(true),
            TAG_HASHED => Kind::Hashed(self.0 as u32),
            _ => Kind::Other,
        }
    }
}

/// FNV-1a: the hash of a long string in a cell. Only equality of hashes is used,
/// and an equal hash is always checked on the twin, so collisions cost time only.
fn string_hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// What a cell says about a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    True,
    False,
    /// Only the twin's own value can tell.
    Check,
}

/// The literal side of a compiled comparison.
#[derive(Clone, Debug)]
enum Literal {
    Number(f64),
    /// The string, and its cell (spelled out or hashed).
    Text(Box<str>, Cell),
    Bool(bool),
    Null,
}

/// `column op literal`, compiled once per query.
#[derive(Clone, Debug)]
pub(crate) struct Test {
    op: CompareOp,
    literal: Literal,
    /// For `=` and `!=` with a literal that has exactly one cell (a short
    /// string, a boolean, `null`): that cell, so equality is one integer compare.
    only_cell: Option<Cell>,
}

impl Test {
    /// Compiles a comparison with a literal; `None` when the cells cannot decide
    /// it exactly (an integer beyond 2^53, an array or object literal).
    pub(crate) fn new(op: CompareOp, literal: &serde_json::Value) -> Option<Test> {
        use serde_json::Value;
        let literal = match literal {
            Value::Null => Literal::Null,
            Value::Bool(b) => Literal::Bool(*b),
            Value::Number(n) => {
                let exact = match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => u <= EXACT_INTEGER_MAX,
                    (None, Some(i)) => i.unsigned_abs() <= EXACT_INTEGER_MAX,
                    (None, None) => true,
                };
                let x = n.as_f64().filter(|x| x.is_finite())?;
                if !exact {
                    return None;
                }
                Literal::Number(x)
            }
            Value::String(s) => Literal::Text(s.as_str().into(), Cell::string(s)),
            Value::Array(_) | Value::Object(_) => return None,
        };
        let only_cell = match (&literal, op) {
            (_, CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge) => None,
            (Literal::Text(_, cell), _) if cell.0 & INLINE != 0 => Some(*cell),
            (Literal::Bool(b), _) => Some(Cell::of(Some(&Val::Bool(*b)))),
            (Literal::Null, _) => Some(Cell::of(Some(&Val::Null))),
            _ => None,
        };
        Some(Test {
            op,
            literal,
            only_cell,
        })
    }

    /// What `cell op literal` is, as the query language defines it: a missing
    /// value is unknown (never true), values of different types are unequal and
    /// unordered, numbers compare by value.
    pub(crate) fn verdict(&self, cell: Cell) -> Verdict {
        // The hot case first: a number against a number.
        if let Literal::Number(x) = self.literal
            && cell.0 & TAGGED != TAGGED
        {
            return self.decide(f64::from_bits(cell.0).partial_cmp(&x));
        }
        if let Some(only) = self.only_cell {
            // Equal cells are equal values; any other cell is another value
            // (a longer string, another type), except the undecided ones.
            let equal = if cell == only {
                true
            } else if cell == Cell::MISSING {
                return Verdict::False;
            } else if cell == Cell::OTHER {
                return Verdict::Check;
            } else {
                false
            };
            return if equal == (self.op == CompareOp::Eq) {
                Verdict::True
            } else {
                Verdict::False
            };
        }
        let ordering = match (cell.kind(), &self.literal) {
            (Kind::Missing, _) => return Verdict::False,
            (Kind::Other, _) => return Verdict::Check,
            (Kind::Number(a), Literal::Number(b)) => a.partial_cmp(b),
            (Kind::Null, Literal::Null) => Some(Ordering::Equal),
            (Kind::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
            (Kind::Short(bytes, len), Literal::Text(text, _)) => {
                Some(bytes[..len].cmp(text.as_bytes()))
            }
            (Kind::Hashed(_), Literal::Text(_, literal_cell)) => {
                return match self.op {
                    CompareOp::Eq if cell != *literal_cell => Verdict::False,
                    CompareOp::Ne if cell != *literal_cell => Verdict::True,
                    _ => Verdict::Check,
                };
            }
            // Different types: unequal and unordered.
            _ => None,
        };
        self.decide(ordering)
    }

    fn decide(&self, ordering: Option<Ordering>) -> Verdict {
        let holds = match (self.op, ordering) {
            (CompareOp::Eq, o) => o == Some(Ordering::Equal),
            (CompareOp::Ne, o) => o != Some(Ordering::Equal),
            (_, None) => false,
            (CompareOp::Lt, Some(o)) => o.is_lt(),
            (CompareOp::Le, Some(o)) => o.is_le(),
            (CompareOp::Gt, Some(o)) => o.is_gt(),
            (CompareOp::Ge, Some(o)) => o.is_ge(),
        };
        if holds { Verdict::True } else { Verdict::False }
    }
}

/// One property's cells, one per row of its table.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub(crate) name: Sym,
    pub(crate) cells: Vec<Cell>,
}

/// The twins of one model and their top-level values by column.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModelTable {
    /// The twin (slab index) of each row; `VACANT` for a freed row.
    rows: Vec<u32>,
    pub(crate) columns: Vec<Column>,
    /// Rows holding a twin.
    live: usize,
    /// The twin of the last row added.
    last_added: Option<u32>,
    /// Rows added since the last compaction with a twin below `last_added`
    /// (a reused slab slot). While there are none the live rows are in
    /// ascending twin order and scans need no sort.
    out_of_order: usize,
}

impl ModelTable {
    pub(crate) fn new() -> ModelTable {
        ModelTable::default()
    }

    /// Whether scans return twins in ascending order.
    pub(crate) fn is_ordered(&self) -> bool {
        self.ordered()
    }

    fn ordered(&self) -> bool {
        self.out_of_order == 0
    }

    /// How many twins the table holds.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The twins of the table, in ascending twin order.
    pub(crate) fn twins(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self.rows.iter().copied().filter(|t| *t != VACANT).collect();
        if !self.ordered() {
            out.sort_unstable();
        }
        out
    }

    /// Adds a row for `twin` with every cell missing; returns the row.
    pub(crate) fn add(&mut self, twin: u32) -> u32 {
        if self.last_added.is_some_and(|last| last > twin) {
            self.out_of_order += 1;
        }
        self.last_added = Some(twin);
        self.rows.push(twin);
        for column in &mut self.columns {
            column.cells.push(Cell::MISSING);
        }
        self.live += 1;
        u32::try_from(self.rows.len() - 1).expect("fewer than 2^32 rows")
    }

    /// Frees a row.
    pub(crate) fn remove(&mut self, row: u32) {
        let row = row as usize;
        debug_assert!(self.rows[row] != VACANT, "a live row is removed once");
        self.rows[row] = VACANT;
        for column in &mut self.columns {
            column.cells[row] = Cell::MISSING;
        }
        self.live -= 1;
    }

    /// Writes a twin's top-level values into its row.
    pub(crate) fn write(&mut self, row: u32, props: &[Prop]) {
        let row = row as usize;
        for column in &mut self.columns {
            let value = props
                .iter()
                .find(|p| p.name == column.name)
                .map(|p| &p.value);
            column.cells[row] = Cell::of(value);
        }
        for prop in props {
            if !self.columns.iter().any(|c| c.name == prop.name) {
                let mut cells = Vec::with_capacity(self.rows.capacity());
                cells.resize(self.rows.len(), Cell::MISSING);
                cells[row] = Cell::of(Some(&prop.value));
                self.columns.push(Column {
                    name: prop.name,
                    cells,
                });
            }
        }
    }

    /// Whether vacant rows are worth compacting away.
    /// Either costs at most a sort of the table per `rows / 8` changes.
    pub(crate) fn wants_compaction(&self) -> bool {
        let rows = self.rows.len();
        let vacant = rows - self.live;
        rows >= COMPACT_ROWS_MIN && (vacant * 2 > rows || self.out_of_order * 8 > rows)
    }

    /// Drops vacant rows and puts the rest in twin order; calls `moved(twin,
    /// row)` for every twin with its new row.
    pub(crate) fn compact(&mut self, mut moved: impl FnMut(u32, u32)) {
        let mut order: Vec<u32> = (0..self.rows.len() as u32)
            .filter(|r| self.rows[*r as usize] != VACANT)
            .collect();
        order.sort_unstable_by_key(|r| self.rows[*r as usize]);
        let rows: Vec<u32> = order.iter().map(|r| self.rows[*r as usize]).collect();
        for column in &mut self.columns {
            column.cells = order.iter().map(|r| column.cells[*r as usize]).collect();
        }
        for (row, twin) in rows.iter().enumerate() {
            moved(*twin, row as u32);
        }
        self.rows = rows;
        self.last_added = self.rows.last().copied();
        self.out_of_order = 0;
        debug_assert_eq!(self.rows.len(), self.live);
    }

    /// The column of a property, if any twin of the table has held it.
    pub(crate) fn column(&self, name: Sym) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Appends to `out` the twins whose cells pass every test, asking `check`
    /// (twin, test index) for the rows a cell cannot decide. `tests` pairs each
    /// test with its column; a missing column means no twin has the property,
    /// so nothing passes. Stops after `limit` twins (counted in row order).
    /// Returns whether `out` gained rows out of twin order.
    pub(crate) fn scan(
        &self,
        tests: &[(Sym, &Test)],
        limit: usize,
        out: &mut Vec<u32>,
        mut check: impl FnMut(u32, usize) -> bool,
    ) -> bool {
        let mut columns = Vec::with_capacity(tests.len());
        for (name, test) in tests {
            match self.column(*name) {
                Some(column) => columns.push((&column.cells, *test)),
                None => return false,
            }
        }
        let start = out.len();
        let end = start.saturating_add(limit);
        match columns.as_slice() {
            [] => out.extend(
                self.rows
                    .iter()
                    .copied()
                    .filter(|t| *t != VACANT)
                    .take(limit),
            ),
            [(cells, test)] => {
                for (row, cell) in cells.iter().enumerate() {
                    if out.len() == end {
                        break;
                    }
                    let twin = self.rows[row];
                    let pass = match test.verdict(*cell) {
                        Verdict::True => true,
                        Verdict::False => false,
                        Verdict::Check => twin != VACANT && check(twin, 0),
                    };
                    if pass {
                        out.push(twin);
                    }
                }
            }
            _ => {
                'rows: for (row, &twin) in self.rows.iter().enumerate() {
                    if out.len() == end {
                        break;
                    }
                    if twin == VACANT {
                        continue;
                    }
                    for (i, (cells, test)) in columns.iter().enumerate() {
                        let pass = match test.verdict(cells[row]) {
                            Verdict::True => true,
                            Verdict::False => false,
                            Verdict::Check => check(twin, i),
                        };
                        if !pass {
                            continue 'rows;
                        }
                    }
                    out.push(twin);
                }
            }
        }
        // A vacant row's cells are all missing, so no test passes it.
        debug_assert!(out[start..].iter().all(|t| *t != VACANT));
        !self.ordered() && out.len() > start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cell(value: serde_json::Value) -> Cell {
        Cell::of(Some(&Val::from_json(value)))
    }

    fn verdict(value: serde_json::Value, op: CompareOp, literal: serde_json::Value) -> Verdict {
        Test::new(op, &literal)
            .expect("literal compiles")
            .verdict(cell(value))
    }

    #[test]
    fn cells_take_values_apart() {
        assert_eq!(cell(json!(1.5)).kind(), Kind::Number(1.5));
        assert_eq!(cell(json!(-3)).kind(), Kind::Number(-3.0));
        assert_eq!(cell(json!(null)).kind(), Kind::Null);
        assert_eq!(cell(json!(true)).kind(), Kind::Bool(true));
        assert_eq!(cell(json!("")).kind(), Kind::Short([0; 6], 0));
        assert_eq!(cell(json!("ok")).kind(), Kind::Short(*b"ok\0\0\0\0", 2));
        assert_eq!(cell(json!("line-a")).kind(), Kind::Short(*b"line-a", 6));
        assert!(matches!(cell(json!("offline")).kind(), Kind::Hashed(_)));
        assert_eq!(cell(json!(u64::MAX)).kind(), Kind::Other);
        assert_eq!(cell(json!([1])).kind(), Kind::Other);
        assert_eq!(Cell::of(None).kind(), Kind::Missing);
        assert_eq!(cell(json!(-0.0)).kind(), Kind::Number(-0.0));
    }

    #[test]
    fn verdicts_follow_the_query_language() {
        use CompareOp::*;
        use Verdict::*;
        assert_eq!(verdict(json!(1), Eq, json!(1.0)), True);
        assert_eq!(verdict(json!(-0.0), Eq, json!(0)), True);
        assert_eq!(verdict(json!(80.5), Gt, json!(80)), True);
        assert_eq!(verdict(json!(80), Gt, json!(80)), False);
        assert_eq!(verdict(json!(80), Ge, json!(80)), True);
        assert_eq!(verdict(json!("80"), Eq, json!(80)), False);
        assert_eq!(verdict(json!("80"), Ne, json!(80)), True);
        assert_eq!(verdict(json!("80"), Lt, json!(80)), False);
        assert_eq!(verdict(json!(null), Le, json!(null)), True);
        assert_eq!(verdict(json!(false), Lt, json!(true)), True);
        assert_eq!(verdict(json!("ab"), Lt, json!("abc")), True);
        assert_eq!(verdict(json!("abd"), Gt, json!("abc")), True);
        assert_eq!(verdict(json!("a\0"), Gt, json!("a")), True);
        assert_eq!(verdict(json!("ab"), Eq, json!("abcdefgh")), False);
        assert_eq!(verdict(json!("abcdefgh"), Eq, json!("abcdefgh")), Check);
        assert_eq!(verdict(json!("abcdefgi"), Eq, json!("abcdefgh")), False);
        assert_eq!(verdict(json!("abcdefgi"), Ne, json!("abcdefgh")), True);
        assert_eq!(verdict(json!("abcdefgi"), Lt, json!("abcdefgh")), Check);
        assert_eq!(verdict(json!(u64::MAX), Gt, json!(1)), Check);
        assert_eq!(verdict(json!({ "a": 1 }), Ne, json!(1)), Check);
        let missing = Test::new(Ne, &json!(1)).unwrap().verdict(Cell::MISSING);
        assert_eq!(missing, False, "a missing value is unknown, not unequal");
        assert!(Test::new(Eq, &json!(u64::MAX)).is_none());
        assert!(Test::new(Eq, &json!(9_007_199_254_740_993_u64)).is_none());
        assert!(Test::new(Eq, &json!(9_007_199_254_740_992_u64)).is_some());
    }

    #[test]
    fn tables_scan_rows_in_twin_order_and_compact() {
        let name = Sym(0);
        let props = |x: f64| {
            vec![Prop {
                name,
                value: Val::F64(x),
                updated: crate::Timestamp(0),
            }]
        };
        let mut table = ModelTable::new();
        for twin in [5u32, 7, 9] {
            let row = table.add(twin);
            table.write(row, &props(f64::from(twin)));
        }
        table.remove(1);
        let row = table.add(2);
        table.write(row, &props(2.0));
        let test = Test::new(CompareOp::Gt, &json!(1)).unwrap();
        let mut out = Vec::new();
        let unordered = table.scan(&[(name, &test)], usize::MAX, &mut out, |_, _| false);
        assert!(unordered);
        assert_eq!(out, [5, 9, 2]);
        assert_eq!(table.twins(), [2, 5, 9]);
        let mut moves = Vec::new();
        table.compact(|twin, row| moves.push((twin, row)));
        assert_eq!(moves, [(2, 0), (5, 1), (9, 2)]);
        out.clear();
        assert!(!table.scan(&[(name, &test)], usize::MAX, &mut out, |_, _| false));
        assert_eq!(out, [2, 5, 9]);
        assert_eq!(table.len(), 3);
    }
}
