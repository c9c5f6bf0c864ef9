//! The crash harness behind `scripts/sim-crash`: random workloads on a
//! FileStore (and a consumer state file) on the simulated disk, power losses
//! and process kills at random operations, recovery, and checks.
//!
//! # One run (one seed, one mode)
//!
//! A store with 64 KiB blocks (so rolls are frequent; some messages are larger
//! than a block and get one of their own), `sync: always`, the mode's
//! compression and cipher, random limits (`max_msgs`, `max_msgs_per_subject`,
//! `max_bytes`, `max_age`, discard old or new) lives through several
//! *rounds*. A round opens the store on the disk, checks what it recovered,
//! then runs random operations: publish (with headers, TTLs, sizes from a few
//! bytes to twice a block), remove (with and without secure erase), purge
//! (all, by subject filter, `keep`, `seq`), compact, truncate, expiry
//! (`max_age` and TTL, on a simulated clock), waits for durability, yields
//! (so group commits form and interleave), consumer state writes, consumer
//! deletion and re-creation, and sometimes an injected I/O error (`ENOSPC` or
//! `EIO` on a write or an fdatasync). The power fails at a random disk
//! operation — anywhere: between a group commit's write and its fdatasync,
//! while a block is created, during an erase, during the next recovery — or
//! the round ends with a SIGKILL (nothing lost) or a clean close.
//!
//! # Durability contract checked (from the store's API)
//!
//! Mutations are numbered in the order they were made (`k = 1, 2, ...`);
//! `snap[k]` is what the store showed right after mutation `k`: its state,
//! per-subject state and every live sequence with the message that was
//! appended under it.
//!
//! - Mutation `k` is *acknowledged* when a durability ticket covering it
//!   resolved `Ok` while the process was alive and had power: the append's
//!   `Appended::durable`, or `StreamStore::durable()` taken after it (a
//!   ticket covers every mutation before it). `close()` returning `Ok`
//!   acknowledges everything.
//! - After a recovery the store must show exactly `snap[k]` for some `k`
//!   between the last acknowledged mutation `D` and the last mutation made:
//!   nothing acknowledged is lost (messages, and removals: a delete, purge,
//!   expiry or truncate acknowledged stays done), and unacknowledged
//!   mutations are either all there or all gone, in order — never half a
//!   purge, never a later mutation without an earlier one.
//! - What a recovery shows is durable from then on (the next recovery must
//!   show it or something later), even after a SIGKILL with writes in the page
//!   cache or an fsync that failed (the store rewrites and syncs what it
//!   recovered before it accepts work).
//! - Every message served has the subject, headers, payload and timestamp that
//!   were appended under its sequence; the state (first, last, messages,
//!   bytes, subjects, per subject count/first/last, deleted) equals a scan of
//!   what `load_next` serves; `load` agrees with the scan; no damaged range is
//!   reported (a crash is not damage).
//! - Once a ticket failed, no later mutation is acknowledged (no
//!   retry-and-ack), and failures are typed (`Io` with the errno, or
//!   `Poisoned`).
//! - A consumer state snapshot acknowledged (its `Durable` resolved) is what
//!   a reopen returns, or a later written one; a consumer whose deletion
//!   returned `Ok` stays deleted; one being deleted is either whole or gone.
//! - No panic, no hang (every wait is bounded in executor turns).
//!
//! Everything follows from the seed: the workload, the disk's decisions, the
//! interleaving (one glommio executor thread, FIFO). A failing seed replays
//! with `--seed`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_lite::future;

use crate::config::{Cipher, Compression, DiscardPolicy, FileStoreConfig, StoreLimits, SyncPolicy};
use crate::consumer_file::{remove_consumer_dir_on, ConsumerFileConfig, ConsumerStateFile};
use crate::durable::Durable;
use crate::error::StoreError;
use crate::file::{file_msg_size, Disk, FileStore};
use crate::message::NewMessage;
use crate::state::{PurgeRequest, StoreState, SubjectState};
use crate::store::StreamStore;

use super::disk::{Fault, FaultOp, SimDisk};
use super::rng::SimRng;
use super::{set_break, Break};

/// The store configurations a run can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No compression, no encryption.
    Plain,
    /// lz4 compression.
    Lz4,
    /// AES-256-GCM (with lz4, so sealed compressed frames are covered too).
    Aes,
    /// ChaCha20-Poly1305.
    ChaCha,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 4] = [Mode::Plain, Mode::Lz4, Mode::Aes, Mode::ChaCha];

    /// The mode named `s` (`plain`, `lz4`, `aes`, `chacha`).
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "plain" => Some(Mode::Plain),
            "lz4" => Some(Mode::Lz4),
            "aes" => Some(Mode::Aes),
            "chacha" => Some(Mode::ChaCha),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Lz4 => "lz4",
            Mode::Aes => "aes",
            Mode::ChaCha => "chacha",
        }
    }
}

/// A deliberate bug for the harness to find (see `super::Break`), or the
/// `sync: never` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Acknowledge after the write, before the fdatasync.
    AckBeforeSync,
    /// Do not fsync the directory after creating a block.
    SkipDirSync,
    /// Accept frames without checking their CRC.
    SkipChecksum,
    /// Run the store with `sync: never`.
    SyncNever,
}

impl Switch {
    /// Every switch.
    pub const ALL: [Switch; 4] = [
        Switch::AckBeforeSync,
        Switch::SkipDirSync,
        Switch::SkipChecksum,
        Switch::SyncNever,
    ];

