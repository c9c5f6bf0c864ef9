//! Tests of the consumer ack/delivery state machine, all in simulated time.
//!
//! Scenarios marked "2.15.1" replay what a real nats-server 2.15.1 reported in
//! `ConsumerInfo` for the same steps (pull consumer, explicit acks sent by a nats-py
//! script, info read after each step).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// One second in nanoseconds.
const S: i64 = 1_000_000_000;

fn settings(mode: AckMode, ack_wait: i64) -> Settings {
    Settings {
        mode,
        ack_wait_ns: ack_wait,
        backoff_ns: Vec::new(),
        max_deliver: -1,
        max_ack_pending: -1,
    }
}

fn explicit(ack_wait: i64) -> Settings {
    settings(AckMode::Explicit, ack_wait)
}

fn pair(p: SeqPair) -> (u64, u64) {
    (p.consumer_seq, p.stream_seq)
}

/// Deliver the next `n` new messages (a stream without gaps) at `now`.
fn deliver_new(t: &mut Tracker, n: usize, now: i64) -> Vec<Delivered> {
    (0..n)
        .map(|_| {
            let seq = t.next_new_stream_seq();
            t.deliver(seq, now, false)
        })
        .collect()
}

/// (stream seq, consumer seq, delivery count) of a redelivery.
type Sent = (u64, u64, u64);

/// (stream seq, deliveries) of a MAX_DELIVERIES notice.
type Notice = (u64, u64);

/// Expire at `now`, then pop and redeliver everything due: the redeliveries made
/// and the MAX_DELIVERIES notices from both places.
fn redeliver_due(t: &mut Tracker, now: i64) -> (Vec<Sent>, Vec<Notice>) {
    let mut exceeded: Vec<Notice> = t
        .expire(now)
        .into_iter()
        .map(|e| (e.stream_seq, e.deliveries))
        .collect();
    let mut sent = Vec::new();
    while let Some(r) = t.pop_redelivery(now) {
        match r {
            Redelivery::Due { stream_seq } => {
                let d = t.deliver(stream_seq, now, true);
                sent.push((stream_seq, d.consumer_seq, d.delivery_count));
            }
            Redelivery::Exceeded {
                stream_seq,
                deliveries,
            } => exceeded.push((stream_seq, deliveries)),
        }
    }
    (sent, exceeded)
}

/// (delivered, ack floor, num_ack_pending, num_redelivered), as ConsumerInfo shows.
fn info(t: &Tracker) -> ((u64, u64), (u64, u64), usize, usize) {
    (
        pair(t.delivered()),
        pair(t.ack_floor()),
        t.num_ack_pending(),
        t.num_redelivered(),
    )
}

/// Everything that must hold after any operation.
fn check_invariants(t: &Tracker) {
    let (d, f) = (t.delivered, t.ack_floor);
    assert!(
        f.stream_seq <= d.stream_seq,
        "floor {f:?} above delivered {d:?}"
    );
    assert!(
        f.consumer_seq <= d.consumer_seq,
        "floor {f:?} above delivered {d:?}"
    );
    assert!(
        t.next_seq > d.stream_seq,
        "scan {} behind {d:?}",
        t.next_seq
    );
    for (&seq, p) in &t.pending {
        assert!(
            seq > f.stream_seq && seq <= d.stream_seq,
            "pending {seq} outside {f:?}..{d:?}"
        );
        assert!(p.consumer_seq >= 1 && p.consumer_seq <= d.consumer_seq);
        if t.settings.max_deliver > 0 {
            assert!(t.delivery_count(seq) <= t.settings.max_deliver as u64);
        }
    }
    for &n in t.redelivered.values() {
        assert!(n >= 1);
    }
    let queued = t.queue.live_in_order();
    assert_eq!(queued.len(), t.queue.len());
    for s in &queued {
        assert!(t.pending.contains_key(s), "queued {s} not pending");
    }
    let timers = t.wait_for(0).is_some();
    for &seq in t.pending.keys() {
        let scheduled = t.deadlines.of.contains_key(&seq);
        assert_eq!(
            scheduled,
            timers && !t.queue.contains(seq),
            "deadline of {seq}"
        );
    }
    assert_eq!(t.deadlines.of.len(), t.deadlines.by_time.len());
    for (&seq, &at) in &t.deadlines.of {
        assert!(t.pending.contains_key(&seq));
        assert!(t.deadlines.by_time.contains(&(at, seq)));
    }
    if t.settings.mode == AckMode::None {
        assert!(t.pending.is_empty());
        assert_eq!(f, d);
    }
    let snap = t.snapshot();
    let bytes = encode(&snap);
    assert_eq!(bytes, t.encoded());
    assert_eq!(decode(&bytes).as_ref(), Ok(&snap));
}

// ---- redelivery timing -------------------------------------------------------------

