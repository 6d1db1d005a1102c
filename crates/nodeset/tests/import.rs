//! Feature tests of the importer on small hand-written NodeSets: a miniature base
//! model (just the reference and data type hierarchy the importer walks) and a pump
//! model using every mapping, checked through the generated DTDL.

use nodeset::{NodesetError, import, parse_nodeset};
use serde_json::Value;

/// The part of the OPC UA base model the importer relies on.
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

/// A pump model using every mapping the importer makes.
const PUMP: &str = r#"<UANodeSet xmlns="http://opcfoundation.org/UA/2011/03/UANodeSet.xsd" xmlns:uax="http://opcfoundation.org/UA/2008/02/Types.xsd">
  <NamespaceUris><Uri>http://example.com/Pumps/</Uri></NamespaceUris>
  <Models><Model ModelUri="http://example.com/Pumps/" Version="2.1.0">
    <RequiredModel ModelUri="http://opcfoundation.org/UA/" Version="1.05.02"/></Model></Models>
  <Aliases>
    <Alias Alias="Boolean">i=1</Alias><Alias Alias="Double">i=11</Alias><Alias Alias="String">i=12</Alias>
    <Alias Alias="HasSubtype">i=45</Alias><Alias Alias="HasProperty">i=46</Alias>
    <Alias Alias="HasComponent">i=47</Alias><Alias Alias="HasTypeDefinition">i=40</Alias>
  </Aliases>
  <UAReferenceType NodeId="ns=1;i=4000" BrowseName="1:FeedsInto"><References><Reference ReferenceType="HasSubtype" IsForward="false">i=32</Reference></References></UAReferenceType>
  <UADataType NodeId="ns=1;i=3000" BrowseName="1:PumpMode">
    <References><Reference ReferenceType="HasSubtype" IsForward="false">i=29</Reference></References>
    <Definition Name="1:PumpMode"><Field Name="Off" Value="0"/><Field Name="On" Value="1"/><Field Name="Service mode" Value="7"/></Definition>
  </UADataType>
  <UADataType NodeId="ns=1;i=3001" BrowseName="1:PumpStatus">
    <References><Reference ReferenceType="HasSubtype" IsForward="false">i=22</Reference></References>
    <Definition Name="1:PumpStatus"><Field Name="Running" DataType="Boolean"/><Field Name="Speeds" DataType="Double" ValueRank="1"/></Definition>
  </UADataType>
  <UAObjectType NodeId="ns=1;i=1001" BrowseName="1:MotorType">
    <References><Reference ReferenceType="HasSubtype" IsForward="false">i=58</Reference></References>
  </UAObjectType>
  <UAObjectType NodeId="ns=1;i=1002" BrowseName="1:StationType">
    <References><Reference ReferenceType="HasSubtype" IsForward="false">i=58</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=1100</Reference></References>
  </UAObjectType>
  <UAObject NodeId="ns=1;i=1100" BrowseName="1:Motor" ParentNodeId="ns=1;i=1002">
    <References><Reference ReferenceType="HasTypeDefinition">ns=1;i=1001</Reference></References>
  </UAObject>
  <UAObjectType NodeId="ns=1;i=1000" BrowseName="1:PumpType">
    <Description>A centrifugal pump.</Description>
    <References>
      <Reference ReferenceType="HasSubtype" IsForward="false">i=58</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2001</Reference>
      <Reference ReferenceType="HasProperty">ns=1;i=2002</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2003</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2004</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2005</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2006</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2007</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2008</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2009</Reference>
      <Reference ReferenceType="HasProperty">ns=1;i=2010</Reference>
      <Reference ReferenceType="ns=1;i=4000">ns=1;i=1000</Reference>
    </References>
  </UAObjectType>
  <UAVariable NodeId="ns=1;i=2001" BrowseName="1:Temperature" ParentNodeId="ns=1;i=1000" DataType="Double">
    <Description>Bearing temperature.</Description>
    <References><Reference ReferenceType="HasProperty">ns=1;i=2101</Reference><Reference ReferenceType="HasProperty">ns=1;i=2102</Reference></References>
  </UAVariable>
  <UAVariable NodeId="ns=1;i=2101" BrowseName="EngineeringUnits" ParentNodeId="ns=1;i=2001" DataType="i=887">
    <Value><uax:ExtensionObject><uax:TypeId><uax:Identifier>i=888</uax:Identifier></uax:TypeId><uax:Body><uax:EUInformation>
      <uax:NamespaceUri>http://www.opcfoundation.org/UA/units/un/cefact</uax:NamespaceUri><uax:UnitId>4408652</uax:UnitId>
      <uax:DisplayName><uax:Locale>en</uax:Locale><uax:Text>°C</uax:Text></uax:DisplayName></uax:EUInformation></uax:Body></uax:ExtensionObject></Value>
  </UAVariable>
  <UAVariable NodeId="ns=1;i=2102" BrowseName="EURange" ParentNodeId="ns=1;i=2001" DataType="i=884">
    <Value><uax:ExtensionObject><uax:TypeId><uax:Identifier>i=886</uax:Identifier></uax:TypeId><uax:Body><uax:Range><uax:Low>0</uax:Low><uax:High>150</uax:High></uax:Range></uax:Body></uax:ExtensionObject></Value>
  </UAVariable>
  <UAVariable NodeId="ns=1;i=2002" BrowseName="1:SerialNumber" ParentNodeId="ns=1;i=1000" DataType="String"/>
  <UAVariable NodeId="ns=1;i=2003" BrowseName="1:Setpoint" ParentNodeId="ns=1;i=1000" DataType="Double" AccessLevel="3"/>
  <UAVariable NodeId="ns=1;i=2004" BrowseName="1:Mode" ParentNodeId="ns=1;i=1000" DataType="ns=1;i=3000"/>
  <UAVariable NodeId="ns=1;i=2005" BrowseName="1:Status" ParentNodeId="ns=1;i=1000" DataType="ns=1;i=3001"/>
  <UAObject NodeId="ns=1;i=2006" BrowseName="1:Motor" ParentNodeId="ns=1;i=1000">
    <References><Reference ReferenceType="HasTypeDefinition">ns=1;i=1001</Reference><Reference ReferenceType="HasComponent">ns=1;i=2011</Reference></References>
  </UAObject>
  <UAVariable NodeId="ns=1;i=2011" BrowseName="1:Current" ParentNodeId="ns=1;i=2006" DataType="Double"/>
  <UAObject NodeId="ns=1;i=2007" BrowseName="1:Station" ParentNodeId="ns=1;i=1000">
    <References><Reference ReferenceType="HasTypeDefinition">ns=1;i=1002</Reference></References>
  </UAObject>
  <UAObject NodeId="ns=1;i=2009" BrowseName="1:&lt;Impeller&gt;" ParentNodeId="ns=1;i=1000">
    <References><Reference ReferenceType="HasTypeDefinition">ns=1;i=1001</Reference><Reference ReferenceType="i=37">i=11508</Reference></References>
  </UAObject>
  <UAVariable NodeId="ns=1;i=2010" BrowseName="1:&lt;Tag&gt;" ParentNodeId="ns=1;i=1000" DataType="String">
    <References><Reference ReferenceType="i=37">i=11510</Reference></References>
  </UAVariable>
  <UAMethod NodeId="ns=1;i=2008" BrowseName="1:Start" ParentNodeId="ns=1;i=1000">
    <References><Reference ReferenceType="HasProperty">ns=1;i=2201</Reference><Reference ReferenceType="HasProperty">ns=1;i=2202</Reference></References>
  </UAMethod>
  <UAVariable NodeId="ns=1;i=2201" BrowseName="InputArguments" ParentNodeId="ns=1;i=2008" DataType="i=296" ValueRank="1">
    <Value><uax:ListOfExtensionObject><uax:ExtensionObject><uax:TypeId><uax:Identifier>i=297</uax:Identifier></uax:TypeId><uax:Body><uax:Argument>
      <uax:Name>Speed</uax:Name><uax:DataType><uax:Identifier>i=11</uax:Identifier></uax:DataType><uax:ValueRank>-1</uax:ValueRank></uax:Argument></uax:Body></uax:ExtensionObject></uax:ListOfExtensionObject></Value>
  </UAVariable>
  <UAVariable NodeId="ns=1;i=2202" BrowseName="OutputArguments" ParentNodeId="ns=1;i=2008" DataType="i=296" ValueRank="1">
    <Value><uax:ListOfExtensionObject><uax:ExtensionObject><uax:TypeId><uax:Identifier>i=297</uax:Identifier></uax:TypeId><uax:Body><uax:Argument>
      <uax:Name>Started</uax:Name><uax:DataType><uax:Identifier>i=1</uax:Identifier></uax:DataType><uax:ValueRank>-1</uax:ValueRank></uax:Argument></uax:Body></uax:ExtensionObject></uax:ListOfExtensionObject></Value>
  </UAVariable>
  <UAObjectType NodeId="ns=1;i=1003" BrowseName="1:BigPumpType">
    <References><Reference ReferenceType="HasSubtype" IsForward="false">ns=1;i=1000</Reference>
      <Reference ReferenceType="HasProperty">ns=1;i=2301</Reference><Reference ReferenceType="HasProperty">ns=1;i=2302</Reference></References>
  </UAObjectType>
  <UAVariable NodeId="ns=1;i=2301" BrowseName="1:SerialNumber" ParentNodeId="ns=1;i=1003" DataType="String"/>
  <UAVariable NodeId="ns=1;i=2302" BrowseName="1:Capacity" ParentNodeId="ns=1;i=1003" DataType="Double"/>
