//! `/accountz` and `/accstatz`: accounts, as Go's `Accountz` and `AccountStatz`.
//!
//! jetcore has one account, Go's global account `$G`, which every client is in. There
//! is no system account (`$SYS`): jetcore's monitoring is this HTTP port, not
//! `$SYS.REQ.>` requests, so `system_account` is left out, as Go leaves it out when
//! it runs without one, and `$G` has none of the service imports Go gives it from
//! `$SYS`. The account's figures are every core's: its connections, its subject
//! index (client and internal subscriptions, see `subsz.rs`) and its traffic.

use serde::Serialize;

use super::connz::bad_request;
use super::subsz::GoSublistStats;
use super::{json, Monitor, Query, Response};
use crate::client::GLOBAL_ACCOUNT;
use crate::jetstream::gotime::GoTime;
use crate::stats::ShardSnapshot;
use crate::sublist::SublistStats;

/// Go's `AccountInfo` (`account_detail`), with the fields jetcore can have; the
/// others (JWT, mappings, exports, imports, revocations...) are `omitempty` in Go and
/// empty here.
#[derive(Debug, Serialize)]
pub struct AccountInfo {
    /// The account's name.
    pub account_name: String,
    /// When the account was last updated: for `$G`, when the server started.
    pub update_time: GoTime,
    /// Whether it is the system account (never: there is none).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_system: bool,
    /// Whether its JWT expired (no JWTs).
    pub expired: bool,
    /// Whether its configuration is complete.
    pub complete: bool,
    /// Whether JetStream is enabled for it.
    pub jetstream_enabled: bool,
    /// Leaf node connections (none).
    pub leafnode_connections: u64,
    /// Client connections.
    pub client_connections: u64,
    /// Subscriptions in its index.
    pub subscriptions: u32,
    /// Its name tag (its name, without one).
    pub name_tag: String,
    /// Its index's figures.
    pub sublist_stats: GoSublistStats,
}

/// Go's `Accountz`.
#[derive(Debug, Serialize)]
pub struct Accountz {
    /// Server id.
    pub server_id: String,
    /// When the answer was made.
    pub now: GoTime,
    /// The system account's name; jetcore has none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    /// Account names (without `acc=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<String>>,
    /// One account's details (`acc=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_detail: Option<AccountInfo>,
}

/// Go's `MsgBytes`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MsgBytes {
    /// Messages.
    pub msgs: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Go's `DataStats`: totals, then the share over gateways, routes and leaf nodes
/// (always zero: jetcore has none).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DataStats {
    /// Messages (Go's embedded `MsgBytes`).
    pub msgs: u64,
    /// Bytes.
    pub bytes: u64,
    /// Over gateways.
    pub gateways: MsgBytes,
    /// Over routes.
    pub routes: MsgBytes,
    /// Over leaf nodes.
    pub leafs: MsgBytes,
}

impl DataStats {
    /// Client traffic only.
    fn clients(msgs: u64, bytes: u64) -> DataStats {
        DataStats {
            msgs,
            bytes,
            ..DataStats::default()
        }
    }
}

/// Go's `AccountStat`.
#[derive(Debug, Serialize)]
pub struct AccountStat {
    /// Account name.
    pub acc: String,
    /// Its name tag.
    pub name: String,
    /// Client connections.
    pub conns: u64,
    /// Leaf node connections (none).
    pub leafnodes: u64,
    /// Both.
    pub total_conns: u64,
    /// Subscriptions in its index.
    pub num_subscriptions: u32,
    /// Delivered to its clients.
    pub sent: DataStats,
    /// Published by its clients.
    pub received: DataStats,
    /// Its clients closed as slow consumers.
    pub slow_consumers: u64,
}

/// Go's `AccountStatz`.
#[derive(Debug, Serialize)]
pub struct AccountStatz {
    /// Server id.
    pub server_id: String,
    /// When the answer was made.
    pub now: GoTime,
    /// The accounts.
    pub account_statz: Vec<AccountStat>,
}

