//! Maps a parsed config file onto [`Options`], the way Go's `processConfigFileLine`
//! (server/opts.go) does for the settings jetcore has.
//!
//! A config written for the Go nats-server must either work here or say clearly what is
//! not supported, so every top-level key falls into one of three groups:
//! - keys jetcore implements: applied with Go's names, aliases, types and checks;
//! - keys Go knows but jetcore does not implement yet: a [`ConfigWarning`] each, never
//!   a silent skip;
//! - keys Go does not know: an `unknown field` error, as in Go, except for entries that
//!   served as `$variables` (Go exempts those so that configs can define variables).
//!
//! Values Go resets to a default after loading (`setBaselineOptions`: a zero
//! `max_payload`, `port`, `ping_interval`... means "default") are resolved here, so
//! [`Options`] always holds the effective setting. Errors are collected and returned
//! together, like Go reports all config errors at once.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::conf::{
    format_duration, parse_duration, ConfError, Entry, Map, Position, Spanned, Value,
};
use crate::options::{
    JetStreamCipher, JetStreamSync, Options, DEFAULT_LAME_DUCK_GRACE_PERIOD,
    DEFAULT_MAX_CONTROL_LINE, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_PENDING, DEFAULT_PING_INTERVAL,
    DEFAULT_PING_MAX, DEFAULT_PORT, DEFAULT_WRITE_DEADLINE,
};

/// Something in the config that is accepted but deserves the operator's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where the key or value in question is.
    pub pos: Position,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// Go's default host, used when a config sets an empty host (`listen: ":4222"`).
const DEFAULT_HOST: &str = "0.0.0.0";

/// Go's smallest `lame_duck_duration`.
const MIN_LAME_DUCK_DURATION: Duration = Duration::from_secs(30);

/// Top-level keys the Go server accepts (every case of `processConfigFileLine`) that
/// jetcore does not implement yet. Each one found produces a warning.
const NOT_IMPLEMENTED: &[&str] = &[
    "accounts",
    "account_resolver",
    "accounts_resolver",
    "allow_non_tls",
    "authorization",
    "client_advertise",
    "cluster",
    "connect_error_reports",
    "default_js_domain",
    "default_sentinel",
    "disable_sublist_cache",
    "feature_flags",
    "gateway",
    "https",
    "https_port",
    "leaf",
    "leafnodes",
    "log_max_num",
    "log_size_limit",
    "logfile_max_num",
    "logfile_size_limit",
    "mappings",
    "maps",
    "max_sub_tokens",
    "max_subscription_tokens",
    "max_traced_msg_len",
    "mqtt",
    "no_auth_user",
    "no_fast_producer_stall",
    "no_sublist_cache",
    "no_sys_acc",
    "no_system",
    "no_system_account",
    "ocsp",
    "ocsp_cache",
    "operator",
    "operators",
    "prof_block_rate",
    "prof_port",
    "proxies",
    "proxy_protocol",
    "reconnect_error_reports",
    "remote_syslog",
    "resolver",
    "resolver_pinned_accounts",
    "resolver_preload",
    "resolver_tls",
    "root",
    "root_operator",
    "root_operators",
    "roots",
    "server_metadata",
    "server_tags",
    "syslog",
    "system",
    "system_account",
    "tls",
    "trusted",
    "trusted_keys",
    "websocket",
    "write_timeout",
    "ws",
];

/// Applies every top-level entry of `map` to `opts`. Returns the warnings, or all the
/// errors found (as [`ConfError::Many`] when there are several).
pub fn apply_config(opts: &mut Options, map: &Map) -> Result<Vec<ConfigWarning>, ConfError> {
    let mut run = Apply::default();
    for entry in map.entries() {
        if let Err(e) = run.entry(opts, entry) {
            run.errors.push(e);
        }
    }
    run.check_payload_against_pending(opts);
    match ConfError::from_list(run.errors) {
        Some(e) => Err(e),
        None => Ok(run.warnings),
    }
}

/// Checks across options that Go makes when the server starts (`validateOptions`);
/// to be called again after command-line flags are merged.
pub fn validate_options(opts: &Options) -> Result<(), String> {
    if opts.lame_duck_grace_period >= opts.lame_duck_duration {
        return Err(format!(
            "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
            format_duration(opts.lame_duck_grace_period),
            format_duration(opts.lame_duck_duration)
        ));
    }
    if i64::from(opts.max_payload) > opts.max_pending {
        return Err(payload_pending_message(opts));
    }
    if opts.server_name.as_deref().is_some_and(|n| n.contains(' ')) {
        return Err("server name cannot contain spaces".to_string());
    }
    if opts.cores == Some(0) {
        return Err("cores must be at least 1".to_string());
    }
    Ok(())
}

/// Go's wording for a payload limit above the pending limit.
fn payload_pending_message(opts: &Options) -> String {
    format!(
        "max_payload ({}) cannot be higher than max_pending ({})",
        opts.max_payload, opts.max_pending
    )
}

/// State of one `apply_config` run.
#[derive(Default)]
struct Apply {
    /// Warnings so far, in file order.
    warnings: Vec<ConfigWarning>,
    /// Errors so far, in file order.
    errors: Vec<ConfError>,
    /// Where `max_payload` was set, to place the payload/pending error.
    payload_pos: Option<Position>,
    /// Where `max_pending` was set.
    pending_pos: Option<Position>,
}

impl Apply {
    /// Records a warning.
    fn warn(&mut self, pos: &Position, message: String) {
        self.warnings.push(ConfigWarning {
            pos: pos.clone(),
            message,
        });
    }

    /// Applies one top-level entry. Keys match case-insensitively, as in Go.
    fn entry(&mut self, opts: &mut Options, entry: &Entry) -> Result<(), ConfError> {
        let key = entry.key.as_str();
        let v = &entry.value;
        match key.to_lowercase().as_str() {
            "listen" => (opts.host, opts.port) = listen(v)?,
            "http" => {
                let (host, port) = listen(v)?;
                opts.http_host = Some(host);
                opts.http_port = port;
            }
            "http_port" | "monitor_port" => opts.http_port = port_number(v, integer(key, v)?)?,
            "http_base_path" => opts.http_base_path = string(key, v)?.to_string(),
            "max_closed_clients" => {
                opts.max_closed_clients = integer(key, v)?.max(0) as usize;
            }
            "host" | "net" => opts.host = host_or_default(string(key, v)?),
            "port" => opts.port = port_number(v, integer(key, v)?)?,
            "server_name" => opts.server_name = server_name(key, v)?,
            "debug" => opts.debug = boolean(key, v)?,
            "trace" => opts.trace = boolean(key, v)?,
            "trace_verbose" | "trace_headers" => {
                // Go sets trace along with these; jetcore has no finer levels yet.
                opts.trace = boolean(key, v)?;
                let message =
                    format!("\"{key}\" is only partly implemented by jetcore: it sets trace only");
                self.warn(&entry.key_pos, message);
            }
            "logtime" => opts.logtime = boolean(key, v)?,
            "logtime_utc" => opts.logtime_utc = boolean(key, v)?,
            "log_file" | "logfile" => opts.log_file = path(key, v)?,
            "pid_file" | "pidfile" => opts.pid_file = path(key, v)?,
            "ports_file_dir" => opts.ports_file_dir = path(key, v)?,
            "no_header_support" => opts.no_header_support = boolean(key, v)?,
            "max_payload" => {
                opts.max_payload = limit_u32(key, v, DEFAULT_MAX_PAYLOAD)?;
                self.payload_pos = Some(v.pos.clone());
            }
            "max_control_line" => {
                opts.max_control_line = limit_u32(key, v, DEFAULT_MAX_CONTROL_LINE)?;
            }
            "max_pending" => {
                opts.max_pending = max_pending(key, v)?;
                self.pending_pos = Some(v.pos.clone());
            }
            "max_connections" | "max_conn" => opts.max_connections = max_connections(key, v)?,
            "max_subscriptions" | "max_subs" => {
                opts.max_subscriptions = max_subscriptions(key, v)?;
            }
            "ping_interval" => {
                opts.ping_interval = self.duration(key, v)?.unwrap_or(DEFAULT_PING_INTERVAL);
            }
            "ping_max" => opts.ping_max = ping_max(key, v)?,
            "write_deadline" => {
                opts.write_deadline = self.duration(key, v)?.unwrap_or(DEFAULT_WRITE_DEADLINE);
            }
            "lame_duck_duration" => opts.lame_duck_duration = lame_duck_duration(key, v)?,
            "lame_duck_grace_period" => {
                opts.lame_duck_grace_period =
                    lame_duck_grace_period(key, v)?.unwrap_or(DEFAULT_LAME_DUCK_GRACE_PERIOD);
            }
            "cores" => opts.cores = Some(cores(key, v)?),
            "store_dir" | "storedir" => set_store_dir(opts, key, v)?,
            "jetstream" => self.jetstream(opts, key, v)?,
            known if NOT_IMPLEMENTED.contains(&known) => {
                let message = format!("\"{key}\" is not implemented by jetcore yet and is ignored");
                self.warn(&entry.key_pos, message);
            }
            // Go lets an unknown key stand when it was used as a variable.
            _ if entry.used_as_variable => {}
            _ => {
                return Err(ConfError::at(
                    &entry.key_pos,
                    format!("unknown field \"{key}\""),
                ))
            }
        }
        Ok(())
    }

