#![no_main]
//! See [`tilsyn_fuzz::versions`].
libfuzzer_sys::fuzz_target!(
    init: tilsyn_fuzz::init(tilsyn_fuzz::versions::seeds),
    |data: &[u8]| tilsyn_fuzz::versions::run(data)
);
