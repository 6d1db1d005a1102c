//! Verification of the metamodel's constraints on values that deserialized: the
//! AASd-… and AASc-3a-… constraints of IDTA-01001-3-0, the schema's lengths,
//! patterns and non-empty lists, and the value-type rules (a property's value in
//! its `valueType`'s lexical space, dates that exist, …). [`verify`] walks the
//! whole value and returns every [`Problem`], each with the element path and the
//! constraint broken; it never stops at the first.
//!
//! Each class's property checks come from its declaration (`model.rs`, the last
//! word of each property line names the check in [`checks`]); the rules that
//! relate properties to each other are the `invariants` methods below.

use std::collections::HashSet;

use crate::codec::{Segment, render_path};
use crate::model::*;
use crate::xsd;

/// One constraint a value breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, as `submodels[0].submodelElements[3].value`.
    pub path: String,
    /// The constraint: a metamodel id such as `AASd-119` or `AASc-3a-002`, or
    /// for the schema's own rules one of `minLength`, `maxLength`, `minItems`,
    /// `pattern`, `valueType`, `xs:dateTime`, `xs:duration`, `BCP47`, `MIME`,
    /// `RFC2396`, `uniqueLanguages`, `uniqueId` (two identifiables with one id),
    /// `reference` (a reference that must target a certain kind), `dataElement`
    /// (an annotation that is not a data element), `maxInterval` (on an input
    /// event).
    pub constraint: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        };
        write!(f, "{path}: {} [{}]", self.message, self.constraint)
    }
}

/// A hostile document can break a constraint in every one of millions of
/// values; past this many problems the rest are summarised in one last problem.
pub const MAX_PROBLEMS: usize = 10_000;

/// Walks a value, collecting problems.
pub struct Verifier {
    path: Vec<Segment>,
    problems: Vec<Problem>,
    dropped: usize,
}

/// Something that can be verified: every metamodel class and choice.
pub trait Verify {
    /// Adds this value's problems (and its children's) to `verifier`.
    fn verify(&self, verifier: &mut Verifier);
}

impl<T: Verify + ?Sized> Verify for Box<T> {
    fn verify(&self, verifier: &mut Verifier) {
        (**self).verify(verifier);
    }
}

/// Every constraint `value` breaks; empty when it is valid.
pub fn verify<T: Verify + ?Sized>(value: &T) -> Vec<Problem> {
    let mut verifier = Verifier {
        path: Vec::new(),
        problems: Vec::new(),
        dropped: 0,
    };
    value.verify(&mut verifier);
    if verifier.dropped > 0 {
        verifier.problems.push(Problem {
            path: String::new(),
            constraint: "limit",
            message: format!(
                "{} more problems not listed (limit {MAX_PROBLEMS})",
                verifier.dropped
            ),
        });
    }
    verifier.problems
}

impl Verifier {
    pub(crate) fn enter(&mut self, name: &'static str) {
        self.path.push(Segment::Property(name));
    }

    pub(crate) fn enter_index(&mut self, index: usize) {
        self.path.push(Segment::Index(index));
    }

    pub(crate) fn leave(&mut self) {
        self.path.pop();
    }

    pub(crate) fn report(&mut self, constraint: &'static str, message: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                path: render_path(&self.path),
                constraint,
                message: message.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    /// Reports at a property of the current value.
    fn report_at(
        &mut self,
        property: &'static str,
        constraint: &'static str,
        message: impl Into<String>,
    ) {
        self.enter(property);
        self.report(constraint, message);
        self.leave();
    }
}

/// The per-property checks named in the class declarations.
pub(crate) mod checks {
    use super::{Verifier, Verify};
    use crate::xsd;

    pub(crate) fn nothing<T: ?Sized>(_value: &T, _verifier: &mut Verifier) {}

    pub(crate) fn node<T: Verify>(value: &T, verifier: &mut Verifier) {
        value.verify(verifier);
    }

    pub(crate) fn list<T: Verify>(items: &[T], verifier: &mut Verifier) {
        if items.is_empty() {
            verifier.report("minItems", "must have at least one item when present");
        }
        for (index, item) in items.iter().enumerate() {
            verifier.enter_index(index);
            item.verify(verifier);
            verifier.leave();
        }
    }

    fn xml_chars(text: &str, verifier: &mut Verifier) {
        if !xsd::is_xml_string(text) {
            verifier.report("AASd-130", "contains characters XML cannot carry; allowed: tab, line feed, carriage return and U+0020 to U+10FFFF without surrogates, U+FFFE and U+FFFF");
        }
    }

    fn length(text: &str, min: usize, max: Option<usize>, verifier: &mut Verifier) {
        let count = text.chars().count();
        if count < min {
            verifier.report(
                "minLength",
                format!("must not be empty (at least {min} character)"),
            );
        }
        if let Some(max) = max
            && count > max
        {
            verifier.report(
                "maxLength",
                format!("has {count} characters; at most {max} allowed"),
            );
        }
    }

