//! Power losses and I/O errors on the simulated disk, one scenario at a time.
//!
//! What the store promises when a write or an fdatasync fails (ENOSPC or
//! EIO):
//! - the append whose batch failed gets the typed error (`StoreError::Io`
//!   with the errno: `is_no_space()` for ENOSPC), and so does every later
//!   durability ticket — nothing is acknowledged after a failed sync, and the
//!   sync is not retried (Linux reports a writeback error once and then calls
//!   the pages clean, so a retry that "succeeds" proves nothing: fsyncgate);
//! - the store then fences itself completely: every call (reads included)
//!   fails with `StoreError::Poisoned` until it is reopened, because its
//!   in-memory index is ahead of the disk and would serve messages that were
//!   never acknowledged and may be gone after a restart;
//! - reopening recovers what the files hold, and makes it durable before
//!   accepting work (it rewrites the last write and syncs every block), so
//!   what the reopened store serves survives the next power loss.
//!
//! Every scenario ends with a power loss that keeps nothing unsynced (the
//! worst case) and checks the reopened store.

use std::path::PathBuf;

use bytes::Bytes;
use jetcore_storage::consumer_file::remove_consumer_dir_on;
use jetcore_storage::sim::disk::{Fault, FaultOp, SimDisk};
use jetcore_storage::{
    ConsumerFileConfig, ConsumerStateFile, Disk, FileStore, FileStoreConfig, NewMessage,
    StoreError, StoreLimits, StreamStore,
};

fn on_executor<T>(fut: impl std::future::Future<Output = T>) -> T {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 << 10)
        .make()
        .expect("executor")
        .run(fut)
}

fn dir() -> PathBuf {
    PathBuf::from("/sim/streams/s")
}

fn config() -> FileStoreConfig {
    let mut cfg = FileStoreConfig::new(dir());
    cfg.block_size = 64 << 10;
    cfg
}

async fn open(disk: &SimDisk) -> FileStore {
    FileStore::open_on(Disk::Sim(disk.clone()), config(), StoreLimits::default())
        .await
        .expect("store opens")
}

fn msg(i: u64, len: usize) -> NewMessage {
    let mut payload = format!("m{i}:").into_bytes();
    payload.resize(len, b'a' + (i % 26) as u8);
    NewMessage {
        subject: Bytes::from(format!("s.{}", i % 3)),
        payload: Bytes::from(payload),
        timestamp: Some(1_000 + i as i64),
        ..NewMessage::default()
    }
}

async fn append_acked(store: &FileStore, i: u64, len: usize) -> u64 {
    let a = store.append(msg(i, len)).expect("append accepted");
    a.durable.await.expect("append durable");
    a.seq
}

/// Every message of the store as `(seq, payload)`.
async fn contents(store: &FileStore) -> Vec<(u64, Bytes)> {
    let mut out = Vec::new();
    let mut next = 0;
    while let Some(m) = store.load_next(b">", next).await.expect("scan") {
        next = m.seq + 1;
        out.push((m.seq, m.payload));
    }
    out
}

/// Cuts the power keeping nothing that was not synced; returns the disk as
/// it comes back.
fn power_loss_worst_case(disk: &SimDisk) -> SimDisk {
    disk.set_power_loss_survival(Some(0.0));
    disk.power_loss();
    disk.after_power_loss().expect("image")
}

fn fault(op: FaultOp, errno: i32, path: &str) -> Fault {
    Fault {
        op,
        errno,
        skip: 0,
        count: 1,
        path_contains: path.into(),
    }
}

/// A new store and a new consumer survive a power loss right after their
/// first acknowledged write: every directory they created is durable.
/// (Regression: the store's `msgs/` and the consumer's `obs/` entries were
/// never synced, so an unlucky power loss took the whole store with it.)
#[test]
fn new_store_and_consumer_survive_a_power_loss() {
    on_executor(async {
        let disk = SimDisk::new(1, "/sim");
        let store = open(&disk).await;
        append_acked(&store, 1, 100).await;
        let cdir = dir().join("obs").join("c");
        let (c, none) = ConsumerStateFile::open_on(
            Disk::Sim(disk.clone()),
            ConsumerFileConfig {
                dir: cdir.clone(),
                sync: Default::default(),
                cipher: Default::default(),
            },
        )
        .await
        .expect("consumer opens");
        assert!(none.is_none());
        c.write(Bytes::from_static(b"state 1"))
            .await
            .expect("state durable");
        let disk = power_loss_worst_case(&disk);
        let store = open(&disk).await;
        assert_eq!(store.state().messages, 1);
        let (_c, snap) = ConsumerStateFile::open_on(
            Disk::Sim(disk.clone()),
            ConsumerFileConfig {
                dir: cdir,
                sync: Default::default(),
                cipher: Default::default(),
            },
        )
        .await
        .expect("consumer reopens");
        assert_eq!(snap.as_deref(), Some(&b"state 1"[..]));
    });
}

