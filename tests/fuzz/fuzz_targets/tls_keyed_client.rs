//! cargo-fuzz target: see `pcmk_remoted::transport::tls::fuzzing::keyed_client`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pcmk_remoted::transport::tls::fuzzing::keyed_client(data);
});