</UANodeSet>"#;

fn pump_import() -> nodeset::Import {
    let sets = [
        parse_nodeset(MINI_UA).expect("mini base parses"),
        parse_nodeset(PUMP).expect("pump model parses"),
    ];
    import(&sets, &["http://example.com/Pumps/"]).expect("pump model imports")
}

fn interface<'a>(import: &'a nodeset::Import, id: &str) -> &'a Value {
    import
        .interfaces
        .iter()
        .find(|interface| interface["@id"] == id)
        .unwrap_or_else(|| panic!("no interface {id}"))
}

fn content<'a>(interface: &'a Value, name: &str) -> &'a Value {
    interface["contents"]
        .as_array()
        .and_then(|contents| contents.iter().find(|content| content["name"] == name))
        .unwrap_or_else(|| panic!("no content {name} in {}", interface["@id"]))
}

#[test]
fn pump_type_maps_every_kind_of_instance_declaration() {
    let import = pump_import();
    let pump = interface(&import, "dtmi:example:com:Pumps:PumpType;2.1");
    assert_eq!(
        pump["extends"][0],
        "dtmi:opcfoundation:org:UA:BaseObjectType;1.5"
    );
    assert_eq!(pump["description"], "A centrifugal pump.");
    let temperature = content(pump, "Temperature");
    assert_eq!(
        temperature["@type"],
        serde_json::json!(["Telemetry", "Temperature"])
    );
    assert_eq!(temperature["unit"], "degreeCelsius");
    assert_eq!(
        temperature["description"],
        "Bearing temperature. (unit °C, EURange 0 to 150)"
    );
    assert_eq!(content(pump, "SerialNumber")["@type"], "Property");
    let setpoint = content(pump, "Setpoint");
    assert_eq!(
        (&setpoint["@type"], &setpoint["writable"]),
        (&"Property".into(), &true.into())
    );
    let mode = &content(pump, "Mode")["schema"];
    assert_eq!(mode["@type"], "Enum");
    assert_eq!(mode["enumValues"][2]["name"], "Service_20mode");
    assert_eq!(mode["enumValues"][2]["enumValue"], 7);
    let status = &content(pump, "Status")["schema"];
    assert_eq!(status["@type"], "Object");
    assert_eq!(status["fields"][1]["schema"]["@type"], "Array");
    // The pump's motor adds `Current` to MotorType: it gets an interface of its
    // own that extends MotorType.
    let motor = content(pump, "Motor");
    assert_eq!(motor["@type"], "Component");
    assert_eq!(motor["schema"], "dtmi:example:com:Pumps:PumpType:Motor;2.1");
    let declared = interface(&import, "dtmi:example:com:Pumps:PumpType:Motor;2.1");
    assert_eq!(
        declared["extends"][0],
        "dtmi:example:com:Pumps:MotorType;2.1"
    );
    assert_eq!(content(declared, "Current")["@type"], "Telemetry");
    // StationType's own motor adds nothing, so the type serves as it is.
    let station_type = interface(&import, "dtmi:example:com:Pumps:StationType;2.1");
    assert_eq!(
        content(station_type, "Motor")["schema"],
        "dtmi:example:com:Pumps:MotorType;2.1"
    );
    // StationType holds an object itself, and DTDL forbids Components in a
    // Component's schema, so the station becomes a Relationship.
    let station = content(pump, "Station");
    assert_eq!(
        (&station["@type"], &station["target"]),
        (
            &"Relationship".into(),
            &"dtmi:example:com:Pumps:StationType;2.1".into()
        )
    );
    let start = content(pump, "Start");
    assert_eq!(start["@type"], "Command");
    assert_eq!(start["request"]["schema"]["fields"][0]["name"], "Speed");
    assert_eq!(start["request"]["schema"]["fields"][0]["schema"], "double");
    assert_eq!(
        start["response"]["schema"]["fields"][0]["schema"],
        "boolean"
    );
    // Placeholders: any number of named instances.
    let impeller = content(pump, "Impeller");
    assert_eq!(
        (&impeller["@type"], &impeller["target"]),
        (
            &"Relationship".into(),
            &"dtmi:example:com:Pumps:MotorType;2.1".into()
        )
    );
    let tag = content(pump, "Tag");
    assert_eq!(tag["schema"]["@type"], "Map");
    assert_eq!(tag["schema"]["mapValue"]["schema"], "string");
    let feeds = content(pump, "FeedsIntoPumpType");
    assert_eq!(feeds["target"], "dtmi:example:com:Pumps:PumpType;2.1");
}

