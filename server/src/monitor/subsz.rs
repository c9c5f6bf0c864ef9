//! `/subsz` (and `/subscriptionsz`): the subject index's figures and, with `subs=1`,
//! its client subscriptions, as Go's `Subsz` JSON.
//!
//! Each core has its own index; the figures are the cores' [`SublistStats`] merged as
//! Go merges its accounts' (`SublistStats.add`: counts summed, the largest fan-out,
//! rates recomputed from the summed parts).
//!
//! What is counted differs from Go in two ways:
//! - `num_subscriptions` and the other counters cover each core's whole index: client
//!   subscriptions and jetcore's internal ones (streams, consumers, the JetStream API),
//!   as Go's cover its internal ones. Go also has a system account whose internal
//!   subscriptions (about 60 without JetStream) are counted and listed; jetcore has
//!   none, so its figures are smaller for the same clients.
//! - The list (`subs=1`) shows client subscriptions only: jetcore's internal
//!   subscriptions have no connection and no sid (Go lists its internal ones under
//!   internal client ids). `total` counts what is listed.
//!
//! `num_matches` counts index lookups: a message delivered on another core than its
//! publisher's is looked up there too, so with several cores it can exceed Go's.

use serde::Serialize;

use super::connz::{bad_request, page, sort_subs, SubDetail};
use super::{json, Monitor, Query, Response};
use crate::client::GLOBAL_ACCOUNT;
use crate::jetstream::gotime::GoTime;
use crate::shard::Shard;
use crate::sublist::SublistStats;

/// Go's `DefaultSubListSize`: the page size when `limit` is absent or not positive.
pub const DEFAULT_SUB_LIST_SIZE: i64 = 1024;

/// Go's `SublistStats` as JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GoSublistStats {
    /// Subscriptions stored.
    pub num_subscriptions: u32,
    /// Subjects cached.
    pub num_cache: u32,
    /// Inserts since start.
    pub num_inserts: u64,
    /// Removes since start.
    pub num_removes: u64,
    /// Lookups since start.
    pub num_matches: u64,
    /// Share of lookups answered from the cache.
    #[serde(serialize_with = "json::go_f64")]
    pub cache_hit_rate: f64,
    /// Largest fan-out of a cached subject.
    pub max_fanout: u32,
    /// Mean fan-out of the cached subjects.
    #[serde(serialize_with = "json::go_f64")]
    pub avg_fanout: f64,
}

impl GoSublistStats {
    /// Many indexes' figures as one (Go's `SublistStats.add`, from zero).
    pub fn merged(parts: &[SublistStats]) -> GoSublistStats {
        let mut out = GoSublistStats::default();
        let (mut hits, mut fanout, mut cached) = (0u64, 0u64, 0u64);
        for p in parts {
            out.num_subscriptions = out
                .num_subscriptions
                .saturating_add(u32::try_from(p.subscriptions).unwrap_or(u32::MAX));
            out.num_cache = out
                .num_cache
                .saturating_add(u32::try_from(p.cache_entries).unwrap_or(u32::MAX));
            out.num_inserts += p.inserts;
            out.num_removes += p.removes;
            out.num_matches += p.matches;
            hits += p.cache_hits;
            fanout += p.total_fanout;
            cached += p.cache_entries as u64;
            out.max_fanout = out
                .max_fanout
                .max(u32::try_from(p.max_fanout).unwrap_or(u32::MAX));
        }
        if fanout > 0 {
            out.avg_fanout = fanout as f64 / cached as f64;
        }
        if out.num_matches > 0 {
            out.cache_hit_rate = hits as f64 / out.num_matches as f64;
        }
        out
    }
}

/// Go's `Subsz`.
#[derive(Debug, Serialize)]
pub struct Subsz {
    /// Server id.
    pub server_id: String,
    /// When the answer was made.
    pub now: GoTime,
    /// The merged figures (Go embeds them at this level).
    #[serde(flatten)]
    pub stats: GoSublistStats,
    /// Subscriptions listed before paging (0 without `subs=1`).
    pub total: usize,
    /// The page's offset.
    pub offset: i64,
    /// The page size.
    pub limit: i64,
    /// The page of subscriptions (`subs=1`; left out when empty, as Go).
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<SubDetail>,
}

