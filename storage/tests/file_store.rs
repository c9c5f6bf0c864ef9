//! FileStore behaviour that the shared conformance suite cannot see: what is
//! on disk, reopening, group commit, block rolling, torn tails and damage.

use std::future::Future;
use std::path::Path;
use std::rc::Rc;

use bytes::Bytes;
use jetcore_storage::{
    FileStore, FileStoreConfig, NewMessage, StoreError, StoreLimits, StreamStore, SyncPolicy,
};

/// Runs `f` on a fresh glommio executor thread (a store lives on one core).
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

fn msg(subject: &str, payload: &[u8]) -> NewMessage {
    NewMessage {
        subject: Bytes::copy_from_slice(subject.as_bytes()),
        payload: Bytes::copy_from_slice(payload),
        timestamp: Some(1_000_000_000),
        ..NewMessage::default()
    }
}

fn config(dir: &Path) -> FileStoreConfig {
    let mut cfg = FileStoreConfig::new(dir);
    cfg.block_size = 64 << 10;
    cfg
}

async fn open(dir: &Path) -> FileStore {
    FileStore::open(config(dir), StoreLimits::default())
        .await
        .expect("store opens")
}

async fn append_durable(store: &FileStore, m: NewMessage) -> u64 {
    let a = store.append(m).expect("append accepted");
    a.durable.await.expect("append durable");
    a.seq
}

fn block_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("msgs"))
        .expect("msgs dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "blk"))
        .collect();
    v.sort();
    v
}

#[test]
fn reopen_restores_messages_and_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let store = open(&path).await;
        for i in 0..50u32 {
            let seq = append_durable(&store, msg(&format!("s.{}", i % 5), &i.to_le_bytes())).await;
            assert_eq!(seq, u64::from(i) + 1);
        }
        assert!(store.remove(7, false).expect("remove"));
        store.durable().await.expect("durable");
        let before = store.state();
        store.close().await.expect("close");

        let store = open(&path).await;
        assert_eq!(store.state(), before);
        assert_eq!(store.deleted(), vec![7]);
        let m = store.load(8).await.expect("load 8");
        assert_eq!(
            (m.subject.as_ref(), m.payload.as_ref()),
            (&b"s.2"[..], &7u32.to_le_bytes()[..])
        );
        assert_eq!(store.load(7).await, Err(StoreError::NotFound));
        assert_eq!(store.load_last(b"s.4").await.expect("last").seq, 50);
        // Appends continue where the store stopped.
        assert_eq!(append_durable(&store, msg("s.x", b"more")).await, 51);
        store.close().await.expect("close");
        let store = open(&path).await;
        assert_eq!(store.load(51).await.expect("51").payload.as_ref(), b"more");
        store.close().await.expect("close");
    });
}

#[test]
fn concurrent_appends_share_writes_and_syncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let store = Rc::new(open(&path).await);
        let appenders = 64;
        let per = 20;
        let mut tasks = Vec::new();
        for t in 0..appenders {
            let store = store.clone();
            tasks.push(glommio::spawn_local(async move {
                for i in 0..per {
                    let a = store
                        .append(msg(&format!("t.{t}"), format!("{t}-{i}").as_bytes()))
                        .expect("append");
                    a.durable.await.expect("durable");
                }
            }));
        }
        for t in tasks {
            t.await;
        }
        let total = (appenders * per) as u64;
        assert_eq!(store.state().messages, total);
        let stats = store.io_stats();
        assert!(
            stats.syncs * 4 < total,
            "group commit should need far fewer syncs than appends: {stats:?} for {total} appends"
        );
        match Rc::try_unwrap(store) {
            Ok(s) => s.close().await.expect("close"),
            Err(_) => panic!("store still shared"),
        }
        let store = open(&path).await;
        assert_eq!(store.state().messages, total);
        assert_eq!(store.subjects_state(b">").len(), appenders);
        store.close().await.expect("close");
    });
}

