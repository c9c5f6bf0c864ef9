//! The FileStore's only contact with the file system: glommio DMA files
//! (O_DIRECT through io_uring) and a few directory operations.
//!
//! Kept small on purpose: a simulated disk (power loss, torn writes) will
//! stand in for this module in tests. Rules that come from measurements on
//! these machines (`docs/architecture.md`, glommio notes):
//! - every block file is created at full size and zero-filled, so appends are
//!   overwrites (an extending O_DIRECT append + fdatasync costs ~4 ms);
//! - every write is sector-aligned in offset and length;
//! - before the first DMA file on a thread, a non-empty file is opened so
//!   glommio's IOPOLL probe reads real data and correctly decides "no
//!   polling" (an empty first file makes every later read fail with
//!   EOPNOTSUPP: glommio #605/#670).

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use glommio::io::{Directory, DmaFile, OpenOptions};

use crate::error::{StoreError, StoreResult};

use super::format::SECTOR;

/// Zero-fill chunk: 1 MiB per write keeps block creation to a handful of
/// large writes.
const ZERO_CHUNK: usize = 1 << 20;

thread_local! {
    /// Directories whose device this thread has primed (see module docs).
    static PRIMED: RefCell<HashSet<PathBuf>> = RefCell::new(HashSet::new());
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

/// Makes sure glommio's IOPOLL probe on this thread saw real data on the
/// device of `dir` (see module docs). Cheap after the first call.
pub(crate) async fn prime_iopoll_probe(dir: &Path) -> StoreResult<()> {
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

/// An open block file.
pub(crate) struct BlockFile {
    file: Rc<DmaFile>,
    path: PathBuf,
}

impl BlockFile {
    /// Creates `path` (which must not exist) at `size` bytes, all zero except
    /// `header` at offset 0, and makes file and content durable.
    pub(crate) async fn create_zeroed(
        path: &Path,
        size: u64,
        header: &[u8],
    ) -> StoreResult<BlockFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .dma_open(path)
            .await
            .map_err(|e| gio("create", path, e))?;
        let bf = BlockFile {
            file: Rc::new(file),
            path: path.to_path_buf(),
        };
        let mut pos = 0u64;
        while pos < size {
            let len = ((size - pos) as usize).min(ZERO_CHUNK);
            let mut buf = bf.file.alloc_dma_buffer(len);
            buf.as_bytes_mut().fill(0);
            if pos == 0 {
                buf.as_bytes_mut()[..header.len()].copy_from_slice(header);
            }
            let n = bf
                .file
                .write_at(buf, pos)
                .await
                .map_err(|e| gio("write", path, e))?;
            if n != len {
                return Err(short_write(path));
            }
            pos += len as u64;
        }
        bf.sync().await?;
        Ok(bf)
    }

    /// Opens an existing block file for reading and writing.
    pub(crate) async fn open(path: &Path) -> StoreResult<BlockFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .dma_open(path)
            .await
            .map_err(|e| gio("open", path, e))?;
        Ok(BlockFile {
            file: Rc::new(file),
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `data` at `pos`; both must be sector-aligned.
    pub(crate) async fn write_aligned(&self, pos: u64, data: &[u8]) -> StoreResult<()> {
        self.write_with(pos, data.len(), |buf| buf.copy_from_slice(data))
            .await
    }

    /// Writes `len` bytes at `pos` (both sector-aligned) that `fill` puts
    /// straight into the DMA buffer (no intermediate copy).
    pub(crate) async fn write_with(
        &self,
        pos: u64,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> StoreResult<()> {
        debug_assert_eq!(pos % SECTOR, 0);
        debug_assert_eq!(len as u64 % SECTOR, 0);
        let mut buf = self.file.alloc_dma_buffer(len);
        fill(buf.as_bytes_mut());
        let n = self
            .file
            .write_at(buf, pos)
            .await
            .map_err(|e| gio("write", &self.path, e))?;
        if n != len {
            return Err(short_write(&self.path));
        }
        Ok(())
    }

    /// Reads up to `len` bytes at `pos` (fewer at the end of the file).
    pub(crate) async fn read(&self, pos: u64, len: usize) -> StoreResult<Bytes> {
        let r = self
            .file
            .read_at(pos, len)
            .await
            .map_err(|e| gio("read", &self.path, e))?;
        Ok(Bytes::copy_from_slice(&r))
    }

    /// The file's size.
    pub(crate) async fn size(&self) -> StoreResult<u64> {
        self.file
            .file_size()
            .await
            .map_err(|e| gio("stat", &self.path, e))
    }

    /// `fdatasync`.
    pub(crate) async fn sync(&self) -> StoreResult<()> {
        self.file
            .fdatasync()
            .await
            .map_err(|e| gio("fdatasync", &self.path, e))
    }

    /// Closes the file (best effort: the data is already where it will be).
    pub(crate) async fn close(self) {
        if let Ok(file) = Rc::try_unwrap(self.file) {
            let _ = file.close().await;
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

/// `fsync` of a directory, so created, renamed or removed entries survive power loss.
pub(crate) async fn sync_dir(dir: &Path) -> StoreResult<()> {
    let d = Directory::open(dir)
        .await
        .map_err(|e| gio("open", dir, e))?;
    d.sync().await.map_err(|e| gio("fsync", dir, e))?;
    let _ = d.close().await;
    Ok(())
}

/// Creates a directory and its parents (open time only).
pub(crate) fn create_dir_all(dir: &Path) -> StoreResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io("mkdir", dir, &e))
}

/// Removes a file (a dead block); a missing file is fine.
pub(crate) fn remove_file(path: &Path) -> StoreResult<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("unlink", path, &e)),
    }
}

/// Block files in `dir`: `(index, path)` sorted by index. Other files are ignored.
pub(crate) fn list_blocks(dir: &Path) -> StoreResult<Vec<(u32, PathBuf)>> {
    let rd = std::fs::read_dir(dir).map_err(|e| StoreError::io("readdir", dir, &e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| StoreError::io("readdir", dir, &e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".blk") else {
            continue;
        };
        if let Ok(index) = stem.parse::<u32>() {
            out.push((index, entry.path()));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// Files in `dir` whose names end with `suffix`, sorted.
pub(crate) fn list_suffix(dir: &Path, suffix: &str) -> StoreResult<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| StoreError::io("readdir", dir, &e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| StoreError::io("readdir", dir, &e))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(suffix))
        {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Renames a file (atomic on one file system).
pub(crate) fn rename(from: &Path, to: &Path) -> StoreResult<()> {
    std::fs::rename(from, to).map_err(|e| StoreError::io("rename", from, &e))
}

/// The file name of block `index`.
pub(crate) fn block_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:010}.blk"))
}