    /// A duration written as a Go duration string, or (deprecated, with Go's warning)
    /// as an integer number of seconds. `None` for zero, which Go treats as "default".
    fn duration(&mut self, key: &str, v: &Spanned) -> Result<Option<Duration>, ConfError> {
        let duration = match &v.value {
            Value::String(s) => parse_duration(s)
                .map_err(|e| ConfError::at(&v.pos, format!("error parsing {key}: {e}")))?,
            Value::Integer(seconds) => {
                let message = format!(
                    "invalid use of field \"{key}\": {key} should be converted to a duration"
                );
                self.warn(&v.pos, message);
                let seconds = u64::try_from(*seconds)
                    .map_err(|_| ConfError::at(&v.pos, format!("{key} can not be negative")))?;
                Duration::from_secs(seconds)
            }
            other => return Err(wrong_type(key, "a duration", &v.pos, other)),
        };
        Ok((!duration.is_zero()).then_some(duration))
    }

    /// `jetstream`: a boolean, `"enabled"`/`"disabled"` (and `enable`/`disable`), or a
    /// block, which enables JetStream unless it says `enabled: false` (Go's
    /// `parseJetStream`).
    fn jetstream(&mut self, opts: &mut Options, key: &str, v: &Spanned) -> Result<(), ConfError> {
        match &v.value {
            Value::Bool(on) => opts.jetstream.enabled = *on,
            Value::String(s) => {
                opts.jetstream.enabled = match s.to_lowercase().as_str() {
                    "enabled" | "enable" => true,
                    "disabled" | "disable" => false,
                    _ => {
                        return Err(ConfError::at(
                            &v.pos,
                            format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                        ))
                    }
                }
            }
            Value::Map(map) => {
                let mut enable = true;
                for entry in map.entries() {
                    if let Err(e) = self.jetstream_entry(opts, key, entry, &mut enable) {
                        self.errors.push(e);
                    }
                }
                opts.jetstream.enabled = enable;
            }
            other => {
                return Err(ConfError::at(
                    &v.pos,
                    format!(
                        "Expected map, bool or string to define JetStream, got {}",
                        go_type(other)
                    ),
                ))
            }
        }
        Ok(())
    }

    /// One key of the `jetstream { ... }` block. `block` is the block's key as written,
    /// for warnings.
    fn jetstream_entry(
        &mut self,
        opts: &mut Options,
        block: &str,
        entry: &Entry,
        enable: &mut bool,
    ) -> Result<(), ConfError> {
        let key = entry.key.as_str();
        let v = &entry.value;
        let js = &mut opts.jetstream;
        let lower = key.to_lowercase();
        match lower.as_str() {
            "strict" => {
                js.strict = v.value.as_bool().ok_or_else(|| {
                    ConfError::at(
                        &v.pos,
                        format!(
                            "Expected 'true' or 'false' for bool value, got '{}'",
                            go_percent_s(&v.value)
                        ),
                    )
                })?;
            }
            "store" | "store_dir" | "storedir" => set_store_dir(opts, key, v)?,
            "sync" | "sync_interval" => {
                opts.jetstream.sync = match &v.value {
                    Value::String(s) if s.eq_ignore_ascii_case("always") => JetStreamSync::Always,
                    // Zero means "the default" in Go (2m there); jetcore's is Always.
                    _ => self
                        .duration(key, v)?
                        .map_or(JetStreamSync::Always, JetStreamSync::Interval),
                };
            }
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                js.max_memory = storage_size(&v.value)
                    .map_err(|e| ConfError::at(&v.pos, format!("max_mem_store {e}")))?;
            }
            "max_file_store" | "max_file" => {
                js.max_store = storage_size(&v.value)
                    .map_err(|e| ConfError::at(&v.pos, format!("max_file_store {e}")))?;
            }
            "domain" => js.domain = non_empty(key, v)?,
            "enable" | "enabled" => *enable = boolean(key, v)?,
            "key" | "ek" | "encryption_key" => js.key = non_empty(key, v)?,
            "prev_key" | "prev_ek" | "prev_encryption_key" => js.prev_key = non_empty(key, v)?,
            "cipher" => js.cipher = Some(cipher(key, v)?),
            "limits" => self.jetstream_limits(opts, &format!("{block}.{key}"), v)?,
            "extension_hint"
            | "tpm"
            | "unique_tag"
            | "max_outstanding_catchup"
            | "max_buffered_size"
            | "max_buffered_msgs"
            | "request_queue_limit"
            | "info_queue_limit"
            | "meta_compact"
            | "meta_compact_size"
            | "meta_compact_sync"
            | "max_concurrent_io" => {
                check_ignored_jetstream_key(&lower, key, v)?;
                self.not_implemented(&entry.key_pos, &format!("{block}.{key}"));
            }
            _ => unknown_field(entry)?,
        }
        Ok(())
    }

    /// `jetstream { limits { ... } }` (Go's `parseJetStreamLimits`): each `limits`
    /// block starts from "no limits", as in Go.
    fn jetstream_limits(
        &mut self,
        opts: &mut Options,
        path: &str,
        v: &Spanned,
    ) -> Result<(), ConfError> {
        let js = &mut opts.jetstream;
        js.max_ack_pending = 0;
        js.max_request_batch = 0;
        js.duplicate_window = None;
        let map = expect_map(v, "JetStreamLimits")?;
        for entry in map.entries() {
            let key = entry.key.as_str();
            let v = &entry.value;
            let result = match key.to_lowercase().as_str() {
                "max_ack_pending" => integer(key, v).map(|n| js.max_ack_pending = n),
                "max_request_batch" => integer(key, v).map(|n| js.max_request_batch = n),
                "duplicate_window" => duration_string(key, v).map(|d| js.duplicate_window = d),
                "max_ha_assets" => integer(key, v).map(|_| {
                    self.not_implemented(&entry.key_pos, &format!("{path}.{key}"));
                }),
                "batch" => limits_batch(v).map(|errors| {
                    self.errors.extend(errors);
                    self.not_implemented(&entry.key_pos, &format!("{path}.{key}"));
                }),
                _ => unknown_field(entry),
            };
            if let Err(e) = result {
                self.errors.push(e);
            }
        }
        Ok(())
    }

    /// The warning for a key Go knows that jetcore accepts and ignores.
    fn not_implemented(&mut self, pos: &Position, key: &str) {
        let message = format!("\"{key}\" is not implemented by jetcore yet and is ignored");
        self.warn(pos, message);
    }

    /// Go checks `max_payload <= max_pending` when the server starts; do it here too
    /// so the error points into the file.
    fn check_payload_against_pending(&mut self, opts: &Options) {
        let Some(pos) = self
            .payload_pos
            .clone()
            .or_else(|| self.pending_pos.clone())
        else {
            return;
        };
        if i64::from(opts.max_payload) > opts.max_pending {
            self.errors
                .push(ConfError::at(&pos, payload_pending_message(opts)));
        }
    }
}

/// The error for a value of the wrong type.
fn wrong_type(key: &str, expected: &str, pos: &Position, got: &Value) -> ConfError {
    ConfError::at(
        pos,
        format!("expected {expected} for \"{key}\", got {}", got.type_name()),
    )
}

/// The value as an integer.
fn integer(key: &str, v: &Spanned) -> Result<i64, ConfError> {
    v.value
        .as_i64()
        .ok_or_else(|| wrong_type(key, "an integer", &v.pos, &v.value))
}

/// The value as a string.
fn string<'v>(key: &str, v: &'v Spanned) -> Result<&'v str, ConfError> {
    v.value
        .as_str()
        .ok_or_else(|| wrong_type(key, "a string", &v.pos, &v.value))
}