#[test]
fn blocks_roll_and_emptied_blocks_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let limits = StoreLimits {
            max_msgs: 50,
            ..StoreLimits::default()
        };
        let store = FileStore::open(config(&path), limits).await.expect("open");
        let payload = vec![7u8; 1000];
        for _ in 0..1000 {
            append_durable(&store, msg("roll", &payload)).await;
        }
        let st = store.state();
        assert_eq!((st.messages, st.first_seq, st.last_seq), (50, 951, 1000));
        let stats = store.io_stats();
        assert!(
            stats.blocks_created >= 10,
            "1 MB of 64 KiB blocks: {stats:?}"
        );
        assert!(
            block_files(&path).len() <= 3,
            "old blocks are removed: {:?}",
            block_files(&path)
        );
        store.close().await.expect("close");
        let store = FileStore::open(config(&path), limits)
            .await
            .expect("reopen");
        let st2 = store.state();
        assert_eq!(
            (st2.messages, st2.first_seq, st2.last_seq, st2.bytes),
            (50, 951, 1000, st.bytes)
        );
        assert_eq!(store.load(951).await.expect("first").payload.len(), 1000);
        store.close().await.expect("close");
    });
}

#[test]
fn purge_and_compact_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let store = open(&path).await;
        for i in 0..30 {
            append_durable(&store, msg(if i % 2 == 0 { "even" } else { "odd" }, b"x")).await;
        }
        let req = jetcore_storage::PurgeRequest {
            filter: Some(Bytes::from_static(b"even")),
            ..Default::default()
        };
        assert_eq!(store.purge(&req).expect("purge even"), 15);
        assert_eq!(store.compact(10).expect("compact"), 4); // "odd" is on 2, 4, 6, 8
        store.truncate(25).expect("truncate");
        store.durable().await.expect("durable");
        let before = (store.state(), store.deleted());
        store.close().await.expect("close");
        let store = open(&path).await;
        assert_eq!((store.state(), store.deleted()), before);
        // Purge everything, then the sequence space continues.
        store.compact(1000).expect("compact past end");
        store.durable().await.expect("durable");
        store.close().await.expect("close");
        let store = open(&path).await;
        let st = store.state();
        assert_eq!((st.messages, st.first_seq, st.last_seq), (0, 1000, 999));
        assert_eq!(append_durable(&store, msg("after", b"y")).await, 1000);
        store.close().await.expect("close");
    });
}

/// The byte offset where a store's data ends in its last block.
fn data_end(block: &Path) -> usize {
    let data = std::fs::read(block).expect("read block");
    data.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let p2 = path.clone();
    on_executor(move || async move {
        let store = open(&p2).await;
        for i in 0..10u8 {
            append_durable(&store, msg("t", &[i; 100])).await;
        }
        store.close().await.expect("close");
    });
    // Simulate a write that reached the disk only partly: the 11th message's
    // frame (4000 bytes, several sectors) lost every sector after its first.
    let block = block_files(&path).pop().expect("a block");
    let end10 = data_end(&block);
    let p3 = path.clone();
    // The process stops without a clean close (a torn write cannot precede
    // one: the close mark would vouch for the write, making this damage).
    on_executor(move || async move {
        let store = open(&p3).await;
        append_durable(&store, msg("t", &[0xaa; 4000])).await;
    });
    let end11 = data_end(&block);
    let mut data = std::fs::read(&block).expect("read");
    let keep_to = (end10 / 512 + 1) * 512;
    data[keep_to..end11].fill(0);
    std::fs::write(&block, &data).expect("write");
    on_executor(move || async move {
        let store = open(&path).await;
        let st = store.state();
        assert_eq!((st.messages, st.last_seq), (10, 10));
        assert!(
            store.corrupt_ranges().is_empty(),
            "a torn tail is not damage"
        );
        assert_eq!(append_durable(&store, msg("t", b"after")).await, 11);
        store.close().await.expect("close");
        let store = open(&path).await;
        assert_eq!(store.load(11).await.expect("11").payload.as_ref(), b"after");
        assert_eq!(store.state().messages, 11);
        store.close().await.expect("close");
    });
}

#[test]
fn damaged_frame_is_reported_and_never_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let p2 = path.clone();
    on_executor(move || async move {
        let store = open(&p2).await;
        // One frame per append (each waits for the previous).
        for i in 0..6u8 {
            append_durable(&store, msg("d", &[i + 1; 50])).await;
        }
        store.close().await.expect("close");
    });
    // Flip a payload byte of message 3 (payload bytes are all 3).
    let block = block_files(&path).pop().expect("a block");
    let mut data = std::fs::read(&block).expect("read");
    let at = data
        .windows(50)
        .position(|w| w.iter().all(|&b| b == 3))
        .expect("payload of 3");
    data[at + 10] ^= 0x40;
    std::fs::write(&block, &data).expect("write");
    on_executor(move || async move {
        let store = open(&path).await;
        let ranges = store.corrupt_ranges();
        assert_eq!(ranges.len(), 1, "{ranges:?}");
        assert_eq!((ranges[0].0, ranges[0].1), (3, 3));
        assert!(matches!(
            store.load(3).await,
            Err(StoreError::Corrupt { seq: 3, .. })
        ));
        for seq in [1, 2, 4, 5, 6] {
            assert_eq!(
                store.load(seq).await.expect("intact").payload.as_ref(),
                &[seq as u8; 50][..]
            );
        }
        assert_eq!(append_durable(&store, msg("d", b"7")).await, 7);
        store.close().await.expect("close");
    });
}

