//! Key-value and object stores through async-nats, black-box: both are client-side
//! conventions on top of streams (`KV_<bucket>` with `$KV.<bucket>.>`, `OBJ_<bucket>` with
//! `$O.<bucket>.C.>`/`$O.<bucket>.M.>`), so these tests check what the server must do for
//! them: per-subject expected sequences, rollup purges, DIRECT.GET, discard-new limits.
//! Object store `get` reads chunks through an ordered consumer.
//!
//! Every expectation was captured from the Go reference nats-server 2.15.1
//! (`-js -sd <dir>`). Each test runs its own server.

mod jetstream_common;

use async_nats::jetstream::{kv, object_store};
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};
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

#[tokio::test]
async fn kv_bucket_is_a_stream_with_kv_settings() {
    let s = js_server();
    let nc = client(&s).await;
    bucket(&nc, "b", 3).await;
    let v = stream_info(&nc, "KV_b", Value::Null).await;
    let c = &v["config"];
    assert_eq!(c["subjects"], json!(["$KV.b.>"]));
    for (k, want) in [
        ("max_msgs_per_subject", json!(3)),
        ("max_msgs", json!(-1)),
        ("max_bytes", json!(-1)),
        ("max_msg_size", json!(-1)),
        ("discard", json!("new")),
        ("allow_rollup_hdrs", json!(true)),
        ("deny_delete", json!(true)),
        ("deny_purge", json!(false)),
        ("allow_direct", json!(true)),
        ("duplicate_window", json!(120_000_000_000u64)),
        ("storage", json!("file")),
    ] {
        assert_eq!(c[k], want, "{k} in {c}");
    }
    // Opening it again works; a bucket that does not exist does not.
    let ctx = js(&nc);
    ctx.get_key_value("b").await.expect("get_key_value");
    assert!(ctx.get_key_value("nope").await.is_err());
    // Creating it again with another history is a stream config change: 10058.
    let err = ctx
        .create_key_value(kv::Config {
            bucket: "b".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .expect_err("different config");
    assert!(err.to_string().contains("10058"), "{err}");
}

#[tokio::test]
async fn kv_put_get_create_update() {
    let s = js_server();
    let nc = client(&s).await;
    let kv = bucket(&nc, "b", 5).await;
    assert_eq!(kv.get("k").await.unwrap(), None);
    assert_eq!(kv.put("k", "v1".into()).await.unwrap(), 1);
    assert_eq!(kv.put("other", "o".into()).await.unwrap(), 2);
    assert_eq!(kv.put("k", "v2".into()).await.unwrap(), 3);
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    let e = kv.entry("k").await.unwrap().expect("entry");
    assert_eq!((e.revision, e.operation), (3, kv::Operation::Put));
    // The last value is what DIRECT.GET by subject returns.
    let m = nc
        .request("$JS.API.DIRECT.GET.KV_b.$KV.b.k", "".into())
        .await
        .unwrap();
    assert_eq!(&m.payload[..], b"v2");
    assert_eq!(
        m.headers
            .as_ref()
            .unwrap()
            .get("Nats-Sequence")
            .unwrap()
            .as_str(),
        "3"
    );

    // create: only when the key does not exist.
    let err = kv.create("k", "x".into()).await.expect_err("exists");
    assert_eq!(err.kind(), kv::CreateErrorKind::AlreadyExists);
    assert_eq!(kv.create("new", "n".into()).await.unwrap(), 4);
    // On the wire: Nats-Expected-Last-Subject-Sequence: 0.
    let v = publish_req(
        &nc,
        "$KV.b.new",
        &[("Nats-Expected-Last-Subject-Sequence", "0")],
        b"x",
    )
    .await;
    assert_pub_err(&v, "KV_b", 400, 10071, "wrong last sequence: 4");

    // update: only from the key's current revision.
    let err = kv.update("k", "v3".into(), 1).await.expect_err("stale");
    assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision);
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(kv.update("k", "v3".into(), 3).await.unwrap(), 5);
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v3"[..]));
    let err = kv
        .update("never", "x".into(), 5)
        .await
        .expect_err("no such key");
    assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision);

    // Revisions are stream sequences: 5 messages in KV_b, earlier revisions readable.
    let st = stream_state(&nc, "KV_b").await;
    assert_eq!((&st["messages"], &st["last_seq"]), (&json!(5), &json!(5)));
    let e = kv.entry_for_revision("k", 1).await.unwrap().expect("rev 1");
    assert_eq!(&e.value[..], b"v1");
}

#[tokio::test]
async fn kv_history_keeps_the_last_n_revisions() {
    // history = max_msgs_per_subject. Although KV streams use discard "new", the oldest
    // revision of a key is dropped: discard new does not apply to the per-subject limit
    // unless discard_new_per_subject is set.
    let s = js_server();
    let nc = client(&s).await;
    let kv = bucket(&nc, "h", 2).await;
    for i in 1..=4u64 {
        assert_eq!(kv.put("k", format!("v{i}").into()).await.unwrap(), i);
    }
    let v = stream_info(&nc, "KV_h", json!({"subjects_filter": ">"})).await;
    assert_eq!(v["state"]["subjects"], json!({"$KV.h.k": 2}));
    assert_eq!(v["state"]["first_seq"], 3);
    assert!(kv.entry_for_revision("k", 1).await.unwrap().is_none());
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v4"[..]));
}

