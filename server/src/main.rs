//! The `jetcore` binary: flags and config, logging, signals, then the server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use jetcore_server::cli::{self, Action};
use jetcore_server::global::Global;
use jetcore_server::options::Options;
use jetcore_server::server::{self, GO_COMPAT_VERSION, JETCORE_VERSION};
use jetcore_server::{conf, conf_apply, logging};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match cli::parse(&args) {
        Action::Run(flags) => flags,
        Action::Version => {
            println!("nats-server: v{GO_COMPAT_VERSION} (jetcore v{JETCORE_VERSION})");
            return ExitCode::SUCCESS;
        }
        Action::Help => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Action::BadFlag(msg) => {
            // Go's nats-server prints the problem on stderr, then the usage on stdout
            // (after an empty line), and exits 0.
            eprintln!("{msg}");
            println!("\n{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
    };
    let mut opts = Options::default();
    let mut warnings = Vec::new();
    if let Some(path) = cli::config_file(&flags) {
        match load_config(&path, &mut opts) {
            Ok(w) => warnings.extend(w),
            Err(e) => {
                eprintln!("nats-server: {e}");
                return ExitCode::FAILURE;
            }
        }
        opts.config_file = Some(path);
    }
    match cli::apply(&mut opts, &flags) {
        Ok(w) => warnings.extend(w),
        Err(e) => {
            eprintln!("{e}");
            println!("\n{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
    }
    // Go checks the merged options once more at start (e.g. max_payload > max_pending).
    if let Err(e) = conf_apply::validate_options(&opts) {
        eprintln!("nats-server: {e}");
        return ExitCode::FAILURE;
    }
    if cli::test_config_only(&flags) {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        // Go prints this on stderr, with the file's digest.
        eprintln!(
            "nats-server: configuration file {} is valid{}",
            display_conf(&opts),
            opts.config_file
                .as_deref()
                .map(config_digest)
                .unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if let Err(e) = logging::init(
        opts.debug,
        opts.trace,
        opts.logtime,
        opts.log_file.as_deref(),
    ) {
        eprintln!("nats-server: cannot open log file: {e}");
        return ExitCode::FAILURE;
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    run(opts)
}

/// ` (sha256:<hex>)` of the parsed config, as Go's `-t` prints it.
fn config_digest(path: &Path) -> String {
    match conf::parse_file(path) {
        Ok(map) => format!(" ({})", conf::config_digest(&map)),
        Err(_) => String::new(),
    }
}

fn display_conf(opts: &Options) -> String {
    opts.config_file
        .as_ref()
        .map_or_else(|| "(none)".to_string(), |p| p.display().to_string())
}

fn load_config(path: &Path, opts: &mut Options) -> Result<Vec<String>, String> {
    let map = conf::parse_file(path).map_err(|e| e.to_string())?;
    let warnings = conf_apply::apply_config(opts, &map).map_err(|e| e.to_string())?;
    Ok(warnings.into_iter().map(|w| w.to_string()).collect())
}

fn run(opts: Options) -> ExitCode {
    raise_fd_limit();
    let global = Arc::new(Global::default());
    if let Err(e) = install_signal_handlers(global.clone()) {
        tracing::error!("cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(pid) = &opts.pid_file {
        if let Err(e) = std::fs::write(pid, std::process::id().to_string()) {
            tracing::error!("Could not write pidfile: {e}");
            return ExitCode::FAILURE;
        }
    }
    let ports_file = opts.ports_file_dir.as_ref().map(|d| ports_file_path(d));
    let host = opts.host.clone();
    let pf = ports_file.clone();
    let res = server::run(opts.clone(), global, move |addr| {
        if let Some(pf) = &pf {
            write_ports_file(pf, &host, addr.port());
        }
    });
    // Go removes the ports file on exit but leaves the pid file in place.
    if let Some(pf) = ports_file {
        let _ = std::fs::remove_file(pf);
    }
    match res {
        Ok(()) => {
            tracing::info!("Server Exiting..");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(target: logging::FATAL, "{e}");
            ExitCode::FAILURE
        }
    }
}

/// `<dir>/<exe>_<pid>.ports`, as Go names it.
fn ports_file_path(dir: &Path) -> PathBuf {
    let exe = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "jetcore".into());
    dir.join(format!("{exe}_{}.ports", std::process::id()))
}

fn write_ports_file(path: &Path, host: &str, port: u16) {
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    let json = serde_json::json!({ "nats": [format!("nats://{host}:{port}")] });
    if let Err(e) = std::fs::write(path, json.to_string()) {
        tracing::error!("Error writing ports file {}: {e}", path.display());
    }
}

/// SIGTERM and SIGINT raise the shutdown flag; a second signal exits at once.
fn install_signal_handlers(global: Arc<Global>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("jetcore-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if global.shutdown.is_raised() {
                    std::process::exit(1);
                }
                let name = if sig == SIGINT {
                    "interrupt"
                } else {
                    "terminated"
                };
                tracing::info!("Trapped \"{name}\" signal");
                tracing::info!("Initiating Shutdown...");
                global.shutdown.raise();
            }
        })?;
    Ok(())
}

/// Raise the open-files soft limit to the hard limit, as the Go runtime does for
/// nats-server: every client is a file descriptor, and distributions often start
/// services with a soft limit of 1024.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::debug!("could not raise the open-files limit");
            }
        }
    }
}
