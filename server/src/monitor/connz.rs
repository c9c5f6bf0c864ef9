//! `/connz`: client connections, open and recently closed, as Go's `Connz` JSON.
//!
//! Every core lists its own connections ([`collect`], run on each core through
//! [`Monitor::on_every_core`]) as plain owned [`ConnInfo`] values: nothing of a
//! connection (its `Rc`s) leaves its core. Core 0 then merges, filters, sorts and
//! pages them the way Go's `Server.Connz` does, with Go's parameter errors.
//!
//! Closed connections: each core keeps a ring of the ones it closed lately
//! (`Shard::closed`, filled by [`record_closed`] when a connection closes), and the
//! merge keeps the newest `max_closed_clients` (Go's server-wide limit, 10,000 by
//! default) overall. A core keeps its share of the limit, `ceil(max / cores)`, but never
//! less than `min(max, CLOSED_EXACT_UP_TO)`:
//! - a limit up to [`CLOSED_EXACT_UP_TO`] is kept whole by every core, so the merged
//!   list is exactly Go's (the newest `max`, wherever they closed), for little memory;
//! - a larger limit is split, so memory stays what Go's is (a per-core copy of 10,000
//!   records would multiply it by the core count). Because the kernel spreads
//!   connections evenly over the cores' `SO_REUSEPORT` listeners the shares fill alike,
//!   and the merged list is the newest `max` in all but lopsided cases.
//!
//! Nothing is recorded when the monitoring port is off: nobody could ask for it.
//!
//! What jetcore lacks: authentication (so `auth=1` adds only the account's name tag,
//! `user=` matches nobody, `authorized_user` never appears), MQTT (`mqtt_client=`
//! matches nobody), TLS fields, and accounts other than `$G` (`acc=` of another name
//! gives Go's answer for an unknown account).

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{go_uptime, json, Monitor, Query, Response};
use crate::client::{Client, CloseReason, Subscription, GLOBAL_ACCOUNT};
use crate::jetstream::gotime::GoTime;
use crate::jetstream::stream_config::go_duration_string;
use crate::options::DEFAULT_MAX_CLOSED_CLIENTS;
use crate::shard::Shard;

/// Go's `DefaultConnListSize`: the page size when `limit` is absent or not positive.
pub const DEFAULT_CONN_LIST_SIZE: i64 = 1024;

/// Go's `ClosedState.String()` for each way jetcore closes a connection.
pub fn reason_text(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::ClientClosed => "Client Closed",
        CloseReason::ReadError => "Read Error",
        CloseReason::ParseError => "Parse Error",
        CloseReason::ProtocolViolation => "Protocol Violation",
        CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
        CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
        CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
        CloseReason::StaleConnection => "Stale Connection",
        CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
        CloseReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
        CloseReason::ServerShutdown => "Server Shutdown",
        CloseReason::WriteError => "Write Error",
    }
}

/// Go's `SubDetail`: one subscription in `subscriptions_list_detail` (`/connz`) or
/// `subscriptions_list` (`/subsz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubDetail {
    /// The account (`/subsz` and closed connections only, as Go).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// The account's name tag (its name without one), where `account` is shown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_tag: String,
    /// The subject filter.
    pub subject: String,
    /// The queue group, if any.
    #[serde(rename = "qgroup", skip_serializing_if = "String::is_empty")]
    pub queue: String,
    /// The client's subscription id.
    pub sid: String,
    /// Messages delivered to it.
    pub msgs: u64,
    /// Auto-unsubscribe limit (`UNSUB sid max`), 0 = none.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// The owning connection.
    pub cid: u64,
}

impl SubDetail {
    /// A client subscription's details; `with_account` adds the account as Go's
    /// `newSubDetail` does (`newClientSubDetail` leaves it out). `None` for the
    /// server's internal subscriptions, which have no client or sid.
    pub fn of(sub: &Subscription, with_account: bool) -> Option<SubDetail> {
        let cid = sub.owner()?;
        let sid = sub.sid()?;
        let account = if with_account { GLOBAL_ACCOUNT } else { "" };
        Some(SubDetail {
            account: account.to_string(),
            account_tag: account.to_string(),
            subject: String::from_utf8_lossy(&sub.subject).into_owned(),
            queue: sub
                .queue
                .as_ref()
                .map(|q| String::from_utf8_lossy(q).into_owned())
                .unwrap_or_default(),
            sid: String::from_utf8_lossy(sid).into_owned(),
            msgs: sub.delivered.get(),
            max: sub.max.get(),
            cid,
        })
    }
}

