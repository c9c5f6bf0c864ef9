//! Tests for the sublist: tables (cases after Go's `sublist_test.go`), cache
//! coherence, pruning, and a seeded randomized comparison against a
//! brute-force model built on [`crate::subject::matches_filter`].

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::{MatchResult, Sublist, SublistError, TokenKey, CACHE_MAX};
use crate::subject::matches_filter;

/// A result in comparable form: sorted plain items, queue name → sorted
/// members.
type Norm = (Vec<u32>, BTreeMap<Vec<u8>, Vec<u32>>);

/// Normalizes a result, checking queue groups are distinct and non-empty.
fn norm(r: &MatchResult<u32>) -> Norm {
    let mut plain = r.plain.clone();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    for g in &r.queues {
        assert!(!g.members.is_empty(), "empty queue group {:?}", g.name);
        let mut m = g.members.clone();
        m.sort_unstable();
        let dup = queues.insert(g.name.to_vec(), m);
        assert!(dup.is_none(), "queue group {:?} listed twice", g.name);
    }
    (plain, queues)
}

/// Builds the expected [`Norm`] from literal lists.
fn want(plain: &[u32], queues: &[(&str, &[u32])]) -> Norm {
    let mut p = plain.to_vec();
    p.sort_unstable();
    let q = queues.iter().map(|(n, m)| {
        let mut m = m.to_vec();
        m.sort_unstable();
        (n.as_bytes().to_vec(), m)
    });
    (p, q.collect())
}

/// Matches `subject` twice (miss, then hit) and checks both plus the
/// uncached walk and `has_interest` against `expected`.
fn assert_match(s: &mut Sublist<u32>, subject: &str, expected: &Norm) {
    let b = subject.as_bytes();
    let first = s.matches(b);
    assert_eq!(&norm(&first), expected, "match {subject:?}");
    assert_eq!(&norm(&s.matches(b)), expected, "cached match {subject:?}");
    assert_eq!(
        &norm(&s.match_uncached(b)),
        expected,
        "uncached {subject:?}"
    );
    let any = !expected.0.is_empty() || !expected.1.is_empty();
    assert_eq!(s.has_interest(b), any, "has_interest {subject:?}");
}

/// Inserts `(filter, queue, item)` rows, which must all be valid.
fn fill(s: &mut Sublist<u32>, rows: &[(&str, Option<&str>, u32)]) {
    for (f, q, item) in rows {
        s.insert(f.as_bytes(), q.map(str::as_bytes), *item).unwrap();
    }
}

/// Filters shared by the table tests: item ids are unique per row.
const TABLE_SUBS: &[(&str, Option<&str>, u32)] = &[
    ("foo", None, 1),
    ("foo.bar", None, 2),
    ("foo.*", None, 3),
    ("foo.>", None, 4),
    (">", None, 5),
    ("*.bar", None, 6),
    ("foo.*.baz", None, 7),
    ("foo.*bar", None, 8),
    ("*", None, 9),
    ("foo.bar", Some("q1"), 10),
    ("foo.*", Some("q1"), 11),
    ("foo.>", Some("q2"), 12),
    ("*.*.baz", Some("q2"), 13),
];

#[test]
fn matching_table() {
    let mut s = Sublist::new();
    fill(&mut s, TABLE_SUBS);
    type Row = (
        &'static str,
        &'static [u32],
        &'static [(&'static str, &'static [u32])],
    );
    let rows: &[Row] = &[
        ("foo", &[1, 5, 9], &[]),
        (
            "foo.bar",
            &[2, 3, 4, 5, 6],
            &[("q1", &[10, 11]), ("q2", &[12])],
        ),
        ("foo.baz", &[3, 4, 5], &[("q1", &[11]), ("q2", &[12])]),
        ("foo.bar.baz", &[4, 5, 7], &[("q2", &[12, 13])]),
        ("x.y.baz", &[5], &[("q2", &[13])]),
        ("foo.xbar", &[3, 4, 5], &[("q1", &[11]), ("q2", &[12])]),
        ("foo.*bar", &[3, 4, 5, 8], &[("q1", &[11]), ("q2", &[12])]),
        ("bar", &[5, 9], &[]),
        ("x.bar", &[5, 6], &[]),
        ("foo.bar.baz.x", &[4, 5], &[("q2", &[12])]),
        // A non-pedantic client may publish wildcard tokens: opaque bytes.
        ("foo.*", &[3, 4, 5], &[("q1", &[11]), ("q2", &[12])]),
        ("*", &[5, 9], &[]),
        // Empty tokens match nothing, not even `>`.
        ("", &[], &[]),
        (".foo", &[], &[]),
        ("foo.", &[], &[]),
        ("foo..bar", &[], &[]),
        ("..", &[], &[]),
    ];
    for (subject, plain, queues) in rows {
        assert_match(&mut s, subject, &want(plain, queues));
    }
    for bad in ["", ".foo", "foo.", "foo..bar", ".."] {
        assert!(s.cached().iter().all(|(k, _)| k != bad.as_bytes()));
    }
}

