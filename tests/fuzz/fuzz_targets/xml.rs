//! XML reader and writer: parse, and on success write, re-parse and compare the trees.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pcmk_remoted::proto::xml::fuzz_parse(data);
});