/// The value as a boolean (`true/false/yes/no/on/off`).
fn boolean(key: &str, v: &Spanned) -> Result<bool, ConfError> {
    v.value
        .as_bool()
        .ok_or_else(|| wrong_type(key, "a boolean", &v.pos, &v.value))
}

/// A file or directory path; empty means unset.
fn path(key: &str, v: &Spanned) -> Result<Option<PathBuf>, ConfError> {
    let s = string(key, v)?;
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

/// An empty host means Go's default, all interfaces.
fn host_or_default(host: &str) -> String {
    if host.is_empty() {
        DEFAULT_HOST.to_string()
    } else {
        host.to_string()
    }
}

/// A client port: 0 means the default port and -1 a random one, as in Go.
fn port_number(v: &Spanned, port: i64) -> Result<i32, ConfError> {
    match port {
        0 => Ok(DEFAULT_PORT),
        -1..=65535 => Ok(port as i32),
        _ => Err(ConfError::at(
            &v.pos,
            format!("invalid port {port}: must be between -1 and 65535"),
        )),
    }
}

/// `listen`: a port, or `host:port` (`[v6]:port`, `:port`). Like Go, a bare port also
/// resets the host to the default.
fn listen(v: &Spanned) -> Result<(String, i32), ConfError> {
    let fail = |message: String| ConfError::at(&v.pos, message);
    match &v.value {
        Value::Integer(port) => Ok((DEFAULT_HOST.to_string(), port_number(v, *port)?)),
        Value::String(s) => {
            let (host, port) = split_host_port(s)
                .ok_or_else(|| fail(format!("could not parse address string \"{s}\"")))?;
            let port: i64 = port
                .parse()
                .map_err(|_| fail(format!("could not parse port \"{port}\"")))?;
            Ok((host_or_default(host), port_number(v, port)?))
        }
        other => Err(fail(format!(
            "expected port or host:port, got {}",
            other.type_name()
        ))),
    }
}

/// Go's `net.SplitHostPort`: `host:port`, `[host]:port` or `:port`; `None` when the
/// port is missing, there are too many colons, or brackets are misplaced.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let colon = s.rfind(':')?;
    let (host, port_start) = if let Some(bracketed) = s.strip_prefix('[') {
        let close = bracketed.find(']')? + 1;
        if close + 1 != colon {
            return None;
        }
        (&s[1..close], close + 1)
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return None;
        }
        (host, 0)
    };
    let opens_after_start = s[usize::from(s.starts_with('['))..].contains('[');
    if opens_after_start || s[port_start..].contains(']') {
        return None;
    }
    Some((host, &s[colon + 1..]))
}

/// `server_name`: no spaces (Go's `ErrServerNameHasSpaces`); empty means unset.
fn server_name(key: &str, v: &Spanned) -> Result<Option<String>, ConfError> {
    let name = string(key, v)?;
    if name.contains(' ') {
        return Err(ConfError::at(&v.pos, "server name cannot contain spaces"));
    }
    Ok((!name.is_empty()).then(|| name.to_string()))
}

/// `max_payload` / `max_control_line`: Go stores them in an `int32` and treats 0 as
/// the default. Negative values make no sense for jetcore's unsigned fields.
fn limit_u32(key: &str, v: &Spanned, default: u32) -> Result<u32, ConfError> {
    let n = integer(key, v)?;
    if n > i64::from(i32::MAX) {
        return Err(ConfError::at(&v.pos, format!("{key} value is too big")));
    }
    match u32::try_from(n) {
        Ok(0) => Ok(default),
        Ok(n) => Ok(n),
        Err(_) => Err(ConfError::at(
            &v.pos,
            format!("{key} value can not be negative"),
        )),
    }
}

/// `max_pending`: bytes; 0 means the default.
fn max_pending(key: &str, v: &Spanned) -> Result<i64, ConfError> {
    match integer(key, v)? {
        0 => Ok(DEFAULT_MAX_PENDING),
        n if n < 0 => Err(ConfError::at(
            &v.pos,
            format!("{key} value can not be negative"),
        )),
        n => Ok(n),
    }
}

/// `max_connections`: Go turns 0 (and keeps any negative) into -1, which makes the
/// server refuse every client connection.
fn max_connections(key: &str, v: &Spanned) -> Result<i32, ConfError> {
    match integer(key, v)? {
        n if n <= 0 => Ok(-1),
        n => i32::try_from(n).map_err(|_| ConfError::at(&v.pos, format!("{key} value is too big"))),
    }
}

/// `max_subscriptions`: 0 and -1 (Go's "no limit") both mean unlimited.
fn max_subscriptions(key: &str, v: &Spanned) -> Result<u32, ConfError> {
    match integer(key, v)? {
        -1 => Ok(0),
        n if n < 0 => Err(ConfError::at(
            &v.pos,
            format!("{key} value can not be negative"),
        )),
        n if n > i64::from(i32::MAX) => {
            Err(ConfError::at(&v.pos, format!("{key} value is too big")))
        }
        n => Ok(n as u32),
    }
}

/// `ping_max`: 0 means the default.
fn ping_max(key: &str, v: &Spanned) -> Result<u32, ConfError> {
    match integer(key, v)? {
        0 => Ok(DEFAULT_PING_MAX),
        n if n < 0 => Err(ConfError::at(
            &v.pos,
            format!("{key} value can not be negative"),
        )),
        n => u32::try_from(n).map_err(|_| ConfError::at(&v.pos, format!("{key} value is too big"))),
    }
}

/// `lame_duck_duration`: a duration string (Go accepts no integer here), at least 30s.
fn lame_duck_duration(key: &str, v: &Spanned) -> Result<Duration, ConfError> {
    let Value::String(s) = &v.value else {
        return Err(wrong_type(key, "a duration string", &v.pos, &v.value));
    };
    let duration = parse_duration(s)
        .map_err(|e| ConfError::at(&v.pos, format!("error parsing {key}: {e}")))?;
    if duration < MIN_LAME_DUCK_DURATION {
        return Err(ConfError::at(
            &v.pos,
            format!(
                "invalid {key} of {}, minimum is 30 seconds",
                format_duration(duration)
            ),
        ));
    }
    Ok(duration)
}

/// `lame_duck_grace_period`: a duration string, not negative; `None` for zero, which
/// Go turns into the default.
fn lame_duck_grace_period(key: &str, v: &Spanned) -> Result<Option<Duration>, ConfError> {
    let Value::String(s) = &v.value else {
        return Err(wrong_type(key, "a duration string", &v.pos, &v.value));
    };
    let parse = |text: &str| {
        parse_duration(text).map_err(|e| ConfError::at(&v.pos, format!("error parsing {key}: {e}")))
    };
    // Go parses a negative duration, then refuses it with its own sentence.
    if let Some(magnitude) = s.strip_prefix('-') {
        if !parse(magnitude)?.is_zero() {
            return Err(ConfError::at(
                &v.pos,
                format!("invalid {key}, needs to be positive"),
            ));
        }
        return Ok(None);
    }
    Ok(Some(parse(s)?).filter(|d| !d.is_zero()))
}

/// jetcore's `cores`: how many shard cores to run, at least 1.
fn cores(key: &str, v: &Spanned) -> Result<usize, ConfError> {
    let n = integer(key, v)?;
    match usize::try_from(n) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ConfError::at(
            &v.pos,
            format!("{key} must be at least 1, got {n}"),
        )),
    }
}

/// `store_dir`/`storedir` (top level) or `store`/`store_dir`/`storedir` (in the
/// `jetstream` block). Like Go, setting it twice with different spellings, or at the
/// top level and in the block, is an error; an empty string leaves it unset.
fn set_store_dir(opts: &mut Options, key: &str, v: &Spanned) -> Result<(), ConfError> {
    let dir = path(key, v)?;
    if opts.jetstream.store_dir.is_some() {
        return Err(ConfError::at(&v.pos, "Duplicate 'store_dir' configuration"));
    }
    opts.jetstream.store_dir = dir;
    Ok(())
}

/// Go's `unknownConfigFieldErr`, unless the entry served as a `$variable`.
fn unknown_field(entry: &Entry) -> Result<(), ConfError> {
    if entry.used_as_variable {
        return Ok(());
    }
    Err(ConfError::at(
        &entry.key_pos,
        format!("unknown field \"{}\"", entry.key),
    ))
}

/// A string setting where empty means unset.
fn non_empty(key: &str, v: &Spanned) -> Result<Option<String>, ConfError> {
    let s = string(key, v)?;
    Ok((!s.is_empty()).then(|| s.to_string()))
}