#[test]
fn go_basic_queue_results() {
    // After Go's testSublistBasicQueueResults.
    let mut s = Sublist::new();
    fill(&mut s, &[("foo", Some("bar"), 1)]);
    assert_match(&mut s, "foo", &want(&[], &[("bar", &[1])]));
    fill(&mut s, &[("foo", Some("baz"), 2), ("foo", None, 0)]);
    assert_match(&mut s, "foo", &want(&[0], &[("bar", &[1]), ("baz", &[2])]));
    fill(&mut s, &[("foo", Some("bar"), 3), ("foo", Some("baz"), 4)]);
    let all = want(&[0], &[("bar", &[1, 3]), ("baz", &[2, 4])]);
    assert_match(&mut s, "foo", &all);
    assert!(s.remove(b"foo", None, &0));
    assert_match(
        &mut s,
        "foo",
        &want(&[], &[("bar", &[1, 3]), ("baz", &[2, 4])]),
    );
    assert!(s.remove(b"foo", Some(b"bar"), &1));
    assert_match(
        &mut s,
        "foo",
        &want(&[], &[("bar", &[3]), ("baz", &[2, 4])]),
    );
    assert!(s.remove(b"foo", Some(b"bar"), &3));
    assert_match(&mut s, "foo", &want(&[], &[("baz", &[2, 4])]));
    assert!(s.remove(b"foo", Some(b"baz"), &2));
    assert!(s.remove(b"foo", Some(b"baz"), &4));
    assert_match(&mut s, "foo", &want(&[], &[]));
    assert!(s.is_empty());
    assert_eq!(s.node_count(), 0);
}

#[test]
fn same_queue_name_from_different_filters_is_one_group() {
    let mut s = Sublist::new();
    let subs = [
        ("foo.bar", Some("q"), 1),
        ("foo.*", Some("q"), 2),
        ("foo.>", Some("q"), 3),
        ("*.bar", Some("r"), 4),
    ];
    fill(&mut s, &subs);
    assert_match(
        &mut s,
        "foo.bar",
        &want(&[], &[("q", &[1, 2, 3]), ("r", &[4])]),
    );
    assert_match(&mut s, "foo.baz", &want(&[], &[("q", &[2, 3])]));
    // Removing one filter's member keeps the group with the others.
    assert!(s.remove(b"foo.*", Some(b"q"), &2));
    assert_match(
        &mut s,
        "foo.bar",
        &want(&[], &[("q", &[1, 3]), ("r", &[4])]),
    );
    // The same item through two filters appears once per filter.
    fill(&mut s, &[("foo.*", Some("q"), 1)]);
    assert_match(
        &mut s,
        "foo.bar",
        &want(&[], &[("q", &[1, 1, 3]), ("r", &[4])]),
    );
}

