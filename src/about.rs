//! What this binary is: version, protocol, board profile and compiled-in features, for
//! `--version` and the start-up line (so a log or a bug report says which build ran).

/// Features compiled into this binary, by their Cargo names (README "Features").
pub fn features() -> Vec<&'static str> {
    let all = [
        ("class-ocf", cfg!(feature = "class-ocf")),
        ("class-lsb", cfg!(feature = "class-lsb")),
        ("class-service", cfg!(feature = "class-service")),
        ("class-nagios", cfg!(feature = "class-nagios")),
        ("class-systemd", cfg!(feature = "class-systemd")),
        ("alerts", cfg!(feature = "alerts")),
        ("ipc-proxy", cfg!(feature = "ipc-proxy")),
        ("bzip2", cfg!(feature = "bzip2")),
        ("tls-x509", cfg!(feature = "tls-x509")),
        ("pidone", cfg!(feature = "pidone")),
    ];
    all.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
}

/// The board profile the binary was built for, or `generic` without one.
pub fn board() -> &'static str {
    crate::limits::board::NAME.unwrap_or("generic")
}

/// One line naming the build: `pcmk-remoted 0.1.0 (protocol 1.2, board x, features a, b)`.
pub fn version_line() -> String {
    format!(
        "pcmk-remoted {} (Pacemaker Remote protocol {}, board {}, features {})",
        env!("CARGO_PKG_VERSION"),
        crate::proto::names::PROTOCOL_VERSION_SCHEMAS,
        board(),
        features().join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_names_board_and_features() {
        let line = version_line();
        assert!(line.contains(board()), "{line}");
        for f in features() {
            assert!(line.contains(f), "{line}");
        }
    }
}
