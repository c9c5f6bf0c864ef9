//! JetStream on one core: the settings every core shares and the streams this
//! core owns.
//!
//! Each shard has one [`JetStream`]. It owns the streams placed on its core and
//! answers the meta layer's calls about them (open, info, purge, delete...). Core 0
//! additionally runs the meta layer itself ([`super::meta`]), which decides where
//! streams go and answers the JetStream API.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use jetcore_storage::{Cipher, SyncPolicy};
use sha2::{Digest, Sha256};

use super::errors::ApiError;
use super::stream::{stream_dir, Stream, StreamMeta};
use super::stream_config::CheckLimits;
use crate::client::GLOBAL_ACCOUNT;
use crate::options::{JetStreamCipher, JetStreamSync, Options};
use crate::shard::Shard;

/// JetStream settings, shared by every core (read-only after start).
#[derive(Debug, Clone)]
pub struct JsConfig {
    /// `<store_dir>/jetstream`: accounts' streams live below it.
    pub dir: PathBuf,
    /// When a file store acknowledges an append.
    pub sync: SyncPolicy,
    /// Encryption at rest for file streams.
    pub cipher: Cipher,
    /// JetStream domain; empty for none.
    pub domain: String,
    /// `max_mem` (-1: not set).
    pub max_memory: i64,
    /// `max_file` (-1: not set).
    pub max_store: i64,
    /// What `checkStreamCfg` needs from the server limits.
    pub check: CheckLimits,
    /// The name reported as `cluster.leader` in stream info (Go's server name).
    pub leader: String,
    /// Bytes held by all streams of the server, per storage type, for the
    /// `max_mem`/`max_file` limits (each stream adds its changes).
    pub usage: Arc<StorageUsage>,
    /// What `/varz` and `/jsz` report as `max_memory` and `max_storage`; see
    /// [`ReportedLimits`].
    pub reported: ReportedLimits,
}

/// The storage limits as Go's `JetStreamConfig` reports them. When `max_mem` or
/// `max_file` is not configured Go sizes it from the machine at start
/// (`dynJetStreamConfig`: 75% of the RAM, 75% of the disk space available at the
/// store directory) and shows that figure; jetcore shows the same figures so
/// dashboards see the server's real capacity. Only configured limits are enforced
/// (see [`JsConfig::limit`]): enforcing a computed one would put a shared
/// counter on every publish for a limit nobody asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportedLimits {
    /// `max_memory`: the configured `max_mem`, or 75% of the RAM.
    pub max_memory: i64,
    /// `max_storage`: the configured `max_file`, or 75% of the space available.
    pub max_store: i64,
    /// Go's `compress_ok`: Go passes `CompressOK: true` in the configuration it
    /// starts JetStream with, but replaces that configuration with a computed one
    /// (without the flag) unless both limits are configured above 0. Mirrored, so
    /// the two servers answer alike for the same settings.
    pub compress_ok: bool,
}

/// Go's `JetStreamMaxMemDefault`: the memory limit when the RAM size is unknown.
const MAX_MEMORY_FALLBACK: i64 = 256 * 1024 * 1024;
/// Go's `JetStreamMaxStoreDefault`: the storage limit when the disk cannot be read.
const MAX_STORE_FALLBACK: i64 = 1024 * 1024 * 1024 * 1024;

impl ReportedLimits {
    /// The limits Go reports for `max_memory`/`max_store` as configured (-1: not
    /// set) with the store in `dir`. Reads the machine (two system calls) only for
    /// a limit that is not set.
    pub fn compute(max_memory: i64, max_store: i64, dir: &std::path::Path) -> ReportedLimits {
        ReportedLimits {
            max_memory: if max_memory >= 0 {
                max_memory
            } else {
                system_memory().map_or(MAX_MEMORY_FALLBACK, |m| m / 4 * 3)
            },
            max_store: if max_store >= 0 {
                max_store
            } else {
                disk_available(dir).map_or(MAX_STORE_FALLBACK, |a| (a / 4 * 3) as i64)
            },
            compress_ok: max_memory > 0 && max_store > 0,
        }
    }
}

/// Total RAM in bytes (Go's `sysmem.Memory`: `sysinfo`'s `totalram × mem_unit`).
fn system_memory() -> Option<i64> {
    // SAFETY: sysinfo only writes into the zeroed struct we pass.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable sysinfo struct.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return None;
    }
    let total = (info.totalram as u128) * (info.mem_unit.max(1) as u128);
    (total > 0).then(|| total.min(i64::MAX as u128) as i64)
}

