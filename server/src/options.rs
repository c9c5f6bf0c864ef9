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
/// Go's `DEFAULT_MAX_CLOSED_CLIENTS`: how many closed connections `/connz` keeps.
pub const DEFAULT_MAX_CLOSED_CLIENTS: usize = 10_000;
/// Go's `DEFAULT_LAME_DUCK_DURATION`.
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// Go's `DEFAULT_LAME_DUCK_GRACE_PERIOD`.
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);

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
    /// Monitoring HTTP host (`http: "host:port"`); `None` = the client `host`, as Go.
    pub http_host: Option<String>,
    /// Monitoring HTTP port (`-m`, `http_port`, `http`); 0 = off, -1 = any free port.
    pub http_port: i32,
    /// `http_base_path`: a prefix for every monitoring path (`/base/varz`).
    pub http_base_path: String,
    /// `max_closed_clients`: closed connections `/connz?state=closed` remembers.
    pub max_closed_clients: usize,
    /// `lame_duck_duration`: after SIGUSR2, the time over which the connected clients
    /// are closed (the grace period included).
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`: after SIGUSR2, how long to wait before closing the
    /// first client (so several servers put in lame duck mode together do not send
    /// their clients to each other).
    pub lame_duck_grace_period: Duration,
    /// jetcore only: number of shard cores (`--cores`); `None` = the CPUs we may use.
    pub cores: Option<usize>,
    /// The config file these options were read from, if any.
    pub config_file: Option<PathBuf>,
    /// JetStream settings (`jetstream { ... }`, top-level `store_dir`, `-js`, `-sd`).
    pub jetstream: JetStreamOptions,
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
            http_host: None,
            http_port: 0,
            http_base_path: String::new(),
            max_closed_clients: DEFAULT_MAX_CLOSED_CLIENTS,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            cores: None,
            config_file: None,
            jetstream: JetStreamOptions::default(),
        }
    }
}

/// Go's `JetStreamStoreDir`: the directory JetStream keeps under the store directory.
pub const JETSTREAM_STORE_DIR: &str = "jetstream";

/// `jetstream { ... }`, `-js`, `-sd`.
///
/// Parsed the way Go's `parseJetStream` (server/opts.go) does; the JetStream runtime
/// reads these settings when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct JetStreamOptions {
    /// Whether JetStream runs at all: `-js`/`--jetstream`, `jetstream: true|false`,
    /// `jetstream: enabled|disabled`, or a `jetstream { ... }` block, which enables it
    /// unless it says `enabled: false` (Go's `doEnable`).
    pub enabled: bool,
    /// Where the operator wants data kept (`-sd`/`--store_dir`, `store_dir`/`store`/
    /// `storedir` in the block, or top-level `store_dir`/`storedir`), exactly as given;
    /// `None` = not set. Go stores under `<this>/jetstream`: see
    /// [`JetStreamOptions::jetstream_dir`].
    pub store_dir: Option<PathBuf>,
    /// `max_mem`/`max_mem_store`/`max_memory_store`: bytes all memory streams may hold.
    /// `-1` = not set, for which Go computes a dynamic default (75% of system memory);
    /// `0` set explicitly means no memory storage, as in Go.
    pub max_memory: i64,
    /// `max_file`/`max_file_store`: bytes all file streams may hold. `-1` = not set
    /// (Go then uses the disk space available); `0` set explicitly means no file storage.
    pub max_store: i64,
    /// `sync`/`sync_interval`: when file store writes are flushed to disk.
    pub sync: JetStreamSync,
    /// `domain`: the JetStream domain (`$JS.<domain>.API`); `None` = no domain.
    pub domain: Option<String>,
    /// `cipher`: how stored data is encrypted when a `key` is set. `None` = not given;
    /// Go's default then is ChaCha20-Poly1305 (its `StoreCipher` zero value).
    pub cipher: Option<JetStreamCipher>,
    /// `key`/`ek`/`encryption_key`: the encryption-at-rest key; `None` = no encryption.
    pub key: Option<String>,
    /// `prev_key`/`prev_ek`/`prev_encryption_key`: the previous key, so data written
    /// with it can be read and re-encrypted with `key` (key rotation).
    pub prev_key: Option<String>,
    /// `strict`: reject JetStream API requests with unknown or invalid fields (Go's
    /// `!NoJetStreamStrict`); default `true`.
    pub strict: bool,
    /// `limits { max_ack_pending }`: server-wide cap on a consumer's max ack pending;
    /// 0 = unset (no server cap).
    pub max_ack_pending: i64,
    /// `limits { max_request_batch }`: server-wide cap on a pull request's batch size;
    /// 0 = unset.
    pub max_request_batch: i64,
    /// `limits { duplicate_window }`: server-wide cap on a stream's duplicate window;
    /// `None` = unset (a zero duration counts as unset, as in Go).
    pub duplicate_window: Option<Duration>,
}

/// When the file store makes writes durable (`sync`/`sync_interval`).
///
/// jetcore's default is [`JetStreamSync::Always`], a deliberate difference from Go's
/// 2-minute background interval: jetcore acknowledges a publish only after
/// `fdatasync`. `sync_interval: always` gives `Always`, a duration gives `Interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JetStreamSync {
    /// Sync every write before it is acknowledged.
    Always,
    /// Sync in the background at this period (Go's behaviour; never zero: a zero
    /// `sync_interval` means "the default", which for jetcore is `Always`).
    Interval(Duration),
}

