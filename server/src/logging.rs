//! Log lines in the Go server's format: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.
//!
//! Tools wait for `Listening for client connections on H:P` and `Server is ready` in
//! the log, and operators grep for `[ERR]`/`[WRN]`; keeping Go's layout keeps both
//! working. Levels: `-D` shows debug, `-V` trace; the default is info.
//!
//! Lines are formatted on the thread that logs them and handed to one writer thread
//! through a bounded queue. A shard never waits for the output: test harnesses read a
//! server's stderr until it is ready and then stop reading, and a write into a full
//! pipe would otherwise stop the core that logged (Go's server stops there too). When
//! the queue is full the line is dropped and counted; once the writer has caught up it
//! writes `N log lines dropped`. Threads that may wait (main, signals) wait a little for
//! room instead, so start-up and exit lines are not lost to a short burst.
//!
//! The destination (stderr or the `-l` file), the levels and the timestamps can change
//! while running: SIGUSR1 reopens the file (logrotate), SIGHUP may change all of them.

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Target of events logged as Go's `[FTL]` (errors that stop the server); tracing has
/// no fatal level.
pub const FATAL: &str = "jetcore::fatal";

/// Lines the queue holds before new ones are dropped: a few seconds of `-DV` output
/// under load, a few hundred KiB of memory at most.
pub const QUEUE_LINES: usize = 4096;

/// How long a thread allowed to wait (see [`allow_waiting_on_this_thread`]) waits for
/// room in a full queue before it drops its line too.
const WAIT_FOR_ROOM: Duration = Duration::from_millis(100);

/// How long a change of destination (reopen, reload) waits for room in the queue.
const CONTROL_WAIT: Duration = Duration::from_secs(2);

/// Why a logging operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log file could not be opened.
    #[error("error opening file: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the log writer: {0}")]
    Spawn(std::io::Error),
    /// The logger is not installed (or its writer stopped).
    #[error("the log writer is not running")]
    NotRunning,
    /// The writer did not take the request in time: its output is blocked.
    #[error("the log output is blocked")]
    Blocked,
    /// The level filter could not be replaced.
    #[error("cannot change the log level: {0}")]
    Filter(String),
}

/// Print timestamps (`-T`, `logtime`; Go's default is on). Read for every line.
static LOGTIME: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// Whether this thread may wait for room in a full queue (never a shard).
    static MAY_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// Let the calling thread wait (briefly) for room when the log queue is full, instead
/// of dropping its line at once. For the main and signal threads only: a shard must
/// never wait for the log output.
pub fn allow_waiting_on_this_thread() {
    MAY_WAIT.with(|m| m.set(true));
}

/// What the writer thread is asked to do, in order.
enum Cmd {
    /// Write one formatted line (with its newline).
    Line(Vec<u8>),
    /// From now on write here (a reopened or new file, or stderr).
    Target(Box<dyn Write + Send>),
    /// Flush, then answer.
    Flush(SyncSender<()>),
}

/// The sending side of the writer thread's queue. Never blocks a shard.
#[derive(Clone)]
struct LogQueue {
    /// The bounded queue.
    tx: SyncSender<Cmd>,
    /// Lines dropped because the queue was full, not reported yet.
    dropped: Arc<AtomicU64>,
}

impl LogQueue {
    /// Queue a line; drop (and count) it when the queue is full, after waiting up to
    /// `wait` for room.
    fn push_line(&self, line: Vec<u8>, wait: Duration) {
        match self.send(Cmd::Line(line), wait) {
            Ok(()) => {}
            Err(LogError::Blocked) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The writer is gone (process exit): nowhere to write.
            Err(_) => {}
        }
    }

    /// Queue `cmd`, waiting up to `wait` for room.
    fn send(&self, cmd: Cmd, wait: Duration) -> Result<(), LogError> {
        let mut cmd = cmd;
        let deadline = Instant::now() + wait;
        loop {
            match self.tx.try_send(cmd) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(LogError::NotRunning),
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return Err(LogError::Blocked);
                    }
                    cmd = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Wait until everything queued before this call is written, up to `timeout`.
    fn flush(&self, timeout: Duration) -> Result<(), LogError> {
        let start = Instant::now();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Cmd::Flush(tx), timeout)?;
        let left = timeout.saturating_sub(start.elapsed());
        rx.recv_timeout(left).map_err(|_| LogError::Blocked)
    }
}

/// Start the writer thread writing to `target`; lines are prefixed like Go's with
/// `pid_prefix` when it reports dropped lines.
fn spawn_writer(
    capacity: usize,
    target: Box<dyn Write + Send>,
    pid_prefix: String,
) -> std::io::Result<LogQueue> {
    let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = dropped.clone();
    std::thread::Builder::new()
        .name("jetcore-log".into())
        .spawn(move || run_writer(rx, target, &counter, &pid_prefix))?;
    Ok(LogQueue { tx, dropped })
}

