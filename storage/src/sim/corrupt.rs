//! The corruption matrix behind `scripts/corrupt`: damage one file of a
//! cleanly stopped store, reopen, and classify what the store does about it.
//!
//! # One run (one seed)
//!
//! A FileStore with 64 KiB blocks (many blocks per run; some messages get a
//! block of their own) in a seeded mode (plain, lz4, AES, ChaCha) takes a
//! random workload on the simulated disk — publishes of varied subjects and
//! sizes, removals (some with secure erase), purges, compactions — and a
//! durable consumer writes 1 to 6 state snapshots, each waited for. The store
//! and the consumer are then closed cleanly (for the `redo` target, the
//! process is instead killed while a secure erase is being applied, so that a
//! `.blk.redo` file exists). Then ONE seeded damage is applied to one file,
//! made durable, and the store and the consumer are reopened:
//!
//! - file types ([`Target`]): a block's header page, a block's frames, the
//!   erase `.blk.redo` file, a consumer state slot;
//! - damage kinds ([`Damage`]): 1 to 8 flipped bits within 256 bytes, a
//!   zeroed 512-byte-aligned range, a zeroed unaligned range, a truncation.
//!
//! # Classification ([`Verdict`])
//!
//! - `unaffected`: the store and consumer show exactly what they held, nothing
//!   is reported, and recovery did not rewrite the damaged file (the damage
//!   hit bytes that are never read, or an older consumer slot);
//! - `repaired`: the same, and recovery rewrote the damaged file (a torn-looking
//!   tail zeroed, an erase redone);
//! - `fenced`: the store reports damaged ranges (`corrupt_ranges`, with the
//!   damaged file) and every message it no longer serves lies in one; `load`
//!   answers `Corrupt` there;
//! - `refused`: the open fails with an error naming the damaged file (or its
//!   directory);
//! - `fallback`: a consumer whose newest record is damaged reopened with its
//!   previous record (logged with the slot's path): redelivery, not loss;
//! - the former blind spots are anomalies now: the end of the last block
//!   cut without a report (a; closed by the close marker and close mark, a
//!   clean stop being the only kind this matrix makes), removed messages
//!   served again (b; closed by removal echoes), a consumer opening empty
//!   after its only record was damaged (c; closed by writing a first record
//!   to both slots) — see `docs/storage-format.md`;
//! - `ANOMALY`: anything else — a wrong subject, header or payload served for
//!   a sequence, a message gone without a reported range around it, state
//!   (first, last, messages, bytes, per subject) that disagrees with what
//!   loads, a refusal that does not name the file, an error from a file that
//!   was not damaged, a panic, a hang; also a store that opened but then
//!   refuses an append, or a second reopen that answers differently.
//!
//! Everything follows from the seed; `scripts/corrupt --seed S` replays one
//! run with a log.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_lite::future;

use crate::config::{Cipher, Compression, FileStoreConfig, StoreLimits};
use crate::consumer_file::{ConsumerFileConfig, ConsumerStateFile};
use crate::error::StoreError;
use crate::file::{file_msg_size, Disk, FileStore};
use crate::message::NewMessage;
use crate::state::{PurgeRequest, StoreState, SubjectState};
use crate::store::StreamStore;

use super::disk::SimDisk;
use super::rng::SimRng;
use super::{set_break, Break};

/// Where the simulated disk is mounted.
const ROOT: &str = "/sim";
/// Block size: the minimum, so a run spans many blocks.
const BLOCK: u64 = 64 << 10;
/// Executor turns a bounded wait gives a future before calling it a hang.
const HANG_TURNS: usize = 200_000;
/// Executor turns the `redo` target waits for a secure erase to reach its
/// redo file before giving up on that target.
const REDO_TURNS: usize = 20_000;
/// Most bits one bit-flip damage flips.
const MAX_FLIPS: u64 = 8;
/// Bytes within which the bits of one bit-flip damage lie.
const FLIP_WINDOW: u64 = 256;
/// Largest zeroed range, in 512-byte sectors.
const MAX_ZERO_SECTORS: u64 = 16;
/// Positions tried before a damage that would change no byte is given up.
const DAMAGE_TRIES: usize = 16;

/// The file a run damages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// The header page (first 4 KiB) of a block file.
    BlockHeader,
    /// The frames of a block file (after its header page).
    BlockFrames,
    /// The `.blk.redo` file of an interrupted secure erase.
    Redo,
    /// A consumer state slot (`state.0` or `state.1`).
    ConsumerState,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [
        Target::BlockHeader,
        Target::BlockFrames,
        Target::Redo,
        Target::ConsumerState,
    ];

    /// The target named `s`.
    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Target::BlockHeader => "block-header",
            Target::BlockFrames => "block-frames",
            Target::Redo => "redo",
            Target::ConsumerState => "consumer-state",
        }
    }
}

/// What is done to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Damage {
    /// 1 to [`MAX_FLIPS`] bits flipped within [`FLIP_WINDOW`] bytes.
    BitFlip,
    /// A 512-byte-aligned range of whole sectors zeroed.
    ZeroAligned,
    /// A range at any offset, of any length, zeroed.
    ZeroUnaligned,
    /// The file cut at some offset.
    Truncate,
}