/// Sort subscriptions by connection, then sid (numeric sids in numeric order), so
/// answers are stable (Go's come in map order).
pub fn sort_subs(subs: &mut [SubDetail]) {
    subs.sort_by(|a, b| {
        (a.cid, a.sid.len(), &a.sid, &a.subject).cmp(&(b.cid, b.sid.len(), &b.sid, &b.subject))
    });
}

/// Go's `ConnInfo`, in Go's field order, with Go's `omitempty` rules.
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    /// Connection id.
    pub cid: u64,
    /// `Client` (jetcore has no routes, gateways or leaf nodes).
    pub kind: &'static str,
    /// `nats` (no websocket or MQTT).
    #[serde(rename = "type")]
    pub conn_type: &'static str,
    /// Remote IP.
    pub ip: String,
    /// Remote port.
    pub port: u16,
    /// When it was accepted.
    pub start: GoTime,
    /// Its last activity (see `Client::last_activity`).
    pub last_activity: GoTime,
    /// When it closed (closed connections only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<GoTime>,
    /// Why it closed, in Go's words (closed connections only).
    #[serde(skip_serializing_if = "str_is_empty")]
    pub reason: &'static str,
    /// Round-trip time as Go's `time.Duration` string.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    /// Time since accept (until close for closed ones), Go's `myUptime`.
    pub uptime: String,
    /// Time since the last activity (until close for closed ones).
    pub idle: String,
    /// Bytes queued for the client.
    pub pending_bytes: u64,
    /// Messages the client published.
    pub in_msgs: u64,
    /// Messages delivered to it.
    pub out_msgs: u64,
    /// Bytes it published.
    pub in_bytes: u64,
    /// Bytes delivered to it.
    pub out_bytes: u64,
    /// Times a publisher waited for this slow reader.
    #[serde(skip_serializing_if = "is_zero")]
    pub stalls: u64,
    /// Subscriptions it holds (held when it closed).
    pub subscriptions: u32,
    /// `name` from CONNECT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `lang` from CONNECT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    /// `version` from CONNECT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The authenticated user (`auth=1`); jetcore has no authentication yet.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authorized_user: String,
    /// The account when not the global one (`auth=1`); always the global one here.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// Subscription subjects (`subs=1`).
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub subs_list: Vec<String>,
    /// Subscription details (`subs=detail`).
    #[serde(
        rename = "subscriptions_list_detail",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subs_detail: Vec<SubDetail>,
    /// The account's name tag (`auth=1`, open connections).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    /// Round-trip time in nanoseconds, for `sort=rtt`.
    #[serde(skip)]
    pub rtt_nanos: u128,
    /// Uptime in nanoseconds (to close for closed ones), for `sort=uptime`.
    #[serde(skip)]
    pub uptime_nanos: u128,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn str_is_empty(s: &&str) -> bool {
    s.is_empty()
}

/// Go's `getRTT` formatting: truncated to whole microseconds between 1 µs and 1 ms,
/// then `time.Duration.String()`.
pub fn go_rtt(rtt: Duration) -> String {
    let ns = i64::try_from(rtt.as_nanos()).unwrap_or(i64::MAX);
    let ns = if ns > 1_000 && ns < 1_000_000 {
        ns / 1_000 * 1_000
    } else {
        ns
    };
    go_duration_string(ns)
}

/// The wall-clock time of `at`, given the wall and monotonic times of one instant.
fn wall_of(base_wall: GoTime, base: Instant, at: Instant) -> GoTime {
    let since = at.saturating_duration_since(base).as_nanos() as i128;
    GoTime::from_unix_nanos(base_wall.unix_nanos() + since)
}

/// What `subs=` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubsMode {
    /// No subscription lists.
    None,
    /// `subs=1`: subjects only.
    List,
    /// `subs=detail`: [`SubDetail`]s.
    Detail,
}

/// Which connections `state=` selects (Go's `ConnState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Open ones (the default).
    Open,
    /// Closed ones.
    Closed,
    /// Both (`all` or `any`).
    All,
}

