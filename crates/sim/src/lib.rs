//! ASAM OpenSCENARIO 1.x: parsing and the fixed-step scenario runner.
