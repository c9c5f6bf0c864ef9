//! The consumer state file against the brief's crash-safety contract: the newest
//! durable snapshot comes back after reopen, writes coalesce, a torn or damaged
//! newest slot falls back to the older one, damage in both is an error naming
//! the files, every cipher round-trips without plaintext on disk and refuses a
//! wrong key, shrinking snapshots read back exactly, and no garbage panics or
//! comes back as a snapshot. (`consumer_file.rs` holds the first, shorter suite.)

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jetcore_storage::{
    remove_consumer_dir, Cipher, ConsumerFileConfig, ConsumerStateFile, StoreError, SyncPolicy,
};
use rand::{Rng, SeedableRng};

/// Runs `f` on a fresh glommio executor thread (the file lives on one core).
fn on_executor<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .spawn(f)
        .expect("executor starts")
        .join()
        .expect("test body ran");
}

fn config(dir: &Path, cipher: Cipher) -> ConsumerFileConfig {
    ConsumerFileConfig {
        dir: dir.to_path_buf(),
        sync: SyncPolicy::Always,
        cipher,
    }
}

async fn open(dir: &Path, cipher: Cipher) -> (ConsumerStateFile, Option<Bytes>) {
    ConsumerStateFile::open(config(dir, cipher))
        .await
        .expect("opens")
}

/// Opens, closes, and returns what the open recovered.
async fn reopen(dir: &Path, cipher: Cipher) -> Option<Bytes> {
    let (f, snap) = open(dir, cipher).await;
    f.close().await.expect("closes");
    snap
}

/// Writes `snapshots` one by one, each awaited, then closes.
async fn write_all(dir: &Path, cipher: Cipher, snapshots: &[&[u8]]) {
    let (f, _) = open(dir, cipher).await;
    for s in snapshots {
        f.write(Bytes::copy_from_slice(s)).await.expect("durable");
    }
    f.close().await.expect("closes");
}

fn slot(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("state.{i}"))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The slot whose raw bytes contain `needle` (plain records only).
fn slot_with(dir: &Path, needle: &[u8]) -> usize {
    (0..2)
        .find(|&i| contains(&std::fs::read(slot(dir, i)).unwrap(), needle))
        .expect("some slot holds it")
}

/// The generation in a slot's header (bytes 8..16, `docs/storage-format.md`).
fn generation_of(path: &Path) -> u64 {
    let raw = std::fs::read(path).unwrap();
    u64::from_le_bytes(raw[8..16].try_into().unwrap())
}

fn flip(path: &Path, at: usize) {
    let mut raw = std::fs::read(path).unwrap();
    raw[at] ^= 0x5a;
    std::fs::write(path, raw).unwrap();
}

const CIPHERS: [Cipher; 3] = [
    Cipher::None,
    Cipher::Aes256Gcm([0x11; 32]),
    Cipher::ChaCha20Poly1305([0x22; 32]),
];

#[test]
fn open_empty_returns_none_and_creates_both_slots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs").join("c1");
    on_executor(move || async move {
        assert_eq!(reopen(&dir, Cipher::None).await, None);
        assert!(slot(&dir, 0).is_file() && slot(&dir, 1).is_file());
        // Reopening never-written slots is still empty, not an error.
        assert_eq!(reopen(&dir, Cipher::None).await, None);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "only the slots: {names:?}");
    });
}

#[test]
fn write_close_reopen_returns_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        write_all(&dir, Cipher::None, &[b"one", b"two", b"three"]).await;
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"three"))
        );
        // Writing after a reopen continues the generations.
        write_all(&dir, Cipher::None, &[b"four"]).await;
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"four"))
        );
    });
}

#[test]
fn a_write_never_touches_the_slot_with_the_newest_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        write_all(&dir, Cipher::None, &[b"rec-a", b"rec-b"]).await;
        let a = slot_with(&dir, b"rec-a");
        let b = slot_with(&dir, b"rec-b");
        assert_ne!(a, b);
        let newest_before = std::fs::read(slot(&dir, b)).unwrap();
        write_all(&dir, Cipher::None, &[b"rec-c"]).await;
        assert_eq!(slot_with(&dir, b"rec-c"), a, "the older slot is reused");
        assert_eq!(std::fs::read(slot(&dir, b)).unwrap(), newest_before);
    });
}