    pub(crate) fn value_data_type(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
    }

    pub(crate) fn non_empty_xml_string(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, None, verifier);
    }

    pub(crate) fn identifier(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(2000), verifier);
    }

    pub(crate) fn value_type_iec61360(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(2000), verifier);
    }

    pub(crate) fn name_type(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(128), verifier);
    }

    pub(crate) fn qualifier_type(text: &str, verifier: &mut Verifier) {
        name_type(text, verifier);
    }

    pub(crate) fn label_type(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(64), verifier);
    }

    pub(crate) fn message_topic(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(255), verifier);
    }

    pub(crate) fn id_short(text: &str, verifier: &mut Verifier) {
        name_type(text, verifier);
        if !xsd::is_id_short(text) {
            verifier.report("AASd-002", "an idShort starts with a letter followed by letters, digits or '_' ([a-zA-Z][a-zA-Z0-9_]*)");
        }
    }

    fn version_like(text: &str, what: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(4), verifier);
        if !xsd::is_version(text) {
            verifier.report(
                "pattern",
                format!("a {what} is a number without leading zeros (0|[1-9][0-9]*)"),
            );
        }
    }

    pub(crate) fn version_type(text: &str, verifier: &mut Verifier) {
        version_like(text, "version", verifier);
    }

    pub(crate) fn revision_type(text: &str, verifier: &mut Verifier) {
        version_like(text, "revision", verifier);
    }

    pub(crate) fn content_type(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(100), verifier);
        if !xsd::is_mime_type(text) {
            verifier.report(
                "MIME",
                "must be a MIME type (RFC 2046), such as 'application/pdf'",
            );
        }
    }

    pub(crate) fn path_type(text: &str, verifier: &mut Verifier) {
        xml_chars(text, verifier);
        length(text, 1, Some(2000), verifier);
        if !xsd::is_rfc_2396(text) {
            verifier.report("RFC2396", "must be a URI reference as RFC 2396 defines (no spaces, non-ASCII or unescaped reserved characters)");
        }
    }

    pub(crate) fn date_time_utc(text: &str, verifier: &mut Verifier) {
        if !xsd::matches_date_time_utc(text) {
            verifier.report(
                "xs:dateTime",
                "must be an xs:dateTime in UTC, such as 2024-05-01T12:00:00Z",
            );
        } else if !xsd::is_date_time_utc(text) {
            verifier.report(
                "xs:dateTime",
                "names a day that does not exist (year 0, or past the month's end)",
            );
        }
    }

    pub(crate) fn duration(text: &str, verifier: &mut Verifier) {
        if !xsd::is_duration(text) {
            verifier.report("xs:duration", "must be an xs:duration, such as PT5S");
        }
    }

    pub(crate) fn bcp47(text: &str, verifier: &mut Verifier) {
        if !xsd::is_bcp47(text) {
            verifier.report(
                "BCP47",
                "must be a BCP 47 language tag, such as 'en' or 'de-CH'",
            );
        }
    }
}

// Rules several classes share, written once as macros over field names.

/// HasExtensions (AASd-077) and Referable (unique languages in names and
/// descriptions).
macro_rules! referable {
    ($self:ident, $v:ident) => {
        if let Some(extensions) = &$self.extensions {
            let mut names = HashSet::new();
            if !extensions.iter().all(|e| names.insert(e.name.as_str())) {
                $v.report_at("extensions", "AASd-077", "extension names must be unique");
            }
        }
        if let Some(names) = &$self.display_name {
            unique_languages(names.iter().map(|s| s.language.as_str()), "displayName", $v);
        }
        if let Some(texts) = &$self.description {
            unique_languages(texts.iter().map(|s| s.language.as_str()), "description", $v);
        }
    };
}

/// HasSemantics: supplemental semantic ids need a main one (AASd-118).
macro_rules! has_semantics {
    ($self:ident, $v:ident) => {
        if $self.supplemental_semantic_ids.is_some() && $self.semantic_id.is_none() {
            $v.report_at(
                "supplementalSemanticIds",
                "AASd-118",
                "supplemental semantic ids require a semanticId",
            );
        }
    };
}

