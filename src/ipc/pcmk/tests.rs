//! Table tests for the Pacemaker IPC header, decoding and encoding (both layouts).

use super::encode::datagram_v2;
use super::*;

const MAX: usize = 1 << 20;

fn v2(id: i32, flags: u32, text: &[u8]) -> Vec<u8> {
    let mut payload = text.to_vec();
    payload.push(0);
    datagram_v2(id, flags, payload.len() as u32, 0, &[&payload])
}

fn v3(id: i32, flags: u32, part_id: u16, payload: &[u8]) -> Vec<u8> {
    let h = Header {
        id,
        size: (HEADER_LEN + payload.len()) as i32,
        flags,
        version: VERSION,
        layout: Layout::V3 {
            size: payload.len() as u32,
            part_id,
        },
    };
    let mut d = encode_header(&h).to_vec();
    d.extend_from_slice(payload);
    d
}

fn with_nul(t: &[u8]) -> Vec<u8> {
    let mut v = t.to_vec();
    v.push(0);
    v
}

#[test]
#[cfg(target_endian = "little")]
fn header_fixture_v2() {
    // attrd_updater -Q, as captured (libqb-ipc.md 7.1): id 1, size 140, 100 bytes of text.
    let h = Header {
        id: 1,
        size: 140,
        flags: FLAG_CLIENT_RESPONSE,
        version: 1,
        layout: Layout::V2 {
            size_uncompressed: 100,
            size_compressed: 0,
        },
    };
    let wire: [u8; 40] = [
        1, 0, 0, 0, 0, 0, 0, 0, 140, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // qb
        100, 0, 0, 0, // size_uncompressed
        0, 0, 0, 0, // size_compressed
        0, 2, 0, 0, // flags 0x200
        1, 0, 0, 0, // version, padding
    ];
    assert_eq!(encode_header(&h), wire);
    assert_eq!(decode_header(Framing::Pacemaker2, &wire), Ok(h));
}

#[test]
#[cfg(target_endian = "little")]
fn header_fixture_v3() {
    let h = Header {
        id: 7,
        size: 131072,
        flags: FLAG_SERVER_EVENT | FLAG_MULTIPART,
        version: 1,
        layout: Layout::V3 {
            size: 131032,
            part_id: 0x0102,
        },
    };
    let wire: [u8; 40] = [
        7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // qb
        0xd8, 0xff, 0x01, 0, // size 131032
        0, 0, 9, 0, // flags 0x90000
        1, 0, // version, padding
        2, 1, // part_id 0x0102
        0, 0, 0, 0, // struct padding
    ];
    assert_eq!(encode_header(&h), wire);
    assert_eq!(decode_header(Framing::Pacemaker3, &wire), Ok(h));
}

#[test]
fn decode_plain_requests() {
    let xml = br#"<create_attrd_op t="attrd" task="query" attr_name="probe"/>"#;
    for framing in [Framing::Pacemaker2, Framing::Pacemaker3] {
        let d = match framing {
            Framing::Pacemaker2 => v2(1, FLAG_CLIENT_RESPONSE, xml),
            Framing::Pacemaker3 => v3(1, FLAG_CLIENT_RESPONSE, 0, &with_nul(xml)),
        };
        let mut dec = Decoder::new(framing, MAX);
        assert_eq!(
            dec.decode(&d),
            Ok(Some(Message {
                id: 1,
                flags: FLAG_CLIENT_RESPONSE,
                xml: xml.to_vec()
            }))
        );
    }
}

