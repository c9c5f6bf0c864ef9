//! `/varz`: the server's settings and running totals, with Go's `Varz` fields.
//!
//! Totals come from every core's [`ShardSnapshot`](crate::stats::ShardSnapshot).
//! Process figures come from `/proc`: `mem` is the resident set, `cpu` the
//! percentage of one CPU used since the previous `/varz` (Go samples every second;
//! a scraper's interval is the natural window here). jetcore's own per-core figures
//! are under the extra key `jetcore`, which Go clients and exporters ignore.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::{go_uptime, json, jsz, Monitor, Query, Response};
use crate::jetstream::gotime::GoTime;
use crate::server::{GO_COMPAT_VERSION, JETCORE_VERSION};
use crate::stats::ShardSnapshot;

/// Go's `Varz`, in Go's field order (serde keeps it).
#[derive(Debug, Serialize)]
pub struct Varz {
    /// Server id.
    pub server_id: String,
    /// Server name (the id when not set).
    pub server_name: String,
    /// The Go version jetcore answers as (as in INFO).
    pub version: String,
    /// Protocol version.
    pub proto: i32,
    /// Go's toolchain version; jetcore names itself here, as in INFO's `go`.
    pub go: String,
    /// Client listen host.
    pub host: String,
    /// Client port.
    pub port: u16,
    /// `max_connections`.
    pub max_connections: i64,
    /// `max_subscriptions`, omitted when 0 (unlimited), as Go.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub max_subscriptions: u32,
    /// `ping_interval` in nanoseconds.
    pub ping_interval: u64,
    /// `ping_max`.
    pub ping_max: u32,
    /// Monitoring host.
    pub http_host: String,
    /// Monitoring port as configured: Go reports `-1` for "any free port", not the
    /// port it bound (that one is in the log and the ports file).
    pub http_port: i32,
    /// Monitoring base path.
    pub http_base_path: String,
    /// HTTPS monitoring port (jetcore has none).
    pub https_port: u16,
    /// `auth_timeout` in seconds.
    #[serde(serialize_with = "json::go_f64")]
    pub auth_timeout: f64,
    /// `max_control_line`.
    pub max_control_line: u32,
    /// `max_payload`.
    pub max_payload: u32,
    /// `max_pending`.
    pub max_pending: i64,
    /// Cluster settings (none).
    pub cluster: Empty,
    /// Gateway settings (none).
    pub gateway: Empty,
    /// Leaf node settings (none).
    pub leaf: Empty,
    /// MQTT settings (none).
    pub mqtt: Empty,
    /// Websocket settings (none).
    pub websocket: Empty,
    /// JetStream (an empty object when disabled, as Go's zero struct).
    pub jetstream: jsz::JetStreamVarz,
    /// TLS timeout in seconds (Go's default 2 even without TLS).
    #[serde(serialize_with = "json::go_f64")]
    pub tls_timeout: f64,
    /// `write_deadline` in nanoseconds.
    pub write_deadline: u64,
    /// Start time.
    pub start: GoTime,
    /// Now.
    pub now: GoTime,
    /// Uptime (Go's `1d2h3m4s`).
    pub uptime: String,
    /// Resident memory in bytes.
    pub mem: i64,
    /// CPUs the process may use.
    pub cores: usize,
    /// Go's GOMAXPROCS; for jetcore the shard count, the CPUs it really uses.
    pub gomaxprocs: usize,
    /// CPU use in percent of one CPU since the previous sample.
    #[serde(serialize_with = "json::go_f64")]
    pub cpu: f64,
    /// Open client connections.
    pub connections: u64,
    /// Connections since start.
    pub total_connections: u64,
    /// Routes (none).
    pub routes: u32,
    /// Route remotes (none).
    pub remotes: u32,
    /// Leaf nodes (none).
    pub leafnodes: u32,
    /// Messages received (all from clients: no routes).
    pub in_msgs: u64,
    /// Bytes received.
    pub in_bytes: u64,
    /// Messages received from clients.
    pub in_client_msgs: u64,
    /// Bytes received from clients.
    pub in_client_bytes: u64,
    /// Messages sent.
    pub out_msgs: u64,
    /// Bytes sent.
    pub out_bytes: u64,
    /// Messages sent to clients.
    pub out_client_msgs: u64,
    /// Bytes sent to clients.
    pub out_client_bytes: u64,
    /// Clients closed as slow consumers since start.
    pub slow_consumers: u64,
    /// Stale connections since start.
    pub stale_connections: u64,
    /// Fast-producer stalls since start.
    pub stalled_clients: u64,
    /// Client subscriptions now.
    pub subscriptions: u64,
    /// Requests per monitoring path.
    pub http_req_stats: BTreeMap<&'static str, u64>,
    /// When the configuration was loaded.
    pub config_load_time: GoTime,
    /// `sha256:<hex>` of the configuration file, "" without one.
    pub config_digest: String,
    /// Slow consumers by connection kind.
    pub slow_consumer_stats: KindCounts,
    /// Stale connections by connection kind.
    pub stale_connection_stats: KindCounts,
    /// jetcore only: figures per core.
    pub jetcore: JetcoreVarz,
}

