//! Property test: randomly shaped NodeSets (any browse names, subtype chains
//! including cycles, every kind of instance declaration, enumerations with
//! repeated values, recursive structures) either import into DTDL that the
//! validator accepts or are refused with an input error; the importer never
//! produces DTDL the validator refuses, and never panics.

use nodeset::{NodesetError, import, parse_nodeset};
use proptest::prelude::*;

const MINI_UA: &str = r#"<UANodeSet xmlns="http://opcfoundation.org/UA/2011/03/UANodeSet.xsd">
  <Models><Model ModelUri="http://opcfoundation.org/UA/" Version="1.05.02"/></Models>
  <Aliases><Alias Alias="HasSubtype">i=45</Alias></Aliases>
  <UAReferenceType NodeId="i=31" BrowseName="References" IsAbstract="true"/>
  <UAReferenceType NodeId="i=33" BrowseName="HierarchicalReferences"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=31</Reference></References></UAReferenceType>
  <UAReferenceType NodeId="i=32" BrowseName="NonHierarchicalReferences"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=31</Reference></References></UAReferenceType>
  <UAReferenceType NodeId="i=34" BrowseName="HasChild"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=33</Reference></References></UAReferenceType>
  <UAReferenceType NodeId="i=44" BrowseName="Aggregates"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=34</Reference></References></UAReferenceType>
  <UAReferenceType NodeId="i=45" BrowseName="HasSubtype"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=34</Reference></References></UAReferenceType>
  <UAReferenceType NodeId="i=46" BrowseName="HasProperty"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=44</Reference></References></UAReferenceType>
  <UAReferenceType NodeId="i=47" BrowseName="HasComponent"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=44</Reference></References></UAReferenceType>
  <UAReferenceType NodeId="i=40" BrowseName="HasTypeDefinition"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=32</Reference></References></UAReferenceType>
  <UADataType NodeId="i=24" BrowseName="BaseDataType" IsAbstract="true"/>
  <UADataType NodeId="i=22" BrowseName="Structure" IsAbstract="true"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=24</Reference></References></UADataType>
  <UADataType NodeId="i=29" BrowseName="Enumeration" IsAbstract="true"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=24</Reference></References></UADataType>
  <UAObjectType NodeId="i=58" BrowseName="BaseObjectType"/>
</UANodeSet>"#;

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Debug, Clone)]
enum Child {
    Variable {
        name: String,
        data_type: usize,
        value_rank: i32,
        property: bool,
        writable: bool,
        placeholder: bool,
    },
    Object {
        name: String,
        type_index: usize,
        placeholder: bool,
    },
    Method {
        name: String,
        arguments: Vec<(String, usize)>,
    },
}

#[derive(Debug, Clone)]
struct Type {
    name: String,
    supertype: Option<usize>,
    children: Vec<Child>,
}

/// Data types a variable may have: built-ins, the abstract base, an enum with a
/// repeated value and a structure that contains itself.
const DATA_TYPES: &[&str] = &[
    "i=1",
    "i=11",
    "i=12",
    "i=24",
    "i=13",
    "ns=1;i=3000",
    "ns=1;i=3001",
    "i=9",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9_]{0,8}",
        "\\PC{1,10}",
        Just("<Name>".to_owned())
    ]
    .prop_filter("XML text cannot hold control characters", |name| {
        !name.trim().is_empty() && name.chars().all(|c| !c.is_control())
    })
}

