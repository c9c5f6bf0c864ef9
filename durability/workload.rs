//! The load a cycle puts on the server until it is killed: concurrent
//! publishers on the workload's streams (windows of outstanding PubAcks, and
//! one publishing one message at a time), a pull consumer confirming every
//! ack (double ack), and stream churn (short-lived streams created, used and
//! deleted). Everything the server acknowledges goes into the ledger the
//! moment the client receives it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;

use crate::ledger::{Ledger, MsgId, StreamSpec};

/// A shared ledger (publishers, the consumer and the churn task write it).
pub type SharedLedger = Arc<Mutex<Ledger>>;

/// Anomalies seen while the load runs (a consumer given two different
/// messages for one sequence).
pub type SharedAnomalies = Arc<Mutex<Vec<String>>>;

/// How long one request of the workload may wait (the server may be dead).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The streams every run uses.
pub fn specs() -> Vec<StreamSpec> {
    vec![
        // Fast: big blocks, async windows; the limit keeps a long run's
        // disk image (in memory) and recovery time bounded.
        StreamSpec {
            name: "FAST".into(),
            prefix: "fast".into(),
            max_msgs: 40_000,
            max_bytes: 0,
            compressed: false,
        },
        // Small limits: 64 KiB blocks roll and are removed all the time.
        StreamSpec {
            name: "ROLL".into(),
            prefix: "roll".into(),
            max_msgs: 400,
            max_bytes: 120_000,
            compressed: true,
        },
        // One message at a time, and the consumer.
        StreamSpec {
            name: "WORK".into(),
            prefix: "work".into(),
            max_msgs: 20_000,
            max_bytes: 0,
            compressed: false,
        },
    ]
}

fn config(spec: &StreamSpec) -> stream::Config {
    stream::Config {
        name: spec.name.clone(),
        subjects: vec![format!("{}.>", spec.prefix)],
        max_messages: if spec.max_msgs > 0 { spec.max_msgs } else { -1 },
        max_bytes: if spec.max_bytes > 0 {
            spec.max_bytes
        } else {
            -1
        },
        storage: stream::StorageType::File,
        compression: spec.compressed.then_some(stream::Compression::S2),
        ..Default::default()
    }
}

