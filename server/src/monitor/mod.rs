//! The monitoring HTTP port: Go's `/varz`, `/connz`, `/subsz`, `/jsz`, `/healthz`,
//! `/accountz` and friends, with Go's JSON, so the Prometheus NATS exporter, probes
//! and dashboards written for `nats-server` read jetcore unchanged.
//!
//! Layout:
//! - `mod.rs` — [`Monitor`]: the state behind the endpoints, the path table and the
//!   dispatch of one request.
//! - `http.rs` — a small HTTP/1.1 server on the shard runtime (GET/HEAD, keep-alive,
//!   bounded heads and bodies). Monitoring is a handful of requests a second; a full
//!   HTTP stack adds nothing the exporters use.
//! - `query.rs` — the query string, with Go's parameter rules and error texts.
//! - `json.rs` — Go's `json.MarshalIndent` layout and escapes.
//! - `varz.rs`, `connz.rs`, `subsz.rs`, `jsz.rs`, `healthz.rs`, `accountz.rs`,
//!   `cluster.rs` (routez/gatewayz/leafz), `root.rs` — one endpoint each.
//!
//! Where it runs: the listener and every request live on core 0 (which also runs the
//! JetStream meta layer). Figures owned by other cores (their connections, counters,
//! streams) are fetched with [`Shard::call_on`], one cross-core call per core per
//! request, so no core ever shares a lock with another and the message path pays
//! nothing but its own `Cell` counters (see `stats.rs`).

pub mod accountz;
pub mod cluster;
pub mod connz;
pub mod healthz;
pub mod http;
pub mod json;
pub mod jsz;
pub mod query;
pub mod root;
pub mod subsz;
pub mod varz;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::jetstream::gotime::GoTime;
use crate::shard::Shard;
use crate::stats::ShardSnapshot;

pub use http::Response;
pub use query::Query;

/// How long a data endpoint (`/varz`, `/connz`, `/jsz`...) waits for a core. A
/// healthy core answers in microseconds; this only bounds a stuck one.
pub const CORE_ANSWER_LIMIT: Duration = Duration::from_secs(5);

/// A core's answer to [`Monitor::ask_every_core`].
pub enum CoreAnswer<T> {
    /// It answered.
    Answer(T),
    /// Not within the time allowed.
    Late,
    /// It is gone.
    Gone,
}

/// The monitoring endpoints, by Go's path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    /// `/`: an HTML page of links.
    Root,
    /// `/varz`: server information and totals.
    Varz,
    /// `/connz`: connections.
    Connz,
    /// `/routez`: cluster routes (none: jetcore has no clustering yet).
    Routez,
    /// `/gatewayz`: gateways (none).
    Gatewayz,
    /// `/leafz`: leaf nodes (none).
    Leafz,
    /// `/subsz` (and its alias `/subscriptionsz`): the subject index.
    Subsz,
    /// `/accountz`: accounts.
    Accountz,
    /// `/accstatz`: per-account statistics.
    Accstatz,
    /// `/jsz`: JetStream.
    Jsz,
    /// `/healthz`: the health probe.
    Healthz,
}

