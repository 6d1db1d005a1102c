//! Feeds arbitrary bytes to the AASX reader, strict and lenient, within small
//! limits: it must answer with a package or an error, never panic or unpack
//! more than the limits allow. A package that reads must write again (unless a
//! file's path is one the writer refuses) and read back with the same
//! environment, thumbnail and files.

#![no_main]

use aas::ReadOptions;
use aas::aasx::{self, AasxLimits, SpecFormat};
use libfuzzer_sys::fuzz_target;

/// Tighter than the defaults so that a forged size cannot make one run
/// allocate much: the fuzzer's inputs are a few KiB.
const LIMITS: AasxLimits = AasxLimits {
    total_bytes_max: 16 << 20,
    entry_bytes_max: 8 << 20,
    entries_max: 1_000,
    compression_ratio_max: 100,
    part_name_len_max: 1024,
};

fuzz_target!(|data: &[u8]| {
    for options in [ReadOptions::STRICT, ReadOptions::LENIENT] {
        let Ok(package) = aasx::read_with_limits(data, options, &LIMITS) else {
            continue;
        };
        let written = match package.to_bytes(SpecFormat::Json) {
            Ok(written) => written,
            Err(aas::AasxError::FilePath { .. }) => continue,
            Err(err) => panic!("a package that reads cannot be written: {err}"),
        };
        let back = aasx::read(&written, ReadOptions::STRICT).expect("a written package reads");
        assert_eq!(back.environment, package.environment, "environment round trip");
        assert_eq!(back.thumbnail, package.thumbnail, "thumbnail round trip");
        assert_eq!(back.files, package.files, "files round trip");
    }
});