/// The writer thread: write what comes, in batches, and report dropped lines each time
/// the queue has been drained.
fn run_writer(
    rx: Receiver<Cmd>,
    target: Box<dyn Write + Send>,
    dropped: &AtomicU64,
    pid_prefix: &str,
) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, target);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(cmd) = next {
            match cmd {
                Cmd::Line(line) => {
                    // A failed write (stderr closed) loses the line; nothing better to do.
                    let _ = out.write_all(&line);
                }
                Cmd::Target(t) => {
                    let _ = out.flush();
                    out = std::io::BufWriter::with_capacity(64 * 1024, t);
                }
                Cmd::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.try_send(());
                }
            }
            next = rx.try_recv().ok();
        }
        // Caught up: say what was lost while the output was blocked.
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let line = go_line(
                pid_prefix,
                LOGTIME.load(Ordering::Relaxed),
                "[WRN] ",
                &format!("{lost} log lines dropped (the log output was blocked)"),
            );
            let _ = out.write_all(line.as_bytes());
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

/// Go's layout for a line written by the logger itself.
fn go_line(pid_prefix: &str, logtime: bool, tag: &str, text: &str) -> String {
    let mut line = String::with_capacity(pid_prefix.len() + 40 + text.len());
    line.push_str(pid_prefix);
    if logtime {
        line.push_str(&timestamp());
    }
    line.push_str(tag);
    line.push_str(text);
    line.push('\n');
    line
}

/// Formats events like Go's logger.
struct GoFormat {
    /// Prefix `[pid] `, computed once.
    pid_prefix: String,
}

impl<S, N> FormatEvent<S, N> for GoFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        w.write_str(&self.pid_prefix)?;
        if LOGTIME.load(Ordering::Relaxed) {
            w.write_str(&timestamp())?;
        }
        let tag = match *event.metadata().level() {
            Level::ERROR if event.metadata().target() == FATAL => "[FTL] ",
            Level::ERROR => "[ERR] ",
            Level::WARN => "[WRN] ",
            Level::INFO => "[INF] ",
            Level::DEBUG => "[DBG] ",
            Level::TRACE => "[TRC] ",
        };
        w.write_str(tag)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// `YYYY/MM/DD HH:MM:SS.micros ` in UTC.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}.{:06} ",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        now.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// What tracing writes through: one buffer per event, queued when dropped.
#[derive(Clone)]
struct QueueMakeWriter {
    /// The writer thread's queue.
    queue: LogQueue,
}

/// The bytes of one event.
struct LineWriter<'a> {
    /// The formatted line so far.
    buf: Vec<u8>,
    /// Where it goes when complete.
    queue: &'a LogQueue,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // `try_with`: a thread may log while its thread-locals are being torn down.
        let wait = if MAY_WAIT.try_with(Cell::get).unwrap_or(false) {
            WAIT_FOR_ROOM
        } else {
            Duration::ZERO
        };
        self.queue.push_line(std::mem::take(&mut self.buf), wait);
    }
}

impl<'a> MakeWriter<'a> for QueueMakeWriter {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            buf: Vec::with_capacity(128),
            queue: &self.queue,
        }
    }
}

/// The installed logger's handles.
struct Logger {
    /// The writer thread's queue.
    queue: LogQueue,
    /// Swaps the level filter (debug/trace reload).
    filter: reload::Handle<EnvFilter, Registry>,
    /// The log file written now; `None` = stderr.
    file: Mutex<Option<PathBuf>>,
}

/// The logger, once [`init`] ran.
static LOGGER: OnceLock<Logger> = OnceLock::new();

/// The filter for our crates at the chosen level; libraries (glommio...) only when
/// they warn.
fn filter_for(debug: bool, trace: bool) -> EnvFilter {
    let level = if trace {
        "trace"
    } else if debug {
        "debug"
    } else {
        "info"
    };
    EnvFilter::new(format!(
        "warn,jetcore={level},jetcore_server={level},jetcore_router={level}"
    ))
}

/// Open a log file the way Go does: append, create.
fn open_log_file(path: &Path) -> Result<std::fs::File, LogError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LogError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// Install the global logger. Fails if the log file cannot be opened or the writer
/// thread cannot start.
pub fn init(debug: bool, trace: bool, logtime: bool, file: Option<&Path>) -> Result<(), LogError> {
    LOGTIME.store(logtime, Ordering::Relaxed);
    let target: Box<dyn Write + Send> = match file {
        Some(p) => Box::new(open_log_file(p)?),
        None => Box::new(std::io::stderr()),
    };
    let pid_prefix = format!("[{}] ", std::process::id());
    let queue = spawn_writer(QUEUE_LINES, target, pid_prefix.clone()).map_err(LogError::Spawn)?;
    let (filter, handle) = reload::Layer::new(filter_for(debug, trace));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(QueueMakeWriter {
            queue: queue.clone(),
        })
        .event_format(GoFormat { pid_prefix });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
    let _ = LOGGER.set(Logger {
        queue,
        filter: handle,
        file: Mutex::new(file.map(Path::to_path_buf)),
    });
    Ok(())
}

/// The installed logger.
fn logger() -> Result<&'static Logger, LogError> {
    LOGGER.get().ok_or(LogError::NotRunning)
}

