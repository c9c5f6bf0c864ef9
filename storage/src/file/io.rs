//! The stores' only contact with the file system: [`Disk`] and [`BlockFile`].
//!
//! Two implementations stand behind one small interface, chosen per store by
//! a [`Disk`] value (an enum, so the choice costs one predictable branch per
//! call and no allocation or dynamic dispatch):
//!
//! - [`Disk::Real`] (the default, and `sync: always`): glommio DMA files
//!   (O_DIRECT through io_uring) for block and slot files, `std::fs` for the
//!   rare directory operations (at open, block roll and removal).
//! - [`Disk::PageCache`] (`sync: interval`): the same, but block files are
//!   buffered (page cache) glommio files, so a write completes once the kernel
//!   has the bytes, not once the device has them.
//! - `Disk::Sim` (cargo feature `sim`, tests only): the deterministic
//!   simulated disk of `crate::sim::disk`, which knows what survives a power
//!   loss and can inject I/O errors.
//!
//! # Contract (what each call guarantees, what may fail)
//!
//! Every call may fail with [`StoreError::Io`] carrying the operation, the
//! path and the OS error number (`ENOSPC`, `EIO`, ...). Nothing is retried
//! here: a caller that sees a failed write or sync must assume nothing about
//! what reached the medium (see [`BlockFile::sync`]).
//!
//! - [`BlockFile::write_with`] / [`BlockFile::write_aligned`]: offset and
//!   length are multiples of [`SECTOR`]. On success the bytes are what later
//!   reads return; they are **not durable** until a sync of the file
//!   succeeds, and until then a power loss may keep any subset of their 512 B
//!   sectors, in any order. On failure any subset of the sectors may have
//!   changed.
//! - [`BlockFile::sync`] (`fdatasync`): on success every write to this file
//!   that completed before the call is durable, and so is the file size when
//!   it grew. On failure the data of those writes may be lost for good even
//!   though reads still return it, and a later sync may succeed without
//!   writing it (Linux marks the pages clean: "fsyncgate"); only writing the
//!   bytes again and syncing makes them durable.
//! - [`BlockFile::read`]: what the file holds now (durable or not).
//! - [`Disk::create_zeroed`]: a new file (it must not exist), zero-filled to
//!   its size with the header at offset 0, data and size durable — but its
//!   **name is not** until [`Disk::sync_dir`] of its directory succeeds.
//! - [`Disk::sync_dir`]: every entry created, renamed or removed in that
//!   directory before the call is durable.
//! - [`Disk::remove_file`], [`Disk::rename`], [`Disk::remove_dir_all`],
//!   [`Disk::create_dir_all`]: take effect for every later call at once and
//!   survive a power loss only after the parent directory is synced (a rename
//!   is atomic: after a power loss the file has exactly one of its names).
//!   [`Disk::create_dir_durable`] does the syncs for new directories.
//! - Writes of small files ([`Disk::write_small_synced`]): the file's data is
//!   durable on success; its name is not (sync the directory).
//!
//! Rules for the real disk that come from measurements on these machines
//! (`docs/architecture.md`, glommio notes):
//! - every block file is created at full size and zero-filled, so appends are
//!   overwrites (an extending O_DIRECT append + fdatasync costs ~4 ms);
//! - every write is sector-aligned in offset and length;
//! - before the first DMA file on a thread, a non-empty file is opened so
//!   glommio's IOPOLL probe reads real data and correctly decides "no
//!   polling" (an empty first file makes every later read fail with
//!   EOPNOTSUPP: glommio #605/#670) — [`Disk::prime`].

use std::cell::RefCell;
use std::collections::HashSet;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use glommio::io::{BufferedFile, Directory, DmaFile, OpenOptions};

use crate::error::{StoreError, StoreResult};

use super::format::SECTOR;

/// Zero-fill chunk: 1 MiB per write keeps block creation to a handful of
/// large writes.
const ZERO_CHUNK: usize = 1 << 20;

