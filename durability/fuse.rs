//! A FUSE file system whose contents live in the storage crate's simulated
//! disk ([`SimDisk`]), so the real `jetcore` binary can run on a disk that
//! knows what a power loss keeps.
//!
//! The kernel sends every file operation of the mounted directory here; each
//! becomes the matching [`SimDisk`] call: `write` a pending write, `fsync` /
//! `fdatasync` of a file makes its writes durable, `fsyncdir` makes a
//! directory's entries durable, `create`/`mkdir`/`unlink`/`rename` are
//! directory operations queued until that. After the server is killed and the
//! file system unmounted, [`SimDisk::power_loss`] keeps the durable image plus
//! a seeded part of the rest (torn at 512 B / 4 KiB, reordered), and the next
//! cycle mounts that image.
//!
//! Every open is answered with `FOPEN_DIRECT_IO`, so no page cache stands
//! between the server and the model: the server's O_DIRECT io_uring writes and
//! its buffered `std::fs` writes alike arrive here at the moment they are
//! made, and every read is served from the model. Entry and attribute
//! lifetimes are zero for the same reason.
//!
//! Inode numbers are handed out per path as the kernel looks names up and
//! follow renames; a number is never reused within one mount.
//!
//! The simulation renames within one directory only (`EXDEV` otherwise);
//! jetcore never renames across directories.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use futures_lite::future::block_on;
use jetcore_storage::sim::disk::{SimDisk, SimError, SimFile};

/// Where the simulated disk's root sits in its own path space. The mount
/// point's real path does not matter to the model.
pub const SIM_ROOT: &str = "/sim";

/// How long the kernel may cache names and attributes: not at all, so every
/// size it uses comes from the model.
const TTL: Duration = Duration::ZERO;

/// FUSE's inode number of the mount's root directory.
const ROOT_INO: u64 = 1;

/// Deliberate lies a broken disk tells, so a run can show that the checks
/// notice lost acknowledged data (`--break`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// `fsync`/`fdatasync` of a file answers success without making anything
    /// durable (a disk with a volatile write cache that ignores flushes).
    FileSync,
    /// `fsync` of a directory answers success without making its entries
    /// durable.
    DirSync,
}

/// Which inode numbers name which paths, and the open files.
#[derive(Default)]
struct Tables {
    /// Inode number → current path in the model.
    paths: HashMap<u64, PathBuf>,
    /// Path → inode number (the reverse of `paths`).
    inos: HashMap<PathBuf, u64>,
    /// The next inode number to hand out.
    next_ino: u64,
    /// Open file handles, with the path they were opened at (for the
    /// model's error texts; an open file follows its inode, not its name).
    files: HashMap<u64, (SimFile, PathBuf)>,
    /// The next file handle.
    next_fh: u64,
}

impl Tables {
    fn new() -> Tables {
        let mut t = Tables {
            next_ino: ROOT_INO + 1,
            next_fh: 1,
            ..Tables::default()
        };
        t.paths.insert(ROOT_INO, PathBuf::from(SIM_ROOT));
        t.inos.insert(PathBuf::from(SIM_ROOT), ROOT_INO);
        t
    }

    fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.paths.get(&ino.0).cloned().ok_or(Errno::ENOENT)
    }

    fn ino_for(&mut self, path: &Path) -> u64 {
        if let Some(&ino) = self.inos.get(path) {
            return ino;
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.paths.insert(ino, path.to_path_buf());
        self.inos.insert(path.to_path_buf(), ino);
        ino
    }

    /// Forgets the numbers of `path` and everything below it (removed).
    fn drop_tree(&mut self, path: &Path) {
        let gone: Vec<PathBuf> = self
            .inos
            .keys()
            .filter(|p| p.starts_with(path))
            .cloned()
            .collect();
        for p in gone {
            if let Some(ino) = self.inos.remove(&p) {
                self.paths.remove(&ino);
            }
        }
    }

    /// Moves the numbers of `from` and everything below it to `to`.
    fn move_tree(&mut self, from: &Path, to: &Path) {
        self.drop_tree(to);
        let moved: Vec<(PathBuf, u64)> = self
            .inos
            .iter()
            .filter(|(p, _)| p.starts_with(from))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        for (p, ino) in moved {
            self.inos.remove(&p);
            let rest = p.strip_prefix(from).unwrap_or(Path::new(""));
            let np = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            self.paths.insert(ino, np.clone());
            self.inos.insert(np, ino);
        }
    }
}

