//! The simulated disk: a deterministic in-memory file system that knows what
//! would survive a power loss.
//!
//! # What it models
//!
//! Per file (an *inode*): the bytes every read sees (the volatile view: page
//! cache and device cache together), the bytes that are durable on the medium,
//! and the writes since the last successful sync, in order (*pending*).
//!
//! - A write changes the volatile view at once and is appended to the pending
//!   list. A write past the end grows the file (zero-filled gap).
//! - `fdatasync` makes every pending write durable, and the file size when it
//!   grew. `fsync` does the same and also makes the size exact (a shrink — no
//!   caller shrinks files today, so the two differ only in that).
//! - Directory entries (create, rename, unlink, mkdir, rmdir) change the
//!   volatile namespace at once and are queued per directory; only an `fsync`
//!   of that directory makes them durable. A file's data being durable does not
//!   make its name durable, and the other way round.
//! - A **power loss** keeps the durable image plus a random part of what was
//!   pending, decided from the disk's seed:
//!   * per crash, a survival probability: none, all, half, or a random value;
//!   * per pending write, a tearing granularity: the whole write, 4 KiB pages
//!     or 512 B sectors; each piece survives on its own with that probability,
//!     so later writes can land without earlier ones (reordering) and one
//!     write can land in part (tearing). Where several pending writes cover
//!     the same piece, the newest surviving one wins (a device never puts back
//!     older data it had already overwritten in its cache);
//!   * per directory, a random prefix of its queued entry operations (file
//!     systems with a metadata journal — ext4, xfs — commit them in order).
//! - A **process kill** (SIGKILL) loses nothing: the volatile view stays, and
//!   every handle of the killed process fails from then on.
//! - **Injected I/O errors** ([`Fault`]): a failing write may have changed any
//!   subset of its 512 B sectors; a failing `fdatasync`/`fsync` drops the
//!   file's pending writes from what can ever become durable while reads still
//!   see them — Linux's behaviour that PostgreSQL's "fsyncgate" (2018) was
//!   about: after a failed fsync, the next fsync succeeds without writing the
//!   lost data.
//!
//! Every operation counts as one step. A crash can be scheduled at step `n`
//! ([`SimDisk::set_crash_at`]): the image is taken *before* step `n` runs,
//! and step `n` and everything after it fails with `EIO` (the machine is off;
//! nothing can be acknowledged any more). Async operations may yield to the
//! executor first (a seeded choice), so the store's tasks interleave with the
//! workload the way real I/O latency makes them.
//!
//! Everything is decided by the seed and the order of calls, so a run replays
//! exactly; [`SimDisk::digest`] fingerprints the operation sequence so a test
//! can check that.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use super::rng::SimRng;

/// Why a simulated operation failed: an OS error number and a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    /// `libc::EIO`, `libc::ENOSPC`, `libc::ENOENT`, ...
    pub errno: i32,
    /// What happened, for the error message.
    pub message: &'static str,
}

impl SimError {
    fn new(errno: i32, message: &'static str) -> SimError {
        SimError { errno, message }
    }
}

/// Result of a simulated operation.
pub type SimResult<T> = Result<T, SimError>;

/// Which operation an injected [`Fault`] hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// A write to a file.
    Write,
    /// `fdatasync` or `fsync` of a file.
    Sync,
    /// `fsync` of a directory.
    DirSync,
}

/// An I/O error to inject: the operations of kind `op` whose path contains
/// `path_contains` (any path when empty) are counted; after `skip` of them
/// succeed, the next `count` fail with `errno`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Which operation fails.
    pub op: FaultOp,
    /// The error it fails with (`libc::EIO`, `libc::ENOSPC`).
    pub errno: i32,
    /// Matching operations that still succeed before the first failure.
    pub skip: u64,
    /// Matching operations that fail (`u64::MAX`: from then on).
    pub count: u64,
    /// Only paths containing this text match (empty: every path).
    pub path_contains: String,
}

/// A file's bytes in the three states described in the module docs.
#[derive(Debug, Clone, Default)]
struct Inode {
    /// What reads see.
    data: Vec<u8>,
    /// What is on the medium for sure.
    durable: Vec<u8>,
    /// Writes since the last successful sync, oldest first: `(offset, bytes)`.
    pending: Vec<(u64, Vec<u8>)>,
    /// The sizes the writes since the last successful sync grew the file to,
    /// oldest first: size is metadata, journaled per write and in order.
    sizes: Vec<u64>,
    /// The file was cut (`set_len`) since the last successful sync: the next
    /// sync makes the size exact even as `fdatasync` (the size is needed to
    /// read the data back, so `fdatasync` must persist it).
    truncated: bool,
}

