//! The consumer state file: newest snapshot back after reopen, coalesced writes,
//! a damaged newest slot falls back to the older one, damage in both is an error,
//! encryption leaves no plaintext and refuses a wrong key, nothing panics on
//! garbage.

use std::future::Future;
use std::path::Path;

use bytes::Bytes;
use jetcore_storage::{Cipher, ConsumerFileConfig, ConsumerStateFile, SyncPolicy};

/// Runs `f` on a fresh glommio executor thread (the file lives on one core).
fn on_executor<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .spawn(f)
        .expect("executor starts")
        .join()
        .expect("test body ran");
}

fn config(dir: &Path, cipher: Cipher) -> ConsumerFileConfig {
    ConsumerFileConfig {
        dir: dir.to_path_buf(),
        sync: SyncPolicy::Always,
        cipher,
    }
}

async fn reopen(dir: &Path, cipher: Cipher) -> Option<Bytes> {
    let (f, snap) = ConsumerStateFile::open(config(dir, cipher))
        .await
        .expect("opens");
    f.close().await.expect("closes");
    snap
}

#[test]
fn empty_then_newest_snapshot_after_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        assert_eq!(reopen(&dir, Cipher::None).await, None);
        let (f, _) = ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .unwrap();
        for i in 0..50u32 {
            // Nobody waits: the writer coalesces.
            drop(f.write(Bytes::from(format!("state {i}"))));
        }
        f.durable().await.unwrap();
        f.close().await.unwrap();
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from("state 49"))
        );
    });
}

#[test]
fn a_shrinking_snapshot_reads_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        let (f, _) = ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .unwrap();
        f.write(Bytes::from(vec![7u8; 1 << 20])).await.unwrap();
        f.write(Bytes::from(vec![7u8; 1 << 20])).await.unwrap();
        f.write(Bytes::from_static(b"tiny")).await.unwrap();
        f.close().await.unwrap();
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"tiny"))
        );
    });
}

#[test]
fn damaged_newest_slot_falls_back_and_both_damaged_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    on_executor(move || async move {
        let (f, _) = ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .unwrap();
        f.write(Bytes::from_static(b"first")).await.unwrap();
        f.write(Bytes::from_static(b"second")).await.unwrap();
        f.close().await.unwrap();
        // "first" went to state.0, "second" to state.1: tear the newer one.
        flip_payload_byte(&dir.join("state.1"));
        assert_eq!(
            reopen(&dir, Cipher::None).await,
            Some(Bytes::from_static(b"first"))
        );
        flip_payload_byte(&dir.join("state.0"));
        let err = ConsumerStateFile::open(config(&dir, Cipher::None))
            .await
            .err()
            .expect("both slots damaged is refused");
        assert!(
            err.to_string().contains(&dir.display().to_string()),
            "{err}"
        );
    });
}

#[test]
fn encrypted_state_has_no_plaintext_and_needs_its_key() {
    for cipher in [
        Cipher::Aes256Gcm([3; 32]),
        Cipher::ChaCha20Poly1305([4; 32]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let c = cipher.clone();
        on_executor(move || async move {
            let (f, _) = ConsumerStateFile::open(config(&dir, c.clone()))
                .await
                .unwrap();
            f.write(Bytes::from_static(b"SECRET-ACK-STATE"))
                .await
                .unwrap();
            f.close().await.unwrap();
            for slot in ["state.0", "state.1"] {
                let raw = std::fs::read(dir.join(slot)).unwrap();
                assert!(
                    !raw.windows(6).any(|w| w == b"SECRET"),
                    "plaintext in {slot}"
                );
            }
            assert_eq!(
                reopen(&dir, c).await,
                Some(Bytes::from_static(b"SECRET-ACK-STATE"))
            );
            let wrong = Cipher::Aes256Gcm([9; 32]);
            assert!(ConsumerStateFile::open(config(&dir, wrong)).await.is_err());
        });
    }
}

#[test]
fn garbage_slots_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    on_executor(move || async move {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..40 {
            let dir = base.join(format!("g{round}"));
            std::fs::create_dir_all(&dir).unwrap();
            for slot in ["state.0", "state.1"] {
                let len = (next(&mut seed) % 9000) as usize;
                let mut bytes: Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
                if round % 3 == 0 && bytes.len() > 8 {
                    bytes[..4].copy_from_slice(b"JCST");
                    bytes[4] = 1;
                    bytes[5] = 0;
                }
                std::fs::write(dir.join(slot), bytes).unwrap();
            }
            // Either an error or a valid open; never a panic or a garbage snapshot.
            if let Ok((f, _)) = ConsumerStateFile::open(config(&dir, Cipher::None)).await {
                f.close().await.unwrap();
            }
        }
    });
}

fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn flip_payload_byte(path: &Path) {
    let mut raw = std::fs::read(path).unwrap();
    raw[32] ^= 0xff;
    std::fs::write(path, raw).unwrap();
}