#[cfg(feature = "bzip2")]
#[test]
fn decode_compressed_request() {
    let xml: Vec<u8> = b"<nvpair/>".iter().cycle().take(200_000).copied().collect();
    let text = with_nul(&xml);
    let c = crate::bzip2::compress(&text, 100_000).unwrap();
    // Flag deliberately clear: receivers go by size_compressed alone.
    let d = datagram_v2(4, 0, text.len() as u32, c.len() as u32, &[&c]);
    let got = Decoder::new(Framing::Pacemaker2, MAX).decode(&d).unwrap();
    assert_eq!(got.map(|m| m.xml), Some(xml.clone()));
    // The same, but the header lies about the inflated size or it exceeds our bound.
    let lie = datagram_v2(4, 1, text.len() as u32 + 1, c.len() as u32, &[&c]);
    assert!(matches!(
        Decoder::new(Framing::Pacemaker2, MAX).decode(&lie),
        Err(DecodeError::Compressed(_))
    ));
    assert_eq!(
        Decoder::new(Framing::Pacemaker2, 1000).decode(&d),
        Err(DecodeError::TooLarge {
            len: 200_000,
            max: 1000
        })
    );
    // Inflates fine but without the final NUL.
    let c2 = crate::bzip2::compress(&xml, 100_000).unwrap();
    let d2 = datagram_v2(4, 1, xml.len() as u32, c2.len() as u32, &[&c2]);
    assert_eq!(
        Decoder::new(Framing::Pacemaker2, MAX).decode(&d2),
        Err(DecodeError::NotTerminated)
    );
}

#[test]
fn malformed_requests() {
    let good2 = v2(3, 0, b"<x/>");
    let mut bad_version = good2.clone();
    bad_version[36] = 2;
    // Fields are in native order: change them as numbers, so the test holds on big-endian too.
    let bump = |d: &mut Vec<u8>, at: usize| {
        let v = u32::from_ne_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
        d[at..at + 4].copy_from_slice(&v.wrapping_add(1).to_ne_bytes());
    };
    let mut size_mismatch = good2.clone();
    bump(&mut size_mismatch, 8);
    let mut payload_lie = good2.clone();
    bump(&mut payload_lie, 24); // size_uncompressed + 1
    let not_terminated = datagram_v2(3, 0, 4, 0, &[b"<x/>"]);
    let nul_inside = datagram_v2(3, 0, 6, 0, &[b"<x\0/>\0"]);
    let empty = datagram_v2(3, 0, 0, 0, &[]);
    let compressed_junk = datagram_v2(3, 1, 10, 4, &[b"junk"]);
    let table: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "short",
            good2[..39].to_vec(),
            DecodeError::Short { len: 39 },
        ),
        ("version", bad_version, DecodeError::Version { version: 2 }),
        (
            "qb size",
            size_mismatch,
            DecodeError::Qb(qb::QbError::SizeMismatch {
                size: good2.len() as i32 + 1,
                len: good2.len(),
            }),
        ),
        (
            "payload size",
            payload_lie,
            DecodeError::PayloadSize {
                declared: 6,
                present: 5,
            },
        ),
        ("no nul", not_terminated, DecodeError::NotTerminated),
        ("nul inside", nul_inside, DecodeError::NulInside { at: 2 }),
        ("empty", empty, DecodeError::NotTerminated),
        (
            "too large",
            v2(3, 0, &[b'a'; 100]),
            DecodeError::TooLarge { len: 100, max: 50 },
        ),
    ];
    for (name, d, want) in table {
        let max = if name == "too large" { 50 } else { MAX };
        assert_eq!(
            Decoder::new(Framing::Pacemaker2, max).decode(&d),
            Err(want),
            "{name}"
        );
    }
    let junk = Decoder::new(Framing::Pacemaker2, MAX).decode(&compressed_junk);
    if cfg!(feature = "bzip2") {
        assert!(matches!(junk, Err(DecodeError::Compressed(_))), "{junk:?}");
    } else {
        assert_eq!(junk, Err(DecodeError::CompressionUnsupported));
    }
}

#[test]
fn reassembles_parts() {
    let mut dec = Decoder::new(Framing::Pacemaker3, MAX);
    let f = FLAG_CLIENT_RESPONSE;
    assert_eq!(
        dec.decode(&v3(9, f | FLAG_MULTIPART, 0, b"<a>\0")),
        Ok(None)
    );
    assert_eq!(dec.pending(), 3);
    assert_eq!(
        dec.decode(&v3(9, f | FLAG_MULTIPART, 1, b"<b/>\0")),
        Ok(None)
    );
    let end = FLAG_MULTIPART | FLAG_MULTIPART_END;
    assert_eq!(
        dec.decode(&v3(9, f | end, 2, b"</a>\0")),
        Ok(Some(Message {
            id: 9,
            flags: f,
            xml: b"<a><b/></a>".to_vec()
        }))
    );
    assert_eq!(dec.pending(), 0);
    // The decoder is ready for the next message.
    assert!(matches!(dec.decode(&v3(10, 0, 0, b"<c/>\0")), Ok(Some(_))));
}

