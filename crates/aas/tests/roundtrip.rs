//! Property tests: generated environments (nested collections and lists,
//! every data element kind, entities, operations, references, multi-language
//! text with characters XML must escape) come back equal from JSON and from XML,
//! and serde's view of a value is the crate's own JSON.

use aas::*;
use proptest::prelude::*;

/// Text XML can carry, including what it must escape or would normalise
/// (`&`, `<`, `>`, `"`, carriage returns, leading and trailing spaces).
fn text() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-zA-Z0-9 &<>\"'\r\n\t_äß€😀-]{0,12}").unwrap()
}

fn id_short() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-zA-Z][a-zA-Z0-9_]{0,8}").unwrap()
}

fn key() -> impl Strategy<Value = Key> {
    (prop::sample::select(KeyTypes::ALL), text()).prop_map(|(t, value)| Key::new(t, value))
}

fn reference() -> impl Strategy<Value = Reference> {
    (
        prop::sample::select(ReferenceTypes::ALL),
        prop::collection::vec(key(), 0..3),
        prop::option::of(prop::collection::vec(key(), 1..2)),
    )
        .prop_map(|(t, keys, referred)| Reference {
            r#type: t,
            referred_semantic_id: referred
                .map(|keys| Box::new(Reference::new(ReferenceTypes::ExternalReference, keys))),
            keys,
        })
}

fn lang_texts() -> impl Strategy<Value = Option<Vec<LangStringTextType>>> {
    prop::option::of(prop::collection::vec(
        (text(), text()).prop_map(|(language, text)| LangStringTextType { language, text }),
        0..3,
    ))
}

fn property() -> impl Strategy<Value = Property> {
    (
        prop::option::of(id_short()),
        prop::sample::select(DataTypeDefXsd::ALL),
        prop::option::of(text()),
        prop::option::of(reference()),
        lang_texts(),
    )
        .prop_map(
            |(id_short, value_type, value, semantic_id, description)| Property {
                extensions: None,
                category: None,
                id_short,
                display_name: None,
                description,
                semantic_id,
                supplemental_semantic_ids: None,
                qualifiers: None,
                embedded_data_specifications: None,
                value_type,
                value,
                value_id: None,
            },
        )
}

fn leaf() -> impl Strategy<Value = SubmodelElement> {
    prop_oneof![
        property().prop_map(SubmodelElement::from),
        (prop::option::of(id_short()), lang_texts()).prop_map(|(id_short, value)| {
            SubmodelElement::from(MultiLanguageProperty {
                extensions: None,
                category: Some("PARAMETER".to_owned()),
                id_short,
                display_name: None,
                description: None,
                semantic_id: None,
                supplemental_semantic_ids: None,
                qualifiers: None,
                embedded_data_specifications: None,
                value,
                value_id: None,
            })
        }),
        (
            prop::option::of(id_short()),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
            text()
        )
            .prop_map(|(id_short, value, content_type)| {
                SubmodelElement::from(Blob {
                    extensions: None,
                    category: None,
                    id_short,
                    display_name: None,
                    description: None,
                    semantic_id: None,
                    supplemental_semantic_ids: None,
                    qualifiers: None,
                    embedded_data_specifications: None,
                    value,
                    content_type,
                })
            }),
        (prop::option::of(id_short()), prop::option::of(reference())).prop_map(
            |(id_short, value)| {
                SubmodelElement::from(ReferenceElement {
                    extensions: None,
                    category: None,
                    id_short,
                    display_name: None,
                    description: None,
                    semantic_id: None,
                    supplemental_semantic_ids: None,
                    qualifiers: Some(vec![Qualifier {
                        semantic_id: None,
                        supplemental_semantic_ids: None,
                        kind: Some(QualifierKind::ValueQualifier),
                        r#type: "q".to_owned(),
                        value_type: DataTypeDefXsd::Int,
                        value: Some("1".to_owned()),
                        value_id: None,
                    }]),
                    embedded_data_specifications: None,
                    value,
                })
            }
        ),
        (
            prop::option::of(id_short()),
            prop::sample::select(DataTypeDefXsd::ALL),
            text(),
            text()
        )
            .prop_map(|(id_short, value_type, min, max)| {
                SubmodelElement::from(Range {
                    extensions: None,
                    category: None,
                    id_short,
                    display_name: None,
                    description: None,
                    semantic_id: None,
                    supplemental_semantic_ids: None,
                    qualifiers: None,
                    embedded_data_specifications: None,
                    value_type,
                    min: Some(min),
                    max: Some(max),
                })
            }),
    ]
}

