//! The Azure Digital Twins query language: parsing, checking and evaluation.
