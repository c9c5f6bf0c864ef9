//! Starting and stopping the server: shards, listeners, the readiness log lines.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use jetcore_router::net::{self, Listener};
use jetcore_router::runtime::{self, ShardSettings};
use jetcore_router::{Mesh, ShardContext};

use crate::client;
use crate::global::Global;
use crate::jetstream::meta::Meta;
use crate::jetstream::runtime::{JetStream, JsConfig};
use crate::options::Options;
use crate::outbox::Batch;
use crate::protocol::info::ServerInfo;
use crate::route::{ControlItem, DataItem};
use crate::shard::Shard;

/// The Go nats-server version whose client-visible core protocol jetcore implements.
/// Clients gate features on it; see differences.md for why this number.
pub const GO_COMPAT_VERSION: &str = "2.10.0";
/// jetcore's own version.
pub const JETCORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address is not valid.
    #[error("invalid listen address {0}")]
    BadAddress(String),
    /// A socket could not be bound.
    #[error("Error listening on port: {addr}, \"{source}\"")]
    Listen {
        /// Address we tried.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The monitoring port could not be bound (Go's words).
    #[error("can't listen to the monitor port: {source}")]
    Monitor {
        /// Why.
        source: std::io::Error,
    },
    /// The shard runtime failed.
    #[error(transparent)]
    Runtime(#[from] jetcore_router::RouterError),
}

/// Word an OS error the way Go's net package does (`listen tcp H:P: bind: address
/// already in use`), so log scrapers written for Go keep matching.
fn go_listen_error(addr: SocketAddr, e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    let lower = match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    };
    std::io::Error::new(e.kind(), format!("listen tcp {addr}: bind: {lower}"))
}

/// A random 56-character id in the shape of Go's nkey server ids (`N` + base32).
pub fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(ALPHABET[rand::random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// Resolve `host:port` (port may be -1 = any free port).
fn listen_addr(opts: &Options) -> Result<SocketAddr, ServerError> {
    let port = if opts.port < 0 { 0 } else { opts.port as u16 };
    host_port_addr(&opts.host, port)
}

/// Resolve a host name or address with a port.
fn host_port_addr(host: &str, port: u16) -> Result<SocketAddr, ServerError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ServerError::BadAddress(format!("{host}:{port}")))
}

/// Number of shards to run: `--cores`, else every CPU we may use.
pub fn shard_count(opts: &Options) -> usize {
    opts.cores
        .unwrap_or_else(|| runtime::allowed_cpus().len())
        .max(1)
}