/// ENOSPC and EIO, on a write and on an fdatasync of a block.
#[test]
fn failed_write_or_sync_fails_cleanly_fences_the_store_and_loses_nothing_acknowledged() {
    for op in [FaultOp::Write, FaultOp::Sync] {
        for errno in [libc::ENOSPC, libc::EIO] {
            on_executor(scenario(op, errno));
        }
    }
}

async fn scenario(op: FaultOp, errno: i32) {
    let what = format!("{op:?} errno {errno}");
    let disk = SimDisk::new(7, "/sim");
    disk.set_yield_percent(0);
    let store = open(&disk).await;
    for i in 1..=5 {
        append_acked(&store, i, 300).await;
    }
    disk.inject(fault(op, errno, "msgs"));
    // Larger than a page: the next write after a restart rewrites only the
    // partial last page, so the pages before it are durable only if the
    // reopen made them so.
    let a = store.append(msg(6, 9000)).expect("accepted in memory");
    let b = store.append(msg(7, 9000)).expect("accepted in memory");
    // The failed batch's tickets and every later one fail, with the errno.
    let e = a.durable.await.expect_err("append 6 acknowledged");
    assert!(
        matches!(e, StoreError::Io { errno: Some(x), .. } if x == errno),
        "{what}: append 6 failed with {e:?}"
    );
    // The server tells a full disk apart by this.
    assert_eq!(e.is_no_space(), errno == libc::ENOSPC, "{what}");
    assert!(b.durable.await.is_err(), "{what}: append 7 acknowledged");
    // Fenced: no writes, no reads, no durability.
    assert!(matches!(
        store.append(msg(8, 10)),
        Err(StoreError::Poisoned(_))
    ));
    assert!(matches!(store.load(1).await, Err(StoreError::Poisoned(_))));
    assert!(matches!(
        store.remove(1, false),
        Err(StoreError::Poisoned(_))
    ));
    assert!(store.durable().await.is_err());
    drop(store);

    // The process restarts (the disk's cache survives): the reopened store
    // holds the five acknowledged messages, and maybe the failed ones whole.
    let disk = disk.kill_process();
    let store = open(&disk).await;
    let seen = contents(&store).await;
    assert!(
        seen.len() >= 5,
        "{what}: acknowledged messages lost: {seen:?}"
    );
    for (seq, payload) in &seen {
        let want = msg(*seq, if *seq > 5 { 9000 } else { 300 }).payload;
        assert_eq!(payload, &want, "{what}: seq {seq} served wrong");
    }
    assert!(store.corrupt_ranges().is_empty(), "{what}");
    // New work on top of what was recovered…
    let next = seen.len() as u64 + 1;
    assert_eq!(append_acked(&store, next, 300).await, next);
    drop(store);

    // …and a power loss that keeps nothing unsynced: everything the reopened
    // store served, and the new message, are still there (fsyncgate: the
    // unsynced bytes a failed fdatasync left readable were written again).
    let disk = power_loss_worst_case(&disk);
    let store = open(&disk).await;
    let after = contents(&store).await;
    assert_eq!(after.len(), seen.len() + 1, "{what}: {after:?}");
    assert!(store.corrupt_ranges().is_empty(), "{what}");
    store.close().await.expect("close");
}

/// The fdatasync of a new block file fails while it is created; the process
/// restarts and builds on that block; a power loss must not take the block's
/// header with it. (Regression, sim-crash seed 36: the store refused to open
/// with "empty block header".)
#[test]
fn failed_sync_of_a_new_block_is_repaired_at_reopen() {
    on_executor(async {
        let disk = SimDisk::new(3, "/sim");
        disk.set_yield_percent(0);
        let store = open(&disk).await;
        let mut i = 0;
        while store.block_count() < 2 {
            i += 1;
            append_acked(&store, i, 5000).await;
        }
        // Block 3 is created by the next roll; its sync fails.
        disk.inject(fault(FaultOp::Sync, libc::EIO, "0000000003.blk"));
        loop {
            i += 1;
            let a = store.append(msg(i, 5000)).expect("accepted");
            if a.durable.await.is_err() {
                break;
            }
        }
        drop(store);
        let disk = disk.kill_process();
        let store = open(&disk).await;
        let seen = contents(&store).await;
        let next = seen.last().map_or(1, |(s, _)| s + 1);
        for j in 0..12 {
            append_acked(&store, next + j, 5000).await;
        }
        let expect = contents(&store).await;
        drop(store);
        let disk = power_loss_worst_case(&disk);
        let store = open(&disk).await;
        assert_eq!(contents(&store).await, expect);
        assert!(store.corrupt_ranges().is_empty());
    });
}

