//! Signals, as Go's `server/signal.go` handles them, lame duck mode, and `--signal`.
//!
//! - SIGINT, SIGTERM: graceful shutdown. During lame duck mode SIGTERM is ignored (Go:
//!   a graceful shutdown is already under way); a second SIGINT/SIGTERM once the
//!   shutdown has begun exits at once (jetcore's addition, for a stuck shutdown).
//! - SIGHUP: reload the config file ([`crate::reload`]).
//! - SIGUSR1: reopen the log file (logrotate renames it first).
//! - SIGUSR2: lame duck mode (Go's `lameDuckMode`): stop accepting clients, tell the
//!   protocol-1 clients with an async INFO `"ldm":true`, wait the grace period, close
//!   the clients spread over the lame duck duration, then shut down (exit 0).
//!
//! The signal thread never touches a shard: it sets flags and live options in
//! [`Global`] and posts jobs for core 0, whose tasks ([`run_core0_tasks`]) do the
//! work that needs the shards.
//!
//! `--signal <cmd>[=<pid or pid file>]` ([`send_signal`]) is the other side: it sends
//! the signal to a running server and exits, with Go's messages.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};

use crate::client::{Client, CloseReason};
use crate::global::Global;
use crate::logging;
use crate::reload::{ProcessFiles, Reloader};
use crate::shard::Shard;

/// What the signal thread works with.
pub struct Control {
    /// The shared flags and live options.
    pub global: Arc<Global>,
    /// The options in force and how to rebuild them (SIGHUP).
    pub reloader: Mutex<Reloader>,
    /// The pid and ports files.
    pub files: Arc<ProcessFiles>,
}

/// Go's `%q` of an `os.Signal` (its `String()`), for `Trapped "..." signal`.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "interrupt",
        SIGTERM => "terminated",
        SIGHUP => "hangup",
        SIGUSR1 => "user defined signal 1",
        SIGUSR2 => "user defined signal 2",
        _ => "signal",
    }
}

/// Catch SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 on a thread of their own.
pub fn install(control: Arc<Control>) -> std::io::Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2])?;
    std::thread::Builder::new()
        .name("jetcore-signals".into())
        .spawn(move || {
            logging::allow_waiting_on_this_thread();
            for sig in signals.forever() {
                handle(&control, sig);
            }
        })?;
    Ok(())
}

/// How long the process waits for its last log lines when it exits on a second signal.
const EXIT_FLUSH: Duration = Duration::from_millis(500);

