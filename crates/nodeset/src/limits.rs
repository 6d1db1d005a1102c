//! Named bounds on what one NodeSet2 document, and one import, may contain, so a
//! hostile or broken file is refused with an error instead of exhausting memory or
//! the stack.

/// Largest accepted NodeSet2 document, in bytes. The base `Opc.Ua.NodeSet2.xml`
/// (every standard node of OPC UA 1.05) is about 4 MiB; 64 MiB leaves room for the
/// biggest companion specifications while keeping one parse bounded.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// Deepest element nesting accepted. NodeSet2 nests about twelve levels (a
/// structure value inside an extension object inside a list inside `<Value>`);
/// the bound protects the tree builder and every recursive walk over it.
pub const MAX_DEPTH: usize = 64;

/// Most XML elements in one document. The base NodeSet has about 150,000.
pub const MAX_ELEMENTS: usize = 4_000_000;

/// Most nodes (UAObject, UAVariable, ...) in one document. The base NodeSet has
/// about 5,500 nodes; the largest companion specifications have tens of thousands.
pub const MAX_NODES: usize = 500_000;

/// Most namespace URIs one document may declare. Namespace indexes are `u16` in
/// OPC UA; real files declare fewer than ten.
pub const MAX_NAMESPACES: usize = 1_000;

/// Most NodeSet documents in one import (a model with its dependencies). The
/// deepest real dependency chains (MachineTool) need seven.
pub const MAX_DOCUMENTS: usize = 256;

/// Deepest structure nesting turned into a DTDL `Object` schema. DTDL v3 allows
/// complex schemas five levels deep; a field beyond that is carried as a JSON
/// string rather than refused, so recursive structures still import.
pub const MAX_SCHEMA_DEPTH: usize = 4;

/// Longest `extends` chain generated. DTDL v3 allows ten levels; a deeper OPC UA
/// subtype chain is cut there and the cut interface carries its ancestors'
/// contents itself.
pub const MAX_EXTENDS_DEPTH: usize = 10;

/// Longest interface DTMI DTDL v3 accepts, in characters.
pub const MAX_INTERFACE_DTMI_LEN: usize = 128;

/// Longest description or comment DTDL v3 accepts, in characters.
pub const MAX_TEXT_LEN: usize = 512;

/// Longest content or enum value name DTDL v3 accepts, in characters.
pub const MAX_NAME_LEN: usize = 512;
