//! COVERAGE.md must list exactly the elements in `sim::coverage::ELEMENTS`,
//! with the same support level, so the published table cannot drift from the
//! parser.

#[test]
fn coverage_table_matches_the_parser() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/COVERAGE.md")).unwrap();
    let mut table = Vec::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| element") && !l.starts_with("| ---"))
    {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        table.push((cells[0].to_string(), cells[1].to_string()));
    }
    let known: Vec<(String, String)> = sim::coverage::ELEMENTS
        .iter()
        .map(|(name, support, _)| (name.to_string(), support.as_str().to_string()))
        .collect();
    for row in &table {
        assert!(
            known.contains(row),
            "COVERAGE.md row {row:?} differs from the parser's list"
        );
    }
    for row in &known {
        assert!(
            table.contains(row),
            "parser element {row:?} is missing from COVERAGE.md"
        );
    }
}

/// Elements the parser reports as unsupported really are reported, by name.
#[test]
fn not_yet_elements_are_reported_by_name() {
    let xml = r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="1"/>
      <Entities/><Storyboard><Init><Actions/></Init>
      <Story name="s"><Act name="a"><ManeuverGroup name="g"><Actors selectTriggeringEntities="false"/>
      <Maneuver name="m"><Event name="e" priority="overwrite"><Action name="x"><PrivateAction><LongitudinalAction>
      <SynchronizeAction/></LongitudinalAction></PrivateAction></Action></Event></Maneuver></ManeuverGroup></Act></Story>
      </Storyboard></OpenSCENARIO>"#;
    match sim::Scenario::parse(xml, "t.xosc", &sim::MapResolver::new()) {
        Err(sim::Error::Unsupported { element, at, .. }) => {
            assert_eq!(element, "SynchronizeAction");
            assert_eq!(at.line, 5);
            let listed = sim::coverage::ELEMENTS
                .iter()
                .find(|(n, ..)| *n == element)
                .map(|(_, s, _)| *s);
            assert_eq!(listed, Some(sim::coverage::Support::NotYet));
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