/// Creates the streams (and the consumer) whose creation was never
/// acknowledged. Failures are left for the next cycle.
pub async fn ensure_streams(js: &jetstream::Context, ledger: &SharedLedger, specs: &[StreamSpec]) {
    for spec in specs {
        let created = lock(ledger).book(&spec.name).created;
        if !created {
            let made = tokio::time::timeout(REQUEST_TIMEOUT, js.create_stream(config(spec))).await;
            if let Ok(Ok(_)) = made {
                lock(ledger).book(&spec.name).created = true;
            }
        }
    }
    let (created, has_consumer) = {
        let mut l = lock(ledger);
        let b = l.book("WORK");
        (b.created, b.consumer_created)
    };
    if created && !has_consumer {
        let cfg = pull::Config {
            durable_name: Some("W".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        };
        let made =
            tokio::time::timeout(REQUEST_TIMEOUT, js.create_consumer_on_stream(cfg, "WORK")).await;
        if let Ok(Ok(_)) = made {
            let mut l = lock(ledger);
            let book = l.book("WORK");
            book.consumer_created = true;
            book.consumer_acks.clear();
        }
    }
}

/// A publisher: keeps up to `window` publishes outstanding on `spec`'s
/// stream and records each PubAck; stops at the first error.
pub async fn publisher(
    js: jetstream::Context,
    ledger: SharedLedger,
    spec: StreamSpec,
    window: usize,
) {
    let me = lock(&ledger).publisher();
    let mut outstanding = VecDeque::new();
    let mut n = 0u64;
    loop {
        n += 1;
        let id = MsgId { publisher: me, n };
        let sent = js
            .publish(id.subject(&spec.prefix), id.payload().into())
            .await;
        let Ok(ack) = sent else { return };
        outstanding.push_back((id, ack));
        while outstanding.len() >= window {
            let Some((id, ack)) = outstanding.pop_front() else {
                break;
            };
            match tokio::time::timeout(REQUEST_TIMEOUT, ack).await {
                Ok(Ok(a)) if a.stream == spec.name => {
                    lock(&ledger).book(&spec.name).acked.insert(a.sequence, id);
                }
                _ => return,
            }
        }
    }
}

/// The consumer: fetches from `W` on `WORK`, records every delivery and every
/// confirmed ack; stops at the first error.
pub async fn consumer(js: jetstream::Context, ledger: SharedLedger, anomalies: SharedAnomalies) {
    let Ok(Ok(c)) = tokio::time::timeout(
        REQUEST_TIMEOUT,
        js.get_consumer_from_stream::<pull::Config, _, _>("W", "WORK"),
    )
    .await
    else {
        return;
    };
    loop {
        let batch = c
            .fetch()
            .max_messages(16)
            .expires(Duration::from_millis(300))
            .messages()
            .await;
        let Ok(mut batch) = batch else { return };
        while let Some(m) = batch.next().await {
            let Ok(m) = m else { return };
            let Ok(info) = m.info() else { return };
            let seq = info.stream_sequence;
            let Some(id) = MsgId::parse(&m.payload) else {
                lock(&anomalies).push(format!("WORK: delivered seq {seq} with a foreign payload"));
                return;
            };
            {
                let mut l = lock(&ledger);
                let book = l.book("WORK");
                book.consumer_acks.entry(seq).or_insert(false);
                if let Some(prev) = book.delivered.insert(seq, id) {
                    if prev != id {
                        lock(&anomalies).push(format!(
                            "WORK: seq {seq} delivered as {prev:?} and later as {id:?}"
                        ));
                    }
                }
            }
            match tokio::time::timeout(REQUEST_TIMEOUT, m.double_ack()).await {
                Ok(Ok(())) => {
                    lock(&ledger).book("WORK").consumer_acks.insert(seq, true);
                }
                _ => return,
            }
        }
    }
}

/// Stream churn: creates a short-lived stream, publishes a few messages one
/// at a time, and deletes an older short-lived stream; every step recorded
/// once acknowledged.
pub async fn churn(js: jetstream::Context, ledger: SharedLedger, cycle: u64) {
    let name = format!("T{cycle}");
    let spec = StreamSpec {
        name: name.clone(),
        prefix: name.to_lowercase(),
        max_msgs: 0,
        max_bytes: 0,
        compressed: false,
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, js.create_stream(config(&spec))).await {
        Ok(Ok(_)) => lock(&ledger).book(&name).created = true,
        _ => return,
    }
    let me = lock(&ledger).publisher();
    for n in 1..=5 {
        let id = MsgId { publisher: me, n };
        let Ok(ack) = js
            .publish(id.subject(&spec.prefix), id.payload().into())
            .await
        else {
            return;
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, ack).await {
            Ok(Ok(a)) => {
                lock(&ledger).book(&name).acked.insert(a.sequence, id);
            }
            _ => return,
        }
    }
    // Delete the oldest short-lived stream still alive (not this one).
    let victim = {
        let l = lock(&ledger);
        l.books
            .iter()
            .find(|(n, b)| {
                n.starts_with('T') && **n != name && b.created && !b.deleted && !b.delete_sent
            })
            .map(|(n, _)| n.clone())
    };
    if let Some(v) = victim {
        lock(&ledger).book(&v).delete_sent = true;
        if let Ok(Ok(true)) = tokio::time::timeout(REQUEST_TIMEOUT, js.delete_stream(&v))
            .await
            .map(|r| r.map(|s| s.success))
        {
            let mut l = lock(&ledger);
            let b = l.book(&v);
            b.reset();
            b.deleted = true;
        }
    }
}
