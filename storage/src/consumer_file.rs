//! A consumer's state file: the latest snapshot of its ack state, kept durable.
//!
//! The layer is payload-agnostic: the server hands it encoded snapshots and gets
//! them back at the next open. Two slot files (`state.0`, `state.1`) are written in
//! turn, each record carrying a generation number and a checksum; a write always
//! goes to the slot that does *not* hold the newest valid record, so a torn or lost
//! write leaves the previous snapshot intact. Recovery reads both and keeps the
//! valid record with the higher generation. No rename and no directory fsync per
//! write: the directory is synced once, when the slots are created.
//!
//! Writes are coalesced: [`ConsumerStateFile::write`] never awaits; a writer task
//! writes the newest queued snapshot (older queued ones are skipped) and
//! fdatasyncs it; every [`Durable`] handed out up to that snapshot resolves then.
//!
//! Record layout (little endian), padded with zeros to a multiple of 4 KiB (DMA
//! writes are sector-aligned):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `JCST` |
//! | 1 | format version (1) |
//! | 1 | cipher (0 none, 1 AES-256-GCM, 2 ChaCha20-Poly1305) |
//! | 2 | zero |
//! | 8 | generation |
//! | 4 | payload length `n` (ciphertext and tag when encrypted) |
//! | 12 | nonce (random per record; zero when plain) |
//! | n | payload |
//! | 4 | CRC-32 of everything above |

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::{Cipher, SyncPolicy};
use crate::durable::{CommitTracker, Durable};
use crate::error::{StoreError, StoreResult};
use crate::file::io::{self, BlockFile};

/// Record magic.
const MAGIC: &[u8; 4] = b"JCST";
/// Format version written and understood.
const VERSION: u8 = 1;
/// Header bytes before the payload.
const HEADER: usize = 32;
/// Write granularity (DMA sector alignment).
const ALIGN: usize = 4096;
/// Slot file names.
const SLOTS: [&str; 2] = ["state.0", "state.1"];
/// The largest snapshot accepted (a consumer with millions of pending acks is a
/// few tens of MB; past this something is wrong).
const MAX_SNAPSHOT: usize = 256 * 1024 * 1024;

/// Where and how a consumer's state is kept.
#[derive(Debug, Clone)]
pub struct ConsumerFileConfig {
    /// The consumer's directory.
    pub dir: PathBuf,
    /// Accepted for symmetry with the stream store; every write is fdatasynced
    /// (writes are coalesced, so this costs one sync per flush, not per ack).
    pub sync: SyncPolicy,
    /// Encryption at rest.
    pub cipher: Cipher,
}

/// Shared between the handle and its writer task.
struct Inner {
    /// The two slot files.
    slots: [BlockFile; 2],
    /// The slot holding the newest valid record (the next write goes to the other).
    current: Cell<usize>,
    /// Generation of the newest record written.
    generation: Cell<u64>,
    /// The newest snapshot not yet written, with its epoch.
    queued: RefCell<Option<(Bytes, u64)>>,
    /// Epochs handed out so far.
    epoch: Cell<u64>,
    /// Which epochs are durable.
    tracker: Rc<CommitTracker>,
    /// Wakes the writer.
    wake: jetcore_notify::Flag,
    /// Set by close: the writer stops once the queue is empty.
    closing: Cell<bool>,
    /// Encryption.
    cipher: Cipher,
    /// The directory (for errors).
    dir: PathBuf,
}

/// See the module documentation. Not `Send`: it lives on its consumer's core.
pub struct ConsumerStateFile {
    inner: Rc<Inner>,
}