#[test]
fn damaged_last_frame_is_reported_not_silently_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let p2 = path.clone();
    on_executor(move || async move {
        let store = open(&p2).await;
        for i in 0..3u8 {
            append_durable(&store, msg("d", &[i + 1; 50])).await;
        }
        store.close().await.expect("close");
    });
    let block = block_files(&path).pop().expect("a block");
    let mut data = std::fs::read(&block).expect("read");
    let at = data
        .windows(50)
        .position(|w| w.iter().all(|&b| b == 3))
        .expect("payload of 3");
    data[at] ^= 0x01;
    std::fs::write(&block, &data).expect("write");
    on_executor(move || async move {
        let store = open(&path).await;
        let ranges: Vec<(u64, u64)> = store.corrupt_ranges().iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(ranges, vec![(3, 3)]);
        assert_eq!(
            store.state().last_seq,
            3,
            "the damaged message's sequence is not reused"
        );
        assert_eq!(append_durable(&store, msg("d", b"4")).await, 4);
        store.close().await.expect("close");
        let store = open(&path).await;
        assert_eq!(store.load(4).await.expect("4").payload.as_ref(), b"4");
        store.close().await.expect("close");
    });
}

#[test]
fn sync_policies_all_reopen_the_same() {
    for sync in [
        SyncPolicy::Always,
        SyncPolicy::Never,
        SyncPolicy::Interval(std::time::Duration::from_millis(5)),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        on_executor(move || async move {
            let mut cfg = config(&path);
            cfg.sync = sync;
            let store = FileStore::open(cfg.clone(), StoreLimits::default())
                .await
                .expect("open");
            let mut last = None;
            for i in 0..500u32 {
                last = Some(store.append(msg("p", &i.to_le_bytes())).expect("append"));
            }
            if let Some(a) = last {
                a.durable.await.expect("durable");
            }
            let syncs = store.io_stats().syncs;
            if sync == SyncPolicy::Never {
                assert_eq!(syncs, 0, "never means no fdatasync on the write path");
            }
            store.close().await.expect("close");
            let store = FileStore::open(cfg, StoreLimits::default())
                .await
                .expect("reopen");
            assert_eq!(store.state().messages, 500);
            assert_eq!(
                store.load(500).await.expect("500").payload.as_ref(),
                &499u32.to_le_bytes()[..]
            );
            store.close().await.expect("close");
        });
    }
}

#[test]
fn a_half_created_block_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let p2 = path.clone();
    on_executor(move || async move {
        let store = open(&p2).await;
        append_durable(&store, msg("a", b"1")).await;
        store.close().await.expect("close");
    });
    // A crash while the next block was being zero-filled: part of it, or
    // nothing at all, reached the disk.
    for len in [8192usize, 0] {
        std::fs::write(path.join("msgs").join("0000000002.blk"), vec![0u8; len]).expect("write");
        let path = path.clone();
        on_executor(move || async move {
            let store = open(&path).await;
            assert_eq!(store.state().messages, 1);
            let m = store.load(1).await.expect("old messages stay readable");
            assert_eq!(m.payload.as_ref(), b"1");
            store.close().await.expect("close");
        });
    }
    std::fs::write(path.join("msgs").join("0000000002.blk"), vec![0u8; 0]).expect("write");
    on_executor(move || async move {
        let store = open(&path).await;
        assert_eq!(store.state().messages, 1);
        assert_eq!(append_durable(&store, msg("a", b"2")).await, 2);
        store.close().await.expect("close");
    });
}

fn sealed_config(dir: &Path, cipher: jetcore_storage::Cipher) -> FileStoreConfig {
    let mut cfg = config(dir);
    cfg.cipher = cipher;
    cfg.compression = jetcore_storage::Compression::Lz4;
    cfg
}