fn child(types: usize) -> impl Strategy<Value = Child> {
    prop_oneof![
        (
            name(),
            0..DATA_TYPES.len(),
            prop_oneof![Just(-1), Just(0), Just(1), Just(-2), Just(2)],
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(
                |(name, data_type, value_rank, property, writable, placeholder)| Child::Variable {
                    name,
                    data_type,
                    value_rank,
                    property,
                    writable,
                    placeholder
                }
            ),
        (name(), 0..types, any::<bool>()).prop_map(|(name, type_index, placeholder)| {
            Child::Object {
                name,
                type_index,
                placeholder,
            }
        }),
        (
            name(),
            prop::collection::vec((name(), 0..DATA_TYPES.len()), 0..3)
        )
            .prop_map(|(name, arguments)| Child::Method { name, arguments }),
    ]
}

fn types() -> impl Strategy<Value = Vec<Type>> {
    (1usize..7).prop_flat_map(|count| {
        prop::collection::vec(
            (
                name(),
                prop::option::of(0..count),
                prop::collection::vec(child(count), 0..6),
            )
                .prop_map(|(name, supertype, children)| Type {
                    name,
                    supertype,
                    children,
                }),
            count,
        )
    })
}

fn document(types: &[Type]) -> String {
    let mut xml = String::from(
        r#"<UANodeSet xmlns:uax="http://opcfoundation.org/UA/2008/02/Types.xsd"><NamespaceUris><Uri>http://example.com/P/</Uri></NamespaceUris>
<Models><Model ModelUri="http://example.com/P/" Version="1.0.0"><RequiredModel ModelUri="http://opcfoundation.org/UA/"/></Model></Models>
<UADataType NodeId="ns=1;i=3000" BrowseName="1:E"><References><Reference ReferenceType="i=45" IsForward="false">i=29</Reference></References>
<Definition Name="E"><Field Name="A" Value="1"/><Field Name="B" Value="1"/><Field Name="A" Value="2"/></Definition></UADataType>
<UADataType NodeId="ns=1;i=3001" BrowseName="1:S"><References><Reference ReferenceType="i=45" IsForward="false">i=22</Reference></References>
<Definition Name="S"><Field Name="Next" DataType="ns=1;i=3001"/><Field Name="x y" DataType="i=11" ValueRank="1"/></Definition></UADataType>
"#,
    );
    let mut next_id = 10_000;
    for (index, kind) in types.iter().enumerate() {
        let type_id = 1000 + index;
        let supertype = kind.supertype.map_or("i=58".to_owned(), |parent| {
            format!("ns=1;i={}", 1000 + parent)
        });
        let mut references =
            format!(r#"<Reference ReferenceType="i=45" IsForward="false">{supertype}</Reference>"#);
        let mut nodes = String::new();
        for child in &kind.children {
            next_id += 10;
            let id = next_id;
            let (reference, body) = match child {
                Child::Variable {
                    name,
                    data_type,
                    value_rank,
                    property,
                    writable,
                    placeholder,
                } => (
                    if *property { "i=46" } else { "i=47" },
                    format!(
                        r#"<UAVariable NodeId="ns=1;i={id}" BrowseName="1:{}" DataType="{}" ValueRank="{value_rank}" AccessLevel="{}"><References>{}</References></UAVariable>"#,
                        xml_escape(name),
                        DATA_TYPES[*data_type],
                        if *writable { 3 } else { 1 },
                        if *placeholder {
                            r#"<Reference ReferenceType="i=37">i=11508</Reference>"#
                        } else {
                            ""
                        }
                    ),
                ),
                Child::Object {
                    name,
                    type_index,
                    placeholder,
                } => (
                    "i=47",
                    format!(
                        r#"<UAObject NodeId="ns=1;i={id}" BrowseName="1:{}"><References><Reference ReferenceType="i=40">ns=1;i={}</Reference>{}</References></UAObject>"#,
                        xml_escape(name),
                        1000 + type_index,
                        if *placeholder {
                            r#"<Reference ReferenceType="i=37">i=11510</Reference>"#
                        } else {
                            ""
                        }
                    ),
                ),
                Child::Method { name, arguments } => {
                    let arguments: String = arguments.iter().map(|(name, data_type)| format!(
                        "<uax:ExtensionObject><uax:Body><uax:Argument><uax:Name>{}</uax:Name><uax:DataType><uax:Identifier>{}</uax:Identifier></uax:DataType></uax:Argument></uax:Body></uax:ExtensionObject>",
                        xml_escape(name), DATA_TYPES[*data_type])).collect();
                    (
                        "i=47",
                        format!(
                            r#"<UAMethod NodeId="ns=1;i={id}" BrowseName="1:{}"><References><Reference ReferenceType="i=46">ns=1;i={}</Reference></References></UAMethod>
<UAVariable NodeId="ns=1;i={}" BrowseName="InputArguments" DataType="i=296"><Value><uax:ListOfExtensionObject>{arguments}</uax:ListOfExtensionObject></Value></UAVariable>"#,
                            xml_escape(name),
                            id + 1,
                            id + 1
                        ),
                    )
                }
            };
            references.push_str(&format!(
                r#"<Reference ReferenceType="{reference}">ns=1;i={id}</Reference>"#
            ));
            nodes.push_str(&body);
            nodes.push('\n');
        }
        xml.push_str(&format!(
            r#"<UAObjectType NodeId="ns=1;i={type_id}" BrowseName="1:{}"><References>{references}</References></UAObjectType>"#,
            xml_escape(&kind.name)
        ));
        xml.push('\n');
        xml.push_str(&nodes);
    }
    xml.push_str("</UANodeSet>");
    xml
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_models_import_into_valid_dtdl(types in types()) {
        let text = document(&types);
        let base = parse_nodeset(MINI_UA).expect("the base parses");
        let model = parse_nodeset(&text).map_err(|error| TestCaseError::fail(format!("{error}\n{text}")))?;
        match import(&[base, model], &[]) {
            Ok(result) => prop_assert!(result.interfaces.len() >= types.len()),
            Err(NodesetError::Generated(problems)) => {
                return Err(TestCaseError::fail(format!("refused DTDL: {problems}\n{text}")));
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected refusal: {other}\n{text}"))),
        }
    }
}