/// Buffered ([`Disk::PageCache`]) writes up to this size are a plain
/// `pwrite` on the shard's thread instead of an io_uring request. On ext4 an
/// io_uring buffered write cannot complete without blocking, so the kernel
/// hands it to an io-wq worker thread, and the wake-ups cost a sync publish
/// under `sync: interval` ~30 µs (p50 96 µs against 67 µs, 128 B, 1 core;
/// docs/benchmarks.md). A copy of this much into the page cache takes tens
/// of µs; larger batches (under load) stay asynchronous so a shard never
/// stalls for long. The one way a small `pwrite` can still block is the
/// kernel's dirty-page throttling, the price Go's writes pay as well.
const INLINE_WRITE_MAX: usize = 128 << 10;

/// `pwrite` of all of `buf` at `pos` (retried on short writes and EINTR).
fn pwrite_all(fd: std::os::fd::RawFd, buf: &[u8], pos: u64) -> std::io::Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let rest = &buf[done..];
        let at = libc::off_t::try_from(pos + done as u64)
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
        // SAFETY: `rest` is a live, initialised buffer of `rest.len()` bytes
        // and `fd` an open file descriptor owned by the caller's file.
        let n = unsafe { libc::pwrite(fd, rest.as_ptr().cast(), rest.len(), at) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::WriteZero));
        }
        done += n as usize;
    }
    Ok(())
}

thread_local! {
    /// Directories whose device this thread has primed (see module docs).
    static PRIMED: RefCell<HashSet<PathBuf>> = RefCell::new(HashSet::new());
}

/// The file system a store runs on (see the module docs).
#[derive(Debug, Clone, Default)]
pub enum Disk {
    /// The machine's file system: io_uring DMA files and `std::fs`.
    #[default]
    Real,
    /// The machine's file system through the page cache: block files are
    /// glommio buffered files (io_uring reads and writes, no O_DIRECT), the
    /// rest as [`Disk::Real`]. For `sync: interval`, where a write that has
    /// reached the page cache is as good as it gets until the next periodic
    /// sync — and survives a SIGKILL — so the PubAck need not wait for the
    /// device as an O_DIRECT write does (Go acknowledges at the same point).
    PageCache,
    /// The simulated disk (tests only).
    #[cfg(feature = "sim")]
    Sim(crate::sim::disk::SimDisk),
}

/// An open file: a block file or a consumer state slot.
pub(crate) struct BlockFile {
    /// The implementation.
    imp: FileImpl,
    /// Its path (for errors and logs).
    path: PathBuf,
}

/// The two kinds of open files.
enum FileImpl {
    /// A glommio DMA file (in an `Rc` so `close` can take it back).
    Dma(Rc<DmaFile>),
    /// A glommio buffered file ([`Disk::PageCache`]).
    Buffered(Rc<BufferedFile>),
    /// A simulated file.
    #[cfg(feature = "sim")]
    Sim(crate::sim::disk::SimFile),
}

