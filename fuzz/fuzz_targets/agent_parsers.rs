#![no_main]
//! See [`tilsyn_fuzz::agent_parsers`].
libfuzzer_sys::fuzz_target!(
    init: tilsyn_fuzz::init(tilsyn_fuzz::agent_parsers::seeds),
    |data: &[u8]| tilsyn_fuzz::agent_parsers::run(data)
);
