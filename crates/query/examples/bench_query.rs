//! Query benchmark: builds an in-memory graph of 1,000,000 twins with 10 properties
//! and a position each, then prints the parse time and the latency of a property
//! filter over all twins, a COUNT, a GROUP BY, a model-indexed filter and a region
//! query. Run with `cargo run --release -p query --example bench_query`
//! (`-- 200000` for a smaller graph).
//!
//! The graph stores each property as a column (one vector per property, indexed by
//! twin), the way a scan-friendly world store would, so the figures measure the
//! query engine rather than a JSON map per twin.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use query::{Cursor, Limits, TwinGraph, execute, execute_from, parse};
use serde_json::{Value, json};

const PROPERTY_NAMES: [&str; 10] = [
    "temperature",
    "humidity",
    "pressure",
    "power",
    "speed",
    "status",
    "enabled",
    "floor",
    "zone",
    "serial",
];
const MODELS: [&str; 4] = [
    "dtmi:bench:Pump;1",
    "dtmi:bench:Valve;1",
    "dtmi:bench:Motor;1",
    "dtmi:bench:Sensor;1",
];
const STATUSES: [&str; 4] = ["ok", "warning", "alarm", "offline"];
/// Side of one spatial grid cell, metres; twins spread over 1000 x 1000 m.
const CELL_M: f64 = 10.0;
const FIELD_M: f64 = 1000.0;
const CELLS_PER_SIDE: usize = (FIELD_M / CELL_M) as usize;

struct BenchGraph {
    ids: Vec<Value>,
    id_index: HashMap<String, u32>,
    model: Vec<u8>,
    model_values: Vec<Value>,
    metadata: Vec<Value>,
    /// One column per property in `PROPERTY_NAMES`, indexed by twin.
    columns: Vec<Vec<Value>>,
    positions: Vec<[f64; 3]>,
    by_model: Vec<Vec<u32>>,
    grid: Vec<Vec<u32>>,
}

/// Deterministic xorshift, so every run measures the same graph.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl BenchGraph {
    fn build(count: usize) -> Self {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut g = BenchGraph {
            ids: Vec::with_capacity(count),
            id_index: HashMap::with_capacity(count),
            model: Vec::with_capacity(count),
            model_values: MODELS.iter().map(|m| Value::from(*m)).collect(),
            metadata: MODELS.iter().map(|m| json!({ "$model": m })).collect(),
            columns: (0..PROPERTY_NAMES.len())
                .map(|_| Vec::with_capacity(count))
                .collect(),
            positions: Vec::with_capacity(count),
            by_model: vec![Vec::new(); MODELS.len()],
            grid: vec![Vec::new(); CELLS_PER_SIDE * CELLS_PER_SIDE],
        };
        let zones: Vec<Value> = (0..20)
            .map(|z| Value::from(format!("zone-{z:02}")))
            .collect();
        let statuses: Vec<Value> = STATUSES.iter().map(|s| Value::from(*s)).collect();
        for i in 0..count {
            let id = format!("twin-{i:07}");
            let model = (i % MODELS.len()) as u8;
            g.id_index.insert(id.clone(), i as u32);
            g.ids.push(Value::from(id));
            g.model.push(model);
            g.by_model[model as usize].push(i as u32);
            // 90% ok, 7% warning, 2% alarm, 1% offline.
            let status = statuses[match rng.next() % 100 {
                0..90 => 0,
                90..97 => 1,
                97..99 => 2,
                _ => 3,
            }]
            .clone();
            let row = [
                json!((rng.unit() * 100.0 * 100.0).round() / 100.0),
                json!(rng.unit() * 100.0),
                json!(950.0 + rng.unit() * 100.0),
                json!(rng.unit() * 1000.0),
                json!(rng.unit() * 50.0),
                status,
                Value::Bool(rng.next().is_multiple_of(2)),
                json!(rng.next() % 10),
                zones[(rng.next() % 20) as usize].clone(),
                json!(i),
            ];
            for (column, value) in g.columns.iter_mut().zip(row) {
                column.push(value);
            }
            let p = [
                rng.unit() * FIELD_M,
                rng.unit() * FIELD_M,
                rng.unit() * 30.0,
            ];
            g.positions.push(p);
            g.grid[cell_of(p[0]) * CELLS_PER_SIDE + cell_of(p[1])].push(i as u32);
        }
        g
    }
}

fn cell_of(x: f64) -> usize {
    ((x / CELL_M) as usize).min(CELLS_PER_SIDE - 1)
}