/// Every core's figures for the global account: totals and merged index figures.
async fn global_account(m: &Monitor) -> (ShardSnapshot, GoSublistStats) {
    let cores = m
        .on_every_core(|shard| async move { (shard.snapshot(), shard.sublist_stats()) })
        .await;
    let snaps: Vec<ShardSnapshot> = cores.iter().map(|(s, _)| *s).collect();
    let stats: Vec<SublistStats> = cores.iter().map(|(_, s)| *s).collect();
    (ShardSnapshot::total(&snaps), GoSublistStats::merged(&stats))
}

/// `/accountz`.
pub async fn handle(m: &Monitor, q: &Query) -> Response {
    let acc = q.get("acc");
    let mut doc = Accountz {
        server_id: m.server_id().to_string(),
        now: GoTime::now(),
        system_account: String::new(),
        accounts: None,
        account_detail: None,
    };
    if acc.is_empty() {
        doc.accounts = Some(vec![GLOBAL_ACCOUNT.to_string()]);
        return json::respond(&doc);
    }
    if acc != GLOBAL_ACCOUNT {
        return bad_request(format!("Account {acc} does not exist"));
    }
    let (totals, sublist) = global_account(m).await;
    doc.account_detail = Some(AccountInfo {
        account_name: GLOBAL_ACCOUNT.to_string(),
        update_time: m.started,
        is_system: false,
        expired: false,
        complete: true,
        jetstream_enabled: m.shard.jetstream.get().is_some(),
        leafnode_connections: 0,
        client_connections: totals.connections,
        subscriptions: sublist.num_subscriptions,
        name_tag: GLOBAL_ACCOUNT.to_string(),
        sublist_stats: sublist,
    });
    json::respond(&doc)
}

/// `/accstatz`: accounts with connections, or all with `unused=1`. (Go's handler reads
/// only `unused`; its account list option is for `$SYS` requests.)
pub async fn accstatz(m: &Monitor, q: &Query) -> Response {
    let unused = match q.bool("unused") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (t, sublist) = global_account(m).await;
    let mut doc = AccountStatz {
        server_id: m.server_id().to_string(),
        now: GoTime::now(),
        account_statz: Vec::new(),
    };
    if unused || t.connections != 0 {
        doc.account_statz.push(AccountStat {
            acc: GLOBAL_ACCOUNT.to_string(),
            name: GLOBAL_ACCOUNT.to_string(),
            conns: t.connections,
            leafnodes: 0,
            total_conns: t.connections,
            num_subscriptions: sublist.num_subscriptions,
            sent: DataStats::clients(t.out_msgs, t.out_bytes),
            received: DataStats::clients(t.in_msgs, t.in_bytes),
            slow_consumers: t.slow_consumers,
        });
    }
    json::respond(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_stat_json_has_go_layout() {
        let s = AccountStat {
            acc: "$G".into(),
            name: "$G".into(),
            conns: 1,
            leafnodes: 0,
            total_conns: 1,
            num_subscriptions: 2,
            sent: DataStats::clients(3, 4),
            received: DataStats::clients(5, 6),
            slow_consumers: 0,
        };
        let v: serde_json::Value = serde_json::from_slice(&json::to_go_json_pretty(&s)).unwrap();
        assert_eq!(
            v["sent"],
            serde_json::json!({"msgs": 3, "bytes": 4,
                "gateways": {"msgs": 0, "bytes": 0},
                "routes": {"msgs": 0, "bytes": 0},
                "leafs": {"msgs": 0, "bytes": 0}})
        );
        assert_eq!(v["received"]["msgs"], 5);
    }

    #[test]
    fn accountz_leaves_out_what_go_omits() {
        let doc = Accountz {
            server_id: "S".into(),
            now: GoTime::from_unix_nanos(0),
            system_account: String::new(),
            accounts: Some(vec!["$G".into()]),
            account_detail: None,
        };
        let text = String::from_utf8(json::to_go_json_pretty(&doc)).unwrap();
        assert!(!text.contains("system_account") && !text.contains("account_detail"));
        assert!(text.contains("\"accounts\": [\n    \"$G\"\n  ]"));
    }
}
