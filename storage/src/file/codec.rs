//! Per-block compression and encryption of frame bodies.
//!
//! A block's header says how its frames are encoded, so a store can change
//! its settings and keep reading old blocks. Compression (lz4, block format)
//! runs per frame and is kept only when it saves space. Encryption is an AEAD
//! (AES-256-GCM or ChaCha20-Poly1305) per frame under a per-block key derived
//! with HKDF-SHA256 from the store key and the block's random salt; each frame
//! gets a random 96-bit nonce (a block key seals at most a few thousand frames,
//! far below the random-nonce bound) and authenticates its frame header as
//! associated data. The header's key check (the tag of an empty message) makes
//! a wrong key an error at open rather than garbage.

use bytes::Bytes;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::{Cipher, Compression};

use super::format::{self, FLAG_LZ4, FLAG_SEALED, FRAME_HEADER_LEN};

/// Bytes encryption adds to a frame body (nonce + tag).
pub(crate) const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// Header code of a cipher.
pub(crate) fn cipher_code(c: &Cipher) -> u8 {
    match c {
        Cipher::None => 0,
        Cipher::Aes256Gcm(_) => 1,
        Cipher::ChaCha20Poly1305(_) => 2,
    }
}

/// Header code of a compression.
pub(crate) fn compression_code(c: Compression) -> u8 {
    match c {
        Compression::None => 0,
        Compression::Lz4 => 1,
    }
}

/// How one block's frames are encoded.
pub(crate) struct BlockCodec {
    lz4: bool,
    key: Option<LessSafeKey>,
    /// Seed of every frame CRC in the block (from the header's salt).
    crc_seed: u32,
}

fn seed_of(salt: &[u8; 16]) -> u32 {
    u32::from_le_bytes([salt[0], salt[1], salt[2], salt[3]])
}

/// A random salt; never panics (falls back to the clock and block index,
/// which keeps CRC seeds distinct; only per-block key separation weakens).
fn random_salt(index: u32) -> [u8; 16] {
    let mut salt = [0u8; 16];
    if SystemRandom::new().fill(&mut salt).is_err() {
        salt[..8].copy_from_slice(&crate::message::now_nanos().to_le_bytes());
        salt[8..12].copy_from_slice(&index.to_le_bytes());
    }
    salt
}

/// Why a block's codec could not be set up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CodecError {
    /// The block is encrypted and no key (or a key for another cipher) is configured.
    NoKey,
    /// The configured key does not open the block.
    WrongKey,
    /// The header names an algorithm this version does not know.
    Unknown,
}

/// The HKDF info of block keys.
const BLOCK_KEY_INFO: &[u8] = b"jetcore block key v1";

struct KeyLen(usize);

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// A per-file (or per-record) key: HKDF-SHA256 of the configured key with `salt`,
/// expanded with `info` (which names what the key seals, so a block key never
/// opens a consumer record and the other way round).
pub(crate) fn derive_key(
    alg: &'static aead::Algorithm,
    master: &[u8; 32],
    salt: &[u8; 16],
    info: &[u8],
) -> Option<LessSafeKey> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(master);
    let info = [info];
    let okm = prk.expand(&info, KeyLen(alg.key_len())).ok()?;
    let mut bytes = [0u8; 32];
    let key = bytes.get_mut(..alg.key_len())?;
    okm.fill(key).ok()?;
    UnboundKey::new(alg, key).ok().map(LessSafeKey::new)
}

/// A block's key.
fn derive(
    alg: &'static aead::Algorithm,
    store_key: &[u8; 32],
    salt: &[u8; 16],
) -> Option<LessSafeKey> {
    derive_key(alg, store_key, salt, BLOCK_KEY_INFO)
}

/// The tag of an empty message under `key` (nonce zero, used only for this).
fn key_check(key: &LessSafeKey, index: u32) -> Option<[u8; 16]> {
    let mut empty = Vec::new();
    let nonce = Nonce::assume_unique_for_key([0u8; NONCE_LEN]);
    let tag = key
        .seal_in_place_separate_tag(nonce, Aad::from(index.to_le_bytes()), &mut empty)
        .ok()?;
    let mut out = [0u8; 16];
    out.copy_from_slice(tag.as_ref());
    Some(out)
}

fn algorithm(code: u8) -> Option<&'static aead::Algorithm> {
    match code {
        1 => Some(&aead::AES_256_GCM),
        2 => Some(&aead::CHACHA20_POLY1305),
        _ => None,
    }
}

impl BlockCodec {
    /// A plain codec (no compression, no encryption).
    pub(crate) fn plain() -> BlockCodec {
        BlockCodec {
            lz4: false,
            key: None,
            crc_seed: 0,
        }
    }