#[test]
fn many_writes_then_one_durable_coalesce() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        let (f, _) = open(&dir, Cipher::None).await;
        let tickets: Vec<_> = (0..200u32)
            .map(|i| f.write(Bytes::from(format!("state {i}"))))
            .collect();
        f.durable().await.unwrap();
        // Every ticket resolves, even those whose snapshot was skipped.
        for t in tickets {
            t.await.unwrap();
        }
        let stats = f.stats();
        assert_eq!(stats.queued, 200);
        assert!(stats.written < 10, "coalesced: {stats:?}");
        assert!(stats.written >= 1);
        // durable() with nothing new resolves at once.
        f.durable().await.unwrap();
        f.close().await.unwrap();
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"state 199"))
        );
    });
}

#[test]
fn close_is_final_and_drop_still_writes_what_was_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        let (f, _) = open(&dir, Cipher::None).await;
        drop(f.write(Bytes::from_static(b"before close")));
        f.close().await.unwrap();
        f.close().await.unwrap();
        assert_eq!(
            f.write(Bytes::from_static(b"late")).await,
            Err(StoreError::Closed)
        );
        drop(f);

        let (f, snap) = open(&dir, Cipher::None).await;
        assert_eq!(snap, Some(Bytes::from_static(b"before close")));
        drop(f.write(Bytes::from_static(b"dropped unclosed")));
        drop(f);
        // The detached writer finishes on its own.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(0..2).any(|i| contains(&std::fs::read(slot(&dir, i)).unwrap(), b"dropped unclosed"))
        {
            assert!(Instant::now() < deadline, "writer never wrote");
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
        glommio::timer::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"dropped unclosed"))
        );
    });
}

#[test]
fn a_torn_newest_slot_falls_back_to_the_older_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    on_executor(move || async move {
        // Each way of tearing the newest record: truncated, a flipped payload
        // byte, a flipped header byte, its last page zeroed (pages persisted
        // out of order).
        for case in 0..4 {
            let dir = base.join(format!("t{case}"));
            let older = vec![b'o'; 6000];
            let newer = vec![b'n'; 9000];
            write_all(&dir, Cipher::None, &[&older, &newer]).await;
            let torn = slot(&dir, slot_with(&dir, b"nnnn"));
            match case {
                0 => {
                    let raw = std::fs::read(&torn).unwrap();
                    std::fs::write(&torn, &raw[..5000]).unwrap();
                }
                1 => flip(&torn, 7000),
                2 => flip(&torn, 9),
                _ => {
                    let mut raw = std::fs::read(&torn).unwrap();
                    raw[8192..].fill(0);
                    std::fs::write(&torn, raw).unwrap();
                }
            }
            assert_eq!(
                reopen(&dir, Cipher::None).await,
                Some(Bytes::from(older.clone())),
                "case {case}"
            );
            // And the next write goes over the torn slot, not the good one.
            write_all(&dir, Cipher::None, &[b"after"]).await;
            assert_eq!(
                reopen(&dir, Cipher::None).await,
                Some(Bytes::from_static(b"after")),
                "case {case}"
            );
            assert!(contains(
                &std::fs::read(slot(&dir, slot_with(&dir, b"oooo"))).unwrap(),
                &older
            ));
        }
    });
}

#[test]
fn both_slots_damaged_is_an_error_naming_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        write_all(&dir, Cipher::None, &[b"first", b"second"]).await;
        flip(&slot(&dir, 0), 50);
        flip(&slot(&dir, 1), 50);
        let err = ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, StoreError::Format { .. }), "{err:?}");
        let text = err.to_string();
        for i in 0..2 {
            assert!(
                text.contains(&slot(&dir, i).display().to_string()),
                "{text}"
            );
        }
        // Refused every time, not "repaired" into an empty state.
        assert!(ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .is_err());
    });
}

