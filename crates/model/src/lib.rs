//! DTDL v2/v3 models: parsing, validation and the resolved model graph.