/// Qualifiable: one qualifier per type (AASd-021).
macro_rules! qualifiable {
    ($self:ident, $v:ident) => {
        if let Some(qualifiers) = &$self.qualifiers {
            let mut types = HashSet::new();
            if !qualifiers.iter().all(|q| types.insert(q.r#type.as_str())) {
                $v.report_at("qualifiers", "AASd-021", "qualifier types must be unique");
            }
        }
    };
}

/// What every submodel element has.
macro_rules! submodel_element {
    ($self:ident, $v:ident) => {
        referable!($self, $v);
        has_semantics!($self, $v);
        qualifiable!($self, $v);
    };
}

/// Data elements' categories (AASd-090).
macro_rules! data_element {
    ($self:ident, $v:ident) => {
        submodel_element!($self, $v);
        if let Some(category) = &$self.category
            && !matches!(category.as_str(), "CONSTANT" | "PARAMETER" | "VARIABLE")
        {
            $v.report_at(
                "category",
                "AASd-090",
                format!(
                    "data element category {category:?} is not one of CONSTANT, PARAMETER, VARIABLE"
                ),
            );
        }
    };
}

fn unique_languages<'a>(
    languages: impl Iterator<Item = &'a str>,
    property: &'static str,
    v: &mut Verifier,
) {
    let mut seen = HashSet::new();
    for language in languages {
        if !seen.insert(language) {
            v.report_at(
                property,
                "uniqueLanguages",
                format!("the language {language:?} appears more than once"),
            );
            return;
        }
    }
}

/// AASd-117: children outside lists need an idShort; AASd-022: unique in their
/// namespace.
fn named_children(
    children: Option<&[SubmodelElement]>,
    property: &'static str,
    unique: bool,
    v: &mut Verifier,
) {
    let Some(children) = children else { return };
    let mut seen = HashSet::new();
    for (index, child) in children.iter().enumerate() {
        match child.id_short() {
            None => {
                v.enter(property);
                v.enter_index(index);
                v.report(
                    "AASd-117",
                    "an element that is not an item of a list needs an idShort",
                );
                v.leave();
                v.leave();
            }
            Some(id_short) if unique && !seen.insert(id_short) => {
                v.enter(property);
                v.enter_index(index);
                v.report(
                    "AASd-022",
                    format!("the idShort {id_short:?} is used by an earlier sibling"),
                );
                v.leave();
                v.leave();
            }
            Some(_) => {}
        }
    }
}

fn value_of_type(
    value: Option<&String>,
    value_type: DataTypeDefXsd,
    property: &'static str,
    constraint: &'static str,
    v: &mut Verifier,
) {
    if let Some(value) = value
        && !xsd::value_matches(value, value_type)
    {
        v.report_at(
            property,
            constraint,
            format!(
                "{:?} is not a valid {}",
                crate::codec::truncate(value),
                value_type
            ),
        );
    }
}

