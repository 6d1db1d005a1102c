//! The AAS metamodel v3.0 (IDTA-01001-3-0) as Rust types: every class of the
//! official schema with its properties in the schema's order, required
//! properties as plain fields and optional ones as `Option`. Lists stay
//! `Option<Vec<_>>` so that an empty list, which the schema forbids and
//! verification flags, is told apart from an absent one.
//!
//! Abstract classes that occur as values are enums over their concrete classes
//! ([`SubmodelElement`], [`DataSpecificationContent`]); the shared properties of
//! the submodel elements are reached through [`SubmodelElement`]'s accessors.
//! The property lists were written from the official `schema.json`/`AAS.xsd`; the
//! `class!` macro (`codec.rs`) gives each class its JSON and XML forms.

use crate::codec::{choice, class, enumeration};

enumeration! {
    /// The submodel element classes, as named by a list's `typeValueListElement`.
    AasSubmodelElements;
    AnnotatedRelationshipElement = "AnnotatedRelationshipElement",
    BasicEventElement = "BasicEventElement",
    Blob = "Blob",
    Capability = "Capability",
    DataElement = "DataElement",
    Entity = "Entity",
    EventElement = "EventElement",
    File = "File",
    MultiLanguageProperty = "MultiLanguageProperty",
    Operation = "Operation",
    Property = "Property",
    Range = "Range",
    ReferenceElement = "ReferenceElement",
    RelationshipElement = "RelationshipElement",
    SubmodelElement = "SubmodelElement",
    SubmodelElementCollection = "SubmodelElementCollection",
    SubmodelElementList = "SubmodelElementList",
}

enumeration! {
    /// Whether an asset is a type, an instance, or neither.
    AssetKind;
    Instance = "Instance",
    NotApplicable = "NotApplicable",
    Type = "Type",
}

enumeration! {
    /// The XML Schema value types a property, range, qualifier or extension value may have.
    DataTypeDefXsd;
    AnyUri = "xs:anyURI",
    Base64Binary = "xs:base64Binary",
    Boolean = "xs:boolean",
    Byte = "xs:byte",
    Date = "xs:date",
    DateTime = "xs:dateTime",
    Decimal = "xs:decimal",
    Double = "xs:double",
    Duration = "xs:duration",
    Float = "xs:float",
    GDay = "xs:gDay",
    GMonth = "xs:gMonth",
    GMonthDay = "xs:gMonthDay",
    GYear = "xs:gYear",
    GYearMonth = "xs:gYearMonth",
    HexBinary = "xs:hexBinary",
    Int = "xs:int",
    Integer = "xs:integer",
    Long = "xs:long",
    NegativeInteger = "xs:negativeInteger",
    NonNegativeInteger = "xs:nonNegativeInteger",
    NonPositiveInteger = "xs:nonPositiveInteger",
    PositiveInteger = "xs:positiveInteger",
    Short = "xs:short",
    String = "xs:string",
    Time = "xs:time",
    UnsignedByte = "xs:unsignedByte",
    UnsignedInt = "xs:unsignedInt",
    UnsignedLong = "xs:unsignedLong",
    UnsignedShort = "xs:unsignedShort",
}

enumeration! {
    /// The data types of IEC 61360 concept descriptions.
    DataTypeIec61360;
    Blob = "BLOB",
    Boolean = "BOOLEAN",
    Date = "DATE",
    File = "FILE",
    Html = "HTML",
    IntegerCount = "INTEGER_COUNT",
    IntegerCurrency = "INTEGER_CURRENCY",
    IntegerMeasure = "INTEGER_MEASURE",
    Irdi = "IRDI",
    Iri = "IRI",
    Rational = "RATIONAL",
    RationalMeasure = "RATIONAL_MEASURE",
    RealCount = "REAL_COUNT",
    RealCurrency = "REAL_CURRENCY",
    RealMeasure = "REAL_MEASURE",
    String = "STRING",
    StringTranslatable = "STRING_TRANSLATABLE",
    Time = "TIME",
    Timestamp = "TIMESTAMP",
}