fn gio<T>(op: &'static str, path: &Path, e: glommio::GlommioError<T>) -> StoreError {
    // Keep the OS error number (ENOSPC matters to callers); glommio's own
    // conversion to io::Error drops it for its "enhanced" I/O errors.
    let errno = match &e {
        glommio::GlommioError::EnhancedIoError { source, .. } => source.raw_os_error(),
        glommio::GlommioError::IoError(source) => source.raw_os_error(),
        _ => None,
    };
    let message = match &e {
        glommio::GlommioError::EnhancedIoError { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    StoreError::Io {
        op,
        path: path.to_path_buf(),
        message,
        errno,
    }
}

#[cfg(feature = "sim")]
fn sim(op: &'static str, path: &Path, e: crate::sim::disk::SimError) -> StoreError {
    StoreError::Io {
        op,
        path: path.to_path_buf(),
        message: e.message.to_string(),
        errno: Some(e.errno),
    }
}

#[cfg(feature = "sim")]
fn is_missing(e: &crate::sim::disk::SimError) -> bool {
    e.errno == libc::ENOENT
}

/// Makes sure glommio's IOPOLL probe on this thread saw real data on the
/// device of `dir` (see module docs). Cheap after the first call.
async fn prime_iopoll_probe(dir: &Path) -> StoreResult<()> {
    if PRIMED.with(|p| p.borrow().contains(dir)) {
        return Ok(());
    }
    let probe = dir
        .join(format!(".iopoll-probe-{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&probe, vec![0u8; 4096]).map_err(|e| StoreError::io("write", &probe, &e))?;
    let opened = DmaFile::open(&probe).await;
    let _ = std::fs::remove_file(&probe);
    let file = opened.map_err(|e| gio("open", &probe, e))?;
    let _ = file.close().await;
    PRIMED.with(|p| p.borrow_mut().insert(dir.to_path_buf()));
    Ok(())
}

impl Disk {
    /// Before the first DMA file of this thread on `dir`'s device (see the
    /// module docs); nothing to do on the simulated disk.
    pub(crate) async fn prime(&self, dir: &Path) -> StoreResult<()> {
        match self {
            Disk::Real => prime_iopoll_probe(dir).await,
            Disk::PageCache => Ok(()),
            #[cfg(feature = "sim")]
            Disk::Sim(_) => Ok(()),
        }
    }

    /// Opens `path` for reading and writing as this disk's kind of file;
    /// `create_new`: the file must not exist yet (`O_CREAT | O_EXCL`).
    async fn open_impl(&self, path: &Path, create_new: bool) -> StoreResult<FileImpl> {
        let op = if create_new { "create" } else { "open" };
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create_new(create_new);
        Ok(match self {
            Disk::Real => FileImpl::Dma(Rc::new(
                opts.dma_open(path).await.map_err(|e| gio(op, path, e))?,
            )),
            Disk::PageCache => FileImpl::Buffered(Rc::new(
                opts.buffered_open(path)
                    .await
                    .map_err(|e| gio(op, path, e))?,
            )),
            #[cfg(feature = "sim")]
            Disk::Sim(d) => FileImpl::Sim(if create_new {
                d.create_new(path).await.map_err(|e| sim(op, path, e))?
            } else {
                d.open(path).await.map_err(|e| sim(op, path, e))?
            }),
        })
    }

    /// Creates `path` (which must not exist) at `size` bytes, all zero except
    /// `header` at offset 0, and makes its content and size durable (not its
    /// name: see [`Disk::sync_dir`]).
    pub(crate) async fn create_zeroed(
        &self,
        path: &Path,
        size: u64,
        header: &[u8],
    ) -> StoreResult<BlockFile> {
        let imp = self.open_impl(path, true).await?;
        let bf = BlockFile {
            imp,
            path: path.to_path_buf(),
        };
        let mut pos = 0u64;
        while pos < size {
            let len = ((size - pos) as usize).min(ZERO_CHUNK);
            bf.write_with(pos, len, |buf| {
                buf.fill(0);
                if pos == 0 {
                    buf[..header.len()].copy_from_slice(header);
                }
            })
            .await?;
            pos += len as u64;
        }
        bf.sync().await?;
        Ok(bf)
    }

    /// Opens an existing file for reading and writing.
    pub(crate) async fn open(&self, path: &Path) -> StoreResult<BlockFile> {
        let imp = self.open_impl(path, false).await?;
        Ok(BlockFile {
            imp,
            path: path.to_path_buf(),
        })
    }

    /// `fsync` of a directory, so created, renamed or removed entries survive
    /// power loss.
    pub(crate) async fn sync_dir(&self, dir: &Path) -> StoreResult<()> {
        match self {
            Disk::Real | Disk::PageCache => {
                let d = Directory::open(dir)
                    .await
                    .map_err(|e| gio("open", dir, e))?;
                d.sync().await.map_err(|e| gio("fsync", dir, e))?;
                let _ = d.close().await;
                Ok(())
            }
            #[cfg(feature = "sim")]
            Disk::Sim(d) => d.sync_dir(dir).await.map_err(|e| sim("fsync", dir, e)),
        }
    }

    /// Creates a directory and its parents (not durable by itself).
    pub(crate) fn create_dir_all(&self, dir: &Path) -> StoreResult<()> {
        match self {
            Disk::Real | Disk::PageCache => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::io("mkdir", dir, &e))
            }
            #[cfg(feature = "sim")]
            Disk::Sim(d) => d.create_dir_all(dir).map_err(|e| sim("mkdir", dir, e)),
        }
    }

    /// Creates `dir` and its missing parents and makes each new entry durable
    /// (the parent of every directory created is synced, top down). Returns
    /// true when `dir` did not exist.
    pub(crate) async fn create_dir_durable(&self, dir: &Path) -> StoreResult<bool> {
        let mut missing = Vec::new();
        let mut at = Some(dir);
        // A relative path ends in "" (the working directory, which exists).
        while let Some(p) = at.filter(|p| !p.as_os_str().is_empty()) {
            if self.is_dir(p)? {
                break;
            }
            missing.push(p.to_path_buf());
            at = p.parent();
        }
        if missing.is_empty() {
            return Ok(false);
        }
        self.create_dir_all(dir)?;
        for created in missing.iter().rev() {
            let parent = match created.parent() {
                Some(p) if p.as_os_str().is_empty() => Path::new("."),
                Some(p) => p,
                None => continue,
            };
            self.sync_dir(parent).await?;
        }
        Ok(true)
    }

    /// Removes a file; a missing file is fine.
    pub(crate) fn remove_file(&self, path: &Path) -> StoreResult<()> {
        match self {
            Disk::Real | Disk::PageCache => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StoreError::io("unlink", path, &e)),
            },
            #[cfg(feature = "sim")]
            Disk::Sim(d) => match d.remove_file(path) {
                Err(e) if !is_missing(&e) => Err(sim("unlink", path, e)),
                _ => Ok(()),
            },
        }
    }

    /// Removes a directory and everything in it; returns false when it was
    /// not there.
    pub(crate) fn remove_dir_all(&self, dir: &Path) -> StoreResult<bool> {
        match self {
            Disk::Real | Disk::PageCache => match std::fs::remove_dir_all(dir) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(StoreError::io("remove", dir, &e)),
            },
            #[cfg(feature = "sim")]
            Disk::Sim(d) => match d.remove_dir_all(dir) {
                Ok(()) => Ok(true),
                Err(e) if is_missing(&e) => Ok(false),
                Err(e) => Err(sim("remove", dir, e)),
            },
        }
    }

    /// Renames a file (atomic on one file system).
    pub(crate) fn rename(&self, from: &Path, to: &Path) -> StoreResult<()> {
        match self {
            Disk::Real | Disk::PageCache => {
                std::fs::rename(from, to).map_err(|e| StoreError::io("rename", from, &e))
            }
            #[cfg(feature = "sim")]
            Disk::Sim(d) => d.rename(from, to).map_err(|e| sim("rename", from, e)),
        }
    }

    /// The names in `dir`.
    fn list(&self, dir: &Path) -> StoreResult<Vec<String>> {
        match self {
            Disk::Real | Disk::PageCache => {
                let rd = std::fs::read_dir(dir).map_err(|e| StoreError::io("readdir", dir, &e))?;
                let mut out = Vec::new();
                for entry in rd {
                    let entry = entry.map_err(|e| StoreError::io("readdir", dir, &e))?;
                    if let Some(name) = entry.file_name().to_str() {
                        out.push(name.to_string());
                    }
                }
                Ok(out)
            }
            #[cfg(feature = "sim")]
            Disk::Sim(d) => Ok(d
                .list(dir)
                .map_err(|e| sim("readdir", dir, e))?
                .into_iter()
                .filter_map(|n| n.to_str().map(str::to_string))
                .collect()),
        }
    }

    /// Block files in `dir`: `(index, path)` sorted by index. Other files are ignored.
    pub(crate) fn list_blocks(&self, dir: &Path) -> StoreResult<Vec<(u32, PathBuf)>> {
        let mut out: Vec<(u32, PathBuf)> = self
            .list(dir)?
            .into_iter()
            .filter_map(|name| {
                let index = name.strip_suffix(".blk")?.parse::<u32>().ok()?;
                Some((index, dir.join(name)))
            })
            .collect();
        out.sort_by_key(|(i, _)| *i);
        Ok(out)
    }

    /// Files in `dir` whose names end with `suffix`, sorted.
    pub(crate) fn list_suffix(&self, dir: &Path, suffix: &str) -> StoreResult<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = self
            .list(dir)?
            .into_iter()
            .filter(|n| n.ends_with(suffix))
            .map(|n| dir.join(n))
            .collect();
        out.sort();
        Ok(out)
    }

    /// `Some(true)` for a directory, `Some(false)` for anything else, `None`
    /// when nothing is there.
    fn stat(&self, path: &Path) -> StoreResult<Option<bool>> {
        match self {
            Disk::Real | Disk::PageCache => match std::fs::metadata(path) {
                Ok(m) => Ok(Some(m.is_dir())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::io("stat", path, &e)),
            },
            #[cfg(feature = "sim")]
            Disk::Sim(d) => d.stat(path).map_err(|e| sim("stat", path, e)),
        }
    }

    /// Whether anything is at `path`.
    pub(crate) fn exists(&self, path: &Path) -> StoreResult<bool> {
        Ok(self.stat(path)?.is_some())
    }

    /// Whether `path` is a directory.
    pub(crate) fn is_dir(&self, path: &Path) -> StoreResult<bool> {
        Ok(self.stat(path)? == Some(true))
    }

    /// Reads a whole (small) file.
    pub(crate) async fn read_small(&self, path: &Path) -> StoreResult<Vec<u8>> {
        match self {
            Disk::Real | Disk::PageCache => {
                std::fs::read(path).map_err(|e| StoreError::io("read", path, &e))
            }
            #[cfg(feature = "sim")]
            Disk::Sim(d) => {
                let f = d.open(path).await.map_err(|e| sim("open", path, e))?;
                f.read(0, usize::MAX, path)
                    .await
                    .map_err(|e| sim("read", path, e))
            }
        }
    }

    /// Creates (or replaces) a small file with `data` and fsyncs it. Plain
    /// blocking I/O on the real disk: used for rare, tiny files (erase redo).
    pub(crate) async fn write_small_synced(&self, path: &Path, data: &[u8]) -> StoreResult<()> {
        match self {
            Disk::Real | Disk::PageCache => {
                use std::io::Write;
                let mut f =
                    std::fs::File::create(path).map_err(|e| StoreError::io("create", path, &e))?;
                f.write_all(data)
                    .map_err(|e| StoreError::io("write", path, &e))?;
                f.sync_all().map_err(|e| StoreError::io("fsync", path, &e))
            }
            #[cfg(feature = "sim")]
            Disk::Sim(d) => {
                // `File::create` truncates an existing file; here a stale one
                // is replaced by a new file of the same name.
                if d.stat(path).map_err(|e| sim("stat", path, e))?.is_some() {
                    d.remove_file(path).map_err(|e| sim("unlink", path, e))?;
                }
                let f = d
                    .create_new(path)
                    .await
                    .map_err(|e| sim("create", path, e))?;
                f.write(0, data, path)
                    .await
                    .map_err(|e| sim("write", path, e))?;
                f.fsync(path).await.map_err(|e| sim("fsync", path, e))
            }
        }
    }
}

