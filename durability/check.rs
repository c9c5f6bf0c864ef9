//! The checks after a recovery: the restarted server against the ledger.
//!
//! Anomalies (each one a line of text):
//! - a stream whose creation was acknowledged is missing, or one whose
//!   deletion was acknowledged is back;
//! - the last sequence is below an acknowledged one (new publishes would
//!   reuse sequences);
//! - a message that was acknowledged, or shown by an earlier recovery, or
//!   given to the consumer, is missing or different at its sequence — unless
//!   the stream's limits removed it (decided from what is still there);
//! - a message whose subject or payload is not what its publisher sent;
//! - one message at two sequences; a hole inside `first..=last`;
//!   `messages` not equal to `last - first + 1`;
//! - a consumer whose creation was acknowledged is missing, its ack floor is
//!   below an ack the server confirmed, or it has delivered past the
//!   stream's last sequence.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_nats::jetstream;
use serde_json::Value;

use crate::ledger::{Ledger, MsgId, StreamBook, StreamSpec};

/// Messages read per stream per check: the newest this many sequences...
const RECENT_WINDOW: u64 = 2_000;
/// ...plus this many older remembered ones, chosen at random (older data
/// was checked whole by earlier cycles; this keeps a check's cost flat).
const OLDER_SAMPLE: usize = 300;
/// How long one API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `err_code` of "stream not found".
const STREAM_NOT_FOUND: i64 = 10059;
/// `err_code` of "consumer not found".
const CONSUMER_NOT_FOUND: i64 = 10014;

/// A stream's state as `STREAM.INFO` gives it.
#[derive(Debug, Clone, Copy)]
struct State {
    first: u64,
    last: u64,
    messages: u64,
    bytes: u64,
}

async fn api(client: &async_nats::Client, subject: String) -> Result<Value, String> {
    let reply = tokio::time::timeout(REQUEST_TIMEOUT, client.request(subject.clone(), "".into()))
        .await
        .map_err(|_| format!("{subject}: no answer in {REQUEST_TIMEOUT:?}"))?
        .map_err(|e| format!("{subject}: {e}"))?;
    serde_json::from_slice(&reply.payload).map_err(|e| format!("{subject}: bad JSON: {e}"))
}

fn err_code(v: &Value) -> Option<i64> {
    v.get("error")?.get("err_code")?.as_i64()
}

fn u(v: &Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_u64().unwrap_or(0)
}

/// Checks every stream and consumer of the ledger against the server; new
/// messages read back are added to the ledger as recovered. Returns the
/// anomalies.
pub async fn check_all(
    client: &async_nats::Client,
    ledger: &mut Ledger,
    specs: &[StreamSpec],
    seed: u64,
) -> Vec<String> {
    let js = jetstream::new(client.clone());
    let mut anomalies = Vec::new();
    let names: Vec<String> = ledger.books.keys().cloned().collect();
    for (i, name) in names.iter().enumerate() {
        let spec = specs.iter().find(|s| &s.name == name).cloned();
        let book = ledger.book(name);
        let found = check_stream(
            client,
            &js,
            name,
            spec.as_ref(),
            book,
            seed ^ i as u64,
            &mut anomalies,
        )
        .await;
        if let Err(e) = found {
            anomalies.push(format!("{name}: check failed: {e}"));
        }
    }
    anomalies
}