fn is_model_reference_to(reference: &Reference, kinds: &[KeyTypes]) -> bool {
    reference.r#type == ReferenceTypes::ModelReference
        && reference
            .keys
            .last()
            .is_some_and(|key| kinds.contains(&key.r#type))
}

const GLOBALLY_IDENTIFIABLES: &[KeyTypes] = &[
    KeyTypes::GlobalReference,
    KeyTypes::AssetAdministrationShell,
    KeyTypes::ConceptDescription,
    KeyTypes::Identifiable,
    KeyTypes::Submodel,
];

const AAS_IDENTIFIABLES: &[KeyTypes] = &[
    KeyTypes::AssetAdministrationShell,
    KeyTypes::ConceptDescription,
    KeyTypes::Identifiable,
    KeyTypes::Submodel,
];

const FRAGMENT_KEYS: &[KeyTypes] = &[
    KeyTypes::AnnotatedRelationshipElement,
    KeyTypes::BasicEventElement,
    KeyTypes::Blob,
    KeyTypes::Capability,
    KeyTypes::DataElement,
    KeyTypes::Entity,
    KeyTypes::EventElement,
    KeyTypes::File,
    KeyTypes::FragmentReference,
    KeyTypes::MultiLanguageProperty,
    KeyTypes::Operation,
    KeyTypes::Property,
    KeyTypes::Range,
    KeyTypes::ReferenceElement,
    KeyTypes::RelationshipElement,
    KeyTypes::SubmodelElement,
    KeyTypes::SubmodelElementCollection,
    KeyTypes::SubmodelElementList,
];

/// Every key type that names a referable (what a model reference may end at).
const AAS_REFERABLES: &[KeyTypes] = &[
    KeyTypes::AssetAdministrationShell,
    KeyTypes::ConceptDescription,
    KeyTypes::Identifiable,
    KeyTypes::Submodel,
    KeyTypes::AnnotatedRelationshipElement,
    KeyTypes::BasicEventElement,
    KeyTypes::Blob,
    KeyTypes::Capability,
    KeyTypes::DataElement,
    KeyTypes::Entity,
    KeyTypes::EventElement,
    KeyTypes::File,
    KeyTypes::MultiLanguageProperty,
    KeyTypes::Operation,
    KeyTypes::Property,
    KeyTypes::Range,
    KeyTypes::ReferenceElement,
    KeyTypes::Referable,
    KeyTypes::RelationshipElement,
    KeyTypes::SubmodelElement,
    KeyTypes::SubmodelElementCollection,
    KeyTypes::SubmodelElementList,
];

fn referable_target(reference: &Reference, property: &'static str, what: &str, v: &mut Verifier) {
    if !is_model_reference_to(reference, AAS_REFERABLES) {
        v.report_at(
            property,
            "reference",
            format!("{what} must be a model reference to a referable"),
        );
    }
}

/// The IEC 61360 contents among embedded data specifications.
fn iec61360s(
    specs: &[EmbeddedDataSpecification],
) -> impl Iterator<Item = &DataSpecificationIec61360> {
    specs
        .iter()
        .map(|spec| match &spec.data_specification_content {
            DataSpecificationContent::DataSpecificationIec61360(content) => &**content,
        })
}

impl Environment {
    /// Identifiers are globally unique (IDTA-01001-3-0 §5.3.11), so one
    /// environment cannot hold two shells, two submodels or two concept
    /// descriptions with the same id. Across kinds the check is not made: the
    /// official templates often give a submodel and its concept description one
    /// id, and the Part 2 API keeps them in separate repositories.
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        let shells = self
            .asset_administration_shells
            .iter()
            .flatten()
            .map(|x| x.id.as_str());
        let submodels = self.submodels.iter().flatten().map(|x| x.id.as_str());
        let concepts = self
            .concept_descriptions
            .iter()
            .flatten()
            .map(|x| x.id.as_str());
        let lists: [(&'static str, Box<dyn Iterator<Item = &str>>); 3] = [
            ("assetAdministrationShells", Box::new(shells)),
            ("submodels", Box::new(submodels)),
            ("conceptDescriptions", Box::new(concepts)),
        ];
        for (property, ids) in lists {
            let mut seen = HashSet::new();
            for (index, id) in ids.enumerate() {
                if !seen.insert(id) {
                    v.enter(property);
                    v.enter_index(index);
                    v.report_at(
                        "id",
                        "uniqueId",
                        format!(
                            "the id {:?} is already used by an earlier one",
                            crate::codec::truncate(id)
                        ),
                    );
                    v.leave();
                    v.leave();
                }
            }
        }
    }
}

impl AssetAdministrationShell {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        referable!(self, v);
        if let Some(derived_from) = &self.derived_from
            && !is_model_reference_to(derived_from, &[KeyTypes::AssetAdministrationShell])
        {
            v.report_at(
                "derivedFrom",
                "reference",
                "must be a model reference to an asset administration shell",
            );
        }
        if let Some(submodels) = &self.submodels {
            for (index, reference) in submodels.iter().enumerate() {
                if !is_model_reference_to(reference, &[KeyTypes::Submodel]) {
                    v.enter("submodels");
                    v.enter_index(index);
                    v.report("reference", "must be a model reference to a submodel");
                    v.leave();
                    v.leave();
                }
            }
        }
    }
}

impl AssetInformation {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        if let Some(ids) = &self.specific_asset_ids
            && ids.iter().any(|id| {
                id.name == "globalAssetId"
                    && self.global_asset_id.as_deref() != Some(id.value.as_str())
            })
        {
            v.report_at(
                "specificAssetIds",
                "AASd-116",
                "a specific asset id named 'globalAssetId' must equal the globalAssetId",
            );
        }
        let has_specific = self
            .specific_asset_ids
            .as_ref()
            .is_some_and(|ids| !ids.is_empty());
        if self.global_asset_id.is_none() && !has_specific {
            v.report(
                "AASd-131",
                "either a globalAssetId or at least one specificAssetId is required",
            );
        }
    }
}

impl Resource {
    pub(crate) fn invariants(&self, _v: &mut Verifier) {}
}

impl SpecificAssetId {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        has_semantics!(self, v);
        if let Some(subject) = &self.external_subject_id
            && subject.r#type != ReferenceTypes::ExternalReference
        {
            v.report_at(
                "externalSubjectId",
                "AASd-133",
                "must be an external reference",
            );
        }
    }
}

impl Submodel {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        referable!(self, v);
        has_semantics!(self, v);
        qualifiable!(self, v);
        named_children(
            self.submodel_elements.as_deref(),
            "submodelElements",
            true,
            v,
        );
        let template = self.kind == Some(ModellingKind::Template);
        if !template && let Some(elements) = &self.submodel_elements {
            for (index, element) in elements.iter().enumerate() {
                let has_template_qualifier = element.qualifiers().is_some_and(|qualifiers| {
                    qualifiers
                        .iter()
                        .any(|q| q.kind == Some(QualifierKind::TemplateQualifier))
                });
                if has_template_qualifier {
                    v.enter("submodelElements");
                    v.enter_index(index);
                    v.report(
                        "AASd-129",
                        "a template qualifier is only allowed in a submodel of kind Template",
                    );
                    v.leave();
                    v.leave();
                }
            }
        }
        if !template
            && let Some(qualifiers) = &self.qualifiers
            && qualifiers
                .iter()
                .any(|q| q.kind == Some(QualifierKind::TemplateQualifier))
        {
            v.report_at(
                "qualifiers",
                "AASd-119",
                "a template qualifier requires the submodel's kind to be Template",
            );
        }
    }
}

