//! The `session` target: see `fuzz/invariants/session.rs` for the input's layout and the invariant.
#![no_main]

#[path = "../invariants/common.rs"]
mod common;
#[path = "../invariants/session.rs"]
mod session;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = session::check(data);
});