impl Damage {
    /// Every damage kind.
    pub const ALL: [Damage; 4] = [
        Damage::BitFlip,
        Damage::ZeroAligned,
        Damage::ZeroUnaligned,
        Damage::Truncate,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Damage::BitFlip => "bit-flip",
            Damage::ZeroAligned => "zero-aligned",
            Damage::ZeroUnaligned => "zero-unaligned",
            Damage::Truncate => "truncate",
        }
    }
}

/// How the store dealt with the damage (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Same content, nothing reported, damaged file not rewritten.
    Unaffected,
    /// Same content, nothing reported, damaged file rewritten by recovery.
    Repaired,
    /// Damaged ranges reported; nothing missing outside them.
    Fenced,
    /// The open failed naming the file.
    Refused,
    /// The consumer reopened with its previous record.
    Fallback,
    /// A broken promise.
    Anomaly,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 6] = [
        Verdict::Unaffected,
        Verdict::Repaired,
        Verdict::Fenced,
        Verdict::Refused,
        Verdict::Fallback,
        Verdict::Anomaly,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Unaffected => "unaffected",
            Verdict::Repaired => "repaired",
            Verdict::Fenced => "fenced",
            Verdict::Refused => "refused",
            Verdict::Fallback => "fallback",
            Verdict::Anomaly => "ANOMALY",
        }
    }
}

/// How runs are made.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only damage this file type (default: a seeded choice).
    pub target: Option<Target>,
    /// Only this damage kind (default: a seeded choice).
    pub damage: Option<Damage>,
    /// A deliberate bug (`SkipChecksum`, `IgnoreRemovalEcho`, `OneConsumerCopy`).
    pub switch: Option<Break>,
    /// Log what the run does.
    pub verbose: bool,
}

/// What one run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The file type damaged.
    pub target: Target,
    /// The damage kind.
    pub damage: Damage,
    /// The classification.
    pub verdict: Verdict,
    /// The damage, as text (file, offsets).
    pub what: String,
    /// Every anomaly (non-empty exactly when the verdict is `Anomaly`).
    pub anomalies: Vec<String>,
}

/// A message as the store held it before the damage.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    subject: Bytes,
    headers: Bytes,
    payload: Bytes,
    ts: i64,
}

impl Content {
    fn of(m: &crate::message::StoredMessage) -> Content {
        Content {
            subject: m.subject.clone(),
            headers: m.headers.clone(),
            payload: m.payload.clone(),
            ts: m.timestamp,
        }
    }
}

/// What a store served, scanned through `load_next`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    state: StoreState,
    subjects: BTreeMap<Bytes, SubjectState>,
    live: BTreeMap<u64, Content>,
    ranges: Vec<(u64, u64, PathBuf)>,
}

fn stream_dir() -> PathBuf {
    Path::new(ROOT).join("streams").join("s")
}

fn msgs_dir() -> PathBuf {
    stream_dir().join("msgs")
}

fn consumer_dir() -> PathBuf {
    stream_dir().join("obs").join("c")
}

/// Waits for `f`, giving up after [`HANG_TURNS`] executor turns.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> Option<T> {
    future::or(async { Some(f.await) }, async {
        for _ in 0..HANG_TURNS {
            future::yield_now().await;
        }
        None
    })
    .await
}

/// One run's state.
struct Run {
    seed: u64,
    opts: Options,
    rng: SimRng,
    cfg: FileStoreConfig,
    /// Every message ever appended, by sequence (for telling a resurrected
    /// message from a wrong one).
    appended: HashMap<u64, Vec<Content>>,
    /// Snapshots the consumer wrote, in order; all acknowledged.
    snapshots: Vec<Bytes>,
    /// The sequence whose secure erase the `redo` target interrupted.
    erased: Option<u64>,
    anomalies: Vec<String>,
}

impl Run {
    fn log(&self, what: impl FnOnce() -> String) {
        if self.opts.verbose {
            eprintln!("[seed {}] {}", self.seed, what());
        }
    }

    fn anomaly(&mut self, what: String) {
        self.log(|| format!("ANOMALY: {what}"));
        if self.anomalies.len() < 20 {
            self.anomalies.push(what);
        }
    }

    fn payload(&mut self) -> Bytes {
        let len = match self.rng.below(100) {
            0..=59 => self.rng.range(0, 200),
            60..=84 => self.rng.range(200, 4000),
            85..=97 => self.rng.range(4000, 20_000),
            _ => self.rng.range(60_000, 100_000),
        } as usize;
        let mut p = vec![0u8; len];
        match self.rng.below(10) {
            // Runs of zeros: whole zero sectors inside a payload are what
            // blind spot (a) is about.
            0 => {}
            1..=3 => {
                let b = self.rng.next_u64().to_le_bytes();
                for (i, x) in p.iter_mut().enumerate() {
                    *x = b[i % 8] ^ ((i / 64) as u8);
                }
            }
            _ => {
                for chunk in p.chunks_mut(8) {
                    let b = self.rng.next_u64().to_le_bytes();
                    chunk.copy_from_slice(&b[..chunk.len()]);
                }
            }
        }
        Bytes::from(p)
    }