    /// The block's CRC seed.
    pub(crate) fn crc_seed(&self) -> u32 {
        self.crc_seed
    }

    /// The codec for a new block `index` under the store's settings; returns
    /// it with the header fields (compression, cipher, salt, key check).
    pub(crate) fn for_new_block(
        index: u32,
        compression: Compression,
        cipher: &Cipher,
    ) -> (BlockCodec, u8, u8, [u8; 16], [u8; 16]) {
        let lz4 = compression == Compression::Lz4;
        let salt = random_salt(index);
        let (key, check) = match cipher {
            Cipher::None => (None, [0u8; 16]),
            Cipher::Aes256Gcm(k) | Cipher::ChaCha20Poly1305(k) => {
                let alg = algorithm(cipher_code(cipher)).unwrap_or(&aead::AES_256_GCM);
                let key = derive(alg, k, &salt);
                let check = key
                    .as_ref()
                    .and_then(|k| key_check(k, index))
                    .unwrap_or([0u8; 16]);
                (key, check)
            }
        };
        let codec = BlockCodec {
            lz4,
            key,
            crc_seed: seed_of(&salt),
        };
        (
            codec,
            compression_code(compression),
            cipher_code(cipher),
            salt,
            check,
        )
    }

    /// The codec of an existing block, checking the configured key.
    pub(crate) fn for_existing_block(
        header: &format::BlockHeader,
        cipher: &Cipher,
    ) -> Result<BlockCodec, CodecError> {
        let lz4 = match header.compression {
            0 => false,
            1 => true,
            _ => return Err(CodecError::Unknown),
        };
        let crc_seed = seed_of(&header.salt);
        if header.cipher == 0 {
            return Ok(BlockCodec {
                lz4,
                key: None,
                crc_seed,
            });
        }
        let alg = algorithm(header.cipher).ok_or(CodecError::Unknown)?;
        let store_key = match cipher {
            Cipher::Aes256Gcm(k) if header.cipher == 1 => k,
            Cipher::ChaCha20Poly1305(k) if header.cipher == 2 => k,
            _ => return Err(CodecError::NoKey),
        };
        let key = derive(alg, store_key, &header.salt).ok_or(CodecError::WrongKey)?;
        // Verify by opening the stored tag over an empty message.
        let mut tag = header.key_check.to_vec();
        let nonce = Nonce::assume_unique_for_key([0u8; NONCE_LEN]);
        key.open_in_place(nonce, Aad::from(header.index.to_le_bytes()), &mut tag)
            .map_err(|_| CodecError::WrongKey)?;
        Ok(BlockCodec {
            lz4,
            key: Some(key),
            crc_seed,
        })
    }

    /// Encodes `body` as a complete frame (header, stored body, CRC);
    /// `batch_start` is the offset of the first frame of the write it goes in.
    pub(crate) fn encode(
        &self,
        body: &[u8],
        prev_last_seq: u64,
        last_seq: u64,
        batch_start: u32,
    ) -> Vec<u8> {
        self.encode_with(body, prev_last_seq, last_seq, true, batch_start)
    }

    /// True when frames of this block may be compressed.
    pub(crate) fn compresses(&self) -> bool {
        self.lz4
    }

    /// Smallest frame [`BlockCodec::encode_with`] makes without compression
    /// for a padding record of length 0.
    pub(crate) fn min_filler_len(&self) -> usize {
        FRAME_HEADER_LEN + 5 + if self.key.is_some() { SEAL_OVERHEAD } else { 0 }
    }

