//! Core NATS messaging through the async-nats client: pub/sub, wildcards, queue groups,
//! request/reply, no-responders, headers, echo, auto-unsubscribe, cross-connection
//! delivery. Servers run with `--cores cores_under_test()` (jetcore only).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use futures::StreamExt;
use jetcore_tests::*;

const T: Duration = Duration::from_secs(3);

fn server() -> Server {
    ServerBuilder::new().cores(cores_under_test()).start()
}

#[tokio::test]
async fn pub_sub_delivers_payloads_in_order() {
    let s = server();
    let nc = client(&s).await;
    let mut sub = nc.subscribe("greet.basic").await.unwrap();
    sync(&nc).await;
    for i in 0..50 {
        nc.publish("greet.basic", format!("m{i}").into())
            .await
            .unwrap();
    }
    nc.publish("greet.other", "x".into()).await.unwrap();
    nc.publish("greet.basic", "".into()).await.unwrap(); // empty payload
    sync(&nc).await;
    for i in 0..50 {
        let m = next_msg(&mut sub, T).await;
        assert_eq!(m.subject.as_str(), "greet.basic");
        assert_eq!(&m.payload[..], format!("m{i}").as_bytes());
        assert!(m.reply.is_none());
    }
    assert!(next_msg(&mut sub, T).await.payload.is_empty());
    assert_no_msg(&mut sub, Duration::from_millis(100)).await;
}

#[tokio::test]
async fn large_payload_round_trips() {
    let s = server();
    let nc = client(&s).await;
    let mut sub = nc.subscribe("big").await.unwrap();
    sync(&nc).await;
    let payload: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(nc.server_info().max_payload, 1024 * 1024);
    nc.publish("big", payload.clone().into()).await.unwrap();
    let m = next_msg(&mut sub, T).await;
    assert_eq!(m.payload.len(), payload.len());
    assert!(m.payload[..] == payload[..]);
}

/// (pattern, subject, matches?)
const WILDCARDS: &[(&str, &str, bool)] = &[
    ("foo.*", "foo.bar", true),
    ("foo.*", "foo.baz", true),
    ("foo.*", "foo", false),
    ("foo.*", "foo.bar.baz", false),
    ("foo.*", "bar.foo", false),
    ("foo.>", "foo.bar", true),
    ("foo.>", "foo.bar.baz", true),
    ("foo.>", "foo", false),
    ("foo.>", "bar.baz", false),
    ("*.bar", "foo.bar", true),
    ("*.bar", "foo.bar.baz", false),
    ("*.bar", "bar", false),
    ("foo.*.baz", "foo.bar.baz", true),
    ("foo.*.baz", "foo.bar.qux", false),
    ("foo.*.baz", "foo.baz", false),
    ("foo.*.>", "foo.bar.baz", true),
    ("foo.*.>", "foo.bar", false),
    ("*", "foo", true),
    ("*", "foo.bar", false),
    (">", "foo", true),
    (">", "foo.bar.baz", true),
    ("foo.bar", "foo.bar", true),
    ("foo.bar", "foo.barx", false),
    ("foo.bar", "foo.bar.baz", false),
    ("*.*", "foo.bar", true),
    ("*.*", "foo", false),
];

/// A subject each pattern matches, published last so that every subscription sees it
/// after all the table's subjects.
fn sentinel(pattern: &str) -> String {
    pattern.replace(['*', '>'], "end")
}

/// Subscribes are made visible to other connections by a probe: `pub_nc` publishes to
/// a probe subject until `sub_nc`'s last SUB (on the probe subject) receives it (a `sync`
/// request from `sub_nc` would be swallowed by its own `>` subscription).
#[tokio::test]
async fn wildcards_match_per_token_rules() {
    let s = server();
    let sub_nc = client(&s).await;
    let pub_nc = client(&s).await;
    let patterns: BTreeSet<&str> = WILDCARDS.iter().map(|w| w.0).collect();
    let mut subs = Vec::new();
    for p in &patterns {
        subs.push((*p, sub_nc.subscribe(p.to_string()).await.unwrap()));
    }
    let mut probe = sub_nc.subscribe("_probe.wc").await.unwrap();
    loop {
        pub_nc.publish("_probe.wc", "probe".into()).await.unwrap();
        pub_nc.flush().await.unwrap();
        if tokio::time::timeout(Duration::from_millis(50), probe.next())
            .await
            .is_ok()
        {
            break;
        }
    }
    let subjects: BTreeSet<&str> = WILDCARDS.iter().map(|w| w.1).collect();
    for subj in &subjects {
        pub_nc
            .publish(subj.to_string(), subj.to_string().into())
            .await
            .unwrap();
    }
    for p in &patterns {
        pub_nc.publish(sentinel(p), "__END__".into()).await.unwrap();
    }
    pub_nc.flush().await.unwrap();
    for (p, sub) in subs.iter_mut() {
        let mut got = BTreeSet::new();
        loop {
            let m = next_msg(sub, T).await;
            if m.subject.starts_with("_probe.") {
                continue;
            }
            if &m.payload[..] == b"__END__" {
                break;
            }
            assert!(
                got.insert(String::from_utf8(m.payload.to_vec()).unwrap()),
                "dup on {p}"
            );
        }
        for (wp, subj, matches) in WILDCARDS.iter().filter(|w| w.0 == *p) {
            assert_eq!(
                got.contains(*subj),
                *matches,
                "pattern {wp} vs subject {subj}"
            );
        }
    }
}

