//! The store conformance suite against a FileStore that compresses (lz4) and
//! encrypts (ChaCha20-Poly1305) every frame: the codec must change nothing a
//! caller can observe, including after reopening.

#[macro_use]
mod conformance;
mod file_factory;

use file_factory::{on_glommio, FileFactory};
use jetcore_storage::{Cipher, Compression};

conformance_suite!(
    FileFactory::sealed(Compression::Lz4, Cipher::ChaCha20Poly1305([0x5a; 32])),
    on_glommio
);