/// One core's index figures and, when asked, its client subscriptions matching
/// `test` (all of them when `None`).
fn collect(shard: &Shard, list: bool, test: Option<&str>) -> (SublistStats, Vec<SubDetail>) {
    let stats = shard.sublist_stats();
    if !list {
        return (stats, Vec::new());
    }
    let mut subs = Vec::new();
    for c in shard.clients() {
        for s in c.subscriptions() {
            if test.is_some_and(|t| !crate::subject::matches_filter(t.as_bytes(), &s.subject)) {
                continue;
            }
            subs.extend(SubDetail::of(&s, true));
        }
    }
    (stats, subs)
}

/// `/subsz`.
pub async fn handle(m: &Monitor, q: &Query) -> Response {
    let list = match q.bool("subs") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (offset, limit) = match (q.int("offset"), q.int("limit")) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let test = q.get("test").to_string();
    let acc = q.get("acc");
    let offset = offset.max(0);
    let limit = if limit <= 0 {
        DEFAULT_SUB_LIST_SIZE
    } else {
        limit
    };
    if !test.is_empty() && !crate::subject::is_valid_literal_subject(test.as_bytes()) {
        return bad_request(format!(
            "invalid test subject, must be valid publish subject: {test}"
        ));
    }
    let mut doc = Subsz {
        server_id: m.server_id().to_string(),
        now: GoTime::now(),
        stats: GoSublistStats::default(),
        total: 0,
        offset,
        limit,
        subs: Vec::new(),
    };
    // `acc=` filters by account; `$G` is the only one, so another name selects
    // nothing (Go answers zeros for it too).
    if !acc.is_empty() && acc != GLOBAL_ACCOUNT {
        return json::respond(&doc);
    }
    let test = (!test.is_empty()).then_some(test);
    let cores = m
        .on_every_core(move |shard| async move { collect(&shard, list, test.as_deref()) })
        .await;
    let stats: Vec<SublistStats> = cores.iter().map(|(s, _)| *s).collect();
    doc.stats = GoSublistStats::merged(&stats);
    if list {
        let mut subs: Vec<SubDetail> = cores.into_iter().flat_map(|(_, l)| l).collect();
        sort_subs(&mut subs);
        doc.total = subs.len();
        doc.subs = page(subs, offset, limit);
    }
    json::respond(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_like_go_add() {
        let a = SublistStats {
            subscriptions: 3,
            cache_entries: 2,
            inserts: 4,
            removes: 1,
            matches: 10,
            cache_hits: 5,
            total_fanout: 3,
            max_fanout: 2,
        };
        let b = SublistStats {
            subscriptions: 1,
            cache_entries: 2,
            inserts: 1,
            removes: 0,
            matches: 6,
            cache_hits: 3,
            total_fanout: 1,
            max_fanout: 1,
        };
        let m = GoSublistStats::merged(&[a, b]);
        assert_eq!(
            (
                m.num_subscriptions,
                m.num_cache,
                m.num_inserts,
                m.num_removes,
                m.num_matches
            ),
            (4, 4, 5, 1, 16)
        );
        assert_eq!(m.max_fanout, 2);
        assert_eq!(m.avg_fanout, 1.0);
        assert_eq!(m.cache_hit_rate, 0.5);
        // Nothing looked up, nothing cached: zeros, not NaN.
        let z = GoSublistStats::merged(&[SublistStats::default()]);
        assert_eq!((z.avg_fanout, z.cache_hit_rate), (0.0, 0.0));
        assert_eq!(GoSublistStats::merged(&[]), GoSublistStats::default());
    }

    #[test]
    fn subsz_json_has_go_layout() {
        let doc = Subsz {
            server_id: "S".into(),
            now: GoTime::from_unix_nanos(0),
            stats: GoSublistStats {
                cache_hit_rate: 0.25,
                ..Default::default()
            },
            total: 0,
            offset: 0,
            limit: 1024,
            subs: Vec::new(),
        };
        let text = String::from_utf8(json::to_go_json_pretty(&doc)).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        assert!(at("now") < at("num_subscriptions") && at("avg_fanout") < at("total"));
        assert!(text.contains("\"cache_hit_rate\": 0.25,"));
        assert!(text.contains("\"avg_fanout\": 0,"));
        assert!(!text.contains("subscriptions_list"));
    }
}