/// What a directory entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    /// A file (index into `Fs::inodes`).
    File(usize),
    /// A directory (index into `Fs::dirs`).
    Dir(usize),
}

/// A queued change to a directory's entries.
#[derive(Debug, Clone)]
enum DirOp {
    /// An entry was created (or replaced).
    Set(OsString, Node),
    /// An entry was removed.
    Remove(OsString),
    /// An entry was renamed within the directory (atomic: both halves or neither).
    Rename(OsString, OsString),
}

impl DirOp {
    fn apply(&self, entries: &mut BTreeMap<OsString, Node>) {
        match self {
            DirOp::Set(name, node) => {
                entries.insert(name.clone(), *node);
            }
            DirOp::Remove(name) => {
                entries.remove(name);
            }
            DirOp::Rename(from, to) => {
                if let Some(node) = entries.remove(from) {
                    entries.insert(to.clone(), node);
                }
            }
        }
    }
}

/// A directory: its entries as every lookup sees them, as they are durable,
/// and the operations in between.
#[derive(Debug, Clone, Default)]
struct DirNode {
    /// The volatile namespace.
    live: BTreeMap<OsString, Node>,
    /// The entries a power loss keeps for sure.
    durable: BTreeMap<OsString, Node>,
    /// Changes since the last fsync of this directory, oldest first.
    pending: Vec<DirOp>,
}

/// The whole simulated file system.
struct Fs {
    /// Every file ever created (unlinked ones stay: open handles keep them).
    inodes: Vec<Inode>,
    /// Every directory ever created.
    dirs: Vec<DirNode>,
    /// The root directory's index; it always exists and is durable.
    root: usize,
    /// The path the root directory is mounted at.
    root_path: PathBuf,
    /// The current process generation; handles of older ones fail (killed).
    proc: u64,
    /// Operations performed so far (the crash clock).
    steps: u64,
    /// The step at which the power fails, if scheduled.
    crash_at: Option<u64>,
    /// The image captured at the power loss (then every operation fails).
    image: Option<Arc<Mutex<Fs>>>,
    /// Decisions: yields, partial writes, crash images.
    rng: SimRng,
    /// Percent of async operations that yield to the executor first.
    yield_percent: u64,
    /// A fixed survival probability for pending writes and directory
    /// operations at a power loss (tests that need the worst or best case);
    /// `None`: chosen from the seed.
    survival: Option<f64>,
    /// Injected errors still armed.
    faults: Vec<Fault>,
    /// Running hash of every operation (replay check).
    digest: u64,
}

/// A handle on the simulated disk for one process (see the module docs).
/// Cheap to clone; every clone sees the same file system. It is `Send` and
/// `Sync` (one mutex around the file system) so that a FUSE file system —
/// `scripts/power-loss`, where the real server runs on this model — can
/// serve it from its own thread; the store simulations are single-threaded
/// and never contend for the lock.
#[derive(Clone)]
pub struct SimDisk {
    /// The file system.
    fs: Arc<Mutex<Fs>>,
    /// The process generation this handle belongs to.
    proc: u64,
}

/// An open simulated file.
#[derive(Debug, Clone)]
pub struct SimFile {
    /// The disk (and process) it was opened through.
    disk: SimDisk,
    /// Its inode; stays valid after an unlink, as with a real open file.
    ino: usize,
}

/// Returns `Pending` once (waking itself), then `Ready`: lets other tasks run.
/// The flag says whether it already yielded.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v)
        .wrapping_mul(0x100_0000_01B3)
        .rotate_left(17)
        .wrapping_add(0x9E37_79B9)
}

fn path_hash(p: &Path) -> u64 {
    p.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xCBF2_9CE4_8422_2325, |h, &b| mix(h, u64::from(b)))
}

/// Writes `bytes` at `off` of `buf`, growing it with zeros as needed.
fn put(buf: &mut Vec<u8>, off: u64, bytes: &[u8]) {
    let off = off as usize;
    let end = off + bytes.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[off..end].copy_from_slice(bytes);
}

impl Fs {
    fn empty(root_path: PathBuf, seed: u64) -> Fs {
        Fs {
            inodes: Vec::new(),
            dirs: vec![DirNode::default()],
            root: 0,
            root_path,
            proc: 0,
            steps: 0,
            crash_at: None,
            image: None,
            rng: SimRng::new(seed),
            yield_percent: 30,
            survival: None,
            faults: Vec::new(),
            digest: 0,
        }
    }

