//! Stream store benchmarks: append latency and throughput (MemStore and
//! FileStore under each sync policy; 1 and 256 concurrent appenders), reads
//! by sequence and last-by-subject, and opening (recovering) a store of one
//! million messages.
//!
//! `cargo bench -p jetcore-benches --bench storage` (add `-- --quick` for a
//! short run). The file stores live under `$JETCORE_BENCH_DIR` (default: the
//! system temp dir), which should be on the disk you want to measure; each
//! measurement runs on its own glommio executor thread, as a shard would.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jetcore_storage::{
    FileStore, FileStoreConfig, MemStore, NewMessage, StoreLimits, StreamStore, SyncPolicy,
};

fn bench_dir() -> PathBuf {
    std::env::var_os("JETCORE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// Runs `f` on a fresh glommio executor and returns what it measured.
fn on_executor<F, Fut>(f: F) -> Duration
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Duration> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .preempt_timer(Duration::from_millis(2))
        .spawn(f)
        .expect("executor starts")
        .join()
        .expect("benchmark body")
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Mem,
    File(SyncPolicy),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Mem => "mem",
            Kind::File(SyncPolicy::Always) => "file-always",
            Kind::File(SyncPolicy::Interval(_)) => "file-interval",
            Kind::File(SyncPolicy::Never) => "file-never",
        }
    }
}

/// A store of either kind behind one type (the trait is not object safe).
enum AnyStore {
    Mem(Box<MemStore>),
    File(FileStore),
}

impl AnyStore {
    async fn open(kind: Kind, dir: &Path) -> AnyStore {
        match kind {
            Kind::Mem => AnyStore::Mem(Box::new(MemStore::new(StoreLimits::default()))),
            Kind::File(sync) => {
                let mut cfg = FileStoreConfig::new(dir);
                cfg.sync = sync;
                AnyStore::File(
                    FileStore::open(cfg, StoreLimits::default())
                        .await
                        .expect("open store"),
                )
            }
        }
    }

    fn append(&self, m: NewMessage) -> jetcore_storage::Appended {
        match self {
            AnyStore::Mem(s) => s.append(m),
            AnyStore::File(s) => s.append(m),
        }
        .expect("append")
    }

    async fn close(self) {
        if let AnyStore::File(s) = self {
            s.close().await.expect("close");
        }
    }
}

fn message(size: usize) -> NewMessage {
    NewMessage {
        subject: Bytes::from_static(b"bench.store.subject"),
        payload: Bytes::from(vec![b'x'; size]),
        ..NewMessage::default()
    }
}

fn fresh_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("jetcore-bench-store")
        .tempdir_in(bench_dir())
        .expect("bench dir")
}

/// `iters` appends by `appenders` concurrent tasks, each waiting for its
/// append to be durable before the next.
fn appends(kind: Kind, size: usize, appenders: u64, iters: u64) -> Duration {
    on_executor(move || async move {
        let dir = fresh_dir();
        let store = Rc::new(AnyStore::open(kind, dir.path()).await);
        let per = iters.div_ceil(appenders);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..appenders {
            let store = store.clone();
            tasks.push(glommio::spawn_local(async move {
                for _ in 0..per {
                    store.append(message(size)).durable.await.expect("durable");
                }
            }));
        }
        for t in tasks {
            t.await;
        }
        let took = start.elapsed();
        if let Ok(s) = Rc::try_unwrap(store) {
            s.close().await;
        }
        took
    })
}

/// `iters` appends issued back to back, waiting only for the last one (an
/// async publisher with an unbounded window).
fn pipelined(kind: Kind, size: usize, iters: u64) -> Duration {
    on_executor(move || async move {
        let dir = fresh_dir();
        let store = AnyStore::open(kind, dir.path()).await;
        let start = Instant::now();
        let mut last = None;
        for i in 0..iters {
            last = Some(store.append(message(size)));
            if i % 4096 == 0 {
                glommio::yield_if_needed().await;
            }
        }
        if let Some(a) = last {
            a.durable.await.expect("durable");
        }
        let took = start.elapsed();
        store.close().await;
        took
    })
}