    fn subject(&mut self) -> Bytes {
        const SUBJECTS: [&str; 6] = ["a.1", "a.2", "a.3", "b.x.long.subject", "c", "d.e"];
        Bytes::from_static(SUBJECTS[self.rng.below(SUBJECTS.len() as u64) as usize].as_bytes())
    }
}

/// Scans what `store` serves.
async fn view(run: &mut Run, store: &FileStore, label: &str) -> View {
    let mut live = BTreeMap::new();
    let mut next = 0u64;
    loop {
        match store.load_next(b">", next).await {
            Ok(Some(m)) => {
                next = m.seq + 1;
                live.insert(m.seq, Content::of(&m));
            }
            Ok(None) => break,
            Err(StoreError::Corrupt { seq, .. }) if seq >= next => next = seq + 1,
            Err(e) => {
                run.anomaly(format!("{label}: load_next({next}) failed: {e}"));
                break;
            }
        }
    }
    View {
        state: store.state(),
        subjects: store.subjects_state(b">"),
        live,
        ranges: store.corrupt_ranges(),
    }
}

/// Checks that a view's counters agree with what it served.
async fn check_consistent(run: &mut Run, store: &FileStore, v: &View, label: &str) {
    let mut bytes = 0u64;
    let mut per_subject: BTreeMap<Bytes, SubjectState> = BTreeMap::new();
    for (&seq, c) in &v.live {
        bytes += file_msg_size(c.subject.len(), c.headers.len(), c.payload.len());
        let e = per_subject.entry(c.subject.clone()).or_default();
        if e.messages == 0 {
            e.first_seq = seq;
        }
        e.messages += 1;
        e.last_seq = seq;
        match store.load(seq).await {
            Ok(m) if Content::of(&m) == *c => {}
            Ok(_) => run.anomaly(format!("{label}: load({seq}) differs from load_next")),
            Err(e) => run.anomaly(format!(
                "{label}: load({seq}) fails after load_next served it: {e}"
            )),
        }
    }
    let s = &v.state;
    let first = v.live.keys().next().copied().unwrap_or(s.last_seq + 1);
    if s.messages != v.live.len() as u64
        || s.bytes != bytes
        || s.first_seq != first
        || s.num_subjects != per_subject.len() as u64
        || v.live.keys().next_back().is_some_and(|&l| l > s.last_seq)
    {
        run.anomaly(format!(
            "{label}: state {s:?} disagrees with what loads: {} messages, {bytes} bytes, first {first}, {} subjects",
            v.live.len(),
            per_subject.len()
        ));
    }
    if v.subjects != per_subject {
        run.anomaly(format!("{label}: subjects_state disagrees with what loads"));
    }
}

