//! Key-value and object-store features that read through consumers, via async-nats:
//! KV `watch` (put/delete/purge with their operations), wildcard watches, `watch_all`,
//! `watch_with_history`, `watch_from_revision`, `keys`, `history`; object store `get`
//! of a multi-chunk object, `info`, `list`, `watch`, `delete`. All of these use ordered
//! consumers (push with flow control and heartbeats, `headers_only` for `keys`,
//! `last_per_subject` for watch-with-history).
//!
//! Every expectation was captured from the Go reference nats-server 2.15.1
//! (`-js -sd <dir>`). Each test runs its own server.

mod jetstream_common;

use std::time::Duration;

use async_nats::jetstream::{kv, object_store};
use futures::{StreamExt, TryStreamExt};
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::Value;
use tokio::io::AsyncReadExt;

async fn bucket(nc: &async_nats::Client, name: &str, history: i64) -> kv::Store {
    js(nc)
        .create_key_value(kv::Config {
            bucket: name.into(),
            history,
            ..Default::default()
        })
        .await
        .expect("create_key_value")
}

async fn next_entry(w: &mut kv::Watch) -> kv::Entry {
    tokio::time::timeout(T, w.next())
        .await
        .expect("watch entry in time")
        .expect("watch ended")
        .expect("watch error")
}

/// (key, operation, revision, value) of an entry.
fn e(entry: &kv::Entry) -> (String, kv::Operation, u64, String) {
    (
        entry.key.clone(),
        entry.operation,
        entry.revision,
        String::from_utf8_lossy(&entry.value).to_string(),
    )
}

fn want(
    key: &str,
    op: kv::Operation,
    rev: u64,
    value: &str,
) -> (String, kv::Operation, u64, String) {
    (key.to_string(), op, rev, value.to_string())
}

async fn no_entry(w: &mut kv::Watch) {
    if let Ok(Some(x)) = tokio::time::timeout(Duration::from_millis(150), w.next()).await {
        panic!("unexpected watch entry {x:?}");
    }
}

#[tokio::test]
async fn watch_sees_put_delete_and_purge() {
    use kv::Operation::*;
    let s = js_server();
    let nc = client(&s).await;
    let kv = bucket(&nc, "b", 5).await;
    kv.put("k", "old".into()).await.unwrap();
    // `watch` starts with what comes next.
    let mut w = kv.watch("k").await.unwrap();
    kv.put("k", "v1".into()).await.unwrap();
    kv.put("other", "o".into()).await.unwrap();
    kv.delete("k").await.unwrap();
    kv.purge("k").await.unwrap();
    kv.put("k", "v2".into()).await.unwrap();
    let got = [
        e(&next_entry(&mut w).await),
        e(&next_entry(&mut w).await),
        e(&next_entry(&mut w).await),
        e(&next_entry(&mut w).await),
    ];
    assert_eq!(
        got,
        [
            want("k", Put, 2, "v1"),
            want("k", Delete, 4, ""),
            want("k", Purge, 5, ""),
            want("k", Put, 6, "v2"),
        ]
    );
    no_entry(&mut w).await;
    let stream = js(&nc).get_stream("KV_b").await.unwrap();
    assert_eq!(stream.cached_info().config.name, "KV_b");
    // The watch is an ephemeral push consumer on the bucket's stream.
    let names = api(&nc, "$JS.API.CONSUMER.NAMES.KV_b", Value::Null).await;
    assert_eq!(names["total"], 1, "{names}");
}