#[test]
fn only_a_torn_first_record_may_open_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    on_executor(move || async move {
        // The very first record tore (a sector of it never landed and reads
        // as zeros; the other slot was never written): it was never
        // acknowledged, so the consumer starts empty.
        // (A first record completes in both slots, slot 0 first, so the
        // crash is modelled as slot 1 never written.)
        let dir = base.join("first");
        let big = [b'g'; 1500];
        write_all(&dir, Cipher::None, &[&big]).await;
        std::fs::write(slot(&dir, 1), vec![0u8; 4096]).unwrap();
        let torn = slot(&dir, 0);
        let mut raw = std::fs::read(&torn).unwrap();
        raw[512..1024].fill(0);
        std::fs::write(&torn, raw).unwrap();
        assert_eq!(reopen(&dir, Cipher::None).await, None);

        // A first record within one sector cannot tear (sector writes are
        // atomic): a bad one was written whole and damaged since, so the
        // open is refused rather than starting empty.
        let dir = base.join("flipped");
        write_all(&dir, Cipher::None, &[b"gen one"]).await;
        std::fs::write(slot(&dir, 1), vec![0u8; 4096]).unwrap();
        flip(&slot(&dir, 0), 50);
        assert!(ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .is_err());

        // A damaged later record in slot 1 with slot 0 blank is an error
        // (slot 1 is written only after a record in slot 0 completed).
        // Double damage: a blank slot 1 next to a damaged slot 0 reads like
        // a first record torn again and again, and opens empty.
        let dir = base.join("later");
        write_all(&dir, Cipher::None, &[b"gen one", b"gen two", b"gen three"]).await;
        assert_eq!(slot_with(&dir, b"gen three"), 1);
        std::fs::write(slot(&dir, 0), vec![0u8; 4096]).unwrap();
        flip(&slot(&dir, 1), 50);
        assert!(ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .is_err());
    });
}

#[test]
fn a_first_record_survives_one_damaged_slot() {
    // Blind spot c of the corruption matrix: a consumer that wrote one
    // snapshot kept it in one slot, and zeroing that slot opened it empty.
    // The first record now completes in both slots.
    for damaged in 0..2 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        on_executor(move || async move {
            write_all(&dir, Cipher::None, &[b"only snapshot"]).await;
            std::fs::write(slot(&dir, damaged), vec![0u8; 4096]).unwrap();
            assert_eq!(
                reopen(&dir, Cipher::None).await,
                Some(Bytes::from_static(b"only snapshot")),
                "slot {damaged} zeroed"
            );
        });
    }
}

#[test]
fn a_lonely_record_gets_its_second_copy_at_open() {
    // A consumer left with one valid record (written by an older build, or
    // its other slot damaged) is copied to the other slot when it opens.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        write_all(&dir, Cipher::None, &[b"one", b"two"]).await;
        let newest = slot_with(&dir, b"two");
        std::fs::write(slot(&dir, 1 - newest), vec![0u8; 4096]).unwrap();
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"two"))
        );
        // Now the slot that held it can go too.
        std::fs::write(slot(&dir, newest), vec![0u8; 4096]).unwrap();
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"two"))
        );
    });
}

#[test]
fn every_cipher_round_trips_without_plaintext_on_disk() {
    for cipher in CIPHERS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let c = cipher.clone();
        on_executor(move || async move {
            let secret = |i: u32| format!("SECRET-ACK-STATE-{i}-").repeat(50).into_bytes();
            let (f, _) = open(&dir, c.clone()).await;
            for i in 0..5 {
                f.write(Bytes::from(secret(i))).await.unwrap();
            }
            f.close().await.unwrap();
            let plain = matches!(c, Cipher::None);
            for i in 0..2 {
                let raw = std::fs::read(slot(&dir, i)).unwrap();
                assert_eq!(
                    contains(&raw, b"SECRET"),
                    plain,
                    "{c:?}: plaintext in state.{i}"
                );
            }
            assert_eq!(reopen(&dir, c.clone()).await, Some(Bytes::from(secret(4))));
            // Both slots decrypt: damage the newest and the older one comes back.
            let newest = (0..2)
                .max_by_key(|&i| generation_of(&slot(&dir, i)))
                .unwrap();
            flip(&slot(&dir, newest), 100);
            assert_eq!(reopen(&dir, c).await, Some(Bytes::from(secret(3))));
        });
    }
}

