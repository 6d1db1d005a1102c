//! AASX packages (IDTA-01005, Part 5): reading an environment, its thumbnail
//! and its supplementary files out of an OPC zip archive, and writing one.
//!
//! Reading follows the relationship chain: the root `_rels/.rels` names the
//! `aasx-origin` part, whose relationships name one or more `aas-spec` parts
//! (JSON or XML environments, read with the crate's readers and merged into
//! one [`Environment`]). Both the current (`http://admin-shell.io/aasx/…`) and
//! the deprecated (`http://www.admin-shell.io/aasx/…`) relationship namespaces
//! are accepted; part names are compared without case and percent-decoded;
//! targets may be relative or absolute. Supplementary files are every part the
//! spec parts reference (`aas-suppl` relationships, `File` values, default
//! thumbnails) plus the package thumbnail, each with its content type. Before
//! anything is unpacked the zip's directory is checked against [`AasxLimits`]
//! (entries, sizes, compression ratio, name lengths, unsafe names).
//!
//! Writing produces a strict 3.0 spec part in the current namespace, with the
//! caller's thumbnail and files; the same input gives the same bytes (fixed
//! timestamps, parts in a fixed order).
//!
//! No file system: bytes in, bytes out.

mod limits;
mod opc;

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read, Write};

pub use limits::{
    AasxLimits, COMPRESSION_RATIO_MAX, ENTRIES_MAX, ENTRY_BYTES_MAX, PART_NAME_LEN_MAX,
    RATIO_CHECK_FLOOR_BYTES, TOTAL_BYTES_MAX,
};

use crate::error::{AasxError, Warning};
use crate::{Environment, ReadOptions};

/// The relationship namespace Part 5 defines and Twinspace writes.
pub const RELATIONSHIP_NAMESPACE: &str = "http://admin-shell.io/aasx/relationships/";
/// The namespace older packages (AASX Package Explorer before 2020) use; read,
/// never written.
pub const DEPRECATED_RELATIONSHIP_NAMESPACE: &str = "http://www.admin-shell.io/aasx/relationships/";

/// The part name of the origin Twinspace writes.
const ORIGIN_PART: &str = "/aasx/aasx-origin";
/// The content types part.
const CONTENT_TYPES_PART: &str = "/[Content_Types].xml";
/// The package's root relationships part.
const ROOT_RELATIONSHIPS_PART: &str = "/_rels/.rels";

/// The serialization of a spec part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    /// `application/json`, the official `aas.json` schema.
    Json,
    /// `text/xml`, the official `AAS.xsd` schema.
    Xml,
}

/// One part of a package other than its structure: the thumbnail or a
/// supplementary file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// The part name, absolute (`/aasx/files/manual.pdf`), as the zip entry
    /// spells it; `File` values and default thumbnails name it the same way.
    pub path: String,
    /// Its content type (from `[Content_Types].xml`, else
    /// `application/octet-stream`).
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// One spec part read from a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecPart {
    /// The part name as the zip entry spells it.
    pub path: String,
    /// JSON or XML.
    pub format: SpecFormat,
}

/// What a package holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// Every spec part's shells, submodels and concept descriptions, in the
    /// order of the spec parts (duplicate ids dropped, see `warnings`).
    pub environment: Environment,
    /// The spec parts, in relationship order.
    pub spec_parts: Vec<SpecPart>,
    /// The package thumbnail (the OPC thumbnail relationship of the root).
    pub thumbnail: Option<PackageFile>,
    /// The supplementary files found in the package, by path.
    pub files: Vec<PackageFile>,
    /// Paths into the package that the environment or an `aas-suppl`
    /// relationship names but the package lacks.
    pub missing_files: Vec<String>,
    /// Whether the deprecated relationship namespace was used.
    pub deprecated_namespace: bool,
    /// What lenient reading tolerated, each with the part it is in (`path`
    /// starts with the part name).
    pub warnings: Vec<Warning>,
}

