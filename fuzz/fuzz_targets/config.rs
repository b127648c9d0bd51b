#![no_main]
//! See [`tilsyn_fuzz::config`].
libfuzzer_sys::fuzz_target!(
    init: tilsyn_fuzz::init(tilsyn_fuzz::config::seeds),
    |data: &[u8]| tilsyn_fuzz::config::run(data)
);
