//! A FileStore factory for the conformance suite, shared by the plain and the
//! compressed + encrypted runs.

use std::future::Future;

use crate::conformance::StoreFactory;
use jetcore_storage::file::file_msg_size;
use jetcore_storage::{Cipher, Compression, FileStore, FileStoreConfig, StoreLimits, StreamStore};

/// Opens FileStores with small blocks (so cases cross block boundaries) under
/// one temporary directory per test.
pub struct FileFactory {
    root: tempfile::TempDir,
    opened: usize,
    compression: Compression,
    cipher: Cipher,
}

impl FileFactory {
    /// Plain stores.
    #[allow(dead_code)]
    pub fn new() -> Self {
        Self::sealed(Compression::None, Cipher::None)
    }

    /// Stores with this compression and cipher.
    #[allow(dead_code)]
    pub fn sealed(compression: Compression, cipher: Cipher) -> Self {
        FileFactory {
            root: tempfile::tempdir().expect("tempdir"),
            opened: 0,
            compression,
            cipher,
        }
    }

    fn config(&self, dir: &std::path::Path) -> FileStoreConfig {
        let mut cfg = FileStoreConfig::new(dir);
        cfg.compression = self.compression;
        cfg.cipher = self.cipher.clone();
        cfg.block_size = 64 << 10;
        cfg
    }
}

impl StoreFactory for FileFactory {
    type Store = FileStore;

    async fn open(&mut self, limits: StoreLimits) -> FileStore {
        self.opened += 1;
        let dir = self.root.path().join(format!("s{}", self.opened));
        FileStore::open(self.config(&dir), limits)
            .await
            .expect("open store")
    }

    async fn reopen(&mut self, store: FileStore, limits: StoreLimits) -> FileStore {
        let dir = store.dir();
        store.durable().await.expect("durable before reopen");
        store.close().await.expect("close");
        drop(store);
        FileStore::open(self.config(&dir), limits)
            .await
            .expect("reopen store")
    }

    fn msg_size(&self, subject: usize, headers: usize, payload: usize) -> u64 {
        file_msg_size(subject, headers, payload)
    }
}

/// Runs a case on a glommio executor on this test's own thread.
pub fn on_glommio<T>(fut: impl Future<Output = T>) -> T {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .make()
        .expect("executor")
        .run(fut)
}