    /// One operation: the crash clock, the process check, the digest.
    fn step(&mut self, proc: u64, op: u64, path: &Path) -> SimResult<()> {
        if self.image.is_some() {
            return Err(SimError::new(libc::EIO, "power lost"));
        }
        if proc != self.proc {
            return Err(SimError::new(libc::EIO, "process was killed"));
        }
        self.steps += 1;
        if self.crash_at == Some(self.steps) {
            self.power_loss();
            return Err(SimError::new(libc::EIO, "power lost"));
        }
        self.digest = mix(mix(self.digest, op), path_hash(path));
        Ok(())
    }

    /// Whether an injected fault fires for this operation.
    fn fault(&mut self, op: FaultOp, path: &Path) -> Option<i32> {
        let text = path.to_string_lossy();
        for f in &mut self.faults {
            if f.op != op || f.count == 0 || !text.contains(f.path_contains.as_str()) {
                continue;
            }
            if f.skip > 0 {
                f.skip -= 1;
                continue;
            }
            if f.count != u64::MAX {
                f.count -= 1;
            }
            return Some(f.errno);
        }
        None
    }

    fn power_loss(&mut self) {
        if self.image.is_some() {
            return;
        }
        let mut rng = self.rng.fork();
        let survive = match (self.survival, rng.below(100)) {
            (Some(p), _) => p,
            (None, 0..=14) => 0.0,
            (None, 15..=29) => 1.0,
            (None, 30..=59) => 0.5,
            (None, _) => rng.unit(),
        };
        let mut img = Fs::empty(self.root_path.clone(), rng.next_u64());
        img.yield_percent = self.yield_percent;
        let mut inode_map = HashMap::new();
        let root = self.image_dir(self.root, &mut img, &mut rng, survive, &mut inode_map);
        img.root = root;
        self.image = Some(Arc::new(Mutex::new(img)));
    }

    fn image_dir(
        &self,
        id: usize,
        img: &mut Fs,
        rng: &mut SimRng,
        survive: f64,
        inode_map: &mut HashMap<usize, usize>,
    ) -> usize {
        let dir = &self.dirs[id];
        let mut entries = dir.durable.clone();
        let n = dir.pending.len() as u64;
        let keep = if survive <= 0.0 {
            0
        } else if survive >= 1.0 {
            n
        } else {
            rng.range(0, n)
        };
        for op in &dir.pending[..keep as usize] {
            op.apply(&mut entries);
        }
        let new_id = img.dirs.len();
        img.dirs.push(DirNode::default());
        let mut out = BTreeMap::new();
        for (name, node) in entries {
            let node = match node {
                Node::File(ino) => {
                    let new_ino = match inode_map.get(&ino) {
                        Some(&i) => i,
                        None => {
                            let data = self.image_inode(ino, rng, survive);
                            img.inodes.push(Inode {
                                durable: data.clone(),
                                data,
                                pending: Vec::new(),
                                sizes: Vec::new(),
                                truncated: false,
                            });
                            let i = img.inodes.len() - 1;
                            inode_map.insert(ino, i);
                            i
                        }
                    };
                    Node::File(new_ino)
                }
                Node::Dir(d) => Node::Dir(self.image_dir(d, img, rng, survive, inode_map)),
            };
            out.insert(name, node);
        }
        img.dirs[new_id] = DirNode {
            live: out.clone(),
            durable: out,
            pending: Vec::new(),
        };
        new_id
    }

    fn image_inode(&self, ino: usize, rng: &mut SimRng, survive: f64) -> Vec<u8> {
        let inode = &self.inodes[ino];
        let mut out = inode.durable.clone();
        // The size: the durable one, grown by a prefix of the pending growths
        // (a file system journals size changes in order, each write's growth
        // whole). Sectors past it are not part of the file; sectors below it
        // that never landed read as zeros (unwritten extents).
        let n = inode.sizes.len() as u64;
        let kept = if survive <= 0.0 {
            0
        } else if survive >= 1.0 {
            n
        } else {
            rng.range(0, n)
        };
        let size = inode.sizes[..kept as usize]
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(out.len() as u64) as usize;
        for (off, bytes) in &inode.pending {
            let end = off + bytes.len() as u64;
            let unit = match rng.below(3) {
                0 => None,
                1 => Some(4096u64),
                _ => Some(512u64),
            };
            let mut p = *off;
            while p < end {
                let piece_end = match unit {
                    None => end,
                    Some(u) => ((p / u + 1) * u).min(end),
                };
                let lands = if survive <= 0.0 {
                    false
                } else if survive >= 1.0 {
                    true
                } else {
                    rng.unit() < survive
                };
                if lands {
                    put(
                        &mut out,
                        p,
                        &bytes[(p - off) as usize..(piece_end - off) as usize],
                    );
                }
                p = piece_end;
            }
        }
        out.resize(size, 0);
        out
    }