enumeration! {
    /// Whether an event element receives or sends events.
    Direction;
    Input = "input",
    Output = "output",
}

enumeration! {
    /// Whether an entity has an asset administration shell of its own.
    EntityType;
    CoManagedEntity = "CoManagedEntity",
    SelfManagedEntity = "SelfManagedEntity",
}

enumeration! {
    /// What a reference key points at.
    KeyTypes;
    AnnotatedRelationshipElement = "AnnotatedRelationshipElement",
    AssetAdministrationShell = "AssetAdministrationShell",
    BasicEventElement = "BasicEventElement",
    Blob = "Blob",
    Capability = "Capability",
    ConceptDescription = "ConceptDescription",
    DataElement = "DataElement",
    Entity = "Entity",
    EventElement = "EventElement",
    File = "File",
    FragmentReference = "FragmentReference",
    GlobalReference = "GlobalReference",
    Identifiable = "Identifiable",
    MultiLanguageProperty = "MultiLanguageProperty",
    Operation = "Operation",
    Property = "Property",
    Range = "Range",
    Referable = "Referable",
    ReferenceElement = "ReferenceElement",
    RelationshipElement = "RelationshipElement",
    Submodel = "Submodel",
    SubmodelElement = "SubmodelElement",
    SubmodelElementCollection = "SubmodelElementCollection",
    SubmodelElementList = "SubmodelElementList",
}

enumeration! {
    /// Whether a submodel is a template or an instance.
    ModellingKind;
    Instance = "Instance",
    Template = "Template",
}

enumeration! {
    /// What a qualifier qualifies.
    QualifierKind;
    ConceptQualifier = "ConceptQualifier",
    TemplateQualifier = "TemplateQualifier",
    ValueQualifier = "ValueQualifier",
}

enumeration! {
    /// Whether a reference points into an AAS environment or outside it.
    ReferenceTypes;
    ExternalReference = "ExternalReference",
    ModelReference = "ModelReference",
}

enumeration! {
    /// Whether an event element is switched on.
    StateOfEvent;
    Off = "off",
    On = "on",
}

class! {
    /// A set of shells, submodels and concept descriptions: the unit a file or package holds.
    Environment, "environment", None;
    o asset_administration_shells: Vec<AssetAdministrationShell> = "assetAdministrationShells" list,
    o submodels: Vec<Submodel> = "submodels" list,
    o concept_descriptions: Vec<ConceptDescription> = "conceptDescriptions" list,
}

class! {
    /// The digital representation of one asset: its identity, asset information and the submodels that describe it.
    AssetAdministrationShell, "assetAdministrationShell", Some("AssetAdministrationShell");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o administration: AdministrativeInformation = "administration" node,
    r id: String = "id" identifier,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o derived_from: Reference = "derivedFrom" node,
    r asset_information: AssetInformation = "assetInformation" node,
    o submodels: Vec<Reference> = "submodels" list,
}

class! {
    /// What identifies the asset a shell describes.
    AssetInformation, "assetInformation", None;
    r asset_kind: AssetKind = "assetKind" nothing,
    o global_asset_id: String = "globalAssetId" identifier,
    o specific_asset_ids: Vec<SpecificAssetId> = "specificAssetIds" list,
    o asset_type: String = "assetType" identifier,
    o default_thumbnail: Resource = "defaultThumbnail" node,
}

class! {
    /// A file (path and content type), such as a thumbnail.
    Resource, "resource", None;
    r path: String = "path" path_type,
    o content_type: String = "contentType" content_type,
}

class! {
    /// An asset identifier in a given naming scheme (serial number, part number, …).
    SpecificAssetId, "specificAssetId", None;
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    r name: String = "name" label_type,
    r value: String = "value" identifier,
    o external_subject_id: Reference = "externalSubjectId" node,
}

class! {
    /// One aspect of an asset (nameplate, technical data, time series, …) as a tree of submodel elements.
    Submodel, "submodel", Some("Submodel");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o administration: AdministrativeInformation = "administration" node,
    r id: String = "id" identifier,
    o kind: ModellingKind = "kind" nothing,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o submodel_elements: Vec<SubmodelElement> = "submodelElements" list,
}