    /// The switch named `s`.
    pub fn parse(s: &str) -> Option<Switch> {
        match s {
            "ack-before-sync" => Some(Switch::AckBeforeSync),
            "skip-dir-sync" => Some(Switch::SkipDirSync),
            "skip-checksum" => Some(Switch::SkipChecksum),
            "sync-never" => Some(Switch::SyncNever),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Switch::AckBeforeSync => "ack-before-sync",
            Switch::SkipDirSync => "skip-dir-sync",
            Switch::SkipChecksum => "skip-checksum",
            Switch::SyncNever => "sync-never",
        }
    }

    fn store_break(self) -> Option<Break> {
        match self {
            Switch::AckBeforeSync => Some(Break::AckBeforeSync),
            Switch::SkipDirSync => Some(Break::SkipNewBlockDirSync),
            Switch::SkipChecksum => Some(Break::SkipChecksum),
            Switch::SyncNever => None,
        }
    }
}

/// How runs are made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The deliberate bug, if any.
    pub switch: Option<Switch>,
    /// Random operations per round.
    pub ops_per_round: usize,
    /// Rounds per run (each ends with a power loss, a kill or a close).
    pub rounds: usize,
    /// Whether runs inject I/O errors now and then.
    pub faults: bool,
    /// Print what each run does (for replaying one seed).
    pub verbose: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            switch: None,
            ops_per_round: 60,
            rounds: 3,
            faults: true,
            verbose: false,
        }
    }
}

/// What one run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The mode.
    pub mode: Mode,
    /// Every anomaly (empty: the run passed).
    pub anomalies: Vec<String>,
    /// Mutations acknowledged over the run.
    pub acked: u64,
    /// Power losses.
    pub power_losses: u64,
    /// Process kills.
    pub kills: u64,
    /// Injected I/O errors that fired.
    pub faults: u64,
    /// Fingerprint of every disk operation (equal for equal seeds).
    pub digest: u64,
}

/// Where the simulated disk is mounted and the store lives on it.
const ROOT: &str = "/sim";
/// Block size of the simulated stores: the minimum, so blocks roll often.
const BLOCK: u64 = 64 << 10;
/// Executor turns a bounded wait gives a future before calling it a hang.
const HANG_TURNS: usize = 200_000;

fn stream_dir() -> PathBuf {
    Path::new(ROOT).join("streams").join("s")
}

fn consumer_dir() -> PathBuf {
    stream_dir().join("obs").join("c")
}

/// A message the workload appended, and under which sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    /// The sequence the append got.
    seq: u64,
    /// Its subject.
    subject: Bytes,
    /// Its header block.
    headers: Bytes,
    /// Its payload.
    payload: Bytes,
    /// Its timestamp.
    ts: i64,
}

/// What the store shows at one point (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snap {
    /// `StreamStore::state`.
    state: StoreState,
    /// `StreamStore::subjects_state(">")`.
    subjects: BTreeMap<Bytes, SubjectState>,
    /// Live sequence → index into `Run::contents`.
    live: BTreeMap<u64, usize>,
}

/// Durability tickets of one process incarnation, as they resolved.
#[derive(Debug, Default)]
struct Acks {
    /// False once the process was killed or lost power: later results were
    /// never seen by anyone.
    alive: bool,
    /// Highest mutation acknowledged.
    durable_k: usize,
    /// `(k, ok)` for every ticket that resolved.
    events: Vec<(usize, bool)>,
    /// Errors that were neither `Io` nor `Poisoned`.
    odd_errors: Vec<String>,
}

/// The consumer state file as the workload knows it.
#[derive(Debug, Default)]
struct ConsumerTrack {
    /// Incarnation of the consumer (bumped by each creation).
    inc: u64,
    /// Whether it exists (its creation, or the recovery that found it, completed).
    exists: bool,
    /// An operation that started and did not complete: a crash may or may
    /// not have applied it.
    pending: Option<ConsumerOp>,
    /// The highest snapshot number acknowledged durable, with its
    /// incarnation (a late acknowledgement of an earlier incarnation must not
    /// count for the current one).
    acked: Rc<RefCell<(u64, u64)>>,
    /// The next snapshot number to write.
    next: u64,
    /// Every snapshot written: `(inc, n)` → bytes.
    written: HashMap<(u64, u64), Bytes>,
}

/// A consumer operation in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConsumerOp {
    /// Creating the directory, meta file and state file.
    Create,
    /// Closing and removing it.
    Delete,
}

/// One run's state.
struct Run {
    /// The run's seed.
    seed: u64,
    /// The store configuration.
    mode: Mode,
    /// How the run is made.
    opts: Options,
    /// Every workload decision.
    rng: SimRng,
    /// The store's configuration.
    cfg: FileStoreConfig,
    /// The store's limits (fixed for the run, as a stream's config would be).
    limits: StoreLimits,
    /// The simulated wall clock (Unix ns): timestamps and expiry.
    clock: i64,
    /// Every message appended (acknowledged or not).
    contents: Vec<Content>,
    /// Sequence → indexes into `contents` (several after a truncate).
    by_seq: HashMap<u64, Vec<usize>>,
    /// `snaps[k]`: after mutation `k` of the surviving history (`snaps[0]`:
    /// what the current incarnation recovered).
    snaps: Vec<Snap>,
    /// Index into `snaps` of the last acknowledged (or recovered) state.
    durable_k: usize,
    /// The current incarnation's tickets.
    acks: Rc<RefCell<Acks>>,
    /// The consumer state file.
    cons: ConsumerTrack,
    /// What the run found so far.
    out: Outcome,
}

