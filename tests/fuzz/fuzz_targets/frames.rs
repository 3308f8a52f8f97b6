//! cargo-fuzz target: decrypted bytes from a peer through the deframer, the XML reader and the
//! request typing, exactly as a connection processes them. Must never panic.
#![no_main]

use pcmk_remoted::proto::{xml, Request};
use pcmk_remoted::wire::Deframer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut deframer = Deframer::new(1 << 20);
    let mut input = data;
    // Each pass consumes at least one byte or ends: bounded by the input length.
    for _ in 0..=data.len() {
        if input.is_empty() {
            break;
        }
        match deframer.feed(input) {
            Ok((used, frame)) => {
                input = &input[used..];
                if let Some(frame) = frame {
                    if let Ok(root) = xml::parse(&frame.payload, &xml::Limits::default()) {
                        let _ = Request::from_xml(&root);
                    }
                }
            }
            Err(_) => break,
        }
    }
});
