//! Server options: every setting with the Go nats-server's default.
//!
//! Options come from three places, applied in this order (later wins), the same order
//! the Go server uses: built-in defaults, the config file (`-c`), then command-line
//! flags. `conf_apply.rs` maps a parsed config file onto this struct; `cli.rs` maps flags.

use std::path::PathBuf;
use std::time::Duration;

/// Go's `DEFAULT_PORT`.
pub const DEFAULT_PORT: i32 = 4222;
/// Go's `MAX_PAYLOAD_SIZE` (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: u32 = 1024 * 1024;
/// Go's `MAX_CONTROL_LINE_SIZE`.
pub const DEFAULT_MAX_CONTROL_LINE: u32 = 4096;
/// Go's `MAX_PENDING_SIZE` (64 MiB): the per-client outbound buffer cap before the
/// client is closed as a slow consumer.
pub const DEFAULT_MAX_PENDING: i64 = 64 * 1024 * 1024;
/// Go's `DEFAULT_MAX_CONNECTIONS` (64K).
pub const DEFAULT_MAX_CONNECTIONS: i32 = 64 * 1024;
/// Go's `DEFAULT_PING_INTERVAL`.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// Go's `DEFAULT_PING_MAX_OUT`.
pub const DEFAULT_PING_MAX: u32 = 2;
/// Go's `DEFAULT_FLUSH_DEADLINE` (the write deadline).
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Go's `AUTH_TIMEOUT`.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Go's `DEFAULT_LAME_DUCK_DURATION`.
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);

/// All settings of one server process.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Interface the client listener binds (`-a`, `host`/`net`/`listen`).
    pub host: String,
    /// Client port (`-p`, `port`); `-1` asks the kernel for a free port.
    pub port: i32,
    /// Server name shown in INFO (`-n`, `server_name`); the server id when unset.
    pub server_name: Option<String>,
    /// Largest message payload (headers included) a client may publish.
    pub max_payload: u32,
    /// Longest protocol control line (a `PUB ...` line without its payload).
    pub max_control_line: u32,
    /// Outbound bytes a client may have queued before it is a slow consumer.
    pub max_pending: i64,
    /// Most client connections at once; `-ERR 'maximum connections exceeded'` above it.
    pub max_connections: i32,
    /// Most subscriptions per connection; 0 means unlimited.
    pub max_subscriptions: u32,
    /// How often the server pings an idle client.
    pub ping_interval: Duration,
    /// Unanswered pings before `-ERR 'Stale Connection'`.
    pub ping_max: u32,
    /// A socket write blocked longer than this closes the client as a slow consumer.
    pub write_deadline: Duration,
    /// Time a client has to send CONNECT when auth is required.
    pub auth_timeout: Duration,
    /// `-D`: debug logging.
    pub debug: bool,
    /// `-V`: protocol tracing.
    pub trace: bool,
    /// `-T`: timestamps in log lines (Go default: on).
    pub logtime: bool,
    /// `--logtime_utc`: timestamps in UTC.
    pub logtime_utc: bool,
    /// `-l`: log to this file instead of stderr.
    pub log_file: Option<PathBuf>,
    /// `-P`: write the process id here.
    pub pid_file: Option<PathBuf>,
    /// `--ports_file_dir`: write `<exe>_<pid>.ports` here once listening.
    pub ports_file_dir: Option<PathBuf>,
    /// `no_header_support`: do not offer headers in INFO.
    pub no_header_support: bool,
    /// Lame duck duration (SIGUSR2); parsed now, used by the operations issue.
    pub lame_duck_duration: Duration,
    /// jetcore only: number of shard cores (`--cores`); `None` = the CPUs we may use.
    pub cores: Option<usize>,
    /// The config file these options were read from, if any.
    pub config_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "0.0.0.0".to_string(),
            port: DEFAULT_PORT,
            server_name: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_pending: DEFAULT_MAX_PENDING,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            debug: false,
            trace: false,
            logtime: true,
            logtime_utc: false,
            log_file: None,
            pid_file: None,
            ports_file_dir: None,
            no_header_support: false,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            cores: None,
            config_file: None,
        }
    }
}