/// Bytes available to this user on the file system of `dir` (Go's `diskAvailable`:
/// `statfs` `f_bavail × f_bsize`). Go creates the directory first; reading the
/// nearest existing parent gives the same file system without that side effect.
fn disk_available(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let existing = dir.ancestors().find(|p| p.exists())?;
    let path = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs only writes into the zeroed struct we pass.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `fs` is a valid, writable statfs struct.
    if unsafe { libc::statfs(path.as_ptr(), &mut fs) } != 0 {
        return None;
    }
    Some((fs.f_bavail as u64).saturating_mul(fs.f_bsize as u64))
}

/// Server-wide bytes in memory and file streams (every core adds to it).
#[derive(Debug, Default)]
pub struct StorageUsage {
    /// Bytes in memory streams.
    pub memory: std::sync::atomic::AtomicI64,
    /// Bytes in file streams.
    pub file: std::sync::atomic::AtomicI64,
}

impl StorageUsage {
    /// The counter of one storage type.
    pub fn of(&self, memory: bool) -> &std::sync::atomic::AtomicI64 {
        if memory {
            &self.memory
        } else {
            &self.file
        }
    }
}

impl JsConfig {
    /// The settings `opts` ask for.
    pub fn from_options(opts: &Options) -> JsConfig {
        let js = &opts.jetstream;
        let sync = match js.sync {
            JetStreamSync::Always => SyncPolicy::Always,
            JetStreamSync::Interval(d) => SyncPolicy::Interval(d),
        };
        let cipher = match &js.key {
            None => Cipher::None,
            Some(key) => {
                // The configured key is a passphrase of any length; the store wants 32
                // bytes. A hash keeps every byte of it (Go derives per-stream keys from
                // it too; the on-disk formats differ anyway).
                let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
                match js.cipher.unwrap_or(JetStreamCipher::ChaCha) {
                    JetStreamCipher::Aes => Cipher::Aes256Gcm(digest),
                    JetStreamCipher::ChaCha => Cipher::ChaCha20Poly1305(digest),
                }
            }
        };
        let dir = js.jetstream_dir();
        JsConfig {
            reported: ReportedLimits::compute(js.max_memory, js.max_store, &dir),
            dir,
            sync,
            cipher,
            domain: js.domain.clone().unwrap_or_default(),
            max_memory: js.max_memory,
            max_store: js.max_store,
            check: CheckLimits {
                max_duplicate_window: js
                    .duplicate_window
                    .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64),
            },
            leader: String::new(),
            usage: Arc::new(StorageUsage::default()),
        }
    }

    /// The server limit for a storage type, when one is configured (`max_mem` /
    /// `max_file`; -1 = not set, which Go sizes from the machine: not enforced here,
    /// only reported, see [`ReportedLimits`]).
    pub fn limit(&self, memory: bool) -> Option<i64> {
        let l = if memory {
            self.max_memory
        } else {
            self.max_store
        };
        (l >= 0).then_some(l)
    }

    /// Directory of a stream of the global account.
    pub fn stream_dir(&self, name: &str) -> PathBuf {
        stream_dir(&self.dir, GLOBAL_ACCOUNT, name)
    }

    /// Directory holding the global account's streams.
    pub fn streams_dir(&self) -> PathBuf {
        self.dir.join(GLOBAL_ACCOUNT).join("streams")
    }
}

/// Usage of the streams of one core.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreUsage {
    /// Bytes in memory streams.
    pub memory: u64,
    /// Bytes in file streams.
    pub storage: u64,
    /// Consumers of the streams.
    pub consumers: usize,
}

/// One core's JetStream.
pub struct JetStream {
    /// Shared settings.
    pub config: Arc<JsConfig>,
    /// Streams this core owns, by name.
    streams: RefCell<HashMap<String, Rc<Stream>>>,
    /// The meta layer (core 0 only).
    pub meta: std::cell::OnceCell<Rc<super::meta::Meta>>,
}

impl JetStream {
    /// JetStream for one core.
    pub fn new(config: Arc<JsConfig>) -> JetStream {
        JetStream {
            config,
            streams: RefCell::new(HashMap::new()),
            meta: std::cell::OnceCell::new(),
        }
    }

    /// How many streams this core owns.
    pub fn stream_count(&self) -> usize {
        self.streams.borrow().len()
    }