/// The workload: builds the store and the consumer. Returns what the store
/// served at the end (the truth the damaged store is held to).
async fn build(run: &mut Run, disk_slot: &mut SimDisk, target: Target) -> Option<View> {
    let disk = disk_slot.clone();
    let disk = &disk;
    let d = Disk::Sim(disk.clone());
    let store = match bounded(FileStore::open_on(
        d.clone(),
        run.cfg.clone(),
        StoreLimits::default(),
    ))
    .await
    {
        Some(Ok(s)) => s,
        other => {
            run.anomaly(format!(
                "building: open failed: {:?}",
                other.map(|r| r.err())
            ));
            return None;
        }
    };
    let ccfg = ConsumerFileConfig {
        dir: consumer_dir(),
        sync: run.cfg.sync,
        cipher: run.cfg.cipher.clone(),
    };
    let consumer = match bounded(ConsumerStateFile::open_on(d.clone(), ccfg)).await {
        Some(Ok((c, None))) => c,
        _ => {
            run.anomaly("building: consumer state does not open".into());
            return None;
        }
    };
    let ops = run.rng.range(30, 160);
    // The consumer writes 1..=6 snapshots, spread over the workload; a
    // single one is the case blind spot (c) is about.
    let writes = if run.rng.chance(25) {
        1
    } else {
        run.rng.range(2, 7)
    };
    let write_every = (ops / writes).max(1);
    let mut clock = 1_700_000_000_000_000_000i64;
    for i in 0..ops {
        clock += run.rng.range(1, 1_000_000_000) as i64;
        if i % write_every == write_every - 1 && (run.snapshots.len() as u64) < writes {
            let n = run.snapshots.len();
            let len = run.rng.range(10, 9000) as usize;
            let mut body = format!("snapshot {n}|").into_bytes();
            let fill = run.rng.next_u64() as u8;
            body.resize(len.max(body.len()), fill);
            let body = Bytes::from(body);
            match bounded(consumer.write(body.clone())).await {
                Some(Ok(())) => run.snapshots.push(body),
                other => {
                    run.anomaly(format!("building: consumer write failed: {other:?}"));
                    return None;
                }
            }
        }
        match run.rng.below(100) {
            0..=69 => {
                let subject = run.subject();
                let headers = if run.rng.chance(15) {
                    Bytes::from(format!("NATS/1.0\r\nX-N: {i}\r\n\r\n"))
                } else {
                    Bytes::new()
                };
                let payload = run.payload();
                let c = Content {
                    subject: subject.clone(),
                    headers: headers.clone(),
                    payload: payload.clone(),
                    ts: clock,
                };
                match store.append(NewMessage {
                    subject,
                    headers,
                    payload,
                    timestamp: Some(clock),
                    ttl: 0,
                }) {
                    Ok(a) => run.appended.entry(a.seq).or_default().push(c),
                    Err(e) => {
                        run.anomaly(format!("building: append failed: {e}"));
                        return None;
                    }
                }
            }
            70..=81 => {
                let st = store.state();
                let seq = run.rng.range(st.first_seq, st.last_seq + 1);
                let erase = run.rng.chance(20);
                let _ = store.remove(seq, erase);
            }
            82..=85 => {
                let st = store.state();
                let req = PurgeRequest {
                    filter: run.rng.chance(70).then(|| run.subject()),
                    up_to_seq: None,
                    keep: run.rng.chance(50).then(|| run.rng.range(0, 4)),
                };
                let _ = st;
                let _ = store.purge(&req);
            }
            86..=87 => {
                let st = store.state();
                let seq = run.rng.range(st.first_seq, st.first_seq + 4);
                let _ = store.compact(seq);
            }
            _ => {
                // Group commits of different sizes: sometimes wait for the
                // writer, sometimes let records pile up.
                if run.rng.chance(50) {
                    let _ = bounded(store.durable()).await;
                } else {
                    future::yield_now().await;
                }
            }
        }
    }
    if let Some(Err(e)) = bounded(store.durable()).await {
        run.anomaly(format!("building: durable failed: {e}"));
        return None;
    }
    let mut truth = view(run, &store, "building").await;
    if target == Target::Redo {
        // Interrupt a secure erase while its redo file exists: every disk
        // operation yields, so the steps between the redo's rename and its
        // removal are observable.
        if let Some(&seq) = truth
            .live
            .keys()
            .nth(run.rng.below(truth.live.len().max(1) as u64) as usize)
        {
            disk.set_yield_percent(100);
            if store.remove(seq, true).is_ok() {
                for _ in 0..REDO_TURNS {
                    future::yield_now().await;
                    if !redo_files(disk).is_empty() {
                        // Killed right here, before the writer can take
                        // another step (nothing written is lost).
                        *disk_slot = disk.kill_process();
                        run.erased = Some(seq);
                        break;
                    }
                }
            }
        }
        if run.erased.is_some() {
            // The consumer's process is gone too; its last snapshot was
            // acknowledged before.
            drop(consumer);
            let truth_after = {
                let mut t = truth.clone();
                if let Some(seq) = run.erased {
                    t.live.remove(&seq);
                }
                t.state = store.state();
                t.subjects = store.subjects_state(b">");
                t
            };
            run.log(|| {
                format!(
                    "erase of {:?} interrupted with its redo file in place",
                    run.erased
                )
            });
            disk.set_yield_percent(0);
            return Some(truth_after);
        }
        disk.set_yield_percent(0);
        let _ = bounded(store.durable()).await;
        truth = view(run, &store, "building").await;
    }
    if !matches!(bounded(store.close()).await, Some(Ok(()))) {
        run.anomaly("building: close failed".into());
        return None;
    }
    if !matches!(bounded(consumer.close()).await, Some(Ok(()))) {
        run.anomaly("building: consumer close failed".into());
        return None;
    }
    Some(truth)
}

fn redo_files(disk: &SimDisk) -> Vec<PathBuf> {
    let dir = msgs_dir();
    disk.list(&dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| n.to_str().map(str::to_string))
        .filter(|n| n.ends_with(".blk.redo"))
        .map(|n| dir.join(n))
        .collect()
}

fn block_files(disk: &SimDisk) -> Vec<PathBuf> {
    let dir = msgs_dir();
    disk.list(&dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| n.to_str().map(str::to_string))
        .filter(|n| n.ends_with(".blk"))
        .map(|n| dir.join(n))
        .collect()
}

async fn read_file(disk: &SimDisk, path: &Path) -> Option<Vec<u8>> {
    let f = disk.open(path).await.ok()?;
    f.read(0, usize::MAX, path).await.ok()
}

/// The damage applied: which file, what, and what the file held before.
struct Applied {
    path: PathBuf,
    what: String,
    /// The file's bytes right after the damage (to tell a repair).
    after: Vec<u8>,
}