async fn count_queue(mut subs: Vec<async_nats::Subscriber>, total: usize) -> Vec<Vec<u32>> {
    let mut per: Vec<Vec<u32>> = vec![Vec::new(); subs.len()];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    while n < total {
        assert!(
            Instant::now() < deadline,
            "only {n}/{total} delivered: {per:?}"
        );
        for (i, sub) in subs.iter_mut().enumerate() {
            while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(5), sub.next()).await
            {
                per[i].push(std::str::from_utf8(&m.payload).unwrap().parse().unwrap());
                n += 1;
            }
        }
    }
    for sub in subs.iter_mut() {
        assert_no_msg(sub, Duration::from_millis(50)).await;
    }
    per
}

#[tokio::test]
async fn queue_group_delivers_each_message_exactly_once_across_members() {
    let s = server();
    let mut members = Vec::new();
    let mut subs = Vec::new();
    for _ in 0..3 {
        let nc = client(&s).await;
        subs.push(
            nc.queue_subscribe("work.q", "workers".into())
                .await
                .unwrap(),
        );
        sync(&nc).await;
        members.push(nc);
    }
    let publisher = client(&s).await;
    const N: u32 = 600;
    for i in 0..N {
        publisher
            .publish("work.q", i.to_string().into())
            .await
            .unwrap();
    }
    sync(&publisher).await;
    let per = count_queue(subs, N as usize).await;
    let mut all: Vec<u32> = per.iter().flatten().copied().collect();
    all.sort();
    assert_eq!(all, (0..N).collect::<Vec<_>>(), "each message exactly once");
    for (i, got) in per.iter().enumerate() {
        assert!(
            !got.is_empty(),
            "member {i} got nothing: {:?}",
            per.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn queue_group_and_plain_subscriber_on_same_subject() {
    let s = server();
    let a = client(&s).await;
    let b = client(&s).await;
    let plain_nc = client(&s).await;
    let qa = a.queue_subscribe("mix", "g".into()).await.unwrap();
    let qb = b.queue_subscribe("mix", "g".into()).await.unwrap();
    let mut plain = plain_nc.subscribe("mix").await.unwrap();
    for c in [&a, &b, &plain_nc] {
        sync(c).await;
    }
    const N: u32 = 200;
    let p = client(&s).await;
    for i in 0..N {
        p.publish("mix", i.to_string().into()).await.unwrap();
    }
    sync(&p).await;
    for i in 0..N {
        let m = next_msg(&mut plain, T).await;
        assert_eq!(
            &m.payload[..],
            i.to_string().as_bytes(),
            "plain sub gets all, in order"
        );
    }
    let per = count_queue(vec![qa, qb], N as usize).await;
    let mut all: Vec<u32> = per.concat();
    all.sort();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
}

#[tokio::test]
async fn queue_groups_with_different_names_each_get_a_copy() {
    let s = server();
    let nc = client(&s).await;
    let g1 = nc.queue_subscribe("multi", "g1".into()).await.unwrap();
    let g2 = nc.queue_subscribe("multi", "g2".into()).await.unwrap();
    sync(&nc).await;
    let p = client(&s).await;
    for i in 0..20u32 {
        p.publish("multi", i.to_string().into()).await.unwrap();
    }
    sync(&p).await;
    let per = count_queue(vec![g1, g2], 40).await;
    assert_eq!(per[0], (0..20).collect::<Vec<_>>());
    assert_eq!(per[1], (0..20).collect::<Vec<_>>());
}

#[tokio::test]
async fn request_reply_across_connections() {
    let s = server();
    let responder = client(&s).await;
    let mut svc = responder.subscribe("svc.upper").await.unwrap();
    sync(&responder).await;
    let r2 = responder.clone();
    let task = tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            let reply = m.reply.expect("request has a reply subject");
            let up = String::from_utf8_lossy(&m.payload).to_uppercase();
            r2.publish(reply, up.into()).await.unwrap();
            r2.flush().await.unwrap();
        }
    });
    let requester = client(&s).await;
    for word in ["hello", "world", ""] {
        let resp = requester.request("svc.upper", word.into()).await.unwrap();
        assert_eq!(&resp.payload[..], word.to_uppercase().as_bytes());
    }
    // publish_with_reply: an explicit reply subject is delivered to the subscriber
    let mut inbox = requester.subscribe("my.reply").await.unwrap();
    requester
        .publish_with_reply("svc.upper", "my.reply", "abc".into())
        .await
        .unwrap();
    assert_eq!(&next_msg(&mut inbox, T).await.payload[..], b"ABC");
    task.abort();
}