    /// [`BlockCodec::encode`], with compression only when `allow_lz4`.
    pub(crate) fn encode_with(
        &self,
        body: &[u8],
        prev_last_seq: u64,
        last_seq: u64,
        allow_lz4: bool,
        batch_start: u32,
    ) -> Vec<u8> {
        let mut flags = 0;
        let compressed;
        let mut stored: &[u8] = body;
        if self.lz4 && allow_lz4 {
            compressed = lz4_flex::block::compress(body);
            if compressed.len() < body.len() {
                stored = &compressed;
                flags |= FLAG_LZ4;
            }
        }
        let Some(key) = &self.key else {
            let mut frame = format::frame_header(
                stored.len(),
                body.len(),
                flags,
                prev_last_seq,
                last_seq,
                batch_start,
            );
            frame.extend_from_slice(stored);
            return format::finish_frame(frame, self.crc_seed);
        };
        flags |= FLAG_SEALED;
        let sealed_len = NONCE_LEN + stored.len() + 16;
        let mut frame = format::frame_header(
            sealed_len,
            body.len(),
            flags,
            prev_last_seq,
            last_seq,
            batch_start,
        );
        let mut nonce = [0u8; NONCE_LEN];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            // See for_new_block: never panic; a clock-derived nonce is unique
            // enough within one block key.
            nonce[..8].copy_from_slice(&crate::message::now_nanos().to_le_bytes());
        }
        let aad: [u8; 32] = frame[..32].try_into().unwrap_or([0u8; 32]);
        frame.extend_from_slice(&nonce);
        let start = frame.len();
        frame.extend_from_slice(stored);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut frame[start..],
            )
            .map(|t| t.as_ref().to_vec())
            .unwrap_or_else(|_| vec![0u8; 16]);
        frame.extend_from_slice(&tag);
        format::finish_frame(frame, self.crc_seed)
    }

    /// Decodes a verified frame's stored body back to its records.
    pub(crate) fn decode(
        &self,
        frame_head: &[u8],
        flags: u8,
        raw_len: u32,
        stored: Bytes,
    ) -> Result<Bytes, &'static str> {
        let mut body = stored;
        if flags & FLAG_SEALED != 0 {
            let key = self
                .key
                .as_ref()
                .ok_or("sealed frame in a block without a key")?;
            if body.len() < SEAL_OVERHEAD || frame_head.len() < FRAME_HEADER_LEN {
                return Err("sealed frame too short");
            }
            let mut nonce = [0u8; NONCE_LEN];
            nonce.copy_from_slice(&body[..NONCE_LEN]);
            let aad: [u8; 32] = frame_head[..32]
                .try_into()
                .map_err(|_| "short frame header")?;
            let mut buf = body[NONCE_LEN..].to_vec();
            let plain_len = key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut buf,
                )
                .map_err(|_| "frame failed authentication")?
                .len();
            buf.truncate(plain_len);
            body = Bytes::from(buf);
        }
        if flags & FLAG_LZ4 != 0 {
            // lz4 expands at most ~255:1; anything claiming more is damage.
            if raw_len as usize > body.len().saturating_mul(256).saturating_add(64) {
                return Err("compressed frame claims an impossible size");
            }
            let out = lz4_flex::block::decompress(&body, raw_len as usize)
                .map_err(|_| "lz4 frame does not decompress")?;
            body = Bytes::from(out);
        }
        if body.len() != raw_len as usize {
            return Err("decoded frame has the wrong length");
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::format::{decode_frame, BlockHeader};

    fn header_for(index: u32, c: Compression, cipher: &Cipher) -> (BlockCodec, BlockHeader) {
        let (codec, compression, cipher_code, salt, key_check) =
            BlockCodec::for_new_block(index, c, cipher);
        let h = BlockHeader {
            index,
            base_last_seq: 0,
            base_last_ts: 0,
            compression,
            cipher: cipher_code,
            salt,
            key_check,
        };
        (codec, h)
    }

    #[test]
    fn every_mode_round_trips_and_rejects_a_wrong_key() {
        let body: Vec<u8> = b"message ".iter().cycle().take(5000).copied().collect();
        for cipher in [
            Cipher::None,
            Cipher::Aes256Gcm([7; 32]),
            Cipher::ChaCha20Poly1305([9; 32]),
        ] {
            for c in [Compression::None, Compression::Lz4] {
                let (codec, h) = header_for(3, c, &cipher);
                let frame = codec.encode(&body, 1, 2, 0);
                let (fh, stored) = decode_frame(&frame, codec.crc_seed()).expect("crc ok");
                let reopened = BlockCodec::for_existing_block(&h, &cipher).expect("same key opens");
                let out = reopened
                    .decode(
                        &frame[..FRAME_HEADER_LEN],
                        fh.flags,
                        fh.raw_len,
                        Bytes::copy_from_slice(stored),
                    )
                    .expect("decodes");
                assert_eq!(out.as_ref(), body.as_slice());
                if c == Compression::Lz4 {
                    assert!(frame.len() < body.len() / 2, "repetitive data compresses");
                }
                if cipher != Cipher::None {
                    assert!(
                        !frame.windows(8).any(|w| w == b"message "),
                        "no plaintext on disk"
                    );
                    let wrong = match cipher {
                        Cipher::Aes256Gcm(_) => Cipher::Aes256Gcm([8; 32]),
                        _ => Cipher::ChaCha20Poly1305([8; 32]),
                    };
                    assert_eq!(
                        BlockCodec::for_existing_block(&h, &wrong).err(),
                        Some(CodecError::WrongKey)
                    );
                    assert_eq!(
                        BlockCodec::for_existing_block(&h, &Cipher::None).err(),
                        Some(CodecError::NoKey)
                    );
                }
            }
        }
    }
}