/// The FUSE file system over one [`SimDisk`] (see the module docs).
pub struct SimFs {
    /// The model; its own lock serialises every operation.
    disk: SimDisk,
    /// Inode numbers and open files.
    tables: Mutex<Tables>,
    /// The lie this disk tells, if any.
    lie: Option<Lie>,
}

fn errno(e: SimError) -> Errno {
    Errno::from_i32(e.errno)
}

fn attr(ino: u64, dir: bool, size: u64) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: if dir {
            FileType::Directory
        } else {
            FileType::RegularFile
        },
        perm: if dir { 0o755 } else { 0o644 },
        nlink: if dir { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl SimFs {
    /// A file system serving `disk` (whose root is [`SIM_ROOT`]).
    pub fn new(disk: SimDisk, lie: Option<Lie>) -> SimFs {
        SimFs {
            disk,
            tables: Mutex::new(Tables::new()),
            lie,
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.tables().path(ino)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(self.path(parent)?.join(name))
    }

    /// The attributes of whatever is at `path`, numbering it if new.
    fn stat(&self, path: &Path) -> Result<FileAttr, Errno> {
        let is_dir = self.disk.stat(path).map_err(errno)?.ok_or(Errno::ENOENT)?;
        let size = if is_dir {
            4096
        } else {
            let f = block_on(self.disk.open(path)).map_err(errno)?;
            block_on(f.size(path)).map_err(errno)?
        };
        let ino = self.tables().ino_for(path);
        Ok(attr(ino, is_dir, size))
    }

    fn file(&self, fh: FileHandle) -> Result<(SimFile, PathBuf), Errno> {
        let t = self.tables();
        t.files.get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    fn open_handle(&self, f: SimFile, path: PathBuf) -> FileHandle {
        let mut t = self.tables();
        let fh = t.next_fh;
        t.next_fh += 1;
        t.files.insert(fh, (f, path));
        FileHandle(fh)
    }

    fn truncate(&self, path: &Path, len: u64) -> Result<(), Errno> {
        let f = block_on(self.disk.open(path)).map_err(errno)?;
        f.set_len(len, path).map_err(errno)
    }
}

impl Filesystem for SimFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.child(parent, name).and_then(|p| self.stat(&p)) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.path(ino).and_then(|p| self.stat(&p)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = self.path(ino).and_then(|p| {
            if let Some(len) = size {
                self.truncate(&p, len)?;
            }
            self.stat(&p)
        });
        match result {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let result = self.child(parent, name).and_then(|p| {
            if self.disk.stat(&p).map_err(errno)?.is_some() {
                return Err(Errno::EEXIST);
            }
            self.disk.create_dir_all(&p).map_err(errno)?;
            self.stat(&p)
        });
        match result {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.child(parent, name).and_then(|p| {
            self.disk.remove_file(&p).map_err(errno)?;
            self.tables().drop_tree(&p);
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.child(parent, name).and_then(|p| {
            if !self.disk.list(&p).map_err(errno)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            self.disk.remove_dir_all(&p).map_err(errno)?;
            self.tables().drop_tree(&p);
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let result = (|| {
            let from = self.child(parent, name)?;
            let to = self.child(newparent, newname)?;
            if let Some(true) = self.disk.stat(&to).map_err(errno)? {
                // Renaming over a directory: POSIX needs it empty.
                if !self.disk.list(&to).map_err(errno)?.is_empty() {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            self.disk.rename(&from, &to).map_err(errno)?;
            self.tables().move_tree(&from, &to);
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = self.path(ino).and_then(|p| {
            if flags.0 & libc::O_TRUNC != 0 {
                self.truncate(&p, 0)?;
            }
            let f = block_on(self.disk.open(&p)).map_err(errno)?;
            Ok(self.open_handle(f, p))
        });
        match result {
            Ok(fh) => reply.opened(fh, FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let result = self.child(parent, name).and_then(|p| {
            let f = match self.disk.stat(&p).map_err(errno)? {
                Some(true) => return Err(Errno::EISDIR),
                Some(false) if flags & libc::O_EXCL != 0 => return Err(Errno::EEXIST),
                Some(false) => {
                    if flags & libc::O_TRUNC != 0 {
                        self.truncate(&p, 0)?;
                    }
                    block_on(self.disk.open(&p)).map_err(errno)?
                }
                None => block_on(self.disk.create_new(&p)).map_err(errno)?,
            };
            let a = self.stat(&p)?;
            Ok((a, self.open_handle(f, p)))
        });
        match result {
            Ok((a, fh)) => reply.created(&TTL, &a, Generation(0), fh, FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let result = self
            .file(fh)
            .and_then(|(f, p)| block_on(f.read(offset, size as usize, &p)).map_err(errno));
        match result {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let result = self
            .file(fh)
            .and_then(|(f, p)| block_on(f.write(offset, data, &p)).map_err(errno));
        match result {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) makes nothing durable.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.tables().files.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let result = self.file(fh).and_then(|(f, p)| {
            if self.lie == Some(Lie::FileSync) {
                return Ok(());
            }
            if datasync {
                block_on(f.fdatasync(&p)).map_err(errno)
            } else {
                block_on(f.fsync(&p)).map_err(errno)
            }
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let result = self.path(ino).and_then(|p| {
            let names = self.disk.list(&p).map_err(errno)?;
            let mut entries = vec![
                (ino.0, FileType::Directory, OsStr::new(".").to_os_string()),
                (ino.0, FileType::Directory, OsStr::new("..").to_os_string()),
            ];
            for name in names {
                let child = p.join(&name);
                let is_dir = self.disk.stat(&child).map_err(errno)?.unwrap_or(false);
                let child_ino = self.tables().ino_for(&child);
                let kind = if is_dir {
                    FileType::Directory
                } else {
                    FileType::RegularFile
                };
                entries.push((child_ino, kind, name));
            }
            Ok(entries)
        });
        match result {
            Ok(entries) => {
                for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize)
                {
                    if reply.add(INodeNo(ino), i as u64 + 1, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let result = self.path(ino).and_then(|p| {
            if self.lie == Some(Lie::DirSync) {
                return Ok(());
            }
            block_on(self.disk.sync_dir(&p)).map_err(errno)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // A roomy disk: 16 GiB in 4 KiB blocks, all free.
        let blocks = (16u64 << 30) / 4096;
        reply.statfs(blocks, blocks, blocks, 1 << 20, 1 << 20, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn numbers_follow_renames_and_are_never_reused() {
        let mut t = Tables::new();
        let dir = t.ino_for(&p("/sim/a"));
        let file = t.ino_for(&p("/sim/a/f"));
        let other = t.ino_for(&p("/sim/b"));
        assert_eq!(t.ino_for(&p("/sim/a/f")), file);
        // A directory rename carries what is below it.
        t.move_tree(&p("/sim/a"), &p("/sim/c"));
        assert_eq!(t.path(INodeNo(dir)).unwrap(), p("/sim/c"));
        assert_eq!(t.path(INodeNo(file)).unwrap(), p("/sim/c/f"));
        // Renaming over an existing name drops the name it replaces.
        t.move_tree(&p("/sim/c"), &p("/sim/b"));
        assert_eq!(t.path(INodeNo(dir)).unwrap(), p("/sim/b"));
        assert!(t.path(INodeNo(other)).is_err());
        t.drop_tree(&p("/sim/b"));
        assert!(t.path(INodeNo(file)).is_err());
        let again = t.ino_for(&p("/sim/b"));
        assert!(again > other && again > file, "numbers are not reused");
        assert_eq!(t.path(INodeNo(ROOT_INO)).unwrap(), p(SIM_ROOT));
    }
}
