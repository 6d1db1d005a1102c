//! Bad documents get a clear error that says what was wrong and where (line,
//! column, element path), never a panic; a property test mutates a valid file at
//! random and checks that parsing and every query stay total.

use proptest::prelude::*;
use road::{LanePosition, Network, RoadError};

const VALID: &str = include_str!("data/junction_chain.xodr");

fn error_of(xml: &str) -> RoadError {
    Network::parse(xml).expect_err("the document is invalid")
}

fn road(body: &str) -> String {
    format!("<OpenDRIVE>\n<header/>\n{body}\n</OpenDRIVE>")
}

const PLAN: &str =
    r#"<planView><geometry s="0" x="0" y="0" hdg="0" length="10"><line/></geometry></planView>"#;

#[test]
fn missing_attribute_names_element_line_and_attribute() {
    let error = error_of(&road(&format!("<road id=\"7\">{PLAN}</road>")));
    let RoadError::MissingAttribute { at, attribute } = &error else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(*attribute, "length");
    assert_eq!((at.line, at.column), (3, 1));
    assert_eq!(at.path, "/OpenDRIVE/road[id=7]");
    assert_eq!(
        error.to_string(),
        "/OpenDRIVE/road[id=7] (line 3, column 1): missing required attribute `length`"
    );
}