#[test]
fn encrypted_store_hides_data_and_refuses_a_wrong_key() {
    use jetcore_storage::Cipher;
    for make in [
        Cipher::Aes256Gcm as fn([u8; 32]) -> Cipher,
        Cipher::ChaCha20Poly1305,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let p2 = path.clone();
        on_executor(move || async move {
            let store = FileStore::open(sealed_config(&p2, make([1; 32])), StoreLimits::default())
                .await
                .expect("open");
            for _ in 0..200 {
                append_durable(
                    &store,
                    msg("secret.subject", b"top secret payload, top secret payload"),
                )
                .await;
            }
            store.close().await.expect("close");
        });
        for block in block_files(&path) {
            let data = std::fs::read(&block).expect("read");
            assert!(
                !data.windows(10).any(|w| w == b"top secret"),
                "payload visible in {block:?}"
            );
            assert!(
                !data.windows(14).any(|w| w == b"secret.subject"),
                "subject visible in {block:?}"
            );
        }
        let p3 = path.clone();
        on_executor(move || async move {
            match FileStore::open(sealed_config(&p3, make([2; 32])), StoreLimits::default()).await {
                Err(StoreError::WrongKey { .. }) => {}
                Err(e) => panic!("expected WrongKey, got {e}"),
                Ok(_) => panic!("a wrong key opened the store"),
            }
            match FileStore::open(config(&p3), StoreLimits::default()).await {
                Err(StoreError::Format { reason, .. }) => {
                    assert!(reason.contains("no key"), "{reason}")
                }
                Err(e) => panic!("expected a missing-key error, got {e}"),
                Ok(_) => panic!("an encrypted store opened without a key"),
            }
            let store = FileStore::open(sealed_config(&p3, make([1; 32])), StoreLimits::default())
                .await
                .expect("right key");
            assert_eq!(store.state().messages, 200);
            let m = store.load(200).await.expect("200");
            assert_eq!(m.subject.as_ref(), b"secret.subject");
            store.close().await.expect("close");
        });
    }
}

#[test]
fn turning_encryption_on_keeps_old_blocks_readable() {
    use jetcore_storage::Cipher;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let store = open(&path).await;
        let payload = vec![3u8; 2000];
        for _ in 0..100 {
            append_durable(&store, msg("plain", &payload)).await;
        }
        store.close().await.expect("close");
        // Reopen with a key: old plain blocks stay readable, new blocks are sealed.
        let cfg = sealed_config(&path, Cipher::ChaCha20Poly1305([4; 32]));
        let store = FileStore::open(cfg.clone(), StoreLimits::default())
            .await
            .expect("open with key");
        for _ in 0..100 {
            append_durable(&store, msg("sealed", &payload)).await;
        }
        store.close().await.expect("close");
        let store = FileStore::open(cfg, StoreLimits::default())
            .await
            .expect("reopen");
        assert_eq!(store.state().messages, 200);
        assert_eq!(store.load(1).await.expect("old").subject.as_ref(), b"plain");
        assert_eq!(
            store.load(200).await.expect("new").subject.as_ref(),
            b"sealed"
        );
        store.close().await.expect("close");
    });
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop; `None`
/// where mounting is not allowed (not root), in which case the test says so
/// and passes without checking anything.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_fails_appends_cleanly() {
    let Some(disk) = SmallDisk::mount("1m") else {
        eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root)");
        return;
    };
    let path = disk.dir.path().join("stream");
    on_executor(move || async move {
        let store = open(&path).await;
        let payload = vec![9u8; 1000];
        let mut acked = 0u64;
        let err = loop {
            let a = store
                .append(msg("full", &payload))
                .expect("accepted before the failure");
            match a.durable.await {
                Ok(()) => acked = a.seq,
                Err(e) => break e,
            }
            assert!(acked < 10_000, "a 1 MiB disk never filled up");
        };
        assert!(err.is_no_space(), "expected ENOSPC, got {err}");
        assert!(acked > 100, "the disk held some blocks first ({acked})");
        // The store refuses work until reopened ...
        assert!(matches!(
            store.append(msg("full", b"x")),
            Err(StoreError::Poisoned(_))
        ));
        drop(store);
        // ... and reopening recovers exactly the acknowledged messages.
        let store = open(&path).await;
        let st = store.state();
        assert_eq!(
            (st.messages, st.last_seq),
            (acked, acked),
            "nothing unacknowledged half-written"
        );
        assert_eq!(
            store.load(acked).await.expect("last acked").payload.len(),
            1000
        );
        store.close().await.expect("close");
    });
    drop(disk);
}