impl Endpoint {
    /// Every endpoint with its path (below the base path) — Go's `HandleFunc` table.
    const PATHS: &'static [(&'static str, Endpoint)] = &[
        ("/varz", Endpoint::Varz),
        ("/connz", Endpoint::Connz),
        ("/routez", Endpoint::Routez),
        ("/gatewayz", Endpoint::Gatewayz),
        ("/leafz", Endpoint::Leafz),
        ("/subsz", Endpoint::Subsz),
        ("/subscriptionsz", Endpoint::Subsz),
        ("/accountz", Endpoint::Accountz),
        ("/accstatz", Endpoint::Accstatz),
        ("/jsz", Endpoint::Jsz),
        ("/healthz", Endpoint::Healthz),
    ];

    /// The key Go counts requests under in `http_req_stats`.
    pub fn stats_key(self) -> &'static str {
        match self {
            Endpoint::Root => "/",
            Endpoint::Varz => "/varz",
            Endpoint::Connz => "/connz",
            Endpoint::Routez => "/routez",
            Endpoint::Gatewayz => "/gatewayz",
            Endpoint::Leafz => "/leafz",
            Endpoint::Subsz => "/subsz",
            Endpoint::Accountz => "/accountz",
            Endpoint::Accstatz => "/accstatz",
            Endpoint::Jsz => "/jsz",
            Endpoint::Healthz => "/healthz",
        }
    }

    /// The endpoint serving `path` under `base` (already normalised: empty, or
    /// `/x` without a trailing slash). Matching is exact, as Go's mux patterns are.
    pub fn for_path(base: &str, path: &str) -> Option<Endpoint> {
        let rest = path.strip_prefix(base)?;
        if rest.is_empty() || rest == "/" {
            // Go's root pattern is the base path itself ("/" without one).
            return (rest == "/" && base.is_empty() || rest.is_empty() && !base.is_empty())
                .then_some(Endpoint::Root);
        }
        Self::PATHS
            .iter()
            .find(|(p, _)| *p == rest)
            .map(|(_, e)| *e)
    }
}

/// Go's `http_base_path` as its mux uses it: empty, or `/a/b` (leading slash, no
/// trailing slash, `.`/`..`/`//` cleaned).
pub fn normalize_base_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("/{}", parts.join("/"))
    }
}

/// State behind the endpoints; lives on core 0.
pub struct Monitor {
    /// Core 0's shard: the way to every other core.
    pub shard: Rc<Shard>,
    /// Normalised `http_base_path`.
    pub base_path: String,
    /// When the server started (`start` in `/varz`).
    pub started: GoTime,
    /// The monotonic twin of `started`, for uptimes.
    pub started_at: Instant,
    /// Requests served per path (`http_req_stats`); Go counts only paths it serves.
    pub req_stats: RefCell<BTreeMap<&'static str, u64>>,
    /// Host the monitor listens on (`http_host` in `/varz`).
    pub http_host: String,
    /// The previous CPU sample, for `cpu` in `/varz` (usage since then).
    pub cpu_sample: RefCell<Option<varz::CpuSample>>,
}

impl Monitor {
    /// Monitor state for core 0.
    pub fn new(shard: Rc<Shard>, http_host: String) -> Monitor {
        Monitor {
            base_path: normalize_base_path(&shard.opts.http_base_path),
            shard,
            started: GoTime::now(),
            started_at: Instant::now(),
            req_stats: RefCell::new(BTreeMap::new()),
            http_host,
            cpu_sample: RefCell::new(None),
        }
    }

    /// Answer one request.
    pub async fn handle(&self, path: &str, raw_query: &str) -> Response {
        let Some(endpoint) = Endpoint::for_path(&self.base_path, path) else {
            return Response::not_found();
        };
        *self
            .req_stats
            .borrow_mut()
            .entry(endpoint.stats_key())
            .or_insert(0) += 1;
        let query = Query::parse(raw_query);
        match endpoint {
            Endpoint::Root => root::page(self),
            Endpoint::Varz => varz::handle(self, &query).await,
            Endpoint::Connz => connz::handle(self, &query).await,
            Endpoint::Routez => cluster::routez(self, &query),
            Endpoint::Gatewayz => cluster::gatewayz(self, &query),
            Endpoint::Leafz => cluster::leafz(self, &query),
            Endpoint::Subsz => subsz::handle(self, &query).await,
            Endpoint::Accountz => accountz::handle(self, &query).await,
            Endpoint::Accstatz => accountz::accstatz(self, &query).await,
            Endpoint::Jsz => jsz::handle(self, &query).await,
            Endpoint::Healthz => healthz::handle(self, &query).await,
        }
    }

    /// Every core's figures, core 0 first. A core that cannot answer (it is
    /// stopping) is left out rather than failing the request.
    pub async fn shard_snapshots(&self) -> Vec<ShardSnapshot> {
        self.on_every_core(|shard| async move { shard.snapshot() })
            .await
    }