/// Go's `SortOpt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOpt {
    /// `cid` (the default), ascending.
    Cid,
    /// `start`: the same order as `cid`.
    Start,
    /// `subs`: most subscriptions first.
    Subs,
    /// `pending`: most pending bytes first.
    Pending,
    /// `msgs_to`: most messages delivered first.
    MsgsTo,
    /// `msgs_from`: most messages published first.
    MsgsFrom,
    /// `bytes_to`: most bytes delivered first.
    BytesTo,
    /// `bytes_from`: most bytes published first.
    BytesFrom,
    /// `last`: most recent activity first.
    Last,
    /// `idle`: longest idle first.
    Idle,
    /// `uptime`: shortest uptime first (Go does not reverse this one).
    Uptime,
    /// `stop`: most recently closed first (closed connections only).
    Stop,
    /// `reason`: by reason text, ascending (closed connections only).
    Reason,
    /// `rtt`: longest round trip first.
    Rtt,
}

impl SortOpt {
    /// Go's `SortOpt.IsValid` and the value; "" is the default (`cid`).
    pub fn parse(s: &str) -> Option<SortOpt> {
        Some(match s {
            "" | "cid" => SortOpt::Cid,
            "start" => SortOpt::Start,
            "subs" => SortOpt::Subs,
            "pending" => SortOpt::Pending,
            "msgs_to" => SortOpt::MsgsTo,
            "msgs_from" => SortOpt::MsgsFrom,
            "bytes_to" => SortOpt::BytesTo,
            "bytes_from" => SortOpt::BytesFrom,
            "last" => SortOpt::Last,
            "idle" => SortOpt::Idle,
            "uptime" => SortOpt::Uptime,
            "stop" => SortOpt::Stop,
            "reason" => SortOpt::Reason,
            "rtt" => SortOpt::Rtt,
            _ => return None,
        })
    }
}

/// Sort as Go's `Connz` does. Go's sort is not stable, so ties come in any order
/// there; here they stay in `cid` order.
pub fn sort_conns(conns: &mut [ConnInfo], by: SortOpt) {
    conns.sort_by_key(|c| c.cid);
    let key: fn(&ConnInfo, &ConnInfo) -> Ordering = match by {
        SortOpt::Cid | SortOpt::Start => return,
        SortOpt::Subs => |a, b| b.subscriptions.cmp(&a.subscriptions),
        SortOpt::Pending => |a, b| b.pending_bytes.cmp(&a.pending_bytes),
        SortOpt::MsgsTo => |a, b| b.out_msgs.cmp(&a.out_msgs),
        SortOpt::MsgsFrom => |a, b| b.in_msgs.cmp(&a.in_msgs),
        SortOpt::BytesTo => |a, b| b.out_bytes.cmp(&a.out_bytes),
        SortOpt::BytesFrom => |a, b| b.in_bytes.cmp(&a.in_bytes),
        SortOpt::Last => |a, b| {
            b.last_activity
                .unix_nanos()
                .cmp(&a.last_activity.unix_nanos())
        },
        // Longest idle first: the oldest activity first.
        SortOpt::Idle => |a, b| {
            a.last_activity
                .unix_nanos()
                .cmp(&b.last_activity.unix_nanos())
        },
        SortOpt::Uptime => |a, b| a.uptime_nanos.cmp(&b.uptime_nanos),
        SortOpt::Stop => |a, b| {
            let stop = |c: &ConnInfo| c.stop.map_or(0, |s| s.unix_nanos());
            stop(b).cmp(&stop(a))
        },
        SortOpt::Reason => |a, b| a.reason.cmp(b.reason),
        SortOpt::Rtt => |a, b| b.rtt_nanos.cmp(&a.rtt_nanos),
    };
    conns.sort_by(key);
}

/// Go's paging: `[offset, offset + limit)` clamped to the list.
pub fn page<T>(items: Vec<T>, offset: i64, limit: i64) -> Vec<T> {
    let len = items.len();
    let start = usize::try_from(offset.max(0))
        .unwrap_or(usize::MAX)
        .min(len);
    let take = usize::try_from(limit.max(0))
        .unwrap_or(usize::MAX)
        .min(len - start);
    items.into_iter().skip(start).take(take).collect()
}

/// A closed connection as `/connz?state=closed` shows it.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    /// Its figures when it closed, `stop` and `reason` set, no subscription lists.
    pub info: ConnInfo,
    /// Its subscriptions when it closed, with the account (Go's `newSubDetail`).
    pub subs: Vec<SubDetail>,
}

impl ClosedConn {
    /// The entry as a request wants it: with the subscription lists it asked for.
    fn view(&self, subs: SubsMode) -> ConnInfo {
        let mut info = self.info.clone();
        match subs {
            SubsMode::None => {}
            SubsMode::List => {
                info.subs_list = self.subs.iter().map(|s| s.subject.clone()).collect()
            }
            SubsMode::Detail => info.subs_detail = self.subs.clone(),
        }
        info
    }
}

