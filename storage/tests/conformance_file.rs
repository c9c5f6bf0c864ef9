//! The store conformance suite (tests/conformance/mod.rs) run against FileStore,
//! each case on a glommio executor, each store in its own directory. `reopen`
//! really closes the store and recovers it from its block files.

#[macro_use]
mod conformance;

use std::future::Future;

use conformance::StoreFactory;
use jetcore_storage::file::file_msg_size;
use jetcore_storage::{FileStore, FileStoreConfig, StoreLimits, StreamStore};

/// Opens FileStores with small blocks (so cases cross block boundaries) under
/// one temporary directory per test.
struct FileFactory {
    root: tempfile::TempDir,
    opened: usize,
}

impl FileFactory {
    fn new() -> Self {
        FileFactory {
            root: tempfile::tempdir().expect("tempdir"),
            opened: 0,
        }
    }

    fn config(dir: &std::path::Path) -> FileStoreConfig {
        let mut cfg = FileStoreConfig::new(dir);
        cfg.block_size = 64 << 10;
        cfg
    }
}

impl StoreFactory for FileFactory {
    type Store = FileStore;

    async fn open(&mut self, limits: StoreLimits) -> FileStore {
        self.opened += 1;
        let dir = self.root.path().join(format!("s{}", self.opened));
        FileStore::open(Self::config(&dir), limits)
            .await
            .expect("open store")
    }

    async fn reopen(&mut self, store: FileStore, limits: StoreLimits) -> FileStore {
        let dir = store.dir();
        store.durable().await.expect("durable before reopen");
        store.close().await.expect("close");
        drop(store);
        FileStore::open(Self::config(&dir), limits)
            .await
            .expect("reopen store")
    }

    fn msg_size(&self, subject: usize, headers: usize, payload: usize) -> u64 {
        file_msg_size(subject, headers, payload)
    }
}

/// Runs a case on a glommio executor on this test's own thread.
fn on_glommio<T>(fut: impl Future<Output = T>) -> T {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .make()
        .expect("executor")
        .run(fut)
}

conformance_suite!(FileFactory::new(), on_glommio);
