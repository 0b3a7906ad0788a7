//! The `csrf` target: see `fuzz/invariants/csrf.rs` for the input's layout and the invariant.
#![no_main]

#[path = "../invariants/common.rs"]
mod common;
#[path = "../invariants/csrf.rs"]
mod csrf;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = csrf::check(data);
});
