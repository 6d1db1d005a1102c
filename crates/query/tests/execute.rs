//! Execution over the in-memory building graph: every construct, row shapes,
//! paging, joins, aggregates, index use, and limits. Each query runs twice, with
//! the graph's indexes on and off, and both runs must agree.

mod common;

use common::{MemGraph, building};
use expect_test::{Expect, expect};
use query::{Limits, Page, TwinGraph, execute, parse};
use serde_json::Value;

fn page(graph: &MemGraph, text: &str, skip: usize, take: usize) -> Page {
    let query = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    execute(&query, graph, skip, take, &Limits::default()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn render(page: &Page) -> String {
    let mut out: Vec<String> = page.rows.iter().map(|r| r.to_string()).collect();
    if page.more {
        out.push("(more)".to_owned());
    }
    out.join("\n")
}

/// Runs with indexes and without; both must give the same page.
fn check_page(text: &str, skip: usize, take: usize, expected: Expect) {
    let indexed = page(&building(true), text, skip, take);
    let scanned = page(&building(false), text, skip, take);
    let mut a = indexed.rows.clone();
    let mut b = scanned.rows.clone();
    // Index order may differ from scan order; compare as sets, show the scan order.
    a.sort_by_key(|v| v.to_string());
    b.sort_by_key(|v| v.to_string());
    if indexed.more == scanned.more && !indexed.more {
        assert_eq!(a, b, "index and scan disagree for {text}");
    }
    expected.assert_eq(&render(&scanned));
}

fn check(text: &str, expected: Expect) {
    check_page(text, 0, 100, expected);
}

/// Only the `$dtId`s of the rows (for queries returning whole twins).
fn ids(text: &str, expected: Expect) {
    let p = page(&building(false), text, 0, 100);
    let ids: Vec<&str> = p
        .rows
        .iter()
        .map(|r| r["$dtId"].as_str().unwrap_or("?"))
        .collect();
    expected.assert_eq(&ids.join(" "));
    let indexed = page(&building(true), text, 0, 100);
    let mut with_index: Vec<&str> = indexed
        .rows
        .iter()
        .map(|r| r["$dtId"].as_str().unwrap_or("?"))
        .collect();
    let mut without: Vec<&str> = ids.clone();
    with_index.sort_unstable();
    without.sort_unstable();
    assert_eq!(with_index, without, "index and scan disagree for {text}");
}

#[test]
fn row_shapes() {
    check(
        "SELECT * FROM DIGITALTWINS WHERE $dtId = 'b1'",
        expect![[
            r#"{"$dtId":"b1","$etag":"W/\"1\"","$metadata":{"$model":"dtmi:ex:Building;1"},"name":"HQ"}"#
        ]],
    );
    check(
        "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'b1'",
        expect![[
            r#"{"T":{"$dtId":"b1","$etag":"W/\"1\"","$metadata":{"$model":"dtmi:ex:Building;1"},"name":"HQ"}}"#
        ]],
    );
    check(
        "SELECT T.name AS n, T.$dtId, T.hvac.mode, T['display name'], T.missing FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1')",
        expect![[r#"
            {"n":"Lobby","$dtId":"r1","mode":"auto"}
            {"n":"Kitchen","$dtId":"r2","mode":"cool"}
            {"n":"Board room","$dtId":"r3","display name":"The Board"}
            {"n":"Storage","$dtId":"r4"}"#]],
    );
    check(
        "SELECT T.hvac FROM DIGITALTWINS T WHERE T.$dtId = 'r1'",
        expect![[r#"{"hvac":{"mode":"auto","setpoint":21}}"#]],
    );
    check(
        "SELECT COUNT() FROM DIGITALTWINS",
        expect![[r#"{"COUNT":9}"#]],
    );
    check(
        "SELECT * FROM RELATIONSHIPS R WHERE R.$relationshipName = 'hasSensor' AND R.installedBy = 'Ada'",
        expect![[
            r#"{"$relationshipId":"r1-hasSensor-s1","$etag":"W/\"1\"","$sourceId":"r1","$relationshipName":"hasSensor","$targetId":"s1","installedBy":"Ada"}"#
        ]],
    );
    check(
        "SELECT R.$targetId, R.since FROM RELATIONSHIPS R WHERE R.since >= 2020",
        expect![[r#"
            {"$targetId":"r2","since":2021}
            {"$targetId":"r3","since":2020}"#]],
    );
}

#[test]
fn comparisons() {
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.temperature > 21.5",
        expect!["r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.temperature >= 21.5",
        expect!["r1 r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.temperature < 21.5",
        expect!["r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.temperature <= 21.5",
        expect!["r1 r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.area = 120.0",
        expect!["r1"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.area != 120",
        expect!["r2 r3 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.area <> 120",
        expect!["r2 r3 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.name > 'K' AND T.name < 'M'",
        expect!["r1 r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.occupied = true",
        expect!["r1 r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.occupied = null",
        expect!["r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE 'HQ' = T.name",
        expect!["b1"],
    );
    // Different types are unequal, and cannot be ordered.
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.name = 120",
        expect![""],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.name < 120",
        expect![""],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.level = T.level",
        expect!["f1 f2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.hvac.setpoint < T.temperature",
        expect!["r1 r2"],
    );
}

#[test]
fn three_valued_logic() {
    // Twins without `temperature` are neither hot nor not hot.
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE NOT T.temperature > 20",
        expect!["r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.temperature != 19",
        expect!["r1 r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.temperature > 20 OR T.area < 20",
        expect!["r1 r2 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE NOT (T.temperature > 20 OR T.area > 100)",
        expect!["r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE NOT IS_DEFINED(T.temperature) AND IS_OF_MODEL(T, 'dtmi:ex:Space;1')",
        expect!["b1 f1 f2 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE (T.area > 100 OR T.level = 1) AND NOT T.name = 'HQ'",
        expect!["f2 r1"],
    );
}

#[test]
fn in_and_nin() {
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN ['r1', 'r3', 'nope', 'r1']",
        expect!["r1 r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.area IN [30, 10.0]",
        expect!["r2 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.area NIN [30, 10]",
        expect!["r1 r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.kind IN []",
        expect![""],
    );
}

#[test]
fn functions() {
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1')",
        expect!["r1 r2 r3 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1', exact)",
        expect!["r1 r2 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:ex:Space;1')",
        expect!["b1 f1 f2 r1 r2 r3 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:ex:Space;1') AND NOT IS_OF_MODEL(T, 'dtmi:ex:Room;1')",
        expect!["b1 f1 f2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_DEFINED(T.hvac.mode)",
        expect!["r1 r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_NULL(T.occupied)",
        expect!["r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_BOOL(T.occupied)",
        expect!["r1 r2 r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_NUMBER(T.value)",
        expect!["s1 s2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_STRING(T.kind)",
        expect!["s1 s2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_OBJECT(T.hvac)",
        expect!["r1 r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_PRIMITIVE(T.occupied)",
        expect!["r1 r2 r3 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE IS_PRIMITIVE(T.tags)",
        expect![""],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'r')",
        expect!["r1 r2 r3 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE ENDSWITH(T.name, 'room')",
        expect!["r3"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE CONTAINS(T.name, 'o')",
        expect!["f1 r1 r3 r4"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE NOT CONTAINS(T.name, 'o')",
        expect!["b1 f2 r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE ARRAY_CONTAINS(T.tags, 'staff')",
        expect!["r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE T.$metadata.$model = 'dtmi:ex:Sensor;1'",
        expect!["s1 s2"],
    );
}

#[test]
fn spatial_predicates() {
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE WITHIN_BOX(T, 0, 0, 0, 2, 2, 3)",
        expect!["f1 r1 s1"],
    );
    // Corners in any order; bounds included.
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE WITHIN_BOX(T, 10, 1, 0, 1, 0, 0)",
        expect!["r1 r2"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE WITHIN_SPHERE(T, 1, 1, 0, 2.5)",
        expect!["f1 r1 s1"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE WITHIN_SPHERE(T, 1, 1, 0, 2.4)",
        expect!["f1 r1"],
    );
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE WITHIN_SPHERE(1, 1, 0, 100) AND IS_OF_MODEL(T, 'dtmi:ex:Room;1')",
        expect!["r1 r2 r3"],
    );
    // Unplaced twins are never within anything, so they are all "not within".
    ids(
        "SELECT * FROM DIGITALTWINS T WHERE NOT WITHIN_SPHERE(T, 0, 0, 0, 1000)",
        expect!["b1 r4"],
    );
}

#[test]
fn joins() {
    check(
        "SELECT F.$dtId AS floor, R.$dtId AS room FROM DIGITALTWINS B JOIN F RELATED B.contains JOIN R RELATED F.contains WHERE B.$dtId = 'b1'",
        expect![[r#"
            {"floor":"f1","room":"r1"}
            {"floor":"f1","room":"r2"}
            {"floor":"f2","room":"r3"}
            {"floor":"f2","room":"r4"}"#]],
    );
    check(
        "SELECT R.name, Rel.since, S.kind FROM DIGITALTWINS F JOIN R RELATED F.contains Rel JOIN S RELATED R.hasSensor WHERE F.level = 0 AND Rel.since > 2020",
        expect![[r#"{"name":"Kitchen","since":2021,"kind":"co2"}"#]],
    );
    check(
        "SELECT F, R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'f2' AND R.seats > 10",
        expect![[
            r#"{"F":{"$dtId":"f2","$etag":"W/\"1\"","$metadata":{"$model":"dtmi:ex:Floor;1"},"name":"First","level":1},"R":{"$dtId":"r3","$etag":"W/\"1\"","$metadata":{"$model":"dtmi:ex:MeetingRoom;1"},"name":"Board room","temperature":19.0,"area":45,"occupied":true,"seats":12,"display name":"The Board"}}"#
        ]],
    );
    check(
        "SELECT Rel FROM DIGITALTWINS R JOIN S RELATED R.hasSensor Rel WHERE IS_OF_MODEL(S, 'dtmi:ex:Sensor;1') AND S.value > 500",
        expect![[
            r#"{"Rel":{"$relationshipId":"r2-hasSensor-s2","$etag":"W/\"1\"","$sourceId":"r2","$relationshipName":"hasSensor","$targetId":"s2","installedBy":"Linus"}}"#
        ]],
    );
    // A condition spanning both sides of the join.
    check(
        "SELECT R.$dtId, S.$dtId AS sensor FROM DIGITALTWINS R JOIN S RELATED R.hasSensor WHERE S.value < R.temperature OR S.kind = 'co2'",
        expect![[r#"
            {"$dtId":"r1","sensor":"s1"}
            {"$dtId":"r2","sensor":"s2"}"#]],
    );
    check(
        "SELECT COUNT() FROM DIGITALTWINS B JOIN F RELATED B.contains JOIN R RELATED F.contains",
        expect![[r#"{"COUNT":4}"#]],
    );
    check(
        "SELECT F FROM DIGITALTWINS F JOIN R RELATED F.nothing",
        expect![""],
    );
}

#[test]
fn paging_and_top() {
    let q = "SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Space;1')";
    check_page(
        q,
        0,
        3,
        expect![[r#"
        {"$dtId":"b1"}
        {"$dtId":"f1"}
        {"$dtId":"f2"}
        (more)"#]],
    );
    check_page(
        q,
        3,
        3,
        expect![[r#"
        {"$dtId":"r1"}
        {"$dtId":"r2"}
        {"$dtId":"r3"}
        (more)"#]],
    );
    check_page(q, 6, 3, expect![[r#"{"$dtId":"r4"}"#]]);
    check_page(q, 7, 3, expect![""]);
    check_page(q, 0, 0, expect!["(more)"]);
    // Pages taken one row at a time give the whole result, in order.
    let g = building(false);
    let mut all = Vec::new();
    let mut skip = 0;
    for _ in 0..20 {
        let p = page(&g, q, skip, 1);
        all.extend(
            p.rows
                .iter()
                .map(|r| r["$dtId"].as_str().unwrap_or("").to_owned()),
        );
        skip += p.rows.len();
        if !p.more {
            break;
        }
    }
    assert_eq!(all.join(" "), "b1 f1 f2 r1 r2 r3 r4");

    let top = "SELECT TOP(4) T.$dtId FROM DIGITALTWINS T";
    check_page(
        top,
        0,
        3,
        expect![[r#"
        {"$dtId":"b1"}
        {"$dtId":"f1"}
        {"$dtId":"f2"}
        (more)"#]],
    );
    check_page(top, 3, 3, expect![[r#"{"$dtId":"r1"}"#]]);
    check_page(
        top,
        0,
        4,
        expect![[r#"
        {"$dtId":"b1"}
        {"$dtId":"f1"}
        {"$dtId":"f2"}
        {"$dtId":"r1"}"#]],
    );
    check_page("SELECT COUNT() FROM DIGITALTWINS", 1, 10, expect![""]);
}

#[test]
fn aggregates_and_group_by() {
    check(
        "SELECT COUNT(), COUNT(T.temperature) AS measured, MIN(T.temperature) AS lo, MAX(T.temperature) AS hi, AVG(T.temperature) AS mean, SUM(T.area) AS area FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1')",
        expect![[
            r#"{"COUNT":4,"measured":3,"lo":19.0,"hi":23.0,"mean":21.166666666666668,"area":205}"#
        ]],
    );
    check(
        "SELECT T.$metadata.$model AS model, COUNT() AS n, SUM(T.area) FROM DIGITALTWINS T GROUP BY T.$metadata.$model",
        expect![[r#"
            {"model":"dtmi:ex:Building;1","n":1,"SUM":null}
            {"model":"dtmi:ex:Floor;1","n":2,"SUM":null}
            {"model":"dtmi:ex:MeetingRoom;1","n":1,"SUM":45}
            {"model":"dtmi:ex:Room;1","n":3,"SUM":160}
            {"model":"dtmi:ex:Sensor;1","n":2,"SUM":null}"#]],
    );
    // Missing values group as null, which sorts first; two keys.
    check(
        "SELECT T.occupied, T.hvac.mode AS mode, COUNT() FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'r') GROUP BY T.occupied, T.hvac.mode",
        expect![[r#"
            {"occupied":null,"mode":null,"COUNT":1}
            {"occupied":false,"mode":"cool","COUNT":1}
            {"occupied":true,"mode":null,"COUNT":1}
            {"occupied":true,"mode":"auto","COUNT":1}"#]],
    );
    // Grouping works over relationships too.
    check(
        "SELECT R.$relationshipName AS name, COUNT() FROM RELATIONSHIPS R GROUP BY R.$relationshipName",
        expect![[r#"
            {"name":"contains","COUNT":6}
            {"name":"hasSensor","COUNT":2}"#]],
    );
    check(
        "SELECT AVG(T.nothing) FROM DIGITALTWINS T",
        expect![[r#"{"AVG":null}"#]],
    );
    check(
        "SELECT COUNT() FROM DIGITALTWINS T WHERE T.name = 'none'",
        expect![[r#"{"COUNT":0}"#]],
    );
    check_page(
        "SELECT T.$metadata.$model AS m FROM DIGITALTWINS T GROUP BY T.$metadata.$model",
        1,
        2,
        expect![[r#"
            {"m":"dtmi:ex:Floor;1"}
            {"m":"dtmi:ex:MeetingRoom;1"}
            (more)"#]],
    );
    check_page(
        "SELECT TOP(2) T.$metadata.$model AS m FROM DIGITALTWINS T GROUP BY T.$metadata.$model",
        1,
        5,
        expect![[r#"{"m":"dtmi:ex:Floor;1"}"#]],
    );
}

/// A graph with every index but `twins_where`, as graphs written before it.
struct WithoutWhere(MemGraph);

impl TwinGraph for WithoutWhere {
    type Twin = usize;
    type Rel = usize;
    fn twins(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        self.0.twins()
    }
    fn twins_of_model(&self, model: &str, exact: bool) -> Option<Vec<usize>> {
        self.0.twins_of_model(model, exact)
    }
    fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Option<Vec<usize>> {
        self.0.twins_in_box(min, max)
    }
    fn twins_with_value(&self, path: &[&str], value: &Value) -> Option<Vec<usize>> {
        self.0.twins_with_value(path, value)
    }
    fn twin_by_id(&self, id: &str) -> Option<usize> {
        self.0.twin_by_id(id)
    }
    fn twin_id(&self, twin: usize) -> &str {
        self.0.twin_id(twin)
    }
    fn is_of_model(&self, twin: usize, model: &str, exact: bool) -> bool {
        self.0.is_of_model(twin, model, exact)
    }
    fn twin_value(&self, twin: usize, path: &[&str]) -> Option<std::borrow::Cow<'_, Value>> {
        self.0.twin_value(twin, path)
    }
    fn twin_json(&self, twin: usize) -> Value {
        self.0.twin_json(twin)
    }
    fn outgoing(&self, twin: usize, name: &str) -> Vec<(usize, usize)> {
        self.0.outgoing(twin, name)
    }
    fn relationships(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        self.0.relationships()
    }
    fn relationship_value(&self, rel: usize, path: &[&str]) -> Option<std::borrow::Cow<'_, Value>> {
        self.0.relationship_value(rel, path)
    }
    fn relationship_json(&self, rel: usize) -> Value {
        self.0.relationship_json(rel)
    }
    fn world_position(&self, twin: usize) -> Option<[f64; 3]> {
        self.0.world_position(twin)
    }
}

#[test]
fn planner_uses_the_indexes_it_is_offered() {
    let g = building(true);
    let run = |text: &str| execute(&parse(text).unwrap(), &g, 0, 100, &Limits::default()).unwrap();
    run("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'r1' AND IS_OF_MODEL(T, 'dtmi:ex:Room;1')");
    assert_eq!(
        (g.scans.get(), g.model_lookups.get()),
        (0, 0),
        "$dtId should win"
    );
    // Comparisons and model tests go to the graph in one call.
    run("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1') AND T.area > 20");
    assert_eq!(
        (g.scans.get(), g.where_lookups.get(), g.model_lookups.get()),
        (0, 1, 0)
    );
    // A region beats them: it is cheaper than any column scan.
    run(
        "SELECT * FROM DIGITALTWINS T WHERE WITHIN_BOX(T, 0, 0, 0, 1, 1, 1) AND IS_OF_MODEL(T, 'dtmi:ex:Room;1')",
    );
    assert_eq!(
        (g.scans.get(), g.box_lookups.get(), g.where_lookups.get()),
        (0, 1, 1)
    );
    run(
        "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1') AND T.hvac.mode = 'cool'",
    );
    assert_eq!(
        (g.scans.get(), g.where_lookups.get(), g.value_lookups.get()),
        (0, 2, 0)
    );
    // Under an OR the index cannot be used.
    run("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1') OR T.area > 20");
    assert_eq!((g.scans.get(), g.where_lookups.get()), (1, 2));
    // A graph without `twins_where` still gets the value index, then the model index.
    let older = WithoutWhere(building(true));
    let run_older =
        |text: &str| execute(&parse(text).unwrap(), &older, 0, 100, &Limits::default()).unwrap();
    run_older(
        "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1') AND T.hvac.mode = 'cool'",
    );
    assert_eq!(
        (older.0.value_lookups.get(), older.0.model_lookups.get()),
        (1, 0)
    );
    run_older(
        "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1') AND T.area > 20",
    );
    assert_eq!((older.0.scans.get(), older.0.model_lookups.get()), (0, 1));
    let unindexed = building(false);
    execute(
        &parse("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Room;1')").unwrap(),
        &unindexed,
        0,
        10,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(unindexed.scans.get(), 1, "no index: fall back to a scan");
}

#[test]
fn limits_are_enforced_with_a_pointer_to_the_clause() {
    let g = building(false);
    let limits = Limits {
        max_rows_scanned: 5,
        ..Limits::default()
    };
    let err = execute(
        &parse("SELECT COUNT() FROM DIGITALTWINS").unwrap(),
        &g,
        0,
        10,
        &limits,
    )
    .unwrap_err();
    expect!["at offset 15 ('FROM'): the query examines more than 5 rows (max_rows_scanned); narrow it with $dtId, IS_OF_MODEL or a region"]
        .assert_eq(&err.to_string());
    let limits = Limits {
        max_join_fanout: 1,
        ..Limits::default()
    };
    let text = "SELECT F FROM DIGITALTWINS B JOIN F RELATED B.contains";
    let err = execute(&parse(text).unwrap(), &g, 0, 10, &limits).unwrap_err();
    expect!["at offset 29 ('JOIN'): twin 'b1' has 2 'contains' relationships, more than one JOIN may follow (1, max_join_fanout); filter the source twins first"]
        .assert_eq(&err.to_string());
    let limits = Limits {
        max_groups: 2,
        ..Limits::default()
    };
    let text = "SELECT T.$dtId FROM DIGITALTWINS T GROUP BY T.$dtId";
    let err = execute(&parse(text).unwrap(), &g, 0, 10, &limits).unwrap_err();
    expect!["at offset 35 ('GROUP'): GROUP BY makes more than 2 groups (max_groups); group by fewer distinct values"]
        .assert_eq(&err.to_string());
    assert_eq!(err.kind, query::QueryErrorKind::LimitExceeded);
    // A page stops the scan early: a first page never trips the scan limit.
    let limits = Limits {
        max_rows_scanned: 3,
        ..Limits::default()
    };
    let p = execute(
        &parse("SELECT * FROM DIGITALTWINS").unwrap(),
        &g,
        0,
        2,
        &limits,
    )
    .unwrap();
    assert_eq!((p.rows.len(), p.more), (2, true));
    assert!(g.twin_by_id("r1").is_some());
}

/// Paging with a cursor gives exactly the rows of one big page, in order, for
/// every page size, whether the rows come from a scan, an index, joins, TOP or
/// groups.
#[test]
fn cursor_pages_concatenate_to_the_whole_result() {
    let queries = [
        "SELECT T.$dtId FROM DIGITALTWINS T",
        "SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:ex:Space;1') AND NOT T.name = 'HQ'",
        "SELECT B.$dtId AS b, F.$dtId AS f, R.$dtId AS r FROM DIGITALTWINS B JOIN F RELATED B.contains JOIN R RELATED F.contains",
        "SELECT F.$dtId AS f, R.$dtId AS r FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE R.area > 5",
        "SELECT TOP(5) T.$dtId FROM DIGITALTWINS T",
        "SELECT TOP(3) F.$dtId AS f, R.$dtId AS r FROM DIGITALTWINS F JOIN R RELATED F.contains",
        "SELECT * FROM RELATIONSHIPS R",
        "SELECT T.$metadata.$model AS m, COUNT() FROM DIGITALTWINS T GROUP BY T.$metadata.$model",
        "SELECT COUNT() FROM DIGITALTWINS",
    ];
    for indexes in [false, true] {
        let g = building(indexes);
        for text in queries {
            let query = parse(text).unwrap();
            let whole = execute(&query, &g, 0, 1000, &Limits::default()).unwrap();
            assert!(!whole.more);
            for take in 1..=4 {
                let mut rows = Vec::new();
                let mut cursor = query::Cursor::default();
                // Bound: never more pages than rows plus one.
                for _ in 0..=whole.rows.len() + 1 {
                    let page =
                        query::execute_from(&query, &g, cursor, take, &Limits::default()).unwrap();
                    assert!(page.rows.len() <= take);
                    rows.extend(page.rows);
                    match page.next {
                        Some(next) => cursor = next,
                        None => break,
                    }
                }
                assert_eq!(rows, whole.rows, "{text} in pages of {take}");
                // And skip/take pages agree with the cursor pages.
                let second = execute(&query, &g, take, take, &Limits::default()).unwrap();
                let expected: Vec<_> = whole.rows.iter().skip(take).take(take).cloned().collect();
                assert_eq!(second.rows, expected, "{text} skip {take}");
            }
        }
    }
}

/// Resuming does not re-examine earlier candidates: the second page of a scan
/// costs what the first did.
#[test]
fn cursor_resumes_where_the_scan_stopped() {
    let g = building(false);
    let query = parse("SELECT T.$dtId FROM DIGITALTWINS T").unwrap();
    let limits = Limits {
        max_rows_scanned: 3,
        ..Limits::default()
    };
    let mut cursor = query::Cursor::default();
    let mut ids = Vec::new();
    for _ in 0..10 {
        // Each page of 2 examines at most 3 candidates, so the limit never trips.
        let page = query::execute_from(&query, &g, cursor, 2, &limits).unwrap();
        ids.extend(
            page.rows
                .iter()
                .map(|r| r["$dtId"].as_str().unwrap_or("").to_owned()),
        );
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(ids.join(" "), "b1 f1 f2 r1 r2 r3 r4 s1 s2");
    // With skip/take the fourth page scans from the start and trips it.
    assert!(execute(&query, &g, 6, 2, &limits).is_err());
}

#[test]
fn pages_are_cut_to_max_page_rows_and_say_more() {
    let g = building(false);
    let limits = Limits {
        max_page_rows: 4,
        ..Limits::default()
    };
    let query = parse("SELECT T.$dtId FROM DIGITALTWINS T").unwrap();
    let page = execute(&query, &g, 0, 1000, &limits).unwrap();
    assert_eq!((page.rows.len(), page.more), (4, true));
    let page = execute(&query, &g, 8, 1000, &limits).unwrap();
    assert_eq!((page.rows.len(), page.more), (1, false));
    let grouped =
        parse("SELECT T.$metadata.$model AS m FROM DIGITALTWINS T GROUP BY T.$metadata.$model")
            .unwrap();
    let page = execute(&grouped, &g, 0, 1000, &limits).unwrap();
    assert_eq!((page.rows.len(), page.more), (4, true));
}