/// Reads a package with the default [`AasxLimits`].
pub fn read(bytes: &[u8], options: ReadOptions) -> Result<Package, AasxError> {
    read_with_limits(bytes, options, &AasxLimits::DEFAULT)
}

/// One zip entry, as the directory declares it.
#[derive(Debug)]
struct Entry {
    index: usize,
    name: String,
    size: u64,
}

/// The archive with its directory checked against the limits.
struct Archive<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// By [`opc::part_key`].
    entries: HashMap<String, Entry>,
}

impl Archive<'_> {
    fn open<'a>(bytes: &'a [u8], limits: &AasxLimits) -> Result<Archive<'a>, AasxError> {
        let mut zip =
            zip::ZipArchive::new(Cursor::new(bytes)).map_err(|err| AasxError::NotZip {
                reason: err.to_string(),
            })?;
        if zip.len() > limits.entries_max {
            return Err(AasxError::TooManyEntries {
                found: zip.len(),
                limit: limits.entries_max,
            });
        }
        let mut entries: HashMap<String, Entry> = HashMap::with_capacity(zip.len());
        let mut total = 0u64;
        for index in 0..zip.len() {
            let file = zip.by_index_raw(index).map_err(|err| AasxError::NotZip {
                reason: err.to_string(),
            })?;
            let name = file
                .name()
                .map_err(|err| AasxError::NotZip {
                    reason: err.to_string(),
                })?
                .into_owned();
            opc::check_entry_name(&name, limits.part_name_len_max)?;
            let (size, compressed) = (file.size(), file.compressed_size());
            let is_dir = file.is_dir();
            drop(file);
            if is_dir {
                continue;
            }
            let part = format!("/{name}");
            if size > limits.entry_bytes_max {
                return Err(AasxError::PartTooLarge {
                    part,
                    found: size,
                    limit: limits.entry_bytes_max,
                });
            }
            total = total.saturating_add(size);
            if total > limits.total_bytes_max {
                return Err(AasxError::PackageTooLarge {
                    found: total,
                    limit: limits.total_bytes_max,
                });
            }
            if size > RATIO_CHECK_FLOOR_BYTES
                && size > compressed.saturating_mul(limits.compression_ratio_max)
            {
                return Err(AasxError::CompressionRatio {
                    part,
                    compressed,
                    uncompressed: size,
                    limit: limits.compression_ratio_max,
                });
            }
            let key = opc::part_key(&name);
            if let Some(first) = entries.get(&key) {
                return Err(AasxError::DuplicatePart {
                    first: first.name.clone(),
                    second: name,
                });
            }
            entries.insert(key, Entry { index, name, size });
        }
        Ok(Archive { zip, entries })
    }

    /// The zip entry of a part name, if the package has it.
    fn entry(&self, part: &str) -> Option<&Entry> {
        self.entries.get(&opc::part_key(part))
    }

    /// Unpacks a part, never more than its declared size (which the limits
    /// were checked against).
    fn read(&mut self, part: &str) -> Result<Option<(String, Vec<u8>)>, AasxError> {
        let Some(entry) = self.entries.get(&opc::part_key(part)) else {
            return Ok(None);
        };
        let (index, declared, name) = (entry.index, entry.size, format!("/{}", entry.name));
        let unpack = |err: &dyn std::fmt::Display| AasxError::Unpack {
            part: name.clone(),
            reason: err.to_string(),
        };
        let file = self.zip.by_index(index).map_err(|err| unpack(&err))?;
        // Start small: the declared size may be a lie the read below exposes.
        let mut bytes = Vec::with_capacity(usize::try_from(declared.min(1 << 20)).unwrap_or(0));
        file.take(declared.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|err| unpack(&err))?;
        if bytes.len() as u64 > declared {
            return Err(AasxError::SizeMismatch {
                part: name,
                declared,
            });
        }
        Ok(Some((name, bytes)))
    }
}