/// Run the server until SIGTERM/SIGINT (raised on `global.shutdown`).
/// `on_ready` runs once every shard listens, with the bound address (for the ports file).
pub fn run(
    opts: Options,
    global: Arc<Global>,
    on_ready: impl FnOnce(SocketAddr, Option<SocketAddr>),
) -> Result<(), ServerError> {
    let shards = shard_count(&opts);
    let addr = listen_addr(&opts)?;
    let (addr, listeners) = net::bind_all(addr, shards).map_err(|e| ServerError::Listen {
        addr: addr.to_string(),
        source: go_listen_error(addr, e),
    })?;
    // Each shard takes its own socket out of this table when it starts.
    let listeners: Arc<Vec<std::sync::Mutex<Option<net::Prebound>>>> = Arc::new(
        listeners
            .into_iter()
            .map(|l| std::sync::Mutex::new(Some(l)))
            .collect(),
    );
    let server_id = new_server_id();
    let info = Arc::new(ServerInfo {
        server_id: server_id.clone(),
        server_name: opts
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.clone()),
        version: GO_COMPAT_VERSION.to_string(),
        proto: 1,
        go: format!("jetcore {JETCORE_VERSION}"),
        host: opts.host.clone(),
        port: addr.port(),
        headers: !opts.no_header_support,
        max_payload: opts.max_payload,
        jetstream: opts.jetstream.enabled,
        client_id: 0,
        client_ip: String::new(),
        domain: opts
            .jetstream
            .domain
            .clone()
            .filter(|d| opts.jetstream.enabled && !d.is_empty()),
        lame_duck_mode: false,
        connect_info: None,
        remote_account: None,
        api_lvl: crate::jetstream::stream_config::JS_API_LEVEL,
    });
    tracing::info!("Starting nats-server");
    tracing::info!("  Version:  {GO_COMPAT_VERSION} (jetcore {JETCORE_VERSION})");
    tracing::info!("  Name:     {}", info.server_name);
    tracing::info!("  ID:       {server_id}");
    tracing::info!("  Cores:    {shards}");
    if let Some(f) = &opts.config_file {
        tracing::info!("Using configuration file: {}", f.display());
    }
    let monitor = bind_monitor(&opts)?;
    let monitor_addr = monitor.as_ref().map(|(a, _)| *a);
    let monitor = Arc::new(std::sync::Mutex::new(monitor));
    let (_, why) = runtime::io_memory_for(shards);
    if why.contains("below") {
        tracing::warn!("{why}");
    } else {
        tracing::debug!("{why}");
    }

    let js_config = opts.jetstream.enabled.then(|| {
        let mut c = JsConfig::from_options(&opts);
        c.leader = info.server_name.clone();
        Arc::new(c)
    });
    if let Some(c) = &js_config {
        tracing::info!("Starting JetStream");
        tracing::info!("  Store Directory: \"{}\"", c.dir.display());
        tracing::info!("  Sync:            {:?}", c.sync);
        if !c.domain.is_empty() {
            tracing::info!("  Domain:          {}", c.domain);
        }
    }
    let opts = Arc::new(opts);
    let settings = ShardSettings::new(shards);
    let started = Arc::new(StartLatch::default());
    let entry = {
        let (opts, info, global, started) =
            (opts.clone(), info.clone(), global.clone(), started.clone());
        move |ctx: ShardContext<Batch<DataItem>, Vec<ControlItem>>| {
            let (opts, info, global, started, js) = (
                opts.clone(),
                info.clone(),
                global.clone(),
                started.clone(),
                js_config.clone(),
            );
            let listener = listeners
                .get(ctx.id.0)
                .and_then(|slot| slot.lock().ok().and_then(|mut l| l.take()));
            // Core 0 serves the monitoring port.
            let monitor = (ctx.id.0 == 0)
                .then(|| monitor.lock().ok().and_then(|mut m| m.take()))
                .flatten();
            async move {
                let sockets = ShardSockets { listener, monitor };
                shard_main(ctx, opts, info, global, js, sockets, started).await
            }
        }
    };
    let runner = std::thread::Builder::new()
        .name("jetcore-shards".into())
        .spawn(move || runtime::run(settings, entry))
        .map_err(|e| ServerError::Listen {
            addr: addr.to_string(),
            source: e,
        })?;
    // Announce readiness only once every shard runs: tools start sending on this line.
    if !started.wait_for(shards, &runner) {
        return match runner.join() {
            Ok(Err(e)) => {
                if e.to_string().contains("os error 12") {
                    // ENOMEM while an executor registers its io_uring memory: the
                    // memlock limit is too small for this many shards.
                    tracing::error!(
                        "{} shards need more locked memory than the limit allows: raise \
                         it (LimitMEMLOCK=infinity in systemd, --ulimit memlock=-1 in \
                         Docker, ulimit -l) or start fewer shards with --cores",
                        shards
                    );
                }
                Err(ServerError::Runtime(e))
            }
            _ => Err(ServerError::Runtime(
                jetcore_router::RouterError::ShardFailed {
                    shard: 0,
                    reason: "shards stopped during start-up".into(),
                },
            )),
        };
    }
    tracing::info!("Listening for client connections on {addr}");
    tracing::info!("Server is ready");
    on_ready(addr, monitor_addr);
    match runner.join() {
        Ok(res) => res.map_err(ServerError::from),
        Err(_) => Err(ServerError::Runtime(
            jetcore_router::RouterError::ShardFailed {
                shard: 0,
                reason: "shard runner panicked".into(),
            },
        )),
    }
}