#[test]
fn messages_larger_than_a_frame_or_block_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let store = open(&path).await;
        let mut big = vec![0u8; 3 << 20]; // zero sectors inside, bigger than a block
        big[12345] = 7;
        append_durable(&store, msg("big", &big)).await;
        append_durable(&store, msg("small", b"after")).await;
        store.close().await.expect("close");
        let store = open(&path).await;
        assert!(store.corrupt_ranges().is_empty());
        assert_eq!(store.state().last_seq, 2);
        let m = store.load(1).await.expect("big message");
        assert_eq!(m.payload.len(), big.len());
        assert_eq!(m.payload[12345], 7);
        store.close().await.expect("close");
    });
}

#[test]
fn a_refused_purge_does_not_stall_durability() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let store = open(&path).await;
        append_durable(&store, msg("a", b"1")).await;
        let req = jetcore_storage::PurgeRequest {
            up_to_seq: Some(1),
            keep: Some(5),
            ..Default::default()
        };
        assert!(store.purge(&req).is_err());
        let done = glommio::timer::timeout(std::time::Duration::from_secs(5), async {
            store
                .durable()
                .await
                .map_err(|e| glommio::GlommioError::IoError(std::io::Error::other(e)))
        })
        .await;
        assert!(done.is_ok(), "durable() hung after a refused purge");
        store.close().await.expect("close");
    });
}

/// Writes three messages (closing the store cleanly or not), then flips the
/// top byte of the third frame's `last_seq` field (header offset 24..32).
/// Returns the damaged block file.
fn damage_last_frame_header(path: &Path, clean_close: bool) -> std::path::PathBuf {
    let p2 = path.to_path_buf();
    on_executor(move || async move {
        let store = open(&p2).await;
        for i in 0..3u8 {
            append_durable(&store, msg("d", &[i + 1; 600])).await;
        }
        if clean_close {
            store.close().await.expect("close");
        }
        // Otherwise the process just stops (as after SIGKILL; all durable).
    });
    let block = block_files(path).pop().expect("a block");
    let mut data = std::fs::read(&block).expect("read");
    let payload_at = data
        .windows(600)
        .position(|w| w.iter().all(|&b| b == 3))
        .expect("third payload");
    let frame_at = data[..payload_at]
        .windows(4)
        .rposition(|w| w == b"JCFR")
        .expect("frame magic");
    data[frame_at + 31] ^= 0x40;
    std::fs::write(&block, &data).expect("write");
    block
}

#[test]
fn a_damaged_last_frame_header_cannot_inflate_the_sequence() {
    // After a clean close a marker frame follows the last data write: the
    // damaged frame is fenced with its exact range (the marker's valid header
    // says where the store stood), never taken from the damaged header.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let block = damage_last_frame_header(&path, true);
    on_executor(move || async move {
        let store = open(&path).await;
        assert_eq!(store.state().last_seq, 3, "sequence from the marker");
        assert_eq!(store.corrupt_ranges(), vec![(3, 3, block)]);
        assert!(matches!(
            store.load(3).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(
            store.load(2).await.expect("load 2").payload.as_ref(),
            &[2u8; 600]
        );
        store.close().await.expect("close");
    });
    // Without a clean close nothing after the frame vouches for it, and its
    // header cannot be believed: how many messages it held is unknown, and
    // appending after it could reuse acknowledged sequences. The open is
    // refused, naming the block.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let block = damage_last_frame_header(&path, false);
    on_executor(move || async move {
        match FileStore::open(config(&path), StoreLimits::default()).await {
            Ok(store) => panic!(
                "opened with last_seq {} after a damaged last frame header",
                store.state().last_seq
            ),
            Err(StoreError::Format { path: p, reason }) => {
                assert_eq!(p, block, "{reason}");
                assert!(reason.contains("unknown"), "{reason}");
            }
            Err(e) => panic!("not a format error naming the block: {e}"),
        }
    });
}

#[test]
fn compact_past_the_end_across_a_block_roll_leaves_no_false_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let store = open(&path).await;
        let payload = vec![1u8; 1000];
        let mut seq = 0;
        // Fill the first block exactly enough that the next record rolls.
        while store.block_count() == 1 {
            seq = append_durable(&store, msg("f", &payload)).await;
        }
        assert!(seq > 10);
        store.compact(1000).expect("compact past the end");
        store.durable().await.expect("durable");
        store.close().await.expect("close");
        let store = open(&path).await;
        assert!(
            store.corrupt_ranges().is_empty(),
            "{:?}",
            store.corrupt_ranges()
        );
        assert_eq!(store.load(600).await, Err(StoreError::NotFound));
        let st = store.state();
        assert_eq!((st.first_seq, st.last_seq, st.messages), (1000, 999, 0));
        store.close().await.expect("close");
    });
}

