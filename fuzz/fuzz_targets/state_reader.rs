//! Any bytes as the state file a new daemon restores levels from, and as
//! the state a daemon image hands to the next on `reexec`. Both readers
//! must refuse garbage with an error — never panic, never allocate without
//! bound. (What the state-file reader accepts is checked again when it is
//! restored: an unknown group or an invalid level is logged and skipped.)

#![no_main]

use isinit_daemon::runtime::{handover, state};
use libfuzzer_sys::fuzz_target;

/// Every allocation over the limit aborts the run (see the library).
#[global_allocator]
static ALLOCATOR: isinit_fuzz::CappedAllocator = isinit_fuzz::CappedAllocator;

fuzz_target!(|data: &[u8]| {
    let _ = state::parse_state(data);
    let _ = handover::decode(data);
});
