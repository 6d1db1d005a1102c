//! Feeds arbitrary bytes as a NodeSet2 document, imported on top of a miniature
//! base model: parsing and importing must answer with a result or an error, never
//! panic, and an import that succeeds has passed the DTDL validator; the one error
//! that means a bug in the importer (generated DTDL the validator refuses) fails
//! the run.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nodeset::{NodeSet, NodesetError, import, parse_nodeset};

/// The reference and data type hierarchy the importer walks (as in the crate's
/// feature tests), so fuzzed models that require the base model get imported.
const BASE: &str = r#"<UANodeSet xmlns="http://opcfoundation.org/UA/2011/03/UANodeSet.xsd">
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

fn base() -> &'static NodeSet {
    static BASE_SET: OnceLock<NodeSet> = OnceLock::new();
    BASE_SET.get_or_init(|| parse_nodeset(BASE).expect("the base seed parses"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(document) = parse_nodeset(&text) else {
        return;
    };
    // With the base (as real imports run), and alone.
    for sets in [vec![base().clone(), document.clone()], vec![document]] {
        if let Err(NodesetError::Generated(problems)) = import(&sets, &[]) {
            panic!("the importer generated DTDL the validator refuses: {problems}");
        }
    }
});