fn append_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_append_1");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    for kind in [
        Kind::Mem,
        Kind::File(SyncPolicy::Always),
        Kind::File(SyncPolicy::Interval(Duration::from_secs(120))),
        Kind::File(SyncPolicy::Never),
    ] {
        for size in [16usize, 128, 1024] {
            g.bench_with_input(BenchmarkId::new(kind.name(), size), &size, |b, &size| {
                b.iter_custom(|iters| appends(kind, size, 1, iters));
            });
        }
    }
    g.finish();
}

fn append_concurrent(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_append_256");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    for kind in [
        Kind::Mem,
        Kind::File(SyncPolicy::Always),
        Kind::File(SyncPolicy::Never),
    ] {
        for size in [16usize, 128, 1024] {
            g.bench_with_input(BenchmarkId::new(kind.name(), size), &size, |b, &size| {
                b.iter_custom(|iters| appends(kind, size, 256, iters.max(256)));
            });
        }
    }
    g.finish();
    let mut g = c.benchmark_group("store_append_pipelined");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    for kind in [
        Kind::Mem,
        Kind::File(SyncPolicy::Always),
        Kind::File(SyncPolicy::Never),
    ] {
        g.bench_with_input(BenchmarkId::new(kind.name(), 128), &128usize, |b, &size| {
            b.iter_custom(|iters| pipelined(kind, size, iters));
        });
    }
    g.finish();
}

/// Fills a store with `n` messages of 128 B over 100 subjects and closes it.
async fn fill(kind: Kind, dir: &Path, n: u64) -> AnyStore {
    let store = AnyStore::open(kind, dir).await;
    let mut last = None;
    for i in 0..n {
        let mut m = message(128);
        m.subject = Bytes::from(format!("bench.read.{}", i % 100));
        last = Some(store.append(m));
        if i % 4096 == 0 {
            glommio::yield_if_needed().await;
        }
    }
    if let Some(a) = last {
        a.durable.await.expect("durable");
    }
    store
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_read");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    const N: u64 = 100_000;
    for kind in [Kind::Mem, Kind::File(SyncPolicy::Never)] {
        g.bench_function(BenchmarkId::new(kind.name(), "by_seq_random"), |b| {
            b.iter_custom(|iters| {
                on_executor(move || async move {
                    let dir = fresh_dir();
                    let store = fill(kind, dir.path(), N).await;
                    let mut x = 0x9e37_79b9_7f4a_7c15u64;
                    let start = Instant::now();
                    for _ in 0..iters {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let seq = 1 + x % N;
                        let m = match &store {
                            AnyStore::Mem(s) => s.load(seq).await,
                            AnyStore::File(s) => s.load(seq).await,
                        };
                        std::hint::black_box(m.expect("load"));
                    }
                    let took = start.elapsed();
                    store.close().await;
                    took
                })
            });
        });
        g.bench_function(BenchmarkId::new(kind.name(), "last_by_subject"), |b| {
            b.iter_custom(|iters| {
                on_executor(move || async move {
                    let dir = fresh_dir();
                    let store = fill(kind, dir.path(), N).await;
                    let subjects: Vec<Vec<u8>> = (0..100)
                        .map(|i| format!("bench.read.{i}").into_bytes())
                        .collect();
                    let start = Instant::now();
                    for i in 0..iters {
                        let s = &subjects[(i % 100) as usize];
                        let m = match &store {
                            AnyStore::Mem(st) => st.load_last(s).await,
                            AnyStore::File(st) => st.load_last(s).await,
                        };
                        std::hint::black_box(m.expect("load_last"));
                    }
                    let took = start.elapsed();
                    store.close().await;
                    took
                })
            });
        });
    }
    g.finish();
}

fn open_million(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let dir = fresh_dir();
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        fill(Kind::File(SyncPolicy::Never), &path, N)
            .await
            .close()
            .await;
        Duration::ZERO
    });
    let mut g = c.benchmark_group("store_open");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let path = dir.path().to_path_buf();
    g.bench_function("file/1M_x_128B", |b| {
        b.iter_custom(|iters| {
            let path = path.clone();
            on_executor(move || async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let store =
                        FileStore::open(FileStoreConfig::new(&path), StoreLimits::default())
                            .await
                            .expect("open");
                    total += start.elapsed();
                    assert_eq!(store.state().messages, N);
                    store.close().await.expect("close");
                }
                total
            })
        });
    });
    g.finish();
}

criterion_group!(
    benches,
    append_latency,
    append_concurrent,
    reads,
    open_million
);
criterion_main!(benches);
