//! The command line: running the daemon is the default; `check` and `demo` are subcommands.
//!
//! Options mirror the original daemon's (`--port`, `--logfile`, `-V`) and add what an
//! appliance builder needs (`--authkey`, `--address`, `--limit`). Parsing only: values are
//! validated in `config`, so every source of a setting is checked the same way.

use argh::FromArgs;

/// pcmk-remoted: a Pacemaker Remote daemon (runs in the foreground; never forks)
#[derive(FromArgs, Debug, Default, PartialEq)]
#[argh(
    note = "Settings, files, signals (USR1/USR2 verbosity, HUP reopen, TRAP state summary) and exit statuses: see pcmk-remoted(8), `man pcmk-remoted`."
)]
pub struct Cli {
    /// TCP port to listen on (default: PCMK_remote_port, else 3121)
    #[argh(option, short = 'p', from_str_fn(port_number))]
    pub port: Option<u16>,

    /// address or host name to listen on (default: PCMK_remote_address, else every address)
    #[argh(option)]
    pub address: Option<String>,

    /// authentication key file; with this option no other file is tried
    #[argh(option)]
    pub authkey: Option<String>,

    /// extra log file (repeatable)
    #[argh(option, short = 'l')]
    pub logfile: Vec<String>,

    /// more log output on stderr (repeat for more: -V debug, -VV trace)
    #[argh(switch, short = 'V')]
    pub verbose: u8,

    /// settings file in KEY=VALUE form instead of /etc/sysconfig/pacemaker or
    /// /etc/default/pacemaker; "none" reads no file
    #[argh(option)]
    pub sysconfig: Option<String>,

    /// override a bound, e.g. --limit max_connections=16 (repeatable; see README "Limits")
    #[argh(option)]
    pub limit: Vec<String>,

    /// also accept TLS 1.3 psk_ke (no forward secrecy) from clients that offer only that
    #[argh(switch)]
    pub allow_psk_ke: bool,

    /// publish no local IPC services for node tools (for a second daemon in one network
    /// namespace, e.g. tests; tools on the node then cannot reach the cluster)
    #[argh(switch)]
    pub no_local_ipc: bool,

    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    /// what to do instead of running the daemon
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand)]
pub enum Command {
    /// Reachability and key check.
    Check(CheckArgs),
    /// Local demonstration.
    Demo(DemoArgs),
}

/// connect to a Pacemaker Remote node as a cluster node would, and report what worked
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand, name = "check")]
pub struct CheckArgs {
    /// node name or address
    #[argh(positional)]
    pub host: String,

    /// TCP port (default: PCMK_remote_port, else 3121)
    #[argh(option, short = 'p', from_str_fn(port_number))]
    pub port: Option<u16>,

    /// authentication key file (default: PCMK_authkey_location, else /etc/pacemaker/authkey)
    #[argh(option)]
    pub authkey: Option<String>,

    /// seconds allowed for each step (default 5, the cluster's own handshake timeout)
    #[argh(option, default = "5")]
    pub timeout: u32,
}

/// run the daemon on loopback with a generated development key, check it with the built-in
/// client, and keep serving until interrupted
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand, name = "demo")]
pub struct DemoArgs {
    /// TCP port on 127.0.0.1 (default 3121; 0 for any free port)
    #[argh(option, short = 'p', default = "3121", from_str_fn(port_or_any))]
    pub port: u16,

    /// exit after the check instead of serving
    #[argh(switch)]
    pub once: bool,
}

/// Parses the arguments after the program name, in every spelling the original daemon
/// accepts (its getopt/GOption parsers), which argh alone does not:
/// `--port=3122` and `-p3122` (a value glued to its option), `-VVV` (a cluster of `-V`),
/// `-?` and `-h` for help, `-$` for the version. A unit file or script written for the
/// original therefore starts us unchanged.
pub fn parse(program: &str, args: &[&str]) -> Result<Cli, argh::EarlyExit> {
    let expanded = original_spellings(args);
    let expanded: Vec<&str> = expanded.iter().map(String::as_str).collect();
    Cli::from_args(&[program], &expanded)
}

/// Rewrites the original's spellings into the one form argh takes (see [`parse`]). Nothing
/// after a `--` is touched, so positional values keep their text.
fn original_spellings(args: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut rest = args.iter();
    for &arg in rest.by_ref() {
        if arg == "--" {
            out.push(arg.to_string());
            break;
        }
        match arg {
            "-?" | "-h" => out.push("--help".to_string()),
            "-$" => out.push("--version".to_string()),
            _ => {
                if let Some((name, value)) = arg.strip_prefix("--").and_then(|a| a.split_once('='))
                {
                    // `--port=3122`: the GNU long form with its value glued on.
                    out.push(format!("--{name}"));
                    out.push(value.to_string());
                } else if let Some(vs) = arg
                    .strip_prefix('-')
                    .filter(|r| r.len() > 1 && r.bytes().all(|b| b == b'V'))
                {
                    out.extend(std::iter::repeat_n("-V".to_string(), vs.len()));
                } else if let Some((flag, value)) = glued_short_value(arg) {
                    out.push(flag.to_string());
                    out.push(value.to_string());
                } else {
                    out.push(arg.to_string());
                }
            }
        }
    }
    out.extend(rest.map(|a| a.to_string()));
    out
}