impl TwinGraph for BenchGraph {
    type Twin = u32;
    type Rel = u32;

    fn twins(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(0..self.ids.len() as u32)
    }
    fn twins_of_model(&self, model: &str, exact: bool) -> Option<Vec<u32>> {
        let _ = exact; // no inheritance in this graph
        Some(
            MODELS
                .iter()
                .position(|m| *m == model)
                .map_or_else(Vec::new, |i| self.by_model[i].clone()),
        )
    }
    fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for cx in cell_of(min[0].max(0.0))..=cell_of(max[0].max(0.0)) {
            for cy in cell_of(min[1].max(0.0))..=cell_of(max[1].max(0.0)) {
                out.extend(
                    self.grid[cx * CELLS_PER_SIDE + cy]
                        .iter()
                        .copied()
                        .filter(|t| {
                            let p = self.positions[*t as usize];
                            (0..3).all(|a| min[a] <= p[a] && p[a] <= max[a])
                        }),
                );
            }
        }
        Some(out)
    }
    fn twin_by_id(&self, id: &str) -> Option<u32> {
        self.id_index.get(id).copied()
    }
    fn twin_id(&self, twin: u32) -> &str {
        self.ids[twin as usize].as_str().unwrap_or("")
    }
    fn is_of_model(&self, twin: u32, model: &str, _exact: bool) -> bool {
        MODELS[self.model[twin as usize] as usize] == model
    }
    fn twin_value(&self, twin: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        let t = twin as usize;
        let value = match *path.first()? {
            "$dtId" => &self.ids[t],
            "$metadata" => {
                let metadata = &self.metadata[self.model[t] as usize];
                return match path.get(1) {
                    None => Some(Cow::Borrowed(metadata)),
                    Some(&"$model") if path.len() == 2 => {
                        Some(Cow::Borrowed(&self.model_values[self.model[t] as usize]))
                    }
                    Some(_) => None,
                };
            }
            name => &self.columns[PROPERTY_NAMES.iter().position(|p| *p == name)?][t],
        };
        (path.len() == 1).then_some(Cow::Borrowed(value))
    }
    fn twin_json(&self, twin: u32) -> Value {
        let t = twin as usize;
        let mut doc = serde_json::Map::new();
        doc.insert("$dtId".into(), self.ids[t].clone());
        doc.insert(
            "$metadata".into(),
            self.metadata[self.model[t] as usize].clone(),
        );
        for (name, column) in PROPERTY_NAMES.iter().zip(&self.columns) {
            doc.insert((*name).into(), column[t].clone());
        }
        Value::Object(doc)
    }
    fn outgoing(&self, _twin: u32, _name: &str) -> Vec<(u32, u32)> {
        Vec::new()
    }
    fn relationships(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(std::iter::empty())
    }
    fn relationship_value(&self, _rel: u32, _path: &[&str]) -> Option<Cow<'_, Value>> {
        None
    }
    fn relationship_json(&self, _rel: u32) -> Value {
        Value::Null
    }
    fn world_position(&self, twin: u32) -> Option<[f64; 3]> {
        self.positions.get(twin as usize).copied()
    }
}