/// Bind the monitoring port when one is asked for (`-m`, `http`, `http_port`), on the
/// main thread so a taken port stops the start-up with Go's error, and log Go's line.
fn bind_monitor(opts: &Options) -> Result<Option<(SocketAddr, net::Prebound)>, ServerError> {
    if opts.http_port == 0 {
        return Ok(None);
    }
    let host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
    let port = if opts.http_port < 0 {
        0
    } else {
        opts.http_port as u16
    };
    let wanted = host_port_addr(&host, port)?;
    let (bound, mut sockets) = net::bind_all(wanted, 1).map_err(|e| ServerError::Monitor {
        source: go_listen_error(wanted, e),
    })?;
    let Some(socket) = sockets.pop() else {
        return Ok(None);
    };
    tracing::info!(
        "Starting http monitor on {}",
        join_host_port(&host, bound.port())
    );
    Ok(Some((bound, socket)))
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Counts shards that finished starting; the main thread waits on it (never a shard).
#[derive(Default)]
struct StartLatch {
    /// Shards started so far.
    count: std::sync::Mutex<usize>,
    /// Signalled at each arrival.
    cv: std::sync::Condvar,
}

impl StartLatch {
    /// A shard is up. Never blocks.
    fn arrive(&self) {
        if let Ok(mut n) = self.count.lock() {
            *n += 1;
        }
        self.cv.notify_all();
    }

    /// Wait until `shards` arrived (true) or the runner thread ended first (false).
    fn wait_for<T>(&self, shards: usize, runner: &std::thread::JoinHandle<T>) -> bool {
        let Ok(mut n) = self.count.lock() else {
            return false;
        };
        while *n < shards {
            if runner.is_finished() {
                return false;
            }
            n = match self.cv.wait_timeout(n, Duration::from_millis(20)) {
                Ok((guard, _)) => guard,
                Err(_) => return false,
            };
        }
        true
    }
}

/// How often a core checks whether JetStream finished restoring (start-up only).
const JETSTREAM_READY_POLL: Duration = Duration::from_millis(2);

/// How long shutdown waits for connections to flush before giving up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The sockets bound for one shard on the main thread.
struct ShardSockets {
    /// Its client listener (every shard has one).
    listener: Option<net::Prebound>,
    /// The monitoring listener and its address (core 0, when `-m` is on).
    monitor: Option<(SocketAddr, net::Prebound)>,
}

async fn shard_main(
    ctx: ShardContext<Batch<DataItem>, Vec<ControlItem>>,
    opts: Arc<Options>,
    info: Arc<ServerInfo>,
    global: Arc<Global>,
    js: Option<Arc<JsConfig>>,
    sockets: ShardSockets,
    started: Arc<StartLatch>,
) -> Result<(), String> {
    let ShardSockets { listener, monitor } = sockets;
    let Some(listener) = listener else {
        return Err(format!("shard {} has no listener", ctx.id.0));
    };
    let listener = Listener::from_prebound(listener);
    let shard = Rc::new(Shard::new(ctx.id.0, ctx.shards, opts, info, global.clone()));
    // Before the mesh connects, so a peer's first call finds JetStream here.
    if let Some(c) = &js {
        let _ = shard.jetstream.set(Rc::new(JetStream::new(c.clone())));
    }
    let (data, control) =
        futures_lite::future::zip(ctx.data.connect(), ctx.control.connect()).await;
    start_peer_tasks(&shard, data);
    start_control_tasks(&shard, control);
    if let (Some(c), 0) = (&js, shard.id) {
        let meta = Meta::start(&shard, c.clone()).await;
        if let Some(j) = shard.jetstream.get() {
            let _ = j.meta.set(meta);
        }
    }
    if js.is_some() {
        if shard.id == 0 {
            global
                .jetstream_ready
                .store(true, std::sync::atomic::Ordering::Release);
        } else {
            // A client accepted now could publish to a stream not restored yet and
            // get "no responders" for a stream that exists.
            while !global
                .jetstream_ready
                .load(std::sync::atomic::Ordering::Acquire)
            {
                if global.shutdown.is_raised() {
                    break;
                }
                jetcore_router::time::sleep(JETSTREAM_READY_POLL).await;
            }
        }
    }
    if let Some((_, socket)) = monitor {
        let host = shard
            .opts
            .http_host
            .clone()
            .unwrap_or_else(|| shard.opts.host.clone());
        let state = Rc::new(crate::monitor::Monitor::new(shard.clone(), host));
        let listener = Listener::from_prebound(socket);
        jetcore_router::spawn(crate::monitor::http::serve(state, listener));
    }
    if shard.id == 0 {
        crate::signals::run_core0_tasks(&shard);
    }
    started.arrive();
    accept_loop(&shard, &listener, &global).await;
    // Closing the socket refuses new clients (lame duck mode, or shutdown).
    drop(listener);
    // In lame duck mode the connected clients stay until core 0 has closed them one
    // by one (signals.rs) and raised the shutdown flag.
    global.shutdown.wait().await;
    client::close_all(&shard);
    if let Some(j) = shard.jetstream.get() {
        j.close_all().await;
    }
    // Give writers a moment to flush what they have.
    let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
    while std::time::Instant::now() < deadline && !shard.clients().is_empty() {
        jetcore_router::time::sleep(Duration::from_millis(10)).await;
    }
    jetcore_router::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Spawn, for each peer, the flusher of our outbox and the receiver of its items.
fn start_peer_tasks(shard: &Rc<Shard>, mesh: Mesh<Batch<DataItem>>) {
    for (peer, sender) in mesh.senders.into_iter().enumerate() {
        if let Some(sender) = sender {
            let shard = shard.clone();
            jetcore_router::spawn(async move { shard.outboxes[peer].run_flusher(sender).await });
        }
    }
    for rx in mesh.receivers {
        let shard = shard.clone();
        jetcore_router::spawn(async move {
            while let Some(batch) = rx.recv().await {
                // A subscriber here falling behind slows this receiver the way Go
                // stalls a fast producer (same bounds, per batch). The wait is on the
                // subscriber's socket, never on a send, so shards cannot deadlock; a
                // slower receiver fills the channel and the publishing core's reader
                // then waits at its outbox high-water mark.
                let mut stalled = Duration::ZERO;
                // `batch.ticket` lives until the items are handled: only then may the
                // sender count its bytes as no longer in flight.
                for item in batch.items {
                    shard.on_peer_item(rx.from, item);
                    if let Some(slow) = shard.take_stall() {
                        stalled += client::stall_for(&slow, stalled).await;
                    }
                    // A receiver never waits for an internal inbox: the inbox's task
                    // may itself wait for an interest barrier whose ack comes through
                    // this very channel. Inboxes bound traffic from other cores by
                    // refusing past their limit instead (429, as Go's streams do).
                    let _ = client::take_inbox_stall();
                }
                jetcore_router::yield_if_needed().await;
            }
        });
    }
}

/// Keep the control plane's senders and run each peer's control items.
fn start_control_tasks(shard: &Rc<Shard>, mesh: Mesh<Vec<ControlItem>>) {
    shard.set_control_senders(mesh.senders);
    for rx in mesh.receivers {
        let shard = shard.clone();
        jetcore_router::spawn(async move {
            while let Some(batch) = rx.recv().await {
                for item in batch {
                    shard.on_control_item(item);
                }
            }
        });
    }
}

/// Accept clients until shutdown or lame duck mode.
async fn accept_loop(shard: &Rc<Shard>, listener: &Listener, global: &Arc<Global>) {
    loop {
        let stop = async {
            futures_lite::future::or(global.shutdown.wait(), global.lame_duck.wait()).await;
            None
        };
        let accepted =
            futures_lite::future::or(async { Some(listener.accept().await) }, stop).await;
        match accepted {
            None => return,
            Some(Ok(conn)) => jetcore_router::spawn(client::serve(shard.clone(), conn)),
            Some(Err(e)) => {
                tracing::error!("error accepting client connection: {e}");
                // EMFILE and friends: back off instead of spinning.
                jetcore_router::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
