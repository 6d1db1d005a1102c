//! idShort paths (`Motor.Speed`, `Readings[3].Value`): how the Part 2 API and
//! model references address a submodel element inside a submodel. A path is
//! idShorts separated by `.`, each optionally followed by `[index]` steps into
//! submodel element lists; collections, entities' statements and annotated
//! relationships' annotations are entered by idShort.

use crate::error::ReadError;
use crate::model::{Submodel, SubmodelElement};

/// Paths longer than this are refused: real models nest far less, and a bound
/// keeps a hostile request from making the walker loop long.
pub const ID_SHORT_PATH_STEPS_MAX: usize = 128;

/// One step of an idShort path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The child with this idShort.
    IdShort(&'a str),
    /// The item at this position of a submodel element list.
    Index(usize),
}

fn malformed(path: &str, message: impl Into<String>) -> ReadError {
    ReadError::Shape {
        path: format!("idShort path {:?}", crate::codec::truncate(path)),
        message: message.into(),
    }
}

/// Splits an idShort path into its steps, refusing empty idShorts, stray
/// brackets and indices that are not decimal numbers.
pub fn parse_id_short_path(path: &str) -> Result<Vec<Step<'_>>, ReadError> {
    let mut steps = Vec::new();
    let mut rest = path;
    let mut expect_id_short = true;
    while !rest.is_empty() || expect_id_short {
        if steps.len() >= ID_SHORT_PATH_STEPS_MAX {
            return Err(malformed(
                path,
                format!("has more than {ID_SHORT_PATH_STEPS_MAX} steps"),
            ));
        }
        if expect_id_short {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let id_short = &rest[..end];
            if id_short.is_empty() || id_short.contains(']') {
                return Err(malformed(
                    path,
                    "an idShort is empty or malformed; allowed: idShort(.idShort|[index])*",
                ));
            }
            steps.push(Step::IdShort(id_short));
            rest = &rest[end..];
            expect_id_short = false;
        } else if let Some(after) = rest.strip_prefix('.') {
            rest = after;
            expect_id_short = true;
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else {
                return Err(malformed(path, "a '[' is never closed"));
            };
            let digits = &after[..close];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed(
                    path,
                    format!("the index {digits:?} is not a non-negative decimal number"),
                ));
            }
            let index = digits
                .parse()
                .map_err(|_| malformed(path, format!("the index {digits} is too large")))?;
            steps.push(Step::Index(index));
            rest = &after[close + 1..];
        } else {
            return Err(malformed(
                path,
                "expected '.' or '[' after an idShort or index",
            ));
        }
    }
    Ok(steps)
}

fn child_by_id_short<'a>(
    children: &'a [SubmodelElement],
    id_short: &str,
) -> Option<&'a SubmodelElement> {
    children
        .iter()
        .find(|child| child.id_short() == Some(id_short))
}

impl SubmodelElement {
    /// The children an idShort path steps into: a collection's or list's value,
    /// an entity's statements, an annotated relationship's annotations.
    pub fn children_mut(&mut self) -> Option<&mut Vec<SubmodelElement>> {
        match self {
            SubmodelElement::SubmodelElementCollection(e) => e.value.as_mut(),
            SubmodelElement::SubmodelElementList(e) => e.value.as_mut(),
            SubmodelElement::Entity(e) => e.statements.as_mut(),
            SubmodelElement::AnnotatedRelationshipElement(e) => e.annotations.as_mut(),
            _ => None,
        }
    }

    fn step(&self, step: Step<'_>) -> Option<&SubmodelElement> {
        match (self, step) {
            (SubmodelElement::SubmodelElementList(list), Step::Index(index)) => {
                list.value.as_ref()?.get(index)
            }
            (SubmodelElement::SubmodelElementList(_), Step::IdShort(_)) | (_, Step::Index(_)) => {
                None
            }
            (_, Step::IdShort(id_short)) => child_by_id_short(self.children(), id_short),
        }
    }

    fn step_mut(&mut self, step: Step<'_>) -> Option<&mut SubmodelElement> {
        let is_list = matches!(self, SubmodelElement::SubmodelElementList(_));
        let children = self.children_mut()?;
        match step {
            Step::Index(index) if is_list => children.get_mut(index),
            Step::IdShort(id_short) if !is_list => children
                .iter_mut()
                .find(|child| child.id_short() == Some(id_short)),
            _ => None,
        }
    }
}

/// Calls `visit` for `element` and every element below it, depth first, with
/// each one's idShort path. Operations' variables are not entered (they are
/// not addressable by idShort path).
fn walk_element<'a>(
    element: &'a SubmodelElement,
    path: &mut String,
    visit: &mut dyn FnMut(&str, &'a SubmodelElement),
) {
    visit(path, element);
    let is_list = matches!(element, SubmodelElement::SubmodelElementList(_));
    for (index, child) in element.children().iter().enumerate() {
        let len = path.len();
        if is_list {
            path.push('[');
            path.push_str(&index.to_string());
            path.push(']');
        } else {
            // AASd-117 makes idShorts mandatory here; a child without one is
            // invalid and cannot be addressed, so it is skipped with its subtree.
            let Some(id_short) = child.id_short() else {
                continue;
            };
            path.push('.');
            path.push_str(id_short);
        }
        walk_element(child, path, visit);
        path.truncate(len);
    }
}

