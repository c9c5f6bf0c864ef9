//! Damaged stream and consumer metadata (`meta.json`) while the server is stopped:
//! a bit flip, a zeroed range, a truncation, a deleted file. jetcore does not load
//! that stream (or consumer), logs an ERROR naming the file, leaves every file of it
//! untouched, and keeps serving the others; restoring the file and restarting brings
//! it back whole. (Jepsen found the Go server deletes a whole stream after such
//! single-node damage; Go's files differ, so this test runs against jetcore only.)

mod jetstream_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};

/// The kinds of damage applied to a `meta.json`.
const KINDS: [&str; 4] = ["bit-flip", "zeroed", "truncated", "deleted"];

fn stream_dir(s: &Server, name: &str) -> PathBuf {
    s.dir()
        .join("store")
        .join("jetstream")
        .join("$G")
        .join("streams")
        .join(name)
}

/// Every file under `dir` with its bytes (meta.json files left out, and the
/// store's close mark `msgs/closed`, which a clean stop writes and an open
/// consumes).
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n != "meta.json" && n != "closed")
            {
                out.insert(p.clone(), std::fs::read(&p).expect("read file"));
            }
        }
    }
    out
}

/// Damages `path` as `kind` says. The bit flip turns the first character of the
/// `"name"` value into another letter (still valid JSON: the damage must be caught
/// without a parse error).
fn damage(path: &Path, kind: &str) {
    let mut b = std::fs::read(path).expect("read meta");
    match kind {
        "bit-flip" => {
            let text = String::from_utf8_lossy(&b).into_owned();
            let at = text.find("\"name\": \"").expect("name field") + "\"name\": \"".len();
            b[at] ^= 0x02;
        }
        "zeroed" => {
            let n = b.len().min(64);
            b[..n].fill(0);
        }
        "truncated" => b.truncate(b.len() / 2),
        "deleted" => {
            std::fs::remove_file(path).expect("remove meta");
            return;
        }
        _ => unreachable!(),
    }
    std::fs::write(path, b).expect("write meta");
}

async fn fill(s: &Server) {
    let nc = client(s).await;
    for (name, subj) in [("A", "a.>"), ("B", "b.>")] {
        create_stream(&nc, json!({"name": name, "subjects": [subj]})).await;
        for i in 0..5 {
            let v = publish_req(
                &nc,
                &format!("{}.x", name.to_lowercase()),
                &[],
                format!("m{i}").as_bytes(),
            )
            .await;
            assert_ack(&v, name, i + 1);
        }
        ok(api(
            &nc,
            &format!("$JS.API.CONSUMER.DURABLE.CREATE.{name}.C"),
            json!({"stream_name": name, "config": {"durable_name": "C", "ack_policy": "explicit"}}),
        )
        .await);
    }
}

async fn messages(nc: &async_nats::Client, name: &str) -> Option<u64> {
    let v = stream_info(nc, name, Value::Null).await;
    v.get("state").and_then(|s| s["messages"].as_u64())
}