    /// Run `job` on every core and collect the answers, core order. Cores that are
    /// gone, or do not answer within [`CORE_ANSWER_LIMIT`], are left out: a stuck
    /// core must not hang the monitoring port (`/healthz` reports it).
    pub async fn on_every_core<T, J, F>(&self, job: J) -> Vec<T>
    where
        T: Send + 'static,
        J: FnOnce(Rc<Shard>) -> F + Send + Clone + 'static,
        F: std::future::Future<Output = T> + 'static,
    {
        self.ask_every_core(CORE_ANSWER_LIMIT, job)
            .await
            .into_iter()
            .filter_map(|a| match a {
                CoreAnswer::Answer(v) => Some(v),
                CoreAnswer::Late | CoreAnswer::Gone => None,
            })
            .collect()
    }

    /// Run `job` on every core at once and collect the answers in core order; a
    /// core that does not answer within `limit` is `Late`. Each call runs in its own
    /// task that gives up at the limit, so a stuck core holds nothing here
    /// afterwards.
    pub async fn ask_every_core<T, J, F>(&self, limit: Duration, job: J) -> Vec<CoreAnswer<T>>
    where
        T: Send + 'static,
        J: FnOnce(Rc<Shard>) -> F + Send + Clone + 'static,
        F: std::future::Future<Output = T> + 'static,
    {
        let mut waits = Vec::with_capacity(self.shard.shards);
        for core in 0..self.shard.shards {
            let (tx, rx) = futures_channel::oneshot::channel();
            let (shard, job) = (self.shard.clone(), job.clone());
            jetcore_router::spawn(async move {
                let answer =
                    match jetcore_router::time::timeout(limit, shard.call_on(core, job)).await {
                        Ok(Ok(v)) => CoreAnswer::Answer(v),
                        Ok(Err(_)) => CoreAnswer::Gone,
                        Err(_) => CoreAnswer::Late,
                    };
                let _ = tx.send(answer);
            });
            waits.push(rx);
        }
        let mut out = Vec::with_capacity(waits.len());
        for rx in waits {
            out.push(rx.await.unwrap_or(CoreAnswer::Gone));
        }
        out
    }

    /// The server id every endpoint reports.
    pub fn server_id(&self) -> &str {
        &self.shard.info.server_id
    }
}

/// Go's `myUptime`: whole seconds as `1y2d3h4m5s`, leading zero units left out.
pub fn go_uptime(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours) = (secs / 60, secs / 3600);
    let (days, years) = (hours / 24, hours / 24 / 365);
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn uptime_like_go() {
        for (secs, want) in [
            (0, "0s"),
            (59, "59s"),
            (61, "1m1s"),
            (3600, "1h0m0s"),
            (90_061, "1d1h1m1s"),
            (365 * 86_400 + 1, "1y0d0h0m1s"),
        ] {
            assert_eq!(go_uptime(Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn paths_match_exactly() {
        use Endpoint as E;
        let table: &[(&str, &str, Option<Endpoint>)] = &[
            ("", "/", Some(E::Root)),
            ("", "/varz", Some(E::Varz)),
            ("", "/varz/", None),
            ("", "/subscriptionsz", Some(E::Subsz)),
            ("", "/nope", None),
            ("", "", None),
            ("/nats", "/nats", Some(E::Root)),
            ("/nats", "/nats/", None),
            ("/nats", "/nats/jsz", Some(E::Jsz)),
            ("/nats", "/jsz", None),
        ];
        for (base, path, want) in table {
            assert_eq!(Endpoint::for_path(base, path), *want, "{base} {path}");
        }
    }

    #[test]
    fn base_paths_are_cleaned() {
        for (given, want) in [
            ("", ""),
            ("/", ""),
            ("nats", "/nats"),
            ("/nats/", "/nats"),
            ("/a//b/./c/../", "/a/b"),
        ] {
            assert_eq!(normalize_base_path(given), want);
        }
    }
}