#[test]
fn redelivery_after_ack_wait() {
    let mut t = Tracker::new(explicit(30 * S), 1);
    let d = deliver_new(&mut t, 1, 0);
    assert_eq!(
        d,
        vec![Delivered {
            consumer_seq: 1,
            delivery_count: 1
        }]
    );
    assert_eq!(t.next_deadline(), Some(30 * S));
    assert!(t.expire(30 * S - 1).is_empty());
    assert_eq!(t.num_redeliveries(), 0);
    assert_eq!(t.pop_redelivery(30 * S - 1), None);
    assert!(t.expire(30 * S).is_empty());
    assert_eq!(t.num_redeliveries(), 1);
    assert_eq!(t.next_deadline(), None);
    assert_eq!(
        t.pop_redelivery(30 * S),
        Some(Redelivery::Due { stream_seq: 1 })
    );
    let peek = t.peek_delivery(1, true);
    let d = t.deliver(1, 31 * S, true);
    assert_eq!(peek, d);
    assert_eq!(
        d,
        Delivered {
            consumer_seq: 2,
            delivery_count: 2
        }
    );
    // A redelivery gets a new consumer sequence; the stream side does not move.
    assert_eq!(info(&t), ((2, 1), (0, 0), 1, 1));
    assert_eq!(t.next_deadline(), Some(61 * S));
    check_invariants(&t);
}

#[test]
fn progress_restarts_the_ack_wait() {
    let mut t = Tracker::new(explicit(30 * S), 1);
    deliver_new(&mut t, 2, 0);
    assert!(t.progress(1, 20 * S));
    assert!(!t.progress(9, 20 * S));
    assert_eq!(t.next_deadline(), Some(30 * S));
    assert!(t.expire(30 * S).is_empty());
    assert_eq!(
        t.pop_redelivery(30 * S),
        Some(Redelivery::Due { stream_seq: 2 })
    );
    assert_eq!(t.pop_redelivery(30 * S), None);
    assert_eq!(t.next_deadline(), Some(50 * S));
    assert!(t.expire(50 * S - 1).is_empty());
    assert!(t.expire(50 * S).is_empty());
    assert_eq!(
        t.pop_redelivery(50 * S),
        Some(Redelivery::Due { stream_seq: 1 })
    );
    assert_eq!(t.last_delivered_at(), Some(20 * S));
    check_invariants(&t);
}

#[test]
fn backoff_schedule_by_delivery_count() {
    // The wait after the n-th delivery is backoff[min(n-1, len-1)].
    let mut s = explicit(S);
    s.backoff_ns = vec![S, 5 * S, 10 * S];
    s.max_deliver = 6;
    let expected_waits = [S, 5 * S, 10 * S, 10 * S, 10 * S, 10 * S];
    let mut t = Tracker::new(s, 1);
    let mut now = 0;
    deliver_new(&mut t, 1, now);
    for (n, &wait) in expected_waits.iter().enumerate() {
        let at = t.next_deadline().expect("a deadline");
        assert_eq!(at - now, wait, "wait after delivery {}", n + 1);
        assert!(t.expire(at - 1).is_empty());
        assert_eq!(t.num_redeliveries(), 0);
        now = at;
        let (sent, exceeded) = redeliver_due(&mut t, now);
        if n + 1 < 6 {
            assert_eq!(sent, vec![(1, n as u64 + 2, n as u64 + 2)]);
            assert!(exceeded.is_empty());
        } else {
            assert!(sent.is_empty());
            assert_eq!(exceeded, vec![(1, 6)]);
        }
        check_invariants(&t);
    }
}

#[test]
fn nak_with_delay_under_backoff_adds_the_backoff_excess() {
    // 2.15.1: backoff [1s, 3s]; after one redelivery a `-NAK {"delay": 0.5s}` came
    // back 2.5 s later (0.5 + 3 - 1), the next one 3 s later, a plain -NAK at once.
    let mut s = explicit(S);
    s.backoff_ns = vec![S, 3 * S];
    s.max_deliver = 5;
    let mut t = Tracker::new(s, 1);
    deliver_new(&mut t, 1, 0);
    let (sent, _) = redeliver_due(&mut t, S);
    assert_eq!(sent, vec![(1, 2, 2)]);
    assert!(t.nak(1, 2, Some(S / 2), S));
    assert_eq!(t.next_deadline(), Some(S + 5 * S / 2));
    assert!(redeliver_due(&mut t, S + 5 * S / 2 - 1).0.is_empty());
    let now = S + 5 * S / 2;
    assert_eq!(redeliver_due(&mut t, now).0, vec![(1, 3, 3)]);
    assert_eq!(t.next_deadline(), Some(now + 3 * S));
    let now = now + 3 * S;
    assert_eq!(redeliver_due(&mut t, now).0, vec![(1, 4, 4)]);
    assert!(t.nak(1, 4, None, now));
    assert_eq!(redeliver_due(&mut t, now).0, vec![(1, 5, 5)]);
    // Five deliveries: the next expiry ends it.
    let (sent, exceeded) = redeliver_due(&mut t, now + 3 * S);
    assert!(sent.is_empty());
    assert_eq!(exceeded, vec![(1, 5)]);
    check_invariants(&t);
}

