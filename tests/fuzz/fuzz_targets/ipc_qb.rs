//! cargo-fuzz target: libqb's handshake request and reply, response headers and request
//! datagrams (`ipc::qb`) from arbitrary bytes: never a panic, and whatever parses encodes back
//! to bytes that parse to the same value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pcmk_remoted::ipc::qb::fuzz_parse(data);
});
