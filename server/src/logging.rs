//! Log lines in the Go server's format: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.
//!
//! Tools wait for `Listening for client connections on H:P` and `Server is ready` in
//! the log, and operators grep for `[ERR]`/`[WRN]`; keeping Go's layout keeps both
//! working. Levels: `-D` shows debug, `-V` trace; the default is info.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Target of events logged as Go's `[FTL]` (errors that stop the server); tracing has
/// no fatal level.
pub const FATAL: &str = "jetcore::fatal";

/// Formats events like Go's logger.
struct GoFormat {
    /// Prefix `[pid] `, computed once.
    pid_prefix: String,
    /// Print timestamps (`-T`, default on).
    logtime: bool,
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
        if self.logtime {
            write_timestamp(&mut w)?;
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
fn write_timestamp(w: &mut Writer<'_>) -> fmt::Result {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    write!(
        w,
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

/// Where log lines go: stderr, or a file opened in append mode.
#[derive(Clone)]
enum Sink {
    /// Standard error.
    Stderr,
    /// A log file (`-l`).
    File(Arc<Mutex<std::fs::File>>),
}

/// A writer for one line.
enum SinkWriter {
    Stderr(std::io::Stderr),
    File(Arc<Mutex<std::fs::File>>),
}

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            SinkWriter::Stderr(s) => s.write(buf),
            SinkWriter::File(f) => match f.lock() {
                Ok(mut f) => f.write(buf),
                Err(_) => Ok(buf.len()),
            },
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            SinkWriter::Stderr(s) => s.flush(),
            SinkWriter::File(f) => match f.lock() {
                Ok(mut f) => f.flush(),
                Err(_) => Ok(()),
            },
        }
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        match self {
            Sink::Stderr => SinkWriter::Stderr(std::io::stderr()),
            Sink::File(f) => SinkWriter::File(f.clone()),
        }
    }
}

/// Install the global logger. Fails only if the log file cannot be opened.
pub fn init(debug: bool, trace: bool, logtime: bool, file: Option<&Path>) -> std::io::Result<()> {
    let level = if trace {
        "trace"
    } else if debug {
        "debug"
    } else {
        "info"
    };
    // Our crates at the chosen level; libraries (glommio...) only when they warn.
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "warn,jetcore={level},jetcore_server={level},jetcore_router={level}"
    ));
    let sink = match file {
        Some(p) => Sink::File(Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ))),
        None => Sink::Stderr,
    };
    let fmt = GoFormat {
        pid_prefix: format!("[{}] ", std::process::id()),
        logtime,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(sink)
        .event_format(fmt)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_419), (2025, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