fn log(run: &Run, what: impl FnOnce() -> String) {
    if run.opts.verbose {
        eprintln!("[seed {} {}] {}", run.seed, run.mode.name(), what());
    }
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

impl Run {
    fn new(seed: u64, mode: Mode, opts: &Options) -> Run {
        let mut rng = SimRng::new(seed ^ 0x5EED_0000_0000_0000);
        let mut cfg = FileStoreConfig::new(stream_dir());
        cfg.block_size = BLOCK;
        cfg.read_cache_bytes = if rng.chance(50) { 0 } else { 256 << 10 };
        let key = [7u8; 32];
        match mode {
            Mode::Plain => {}
            Mode::Lz4 => cfg.compression = Compression::Lz4,
            Mode::Aes => {
                cfg.compression = Compression::Lz4;
                cfg.cipher = Cipher::Aes256Gcm(key);
            }
            Mode::ChaCha => cfg.cipher = Cipher::ChaCha20Poly1305(key),
        }
        if opts.switch == Some(Switch::SyncNever) {
            cfg.sync = SyncPolicy::Never;
        }
        let mut limits = StoreLimits::default();
        if rng.chance(30) {
            limits.max_msgs = rng.range(5, 40) as i64;
        }
        if rng.chance(25) {
            limits.max_msgs_per_subject = rng.range(1, 6) as i64;
        }
        if rng.chance(20) {
            limits.max_bytes = rng.range(20 << 10, 300 << 10) as i64;
        }
        if rng.chance(25) {
            limits.max_age = std::time::Duration::from_secs(rng.range(20, 120));
        }
        if rng.chance(15) {
            limits.discard = DiscardPolicy::New;
        }
        Run {
            seed,
            mode,
            opts: opts.clone(),
            rng,
            cfg,
            limits,
            clock: 1_700_000_000_000_000_000,
            contents: Vec::new(),
            by_seq: HashMap::new(),
            snaps: Vec::new(),
            durable_k: 0,
            acks: Rc::new(RefCell::new(Acks::default())),
            cons: ConsumerTrack::default(),
            out: Outcome {
                seed,
                mode,
                anomalies: Vec::new(),
                acked: 0,
                power_losses: 0,
                kills: 0,
                faults: 0,
                digest: 0,
            },
        }
    }

    fn anomaly(&mut self, what: String) {
        log(self, || format!("ANOMALY: {what}"));
        if self.out.anomalies.len() < 20 {
            self.out.anomalies.push(what);
        }
    }

    /// Watches a durability ticket for mutation `k`.
    fn watch(&self, k: usize, ticket: Durable, disk: &SimDisk) {
        let acks = self.acks.clone();
        let disk = disk.clone();
        glommio::spawn_local(async move {
            let r = ticket.await;
            let mut a = acks.borrow_mut();
            if !a.alive || disk.crashed() {
                return;
            }
            match r {
                Ok(()) => {
                    a.durable_k = a.durable_k.max(k);
                    a.events.push((k, true));
                }
                Err(e) => {
                    if !matches!(e, StoreError::Io { .. } | StoreError::Poisoned(_)) {
                        a.odd_errors.push(e.to_string());
                    }
                    a.events.push((k, false));
                }
            }
        })
        .detach();
    }

    /// The store's current view, with contents identified by sequence.
    fn snap_of(&mut self, store: &FileStore, owner: &HashMap<u64, usize>) -> Snap {
        let state = store.state();
        let mut live = BTreeMap::new();
        if state.messages > 0 {
            let deleted: std::collections::HashSet<u64> = store.deleted().into_iter().collect();
            for seq in state.first_seq..=state.last_seq {
                if !deleted.contains(&seq) {
                    live.insert(seq, owner.get(&seq).copied().unwrap_or(usize::MAX));
                }
            }
        }
        Snap {
            state,
            subjects: store.subjects_state(b">"),
            live,
        }
    }

    fn payload(&mut self) -> Bytes {
        let len = match self.rng.below(100) {
            0..=69 => self.rng.range(0, 200),
            70..=89 => self.rng.range(200, 4000),
            90..=97 => self.rng.range(4000, 20_000),
            _ => self.rng.range(60_000, 140_000),
        } as usize;
        let compressible = self.mode != Mode::Plain && self.rng.chance(50);
        let mut p = vec![0u8; len];
        if compressible {
            let b = self.rng.next_u64().to_le_bytes();
            for (i, x) in p.iter_mut().enumerate() {
                *x = b[i % 8] ^ ((i / 64) as u8);
            }
        } else {
            for chunk in p.chunks_mut(8) {
                let b = self.rng.next_u64().to_le_bytes();
                chunk.copy_from_slice(&b[..chunk.len()]);
            }
        }
        Bytes::from(p)
    }

    fn subject(&mut self) -> Bytes {
        const SUBJECTS: [&str; 7] = ["s.0", "s.1", "s.2", "s.3", "s.4", "t.a.x", "t.b.y"];
        Bytes::from_static(SUBJECTS[self.rng.below(SUBJECTS.len() as u64) as usize].as_bytes())
    }

    fn filter(&mut self) -> Bytes {
        const FILTERS: [&str; 6] = ["s.1", "s.*", "t.>", "s.3", ">", "t.a.x"];
        Bytes::from_static(FILTERS[self.rng.below(FILTERS.len() as u64) as usize].as_bytes())
    }
}

/// Runs one seed in one mode on the current glommio executor.
pub async fn run_seed(seed: u64, mode: Mode, opts: &Options) -> Outcome {
    set_break(opts.switch.and_then(Switch::store_break));
    let mut run = Run::new(seed, mode, opts);
    let disk_seed = run.rng.next_u64();
    let mut disk = SimDisk::new(disk_seed, ROOT);
    disk.set_yield_percent(run.rng.range(0, 60));
    log(&run, || {
        format!(
            "limits {:?}, read cache {}, sync {:?}",
            run.limits, run.cfg.read_cache_bytes, run.cfg.sync
        )
    });
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for round in 0..=run.opts.rounds {
        let last = round == run.opts.rounds;
        // A power loss can hit the recovery too (and the workload after it).
        let budget = (run.opts.ops_per_round * 4) as u64;
        let crash_at = if last || run.rng.chance(15) {
            None
        } else {
            Some(disk.steps() + run.rng.range(1, budget))
        };
        disk.set_crash_at(crash_at);
        run.acks = Rc::new(RefCell::new(Acks {
            alive: true,
            ..Acks::default()
        }));
        let opened = bounded(FileStore::open_on(
            Disk::Sim(disk.clone()),
            run.cfg.clone(),
            run.limits,
        ))
        .await;
        let store = match opened {
            None => {
                run.anomaly(format!("round {round}: open hangs"));
                break;
            }
            Some(Err(e)) if disk.crashed() => {
                log(&run, || {
                    format!("round {round}: power lost during open ({e})")
                });
                run.out.power_losses += 1;
                disk = next_disk(&disk);
                continue;
            }
            Some(Err(e)) => {
                run.anomaly(format!("round {round}: recovery failed: {e}"));
                break;
            }
            Some(Ok(s)) => s,
        };
        // The checks read the disk: the power stays on while they run.
        let remaining = crash_at.map(|at| at.saturating_sub(disk.steps()).max(1));
        disk.set_crash_at(None);
        if !check_recovered(&mut run, &store, &mut owner, round).await {
            break;
        }
        let consumer = match check_consumer(&mut run, &disk, round).await {
            Ok(c) => c,
            Err(()) => break,
        };
        disk.set_crash_at(remaining.map(|r| disk.steps() + r));
        if last {
            if bounded(store.close()).await.is_none() {
                run.anomaly("final close hangs".into());
            }
            break;
        }
        let end = workload(&mut run, &store, consumer, &disk, &mut owner, round).await;
        // Acknowledgements seen before the end of the round count.
        let (k, events, odd) = {
            let mut a = run.acks.borrow_mut();
            a.alive = false;
            (
                a.durable_k,
                std::mem::take(&mut a.events),
                std::mem::take(&mut a.odd_errors),
            )
        };
        run.durable_k = run.durable_k.max(k);
        if let Some(first_fail) = events.iter().filter(|e| !e.1).map(|e| e.0).min() {
            if let Some(&(k, _)) = events.iter().find(|&&(k, ok)| ok && k >= first_fail) {
                run.anomaly(format!(
                    "round {round}: mutation {k} acknowledged after mutation {first_fail} failed"
                ));
            }
        }
        for e in odd {
            run.anomaly(format!(
                "round {round}: untyped failure of a durability ticket: {e}"
            ));
        }
        disk.clear_faults();
        disk = match end {
            End::Close => disk,
            End::Kill => {
                run.out.kills += 1;
                disk.kill_process()
            }
            End::PowerLoss => {
                disk.power_loss();
                run.out.power_losses += 1;
                next_disk(&disk)
            }
        };
        drop(store);
        // Let the old incarnation's tasks see their errors and end.
        for _ in 0..50 {
            future::yield_now().await;
        }
    }
    run.out.acked = run.durable_k as u64;
    run.out.digest = disk.digest();
    set_break(None);
    run.out
}

fn next_disk(disk: &SimDisk) -> SimDisk {
    match disk.after_power_loss() {
        Some(d) => d,
        // Not reached: callers cut the power first.
        None => disk.kill_process(),
    }
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The power failed (scheduled during the round, or cut at its end).
    PowerLoss,
    /// The process was killed: the disk keeps everything written.
    Kill,
    /// The store was closed cleanly: everything is durable.
    Close,
}

/// Checks what a fresh store recovered against the history; on success the
/// history continues from the recovered state. False stops the run.
async fn check_recovered(
    run: &mut Run,
    store: &FileStore,
    owner: &mut HashMap<u64, usize>,
    round: usize,
) -> bool {
    let state = store.state();
    let subjects = store.subjects_state(b">");
    if !store.corrupt_ranges().is_empty() {
        run.anomaly(format!(
            "round {round}: damage reported after a crash: {:?}",
            store.corrupt_ranges()
        ));
    }
    // Scan everything served, identify each message.
    let mut live: BTreeMap<u64, usize> = BTreeMap::new();
    let mut bytes = 0u64;
    let mut per_subject: BTreeMap<Bytes, SubjectState> = BTreeMap::new();
    let mut next = 0u64;
    let mut bad = Vec::new();
    loop {
        let m = match store.load_next(b">", next).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                bad.push(format!("load_next({next}) failed: {e}"));
                break;
            }
        };
        let found = run.by_seq.get(&m.seq).and_then(|ids| {
            ids.iter().rev().copied().find(|&id| {
                let c = &run.contents[id];
                c.subject == m.subject
                    && c.headers == m.headers
                    && c.payload == m.payload
                    && c.ts == m.timestamp
            })
        });
        match found {
            Some(id) => {
                live.insert(m.seq, id);
            }
            None => {
                bad.push(format!(
                    "seq {} served with content never appended under it (subject {:?}, {} payload bytes)",
                    m.seq,
                    m.subject,
                    m.payload.len()
                ));
                live.insert(m.seq, usize::MAX);
            }
        }
        bytes += file_msg_size(m.subject.len(), m.headers.len(), m.payload.len());
        let e = per_subject.entry(m.subject.clone()).or_default();
        if e.messages == 0 {
            e.first_seq = m.seq;
        }
        e.messages += 1;
        e.last_seq = m.seq;
        next = m.seq + 1;
    }
    // `load` agrees with the scan.
    for (&seq, &id) in &live {
        match store.load(seq).await {
            Ok(m) if id != usize::MAX && m.payload == run.contents[id].payload => {}
            Ok(_) if id == usize::MAX => {}
            Ok(_) => bad.push(format!("load({seq}) differs from load_next")),
            Err(e) => bad.push(format!("load({seq}) failed after load_next served it: {e}")),
        }
    }
    // The counters equal the content.
    let first_live = live.keys().next().copied();
    let expect_first = first_live.unwrap_or(state.last_seq + 1);
    if state.messages != live.len() as u64
        || state.bytes != bytes
        || state.first_seq != expect_first
        || state.num_subjects != per_subject.len() as u64
        || live.keys().next_back().is_some_and(|&l| l > state.last_seq)
    {
        bad.push(format!(
            "state {state:?} does not match the content: {} messages, {bytes} bytes, first {expect_first}, {} subjects",
            live.len(),
            per_subject.len()
        ));
    }
    if subjects != per_subject {
        bad.push(format!(
            "subjects_state {subjects:?} does not match the content {per_subject:?}"
        ));
    }
    if state.messages > 0 {
        let deleted = store.deleted();
        let span = state.last_seq - state.first_seq + 1;
        if deleted.len() as u64 + live.len() as u64 != span
            || deleted.iter().any(|d| live.contains_key(d))
        {
            bad.push("deleted() and the live messages do not partition first..=last".into());
        }
    }
    for b in bad {
        run.anomaly(format!("round {round}: {b}"));
    }
    let observed = Snap {
        state,
        subjects,
        live,
    };
    if run.snaps.is_empty() {
        // Nothing was ever written: the store must be empty.
        if observed.state != StoreState::default() && observed.state.last_seq != 0 {
            run.anomaly(format!(
                "round {round}: a store that never held data recovered {:?}",
                observed.state
            ));
        }
        run.snaps = vec![observed];
        run.durable_k = 0;
        return true;
    }
    // Which point of the history is this?
    let hist = run.snaps.len() - 1;
    let from = run.durable_k.min(hist);
    let matched = (from..=hist).rev().find(|&k| run.snaps[k] == observed);
    match matched {
        Some(k) => {
            log(run, || {
                format!(
                    "round {round}: recovered mutation {k} of {hist} (acknowledged {})",
                    run.durable_k
                )
            });
            run.snaps.truncate(k + 1);
        }
        None => {
            let acked = &run.snaps[from];
            let lost: Vec<u64> = acked
                .live
                .keys()
                .filter(|s| !observed.live.contains_key(s))
                .copied()
                .take(10)
                .collect();
            let back: Vec<u64> = observed
                .live
                .keys()
                .filter(|s| !run.snaps[hist].live.contains_key(s) && !acked.live.contains_key(s))
                .copied()
                .take(10)
                .collect();
            run.anomaly(format!(
                "round {round}: recovered state matches no point between the last acknowledged mutation {from} and the last mutation {hist}: \
                 recovered {:?}; acknowledged {:?}; acknowledged messages missing {lost:?}; messages in neither {back:?}",
                observed.state, acked.state
            ));
            return false;
        }
    }
    // What was recovered is the history now, and durable.
    let k = run.snaps.len() - 1;
    run.snaps[k] = observed;
    run.durable_k = k;
    owner.clear();
    for (&seq, &id) in &run.snaps[k].live {
        owner.insert(seq, id);
    }
    true
}