impl RelationshipElement {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
    }
}

impl AnnotatedRelationshipElement {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
        named_children(self.annotations.as_deref(), "annotations", true, v);
        if let Some(annotations) = &self.annotations {
            for (index, annotation) in annotations.iter().enumerate() {
                if !annotation.is_data_element() {
                    v.enter("annotations");
                    v.enter_index(index);
                    v.report(
                        "dataElement",
                        format!(
                            "a {} is not a data element; annotations are data elements",
                            annotation.model_type()
                        ),
                    );
                    v.leave();
                    v.leave();
                }
            }
        }
    }
}

impl BasicEventElement {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
        if self.direction == Direction::Input && self.max_interval.is_some() {
            v.report_at(
                "maxInterval",
                "maxInterval",
                "maxInterval does not apply to an input event",
            );
        }
        referable_target(&self.observed, "observed", "observed", v);
        if let Some(broker) = &self.message_broker {
            referable_target(broker, "messageBroker", "messageBroker", v);
        }
    }
}

impl Blob {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        data_element!(self, v);
    }
}

impl Capability {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
    }
}

impl Entity {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
        named_children(self.statements.as_deref(), "statements", true, v);
        let has_global = self.global_asset_id.is_some();
        let specific = self.specific_asset_ids.as_ref();
        let valid = match self.entity_type {
            EntityType::SelfManagedEntity => {
                (has_global && specific.is_none())
                    || (!has_global && specific.is_some_and(|ids| !ids.is_empty()))
            }
            EntityType::CoManagedEntity => !has_global && specific.is_none(),
        };
        if !valid {
            v.report(
                "AASd-014",
                "a self-managed entity has exactly one of globalAssetId and specificAssetIds; a co-managed one has neither",
            );
        }
    }
}

impl File {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        data_element!(self, v);
    }
}

impl MultiLanguageProperty {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        data_element!(self, v);
    }
}

impl Operation {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
        let mut seen = HashSet::new();
        let variables = [
            &self.input_variables,
            &self.output_variables,
            &self.inoutput_variables,
        ];
        let unique = variables
            .iter()
            .filter_map(|list| list.as_ref())
            .flatten()
            .filter_map(|variable| variable.value.id_short())
            .all(|id_short| seen.insert(id_short));
        if !unique {
            v.report(
                "AASd-134",
                "the idShorts of all input, output and in/output variables must be unique",
            );
        }
    }
}

impl OperationVariable {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        if self.value.id_short().is_none() {
            v.report_at(
                "value",
                "AASd-117",
                "an operation variable's value needs an idShort",
            );
        }
    }
}

impl Property {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        data_element!(self, v);
        value_of_type(
            self.value.as_ref(),
            self.value_type,
            "value",
            "valueType",
            v,
        );
    }
}

impl Range {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        data_element!(self, v);
        value_of_type(self.min.as_ref(), self.value_type, "min", "valueType", v);
        value_of_type(self.max.as_ref(), self.value_type, "max", "valueType", v);
    }
}

impl ReferenceElement {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        data_element!(self, v);
    }
}

impl SubmodelElementCollection {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
        named_children(self.value.as_deref(), "value", true, v);
    }
}

impl SubmodelElementList {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        submodel_element!(self, v);
        let items = self.value.as_deref().unwrap_or(&[]);
        if let Some(expected) = &self.semantic_id_list_element
            && items.iter().any(|item| {
                item.semantic_id()
                    .is_some_and(|id| !key_values_equal(id, expected))
            })
        {
            v.report_at(
                "value",
                "AASd-107",
                "an item's semanticId must equal semanticIdListElement",
            );
        }
        let mut first: Option<&Reference> = None;
        let mut consistent = true;
        for id in items.iter().filter_map(SubmodelElement::semantic_id) {
            match first {
                None => first = Some(id),
                Some(first) => consistent &= key_values_equal(first, id),
            }
        }
        if !consistent {
            v.report_at(
                "value",
                "AASd-114",
                "the items' semanticIds must be identical",
            );
        }
        for (index, item) in items.iter().enumerate() {
            if !self.type_value_list_element.includes(item.kind()) {
                v.enter("value");
                v.enter_index(index);
                v.report(
                    "AASd-108",
                    format!(
                        "a {} in a list of {}",
                        item.model_type(),
                        self.type_value_list_element
                    ),
                );
                v.leave();
                v.leave();
            }
        }
        if matches!(
            self.type_value_list_element,
            AasSubmodelElements::Property | AasSubmodelElements::Range
        ) {
            match self.value_type_list_element {
                None => v.report(
                    "AASd-109",
                    "a list of properties or ranges needs valueTypeListElement",
                ),
                Some(expected) => {
                    let mismatch = items.iter().any(|item| match item {
                        SubmodelElement::Property(p) => p.value_type != expected,
                        SubmodelElement::Range(r) => r.value_type != expected,
                        _ => false,
                    });
                    if mismatch {
                        v.report_at(
                            "value",
                            "AASd-109",
                            format!("every item's valueType must be {expected}"),
                        );
                    }
                }
            }
        }
        for (index, item) in items.iter().enumerate() {
            if item.id_short().is_some() {
                v.enter("value");
                v.enter_index(index);
                v.report(
                    "AASd-120",
                    "items of a submodel element list have no idShort",
                );
                v.leave();
                v.leave();
            }
        }
    }
}