/// A consumer state write whose fdatasync fails: the write's ticket fails,
/// the file refuses further writes, and after a restart and a power loss the
/// state is never older than the last acknowledged one. (Regression: the
/// record a failed sync left readable was chosen at reopen, the next write
/// went to the other slot — the one with the last durable record — and tore
/// it; after the power loss only an older record was left.)
#[test]
fn failed_consumer_sync_never_loses_acknowledged_state() {
    on_executor(async {
        let disk = SimDisk::new(5, "/sim");
        disk.set_yield_percent(0);
        let cfg = || ConsumerFileConfig {
            dir: dir().join("obs").join("c"),
            sync: Default::default(),
            cipher: Default::default(),
        };
        // Snapshots of several sectors, so a failed write can tear one.
        let snap = |n: u8| Bytes::from(vec![n; 4000]);
        let (c, _) = ConsumerStateFile::open_on(Disk::Sim(disk.clone()), cfg())
            .await
            .expect("open");
        c.write(snap(1)).await.expect("1 durable"); // slot 0
        c.write(snap(2)).await.expect("2 durable"); // slot 1
        disk.inject(fault(FaultOp::Sync, libc::EIO, "state."));
        let e = c.write(snap(3)).await; // slot 0: written, sync fails
        assert!(matches!(e, Err(StoreError::Io { .. })), "{e:?}");
        assert!(c.write(snap(4)).await.is_err(), "written after a failure");
        drop(c);
        let disk = disk.kill_process();
        let (c, got) = ConsumerStateFile::open_on(Disk::Sim(disk.clone()), cfg())
            .await
            .expect("reopen");
        // Snapshot 3 is readable: a failed sync does not undo the write.
        assert_eq!(got, Some(snap(3)));
        // The next record goes to slot 1 (holding snapshot 2) and the write
        // fails halfway, tearing it.
        disk.inject(fault(FaultOp::Write, libc::EIO, "state."));
        assert!(c.write(snap(5)).await.is_err());
        drop(c);
        disk.set_power_loss_survival(Some(1.0));
        disk.power_loss();
        let disk = disk.after_power_loss().expect("image");
        let (_c, got) = ConsumerStateFile::open_on(Disk::Sim(disk.clone()), cfg())
            .await
            .expect("reopen after power loss");
        // Snapshot 2 was acknowledged; 3 was served by the reopen and has
        // been durable since.
        assert_eq!(got, Some(snap(3)));
    });
}

/// A consumer deleted (the call returned) stays deleted; a consumer being
/// deleted when the power fails is whole or gone, never half.
#[test]
fn consumer_removal_is_atomic_and_durable() {
    for survival in [0.0, 1.0] {
        on_executor(async move {
            let disk = SimDisk::new(9, "/sim");
            let cdir = dir().join("obs").join("c");
            let d = Disk::Sim(disk.clone());
            let (c, _) = ConsumerStateFile::open_on(
                d.clone(),
                ConsumerFileConfig {
                    dir: cdir.clone(),
                    sync: Default::default(),
                    cipher: Default::default(),
                },
            )
            .await
            .expect("open");
            c.write(Bytes::from_static(b"x")).await.expect("durable");
            c.close().await.expect("close");
            remove_consumer_dir_on(&d, &cdir).await.expect("removed");
            disk.set_power_loss_survival(Some(survival));
            disk.power_loss();
            let after = disk.after_power_loss().expect("image");
            let names = Disk::Sim(after.clone());
            let (_c, snap) = ConsumerStateFile::open_on(
                names,
                ConsumerFileConfig {
                    dir: cdir.clone(),
                    sync: Default::default(),
                    cipher: Default::default(),
                },
            )
            .await
            .expect("open again");
            assert_eq!(snap, None, "a removed consumer came back");
        });
    }
}