#[test]
fn nak_now_and_with_delay() {
    let mut t = Tracker::new(explicit(30 * S), 1);
    deliver_new(&mut t, 3, 0);
    // Out of range consumer sequences and messages not pending are refused.
    assert!(!t.nak(1, 0, None, S));
    assert!(!t.nak(1, 5, None, S));
    assert!(!t.nak(9, 3, None, S));
    // No delay: due now, queued once however often it is nak'd.
    assert!(t.nak(2, 2, None, S));
    assert!(t.nak(2, 2, None, S));
    assert_eq!(t.num_redeliveries(), 1);
    assert_eq!(t.pop_redelivery(S), Some(Redelivery::Due { stream_seq: 2 }));
    assert_eq!(t.pop_redelivery(S), None);
    assert_eq!(t.deliver(2, S, true).delivery_count, 2);
    // With a delay: due at now + delay (no backoff), not before.
    assert!(t.nak(3, 3, Some(5 * S), 2 * S));
    assert_eq!(t.next_deadline(), Some(7 * S));
    assert!(t.expire(7 * S - 1).is_empty());
    assert_eq!(t.pop_redelivery(7 * S - 1), None);
    assert!(t.expire(7 * S).is_empty());
    assert_eq!(
        t.pop_redelivery(7 * S),
        Some(Redelivery::Due { stream_seq: 3 })
    );
    // A delayed nak takes a queued message off the queue.
    assert!(t.nak(1, 1, None, 8 * S));
    assert!(t.nak(1, 1, Some(S), 8 * S));
    assert_eq!(t.num_redeliveries(), 0);
    assert_eq!(t.next_deadline(), Some(9 * S));
    check_invariants(&t);
}

// ---- max_deliver and max_ack_pending -----------------------------------------------

#[test]
fn max_deliver_table() {
    // (max_deliver, where Go notices it, num_redelivered Go reports)
    for (max, from_expire, reported) in [(1, true, 0), (2, false, 1), (3, false, 1), (4, false, 1)]
    {
        let mut s = explicit(S);
        s.max_deliver = max;
        let mut t = Tracker::new(s, 1);
        deliver_new(&mut t, 1, 0);
        let mut deliveries = 1;
        let mut now = 0;
        let notice = loop {
            now += S;
            let exceeded = t.expire(now);
            if !exceeded.is_empty() {
                assert!(from_expire, "max {max}");
                break exceeded[0];
            }
            match t.pop_redelivery(now) {
                Some(Redelivery::Due { stream_seq }) => {
                    deliveries += 1;
                    assert_eq!(t.deliver(stream_seq, now, true).delivery_count, deliveries);
                }
                Some(Redelivery::Exceeded {
                    stream_seq,
                    deliveries,
                }) => {
                    assert!(!from_expire, "max {max}");
                    break Exceeded {
                        stream_seq,
                        deliveries,
                    };
                }
                None => panic!("nothing due at {now}"),
            }
        };
        assert_eq!(deliveries, max as u64, "max {max}");
        assert_eq!(
            notice,
            Exceeded {
                stream_seq: 1,
                deliveries: max as u64
            }
        );
        // Never again; the floor stays; interest retention keeps the message.
        assert_eq!(t.num_ack_pending(), 0);
        assert_eq!(t.num_redelivered(), reported);
        assert_eq!(t.redelivered.get(&1), Some(&(max as u64)));
        assert_eq!(pair(t.ack_floor()), (0, 0));
        assert_eq!(t.next_deadline(), None);
        assert!(redeliver_due(&mut t, now + 100 * S).0.is_empty());
        assert!(t.needs(1));
        assert!(!t.nak(1, 1, None, now));
        // A late ack releases it.
        let out = t.ack(1, 1, now);
        assert_eq!((out.status, out.acked), (AckStatus::NotPending, vec![1]));
        assert!(!t.needs(1));
        assert_eq!(t.num_redelivered(), 0);
        check_invariants(&t);
    }
}

#[test]
fn max_deliver_leaves_the_floor_as_go_reports_it() {
    // 2.15.1, max_deliver 2, ack_wait 1s, 3 messages, ack 2, never ack 1 and 3.
    let mut s = explicit(S);
    s.max_deliver = 2;
    let mut t = Tracker::new(s, 1);
    deliver_new(&mut t, 3, 0);
    assert_eq!(t.ack(2, 2, 0).status, AckStatus::Acked);
    assert_eq!(info(&t), ((3, 3), (0, 0), 2, 0));
    assert!(t.expire(S).is_empty());
    assert_eq!(info(&t), ((3, 3), (0, 0), 2, 0));
    let (sent, _) = redeliver_due(&mut t, S);
    assert_eq!(sent, vec![(1, 4, 2), (3, 5, 2)]);
    assert_eq!(info(&t), ((5, 3), (0, 0), 2, 2));
    assert!(t.expire(2 * S).is_empty());
    assert_eq!(info(&t), ((5, 3), (0, 0), 2, 2));
    let (sent, exceeded) = redeliver_due(&mut t, 2 * S);
    assert!(sent.is_empty());
    assert_eq!(exceeded, vec![(1, 2), (3, 2)]);
    assert_eq!(info(&t), ((5, 3), (0, 0), 0, 2));
    let out = t.ack(3, 3, 3 * S);
    assert_eq!((out.status, out.acked), (AckStatus::NotPending, vec![3]));
    assert_eq!(info(&t), ((5, 3), (0, 0), 0, 1));
    let t = Tracker::restore(t.settings().clone(), decode(&t.encoded()).expect("decodes"));
    assert_eq!(info(&t), ((5, 3), (0, 0), 0, 1));
    check_invariants(&t);
}