#[test]
fn go_cache_add_and_remove() {
    // After Go's TestSublistCache.
    let mut s = Sublist::new();
    fill(&mut s, &[("a.b.c.d", None, 1)]);
    assert_match(&mut s, "a.b.c.d", &want(&[1], &[]));
    fill(&mut s, &[("a.b.*.d", None, 2), ("a.b.>", None, 3)]);
    assert_eq!(s.len(), 3);
    assert_match(&mut s, "a.b.c.d", &want(&[1, 2, 3], &[]));
    assert!(s.remove(b"a.b.c.d", None, &1));
    assert_match(&mut s, "a.b.c.d", &want(&[2, 3], &[]));
    assert!(s.remove(b"a.b.>", None, &3));
    assert_match(&mut s, "a.b.c.d", &want(&[2], &[]));
    assert!(s.remove(b"a.b.*.d", None, &2));
    assert_match(&mut s, "a.b.c.d", &want(&[], &[]));
    let r = s.matches(b"a.b.c.d");
    assert!(
        s.is_shared_empty(&r),
        "emptied entry should share the empty result"
    );

    let mut s = Sublist::new();
    fill(&mut s, &[("foo.*", None, 1), ("foo.bar", None, 2)]);
    assert_match(&mut s, "foo.baz", &want(&[1], &[]));
    assert_match(&mut s, "foo.bar", &want(&[1, 2], &[]));
    fill(&mut s, &[("foo.>", None, 3)]);
    assert_match(&mut s, "foo.bar", &want(&[1, 2, 3], &[]));
    assert_match(&mut s, "foo.baz", &want(&[1, 3], &[]));
}

#[test]
fn cache_coherence_between_matches_of_one_subject() {
    let mut s = Sublist::new();
    let subject = "orders.eu.new";
    assert_match(&mut s, subject, &want(&[], &[])); // caches the empty result
    let steps: &[(&str, Option<&str>, u32, bool)] = &[
        ("orders.eu.new", None, 1, true),
        ("orders.*.new", Some("w"), 2, true),
        ("orders.>", Some("w"), 3, true),
        ("orders.us.new", None, 4, true), // does not match: cache untouched
        (">", None, 5, true),
        ("orders.*.new", Some("w"), 2, false),
        ("orders.eu.new", None, 1, false),
        ("orders.>", Some("w"), 3, false),
        (">", None, 5, false),
    ];
    let mut live: Vec<(&str, Option<&str>, u32)> = Vec::new();
    for &(f, q, item, add) in steps {
        if add {
            s.insert(f.as_bytes(), q.map(str::as_bytes), item).unwrap();
            live.push((f, q, item));
        } else {
            assert!(s.remove(f.as_bytes(), q.map(str::as_bytes), &item));
            live.retain(|e| *e != (f, q, item));
        }
        let cached = s
            .cached()
            .into_iter()
            .find(|(k, _)| k == subject.as_bytes());
        let (_, r) = cached.expect("entry stays cached across changes");
        let plain: Vec<u32> = live
            .iter()
            .filter(|(lf, lq, _)| lq.is_none() && matches_filter(subject.as_bytes(), lf.as_bytes()))
            .map(|e| e.2)
            .collect();
        let w: Vec<u32> = live
            .iter()
            .filter(|(lf, lq, _)| lq.is_some() && matches_filter(subject.as_bytes(), lf.as_bytes()))
            .map(|e| e.2)
            .collect();
        let queues: &[(&str, &[u32])] = if w.is_empty() { &[] } else { &[("w", &w)] };
        assert_eq!(norm(&r), want(&plain, queues), "after {f} {add}");
        assert_match(&mut s, subject, &want(&plain, queues));
    }
}

#[test]
fn held_results_are_snapshots() {
    let mut s = Sublist::new();
    fill(&mut s, &[("foo", None, 1)]);
    let before = s.matches(b"foo");
    fill(&mut s, &[("foo", None, 2), ("*", Some("q"), 3)]);
    assert_eq!(norm(&before), want(&[1], &[]));
    let after = s.matches(b"foo");
    assert_eq!(norm(&after), want(&[1, 2], &[("q", &[3])]));
    assert!(s.remove(b"foo", None, &1));
    assert_eq!(norm(&after), want(&[1, 2], &[("q", &[3])]));
    assert_eq!(norm(&s.matches(b"foo")), want(&[2], &[("q", &[3])]));
}

#[test]
fn cache_hit_shares_the_result() {
    let mut s = Sublist::new();
    fill(&mut s, &[("foo", None, 1)]);
    let a = s.matches(b"foo");
    let b = s.matches(b"foo");
    assert!(Rc::ptr_eq(&a, &b));
    let stats = s.stats();
    assert_eq!((stats.matches, stats.cache_hits), (2, 1));
}

