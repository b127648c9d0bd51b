#![no_main]
//! See [`tilsyn_fuzz::desk_answers`].
libfuzzer_sys::fuzz_target!(
    init: tilsyn_fuzz::init(tilsyn_fuzz::desk_answers::seeds),
    |data: &[u8]| tilsyn_fuzz::desk_answers::run(data)
);