#[test]
fn part_order_and_bounds() {
    let m = FLAG_MULTIPART;
    let end = FLAG_MULTIPART | FLAG_MULTIPART_END;
    let first = v3(5, m, 0, b"aaaa\0");
    // (name, datagrams after `first` (or alone), error)
    let table: Vec<(&str, bool, Vec<Vec<u8>>, DecodeError)> = vec![
        (
            "end without start",
            false,
            vec![v3(5, end, 1, b"x\0")],
            DecodeError::PartOrder {
                id: 5,
                part_id: 1,
                expected: None,
            },
        ),
        (
            "middle without start",
            false,
            vec![v3(5, m, 3, b"x\0")],
            DecodeError::PartOrder {
                id: 5,
                part_id: 3,
                expected: None,
            },
        ),
        (
            "first part marked last",
            false,
            vec![v3(5, end, 0, b"x\0")],
            DecodeError::PartOrder {
                id: 5,
                part_id: 0,
                expected: None,
            },
        ),
        (
            "skipped part",
            true,
            vec![v3(5, m, 2, b"x\0")],
            DecodeError::PartOrder {
                id: 5,
                part_id: 2,
                expected: Some(1),
            },
        ),
        (
            "other id",
            true,
            vec![v3(6, end, 1, b"x\0")],
            DecodeError::PartOrder {
                id: 6,
                part_id: 1,
                expected: Some(1),
            },
        ),
        (
            "whole message inside parts",
            true,
            vec![v3(6, 0, 0, b"x\0")],
            DecodeError::PartOrder {
                id: 6,
                part_id: 0,
                expected: Some(1),
            },
        ),
        (
            "restart",
            true,
            vec![v3(5, m, 0, b"x\0")],
            DecodeError::PartOrder {
                id: 5,
                part_id: 0,
                expected: Some(1),
            },
        ),
        (
            "reassembly bound",
            true,
            vec![v3(5, m, 1, b"bbbb\0"), v3(5, end, 2, b"cc\0")],
            DecodeError::TooLarge { len: 10, max: 9 },
        ),
        (
            "part without nul",
            true,
            vec![v3(5, end, 1, b"x")],
            DecodeError::NotTerminated,
        ),
        (
            "part payload size",
            false,
            vec![{
                let mut d = v3(5, 0, 0, b"x\0");
                d[24..28].copy_from_slice(&9u32.to_ne_bytes());
                d
            }],
            DecodeError::PayloadSize {
                declared: 9,
                present: 2,
            },
        ),
    ];
    for (name, start, rest, want) in table {
        let mut dec = Decoder::new(Framing::Pacemaker3, 9);
        if start {
            assert_eq!(dec.decode(&first), Ok(None), "{name}");
        }
        let mut got = Ok(None);
        for d in &rest {
            got = dec.decode(d);
            if got.is_err() {
                break;
            }
        }
        assert_eq!(got, Err(want), "{name}");
    }
}

#[test]
fn encode_v2_plain_and_compressed() {
    let enc = Encoder::new(Framing::Pacemaker2, 1000, 4000);
    let small = enc.encode(3, 0, b"<ok/>").unwrap();
    assert_eq!(small, vec![v2(3, 0, b"<ok/>")]);

    // 40 + 959 + 1 = 1000: at the threshold Pacemaker compresses (total >= buffer size).
    let at = vec![b'a'; 959];
    let d = enc.encode(4, FLAG_SERVER_EVENT, &at).unwrap();
    let h = decode_header(Framing::Pacemaker2, &d[0]).unwrap();
    if cfg!(feature = "bzip2") {
        assert_eq!(h.flags, FLAG_SERVER_EVENT | FLAG_COMPRESSED);
        assert!(
            matches!(h.layout, Layout::V2 { size_uncompressed: 960, size_compressed } if size_compressed > 0)
        );
    }
    let back = Decoder::new(Framing::Pacemaker2, MAX)
        .decode(&d[0])
        .unwrap();
    assert_eq!(back.map(|m| m.xml), Some(at));
    // One byte less stays plain.
    let below = enc.encode(4, 0, &[b'a'; 958]).unwrap();
    assert_eq!(
        decode_header(Framing::Pacemaker2, &below[0]).unwrap().flags,
        0
    );
}

