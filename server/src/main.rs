//! The `jetcore` binary: flags and config, logging, signals, then the server.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jetcore_server::cli::{self, Action};
use jetcore_server::global::Global;
use jetcore_server::options::Options;
use jetcore_server::reload::{ProcessFiles, Reloader};
use jetcore_server::server::{self, GO_COMPAT_VERSION, JETCORE_VERSION};
use jetcore_server::signals::{self, Control};
use jetcore_server::{conf, conf_apply, logging};

/// jemalloc instead of glibc's malloc. Every shard allocates and frees per message
/// (parsed frames, routed messages, PubAcks, acks), and a profile of an async
/// JetStream publish spent 18 % of the shard in glibc's allocator; buffers that one
/// shard allocates are often freed by another. Measured against glibc in the same
/// hour: async memory publish +60 %, async file publish +18 %, ordered replay across
/// cores +9–65 %, core pub/sub and request/reply unchanged (docs/benchmarks.md).
/// mimalloc measured less (+30 % / +15 %) with a 35 MB idle RSS; jemalloc idles at
/// 12 MB (glibc 10 MB, Go 14 MB).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    // `--signal` acts on another process, before any config is read (Go's order).
    if let Some(arg) = cli::signal_request(&flags) {
        return match signals::send_signal(arg) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("nats-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
        eprintln!("nats-server: {e}");
        return ExitCode::FAILURE;
    }
    // The main thread may wait a little for room in the log queue: its start-up and
    // exit lines matter more than its speed.
    logging::allow_waiting_on_this_thread();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let code = run(opts, flags);
    // The last lines ("Server Exiting..") are written before the process ends.
    let _ = logging::flush(EXIT_LOG_FLUSH);
    code
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

/// How long the process waits, at exit, for its last log lines to be written. A
/// stderr nobody reads must not keep a stopped server alive.
const EXIT_LOG_FLUSH: Duration = Duration::from_secs(2);

fn run(opts: Options, flags: Vec<cli::Flag>) -> ExitCode {
    raise_fd_limit();
    let global = Arc::new(Global::new(&opts));
    let files = Arc::new(ProcessFiles::default());
    let control = Arc::new(Control {
        global: global.clone(),
        reloader: Mutex::new(Reloader::new(opts.clone(), flags)),
        files: files.clone(),
    });
    if let Err(e) = signals::install(control) {
        tracing::error!("cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(pid) = &opts.pid_file {
        if let Err(e) = ProcessFiles::write_pid(pid) {
            tracing::error!("Could not write pidfile: {e}");
            return ExitCode::FAILURE;
        }
    }
    let host = opts.host.clone();
    let ports_dir = opts.ports_file_dir.clone();
    let on_ready = files.clone();
    let res = server::run(opts, global, move |addr, monitor| {
        on_ready.listening(&host, addr, monitor, ports_dir.as_deref());
    });
    // Go removes the ports file on exit but leaves the pid file in place.
    files.remove_ports_file();
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
