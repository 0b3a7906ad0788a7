//! The `jws` target: see `fuzz/invariants/jws.rs` for the input's layout and the invariant.
#![no_main]

#[path = "../invariants/common.rs"]
mod common;
#[path = "../invariants/jws.rs"]
mod jws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = jws::check(data);
});