#[cfg(feature = "bzip2")]
#[test]
fn encode_v2_large_and_too_large() {
    // A 380 KB CIB-like text squeezes into a 128 KiB datagram.
    let xml: Vec<u8> =
        br#"<nvpair id="a" name="b" value="c"/>"#.iter().cycle().take(380_000).copied().collect();
    let enc = Encoder::new(Framing::Pacemaker2, 131072, 131072);
    let d = enc.encode(2, 0, &xml).unwrap();
    assert_eq!(d.len(), 1);
    assert!(d[0].len() <= 131072);
    let m = Decoder::new(Framing::Pacemaker2, MAX)
        .decode(&d[0])
        .unwrap()
        .unwrap();
    assert_eq!((m.id, m.flags, m.xml), (2, FLAG_COMPRESSED, xml));

    // Incompressible and larger than the negotiated size: refused, nothing oversized.
    let mut x: u32 = 1;
    let noise: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 255) as u8 + 1
        })
        .collect();
    assert!(matches!(
        enc.encode(2, 0, &noise),
        Err(EncodeError::TooLarge { max: 131072, .. })
    ));
    // Incompressible but within the negotiated size: goes out, and decodes back.
    let big = Encoder::new(Framing::Pacemaker2, 131072, 524288);
    let d = big.encode(2, 0, &noise).unwrap();
    assert!(d[0].len() <= 524288);
    let m = Decoder::new(Framing::Pacemaker2, MAX)
        .decode(&d[0])
        .unwrap();
    assert_eq!(m.map(|m| m.xml).as_ref(), Some(&noise));
    // Just over the negotiated size and incompressible: refused rather than sent oversized.
    let edge = Encoder::new(Framing::Pacemaker2, 1000, 300_040);
    assert!(matches!(
        edge.encode(2, 0, &noise),
        Err(EncodeError::TooLarge { max: 300_040, .. })
    ));
}

#[test]
fn encode_v3_parts() {
    let threshold = 100; // 59 text bytes per part
    let enc = Encoder::new(Framing::Pacemaker3, threshold, 1000);
    let xml: Vec<u8> = (0..150u32).map(|i| b'a' + (i % 26) as u8).collect();
    let parts = enc.encode(12, FLAG_SERVER_EVENT, &xml).unwrap();
    let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![100, 100, 40 + 32 + 1]);
    let flags: Vec<(u32, u16)> = parts
        .iter()
        .map(|p| {
            let h = decode_header(Framing::Pacemaker3, p).unwrap();
            let Layout::V3 { part_id, .. } = h.layout else {
                panic!()
            };
            assert_eq!(h.id, 12);
            (h.flags, part_id)
        })
        .collect();
    let m = FLAG_SERVER_EVENT | FLAG_MULTIPART;
    assert_eq!(flags, vec![(m, 0), (m, 1), (m | FLAG_MULTIPART_END, 2)]);
    let mut dec = Decoder::new(Framing::Pacemaker3, MAX);
    let mut got = None;
    for p in &parts {
        got = dec.decode(p).unwrap();
    }
    assert_eq!(
        got,
        Some(Message {
            id: 12,
            flags: FLAG_SERVER_EVENT,
            xml
        })
    );
}

