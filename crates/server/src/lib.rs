//! The HTTP server: ADT data-plane API, auth, errors, world wiring.