    /// Every stream this core owns (for the monitoring endpoints).
    pub fn streams(&self) -> Vec<Rc<Stream>> {
        self.streams.borrow().values().cloned().collect()
    }

    /// A stream this core owns.
    pub fn stream(&self, name: &str) -> Option<Rc<Stream>> {
        self.streams.borrow().get(name).cloned()
    }

    /// Open (or create) a stream on this core. `persist` writes its `meta.json`
    /// (creation, or a restored stream placed on another core); `creating`:
    /// a new stream (STREAM.CREATE), not one restored at start.
    pub async fn open_stream(
        &self,
        shard: &Rc<Shard>,
        meta: StreamMeta,
        persist: bool,
        creating: bool,
    ) -> Result<Rc<Stream>, ApiError> {
        let name = meta.config.name.clone();
        if let Some(s) = self.stream(&name) {
            return Ok(s);
        }
        let dir = self.config.stream_dir(&name);
        // A directory with a meta.json or block files for a stream that is
        // not loaded holds a stream whose metadata was refused at start
        // (damaged or missing meta.json, logged as an ERROR). Creating over
        // it would reopen its blocks under the new config, whose limits could
        // delete them: refuse until an operator moves it away. (A directory
        // with neither is what a crash in the middle of a creation leaves —
        // the meta.json is written last and blocks only at the first
        // message — and is used again.)
        if creating
            && meta.config.storage == super::stream_config::StorageType::File
            && holds_stream_data(&dir)
        {
            return Err(ApiError::stream_create(format!(
                "stream directory {} exists but the stream was not loaded (see the server log); move it away to create the stream anew",
                dir.display()
            )));
        }
        let stream = Stream::open(shard, &self.config, meta, dir, persist).await?;
        self.streams.borrow_mut().insert(name, stream.clone());
        Ok(stream)
    }

    /// Close and forget a stream; `remove` deletes its data.
    pub async fn close_stream(&self, name: &str, remove: bool) -> bool {
        let stream = self.streams.borrow_mut().remove(name);
        match stream {
            Some(s) => {
                s.close(remove).await;
                true
            }
            None => false,
        }
    }

    /// Bytes held by this core's streams.
    pub fn usage(&self) -> CoreUsage {
        let mut u = CoreUsage::default();
        for s in self.streams.borrow().values() {
            u.consumers += s.consumer_count();
            if s.is_memory() {
                u.memory += s.bytes();
            } else {
                u.storage += s.bytes();
            }
        }
        u
    }

    /// Close every stream (graceful shutdown): acknowledged data is durable after.
    pub async fn close_all(&self) {
        let streams: Vec<Rc<Stream>> = self.streams.borrow_mut().drain().map(|(_, s)| s).collect();
        for s in streams {
            s.close(false).await;
        }
    }
}

/// The JetStream of `shard`, or the API error for a server without it.
pub fn of(shard: &Shard) -> Result<Rc<JetStream>, ApiError> {
    shard
        .jetstream
        .get()
        .cloned()
        .ok_or_else(ApiError::not_enabled_for_account)
}

/// Whether `dir` holds a stream's metadata or any block file.
fn holds_stream_data(dir: &std::path::Path) -> bool {
    if dir.join(super::stream::META_FILE).exists() {
        return true;
    }
    std::fs::read_dir(dir.join("msgs")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".blk"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_limits_follow_go() {
        let dir = std::env::temp_dir()
            .join("no-such-dir-for-jetcore")
            .join("jetstream");
        let set = ReportedLimits::compute(1 << 30, 5 << 30, &dir);
        assert_eq!(
            set,
            ReportedLimits {
                max_memory: 1 << 30,
                max_store: 5 << 30,
                compress_ok: true
            }
        );
        // An explicit 0 is kept (no storage of that kind), and Go then starts
        // from its computed configuration, which has no `compress_ok`.
        let zero = ReportedLimits::compute(0, 5 << 30, &dir);
        assert_eq!((zero.max_memory, zero.compress_ok), (0, false));
        // Unset: 75% of this machine, read through the nearest existing parent.
        let dynamic = ReportedLimits::compute(-1, -1, &dir);
        let ram = system_memory().expect("sysinfo works on Linux");
        assert_eq!(dynamic.max_memory, ram / 4 * 3);
        assert!(dynamic.max_store > 0 && dynamic.max_store != MAX_STORE_FALLBACK);
        assert!(!dynamic.compress_ok);
    }
}