/// Checks the consumer state after a recovery and opens it again if it
/// exists. `Err` stops the run.
async fn check_consumer(
    run: &mut Run,
    disk: &SimDisk,
    round: usize,
) -> Result<Option<ConsumerStateFile>, ()> {
    let d = Disk::Sim(disk.clone());
    let dir = consumer_dir();
    let meta = dir.join("meta");
    let exists = match d.exists(&meta) {
        Ok(e) => e,
        Err(e) => {
            run.anomaly(format!("round {round}: consumer dir unreadable: {e}"));
            return Err(());
        }
    };
    let (inc, was, pending) = (run.cons.inc, run.cons.exists, run.cons.pending);
    let may_be_gone = !was || pending == Some(ConsumerOp::Delete);
    let may_exist = was || pending == Some(ConsumerOp::Create);
    if exists && !may_exist {
        run.anomaly(format!(
            "round {round}: consumer {inc} came back after its deletion was acknowledged"
        ));
    }
    if !exists && !may_be_gone {
        run.anomaly(format!(
            "round {round}: consumer {inc} vanished without being deleted"
        ));
    }
    run.cons.pending = None;
    if !exists {
        run.cons.exists = false;
        return Ok(None);
    }
    let opened = bounded(ConsumerStateFile::open_on(
        d.clone(),
        ConsumerFileConfig {
            dir: dir.clone(),
            sync: run.cfg.sync,
            cipher: run.cfg.cipher.clone(),
        },
    ))
    .await;
    let (file, snapshot) = match opened {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            run.anomaly(format!("round {round}: consumer state does not open: {e}"));
            return Err(());
        }
        None => {
            run.anomaly(format!("round {round}: consumer state open hangs"));
            return Err(());
        }
    };
    let acked = match *run.cons.acked.borrow() {
        (inc, n) if inc == run.cons.inc => n,
        _ => 0,
    };
    let got = match &snapshot {
        None => None,
        Some(b) => {
            let id = parse_snapshot(b);
            match id {
                Some(id) if run.cons.written.get(&id) == Some(b) => Some(id),
                _ => {
                    run.anomaly(format!(
                        "round {round}: consumer state holds a snapshot never written ({} bytes)",
                        b.len()
                    ));
                    return Err(());
                }
            }
        }
    };
    match got {
        Some((inc, n)) => {
            if inc != run.cons.inc {
                run.anomaly(format!(
                    "round {round}: consumer {} shows the state of incarnation {inc}",
                    run.cons.inc
                ));
            } else if n < acked {
                run.anomaly(format!(
                    "round {round}: consumer state went back to snapshot {n}; {acked} was acknowledged"
                ));
            }
            *run.cons.acked.borrow_mut() = (inc, n);
        }
        None if acked > 0 && run.cons.exists => {
            run.anomaly(format!(
                "round {round}: consumer state empty; snapshot {acked} was acknowledged"
            ));
        }
        None => {}
    }
    run.cons.exists = true;
    Ok(Some(file))
}