#[tokio::test]
async fn kv_delete_and_purge() {
    let s = js_server();
    let nc = client(&s).await;
    let kv = bucket(&nc, "b", 10).await;
    for v in ["1", "2", "3"] {
        kv.put("k", v.into()).await.unwrap();
    }
    kv.put("keep", "x".into()).await.unwrap();

    // delete: a marker message with `KV-Operation: DEL`; history stays.
    kv.delete("k").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap(), None);
    let e = kv.entry("k").await.unwrap().expect("delete marker");
    assert_eq!((e.operation, e.revision), (kv::Operation::Delete, 5));
    assert!(e.value.is_empty());
    let v = stream_info(&nc, "KV_b", json!({"subjects_filter": "$KV.b.k"})).await;
    assert_eq!(v["state"]["subjects"]["$KV.b.k"], 4);
    let m = nc
        .request("$JS.API.DIRECT.GET.KV_b.$KV.b.k", "".into())
        .await
        .unwrap();
    assert_eq!(
        m.headers
            .as_ref()
            .unwrap()
            .get("KV-Operation")
            .unwrap()
            .as_str(),
        "DEL"
    );
    // A deleted key can be created again.
    assert_eq!(kv.create("k", "again".into()).await.unwrap(), 6);

    // purge: `KV-Operation: PURGE` + `Nats-Rollup: sub` leaves only the marker.
    kv.purge("k").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap(), None);
    let e = kv.entry("k").await.unwrap().expect("purge marker");
    assert_eq!((e.operation, e.revision), (kv::Operation::Purge, 7));
    let v = stream_info(&nc, "KV_b", json!({"subjects_filter": ">"})).await;
    assert_eq!(
        v["state"]["subjects"],
        json!({"$KV.b.k": 1, "$KV.b.keep": 1})
    );
    assert_eq!(v["state"]["messages"], 2);
    assert!(kv.entry_for_revision("k", 6).await.unwrap().is_none());
    assert_eq!(kv.get("keep").await.unwrap().as_deref(), Some(&b"x"[..]));

    // KV streams deny message deletes through the API.
    let v = api(&nc, "$JS.API.STREAM.MSG.DELETE.KV_b", json!({"seq": 4})).await;
    assert_err(&v, 500, 10057, "message delete not permitted");
    // A rollup without allow_rollup_hdrs is refused by a plain stream.
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    let v = publish_req(&nc, "p.a", &[("Nats-Rollup", "sub")], b"x").await;
    assert_pub_err(&v, "P", 500, 10111, "rollup not permitted");
}

#[tokio::test]
async fn object_store_multi_chunk_put() {
    let s = js_server();
    let nc = client(&s).await;
    let ctx = js(&nc);
    let store = ctx
        .create_object_store(object_store::Config {
            bucket: "files".into(),
            ..Default::default()
        })
        .await
        .expect("create_object_store");
    let c = stream_info(&nc, "OBJ_files", Value::Null).await["config"].clone();
    assert_eq!(c["subjects"], json!(["$O.files.C.>", "$O.files.M.>"]));
    assert_eq!(
        (&c["discard"], &c["allow_rollup_hdrs"], &c["allow_direct"]),
        (&json!("new"), &json!(true), &json!(true))
    );

    // 300 KiB in default 128 KiB chunks: 3 chunk messages + 1 metadata message.
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
    let info = store
        .put("big.bin", &mut &data[..])
        .await
        .expect("object put");
    assert_eq!((info.size, info.chunks), (data.len(), 3));
    let v = stream_info(&nc, "OBJ_files", json!({"subjects_filter": ">"})).await;
    let subjects = v["state"]["subjects"].as_object().unwrap().clone();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_eq!(subjects[&format!("$O.files.C.{}", info.nuid)], 3);
    assert!(
        subjects.keys().any(|k| k.starts_with("$O.files.M.")),
        "{subjects:?}"
    );
    assert_eq!(v["state"]["messages"], 4);
}

/// Reading an object back goes through an ordered consumer.
#[tokio::test]
async fn object_store_get_and_replace() {
    let s = js_server();
    let nc = client(&s).await;
    let ctx = js(&nc);
    let store = ctx
        .create_object_store(object_store::Config {
            bucket: "files".into(),
            ..Default::default()
        })
        .await
        .expect("create_object_store");
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
    store
        .put("big.bin", &mut &data[..])
        .await
        .expect("object put");
    let mut obj = store.get("big.bin").await.expect("object get");
    let mut back = Vec::new();
    obj.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "object content differs");

    // Replacing it purges the old chunks (rollup on the metadata subject + chunk purge).
    let small = b"tiny".to_vec();
    let info2 = store.put("big.bin", &mut &small[..]).await.unwrap();
    assert_eq!((info2.size, info2.chunks), (4, 1));
    let mut back = Vec::new();
    store
        .get("big.bin")
        .await
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert_eq!(back, small);
    let st = stream_state(&nc, "OBJ_files").await;
    assert_eq!(st["messages"], 2, "1 chunk + 1 metadata: {st}");

    // Missing object.
    let err = store.get("nope").await.expect_err("missing");
    assert_eq!(err.kind(), object_store::GetErrorKind::NotFound);
}