async fn check_stream(
    client: &async_nats::Client,
    js: &jetstream::Context,
    name: &str,
    spec: Option<&StreamSpec>,
    book: &mut StreamBook,
    seed: u64,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let info = api(client, format!("$JS.API.STREAM.INFO.{name}")).await?;
    if book.deleted {
        if err_code(&info) != Some(STREAM_NOT_FOUND) {
            out.push(format!(
                "{name}: deleted (acknowledged) but it came back: {info}"
            ));
        }
        return Ok(());
    }
    if !book.created {
        return Ok(());
    }
    if err_code(&info) == Some(STREAM_NOT_FOUND) && book.delete_sent {
        // A deletion the kill interrupted, done after all.
        book.reset();
        book.deleted = true;
        return Ok(());
    }
    if err_code(&info).is_some() {
        out.push(format!("{name}: created (acknowledged) but now: {info}"));
        book.reset();
        return Ok(());
    }
    let state = State {
        first: u(&info, &["state", "first_seq"]),
        last: u(&info, &["state", "last_seq"]),
        messages: u(&info, &["state", "messages"]),
        bytes: u(&info, &["state", "bytes"]),
    };
    let prefix = spec
        .map(|s| s.prefix.clone())
        .unwrap_or_else(|| name.to_lowercase());
    let must = book.must_have();
    if let Some((&max, _)) = must.iter().next_back() {
        if state.last < max {
            out.push(format!(
                "{name}: last_seq {} is below acknowledged/recovered sequence {max}",
                state.last
            ));
        }
    }
    let span = if state.messages == 0 {
        0
    } else {
        state.last.saturating_sub(state.first) + 1
    };
    if state.messages != span {
        out.push(format!(
            "{name}: {} messages in first..=last {}..={} (no message is ever deleted inside)",
            state.messages, state.first, state.last
        ));
    }

    // What to read: the recent window, everything the consumer was given,
    // and a sample of older remembered messages.
    let mut seqs: BTreeSet<u64> = (state.first.max(state.last.saturating_sub(RECENT_WINDOW))
        ..=state.last)
        .filter(|&s| s >= 1)
        .collect();
    seqs.extend(book.delivered.keys().filter(|&&s| s >= state.first));
    let older: Vec<u64> = must
        .keys()
        .copied()
        .filter(|&s| s >= state.first && !seqs.contains(&s))
        .collect();
    let mut rng = seed | 1;
    for _ in 0..OLDER_SAMPLE.min(older.len()) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        seqs.insert(older[(rng % older.len() as u64) as usize]);
    }

    let stream = js
        .get_stream(name)
        .await
        .map_err(|e| format!("get_stream: {e}"))?;
    let mut present: BTreeMap<u64, MsgId> = BTreeMap::new();
    let mut sizes: BTreeMap<u64, u64> = BTreeMap::new();
    let mut where_is: HashMap<MsgId, u64> = HashMap::new();
    for &seq in &seqs {
        let got = tokio::time::timeout(REQUEST_TIMEOUT, stream.get_raw_message(seq)).await;
        let msg = match got {
            Err(_) => return Err(format!("get {seq}: no answer in {REQUEST_TIMEOUT:?}")),
            Ok(Ok(m)) => m,
            Ok(Err(e)) if e.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound => {
                if seq >= state.first && seq <= state.last {
                    out.push(format!(
                        "{name}: hole at {seq} inside {}..={}",
                        state.first, state.last
                    ));
                }
                if let Some(id) = must.get(&seq) {
                    out.push(format!(
                        "{name}: {id:?} at {seq} (acknowledged/recovered) is missing"
                    ));
                }
                continue;
            }
            Ok(Err(e)) => return Err(format!("get {seq}: {e}")),
        };
        let Some(id) = MsgId::parse(&msg.payload) else {
            out.push(format!(
                "{name}: seq {seq}: payload is not one that was published"
            ));
            continue;
        };
        if msg.subject.as_str() != id.subject(&prefix) || msg.payload.as_ref() != id.payload() {
            out.push(format!(
                "{name}: seq {seq}: wrong message for {id:?} (subject {}, {} bytes)",
                msg.subject,
                msg.payload.len()
            ));
            continue;
        }
        for (what, map) in [
            ("acknowledged/recovered", &must),
            ("delivered", &book.delivered),
        ] {
            if let Some(want) = map.get(&seq) {
                if *want != id {
                    out.push(format!(
                        "{name}: seq {seq} holds {id:?}, but {what} was {want:?}"
                    ));
                }
            }
        }
        if let Some(other) = where_is.insert(id, seq) {
            out.push(format!("{name}: {id:?} stored twice, at {other} and {seq}"));
        }
        sizes.insert(seq, (msg.subject.len() + msg.payload.len()) as u64);
        present.insert(seq, id);
    }

    // Remembered messages below `first`: only a limit may have removed them.
    // Removal is oldest first, so the newest removal (`first - 1`) happened
    // with everything in `first..=last` present at the latest: it must not
    // have fit. Older ones went before it. (An unlimited stream removes
    // nothing.)
    let gone_newest = must
        .iter()
        .chain(book.delivered.iter())
        .filter(|(s, _)| **s < state.first)
        .map(|(s, id)| (*s, *id))
        .max();
    if let Some((seq, id)) = gone_newest {
        let limited = spec.is_some_and(|s| s.max_msgs > 0 || s.max_bytes > 0);
        let whole = present.len() as u64 == state.messages;
        let explained = if !limited {
            false
        } else if seq + 1 < state.first {
            // Something unremembered went after it; its removal cannot be
            // weighed here (the cycle that read it checked it).
            true
        } else {
            removed_by_limits(spec, &state, whole.then_some(&sizes), id, &prefix)
        };
        if !explained {
            out.push(format!(
                "{name}: {id:?} at {seq} is gone (first_seq {}) and no limit explains it \
                 ({} messages, {} bytes, {} read, {} raw bytes read)",
                state.first,
                state.messages,
                state.bytes,
                present.len(),
                sizes.values().sum::<u64>()
            ));
        }
    }
    book.recovered.extend(present);
    if book.consumer_created {
        check_consumer(client, name, book, &state, out).await?;
    }
    Ok(())
}

