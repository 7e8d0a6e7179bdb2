//! Arbitrary headers and bodies through everything a push meets before the first call upstream:
//! no panic, every refusal a 4xx, every request valid. The judgement is
//! `tests/support/push_oracle.rs`, shared with the stable test that replays
//! `corpus/push_decode/` on every `cargo test`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/push_oracle.rs"]
mod push_oracle;

fuzz_target!(|input: &[u8]| {
    let (headers, body) = push_oracle::request(input);
    push_oracle::check(&headers, body);
});