#[test]
fn a_wrong_key_or_cipher_is_an_error_not_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    on_executor(move || async move {
        for (i, cipher) in CIPHERS.into_iter().enumerate().skip(1) {
            let dir = base.join(format!("k{i}"));
            write_all(&dir, cipher.clone(), &[b"state a", b"state b"]).await;
            let wrong_key = match &cipher {
                Cipher::Aes256Gcm(_) => Cipher::Aes256Gcm([0x99; 32]),
                _ => Cipher::ChaCha20Poly1305([0x99; 32]),
            };
            let err = ConsumerStateFile::open(config(&dir, wrong_key))
                .await
                .err()
                .expect("wrong key refused");
            assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
            assert!(err.to_string().contains(&dir.display().to_string()));
            let other = match &cipher {
                Cipher::Aes256Gcm(k) => Cipher::ChaCha20Poly1305(*k),
                Cipher::ChaCha20Poly1305(k) => Cipher::Aes256Gcm(*k),
                Cipher::None => unreachable!(),
            };
            for bad in [other, Cipher::None] {
                let err = ConsumerStateFile::open(config(&dir, bad.clone()))
                    .await
                    .err()
                    .expect("other cipher refused");
                assert!(matches!(err, StoreError::Format { .. }), "{bad:?}: {err:?}");
            }
            // The right key still works afterwards: nothing was overwritten.
            assert_eq!(
                reopen(&dir, cipher).await,
                Some(Bytes::from_static(b"state b"))
            );
        }
    });
}

#[test]
fn encryption_can_be_turned_on_for_existing_plain_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        write_all(&dir, Cipher::None, &[b"plain state"]).await;
        let key = Cipher::Aes256Gcm([0x33; 32]);
        assert_eq!(
            reopen(&dir, key.clone()).await,
            Some(Bytes::from_static(b"plain state"))
        );
        write_all(&dir, key.clone(), &[b"sealed one", b"sealed two"]).await;
        for i in 0..2 {
            assert!(!contains(&std::fs::read(slot(&dir, i)).unwrap(), b"sealed"));
        }
        assert_eq!(
            reopen(&dir, key).await,
            Some(Bytes::from_static(b"sealed two"))
        );
    });
}

#[test]
fn a_snapshot_shrinking_from_1_mib_to_10_bytes_reads_back_exactly() {
    for cipher in CIPHERS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        on_executor(move || async move {
            let big_a: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
            let big_b: Vec<u8> = (0..1 << 20).map(|i| (i % 241) as u8).collect();
            write_all(&dir, cipher.clone(), &[&big_a, &big_b, b"ten bytes!"]).await;
            assert_eq!(
                reopen(&dir, cipher.clone()).await,
                Some(Bytes::from_static(b"ten bytes!"))
            );
            // Not truncated: the small record sits in front of a stale 1 MiB
            // tail, which its length and checksum keep out of the way.
            let sizes: Vec<u64> = (0..2)
                .map(|i| std::fs::metadata(slot(&dir, i)).unwrap().len())
                .collect();
            assert!(sizes.iter().all(|&s| s >= 1 << 20), "{sizes:?}");
        });
    }
}

#[test]
fn a_torn_small_record_over_a_stale_large_tail_falls_back_to_the_large_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        let big_a = vec![b'A'; 1 << 20];
        let big_b = vec![b'B'; 1 << 20];
        write_all(&dir, Cipher::None, &[&big_a, &big_b, b"tiny-state"]).await;
        let tiny = slot_with(&dir, b"tiny-state");
        flip(&slot(&dir, tiny), 50);
        assert_eq!(reopen(&dir, Cipher::None).await, Some(Bytes::from(big_b)));
    });
}

