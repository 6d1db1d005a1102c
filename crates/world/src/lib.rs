//! Worlds: the twin graph, placement, spatial index and the command/change core.