/// Runs a fixed workload — ten small messages on two subjects, one that
/// nearly fills the first block, then a purge of one subject (its removal
/// records need more room than the block has left) — with the power failing
/// at disk step `crash_at`. Returns the steps before and after the purge, and
/// what survived of the purged subject when the power failed.
async fn purge_scenario(crash_at: Option<u64>) -> (u64, u64, Option<u64>) {
    let disk = SimDisk::new(11, "/sim");
    disk.set_yield_percent(0);
    disk.set_crash_at(crash_at);
    let mut before = 0;
    let run = async {
        let store = FileStore::open_on(Disk::Sim(disk.clone()), config(), StoreLimits::default())
            .await
            .ok()?;
        for i in 0..10u64 {
            let mut m = msg(i, 100);
            m.subject = Bytes::from(format!("s.{}", i % 2));
            store.append(m).ok()?.durable.await.ok()?;
        }
        // 4096 (header page) + 10 frames of 178 bytes + this frame leave 82
        // bytes in the 64 KiB block: not enough for five removal records.
        let mut big = msg(10, 59_472);
        big.subject = Bytes::from_static(b"s.0");
        store.append(big).ok()?.durable.await.ok()?;
        assert_eq!(store.block_count(), 1);
        before = disk.steps();
        let purged = store
            .purge(&jetcore_storage::PurgeRequest {
                filter: Some(Bytes::from_static(b"s.1")),
                ..Default::default()
            })
            .ok()?;
        assert_eq!(purged, 5);
        store.durable().await.ok()?;
        assert_eq!(store.block_count(), 2, "the removals went to a new block");
        Some(())
    };
    let done = run.await;
    let after = disk.steps();
    if done.is_some() || !disk.crashed() {
        return (before, after, None);
    }
    let disk = disk.after_power_loss().expect("image");
    let store = open(&disk).await;
    let left = store
        .subjects_state(b"s.1")
        .values()
        .map(|s| s.messages)
        .sum();
    assert!(store.corrupt_ranges().is_empty());
    (before, after, Some(left))
}

/// A purge that removes several messages is all or nothing at every point
/// where the power can fail. (Regression: its removal records were placed one
/// by one and could straddle two blocks; the first block is synced before the
/// second is written, so a power loss in between kept half the purge.)
#[test]
fn a_purge_is_all_or_nothing_at_every_crash_point() {
    on_executor(async {
        let (before, after, _) = purge_scenario(None).await;
        assert!(after > before + 3, "the purge did no I/O?");
        let mut crashed = 0;
        for at in before + 1..=after {
            if let (_, _, Some(left)) = purge_scenario(Some(at)).await {
                crashed += 1;
                assert!(
                    left == 0 || left == 5,
                    "power loss at step {at}: {left} of 5 purged messages left"
                );
            }
        }
        assert!(crashed > 0);
    });
}

/// Reads racing secure erases never see a frame half rewritten: a frame that
/// fails verification while an erase rewrites its block is read again once
/// the erase is over. (Regression, sim-crash seeds 6337, 9007, 9111: a healthy
/// store answered `Corrupt` — a lost message for a consumer — because the
/// erase wrote one patch at a time and the read retried only once, at once.)
#[test]
fn reads_racing_secure_erases_never_fail() {
    for seed in 0..24u64 {
        on_executor(async move {
            let disk = SimDisk::new(seed, "/sim");
            disk.set_yield_percent(60);
            let mut cfg = config();
            cfg.read_cache_bytes = 0; // every read goes to the disk
            let store = std::rc::Rc::new(
                FileStore::open_on(Disk::Sim(disk.clone()), cfg, StoreLimits::default())
                    .await
                    .expect("open"),
            );
            // Group commits of several messages per frame, frames of several
            // pages.
            for batch in 0..6u64 {
                let mut last = None;
                for j in 0..4 {
                    let i = batch * 4 + j;
                    last = Some(
                        store
                            .append(msg(i, 1500 + 300 * j as usize))
                            .expect("append"),
                    );
                }
                if let Some(a) = last {
                    a.durable.await.expect("durable");
                }
            }
            let reader = {
                let store = store.clone();
                glommio::spawn_local(async move {
                    let mut served = 0;
                    for round in 0..12u64 {
                        for seq in (1..=24u64).filter(|s| s % 3 != 0) {
                            match store.load(seq).await {
                                Ok(m) => {
                                    assert_eq!(
                                        m.payload,
                                        msg(seq - 1, 1500 + 300 * ((seq - 1) % 4) as usize).payload
                                    );
                                    served += 1;
                                }
                                Err(e) => panic!("seed {seed} round {round}: load({seq}): {e}"),
                            }
                        }
                    }
                    served
                })
            };
            // Erase every third message, two or three per frame at a time.
            for seq in (3..=24u64).step_by(3) {
                assert!(store.remove(seq, true).expect("remove"));
                if seq % 2 == 0 {
                    store.durable().await.expect("erased");
                }
            }
            store.durable().await.expect("erased");
            assert!(reader.await > 0);
            assert!(store.io_stats().erased > 0);
        });
    }
}

