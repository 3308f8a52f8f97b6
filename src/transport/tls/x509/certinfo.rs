//! What a certificate says about itself, for log lines: subject, issuer, serial number and
//! validity, read from its DER without trusting it.
//!
//! In: the bytes a peer sent (or a file held). Out: `CertInfo` with printable fields, or
//! `None` when the bytes are not a certificate we can read; never a panic, and every length
//! is checked against what is left. Names print in RFC 4514 order (most specific first, as
//! GnuTLS prints them, so the original's log and ours name a certificate alike). Callers
//! still pass the strings through `logging::escaped`: they are the peer's text.

/// The printable parts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name, e.g. `CN=node1,O=example`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number in hex, as `openssl` and CRL listings show it.
    pub serial: String,
    /// Start of validity, seconds since the epoch.
    pub not_before: i64,
    /// End of validity, seconds since the epoch.
    pub not_after: i64,
}

/// Characters of one name we keep; longer names are cut (a peer's certificate may carry
/// kilobytes of name).
const MAX_NAME_CHARS: usize = 512;

/// DER tags we walk through.
mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const T61_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const VISIBLE_STRING: u8 = 0x1a;
    pub const UNIVERSAL_STRING: u8 = 0x1c;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    pub const VERSION: u8 = 0xa0;
}

/// Reads the fields of a DER certificate; `None` if it is not one.
pub fn read(der: &[u8]) -> Option<CertInfo> {
    let (cert, _) = expect(der, tag::SEQUENCE)?;
    let (mut tbs, _) = expect(cert, tag::SEQUENCE)?;
    if tbs.first() == Some(&tag::VERSION) {
        tbs = element(tbs)?.3;
    }
    let (serial, rest) = expect(tbs, tag::INTEGER)?;
    let (_signature, rest) = expect(rest, tag::SEQUENCE)?;
    let (issuer, rest) = expect(rest, tag::SEQUENCE)?;
    let (validity, rest) = expect(rest, tag::SEQUENCE)?;
    let (subject, _) = expect(rest, tag::SEQUENCE)?;
    let (not_before, after) = time(validity)?;
    let (not_after, _) = time(after)?;
    Some(CertInfo {
        subject: name(subject)?,
        issuer: name(issuer)?,
        serial: hex(strip_sign_byte(serial)),
        not_before,
        not_after,
    })
}

/// One element: (tag, whole element length, contents, rest).
fn element(input: &[u8]) -> Option<(u8, usize, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in the fields we read
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = rest.get(..count)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest.get(count..)?)
    };
    let contents = rest.get(..len)?;
    let after = rest.get(len..)?;
    Some((tag, input.len() - after.len(), contents, after))
}

/// The contents of the next element, which must carry `wanted`, and what follows it.
fn expect(input: &[u8], wanted: u8) -> Option<(&[u8], &[u8])> {
    let (tag, _, contents, rest) = element(input)?;
    (tag == wanted).then_some((contents, rest))
}

/// A `Name`'s contents (RDN sets) as `A=v,B=w`, last RDN first (RFC 4514 §2.1).
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    // Each turn consumes one RDN; the input is finite.
    while !rdns.is_empty() {
        let (set, rest) = expect(rdns, tag::SET)?;
        rdns = rest;
        let mut attributes = Vec::new();
        let mut set = set;
        while !set.is_empty() {
            let (pair, rest) = expect(set, tag::SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(pair, tag::OID)?;
            let (value_tag, _, contents, _) = element(value)?;
            attributes.push(format!(
                "{}={}",
                attribute_name(oid),
                text(value_tag, contents)
            ));
        }
        parts.push(attributes.join("+"));
    }
    parts.reverse();
    let mut joined = parts.join(",");
    if joined.chars().count() > MAX_NAME_CHARS {
        joined = joined.chars().take(MAX_NAME_CHARS).collect::<String>() + "…";
    }
    Some(joined)
}

/// The short names of the attributes seen in practice (RFC 4514 §3 and common usage).
fn attribute_name(oid: &[u8]) -> String {
    const KNOWN: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "street"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x55, 0x04, 0x0c], "title"),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
            "DC",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
            "UID",
        ),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| *known == oid)
        .map_or_else(|| dotted(oid), |(_, short)| (*short).to_string())
}

/// An OID in dotted form, for attributes without a short name.
fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for b in oid {
        value = value
            .saturating_mul(128)
            .saturating_add(u64::from(b & 0x7f));
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    let arcs: Vec<String> = arcs.iter().map(u64::to_string).collect();
    arcs.join(".")
}