/// Closed-connection limits up to this are kept whole on every core (exact answers);
/// larger ones are split between the cores (see the module documentation).
pub const CLOSED_EXACT_UP_TO: usize = 1024;

/// How many closed connections one core keeps for `max_closed_clients` (0 means Go's
/// default): its share, rounded up, and at least the whole of a small limit.
pub fn closed_share(max_closed: usize, cores: usize) -> usize {
    let max = closed_limit(max_closed);
    max.div_ceil(cores.max(1)).max(max.min(CLOSED_EXACT_UP_TO))
}

/// The server-wide limit of closed connections kept (0 in the options is Go's default).
fn closed_limit(max_closed: usize) -> usize {
    if max_closed == 0 {
        DEFAULT_MAX_CLOSED_CLIENTS
    } else {
        max_closed
    }
}

/// Remember `client`, closing for `reason`, in its core's ring of closed connections.
/// Called once per connection, as it starts closing (its subscriptions still there).
pub fn record_closed(shard: &Shard, client: &Client, reason: CloseReason) {
    if shard.opts.http_port == 0 {
        return;
    }
    let cap = closed_share(shard.opts.max_closed_clients, shard.shards);
    let now = Instant::now();
    let mut info = conn_info(client, now, SubsMode::None, false);
    info.stop = Some(GoTime::now());
    info.reason = reason_text(reason);
    let mut subs: Vec<SubDetail> = client
        .subscriptions()
        .iter()
        .filter_map(|s| SubDetail::of(s, true))
        .collect();
    sort_subs(&mut subs);
    let mut ring = shard.closed.borrow_mut();
    while ring.len() >= cap {
        ring.pop_front();
    }
    ring.push_back(ClosedConn { info, subs });
}

/// One open connection's `ConnInfo`, on its own core; `now` is the moment of the
/// request (or of the close).
fn conn_info(c: &Client, now: Instant, subs: SubsMode, auth: bool) -> ConnInfo {
    let (start, accepted) = c.accepted();
    let last = c.last_activity();
    let (name, lang, version) = c.identity();
    let rtt = c.rtt();
    let peer = c.peer();
    let uptime = now.saturating_duration_since(accepted);
    let mut subs_list = Vec::new();
    let mut subs_detail = Vec::new();
    if subs != SubsMode::None {
        let mut d: Vec<SubDetail> = c
            .subscriptions()
            .iter()
            .filter_map(|s| SubDetail::of(s, false))
            .collect();
        sort_subs(&mut d);
        match subs {
            SubsMode::List => subs_list = d.into_iter().map(|s| s.subject).collect(),
            _ => subs_detail = d,
        }
    }
    ConnInfo {
        cid: c.cid,
        kind: "Client",
        conn_type: "nats",
        ip: peer.ip().to_string(),
        port: peer.port(),
        start,
        last_activity: wall_of(start, accepted, last),
        stop: None,
        reason: "",
        rtt: go_rtt(rtt),
        uptime: go_uptime(uptime),
        idle: go_uptime(now.saturating_duration_since(last)),
        pending_bytes: c.pending_bytes() as u64,
        in_msgs: c.stats.inbound.msgs(),
        out_msgs: c.stats.outbound.msgs(),
        in_bytes: c.stats.inbound.bytes(),
        out_bytes: c.stats.outbound.bytes(),
        stalls: c.stats.stalls.get(),
        subscriptions: u32::try_from(c.subscription_count()).unwrap_or(u32::MAX),
        name,
        lang,
        version,
        authorized_user: String::new(),
        account: String::new(),
        subs_list,
        subs_detail,
        // Go shows the account's tag (its name when untagged) for open connections.
        name_tag: if auth {
            GLOBAL_ACCOUNT.to_string()
        } else {
            String::new()
        },
        rtt_nanos: rtt.as_nanos(),
        uptime_nanos: uptime.as_nanos(),
    }
}

/// What one core is asked for.
#[derive(Debug, Clone, Copy)]
struct CoreRequest {
    /// Open, closed or both.
    state: ConnState,
    /// Only this connection; 0 = all.
    cid: u64,
    /// Subscription lists wanted.
    subs: SubsMode,
    /// `auth=1`.
    auth: bool,
    /// The moment of the request, the same for every core: uptimes and idle times
    /// measured at each core's own "now" would differ by the cross-core call and
    /// could reorder connections started moments apart (`sort=uptime`).
    now: Instant,
}