#[test]
fn subtype_extends_and_leaves_out_refined_declarations() {
    let import = pump_import();
    let big = interface(&import, "dtmi:example:com:Pumps:BigPumpType;2.1");
    assert_eq!(big["extends"][0], "dtmi:example:com:Pumps:PumpType;2.1");
    let names: Vec<&str> = big["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|content| content["name"].as_str())
        .collect();
    assert_eq!(names, ["Capacity"]);
    assert_eq!(import.stats.refinements_skipped, 1);
    assert_eq!(import.stats.units, 1);
}

#[test]
fn missing_unknown_and_duplicate_models_are_refused() {
    let pump = parse_nodeset(PUMP).expect("parses");
    let base = parse_nodeset(MINI_UA).expect("parses");
    match import(std::slice::from_ref(&pump), &[]) {
        Err(NodesetError::MissingModel { required, .. }) => {
            assert_eq!(required, "http://opcfoundation.org/UA/");
        }
        other => panic!("expected a missing model, got {other:?}"),
    }
    let both = [base.clone(), pump.clone()];
    assert!(matches!(
        import(&both, &["http://example.com/Other/"]),
        Err(NodesetError::UnknownModel { .. })
    ));
    let twice = [base, pump.clone(), pump];
    assert!(matches!(
        import(&twice, &[]),
        Err(NodesetError::DuplicateModel { .. })
    ));
}

/// Namespace indexes are per file: the same model numbered differently in two
/// files (index 1 here, index 2 there) must produce the same interfaces.
#[test]
fn namespace_indexes_are_remapped_per_file() {
    let renumbered = PUMP
        .replace(
            "<Uri>http://example.com/Pumps/</Uri>",
            "<Uri>http://example.com/Unused/</Uri><Uri>http://example.com/Pumps/</Uri>",
        )
        .replace("ns=1;", "ns=2;")
        .replace("\"1:", "\"2:");
    let sets = [
        parse_nodeset(MINI_UA).expect("parses"),
        parse_nodeset(&renumbered).expect("renumbered parses"),
    ];
    let again = import(&sets, &["http://example.com/Pumps/"]).expect("imports");
    assert_eq!(again.interfaces, pump_import().interfaces);
}

/// Found by fuzzing: two object types whose browse names are alike (here the
/// base model's `BaseObjectType` declared again under another id) were given the
/// same DTMI, which the validator refuses. The later one now gets its node
/// identifier as an extra segment.
#[test]
fn fuzz_duplicate_browse_names_get_distinct_dtmis() {
    let clash = r#"<UANodeSet>
  <UAObjectType NodeId="i=5000" BrowseName="BaseObjectType"/>
  <UAObjectType NodeId="i=5001" BrowseName="0:BaseObjectType"/>
</UANodeSet>"#;
    let sets = [
        parse_nodeset(MINI_UA).expect("parses"),
        parse_nodeset(clash).expect("parses"),
    ];
    let result = import(&sets, &[]).expect("imports");
    let mut ids: Vec<&str> = result
        .interfaces
        .iter()
        .filter_map(|interface| interface["@id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "dtmi:opcfoundation:org:UA:BaseObjectType:i_3D5000;1.5",
            "dtmi:opcfoundation:org:UA:BaseObjectType:i_3D5001;1.5",
            "dtmi:opcfoundation:org:UA:BaseObjectType;1.5",
        ]
    );
}

/// Found by fuzzing: an enumeration repeating a value became an Enum the
/// validator refuses; the repeat is now left out.
#[test]
fn fuzz_repeated_enum_value_is_left_out() {
    let repeated = PUMP.replace(
        r#"<Field Name="On" Value="1"/>"#,
        r#"<Field Name="On" Value="0"/>"#,
    );
    let sets = [
        parse_nodeset(MINI_UA).expect("parses"),
        parse_nodeset(&repeated).expect("parses"),
    ];
    let result = import(&sets, &[]).expect("imports");
    let pump = interface(&result, "dtmi:example:com:Pumps:PumpType;2.1");
    let values = content(pump, "Mode")["schema"]["enumValues"]
        .as_array()
        .map(Vec::len);
    assert_eq!(values, Some(2));
}

/// Found by fuzzing: an object type given the node id of an instance
/// declaration (here `BigPumpType` reusing the pump's `Motor` object id) got an
/// interface of its own under that id, replacing the Motor declaration's
/// interface that `PumpType` refers to. A node id given twice keeps its first
/// definition everywhere, so the later object type is left out.
#[test]
fn fuzz_object_type_reusing_an_object_node_id_is_left_out() {
    let reused = PUMP.replace(
        r#"<UAObjectType NodeId="ns=1;i=1003" BrowseName="1:BigPumpType">"#,
        r#"<UAObjectType NodeId="ns=1;i=2006" BrowseName="1:BigPumpType">"#,
    );
    assert_ne!(reused, PUMP, "the test edits the pump document");
    let sets = [
        parse_nodeset(MINI_UA).expect("parses"),
        parse_nodeset(&reused).expect("parses"),
    ];
    let result = import(&sets, &[]).expect("imports");
    let ids: Vec<&str> = result
        .interfaces
        .iter()
        .filter_map(|interface| interface["@id"].as_str())
        .collect();
    assert!(
        ids.contains(&"dtmi:example:com:Pumps:PumpType:Motor;2.1"),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"dtmi:example:com:Pumps:BigPumpType;2.1"),
        "{ids:?}"
    );
}
