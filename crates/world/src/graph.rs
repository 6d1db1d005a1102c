//! The world seen by the query engine: `query::TwinGraph` over twins and
//! relationships, using the model tables' columns, the model index and the
//! spatial index where they help.

use std::borrow::Cow;

use model::Dtmi;
use query::{CompareOp, Conjunct, Matches};
use serde_json::Value;

use crate::World;
use crate::columns::{ModelTable, Test};
use crate::twin::Sym;
use crate::value::Val;

impl World {
    /// Runs an ADT query; `skip`/`take` page through the rows.
    pub fn query(
        &self,
        text: &str,
        skip: usize,
        take: usize,
        limits: &query::Limits,
    ) -> Result<query::Page, crate::WorldError> {
        let parsed = query::parse(text)?;
        Ok(query::execute(&parsed, self, skip, take, limits)?)
    }

    fn twin_field(&self, index: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        let (first, rest) = path.split_first()?;
        let twin = self.twin(index);
        let base: Cow<'_, Value> = match *first {
            "$dtId" => Cow::Owned(Value::String(twin.id.as_str().to_owned())),
            "$etag" => Cow::Owned(Value::String(crate::Etag(twin.seq).to_string())),
            "$metadata" | "$placement" => {
                let json = self.twin_json_at(index);
                return descend(json.get(*first)?, rest).map(|v| Cow::Owned(v.clone()));
            }
            name => {
                let sym = self.symbols.get(name)?;
                let prop = twin.prop(sym)?;
                match &prop.value {
                    Val::Json(value) => Cow::Borrowed(&**value),
                    Val::Component(inner) => {
                        let Some((second, deeper)) = rest.split_first() else {
                            return Some(Cow::Owned(crate::twin::prop_value(
                                &self.symbols,
                                prop,
                                None,
                            )));
                        };
                        let inner_sym = self.symbols.get(second)?;
                        let p = inner.iter().find(|p| p.name == inner_sym)?;
                        return match &p.value {
                            Val::Json(value) => descend(value, deeper).map(Cow::Borrowed),
                            scalar if deeper.is_empty() => Some(Cow::Owned(scalar.to_json())),
                            _ => None,
                        };
                    }
                    scalar if rest.is_empty() => return Some(Cow::Owned(scalar.to_json())),
                    _ => return None,
                }
            }
        };
        match base {
            Cow::Borrowed(v) => descend(v, rest).map(Cow::Borrowed),
            Cow::Owned(v) => descend(&v, rest).cloned().map(Cow::Owned),
        }
    }
}

/// A comparison the model tables answer: the property, its compiled test, and
/// the original operands for rows the cells cannot decide.
struct ColumnTest<'a> {
    name: Sym,
    test: Test,
    path: &'a [&'a str],
    op: CompareOp,
    value: &'a Value,
}

