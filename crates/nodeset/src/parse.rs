//! Reads one `*.NodeSet2.xml` document into [`NodeSet`]: its models, and its nodes
//! with every node id and browse name already turned from the file's local namespace
//! indexes into namespace URIs (and aliases expanded), so nodes from several files
//! can be joined without caring how each file numbered its namespaces.

use std::collections::HashMap;

use crate::error::NodesetError;
use crate::limits::{MAX_NAMESPACES, MAX_NODES};
use crate::xml::{Element, parse_tree};

/// The OPC UA base namespace, index 0 in every file.
pub const UA_NAMESPACE: &str = "http://opcfoundation.org/UA/";

/// A node id made global: the namespace URI plus the identifier as written after
/// `ns=N;` (`i=85`, `s=Name`, `g=…`, `b=…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    /// Namespace URI.
    pub namespace: String,
    /// Identifier with its type prefix.
    pub identifier: String,
}

impl NodeKey {
    /// A node of the base namespace with a numeric identifier.
    pub fn ua(number: u32) -> NodeKey {
        NodeKey {
            namespace: UA_NAMESPACE.to_owned(),
            identifier: format!("i={number}"),
        }
    }
}

impl std::fmt::Display for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nsu={};{}", self.namespace, self.identifier)
    }
}

/// The class of a node, from its element name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeClass {
    /// `UAObject`
    Object,
    /// `UAVariable`
    Variable,
    /// `UAMethod`
    Method,
    /// `UAObjectType`
    ObjectType,
    /// `UAVariableType`
    VariableType,
    /// `UADataType`
    DataType,
    /// `UAReferenceType`
    ReferenceType,
    /// `UAView`
    View,
}

/// One reference of a node, made forward-or-inverse explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The reference type's node.
    pub reference_type: NodeKey,
    /// The other end.
    pub target: NodeKey,
    /// `IsForward` (default true).
    pub forward: bool,
}

/// One field of a structure or one value of an enumeration (`<Definition><Field>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Field or enumeration value name.
    pub name: String,
    /// Data type of a structure field.
    pub data_type: Option<NodeKey>,
    /// `ValueRank` (-1 scalar, 1 array, ...).
    pub value_rank: i32,
    /// Enumeration value.
    pub value: Option<i64>,
    /// The first description.
    pub description: Option<String>,
}

/// A data type's `<Definition>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Definition {
    /// Fields (structures) or values (enumerations).
    pub fields: Vec<Field>,
    /// `IsUnion`.
    pub is_union: bool,
    /// `IsOptionSet`: a bit mask, not an enumeration.
    pub is_option_set: bool,
}

/// A method argument from an `InputArguments`/`OutputArguments` value.
#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    /// Argument name.
    pub name: String,
    /// Its data type.
    pub data_type: Option<NodeKey>,
    /// `ValueRank`.
    pub value_rank: i32,
    /// Description text.
    pub description: Option<String>,
}

/// An `EUInformation` value (engineering unit).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EngineeringUnit {
    /// UNECE common code packed as in OPC UA Part 8 (`UnitId`).
    pub unit_id: Option<i64>,
    /// Display name text (`°C`, `mm`).
    pub display_name: Option<String>,
}

/// One node with its attributes and references.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Node class.
    pub class: NodeClass,
    /// Global node id.
    pub id: NodeKey,
    /// Browse name namespace URI.
    pub browse_namespace: String,
    /// Browse name text without its namespace prefix.
    pub browse_name: String,
    /// First display name.
    pub display_name: Option<String>,
    /// First description.
    pub description: Option<String>,
    /// `IsAbstract`.
    pub is_abstract: bool,
    /// `DataType` of variables and variable types.
    pub data_type: Option<NodeKey>,
    /// `ValueRank` (default -1, scalar).
    pub value_rank: i32,
    /// `AccessLevel` (default 1, readable).
    pub access_level: u32,
    /// `ParentNodeId`.
    pub parent: Option<NodeKey>,
    /// `MethodDeclarationId`.
    pub method_declaration: Option<NodeKey>,
    /// References as written.
    pub references: Vec<Reference>,
    /// Data type definition.
    pub definition: Option<Definition>,
    /// Arguments when the value is a list of `Argument`.
    pub arguments: Vec<Argument>,
    /// Engineering unit when the value is an `EUInformation`.
    pub engineering_unit: Option<EngineeringUnit>,
    /// `(low, high)` when the value is a `Range`.
    pub range: Option<(f64, f64)>,
}

