//! Any bytes as an isinittab. The parser must never panic, must report an
//! error or return a table, and a table it accepts must be consistent:
//! every entry found by its tag, the digest that of the bytes.

#![no_main]

use isinit_shared::config::Inittab;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// Every allocation over the limit aborts the run (see the library).
#[global_allocator]
static ALLOCATOR: isinit_fuzz::CappedAllocator = isinit_fuzz::CappedAllocator;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/isinittab");
    // `from_bytes` is `parse_lenient` (what clients use) plus the verdict.
    match Inittab::from_bytes(path, data) {
        Ok(tab) => {
            assert_eq!(tab.sha256, Inittab::digest(data));
            let groups = tab.groups();
            for e in &tab.entries {
                assert_eq!(tab.entry(&e.tag).map(|f| &f.tag), Some(&e.tag), "entry not found by its tag");
                assert!(groups.contains(e.group.as_str()));
            }
            // Few groups in any input that parses; each costs one pass.
            for g in groups.iter().take(8) {
                let _ = tab.suggested_levels(g);
            }
        }
        Err(e) => assert!(!e.0.is_empty(), "an error verdict names its errors"),
    }
});