/// Applies one seeded damage of `kind` to a file of type `target`. `None`
/// when no byte could be changed (the run is then `unaffected`).
async fn damage(run: &mut Run, disk: &SimDisk, target: Target, kind: Damage) -> Option<Applied> {
    let blocks = block_files(disk);
    let path = match target {
        Target::BlockHeader | Target::BlockFrames => {
            // The last block is where torn-looking damage is; weigh it.
            let i = if run.rng.chance(40) {
                blocks.len().checked_sub(1)?
            } else {
                run.rng.below(blocks.len() as u64) as usize
            };
            blocks.get(i)?.clone()
        }
        Target::Redo => redo_files(disk).first()?.clone(),
        Target::ConsumerState => consumer_dir().join(if run.rng.chance(50) {
            "state.0"
        } else {
            "state.1"
        }),
    };
    if run.opts.verbose {
        for b in &blocks {
            if let Some(d) = read_file(disk, b).await {
                let h = crate::file::format::BlockHeader::decode(&d).ok();
                let end = d.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
                run.log(|| {
                    format!(
                        "{}: {} bytes, data end {end}, base {:?}",
                        b.display(),
                        d.len(),
                        h.map(|h| h.base_last_seq)
                    )
                });
            }
        }
    }
    let before = read_file(disk, &path).await?;
    let size = before.len() as u64;
    let data_end = before
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |p| p as u64 + 1);
    // The range positions are drawn from.
    let (lo, hi) = match target {
        Target::BlockHeader => (0, 4096.min(size)),
        Target::BlockFrames if run.rng.chance(10) => (4096.min(size), size),
        Target::BlockFrames => (4096.min(size), data_end.max(4097).min(size)),
        _ => (0, data_end.max(1).min(size)),
    };
    if hi <= lo && kind != Damage::Truncate {
        return None;
    }
    for _ in 0..DAMAGE_TRIES {
        let mut bytes = before.clone();
        let pos = run.rng.range(lo, hi.max(lo + 1));
        let what = match kind {
            Damage::BitFlip => {
                let n = if run.rng.chance(60) {
                    1
                } else {
                    run.rng.range(2, MAX_FLIPS + 1)
                };
                let mut at = Vec::new();
                for _ in 0..n {
                    let p = (pos + run.rng.below(FLIP_WINDOW)).min(size.saturating_sub(1));
                    let bit = run.rng.below(8);
                    if let Some(b) = bytes.get_mut(p as usize) {
                        *b ^= 1 << bit;
                    }
                    at.push(format!("{p}.{bit}"));
                }
                format!("flipped bits {}", at.join(","))
            }
            Damage::ZeroAligned => {
                let from = pos / 512 * 512;
                let to = (from + 512 * run.rng.range(1, MAX_ZERO_SECTORS + 1)).min(size);
                bytes[from as usize..to as usize].fill(0);
                format!("zeroed [{from}, {to})")
            }
            Damage::ZeroUnaligned => {
                let to = (pos + run.rng.range(1, 512 * MAX_ZERO_SECTORS)).min(size);
                bytes[pos as usize..to as usize].fill(0);
                format!("zeroed [{pos}, {to})")
            }
            Damage::Truncate => {
                let cut = match target {
                    Target::BlockHeader => run.rng.below(4096.min(size)),
                    _ => run.rng.range(lo, data_end.max(lo + 1)),
                };
                bytes.truncate(cut as usize);
                format!("truncated to {cut} bytes (of {size})")
            }
        };
        if bytes == before {
            continue;
        }
        let Ok(f) = disk.open(&path).await else {
            return None;
        };
        let written = if bytes.len() < before.len() {
            f.set_len(bytes.len() as u64, &path).is_ok()
        } else {
            f.write(0, &bytes, &path).await.is_ok()
        };
        if !written || f.fsync(&path).await.is_err() {
            run.anomaly(format!("could not damage {}", path.display()));
            return None;
        }
        let what = format!("{}: {what}", path.display());
        run.log(|| format!("damage: {what}"));
        return Some(Applied {
            path,
            what,
            after: bytes,
        });
    }
    None
}

/// Whether an open error names `path` (or its directory).
fn names(e: &StoreError, path: &Path) -> bool {
    let named = match e {
        StoreError::Format { path, .. }
        | StoreError::WrongKey { path }
        | StoreError::Corrupt { path, .. }
        | StoreError::Io { path, .. } => path,
        _ => return false,
    };
    named == path || path.parent() == Some(named.as_path())
}

/// Opens the store; `Err` carries the open error.
async fn open_store(
    run: &mut Run,
    disk: &SimDisk,
    label: &str,
) -> Option<Result<FileStore, StoreError>> {
    match bounded(FileStore::open_on(
        Disk::Sim(disk.clone()),
        run.cfg.clone(),
        StoreLimits::default(),
    ))
    .await
    {
        Some(r) => Some(r),
        None => {
            run.anomaly(format!("{label}: open hangs"));
            None
        }
    }
}

/// What the reopened store did with the damage.
#[derive(Default)]
struct Found {
    refused: bool,
    fenced: bool,
}

