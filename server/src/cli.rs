//! Command-line flags, with the Go nats-server's names and Go's `flag` package rules.
//!
//! Users type the same flags they use with `nats-server`, so parsing follows Go's
//! `flag` package rather than GNU conventions: one or two dashes mean the same thing
//! (`-js` and `--js` are one flag, there is no bundling of short flags), a value is
//! given as `-p 4222` or `-p=4222`, booleans are `-D` or `-D=false`, and parsing stops
//! at the first non-flag argument or at `--`. A general-purpose parser such as clap
//! treats `-js` as `-j -s`, hence this small table-driven one.
//!
//! Like the Go server, an unknown flag or a bad value prints the message and the usage
//! and exits with status 0 (measured on nats-server 2.15.1).

use std::path::PathBuf;

use crate::options::Options;

/// What kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `-x` or `-x=true|false`.
    Bool,
    /// `-x v` or `-x=v`.
    Value,
}

/// Every flag the Go server accepts, with whether jetcore implements it yet. Flags
/// that Go knows but jetcore does not yet implement are accepted (so scripts keep
/// working) and reported with a warning, never silently ignored.
const FLAGS: &[(&[&str], Kind, bool)] = &[
    (&["a", "addr", "net"], Kind::Value, true),
    (&["p", "port"], Kind::Value, true),
    (&["n", "name", "server_name"], Kind::Value, true),
    (&["P", "pid"], Kind::Value, true),
    (&["c", "config"], Kind::Value, true),
    (&["t"], Kind::Bool, true),
    (&["ports_file_dir"], Kind::Value, true),
    (&["l", "log"], Kind::Value, true),
    (&["T", "logtime"], Kind::Bool, true),
    (&["logtime_utc"], Kind::Bool, true),
    (&["D", "debug"], Kind::Bool, true),
    (&["V", "trace"], Kind::Bool, true),
    (&["VV"], Kind::Bool, true),
    (&["DV"], Kind::Bool, true),
    (&["DVV"], Kind::Bool, true),
    (&["h", "help"], Kind::Bool, true),
    (&["v", "version"], Kind::Bool, true),
    (&["cores"], Kind::Value, true),
    (&["js", "jetstream"], Kind::Bool, true),
    (&["sd", "store_dir"], Kind::Value, true),
    (&["sl", "signal"], Kind::Value, true),
    (&["m", "http_port"], Kind::Value, true),
    // Known to Go, implemented by later issues.
    (&["ms", "https_port"], Kind::Value, false),
    (&["client_advertise"], Kind::Value, false),
    (&["s", "syslog"], Kind::Bool, false),
    (&["r", "remote_syslog"], Kind::Value, false),
    (&["log_size_limit"], Kind::Value, false),
    (&["max_traced_msg_len"], Kind::Value, false),
    (&["user"], Kind::Value, false),
    (&["pass"], Kind::Value, false),
    (&["auth"], Kind::Value, false),
    (&["tls"], Kind::Bool, false),
    (&["tlscert"], Kind::Value, false),
    (&["tlskey"], Kind::Value, false),
    (&["tlsverify"], Kind::Bool, false),
    (&["tlscacert"], Kind::Value, false),
    (&["routes"], Kind::Value, false),
    (&["cluster", "cluster_listen"], Kind::Value, false),
    (&["cluster_name"], Kind::Value, false),
    (&["no_advertise"], Kind::Bool, false),
    (&["cluster_advertise"], Kind::Value, false),
    (&["connect_retries"], Kind::Value, false),
    (&["profile"], Kind::Value, false),
    (&["help_tls"], Kind::Bool, false),
];

/// One flag as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The flag's first (canonical) name from the table.
    pub name: &'static str,
    /// Its value (`"true"` for a bare boolean).
    pub value: String,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run the server with these flags (applied after the config file).
    Run(Vec<Flag>),
    /// Print the version and exit.
    Version,
    /// Print the usage and exit.
    Help,
    /// Print this message and the usage, exit 0 (Go's behaviour for bad flags).
    BadFlag(String),
}

/// Parse the arguments after the program name.
pub fn parse(args: &[String]) -> Action {
    let mut flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(&(names, kind, _)) = FLAGS.iter().find(|(n, _, _)| n.contains(&name)) else {
            return Action::BadFlag(format!("flag provided but not defined: -{name}"));
        };
        let value = match (kind, inline) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(v)) => match parse_bool(&v) {
                Some(b) => b.to_string(),
                None => {
                    return Action::BadFlag(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    ))
                }
            },
            (Kind::Value, Some(v)) => v,
            (Kind::Value, None) => {
                i += 1;
                match args.get(i) {
                    Some(v) => v.clone(),
                    None => return Action::BadFlag(format!("flag needs an argument: -{name}")),
                }
            }
        };
        flags.push(Flag {
            name: names[0],
            value,
        });
        i += 1;
    }
    if flags.iter().any(|f| f.name == "h" && f.value == "true") {
        return Action::Help;
    }
    if flags.iter().any(|f| f.name == "v" && f.value == "true") {
        return Action::Version;
    }
    Action::Run(flags)
}