impl ConsumerStateFile {
    /// Opens (creating the directory and slots if needed) and returns the newest
    /// valid snapshot, if any. Slots that exist but hold no valid record are an
    /// error naming the directory, never a silent empty start.
    pub async fn open(cfg: ConsumerFileConfig) -> StoreResult<(ConsumerStateFile, Option<Bytes>)> {
        io::create_dir_all(&cfg.dir)?;
        // glommio decides per device whether reads may use IOPOLL; see `file::io`.
        io::prime_iopoll_probe(&cfg.dir).await?;
        let mut created = false;
        let mut files = Vec::with_capacity(2);
        let mut records: Vec<Option<(u64, Bytes)>> = Vec::with_capacity(2);
        let mut damaged = false;
        for name in SLOTS {
            let path = cfg.dir.join(name);
            let file = if path.exists() {
                BlockFile::open(&path).await?
            } else {
                created = true;
                BlockFile::create_zeroed(&path, ALIGN as u64, &[]).await?
            };
            let size = file.size().await? as usize;
            let bytes = if size == 0 {
                Bytes::new()
            } else {
                file.read(0, size.min(MAX_SNAPSHOT + ALIGN)).await?
            };
            let record = decode(&bytes, &cfg.cipher);
            if record.is_none() && bytes.iter().any(|&b| b != 0) {
                damaged = true;
            }
            records.push(record);
            files.push(file);
        }
        if created {
            io::sync_dir(&cfg.dir).await?;
        }
        let newest = match (&records[0], &records[1]) {
            (Some(a), Some(b)) => Some(if a.0 >= b.0 { 0 } else { 1 }),
            (Some(_), None) => Some(0),
            (None, Some(_)) => Some(1),
            (None, None) => None,
        };
        if newest.is_none() && damaged {
            return Err(StoreError::Format {
                path: cfg.dir.clone(),
                reason: "consumer state: no valid record in either slot (damaged, or \
                         written with another encryption key)"
                    .into(),
            });
        }
        let (current, generation, snapshot) = match newest {
            Some(i) => {
                let (g, b) = records[i].clone().unwrap_or_default();
                (i, g, Some(b))
            }
            // Nothing written yet: the first write goes to slot 0.
            None => (1, 0, None),
        };
        let mut files = files.into_iter();
        let (Some(f0), Some(f1)) = (files.next(), files.next()) else {
            return Err(StoreError::Closed);
        };
        let inner = Rc::new(Inner {
            slots: [f0, f1],
            current: Cell::new(current),
            generation: Cell::new(generation),
            queued: RefCell::new(None),
            epoch: Cell::new(0),
            tracker: CommitTracker::new(),
            wake: jetcore_notify::Flag::default(),
            closing: Cell::new(false),
            cipher: cfg.cipher,
            dir: cfg.dir,
        });
        glommio::spawn_local(writer(inner.clone())).detach();
        Ok((ConsumerStateFile { inner }, snapshot))
    }

    /// Queues `snapshot` as the newest state; never awaits. The result resolves
    /// when this snapshot (or a newer one) is durable.
    pub fn write(&self, snapshot: Bytes) -> Durable {
        let inner = &self.inner;
        if let Some(e) = inner.tracker.failure() {
            return Durable::failed(e);
        }
        let epoch = inner.epoch.get() + 1;
        inner.epoch.set(epoch);
        *inner.queued.borrow_mut() = Some((snapshot, epoch));
        inner.wake.notify();
        Durable::epoch(inner.tracker.clone(), epoch)
    }

    /// Resolves when everything written so far is durable.
    pub fn durable(&self) -> Durable {
        let epoch = self.inner.epoch.get();
        if epoch <= self.inner.tracker.durable_epoch() {
            return match self.inner.tracker.failure() {
                Some(e) => Durable::failed(e),
                None => Durable::ready(),
            };
        }
        Durable::epoch(self.inner.tracker.clone(), epoch)
    }

    /// Writes what is queued, then stops the writer.
    pub async fn close(&self) -> StoreResult<()> {
        let last = self.durable();
        self.inner.closing.set(true);
        self.inner.wake.notify();
        last.await
    }
}

/// The writer task: writes the newest queued snapshot to the other slot and
/// syncs it, until closed.
async fn writer(inner: Rc<Inner>) {
    loop {
        let next = inner.queued.borrow_mut().take();
        let Some((snapshot, epoch)) = next else {
            if inner.closing.get() {
                return;
            }
            inner.wake.wait().await;
            continue;
        };
        let slot = 1 - inner.current.get();
        let generation = inner.generation.get() + 1;
        let written = match encode(&snapshot, generation, &inner.cipher) {
            Ok(record) => write_slot(&inner.slots[slot], &record).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {
                inner.current.set(slot);
                inner.generation.set(generation);
                inner.tracker.publish(epoch);
            }
            Err(e) => {
                tracing::error!("consumer state in {}: {e}", inner.dir.display());
                inner.tracker.fail(epoch, e);
                return;
            }
        }
    }
}

