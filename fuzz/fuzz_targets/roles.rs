//! The `roles` target: see `fuzz/invariants/roles.rs` for the input's layout and the invariant.
#![no_main]

#[path = "../invariants/common.rs"]
mod common;
#[path = "../invariants/roles.rs"]
mod roles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = roles::check(data);
});