class! {
    /// A relationship between two referable elements.
    RelationshipElement, "relationshipElement", Some("RelationshipElement");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    r first: Reference = "first" node,
    r second: Reference = "second" node,
}

class! {
    /// A relationship carrying data elements as annotations.
    AnnotatedRelationshipElement, "annotatedRelationshipElement", Some("AnnotatedRelationshipElement");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    r first: Reference = "first" node,
    r second: Reference = "second" node,
    o annotations: Vec<SubmodelElement> = "annotations" list,
}

class! {
    /// An event source or sink and how its messages are sent.
    BasicEventElement, "basicEventElement", Some("BasicEventElement");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    r observed: Reference = "observed" node,
    r direction: Direction = "direction" nothing,
    r state: StateOfEvent = "state" nothing,
    o message_topic: String = "messageTopic" message_topic,
    o message_broker: Reference = "messageBroker" node,
    o last_update: String = "lastUpdate" date_time_utc,
    o min_interval: String = "minInterval" duration,
    o max_interval: String = "maxInterval" duration,
}

class! {
    /// Binary data held in the model, with its content type.
    Blob, "blob", Some("Blob");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o value: Vec<u8> = "value" nothing,
    r content_type: String = "contentType" content_type,
}

class! {
    /// Something the asset can do, declared without data.
    Capability, "capability", Some("Capability");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
}

class! {
    /// An asset (co-managed or with a shell of its own) within a structure such as a bill of materials.
    Entity, "entity", Some("Entity");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o statements: Vec<SubmodelElement> = "statements" list,
    r entity_type: EntityType = "entityType" nothing,
    o global_asset_id: String = "globalAssetId" identifier,
    o specific_asset_ids: Vec<SpecificAssetId> = "specificAssetIds" list,
}

class! {
    /// A file referred to by path or URI, with its content type.
    File, "file", Some("File");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o value: String = "value" path_type,
    r content_type: String = "contentType" content_type,
}

class! {
    /// A property whose value is text in several languages.
    MultiLanguageProperty, "multiLanguageProperty", Some("MultiLanguageProperty");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o value: Vec<LangStringTextType> = "value" list,
    o value_id: Reference = "valueId" node,
}

class! {
    /// A callable operation with input, output and in/output variables.
    Operation, "operation", Some("Operation");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o input_variables: Vec<OperationVariable> = "inputVariables" list,
    o output_variables: Vec<OperationVariable> = "outputVariables" list,
    o inoutput_variables: Vec<OperationVariable> = "inoutputVariables" list,
}

class! {
    /// One variable of an operation, described by a submodel element.
    OperationVariable, "operationVariable", None;
    r value: SubmodelElement = "value" node,
}

class! {
    /// A single value with its XML Schema value type.
    Property, "property", Some("Property");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    r value_type: DataTypeDefXsd = "valueType" nothing,
    o value: String = "value" value_data_type,
    o value_id: Reference = "valueId" node,
}

class! {
    /// A range of values (min and max) of one value type.
    Range, "range", Some("Range");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    r value_type: DataTypeDefXsd = "valueType" nothing,
    o min: String = "min" value_data_type,
    o max: String = "max" value_data_type,
}

class! {
    /// A reference held as a value.
    ReferenceElement, "referenceElement", Some("ReferenceElement");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o value: Reference = "value" node,
}

class! {
    /// A set of submodel elements addressed by idShort.
    SubmodelElementCollection, "submodelElementCollection", Some("SubmodelElementCollection");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o value: Vec<SubmodelElement> = "value" list,
}

class! {
    /// An ordered list of submodel elements of one kind, addressed by index.
    SubmodelElementList, "submodelElementList", Some("SubmodelElementList");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o qualifiers: Vec<Qualifier> = "qualifiers" list,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o order_relevant: bool = "orderRelevant" nothing,
    o semantic_id_list_element: Reference = "semanticIdListElement" node,
    r type_value_list_element: AasSubmodelElements = "typeValueListElement" nothing,
    o value_type_list_element: DataTypeDefXsd = "valueTypeListElement" nothing,
    o value: Vec<SubmodelElement> = "value" list,
}