/// The value as a map, with Go's "Expected a map to define {what}, got {type}".
fn expect_map<'v>(v: &'v Spanned, what: &str) -> Result<&'v Map, ConfError> {
    v.value.as_map().ok_or_else(|| {
        ConfError::at(
            &v.pos,
            format!("Expected a map to define {what}, got {}", go_type(&v.value)),
        )
    })
}

/// `cipher` (Go's `setJetStreamEkCipher`): `chacha`/`chachapoly` or `aes`, any case.
fn cipher(key: &str, v: &Spanned) -> Result<JetStreamCipher, ConfError> {
    let s = string(key, v)?;
    match s.to_lowercase().as_str() {
        "chacha" | "chachapoly" => Ok(JetStreamCipher::ChaCha),
        "aes" => Ok(JetStreamCipher::Aes),
        _ => Err(ConfError::at(&v.pos, format!("Unknown cipher type: {s:?}"))),
    }
}

/// A duration that Go reads with `time.ParseDuration(mv.(string))`: strings only, and
/// the error is the bare parse error. Zero means unset.
fn duration_string(key: &str, v: &Spanned) -> Result<Option<Duration>, ConfError> {
    let s = string(key, v)?;
    let d = parse_duration(s).map_err(|e| ConfError::at(&v.pos, e))?;
    Ok((!d.is_zero()).then_some(d))
}

/// `limits { batch { ... } }` (Go's `parseJetStreamLimitsBatch`), checked but not
/// used. Returns the per-key errors; a value that is not a map is the error itself.
fn limits_batch(v: &Spanned) -> Result<Vec<ConfError>, ConfError> {
    let map = expect_map(v, "batch limits")?;
    let mut errors = Vec::new();
    for entry in map.entries() {
        let key = entry.key.as_str();
        let v = &entry.value;
        let result = match key.to_lowercase().as_str() {
            "max_inflight_per_stream" | "max_inflight_total" | "max_msgs" => {
                integer(key, v).map(|_| ())
            }
            "timeout" => duration_string(key, v).map(|_| ()),
            _ => unknown_field(entry),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    Ok(errors)
}

/// Checks the value of a `jetstream` key jetcore ignores the way Go's `parseJetStream`
/// does, so a config Go rejects is not accepted here. `lower` is the key in lower case.
fn check_ignored_jetstream_key(lower: &str, key: &str, v: &Spanned) -> Result<(), ConfError> {
    let fail = |message: String| Err(ConfError::at(&v.pos, message));
    let shown = go_value(&v.value);
    match lower {
        "extension_hint" | "unique_tag" => string(key, v).map(|_| ()),
        "tpm" => expect_map(v, "JetStreamLimits").map(|_| ()),
        "meta_compact_sync" => boolean(key, v).map(|_| ()),
        "max_outstanding_catchup" | "max_buffered_size" | "meta_compact_size" => {
            match storage_size(&v.value) {
                Err(e) => fail(format!("{lower} {e}")),
                Ok(n) if n < 0 && lower == "meta_compact_size" => fail(format!(
                    "Expected an absolute size for {key:?}, got {shown}"
                )),
                Ok(_) => Ok(()),
            }
        }
        "meta_compact" => match v.value.as_i64() {
            Some(n) if n >= 0 => Ok(()),
            _ => fail(format!(
                "Expected an absolute size for {key:?}, got {shown}"
            )),
        },
        "max_concurrent_io" => match v.value.as_i64() {
            Some(4..=8192) => Ok(()),
            _ => fail(format!(
                "Expected an absolute size for {key:?} between 4 and 8192, got {shown}"
            )),
        },
        // max_buffered_msgs, request_queue_limit, info_queue_limit
        _ => match v.value.as_i64() {
            Some(_) => Ok(()),
            None => fail(format!(
                "Expected a parseable size for {key:?}, got {shown}"
            )),
        },
    }
}

/// Go's `getStorageSize`: an integer as is (the config lexer has already applied
/// `1G` = 10^9, `1GB` = 2^30), or a quoted string `<int><K|M|G|T>` in powers of 1024
/// (upper case only, so `"512MB"` and `"1g"` are errors, as in Go). An empty string
/// is 0. Errors are Go's texts; one departure: a string size that overflows 64 bits
/// is an error (Go wraps around silently).
fn storage_size(v: &Value) -> Result<i64, String> {
    let s = match v {
        Value::Integer(n) => return Ok(*n),
        Value::String(s) => s,
        _ => return Err("must be int64 or string".to_string()),
    };
    let Some(suffix) = s.chars().last() else {
        return Ok(0);
    };
    let prefix = &s[..s.len() - suffix.len_utf8()];
    // Go parses the number before it looks at the suffix.
    let num: i64 = prefix.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {prefix:?}: {why}")
    })?;
    let shift = match suffix {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => return Err("sizes defined as strings must end in K, M, G, T".to_string()),
    };
    num.checked_mul(1 << shift)
        .ok_or_else(|| format!("size {s:?} is out of range"))
}

/// Go's `%T` of a config value (`map[string]any` decoding), for Go's error texts.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Integer(_) => "int64",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::DateTime(_) => "time.Time",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

/// Go's `%s` of a config value: a string as is, anything else `%!s(<type>=<value>)`.
fn go_percent_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => format!("%!s({}={})", go_type(other), go_value(other)),
    }
}