#[test]
fn stats_count_inserts_removes_and_fanout_like_go() {
    let mut s = Sublist::new();
    fill(
        &mut s,
        &[
            ("foo", None, 1),
            ("foo", None, 2),
            ("foo", Some("q"), 3),
            ("foo", Some("q"), 4),
            ("foo.*", None, 5),
        ],
    );
    assert!(s.remove(b"foo.*", None, &5));
    assert!(
        !s.remove(b"foo.*", None, &5),
        "a failed remove is not counted"
    );
    // Fan-out of `foo`: two plain subscribers plus one queue group (Go counts
    // `len(psubs) + len(qsubs)`); `bar` is cached with nobody (fan-out 0).
    s.matches(b"foo");
    s.matches(b"foo");
    s.matches(b"bar");
    let st = s.stats();
    assert_eq!((st.subscriptions, st.inserts, st.removes), (4, 5, 1));
    assert_eq!((st.matches, st.cache_hits, st.cache_entries), (3, 1, 2));
    assert_eq!((st.total_fanout, st.max_fanout), (3, 3));
}

#[test]
fn shared_empty_result() {
    // After Go's TestSublistSharedEmptyResult.
    let mut s: Sublist<u32> = Sublist::new();
    let a = s.matches(b"foo");
    let b = s.matches(b"bar");
    let c = s.matches(b"foo..bar");
    assert!(a.is_empty() && Rc::ptr_eq(&a, &b) && Rc::ptr_eq(&b, &c));
}

#[test]
fn cache_is_bounded_and_keeps_hot_entries() {
    let mut s = Sublist::new();
    fill(&mut s, &[("hot", None, 1), ("n.*", None, 2)]);
    for i in 0..4 * CACHE_MAX {
        if i % 100 == 0 {
            s.matches(b"hot"); // regular hits keep it through every sweep
        }
        s.matches(format!("n.{i}").as_bytes());
        assert!(s.cache_len() <= CACHE_MAX);
    }
    assert!(s.cached().iter().any(|(k, _)| k == b"hot"));
    // Entries that survived sweeps are still coherent.
    fill(&mut s, &[(">", None, 3)]);
    for (k, r) in s.cached() {
        assert_eq!(norm(&r), norm(&s.match_uncached(&k)), "{k:?}");
    }
}

#[test]
fn sweeps_evict_cold_entries_first() {
    // Small limits so there are hundreds of sweeps; with random eviction
    // eight hot subjects would not all survive every one of them.
    let mut s: Sublist<u32> = Sublist::with_cache_limits(64, 16);
    let hot: Vec<String> = (0..8).map(|i| format!("hot.{i}")).collect();
    for i in 0..10_000 {
        if i % 8 == 0 {
            hot.iter().for_each(|h| drop(s.matches(h.as_bytes())));
        }
        s.matches(format!("cold.{i}").as_bytes());
        let cached = s.cached();
        assert!(cached.len() <= 64);
        for h in &hot {
            let found = cached.iter().any(|(k, _)| k == h.as_bytes());
            assert!(found, "{h} evicted at {i}");
        }
    }
}

#[test]
fn cache_can_be_disabled() {
    let mut s = Sublist::with_cache_limits(0, 0);
    fill(&mut s, &[("foo.*", None, 1)]);
    assert_eq!(norm(&s.matches(b"foo.bar")), want(&[1], &[]));
    assert_eq!(s.cache_len(), 0);
    assert!(s.has_interest(b"foo.bar"));
    assert!(!s.has_interest(b"foo"));
}

#[test]
fn has_interest_table() {
    let mut s = Sublist::new();
    fill(&mut s, TABLE_SUBS);
    assert!(s.remove(b">", None, &5));
    assert!(s.remove(b"*", None, &9));
    let rows = [
        ("foo", true),
        ("foo.bar", true),
        ("x.bar", true),
        ("x.y.baz", true),
        ("bar", false),
        ("x.y", false),
        ("foo..bar", false),
        ("", false),
    ];
    for (subject, want) in rows {
        assert_eq!(s.has_interest(subject.as_bytes()), want, "{subject}");
    }
    // Nodes on the path without subscribers do not count.
    let mut s = Sublist::new();
    fill(&mut s, &[("a.b.c", None, 1)]);
    assert!(!s.has_interest(b"a.b"));
    assert!(!s.has_interest(b"a"));
    assert!(s.has_interest(b"a.b.c"));
}