/// Go's strconv.ParseBool.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The config file named by `-c`, if any.
pub fn config_file(flags: &[Flag]) -> Option<PathBuf> {
    flags
        .iter()
        .rev()
        .find(|f| f.name == "c")
        .map(|f| PathBuf::from(&f.value))
}

/// The `-sl`/`--signal` argument (`<cmd>[=<pid or pid file>]`), if given: the last
/// one wins, as with Go's `flag` package.
pub fn signal_request(flags: &[Flag]) -> Option<&str> {
    flags
        .iter()
        .rev()
        .find(|f| f.name == "sl")
        .map(|f| f.value.as_str())
}

/// True when `-t` (test the configuration and exit) was given.
pub fn test_config_only(flags: &[Flag]) -> bool {
    flags.iter().any(|f| f.name == "t" && f.value == "true")
}

/// Apply flags on top of options loaded from the config file. Returns warnings for
/// flags jetcore accepts but does not implement yet, or an error for a bad value.
pub fn apply(opts: &mut Options, flags: &[Flag]) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for f in flags {
        let v = f.value.as_str();
        let on = v == "true";
        match f.name {
            "a" => opts.host = v.to_string(),
            "p" => opts.port = parse_num(f)?,
            "n" => opts.server_name = Some(v.to_string()),
            "P" => opts.pid_file = Some(PathBuf::from(v)),
            "ports_file_dir" => opts.ports_file_dir = Some(PathBuf::from(v)),
            "l" => opts.log_file = Some(PathBuf::from(v)),
            "T" => opts.logtime = on,
            "logtime_utc" => opts.logtime_utc = on,
            "D" => opts.debug = on,
            "V" | "VV" => opts.trace = on,
            "DV" | "DVV" => {
                opts.debug = on;
                opts.trace = on;
            }
            "m" => opts.http_port = parse_num(f)?,
            "cores" => {
                let n: usize = parse_num(f)?;
                if n == 0 {
                    return Err("invalid value \"0\" for flag -cores: must be at least 1".into());
                }
                opts.cores = Some(n);
            }
            // Go's second `fs.Parse` after the config file: the flag overrides the config
            // both ways (`-js=false` turns off a config's `jetstream: true`).
            "js" => opts.jetstream.enabled = on,
            // Likewise `-sd` replaces any `store_dir` from the config; empty = unset.
            "sd" => opts.jetstream.store_dir = (!v.is_empty()).then(|| PathBuf::from(v)),
            "c" | "t" | "h" | "v" | "sl" => {}
            other => warnings.push(format!(
                "flag -{other} is not implemented by jetcore yet and is ignored"
            )),
        }
    }
    Ok(warnings)
}

fn parse_num<T: std::str::FromStr>(f: &Flag) -> Result<T, String> {
    f.value.parse().map_err(|_| {
        format!(
            "invalid value {:?} for flag -{}: parse error",
            f.value, f.name
        )
    })
}