fn key_values_equal(a: &Reference, b: &Reference) -> bool {
    a.keys.len() == b.keys.len() && a.keys.iter().zip(&b.keys).all(|(x, y)| x.value == y.value)
}

impl ConceptDescription {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        referable!(self, v);
        let Some(specs) = &self.embedded_data_specifications else {
            return;
        };
        let defined_in_english = iec61360s(specs).all(|content| {
            content
                .definition
                .as_ref()
                .is_some_and(|definition| definition.iter().any(|d| xsd::is_english(&d.language)))
        });
        let has_value = iec61360s(specs).all(|content| content.value.is_some());
        if !(defined_in_english || has_value) {
            v.report(
                "AASc-3a-008",
                "an IEC 61360 concept description needs a definition in English unless it describes a value",
            );
        }
        use DataTypeIec61360 as D;
        let category = self.category.as_deref();
        let data_types_allowed = |allowed: &[D]| {
            iec61360s(specs).all(|content| content.data_type.is_some_and(|t| allowed.contains(&t)))
        };
        match category {
            Some("QUALIFIER_TYPE")
                if !iec61360s(specs).all(|content| content.data_type.is_some()) =>
            {
                v.report(
                    "AASc-3a-007",
                    "a QUALIFIER_TYPE concept description needs a data type",
                );
            }
            Some("DOCUMENT") if !data_types_allowed(&[D::File, D::Blob, D::Html]) => {
                v.report(
                    "AASc-3a-006",
                    "a DOCUMENT concept description's data type is FILE, BLOB or HTML",
                );
            }
            Some("REFERENCE") if !data_types_allowed(&[D::String, D::Iri, D::Irdi]) => {
                v.report(
                    "AASc-3a-005",
                    "a REFERENCE concept description's data type is STRING, IRI or IRDI",
                );
            }
            Some("PROPERTY" | "VALUE")
                if !data_types_allowed(&[
                    D::Date,
                    D::String,
                    D::StringTranslatable,
                    D::IntegerMeasure,
                    D::IntegerCount,
                    D::IntegerCurrency,
                    D::RealMeasure,
                    D::RealCount,
                    D::RealCurrency,
                    D::Boolean,
                    D::Rational,
                    D::RationalMeasure,
                    D::Time,
                    D::Timestamp,
                ]) =>
            {
                v.report(
                    "AASc-3a-004",
                    "a PROPERTY or VALUE concept description needs a data type for values (DATE, STRING, …, TIMESTAMP; not FILE, BLOB, HTML, IRI, IRDI)",
                );
            }
            _ => {}
        }
    }
}