#[test]
fn invalid_inserts_and_removes() {
    // After Go's testSublistInvalidSubjectsInsert / BadSubjectOnRemove.
    let mut s = Sublist::new();
    for bad in [
        "",
        ".foo",
        "foo.",
        "foo..bar",
        "foo.bar..baz",
        "foo.>.bar",
        ".",
        ">.>",
    ] {
        let err = s.insert(bad.as_bytes(), None, 1);
        assert_eq!(err, Err(SublistError::InvalidSubject), "{bad:?}");
        assert!(!s.remove(bad.as_bytes(), None, &1), "{bad:?}");
    }
    assert_eq!(
        s.insert(b"foo", Some(b""), 1),
        Err(SublistError::InvalidQueue)
    );
    assert!(s.is_empty());
    assert_eq!(s.node_count(), 0);
    // Removing what is not there.
    fill(&mut s, &[("foo.*", Some("q"), 1)]);
    assert!(!s.remove(b"foo.*", None, &1));
    assert!(!s.remove(b"foo.*", Some(b"r"), &1));
    assert!(!s.remove(b"foo.*", Some(b"q"), &2));
    assert!(!s.remove(b"foo.bar", Some(b"q"), &1));
    assert!(!s.remove(b"foo", Some(b"q"), &1));
    assert!(!s.remove(b"foo.*.x", Some(b"q"), &1));
    assert_eq!(s.len(), 1);
}

/// One `remove_batch` entry: subject, queue, item.
type Removal<'a> = (&'a [u8], Option<&'a [u8]>, &'a u32);

#[test]
fn remove_batch_clears_cache_and_counts() {
    let mut s = Sublist::new();
    fill(
        &mut s,
        &[("a.*", None, 1), ("a.b", Some("q"), 1), ("x", None, 2)],
    );
    assert_match(&mut s, "a.b", &want(&[1], &[("q", &[1])]));
    let batch: [Removal; 4] = [
        (b"a.*", None, &1),
        (b"a.b", Some(b"q"), &1),
        (b"a.b", None, &1),  // not there
        (b"a..b", None, &1), // invalid
    ];
    assert_eq!(s.remove_batch(batch), 2);
    assert_eq!(s.cache_len(), 0);
    assert_match(&mut s, "a.b", &want(&[], &[]));
    assert_match(&mut s, "x", &want(&[2], &[]));
    assert_eq!((s.len(), s.node_count()), (1, 1));
}

#[test]
fn duplicate_items_are_counted() {
    let mut s = Sublist::new();
    fill(
        &mut s,
        &[("foo", None, 1), ("foo", None, 1), ("foo", Some("q"), 1)],
    );
    fill(&mut s, &[("foo", Some("q"), 1)]);
    assert_eq!(s.len(), 4);
    assert_match(&mut s, "foo", &want(&[1], &[("q", &[1])]));
    assert!(s.remove(b"foo", None, &1));
    assert!(s.remove(b"foo", Some(b"q"), &1));
    assert_match(&mut s, "foo", &want(&[1], &[("q", &[1])]));
    assert!(s.remove(b"foo", None, &1));
    assert!(s.remove(b"foo", Some(b"q"), &1));
    assert_match(&mut s, "foo", &want(&[], &[]));
    assert!(!s.remove(b"foo", None, &1));
    assert_eq!((s.len(), s.node_count()), (0, 0));
}

#[test]
fn remove_and_reinsert() {
    let mut s = Sublist::new();
    for round in 0..3 {
        fill(&mut s, &[("a.*.c", None, 1), ("a.b.c", Some("q"), 2)]);
        assert_match(&mut s, "a.b.c", &want(&[1], &[("q", &[2])]));
        assert!(s.remove(b"a.*.c", None, &1), "round {round}");
        assert_match(&mut s, "a.b.c", &want(&[], &[("q", &[2])]));
        assert!(s.remove(b"a.b.c", Some(b"q"), &2));
        assert_match(&mut s, "a.b.c", &want(&[], &[]));
        assert_eq!(s.node_count(), 0);
    }
}

