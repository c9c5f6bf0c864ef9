//! `/routez`, `/gatewayz`, `/leafz`: jetcore has no routes, gateways or leaf nodes
//! yet, so these answer Go's documents for a server without them (what a standalone
//! Go server answers), rather than 404, so dashboards that poll them keep working.

use serde::Serialize;

use super::{json, Monitor, Query, Response};
use crate::jetstream::gotime::GoTime;

/// Go's `Routez` without routes.
#[derive(Debug, Serialize)]
struct Routez<'a> {
    /// Server id.
    server_id: &'a str,
    /// Server name.
    server_name: &'a str,
    /// Now.
    now: GoTime,
    /// Routes connected.
    num_routes: u32,
    /// The routes.
    routes: [(); 0],
}

/// Go's `Gatewayz` without gateways.
#[derive(Debug, Serialize)]
struct Gatewayz<'a> {
    /// Server id.
    server_id: &'a str,
    /// Now.
    now: GoTime,
    /// Outbound gateways by name.
    outbound_gateways: std::collections::BTreeMap<String, ()>,
    /// Inbound gateways by name.
    inbound_gateways: std::collections::BTreeMap<String, ()>,
}

/// Go's `Leafz` without leaf nodes.
#[derive(Debug, Serialize)]
struct Leafz<'a> {
    /// Server id.
    server_id: &'a str,
    /// Now.
    now: GoTime,
    /// Leaf nodes connected.
    leafnodes: u32,
    /// The leaf nodes.
    leafs: [(); 0],
}

/// Go's `decodeSubs` check, which `/routez` and `/leafz` run before answering.
fn check_subs(query: &Query) -> Result<(), Response> {
    if query.get("subs").eq_ignore_ascii_case("detail") {
        return Ok(());
    }
    query.bool("subs").map(|_| ())
}

/// `/routez`.
pub fn routez(m: &Monitor, query: &Query) -> Response {
    if let Err(r) = check_subs(query) {
        return r;
    }
    json::respond(&Routez {
        server_id: m.server_id(),
        server_name: &m.shard.info.server_name,
        now: GoTime::now(),
        num_routes: 0,
        routes: [],
    })
}

/// `/gatewayz`.
pub fn gatewayz(m: &Monitor, _query: &Query) -> Response {
    json::respond(&Gatewayz {
        server_id: m.server_id(),
        now: GoTime::now(),
        outbound_gateways: Default::default(),
        inbound_gateways: Default::default(),
    })
}

/// `/leafz`.
pub fn leafz(m: &Monitor, query: &Query) -> Response {
    if let Err(r) = check_subs(query) {
        return r;
    }
    json::respond(&Leafz {
        server_id: m.server_id(),
        now: GoTime::now(),
        leafnodes: 0,
        leafs: [],
    })
}
