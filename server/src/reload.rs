//! SIGHUP: re-read the config file and apply what may change while running, the way
//! Go's `server/reload.go` does.
//!
//! The file is parsed and mapped as at start-up, the command-line flags are applied
//! over it again (flags win, as at start), and the result is compared with the options
//! in force field by field, in the order of Go's `Options` struct. The first field that
//! cannot change while running fails the whole reload with Go's sentence (`config
//! reload not supported for MaxPending: old=..., new=...`), and the server keeps its
//! old options. Otherwise the new values take effect at once (shards read them from
//! [`crate::global::LiveOptions`]), each change is logged as Go logs it
//! (`Reloaded: max_payload = 2000`), then `Reloaded server configuration (sha256:...)`.
//!
//! Reloadable, as in Go: `debug`, `trace`, `logtime`, `logtime_utc`, `log_file`,
//! `max_connections` (connections above a lowered limit are closed), `ping_interval`,
//! `ping_max`, `max_control_line`, `max_payload` (existing connections included),
//! `write_deadline`, `pid_file`, `ports_file_dir`. Go refuses `max_pending`,
//! `max_subscriptions`, `lame_duck_duration`, `lame_duck_grace_period`, the listen
//! address and most JetStream settings; so does jetcore.
//!
//! This module also keeps the pid and ports files ([`ProcessFiles`]), since a reload
//! may move them.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use crate::cli::Flag;
use crate::conf::{self, format_duration, ConfError};
use crate::conf_apply;
use crate::global::Global;
use crate::logging::{self, LogError};
use crate::options::{JetStreamCipher, JetStreamOptions, JetStreamSync, Options};
use crate::shard::Shard;

/// How long a reload waits for core 0 to close connections above a lowered
/// `max_connections` (it only waits when there are some).
const CORE_JOB_WAIT: Duration = Duration::from_secs(5);

