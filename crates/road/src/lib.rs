//! ASAM OpenDRIVE road networks: parsing and geometry.