/// CPU time this thread has run, from the kernel's scheduler statistics. On a
/// shared, loaded machine wall time includes waiting for a core; CPU time does not.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Median wall time and median CPU time of `runs` calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> (Duration, Option<Duration>) {
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let cpu_start = thread_cpu();
        let start = Instant::now();
        f();
        wall.push(start.elapsed());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu()) {
            cpu.push(b.saturating_sub(a));
        }
    }
    wall.sort();
    cpu.sort();
    (wall[wall.len() / 2], cpu.get(cpu.len() / 2).copied())
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn both(times: (Duration, Option<Duration>)) -> String {
    match times.1 {
        // The kernel's per-thread CPU clock advances in scheduler ticks; below one
        // tick it reads zero, so only wall time means something there.
        Some(cpu) if !cpu.is_zero() => format!("{} wall, {} cpu", ms(times.0), ms(cpu)),
        _ => format!("{} wall", ms(times.0)),
    }
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "query benchmark; the machine's load average is {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let start = Instant::now();
    let graph = BenchGraph::build(count);
    println!(
        "built {count} twins with 10 properties in {}",
        ms(start.elapsed())
    );
    let limits = Limits::default();

    let parse_text = "SELECT TOP(100) T.$dtId, T.temperature AS t FROM DIGITALTWINS T JOIN C RELATED T.feeds \
                      WHERE IS_OF_MODEL(T, 'dtmi:bench:Pump;1') AND (T.temperature > 50 OR T.status IN ['alarm', 'warning']) \
                      AND NOT STARTSWITH(T.zone, 'zone-1')";
    let parses = 20_000;
    let (parse_time, _) = median(5, || {
        for _ in 0..parses {
            std::hint::black_box(parse(std::hint::black_box(parse_text)).ok());
        }
    });
    println!(
        "parse ({} bytes, 1 JOIN, 5 conditions): {:.2} µs per query",
        parse_text.len(),
        parse_time.as_secs_f64() * 1e6 / parses as f64
    );

    let cases: &[(&str, &str, usize)] = &[
        (
            "property filter, full scan, few matches",
            "SELECT * FROM DIGITALTWINS T WHERE T.temperature > 99.9 AND T.status = 'alarm'",
            100,
        ),
        (
            "property filter, full scan, projection, 1% matches (page of 100)",
            "SELECT T.$dtId, T.power FROM DIGITALTWINS T WHERE T.power > 990 AND T.enabled = true AND T.floor >= 0",
            100,
        ),
        (
            "COUNT with property filter",
            "SELECT COUNT() FROM DIGITALTWINS T WHERE T.temperature > 50",
            100,
        ),
        ("COUNT of all", "SELECT COUNT() FROM DIGITALTWINS", 100),
        (
            "GROUP BY zone: COUNT, AVG, MAX",
            "SELECT T.zone, COUNT(), AVG(T.temperature) AS avgT, MAX(T.power) AS maxP FROM DIGITALTWINS T GROUP BY T.zone",
            100,
        ),
        (
            "IS_OF_MODEL (index) + property filter",
            "SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:bench:Pump;1') AND T.power > 999",
            100,
        ),
        (
            "$dtId lookup",
            "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'twin-0000042'",
            100,
        ),
        (
            "region query (spatial index), ids",
            "SELECT T.$dtId FROM DIGITALTWINS T WHERE WITHIN_BOX(T, 100, 100, 0, 131.6, 131.6, 30)",
            2000,
        ),
        (
            "region query (spatial index), whole twins",
            "SELECT * FROM DIGITALTWINS T WHERE WITHIN_BOX(T, 100, 100, 0, 131.6, 131.6, 30)",
            2000,
        ),
    ];
    // `BENCH_ONLY=GROUP` runs only the cases whose name contains that text;
    // `BENCH_QUERY='SELECT ...'` runs just that query.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let custom = std::env::var("BENCH_QUERY").ok();
    let custom_case = custom.as_deref().map(|text| [("custom query", text, 100)]);
    let cases = match &custom_case {
        Some(case) => &case[..],
        None => cases,
    };
    for (name, text, take) in cases
        .iter()
        .filter(|(name, ..)| name.contains(only.as_str()))
    {
        let query = match parse(text) {
            Ok(q) => q,
            Err(e) => {
                println!("{name}: {e}");
                continue;
            }
        };
        let mut rows = 0;
        let time = median(7, || match execute(&query, &graph, 0, *take, &limits) {
            Ok(page) => rows = page.rows.len(),
            Err(e) => println!("{name}: {e}"),
        });
        println!("{name}: {} ({rows} rows)", both(time));
    }

    if custom.is_some() || !(only.is_empty() || "paging".contains(only.as_str())) {
        return;
    }
    // Paging through every twin, 1,000 rows a page, as an SDK listing all twins.
    let list = match parse("SELECT T.$dtId FROM DIGITALTWINS T") {
        Ok(q) => q,
        Err(e) => return println!("paging: {e}"),
    };
    let start = Instant::now();
    let (mut pages, mut rows, mut cursor) = (0usize, 0usize, Some(Cursor::default()));
    while let Some(at) = cursor {
        match execute_from(&list, &graph, at, 1000, &limits) {
            Ok(page) => {
                pages += 1;
                rows += page.rows.len();
                cursor = page.next;
            }
            Err(e) => return println!("paging: {e}"),
        }
    }
    println!(
        "paging with a cursor: {rows} rows in {pages} pages of 1000 in {}",
        ms(start.elapsed())
    );
    let deep = count.saturating_sub(1000);
    let time = median(5, || {
        if let Err(e) = execute(&list, &graph, deep, 1000, &limits) {
            println!("paging: {e}");
        }
    });
    println!(
        "one page with skip = {deep} (what each late page costs without a cursor): {}",
        both(time)
    );
}