#[tokio::test]
async fn damaged_stream_meta_is_not_loaded_and_its_data_is_kept() {
    if server_impl() == Impl::Go {
        return;
    }
    for kind in KINDS {
        let mut s = js_server();
        fill(&s).await;
        s.stop_graceful();
        let dir = stream_dir(&s, "A");
        let meta = dir.join("meta.json");
        let original = std::fs::read(&meta).expect("meta");
        let before = files(&dir);
        damage(&meta, kind);
        s.restart();
        let nc = client(&s).await;
        // The other stream is served as before.
        assert_eq!(messages(&nc, "B").await, Some(5), "{kind}: stream B");
        // The damaged one is not loaded...
        let v = api(&nc, "$JS.API.STREAM.INFO.A", Value::Null).await;
        assert_err(&v, 404, 10059, "stream not found");
        assert!(
            s.log_lines().iter().any(|l| l.contains("[ERR]")
                && l.contains("not loaded")
                && l.contains(&meta.display().to_string())),
            "{kind}: no ERROR naming {}:\n{}",
            meta.display(),
            s.log_lines().join("\n")
        );
        // Creating it anew over its files is refused (its blocks would be
        // reopened under the new config, whose limits could delete them).
        let v = api(
            &nc,
            "$JS.API.STREAM.CREATE.A",
            json!({"name": "A", "subjects": ["a.>"], "max_msgs": 1}),
        )
        .await;
        assert_eq!(v["error"]["err_code"], 10049, "{kind}: {v}");
        // ...and nothing of it was touched.
        assert_eq!(files(&dir), before, "{kind}: stream A's files changed");
        // Restoring the file brings it back whole.
        s.stop_graceful();
        std::fs::write(&meta, &original).expect("restore meta");
        s.restart();
        let nc = client(&s).await;
        assert_eq!(
            messages(&nc, "A").await,
            Some(5),
            "{kind}: restored stream A"
        );
        let c = api(&nc, "$JS.API.CONSUMER.INFO.A.C", Value::Null).await;
        assert_eq!(c["name"], "C", "{kind}: consumer of the restored stream");
    }
}

#[tokio::test]
async fn damaged_consumer_meta_is_not_loaded_and_the_stream_is_kept() {
    if server_impl() == Impl::Go {
        return;
    }
    for kind in KINDS {
        let mut s = js_server();
        fill(&s).await;
        s.stop_graceful();
        let dir = stream_dir(&s, "A");
        let meta = dir.join("obs").join("C").join("meta.json");
        let original = std::fs::read(&meta).expect("consumer meta");
        let before = files(&dir);
        damage(&meta, kind);
        s.restart();
        let nc = client(&s).await;
        assert_eq!(
            messages(&nc, "A").await,
            Some(5),
            "{kind}: stream A keeps its messages"
        );
        assert_eq!(messages(&nc, "B").await, Some(5), "{kind}: stream B");
        let v = api(&nc, "$JS.API.CONSUMER.INFO.A.C", Value::Null).await;
        assert_err(&v, 404, 10014, "consumer not found");
        assert!(
            s.log_lines()
                .iter()
                .any(|l| l.contains("[ERR]") && l.contains("not restored")),
            "{kind}: no ERROR for the consumer:\n{}",
            s.log_lines().join("\n")
        );
        assert_eq!(files(&dir), before, "{kind}: stream A's files changed");
        s.stop_graceful();
        std::fs::write(&meta, &original).expect("restore meta");
        s.restart();
        let nc = client(&s).await;
        let c = api(&nc, "$JS.API.CONSUMER.INFO.A.C", Value::Null).await;
        assert_eq!(c["name"], "C", "{kind}: restored consumer");
    }
}