/// Act on one signal (Go's `handleSignal`).
fn handle(control: &Control, sig: i32) {
    let global = &control.global;
    if (sig == SIGINT || sig == SIGTERM) && global.shutdown.is_raised() {
        let _ = logging::flush(EXIT_FLUSH);
        std::process::exit(1);
    }
    tracing::info!("Trapped \"{}\" signal", signal_name(sig));
    match sig {
        SIGINT => global.begin_shutdown(),
        // Go ignores SIGTERM while lame duck mode runs: it ends in a shutdown anyway.
        SIGTERM if global.lame_duck.is_raised() => {}
        SIGTERM => global.begin_shutdown(),
        SIGUSR1 => match logging::reopen() {
            Ok(true) => tracing::info!("File log re-opened"),
            Ok(false) => tracing::info!("File log re-open ignored, not a file logger"),
            Err(e) => tracing::error!("File log re-open failed: {e}"),
        },
        SIGUSR2 => enter_lame_duck_mode(global),
        SIGHUP => {
            let mut reloader = match control.reloader.lock() {
                Ok(r) => r,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Err(e) = reloader.reload(global, &control.files) {
                tracing::error!("Failed to reload server configuration: {e}");
            }
        }
        _ => {}
    }
}

/// SIGUSR2: raise the lame duck flag; shards stop accepting, core 0 does the rest.
/// A second SIGUSR2, or one during shutdown, does nothing (as in Go).
fn enter_lame_duck_mode(global: &Global) {
    if global.shutdown.is_raised() || global.lame_duck.is_raised() {
        return;
    }
    tracing::info!("Entering lame duck mode, stop accepting new clients");
    global.lame_duck.raise();
}

// ---------------------------------------------------------------- core 0's tasks

/// Start core 0's tasks: the jobs other threads post (reload), and the lame duck
/// coordinator. Call once, on core 0.
pub fn run_core0_tasks(shard: &Rc<Shard>) {
    let jobs = shard.clone();
    jetcore_router::spawn(async move {
        loop {
            let global = jobs.global.clone();
            let job = futures_lite::future::or(async { Some(global.next_job().await) }, async {
                global.shutdown.wait().await;
                None
            })
            .await;
            match job {
                Some(job) => job(jobs.clone()),
                None => return,
            }
        }
    });
    let ldm = shard.clone();
    jetcore_router::spawn(async move { lame_duck(ldm).await });
}

/// Sleep `d` unless shutdown begins first; false when it did.
async fn sleep_unless_shutdown(global: &Global, d: Duration) -> bool {
    futures_lite::future::or(
        async {
            jetcore_router::time::sleep(d).await;
            true
        },
        async {
            global.shutdown.wait().await;
            false
        },
    )
    .await
}

thread_local! {
    /// The clients this core still has to close in lame duck mode, in closing order.
    static LAME_DUCK_CLIENTS: RefCell<Vec<Rc<Client>>> = const { RefCell::new(Vec::new()) };
}

/// The lame duck coordinator on core 0 (Go's `lameDuckMode` after the listener is
/// closed): waits for SIGUSR2, then informs, waits and closes as the module doc says.
async fn lame_duck(shard: Rc<Shard>) {
    let global = shard.global.clone();
    let entered = futures_lite::future::or(
        async {
            global.lame_duck.wait().await;
            true
        },
        async {
            global.shutdown.wait().await;
            false
        },
    )
    .await;
    if !entered {
        return;
    }
    // Let every core's accept loop see the flag first, so the clients counted below
    // are all there will be.
    jetcore_router::time::sleep(Duration::from_millis(20)).await;
    // Each core sends the INFO to its clients and keeps them in its closing list.
    let mut per_core = vec![0usize; shard.shards];
    for (core, count) in per_core.iter_mut().enumerate() {
        let counted = shard
            .call_on(core, |s| async move {
                let clients: Vec<Rc<Client>> = s
                    .clients()
                    .into_iter()
                    .filter(|c| !c.is_closing())
                    .collect();
                for c in &clients {
                    c.send_lame_duck_info();
                }
                let n = clients.len();
                LAME_DUCK_CLIENTS.with(|l| *l.borrow_mut() = clients);
                n
            })
            .await;
        *count = counted.unwrap_or(0);
    }
    let total: usize = per_core.iter().sum();
    if total == 0 {
        global.begin_shutdown();
        return;
    }
    let opts = global.options();
    let plan = LameDuckPlan::new(total, opts.lame_duck_duration, opts.lame_duck_grace_period);
    if !sleep_unless_shutdown(&global, opts.lame_duck_grace_period).await {
        return;
    }
    tracing::info!("Closing existing clients");
    let order = interleave(&per_core);
    for (i, core) in order.iter().enumerate() {
        let _ = shard
            .call_on(*core, |_| async move {
                if let Some(c) = LAME_DUCK_CLIENTS.with(|l| l.borrow_mut().pop()) {
                    c.close(CloseReason::ServerShutdown);
                }
            })
            .await;
        if i + 1 == order.len() {
            break;
        }
        if plan.pause_after(i) {
            let pause = plan.pause(rand::random::<f64>());
            if !sleep_unless_shutdown(&global, pause).await {
                return;
            }
        }
    }
    global.begin_shutdown();
}

/// How lame duck mode spreads the closing of `n` clients (Go's `lameDuckMode`): over
/// the duration minus the grace period (at least 1 s), one client per pause of
/// `interval` (at most 1 s), or in batches when there are more clients than
/// nanoseconds to spread them over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LameDuckPlan {
    /// Clients closed between two pauses.
    pub batch: usize,
    /// The longest pause; each one is random in `[interval/2, interval)`.
    pub interval: Duration,
}

impl LameDuckPlan {
    /// The plan for `clients` clients (at least 1).
    pub fn new(clients: usize, duration: Duration, grace: Duration) -> LameDuckPlan {
        let clients = clients.max(1) as u128;
        let mut spread = duration.as_nanos().saturating_sub(grace.as_nanos());
        if spread == 0 {
            spread = Duration::from_secs(1).as_nanos();
        }
        let mut interval = spread / clients;
        let mut batch = 1;
        if interval < 1 {
            interval = 1;
            batch = usize::try_from(clients / spread).unwrap_or(usize::MAX);
        } else if interval > Duration::from_secs(1).as_nanos() {
            interval = Duration::from_secs(1).as_nanos();
        }
        LameDuckPlan {
            batch,
            interval: Duration::from_nanos(u64::try_from(interval).unwrap_or(u64::MAX)),
        }
    }