#[test]
fn short_or_garbage_block_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let p1 = path.clone();
    on_executor(move || async move {
        let store = open(&p1).await;
        append_durable(&store, msg("a", b"1")).await;
        store.close().await.expect("close");
    });
    let block = block_files(&path).pop().expect("a block");
    let data = std::fs::read(&block).expect("read");
    // Header intact, everything after it gone.
    std::fs::write(&block, &data[..100]).expect("write");
    let p2 = path.clone();
    on_executor(move || async move {
        match FileStore::open(config(&p2), StoreLimits::default()).await {
            Err(StoreError::Format { .. }) => {}
            Err(e) => panic!("expected a format error, got {e}"),
            Ok(_) => panic!("a truncated block opened"),
        }
    });
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn on_disk(path: &Path, needle: &[u8]) -> bool {
    block_files(path)
        .iter()
        .any(|b| contains(&std::fs::read(b).expect("read block"), needle))
}

fn secret(i: u64) -> Vec<u8> {
    let mut p = format!("SECRET-{i:03}-").into_bytes();
    p.resize(300, b'#');
    p
}

#[test]
fn erase_overwrites_the_message_in_place_in_every_mode() {
    use jetcore_storage::{Cipher, Compression};
    let modes = [
        (Compression::None, Cipher::None),
        (Compression::Lz4, Cipher::None),
        (Compression::None, Cipher::ChaCha20Poly1305([3; 32])),
        (Compression::Lz4, Cipher::Aes256Gcm([4; 32])),
    ];
    for (compression, cipher) in modes {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let plain = compression == Compression::None && cipher == Cipher::None;
        let readable = cipher == Cipher::None; // lz4 keeps literals readable
        let mut cfg = config(&path);
        cfg.compression = compression;
        cfg.cipher = cipher.clone();
        on_executor(move || async move {
            let store = FileStore::open(cfg.clone(), StoreLimits::default())
                .await
                .expect("open");
            // Several messages per frame: issue them back to back.
            let mut last = None;
            for i in 1..=20u64 {
                last = Some(store.append(msg("e", &secret(i))).expect("append"));
            }
            if let Some(a) = last {
                a.durable.await.expect("durable");
            }
            assert!(store.remove(5, true).expect("erase 5"));
            assert!(store.remove(6, false).expect("remove 6"));
            store.durable().await.expect("durable");
            store.close().await.expect("close");
            assert_eq!(
                store.io_stats().erased,
                1,
                "the erase was done in place ({compression:?}, sealed: {})",
                !readable
            );
            if readable {
                assert!(
                    !on_disk(&cfg.dir, b"SECRET-005"),
                    "erased bytes still on disk"
                );
            }
            if plain {
                assert!(
                    on_disk(&cfg.dir, b"SECRET-006"),
                    "a plain removal keeps the bytes"
                );
            }
            let store = FileStore::open(cfg.clone(), StoreLimits::default())
                .await
                .expect("reopen");
            assert!(
                store.corrupt_ranges().is_empty(),
                "{:?}",
                store.corrupt_ranges()
            );
            let st = store.state();
            assert_eq!((st.messages, st.last_seq), (18, 20));
            assert_eq!(store.deleted(), vec![5, 6]);
            for i in (1..=20u64).filter(|i| *i != 5 && *i != 6) {
                assert_eq!(
                    store
                        .load(i)
                        .await
                        .expect("neighbour intact")
                        .payload
                        .as_ref(),
                    secret(i).as_slice()
                );
            }
            assert_eq!(store.load(5).await, Err(StoreError::NotFound));
            assert_eq!(append_durable(&store, msg("e", b"next")).await, 21);
            store.close().await.expect("close");
        });
    }
}