/// A model the document defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// `ModelUri`.
    pub uri: String,
    /// `Version` (may be empty).
    pub version: String,
    /// `PublicationDate`.
    pub publication_date: Option<String>,
    /// `(ModelUri, Version)` of each `RequiredModel`.
    pub required: Vec<(String, String)>,
}

/// One parsed NodeSet2 document.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSet {
    /// Namespace URIs the document declares (its indexes 1, 2, ...).
    pub namespaces: Vec<String>,
    /// Models it defines.
    pub models: Vec<Model>,
    /// Its nodes in document order.
    pub nodes: Vec<Node>,
}

/// Turns local node ids, aliases and browse names into global ones.
struct Context {
    namespaces: Vec<String>,
    aliases: HashMap<String, String>,
}

impl Context {
    fn namespace(&self, index: usize, offset: usize) -> Result<String, NodesetError> {
        if index == 0 {
            return Ok(UA_NAMESPACE.to_owned());
        }
        self.namespaces
            .get(index - 1)
            .cloned()
            .ok_or_else(|| NodesetError::Invalid {
                offset,
                message: format!(
                    "namespace index {index} is not declared; <NamespaceUris> lists {} URIs",
                    self.namespaces.len()
                ),
            })
    }

    /// Parses `ns=N;i=…`, `nsu=URI;i=…`, `i=…` or an alias.
    fn node_id(&self, text: &str, offset: usize) -> Result<NodeKey, NodesetError> {
        let text = text.trim();
        let text = self.aliases.get(text).map_or(text, String::as_str);
        let (namespace, identifier) = if let Some(rest) = text.strip_prefix("ns=") {
            let (index, identifier) = rest
                .split_once(';')
                .ok_or_else(|| invalid_id(text, offset))?;
            let index: usize = index.parse().map_err(|_| invalid_id(text, offset))?;
            (self.namespace(index, offset)?, identifier)
        } else if let Some(rest) = text.strip_prefix("nsu=") {
            let (uri, identifier) = rest
                .split_once(';')
                .ok_or_else(|| invalid_id(text, offset))?;
            (uri.to_owned(), identifier)
        } else {
            (UA_NAMESPACE.to_owned(), text)
        };
        let valid = ["i=", "s=", "g=", "b="]
            .iter()
            .any(|prefix| identifier.starts_with(prefix))
            && (!identifier.starts_with("i=") || identifier[2..].parse::<u32>().is_ok());
        if !valid {
            return Err(invalid_id(text, offset));
        }
        Ok(NodeKey {
            namespace,
            identifier: identifier.to_owned(),
        })
    }

    /// Splits `N:Name` into its namespace URI and name.
    fn browse_name(&self, text: &str, offset: usize) -> Result<(String, String), NodesetError> {
        if let Some((index, name)) = text.split_once(':')
            && let Ok(index) = index.parse::<usize>()
        {
            return Ok((self.namespace(index, offset)?, name.to_owned()));
        }
        Ok((UA_NAMESPACE.to_owned(), text.to_owned()))
    }
}

fn invalid_id(text: &str, offset: usize) -> NodesetError {
    NodesetError::Invalid {
        offset,
        message: format!(
            "`{text}` is neither a node id (`ns=1;i=5`, `i=5`, `s=…`, `g=…`, `b=…`) nor a declared alias"
        ),
    }
}

fn required_attribute<'a>(element: &'a Element, name: &str) -> Result<&'a str, NodesetError> {
    element
        .attribute(name)
        .ok_or_else(|| NodesetError::Invalid {
            offset: element.offset,
            message: format!(
                "<{}> has no `{name}` attribute, which it requires",
                element.name
            ),
        })
}

fn integer_attribute<T: std::str::FromStr>(
    element: &Element,
    name: &str,
    default: T,
) -> Result<T, NodesetError> {
    match element.attribute(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| NodesetError::Invalid {
            offset: element.offset,
            message: format!("`{name}` of <{}> is `{text}`, not an integer", element.name),
        }),
    }
}

fn boolean_attribute(element: &Element, name: &str) -> bool {
    element
        .attribute(name)
        .is_some_and(|value| value.trim() == "true")
}