/// Sequential readers with read-ahead racing secure erases: a window read in the
/// background while an erase rewrites its block is not cached, so no reader is
/// ever served a frame half rewritten or a message that is not the one stored,
/// and every message not removed is served.
#[test]
fn read_ahead_racing_secure_erases_serves_only_what_was_stored() {
    const N: u64 = 900;
    let len = |i: u64| 3000 + (i % 5) as usize * 700;
    let mut reads_ahead = 0;
    for seed in 0..12u64 {
        reads_ahead += on_executor(async move {
            let disk = SimDisk::new(seed, "/sim");
            disk.set_yield_percent(60);
            let mut cfg = config();
            cfg.block_size = 2 << 20;
            cfg.read_cache_bytes = 2 << 20; // the least that reads ahead
            let store = std::rc::Rc::new(
                FileStore::open_on(Disk::Sim(disk.clone()), cfg, StoreLimits::default())
                    .await
                    .expect("open"),
            );
            for batch in 0..N / 10 {
                let mut last = None;
                for j in 0..10 {
                    let i = batch * 10 + j;
                    last = Some(store.append(msg(i, len(i))).expect("append"));
                }
                if let Some(a) = last {
                    a.durable.await.expect("durable");
                }
            }
            let reader = {
                let store = store.clone();
                glommio::spawn_local(async move {
                    for round in 0..3 {
                        for seq in 1..=N {
                            match store.load(seq).await {
                                Ok(m) => assert_eq!(
                                    m.payload,
                                    msg(seq - 1, len(seq - 1)).payload,
                                    "seed {seed} round {round}: seq {seq}"
                                ),
                                Err(StoreError::NotFound) if seq % 7 == 0 => {}
                                Err(e) => panic!("seed {seed} round {round}: load({seq}): {e}"),
                            }
                        }
                    }
                })
            };
            for seq in (7..=N).step_by(7) {
                assert!(store.remove(seq, true).expect("remove"));
                if seq % 3 == 0 {
                    store.durable().await.expect("erased");
                }
            }
            store.durable().await.expect("erased");
            reader.await;
            assert!(store.io_stats().erased > 0);
            store.io_stats().reads_ahead
        });
    }
    assert!(reads_ahead > 0, "the readers read ahead");
}

/// A secure erase whose directory sync fails after its redo file was renamed
/// into place poisons the store; the next process finishes the erase from the
/// redo. A power loss at any step of that recovery must leave a store that
/// opens, without damage, with every other message intact. (Regression,
/// sim-crash seed 13777: recovery patched the block before the redo's name was
/// durable; the power loss kept a torn page and lost the redo.)
#[test]
fn interrupted_erase_recovery_survives_a_power_loss_at_every_step() {
    async fn scenario(crash_in_recovery: Option<u64>) -> (u64, Option<Vec<(u64, Bytes)>>) {
        let disk = SimDisk::new(21, "/sim");
        disk.set_yield_percent(0);
        let mut cfg = config();
        cfg.read_cache_bytes = 0;
        let store =
            FileStore::open_on(Disk::Sim(disk.clone()), cfg.clone(), StoreLimits::default())
                .await
                .expect("open");
        // Two frames of several pages each, three messages per frame.
        for batch in 0..2u64 {
            let mut last = None;
            for j in 0..3 {
                last = Some(store.append(msg(batch * 3 + j, 3000)).expect("append"));
            }
            if let Some(a) = last {
                a.durable.await.expect("durable");
            }
        }
        disk.inject(fault(FaultOp::DirSync, libc::EIO, "msgs"));
        store.remove(2, true).expect("remove");
        store.remove(5, true).expect("remove");
        assert!(store.durable().await.is_err(), "the erase should fail");
        drop(store);
        let disk = disk.kill_process();
        let start = disk.steps();
        disk.set_crash_at(crash_in_recovery.map(|at| start + at));
        let opened =
            FileStore::open_on(Disk::Sim(disk.clone()), cfg.clone(), StoreLimits::default()).await;
        let steps = disk.steps() - start;
        if !disk.crashed() {
            let store = opened.expect("recovery");
            return (steps, Some(contents(&store).await));
        }
        disk.set_power_loss_survival(None);
        let disk = disk.after_power_loss().expect("image");
        let store = FileStore::open_on(Disk::Sim(disk), cfg, StoreLimits::default())
            .await
            .expect("opens after a power loss during recovery");
        assert!(
            store.corrupt_ranges().is_empty(),
            "{:?}",
            store.corrupt_ranges()
        );
        (steps, Some(contents(&store).await))
    }
    on_executor(async {
        let (steps, clean) = scenario(None).await;
        let clean = clean.expect("contents");
        let live: Vec<u64> = clean.iter().map(|(s, _)| *s).collect();
        assert_eq!(live, vec![1, 3, 4, 6], "seqs 2 and 5 removed");
        for at in 1..=steps {
            let (_, got) = scenario(Some(at)).await;
            let got = got.expect("contents");
            for (seq, payload) in &got {
                assert_eq!(payload, &msg(seq - 1, 3000).payload, "crash at step {at}");
            }
            let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
            assert_eq!(seqs, live, "crash at step {at}");
        }
    });
}

