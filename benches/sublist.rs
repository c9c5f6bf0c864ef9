//! Subject index: `Sublist::matches` with ~10k subscriptions, a tenth of them
//! wildcards, the way a busy account looks.
//!
//! - `cache_hit`: a subject published before (the common case: one hash lookup);
//! - `cache_hit_no_interest`: a subject nobody wants, also cached (empty result);
//! - `trie_match`: cache disabled, a subject with literal and wildcard matches (the
//!   walk every new subject pays once);
//! - `trie_no_interest`: cache disabled, a subject that matches nothing;
//! - `cache_churn`: default cache, 100k distinct subjects in rotation, so nearly
//!   every call misses, walks the trie, stores the result and sometimes sweeps;
//! - `insert_remove`: subscribe and unsubscribe one literal filter (cache patching).
//!
//! `cargo bench -p jetcore-benches --bench sublist`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use jetcore_server::sublist::Sublist;

/// 9,000 literal filters `orders.<region>.<shop>.<kind>`, 900 with a `*`, 90 with a
/// `>`, 9 queue subscriptions on `orders.*.*.created`, and `orders.>`: 10,000 in all.
fn populate(sl: &mut Sublist<u32>) {
    let mut id = 0u32;
    let mut add = |sl: &mut Sublist<u32>, subject: String, queue: Option<&[u8]>| {
        sl.insert(subject.as_bytes(), queue, id).expect("valid");
        id += 1;
    };
    for region in 0..10 {
        for shop in 0..30 {
            for kind in 0..30 {
                add(sl, format!("orders.r{region}.s{shop}.k{kind}"), None);
            }
        }
    }
    for region in 0..10 {
        for kind in 0..90 {
            add(sl, format!("orders.r{region}.*.k{kind}"), None);
        }
    }
    for region in 0..10 {
        for shop in 0..9 {
            add(sl, format!("orders.r{region}.s{shop}.>"), None);
        }
    }
    for _ in 0..9 {
        add(sl, "orders.*.*.created".to_string(), Some(b"audit"));
    }
    add(sl, "orders.>".to_string(), None);
    assert_eq!(sl.len(), 10_000);
}

fn sublist(c: &mut Criterion) {
    let mut g = c.benchmark_group("sublist_10k");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    // Matches orders.r3.s5.k7 (literal), orders.r3.*.k7, orders.r3.s5.> and orders.>.
    let hit = b"orders.r3.s5.k7";
    let none = b"billing.r3.s5.k7";

    let mut cached = Sublist::new();
    populate(&mut cached);
    let r = cached.matches(hit);
    assert_eq!(r.plain.len(), 4, "expected literal + 3 wildcard matches");
    g.bench_function("cache_hit", |b| b.iter(|| cached.matches(black_box(hit))));
    assert!(cached.matches(none).is_empty());
    g.bench_function("cache_hit_no_interest", |b| {
        b.iter(|| cached.matches(black_box(none)))
    });

    let mut uncached = Sublist::with_cache_limits(0, 0);
    populate(&mut uncached);
    g.bench_function("trie_match", |b| {
        b.iter(|| uncached.matches(black_box(hit)))
    });
    g.bench_function("trie_no_interest", |b| {
        b.iter(|| uncached.matches(black_box(none)))
    });

    // 100k distinct subjects, a third of which have interest.
    let rotating: Vec<Vec<u8>> = (0..100_000u32)
        .map(|i| match i % 3 {
            0 => format!("orders.r{}.s{}.k{}", i % 10, i % 30, i % 97).into_bytes(),
            1 => format!("orders.r{}.x{}.created", i % 10, i).into_bytes(),
            _ => format!("telemetry.n{i}.cpu").into_bytes(),
        })
        .collect();
    let mut churn = Sublist::new();
    populate(&mut churn);
    let mut i = 0usize;
    g.bench_function("cache_churn", |b| {
        b.iter(|| {
            i = (i + 1) % rotating.len();
            churn.matches(black_box(&rotating[i]))
        })
    });

    let mut sl = Sublist::new();
    populate(&mut sl);
    // Warm the cache with the subject whose entry the insert patches.
    sl.matches(b"orders.r1.s1.new");
    g.bench_function("insert_remove", |b| {
        b.iter(|| {
            sl.insert(black_box(b"orders.r1.s1.new"), None, 99_999)
                .expect("valid");
            assert!(sl.remove(black_box(b"orders.r1.s1.new"), None, &99_999));
        })
    });
    g.finish();
}

criterion_group!(benches, sublist);
criterion_main!(benches);