/// Parses one NodeSet2 document.
pub fn parse_nodeset(source: &str) -> Result<NodeSet, NodesetError> {
    let root = parse_tree(source.strip_prefix('\u{feff}').unwrap_or(source))?;
    if root.name != "UANodeSet" {
        return Err(NodesetError::Invalid {
            offset: root.offset,
            message: format!("the root element is <{}>; expected <UANodeSet>", root.name),
        });
    }
    let mut namespaces = Vec::new();
    if let Some(uris) = root.child("NamespaceUris") {
        for uri in uris.children_named("Uri") {
            if namespaces.len() >= MAX_NAMESPACES {
                return Err(NodesetError::Limit {
                    what: "number of namespace URIs",
                    limit: MAX_NAMESPACES,
                    offset: uri.offset,
                });
            }
            namespaces.push(uri.text.trim().to_owned());
        }
    }
    let mut aliases = HashMap::new();
    if let Some(list) = root.child("Aliases") {
        for alias in list.children_named("Alias") {
            aliases.insert(
                required_attribute(alias, "Alias")?.to_owned(),
                alias.text.trim().to_owned(),
            );
        }
    }
    let context = Context {
        namespaces,
        aliases,
    };
    let mut models = Vec::new();
    if let Some(list) = root.child("Models") {
        for model in list.children_named("Model") {
            models.push(Model {
                uri: required_attribute(model, "ModelUri")?.to_owned(),
                version: model.attribute("Version").unwrap_or_default().to_owned(),
                publication_date: model.attribute("PublicationDate").map(str::to_owned),
                required: model
                    .children_named("RequiredModel")
                    .map(|required| {
                        Ok((
                            required_attribute(required, "ModelUri")?.to_owned(),
                            required.attribute("Version").unwrap_or_default().to_owned(),
                        ))
                    })
                    .collect::<Result<_, NodesetError>>()?,
            });
        }
    }
    let mut nodes = Vec::new();
    for element in &root.children {
        let class = match element.name.as_str() {
            "UAObject" => NodeClass::Object,
            "UAVariable" => NodeClass::Variable,
            "UAMethod" => NodeClass::Method,
            "UAObjectType" => NodeClass::ObjectType,
            "UAVariableType" => NodeClass::VariableType,
            "UADataType" => NodeClass::DataType,
            "UAReferenceType" => NodeClass::ReferenceType,
            "UAView" => NodeClass::View,
            _ => continue,
        };
        if nodes.len() >= MAX_NODES {
            return Err(NodesetError::Limit {
                what: "number of nodes",
                limit: MAX_NODES,
                offset: element.offset,
            });
        }
        nodes.push(parse_node(&context, class, element)?);
    }
    Ok(NodeSet {
        namespaces: context.namespaces,
        models,
        nodes,
    })
}

fn parse_node(
    context: &Context,
    class: NodeClass,
    element: &Element,
) -> Result<Node, NodesetError> {
    let offset = element.offset;
    let id = context.node_id(required_attribute(element, "NodeId")?, offset)?;
    let (browse_namespace, browse_name) =
        context.browse_name(required_attribute(element, "BrowseName")?, offset)?;
    let optional_id = |name: &str| {
        element
            .attribute(name)
            .map(|text| context.node_id(text, offset))
            .transpose()
    };
    let mut references = Vec::new();
    if let Some(list) = element.child("References") {
        for reference in list.children_named("Reference") {
            references.push(Reference {
                reference_type: context.node_id(
                    required_attribute(reference, "ReferenceType")?,
                    reference.offset,
                )?,
                target: context.node_id(&reference.text, reference.offset)?,
                forward: reference.attribute("IsForward").map(str::trim) != Some("false"),
            });
        }
    }
    let definition = match element.child("Definition") {
        None => None,
        Some(definition) => {
            let mut fields = Vec::new();
            for field in definition.children_named("Field") {
                fields.push(Field {
                    name: required_attribute(field, "Name")?.to_owned(),
                    data_type: field
                        .attribute("DataType")
                        .map(|text| context.node_id(text, field.offset))
                        .transpose()?,
                    value_rank: integer_attribute(field, "ValueRank", -1)?,
                    value: field
                        .attribute("Value")
                        .map(|_| integer_attribute(field, "Value", 0i64))
                        .transpose()?,
                    description: field.child_text("Description").map(str::to_owned),
                });
            }
            Some(Definition {
                fields,
                is_union: boolean_attribute(definition, "IsUnion"),
                is_option_set: boolean_attribute(definition, "IsOptionSet"),
            })
        }
    };
    let mut node = Node {
        class,
        id,
        browse_namespace,
        browse_name,
        display_name: element.child_text("DisplayName").map(str::to_owned),
        description: element
            .child_text("Description")
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
        is_abstract: boolean_attribute(element, "IsAbstract"),
        data_type: optional_id("DataType")?,
        value_rank: integer_attribute(element, "ValueRank", -1)?,
        access_level: integer_attribute(element, "AccessLevel", 1)?,
        parent: optional_id("ParentNodeId")?,
        method_declaration: optional_id("MethodDeclarationId")?,
        references,
        definition,
        arguments: Vec::new(),
        engineering_unit: None,
        range: None,
    };
    if let Some(value) = element.child("Value") {
        read_value(context, value, &mut node)?;
    }
    Ok(node)
}