/// Whether a relationship type is `kind` in either AASX namespace; the second
/// value says whether the deprecated one was used.
fn is_aasx_relationship(relationship_type: &str, kind: &str) -> Option<bool> {
    if relationship_type.strip_prefix(RELATIONSHIP_NAMESPACE) == Some(kind) {
        Some(false)
    } else if relationship_type.strip_prefix(DEPRECATED_RELATIONSHIP_NAMESPACE) == Some(kind) {
        Some(true)
    } else {
        None
    }
}

/// Reads a package: the relationship chain, every spec part (strictly or
/// leniently), the thumbnail and supplementary files, within `limits`.
pub fn read_with_limits(
    bytes: &[u8],
    options: ReadOptions,
    limits: &AasxLimits,
) -> Result<Package, AasxError> {
    let mut archive = Archive::open(bytes, limits)?;
    let mut warnings = Vec::new();
    let content_types = match archive.read(CONTENT_TYPES_PART)? {
        Some((part, bytes)) => opc::ContentTypes::read(&bytes, &part)?,
        None => {
            warnings.push(Warning {
                path: CONTENT_TYPES_PART.to_owned(),
                message: "missing; content types are taken from the file names".to_owned(),
            });
            opc::ContentTypes::default()
        }
    };
    let Some((root_part, root_bytes)) = archive.read(ROOT_RELATIONSHIPS_PART)? else {
        return Err(AasxError::MissingRelationships {
            part: ROOT_RELATIONSHIPS_PART.to_owned(),
            needed: "the package root's relationships name the aasx-origin part",
        });
    };
    let root_relationships = opc::read_relationships(&root_bytes, &root_part)?;

    let mut deprecated_namespace = false;
    let mut origin = None;
    let mut thumbnail_target = None;
    for relationship in &root_relationships {
        if !internal(relationship, &root_part, options, &mut warnings) {
            continue;
        }
        if let Some(deprecated) = is_aasx_relationship(&relationship.kind, "aasx-origin") {
            if origin.is_none() {
                deprecated_namespace |= deprecated;
                origin = Some(relationship);
            }
        } else if relationship.kind == opc::THUMBNAIL_RELATIONSHIP && thumbnail_target.is_none() {
            thumbnail_target = Some(relationship);
        }
    }
    let Some(origin) = origin else {
        return Err(AasxError::MissingRelationship {
            part: root_part,
            kind: "aasx-origin",
        });
    };
    let origin_part = resolve_existing(&archive, &root_part, "/", origin, limits)?;

    let origin_relationships_part = opc::relationships_of(&origin_part);
    let Some((origin_relationships_part, origin_bytes)) =
        archive.read(&origin_relationships_part)?
    else {
        return Err(AasxError::MissingRelationships {
            part: origin_relationships_part,
            needed: "the origin's relationships name the aas-spec parts",
        });
    };
    let mut spec_targets = Vec::new();
    for relationship in opc::read_relationships(&origin_bytes, &origin_relationships_part)? {
        if !internal(
            &relationship,
            &origin_relationships_part,
            options,
            &mut warnings,
        ) {
            continue;
        }
        if let Some(deprecated) = is_aasx_relationship(&relationship.kind, "aas-spec") {
            deprecated_namespace |= deprecated;
            let part = resolve_existing(
                &archive,
                &origin_relationships_part,
                opc::folder_of(&origin_part),
                &relationship,
                limits,
            )?;
            if !spec_targets
                .iter()
                .any(|known: &String| opc::part_key(known) == opc::part_key(&part))
            {
                spec_targets.push(part);
            }
        }
    }
    if spec_targets.is_empty() {
        return Err(AasxError::MissingRelationship {
            part: origin_relationships_part,
            kind: "aas-spec",
        });
    }

    // Files: the package thumbnail first, then aas-suppl targets, then what the
    // environment references; each part once, by key.
    let mut wanted: Vec<String> = Vec::new();
    let mut spec_parts = Vec::new();
    let mut merged = Merged::default();
    for part in &spec_targets {
        let Some((name, bytes)) = archive.read(part)? else {
            continue; // resolve_existing found it, so this cannot happen
        };
        let content_type = content_types.of(&name).unwrap_or_default().to_owned();
        let format =
            spec_format(&name, &content_type, &bytes).ok_or_else(|| AasxError::SpecFormat {
                part: name.clone(),
                content_type: content_type.clone(),
            })?;
        let read = match format {
            SpecFormat::Json => crate::json::from_slice_with::<Environment>(&bytes, options),
            SpecFormat::Xml => crate::xml::from_slice_with::<Environment>(&bytes, options),
        };
        let (environment, part_warnings) = read.map_err(|source| AasxError::SpecPart {
            part: name.clone(),
            source,
        })?;
        warnings.extend(part_warnings.into_iter().map(|warning| Warning {
            path: if warning.path.is_empty() {
                name.clone()
            } else {
                format!("{name}: {}", warning.path)
            },
            message: warning.message,
        }));
        merged.add(environment, &name, options, &mut warnings)?;
        spec_parts.push(SpecPart {
            path: name.clone(),
            format,
        });

        // Supplementary files the spec part declares by relationship.
        let relationships_part = opc::relationships_of(&name);
        if let Some((relationships_part, bytes)) = archive.read(&relationships_part)? {
            for relationship in opc::read_relationships(&bytes, &relationships_part)? {
                if relationship.external
                    || is_aasx_relationship(&relationship.kind, "aas-suppl").is_none()
                {
                    continue;
                }
                match opc::resolve(
                    opc::folder_of(&name),
                    &relationship.target,
                    limits.part_name_len_max,
                ) {
                    Ok(Some(target)) => wanted.push(target),
                    Ok(None) => {}
                    Err(err) => warnings.push(Warning {
                        path: relationships_part.clone(),
                        message: format!("skipped a supplementary file: {err}"),
                    }),
                }
            }
        }
    }
    let environment = merged.environment;
    if environment.asset_administration_shells.is_none()
        && environment.submodels.is_none()
        && environment.concept_descriptions.is_none()
    {
        return Err(AasxError::Empty {
            parts: spec_parts
                .iter()
                .map(|part| part.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    for reference in environment.referenced_files() {
        // File values name parts from the package root (Part 5, 4.2).
        match opc::resolve("/", reference, limits.part_name_len_max) {
            Ok(Some(target)) => wanted.push(target),
            Ok(None) => {}
            Err(err) => warnings.push(Warning {
                path: String::new(),
                message: format!("skipped a referenced file: {err}"),
            }),
        }
    }

    let thumbnail = match thumbnail_target {
        None => None,
        Some(relationship) => {
            match opc::resolve("/", &relationship.target, limits.part_name_len_max)? {
                None => None,
                Some(target) => match archive.read(&target)? {
                    Some((path, bytes)) => Some(PackageFile {
                        content_type: content_type_of(&content_types, &path),
                        path,
                        bytes,
                    }),
                    None => {
                        warnings.push(Warning {
                            path: root_part.clone(),
                            message: format!(
                                "the thumbnail {target:?} is not in the package; ignored"
                            ),
                        });
                        None
                    }
                },
            }
        }
    };

    let mut files: BTreeMap<String, PackageFile> = BTreeMap::new();
    let mut missing_files: Vec<String> = Vec::new();
    for target in wanted {
        let key = opc::part_key(&target);
        if files.contains_key(&key)
            || missing_files
                .iter()
                .any(|known| opc::part_key(known) == key)
        {
            continue;
        }
        match archive.read(&target)? {
            Some((path, bytes)) => {
                files.insert(
                    key,
                    PackageFile {
                        content_type: content_type_of(&content_types, &path),
                        path,
                        bytes,
                    },
                );
            }
            None => {
                warnings.push(Warning {
                    path: target.clone(),
                    message: "referenced but not in the package".to_owned(),
                });
                missing_files.push(target);
            }
        }
    }
    let mut files: Vec<PackageFile> = files.into_values().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Package {
        environment,
        spec_parts,
        thumbnail,
        files,
        missing_files,
        deprecated_namespace,
        warnings,
    })
}

/// Whether a relationship targets a part of the package. Some packages (the
/// IDTA Digital Product Passport template among them) mark the origin
/// `TargetMode="External"` while pointing into the package; lenient reading
/// follows such a target when it has no URI scheme, with a warning.
fn internal(
    relationship: &opc::Relationship,
    part: &str,
    options: ReadOptions,
    warnings: &mut Vec<Warning>,
) -> bool {
    if !relationship.external {
        return true;
    }
    if options.lenient && !opc::has_scheme(&relationship.target) {
        warnings.push(Warning {
            path: part.to_owned(),
            message: format!(
                "relationship {:?} is marked External but points into the package ({:?}); followed",
                relationship.id, relationship.target
            ),
        });
        return true;
    }
    false
}

fn content_type_of(types: &opc::ContentTypes, part: &str) -> String {
    types
        .of(part)
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// The part a relationship names, which must be in the package.
fn resolve_existing(
    archive: &Archive<'_>,
    relationships_part: &str,
    base_folder: &str,
    relationship: &opc::Relationship,
    limits: &AasxLimits,
) -> Result<String, AasxError> {
    let missing = || AasxError::MissingPart {
        part: relationships_part.to_owned(),
        id: relationship.id.clone(),
        target: relationship.target.clone(),
    };
    let target = opc::resolve(base_folder, &relationship.target, limits.part_name_len_max)?
        .ok_or_else(missing)?;
    match archive.entry(&target) {
        Some(entry) => Ok(format!("/{}", entry.name)),
        None => Err(missing()),
    }
}

/// JSON or XML, by the part's extension, else its content type, else its first
/// character.
fn spec_format(part: &str, content_type: &str, bytes: &[u8]) -> Option<SpecFormat> {
    let lower = part.to_lowercase();
    if lower.ends_with(".json") {
        return Some(SpecFormat::Json);
    }
    if lower.ends_with(".xml") {
        return Some(SpecFormat::Xml);
    }
    let content_type = content_type.to_lowercase();
    if content_type.contains("json") {
        return Some(SpecFormat::Json);
    }
    if content_type.contains("xml") {
        return Some(SpecFormat::Xml);
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Some(SpecFormat::Json),
        Some(b'<') => Some(SpecFormat::Xml),
        _ => None,
    }
}

/// Spec parts merged into one environment, remembering where each id came
/// from.
#[derive(Default)]
struct Merged {
    environment: Environment,
    /// (kind, id) → the spec part that defined it.
    seen: HashMap<(&'static str, String), String>,
}

impl Merged {
    fn add(
        &mut self,
        environment: Environment,
        part: &str,
        options: ReadOptions,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), AasxError> {
        let Environment {
            asset_administration_shells,
            submodels,
            concept_descriptions,
        } = environment;
        let mut keep = |kind: &'static str, id: &str| -> Result<bool, AasxError> {
            match self.seen.get(&(kind, id.to_owned())) {
                None => {
                    self.seen.insert((kind, id.to_owned()), part.to_owned());
                    Ok(true)
                }
                Some(first) if options.lenient => {
                    warnings.push(Warning {
                        path: part.to_owned(),
                        message: format!(
                            "{kind} {id:?} is already defined in {first}; this one is dropped"
                        ),
                    });
                    Ok(false)
                }
                Some(first) => Err(AasxError::DuplicateId {
                    kind,
                    id: id.to_owned(),
                    first: first.clone(),
                    second: part.to_owned(),
                }),
            }
        };
        let mut shells = Vec::new();
        for shell in asset_administration_shells.into_iter().flatten() {
            if keep("shell", &shell.id)? {
                shells.push(shell);
            }
        }
        let mut models = Vec::new();
        for submodel in submodels.into_iter().flatten() {
            if keep("submodel", &submodel.id)? {
                models.push(submodel);
            }
        }
        let mut concepts = Vec::new();
        for concept in concept_descriptions.into_iter().flatten() {
            if keep("concept description", &concept.id)? {
                concepts.push(concept);
            }
        }
        extend(&mut self.environment.asset_administration_shells, shells);
        extend(&mut self.environment.submodels, models);
        extend(&mut self.environment.concept_descriptions, concepts);
        Ok(())
    }
}

/// Appends to an optional list, leaving it absent when nothing is added (an
/// absent list and an empty one are different JSON).
fn extend<T>(list: &mut Option<Vec<T>>, items: Vec<T>) {
    if items.is_empty() {
        return;
    }
    list.get_or_insert_with(Vec::new).extend(items);
}

/// What to put in a package besides its environment.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions<'a> {
    /// The spec part's serialization.
    pub format: SpecFormat,
    /// The package thumbnail, if any.
    pub thumbnail: Option<&'a PackageFile>,
    /// Supplementary files; each gets an `aas-suppl` relationship from the spec
    /// part. A file at the thumbnail's path is the thumbnail (written once).
    pub files: &'a [PackageFile],
}

impl Package {
    /// The file a `File` value or default thumbnail path names (resolved from
    /// the package root, compared as OPC compares part names: without case,
    /// percent-decoded), or the package thumbnail; `None` for URIs outside the
    /// package and paths the package lacks. What a Part 2 `…/attachment`
    /// request serves.
    pub fn file(&self, reference: &str) -> Option<&PackageFile> {
        let target = opc::resolve("/", reference, PART_NAME_LEN_MAX).ok()??;
        let key = opc::part_key(&target);
        self.files
            .iter()
            .chain(self.thumbnail.as_ref())
            .find(|file| opc::part_key(&file.path) == key)
    }

    /// Writes this package again (its environment, thumbnail and files) with a
    /// spec part in `format`.
    pub fn to_bytes(&self, format: SpecFormat) -> Result<Vec<u8>, AasxError> {
        write(
            &self.environment,
            &WriteOptions {
                format,
                thumbnail: self.thumbnail.as_ref(),
                files: &self.files,
            },
        )
    }
}

/// Writes a package: `[Content_Types].xml`, the root relationships (origin and
/// thumbnail), `/aasx/aasx-origin` and its relationship to the spec part
/// `/aasx/aas/aas.json` (or `.xml`, strict 3.0), the spec part's `aas-suppl`
/// relationships, and every file. Deterministic: the same arguments give the
/// same bytes.
pub fn write(environment: &Environment, options: &WriteOptions<'_>) -> Result<Vec<u8>, AasxError> {
    let (spec_part, spec_type, spec_bytes) = match options.format {
        SpecFormat::Json => (
            "/aasx/aas/aas.json",
            "application/json",
            crate::json::to_string_pretty(environment).into_bytes(),
        ),
        SpecFormat::Xml => (
            "/aasx/aas/aas.xml",
            "text/xml",
            crate::xml::to_string(environment).into_bytes(),
        ),
    };
    let reserved = [
        CONTENT_TYPES_PART,
        ROOT_RELATIONSHIPS_PART,
        ORIGIN_PART,
        spec_part,
    ];
    // Files by key, so that a name given twice (in any case) is caught, and in
    // a fixed order.
    let mut files: BTreeMap<String, (String, &PackageFile)> = BTreeMap::new();
    let thumbnail_key = match options.thumbnail {
        Some(thumbnail) => Some(add_file(&mut files, thumbnail, &reserved)?),
        None => None,
    };
    let mut supplementary = Vec::new();
    for file in options.files {
        let key = add_file(&mut files, file, &reserved)?;
        if !supplementary.contains(&key) {
            supplementary.push(key);
        }
    }
    supplementary.sort();

    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut content_types: Vec<(&str, &str)> =
        vec![(ORIGIN_PART, "text/plain"), (spec_part, spec_type)];
    for (name, file) in files.values() {
        content_types.push((name, &file.content_type));
    }
    parts.push((
        CONTENT_TYPES_PART.to_owned(),
        opc::write_content_types(&content_types).into_bytes(),
    ));
    let origin_type = format!("{RELATIONSHIP_NAMESPACE}aasx-origin");
    let mut root: Vec<(&str, &str)> = vec![(&origin_type, ORIGIN_PART)];
    if let Some(key) = &thumbnail_key
        && let Some((name, _)) = files.get(key)
    {
        root.push((opc::THUMBNAIL_RELATIONSHIP, name));
    }
    parts.push((
        ROOT_RELATIONSHIPS_PART.to_owned(),
        opc::write_relationships(&root).into_bytes(),
    ));
    // Part 5 leaves the origin's content open; a short text says what it is for.
    parts.push((ORIGIN_PART.to_owned(), b"Intentionally empty.".to_vec()));
    let spec_type_name = format!("{RELATIONSHIP_NAMESPACE}aas-spec");
    parts.push((
        opc::relationships_of(ORIGIN_PART),
        opc::write_relationships(&[(&spec_type_name, spec_part)]).into_bytes(),
    ));
    parts.push((spec_part.to_owned(), spec_bytes));
    if !supplementary.is_empty() {
        let suppl_type = format!("{RELATIONSHIP_NAMESPACE}aas-suppl");
        let relationships: Vec<(&str, &str)> = supplementary
            .iter()
            .filter_map(|key| files.get(key))
            .map(|(name, _)| (suppl_type.as_str(), name.as_str()))
            .collect();
        parts.push((
            opc::relationships_of(spec_part),
            opc::write_relationships(&relationships).into_bytes(),
        ));
    }

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // Fixed time and permissions: the same input must give the same bytes.
    let file_options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let zip_error = |err: &dyn std::fmt::Display| AasxError::Zip {
        reason: err.to_string(),
    };
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), AasxError> {
        zip.start_file(name.trim_start_matches('/'), file_options)
            .map_err(|err| zip_error(&err))?;
        zip.write_all(bytes).map_err(|err| zip_error(&err))
    };
    for (name, bytes) in &parts {
        put(name, bytes)?;
    }
    for (name, file) in files.values() {
        put(name, &file.bytes)?;
    }
    let cursor = zip.finish().map_err(|err| zip_error(&err))?;
    Ok(cursor.into_inner())
}

/// Checks a file's path and files it by key; a second file at the same path
/// must be the same file.
fn add_file<'a>(
    files: &mut BTreeMap<String, (String, &'a PackageFile)>,
    file: &'a PackageFile,
    reserved: &[&str],
) -> Result<String, AasxError> {
    let refuse = |reason: String| AasxError::FilePath {
        path: file.path.clone(),
        reason,
    };
    if file.path.contains(['#', '?']) {
        // A relationship target would lose everything from there on as a
        // fragment or query.
        return Err(refuse(
            "holds '#' or '?', which a part name cannot (a URI reads them as a fragment or query)"
                .to_owned(),
        ));
    }
    let name = opc::resolve("/", &file.path, PART_NAME_LEN_MAX)
        .map_err(|err| refuse(err.to_string()))?
        .ok_or_else(|| refuse("a URI outside the package".to_owned()))?;
    opc::check_entry_name(name.trim_start_matches('/'), PART_NAME_LEN_MAX)
        .map_err(|err| refuse(err.to_string()))?;
    let key = opc::part_key(&name);
    if reserved.iter().any(|part| opc::part_key(part) == key)
        || key.ends_with(".rels")
        || key.contains("/_rels/")
    {
        return Err(refuse(
            "the name of a package structure part (content types, relationships, origin or spec part)"
                .to_owned(),
        ));
    }
    match files.get(&key) {
        Some((_, known)) if *known != file => Err(refuse(
            "given twice with different content (part names are case-insensitive)".to_owned(),
        )),
        Some(_) => Ok(key),
        None => {
            files.insert(key.clone(), (name, file));
            Ok(key)
        }
    }
}