/// The usage text (the Go server's layout, with jetcore's additions).
pub const USAGE: &str = "\
Usage: jetcore [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for any free port)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to jetcore process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/jetcore.pid)
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).
        --cores <n>                  Number of shard cores (default: the CPUs the process may use)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
        --logtime_utc                Timestamps in UTC instead of local timezone (default: false)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Accepted for compatibility, not implemented yet (a warning is logged):
    -m, -ms, -s, -r, --user, --pass, --auth, --tls*, --routes,
    --cluster, --cluster_name, --profile, ...

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str) -> Vec<Flag> {
        match parse(&args(s)) {
            Action::Run(f) => f,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn go_flag_forms() {
        let cases: &[(&str, &str, &str)] = &[
            ("-p 4222", "p", "4222"),
            ("--port 4222", "p", "4222"),
            ("-p=4222", "p", "4222"),
            ("--port=-1", "p", "-1"),
            ("-p -1", "p", "-1"),
            ("-a 127.0.0.1", "a", "127.0.0.1"),
            ("--net 127.0.0.1", "a", "127.0.0.1"),
            ("-DV", "DV", "true"),
            ("--DV", "DV", "true"),
            ("-T=false", "T", "false"),
            ("-js", "js", "true"),
            ("--jetstream", "js", "true"),
            ("-sd /tmp/x", "sd", "/tmp/x"),
            ("--server_name x", "n", "x"),
            ("--cores 2", "cores", "2"),
        ];
        for (line, name, value) in cases {
            let f = run(line);
            assert_eq!(f.len(), 1, "{line}");
            assert_eq!((f[0].name, f[0].value.as_str()), (*name, *value), "{line}");
        }
    }

    #[test]
    fn signal_flag() {
        let f = run("--signal reload=/run/j.pid");
        assert_eq!(signal_request(&f), Some("reload=/run/j.pid"));
        let f = run("-sl stop -sl=ldm=12");
        assert_eq!(signal_request(&f), Some("ldm=12"));
        assert_eq!(signal_request(&run("-D")), None);
        let mut o = Options::default();
        assert_eq!(apply(&mut o, &run("-sl reload")), Ok(vec![]));
    }

    #[test]
    fn stops_at_non_flag_and_double_dash() {
        assert_eq!(run("-D extra -V").len(), 1);
        assert_eq!(run("-D -- -V").len(), 1);
    }

    #[test]
    fn bad_flags_are_reported() {
        assert!(
            matches!(parse(&args("-zz")), Action::BadFlag(m) if m.contains("not defined: -zz"))
        );
        assert!(matches!(parse(&args("-p")), Action::BadFlag(_)));
        assert!(matches!(parse(&args("-D=maybe")), Action::BadFlag(_)));
        assert_eq!(parse(&args("-h")), Action::Help);
        assert_eq!(parse(&args("--version")), Action::Version);
    }

    #[test]
    fn apply_sets_options_and_warns_for_unimplemented() {
        let mut o = Options::default();
        let w = apply(
            &mut o,
            &run("-p -1 -a 127.0.0.1 -DV -m 8222 --routes nats://h:1 --cores 3 -n abc"),
        )
        .unwrap();
        assert_eq!(o.port, -1);
        assert_eq!(o.http_port, 8222);
        assert_eq!(o.host, "127.0.0.1");
        assert!(o.debug && o.trace);
        assert_eq!(o.cores, Some(3));
        assert_eq!(o.server_name.as_deref(), Some("abc"));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("-routes"), "{w:?}");
        assert!(apply(&mut o, &run("-p abc")).is_err());
        assert!(apply(&mut o, &run("--cores 0")).is_err());
    }

    #[test]
    fn jetstream_flags() {
        let cases: &[(&str, bool, Option<&str>)] = &[
            ("", false, None),
            ("-js", true, None),
            ("--js", true, None),
            ("-jetstream", true, None),
            ("--jetstream=true", true, None),
            ("-js=false", false, None),
            ("-sd /data", false, Some("/data")),
            ("--store_dir=/data", false, Some("/data")),
            ("-store_dir rel/dir", false, Some("rel/dir")),
            ("-js -sd /a -sd /b", true, Some("/b")),
            ("-sd=", false, None),
        ];
        for (line, enabled, store_dir) in cases {
            let mut o = Options::default();
            let w = apply(&mut o, &run(line)).unwrap();
            assert!(w.is_empty(), "{line}: {w:?}");
            assert_eq!(o.jetstream.enabled, *enabled, "{line}");
            assert_eq!(
                o.jetstream.store_dir,
                store_dir.map(PathBuf::from),
                "{line}"
            );
        }
    }

    #[test]
    fn jetstream_flags_override_the_config() {
        // What a config with `jetstream { store_dir: /conf, max_mem: 1G }` leaves.
        let from_config = || {
            let mut o = Options::default();
            o.jetstream.enabled = true;
            o.jetstream.store_dir = Some(PathBuf::from("/conf"));
            o.jetstream.max_memory = 1_000_000_000;
            o
        };
        let cases: &[(&str, bool, Option<&str>)] = &[
            ("", true, Some("/conf")),
            ("-p 1", true, Some("/conf")),
            ("-js", true, Some("/conf")),
            ("-js=false", false, Some("/conf")),
            ("-sd /flag", true, Some("/flag")),
            ("-js=false --store_dir=/flag", false, Some("/flag")),
            ("-sd=", true, None),
        ];
        for (line, enabled, store_dir) in cases {
            let mut o = from_config();
            apply(&mut o, &run(line)).unwrap();
            assert_eq!(o.jetstream.enabled, *enabled, "{line}");
            assert_eq!(
                o.jetstream.store_dir,
                store_dir.map(PathBuf::from),
                "{line}"
            );
            assert_eq!(o.jetstream.max_memory, 1_000_000_000, "{line}");
        }
    }

    #[test]
    fn usage_lists_jetstream_flags() {
        assert!(USAGE.contains("JetStream Options:"));
        assert!(USAGE.contains("-js, --jetstream"));
        assert!(USAGE.contains("-sd, --store_dir <dir>"));
        let accepted = USAGE
            .split("Accepted for compatibility")
            .nth(1)
            .unwrap_or_default();
        assert!(!accepted.contains("-js") && !accepted.contains("-sd"));
    }
}