class! {
    /// The semantics of an element, typically as an IEC 61360 data specification.
    ConceptDescription, "conceptDescription", Some("ConceptDescription");
    o extensions: Vec<Extension> = "extensions" list,
    o category: String = "category" name_type,
    o id_short: String = "idShort" id_short,
    o display_name: Vec<LangStringNameType> = "displayName" list,
    o description: Vec<LangStringTextType> = "description" list,
    o administration: AdministrativeInformation = "administration" node,
    r id: String = "id" identifier,
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o is_case_of: Vec<Reference> = "isCaseOf" list,
}

class! {
    /// A reference: to a model element (key chain) or to something outside the model.
    Reference, "reference", None;
    r r#type: ReferenceTypes = "type" nothing,
    o referred_semantic_id: Box<Reference> = "referredSemanticId" node,
    r keys: Vec<Key> = "keys" list,
}

class! {
    /// One step of a reference's key chain.
    Key, "key", None;
    r r#type: KeyTypes = "type" nothing,
    r value: String = "value" identifier,
}

class! {
    /// A proprietary name/value attached to an element.
    Extension, "extension", None;
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    r name: String = "name" name_type,
    o value_type: DataTypeDefXsd = "valueType" nothing,
    o value: String = "value" value_data_type,
    o refers_to: Vec<Reference> = "refersTo" list,
}

class! {
    /// Version, revision, creator and template of an identifiable element.
    AdministrativeInformation, "administrativeInformation", None;
    o embedded_data_specifications: Vec<EmbeddedDataSpecification> = "embeddedDataSpecifications" list,
    o version: String = "version" version_type,
    o revision: String = "revision" revision_type,
    o creator: Reference = "creator" node,
    o template_id: String = "templateId" identifier,
}

class! {
    /// A typed value that qualifies an element (a constraint, a unit, a multiplicity, …).
    Qualifier, "qualifier", None;
    o semantic_id: Reference = "semanticId" node,
    o supplemental_semantic_ids: Vec<Reference> = "supplementalSemanticIds" list,
    o kind: QualifierKind = "kind" nothing,
    r r#type: String = "type" qualifier_type,
    r value_type: DataTypeDefXsd = "valueType" nothing,
    o value: String = "value" value_data_type,
    o value_id: Reference = "valueId" node,
}

class! {
    /// A data specification template and its content, embedded in an element.
    EmbeddedDataSpecification, "embeddedDataSpecification", None;
    r data_specification: Reference = "dataSpecification" node,
    r data_specification_content: DataSpecificationContent = "dataSpecificationContent" node,
}

class! {
    /// IEC 61360 content of a data specification: names, unit, data type, definition, values.
    DataSpecificationIec61360, "dataSpecificationIec61360", Some("DataSpecificationIec61360");
    r preferred_name: Vec<LangStringPreferredNameTypeIec61360> = "preferredName" list,
    o short_name: Vec<LangStringShortNameTypeIec61360> = "shortName" list,
    o unit: String = "unit" non_empty_xml_string,
    o unit_id: Reference = "unitId" node,
    o source_of_definition: String = "sourceOfDefinition" non_empty_xml_string,
    o symbol: String = "symbol" non_empty_xml_string,
    o data_type: DataTypeIec61360 = "dataType" nothing,
    o definition: Vec<LangStringDefinitionTypeIec61360> = "definition" list,
    o value_format: String = "valueFormat" non_empty_xml_string,
    o value_list: ValueList = "valueList" node,
    o value: String = "value" value_type_iec61360,
    o level_type: LevelType = "levelType" node,
}

class! {
    /// Which of min, nominal, typical and max values a property has (IEC 61360).
    LevelType, "levelType", None;
    r min: bool = "min" nothing,
    r nom: bool = "nom" nothing,
    r typ: bool = "typ" nothing,
    r max: bool = "max" nothing,
}