#[tokio::test]
async fn wildcard_watch_and_watch_all() {
    use kv::Operation::*;
    let s = js_server();
    let nc = client(&s).await;
    let kv = bucket(&nc, "b", 1).await;
    let mut wa = kv.watch("a.*").await.unwrap();
    let mut all = kv.watch_all().await.unwrap();
    let mut many = kv.watch_many(["a.x", "c"]).await.unwrap();
    for (k, v) in [("a.x", "1"), ("b", "2"), ("a.y", "3"), ("c", "4")] {
        kv.put(k, v.into()).await.unwrap();
    }
    kv.delete("a.x").await.unwrap();
    assert_eq!(
        [
            e(&next_entry(&mut wa).await),
            e(&next_entry(&mut wa).await),
            e(&next_entry(&mut wa).await)
        ],
        [
            want("a.x", Put, 1, "1"),
            want("a.y", Put, 3, "3"),
            want("a.x", Delete, 5, "")
        ]
    );
    no_entry(&mut wa).await;
    let mut revs = Vec::new();
    for _ in 0..5 {
        revs.push(next_entry(&mut all).await.revision);
    }
    assert_eq!(revs, [1, 2, 3, 4, 5]);
    no_entry(&mut all).await;
    assert_eq!(
        [
            e(&next_entry(&mut many).await),
            e(&next_entry(&mut many).await),
            e(&next_entry(&mut many).await)
        ],
        [
            want("a.x", Put, 1, "1"),
            want("c", Put, 4, "4"),
            want("a.x", Delete, 5, "")
        ]
    );
}

#[tokio::test]
async fn watch_with_history_and_from_revision() {
    use kv::Operation::*;
    let s = js_server();
    let nc = client(&s).await;
    let kv = bucket(&nc, "b", 5).await;
    kv.put("a", "1".into()).await.unwrap();
    kv.put("a", "2".into()).await.unwrap();
    kv.put("b", "1".into()).await.unwrap();
    kv.delete("b").await.unwrap();
    kv.put("c", "1".into()).await.unwrap();

    // The last entry of each matching key first (deletes included), then live.
    let mut w = kv.watch_with_history(">").await.unwrap();
    let first = [
        next_entry(&mut w).await,
        next_entry(&mut w).await,
        next_entry(&mut w).await,
    ];
    assert_eq!(
        first.iter().map(e).collect::<Vec<_>>(),
        [
            want("a", Put, 2, "2"),
            want("b", Delete, 4, ""),
            want("c", Put, 5, "1")
        ]
    );
    // delta counts down what is left of the initial values.
    assert_eq!(first.iter().map(|x| x.delta).collect::<Vec<_>>(), [2, 1, 0]);
    kv.put("a", "3".into()).await.unwrap();
    assert_eq!(e(&next_entry(&mut w).await), want("a", Put, 6, "3"));
    no_entry(&mut w).await;

    let mut w = kv.watch_with_history("a").await.unwrap();
    assert_eq!(e(&next_entry(&mut w).await), want("a", Put, 6, "3"));
    no_entry(&mut w).await;

    // From a revision: every change of the key from there.
    let mut w = kv.watch_from_revision("a", 2).await.unwrap();
    assert_eq!(e(&next_entry(&mut w).await), want("a", Put, 2, "2"));
    assert_eq!(e(&next_entry(&mut w).await), want("a", Put, 6, "3"));
    no_entry(&mut w).await;
    let mut w = kv.watch_all_from_revision(4).await.unwrap();
    let revs: Vec<u64> = vec![
        next_entry(&mut w).await.revision,
        next_entry(&mut w).await.revision,
        next_entry(&mut w).await.revision,
    ];
    assert_eq!(revs, [4, 5, 6]);
}

#[tokio::test]
async fn keys_and_history() {
    use kv::Operation::*;
    let s = js_server();
    let nc = client(&s).await;
    let kv = bucket(&nc, "b", 10).await;
    // Empty bucket: no keys, no history.
    let keys: Vec<String> = kv.keys().await.unwrap().try_collect().await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    for (k, v) in [
        ("x", "1"),
        ("y", "1"),
        ("x", "2"),
        ("z", "1"),
        ("gone", "1"),
    ] {
        kv.put(k, v.into()).await.unwrap();
    }
    kv.delete("z").await.unwrap();
    kv.purge("gone").await.unwrap();
    kv.put("x", "3".into()).await.unwrap();

    let mut keys: Vec<String> = kv.keys().await.unwrap().try_collect().await.unwrap();
    keys.sort();
    assert_eq!(keys, ["x", "y"], "deleted and purged keys are left out");

    let hist: Vec<kv::Entry> = kv.history("x").await.unwrap().try_collect().await.unwrap();
    assert_eq!(
        hist.iter().map(e).collect::<Vec<_>>(),
        [
            want("x", Put, 1, "1"),
            want("x", Put, 3, "2"),
            want("x", Put, 8, "3")
        ]
    );
    let hist: Vec<kv::Entry> = kv.history("z").await.unwrap().try_collect().await.unwrap();
    assert_eq!(
        hist.iter().map(e).collect::<Vec<_>>(),
        [want("z", Put, 4, "1"), want("z", Delete, 6, "")]
    );
    let hist: Vec<kv::Entry> = kv
        .history("gone")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        hist.iter().map(e).collect::<Vec<_>>(),
        [want("gone", Purge, 7, "")],
        "a purge leaves only its marker"
    );
    // A key that never existed has no history.
    let err = kv.history("never").await;
    match err {
        Ok(h) => {
            let v: Vec<kv::Entry> = h.try_collect().await.unwrap();
            assert!(v.is_empty(), "{v:?}");
        }
        Err(e) => panic!("history of a missing key: {e}"),
    }
}