/// Reopens the store after the damage and checks it against `truth`.
async fn check_store(run: &mut Run, disk: &SimDisk, truth: &View, applied: &Applied) -> Found {
    let mut found = Found::default();
    let store = match open_store(run, disk, "reopen").await {
        None => return found,
        Some(Err(e)) => {
            if names(&e, &applied.path) {
                found.refused = true;
                // Refusing is stable: the next start refuses too.
                if let Some(Ok(_)) = open_store(run, disk, "second reopen").await {
                    run.anomaly(format!("refused once ({e}), then opened"));
                }
            } else {
                run.anomaly(format!(
                    "open failed without naming {}: {e}",
                    applied.path.display()
                ));
            }
            return found;
        }
        Some(Ok(s)) => s,
    };
    let v = view(run, &store, "reopen").await;
    check_consistent(run, &store, &v, "reopen").await;
    let in_range = |seq: u64| v.ranges.iter().any(|&(a, b, _)| a <= seq && seq <= b);
    for (a, b, p) in &v.ranges {
        if *p != applied.path {
            run.anomaly(format!(
                "range {a}..={b} names {} but {} was damaged",
                p.display(),
                applied.path.display()
            ));
        }
    }
    // Served: right content under the right sequence.
    for (seq, c) in &v.live {
        match truth.live.get(seq) {
            Some(t) if t == c => {}
            Some(_) => run.anomaly(format!(
                "seq {seq} served with a wrong subject, header or payload"
            )),
            None => {
                let was = run.appended.get(seq).is_some_and(|all| all.contains(c));
                if was && run.erased != Some(*seq) {
                    run.anomaly(format!("seq {seq} came back after its removal"));
                } else if was {
                    run.anomaly(format!("seq {seq} served again after its secure erase"));
                } else {
                    run.anomaly(format!(
                        "seq {seq} served with content never appended under it"
                    ));
                }
            }
        }
    }
    // Missing: only inside a reported range (where load says Corrupt).
    let missing: Vec<u64> = truth
        .live
        .keys()
        .filter(|s| !v.live.contains_key(s))
        .copied()
        .collect();
    let mut silent = Vec::new();
    for &seq in &missing {
        if in_range(seq) {
            match store.load(seq).await {
                Err(StoreError::Corrupt { .. }) => {}
                other => run.anomaly(format!(
                    "load({seq}) in a damaged range answers {:?}",
                    other.map(|m| m.seq)
                )),
            }
        } else {
            silent.push(seq);
        }
    }
    if !silent.is_empty() {
        run.anomaly(format!(
            "silent loss: seqs {:?} (of {}) missing outside any reported range {:?}",
            &silent[..silent.len().min(10)],
            silent.len(),
            v.ranges
        ));
    }
    found.fenced = !v.ranges.is_empty();
    // The store works on: an append lands after everything and is served.
    let before = store.state();
    let probe = NewMessage {
        subject: Bytes::from_static(b"probe"),
        headers: Bytes::new(),
        payload: Bytes::from_static(b"after the damage"),
        timestamp: Some(1_800_000_000_000_000_000),
        ttl: 0,
    };
    match store.append(probe) {
        Ok(a) => {
            if a.seq != before.last_seq + 1 {
                run.anomaly(format!(
                    "append after reopen got seq {} after last {}",
                    a.seq, before.last_seq
                ));
            }
            if !matches!(bounded(a.durable).await, Some(Ok(()))) {
                run.anomaly("append after reopen not durable".into());
            }
        }
        Err(e) => run.anomaly(format!("append after reopen refused: {e}")),
    }
    let first = view(run, &store, "after append").await;
    if !matches!(bounded(store.close()).await, Some(Ok(()))) {
        run.anomaly("close after reopen failed".into());
    }
    drop(store);
    // A second reopen answers the same.
    match open_store(run, disk, "second reopen").await {
        Some(Ok(s)) => {
            let second = view(run, &s, "second reopen").await;
            check_consistent(run, &s, &second, "second reopen").await;
            if second.live != first.live || second.state != first.state {
                run.anomaly(format!(
                    "second reopen differs: {:?} vs {:?}",
                    second.state, first.state
                ));
            }
            // A block left with no live message is deleted as usual, even
            // when it held a damaged range: its sequences are then below the
            // first sequence, as if purged (the range was reported at the
            // opens before).
            let mut kept = first.ranges.clone();
            let blocks = block_files(disk);
            kept.retain(|(_, last, p)| blocks.contains(p) || *last >= second.state.first_seq);
            if second.ranges != kept {
                run.anomaly(format!(
                    "second reopen reports {:?}, first {:?}",
                    second.ranges, first.ranges
                ));
            }
            let _ = bounded(s.close()).await;
        }
        Some(Err(e)) => run.anomaly(format!("second reopen refused: {e}")),
        None => {}
    }
    if let Some(seq) = run.erased {
        if let Some(all) = run.appended.get(&seq) {
            erased_payload_gone(run, disk, seq, all.clone()).await;
        }
    }
    found
}

/// A secure erase that recovery finished must have left no copy of the
/// payload in the blocks.
async fn erased_payload_gone(run: &mut Run, disk: &SimDisk, seq: u64, all: Vec<Content>) {
    for c in all {
        if c.payload.len() < 32 || c.payload.iter().all(|&b| b == c.payload[0]) {
            continue;
        }
        for p in block_files(disk) {
            if let Some(data) = read_file(disk, &p).await {
                if memchr::memmem::find(&data, &c.payload).is_some() {
                    run.anomaly(format!(
                        "seq {seq}'s payload is still in {} after its erase",
                        p.display()
                    ));
                }
            }
        }
    }
}

/// What the consumer did with the damage.
enum ConsumerFound {
    Same,
    Refused,
    Fallback,
}