#[test]
fn encode_v3_edges() {
    let enc = Encoder::new(Framing::Pacemaker3, 100, 100);
    // 58 text bytes: 40 + 58 + 1 = 99 < 100, one plain datagram with no part flags.
    let one = enc.encode(1, 0, &[b'x'; 58]).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        decode_header(Framing::Pacemaker3, &one[0]).unwrap().flags,
        0
    );
    // 59 bytes fill a part exactly, so an empty final part follows, as Pacemaker sends it.
    let two = enc.encode(1, 0, &[b'x'; 59]).unwrap();
    assert_eq!(two.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 41]);
    let mut dec = Decoder::new(Framing::Pacemaker3, MAX);
    assert_eq!(dec.decode(&two[0]), Ok(None));
    assert_eq!(dec.decode(&two[1]).unwrap().unwrap().xml, vec![b'x'; 59]);
    // Empty text: a header and a NUL.
    assert_eq!(enc.encode(1, 0, b"").unwrap(), vec![v3(1, 0, 0, b"\0")]);
    // Too many parts for a u16 part id.
    let tiny = Encoder::new(Framing::Pacemaker3, MIN_BUFFER, MIN_BUFFER);
    assert!(matches!(
        tiny.encode(1, 0, &vec![b'y'; 70_000]),
        Err(EncodeError::TooManyParts { per_part: 1, .. })
    ));
}

#[test]
fn encoder_clamps_threshold() {
    // A floor above the negotiated size must never produce larger datagrams.
    let enc = Encoder::new(Framing::Pacemaker3, 1 << 20, 200);
    for p in enc.encode(1, 0, &[b'z'; 1000]).unwrap() {
        assert!(p.len() <= 200);
    }
}

#[test]
fn fuzz_entry_runs() {
    let mut input = vec![0u8];
    let d = v2(1, 0, b"<a/>");
    input.extend_from_slice(&(d.len() as u16).to_ne_bytes());
    input.extend_from_slice(&d);
    fuzz_decode(&input);
    let mut input = vec![1u8];
    for p in [
        v3(2, FLAG_MULTIPART, 0, b"<a\0"),
        v3(2, FLAG_MULTIPART | FLAG_MULTIPART_END, 1, b"/>\0"),
    ] {
        input.extend_from_slice(&(p.len() as u16).to_ne_bytes());
        input.extend_from_slice(&p);
    }
    fuzz_decode(&input);
    fuzz_decode(&[]);
    fuzz_decode(&[7, 1]);
}

#[cfg(feature = "bzip2")]
#[test]
fn compressed_requests_inflate_in_slices_and_say_what_they_will_hold() {
    let xml: Vec<u8> = b"<nvpair/>".iter().cycle().take(300_000).copied().collect();
    let text = with_nul(&xml);
    let c = crate::bzip2::compress(&text, 100_000).unwrap();
    let d = datagram_v2(9, 0x200, text.len() as u32, c.len() as u32, &[&c]);
    let mut dec = Decoder::new(Framing::Pacemaker2, MAX);
    // Before taking it: the inflated size plus the decompressor's state.
    assert_eq!(dec.demand(&d[..HEADER_LEN], 1000), text.len() + 1000);
    // A plain message in one datagram, or a claim over the bound, needs nothing.
    assert_eq!(dec.demand(&v2(1, 0, b"<x/>")[..HEADER_LEN], 1000), 0);
    let huge = datagram_v2(9, 0, (MAX + 2) as u32, c.len() as u32, &[&c]);
    assert_eq!(dec.demand(&huge[..HEADER_LEN], 1000), 0);
    assert_eq!(dec.demand(b"short", 1000), 0);
    let Ok(Decoded::Inflate(mut job)) = dec.feed(&d) else {
        panic!("expected an inflation");
    };
    assert_eq!(job.id(), 9);
    let mut steps = 0;
    let m = loop {
        steps += 1;
        if let Some(m) = job.step(32 * 1024).unwrap() {
            break m;
        }
        assert!(job.produced() <= steps * 32 * 1024);
    };
    assert!(steps >= 300_000 / (32 * 1024), "{steps}");
    assert_eq!((m.id, m.flags, m.xml), (9, 0x200, xml));
}