fn element() -> impl Strategy<Value = SubmodelElement> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            (
                prop::option::of(id_short()),
                prop::option::of(prop::collection::vec(inner.clone(), 0..5))
            )
                .prop_map(|(id_short, value)| {
                    SubmodelElement::from(SubmodelElementCollection {
                        extensions: None,
                        category: None,
                        id_short,
                        display_name: None,
                        description: None,
                        semantic_id: None,
                        supplemental_semantic_ids: None,
                        qualifiers: None,
                        embedded_data_specifications: None,
                        value,
                    })
                }),
            (
                prop::sample::select(AasSubmodelElements::ALL),
                any::<bool>(),
                prop::option::of(prop::collection::vec(inner.clone(), 0..5))
            )
                .prop_map(|(type_value_list_element, order_relevant, value)| {
                    SubmodelElement::from(SubmodelElementList {
                        extensions: None,
                        category: None,
                        id_short: None,
                        display_name: None,
                        description: None,
                        semantic_id: None,
                        supplemental_semantic_ids: None,
                        qualifiers: None,
                        embedded_data_specifications: None,
                        order_relevant: Some(order_relevant),
                        semantic_id_list_element: None,
                        type_value_list_element,
                        value_type_list_element: Some(DataTypeDefXsd::Double),
                        value,
                    })
                }),
            (
                prop::option::of(prop::collection::vec(inner.clone(), 0..3)),
                text()
            )
                .prop_map(|(statements, global_asset_id)| {
                    SubmodelElement::from(Entity {
                        extensions: None,
                        category: None,
                        id_short: Some("Entity".to_owned()),
                        display_name: None,
                        description: None,
                        semantic_id: None,
                        supplemental_semantic_ids: None,
                        qualifiers: None,
                        embedded_data_specifications: None,
                        statements,
                        entity_type: EntityType::SelfManagedEntity,
                        global_asset_id: Some(global_asset_id),
                        specific_asset_ids: None,
                    })
                }),
            prop::collection::vec(inner, 1..3).prop_map(|values| {
                SubmodelElement::from(Operation {
                    extensions: None,
                    category: None,
                    id_short: Some("Run".to_owned()),
                    display_name: None,
                    description: None,
                    semantic_id: None,
                    supplemental_semantic_ids: None,
                    qualifiers: None,
                    embedded_data_specifications: None,
                    input_variables: Some(
                        values
                            .into_iter()
                            .map(|value| OperationVariable { value })
                            .collect(),
                    ),
                    output_variables: None,
                    inoutput_variables: None,
                })
            }),
        ]
    })
}

fn environment() -> impl Strategy<Value = Environment> {
    (
        text(),
        prop::option::of(prop::collection::vec(element(), 0..4)),
        prop::option::of(reference()),
    )
        .prop_map(|(id, submodel_elements, semantic_id)| Environment {
            asset_administration_shells: Some(vec![AssetAdministrationShell {
                extensions: None,
                category: None,
                id_short: Some("Shell".to_owned()),
                display_name: None,
                description: None,
                administration: Some(AdministrativeInformation {
                    embedded_data_specifications: None,
                    version: Some("1".to_owned()),
                    revision: Some("0".to_owned()),
                    creator: None,
                    template_id: None,
                }),
                id: format!("{id}-shell"),
                embedded_data_specifications: None,
                derived_from: None,
                asset_information: AssetInformation {
                    asset_kind: AssetKind::Instance,
                    global_asset_id: Some(id.clone()),
                    specific_asset_ids: None,
                    asset_type: None,
                    default_thumbnail: None,
                },
                submodels: None,
            }]),
            submodels: Some(vec![Submodel {
                extensions: None,
                category: None,
                id_short: Some("Data".to_owned()),
                display_name: None,
                description: None,
                administration: None,
                id,
                kind: Some(ModellingKind::Instance),
                semantic_id,
                supplemental_semantic_ids: None,
                qualifiers: None,
                embedded_data_specifications: None,
                submodel_elements,
            }]),
            concept_descriptions: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn json_round_trip(environment in environment()) {
        let text = json::to_string(&environment);
        prop_assert_eq!(json::from_str::<Environment>(&text).unwrap(), environment);
    }

    #[test]
    fn xml_round_trip(environment in environment()) {
        let text = xml::to_string(&environment);
        prop_assert_eq!(xml::from_str::<Environment>(&text).unwrap(), environment);
    }

    #[test]
    fn serde_is_the_json_form(environment in environment()) {
        let via_serde = serde_json::to_value(&environment).unwrap();
        prop_assert_eq!(&via_serde, &json::to_value(&environment));
        let back: Environment = serde_json::from_value(via_serde).unwrap();
        prop_assert_eq!(back, environment);
    }

    #[test]
    fn every_walked_path_resolves(environment in environment()) {
        for submodel in environment.submodels.iter().flatten() {
            let mut walked: Vec<(String, &SubmodelElement)> = Vec::new();
            submodel.walk(|path, element| walked.push((path.to_owned(), element)));
            let mut counts = std::collections::HashMap::new();
            for (path, _) in &walked {
                *counts.entry(path.clone()).or_insert(0usize) += 1;
            }
            for (path, element) in &walked {
                prop_assert!(aas::parse_id_short_path(path).is_ok(), "{} does not parse", path);
                // Siblings sharing an idShort (which AASd-022 forbids) make a
                // path ambiguous; where no prefix is, it leads to the element.
                let unambiguous = path
                    .char_indices()
                    .filter(|(_, c)| *c == '.' || *c == '[')
                    .map(|(i, _)| &path[..i])
                    .chain([path.as_str()])
                    .all(|prefix| counts.get(prefix).copied() == Some(1));
                if unambiguous {
                    let found = submodel.element(path);
                    prop_assert!(found.is_some_and(|f| std::ptr::eq(f, *element)), "{} leads elsewhere", path);
                }
            }
        }
    }

    #[test]
    fn verification_never_panics(environment in environment()) {
        // Generated values break constraints freely; every problem has a path
        // inside the environment and a constraint id.
        for problem in verify(&environment) {
            prop_assert!(!problem.constraint.is_empty());
            prop_assert!(problem.path.starts_with("assetAdministrationShells") || problem.path.starts_with("submodels"), "{}", problem);
        }
    }
}