async fn check_consumer(run: &mut Run, disk: &SimDisk, applied: Option<&Applied>) -> ConsumerFound {
    let d = Disk::Sim(disk.clone());
    let cfg = ConsumerFileConfig {
        dir: consumer_dir(),
        sync: run.cfg.sync,
        cipher: run.cfg.cipher.clone(),
    };
    let newest = run.snapshots.last().cloned();
    let (file, got) = match bounded(ConsumerStateFile::open_on(d.clone(), cfg.clone())).await {
        None => {
            run.anomaly("consumer open hangs".into());
            return ConsumerFound::Same;
        }
        Some(Err(e)) => {
            match applied {
                Some(a) if names(&e, &a.path) => {
                    if let Some(Ok(_)) =
                        bounded(ConsumerStateFile::open_on(d.clone(), cfg.clone())).await
                    {
                        run.anomaly(format!("consumer refused once ({e}), then opened"));
                    }
                }
                _ => run.anomaly(format!(
                    "consumer open failed without naming the damaged file: {e}"
                )),
            }
            return ConsumerFound::Refused;
        }
        Some(Ok(v)) => v,
    };
    let mut result = ConsumerFound::Same;
    match (&got, &newest) {
        (Some(g), Some(n)) if g == n => {}
        (Some(g), _) => {
            let k = run.snapshots.len();
            if k >= 2 && run.snapshots[k - 2] == *g && applied.is_some() {
                result = ConsumerFound::Fallback;
            } else {
                run.anomaly(format!("consumer reopened with a snapshot that is not its newest or previous ({} bytes)", g.len()));
            }
        }
        (None, None) => {}
        (None, Some(_)) => run.anomaly(format!(
            "consumer reopened empty; {} snapshots were acknowledged",
            run.snapshots.len()
        )),
    }
    // It works on, and a reopen returns what it wrote next.
    let next = Bytes::from(format!("snapshot after the damage {}", run.seed));
    if !matches!(bounded(file.write(next.clone())).await, Some(Ok(()))) {
        run.anomaly("consumer write after reopen failed".into());
    }
    let _ = bounded(file.close()).await;
    match bounded(ConsumerStateFile::open_on(d, cfg)).await {
        Some(Ok((f, Some(s)))) if s == next => {
            let _ = bounded(f.close()).await;
        }
        Some(Ok((f, _))) => {
            run.anomaly("consumer second reopen lost the snapshot written after the damage".into());
            let _ = bounded(f.close()).await;
        }
        Some(Err(e)) => run.anomaly(format!("consumer second reopen failed: {e}")),
        None => run.anomaly("consumer second reopen hangs".into()),
    }
    result
}

/// Runs one seed on the current glommio executor.
pub async fn run_seed(seed: u64, opts: &Options) -> Outcome {
    set_break(opts.switch);
    let mut rng = SimRng::new(seed ^ 0xC0FF_EE00_0000_0000);
    let target = opts.target.unwrap_or(match rng.below(100) {
        0..=19 => Target::BlockHeader,
        20..=64 => Target::BlockFrames,
        65..=79 => Target::Redo,
        _ => Target::ConsumerState,
    });
    let kind = opts.damage.unwrap_or(Damage::ALL[rng.below(4) as usize]);
    let mut cfg = FileStoreConfig::new(stream_dir());
    cfg.block_size = BLOCK;
    cfg.read_cache_bytes = if rng.chance(50) { 0 } else { 256 << 10 };
    let key = [9u8; 32];
    match rng.below(4) {
        0 => {}
        1 => cfg.compression = Compression::Lz4,
        2 => {
            cfg.compression = Compression::Lz4;
            cfg.cipher = Cipher::Aes256Gcm(key);
        }
        _ => cfg.cipher = Cipher::ChaCha20Poly1305(key),
    }
    let disk_seed = rng.next_u64();
    let mut run = Run {
        seed,
        opts: opts.clone(),
        rng,
        cfg,
        appended: HashMap::new(),
        snapshots: Vec::new(),
        erased: None,
        anomalies: Vec::new(),
    };
    let mut out = Outcome {
        seed,
        target,
        damage: kind,
        verdict: Verdict::Anomaly,
        what: String::new(),
        anomalies: Vec::new(),
    };
    let mut disk = SimDisk::new(disk_seed, ROOT);
    disk.set_yield_percent(run.rng.range(0, 30));
    // For the redo target, `build` kills the process mid-erase and leaves
    // the next process's handle in `disk`.
    let truth = build(&mut run, &mut disk, target).await;
    for _ in 0..50 {
        future::yield_now().await;
    }
    disk.set_yield_percent(run.rng.range(0, 30));
    let Some(truth) = truth else {
        out.anomalies = run.anomalies;
        set_break(None);
        return out;
    };
    if target == Target::Redo && run.erased.is_none() {
        // The erase finished before its redo file could be caught: nothing to
        // damage; counted as unaffected with a note.
        out.what = "no redo file caught".into();
    }
    let applied = if target == Target::Redo && run.erased.is_none() {
        None
    } else {
        damage(&mut run, &disk, target, kind).await
    };
    if let Some(a) = &applied {
        out.what = a.what.clone();
    } else if out.what.is_empty() {
        out.what = "the damage changed no byte".into();
    }
    let store_applied = applied.as_ref().filter(|_| target != Target::ConsumerState);
    let found = match store_applied {
        Some(a) => check_store(&mut run, &disk, &truth, a).await,
        None => {
            // The store was not damaged: it must open as it was.
            let fake = Applied {
                path: PathBuf::from("/nothing"),
                what: String::new(),
                after: Vec::new(),
            };
            let f = check_store(&mut run, &disk, &truth, &fake).await;
            if f.fenced || f.refused {
                run.anomaly("the store changed although it was not damaged".into());
            }
            Found::default()
        }
    };
    let cons_applied = applied.as_ref().filter(|_| target == Target::ConsumerState);
    let cons = check_consumer(&mut run, &disk, cons_applied).await;
    let rewritten = match &applied {
        Some(a) => read_file(&disk, &a.path)
            .await
            .is_none_or(|now| now != a.after),
        None => false,
    };
    out.verdict = if !run.anomalies.is_empty() {
        Verdict::Anomaly
    } else if found.refused || matches!(cons, ConsumerFound::Refused) {
        Verdict::Refused
    } else if found.fenced {
        Verdict::Fenced
    } else if matches!(cons, ConsumerFound::Fallback) {
        Verdict::Fallback
    } else if rewritten {
        Verdict::Repaired
    } else {
        Verdict::Unaffected
    };
    run.log(|| format!("verdict {}", out.verdict.name()));
    out.anomalies = run.anomalies;
    set_break(None);
    out
}