/// One core's answer.
#[derive(Debug, Default)]
struct CoreConns {
    /// Its open connections (all of them, whatever `cid` selects).
    open_total: usize,
    /// The open connections selected.
    open: Vec<ConnInfo>,
    /// Its closed connections remembered.
    closed_total: usize,
    /// The closed connections selected, oldest first.
    closed: Vec<ConnInfo>,
}

/// One core's connections for `req`, as owned values.
fn collect(shard: &Shard, req: CoreRequest) -> CoreConns {
    let now = req.now;
    let mut out = CoreConns::default();
    let wanted = |cid: u64| req.cid == 0 || cid == req.cid;
    if req.state != ConnState::Closed {
        let clients = shard.clients();
        out.open_total = clients.len();
        out.open = clients
            .iter()
            .filter(|c| wanted(c.cid))
            .map(|c| conn_info(c, now, req.subs, req.auth))
            .collect();
    }
    if req.state != ConnState::Open {
        let ring = shard.closed.borrow();
        out.closed_total = ring.len();
        out.closed = ring
            .iter()
            .filter(|cc| wanted(cc.info.cid))
            .map(|cc| cc.view(req.subs))
            .collect();
    }
    out
}

/// Go's `Connz`.
#[derive(Debug, Serialize)]
pub struct Connz {
    /// Server id ("" in Go's answer for an unknown account).
    pub server_id: String,
    /// When the answer was made.
    pub now: GoTime,
    /// Connections in this page.
    pub num_connections: usize,
    /// Connections in the selected state (before paging and most filters, as Go).
    pub total: usize,
    /// The page's offset.
    pub offset: i64,
    /// The page size.
    pub limit: i64,
    /// The page (`null` in Go's answer for an unknown account).
    pub connections: Option<Vec<ConnInfo>>,
}

/// The request's parameters (Go's `ConnzOptions`, as `HandleConnz` decodes them).
#[derive(Debug, Clone)]
pub struct ConnzOptions {
    /// `sort`, checked later (Go checks it after decoding everything else).
    pub sort: String,
    /// `auth`.
    pub auth: bool,
    /// `subs`.
    pub subs: SubsMode,
    /// `offset`.
    pub offset: i64,
    /// `limit`.
    pub limit: i64,
    /// `cid`.
    pub cid: u64,
    /// `state`.
    pub state: ConnState,
    /// `user`.
    pub user: String,
    /// `acc`.
    pub acc: String,
    /// `mqtt_client`.
    pub mqtt_client: String,
}

impl ConnzOptions {
    /// Decode in Go's order, with Go's 400 answers.
    pub fn from_query(q: &Query) -> Result<ConnzOptions, Response> {
        let sort = q.get("sort").to_string();
        let auth = q.bool("auth")?;
        let subs = decode_subs(q)?;
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let cid = q.uint64("cid")?;
        let state = match q.get("state").to_ascii_lowercase().as_str() {
            "" | "open" => ConnState::Open,
            "closed" => ConnState::Closed,
            "any" | "all" => ConnState::All,
            _ => {
                return Err(bad_request(format!(
                    "Error decoding state for {}",
                    q.get("state")
                )))
            }
        };
        Ok(ConnzOptions {
            sort,
            auth,
            subs,
            offset,
            limit,
            cid,
            state,
            user: q.get("user").to_string(),
            acc: q.get("acc").to_string(),
            mqtt_client: q.get("mqtt_client").to_string(),
        })
    }
}

/// Go's `decodeSubs`: `detail` (any case) or a boolean.
pub fn decode_subs(q: &Query) -> Result<SubsMode, Response> {
    if q.get("subs").eq_ignore_ascii_case("detail") {
        return Ok(SubsMode::Detail);
    }
    Ok(if q.bool("subs")? {
        SubsMode::List
    } else {
        SubsMode::None
    })
}

/// Go's answer to a request it cannot serve: 400 and the error text, no newline.
pub fn bad_request(text: String) -> Response {
    let mut r = Response::error(400, "");
    r.body = text.into_bytes();
    r
}

/// `/connz`.
pub async fn handle(m: &Monitor, q: &Query) -> Response {
    let opts = match ConnzOptions::from_query(q) {
        Ok(o) => o,
        Err(r) => return r,
    };
    match build(m, &opts).await {
        Ok(c) => json::respond(&c),
        Err(text) => bad_request(text),
    }
}