#[test]
fn an_oversized_snapshot_is_refused_without_harm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        let (f, _) = open(&dir, Cipher::None).await;
        f.write(Bytes::from_static(b"kept")).await.unwrap();
        // Zeroed allocation: pages are never touched, so this is cheap.
        let huge = Bytes::from(vec![0u8; (256 << 20) + 1]);
        assert!(matches!(f.write(huge).await, Err(StoreError::Invalid(_))));
        f.write(Bytes::from_static(b"still works")).await.unwrap();
        f.close().await.unwrap();
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"still works"))
        );
    });
}

#[test]
fn interval_policy_still_resolves_and_persists() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        let mut cfg = config(&dir, Cipher::None);
        cfg.sync = SyncPolicy::Interval(Duration::from_secs(60));
        let (f, _) = ConsumerStateFile::open(cfg).await.unwrap();
        f.write(Bytes::from_static(b"interval")).await.unwrap();
        f.close().await.unwrap();
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"interval"))
        );
    });
}

#[test]
fn remove_consumer_dir_removes_and_tolerates_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        write_all(&dir, Cipher::None, &[b"x"]).await;
        remove_consumer_dir(&dir).await.unwrap();
        assert!(!dir.exists());
        remove_consumer_dir(&dir).await.unwrap();
        assert_eq!(reopen(&dir, Cipher::None).await, None);
    });
}

/// Random slot contents: pure noise, real records cut short, real records with
/// bits flipped, real headers followed by noise. Opening must never panic, and
/// whatever it returns must be a snapshot that was really written.
#[test]
fn random_garbage_never_panics_or_comes_back_as_state() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    on_executor(move || async move {
        let seed = std::env::var("JETCORE_GARBAGE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_c0de_u64);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for cipher in CIPHERS {
            // Real records to mutate, and the snapshots they hold.
            let src = base.join(format!("src-{}", cipher_tag(&cipher)));
            let written: Vec<Vec<u8>> = (0..2)
                .map(|i| format!("snapshot {i} ").repeat(300 * (i + 1)).into_bytes())
                .collect();
            let refs: Vec<&[u8]> = written.iter().map(|v| &v[..]).collect();
            write_all(&src, cipher.clone(), &refs).await;
            let real: Vec<Vec<u8>> = (0..2)
                .map(|i| std::fs::read(slot(&src, i)).unwrap())
                .collect();
            for round in 0..60 {
                let dir = base.join(format!("g-{}-{round}", cipher_tag(&cipher)));
                std::fs::create_dir_all(&dir).unwrap();
                for (i, record) in real.iter().enumerate() {
                    let mut bytes = record.clone();
                    match rng.random_range(0..5) {
                        0 => {
                            let len = rng.random_range(0..10_000);
                            bytes = (0..len).map(|_| rng.random()).collect();
                        }
                        1 => {
                            let len = rng.random_range(0..bytes.len());
                            bytes.truncate(len);
                        }
                        2 => {
                            for _ in 0..rng.random_range(1..8) {
                                let at = rng.random_range(0..bytes.len());
                                bytes[at] ^= 1 << rng.random_range(0..8);
                            }
                        }
                        3 => {
                            let keep = rng.random_range(4..64);
                            for b in &mut bytes[keep..] {
                                *b = rng.random();
                            }
                        }
                        _ => {} // left intact
                    }
                    std::fs::write(slot(&dir, i), bytes).unwrap();
                }
                match ConsumerStateFile::open(config(&dir, cipher.clone())).await {
                    Ok((f, snap)) => {
                        if let Some(s) = snap {
                            assert!(
                                written.iter().any(|w| w[..] == s[..]),
                                "round {round}: garbage came back as state"
                            );
                        }
                        f.close().await.unwrap();
                    }
                    Err(e) => assert!(!e.to_string().is_empty()),
                }
            }
        }
    });
}

fn cipher_tag(c: &Cipher) -> &'static str {
    match c {
        Cipher::None => "plain",
        Cipher::Aes256Gcm(_) => "aes",
        Cipher::ChaCha20Poly1305(_) => "chacha",
    }
}