#[cfg(feature = "bzip2")]
#[test]
fn a_bzip2_bomb_stops_one_byte_past_its_claim() {
    // 8 MiB of one byte in a few kilobytes, claiming 1 MiB.
    let bomb = crate::bzip2::compress(&vec![b'a'; 8 << 20], 1 << 20).unwrap();
    let d = datagram_v2(3, 0x200, 1 << 20, bomb.len() as u32, &[&bomb]);
    let mut dec = Decoder::new(Framing::Pacemaker2, MAX);
    let Ok(Decoded::Inflate(mut job)) = dec.feed(&d) else {
        panic!("expected an inflation");
    };
    let e = loop {
        match job.step(256 * 1024) {
            Ok(None) => assert!(job.produced() <= (1 << 20) + 1),
            Ok(Some(_)) => panic!("a bomb passed"),
            Err(e) => break e,
        }
    };
    assert!(matches!(e, DecodeError::Compressed(_)), "{e}");
    // A claim over the bound is refused before anything is inflated.
    let over = datagram_v2(4, 0, (MAX + 2) as u32, bomb.len() as u32, &[&bomb]);
    assert!(matches!(dec.feed(&over), Err(DecodeError::TooLarge { .. })));
}

#[test]
fn parts_demand_the_whole_text_so_far() {
    let mut dec = Decoder::new(Framing::Pacemaker3, MAX);
    let first = v3(2, FLAG_MULTIPART, 0, &with_nul(&[b'a'; 100]));
    assert_eq!(dec.demand(&first[..HEADER_LEN], 1000), 101);
    assert!(matches!(dec.feed(&first), Ok(Decoded::Part)));
    let second = v3(2, FLAG_MULTIPART, 1, &with_nul(&[b'b'; 50]));
    assert_eq!(dec.demand(&second[..HEADER_LEN], 1000), 100 + 51);
    // A single message needs nothing beyond its datagram.
    let single = v3(3, 0, 0, &with_nul(b"<x/>"));
    assert_eq!(dec.demand(&single[..HEADER_LEN], 1000), 0);
    // Out of order while a message is in parts.
    assert!(matches!(
        dec.feed(&single),
        Err(DecodeError::PartOrder { .. })
    ));
}

/// One captured request (vectors.txt).
struct Vector {
    version: &'static str,
    tool: &'static str,
    whole: bool,
    bytes: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    include_str!("vectors.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "{l}");
            let bytes = (0..f[3].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&f[3][i..i + 2], 16).expect("hex"))
                .collect();
            Vector {
                version: f[0],
                tool: f[1],
                whole: f[2] == "whole",
                bytes,
            }
        })
        .collect()
}

/// The layout each captured Pacemaker version writes (libqb-ipc.md 7.2).
fn layout_of_version(version: &str) -> Framing {
    match version {
        "2.1.5" | "3.0.0" => Framing::Pacemaker2,
        "3.0.3" => Framing::Pacemaker3,
        other => panic!("no layout known for {other}"),
    }
}