    /// The directory holding `path` and the last component's name.
    fn parent_of(&self, path: &Path) -> SimResult<(usize, OsString)> {
        let name = path
            .file_name()
            .ok_or(SimError::new(libc::EINVAL, "path has no file name"))?;
        let parent = path
            .parent()
            .ok_or(SimError::new(libc::EINVAL, "path has no parent"))?;
        Ok((self.dir_at(parent)?, name.to_os_string()))
    }

    fn lookup(&self, path: &Path) -> SimResult<Node> {
        let rel = path
            .strip_prefix(&self.root_path)
            .map_err(|_| SimError::new(libc::ENOENT, "outside the simulated disk"))?;
        let mut node = Node::Dir(self.root);
        for c in rel.components() {
            let Component::Normal(name) = c else {
                return Err(SimError::new(libc::EINVAL, "unsupported path component"));
            };
            let Node::Dir(d) = node else {
                return Err(SimError::new(libc::ENOTDIR, "not a directory"));
            };
            node = *self.dirs[d]
                .live
                .get(name)
                .ok_or(SimError::new(libc::ENOENT, "no such file or directory"))?;
        }
        Ok(node)
    }

    fn dir_at(&self, path: &Path) -> SimResult<usize> {
        match self.lookup(path)? {
            Node::Dir(d) => Ok(d),
            Node::File(_) => Err(SimError::new(libc::ENOTDIR, "not a directory")),
        }
    }

    fn file_at(&self, path: &Path) -> SimResult<usize> {
        match self.lookup(path)? {
            Node::File(i) => Ok(i),
            Node::Dir(_) => Err(SimError::new(libc::EISDIR, "is a directory")),
        }
    }

    fn dir_op(&mut self, dir: usize, op: DirOp) {
        op.apply(&mut self.dirs[dir].live);
        self.dirs[dir].pending.push(op);
    }

    /// Records that a write of `len` bytes at `pos` starts: if it grows the
    /// file, the new size is a pending metadata change.
    fn grow(&mut self, ino: usize, pos: u64, len: usize) {
        let inode = &mut self.inodes[ino];
        let end = pos + len as u64;
        let size = inode
            .sizes
            .last()
            .copied()
            .unwrap_or(0)
            .max(inode.data.len() as u64);
        if end > size {
            inode.sizes.push(end);
        }
    }

    fn write(&mut self, ino: usize, pos: u64, bytes: &[u8], fail: Option<i32>) -> SimResult<()> {
        match fail {
            None => {
                let inode = &mut self.inodes[ino];
                put(&mut inode.data, pos, bytes);
                inode.pending.push((pos, bytes.to_vec()));
                Ok(())
            }
            Some(errno) => {
                // A failed write may have changed any of its sectors.
                let mut p = 0usize;
                while p < bytes.len() {
                    let end = (p + 512).min(bytes.len());
                    if self.rng.chance(50) {
                        let inode = &mut self.inodes[ino];
                        put(&mut inode.data, pos + p as u64, &bytes[p..end]);
                        inode.pending.push((pos + p as u64, bytes[p..end].to_vec()));
                    }
                    p = end;
                }
                Err(SimError::new(errno, "injected write error"))
            }
        }
    }

    fn sync(&mut self, ino: usize, exact_size: bool, fail: Option<i32>) -> SimResult<()> {
        let inode = &mut self.inodes[ino];
        let pending = std::mem::take(&mut inode.pending);
        inode.sizes.clear();
        let exact_size = exact_size || std::mem::take(&mut inode.truncated);
        if let Some(errno) = fail {
            // fsyncgate: the data stays readable but is no longer dirty, so
            // it never reaches the medium (unless written again).
            return Err(SimError::new(errno, "injected sync error"));
        }
        for (off, bytes) in pending {
            put(&mut inode.durable, off, &bytes);
        }
        if inode.durable.len() < inode.data.len() || exact_size {
            let len = inode.data.len();
            inode.durable.resize(len, 0);
        }
        Ok(())
    }
}