/// An empty JSON object (Go's zero-valued option structs with `omitempty` fields).
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

/// Go's `SlowConsumersStats` / `StaleConnectionStats`.
#[derive(Debug, Default, Serialize)]
pub struct KindCounts {
    /// Client connections.
    pub clients: u64,
    /// Routes.
    pub routes: u64,
    /// Gateways.
    pub gateways: u64,
    /// Leaf nodes.
    pub leafs: u64,
}

/// jetcore's own figures, under `jetcore` in `/varz`.
#[derive(Debug, Serialize)]
pub struct JetcoreVarz {
    /// jetcore's version.
    pub version: &'static str,
    /// Shard cores.
    pub shards: usize,
    /// One entry per core.
    pub cores: Vec<CoreVarz>,
}

/// One core's figures.
#[derive(Debug, Serialize)]
pub struct CoreVarz {
    /// Core index.
    pub core: usize,
    /// Open client connections on it.
    pub connections: u64,
    /// Its clients' subscriptions.
    pub subscriptions: u64,
    /// Entries in its subject index (clients' and internal).
    pub sublist_entries: u64,
    /// Messages its clients published.
    pub in_msgs: u64,
    /// Bytes its clients published.
    pub in_bytes: u64,
    /// Messages delivered to its clients.
    pub out_msgs: u64,
    /// Bytes delivered to its clients.
    pub out_bytes: u64,
    /// Items queued to other cores now (channel depth).
    pub outbox_depth: u64,
    /// Fast-producer stalls on it since start.
    pub stalls: u64,
    /// Streams it owns.
    pub streams: u64,
}

impl From<&ShardSnapshot> for CoreVarz {
    fn from(s: &ShardSnapshot) -> CoreVarz {
        CoreVarz {
            core: s.shard,
            connections: s.connections,
            subscriptions: s.subscriptions,
            sublist_entries: s.sublist_entries,
            in_msgs: s.in_msgs,
            in_bytes: s.in_bytes,
            out_msgs: s.out_msgs,
            out_bytes: s.out_bytes,
            outbox_depth: s.outbox_depth,
            stalls: s.stalls,
            streams: s.streams,
        }
    }
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// Process CPU time at one moment.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    /// When it was taken.
    at: Instant,
    /// User plus system CPU seconds of the process so far.
    cpu_secs: f64,
}

/// `/varz`.
pub async fn handle(m: &Monitor, _query: &Query) -> Response {
    json::respond(&build(m).await)
}

