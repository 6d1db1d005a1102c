//! Named bounds on what one upload may contain, so that a hostile or broken
//! model is refused with a [`crate::Problem`] instead of exhausting memory or
//! the stack.

/// Largest accepted text of one [`crate::ModelSource`], in bytes. The whole
/// RealEstateCore ontology is about 2 MiB; 16 MiB leaves room for larger
/// ontologies while keeping one request's parse bounded.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// Largest accepted total text of one batch, in bytes: four times the single
/// document bound, so a batch stays a bounded amount of parsing work.
pub const MAX_BATCH_BYTES: usize = 4 * MAX_SOURCE_BYTES;

/// Deepest JSON nesting accepted in a document. DTDL's own depth limits
/// (schemas nest at most 5 or 8 levels, `extends` 10 or 12) need far less;
/// this bound protects the recursive parser from stack exhaustion.
pub const MAX_JSON_DEPTH: usize = 64;

/// Most DTDL elements (interfaces, contents, schemas, fields, ...) in one
/// batch. RealEstateCore has about 10,000; a batch beyond a million elements
/// is refused rather than resolved.
pub const MAX_ELEMENTS: usize = 1_000_000;

/// Most schema nodes produced when references to reusable schemas are
/// expanded into the resolved model. References may fan out (a schema used
/// by many fields of a schema used by many fields ...), so expansion has its
/// own budget per batch.
pub const MAX_EXPANDED_SCHEMA_NODES: usize = 2_000_000;

/// Longest JSON pointer path nesting walked by [`crate::ModelSet::check_value`];
/// schemas are at most 8 levels deep, so values deeper than this cannot conform.
pub const MAX_VALUE_DEPTH: usize = 64;
