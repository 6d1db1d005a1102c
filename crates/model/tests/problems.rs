//! What a rejected upload reports: every problem, each with its source, the
//! model id, the element path and the rule, in words a model author can act
//! on. Snapshot tests (`expect-test`; update with `UPDATE_EXPECT=1`).

use expect_test::{Expect, expect};
use model::{Dtmi, ModelSet, ModelSource, Schema};
use serde_json::json;

fn check(sources: &[(&str, &str)], expect: Expect) {
    let sources: Vec<ModelSource> = sources
        .iter()
        .map(|(name, text)| ModelSource {
            name: (*name).to_owned(),
            text: (*text).to_owned(),
        })
        .collect();
    let mut set = ModelSet::new();
    let actual = match set.add(&sources) {
        Ok(ids) => format!("ok: {ids:?}"),
        Err(problems) => {
            assert_eq!(
                set.len(),
                0,
                "a rejected batch must leave the set unchanged"
            );
            problems.to_string()
        }
    };
    expect.assert_eq(&actual);
}

#[test]
fn collects_every_problem_with_location_and_rule() {
    check(
        &[(
            "thermostat.json",
            r#"{
              "@context": "dtmi:dtdl:context;3",
              "@id": "dtmi:com:example:Thermostat;1",
              "@type": "Interface",
              "contents": [
                { "@type": "Property", "name": "target temperature", "schema": "double" },
                { "@type": "Telemetry", "name": "temp", "schema": "doubel" },
                { "@type": "Relationship", "name": "feeds", "maxMultiplicity": 0 },
                { "@type": "Command", "name": "reboot", "colour": "red" }
              ]
            }"#,
        )],
        expect![[r#"
            thermostat.json: dtmi:com:example:Thermostat;1 contents[0].name: name "target temperature" must start with a letter, contain only letters, digits and underscores, and not end with an underscore [name-pattern]
            thermostat.json: dtmi:com:example:Thermostat;1 contents[1].schema: "doubel" is not allowed for schema; expected a primitive schema, a schema object or a DTMI [property-value]
            thermostat.json: dtmi:com:example:Thermostat;1 contents[2].maxMultiplicity: maxMultiplicity must be at least 1 [max-multiplicity]
            thermostat.json: dtmi:com:example:Thermostat;1 contents[3]: "colour" is not a property of Command [property-undefined-term]"#]],
    );
}

#[test]
fn names_the_file_for_json_syntax_errors() {
    check(
        &[("broken.json", "{ \"@id\": ")],
        expect![[
            r#"broken.json: line 1 column 9: not valid JSON: EOF while parsing a value at line 1 column 9 [json-syntax]"#
        ]],
    );
}

#[test]
fn resolves_references_across_files_in_any_order() {
    check(
        &[
            (
                "room.json",
                r#"{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1", "@type": "Interface",
                    "extends": "dtmi:ex:Space;1",
                    "contents": [{"@type": "Component", "name": "hvac", "schema": "dtmi:ex:Hvac;1"}]}"#,
            ),
            (
                "space.json",
                r#"[{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Space;1", "@type": "Interface"},
                    {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Hvac;1", "@type": "Interface"}]"#,
            ),
        ],
        expect![[r#"ok: [Dtmi(dtmi:ex:Room;1), Dtmi(dtmi:ex:Space;1), Dtmi(dtmi:ex:Hvac;1)]"#]],
    );
}

#[test]
fn reports_unresolved_references_and_cycles() {
    check(
        &[
            (
                "a.json",
                r#"{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface", "extends": "dtmi:ex:B;1"}"#,
            ),
            (
                "b.json",
                r#"{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:B;1", "@type": "Interface", "extends": "dtmi:ex:A;1",
                    "contents": [{"@type": "Property", "name": "p", "schema": "dtmi:ex:Missing;1"}]}"#,
            ),
        ],
        expect![[r#"
            b.json: dtmi:ex:B;1 contents[0].schema: dtmi:ex:Missing;1 is not defined in this batch or the model set [unresolved-reference]
            a.json: dtmi:ex:A;1: dtmi:ex:A;1 extends itself (directly or through other interfaces) [extends-cycle]
            b.json: dtmi:ex:B;1: dtmi:ex:B;1 extends itself (directly or through other interfaces) [extends-cycle]"#]],
    );
    check(
        &[
            (
                "a.json",
                r#"{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface", "extends": "dtmi:ex:B;1"}"#,
            ),
            (
                "b.json",
                r#"{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:B;1", "@type": "Interface", "extends": "dtmi:ex:A;1"}"#,
            ),
        ],
        expect![[r#"
            a.json: dtmi:ex:A;1: dtmi:ex:A;1 extends itself (directly or through other interfaces) [extends-cycle]
            b.json: dtmi:ex:B;1: dtmi:ex:B;1 extends itself (directly or through other interfaces) [extends-cycle]"#]],
    );
}

#[test]
fn later_batches_reference_earlier_ones_and_removal_is_guarded() {
    let mut set = ModelSet::new();
    set.add_values(&[
        json!({"@context": "dtmi:dtdl:context;2", "@id": "dtmi:ex:Base;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "serial", "schema": "string"}]}),
    ])
    .unwrap();
    set.add_values(&[json!({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Pump;1", "@type": "Interface",
        "extends": "dtmi:ex:Base;1",
        "contents": [{"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double", "unit": "degreeCelsius",
                      "@context": "dtmi:dtdl:extension:quantitativeTypes;1"}]})])
        .unwrap();
    let pump = Dtmi::parse("dtmi:ex:Pump;1").unwrap();
    let base = Dtmi::parse("dtmi:ex:Base;1").unwrap();
    assert!(set.is_of_model(&pump, &base, false));
    assert!(set.content(&pump, "serial").is_some());
    assert_eq!(set.contents(&pump).count(), 2);
    // A name clash with an inherited content is refused.
    let clash = set
        .add_values(&[
            json!({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Bad;1", "@type": "Interface",
            "extends": "dtmi:ex:Base;1",
            "contents": [{"@type": "Property", "name": "serial", "schema": "long"}]}),
        ])
        .unwrap_err();
    assert_eq!(clash.0[0].rule, "name-unique", "{clash}");
    let err = set.remove(&base).unwrap_err();
    assert!(err.to_string().contains("dtmi:ex:Pump;1"), "{err}");
    set.remove(&pump).unwrap();
    set.remove(&base).unwrap();
    assert!(set.is_empty());
}

#[test]
fn check_value_reports_pointer_and_rule() {
    let mut set = ModelSet::new();
    set.add_values(&[json!({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Machine;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "config", "schema": {"@type": "Object", "fields": [
            {"name": "mode", "schema": {"@type": "Enum", "valueSchema": "string", "enumValues": [
                {"name": "auto", "enumValue": "auto"}, {"name": "manual", "enumValue": "manual"}]}},
            {"name": "limits", "schema": {"@type": "Map",
                "mapKey": {"name": "axis", "schema": "string"},
                "mapValue": {"name": "max", "schema": "integer"}}}]}}]})])
        .unwrap();
    let machine = Dtmi::parse("dtmi:ex:Machine;1").unwrap();
    let Some(model::Content::Property(config)) = set.content(&machine, "config") else {
        panic!("config property missing");
    };
    let schema: &Schema = &config.schema;
    assert!(
        set.check_value(schema, &json!({"mode": "auto", "limits": {"x": 10}}))
            .is_ok()
    );
    let err = set
        .check_value(schema, &json!({"mode": "turbo"}))
        .unwrap_err();
    expect![[r#"at /mode: "turbo" is not one of the enum values ["auto", "manual"]"#]]
        .assert_eq(&err.to_string());
    let err = set
        .check_value(schema, &json!({"limits": {"x": 1.5}}))
        .unwrap_err();
    expect![[r#"at /limits/x: expected integer (an integer from -2147483648 to 2147483647), found a number"#]]
        .assert_eq(&err.to_string());
}

#[test]
fn component_properties_and_decommissioning() {
    let mut set = ModelSet::new();
    set.add_values(&[
        json!({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Sensor;1", "@type": "Interface",
            "contents": [{"@type": "Property", "name": "range", "schema": "double"}]}),
        json!({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1", "@type": "Interface",
            "contents": [{"@type": "Property", "name": "area", "schema": "double"},
                         {"@type": "Component", "name": "probe", "schema": "dtmi:ex:Sensor;1"}]}),
    ])
    .unwrap();
    let room = Dtmi::parse("dtmi:ex:Room;1").unwrap();
    let names: Vec<(Option<&str>, &str)> = set
        .properties(&room)
        .into_iter()
        .map(|(c, p)| (c, p.name.as_str()))
        .collect();
    assert_eq!(names, [(None, "area"), (Some("probe"), "range")]);
    assert!(!set.is_decommissioned(&room));
    set.set_decommissioned(&room, true).unwrap();
    assert!(set.is_decommissioned(&room));
    let missing = Dtmi::parse("dtmi:ex:Nope;1").unwrap();
    assert!(set.set_decommissioned(&missing, true).is_err());
}