/// A consumer whose first record tears, opens empty, and whose next attempt
/// (generation 2, slot 0 again) tears too still opens — empty: nothing was
/// ever acknowledged. (Regression, sim-crash seeds 297 and 16185: the open
/// refused with "no valid record" for good.)
#[test]
fn repeatedly_torn_first_consumer_record_opens_empty() {
    for seed in 0..30u64 {
        on_executor(async move {
            let mut disk = SimDisk::new(seed, "/sim");
            disk.set_yield_percent(0);
            let cfg = || ConsumerFileConfig {
                dir: dir().join("obs").join("c"),
                sync: Default::default(),
                cipher: Default::default(),
            };
            for attempt in 0..2u8 {
                let (c, snap) = ConsumerStateFile::open_on(Disk::Sim(disk.clone()), cfg())
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed} attempt {attempt}: {e}"));
                assert_eq!(snap, None, "seed {seed}: nothing was acknowledged");
                // The write fails halfway (a random part of its sectors lands).
                disk.inject(fault(FaultOp::Write, libc::EIO, "state."));
                assert!(c.write(Bytes::from(vec![attempt + 1; 6000])).await.is_err());
                drop(c);
                disk.set_power_loss_survival(Some(1.0));
                disk.power_loss();
                disk = disk.after_power_loss().expect("image");
            }
            let (_c, snap) = ConsumerStateFile::open_on(Disk::Sim(disk.clone()), cfg())
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(snap, None);
        });
    }
}

/// A power loss between the two steps of a consumer removal leaves the
/// consumer under its hidden name only; `remove_consumer_leftovers` clears
/// it, and nothing of it is visible under the consumer's own name.
#[test]
fn interrupted_consumer_removal_leaves_only_a_hidden_leftover() {
    use jetcore_storage::consumer_file::remove_consumer_leftovers_on;
    on_executor(async {
        let disk = SimDisk::new(4, "/sim");
        disk.set_yield_percent(0);
        let obs = dir().join("obs");
        let cdir = obs.join("c");
        let d = Disk::Sim(disk.clone());
        let (c, _) = ConsumerStateFile::open_on(
            d.clone(),
            ConsumerFileConfig {
                dir: cdir.clone(),
                sync: Default::default(),
                cipher: Default::default(),
            },
        )
        .await
        .expect("open");
        c.write(Bytes::from_static(b"x")).await.expect("durable");
        c.close().await.expect("close");
        // The power fails at the second directory sync: the rename is
        // durable, the removal of the hidden directory is not.
        disk.inject(Fault {
            op: FaultOp::DirSync,
            errno: libc::EIO,
            skip: 1,
            count: 1,
            path_contains: "obs".into(),
        });
        assert!(remove_consumer_dir_on(&d, &cdir).await.is_err());
        disk.set_power_loss_survival(Some(0.0));
        disk.power_loss();
        let sim = disk.after_power_loss().expect("image");
        let after = Disk::Sim(sim.clone());
        assert_eq!(sim.stat(&cdir).expect("stat"), None);
        assert_eq!(sim.stat(&obs.join(".c.removed")).expect("stat"), Some(true));
        remove_consumer_leftovers_on(&after, &obs)
            .await
            .expect("cleanup");
        assert_eq!(sim.stat(&obs.join(".c.removed")).expect("stat"), None);
    });
}