/// Operation codes for the digest.
mod opcode {
    pub const CREATE: u64 = 1;
    pub const OPEN: u64 = 2;
    pub const WRITE: u64 = 3;
    pub const READ: u64 = 4;
    pub const SYNC: u64 = 5;
    pub const FSYNC: u64 = 6;
    pub const SYNC_DIR: u64 = 7;
    pub const MKDIR: u64 = 8;
    pub const UNLINK: u64 = 9;
    pub const RENAME: u64 = 10;
    pub const LIST: u64 = 11;
    pub const STAT: u64 = 12;
    pub const RMDIR: u64 = 13;
    pub const TRUNCATE: u64 = 14;
}

impl std::fmt::Debug for SimDisk {
    /// Short: the file system image would fill a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fs = self.lock();
        f.debug_struct("SimDisk")
            .field("root", &fs.root_path)
            .field("proc", &self.proc)
            .field("steps", &fs.steps)
            .field("crashed", &fs.image.is_some())
            .finish()
    }
}

impl SimDisk {
    /// An empty disk whose root directory `root` exists (durably); every
    /// decision it makes follows from `seed`.
    pub fn new(seed: u64, root: impl Into<PathBuf>) -> SimDisk {
        SimDisk {
            fs: Arc::new(Mutex::new(Fs::empty(root.into(), seed))),
            proc: 0,
        }
    }

    /// Schedules the power loss at operation number `step` (counted from the
    /// disk's creation; see [`SimDisk::steps`]). `None` cancels it.
    pub fn set_crash_at(&self, step: Option<u64>) {
        self.lock().crash_at = step;
    }

    /// Operations performed so far.
    pub fn steps(&self) -> u64 {
        self.lock().steps
    }

    /// Percent of async operations that first yield to the executor.
    pub fn set_yield_percent(&self, percent: u64) {
        self.lock().yield_percent = percent.min(100);
    }

    /// Fixes what a power loss keeps of the pending writes and directory
    /// operations: `Some(0.0)` nothing, `Some(1.0)` everything, `None` a
    /// seeded choice per crash (the default).
    pub fn set_power_loss_survival(&self, p: Option<f64>) {
        self.lock().survival = p;
    }

    /// Arms an injected I/O error.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Disarms every injected error.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// True once the power was lost (scheduled or [`SimDisk::power_loss`]).
    pub fn crashed(&self) -> bool {
        self.lock().image.is_some()
    }

    /// Cuts the power now (if it was not cut yet): from here on every
    /// operation fails.
    pub fn power_loss(&self) {
        self.lock().power_loss();
    }

    /// The disk as it comes back after the power loss: a new disk holding
    /// the surviving image, with a fresh process and no pending writes.
    /// `None` if the power was never lost.
    pub fn after_power_loss(&self) -> Option<SimDisk> {
        let fs = self.lock().image.clone()?;
        Some(SimDisk { fs, proc: 0 })
    }

    /// Kills the process this handle belongs to (SIGKILL): every handle of
    /// it fails from now on, nothing written is lost. Returns a handle for
    /// the next process.
    pub fn kill_process(&self) -> SimDisk {
        let mut fs = self.lock();
        fs.proc += 1;
        SimDisk {
            fs: self.fs.clone(),
            proc: fs.proc,
        }
    }

    /// Fingerprint of every operation so far (for replay checks).
    pub fn digest(&self) -> u64 {
        self.lock().digest
    }

    /// Yields to the executor on a seeded share of operations.
    async fn maybe_yield(&self) {
        let y = {
            let mut fs = self.lock();
            let p = fs.yield_percent;
            fs.rng.chance(p)
        };
        if y {
            YieldOnce(false).await;
        }
    }

