//! Feeds arbitrary bytes to the decoders of history's store rows: the twin
//! record, the head log entry, the chunk summary and the meta rows. Each must
//! return a value or an error, never panic, and never allocate more than
//! `ALLOC_PER_INPUT_BYTE` bytes per input byte plus `ALLOC_ALLOWANCE` (what
//! compressed heads may legitimately expand to). A record or summary that
//! decodes must encode again to bytes that decode to the same value.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use history::fuzzing;
use libfuzzer_sys::fuzz_target;

/// Counts live heap bytes and their peak, so each decoder's allocations can
/// be checked against its input size.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `decode`, failing if its peak allocation (above what was live before)
/// exceeds the documented bound for `input`.
fn bounded<T>(what: &str, input: &[u8], decode: impl FnOnce() -> T) -> T {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = decode();
    let used = PEAK.load(Ordering::Relaxed) - before;
    let limit = input.len() * fuzzing::ALLOC_PER_INPUT_BYTE + fuzzing::ALLOC_ALLOWANCE;
    assert!(
        used <= limit,
        "{what} of {} bytes allocated {used} bytes, over {limit}",
        input.len()
    );
    out
}

fuzz_target!(|data: &[u8]| {
    // Every decoder sees every input: the record's format byte is also the log
    // entry's, and the others reject what is not theirs quickly.
    let round_trip = bounded("twin record", data, || fuzzing::record_round_trip(data));
    if let Err(why) = round_trip {
        panic!("{why}");
    }
    let _ = bounded("head log entry", data, || fuzzing::log_entry(data));
    let summary = bounded("chunk summary", data, || fuzzing::summary_round_trip(data));
    if let Err(why) = summary {
        panic!("{why}");
    }
    let _ = bounded("meta row", data, || fuzzing::meta(data));
});