class! {
    /// The allowed values of an IEC 61360 property.
    ValueList, "valueList", None;
    r value_reference_pairs: Vec<ValueReferencePair> = "valueReferencePairs" list,
}

class! {
    /// One allowed value and the reference to its meaning.
    ValueReferencePair, "valueReferencePair", None;
    r value: String = "value" value_type_iec61360,
    r value_id: Reference = "valueId" node,
}

class! {
    /// The message a basic event element sends.
    EventPayload, "eventPayload", None;
    r source: Reference = "source" node,
    o source_semantic_id: Reference = "sourceSemanticId" node,
    r observable_reference: Reference = "observableReference" node,
    o observable_semantic_id: Reference = "observableSemanticId" node,
    o topic: String = "topic" message_topic,
    o subject_id: Reference = "subjectId" node,
    r time_stamp: String = "timeStamp" date_time_utc,
    o payload: Vec<u8> = "payload" nothing,
}

class! {
    /// A name in one language (up to 128 characters).
    LangStringNameType, "langStringNameType", None;
    r language: String = "language" bcp47,
    r text: String = "text" non_empty_xml_string,
}

class! {
    /// A text in one language (up to 1023 characters).
    LangStringTextType, "langStringTextType", None;
    r language: String = "language" bcp47,
    r text: String = "text" non_empty_xml_string,
}

class! {
    /// An IEC 61360 preferred name in one language (up to 255 characters).
    LangStringPreferredNameTypeIec61360, "langStringPreferredNameTypeIec61360", None;
    r language: String = "language" bcp47,
    r text: String = "text" non_empty_xml_string,
}

class! {
    /// An IEC 61360 short name in one language (up to 18 characters).
    LangStringShortNameTypeIec61360, "langStringShortNameTypeIec61360", None;
    r language: String = "language" bcp47,
    r text: String = "text" non_empty_xml_string,
}

class! {
    /// An IEC 61360 definition in one language (up to 1023 characters).
    LangStringDefinitionTypeIec61360, "langStringDefinitionTypeIec61360", None;
    r language: String = "language" bcp47,
    r text: String = "text" non_empty_xml_string,
}

choice! {
    /// A submodel element of any concrete class.
    SubmodelElement;
    RelationshipElement,
    AnnotatedRelationshipElement,
    BasicEventElement,
    Blob,
    Capability,
    Entity,
    File,
    MultiLanguageProperty,
    Operation,
    Property,
    Range,
    ReferenceElement,
    SubmodelElementCollection,
    SubmodelElementList,
}

choice! {
    /// The content of an embedded data specification; metamodel 3.0 defines one
    /// kind, IEC 61360.
    DataSpecificationContent;
    DataSpecificationIec61360,
}