fn parse_snapshot(b: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(b.get(..b.iter().position(|&c| c == b'|')?)?).ok()?;
    let (inc, n) = text.split_once(':')?;
    Some((inc.parse().ok()?, n.parse().ok()?))
}

/// Runs one round's random operations; returns how the round ends.
async fn workload(
    run: &mut Run,
    store: &FileStore,
    mut consumer: Option<ConsumerStateFile>,
    disk: &SimDisk,
    owner: &mut HashMap<u64, usize>,
    round: usize,
) -> End {
    let mut fault_armed = false;
    for _ in 0..run.opts.ops_per_round {
        if disk.crashed() {
            break;
        }
        let op = run.rng.below(100);
        let k = run.snaps.len(); // the number the next mutation gets
        run.clock += run.rng.range(0, 2_000_000_000) as i64;
        let mutated: Option<Result<(), StoreError>> = match op {
            0..=49 => {
                let subject = run.subject();
                let headers = if run.rng.chance(20) {
                    Bytes::from(format!("NATS/1.0\r\nX-Id: {}\r\n\r\n", run.rng.below(1000)))
                } else {
                    Bytes::new()
                };
                let payload = run.payload();
                let ttl = match run.rng.below(100) {
                    0..=9 => run.rng.range(1, 30) as i64,
                    10..=11 => -1,
                    _ => 0,
                };
                let ts = run.clock;
                let msg = NewMessage {
                    subject: subject.clone(),
                    headers: headers.clone(),
                    payload: payload.clone(),
                    timestamp: Some(ts),
                    ttl,
                };
                match store.append(msg) {
                    Ok(a) => {
                        let id = run.contents.len();
                        run.contents.push(Content {
                            seq: a.seq,
                            subject,
                            headers,
                            payload,
                            ts,
                        });
                        run.by_seq.entry(a.seq).or_default().push(id);
                        owner.insert(a.seq, id);
                        run.watch(k, a.durable, disk);
                        Some(Ok(()))
                    }
                    Err(e) => Some(Err(e)),
                }
            }
            50..=56 => {
                let st = store.state();
                let seq = run
                    .rng
                    .range(st.first_seq.saturating_sub(1), st.last_seq + 1);
                let erase = run.rng.chance(30);
                Some(store.remove(seq, erase).map(|_| ()))
            }
            57..=61 => {
                let st = store.state();
                let req = PurgeRequest {
                    filter: run.rng.chance(60).then(|| run.filter()),
                    up_to_seq: run
                        .rng
                        .chance(30)
                        .then(|| run.rng.range(st.first_seq, st.last_seq + 2)),
                    keep: run.rng.chance(30).then(|| run.rng.range(0, 5)),
                };
                Some(store.purge(&req).map(|_| ()))
            }
            62..=63 => {
                let st = store.state();
                let seq = run.rng.range(st.first_seq, st.last_seq + 3);
                Some(store.compact(seq).map(|_| ()))
            }
            64 => {
                let st = store.state();
                let seq = run.rng.range(st.first_seq.saturating_sub(1), st.last_seq);
                Some(store.truncate(seq))
            }
            65..=71 => {
                run.clock += run.rng.range(0, 40_000_000_000) as i64;
                Some(store.expire(run.clock).map(|_| ()))
            }
            72..=75 => {
                let t = store.durable();
                let k_now = run.snaps.len() - 1;
                run.watch(k_now, t, disk);
                let t = store.durable();
                let _ = bounded(t).await.unwrap_or_else(|| {
                    run.anomaly(format!("round {round}: durable() hangs"));
                    Ok(())
                });
                None
            }
            76..=79 => {
                for _ in 0..run.rng.range(1, 8) {
                    future::yield_now().await;
                }
                None
            }
            80..=83 => {
                // A read while the writer works: from the open frame, a
                // frame in flight, the cache or the disk.
                let st = store.state();
                let seq = run.rng.range(st.first_seq, st.last_seq.max(st.first_seq));
                let expected = owner.get(&seq).copied();
                match store.load(seq).await {
                    Ok(m) => {
                        let ok = expected.is_some_and(|id| {
                            let c = &run.contents[id];
                            c.payload == m.payload && c.subject == m.subject && c.ts == m.timestamp
                        });
                        if !ok {
                            run.anomaly(format!(
                                "round {round}: load({seq}) served content never appended under it"
                            ));
                        }
                    }
                    Err(StoreError::NotFound | StoreError::Poisoned(_)) => {}
                    Err(_) if disk.crashed() => {}
                    Err(e) => run.anomaly(format!("round {round}: load({seq}) failed: {e}")),
                }
                None
            }
            84..=91 => {
                if let Some(c) = &consumer {
                    let n = run.cons.next;
                    run.cons.next += 1;
                    let len = run.rng.range(10, 9000) as usize;
                    let mut body = format!("{}:{}|", run.cons.inc, n).into_bytes();
                    let fill = run.rng.next_u64() as u8;
                    body.resize(len.max(body.len()), fill);
                    let body = Bytes::from(body);
                    run.cons.written.insert((run.cons.inc, n), body.clone());
                    let ticket = c.write(body);
                    let acked = run.cons.acked.clone();
                    let acks = run.acks.clone();
                    let disk = disk.clone();
                    let inc = run.cons.inc;
                    let verbose = run.opts.verbose;
                    log(run, || {
                        format!("round {round}: consumer {inc} writes snapshot {n}")
                    });
                    glommio::spawn_local(async move {
                        if ticket.await.is_ok() && acks.borrow().alive && !disk.crashed() {
                            let mut a = acked.borrow_mut();
                            if a.0 == inc && a.1 < n {
                                *a = (inc, n);
                                if verbose {
                                    eprintln!("  consumer {inc} snapshot {n} acknowledged");
                                }
                            }
                        }
                    })
                    .detach();
                }
                None
            }
            92..=93 => {
                let d = Disk::Sim(disk.clone());
                if let Some(c) = consumer.take() {
                    log(run, || {
                        format!("round {round}: deleting consumer {}", run.cons.inc)
                    });
                    run.cons.pending = Some(ConsumerOp::Delete);
                    let _ = bounded(c.close()).await;
                    if disk.crashed() {
                        continue;
                    }
                    match bounded(remove_consumer_dir_on(&d, &consumer_dir())).await {
                        Some(Ok(())) if !disk.crashed() => {
                            run.cons.pending = None;
                            run.cons.exists = false;
                        }
                        Some(_) => {}
                        None => run.anomaly(format!("round {round}: consumer removal hangs")),
                    }
                } else {
                    run.cons.pending = Some(ConsumerOp::Create);
                    run.cons.inc += 1;
                    run.cons.next = 1;
                    *run.cons.acked.borrow_mut() = (run.cons.inc, 0);
                    log(run, || {
                        format!("round {round}: creating consumer {}", run.cons.inc)
                    });
                    match create_consumer(run, &d).await {
                        Ok(c) if !disk.crashed() => {
                            run.cons.pending = None;
                            run.cons.exists = true;
                            consumer = Some(c);
                        }
                        _ => {}
                    }
                }
                None
            }
            _ => {
                if run.opts.faults && !fault_armed && run.rng.chance(25) {
                    fault_armed = true;
                    let f = Fault {
                        op: match run.rng.below(10) {
                            0..=4 => FaultOp::Write,
                            5..=8 => FaultOp::Sync,
                            _ => FaultOp::DirSync,
                        },
                        errno: if run.rng.chance(50) {
                            libc::EIO
                        } else {
                            libc::ENOSPC
                        },
                        skip: run.rng.range(0, 6),
                        count: if run.rng.chance(50) { 1 } else { u64::MAX },
                        path_contains: if run.rng.chance(80) {
                            "msgs".into()
                        } else {
                            "state.".into()
                        },
                    };
                    log(run, || format!("round {round}: injecting {f:?}"));
                    run.out.faults += 1;
                    disk.inject(f);
                }
                None
            }
        };
        // A refused mutation changes nothing; an accepted one is a new point
        // of the history.
        if let Some(Ok(())) = mutated {
            let s = run.snap_of(store, owner);
            run.snaps.push(s);
        }
    }
    if disk.crashed() {
        return End::PowerLoss;
    }
    match run.rng.below(100) {
        0..=59 => End::PowerLoss,
        60..=84 => End::Kill,
        _ => {
            // A clean close makes everything durable.
            let closed = bounded(store.close()).await;
            if let Some(c) = &consumer {
                let _ = bounded(c.close()).await;
            }
            match closed {
                Some(Ok(())) if !disk.crashed() => {
                    let mut a = run.acks.borrow_mut();
                    a.durable_k = a.durable_k.max(run.snaps.len() - 1);
                    End::Close
                }
                Some(_) if disk.crashed() => End::PowerLoss,
                // A failure (injected error): restart the process.
                Some(_) => End::Kill,
                None => {
                    run.anomaly(format!("round {round}: close hangs"));
                    End::Kill
                }
            }
        }
    }
}