async fn write_slot(file: &BlockFile, record: &[u8]) -> StoreResult<()> {
    file.write_with(0, record.len(), |buf| buf.copy_from_slice(record))
        .await?;
    file.sync().await
}

/// One record, padded to [`ALIGN`].
fn encode(snapshot: &[u8], generation: u64, cipher: &Cipher) -> StoreResult<Vec<u8>> {
    let mut nonce = [0u8; 12];
    let payload = match sealing_key(cipher) {
        None => snapshot.to_vec(),
        Some(key) => {
            SystemRandom::new()
                .fill(&mut nonce)
                .map_err(|_| StoreError::Poisoned("no randomness for a nonce".into()))?;
            let mut buf = snapshot.to_vec();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(generation.to_le_bytes()),
                &mut buf,
            )
            .map_err(|_| StoreError::Poisoned("encryption failed".into()))?;
            buf
        }
    };
    let mut out = Vec::with_capacity(HEADER + payload.len() + 4 + ALIGN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(cipher_code(cipher));
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let padded = out.len().div_ceil(ALIGN) * ALIGN;
    out.resize(padded, 0);
    Ok(out)
}

/// The record in `bytes`, if it is complete, intact and readable with `cipher`.
fn decode(bytes: &[u8], cipher: &Cipher) -> Option<(u64, Bytes)> {
    if bytes.len() < HEADER + 4 || &bytes[..4] != MAGIC || bytes[4] != VERSION {
        return None;
    }
    if bytes[5] != cipher_code(cipher) {
        return None;
    }
    let generation = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    let len = u32::from_le_bytes(bytes[16..20].try_into().ok()?) as usize;
    let end = HEADER.checked_add(len)?;
    if bytes.len() < end + 4 {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[end..end + 4].try_into().ok()?);
    if crc32fast::hash(&bytes[..end]) != crc {
        return None;
    }
    let payload = &bytes[HEADER..end];
    match sealing_key(cipher) {
        None => Some((generation, Bytes::copy_from_slice(payload))),
        Some(key) => {
            let nonce: [u8; 12] = bytes[20..32].try_into().ok()?;
            let mut buf = payload.to_vec();
            let plain = key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(generation.to_le_bytes()),
                    &mut buf,
                )
                .ok()?;
            Some((generation, Bytes::copy_from_slice(plain)))
        }
    }
}

fn cipher_code(cipher: &Cipher) -> u8 {
    match cipher {
        Cipher::None => 0,
        Cipher::Aes256Gcm(_) => 1,
        Cipher::ChaCha20Poly1305(_) => 2,
    }
}

fn sealing_key(cipher: &Cipher) -> Option<LessSafeKey> {
    let (alg, key) = match cipher {
        Cipher::None => return None,
        Cipher::Aes256Gcm(k) => (&aead::AES_256_GCM, k),
        Cipher::ChaCha20Poly1305(k) => (&aead::CHACHA20_POLY1305, k),
    };
    UnboundKey::new(alg, key).ok().map(LessSafeKey::new)
}

/// Removes a consumer's directory (its slots and anything else in it).
pub fn remove_consumer_dir(dir: &Path) -> StoreResult<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove", dir, &e)),
    }
}

/// A tiny single-waiter wake-up flag (the storage crate does not depend on the
/// router's `Notify`).
mod jetcore_notify {
    use std::cell::{Cell, RefCell};
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    /// Set by `notify`, consumed by `wait`.
    #[derive(Default)]
    pub struct Flag {
        set: Cell<bool>,
        waiter: RefCell<Option<Waker>>,
    }

    impl Flag {
        pub fn notify(&self) {
            self.set.set(true);
            if let Some(w) = self.waiter.borrow_mut().take() {
                w.wake();
            }
        }

        pub fn wait(&self) -> Wait<'_> {
            Wait { flag: self }
        }
    }

    pub struct Wait<'a> {
        flag: &'a Flag,
    }

    impl Future for Wait<'_> {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.flag.set.replace(false) {
                return Poll::Ready(());
            }
            *self.flag.waiter.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}
