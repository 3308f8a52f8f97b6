//! Where the system bus is: `DBUS_SYSTEM_BUS_ADDRESS`, else the well-known socket.
//!
//! An address is a `;`-separated list of `transport:key=value,...` entries whose values
//! escape bytes as `%xx` (specification, "Server Addresses"). We connect to Unix sockets by
//! path, the only kind a system bus listens on in practice; the first such entry wins.

use std::fmt;
use std::path::PathBuf;

/// Where libdbus and sd-bus look when `DBUS_SYSTEM_BUS_ADDRESS` is not set (`/var/run` is a
/// link to `/run` on every system with systemd).
pub const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

/// The variable that overrides [`SYSTEM_BUS_SOCKET`].
pub const SYSTEM_BUS_VARIABLE: &str = "DBUS_SYSTEM_BUS_ADDRESS";

/// An address with no entry we can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError(pub String);

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no usable D-Bus address in '{}' (need unix:path=...)",
            self.0
        )
    }
}

impl std::error::Error for AddressError {}

/// The system bus's socket path, from `DBUS_SYSTEM_BUS_ADDRESS` (read through `env`) or the
/// default.
pub fn system_bus(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, AddressError> {
    match env(SYSTEM_BUS_VARIABLE) {
        Some(a) if !a.is_empty() => parse(&a),
        _ => Ok(PathBuf::from(SYSTEM_BUS_SOCKET)),
    }
}

/// The first `unix:path=` entry of `address`.
pub fn parse(address: &str) -> Result<PathBuf, AddressError> {
    for entry in address.split(';') {
        let Some(params) = entry.strip_prefix("unix:") else {
            continue;
        };
        for kv in params.split(',') {
            if let Some(v) = kv.strip_prefix("path=") {
                if let Some(path) = unescape(v).filter(|p| !p.is_empty()) {
                    return Ok(PathBuf::from(path));
                }
            }
        }
    }
    Err(AddressError(address.chars().take(200).collect()))
}

fn unescape(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let t = [
            (
                "unix:path=/run/dbus/system_bus_socket",
                Some("/run/dbus/system_bus_socket"),
            ),
            ("unix:path=/tmp/a%20b,guid=0123", Some("/tmp/a b")),
            ("tcp:host=x,port=1;unix:path=/x", Some("/x")),
            ("unix:guid=1,path=/y", Some("/y")),
            ("unix:abstract=/tmp/dbus-x", None),
            ("unix:path=%zz", None),
            ("", None),
        ];
        for (a, want) in t {
            assert_eq!(parse(a).ok(), want.map(PathBuf::from), "{a}");
        }
        assert_eq!(system_bus(&|_| None), Ok(PathBuf::from(SYSTEM_BUS_SOCKET)));
        assert_eq!(
            system_bus(&|k| (k == SYSTEM_BUS_VARIABLE).then(|| "unix:path=/z".to_string())),
            Ok(PathBuf::from("/z"))
        );
    }
}
