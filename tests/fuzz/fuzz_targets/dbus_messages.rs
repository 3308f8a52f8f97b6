//! cargo-fuzz target: bytes from the system bus through the D-Bus framer and message decoder,
//! as a connection reads them, then every decoded message back through the encoder, the decoder
//! and the encoder again (the bytes must come out the same). Must never panic.
#![no_main]

use pcmk_remoted::dbus::framer::{Frame, Framer};
use pcmk_remoted::dbus::Message;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut framer = Framer::new(1 << 16);
    let mut input = data;
    // Each pass consumes at least one byte or yields a frame: bounded by the input length.
    for _ in 0..=2 * data.len() {
        if input.is_empty() {
            break;
        }
        match framer.feed(input) {
            Ok((used, frame)) => {
                input = &input[used..];
                if let Some(Frame::Message(m)) = frame {
                    let big = m.header.big_endian;
                    // Compared as bytes: a NaN double is not equal to itself as a value.
                    if let Ok(bytes) = m.encode_with(m.header.serial, big, usize::MAX) {
                        let again = Message::decode(&bytes)
                            .ok()
                            .and_then(|m2| m2.encode_with(m2.header.serial, big, usize::MAX).ok());
                        assert_eq!(again.as_ref(), Some(&bytes));
                    }
                }
            }
            Err(_) => break,
        }
    }
});