// ---------------------------------------------------------------- object store

async fn obj_bucket(nc: &async_nats::Client) -> object_store::ObjectStore {
    js(nc)
        .create_object_store(object_store::Config {
            bucket: "files".into(),
            ..Default::default()
        })
        .await
        .expect("create_object_store")
}

#[tokio::test]
async fn object_get_returns_what_was_put() {
    let s = js_server();
    let nc = client(&s).await;
    let store = obj_bucket(&nc).await;
    // 300 KiB in 128 KiB chunks: 3 chunks.
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
    store.put("big.bin", &mut &data[..]).await.unwrap();
    store.put("small", &mut &b"tiny"[..]).await.unwrap();
    let mut obj = store.get("big.bin").await.unwrap();
    assert_eq!((obj.info().size, obj.info().chunks), (data.len(), 3));
    let mut back = Vec::new();
    obj.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "content differs");
    let mut back = Vec::new();
    store
        .get("small")
        .await
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert_eq!(back, b"tiny");

    // An empty object.
    store.put("empty", &mut &b""[..]).await.unwrap();
    let mut back = Vec::new();
    store
        .get("empty")
        .await
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert!(back.is_empty());
    let err = store.get("nope").await.expect_err("missing");
    assert_eq!(err.kind(), object_store::GetErrorKind::NotFound);
}

#[tokio::test]
async fn object_info_list_watch_delete() {
    let s = js_server();
    let nc = client(&s).await;
    let store = obj_bucket(&nc).await;
    let mut w = store.watch().await.unwrap();
    store.put("a", &mut &b"alpha"[..]).await.unwrap();
    store
        .put("b", &mut &vec![7u8; 200 * 1024][..])
        .await
        .unwrap();
    let seen = tokio::time::timeout(T, w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (seen.name.as_str(), seen.size, seen.deleted),
        ("a", 5, false)
    );
    let seen = tokio::time::timeout(T, w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (seen.name.as_str(), seen.size, seen.chunks),
        ("b", 200 * 1024, 2)
    );

    let info = store.info("b").await.unwrap();
    assert_eq!(
        (info.size, info.chunks, info.bucket.as_str()),
        (200 * 1024, 2, "files")
    );
    let mut names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .map(|i| i.unwrap().name)
        .collect()
        .await;
    names.sort();
    assert_eq!(names, ["a", "b"]);

    store.delete("a").await.unwrap();
    let seen = tokio::time::timeout(T, w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((seen.name.as_str(), seen.deleted), ("a", true));
    let names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .map(|i| i.unwrap().name)
        .collect()
        .await;
    assert_eq!(names, ["b"]);
    let err = store.get("a").await.expect_err("deleted");
    assert_eq!(err.kind(), object_store::GetErrorKind::NotFound);

    // Watch with history: the current state of every object first.
    let mut w = store.watch_with_history().await.unwrap();
    let mut first = Vec::new();
    for _ in 0..2 {
        let i = tokio::time::timeout(T, w.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        first.push((i.name, i.deleted));
    }
    first.sort();
    assert_eq!(first, [("a".to_string(), true), ("b".to_string(), false)]);
}