#[test]
fn wrong_numbers_are_refused_with_what_is_allowed() {
    for (bad, attribute) in [
        (r#"<road id="1" length="ten">"#, "length"),
        (r#"<road id="1" length="-5">"#, "length"),
        (r#"<road id="1" length="NaN">"#, "length"),
        (r#"<road id="1" length="inf">"#, "length"),
    ] {
        let error = error_of(&road(&format!("{bad}{PLAN}</road>")));
        assert!(
            matches!(&error, RoadError::InvalidAttribute { attribute: a, .. } if *a == attribute),
            "{bad}: {error:?}"
        );
        assert!(error.to_string().contains("line 3"), "{error}");
    }
    let error = error_of(&road(
        r#"<road id="1" length="10"><planView><geometry s="0" x="0" y="0" hdg="0" length="10"><arc curvature="0.1x"/></geometry></planView></road>"#,
    ));
    assert!(error.to_string().contains("`curvature`"), "{error}");
    assert!(error.to_string().contains("geometry[1]/arc"), "{error}");
}

#[test]
fn structural_problems_are_named() {
    let cases = [
        (
            road(r#"<road id="1" length="10"></road>"#),
            "needs a <planView>",
        ),
        (
            road(
                r#"<road id="1" length="10"><planView><geometry s="0" x="0" y="0" hdg="0" length="10"/></planView></road>"#,
            ),
            "needs one of line, arc",
        ),
        (
            road(
                r#"<road id="1" length="10"><planView><geometry s="0" x="0" y="0" hdg="0" length="10"><line/><arc curvature="1"/></geometry></planView></road>"#,
            ),
            "found a second",
        ),
        (
            road(&format!(
                r#"<road id="1" length="10">{PLAN}<lanes><laneSection s="0"><left><lane id="-1" type="driving"/></left></laneSection></lanes></road>"#
            )),
            "not allowed in <left>",
        ),
        (
            road(&format!(
                r#"<road id="1" length="10">{PLAN}</road><road id="1" length="10">{PLAN}</road>"#
            )),
            "more than one road",
        ),
        (
            road(r#"<junction id="5"/><junction id="5"/>"#),
            "more than one junction",
        ),
        (
            road(&format!(
                r#"<road id="1" length="10">{PLAN}<link><successor elementType="bridge" elementId="2"/></link></road>"#
            )),
            "`road` or `junction`",
        ),
        ("<Scenario/>".to_owned(), "expected <OpenDRIVE>"),
        (
            road(&format!(
                r#"<road id="1" length="10">{PLAN}<lanes><laneSection s="0"><right>{}</right></laneSection></lanes></road>"#,
                (1..=300)
                    .map(|id| format!(r#"<lane id="-{id}" type="driving"/>"#))
                    .collect::<String>()
            )),
            "exceeds the limit of 256",
        ),
    ];
    for (xml, expected) in cases {
        let error = error_of(&xml);
        assert!(
            error.to_string().contains(expected),
            "{expected}: got {error}"
        );
    }
}

#[test]
fn malformed_xml_reports_position() {
    for xml in [
        "<OpenDRIVE><road id=\"1\" length=\"10\">\n</OpenDRIVE>",
        "<OpenDRIVE>\n<road id=\"1 length=\"10\"/></OpenDRIVE>",
        "<OpenDRIVE>",
        "",
        "<OpenDRIVE></OpenDRIVE><OpenDRIVE/>",
        "<OpenDRIVE><header name=\"&bogus;\"/></OpenDRIVE>",
    ] {
        let error = error_of(xml);
        assert!(matches!(error, RoadError::Xml { .. }), "{xml:?}: {error:?}");
        assert!(error.to_string().contains("line"), "{error}");
    }
}

/// One random edit of a document.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Duplicate { at: usize, len: usize },
    ReplaceNumber { nth: usize, text: String },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), "[<>/=\" a-z0-9.\\-]{1,12}")
            .prop_map(|(at, text)| Edit::Insert { at, text }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        (
            any::<usize>(),
            prop_oneof![
                Just("0".to_owned()),
                Just("-1".to_owned()),
                Just("1e308".to_owned()),
                Just("-1e308".to_owned()),
                Just("1e-320".to_owned()),
                Just("".to_owned()),
                Just("99999".to_owned()),
                Just("-2147483648".to_owned()),
                "-?[0-9]{1,6}(\\.[0-9]{1,4})?",
            ]
        )
            .prop_map(|(nth, text)| Edit::ReplaceNumber { nth, text }),
    ]
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut out = text.to_owned();
    match edit {
        Edit::Delete { at, len } => {
            let start = floor_boundary(&out, at % (out.len() + 1));
            let end = floor_boundary(&out, start + len);
            out.replace_range(start..end, "");
        }
        Edit::Insert { at, text } => {
            let at = floor_boundary(&out, at % (out.len() + 1));
            out.insert_str(at, text);
        }
        Edit::Duplicate { at, len } => {
            let start = floor_boundary(&out, at % (out.len() + 1));
            let end = floor_boundary(&out, start + len);
            let piece = out[start..end].to_owned();
            out.insert_str(end, &piece);
        }
        Edit::ReplaceNumber { nth, text } => {
            // Replace the value of the nth attribute (quoted string) in the file.
            let quotes: Vec<usize> = out.match_indices('"').map(|(index, _)| index).collect();
            let pairs = quotes.len() / 2;
            if pairs > 0 {
                let pair = nth % pairs;
                let (open, close) = (quotes[2 * pair], quotes[2 * pair + 1]);
                out.replace_range(open + 1..close, text);
            }
        }
    }
    out
}

/// Runs every query over a network; none may panic, whatever the network holds.
fn exercise(network: &Network) {
    let roads: Vec<(String, f64)> = network
        .roads()
        .map(|road| (road.id.clone(), road.length))
        .collect();
    for (id, length) in roads.iter().take(8) {
        for fraction in [0.0, 0.37, 1.0] {
            let s = length * fraction;
            let _ = network.road_to_world(id, s, 1.5);
            for lane in [-2, -1, 1, 2] {
                let _ = network.lane_to_world(id, lane, s, 0.1);
                let _ = network.lane_width(id, lane, s);
                let position = LanePosition {
                    road: id.clone(),
                    lane,
                    s,
                    offset: 0.0,
                };
                let _ = network.next_lanes(&position, true);
                let _ = network.next_lanes(&position, false);
            }
        }
    }
    let _ = network.check();
    let _ = network.world_to_lane(55.0, -1.0, Some(2.0));
    if let (Some(first), Some(last)) = (roads.first(), roads.last()) {
        let from = LanePosition {
            road: first.0.clone(),
            lane: -1,
            s: 1.0,
            offset: 0.0,
        };
        let to = LanePosition {
            road: last.0.clone(),
            lane: 1,
            s: 1.0,
            offset: 0.0,
        };
        let _ = network.route(&from, &to);
    }
}

proptest! {
    // 192 cases keep the suite fast; PROPTEST_CASES=N runs a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(192),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_documents_never_panic(edits in proptest::collection::vec(edit(), 1..6)) {
        let mut text = VALID.to_owned();
        for edit in &edits {
            text = apply(&text, edit);
        }
        match Network::parse(&text) {
            Ok(network) => exercise(&network),
            Err(error) => {
                // Errors always render and carry a position.
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }
}

#[test]
fn valid_document_exercises_cleanly() {
    exercise(&Network::parse(VALID).expect("valid"));
}

#[test]
fn consistency_check_lists_every_problem() {
    let xml = r#"<OpenDRIVE><header/>
      <road id="1" length="30" junction="-1">
        <link><predecessor elementType="road" elementId="404" contactPoint="end"/><successor elementType="road" elementId="2" contactPoint="start"/></link>
        <planView>
          <geometry s="0" x="0" y="0" hdg="0" length="10"><line/></geometry>
          <geometry s="10" x="10.5" y="0" hdg="0" length="10"><line/></geometry>
        </planView>
        <lanes><laneSection s="0">
          <center><lane id="0" type="none"/></center>
          <right><lane id="-1" type="driving"><link><successor id="-3"/></link><width sOffset="0" a="3" b="0" c="0" d="0"/></lane></right>
        </laneSection></lanes>
      </road>
      <road id="2" length="10" junction="-1">
        <link><successor elementType="junction" elementId="77"/></link>
        <planView><geometry s="0" x="20.5" y="0" hdg="0" length="10"><line/></geometry></planView>
        <lanes><laneSection s="0">
          <center><lane id="0" type="none"/></center>
          <right><lane id="-1" type="driving"><width sOffset="0" a="3" b="0" c="0" d="0"/></lane></right>
        </laneSection></lanes>
      </road>
      <junction id="5">
        <connection id="0" incomingRoad="2" connectingRoad="1" contactPoint="start"><laneLink from="-1" to="-9"/></connection>
        <connection id="1" incomingRoad="8" connectingRoad="9" contactPoint="start"/>
      </junction>
    </OpenDRIVE>"#;
    let network = Network::parse(xml).expect("well-formed");
    let problems: Vec<String> = network.check().iter().map(ToString::to_string).collect();
    let expected = [
        "road 1: geometry at s = 0 ends 0.500 m away from where the next one starts",
        "road 1: geometry covers s up to 20, the road's length is 30",
        "road 1: links to road \"404\", which does not exist",
        "road 1 lane -1: links to lane -3 of road 2, which has no such lane at that end",
        "road 2: links to junction \"77\", which does not exist",
        "junction 5: connection 0 links to lane -9 of road 1, which has no such lane at its Start",
        "junction 5: connection 1 names incoming road \"8\", which does not exist",
        "junction 5: connection 1 names connecting road \"9\", which does not exist",
    ];
    assert_eq!(problems, expected);
    assert!(Network::parse(VALID).expect("valid").check().is_empty());
}