#[test]
fn pruning_leaves_no_nodes() {
    // After Go's testSublistRemoveCleanup(Wildcards).
    let mut s = Sublist::new();
    for f in ["a.b.c.d.e.f", "a.b.*.d.e.>", ">", "*", "*.>"] {
        fill(&mut s, &[(f, None, 1)]);
        assert_eq!(s.node_count(), f.split('.').count(), "{f}");
        assert!(s.remove(f.as_bytes(), None, &1));
        assert_eq!(s.node_count(), 0, "{f}");
    }
    // Shared prefixes survive exactly as long as something uses them.
    fill(
        &mut s,
        &[
            ("foo", None, 1),
            ("foo.bar", None, 2),
            ("foo.bar.baz", None, 3),
        ],
    );
    assert_eq!(s.node_count(), 3);
    assert!(s.remove(b"foo.bar", None, &2));
    assert_eq!(s.node_count(), 3); // foo.bar is still on baz's path
    assert!(s.remove(b"foo.bar.baz", None, &3));
    assert_eq!(s.node_count(), 1);
    s.check_pruned();
    fill(&mut s, &[("foo.x.y", None, 4)]);
    assert!(s.remove(b"foo", None, &1));
    assert_eq!(s.node_count(), 3);
    assert!(s.remove(b"foo.x.y", None, &4));
    assert_eq!(s.node_count(), 0);
}

#[test]
fn many_items_on_one_node() {
    // After Go's testSublistRemoveWithLargeSubs (plistMin * 2).
    let mut s = Sublist::new();
    for i in 0..512 {
        fill(&mut s, &[("foo", None, i)]);
    }
    assert_eq!(s.matches(b"foo").plain.len(), 512);
    for i in [256, 0, 511] {
        assert!(s.remove(b"foo", None, &i));
    }
    let r = s.matches(b"foo");
    assert_eq!(r.plain.len(), 509);
    assert!(!r.plain.contains(&256) && !r.plain.contains(&0) && !r.plain.contains(&511));
}

#[test]
fn wildcard_characters_inside_tokens_are_literal() {
    // After Go's testSublist{Insert,Remove}WithWildcardsAsLiterals.
    let mut s = Sublist::new();
    for (i, f) in ["foo.*-", "foo.>-"].into_iter().enumerate() {
        fill(&mut s, &[(f, None, 1)]);
        assert_match(&mut s, "foo.bar", &want(&[], &[]));
        assert_match(&mut s, f, &want(&[1], &[]));
        assert!(!s.remove(b"foo.bar", None, &1));
        assert_eq!(s.len(), 1, "round {i}");
        assert!(s.remove(f.as_bytes(), None, &1));
        assert!(s.is_empty());
    }
}

#[test]
fn two_token_publish_does_not_match_one_token_sub() {
    // Go's bug report #18.
    let mut s = Sublist::new();
    fill(&mut s, &[("foo", None, 1)]);
    assert_match(&mut s, "foo", &want(&[1], &[]));
    assert_match(&mut s, "foo.bar", &want(&[], &[]));
}

#[test]
fn very_deep_subjects_do_not_overflow_the_stack() {
    let n = 50_000;
    let filter = vec!["*"; n].join(".");
    let subject = vec!["t"; n].join(".");
    let mut s = Sublist::new();
    fill(
        &mut s,
        &[(filter.as_str(), None, 1), (subject.as_str(), None, 2)],
    );
    assert_eq!(norm(&s.matches(subject.as_bytes())), want(&[1, 2], &[]));
    assert!(s.has_interest(subject.as_bytes()));
    assert!(s.remove(filter.as_bytes(), None, &1)); // prunes a 50k chain
    assert!(s.remove(subject.as_bytes(), None, &2));
    assert!(s.is_empty());
    fill(&mut s, &[(filter.as_str(), None, 1)]);
    drop(s); // drops a 50k chain
}