/// Results of many runs.
#[derive(Debug, Default)]
pub struct Summary {
    /// Every outcome.
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    /// Runs with an anomaly.
    pub fn anomalies(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Anomaly)
            .count()
    }

    /// `(row, verdict) -> count` for a row key.
    pub fn table<K: Ord + Copy>(
        &self,
        key: impl Fn(&Outcome) -> K,
    ) -> BTreeMap<K, BTreeMap<Verdict, u64>> {
        let mut t: BTreeMap<K, BTreeMap<Verdict, u64>> = BTreeMap::new();
        for o in &self.outcomes {
            *t.entry(key(o)).or_default().entry(o.verdict).or_default() += 1;
        }
        t
    }
}

thread_local! {
    /// The run this worker thread is in (for the panic hook): batch, seed.
    static CURRENT: std::cell::Cell<Option<(u64, u64)>> = const { std::cell::Cell::new(None) };
}

/// Panics caught by the hook: `(batch, seed, message)`.
static PANICS: Mutex<Vec<(u64, u64, String)>> = Mutex::new(Vec::new());
/// Installs the panic hook once per process.
static HOOK: std::sync::Once = std::sync::Once::new();
/// Numbers the batches of [`run_many`] (tests run several at once).
static BATCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs every seed on `jobs` executor threads. A panic ends its executor (the
/// run counts as an anomaly) and a new executor takes the next seed. `each`
/// sees every outcome as it arrives.
pub fn run_many(
    seeds: &[u64],
    opts: &Options,
    jobs: usize,
    each: &(dyn Fn(&Outcome) + Sync),
) -> Summary {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some((batch, seed)) = CURRENT.with(|c| c.get()) {
                if let Ok(mut p) = PANICS.lock() {
                    p.push((batch, seed, info.to_string()));
                }
            }
            previous(info);
        }));
    });
    let batch = BATCH.fetch_add(1, Ordering::SeqCst);
    let work: Arc<Vec<u64>> = Arc::new(seeds.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<Outcome>();
    let mut outcomes = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let (work, next, opts, tx) = (work.clone(), next.clone(), opts.clone(), tx.clone());
            scope.spawn(move || {
                while next.load(Ordering::SeqCst) < work.len() {
                    let (work, next, opts, tx) =
                        (work.clone(), next.clone(), opts.clone(), tx.clone());
                    let started = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                        .io_memory(256 << 10)
                        .spawn(move || async move {
                            loop {
                                let i = next.fetch_add(1, Ordering::SeqCst);
                                let Some(&seed) = work.get(i) else {
                                    return;
                                };
                                CURRENT.with(|c| c.set(Some((batch, seed))));
                                let out = run_seed(seed, &opts).await;
                                CURRENT.with(|c| c.set(None));
                                let _ = tx.send(out);
                            }
                        });
                    match started {
                        Ok(h) => {
                            let _ = h.join();
                        }
                        Err(e) => {
                            eprintln!("cannot start an executor: {e}");
                            return;
                        }
                    }
                }
            });
        }
        drop(tx);
        for o in rx.iter() {
            each(&o);
            outcomes.push(o);
        }
    });
    let panics: Vec<(u64, String)> = match PANICS.lock() {
        Ok(mut p) => {
            let (mine, rest): (Vec<_>, Vec<_>) = p.drain(..).partition(|x| x.0 == batch);
            *p = rest;
            mine.into_iter().map(|(_, s, m)| (s, m)).collect()
        }
        Err(_) => Vec::new(),
    };
    for (seed, msg) in panics {
        let o = Outcome {
            seed,
            // The run's own choice is lost with its executor; the seed replays it.
            target: opts.target.unwrap_or(Target::BlockFrames),
            damage: opts.damage.unwrap_or(Damage::BitFlip),
            verdict: Verdict::Anomaly,
            what: "panicked".into(),
            anomalies: vec![format!("panic: {msg}")],
        };
        each(&o);
        outcomes.push(o);
    }
    Summary { outcomes }
}
