//! Any bytes as an isinittab. The parser must never panic, must report an
//! error or return a table, and a table it accepts must be consistent:
//! every entry found by its tag, the digest that of the bytes.

#![no_main]

use isinit_shared::config::{Inittab, parse_lenient};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/isinittab");
    let (lenient, errors) = parse_lenient(path, data);
    assert_eq!(lenient.sha256, Inittab::digest(data));
    match Inittab::from_bytes(path, data) {
        Ok(tab) => {
            assert!(errors.is_empty());
            for e in &tab.entries {
                assert_eq!(tab.entry(&e.tag).map(|f| &f.tag), Some(&e.tag), "entry not found by its tag");
                assert!(tab.groups().contains(e.group.as_str()));
            }
            let _ = tab.groups().iter().map(|g| tab.suggested_levels(g)).count();
        }
        Err(e) => {
            assert!(!e.0.is_empty());
            assert_eq!(e.0.len(), errors.len());
            let _ = e.lines();
        }
    }
});