#[test]
fn token_keys() {
    assert_eq!(std::mem::size_of::<TokenKey>(), 24);
    for len in [0, 1, 21, 22, 23, 300] {
        let tok = vec![b'x'; len];
        let key = TokenKey::new(&tok);
        assert_eq!(key.as_bytes(), &tok[..]);
        assert_eq!(matches!(key, TokenKey::Inline(..)), len <= 22, "{len}");
    }
    // Long and short literal tokens, including ones that share a prefix.
    let mut s = Sublist::new();
    let long = "l".repeat(40);
    let rows = [
        (format!("a.{long}"), 1),
        (format!("a.{long}x"), 2),
        ("a.llllllllllllllllllllll".to_string(), 3), // 22 bytes
        ("a.lllllllllllllllllllllll".to_string(), 4), // 23 bytes
    ];
    for (f, i) in &rows {
        s.insert(f.as_bytes(), None, *i).unwrap();
    }
    for (f, i) in &rows {
        assert_match(&mut s, f, &want(&[*i], &[]));
    }
    for (f, i) in &rows {
        assert!(s.remove(f.as_bytes(), None, i));
    }
    assert_eq!(s.node_count(), 0);
}

#[test]
fn wide_levels_release_their_tables() {
    let mut s = Sublist::new();
    for i in 0..1000 {
        fill(&mut s, &[(&format!("dev.{i}.t"), None, i)]);
    }
    for i in 0..999 {
        assert!(s.remove(format!("dev.{i}.t").as_bytes(), None, &i));
    }
    s.check_pruned();
    assert_eq!(s.node_count(), 3);
    assert_match(&mut s, "dev.999.t", &want(&[999], &[]));
    assert!(s.remove(b"dev.999.t", None, &999));
    s.check_pruned();
    assert_eq!(s.node_count(), 0);
}

/// Tiny deterministic PRNG (SplitMix64) for the model test.
struct Rng(u64);

impl Rng {
    /// Next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A random element of a non-empty slice.
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// One stored reference group in the model.
#[derive(Clone, PartialEq)]
struct Entry {
    /// Subscription filter.
    filter: String,
    /// Queue name, if a queue subscription.
    queue: Option<String>,
    /// The item.
    item: u32,
    /// Insert count (≥ 1).
    refs: u32,
}

/// Brute-force model: a flat list scanned with `matches_filter`.
#[derive(Default)]
struct Model {
    /// Live entries.
    entries: Vec<Entry>,
}

impl Model {
    /// Expected result for a published subject.
    fn expected(&self, subject: &[u8]) -> Norm {
        let mut plain = Vec::new();
        let mut queues: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        for e in self
            .entries
            .iter()
            .filter(|e| matches_filter(subject, e.filter.as_bytes()))
        {
            match &e.queue {
                None => plain.push(e.item),
                Some(q) => queues
                    .entry(q.as_bytes().to_vec())
                    .or_default()
                    .push(e.item),
            }
        }
        plain.sort_unstable();
        queues.values_mut().for_each(|m| m.sort_unstable());
        (plain, queues)
    }

    /// Total references, to compare with `Sublist::len`.
    fn len(&self) -> usize {
        self.entries.iter().map(|e| e.refs as usize).sum()
    }