/// Gives [`SubmodelElement`] read access to a property every concrete class has.
macro_rules! common {
    ($(#[$meta:meta])* $method:ident, $field:ident, $conv:ident, $ty:ty) => {
        $(#[$meta])*
        pub fn $method(&self) -> $ty {
            match self {
                SubmodelElement::RelationshipElement(e) => e.$field.$conv(),
                SubmodelElement::AnnotatedRelationshipElement(e) => e.$field.$conv(),
                SubmodelElement::BasicEventElement(e) => e.$field.$conv(),
                SubmodelElement::Blob(e) => e.$field.$conv(),
                SubmodelElement::Capability(e) => e.$field.$conv(),
                SubmodelElement::Entity(e) => e.$field.$conv(),
                SubmodelElement::File(e) => e.$field.$conv(),
                SubmodelElement::MultiLanguageProperty(e) => e.$field.$conv(),
                SubmodelElement::Operation(e) => e.$field.$conv(),
                SubmodelElement::Property(e) => e.$field.$conv(),
                SubmodelElement::Range(e) => e.$field.$conv(),
                SubmodelElement::ReferenceElement(e) => e.$field.$conv(),
                SubmodelElement::SubmodelElementCollection(e) => e.$field.$conv(),
                SubmodelElement::SubmodelElementList(e) => e.$field.$conv(),
            }
        }
    };
}

impl SubmodelElement {
    common!(
        /// The element's idShort (absent for items of a list).
        id_short, id_short, as_deref, Option<&str>
    );
    common!(
        /// The element's category.
        category, category, as_deref, Option<&str>
    );
    common!(
        /// The element's semantic id.
        semantic_id, semantic_id, as_ref, Option<&Reference>
    );
    common!(
        /// The element's supplemental semantic ids.
        supplemental_semantic_ids, supplemental_semantic_ids, as_deref, Option<&[Reference]>
    );
    common!(
        /// The element's qualifiers.
        qualifiers, qualifiers, as_deref, Option<&[Qualifier]>
    );
    common!(
        /// The element's extensions.
        extensions, extensions, as_deref, Option<&[Extension]>
    );
    common!(
        /// The element's display names.
        display_name, display_name, as_deref, Option<&[LangStringNameType]>
    );
    common!(
        /// The element's descriptions.
        description, description, as_deref, Option<&[LangStringTextType]>
    );
    common!(
        /// The element's embedded data specifications.
        embedded_data_specifications, embedded_data_specifications, as_deref, Option<&[EmbeddedDataSpecification]>
    );

    /// The element's class as a list's `typeValueListElement` names it.
    pub fn kind(&self) -> AasSubmodelElements {
        match self {
            SubmodelElement::RelationshipElement(_) => AasSubmodelElements::RelationshipElement,
            SubmodelElement::AnnotatedRelationshipElement(_) => {
                AasSubmodelElements::AnnotatedRelationshipElement
            }
            SubmodelElement::BasicEventElement(_) => AasSubmodelElements::BasicEventElement,
            SubmodelElement::Blob(_) => AasSubmodelElements::Blob,
            SubmodelElement::Capability(_) => AasSubmodelElements::Capability,
            SubmodelElement::Entity(_) => AasSubmodelElements::Entity,
            SubmodelElement::File(_) => AasSubmodelElements::File,
            SubmodelElement::MultiLanguageProperty(_) => AasSubmodelElements::MultiLanguageProperty,
            SubmodelElement::Operation(_) => AasSubmodelElements::Operation,
            SubmodelElement::Property(_) => AasSubmodelElements::Property,
            SubmodelElement::Range(_) => AasSubmodelElements::Range,
            SubmodelElement::ReferenceElement(_) => AasSubmodelElements::ReferenceElement,
            SubmodelElement::SubmodelElementCollection(_) => {
                AasSubmodelElements::SubmodelElementCollection
            }
            SubmodelElement::SubmodelElementList(_) => AasSubmodelElements::SubmodelElementList,
        }
    }

    /// Whether the element is a data element (property, multi-language property,
    /// range, reference element, blob or file), the only kinds an annotated
    /// relationship may carry.
    pub fn is_data_element(&self) -> bool {
        matches!(
            self,
            SubmodelElement::Blob(_)
                | SubmodelElement::File(_)
                | SubmodelElement::MultiLanguageProperty(_)
                | SubmodelElement::Property(_)
                | SubmodelElement::Range(_)
                | SubmodelElement::ReferenceElement(_)
        )
    }

    /// The child elements of a collection, list, entity or annotated relationship.
    pub fn children(&self) -> &[SubmodelElement] {
        let children = match self {
            SubmodelElement::SubmodelElementCollection(e) => e.value.as_deref(),
            SubmodelElement::SubmodelElementList(e) => e.value.as_deref(),
            SubmodelElement::Entity(e) => e.statements.as_deref(),
            SubmodelElement::AnnotatedRelationshipElement(e) => e.annotations.as_deref(),
            _ => None,
        };
        children.unwrap_or(&[])
    }
}

impl AasSubmodelElements {
    /// Whether an element of class `kind` is of this (possibly abstract) class.
    pub fn includes(self, kind: AasSubmodelElements) -> bool {
        use AasSubmodelElements as K;
        match self {
            K::SubmodelElement => true,
            K::DataElement => matches!(
                kind,
                K::Blob
                    | K::File
                    | K::MultiLanguageProperty
                    | K::Property
                    | K::Range
                    | K::ReferenceElement
            ),
            K::EventElement => kind == K::BasicEventElement,
            other => other == kind,
        }
    }
}

impl Environment {
    /// An environment with nothing in it.
    pub fn new() -> Environment {
        Environment {
            asset_administration_shells: None,
            submodels: None,
            concept_descriptions: None,
        }
    }
}

impl Default for Environment {
    fn default() -> Environment {
        Environment::new()
    }
}

impl Reference {
    /// A reference of the given type with the given keys.
    pub fn new(reference_type: ReferenceTypes, keys: Vec<Key>) -> Reference {
        Reference {
            r#type: reference_type,
            referred_semantic_id: None,
            keys,
        }
    }

    /// An external reference with one `GlobalReference` key (the usual form of a
    /// semantic id).
    pub fn global(value: impl Into<String>) -> Reference {
        Reference::new(
            ReferenceTypes::ExternalReference,
            vec![Key::new(KeyTypes::GlobalReference, value)],
        )
    }
}

impl Key {
    /// A key of the given type and value.
    pub fn new(key_type: KeyTypes, value: impl Into<String>) -> Key {
        Key {
            r#type: key_type,
            value: value.into(),
        }
    }
}

/// Calls `visit` for each element in `elements` and everything below it,
/// including operation variables' values.
fn each_element<'a>(elements: &'a [SubmodelElement], visit: &mut dyn FnMut(&'a SubmodelElement)) {
    for element in elements {
        visit(element);
        each_element(element.children(), visit);
        if let SubmodelElement::Operation(operation) = element {
            let variables = [
                &operation.input_variables,
                &operation.output_variables,
                &operation.inoutput_variables,
            ];
            for variable in variables.into_iter().flatten().flatten() {
                each_element(std::slice::from_ref(&variable.value), visit);
            }
        }
    }
}

impl Environment {
    /// Every file the environment points at, in document order: the shells'
    /// default thumbnails and every [`File`] element's value, as written
    /// (package-relative paths such as `/aasx/manual.pdf` and absolute URIs
    /// alike). An AASX writer packs the relative ones; a reader checks that
    /// they are in the package.
    pub fn referenced_files(&self) -> Vec<&str> {
        let mut files = Vec::new();
        for shell in self.asset_administration_shells.iter().flatten() {
            if let Some(thumbnail) = &shell.asset_information.default_thumbnail {
                files.push(thumbnail.path.as_str());
            }
        }
        for submodel in self.submodels.iter().flatten() {
            each_element(
                submodel.submodel_elements.as_deref().unwrap_or(&[]),
                &mut |element| {
                    if let SubmodelElement::File(file) = element
                        && let Some(value) = &file.value
                    {
                        files.push(value.as_str());
                    }
                },
            );
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use crate::{Environment, json};

    #[test]
    fn lists_referenced_files_everywhere_they_hide() {
        let text = r#"{
          "assetAdministrationShells": [{"modelType": "AssetAdministrationShell", "id": "urn:a",
            "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:x",
              "defaultThumbnail": {"path": "/aasx/thumb.png", "contentType": "image/png"}}}],
          "submodels": [{"modelType": "Submodel", "id": "urn:s", "submodelElements": [
            {"modelType": "File", "idShort": "Manual", "contentType": "application/pdf", "value": "/aasx/manual.pdf"},
            {"modelType": "SubmodelElementCollection", "idShort": "Docs", "value": [
              {"modelType": "File", "idShort": "Sheet", "contentType": "application/pdf", "value": "https://example.com/s.pdf"}]},
            {"modelType": "Operation", "idShort": "Print", "inputVariables": [{"value":
              {"modelType": "File", "idShort": "Template", "contentType": "text/plain", "value": "/aasx/t.txt"}}]},
            {"modelType": "File", "idShort": "Empty", "contentType": "text/plain"}]}]}"#;
        let environment: Environment = json::from_str(text).unwrap();
        assert_eq!(
            environment.referenced_files(),
            [
                "/aasx/thumb.png",
                "/aasx/manual.pdf",
                "https://example.com/s.pdf",
                "/aasx/t.txt"
            ]
        );
    }
}