/// Creates the consumer as the server does: its directory and `meta` file
/// made durable first, then the state file.
async fn create_consumer(run: &mut Run, d: &Disk) -> Result<ConsumerStateFile, ()> {
    let dir = consumer_dir();
    d.create_dir_durable(&dir).await.map_err(|_| ())?;
    d.write_small_synced(&dir.join("meta"), b"consumer")
        .await
        .map_err(|_| ())?;
    d.sync_dir(&dir).await.map_err(|_| ())?;
    let opened = bounded(ConsumerStateFile::open_on(
        d.clone(),
        ConsumerFileConfig {
            dir,
            sync: run.cfg.sync,
            cipher: run.cfg.cipher.clone(),
        },
    ))
    .await;
    match opened {
        Some(Ok((f, None))) => Ok(f),
        Some(Ok((_, Some(_)))) => {
            run.anomaly("a new consumer found the state of a deleted one".into());
            Err(())
        }
        Some(Err(_)) => Err(()),
        None => {
            run.anomaly("consumer state open hangs".into());
            Err(())
        }
    }
}

/// Results of many runs.
#[derive(Debug, Default)]
pub struct Summary {
    /// Runs made.
    pub runs: u64,
    /// Runs with at least one anomaly, with their outcomes.
    pub failed: Vec<Outcome>,
    /// Mutations acknowledged over all runs.
    pub acked: u64,
    /// Power losses over all runs.
    pub power_losses: u64,
    /// Process kills over all runs.
    pub kills: u64,
    /// Injected I/O errors that fired over all runs.
    pub faults: u64,
}