/// Pulls `n` messages from consumer `name` of stream `I` (ack policy all) and acks
/// the last, which acks them all; waits for the ack to be confirmed.
async fn pull_and_ack_all(s: &Server, name: &str, n: usize) {
    let mut c = raw_js(s).await;
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.I.{name}");
    c.send(&pub_x(&next, format!(r#"{{"batch":{n}}}"#).as_bytes()))
        .await;
    let mut last = None;
    for _ in 0..n {
        last = Some(c.read_raw_frame().await.expect("message"));
    }
    let Frame::Msg {
        reply: Some(ack), ..
    } = parse_frame(&last.expect("messages"))
    else {
        panic!("not a message");
    };
    c.send(format!("PUB {ack} _INBOX.x 0\r\n\r\n").as_bytes())
        .await;
    c.read_raw_frame().await.expect("ack confirmed");
}

/// An interest stream whose consumer could not be restored keeps its messages:
/// acks by the other consumer, new publishes nobody loaded wants, and deleting the
/// other consumer remove nothing, since the missing one may need them. Once its
/// metadata is repaired it is back, and retention works as before.
#[tokio::test]
async fn an_unrestored_consumer_keeps_interest_retention_from_removing_messages() {
    if server_impl() == Impl::Go {
        return;
    }
    let mut s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "I", "subjects": ["i.>"], "retention": "interest"}),
    )
    .await;
    for name in ["C", "D"] {
        ok(api(
            &nc,
            &format!("$JS.API.CONSUMER.DURABLE.CREATE.I.{name}"),
            json!({"stream_name": "I", "config": {"durable_name": name, "ack_policy": "all"}}),
        )
        .await);
    }
    for i in 1..=3 {
        assert_ack(&publish_req(&nc, "i.x", &[], b"m").await, "I", i);
    }
    drop(nc);
    s.stop_graceful();
    let meta = stream_dir(&s, "I").join("obs").join("D").join("meta.json");
    let original = std::fs::read(&meta).expect("consumer meta");
    damage(&meta, "truncated");
    s.restart();
    let nc = client(&s).await;
    assert_eq!(messages(&nc, "I").await, Some(3));

    // C acks everything (ack all: the last one acks the rest).
    pull_and_ack_all(&s, "C", 3).await;
    // A new message only D could want, and C going away, remove nothing either.
    assert_ack(&publish_req(&nc, "i.x", &[], b"m").await, "I", 4);
    let v = api(&nc, "$JS.API.CONSUMER.DELETE.I.C", Value::Null).await;
    assert_eq!(v["success"], true, "{v}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(messages(&nc, "I").await, Some(4));
    assert!(
        s.log_lines()
            .iter()
            .any(|l| l.contains("[WRN]") && l.contains("removes nothing")),
        "no warning:\n{}",
        s.log_lines().join("\n")
    );

    // Repaired: D is back with all four to deliver, and its acks remove them.
    drop(nc);
    s.stop_graceful();
    std::fs::write(&meta, &original).expect("restore meta");
    s.restart();
    let nc = client(&s).await;
    let info = api(&nc, "$JS.API.CONSUMER.INFO.I.D", Value::Null).await;
    assert_eq!(info["num_pending"], 4, "{info}");
    let names = api(&nc, "$JS.API.CONSUMER.NAMES.I", Value::Null).await;
    assert_eq!(names["consumers"], json!(["D"]), "{names}");
    pull_and_ack_all(&s, "D", 4).await;
    let st = wait_for_state(&nc, "I", std::time::Duration::from_secs(2), |st| {
        st["messages"] == 0
    })
    .await;
    assert_eq!(st["last_seq"], 4);
}

/// A consumer creation cut short (its directory holds only the temp file written
/// before `meta.json`) was never acknowledged: it does not hold back interest
/// retention.
#[tokio::test]
async fn a_consumer_creation_cut_short_does_not_hold_back_retention() {
    if server_impl() == Impl::Go {
        return;
    }
    let mut s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "I", "subjects": ["i.>"], "retention": "interest"}),
    )
    .await;
    ok(api(
        &nc,
        "$JS.API.CONSUMER.DURABLE.CREATE.I.C",
        json!({"stream_name": "I", "config": {"durable_name": "C", "ack_policy": "none"}}),
    )
    .await);
    drop(nc);
    s.stop_graceful();
    let cut = stream_dir(&s, "I").join("obs").join("X");
    std::fs::create_dir_all(&cut).expect("mkdir");
    std::fs::write(cut.join("meta.json.tmp"), b"{\"name\":").expect("tmp");
    s.restart();
    let nc = client(&s).await;
    for i in 1..=2 {
        assert_ack(&publish_req(&nc, "i.x", &[], b"m").await, "I", i);
    }
    // Ack none: delivering is acking, and the messages go.
    let mut c = raw_js(&s).await;
    c.send(&pub_x("$JS.API.CONSUMER.MSG.NEXT.I.C", br#"{"batch":2}"#))
        .await;
    for _ in 0..2 {
        c.read_raw_frame().await.expect("message");
    }
    wait_for_state(&nc, "I", std::time::Duration::from_secs(2), |st| {
        st["messages"] == 0
    })
    .await;
}