impl BlockFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `data` at `pos`; both must be sector-aligned.
    pub(crate) async fn write_aligned(&self, pos: u64, data: &[u8]) -> StoreResult<()> {
        self.write_with(pos, data.len(), |buf| buf.copy_from_slice(data))
            .await
    }

    /// Writes `len` bytes at `pos` (both sector-aligned) that `fill` puts
    /// straight into the DMA buffer (no intermediate copy on the real disk).
    pub(crate) async fn write_with(
        &self,
        pos: u64,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> StoreResult<()> {
        debug_assert_eq!(pos % SECTOR, 0);
        debug_assert_eq!(len as u64 % SECTOR, 0);
        match &self.imp {
            FileImpl::Dma(file) => {
                let mut buf = file.alloc_dma_buffer(len);
                fill(buf.as_bytes_mut());
                let n = file
                    .write_at(buf, pos)
                    .await
                    .map_err(|e| gio("write", &self.path, e))?;
                if n != len {
                    return Err(short_write(&self.path));
                }
                Ok(())
            }
            FileImpl::Buffered(file) => {
                let mut buf = vec![0u8; len];
                fill(&mut buf);
                if len <= INLINE_WRITE_MAX {
                    return pwrite_all(file.as_raw_fd(), &buf, pos)
                        .map_err(|e| StoreError::io("write", &self.path, &e));
                }
                let n = file
                    .write_at(buf, pos)
                    .await
                    .map_err(|e| gio("write", &self.path, e))?;
                if n != len {
                    return Err(short_write(&self.path));
                }
                Ok(())
            }
            #[cfg(feature = "sim")]
            FileImpl::Sim(f) => {
                let mut buf = vec![0u8; len];
                fill(&mut buf);
                f.write(pos, &buf, &self.path)
                    .await
                    .map_err(|e| sim("write", &self.path, e))
            }
        }
    }

    /// Reads up to `len` bytes at `pos` (fewer at the end of the file).
    pub(crate) async fn read(&self, pos: u64, len: usize) -> StoreResult<Bytes> {
        match &self.imp {
            FileImpl::Dma(file) => {
                let r = file
                    .read_at(pos, len)
                    .await
                    .map_err(|e| gio("read", &self.path, e))?;
                Ok(Bytes::copy_from_slice(&r))
            }
            FileImpl::Buffered(file) => {
                let r = file
                    .read_at(pos, len)
                    .await
                    .map_err(|e| gio("read", &self.path, e))?;
                Ok(Bytes::copy_from_slice(&r))
            }
            #[cfg(feature = "sim")]
            FileImpl::Sim(f) => f
                .read(pos, len, &self.path)
                .await
                .map(Bytes::from)
                .map_err(|e| sim("read", &self.path, e)),
        }
    }

    /// The file's size.
    pub(crate) async fn size(&self) -> StoreResult<u64> {
        match &self.imp {
            FileImpl::Dma(file) => file
                .file_size()
                .await
                .map_err(|e| gio("stat", &self.path, e)),
            FileImpl::Buffered(file) => file
                .file_size()
                .await
                .map_err(|e| gio("stat", &self.path, e)),
            #[cfg(feature = "sim")]
            FileImpl::Sim(f) => f
                .size(&self.path)
                .await
                .map_err(|e| sim("stat", &self.path, e)),
        }
    }

    /// `fdatasync` (see the module docs for what a failure means).
    pub(crate) async fn sync(&self) -> StoreResult<()> {
        match &self.imp {
            FileImpl::Dma(file) => file
                .fdatasync()
                .await
                .map_err(|e| gio("fdatasync", &self.path, e)),
            FileImpl::Buffered(file) => file
                .fdatasync()
                .await
                .map_err(|e| gio("fdatasync", &self.path, e)),
            #[cfg(feature = "sim")]
            FileImpl::Sim(f) => f
                .fdatasync(&self.path)
                .await
                .map_err(|e| sim("fdatasync", &self.path, e)),
        }
    }

    /// Closes the file (best effort: the data is already where it will be).
    pub(crate) async fn close(self) {
        match self.imp {
            FileImpl::Dma(file) => {
                if let Ok(file) = Rc::try_unwrap(file) {
                    let _ = file.close().await;
                }
            }
            FileImpl::Buffered(file) => {
                if let Ok(file) = Rc::try_unwrap(file) {
                    let _ = file.close().await;
                }
            }
            #[cfg(feature = "sim")]
            FileImpl::Sim(_) => {}
        }
    }
}

fn short_write(path: &Path) -> StoreError {
    StoreError::Io {
        op: "write",
        path: path.to_path_buf(),
        message: "short write".into(),
        errno: None,
    }
}

/// The file name of block `index`.
pub(crate) fn block_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:010}.blk"))
}