#[test]
fn floor_stays_until_pending_drains_after_max_deliver() {
    // 2.15.1, max_deliver 1: message 1 expires (exceeded), 2 acked, then 3 and 4.
    let mut s = explicit(S);
    s.max_deliver = 1;
    let mut t = Tracker::new(s, 1);
    deliver_new(&mut t, 2, 0);
    t.ack(2, 2, 0);
    let (_, exceeded) = redeliver_due(&mut t, S);
    assert_eq!(exceeded, vec![(1, 1)]);
    assert_eq!(info(&t), ((2, 2), (0, 0), 0, 0));
    deliver_new(&mut t, 2, 2 * S);
    assert_eq!(info(&t), ((4, 4), (0, 0), 2, 0));
    t.ack(3, 3, 2 * S);
    assert_eq!(info(&t), ((4, 4), (0, 0), 1, 0));
    t.ack(4, 4, 2 * S);
    assert_eq!(info(&t), ((4, 4), (4, 4), 0, 0));
    check_invariants(&t);
}

#[test]
fn max_ack_pending_blocks_new_deliveries_until_an_ack() {
    let mut s = explicit(S);
    s.max_ack_pending = 2;
    let mut t = Tracker::new(s, 1);
    assert!(t.can_deliver());
    deliver_new(&mut t, 1, 0);
    assert!(t.can_deliver());
    deliver_new(&mut t, 1, 0);
    assert!(!t.can_deliver());
    // Redeliveries still flow.
    let (sent, _) = redeliver_due(&mut t, S);
    assert_eq!(sent.len(), 2);
    assert!(!t.can_deliver());
    assert!(!t.nak(2, 9, None, S));
    assert_eq!(t.ack(2, 2, S).status, AckStatus::Acked);
    assert!(t.can_deliver());
    deliver_new(&mut t, 1, S);
    assert!(!t.can_deliver());
    assert_eq!(t.term(1, 1, S).status, AckStatus::Acked);
    assert!(t.can_deliver());
    // AckNone never blocks.
    let mut s = settings(AckMode::None, S);
    s.max_ack_pending = 1;
    let mut t = Tracker::new(s, 1);
    deliver_new(&mut t, 3, 0);
    assert!(t.can_deliver());
    check_invariants(&t);
}

// ---- acks and the floor ------------------------------------------------------------

#[test]
fn ack_floor_with_out_of_order_explicit_acks() {
    // 2.15.1: ten messages fetched, acked in this order; the floor after each.
    let steps = [
        (3, (0, 0)),
        (1, (1, 1)),
        (2, (3, 3)),
        (5, (3, 3)),
        (4, (5, 5)),
        (10, (5, 5)),
        (7, (5, 5)),
        (6, (7, 7)),
        (9, (7, 7)),
        (8, (10, 10)),
    ];
    let mut t = Tracker::new(explicit(30 * S), 1);
    deliver_new(&mut t, 10, 0);
    for (i, (seq, floor)) in steps.into_iter().enumerate() {
        let out = t.ack(seq, seq, S);
        assert_eq!((out.status, out.acked), (AckStatus::Acked, vec![seq]));
        assert_eq!(pair(t.ack_floor()), floor, "after acking {seq}");
        assert_eq!(t.num_ack_pending(), 9 - i);
        check_invariants(&t);
    }
    // A double ack changes nothing (Go still answers it).
    let out = t.ack(3, 3, S);
    assert_eq!((out.status, out.acked), (AckStatus::NotPending, vec![]));
    assert_eq!(pair(t.delivered()), (10, 10));
}

#[test]
fn ack_of_an_older_delivery_term_and_unknown_acks() {
    // 2.15.1: 3 messages, ack 2, 1 and 3 redelivered as consumer seqs 4 and 5.
    let mut t = Tracker::new(explicit(S), 1);
    deliver_new(&mut t, 3, 0);
    t.ack(2, 2, 0);
    let (sent, _) = redeliver_due(&mut t, S);
    assert_eq!(sent, vec![(1, 4, 2), (3, 5, 2)]);
    assert_eq!(info(&t), ((5, 3), (0, 0), 2, 2));
    // The first delivery's reply (consumer seq 1) still acks it.
    let out = t.ack(1, 1, 2 * S);
    assert_eq!(out.status, AckStatus::Acked);
    assert_eq!(info(&t), ((5, 3), (2, 2), 1, 1));
    let out = t.term(3, 3, 2 * S);
    assert_eq!((out.status, out.acked), (AckStatus::Acked, vec![3]));
    assert_eq!(info(&t), ((5, 3), (5, 3), 0, 0));
    assert_eq!(t.term(3, 3, 2 * S).status, AckStatus::NotPending);
    // Past the scan position: never delivered, Go does not even answer.
    assert_eq!(t.ack(99, 99, 2 * S).status, AckStatus::NotDelivered);
    assert_eq!(t.last_acked_at(), Some(2 * S));
    check_invariants(&t);
}