impl Reference {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        let keys = &self.keys;
        let Some(first) = keys.first() else {
            // `keys` is required; the list check reports it empty.
            return;
        };
        if !GLOBALLY_IDENTIFIABLES.contains(&first.r#type) {
            v.report_at(
                "keys",
                "AASd-121",
                format!(
                    "the first key is a {}; allowed: a globally identifiable",
                    first.r#type
                ),
            );
        }
        match self.r#type {
            ReferenceTypes::ExternalReference => {
                if first.r#type != KeyTypes::GlobalReference {
                    v.report_at(
                        "keys",
                        "AASd-122",
                        "an external reference's first key is a GlobalReference",
                    );
                }
                if let Some(last) = keys.last()
                    && !matches!(
                        last.r#type,
                        KeyTypes::GlobalReference | KeyTypes::FragmentReference
                    )
                {
                    v.report_at("keys", "AASd-124", "an external reference's last key is a GlobalReference or FragmentReference");
                }
            }
            ReferenceTypes::ModelReference => {
                if !AAS_IDENTIFIABLES.contains(&first.r#type) {
                    v.report_at("keys", "AASd-123", "a model reference's first key is an AAS identifiable (shell, submodel, concept description)");
                }
                if keys.len() > 1 {
                    if !keys[1..]
                        .iter()
                        .all(|key| FRAGMENT_KEYS.contains(&key.r#type))
                    {
                        v.report_at(
                            "keys",
                            "AASd-125",
                            "a model reference's keys after the first are fragment keys",
                        );
                    }
                    if keys[..keys.len() - 1]
                        .iter()
                        .any(|key| key.r#type == KeyTypes::FragmentReference)
                    {
                        v.report_at(
                            "keys",
                            "AASd-126",
                            "only the last key of a model reference may be a FragmentReference",
                        );
                    }
                    if keys[keys.len() - 1].r#type == KeyTypes::FragmentReference
                        && !matches!(keys[keys.len() - 2].r#type, KeyTypes::File | KeyTypes::Blob)
                    {
                        v.report_at(
                            "keys",
                            "AASd-127",
                            "a FragmentReference key follows a File or Blob key",
                        );
                    }
                }
                if keys.len() > 2 {
                    let bad_index = keys.windows(2).any(|pair| {
                        pair[0].r#type == KeyTypes::SubmodelElementList
                            && !xsd::is_non_negative_integer(&pair[1].value)
                    });
                    if bad_index {
                        v.report_at("keys", "AASd-128", "the key after a SubmodelElementList key is an index (a non-negative integer)");
                    }
                }
            }
        }
    }
}

impl Key {
    pub(crate) fn invariants(&self, _v: &mut Verifier) {}
}

impl Extension {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        has_semantics!(self, v);
        value_of_type(
            self.value.as_ref(),
            self.value_type.unwrap_or(DataTypeDefXsd::String),
            "value",
            "valueType",
            v,
        );
    }
}

impl AdministrativeInformation {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        if self.revision.is_some() && self.version.is_none() {
            v.report_at("revision", "AASd-005", "a revision requires a version");
        }
    }
}

impl Qualifier {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        has_semantics!(self, v);
        value_of_type(self.value.as_ref(), self.value_type, "value", "AASd-020", v);
    }
}

impl EmbeddedDataSpecification {
    pub(crate) fn invariants(&self, _v: &mut Verifier) {}
}

impl DataSpecificationIec61360 {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        if self.value.is_some() && self.value_list.is_some() {
            v.report("AASc-3a-010", "value and valueList exclude each other");
        }
        use DataTypeIec61360 as D;
        if let Some(data_type) = self.data_type
            && matches!(
                data_type,
                D::IntegerMeasure
                    | D::RealMeasure
                    | D::RationalMeasure
                    | D::IntegerCurrency
                    | D::RealCurrency
            )
            && self.unit.is_none()
            && self.unit_id.is_none()
        {
            v.report(
                "AASc-3a-009",
                format!("a {data_type} needs a unit or unitId"),
            );
        }
        if !self
            .preferred_name
            .iter()
            .any(|name| xsd::is_english(&name.language))
        {
            v.report_at(
                "preferredName",
                "AASc-3a-002",
                "a preferred name in English is required",
            );
        }
    }
}

impl LevelType {
    pub(crate) fn invariants(&self, _v: &mut Verifier) {}
}

impl ValueList {
    pub(crate) fn invariants(&self, _v: &mut Verifier) {}
}

impl ValueReferencePair {
    pub(crate) fn invariants(&self, _v: &mut Verifier) {}
}

impl EventPayload {
    pub(crate) fn invariants(&self, v: &mut Verifier) {
        if !is_model_reference_to(
            &self.source,
            &[KeyTypes::EventElement, KeyTypes::BasicEventElement],
        ) {
            v.report_at(
                "source",
                "reference",
                "must be a model reference to an event element",
            );
        }
        referable_target(
            &self.observable_reference,
            "observableReference",
            "observableReference",
            v,
        );
    }
}

/// Lang strings: the text's maximum length depends on the class.
macro_rules! lang_string {
    ($class:ident, $max:literal) => {
        impl $class {
            pub(crate) fn invariants(&self, v: &mut Verifier) {
                let count = self.text.chars().count();
                if count > $max {
                    v.report_at(
                        "text",
                        "maxLength",
                        format!("has {count} characters; at most {} allowed", $max),
                    );
                }
            }
        }
    };
}

lang_string!(LangStringNameType, 128);
lang_string!(LangStringTextType, 1023);
lang_string!(LangStringPreferredNameTypeIec61360, 255);
lang_string!(LangStringShortNameTypeIec61360, 18);
lang_string!(LangStringDefinitionTypeIec61360, 1023);

#[cfg(test)]
mod tests {
    use crate::{Environment, json};

    /// Verifies a submodel whose elements are `elements` (JSON) and returns each
    /// problem as `path [constraint]`, sorted.
    fn check(submodel_extra: &str, elements: &str) -> Vec<String> {
        let text = format!(
            r#"{{"submodels": [{{"modelType": "Submodel", "id": "urn:s" {submodel_extra}, "submodelElements": [{elements}]}}]}}"#
        );
        let environment: Environment = json::from_str(&text).unwrap();
        let mut problems: Vec<String> = super::verify(&environment)
            .into_iter()
            .map(|p| format!("{} [{}]", p.path, p.constraint))
            .collect();
        problems.sort();
        problems
    }

