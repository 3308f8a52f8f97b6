//! The command line: running the daemon is the default; `check` and `demo` are subcommands.
//!
//! Options mirror the original daemon's (`--port`, `--logfile`, `-V`) and add what an
//! appliance builder needs (`--authkey`, `--address`, `--limit`). Parsing only: values are
//! validated in `config`, so every source of a setting is checked the same way.

use argh::FromArgs;

/// pcmk-remoted: a Pacemaker Remote daemon (runs in the foreground; never forks)
#[derive(FromArgs, Debug, Default, PartialEq)]
pub struct Cli {
    /// TCP port to listen on (default: PCMK_remote_port, else 3121)
    #[argh(option, short = 'p')]
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
    #[argh(option, short = 'p')]
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
    #[argh(option, short = 'p', default = "3121")]
    pub port: u16,

    /// exit after the check instead of serving
    #[argh(switch)]
    pub once: bool,
}

/// Parses the arguments after the program name. `-VV` is accepted as two `-V`, as the
/// original's option parser does; argh alone takes one flag per argument.
pub fn parse(program: &str, args: &[&str]) -> Result<Cli, argh::EarlyExit> {
    let mut expanded: Vec<&str> = Vec::with_capacity(args.len());
    for &arg in args {
        let cluster = arg
            .strip_prefix('-')
            .filter(|rest| rest.len() > 1 && rest.bytes().all(|b| b == b'V'));
        match cluster {
            Some(vs) => expanded.extend(std::iter::repeat_n("-V", vs.len())),
            None => expanded.push(arg),
        }
    }
    Cli::from_args(&[program], &expanded)
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
    fn bad_port_is_refused() {
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["check"]).is_err());
    }
}