#[tokio::test]
async fn request_without_responders_fails_fast_with_no_responders() {
    let s = server();
    let nc = client(&s).await;
    let t0 = Instant::now();
    let err = nc.request("nobody.home", "ping".into()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn headers_round_trip_including_multi_value() {
    let s = server();
    let sub_nc = client(&s).await;
    let mut sub = sub_nc.subscribe("hdr").await.unwrap();
    sync(&sub_nc).await;
    let p = client(&s).await;
    let mut h = HeaderMap::new();
    h.insert("X-Single", "one");
    h.append("X-Multi", "a");
    h.append("X-Multi", "b");
    h.append("X-Multi", "c");
    h.insert("Nats-Msg-Id", "id-1");
    p.publish_with_headers("hdr", h, "body".into())
        .await
        .unwrap();
    // headers only, empty payload
    let mut h2 = HeaderMap::new();
    h2.insert("Only", "headers");
    p.publish_with_headers("hdr", h2, "".into()).await.unwrap();
    sync(&p).await;

    let m = next_msg(&mut sub, T).await;
    assert_eq!(&m.payload[..], b"body");
    let got = m.headers.expect("headers delivered");
    assert_eq!(got.get("X-Single").map(|v| v.as_str()), Some("one"));
    let multi: Vec<&str> = got.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, ["a", "b", "c"]);
    assert_eq!(got.get("Nats-Msg-Id").map(|v| v.as_str()), Some("id-1"));

    let m = next_msg(&mut sub, T).await;
    assert!(m.payload.is_empty());
    assert_eq!(
        m.headers.unwrap().get("Only").map(|v| v.as_str()),
        Some("headers")
    );
}

#[tokio::test]
async fn echo_off_client_does_not_receive_its_own_publishes() {
    let s = server();
    let quiet = client_with(&s, client_options().no_echo()).await;
    let other = client(&s).await;
    let mut own = quiet.subscribe("echo.t").await.unwrap();
    let mut theirs = other.subscribe("echo.t").await.unwrap();
    sync(&quiet).await;
    sync(&other).await;
    quiet.publish("echo.t", "from-quiet".into()).await.unwrap();
    sync(&quiet).await;
    assert_eq!(&next_msg(&mut theirs, T).await.payload[..], b"from-quiet");
    // the no-echo client still gets other connections' messages
    other.publish("echo.t", "from-other".into()).await.unwrap();
    sync(&other).await;
    assert_eq!(&next_msg(&mut own, T).await.payload[..], b"from-other");
    assert_eq!(&next_msg(&mut theirs, T).await.payload[..], b"from-other");
    assert_no_msg(&mut own, Duration::from_millis(100)).await;
}

#[tokio::test]
async fn echo_on_is_the_default() {
    let s = server();
    let nc = client(&s).await;
    let mut sub = nc.subscribe("echo.default").await.unwrap();
    nc.publish("echo.default", "me".into()).await.unwrap();
    assert_eq!(&next_msg(&mut sub, T).await.payload[..], b"me");
}

#[tokio::test]
async fn unsubscribe_after_n_messages_stops_delivery() {
    let s = server();
    let nc = client(&s).await;
    let mut sub = nc.subscribe("auto.unsub").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    sync(&nc).await;
    let p = client(&s).await;
    for i in 0..10 {
        p.publish("auto.unsub", format!("{i}").into())
            .await
            .unwrap();
    }
    sync(&p).await;
    for i in 0..3 {
        assert_eq!(
            &next_msg(&mut sub, T).await.payload[..],
            format!("{i}").as_bytes()
        );
    }
    // the subscription ends after its 3 messages
    let end = tokio::time::timeout(T, sub.next())
        .await
        .expect("sub should end");
    assert!(end.is_none(), "got a 4th message");
}

#[tokio::test]
async fn unsubscribe_stops_delivery_and_other_subs_continue() {
    let s = server();
    let nc = client(&s).await;
    let mut a = nc.subscribe("unsub.t").await.unwrap();
    let mut b = nc.subscribe("unsub.t").await.unwrap();
    sync(&nc).await;
    nc.publish("unsub.t", "1".into()).await.unwrap();
    assert_eq!(&next_msg(&mut a, T).await.payload[..], b"1");
    assert_eq!(&next_msg(&mut b, T).await.payload[..], b"1");
    a.unsubscribe().await.unwrap();
    sync(&nc).await;
    nc.publish("unsub.t", "2".into()).await.unwrap();
    assert_eq!(&next_msg(&mut b, T).await.payload[..], b"2");
    assert!(tokio::time::timeout(T, a.next()).await.unwrap().is_none());
}

/// What one queue member read: its messages before its UNSUB was acknowledged (PONG),
/// and after.
#[derive(Default)]
struct MemberLog {
    before: Vec<u32>,
    after: Vec<u32>,
}

/// Reads `c`'s MSG frames (payload = sequence number) until `done` is set and nothing
/// came for 200 ms. With `leave_after = Some(n)`, sends `UNSUB 1` + PING after the n-th
/// message and sets `left` once the PONG arrives.
async fn queue_member(
    mut c: RawConn,
    leave_after: Option<usize>,
    left: std::sync::Arc<std::sync::atomic::AtomicBool>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    total: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> MemberLog {
    use std::sync::atomic::Ordering::SeqCst;
    c.timeout = Duration::from_millis(200);
    let mut log = MemberLog::default();
    let mut unsub_sent = false;
    let mut acked = false;
    loop {
        match c.read_frame().await {
            Ok(Frame::Msg { payload, sid, .. }) => {
                assert_eq!(sid, "1");
                let seq: u32 = std::str::from_utf8(&payload).unwrap().parse().unwrap();
                if acked {
                    log.after.push(seq);
                } else {
                    log.before.push(seq);
                }
                total.fetch_add(1, SeqCst);
                if !unsub_sent && leave_after == Some(log.before.len()) {
                    c.send(b"UNSUB 1\r\nPING\r\n").await;
                    unsub_sent = true;
                }
            }
            Ok(Frame::Pong) if unsub_sent && !acked => {
                acked = true;
                left.store(true, SeqCst);
            }
            Ok(f) => panic!("unexpected frame {f:?}"),
            Err(ReadError::Timeout(_)) if done.load(SeqCst) => return log,
            Err(ReadError::Timeout(_)) => {}
            Err(e) => panic!("member connection failed: {e:?}"),
        }
    }
}

/// A queue group of 4 members, each on its own connection (with jetcore spread over the
/// cores), while a 5th connection publishes 20,000 numbered messages in batches of 100
/// (PING/PONG after each batch, so the flow is continuous and paced). After its 200th
/// message one member sends `UNSUB` + PING. Then:
/// - every message reaches exactly one member: none is lost (messages routed to the
///   leaving member before its UNSUB took effect are still delivered to it, or to
///   another member), none is duplicated;
/// - the leaving member gets nothing published after its UNSUB was acknowledged (PONG);
/// - the others keep receiving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_member_leaving_mid_stream_loses_and_duplicates_nothing() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    const N: u32 = 20_000;
    const BATCH: u32 = 100;
    const MEMBERS: usize = 4;
    const LEAVE_AFTER: usize = 200;
    let s = server();
    let left = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..MEMBERS {
        let mut c = raw(&s).await;
        c.send(b"SUB qleave.work workers 1\r\n").await;
        c.ping_pong().await;
        let leave = (i == 0).then_some(LEAVE_AFTER);
        tasks.push(tokio::spawn(queue_member(
            c,
            leave,
            left.clone(),
            done.clone(),
            total.clone(),
        )));
    }

    let mut publisher = raw(&s).await;
    let mut first_after_leave = None; // first sequence published after the UNSUB's PONG
    for start in (0..N).step_by(BATCH as usize) {
        if first_after_leave.is_none() && left.load(SeqCst) {
            first_after_leave = Some(start);
        }
        let mut batch = Vec::new();
        for seq in start..start + BATCH {
            let p = seq.to_string();
            batch.extend_from_slice(format!("PUB qleave.work {}\r\n{p}\r\n", p.len()).as_bytes());
        }
        publisher.send(&batch).await;
        publisher.ping_pong().await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while total.load(SeqCst) < N as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done.store(true, SeqCst); // members stop after 200 ms of quiet (catches duplicates)
    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await.unwrap());
    }

    let first_after_leave = first_after_leave.expect("the member never got its PONG");
    println!(
        "leaving member: {} messages before its PONG, {} after; first sequence published \
         after the PONG: {first_after_leave}; per member: {:?}",
        logs[0].before.len(),
        logs[0].after.len(),
        logs.iter()
            .map(|l| l.before.len() + l.after.len())
            .collect::<Vec<_>>()
    );
    assert!(
        first_after_leave <= N / 2,
        "UNSUB acknowledged only at message {first_after_leave}: the flow did not go on"
    );
    let mut all: Vec<u32> = logs
        .iter()
        .flat_map(|l| l.before.iter().chain(&l.after))
        .copied()
        .collect();
    all.sort_unstable();
    let dups: Vec<u32> = all
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    assert!(
        dups.is_empty(),
        "duplicated: {:?}",
        &dups[..dups.len().min(20)]
    );
    let got: BTreeSet<u32> = all.iter().copied().collect();
    let lost: Vec<u32> = (0..N).filter(|i| !got.contains(i)).collect();
    assert!(
        lost.is_empty(),
        "{} lost (UNSUB acked before {first_after_leave}): {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    let late: Vec<u32> = logs[0]
        .after
        .iter()
        .copied()
        .filter(|&seq| seq >= first_after_leave)
        .collect();
    assert!(
        late.is_empty(),
        "the leaving member got messages published after its UNSUB was acknowledged \
         (first such sequence {first_after_leave}): {late:?}"
    );
    for (i, l) in logs.iter().enumerate().skip(1) {
        assert!(
            l.before.iter().any(|&seq| seq >= first_after_leave),
            "member {i} got nothing after the leave"
        );
    }
}

/// Several publishers and subscribers, each on its own connection (with jetcore they
/// may land on different shard cores): every subscriber gets every message, and each
/// publisher's messages in publish order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_connection_delivery_keeps_per_publisher_order() {
    let s = ServerBuilder::new().cores(cores_under_test()).start();
    const PUBS: usize = 4;
    const SUBS: usize = 4;
    const N: usize = 250;
    let mut subs = Vec::new();
    let mut sub_conns = Vec::new();
    for _ in 0..SUBS {
        let nc = client(&s).await;
        subs.push(nc.subscribe("xconn.>").await.unwrap());
        sync(&nc).await;
        sub_conns.push(nc);
    }
    let mut tasks = Vec::new();
    for p in 0..PUBS {
        let nc = client(&s).await;
        tasks.push(tokio::spawn(async move {
            for i in 0..N {
                nc.publish(format!("xconn.p{p}"), format!("{p}:{i}").into())
                    .await
                    .unwrap();
            }
            sync(&nc).await;
            nc
        }));
    }
    let mut keep = Vec::new();
    for t in tasks {
        keep.push(t.await.unwrap());
    }
    for (si, sub) in subs.iter_mut().enumerate() {
        let mut next: HashMap<usize, usize> = HashMap::new();
        for _ in 0..PUBS * N {
            let m = next_msg(sub, T).await;
            let text = std::str::from_utf8(&m.payload).unwrap();
            let (p, i) = text.split_once(':').unwrap();
            let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
            assert_eq!(m.subject.as_str(), format!("xconn.p{p}"));
            let want = next.entry(p).or_insert(0);
            assert_eq!(i, *want, "subscriber {si}: publisher {p} out of order");
            *want += 1;
        }
        assert_no_msg(sub, Duration::from_millis(50)).await;
    }
}

/// A request/reply ping-pong between two connections, many round trips: the reply
/// path must work whichever connection (core) the requester and responder are on.
#[tokio::test]
async fn many_round_trips_between_two_connections() {
    let s = server();
    let responder = client(&s).await;
    let mut svc = responder.subscribe("rt.echo").await.unwrap();
    sync(&responder).await;
    let r2 = responder.clone();
    let task = tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            r2.publish(m.reply.unwrap(), m.payload).await.unwrap();
        }
    });
    let requester = client(&s).await;
    for i in 0..200 {
        let body = format!("rt{i}");
        let resp = requester
            .request("rt.echo", body.clone().into())
            .await
            .unwrap();
        assert_eq!(&resp.payload[..], body.as_bytes());
    }
    task.abort();
}