#[test]
fn ack_all_acks_everything_up_to_the_sequence() {
    // 2.15.1 (ack_policy all, ack_wait 1s, five messages).
    let mut t = Tracker::new(settings(AckMode::All, S), 1);
    deliver_new(&mut t, 5, 0);
    let out = t.ack(3, 3, 0);
    assert_eq!((out.status, out.acked), (AckStatus::Acked, vec![1, 2, 3]));
    assert_eq!(info(&t), ((5, 5), (3, 3), 2, 0));
    assert_eq!(t.ack(2, 2, 0).status, AckStatus::NotPending);
    assert_eq!(info(&t), ((5, 5), (3, 3), 2, 0));
    assert!(!t.needs(3));
    assert!(t.needs(4));
    let (sent, _) = redeliver_due(&mut t, S);
    assert_eq!(sent, vec![(4, 6, 2), (5, 7, 2)]);
    // Acked through the first delivery's reply of 4.
    t.ack(4, 4, 2 * S);
    assert_eq!(info(&t), ((7, 5), (4, 4), 1, 1));
    // Go takes the reply's consumer sequence for the floor as is.
    let out = t.ack(5, 7, 2 * S);
    assert_eq!((out.status, out.acked), (AckStatus::Acked, vec![5]));
    assert_eq!(info(&t), ((7, 5), (7, 5), 0, 0));
    // Term in AckAll acks everything below as well.
    deliver_new(&mut t, 3, 3 * S);
    let out = t.term(7, 9, 3 * S);
    assert_eq!((out.status, out.acked), (AckStatus::Acked, vec![6, 7]));
    assert_eq!(info(&t), ((10, 8), (9, 7), 1, 0));
    check_invariants(&t);
}

#[test]
fn ack_none_floor_follows_delivered() {
    // 2.15.1: ack_policy none, two messages fetched.
    let mut t = Tracker::new(settings(AckMode::None, 30 * S), 1);
    assert_eq!(info(&t), ((0, 0), (0, 0), 0, 0));
    deliver_new(&mut t, 2, 0);
    assert_eq!(info(&t), ((2, 2), (2, 2), 0, 0));
    assert_eq!(t.ack(1, 1, 0).status, AckStatus::NoAck);
    assert_eq!(t.next_deadline(), None);
    assert!(t.expire(100 * S).is_empty());
    assert!(!t.needs(2));
    assert!(t.needs(3));
    check_invariants(&t);
}

#[test]
fn start_position_sets_delivered_and_floor() {
    // 2.15.1: deliver_policy new on a 3-message stream → (0,3); start seq 2 → (0,1).
    for (start, expect) in [(4, (0, 3)), (2, (0, 1)), (1, (0, 0)), (0, (0, 0))] {
        let t = Tracker::new(explicit(S), start);
        assert_eq!(pair(t.delivered()), expect);
        assert_eq!(pair(t.ack_floor()), expect);
        assert_eq!(t.next_new_stream_seq(), start.max(1));
        check_invariants(&t);
    }
}

#[test]
fn filtered_consumer_reports_the_last_message_it_sent() {
    // 2.15.1: filter S.a; S.a at 1, S.b at 2 and 3, later S.b at 4 and S.a at 5.
    let mut t = Tracker::new(explicit(30 * S), 1);
    t.deliver(1, 0, false);
    assert_eq!(info(&t), ((1, 1), (0, 0), 1, 0));
    // The scan reached the end of the stream.
    t.skip_to(4);
    assert_eq!(t.last_delivered_stream_seq(), 3);
    assert_eq!(info(&t), ((1, 1), (0, 0), 1, 0));
    t.ack(1, 1, 0);
    assert_eq!(info(&t), ((1, 1), (1, 1), 0, 0));
    assert_eq!(t.deliver(5, 0, false).consumer_seq, 2);
    assert_eq!(info(&t), ((2, 5), (1, 1), 1, 0));
    t.ack(5, 2, 0);
    assert_eq!(info(&t), ((2, 5), (2, 5), 0, 0));
    check_invariants(&t);
}