    /// Distinct token prefixes of live filters = expected trie nodes.
    fn node_count(&self) -> usize {
        let mut prefixes = BTreeSet::new();
        for e in &self.entries {
            let toks: Vec<&str> = e.filter.split('.').collect();
            for i in 1..=toks.len() {
                prefixes.insert(toks[..i].join("."));
            }
        }
        prefixes.len()
    }
}

/// A random filter: 1–4 tokens, `>` only last.
fn random_filter(rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    let mut toks: Vec<&str> = (0..n).map(|_| *rng.pick(&["a", "b", "c", "*"])).collect();
    if rng.below(5) == 0 {
        toks[n - 1] = ">";
    }
    toks.join(".")
}

/// A random published subject, sometimes with wildcard or empty tokens.
fn random_subject(rng: &mut Rng) -> String {
    if rng.below(20) == 0 {
        return rng.pick(&["", "a..b", "a.", ".a", "."]).to_string();
    }
    let n = 1 + rng.below(5);
    let pool = ["a", "b", "c", "d", "a", "b", "*", ">"];
    let pool = if rng.below(10) == 0 {
        &pool[..]
    } else {
        &pool[..6]
    };
    let toks: Vec<&str> = (0..n).map(|_| *rng.pick(pool)).collect();
    toks.join(".")
}

/// Checks the sublist's structure and every cache entry against the model.
fn check_all(s: &Sublist<u32>, model: &Model, step: usize) {
    assert_eq!(s.len(), model.len(), "len at step {step}");
    assert_eq!(s.node_count(), model.node_count(), "nodes at step {step}");
    s.check_pruned();
    for (k, r) in s.cached() {
        assert_eq!(norm(&r), model.expected(&k), "cached {k:?} at step {step}");
    }
}

/// Random inserts/removes/matches against the model with given cache sizes.
fn run_model(seed: u64, steps: usize, cache_max: usize, cache_sweep: usize) {
    let mut rng = Rng(seed);
    let mut s = Sublist::with_cache_limits(cache_max, cache_sweep);
    let mut model = Model::default();
    for step in 0..steps {
        let op = rng.below(100);
        if op < 40 || (op < 70 && model.entries.is_empty()) {
            // Insert: new, or another reference to a live entry.
            let e = if rng.below(5) == 0 && !model.entries.is_empty() {
                let i = rng.below(model.entries.len());
                model.entries[i].clone()
            } else {
                let queue = rng
                    .pick(&[None, None, Some("q1"), Some("q2")])
                    .map(String::from);
                let item = rng.below(6) as u32;
                Entry {
                    filter: random_filter(&mut rng),
                    queue,
                    item,
                    refs: 1,
                }
            };
            let q = e.queue.as_deref().map(str::as_bytes);
            s.insert(e.filter.as_bytes(), q, e.item).unwrap();
            let same = |m: &Entry| m.filter == e.filter && m.queue == e.queue && m.item == e.item;
            match model.entries.iter_mut().find(|m| same(m)) {
                Some(m) => m.refs += 1,
                None => model.entries.push(Entry { refs: 1, ..e }),
            }
        } else if op < 70 {
            // Remove: mostly a live entry, sometimes a random (likely absent) one.
            let (filter, queue, item) = if rng.below(5) == 0 {
                let q = rng.pick(&[None, Some("q1")]).map(String::from);
                (random_filter(&mut rng), q, rng.below(6) as u32)
            } else {
                let e = rng.pick(&model.entries);
                (e.filter.clone(), e.queue.clone(), e.item)
            };
            let pos = model
                .entries
                .iter()
                .position(|m| m.filter == filter && m.queue == queue && m.item == item);
            let removed = s.remove(
                filter.as_bytes(),
                queue.as_deref().map(str::as_bytes),
                &item,
            );
            assert_eq!(removed, pos.is_some(), "remove at step {step}");
            if let Some(i) = pos {
                model.entries[i].refs -= 1;
                if model.entries[i].refs == 0 {
                    model.entries.swap_remove(i);
                }
            }
        } else {
            let subject = random_subject(&mut rng);
            let expected = model.expected(subject.as_bytes());
            let got = s.matches(subject.as_bytes());
            assert_eq!(norm(&got), expected, "match {subject:?} at step {step}");
            let any = !expected.0.is_empty() || !expected.1.is_empty();
            assert_eq!(
                s.has_interest(subject.as_bytes()),
                any,
                "interest {subject:?}"
            );
        }
        assert!(s.cache_len() <= cache_max);
        if step % 500 == 0 {
            check_all(&s, &model, step);
        }
    }
    check_all(&s, &model, steps);
    // Drain everything: the trie must end up with no nodes at all.
    while let Some(e) = model.entries.pop() {
        for _ in 0..e.refs {
            assert!(s.remove(
                e.filter.as_bytes(),
                e.queue.as_deref().map(str::as_bytes),
                &e.item
            ));
        }
    }
    assert_eq!((s.len(), s.node_count()), (0, 0));
    assert!(s.cached().iter().all(|(_, r)| r.is_empty()));
}

#[test]
fn model_default_cache() {
    run_model(0x5EED_0001, 4000, CACHE_MAX, super::CACHE_SWEEP);
}

#[test]
fn model_tiny_cache_sweeps_often() {
    run_model(0x5EED_0002, 4000, 16, 4);
}

#[test]
fn model_without_cache() {
    run_model(0x5EED_0003, 3000, 0, 0);
}
