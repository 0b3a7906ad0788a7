//! The `request_head` target: see `fuzz/invariants/request_head.rs` for the input's layout and the invariant.
#![no_main]

#[path = "../invariants/common.rs"]
mod common;
#[path = "../invariants/request_head.rs"]
mod request_head;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = request_head::check(data);
});