/// The `/varz` document.
pub async fn build(m: &Monitor) -> Varz {
    let shards = m.shard_snapshots().await;
    let t = ShardSnapshot::total(&shards);
    // The options in force now: a SIGHUP reload changes some of them.
    let opts = m.shard.global.options();
    let opts = &*opts;
    let info = &m.shard.info;
    let jetstream = jsz::varz_section(m).await;
    Varz {
        server_id: info.server_id.clone(),
        server_name: info.server_name.clone(),
        version: GO_COMPAT_VERSION.to_string(),
        proto: 1,
        go: info.go.clone(),
        host: opts.host.clone(),
        port: info.port,
        max_connections: i64::from(opts.max_connections),
        max_subscriptions: opts.max_subscriptions,
        ping_interval: opts.ping_interval.as_nanos() as u64,
        ping_max: opts.ping_max,
        http_host: m.http_host.clone(),
        http_port: opts.http_port,
        http_base_path: opts.http_base_path.clone(),
        https_port: 0,
        auth_timeout: opts.auth_timeout.as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: Empty {},
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: Empty {},
        jetstream,
        tls_timeout: 2.0,
        write_deadline: opts.write_deadline.as_nanos() as u64,
        start: m.started,
        now: GoTime::now(),
        uptime: go_uptime(m.started_at.elapsed()),
        mem: resident_bytes(),
        cores: jetcore_router::runtime::allowed_cpus().len(),
        gomaxprocs: m.shard.shards,
        cpu: cpu_percent(m),
        connections: t.connections,
        total_connections: t.total_connections,
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs: t.in_msgs,
        in_bytes: t.in_bytes,
        in_client_msgs: t.in_msgs,
        in_client_bytes: t.in_bytes,
        out_msgs: t.out_msgs,
        out_bytes: t.out_bytes,
        out_client_msgs: t.out_msgs,
        out_client_bytes: t.out_bytes,
        slow_consumers: t.slow_consumers,
        stale_connections: t.stale_connections,
        stalled_clients: t.stalls,
        subscriptions: t.subscriptions,
        http_req_stats: m.req_stats.borrow().clone(),
        config_load_time: GoTime::from_unix_nanos(i128::from(m.shard.global.options_loaded_at())),
        config_digest: config_digest(m),
        slow_consumer_stats: KindCounts {
            clients: t.slow_consumers,
            ..KindCounts::default()
        },
        stale_connection_stats: KindCounts {
            clients: t.stale_connections,
            ..KindCounts::default()
        },
        jetcore: JetcoreVarz {
            version: JETCORE_VERSION,
            shards: m.shard.shards,
            cores: shards.iter().map(CoreVarz::from).collect(),
        },
    }
}

/// Go's `config_digest`: the digest `-t` prints, "" without a config file.
fn config_digest(m: &Monitor) -> String {
    m.shard
        .global
        .options()
        .config_file
        .as_deref()
        .and_then(|p| crate::conf::parse_file(p).ok())
        .map(|map| crate::conf::config_digest(&map))
        .unwrap_or_default()
}

/// Resident set size from `/proc/self/statm` (pages × page size); 0 if unreadable.
fn resident_bytes() -> i64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: i64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as i64
}

/// User plus system CPU seconds of this process, from `/proc/self/stat`.
fn process_cpu_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

/// Percent of one CPU used since the previous call (since start for the first),
/// rounded to two decimals like Go's.
fn cpu_percent(m: &Monitor) -> f64 {
    let Some(now_secs) = process_cpu_secs() else {
        return 0.0;
    };
    let now = CpuSample {
        at: Instant::now(),
        cpu_secs: now_secs,
    };
    let prev = m.cpu_sample.replace(Some(now)).unwrap_or(CpuSample {
        at: m.started_at,
        cpu_secs: 0.0,
    });
    let wall = now.at.duration_since(prev.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    let pct = (now.cpu_secs - prev.cpu_secs).max(0.0) / wall * 100.0;
    (pct * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_figures_are_readable() {
        assert!(resident_bytes() > 0);
        assert!(process_cpu_secs().is_some());
    }
}