    /// The file system, locked. The lock is only ever held for one
    /// operation and never across an `.await`, so it cannot deadlock; a
    /// poisoned lock (a panic mid-operation, which the harness reports
    /// anyway) still gives the state.
    fn lock(&self) -> MutexGuard<'_, Fs> {
        self.fs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn step(&self, op: u64, path: &Path) -> SimResult<MutexGuard<'_, Fs>> {
        let mut fs = self.lock();
        fs.step(self.proc, op, path)?;
        Ok(fs)
    }

    /// Creates a new, empty file (`O_CREAT | O_EXCL`).
    pub async fn create_new(&self, path: &Path) -> SimResult<SimFile> {
        self.maybe_yield().await;
        let mut fs = self.step(opcode::CREATE, path)?;
        let (dir, name) = fs.parent_of(path)?;
        if fs.dirs[dir].live.contains_key(&name) {
            return Err(SimError::new(libc::EEXIST, "file exists"));
        }
        fs.inodes.push(Inode::default());
        let ino = fs.inodes.len() - 1;
        fs.dir_op(dir, DirOp::Set(name, Node::File(ino)));
        Ok(SimFile {
            disk: self.clone(),
            ino,
        })
    }

    /// Opens an existing file.
    pub async fn open(&self, path: &Path) -> SimResult<SimFile> {
        self.maybe_yield().await;
        let fs = self.step(opcode::OPEN, path)?;
        let ino = fs.file_at(path)?;
        Ok(SimFile {
            disk: self.clone(),
            ino,
        })
    }

    /// `fsync` of a directory: its queued entry operations become durable.
    pub async fn sync_dir(&self, path: &Path) -> SimResult<()> {
        self.maybe_yield().await;
        let mut fs = self.step(opcode::SYNC_DIR, path)?;
        let dir = fs.dir_at(path)?;
        if let Some(errno) = fs.fault(FaultOp::DirSync, path) {
            return Err(SimError::new(errno, "injected directory sync error"));
        }
        let d = &mut fs.dirs[dir];
        d.durable = d.live.clone();
        d.pending.clear();
        Ok(())
    }

    /// `mkdir -p`.
    pub fn create_dir_all(&self, path: &Path) -> SimResult<()> {
        let mut fs = self.step(opcode::MKDIR, path)?;
        let rel = path
            .strip_prefix(&fs.root_path)
            .map_err(|_| SimError::new(libc::ENOENT, "outside the simulated disk"))?
            .to_path_buf();
        let mut dir = fs.root;
        for c in rel.components() {
            let Component::Normal(name) = c else {
                return Err(SimError::new(libc::EINVAL, "unsupported path component"));
            };
            dir = match fs.dirs[dir].live.get(name).copied() {
                Some(Node::Dir(d)) => d,
                Some(Node::File(_)) => return Err(SimError::new(libc::ENOTDIR, "not a directory")),
                None => {
                    fs.dirs.push(DirNode::default());
                    let d = fs.dirs.len() - 1;
                    fs.dir_op(dir, DirOp::Set(name.to_os_string(), Node::Dir(d)));
                    d
                }
            };
        }
        Ok(())
    }

    /// Unlinks a file.
    pub fn remove_file(&self, path: &Path) -> SimResult<()> {
        let mut fs = self.step(opcode::UNLINK, path)?;
        let (dir, name) = fs.parent_of(path)?;
        match fs.dirs[dir].live.get(&name) {
            Some(Node::File(_)) => {}
            Some(Node::Dir(_)) => return Err(SimError::new(libc::EISDIR, "is a directory")),
            None => return Err(SimError::new(libc::ENOENT, "no such file")),
        }
        fs.dir_op(dir, DirOp::Remove(name));
        Ok(())
    }

    /// Removes a directory and everything in it (entries of the inner
    /// directories are queued in those directories, the directory's own entry
    /// in its parent).
    pub fn remove_dir_all(&self, path: &Path) -> SimResult<()> {
        let mut fs = self.step(opcode::RMDIR, path)?;
        let (parent, name) = fs.parent_of(path)?;
        let Some(Node::Dir(d)) = fs.dirs[parent].live.get(&name).copied() else {
            return Err(SimError::new(libc::ENOENT, "no such directory"));
        };
        fn empty(fs: &mut Fs, d: usize) {
            let names: Vec<(OsString, Node)> = fs.dirs[d]
                .live
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            for (name, node) in names {
                if let Node::Dir(sub) = node {
                    empty(fs, sub);
                }
                fs.dir_op(d, DirOp::Remove(name));
            }
        }
        empty(&mut fs, d);
        fs.dir_op(parent, DirOp::Remove(name));
        Ok(())
    }

    /// Renames within one directory (atomic).
    pub fn rename(&self, from: &Path, to: &Path) -> SimResult<()> {
        let mut fs = self.step(opcode::RENAME, from)?;
        let (dir, a) = fs.parent_of(from)?;
        let (dir2, b) = fs.parent_of(to)?;
        if dir != dir2 {
            return Err(SimError::new(
                libc::EXDEV,
                "the simulation renames within a directory only",
            ));
        }
        if !fs.dirs[dir].live.contains_key(&a) {
            return Err(SimError::new(libc::ENOENT, "no such file"));
        }
        fs.dir_op(dir, DirOp::Rename(a, b));
        Ok(())
    }

    /// Names in a directory, sorted.
    pub fn list(&self, path: &Path) -> SimResult<Vec<OsString>> {
        let fs = self.step(opcode::LIST, path)?;
        let dir = fs.dir_at(path)?;
        Ok(fs.dirs[dir].live.keys().cloned().collect())
    }

    /// `Some(true)` for a directory, `Some(false)` for a file, `None` when
    /// nothing is there.
    pub fn stat(&self, path: &Path) -> SimResult<Option<bool>> {
        let fs = self.step(opcode::STAT, path)?;
        match fs.lookup(path) {
            Ok(Node::Dir(_)) => Ok(Some(true)),
            Ok(Node::File(_)) => Ok(Some(false)),
            Err(e) if e.errno == libc::ENOENT => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl SimFile {
    /// Writes `bytes` at `pos`. The write lands 4 KiB page by page, with
    /// other tasks running in between on a seeded share of pages: O_DIRECT
    /// gives a concurrent read no atomicity, so a reader can see any prefix
    /// of a write in flight (and a power loss or kill in flight keeps only the
    /// pages that landed, as pending writes).
    pub async fn write(&self, pos: u64, bytes: &[u8], path: &Path) -> SimResult<()> {
        self.disk.maybe_yield().await;
        let fail = {
            let mut fs = self.disk.step(opcode::WRITE ^ (pos << 8), path)?;
            fs.fault(FaultOp::Write, path)
        };
        self.disk.lock().grow(self.ino, pos, bytes.len());
        if fail.is_some() {
            return self.disk.lock().write(self.ino, pos, bytes, fail);
        }
        let mut p = 0usize;
        while p < bytes.len() {
            let end = (p + 4096).min(bytes.len());
            {
                let mut fs = self.disk.lock();
                if fs.image.is_some() {
                    return Err(SimError::new(libc::EIO, "power lost"));
                }
                if fs.proc != self.disk.proc {
                    return Err(SimError::new(libc::EIO, "process was killed"));
                }
                fs.write(self.ino, pos + p as u64, &bytes[p..end], None)?;
            }
            p = end;
            if p < bytes.len() {
                self.disk.maybe_yield().await;
            }
        }
        Ok(())
    }

    /// Reads up to `len` bytes at `pos` (fewer at the end of the file).
    pub async fn read(&self, pos: u64, len: usize, path: &Path) -> SimResult<Vec<u8>> {
        self.disk.maybe_yield().await;
        let fs = self.disk.step(opcode::READ ^ (pos << 8), path)?;
        let data = &fs.inodes[self.ino].data;
        let from = (pos as usize).min(data.len());
        let to = from.saturating_add(len).min(data.len());
        Ok(data[from..to].to_vec())
    }

    /// The file's size.
    pub async fn size(&self, path: &Path) -> SimResult<u64> {
        let fs = self.disk.step(opcode::STAT, path)?;
        Ok(fs.inodes[self.ino].data.len() as u64)
    }

    /// `ftruncate`: changes the size at once (cut bytes are gone from reads,
    /// a grown tail reads as zeros). The new size is metadata: like a growth
    /// by a write it is durable after the next `fdatasync`/`fsync`; before,
    /// a power loss keeps the old durable size and bytes.
    pub fn set_len(&self, len: u64, path: &Path) -> SimResult<()> {
        let mut fs = self.disk.step(opcode::TRUNCATE, path)?;
        let inode = &mut fs.inodes[self.ino];
        inode.data.resize(len as usize, 0);
        // Writes pending beyond the new end must not come back at a power
        // loss with a size that no longer covers them; clip them.
        for (off, bytes) in &mut inode.pending {
            let keep = len.saturating_sub(*off).min(bytes.len() as u64) as usize;
            bytes.truncate(keep);
        }
        inode.pending.retain(|(_, b)| !b.is_empty());
        inode.sizes.push(len);
        inode.truncated = true;
        Ok(())
    }

    /// `fdatasync`.
    pub async fn fdatasync(&self, path: &Path) -> SimResult<()> {
        self.disk.maybe_yield().await;
        let mut fs = self.disk.step(opcode::SYNC, path)?;
        let fail = fs.fault(FaultOp::Sync, path);
        fs.sync(self.ino, false, fail)
    }

    /// `fsync`.
    pub async fn fsync(&self, path: &Path) -> SimResult<()> {
        self.disk.maybe_yield().await;
        let mut fs = self.disk.step(opcode::FSYNC, path)?;
        let fail = fs.fault(FaultOp::Sync, path);
        fs.sync(self.ino, true, fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn unsynced_entries_and_data_can_vanish_synced_ones_cannot() {
        // Over many seeds: a synced file with a synced entry always survives
        // whole; an unsynced entry sometimes vanishes; unsynced data
        // sometimes tears.
        let mut vanished = 0;
        let mut torn = 0;
        for seed in 0..200 {
            let d = SimDisk::new(seed, "/r");
            d.set_yield_percent(0);
            block_on(async {
                d.create_dir_all(&p("/r/a")).unwrap();
                d.sync_dir(&p("/r")).await.unwrap();
                let f = d.create_new(&p("/r/a/f")).await.unwrap();
                f.write(0, &[1u8; 8192], &p("/r/a/f")).await.unwrap();
                f.fdatasync(&p("/r/a/f")).await.unwrap();
                d.sync_dir(&p("/r/a")).await.unwrap();
                let g = d.create_new(&p("/r/a/g")).await.unwrap();
                g.write(0, &[2u8; 4096], &p("/r/a/g")).await.unwrap();
                g.fdatasync(&p("/r/a/g")).await.unwrap();
                f.write(0, &[3u8; 8192], &p("/r/a/f")).await.unwrap();
            });
            d.power_loss();
            let after = d.after_power_loss().unwrap();
            block_on(async {
                let f = after.open(&p("/r/a/f")).await.unwrap();
                let data = f.read(0, 1 << 20, &p("/r/a/f")).await.unwrap();
                assert_eq!(data.len(), 8192);
                assert!(data.iter().all(|&b| b == 1 || b == 3));
                if data.contains(&1) && data.contains(&3) {
                    torn += 1;
                }
                if after.open(&p("/r/a/g")).await.is_err() {
                    vanished += 1;
                }
            });
            assert!(d.open_blocking_fails());
        }
        assert!(vanished > 0 && vanished < 200, "vanished {vanished}");
        assert!(torn > 0, "never torn");
    }

    #[test]
    fn failed_fsync_loses_the_data_for_good() {
        let d = SimDisk::new(1, "/r");
        block_on(async {
            let f = d.create_new(&p("/r/f")).await.unwrap();
            d.sync_dir(&p("/r")).await.unwrap();
            f.write(0, &[1u8; 512], &p("/r/f")).await.unwrap();
            f.fdatasync(&p("/r/f")).await.unwrap();
            d.inject(Fault {
                op: FaultOp::Sync,
                errno: libc::EIO,
                skip: 0,
                count: 1,
                path_contains: String::new(),
            });
            f.write(0, &[2u8; 512], &p("/r/f")).await.unwrap();
            assert_eq!(f.fdatasync(&p("/r/f")).await.unwrap_err().errno, libc::EIO);
            // The retry "succeeds" and the data still reads back...
            f.fdatasync(&p("/r/f")).await.unwrap();
            assert_eq!(f.read(0, 512, &p("/r/f")).await.unwrap(), vec![2u8; 512]);
        });
        // ...but it is not on the medium.
        d.power_loss();
        let after = d.after_power_loss().unwrap();
        block_on(async {
            let f = after.open(&p("/r/f")).await.unwrap();
            assert_eq!(f.read(0, 512, &p("/r/f")).await.unwrap(), vec![1u8; 512]);
        });
    }

    #[test]
    fn killed_process_handles_fail_and_nothing_is_lost() {
        let d = SimDisk::new(2, "/r");
        let next = block_on(async {
            let f = d.create_new(&p("/r/f")).await.unwrap();
            f.write(0, &[5u8; 512], &p("/r/f")).await.unwrap();
            let next = d.kill_process();
            assert!(f.write(0, &[6u8; 512], &p("/r/f")).await.is_err());
            next
        });
        block_on(async {
            let f = next.open(&p("/r/f")).await.unwrap();
            assert_eq!(f.read(0, 512, &p("/r/f")).await.unwrap(), vec![5u8; 512]);
        });
    }

    impl SimDisk {
        fn open_blocking_fails(&self) -> bool {
            self.list(&p("/r")).is_err()
        }
    }
}
