//! Byte strings from RFC 8448 (example TLS 1.3 traces), shared by the known-answer tests.
//!
//! In: nothing. Out: the published messages as hex, and a decoder. Test-only.

/// Decodes a hex string, ignoring whitespace; panics on bad input (tests only).
pub(super) fn unhex(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Joins the lines of one of the constants below and decodes them.
pub(super) fn bytes(lines: &[&str]) -> Vec<u8> {
    unhex(&lines.concat())
}

/// RFC 8448 §3, simple 1-RTT handshake: the ClientHello handshake message.
pub(super) const RFC8448_S3_CLIENT_HELLO: &[&str] = &[
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece70000",
    "06130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d00",
    "17001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e",
    "435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603",
    "020308040805080604010501060102010402050206020202002d00020101001c00024001",
];

/// RFC 8448 §3: the ServerHello handshake message.
pub(super) const RFC8448_S3_SERVER_HELLO: &[&str] = &[
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e269280013",
    "0100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b0",
    "4e751f0f002b00020304",
];

/// RFC 8448 §4, resumed 0-RTT handshake: the ClientHello (512 bytes), whose last 32 bytes
/// are the binder computed with the "res binder" label.
pub(super) const RFC8448_S4_CLIENT_HELLO: &[&str] = &[
    "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d950000",
    "06130113031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d00",
    "170018001901000101010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c",
    "6be16482badddafe051a66b4f18d668f0b002a0000002b0003020304000d0020001e040305030603",
    "020308040805080604010501060102010402050206020202002d00020101001c0002400100150057",
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000002900dd00b800b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a",
    "34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143ef",
    "d3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc",
    "67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac",
    "5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb002120",
    "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d",
];
