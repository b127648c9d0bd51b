#![no_main]
//! See [`tilsyn_fuzz::report`].
libfuzzer_sys::fuzz_target!(
    init: tilsyn_fuzz::init(tilsyn_fuzz::report::seeds),
    |data: &[u8]| tilsyn_fuzz::report::run(data)
);