/// A directory string as text; other types as `#` and hex (RFC 4514 §2.4).
fn text(value_tag: u8, contents: &[u8]) -> String {
    match value_tag {
        tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | tag::VISIBLE_STRING => {
            String::from_utf8_lossy(contents).into_owned()
        }
        // Teletex: in practice Latin-1.
        tag::T61_STRING => contents.iter().map(|b| char::from(*b)).collect(),
        tag::BMP_STRING => {
            let units: Vec<u16> = contents
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        tag::UNIVERSAL_STRING => contents
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => format!("#{}", hex(contents)),
    }
}

/// One `Time` (UTCTime or GeneralizedTime, RFC 5280 §4.1.2.5) and what follows it.
fn time(input: &[u8]) -> Option<(i64, &[u8])> {
    let (tag, _, contents, rest) = element(input)?;
    let digits = |s: &[u8]| -> Option<i64> {
        s.iter().try_fold(0i64, |acc, b| {
            b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
        })
    };
    let (year, rest_digits) = match (tag, contents.len()) {
        (tag::UTC_TIME, 13) => {
            let yy = digits(contents.get(..2)?)?;
            // RFC 5280: 50-99 are 19xx, 00-49 are 20xx.
            (
                if yy >= 50 { 1900 + yy } else { 2000 + yy },
                contents.get(2..)?,
            )
        }
        (tag::GENERALIZED_TIME, 15) => (digits(contents.get(..4)?)?, contents.get(4..)?),
        _ => return None,
    };
    if rest_digits.last() != Some(&b'Z') {
        return None;
    }
    let field = |i: usize| digits(rest_digits.get(i..i + 2)?);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second, rest))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A positive INTEGER's leading zero byte is only there for the sign.
fn strip_sign_byte(bytes: &[u8]) -> &[u8] {
    match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => bytes,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::super::rejection::format_time;
    use super::*;

    /// A certificate from `tests/pcmk3/x509-certs` (`expired.pem`: `openssl ca` with
    /// `-startdate 20200101000000Z -enddate 20200201000000Z`).
    const CERT: &[&str] = &[
        "MIIByjCCAW+gAwIBAgICEAMwCgYIKoZIzj0EAwIwLTETMBEGA1UECgwKcGNta3IgdGVzdDEWMBQGA1UE",
        "AwwNcGNta3IgdGVzdCBDQTAeFw0yMDAxMDEwMDAwMDBaFw0yMDAyMDEwMDAwMDBaMC0xFjAUBgNVBAMM",
        "DWV4cGlyZWQtbm9kZTExEzARBgNVBAoMCnBjbWtyIHRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC",
        "AARioO+tB+cpkOsQxKnfjpuPhjQFZd5hKeP0AWtzVJRMACkYrP5XEAzy02ExBnKQAUPib9KzITNQHwcW",
        "XkpW1daHo38wfTAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIHgDAdBgNVHSUEFjAUBggrBgEFBQcD",
        "AgYIKwYBBQUHAwEwHQYDVR0OBBYEFDkX7+OGEVgS52ZCeEcd/ibKylltMB8GA1UdIwQYMBaAFOUoT3yR",
        "cgI8rv9csoy0lt62tG7NMAoGCCqGSM49BAMCA0kAMEYCIQDVhTMrFQUqeWAgFuBmL3SLvFfbdpPUIm1p",
        "YqN2ytcApwIhAObgf9jV8hXfi7z+gk316wdMUHQZAtFB2sH9Ge+gRgr8",
    ];

    fn der() -> Vec<u8> {
        base64(&CERT.concat())
    }

    fn base64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let mut acc = 0u32;
        let mut bits = 0;
        for c in text.bytes().filter(|c| *c != b'=') {
            let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }

    #[test]
    fn reads_the_fields_of_a_real_certificate() {
        let info = read(&der()).unwrap();
        // As `openssl x509 -nameopt RFC2253` prints them.
        assert_eq!(info.subject, "O=pcmkr test,CN=expired-node1");
        assert_eq!(info.issuer, "CN=pcmkr test CA,O=pcmkr test");
        assert_eq!(info.serial, "1003");
        assert_eq!(format_time(info.not_before), "2020-01-01 00:00:00 UTC");
        assert_eq!(format_time(info.not_after), "2020-02-01 00:00:00 UTC");
    }

    #[test]
    fn every_truncation_and_garbage_is_none_not_a_panic() {
        let der = der();
        for cut in 0..der.len() {
            let _ = read(&der[..cut]);
        }
        for i in 0..der.len() {
            let mut bad = der.clone();
            bad[i] ^= 0xff;
            let _ = read(&bad);
        }
        assert_eq!(read(b"not a certificate"), None);
        assert_eq!(read(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(read(&[]), None);
    }

    #[test]
    fn times_and_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        let utc = [
            0x17, 13, b'2', b'0', b'0', b'2', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0', b'Z',
        ];
        assert_eq!(
            time(&utc).map(|t| format_time(t.0)).as_deref(),
            Some("2020-02-01 00:00:00 UTC")
        );
        let old = [
            0x17, 13, b'9', b'9', b'1', b'2', b'3', b'1', b'2', b'3', b'5', b'9', b'5', b'9', b'Z',
        ];
        assert_eq!(
            time(&old).map(|t| format_time(t.0)).as_deref(),
            Some("1999-12-31 23:59:59 UTC")
        );
        let mut bad = utc;
        bad[4] = b'1'; // month 12 -> 19
        bad[5] = b'9';
        assert_eq!(time(&bad), None);
    }

    #[test]
    fn names_print_like_gnutls_and_unknown_parts_stay_visible() {
        // SET { SEQ { 2.5.4.6, PrintableString "DE" } }, SET { SEQ { 1.2.3.4, OCTET "\x01" } },
        // SET { SEQ { CN, BMPString "nö" } }
        let rdns = [
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'D', b'E', 0x31,
            0x0c, 0x30, 0x0a, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x04, 0x03, 0x01, 0x02, 0x03, 0x31,
            0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x04, 0x00, b'n', 0x00, 0xf6,
        ];
        assert_eq!(name(&rdns).as_deref(), Some("CN=nö,1.2.3.4=#010203,C=DE"));
    }
}
