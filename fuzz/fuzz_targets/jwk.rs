//! The `jwk` target: see `fuzz/invariants/jwk.rs` for the input's layout and the invariant.
#![no_main]

#[path = "../invariants/common.rs"]
mod common;
#[path = "../invariants/jwk.rs"]
mod jwk;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = jwk::check(data);
});