#[test]
#[cfg(target_endian = "little")]
fn real_requests_of_every_version_tell_their_layout() {
    let all = vectors();
    for version in ["2.1.5", "3.0.0", "3.0.3"] {
        let tools: Vec<&str> = all
            .iter()
            .filter(|v| v.version == version)
            .map(|v| v.tool)
            .collect();
        for tool in ["crm_mon", "cibadmin", "crm_attribute", "crm_resource"] {
            assert!(tools.contains(&tool), "{version}: no {tool} vector");
        }
        assert!(tools.contains(&"attrd_updater-large"), "{version}");
    }
    for v in &all {
        let want = layout_of_version(v.version);
        let what = format!("{} {}", v.version, v.tool);
        assert_eq!(detect(&v.bytes), Some(want), "{what}");
        // The header alone tells it, as the server peeks it before reading a datagram.
        assert_eq!(detect(&v.bytes[..HEADER_LEN]), Some(want), "{what}");
        // Version 1 in both, at offset 36 in 2.x and 32 in 3.0.1+ (zero padding at 36).
        let (at, other) = match want {
            Framing::Pacemaker2 => (36, 32),
            Framing::Pacemaker3 => (32, 36),
        };
        assert_eq!(v.bytes[at], VERSION, "{what}");
        assert!(v.bytes[other] <= 1, "{what}");
        if want == Framing::Pacemaker3 {
            assert_eq!(v.bytes[36..40], [0; 4], "{what}");
        }
        if !v.whole {
            // The first part of a split request: multipart flag, part 0.
            let h = decode_header(want, &v.bytes).expect("header");
            assert_eq!(
                h.flags & (FLAG_MULTIPART | FLAG_MULTIPART_END),
                FLAG_MULTIPART
            );
            assert_eq!(
                h.layout,
                Layout::V3 {
                    size: 131_032,
                    part_id: 0
                },
                "{what}"
            );
            continue;
        }
        let compressed = decode_header(want, &v.bytes).expect("header").flags & FLAG_COMPRESSED;
        if compressed != 0 && !cfg!(feature = "bzip2") {
            let got = Decoder::detecting(MAX).decode(&v.bytes);
            assert_eq!(got, Err(DecodeError::CompressionUnsupported), "{what}");
            continue;
        }
        // A detecting decoder reads it whole and settles on that layout.
        let mut dec = Decoder::detecting(MAX);
        assert_eq!(dec.framing(), None);
        let m = dec.decode(&v.bytes).expect(&what).expect("whole message");
        assert_eq!(dec.framing(), Some(want), "{what}");
        assert!(m.xml.starts_with(b"<") && m.xml.ends_with(b">"), "{what}");
        assert_eq!(
            m.id,
            u32::from_ne_bytes([v.bytes[0], v.bytes[1], v.bytes[2], v.bytes[3]])
        );
        // Read in the other layout they go wrong, so one fixed setting cannot serve tools of
        // both sides of 3.0.1: a 3.0.1+ request read as 2.x has its flags where 2.x keeps
        // the compressed size, and is refused (unless its flags are 0: then the version
        // byte reads as flags 0x1); a 2.x one read as 3.0.1+ passes, but with its flags
        // read as 0 (the "wants a response" bit lost).
        match want {
            Framing::Pacemaker3 if m.flags == 0 => {
                let as2 = Decoder::new(Framing::Pacemaker2, MAX)
                    .decode(&v.bytes)
                    .expect(&what)
                    .expect("whole");
                assert_eq!((as2.flags, &as2.xml), (1, &m.xml), "{what}");
            }
            Framing::Pacemaker3 => assert!(
                Decoder::new(Framing::Pacemaker2, MAX)
                    .decode(&v.bytes)
                    .is_err(),
                "{what}"
            ),
            Framing::Pacemaker2 if m.flags & FLAG_COMPRESSED != 0 => assert!(
                Decoder::new(Framing::Pacemaker3, MAX)
                    .decode(&v.bytes)
                    .is_err(),
                "{what}"
            ),
            Framing::Pacemaker2 => {
                let as3 = Decoder::new(Framing::Pacemaker3, MAX)
                    .decode(&v.bytes)
                    .expect(&what)
                    .expect("whole");
                assert_eq!((as3.flags, &as3.xml), (0, &m.xml), "{what}");
            }
        }
    }
}

#[test]
#[cfg(all(target_endian = "little", feature = "bzip2"))]
fn a_real_compressed_request_inflates_after_detection() {
    for v in vectors()
        .iter()
        .filter(|v| v.tool == "attrd_updater-large" && v.whole)
    {
        let m = Decoder::detecting(MAX)
            .decode(&v.bytes)
            .expect(v.version)
            .expect("whole");
        assert_eq!(m.flags, FLAG_CLIENT_RESPONSE | FLAG_COMPRESSED);
        assert!(m.xml.windows(1000).any(|w| w.iter().all(|&c| c == b'x')));
    }
}

#[test]
fn our_own_datagrams_are_detected_in_their_layout() {
    let text = vec![b'a'; 3000];
    for framing in [Framing::Pacemaker2, Framing::Pacemaker3] {
        for (threshold, flags) in [(1 << 20, 0), (1 << 20, FLAG_CLIENT_RESPONSE), (1000, 0)] {
            let enc = Encoder::new(framing, threshold, 1 << 20);
            for d in enc.encode(9, flags, &text).expect("encode") {
                assert_eq!(
                    detect(&d),
                    Some(framing),
                    "{framing:?} {threshold} {flags:#x}"
                );
            }
        }
    }
}

