//! The `twinspace` binary: command line, configuration and wiring.

fn main() {}