/// The `/connz` document, or Go's error text.
pub async fn build(m: &Monitor, opts: &ConnzOptions) -> Result<Connz, String> {
    let sort = SortOpt::parse(&opts.sort)
        .ok_or_else(|| format!("invalid sorting option: {}", opts.sort))?;
    let offset = opts.offset.max(0);
    let mut limit = if opts.limit <= 0 {
        DEFAULT_CONN_LIST_SIZE
    } else {
        opts.limit
    };
    if sort == SortOpt::Stop && opts.state != ConnState::Closed {
        return Err("sort by stop only valid on closed connections".into());
    }
    if sort == SortOpt::Reason && opts.state != ConnState::Closed {
        return Err("sort by reason only valid on closed connections".into());
    }
    if opts.cid > 0 {
        limit = 1;
    }
    let now = GoTime::now();
    if !opts.acc.is_empty() && opts.acc != GLOBAL_ACCOUNT {
        // Go answers an unknown account with its half-filled document: no server id
        // and `null` connections. `$G` is the only account jetcore has.
        return Ok(Connz {
            server_id: String::new(),
            now,
            num_connections: 0,
            total: 0,
            offset,
            limit,
            connections: None,
        });
    }
    let req = CoreRequest {
        state: opts.state,
        cid: opts.cid,
        subs: opts.subs,
        auth: opts.auth,
        now: Instant::now(),
    };
    let cores = m
        .on_every_core(move |shard| async move { collect(&shard, req) })
        .await;
    let max_closed = closed_limit(m.shard.opts.max_closed_clients);
    let merged = merge(cores, max_closed);
    let mut total = match opts.state {
        ConnState::Open => merged.open_total,
        ConnState::Closed => merged.closed_total,
        ConnState::All => merged.open_total + merged.closed_total,
    };
    let (mut open, mut closed) = (merged.open, merged.closed);
    if opts.acc == GLOBAL_ACCOUNT && !closed.is_empty() {
        // Go keeps no account name for closed connections of the global account, so
        // an `acc=$G` filter drops them (and they leave the total).
        total -= closed.len();
        closed.clear();
    }
    // No authentication and no MQTT in jetcore: every connection's user and MQTT
    // client id are empty, so these filters (when given) match nobody.
    let matches_filters = opts.user.is_empty() && opts.mqtt_client.is_empty();
    if opts.cid > 0 {
        // Go looks the id up among open connections without the user filters, and
        // among closed ones only when no open one has it.
        if !open.is_empty() {
            closed.clear();
        }
    } else if !matches_filters {
        open.clear();
    }
    if !matches_filters {
        closed.clear();
    }
    if open.is_empty() && closed.is_empty() {
        return Ok(Connz {
            server_id: m.server_id().to_string(),
            now,
            num_connections: 0,
            total,
            offset,
            limit,
            connections: Some(Vec::new()),
        });
    }
    let mut all = open;
    all.append(&mut closed);
    sort_conns(&mut all, sort);
    let conns = page(all, offset, limit);
    Ok(Connz {
        server_id: m.server_id().to_string(),
        now,
        num_connections: conns.len(),
        total,
        offset,
        limit,
        connections: Some(conns),
    })
}

/// Every core's connections together.
#[derive(Debug, Default)]
struct Merged {
    /// Open connections on all cores.
    open_total: usize,
    /// The selected open connections.
    open: Vec<ConnInfo>,
    /// Closed connections remembered, at most the server-wide limit.
    closed_total: usize,
    /// The selected closed connections, the newest `max_closed` at most.
    closed: Vec<ConnInfo>,
}