/// Whether the stream's limits account for `seq` being gone: what is still
/// there after it, plus it, exceeds `max_msgs` or `max_bytes` (the sizes of
/// what is there: `None` when not all of it was read). The per-message
/// overhead is taken from the server's own `bytes`.
fn removed_by_limits(
    spec: Option<&StreamSpec>,
    state: &State,
    sizes: Option<&BTreeMap<u64, u64>>,
    id: MsgId,
    prefix: &str,
) -> bool {
    let Some(spec) = spec else { return false };
    let after = state.messages;
    if spec.max_msgs > 0 && after >= spec.max_msgs as u64 {
        return true;
    }
    let Some(sizes) = sizes else {
        // Not every message was read: the byte rule cannot be weighed.
        return spec.max_bytes > 0;
    };
    if spec.max_bytes > 0 {
        let raw: u64 = sizes.values().sum();
        let overhead = state
            .bytes
            .saturating_sub(raw)
            .checked_div(after)
            .unwrap_or(0);
        let own = (id.subject(prefix).len() + id.payload().len()) as u64 + overhead;
        if state.bytes + own > spec.max_bytes as u64 {
            return true;
        }
    }
    false
}

async fn check_consumer(
    client: &async_nats::Client,
    name: &str,
    book: &mut StreamBook,
    state: &State,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let info = api(client, format!("$JS.API.CONSUMER.INFO.{name}.W")).await?;
    if err_code(&info) == Some(CONSUMER_NOT_FOUND) || err_code(&info).is_some() {
        out.push(format!("{name}: consumer W (acknowledged) is gone: {info}"));
        book.consumer_created = false;
        book.consumer_acks.clear();
        return Ok(());
    }
    // The confirmed acks form a prefix of what was delivered (one at a time,
    // in order): the floor must be at least its end.
    let mut floor_needed = 0;
    for (seq, confirmed) in &book.consumer_acks {
        if !confirmed {
            break;
        }
        floor_needed = *seq;
    }
    let floor = u(&info, &["ack_floor", "stream_seq"]);
    if floor < floor_needed {
        out.push(format!(
            "{name}: consumer ack floor {floor} is below confirmed acks up to {floor_needed}"
        ));
    }
    let delivered = u(&info, &["delivered", "stream_seq"]);
    if delivered > state.last {
        out.push(format!(
            "{name}: consumer delivered up to {delivered}, past the stream's last {} \
             (new messages at those sequences would be skipped)",
            state.last
        ));
    }
    Ok(())
}