#[test]
fn an_interrupted_erase_is_finished_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let p1 = path.clone();
    on_executor(move || async move {
        let store = open(&p1).await;
        let mut last = None;
        for i in 1..=10u64 {
            last = Some(store.append(msg("e", &secret(i))).expect("append"));
        }
        if let Some(a) = last {
            a.durable.await.expect("durable");
        }
        store.close().await.expect("close");
    });
    let block = block_files(&path).pop().expect("a block");
    let before = std::fs::read(&block).expect("read");
    let p2 = path.clone();
    on_executor(move || async move {
        let store = open(&p2).await;
        assert!(store.remove(3, true).expect("erase"));
        store.durable().await.expect("durable");
        store.close().await.expect("close");
        assert_eq!(store.io_stats().erased, 1);
    });
    let after = std::fs::read(&block).expect("read");
    assert!(!contains(&after, b"SECRET-003"));
    let first = before
        .iter()
        .zip(&after)
        .position(|(a, b)| a != b)
        .expect("erase changed bytes");
    // Only the old frames' region: the log grew after `before` was taken.
    let old_end = before.iter().rposition(|&b| b != 0).expect("data") + 1;
    let last = before[..old_end]
        .iter()
        .zip(&after)
        .rposition(|(a, b)| a != b)
        .expect("erase changed bytes");
    // Crash 1: after the removal was durable, before the overwrite: the
    // erased frame still has its old bytes, the log has the DEL_ERASE record,
    // and the next open redoes the erase.
    let mut not_yet = after.clone();
    not_yet[first..=last].copy_from_slice(&before[first..=last]);
    std::fs::write(&block, &not_yet).expect("un-erased frame");
    assert!(contains(&not_yet, b"SECRET-003"));
    let p3 = path.clone();
    on_executor(move || async move {
        let store = open(&p3).await;
        store.durable().await.expect("erase redone");
        store.close().await.expect("close");
    });
    assert!(
        !contains(&std::fs::read(&block).expect("read"), b"SECRET-003"),
        "erase redone at open"
    );
    // Crash 2: in the middle of the in-place overwrite, with its redo file of
    // patches durable (and a stale half-written .tmp from another attempt).
    let mut redo = b"JCRD".to_vec();
    redo.extend_from_slice(&1u32.to_le_bytes());
    redo.extend_from_slice(&(first as u64).to_le_bytes());
    redo.extend_from_slice(&((last + 1 - first) as u32).to_le_bytes());
    redo.extend_from_slice(&after[first..=last]);
    let crc = crc32fast::hash(&redo);
    redo.extend_from_slice(&crc.to_le_bytes());
    let mut torn = after.clone();
    torn[first..=last].copy_from_slice(&before[first..=last]);
    torn[first] = after[first]; // part of the overwrite landed
    std::fs::write(&block, &torn).expect("torn block");
    std::fs::write(block.with_extension("blk.redo"), &redo).expect("redo");
    std::fs::write(block.with_extension("blk.tmp"), b"half-written").expect("stale tmp");
    on_executor(move || async move {
        let store = open(&path).await;
        assert!(!on_disk(&path, b"SECRET-003"), "the redo image was applied");
        assert!(
            !block.with_extension("blk.redo").exists() && !block.with_extension("blk.tmp").exists()
        );
        let st = store.state();
        assert_eq!((st.messages, st.last_seq), (9, 10));
        assert_eq!(
            store.load(4).await.expect("4").payload.as_ref(),
            secret(4).as_slice()
        );
        store.close().await.expect("close");
    });
}

#[test]
fn a_large_compressed_message_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let cfg = sealed_config(&path, jetcore_storage::Cipher::None);
        let store = FileStore::open(cfg.clone(), StoreLimits::default())
            .await
            .expect("open");
        let big: Vec<u8> = b"compressible "
            .iter()
            .cycle()
            .take(300 << 10)
            .copied()
            .collect();
        append_durable(&store, msg("big", &big)).await;
        store.close().await.expect("close");
        let store = FileStore::open(cfg, StoreLimits::default())
            .await
            .expect("reopen");
        assert_eq!(store.load(1).await.expect("big").payload.len(), big.len());
        store.close().await.expect("close");
    });
}