/// Picks out the values the importer uses: argument lists, an engineering unit and
/// a range. Other values (defaults of properties) are not needed for DTDL.
fn read_value(context: &Context, value: &Element, node: &mut Node) -> Result<(), NodesetError> {
    let extension_objects: Vec<&Element> = match value.child("ListOfExtensionObject") {
        Some(list) => list.children_named("ExtensionObject").collect(),
        None => value.children_named("ExtensionObject").collect(),
    };
    for object in extension_objects {
        let Some(body) = object.child("Body") else {
            continue;
        };
        if let Some(argument) = body.child("Argument") {
            let data_type = argument
                .child("DataType")
                .and_then(|data_type| data_type.child_text("Identifier"))
                .map(|text| context.node_id(text, argument.offset))
                .transpose()?;
            node.arguments.push(Argument {
                name: argument.child_text("Name").unwrap_or_default().to_owned(),
                data_type,
                value_rank: argument
                    .child_text("ValueRank")
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(-1),
                description: argument
                    .child("Description")
                    .and_then(|description| description.child_text("Text"))
                    .filter(|text| !text.is_empty())
                    .map(str::to_owned),
            });
        }
        if let Some(unit) = body.child("EUInformation") {
            node.engineering_unit = Some(EngineeringUnit {
                unit_id: unit.child_text("UnitId").and_then(|text| text.parse().ok()),
                display_name: unit
                    .child("DisplayName")
                    .and_then(|name| name.child_text("Text"))
                    .map(str::to_owned),
            });
        }
        if let Some(range) = body.child("Range") {
            let low = range.child_text("Low").and_then(|text| text.parse().ok());
            let high = range.child_text("High").and_then(|text| text.parse().ok());
            if let (Some(low), Some(high)) = (low, high) {
                node.range = Some((low, high));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<UANodeSet xmlns="http://opcfoundation.org/UA/2011/03/UANodeSet.xsd">
  <NamespaceUris><Uri>http://example.com/A/</Uri></NamespaceUris>
  <Models><Model ModelUri="http://example.com/A/" Version="1.2.0">
    <RequiredModel ModelUri="http://opcfoundation.org/UA/" Version="1.05.02"/></Model></Models>
  <Aliases><Alias Alias="HasComponent">i=47</Alias><Alias Alias="HasSubtype">i=45</Alias></Aliases>
  <UAObjectType NodeId="ns=1;i=1" BrowseName="1:PumpType">
    <References>
      <Reference ReferenceType="HasSubtype" IsForward="false">i=58</Reference>
      <Reference ReferenceType="HasComponent">ns=1;i=2</Reference>
    </References>
  </UAObjectType>
  <UAVariable NodeId="ns=1;i=3" BrowseName="EURange" ParentNodeId="ns=1;i=2" DataType="i=884">
    <Value><ExtensionObject xmlns="http://opcfoundation.org/UA/2008/02/Types.xsd"><TypeId><Identifier>i=886</Identifier></TypeId>
      <Body><Range><Low>0</Low><High>100.5</High></Range></Body></ExtensionObject></Value>
  </UAVariable>
</UANodeSet>"#;

    #[test]
    fn reads_models_aliases_references_and_values() {
        let set = parse_nodeset(SAMPLE).expect("valid");
        assert_eq!(set.models[0].uri, "http://example.com/A/");
        assert_eq!(set.models[0].required[0].0, UA_NAMESPACE);
        let pump = &set.nodes[0];
        assert_eq!(pump.browse_namespace, "http://example.com/A/");
        assert_eq!(pump.browse_name, "PumpType");
        assert!(!pump.references[0].forward);
        assert_eq!(pump.references[1].reference_type, NodeKey::ua(47));
        assert_eq!(set.nodes[1].range, Some((0.0, 100.5)));
    }

    #[test]
    fn refuses_undeclared_namespace_and_bad_ids() {
        let bad = SAMPLE.replace("ns=1;i=3", "ns=7;i=3");
        assert!(parse_nodeset(&bad).is_err());
        let bad = SAMPLE.replace("ns=1;i=3", "garbage");
        assert!(parse_nodeset(&bad).is_err());
        assert!(parse_nodeset("<Other/>").is_err());
    }
}