thread_local! {
    /// The run this worker thread is in (for the panic hook): batch, seed, mode.
    static CURRENT: std::cell::Cell<Option<(u64, u64, Mode)>> = const { std::cell::Cell::new(None) };
}

/// Panics caught by the hook: `(batch, seed, mode, message)`.
static PANICS: Mutex<Vec<(u64, u64, Mode, String)>> = Mutex::new(Vec::new());
/// Installs the panic hook once per process.
static HOOK: std::sync::Once = std::sync::Once::new();
/// Numbers the batches of [`run_many`] (tests run several at once).
static BATCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs every `(seed, mode)` on `jobs` executor threads, each run's panics
/// caught (a panic ends the executor's thread; the run counts as an anomaly
/// and another executor takes the next run). `each` sees every outcome as it
/// arrives; `stop_early` ends the batch at the first anomaly.
pub fn run_many(
    seeds: &[u64],
    modes: &[Mode],
    opts: &Options,
    jobs: usize,
    stop_early: bool,
    each: &(dyn Fn(&Outcome) + Sync),
) -> Summary {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some((batch, seed, mode)) = CURRENT.with(|c| c.get()) {
                if let Ok(mut p) = PANICS.lock() {
                    p.push((batch, seed, mode, info.to_string()));
                }
            }
            previous(info);
        }));
    });
    let batch = BATCH.fetch_add(1, Ordering::SeqCst);
    let work: Arc<Vec<(u64, Mode)>> = Arc::new(
        modes
            .iter()
            .flat_map(|&m| seeds.iter().map(move |&s| (s, m)))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let live = Arc::new(AtomicUsize::new(jobs.max(1)));
    let (tx, rx) = std::sync::mpsc::channel::<Outcome>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut outcomes = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let (work, next, stop, opts, tx, live) = (
                work.clone(),
                next.clone(),
                stop.clone(),
                opts.clone(),
                tx.clone(),
                live.clone(),
            );
            scope.spawn(move || {
                while next.load(Ordering::SeqCst) < work.len() && !stop.load(Ordering::SeqCst) {
                    let (work, next, stop_run, opts, tx) = (
                        work.clone(),
                        next.clone(),
                        stop.clone(),
                        opts.clone(),
                        tx.clone(),
                    );
                    // One executor for many runs; a panic ends its thread,
                    // and this loop starts another.
                    let started = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                        .io_memory(256 << 10)
                        .spawn(move || async move {
                            while !stop_run.load(Ordering::SeqCst) {
                                let i = next.fetch_add(1, Ordering::SeqCst);
                                let Some(&(seed, mode)) = work.get(i) else {
                                    return;
                                };
                                CURRENT.with(|c| c.set(Some((batch, seed, mode))));
                                let out = run_seed(seed, mode, &opts).await;
                                CURRENT.with(|c| c.set(None));
                                if stop_early && !out.anomalies.is_empty() {
                                    stop_run.store(true, Ordering::SeqCst);
                                }
                                let _ = tx.send(out);
                            }
                        });
                    match started {
                        Ok(h) => {
                            let _ = h.join();
                        }
                        Err(e) => {
                            eprintln!("cannot start an executor: {e}");
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
                live.fetch_sub(1, Ordering::SeqCst);
            });
        }
        drop(tx);
        // Report outcomes as they arrive; the channel closes when every
        // worker (and every executor) is gone.
        for o in rx.iter() {
            each(&o);
            outcomes.push(o);
        }
    });
    let panics: Vec<(u64, Mode, String)> = match PANICS.lock() {
        Ok(mut p) => {
            let (mine, rest): (Vec<_>, Vec<_>) = p.drain(..).partition(|x| x.0 == batch);
            *p = rest;
            mine.into_iter().map(|(_, s, m, msg)| (s, m, msg)).collect()
        }
        Err(_) => Vec::new(),
    };
    for (seed, mode, msg) in panics {
        let at = outcomes
            .iter()
            .position(|o| o.seed == seed && o.mode == mode);
        match at {
            Some(i) => outcomes[i].anomalies.push(format!("panic: {msg}")),
            None => {
                let o = Outcome {
                    seed,
                    mode,
                    anomalies: vec![format!("panic: {msg}")],
                    acked: 0,
                    power_losses: 0,
                    kills: 0,
                    faults: 0,
                    digest: 0,
                };
                each(&o);
                outcomes.push(o);
            }
        }
    }
    let mut summary = Summary::default();
    for o in outcomes {
        summary.runs += 1;
        summary.acked += o.acked;
        summary.power_losses += o.power_losses;
        summary.kills += o.kills;
        summary.faults += o.faults;
        if !o.anomalies.is_empty() {
            summary.failed.push(o);
        }
    }
    summary
}