#[test]
fn damage_inside_the_last_write_is_reported_not_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let p1 = path.clone();
    on_executor(move || async move {
        let mut cfg = config(&p1);
        cfg.block_size = 1 << 20;
        let store = FileStore::open(cfg, StoreLimits::default())
            .await
            .expect("open");
        // One group commit of many frames.
        let mut last = None;
        for i in 0..1000u32 {
            last = Some(
                store
                    .append(msg("b", &[(i % 250) as u8 + 1; 200]))
                    .expect("append"),
            );
        }
        if let Some(a) = last {
            a.durable.await.expect("durable");
        }
        store.close().await.expect("close");
    });
    let block = block_files(&path).pop().expect("a block");
    let mut data = std::fs::read(&block).expect("read");
    let frames: Vec<usize> = data
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"JCFR")
        .map(|(i, _)| i)
        .collect();
    assert!(frames.len() >= 3, "a batch of several frames");
    data[frames[1] + 100] ^= 0x08; // inside the second frame's body
    std::fs::write(&block, &data).expect("write");
    on_executor(move || async move {
        let mut cfg = config(&path);
        cfg.block_size = 1 << 20;
        let store = FileStore::open(cfg, StoreLimits::default())
            .await
            .expect("reopen");
        assert!(!store.corrupt_ranges().is_empty(), "damage is reported");
        assert_eq!(
            store.state().last_seq,
            1000,
            "frames after the damage are kept"
        );
        assert_eq!(store.load(1000).await.expect("last").payload.len(), 200);
        store.close().await.expect("close");
    });
}

#[test]
fn sequential_and_point_reads_after_reopen_serve_every_payload() {
    // A sequential reader reads 1 MiB at a time (many frames per read), a
    // point reader one frame window: both must serve exactly what was
    // written, across frame and read boundaries, from a cold cache.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    on_executor(move || async move {
        let payload = |i: u64| {
            format!("{i:08}-")
                .repeat(1 + (i % 97) as usize)
                .into_bytes()
        };
        let total = 6000u64;
        {
            let store = FileStore::open(FileStoreConfig::new(&path), StoreLimits::default())
                .await
                .expect("store opens");
            let mut last = None;
            for i in 1..=total {
                last = Some(store.append(msg("seq.x", &payload(i))).expect("append"));
            }
            last.expect("appended").durable.await.expect("durable");
            store.close().await.expect("close");
        }
        let store = FileStore::open(FileStoreConfig::new(&path), StoreLimits::default())
            .await
            .expect("store reopens");
        for seq in 1..=total {
            let m = store.load(seq).await.expect("sequential load");
            assert_eq!(m.payload.as_ref(), payload(seq).as_slice(), "seq {seq}");
        }
        store.close().await.expect("close");
        let store = FileStore::open(FileStoreConfig::new(&path), StoreLimits::default())
            .await
            .expect("store reopens");
        for seq in (1..=total).rev().step_by(7) {
            let m = store.load(seq).await.expect("point load");
            assert_eq!(m.payload.as_ref(), payload(seq).as_slice(), "seq {seq}");
        }
        store.close().await.expect("close");
    });
}

/// A consumer replaying a store from disk in order waits for the disk only at the
/// start: after its first sequential read the next window is read in the
/// background, one window ahead — on into the next block when one ends — and
/// every message comes back intact.
#[test]
fn a_sequential_replay_reads_ahead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = FileStoreConfig::new(dir.path());
    cfg.block_size = 3 << 20;
    on_executor(move || async move {
        let payload = |i: u64| format!("{i:0>200}").into_bytes();
        let store = FileStore::open(cfg.clone(), StoreLimits::default())
            .await
            .expect("open");
        const N: u64 = 40_000; // ~10 MiB of records: ten read-ahead windows
        for i in 1..=N {
            let appended = store.append(msg("r", &payload(i))).expect("append");
            if i % 1000 == 0 {
                appended.durable.await.expect("durable");
            }
        }
        store.close().await.expect("close");
        // Reopened, nothing is cached: every frame comes from the disk.
        let store = FileStore::open(cfg.clone(), StoreLimits::default())
            .await
            .expect("reopen");
        for i in 1..=N {
            let m = store.load(i).await.expect("load");
            assert_eq!(m.payload.as_ref(), payload(i).as_slice(), "seq {i}");
        }
        let stats = store.io_stats();
        assert!(block_files(&cfg.dir).len() >= 3, "several blocks");
        assert!(
            stats.reads_ahead >= 8,
            "the replay was read ahead: {stats:?}"
        );
        assert!(
            stats.reads <= 3,
            "the reader waited for the disk only at the start: {stats:?}"
        );
        store.close().await.expect("close");
    });
}