    /// Whether to pause after closing client `i` (0-based; never after the last).
    pub fn pause_after(&self, i: usize) -> bool {
        self.batch <= 1 || i.is_multiple_of(self.batch)
    }

    /// One pause for a random `r` in `[0, 1)`: at least half the interval.
    pub fn pause(&self, r: f64) -> Duration {
        let pause = self.interval.mul_f64(r.clamp(0.0, 1.0));
        pause.max(self.interval / 2)
    }
}

/// The order cores close their clients in: round robin, so each core's share is
/// spread over the whole duration.
pub fn interleave(per_core: &[usize]) -> Vec<usize> {
    let mut left = per_core.to_vec();
    let mut order = Vec::with_capacity(per_core.iter().sum());
    while left.iter().any(|n| *n > 0) {
        for (core, n) in left.iter_mut().enumerate() {
            if *n > 0 {
                *n -= 1;
                order.push(core);
            }
        }
    }
    order
}

// ---------------------------------------------------------------- --signal

/// Why `--signal` failed; the texts are Go's (`ProcessSignal`, `processSignal`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// More than one `=` in the argument.
    #[error("invalid signal parameters: [{}]", .0.join(" "))]
    Parameters(Vec<String>),
    /// The pid is not a number (nor a readable pid file holding one).
    #[error("invalid pid: {0}")]
    InvalidPid(String),
    /// No pid given and several servers run.
    #[error("multiple {name} processes running:{}", pids.iter().map(|p| format!("\n{p}")).collect::<String>())]
    Multiple {
        /// The process name looked for.
        name: String,
        /// Their pids.
        pids: Vec<i32>,
    },
    /// No pid given and no server runs.
    #[error("no {0} processes running")]
    NoneRunning(String),
    /// `pgrep` could not be run, or said something unexpected.
    #[error("unable to resolve pid, try providing one")]
    Unresolved,
    /// Not one of `stop|quit|reopen|reload|ldm|term`.
    #[error("unknown signal {0:?}")]
    Unknown(String),
    /// `kill` failed for some pids: one `\nsignal "cmd" pid: reason` each.
    #[error("{0}")]
    Kill(String),
}

/// The signal a `--signal` command sends (Go's `CommandToSignal`).
pub fn command_signal(command: &str) -> Result<i32, SignalError> {
    match command {
        "stop" => Ok(libc::SIGKILL),
        "quit" => Ok(SIGINT),
        "reopen" => Ok(SIGUSR1),
        "reload" => Ok(SIGHUP),
        "ldm" => Ok(SIGUSR2),
        "term" => Ok(SIGTERM),
        other => Err(SignalError::Unknown(other.to_string())),
    }
}

/// `cmd[=pid]`: the command and the pid expression. A pid that names a readable file
/// is replaced by the file's contents, as Go's `maybeReadPidFile` does (no trimming:
/// Go writes pid files without a newline).
pub fn parse_signal_arg(
    arg: &str,
    read_file: impl Fn(&str) -> Option<String>,
) -> Result<(String, String), SignalError> {
    let parts: Vec<&str> = arg.split('=').collect();
    match parts.as_slice() {
        [command] => Ok((command.to_string(), String::new())),
        [command, pid] => Ok((
            command.to_string(),
            read_file(pid).unwrap_or_else(|| pid.to_string()),
        )),
        [_, _, rest @ ..] => Err(SignalError::Parameters(
            rest.iter().map(|s| s.to_string()).collect(),
        )),
        [] => Ok((String::new(), String::new())),
    }
}