/// Roughly Go's `%v` of a config value, for Go's error texts.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) | Value::DateTime(s) => s.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) => "[...]".to_string(),
        Value::Map(_) => "map[...]".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::parse_str;
    use crate::options::{JetStreamOptions, DEFAULT_LAME_DUCK_DURATION, DEFAULT_MAX_CONNECTIONS};
    use std::path::Path;

    /// Parses `text` and applies it to default options.
    fn apply(text: &str) -> Result<(Options, Vec<ConfigWarning>), ConfError> {
        let map = parse_str(text, Path::new("t.conf"))?;
        let mut opts = Options::default();
        let warnings = apply_config(&mut opts, &map)?;
        Ok((opts, warnings))
    }

    /// Applies `text`, which must succeed without warnings.
    fn opts(text: &str) -> Options {
        let (opts, warnings) = apply(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(warnings.is_empty(), "{text:?}: {warnings:?}");
        opts
    }

    /// The error message `text` produces.
    fn error(text: &str) -> String {
        match apply(text) {
            Ok(_) => panic!("{text:?} should fail"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_config_keeps_defaults() {
        assert_eq!(opts(""), Options::default());
        assert_eq!(opts("# nothing\n"), Options::default());
    }

    #[test]
    fn listen_host_and_port() {
        let cases: &[(&str, &str, i32)] = &[
            ("listen: 127.0.0.1:4333", "127.0.0.1", 4333),
            ("listen: \"localhost:5222\"", "localhost", 5222),
            ("listen: \":4333\"", "0.0.0.0", 4333),
            ("listen: \"[::1]:4333\"", "::1", 4333),
            ("listen: 4333", "0.0.0.0", 4333),
            ("host: 127.0.0.1\nlisten: 4333", "0.0.0.0", 4333),
            ("host: 10.0.0.1", "10.0.0.1", 4222),
            ("net: 10.0.0.2", "10.0.0.2", 4222),
            ("host: \"\"", "0.0.0.0", 4222),
            ("port: 4333", "0.0.0.0", 4333),
            ("PORT: 4333", "0.0.0.0", 4333),
            ("port: 0", "0.0.0.0", 4222),
            ("port: -1", "0.0.0.0", -1),
            ("listen: 0.0.0.0:-1", "0.0.0.0", -1),
            ("listen: 1.2.3.4:5\nport: 6", "1.2.3.4", 6),
        ];
        for (text, host, port) in cases {
            let o = opts(text);
            assert_eq!((o.host.as_str(), o.port), (*host, *port), "{text}");
        }
    }

    #[test]
    fn listen_errors() {
        let cases = [
            (
                "listen: \"localhost\"",
                "t.conf:1:9: could not parse address string \"localhost\"",
            ),
            (
                "listen: \"::1:4222\"",
                "t.conf:1:9: could not parse address string \"::1:4222\"",
            ),
            (
                "listen: \"[::1]\"",
                "t.conf:1:9: could not parse address string \"[::1]\"",
            ),
            (
                "listen: \"[::1]x:1\"",
                "t.conf:1:9: could not parse address string \"[::1]x:1\"",
            ),
            (
                "listen: \"a]:1\"",
                "t.conf:1:9: could not parse address string \"a]:1\"",
            ),
            ("listen: \"host:\"", "t.conf:1:9: could not parse port \"\""),
            (
                "listen: \"host:http\"",
                "t.conf:1:9: could not parse port \"http\"",
            ),
            (
                "listen: 1.5",
                "t.conf:1:9: expected port or host:port, got float",
            ),
            (
                "listen: true",
                "t.conf:1:9: expected port or host:port, got boolean",
            ),
            (
                "listen: 1.2.3.4:99999",
                "t.conf:1:9: invalid port 99999: must be between -1 and 65535",
            ),
            (
                "port: 70000",
                "t.conf:1:7: invalid port 70000: must be between -1 and 65535",
            ),
            (
                "port: -2",
                "t.conf:1:7: invalid port -2: must be between -1 and 65535",
            ),
            (
                "port: \"4222\"",
                "t.conf:1:7: expected an integer for \"port\", got string",
            ),
            (
                "host: 5",
                "t.conf:1:7: expected a string for \"host\", got integer",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn flags_and_paths() {
        let o = opts(
            "server_name: n1\ndebug: true\ntrace: yes\nlogtime: off\nlogtime_utc: on\n\
             no_header_support: true\nlog_file: /var/log/nats.log\npid_file: nats.pid\n\
             ports_file_dir: /tmp",
        );
        assert_eq!(o.server_name.as_deref(), Some("n1"));
        assert!(o.debug && o.trace && !o.logtime && o.logtime_utc && o.no_header_support);
        assert_eq!(o.log_file, Some(PathBuf::from("/var/log/nats.log")));
        assert_eq!(o.pid_file, Some(PathBuf::from("nats.pid")));
        assert_eq!(o.ports_file_dir, Some(PathBuf::from("/tmp")));
        let o = opts("logfile: a.log\npidfile: a.pid\nserver_name: \"\"\nDebug: false");
        assert_eq!(o.log_file, Some(PathBuf::from("a.log")));
        assert_eq!(o.pid_file, Some(PathBuf::from("a.pid")));
        assert_eq!(o.server_name, None);
        assert_eq!(opts("log_file: \"\"").log_file, None);
    }

    #[test]
    fn limits() {
        let o = opts(
            "max_payload: 2MB\nmax_control_line: 8KB\nmax_pending: 128MB\n\
             max_connections: 100\nmax_subscriptions: 1000\nping_max: 5",
        );
        assert_eq!(o.max_payload, 2 * 1024 * 1024);
        assert_eq!(o.max_control_line, 8 * 1024);
        assert_eq!(o.max_pending, 128 * 1024 * 1024);
        assert_eq!(o.max_connections, 100);
        assert_eq!(o.max_subscriptions, 1000);
        assert_eq!(o.ping_max, 5);
        let o = opts("max_conn: 7\nmax_subs: 9");
        assert_eq!((o.max_connections, o.max_subscriptions), (7, 9));
        // Zero means Go's default for these...
        let o = opts("max_payload: 0\nmax_control_line: 0\nmax_pending: 0\nping_max: 0");
        assert_eq!(o, Options::default());
        // ...but max_connections 0 (or negative) refuses every client, as in Go.
        assert_eq!(opts("max_connections: 0").max_connections, -1);
        assert_eq!(opts("max_conn: -5").max_connections, -1);
        assert_eq!(Options::default().max_connections, DEFAULT_MAX_CONNECTIONS);
        // -1 is Go's "no limit" for subscriptions.
        assert_eq!(opts("max_subs: -1").max_subscriptions, 0);
        let o = opts("max_payload: 2147483647\nmax_pending: 4G");
        assert_eq!(o.max_payload, i32::MAX as u32);
    }

    #[test]
    fn limit_errors() {
        let cases = [
            (
                "max_payload: 3000000000",
                "t.conf:1:14: max_payload value is too big",
            ),
            (
                "MAX_PAYLOAD: 3G",
                "t.conf:1:14: MAX_PAYLOAD value is too big",
            ),
            (
                "max_payload: -5",
                "t.conf:1:14: max_payload value can not be negative",
            ),
            (
                "max_control_line: 3G",
                "t.conf:1:19: max_control_line value is too big",
            ),
            (
                "max_pending: -1",
                "t.conf:1:14: max_pending value can not be negative",
            ),
            (
                "max_connections: 3G",
                "t.conf:1:18: max_connections value is too big",
            ),
            (
                "max_subs: -2",
                "t.conf:1:11: max_subs value can not be negative",
            ),
            ("max_subs: 3G", "t.conf:1:11: max_subs value is too big"),
            (
                "ping_max: -1",
                "t.conf:1:11: ping_max value can not be negative",
            ),
            (
                "max_payload: 1.5",
                "t.conf:1:14: expected an integer for \"max_payload\", got float",
            ),
            (
                "max_payload: 1kx",
                "t.conf:1:14: expected an integer for \"max_payload\", got string",
            ),
            (
                "max_payload: 2MB\nmax_pending: 1MB",
                "t.conf:1:14: max_payload (2097152) cannot be higher than max_pending (1048576)",
            ),
            (
                "max_pending: 1k",
                "t.conf:1:14: max_payload (1048576) cannot be higher than max_pending (1000)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn durations() {
        let o =
            opts("ping_interval: \"30s\"\nwrite_deadline: \"2.5s\"\nlame_duck_duration: \"1m\"");
        assert_eq!(o.ping_interval, Duration::from_secs(30));
        assert_eq!(o.write_deadline, Duration::from_millis(2500));
        assert_eq!(o.lame_duck_duration, Duration::from_secs(60));
        let o = opts("ping_interval: 1h2m3s\nwrite_deadline: 500ms");
        assert_eq!(o.ping_interval, Duration::from_secs(3723));
        assert_eq!(o.write_deadline, Duration::from_millis(500));
        // Zero means the default.
        let o = opts("ping_interval: \"0s\"\nwrite_deadline: 0s");
        assert_eq!(o.ping_interval, DEFAULT_PING_INTERVAL);
        assert_eq!(o.write_deadline, DEFAULT_WRITE_DEADLINE);
        assert_eq!(
            opts("lame_duck_duration: 30s").lame_duck_duration,
            Duration::from_secs(30)
        );
        assert_eq!(
            Options::default().lame_duck_duration,
            DEFAULT_LAME_DUCK_DURATION
        );
        let o = opts("lame_duck_duration: 30s\nlame_duck_grace_period: 1s");
        assert_eq!(o.lame_duck_grace_period, Duration::from_secs(1));
        // Zero (and -0) means the default, as in Go.
        assert_eq!(
            opts("lame_duck_grace_period: 0s").lame_duck_grace_period,
            DEFAULT_LAME_DUCK_GRACE_PERIOD
        );
        assert_eq!(
            opts("lame_duck_grace_period: \"-0s\"").lame_duck_grace_period,
            DEFAULT_LAME_DUCK_GRACE_PERIOD
        );
    }

    #[test]
    fn integer_durations_are_seconds_with_a_warning() {
        let (o, warnings) = apply("ping_interval: 5\nwrite_deadline: 3").expect("apply");
        assert_eq!(o.ping_interval, Duration::from_secs(5));
        assert_eq!(o.write_deadline, Duration::from_secs(3));
        let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "t.conf:1:16: invalid use of field \"ping_interval\": ping_interval should be \
                 converted to a duration",
                "t.conf:2:17: invalid use of field \"write_deadline\": write_deadline should be \
                 converted to a duration",
            ]
        );
    }

    #[test]
    fn duration_errors() {
        let cases = [
            (
                "ping_interval: \"5\"",
                "t.conf:1:16: error parsing ping_interval: time: missing unit in duration \"5\"",
            ),
            ("ping_interval: 1.5", "t.conf:1:16: expected a duration for \"ping_interval\", got float"),
            ("ping_interval: -5", "t.conf:1:16: ping_interval can not be negative"),
            (
                "write_deadline: \"-1s\"",
                "t.conf:1:17: error parsing write_deadline: negative duration \"-1s\" is not allowed",
            ),
            (
                "lame_duck_duration: \"10s\"",
                "t.conf:1:21: invalid lame_duck_duration of 10s, minimum is 30 seconds",
            ),
            (
                "lame_duck_duration: 60",
                "t.conf:1:21: expected a duration string for \"lame_duck_duration\", got integer",
            ),
            (
                "lame_duck_grace_period: \"-1s\"",
                "t.conf:1:25: invalid lame_duck_grace_period, needs to be positive",
            ),
            (
                "lame_duck_grace_period: 5",
                "t.conf:1:25: expected a duration string for \"lame_duck_grace_period\", got \
                 integer",
            ),
            (
                "lame_duck_grace_period: \"1x\"",
                "t.conf:1:25: error parsing lame_duck_grace_period: time: unknown unit \"x\" in \
                 duration \"1x\"",
            ),
            (
                "lame_duck_duration: \"1x\"",
                "t.conf:1:21: error parsing lame_duck_duration: time: unknown unit \"x\" in \
                 duration \"1x\"",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn server_name_and_cores() {
        assert_eq!(
            error("server_name: \"a b\""),
            "t.conf:1:14: server name cannot contain spaces"
        );
        assert_eq!(opts("cores: 4").cores, Some(4));
        assert_eq!(
            error("cores: 0"),
            "t.conf:1:8: cores must be at least 1, got 0"
        );
        assert_eq!(
            error("cores: -2"),
            "t.conf:1:8: cores must be at least 1, got -2"
        );
        assert_eq!(
            error("cores: \"4\""),
            "t.conf:1:8: expected an integer for \"cores\", got string"
        );
    }

    #[test]
    fn go_keys_not_implemented_warn() {
        let mut text = String::new();
        for key in NOT_IMPLEMENTED {
            text.push_str(&format!("{key}: 1\n"));
        }
        let (o, warnings) = apply(&text).expect("apply");
        assert_eq!(o, Options::default());
        assert_eq!(warnings.len(), NOT_IMPLEMENTED.len());
        assert_eq!(
            warnings[0].to_string(),
            "t.conf:1:1: \"accounts\" is not implemented by jetcore yet and is ignored"
        );
        let (_, warnings) = apply("port: 4222\n  Cluster { name: c1 }").expect("apply");
        assert_eq!(
            warnings[0].to_string(),
            "t.conf:2:3: \"Cluster\" is not implemented by jetcore yet and is ignored"
        );
    }

    #[test]
    fn trace_verbose_sets_trace_and_warns() {
        let (o, warnings) = apply("trace_verbose: true").expect("apply");
        assert!(o.trace);
        assert_eq!(
            warnings[0].message,
            "\"trace_verbose\" is only partly implemented by jetcore: it sets trace only"
        );
        let (o, _) = apply("trace: true\ntrace_headers: false").expect("apply");
        assert!(!o.trace);
    }

    #[test]
    fn unknown_keys_are_errors_unless_used_as_variables() {
        assert_eq!(error("foo: 1"), "t.conf:1:1: unknown field \"foo\"");
        assert_eq!(
            error("port: 1\n  bar { a: 1 }"),
            "t.conf:2:3: unknown field \"bar\""
        );
        // Used variables are exempt, even when only used inside a nested block.
        let (o, warnings) = apply(
            "PORT_VAR: 4333\nport: $PORT_VAR\nPASS: s3cr3t\nauthorization { password: $PASS }",
        )
        .expect("apply");
        assert_eq!(o.port, 4333);
        assert_eq!(warnings.len(), 1);
        // A known key used as a variable is still applied.
        let o = opts("port: 4333\nmax_conn: $port");
        assert_eq!((o.port, o.max_connections), (4333, 4333));
        // Unused variables are unknown keys, as in Go.
        assert_eq!(error("x = 1"), "t.conf:1:1: unknown field \"x\"");
    }

    #[test]
    fn all_errors_are_reported_together() {
        let err = apply("foo: 1\nport: \"x\"\ndebug: 1").expect_err("errors");
        let ConfError::Many(list) = &err else {
            panic!("expected several errors: {err:?}");
        };
        assert_eq!(list.len(), 3);
        assert_eq!(
            err.to_string(),
            "t.conf:1:1: unknown field \"foo\"\n\
             t.conf:2:7: expected an integer for \"port\", got string\n\
             t.conf:3:8: expected a boolean for \"debug\", got integer"
        );
        assert_eq!(err.pos().map(|p| p.line), Some(1));
    }

    #[test]
    fn wild_config_applies_with_warnings() {
        let text = "server_name: n1\nlisten: 0.0.0.0:4222\nmax_payload: 8MB\n\
                    jetstream { strict: true, max_mem_store: 1G, max_file_store: 10G }\n\
                    leafnodes {}\nwebsocket {}\naccounts { A { users: [{user: a}] } }\n";
        let (o, warnings) = apply(text).expect("apply");
        assert_eq!(o.server_name.as_deref(), Some("n1"));
        assert_eq!(o.max_payload, 8 * 1024 * 1024);
        assert!(o.jetstream.enabled && o.jetstream.strict);
        assert_eq!(o.jetstream.max_memory, 1_000_000_000);
        assert_eq!(o.jetstream.max_store, 10_000_000_000);
        let keys: Vec<&str> = warnings
            .iter()
            .map(|w| w.message.split('"').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(keys, ["leafnodes", "websocket", "accounts"]);
    }

    #[test]
    fn validate_options_checks_merged_options() {
        assert_eq!(validate_options(&Options::default()), Ok(()));
        let o = Options {
            lame_duck_duration: Duration::from_secs(30),
            lame_duck_grace_period: Duration::from_secs(30),
            ..Options::default()
        };
        assert_eq!(
            validate_options(&o),
            Err(
                "lame duck grace period (30s) should be strictly lower than lame duck duration \
                 (30s)"
                    .to_string()
            )
        );
        let o = Options {
            max_pending: 10,
            ..Options::default()
        };
        assert_eq!(
            validate_options(&o),
            Err("max_payload (1048576) cannot be higher than max_pending (10)".to_string())
        );
        let o = Options {
            server_name: Some("a b".to_string()),
            ..Options::default()
        };
        assert_eq!(
            validate_options(&o),
            Err("server name cannot contain spaces".to_string())
        );
        let o = Options {
            cores: Some(0),
            ..Options::default()
        };
        assert!(validate_options(&o).is_err());
    }

    // ------------------------------------------------------------------ jetstream

    /// The JetStream options `text` gives (no warnings allowed).
    fn js(text: &str) -> JetStreamOptions {
        opts(text).jetstream
    }

    #[test]
    fn jetstream_absent_keeps_defaults() {
        assert_eq!(js("port: 4222"), JetStreamOptions::default());
        assert!(!JetStreamOptions::default().enabled);
    }

    #[test]
    fn jetstream_enable_forms() {
        let cases = [
            ("jetstream: true", true),
            ("jetstream: false", false),
            ("jetstream: on", true),
            ("JetStream: yes", true),
            ("jetstream: enabled", true),
            ("jetstream: \"enable\"", true),
            ("jetstream: ENABLED", true),
            ("jetstream: disabled", false),
            ("jetstream: \"Disable\"", false),
            // A block enables JetStream unless it says otherwise (Go's doEnable).
            ("jetstream {}", true),
            ("jetstream { max_mem: 1G }", true),
            ("jetstream { enabled: false }", false),
            ("jetstream { enable: false, max_mem: 1G }", false),
            ("jetstream { enabled: true }", true),
            ("jetstream { Enabled: false }", false),
            // The later of two spellings wins, in file order.
            ("jetstream: false\nJetStream {}", true),
        ];
        for (text, enabled) in cases {
            assert_eq!(js(text).enabled, enabled, "{text}");
        }
    }

    #[test]
    fn jetstream_keys_and_aliases() {
        type Change = fn(&mut JetStreamOptions);
        let cases: &[(&str, Change)] = &[
            ("jetstream { strict: false }", |j| j.strict = false),
            ("jetstream { strict: true }", |_| {}),
            ("jetstream { store: /a }", |j| {
                j.store_dir = Some("/a".into())
            }),
            ("jetstream { store_dir: \"/a b\" }", |j| {
                j.store_dir = Some("/a b".into())
            }),
            ("jetstream { storedir: rel }", |j| {
                j.store_dir = Some("rel".into())
            }),
            ("jetstream { Store_Dir: /a }", |j| {
                j.store_dir = Some("/a".into())
            }),
            ("jetstream { store_dir: \"\" }", |_| {}),
            // Top-level store_dir sets the directory without enabling JetStream.
            ("store_dir: /t", |j| {
                j.enabled = false;
                j.store_dir = Some("/t".into());
            }),
            ("storedir: /t", |j| {
                j.enabled = false;
                j.store_dir = Some("/t".into());
            }),
            ("STORE_DIR: /t\njetstream: true", |j| {
                j.store_dir = Some("/t".into())
            }),
            // As in Go, an empty top-level store_dir does not count as set.
            ("store_dir: \"\"\njetstream { store_dir: /b }", |j| {
                j.store_dir = Some("/b".into())
            }),
            ("jetstream { sync: always }", |_| {}),
            ("jetstream { sync_interval: \"ALWAYS\" }", |_| {}),
            ("jetstream { sync_interval: \"1m\" }", |j| {
                j.sync = JetStreamSync::Interval(Duration::from_secs(60));
            }),
            ("jetstream { sync: 250ms }", |j| {
                j.sync = JetStreamSync::Interval(Duration::from_millis(250));
            }),
            // Zero is "the default" in Go; jetcore's default is Always.
            ("jetstream { sync_interval: 0s }", |_| {}),
            // Unquoted sizes come from the lexer (1G = 10^9, 1GB = 2^30)...
            ("jetstream { max_memory_store: 1G }", |j| {
                j.max_memory = 1_000_000_000
            }),
            ("jetstream { max_mem_store: 1GB }", |j| {
                j.max_memory = 1 << 30
            }),
            ("jetstream { max_mem: 1024 }", |j| j.max_memory = 1024),
            // ...quoted ones from Go's getStorageSize (powers of 1024).
            ("jetstream { max_mem: \"2K\" }", |j| j.max_memory = 2048),
            ("jetstream { max_mem: \"512M\" }", |j| {
                j.max_memory = 512 << 20
            }),
            ("jetstream { max_mem: \"1G\" }", |j| j.max_memory = 1 << 30),
            ("jetstream { max_mem: \"+3T\" }", |j| j.max_memory = 3 << 40),
            ("jetstream { max_mem: \"\" }", |j| j.max_memory = 0),
            ("jetstream { max_mem: 0 }", |j| j.max_memory = 0),
            ("jetstream { max_mem: -1 }", |_| {}),
            ("jetstream { max_file_store: 10GB }", |j| {
                j.max_store = 10 << 30
            }),
            ("jetstream { max_file: \"2T\" }", |j| j.max_store = 2 << 40),
            ("jetstream { MAX_FILE: 0 }", |j| j.max_store = 0),
            ("jetstream { domain: hub }", |j| {
                j.domain = Some("hub".into())
            }),
            ("jetstream { domain: \"\" }", |_| {}),
            ("jetstream { key: s3cr3t }", |j| {
                j.key = Some("s3cr3t".into())
            }),
            ("jetstream { ek: s3cr3t }", |j| {
                j.key = Some("s3cr3t".into())
            }),
            ("jetstream { encryption_key: s3cr3t }", |j| {
                j.key = Some("s3cr3t".into())
            }),
            ("jetstream { key: \"\" }", |_| {}),
            ("jetstream { prev_key: old }", |j| {
                j.prev_key = Some("old".into())
            }),
            ("jetstream { prev_ek: old }", |j| {
                j.prev_key = Some("old".into())
            }),
            ("jetstream { prev_encryption_key: old }", |j| {
                j.prev_key = Some("old".into())
            }),
            ("jetstream { cipher: aes }", |j| {
                j.cipher = Some(JetStreamCipher::Aes)
            }),
            ("jetstream { cipher: AES }", |j| {
                j.cipher = Some(JetStreamCipher::Aes)
            }),
            ("jetstream { cipher: chacha }", |j| {
                j.cipher = Some(JetStreamCipher::ChaCha)
            }),
            ("jetstream { cipher: ChaChaPoly }", |j| {
                j.cipher = Some(JetStreamCipher::ChaCha)
            }),
            ("jetstream { limits { max_ack_pending: 100 } }", |j| {
                j.max_ack_pending = 100
            }),
            ("jetstream { limits { max_request_batch: 50 } }", |j| {
                j.max_request_batch = 50
            }),
            ("jetstream { limits { duplicate_window: \"2m\" } }", |j| {
                j.duplicate_window = Some(Duration::from_secs(120));
            }),
            ("jetstream { limits { duplicate_window: \"0s\" } }", |_| {}),
            ("jetstream { LIMITS { MAX_ACK_PENDING: 7 } }", |j| {
                j.max_ack_pending = 7
            }),
            // Each limits block starts from "no limits", as in Go.
            (
                "jetstream { limits { max_ack_pending: 7 }, Limits { max_request_batch: 3 } }",
                |j| {
                    j.max_request_batch = 3;
                },
            ),
            // An unknown key that served as a variable is allowed, as at top level.
            ("jetstream { size: 1G, max_mem: $size }", |j| {
                j.max_memory = 1_000_000_000
            }),
        ];
        for (text, change) in cases {
            let mut expected = JetStreamOptions {
                enabled: true,
                ..JetStreamOptions::default()
            };
            change(&mut expected);
            assert_eq!(js(text), expected, "{text}");
        }
    }

    #[test]
    fn jetstream_everything_at_once() {
        let text = "jetstream {\n  store_dir: /data\n  max_mem: 1G\n  max_file: \"2T\"\n  \
                    sync_interval: \"30s\"\n  domain: leaf\n  cipher: aes\n  key: k1\n  \
                    prev_key: k0\n  strict: false\n  limits {\n    max_ack_pending: 1000\n    \
                    max_request_batch: 100\n    duplicate_window: \"1h\"\n  }\n}\n";
        assert_eq!(
            js(text),
            JetStreamOptions {
                enabled: true,
                store_dir: Some(PathBuf::from("/data")),
                max_memory: 1_000_000_000,
                max_store: 2 << 40,
                sync: JetStreamSync::Interval(Duration::from_secs(30)),
                domain: Some("leaf".to_string()),
                cipher: Some(JetStreamCipher::Aes),
                key: Some("k1".to_string()),
                prev_key: Some("k0".to_string()),
                strict: false,
                max_ack_pending: 1000,
                max_request_batch: 100,
                duplicate_window: Some(Duration::from_secs(3600)),
            }
        );
    }

    #[test]
    fn jetstream_sync_in_seconds_warns_like_go() {
        let (o, warnings) = apply("jetstream { sync: 5 }").expect("apply");
        assert_eq!(
            o.jetstream.sync,
            JetStreamSync::Interval(Duration::from_secs(5))
        );
        assert_eq!(
            warnings[0].to_string(),
            "t.conf:1:19: invalid use of field \"sync\": sync should be converted to a duration"
        );
    }

    #[test]
    fn jetstream_keys_jetcore_ignores_warn() {
        let cases = [
            (
                "extension_hint: \"will_extend\"",
                "jetstream.extension_hint",
            ),
            ("tpm { keys_file: /k, pcr: 22 }", "jetstream.tpm"),
            ("unique_tag: az", "jetstream.unique_tag"),
            (
                "max_outstanding_catchup: \"64M\"",
                "jetstream.max_outstanding_catchup",
            ),
            ("max_buffered_size: 1MB", "jetstream.max_buffered_size"),
            ("max_buffered_msgs: 10000", "jetstream.max_buffered_msgs"),
            ("request_queue_limit: 100", "jetstream.request_queue_limit"),
            ("info_queue_limit: 100", "jetstream.info_queue_limit"),
            ("meta_compact: 0", "jetstream.meta_compact"),
            ("meta_compact_size: \"1G\"", "jetstream.meta_compact_size"),
            ("meta_compact_sync: true", "jetstream.meta_compact_sync"),
            ("MAX_CONCURRENT_IO: 8192", "jetstream.MAX_CONCURRENT_IO"),
            ("max_concurrent_io: 4", "jetstream.max_concurrent_io"),
            (
                "limits { max_ha_assets: 10 }",
                "jetstream.limits.max_ha_assets",
            ),
            (
                "limits { batch { max_inflight_per_stream: 1, max_inflight_total: 2, max_msgs: 3, \
                 timeout: \"1s\" } }",
                "jetstream.limits.batch",
            ),
        ];
        for (inner, path) in cases {
            let text = format!("jetstream {{ {inner} }}");
            let (o, warnings) = apply(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let expected = JetStreamOptions {
                enabled: true,
                ..JetStreamOptions::default()
            };
            assert_eq!(o.jetstream, expected, "{text}");
            let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
            let col = if path.starts_with("jetstream.limits") {
                22
            } else {
                13
            };
            assert_eq!(
                shown,
                [format!(
                    "t.conf:1:{col}: \"{path}\" is not implemented by jetcore yet and is ignored"
                )],
                "{text}"
            );
        }
    }

    #[test]
    fn jetstream_errors_match_go() {
        // Texts checked against nats-server 2.15.1 (`-t`); Go's columns are 0-based on
        // line 1, jetcore's 1-based.
        let cases = [
            (
                "jetstream: maybe",
                "t.conf:1:12: Expected 'enabled' or 'disabled' for string value, got 'maybe'",
            ),
            (
                "jetstream: 5",
                "t.conf:1:12: Expected map, bool or string to define JetStream, got int64",
            ),
            (
                "jetstream: 1.5",
                "t.conf:1:12: Expected map, bool or string to define JetStream, got float64",
            ),
            (
                "jetstream: [1, 2]",
                "t.conf:1:12: Expected map, bool or string to define JetStream, got []interface {}",
            ),
            (
                "jetstream { strict: \"yes\" }",
                "t.conf:1:21: Expected 'true' or 'false' for bool value, got 'yes'",
            ),
            (
                "jetstream { strict: 5 }",
                "t.conf:1:21: Expected 'true' or 'false' for bool value, got '%!s(int64=5)'",
            ),
            (
                "jetstream { max_mem: \"512MB\" }",
                "t.conf:1:22: max_mem_store strconv.ParseInt: parsing \"512M\": invalid syntax",
            ),
            (
                "jetstream { max_memory_store: \"100\" }",
                "t.conf:1:31: max_mem_store sizes defined as strings must end in K, M, G, T",
            ),
            (
                "jetstream { max_mem_store: \"1g\" }",
                "t.conf:1:28: max_mem_store sizes defined as strings must end in K, M, G, T",
            ),
            (
                "jetstream { max_file: \"G\" }",
                "t.conf:1:23: max_file_store strconv.ParseInt: parsing \"\": invalid syntax",
            ),
            (
                "jetstream { max_file_store: 1.5 }",
                "t.conf:1:29: max_file_store must be int64 or string",
            ),
            (
                "jetstream { max_file: true }",
                "t.conf:1:23: max_file_store must be int64 or string",
            ),
            (
                "jetstream { max_file: \"99999999999999999999G\" }",
                "t.conf:1:23: max_file_store strconv.ParseInt: parsing \"99999999999999999999\": \
                 value out of range",
            ),
            // Go wraps around here; jetcore refuses.
            (
                "jetstream { max_file: \"9999999999T\" }",
                "t.conf:1:23: max_file_store size \"9999999999T\" is out of range",
            ),
            (
                "jetstream { cipher: \"des\" }",
                "t.conf:1:21: Unknown cipher type: \"des\"",
            ),
            (
                "jetstream { cipher: 1 }",
                "t.conf:1:21: expected a string for \"cipher\", got integer",
            ),
            ("jetstream { foo: 1 }", "t.conf:1:13: unknown field \"foo\""),
            (
                "jetstream {\n  Bar: x\n}",
                "t.conf:2:3: unknown field \"Bar\"",
            ),
            (
                "jetstream { limits: 5 }",
                "t.conf:1:21: Expected a map to define JetStreamLimits, got int64",
            ),
            (
                "jetstream { limits { foo: 1 } }",
                "t.conf:1:22: unknown field \"foo\"",
            ),
            (
                "jetstream { limits { duplicate_window: \"x\" } }",
                "t.conf:1:40: time: invalid duration \"x\"",
            ),
            (
                "jetstream { limits { duplicate_window: 5 } }",
                "t.conf:1:40: expected a string for \"duplicate_window\", got integer",
            ),
            (
                "jetstream { limits { max_ack_pending: \"5\" } }",
                "t.conf:1:39: expected an integer for \"max_ack_pending\", got string",
            ),
            (
                "jetstream { limits { batch: 1 } }",
                "t.conf:1:29: Expected a map to define batch limits, got int64",
            ),
            (
                "jetstream { limits { batch { bad: 1 } } }",
                "t.conf:1:30: unknown field \"bad\"",
            ),
            (
                "jetstream { max_concurrent_io: 2 }",
                "t.conf:1:32: Expected an absolute size for \"max_concurrent_io\" between 4 and \
                 8192, got 2",
            ),
            (
                "jetstream { meta_compact: -1 }",
                "t.conf:1:27: Expected an absolute size for \"meta_compact\", got -1",
            ),
            (
                "jetstream { max_buffered_msgs: \"x\" }",
                "t.conf:1:32: Expected a parseable size for \"max_buffered_msgs\", got x",
            ),
            (
                "jetstream { request_queue_limit: 1.5 }",
                "t.conf:1:34: Expected a parseable size for \"request_queue_limit\", got 1.5",
            ),
            (
                "jetstream { meta_compact_size: \"-1K\" }",
                "t.conf:1:32: Expected an absolute size for \"meta_compact_size\", got -1K",
            ),
            (
                "jetstream { max_buffered_size: \"1x\" }",
                "t.conf:1:32: max_buffered_size sizes defined as strings must end in K, M, G, T",
            ),
            (
                "jetstream { tpm: 1 }",
                "t.conf:1:18: Expected a map to define JetStreamLimits, got int64",
            ),
            (
                "jetstream { sync: \"x\" }",
                "t.conf:1:19: error parsing sync: time: invalid duration \"x\"",
            ),
            (
                "jetstream { sync_interval: true }",
                "t.conf:1:28: expected a duration for \"sync_interval\", got boolean",
            ),
            (
                "jetstream { domain: 5 }",
                "t.conf:1:21: expected a string for \"domain\", got integer",
            ),
            (
                "jetstream { enabled: \"no\" }",
                "t.conf:1:22: expected a boolean for \"enabled\", got string",
            ),
            (
                "store_dir: 5",
                "t.conf:1:12: expected a string for \"store_dir\", got integer",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn store_dir_twice_is_an_error_like_go() {
        let cases = [
            ("store_dir: /a\njetstream { store_dir: /b }", "t.conf:2:24"),
            ("jetstream { store_dir: /b }\nstore_dir: /a", "t.conf:2:12"),
            ("storedir: /a\njetstream { store: /b }", "t.conf:2:20"),
            ("store_dir: /a\nstoredir: /b", "t.conf:2:11"),
            ("jetstream { store: /a, storedir: /b }", "t.conf:1:34"),
            // Even when the values agree.
            ("store_dir: /a\njetstream { store_dir: /a }", "t.conf:2:24"),
        ];
        for (text, pos) in cases {
            assert_eq!(
                error(text),
                format!("{pos}: Duplicate 'store_dir' configuration"),
                "{text}"
            );
        }
        // The same spelling twice at one level is one key: the last one wins.
        assert_eq!(
            js("store_dir: /a\nstore_dir: /b").store_dir,
            Some(PathBuf::from("/b"))
        );
    }

    #[test]
    fn jetstream_block_errors_are_reported_together() {
        let err = apply("jetstream { foo: 1, cipher: x, limits { bar: 2 }, max_mem: true }")
            .expect_err("errors");
        assert_eq!(
            err.to_string(),
            "t.conf:1:13: unknown field \"foo\"\n\
             t.conf:1:29: Unknown cipher type: \"x\"\n\
             t.conf:1:41: unknown field \"bar\"\n\
             t.conf:1:60: max_mem_store must be int64 or string"
        );
    }

    #[test]
    fn storage_size_matches_go_get_storage_size() {
        let s = |text: &str| storage_size(&Value::String(text.to_string()));
        assert_eq!(storage_size(&Value::Integer(-5)), Ok(-5));
        assert_eq!(s(""), Ok(0));
        assert_eq!(s("1K"), Ok(1024));
        assert_eq!(s("-1K"), Ok(-1024));
        assert_eq!(s("8M"), Ok(8 << 20));
        assert_eq!(s("8G"), Ok(8 << 30));
        assert_eq!(s("8T"), Ok(8 << 40));
        assert_eq!(
            s("1é"),
            Err("sizes defined as strings must end in K, M, G, T".to_string())
        );
        assert_eq!(
            s("1.5G"),
            Err("strconv.ParseInt: parsing \"1.5\": invalid syntax".to_string())
        );
        assert_eq!(
            storage_size(&Value::Float(1.0)),
            Err("must be int64 or string".to_string())
        );
    }

    #[test]
    fn split_host_port_matches_go() {
        let cases = [
            ("h:1", Some(("h", "1"))),
            (":1", Some(("", "1"))),
            ("[::1]:1", Some(("::1", "1"))),
            ("[fe80::1%eth0]:80", Some(("fe80::1%eth0", "80"))),
            ("h:", Some(("h", ""))),
            ("h", None),
            ("a:b:c", None),
            ("[::1]", None),
            ("[::1:1", None),
            ("[a]b:1", None),
            ("a[b:1", None),
            ("[a[b]:1", None),
            ("a:1]", None),
        ];
        for (input, expected) in cases {
            assert_eq!(split_host_port(input), expected, "{input}");
        }
    }
}