impl Submodel {
    /// Calls `visit` for every submodel element, depth first in document order,
    /// with its idShort path (`Motor`, `Motor.Readings`, `Motor.Readings[0]`, …):
    /// what the Part 2 `$path` modifier lists. Elements that lack the idShort
    /// their place requires (AASd-117) are skipped with what is below them.
    pub fn walk<'a>(&'a self, mut visit: impl FnMut(&str, &'a SubmodelElement)) {
        let mut path = String::new();
        for element in self.submodel_elements.iter().flatten() {
            let Some(id_short) = element.id_short() else {
                continue;
            };
            path.clear();
            path.push_str(id_short);
            walk_element(element, &mut path, &mut visit);
        }
    }

    /// The element an idShort path names, if the path is well-formed and leads
    /// somewhere.
    pub fn element(&self, id_short_path: &str) -> Option<&SubmodelElement> {
        let steps = parse_id_short_path(id_short_path).ok()?;
        let (Step::IdShort(first), rest) = steps.split_first()? else {
            return None;
        };
        let mut current = child_by_id_short(self.submodel_elements.as_deref()?, first)?;
        for step in rest {
            current = current.step(*step)?;
        }
        Some(current)
    }

    /// Like [`Submodel::element`], for changing the element.
    pub fn element_mut(&mut self, id_short_path: &str) -> Option<&mut SubmodelElement> {
        let steps = parse_id_short_path(id_short_path).ok()?;
        let (Step::IdShort(first), rest) = steps.split_first()? else {
            return None;
        };
        let mut current = self
            .submodel_elements
            .as_mut()?
            .iter_mut()
            .find(|child| child.id_short() == Some(*first))?;
        for step in rest {
            current = current.step_mut(*step)?;
        }
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environment, json};

    #[test]
    fn parses_steps_and_refuses_malformed_paths() {
        assert_eq!(
            parse_id_short_path("A.B[2][0].C").unwrap(),
            [
                Step::IdShort("A"),
                Step::IdShort("B"),
                Step::Index(2),
                Step::Index(0),
                Step::IdShort("C")
            ]
        );
        for bad in [
            "", ".A", "A.", "A[", "A[x]", "A[-1]", "A]", "A..B", "[0]", "A[0]B",
        ] {
            assert!(parse_id_short_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn finds_elements_through_collections_lists_and_entities() {
        let text = r#"{"submodels": [{"modelType": "Submodel", "id": "urn:s", "submodelElements": [
            {"modelType": "SubmodelElementCollection", "idShort": "Motor", "value": [
                {"modelType": "SubmodelElementList", "idShort": "Readings", "typeValueListElement": "Property", "valueTypeListElement": "xs:int",
                 "value": [{"modelType": "Property", "valueType": "xs:int", "value": "1"}, {"modelType": "Property", "valueType": "xs:int", "value": "2"}]},
                {"modelType": "Entity", "idShort": "Bearing", "entityType": "CoManagedEntity", "statements": [
                    {"modelType": "Property", "idShort": "Temp", "valueType": "xs:double", "value": "40"}]}]}]}]}"#;
        let mut environment: Environment = json::from_str(text).unwrap();
        let submodel = &mut environment.submodels.as_mut().unwrap()[0];
        let value = |e: Option<&SubmodelElement>| match e {
            Some(SubmodelElement::Property(p)) => p.value.clone(),
            _ => None,
        };
        assert_eq!(
            value(submodel.element("Motor.Readings[1]")),
            Some("2".to_owned())
        );
        assert_eq!(
            value(submodel.element("Motor.Bearing.Temp")),
            Some("40".to_owned())
        );
        assert!(submodel.element("Motor.Readings[2]").is_none());
        assert!(submodel.element("Motor.Readings.X").is_none());
        assert!(submodel.element("Motor[0]").is_none());
        let mut paths = Vec::new();
        submodel.walk(|path, element| {
            paths.push(path.to_owned());
            // Every path the walk gives leads back to the element.
            assert!(std::ptr::eq(submodel.element(path).unwrap(), element));
        });
        assert_eq!(
            paths,
            [
                "Motor",
                "Motor.Readings",
                "Motor.Readings[0]",
                "Motor.Readings[1]",
                "Motor.Bearing",
                "Motor.Bearing.Temp"
            ]
        );
        if let Some(SubmodelElement::Property(p)) = submodel.element_mut("Motor.Readings[0]") {
            p.value = Some("7".to_owned());
        }
        assert_eq!(
            value(submodel.element("Motor.Readings[0]")),
            Some("7".to_owned())
        );
    }
}