/// Go's `strconv.Atoi`: optional sign, decimal digits.
fn atoi(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Which pids get which signal (Go's `ProcessSignal` up to the `kill` calls). `pid_expr`
/// is a pid, a pid prefix ending in `*`, or empty (every server found by `resolve`).
pub fn plan_signal(
    command: &str,
    pid_expr: &str,
    name: &str,
    resolve: impl FnOnce() -> Result<Vec<i32>, SignalError>,
) -> Result<(i32, Vec<i32>), SignalError> {
    let is_glob = pid_expr.ends_with('*');
    let pid_str = pid_expr.strip_suffix('*').unwrap_or(pid_expr);
    let mut pids = Vec::new();
    if !pid_str.is_empty() {
        pids.push(atoi(pid_str).ok_or_else(|| SignalError::InvalidPid(pid_str.to_string()))?);
    }
    if pid_str.is_empty() || is_glob {
        pids = resolve()?;
    }
    if pids.len() > 1 && !is_glob {
        return Err(SignalError::Multiple {
            name: name.to_string(),
            pids,
        });
    }
    if pids.is_empty() {
        return Err(SignalError::NoneRunning(name.to_string()));
    }
    let signum = command_signal(command)?;
    // Go compares the pid's decimal text with the one given (so `007` matches nothing).
    let targets = pids
        .into_iter()
        .filter(|pid| {
            let text = pid.to_string();
            pid_str.is_empty() || text == pid_str || (is_glob && text.starts_with(pid_str))
        })
        .collect();
    Ok((signum, targets))
}

/// The name `--signal` looks for without a pid: this executable's (`jetcore`), as Go
/// looks for `nats-server`.
pub fn process_name() -> String {
    std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "jetcore".into())
}

/// The pids of the running servers, from `pgrep <name>`, without our own (Go's
/// `resolvePids`). A `pgrep` that exits non-zero found nothing.
fn resolve_pids(name: &str) -> Result<Vec<i32>, SignalError> {
    let out = std::process::Command::new("pgrep")
        .arg(name)
        .output()
        .map_err(|_| SignalError::Unresolved)?;
    parse_pgrep(&String::from_utf8_lossy(&out.stdout), std::process::id())
}

/// `pgrep`'s output as pids, minus `me`.
fn parse_pgrep(output: &str, me: u32) -> Result<Vec<i32>, SignalError> {
    let mut pids = Vec::new();
    for line in output.split('\n').filter(|l| !l.is_empty()) {
        let pid = atoi(line).ok_or(SignalError::Unresolved)?;
        if i64::from(pid) != i64::from(me) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// An OS error as Go's `syscall.Errno` prints it (`no such process`).
fn go_errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// `--signal <arg>`: send the signal and return, or say why not (the caller prints
/// `nats-server: <error>` and exits 1, as Go does).
pub fn send_signal(arg: &str) -> Result<(), SignalError> {
    let (command, pid_expr) = parse_signal_arg(arg, |p| std::fs::read_to_string(p).ok())?;
    let name = process_name();
    let (signum, pids) = plan_signal(&command, &pid_expr, &name, || resolve_pids(&name))?;
    let mut errors = String::new();
    for pid in pids {
        // SAFETY: kill(2) has no memory effects; a bad pid is an error return.
        if unsafe { libc::kill(pid, signum) } != 0 {
            let e = std::io::Error::last_os_error();
            errors.push_str(&format!(
                "\nsignal {command:?} {pid}: {}",
                go_errno_text(&e)
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SignalError::Kill(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lame_duck_plan_follows_go() {
        let secs = Duration::from_secs;
        // 2 clients over 30s - 1s: one per second at most.
        let p = LameDuckPlan::new(2, secs(30), secs(1));
        assert_eq!((p.batch, p.interval), (1, secs(1)));
        // 1000 clients over 2m - 10s: 110 ms apart.
        let p = LameDuckPlan::new(1000, secs(120), secs(10));
        assert_eq!((p.batch, p.interval), (1, Duration::from_millis(110)));
        // Grace >= duration: spread over 1 s.
        let p = LameDuckPlan::new(4, secs(10), secs(10));
        assert_eq!(p.interval, Duration::from_millis(250));
        // More clients than nanoseconds: batches, 1 ns pauses.
        let p = LameDuckPlan::new(3000, Duration::from_nanos(1000), Duration::ZERO);
        assert_eq!((p.batch, p.interval), (3, Duration::from_nanos(1)));
        assert!(p.pause_after(0) && !p.pause_after(1) && !p.pause_after(2) && p.pause_after(3));
        assert!(LameDuckPlan::new(5, secs(60), secs(1)).pause_after(3));
    }

    #[test]
    fn lame_duck_pauses_are_at_least_half_the_interval() {
        let p = LameDuckPlan::new(2, Duration::from_secs(30), Duration::from_secs(1));
        assert_eq!(p.pause(0.0), Duration::from_millis(500));
        assert_eq!(p.pause(0.75), Duration::from_millis(750));
        assert!(p.pause(0.999_999) < Duration::from_secs(1));
    }

    #[test]
    fn cores_take_turns() {
        assert_eq!(interleave(&[3, 1, 0, 2]), [0, 1, 3, 0, 3, 0]);
        assert!(interleave(&[0, 0]).is_empty());
    }

    #[test]
    fn signal_argument_like_go() {
        let no_file = |_: &str| None;
        assert_eq!(
            parse_signal_arg("reload", no_file),
            Ok(("reload".into(), String::new()))
        );
        assert_eq!(
            parse_signal_arg("stop=123", no_file),
            Ok(("stop".into(), "123".into()))
        );
        let pid_file = |p: &str| (p == "/run/x.pid").then(|| "4321".to_string());
        assert_eq!(
            parse_signal_arg("ldm=/run/x.pid", pid_file),
            Ok(("ldm".into(), "4321".into()))
        );
        let e = parse_signal_arg("reload=1=2", no_file).unwrap_err();
        assert_eq!(e.to_string(), "invalid signal parameters: [2]");
        let e = parse_signal_arg("reload=1=2=3", no_file).unwrap_err();
        assert_eq!(e.to_string(), "invalid signal parameters: [2 3]");
    }

    #[test]
    fn signal_targets_like_go() {
        let none = || -> Result<Vec<i32>, SignalError> { panic!("must not resolve") };
        assert_eq!(
            plan_signal("stop", "12", "jetcore", none),
            Ok((libc::SIGKILL, vec![12]))
        );
        assert_eq!(
            plan_signal("quit", "12", "jetcore", none),
            Ok((SIGINT, vec![12]))
        );
        assert_eq!(
            plan_signal("reopen", "12", "j", none).map(|p| p.0),
            Ok(SIGUSR1)
        );
        assert_eq!(
            plan_signal("reload", "12", "j", none).map(|p| p.0),
            Ok(SIGHUP)
        );
        assert_eq!(
            plan_signal("ldm", "12", "j", none).map(|p| p.0),
            Ok(SIGUSR2)
        );
        assert_eq!(
            plan_signal("term", "12", "j", none).map(|p| p.0),
            Ok(SIGTERM)
        );
        assert_eq!(
            plan_signal("bogus", "1", "j", none)
                .unwrap_err()
                .to_string(),
            "unknown signal \"bogus\""
        );
        assert_eq!(
            plan_signal("reload", "abc", "j", none)
                .unwrap_err()
                .to_string(),
            "invalid pid: abc"
        );
        // Go's quirk: the pid text must match exactly, so 007 signals nobody.
        assert_eq!(
            plan_signal("reload", "007", "j", none),
            Ok((SIGHUP, vec![]))
        );
        let two = || Ok(vec![10, 20]);
        assert_eq!(
            plan_signal("reload", "", "jetcore", two)
                .unwrap_err()
                .to_string(),
            "multiple jetcore processes running:\n10\n20"
        );
        assert_eq!(
            plan_signal("reload", "", "jetcore", || Ok(vec![]))
                .unwrap_err()
                .to_string(),
            "no jetcore processes running"
        );
        // Unknown commands are found only after the pids, as in Go.
        assert_eq!(
            plan_signal("bogus", "", "jetcore", || Ok(vec![]))
                .unwrap_err()
                .to_string(),
            "no jetcore processes running"
        );
        assert_eq!(
            plan_signal("reload", "", "j", || Ok(vec![7])),
            Ok((SIGHUP, vec![7]))
        );
        assert_eq!(
            plan_signal("reload", "1*", "j", || Ok(vec![10, 15, 20])),
            Ok((SIGHUP, vec![10, 15]))
        );
    }

    #[test]
    fn pgrep_output() {
        assert_eq!(parse_pgrep("10\n20\n", 20), Ok(vec![10]));
        assert_eq!(parse_pgrep("", 1), Ok(vec![]));
        assert_eq!(parse_pgrep("x\n", 1), Err(SignalError::Unresolved));
    }

    #[test]
    fn errno_texts_like_go() {
        let e = std::io::Error::from_raw_os_error(libc::ESRCH);
        assert_eq!(go_errno_text(&e), "no such process");
        let e = std::io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(go_errno_text(&e), "operation not permitted");
    }
}