    const PROPERTY: &str =
        r#"{"modelType": "Property", "idShort": "P", "valueType": "xs:int", "value": "1"}"#;

    #[test]
    fn a_valid_submodel_has_no_problems() {
        assert_eq!(check("", PROPERTY), Vec::<String>::new());
    }

    #[test]
    fn namespaces_need_unique_id_shorts_and_lists_none() {
        assert_eq!(
            check("", &format!("{PROPERTY}, {PROPERTY}")),
            ["submodels[0].submodelElements[1] [AASd-022]"]
        );
        assert_eq!(
            check("", r#"{"modelType": "Capability"}"#),
            ["submodels[0].submodelElements[0] [AASd-117]"]
        );
        let list = format!(
            r#"{{"modelType": "SubmodelElementList", "idShort": "L", "typeValueListElement": "Property", "valueTypeListElement": "xs:string", "value": [{PROPERTY}]}}"#
        );
        assert_eq!(
            check("", &list),
            [
                "submodels[0].submodelElements[0].value [AASd-109]",
                "submodels[0].submodelElements[0].value[0] [AASd-120]"
            ]
        );
    }

    #[test]
    fn values_follow_their_value_type() {
        let range = r#"{"modelType": "Range", "idShort": "R", "valueType": "xs:date", "min": "2024-02-30", "max": "2024-02-29"}"#;
        assert_eq!(
            check("", range),
            ["submodels[0].submodelElements[0].min [valueType]"]
        );
        let qualifier = r#", "qualifiers": [{"type": "a", "valueType": "xs:boolean", "value": "yes"}, {"type": "a", "valueType": "xs:string"}]"#;
        assert_eq!(
            check(qualifier, PROPERTY),
            [
                "submodels[0].qualifiers [AASd-021]",
                "submodels[0].qualifiers[0].value [AASd-020]"
            ]
        );
    }

    #[test]
    fn template_qualifiers_need_a_template() {
        let qualified = r#"{"modelType": "Property", "idShort": "P", "valueType": "xs:int",
            "qualifiers": [{"kind": "TemplateQualifier", "type": "Multiplicity", "valueType": "xs:string"}]}"#;
        assert_eq!(
            check("", qualified),
            ["submodels[0].submodelElements[0] [AASd-129]"]
        );
        assert_eq!(
            check(r#", "kind": "Template""#, qualified),
            Vec::<String>::new()
        );
    }

    #[test]
    fn entities_and_operations() {
        let entity = r#"{"modelType": "Entity", "idShort": "E", "entityType": "CoManagedEntity", "globalAssetId": "urn:a"}"#;
        assert_eq!(
            check("", entity),
            ["submodels[0].submodelElements[0] [AASd-014]"]
        );
        let operation = format!(
            r#"{{"modelType": "Operation", "idShort": "Op", "inputVariables": [{{"value": {PROPERTY}}}], "outputVariables": [{{"value": {PROPERTY}}}]}}"#
        );
        assert_eq!(
            check("", &operation),
            ["submodels[0].submodelElements[0] [AASd-134]"]
        );
    }

    #[test]
    fn ids_are_unique_per_kind() {
        let text = r#"{"submodels": [{"modelType": "Submodel", "id": "urn:a"}, {"modelType": "Submodel", "id": "urn:a"}],
            "conceptDescriptions": [{"modelType": "ConceptDescription", "id": "urn:a"}]}"#;
        let environment: Environment = json::from_str(text).unwrap();
        let problems: Vec<String> = super::verify(&environment)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            ["submodels[1].id: the id \"urn:a\" is already used by an earlier one [uniqueId]"]
        );
    }

    #[test]
    fn references_and_strings() {
        let reference = r#"{"modelType": "ReferenceElement", "idShort": "Ref", "category": "VALUE",
            "value": {"type": "ModelReference", "keys": [{"type": "Submodel", "value": "urn:s"}, {"type": "SubmodelElementList", "value": "L"}, {"type": "Property", "value": "x"}]}}"#;
        assert_eq!(
            check("", reference),
            [
                "submodels[0].submodelElements[0].category [AASd-090]",
                "submodels[0].submodelElements[0].value.keys [AASd-128]"
            ]
        );
        let named = r#", "idShort": "1st", "displayName": [{"language": "en", "text": ""}, {"language": "en_GB", "text": "x"}]"#;
        assert_eq!(
            check(named, PROPERTY),
            [
                "submodels[0].displayName[0].text [minLength]",
                "submodels[0].displayName[1].language [BCP47]",
                "submodels[0].idShort [AASd-002]"
            ]
        );
    }
}