#[test]
fn headers_that_fit_neither_layout() {
    let good = v3(1, FLAG_CLIENT_RESPONSE, 0, &with_nul(b"<x/>"));
    assert_eq!(detect(&good), Some(Framing::Pacemaker3));
    assert_eq!(detect(&good[..HEADER_LEN - 1]), None, "short");
    let mut junk_tail = good.clone();
    junk_tail[38] = 1;
    assert_eq!(detect(&junk_tail), None, "3.x with a non-zero tail");
    let mut both = good.clone();
    both[36] = 1;
    assert_eq!(
        detect(&both),
        None,
        "version byte in both places, and 2.x sizes wrong"
    );
    let mut size = good.clone();
    size[8] += 1;
    assert_eq!(detect(&size), None, "payload size disagrees with libqb's");
    let mut negative = good.clone();
    negative[8..12].copy_from_slice(&(-1i32).to_ne_bytes());
    assert_eq!(detect(&negative), None, "negative libqb size");
    let mut v2_pad = v2(1, 0, b"<x/>");
    assert_eq!(detect(&v2_pad), Some(Framing::Pacemaker2));
    v2_pad[39] = 7;
    assert_eq!(detect(&v2_pad), None, "2.x with junk in its padding");
    let mut version2 = v2(1, 0, b"<x/>");
    version2[36] = 2;
    assert_eq!(detect(&version2), None, "unknown version");
    // Even a header of zeros says nothing.
    assert_eq!(detect(&[0u8; HEADER_LEN]), None);
}

#[test]
fn a_request_that_fits_neither_is_read_as_2x() {
    // A detecting decoder still settles (on 2.x), and judges the datagram as 2.x would.
    let mut d = v2(1, 0, b"<x/>");
    d[39] = 7;
    let mut dec = Decoder::detecting(MAX);
    assert_eq!(
        dec.decode(&d).expect("2.x ignores padding").map(|m| m.xml),
        Some(b"<x/>".to_vec())
    );
    assert_eq!(dec.framing(), Some(Framing::Pacemaker2));
}

#[test]
fn a_plain_2x_message_reads_the_same_as_3x() {
    // Why 2.x is the layout used before a client's first request: an uncompressed 2.x
    // message is also a valid 3.0.1+ one with the same text (its flags read as 0).
    let enc = Encoder::new(Framing::Pacemaker2, 1 << 20, 1 << 20);
    let d = enc
        .encode(3, FLAG_SERVER_EVENT, b"<notify/>")
        .expect("encode")
        .remove(0);
    let m = Decoder::new(Framing::Pacemaker3, MAX)
        .decode(&d)
        .expect("valid as 3.x")
        .expect("whole");
    assert_eq!((m.id, m.flags, m.xml), (3, 0, b"<notify/>".to_vec()));
}

#[test]
fn the_layout_is_fixed_by_the_first_datagram() {
    let mut dec = Decoder::detecting(MAX);
    let first = v3(1, FLAG_CLIENT_RESPONSE, 0, &with_nul(b"<a/>"));
    assert!(dec.decode(&first).expect("3.x").is_some());
    // A later datagram is read in that layout, whatever it looks like: no switching.
    let later = v2(2, FLAG_CLIENT_RESPONSE, b"<b/>");
    assert_eq!(detect(&later), Some(Framing::Pacemaker2));
    let m = dec.decode(&later).expect("read as 3.x").expect("whole");
    assert_eq!((m.flags, dec.framing()), (0, Some(Framing::Pacemaker3)));
    // What a detecting decoder will hold is judged in the detected layout too.
    let parts = Encoder::new(Framing::Pacemaker3, 1000, 1 << 20)
        .encode(5, 0, &[b'z'; 5000])
        .expect("parts");
    let fresh = Decoder::detecting(MAX);
    assert!(fresh.demand(&parts[0][..HEADER_LEN], 0) > 0);
}