/// `-p3122` → (`-p`, `3122`) and `-lFILE` → (`-l`, `FILE`): the short options that take a
/// value, with the value glued on as getopt allows.
fn glued_short_value(arg: &str) -> Option<(&str, &str)> {
    let body = arg.strip_prefix('-')?;
    if body.starts_with('-') || body.len() < 2 {
        return None;
    }
    let flag = &arg[..2];
    matches!(flag, "-p" | "-l").then(|| (flag, &arg[2..]))
}

/// A TCP port or 0 ("any free port", for `demo`).
fn port_or_any(text: &str) -> Result<u16, String> {
    match text.trim() {
        "0" => Ok(0),
        _ => port_number(text),
    }
}

/// A TCP port, with an error that says what a port may be instead of a parser's own words.
fn port_number(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!(
            "'{text}' is not a TCP port; give a number from 1 to 65535"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        super::parse("pcmk-remoted", args).map_err(|e| e.output)
    }

    #[test]
    fn original_options_are_accepted() {
        let cli = parse(&["-p", "3122", "-l", "/tmp/a.log", "-l", "/tmp/b.log", "-VV"]).unwrap();
        assert_eq!(cli.port, Some(3122));
        assert_eq!(cli.logfile, ["/tmp/a.log", "/tmp/b.log"]);
        assert_eq!(cli.verbose, 2);
        assert_eq!(cli.command, None);
    }

    #[test]
    fn check_takes_host_port_and_key() {
        let cli = parse(&["check", "node1", "--port", "3121", "--authkey", "/k"]).unwrap();
        let Some(Command::Check(c)) = cli.command else {
            panic!("not check")
        };
        assert_eq!(
            (c.host.as_str(), c.port, c.authkey.as_deref()),
            ("node1", Some(3121), Some("/k"))
        );
        assert_eq!(c.timeout, 5);
    }

    #[test]
    fn bad_port_is_refused_with_the_range() {
        for bad in ["70000", "0", "-1", "http"] {
            let err = parse(&["--port", bad]).unwrap_err();
            assert!(err.contains("from 1 to 65535"), "{bad}: {err}");
        }
        assert!(parse(&["check"]).is_err());
    }

    /// Every spelling the original daemon's parsers accept, as unit files and scripts
    /// written for it use them (2.1.5's getopt and 3.x's GOption).
    #[test]
    fn the_originals_spellings_are_accepted() {
        struct Case {
            args: &'static [&'static str],
            port: Option<u16>,
            logfiles: &'static [&'static str],
            verbose: u8,
        }
        let cases = [
            Case {
                args: &["-p", "3122"],
                port: Some(3122),
                logfiles: &[],
                verbose: 0,
            },
            Case {
                args: &["-p3122"],
                port: Some(3122),
                logfiles: &[],
                verbose: 0,
            },
            Case {
                args: &["--port", "3122"],
                port: Some(3122),
                logfiles: &[],
                verbose: 0,
            },
            Case {
                args: &["--port=3122"],
                port: Some(3122),
                logfiles: &[],
                verbose: 0,
            },
            Case {
                args: &["-l", "/f"],
                port: None,
                logfiles: &["/f"],
                verbose: 0,
            },
            Case {
                args: &["-l/f"],
                port: None,
                logfiles: &["/f"],
                verbose: 0,
            },
            Case {
                args: &["--logfile=/f"],
                port: None,
                logfiles: &["/f"],
                verbose: 0,
            },
            Case {
                args: &["--logfile", "/f"],
                port: None,
                logfiles: &["/f"],
                verbose: 0,
            },
            Case {
                args: &["-V"],
                port: None,
                logfiles: &[],
                verbose: 1,
            },
            Case {
                args: &["-VVV"],
                port: None,
                logfiles: &[],
                verbose: 3,
            },
            Case {
                args: &["--verbose", "-V"],
                port: None,
                logfiles: &[],
                verbose: 2,
            },
            Case {
                args: &["-VV", "--port=1", "-l/a", "--logfile=/b"],
                port: Some(1),
                logfiles: &["/a", "/b"],
                verbose: 2,
            },
        ];
        for c in cases {
            let cli = parse(c.args).unwrap_or_else(|e| panic!("{:?}: {e}", c.args));
            assert_eq!(cli.port, c.port, "{:?}", c.args);
            assert_eq!(cli.logfile, c.logfiles, "{:?}", c.args);
            assert_eq!(cli.verbose, c.verbose, "{:?}", c.args);
        }
    }

    #[test]
    fn the_originals_help_and_version_flags_work() {
        for help in ["-?", "-h", "--help"] {
            let early = super::parse("pcmk-remoted", &[help]).unwrap_err();
            assert!(early.status.is_ok(), "{help}");
            assert!(early.output.contains("--port"), "{help}");
        }
        assert!(parse(&["-$"]).unwrap().version);
        assert!(parse(&["--version"]).unwrap().version);
    }

    #[test]
    fn values_after_a_double_dash_are_left_alone() {
        assert_eq!(
            original_spellings(&["-p3", "--", "-p4", "--x=y"]),
            ["-p", "3", "--", "-p4", "--x=y"]
        );
    }
}