/// The log file in use, if any (`None`: stderr).
pub fn current_file() -> Option<PathBuf> {
    let l = LOGGER.get()?;
    match l.file.lock() {
        Ok(f) => f.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// SIGUSR1: reopen the log file (after logrotate renamed it). Returns false when the
/// log goes to stderr (nothing to reopen).
pub fn reopen() -> Result<bool, LogError> {
    let l = logger()?;
    let Some(path) = current_file() else {
        return Ok(false);
    };
    let file = open_log_file(&path)?;
    l.queue.send(Cmd::Target(Box::new(file)), CONTROL_WAIT)?;
    Ok(true)
}

/// Check that `path` can be opened as the log file, before a reload commits to it.
pub fn check_file(path: &Path) -> Result<(), LogError> {
    open_log_file(path).map(drop)
}

/// Write to `path` from now on (`None`: stderr). Lines logged before this call go to
/// the old destination.
pub fn set_file(path: Option<&Path>) -> Result<(), LogError> {
    let l = logger()?;
    let target: Box<dyn Write + Send> = match path {
        Some(p) => Box::new(open_log_file(p)?),
        None => Box::new(std::io::stderr()),
    };
    l.queue.send(Cmd::Target(target), CONTROL_WAIT)?;
    let mut slot = match l.file.lock() {
        Ok(f) => f,
        Err(poisoned) => poisoned.into_inner(),
    };
    *slot = path.map(Path::to_path_buf);
    Ok(())
}

/// Change the levels (`debug`, `trace`) while running.
pub fn set_levels(debug: bool, trace: bool) -> Result<(), LogError> {
    logger()?
        .filter
        .reload(filter_for(debug, trace))
        .map_err(|e| LogError::Filter(e.to_string()))
}

/// Turn timestamps on or off (`logtime`).
pub fn set_logtime(on: bool) {
    LOGTIME.store(on, Ordering::Relaxed);
}

/// Wait, up to `timeout`, until every line logged so far is written (at exit). Gives
/// up when the output stays blocked, so a reader that went away cannot keep the
/// process from ending.
pub fn flush(timeout: Duration) -> Result<(), LogError> {
    logger()?.queue.flush(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Condvar;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_419), (2025, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    /// Whether writes may proceed, and what was written.
    type GateState = (Mutex<(bool, Vec<u8>)>, Condvar);

    /// An output that blocks every write until opened, like a pipe nobody reads.
    #[derive(Clone, Default)]
    struct Gate {
        /// Shared with the writer thread.
        state: Arc<GateState>,
    }

    impl Gate {
        fn open(&self) {
            let (m, cv) = &*self.state;
            m.lock().unwrap().0 = true;
            cv.notify_all();
        }
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.state.0.lock().unwrap().1).into_owned()
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (m, cv) = &*self.state;
            let mut st = m.lock().unwrap();
            while !st.0 {
                st = cv.wait(st).unwrap();
            }
            st.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_drops_and_counts_lines_then_reports_them() {
        let gate = Gate::default();
        let q = spawn_writer(4, Box::new(gate.clone()), "[1] ".into()).unwrap();
        let start = Instant::now();
        for i in 0..1000 {
            q.push_line(format!("line {i}\n").into_bytes(), Duration::ZERO);
        }
        // Never waited for the blocked output.
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(q.dropped.load(Ordering::Relaxed) > 0);
        gate.open();
        q.flush(Duration::from_secs(5)).unwrap();
        let text = gate.text();
        assert!(text.starts_with("line 0\n"), "{text}");
        let report = text
            .lines()
            .find(|l| l.contains(" log lines dropped"))
            .unwrap_or_else(|| panic!("no report in {text}"));
        let reported: u64 = report
            .split(" log lines dropped")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {report}"));
        let written = text.lines().filter(|l| l.starts_with("line ")).count() as u64;
        assert_eq!(written + reported, 1000, "{text}");
        assert!(text.contains("[WRN] "), "{text}");
    }

    #[test]
    fn targets_switch_in_order() {
        let a = Gate::default();
        let b = Gate::default();
        a.open();
        b.open();
        let q = spawn_writer(16, Box::new(a.clone()), "[1] ".into()).unwrap();
        q.push_line(b"one\n".to_vec(), Duration::ZERO);
        q.send(Cmd::Target(Box::new(b.clone())), CONTROL_WAIT)
            .unwrap();
        q.push_line(b"two\n".to_vec(), Duration::ZERO);
        q.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(a.text(), "one\n");
        assert_eq!(b.text(), "two\n");
    }

    #[test]
    fn flush_gives_up_on_a_blocked_output() {
        let gate = Gate::default();
        let q = spawn_writer(1, Box::new(gate.clone()), "[1] ".into()).unwrap();
        q.push_line(b"stuck\n".to_vec(), Duration::ZERO);
        q.push_line(b"queued\n".to_vec(), Duration::ZERO);
        let start = Instant::now();
        assert!(q.flush(Duration::from_millis(200)).is_err());
        assert!(start.elapsed() < Duration::from_secs(2));
        gate.open();
    }
}