/// The cipher for encryption at rest (`cipher`; Go's `StoreCipher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JetStreamCipher {
    /// `aes`: AES-GCM.
    Aes,
    /// `chacha`/`chachapoly`: ChaCha20-Poly1305.
    ChaCha,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            enabled: false,
            store_dir: None,
            max_memory: -1,
            max_store: -1,
            sync: JetStreamSync::Always,
            domain: None,
            cipher: None,
            key: None,
            prev_key: None,
            strict: true,
            max_ack_pending: 0,
            max_request_batch: 0,
            duplicate_window: None,
        }
    }
}

impl JetStreamOptions {
    /// The directory that holds `<account>/streams/...`, computed as Go's
    /// `EnableJetStream` and `dynJetStreamConfig` (server/jetstream.go) do:
    /// - `store_dir` set: `<store_dir>/jetstream`;
    /// - `store_dir` unset and both `max_memory` and `max_store` above 0:
    ///   `<os temp dir>/jetstream` (EnableJetStream's fallback);
    /// - `store_dir` unset otherwise (either limit unset or 0, the usual case):
    ///   `<os temp dir>/nats/jetstream` (dynJetStreamConfig's fallback).
    ///
    /// The temp dir is `std::env::temp_dir()`, which like Go's `os.TempDir` honours
    /// `$TMPDIR` and falls back to `/tmp`.
    pub fn jetstream_dir(&self) -> PathBuf {
        match &self.store_dir {
            Some(dir) => dir.join(JETSTREAM_STORE_DIR),
            None if self.max_memory > 0 && self.max_store > 0 => {
                std::env::temp_dir().join(JETSTREAM_STORE_DIR)
            }
            None => std::env::temp_dir().join("nats").join(JETSTREAM_STORE_DIR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jetstream_defaults() {
        let js = Options::default().jetstream;
        assert_eq!(
            js,
            JetStreamOptions {
                enabled: false,
                store_dir: None,
                max_memory: -1,
                max_store: -1,
                sync: JetStreamSync::Always,
                domain: None,
                cipher: None,
                key: None,
                prev_key: None,
                strict: true,
                max_ack_pending: 0,
                max_request_batch: 0,
                duplicate_window: None,
            }
        );
    }

    #[test]
    fn jetstream_dir_follows_go() {
        let tmp = std::env::temp_dir();
        let js = |store_dir: Option<&str>, max_memory, max_store| JetStreamOptions {
            store_dir: store_dir.map(PathBuf::from),
            max_memory,
            max_store,
            ..JetStreamOptions::default()
        };
        let cases = [
            (js(Some("/data"), -1, -1), PathBuf::from("/data/jetstream")),
            (js(Some("/data"), 1, 1), PathBuf::from("/data/jetstream")),
            (
                js(Some("rel/dir"), -1, 5),
                PathBuf::from("rel/dir/jetstream"),
            ),
            (js(None, -1, -1), tmp.join("nats").join("jetstream")),
            (js(None, 1 << 30, -1), tmp.join("nats").join("jetstream")),
            (js(None, -1, 1 << 30), tmp.join("nats").join("jetstream")),
            (js(None, 0, 1 << 30), tmp.join("nats").join("jetstream")),
            (js(None, 1 << 30, 1 << 30), tmp.join("jetstream")),
        ];
        for (opts, expected) in cases {
            assert_eq!(opts.jetstream_dir(), expected, "{opts:?}");
        }
    }
}