#[test]
fn purge_table() {
    // 2.15.1: (messages fetched, acked, purge's new first seq, filter) → info after.
    struct Case {
        deliver: Vec<u64>,
        scanned_to: u64,
        acks: Vec<u64>,
        first: u64,
        after: ((u64, u64), (u64, u64), usize),
    }
    let cases = [
        // Five messages, two fetched, purge everything.
        Case {
            deliver: vec![1, 2],
            scanned_to: 3,
            acks: vec![],
            first: 6,
            after: ((2, 5), (2, 5), 0),
        },
        // Five fetched, purge below 3.
        Case {
            deliver: vec![1, 2, 3, 4, 5],
            scanned_to: 6,
            acks: vec![],
            first: 3,
            after: ((5, 5), (2, 2), 3),
        },
        Case {
            deliver: vec![1, 2, 3, 4, 5],
            scanned_to: 6,
            acks: vec![1],
            first: 3,
            after: ((5, 5), (2, 2), 3),
        },
        // Filter S.a over a.b.a.b.a: 1, 3, 5 fetched, purge everything.
        Case {
            deliver: vec![1, 3, 5],
            scanned_to: 6,
            acks: vec![],
            first: 6,
            after: ((3, 5), (3, 5), 0),
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let mut t = Tracker::new(explicit(30 * S), 1);
        for &seq in &c.deliver {
            t.deliver(seq, 0, false);
        }
        t.skip_to(c.scanned_to);
        for &seq in &c.acks {
            let cseq = t.pending[&seq].consumer_seq;
            t.ack(seq, cseq, 0);
        }
        t.purged(c.first, S);
        let (d, f, p, _) = info(&t);
        assert_eq!((d, f, p), c.after, "case {i}");
        assert!(t.next_new_stream_seq() >= c.first);
        check_invariants(&t);
    }
}

#[test]
fn stream_removed_terminates_a_pending_message() {
    let mut s = explicit(S);
    s.max_deliver = 2;
    let mut t = Tracker::new(s, 1);
    deliver_new(&mut t, 3, 0);
    let (sent, _) = redeliver_due(&mut t, S);
    assert_eq!(sent.len(), 3);
    let term = t.stream_removed(1, S);
    assert_eq!(
        term,
        Some(Terminated {
            consumer_seq: 1,
            deliveries: 2,
            acked: vec![]
        })
    );
    assert_eq!(pair(t.ack_floor()), (1, 1));
    // Not pending: only its redelivery count goes.
    let _ = redeliver_due(&mut t, 10 * S);
    assert_eq!(t.num_redelivered(), 2);
    assert!(t.needs(2));
    assert_eq!(t.stream_removed(2, 10 * S), None);
    assert_eq!(t.num_redelivered(), 1);
    assert!(!t.needs(2));
    // A redelivery found missing is forgotten the same way.
    let mut t = Tracker::new(explicit(S), 1);
    deliver_new(&mut t, 2, 0);
    assert!(t.expire(S).is_empty());
    assert_eq!(t.pop_redelivery(S), Some(Redelivery::Due { stream_seq: 1 }));
    assert!(t.stream_removed(1, S).is_some());
    assert_eq!(t.pop_redelivery(S), Some(Redelivery::Due { stream_seq: 2 }));
    t.requeue(2);
    assert_eq!(t.num_redeliveries(), 1);
    assert_eq!(t.pop_redelivery(S), Some(Redelivery::Due { stream_seq: 2 }));
    check_invariants(&t);
}

#[test]
fn needs_for_interest_retention() {
    let mut t = Tracker::new(explicit(S), 1);
    deliver_new(&mut t, 3, 0);
    t.ack(2, 2, 0);
    // Pending, acked, not yet delivered.
    assert!(t.needs(1));
    assert!(!t.needs(2));
    assert!(t.needs(3));
    assert!(t.needs(4));
    t.ack(1, 1, 0);
    assert!(!t.needs(1));
    t.skip_to(10);
    assert!(!t.needs(5), "scanned past: not for this consumer");
    assert!(t.needs(10));
}

// ---- persistence ---------------------------------------------------------------------

#[test]
fn restore_from_snapshot_redelivers_after_the_deadline() {
    let mut s = explicit(30 * S);
    s.max_deliver = 5;
    s.max_ack_pending = 10;
    let mut t = Tracker::new(s.clone(), 1);
    deliver_new(&mut t, 4, 0);
    t.ack(2, 2, S);
    let (sent, _) = redeliver_due(&mut t, 30 * S);
    assert_eq!(sent.len(), 3);
    assert!(t.progress(3, 40 * S));
    assert!(t.nak(4, 4, Some(S), 45 * S));
    let gen = t.generation();
    let bytes = t.encoded();
    assert_eq!(bytes, encode(&t.snapshot()));
    let state = decode(&bytes).expect("decodes");
    assert_eq!(state, t.snapshot());
    let mut r = Tracker::restore(s, state);
    assert_eq!(info(&r), info(&t));
    assert_eq!(r.next_new_stream_seq(), 5);
    assert_eq!(r.num_redeliveries(), 0);
    assert_eq!(r.delivery_count(1), 2);
    assert_eq!(r.generation(), 0);
    assert!(gen > 0);
    // Deadlines from the stored timestamps: 1 at 60 s, 3 at 70 s, 4 at 46 s.
    assert_eq!(r.next_deadline(), Some(46 * S));
    assert_eq!(redeliver_due(&mut r, 46 * S).0, vec![(4, 8, 3)]);
    assert!(redeliver_due(&mut r, 60 * S - 1).0.is_empty());
    assert_eq!(redeliver_due(&mut r, 60 * S).0, vec![(1, 9, 3)]);
    assert_eq!(redeliver_due(&mut r, 70 * S).0, vec![(3, 10, 3)]);
    check_invariants(&r);
}

#[test]
fn restore_normalises_a_hand_made_state() {
    let mut state = PersistedState {
        delivered: SeqPair {
            consumer_seq: 3,
            stream_seq: 3,
        },
        ack_floor: SeqPair {
            consumer_seq: 5,
            stream_seq: 2,
        },
        ..PersistedState::default()
    };
    for seq in [2, 3, 7] {
        state.pending.insert(
            seq,
            Pending {
                consumer_seq: seq,
                timestamp_ns: 0,
            },
        );
    }
    state.redelivered.insert(9, 0);
    let t = Tracker::restore(explicit(S), state);
    assert_eq!(pair(t.ack_floor()), (3, 2));
    assert_eq!(pair(t.delivered()), (7, 7));
    assert_eq!(t.pending.keys().copied().collect::<Vec<_>>(), vec![3, 7]);
    assert!(t.redelivered.is_empty());
    check_invariants(&t);
}

#[test]
fn decode_rejects_malformed_input() {
    let mut t = Tracker::new(explicit(S), 1);
    deliver_new(&mut t, 3, 1_700_000_000 * S);
    let good = t.encoded();
    assert_eq!(decode(&[]), Err(DecodeError::TooShort));
    assert_eq!(decode(&[0x16, 2]), Err(DecodeError::BadMagic(0x16)));
    assert_eq!(decode(&[MAGIC, 9]), Err(DecodeError::UnsupportedVersion(9)));
    assert_eq!(decode(&[MAGIC, VERSION]), Err(DecodeError::Truncated));
    for n in 2..good.len() {
        assert!(decode(&good[..n]).is_err(), "prefix of {n} bytes");
    }
    let mut long = good.clone();
    long.push(0);
    assert_eq!(decode(&long), Err(DecodeError::Trailing(1)));
    let overlong = [
        MAGIC, VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ];
    assert_eq!(decode(&overlong), Err(DecodeError::Overflow));
    // A pending count the buffer cannot hold.
    let huge = [MAGIC, VERSION, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(decode(&huge), Err(DecodeError::Truncated));
    // Pending above delivered.
    let bad = [MAGIC, VERSION, 0, 0, 1, 1, 1, 2, 1, 0, 0];
    assert!(matches!(decode(&bad), Err(DecodeError::Inconsistent(_))));
}

#[test]
fn decode_never_panics_on_random_or_mutated_bytes() {
    let mut rng = StdRng::seed_from_u64(0xc05e_57a7);
    let mut samples = Vec::new();
    let mut t = Tracker::new(explicit(S), 1);
    deliver_new(&mut t, 20, 5 * S);
    for seq in [3, 7, 8] {
        t.ack(seq, seq, 6 * S);
    }
    let _ = redeliver_due(&mut t, 7 * S);
    samples.push(t.encoded());
    samples.push(Tracker::new(explicit(S), 1).encoded());
    let mut accepted = 0;
    for i in 0..20_000 {
        let input: Vec<u8> = if i % 2 == 0 {
            let n = rng.random_range(0..48);
            let mut v: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            if n >= 2 && rng.random_bool(0.7) {
                v[0] = MAGIC;
                v[1] = VERSION;
            }
            v
        } else {
            let mut v = samples[rng.random_range(0..samples.len())].clone();
            for _ in 0..rng.random_range(1..4) {
                match rng.random_range(0..3) {
                    0 if !v.is_empty() => {
                        let at = rng.random_range(0..v.len());
                        v[at] ^= 1 << rng.random_range(0..8);
                    }
                    1 if !v.is_empty() => {
                        let at = rng.random_range(0..v.len());
                        v.truncate(at);
                    }
                    _ => {
                        let at = rng.random_range(0..=v.len());
                        v.insert(at, rng.random());
                    }
                }
            }
            v
        };
        if let Ok(state) = decode(&input) {
            accepted += 1;
            assert_eq!(decode(&encode(&state)).as_ref(), Ok(&state));
            let t = Tracker::restore(explicit(S), state);
            check_invariants(&t);
        }
    }
    assert!(accepted > 0, "some mutations should still decode");
}

#[test]
fn extreme_values_do_not_overflow() {
    let m = u64::MAX;
    let mut state = PersistedState {
        delivered: SeqPair {
            consumer_seq: m,
            stream_seq: m - 1,
        },
        ack_floor: SeqPair {
            consumer_seq: m - 3,
            stream_seq: m - 3,
        },
        ..PersistedState::default()
    };
    state.pending.insert(
        m - 2,
        Pending {
            consumer_seq: m - 2,
            timestamp_ns: i64::MIN,
        },
    );
    state.redelivered.insert(m - 2, m - 1);
    let bytes = encode(&state);
    assert_eq!(decode(&bytes).as_ref(), Ok(&state));
    let mut s = explicit(i64::MAX);
    s.max_deliver = i64::MAX;
    let mut t = Tracker::restore(s, decode(&bytes).expect("decodes"));
    let _ = t.peek_delivery(m - 2, true);
    let _ = t.expire(i64::MAX);
    let _ = t.pop_redelivery(i64::MAX);
    let _ = t.latest_deadline();
    let _ = t.nak(m - 2, m - 2, Some(i64::MIN), i64::MIN);
    let _ = t.deliver(m - 2, i64::MAX, true);
    let _ = t.ack(m - 2, m, i64::MAX);
    t.purged(m, 0);
    check_invariants(&t);
}

// ---- randomised operations -----------------------------------------------------

/// The stream a random run delivers from.
struct Stream {
    /// Last sequence stored.
    last: u64,
    /// First sequence still stored (after purges).
    first: u64,
    /// Sequences deleted from the middle.
    removed: BTreeSet<u64>,
}

impl Stream {
    fn has(&self, seq: u64) -> bool {
        seq >= self.first && seq <= self.last && !self.removed.contains(&seq)
    }
}

/// Random operations against one configuration; invariants after every step.
/// `gapless` runs use no deletions or purges, so the floor must be exactly one
/// below the lowest pending message (or `delivered` when none is).
fn random_run(seed: u64, s: Settings, gapless: bool) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = Tracker::new(s.clone(), 1);
    let mut stream = Stream {
        last: 0,
        first: 1,
        removed: BTreeSet::new(),
    };
    let mut now = 1_700_000_000 * S;
    // Messages acked while pending: never needed again.
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    for step in 0..4000 {
        match rng.random_range(0..100) {
            0..=14 => stream.last += 1,
            15..=34 if t.can_deliver() => {
                let mut seq = t.next_new_stream_seq().max(stream.first);
                while seq <= stream.last && !stream.has(seq) {
                    seq += 1;
                }
                if seq <= stream.last {
                    let before = t.peek_delivery(seq, false);
                    assert_eq!(t.deliver(seq, now, false), before);
                } else {
                    t.skip_to(stream.last + 1);
                }
            }
            35..=44 => match t.pop_redelivery(now) {
                Some(Redelivery::Due { stream_seq }) => {
                    if !stream.has(stream_seq) {
                        assert!(t.stream_removed(stream_seq, now).is_some());
                    } else if rng.random_bool(0.1) {
                        t.requeue(stream_seq);
                    } else {
                        let before = t.peek_delivery(stream_seq, true);
                        let d = t.deliver(stream_seq, now, true);
                        assert_eq!(d, before);
                        assert!(d.delivery_count >= 2);
                    }
                }
                Some(Redelivery::Exceeded { deliveries, .. }) => {
                    assert_eq!(deliveries, s.max_deliver as u64);
                }
                None => {}
            },
            45..=54 => {
                now += rng.random_range(0..3 * S);
                for e in t.expire(now) {
                    assert!(s.max_deliver > 0);
                    assert!(!t.is_pending(e.stream_seq));
                }
                if let Some(at) = t.next_deadline() {
                    assert!(at > now);
                }
            }
            55..=74 => {
                // Ack a pending message (or, now and then, anything).
                let pick = pick_pending(&t, &mut rng);
                let (seq, cseq) = match pick {
                    Some(p) if rng.random_bool(0.9) => p,
                    _ => {
                        let seq = rng.random_range(0..t.next_new_stream_seq() + 3);
                        (seq, rng.random_range(0..t.delivered().consumer_seq + 2))
                    }
                };
                let was_pending = t.is_pending(seq);
                let out = if rng.random_bool(0.8) {
                    t.ack(seq, cseq, now)
                } else {
                    t.term(seq, cseq, now)
                };
                if out.status == AckStatus::Acked {
                    assert!(out.acked.contains(&seq));
                    for &a in &out.acked {
                        assert!(!t.is_pending(a));
                    }
                    if was_pending && s.mode == AckMode::Explicit {
                        acked.insert(seq);
                    }
                }
                if s.mode == AckMode::None {
                    assert!(matches!(
                        out.status,
                        AckStatus::NoAck | AckStatus::NotDelivered
                    ));
                }
            }
            75..=82 => {
                if let Some((seq, cseq)) = pick_pending(&t, &mut rng) {
                    let delay = rng.random_bool(0.5).then(|| rng.random_range(-S..5 * S));
                    assert!(t.nak(seq, cseq, delay, now));
                }
            }
            83..=88 => {
                if let Some((seq, _)) = pick_pending(&t, &mut rng) {
                    assert!(t.progress(seq, now));
                }
            }
            89..=92 if !gapless && stream.last >= stream.first => {
                let seq = rng.random_range(stream.first..=stream.last);
                if stream.removed.insert(seq) {
                    let _ = t.stream_removed(seq, now);
                    assert!(!t.is_pending(seq));
                }
            }
            93..=94 if !gapless && rng.random_bool(0.3) => {
                let first = rng.random_range(stream.first..=stream.last + 1);
                stream.first = first;
                t.purged(first, now);
                assert!(t.pending.keys().all(|&p| p >= first));
            }
            95..=97 => {
                // Restart: the persisted state alone must rebuild the same picture.
                let state = decode(&t.encoded()).expect("own encoding decodes");
                let r = Tracker::restore(s.clone(), state);
                assert_eq!(info(&r), info(&t));
                assert_eq!(r.pending, t.pending);
                assert_eq!(r.redelivered, t.redelivered);
                t = r;
            }
            _ => {}
        }
        check_invariants(&t);
        if s.max_ack_pending > 0 && s.mode != AckMode::None {
            assert!(
                t.num_ack_pending() as i64 <= s.max_ack_pending,
                "step {step}"
            );
        }
        for &a in acked.iter().rev().take(32) {
            assert!(!t.needs(a), "acked {a} still needed at step {step}");
        }
        if gapless {
            let expect = match t.pending.first_key_value() {
                Some((&seq, p)) => (p.consumer_seq - 1, seq - 1),
                None => pair(t.delivered()),
            };
            assert_eq!(pair(t.ack_floor()), expect, "step {step}");
        }
    }
}

fn pick_pending(t: &Tracker, rng: &mut StdRng) -> Option<(u64, u64)> {
    if t.pending.is_empty() {
        return None;
    }
    let i = rng.random_range(0..t.pending.len());
    t.pending.iter().nth(i).map(|(&s, p)| (s, p.consumer_seq))
}

#[test]
fn random_operations_keep_the_invariants() {
    let mut with_backoff = explicit(S);
    with_backoff.backoff_ns = vec![S, 2 * S, 5 * S];
    with_backoff.max_deliver = 4;
    with_backoff.max_ack_pending = 5;
    let mut all = settings(AckMode::All, 3 * S);
    all.max_deliver = 3;
    all.max_ack_pending = 4;
    let mut once = explicit(2 * S);
    once.max_deliver = 1;
    once.max_ack_pending = 3;
    let configs = [
        ("explicit", explicit(10 * S), false),
        ("explicit gapless", explicit(4 * S), true),
        ("explicit backoff", with_backoff, false),
        ("all", all, false),
        ("max_deliver 1", once, false),
        ("none", settings(AckMode::None, S), false),
    ];
    for (name, s, gapless) in configs {
        for seed in 0..6 {
            let run = std::panic::catch_unwind(|| random_run(seed, s.clone(), gapless));
            assert!(run.is_ok(), "{name}, seed {seed}");
        }
    }
}