/// Merge the cores' answers; closed connections are cut to the newest `max_closed`.
fn merge(cores: Vec<CoreConns>, max_closed: usize) -> Merged {
    let mut m = Merged::default();
    let mut closed_total = 0;
    for c in cores {
        m.open_total += c.open_total;
        closed_total += c.closed_total;
        m.open.extend(c.open);
        m.closed.extend(c.closed);
    }
    m.closed_total = closed_total.min(max_closed);
    if m.closed.len() > max_closed {
        m.closed
            .sort_by_key(|c| c.stop.map_or(0, |s| s.unix_nanos()));
        let excess = m.closed.len() - max_closed;
        m.closed.drain(..excess);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(cid: u64) -> ConnInfo {
        ConnInfo {
            cid,
            kind: "Client",
            conn_type: "nats",
            ip: "127.0.0.1".into(),
            port: 1,
            start: GoTime::from_unix_nanos(1_000),
            last_activity: GoTime::from_unix_nanos(2_000),
            stop: None,
            reason: "",
            rtt: "0s".into(),
            uptime: "0s".into(),
            idle: "0s".into(),
            pending_bytes: 0,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            stalls: 0,
            subscriptions: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            authorized_user: String::new(),
            account: String::new(),
            subs_list: Vec::new(),
            subs_detail: Vec::new(),
            name_tag: String::new(),
            rtt_nanos: 0,
            uptime_nanos: 0,
        }
    }

    fn cids(c: &[ConnInfo]) -> Vec<u64> {
        c.iter().map(|c| c.cid).collect()
    }

    #[test]
    fn every_go_sort_option_parses_and_others_do_not() {
        for s in [
            "",
            "cid",
            "start",
            "subs",
            "pending",
            "msgs_to",
            "msgs_from",
            "bytes_to",
            "bytes_from",
            "last",
            "idle",
            "uptime",
            "stop",
            "reason",
            "rtt",
        ] {
            assert!(SortOpt::parse(s).is_some(), "{s}");
        }
        for s in ["CID", "foo", "msgs"] {
            assert!(SortOpt::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn sorts_like_go() {
        let mut v: Vec<ConnInfo> = (1..=4).map(conn).collect();
        v[0].subscriptions = 1;
        v[1].subscriptions = 3;
        v[2].subscriptions = 3;
        v[3].subscriptions = 2;
        v[0].out_msgs = 9;
        v[1].in_bytes = 9;
        v[2].rtt_nanos = 5;
        v[3].uptime_nanos = 1;
        v[0].uptime_nanos = 7;
        v[1].uptime_nanos = 3;
        v[2].uptime_nanos = 5;
        v[2].last_activity = GoTime::from_unix_nanos(9_000);
        v[3].last_activity = GoTime::from_unix_nanos(500);
        v[0].reason = "Stale Connection";
        v[1].reason = "Client Closed";
        v[2].reason = "Write Error";
        v[3].reason = "Client Closed";
        let sorted = |by| {
            let mut w = v.clone();
            w.reverse();
            sort_conns(&mut w, by);
            cids(&w)
        };
        assert_eq!(sorted(SortOpt::Cid), [1, 2, 3, 4]);
        assert_eq!(sorted(SortOpt::Start), [1, 2, 3, 4]);
        // Descending, ties in cid order.
        assert_eq!(sorted(SortOpt::Subs), [2, 3, 4, 1]);
        assert_eq!(sorted(SortOpt::MsgsTo), [1, 2, 3, 4]);
        assert_eq!(sorted(SortOpt::BytesFrom), [2, 1, 3, 4]);
        assert_eq!(sorted(SortOpt::Rtt), [3, 1, 2, 4]);
        // Ascending: Go does not reverse uptime or reason.
        assert_eq!(sorted(SortOpt::Uptime), [4, 2, 3, 1]);
        assert_eq!(sorted(SortOpt::Reason), [2, 4, 1, 3]);
        assert_eq!(sorted(SortOpt::Last), [3, 1, 2, 4]);
        assert_eq!(sorted(SortOpt::Idle), [4, 1, 2, 3]);
        let mut w = v.clone();
        w[0].stop = Some(GoTime::from_unix_nanos(5));
        w[1].stop = Some(GoTime::from_unix_nanos(50));
        w[2].stop = Some(GoTime::from_unix_nanos(20));
        w[3].stop = Some(GoTime::from_unix_nanos(1));
        sort_conns(&mut w, SortOpt::Stop);
        assert_eq!(cids(&w), [2, 3, 1, 4]);
    }

    #[test]
    fn pages_like_go() {
        let v: Vec<u32> = (0..5).collect();
        assert_eq!(page(v.clone(), 0, 1024), [0, 1, 2, 3, 4]);
        assert_eq!(page(v.clone(), 1, 2), [1, 2]);
        assert_eq!(page(v.clone(), 4, 10), [4]);
        assert_eq!(page(v.clone(), 5, 10), Vec::<u32>::new());
        assert_eq!(page(v.clone(), 99, 10), Vec::<u32>::new());
        assert_eq!(page(v, -3, 2), [0, 1]);
    }

    #[test]
    fn options_decode_like_go() {
        let o = ConnzOptions::from_query(&Query::parse(
            "subs=Detail&state=ANY&cid=7&offset=-2&limit=0&sort=rtt&acc=%24G",
        ))
        .unwrap();
        assert_eq!(
            (o.subs, o.state, o.cid),
            (SubsMode::Detail, ConnState::All, 7)
        );
        assert_eq!((o.offset, o.limit, o.sort.as_str()), (-2, 0, "rtt"));
        assert_eq!(o.acc, "$G");
        let o = ConnzOptions::from_query(&Query::parse("subs=1")).unwrap();
        assert_eq!((o.subs, o.state), (SubsMode::List, ConnState::Open));
        let err = |q: &str| {
            let r = ConnzOptions::from_query(&Query::parse(q)).unwrap_err();
            (r.status, String::from_utf8(r.body).unwrap())
        };
        assert_eq!(err("state=x"), (400, "Error decoding state for x".into()));
        assert_eq!(
            err("subs=2").1,
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"2\": invalid syntax"
        );
    }

    #[test]
    fn reasons_are_go_words() {
        assert_eq!(reason_text(CloseReason::ClientClosed), "Client Closed");
        assert_eq!(
            reason_text(CloseReason::SlowConsumerPendingBytes),
            "Slow Consumer (Pending Bytes)"
        );
        assert_eq!(
            reason_text(CloseReason::MaxPayloadExceeded),
            "Maximum Message Payload Exceeded"
        );
        assert_eq!(reason_text(CloseReason::ParseError), "Parse Error");
        assert_eq!(reason_text(CloseReason::ServerShutdown), "Server Shutdown");
    }

    #[test]
    fn rtt_is_truncated_like_go() {
        assert_eq!(go_rtt(Duration::ZERO), "0s");
        assert_eq!(go_rtt(Duration::from_nanos(999)), "999ns");
        assert_eq!(go_rtt(Duration::from_nanos(589_123)), "589µs");
        assert_eq!(go_rtt(Duration::from_nanos(4_870_781)), "4.870781ms");
        assert_eq!(go_rtt(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn closed_share_splits_the_limit() {
        assert_eq!(closed_share(10_000, 1), 10_000);
        assert_eq!(closed_share(10_000, 3), 3_334);
        assert_eq!(closed_share(0, 2), DEFAULT_MAX_CLOSED_CLIENTS / 2);
        assert_eq!(closed_share(10_000, 64), CLOSED_EXACT_UP_TO);
        // Small limits are kept whole by every core.
        assert_eq!(closed_share(1, 4), 1);
        assert_eq!(closed_share(2, 2), 2);
        assert_eq!(closed_share(1000, 8), 1000);
    }

    #[test]
    fn merge_keeps_the_newest_closed() {
        let closed = |cid: u64, stop: i128| {
            let mut c = conn(cid);
            c.stop = Some(GoTime::from_unix_nanos(stop));
            c
        };
        let a = CoreConns {
            open_total: 2,
            open: vec![conn(1)],
            closed_total: 2,
            closed: vec![closed(10, 100), closed(11, 300)],
        };
        let b = CoreConns {
            open_total: 1,
            open: vec![conn(2)],
            closed_total: 2,
            closed: vec![closed(12, 200), closed(13, 400)],
        };
        let m = merge(vec![a, b], 3);
        assert_eq!((m.open_total, m.closed_total), (3, 3));
        assert_eq!(cids(&m.open), [1, 2]);
        let mut kept = cids(&m.closed);
        kept.sort_unstable();
        assert_eq!(kept, [11, 12, 13]);
    }

    #[test]
    fn conn_info_json_follows_go_omitempty() {
        let mut c = conn(5);
        let text = String::from_utf8(json::to_go_json_pretty(&c)).unwrap();
        for absent in [
            "stop",
            "reason",
            "stalls",
            "name",
            "subscriptions_list",
            "name_tag",
        ] {
            assert!(
                !text.contains(&format!("\"{absent}\"")),
                "{absent} in {text}"
            );
        }
        c.stop = Some(GoTime::from_unix_nanos(1));
        c.reason = "Client Closed";
        c.subs_detail = vec![SubDetail {
            account: String::new(),
            account_tag: String::new(),
            subject: "foo".into(),
            queue: String::new(),
            sid: "1".into(),
            msgs: 0,
            max: 0,
            cid: 5,
        }];
        let v: serde_json::Value = serde_json::from_slice(&json::to_go_json_pretty(&c)).unwrap();
        assert_eq!(v["reason"], "Client Closed");
        assert_eq!(
            v["subscriptions_list_detail"][0],
            serde_json::json!({"subject": "foo", "sid": "1", "msgs": 0, "cid": 5})
        );
        let text = String::from_utf8(json::to_go_json_pretty(&c)).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        assert!(at("cid") < at("kind") && at("kind") < at("type") && at("stop") < at("reason"));
    }
}