/// Why a reload failed; the server keeps its old options. The texts are Go's.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The server was started without `-c`.
    #[error("can only reload config when a file is provided using -c or --config")]
    NoConfigFile,
    /// The file does not parse, or holds a bad value.
    #[error(transparent)]
    Config(#[from] ConfError),
    /// The merged options are not valid (`max_payload` above `max_pending`...).
    #[error("{0}")]
    Invalid(String),
    /// An option that cannot change while running has changed.
    #[error("config reload not supported for {field}: old={old}, new={new}")]
    NotSupported {
        /// Go's name of the option (its `Options` field).
        field: &'static str,
        /// The value in force, as Go prints it.
        old: String,
        /// The value in the file, as Go prints it.
        new: String,
    },
    /// A JetStream setting that cannot change while running has changed.
    #[error("config reload not supported for {0}")]
    NotSupportedFor(&'static str),
    /// The new log file cannot be opened (Go would exit; jetcore keeps running).
    #[error(transparent)]
    Log(#[from] LogError),
}

/// One reloadable option that changed, with its new value (Go's reload `option`s).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `trace`.
    Trace(bool),
    /// `debug`.
    Debug(bool),
    /// `logtime`.
    Logtime(bool),
    /// `logtime_utc`.
    LogtimeUtc(bool),
    /// `max_connections`.
    MaxConnections(i32),
    /// `ping_interval`.
    PingInterval(Duration),
    /// `ping_max`.
    PingMax(u32),
    /// The authorization timeout.
    AuthTimeout(Duration),
    /// `max_control_line`.
    MaxControlLine(u32),
    /// `max_payload`.
    MaxPayload(u32),
    /// `pid_file`.
    PidFile(Option<PathBuf>),
    /// `ports_file_dir`.
    PortsFileDir(Option<PathBuf>),
    /// `log_file`.
    LogFile(Option<PathBuf>),
    /// `write_deadline`.
    WriteDeadline(Duration),
}

impl Change {
    /// Go's `Reloaded: ...` line for this change.
    fn describe(&self) -> String {
        match self {
            Change::Trace(v) => format!("Reloaded: trace = {v}"),
            Change::Debug(v) => format!("Reloaded: debug = {v}"),
            Change::Logtime(v) => format!("Reloaded: logtime = {v}"),
            Change::LogtimeUtc(v) => format!("Reloaded: logtime_utc = {v}"),
            Change::MaxConnections(v) => format!("Reloaded: max_connections = {v}"),
            Change::PingInterval(d) => format!("Reloaded: ping_interval = {}", format_duration(*d)),
            Change::PingMax(v) => format!("Reloaded: ping_max = {v}"),
            Change::AuthTimeout(d) => {
                format!("Reloaded: authorization timeout = {}", d.as_secs_f64())
            }
            Change::MaxControlLine(v) => format!("Reloaded: max_control_line = {v}"),
            Change::MaxPayload(v) => format!("Reloaded: max_payload = {v}"),
            Change::PidFile(p) => format!("Reloaded: pid_file = {}", shown_path(p)),
            Change::PortsFileDir(p) => format!("Reloaded: ports_file_dir = {}", shown_path(p)),
            Change::LogFile(p) => format!("Reloaded: log_file = {}", shown_path(p)),
            Change::WriteDeadline(d) => {
                format!("Reloaded: write_deadline = {}", format_duration(*d))
            }
        }
    }

    /// Whether the logger must be reconfigured (Go's `IsLoggingChange`).
    fn is_logging(&self) -> bool {
        matches!(
            self,
            Change::Trace(_)
                | Change::Debug(_)
                | Change::Logtime(_)
                | Change::LogtimeUtc(_)
                | Change::LogFile(_)
        )
    }
}

/// Go's `%v` of an optional string or path: empty when unset.
fn shown<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// Go's `%v` of an optional path.
fn shown_path(v: &Option<PathBuf>) -> String {
    v.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Go's `StoreCipher` names; unset is Go's zero value, ChaCha.
fn shown_cipher(c: Option<JetStreamCipher>) -> String {
    match c {
        Some(JetStreamCipher::Aes) => "AES-GCM".into(),
        Some(JetStreamCipher::ChaCha) | None => "ChaCha20-Poly1305".into(),
    }
}

/// Go's `%v` of its `JSLimitOpts` struct, for the fields jetcore has.
fn shown_limits(js: &JetStreamOptions) -> String {
    format!(
        "{{{} {} 0 {} 0 0 0 0s}}",
        js.max_request_batch,
        js.max_ack_pending,
        format_duration(js.duplicate_window.unwrap_or_default())
    )
}

/// `sync_interval` as written in a config.
fn shown_sync(s: JetStreamSync) -> String {
    match s {
        JetStreamSync::Always => "always".into(),
        JetStreamSync::Interval(d) => format_duration(d),
    }
}

/// Compare the options in force with new ones, field by field in the order of Go's
/// `Options` struct: the reloadable changes, or the error for the first field that
/// cannot change while running.
pub fn diff(old: &Options, new: &Options) -> Result<Vec<Change>, ReloadError> {
    fn refuse(field: &'static str, old: String, new: String) -> Result<(), ReloadError> {
        Err(ReloadError::NotSupported { field, old, new })
    }
    let mut changes = Vec::new();
    let mut change = |differs: bool, c: Change| {
        if differs {
            changes.push(c);
        }
    };
    if old.server_name != new.server_name {
        refuse(
            "ServerName",
            shown(&old.server_name),
            shown(&new.server_name),
        )?;
    }
    if old.host != new.host {
        refuse("Host", old.host.clone(), new.host.clone())?;
    }
    if old.port != new.port {
        refuse("Port", old.port.to_string(), new.port.to_string())?;
    }
    change(old.trace != new.trace, Change::Trace(new.trace));
    change(old.debug != new.debug, Change::Debug(new.debug));
    if old.no_header_support != new.no_header_support {
        refuse(
            "NoHeaderSupport",
            old.no_header_support.to_string(),
            new.no_header_support.to_string(),
        )?;
    }
    change(old.logtime != new.logtime, Change::Logtime(new.logtime));
    change(
        old.logtime_utc != new.logtime_utc,
        Change::LogtimeUtc(new.logtime_utc),
    );
    change(
        old.max_connections != new.max_connections,
        Change::MaxConnections(new.max_connections),
    );
    if old.max_subscriptions != new.max_subscriptions {
        refuse(
            "MaxSubs",
            old.max_subscriptions.to_string(),
            new.max_subscriptions.to_string(),
        )?;
    }
    change(
        old.ping_interval != new.ping_interval,
        Change::PingInterval(new.ping_interval),
    );
    change(old.ping_max != new.ping_max, Change::PingMax(new.ping_max));
    if old.http_host != new.http_host {
        refuse("HTTPHost", shown(&old.http_host), shown(&new.http_host))?;
    }
    if old.http_port != new.http_port {
        refuse(
            "HTTPPort",
            old.http_port.to_string(),
            new.http_port.to_string(),
        )?;
    }
    if old.http_base_path != new.http_base_path {
        refuse(
            "HTTPBasePath",
            old.http_base_path.clone(),
            new.http_base_path.clone(),
        )?;
    }
    change(
        old.auth_timeout != new.auth_timeout,
        Change::AuthTimeout(new.auth_timeout),
    );
    change(
        old.max_control_line != new.max_control_line,
        Change::MaxControlLine(new.max_control_line),
    );
    change(
        old.max_payload != new.max_payload,
        Change::MaxPayload(new.max_payload),
    );
    if old.max_pending != new.max_pending {
        refuse(
            "MaxPending",
            old.max_pending.to_string(),
            new.max_pending.to_string(),
        )?;
    }
    let deferred = diff_jetstream(&old.jetstream, &new.jetstream)?;
    change(
        old.pid_file != new.pid_file,
        Change::PidFile(new.pid_file.clone()),
    );
    change(
        old.ports_file_dir != new.ports_file_dir,
        Change::PortsFileDir(new.ports_file_dir.clone()),
    );
    change(
        old.log_file != new.log_file,
        Change::LogFile(new.log_file.clone()),
    );
    change(
        old.write_deadline != new.write_deadline,
        Change::WriteDeadline(new.write_deadline),
    );
    if old.max_closed_clients != new.max_closed_clients {
        refuse(
            "MaxClosedClients",
            old.max_closed_clients.to_string(),
            new.max_closed_clients.to_string(),
        )?;
    }
    if old.lame_duck_duration != new.lame_duck_duration {
        refuse(
            "LameDuckDuration",
            format_duration(old.lame_duck_duration),
            format_duration(new.lame_duck_duration),
        )?;
    }
    if old.lame_duck_grace_period != new.lame_duck_grace_period {
        refuse(
            "LameDuckGracePeriod",
            format_duration(old.lame_duck_grace_period),
            format_duration(new.lame_duck_grace_period),
        )?;
    }
    // jetcore's own setting: the shard count is fixed at start.
    if old.cores != new.cores {
        refuse("Cores", shown(&old.cores), shown(&new.cores))?;
    }
    // Go reports these only once every field was looked at.
    if let Some(e) = deferred {
        return Err(e);
    }
    // A field added to Options without a rule above must not be ignored silently:
    // with every reloadable value taken from `new`, the rest must be equal.
    let mut rest = old.clone();
    rest.trace = new.trace;
    rest.debug = new.debug;
    rest.logtime = new.logtime;
    rest.logtime_utc = new.logtime_utc;
    rest.max_connections = new.max_connections;
    rest.ping_interval = new.ping_interval;
    rest.ping_max = new.ping_max;
    rest.auth_timeout = new.auth_timeout;
    rest.max_control_line = new.max_control_line;
    rest.max_payload = new.max_payload;
    rest.pid_file = new.pid_file.clone();
    rest.ports_file_dir = new.ports_file_dir.clone();
    rest.log_file = new.log_file.clone();
    rest.write_deadline = new.write_deadline;
    rest.config_file = new.config_file.clone();
    rest.jetstream = new.jetstream.clone();
    if rest != *new {
        return Err(ReloadError::NotSupportedFor(
            "an option jetcore cannot change while running",
        ));
    }
    Ok(changes)
}

/// The JetStream part of [`diff`] (Go's `jetstream`, `storedir` and limits cases).
/// jetcore cannot start, stop or resize JetStream while running, so every change of a
/// running JetStream is refused; Go's sentences are used where Go refuses too. Returns
/// the errors Go reports only after the last field.
fn diff_jetstream(
    old: &JetStreamOptions,
    new: &JetStreamOptions,
) -> Result<Option<ReloadError>, ReloadError> {
    fn refuse(field: &'static str, old: String, new: String) -> Result<(), ReloadError> {
        Err(ReloadError::NotSupported { field, old, new })
    }
    let running = old.enabled;
    if old.enabled != new.enabled {
        // Go enables or disables JetStream here; jetcore does not (yet).
        refuse(
            "JetStream",
            old.enabled.to_string(),
            new.enabled.to_string(),
        )?;
    }
    if old.strict != new.strict {
        refuse(
            "NoJetStreamStrict",
            (!old.strict).to_string(),
            (!new.strict).to_string(),
        )?;
    }
    let mut limits_unset = false;
    for (field, o, n) in [
        ("JetStreamMaxMemory", old.max_memory, new.max_memory),
        ("JetStreamMaxStore", old.max_store, new.max_store),
    ] {
        if !running || o == n {
            continue;
        }
        match (o == -1, n == -1) {
            (false, true) => limits_unset = true,
            (true, false) => {
                return Err(ReloadError::NotSupportedFor(
                    "jetstream dynamic max memory and store",
                ))
            }
            // Go raises the limits of a running JetStream; jetcore does not.
            _ if n > o => refuse(field, o.to_string(), n.to_string())?,
            _ => {
                return Err(ReloadError::NotSupportedFor(
                    "decreasing jetstream max memory and store",
                ))
            }
        }
    }
    if old.domain != new.domain {
        refuse("JetStreamDomain", shown(&old.domain), shown(&new.domain))?;
    }
    if old.key != new.key {
        refuse("JetStreamKey", shown(&old.key), shown(&new.key))?;
    }
    if old.prev_key != new.prev_key {
        refuse(
            "JetStreamOldKey",
            shown(&old.prev_key),
            shown(&new.prev_key),
        )?;
    }
    if old.cipher != new.cipher {
        refuse(
            "JetStreamCipher",
            shown_cipher(old.cipher),
            shown_cipher(new.cipher),
        )?;
    }
    if (
        old.max_request_batch,
        old.max_ack_pending,
        old.duplicate_window,
    ) != (
        new.max_request_batch,
        new.max_ack_pending,
        new.duplicate_window,
    ) {
        refuse("JetStreamLimits", shown_limits(old), shown_limits(new))?;
    }
    let mut store_dir_unset = false;
    if running && old.store_dir != new.store_dir {
        if new.store_dir.is_none() {
            store_dir_unset = true;
        } else {
            return Err(ReloadError::NotSupportedFor("jetstream storage directory"));
        }
    }
    if old.sync != new.sync {
        refuse("SyncInterval", shown_sync(old.sync), shown_sync(new.sync))?;
    }
    // JetStream stays on (a change of `enabled` was refused above), so these stand.
    if limits_unset {
        return Ok(Some(ReloadError::NotSupportedFor(
            "jetstream max memory and max store",
        )));
    }
    if store_dir_unset {
        return Ok(Some(ReloadError::NotSupportedFor("jetstream storage dir")));
    }
    Ok(None)
}

/// The reload state: the options in force and what is needed to rebuild them.
pub struct Reloader {
    /// The options in force.
    current: Options,
    /// The command-line flags, applied over the file on each reload (Go's
    /// `FlagSnapshot`).
    flags: Vec<Flag>,
}

impl Reloader {
    /// For a server started with `opts`, built from the config file and `flags`.
    pub fn new(opts: Options, flags: Vec<Flag>) -> Reloader {
        Reloader {
            current: opts,
            flags,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.current
    }

    /// SIGHUP: read the config file again and apply it (see the module doc). On error
    /// nothing changed.
    pub fn reload(&mut self, global: &Global, files: &ProcessFiles) -> Result<(), ReloadError> {
        let Some(path) = self.current.config_file.clone() else {
            return Err(ReloadError::NoConfigFile);
        };
        let map = conf::parse_file(&path)?;
        let digest = conf::config_digest(&map);
        let mut new = Options::default();
        // Warnings were shown at start-up; like Go, a reload ignores them.
        conf_apply::apply_config(&mut new, &map)?;
        new.config_file = Some(path);
        crate::cli::apply(&mut new, &self.flags).map_err(ReloadError::Invalid)?;
        conf_apply::validate_options(&new).map_err(ReloadError::Invalid)?;
        let changes = diff(&self.current, &new)?;
        // Go exits when the new log file cannot be opened; refuse the reload instead.
        if let Some(Change::LogFile(Some(p))) =
            changes.iter().find(|c| matches!(c, Change::LogFile(_)))
        {
            logging::check_file(p)?;
        }
        self.current = new;
        global.set_options(&self.current);
        for change in &changes {
            apply(global, files, change);
        }
        if changes.iter().any(Change::is_logging) {
            self.reconfigure_logging(&changes);
        }
        tracing::info!("Reloaded server configuration ({digest})");
        Ok(())
    }
}

/// The side effects of one change, then its `Reloaded:` line (Go's `Apply`).
fn apply(global: &Global, files: &ProcessFiles, change: &Change) {
    match change {
        Change::MaxConnections(max) => {
            let closed = close_excess_connections(global, i64::from(*max));
            if closed > 0 {
                tracing::info!("Closed {closed} connections to fall within max_connections");
            }
        }
        Change::PidFile(None) => return, // Go says nothing when it is unset.
        Change::PidFile(Some(p)) => {
            if let Err(e) = ProcessFiles::write_pid(p) {
                tracing::error!("Failed to write pidfile: {e}");
            }
        }
        Change::PortsFileDir(dir) => files.move_ports_file(dir.as_deref()),
        _ => {}
    }
    tracing::info!("{}", change.describe());
}

impl Reloader {
    /// Go's `ConfigureLogger` after logging changes: levels, timestamps, destination.
    fn reconfigure_logging(&self, changes: &[Change]) {
        let o = &self.current;
        if let Err(e) = logging::set_levels(o.debug, o.trace) {
            tracing::error!("{e}");
        }
        logging::set_logtime(o.logtime);
        if changes.iter().any(|c| matches!(c, Change::LogFile(_))) {
            if let Err(e) = logging::set_file(o.log_file.as_deref()) {
                tracing::error!("{e}");
            }
        }
    }
}

/// Close connections until at most `max` are open (a negative `max` keeps none), as
/// Go's `maxConnOption` does: each gets `-ERR 'maximum connections exceeded'`. Runs on
/// core 0, which sees every core's clients; the calling thread waits for the count.
fn close_excess_connections(global: &Global, max: i64) -> usize {
    if global.connections() <= max.max(0) || global.shutdown.is_raised() {
        return 0;
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    global.post_job(Box::new(move |shard: Rc<Shard>| {
        jetcore_router::spawn(async move {
            let closed = close_excess_on_shards(&shard, max).await;
            let _ = tx.send(closed);
        });
    }));
    rx.recv_timeout(CORE_JOB_WAIT).unwrap_or(0)
}

/// Core 0's side of [`close_excess_connections`]. Go closes connections in random
/// order; jetcore closes the newest, which spares the long-lived ones.
async fn close_excess_on_shards(shard: &Rc<Shard>, max: i64) -> usize {
    let keep = usize::try_from(max).unwrap_or(0);
    let mut open: Vec<(u64, usize)> = Vec::new();
    for core in 0..shard.shards {
        let listed = shard
            .call_on(core, |s| async move {
                s.clients()
                    .iter()
                    .filter(|c| !c.is_closing())
                    .map(|c| c.cid)
                    .collect::<Vec<u64>>()
            })
            .await;
        // A core that is gone is stopping: its clients are closing anyway.
        if let Ok(cids) = listed {
            open.extend(cids.into_iter().map(|cid| (cid, core)));
        }
    }
    if open.len() <= keep {
        return 0;
    }
    open.sort_unstable_by_key(|&(cid, _)| std::cmp::Reverse(cid));
    let excess = open.len() - keep;
    let mut by_core: Vec<HashSet<u64>> = vec![HashSet::new(); shard.shards];
    for (cid, core) in open.into_iter().take(excess) {
        by_core[core].insert(cid);
    }
    let mut closed = 0;
    for (core, cids) in by_core.into_iter().enumerate() {
        if cids.is_empty() {
            continue;
        }
        let done = shard
            .call_on(core, move |s| async move {
                let mut n = 0;
                for c in s.clients() {
                    if cids.contains(&c.cid) && !c.is_closing() {
                        c.close_max_connections_exceeded();
                        n += 1;
                    }
                }
                n
            })
            .await;
        closed += done.unwrap_or(0);
    }
    closed
}

/// The pid file (`-P`, `pid_file`) and the ports file (`--ports_file_dir`), which a
/// reload may move and which the process removes (ports) at exit.
#[derive(Default)]
pub struct ProcessFiles {
    /// What the ports file says, and where it is.
    state: Mutex<PortsState>,
}

/// The inside of [`ProcessFiles`].
#[derive(Default)]
struct PortsState {
    /// The client listen host as configured.
    host: String,
    /// The bound client address, once listening.
    client: Option<SocketAddr>,
    /// The bound monitoring address, when the monitoring port is on.
    monitor: Option<SocketAddr>,
    /// The ports file written now.
    file: Option<PathBuf>,
}

impl ProcessFiles {
    /// Write the process id to `path` (no newline, as Go).
    pub fn write_pid(path: &Path) -> std::io::Result<()> {
        std::fs::write(path, std::process::id().to_string())
    }

    /// The server listens: remember the addresses and write the ports file in `dir`.
    pub fn listening(
        &self,
        host: &str,
        client: SocketAddr,
        monitor: Option<SocketAddr>,
        dir: Option<&Path>,
    ) {
        let mut st = self.lock();
        st.host = host.to_string();
        st.client = Some(client);
        st.monitor = monitor;
        if let Some(dir) = dir {
            let path = ports_file_path(dir);
            write_ports_file(&path, &st.host, client.port(), monitor);
            st.file = Some(path);
        }
    }

    /// `ports_file_dir` changed: remove the old file, write the new one (Go's
    /// `deletePortsFile` + `logPorts`).
    pub fn move_ports_file(&self, dir: Option<&Path>) {
        let mut st = self.lock();
        if let Some(old) = st.file.take() {
            let _ = std::fs::remove_file(old);
        }
        if let (Some(dir), Some(client)) = (dir, st.client) {
            let path = ports_file_path(dir);
            write_ports_file(&path, &st.host, client.port(), st.monitor);
            st.file = Some(path);
        }
    }

    /// At exit: Go removes the ports file (and leaves the pid file).
    pub fn remove_ports_file(&self) {
        if let Some(f) = self.lock().file.take() {
            let _ = std::fs::remove_file(f);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PortsState> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// `<dir>/<exe>_<pid>.ports`, as Go names it.
pub fn ports_file_path(dir: &Path) -> PathBuf {
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

/// Write Go's `PortsInfo` JSON.
fn write_ports_file(path: &Path, host: &str, port: u16, monitor: Option<SocketAddr>) {
    // A wildcard listen address is reached on loopback; IPv6 hosts go in brackets.
    let reachable = |host: &str| -> String {
        match host {
            "0.0.0.0" | "" => "127.0.0.1".into(),
            "::" => "[::1]".into(),
            h if h.contains(':') => format!("[{h}]"),
            h => h.into(),
        }
    };
    /// Go's `PortsInfo`, in its field order.
    #[derive(serde::Serialize)]
    struct PortsInfo {
        /// Client URLs.
        nats: Vec<String>,
        /// Monitoring URLs, when the port is on.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        monitoring: Vec<String>,
    }
    let info = PortsInfo {
        nats: vec![format!("nats://{}:{port}", reachable(host))],
        monitoring: monitor
            .map(|m| format!("http://{}:{}", reachable(&m.ip().to_string()), m.port()))
            .into_iter()
            .collect(),
    };
    let json = serde_json::to_string(&info).unwrap_or_default();
    if let Err(e) = std::fs::write(path, json) {
        tracing::error!("Error writing ports file {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Options)) -> Options {
        let mut o = Options::default();
        f(&mut o);
        o
    }

    fn err(old: &Options, new: &Options) -> String {
        match diff(old, new) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("expected an error, got {c:?}"),
        }
    }

    #[test]
    fn reloadable_changes_in_go_order() {
        let old = Options::default();
        let new = with(|o| {
            o.write_deadline = Duration::from_secs(3);
            o.max_payload = 2000;
            o.logtime = false;
            o.ping_interval = Duration::from_secs(5);
            o.max_connections = 1;
            o.log_file = Some("/tmp/x.log".into());
            o.trace = true;
            o.max_control_line = 1000;
            o.ping_max = 3;
        });
        let changes = diff(&old, &new).unwrap();
        let lines: Vec<String> = changes.iter().map(Change::describe).collect();
        assert_eq!(
            lines,
            [
                "Reloaded: trace = true",
                "Reloaded: logtime = false",
                "Reloaded: max_connections = 1",
                "Reloaded: ping_interval = 5s",
                "Reloaded: ping_max = 3",
                "Reloaded: max_control_line = 1000",
                "Reloaded: max_payload = 2000",
                "Reloaded: log_file = /tmp/x.log",
                "Reloaded: write_deadline = 3s",
            ]
        );
        assert!(diff(&old, &old.clone()).unwrap().is_empty());
    }

    #[test]
    fn non_reloadable_options_fail_with_gos_sentence() {
        let old = with(|o| o.max_pending = 100_000);
        let new = with(|o| o.max_pending = 200_000);
        assert_eq!(
            err(&old, &new),
            "config reload not supported for MaxPending: old=100000, new=200000"
        );
        let new = with(|o| o.lame_duck_duration = Duration::from_secs(40));
        assert_eq!(
            err(&Options::default(), &new),
            "config reload not supported for LameDuckDuration: old=2m0s, new=40s"
        );
        let new = with(|o| o.lame_duck_grace_period = Duration::from_secs(5));
        assert_eq!(
            err(&Options::default(), &new),
            "config reload not supported for LameDuckGracePeriod: old=10s, new=5s"
        );
        let new = with(|o| o.max_subscriptions = 10);
        assert_eq!(
            err(&Options::default(), &new),
            "config reload not supported for MaxSubs: old=0, new=10"
        );
        let new = with(|o| o.server_name = Some("foo".into()));
        assert_eq!(
            err(&Options::default(), &new),
            "config reload not supported for ServerName: old=, new=foo"
        );
    }

    #[test]
    fn the_first_refused_field_wins_and_nothing_is_returned() {
        // ServerName comes before MaxPending in Go's Options, and reloadable changes
        // before it do not make the reload partial.
        let new = with(|o| {
            o.trace = true;
            o.max_pending = 5_000_000;
            o.server_name = Some("n".into());
        });
        assert!(err(&Options::default(), &new).contains("ServerName"));
    }

    #[test]
    fn jetstream_changes() {
        let on = with(|o| {
            o.jetstream.enabled = true;
            o.jetstream.store_dir = Some("/a".into());
            o.jetstream.max_memory = 1000;
        });
        let moved = with(|o| {
            o.jetstream = on.jetstream.clone();
            o.jetstream.store_dir = Some("/b".into());
        });
        assert_eq!(
            err(&on, &moved),
            "config reload not supported for jetstream storage directory"
        );
        let smaller = with(|o| {
            o.jetstream = on.jetstream.clone();
            o.jetstream.max_memory = 10;
        });
        assert_eq!(
            err(&on, &smaller),
            "config reload not supported for decreasing jetstream max memory and store"
        );
        let unset = with(|o| {
            o.jetstream = on.jetstream.clone();
            o.jetstream.max_memory = -1;
        });
        assert_eq!(
            err(&on, &unset),
            "config reload not supported for jetstream max memory and max store"
        );
        let off = with(|o| o.jetstream.enabled = false);
        assert_eq!(
            err(&on, &off),
            "config reload not supported for JetStream: old=true, new=false"
        );
        // Not running: a store dir change is accepted (it has no effect), as in Go.
        let a = with(|o| o.jetstream.store_dir = Some("/a".into()));
        let b = with(|o| o.jetstream.store_dir = Some("/b".into()));
        assert_eq!(diff(&a, &b).unwrap(), Vec::<Change>::new());
    }

    #[test]
    fn unset_paths_show_empty() {
        let old = with(|o| o.log_file = Some("/x".into()));
        let changes = diff(&old, &Options::default()).unwrap();
        assert_eq!(changes, [Change::LogFile(None)]);
        assert_eq!(changes[0].describe(), "Reloaded: log_file = ");
        assert_eq!(shown_path(&None), "");
    }
}