impl World {
    /// Answers comparisons on top-level properties and model tests from the
    /// model tables (`TwinGraph::twins_where`).
    fn matching(&self, conjuncts: &[Conjunct<'_>], enough: Option<usize>) -> Option<Matches<u32>> {
        let mut applied = vec![false; conjuncts.len()];
        let mut tests = Vec::new();
        let mut models = Vec::new();
        // A property no twin has ever held: no twin can satisfy the comparison.
        let mut unknown_name = false;
        for (i, conjunct) in conjuncts.iter().enumerate() {
            match *conjunct {
                Conjunct::Compare { path, op, value } => {
                    let [name] = path else { continue };
                    if name.starts_with('$') {
                        continue;
                    }
                    let Some(test) = Test::new(op, value) else {
                        continue;
                    };
                    applied[i] = true;
                    match self.symbols.get(name) {
                        Some(sym) => tests.push(ColumnTest {
                            name: sym,
                            test,
                            path,
                            op,
                            value,
                        }),
                        None => unknown_name = true,
                    }
                }
                Conjunct::OfModel { model, exact } => {
                    applied[i] = true;
                    models.push((Dtmi::parse(model).ok(), exact));
                }
            }
        }
        if !applied.contains(&true) {
            return None;
        }
        let mut twins = Vec::new();
        if unknown_name {
            return Some(Matches { twins, applied });
        }
        let pairs: Vec<(Sym, &Test)> = tests.iter().map(|t| (t.name, &t.test)).collect();
        let tables: Vec<&ModelTable> = self
            .tables
            .iter()
            .zip(&self.model_refs)
            .filter(|(table, own)| {
                table.len() > 0
                    && models.iter().all(|(base, exact)| {
                        base.as_ref().is_some_and(|base| {
                            if *exact {
                                *own == base
                            } else {
                                self.models.is_of_model(own, base, false)
                            }
                        })
                    })
            })
            .map(|(table, _)| table)
            .collect();
        // With every conjunct applied the engine needs only the first `enough`
        // twins; one table scanned in twin order can stop there.
        let enough = enough.filter(|_| !applied.contains(&false));
        let limit = match (enough, tables.as_slice()) {
            (Some(enough), [table]) if table.is_ordered() => enough,
            _ => usize::MAX,
        };
        let mut sort = false;
        for table in tables {
            let before = twins.len();
            let unordered = table.scan(&pairs, limit, &mut twins, |twin, i| {
                let t = &tests[i];
                self.twin_field(twin, t.path)
                    .is_some_and(|v| query::compare(t.op, &v, t.value) == Some(true))
            });
            // Rows of a second table interleave with the first's.
            sort |= unordered || (before > 0 && twins.len() > before);
        }
        if sort {
            twins.sort_unstable();
        }
        if let Some(enough) = enough {
            twins.truncate(enough);
        }
        Some(Matches { twins, applied })
    }
}

fn descend<'a>(mut value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    for segment in path {
        value = match value {
            Value::Object(o) => o.get(*segment)?,
            Value::Array(a) => a.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

impl query::TwinGraph for World {
    type Twin = u32;
    type Rel = u32;

    fn twins(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(
            self.twins
                .iter()
                .enumerate()
                .filter(|(_, t)| t.is_some())
                .map(|(i, _)| i as u32),
        )
    }

    fn twins_of_model(&self, model: &str, exact: bool) -> Option<Vec<u32>> {
        let Ok(base) = Dtmi::parse(model) else {
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        let mut tables = 0;
        for (r, id) in self.model_refs.iter().enumerate() {
            let matches = if exact {
                *id == base
            } else {
                self.models.is_of_model(id, &base, false)
            };
            if matches && self.tables[r].len() > 0 {
                out.extend(self.tables[r].twins());
                tables += 1;
            }
        }
        if tables > 1 {
            out.sort_unstable();
        }
        Some(out)
    }

    fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Option<Vec<u32>> {
        let envelope = rstar::AABB::from_corners(min, max);
        let mut out: Vec<u32> = self
            .spatial
            .locate_in_envelope(envelope)
            .map(|p| p.data)
            .collect();
        out.sort_unstable();
        Some(out)
    }

    fn twins_where(
        &self,
        conjuncts: &[Conjunct<'_>],
        enough: Option<usize>,
    ) -> Option<Matches<u32>> {
        self.matching(conjuncts, enough)
    }

    fn twins_with_value(&self, path: &[&str], value: &Value) -> Option<Vec<u32>> {
        let matches = self.matching(
            &[Conjunct::Compare {
                path,
                op: CompareOp::Eq,
                value,
            }],
            None,
        )?;
        Some(matches.twins)
    }

    fn twin_by_id(&self, id: &str) -> Option<u32> {
        self.twin_index(id)
    }

    fn twin_id(&self, twin: u32) -> &str {
        self.twin(twin).id.as_str()
    }

    fn is_of_model(&self, twin: u32, model: &str, exact: bool) -> bool {
        let Ok(base) = Dtmi::parse(model) else {
            return false;
        };
        let own = &self.model_refs[self.twin(twin).model as usize];
        if exact {
            *own == base
        } else {
            self.models.is_of_model(own, &base, false)
        }
    }

    fn twin_value(&self, twin: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        self.twin_field(twin, path)
    }

    fn twin_json(&self, twin: u32) -> Value {
        self.twin_json_at(twin)
    }

    fn outgoing(&self, twin: u32, relationship_name: &str) -> Vec<(u32, u32)> {
        let Some(sym) = self.symbols.get(relationship_name) else {
            return Vec::new();
        };
        self.outgoing
            .get(&twin)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let rel = self.rels[*r as usize].as_ref()?;
                (rel.name == sym).then_some((*r, rel.target))
            })
            .collect()
    }

    fn relationships(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(
            self.rels
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_some())
                .map(|(i, _)| i as u32),
        )
    }

    fn relationship_value(&self, rel: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        let (first, rest) = path.split_first()?;
        let r = self.rels[rel as usize].as_ref()?;
        if first.starts_with('$') {
            let json = self.rel_json_at(rel);
            return descend(json.get(*first)?, rest).cloned().map(Cow::Owned);
        }
        descend(r.props.get(*first)?, rest).map(Cow::Borrowed)
    }

    fn relationship_json(&self, rel: u32) -> Value {
        self.rel_json_at(rel)
    }

    fn world_position(&self, twin: u32) -> Option<[f64; 3]> {
        self.twin(twin).placement.as_ref().map(|p| p.world_position)
    }
}
