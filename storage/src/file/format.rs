//! The FileStore's bytes: block header, frame header, records.
//!
//! Pure encode/decode, no I/O; `docs/storage-format.md` documents the same
//! layout byte by byte. All integers are little-endian.
//!
//! A block file is a fixed-size, zero-filled file. Sector 0 holds the
//! [`BlockHeader`]; frames follow back to back from [`FRAMES_START`]. A frame is
//! one group commit: a [`FRAME_HEADER_LEN`]-byte header and a body of records,
//! covered by one CRC32. The end of a block's data is the first position that
//! does not hold a valid frame; a zero magic there means "never written".

use bytes::{Buf, BufMut, Bytes};

use crate::message::UnixNanos;

/// Write unit: offsets and lengths of every write are multiples of it. 4 KiB
/// covers devices whose logical block is 4 KiB (O_DIRECT needs the logical
/// block size; 512 B would fail with EINVAL there) and matches the physical
/// sector of the disks here.
pub(crate) const SECTOR: u64 = 4096;
/// The smallest unit a write can tear into (what recovery reasons about).
pub(crate) const TORN_UNIT: u64 = 512;
/// Frames start after the header page.
pub(crate) const FRAMES_START: u64 = SECTOR;

/// `JCSB` — jetcore stream block.
pub(crate) const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"JCSB");
/// Block header format version this code writes. Version 2 blocks may hold
/// echo records (kind 8); version 1 blocks never do and are still read.
pub(crate) const BLOCK_VERSION: u16 = 2;
/// The oldest block format version this code reads.
pub(crate) const BLOCK_VERSION_OLDEST: u16 = 1;
/// Bytes of the block header that carry data (the rest of the sector is zero).
pub(crate) const BLOCK_HEADER_LEN: usize = 96;

/// `JCFR` — jetcore frame.
pub(crate) const FRAME_MAGIC: u32 = u32::from_le_bytes(*b"JCFR");
/// Frame header length.
pub(crate) const FRAME_HEADER_LEN: usize = 40;
/// Largest frame body a group commit builds (a bigger batch becomes several
/// frames in one write); a single larger record gets a frame (and if needed a
/// block) of its own. A read verifies a whole frame, so this bounds what a
/// random read of one message costs: 64 KiB is ~0.1 ms here, where 1 MiB
/// frames made random reads cost 1.6 ms.
pub(crate) const MAX_FRAME_BODY: usize = 64 << 10;

/// What sits in sector 0 of every block file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    /// The block's number (also its file name).
    pub index: u32,
    /// The store's last sequence when the block was created: replay that
    /// starts at this block starts from here.
    pub base_last_seq: u64,
    /// Timestamp of that last sequence.
    pub base_last_ts: UnixNanos,
    /// Compression used by this block's frames (0 = none, 1 = lz4).
    pub compression: u8,
    /// Cipher of this block's frames (0 = none, 1 = AES-256-GCM, 2 = ChaCha20-Poly1305).
    pub cipher: u8,
    /// Random salt from which the block's key is derived (zero when plain).
    pub salt: [u8; 16],
    /// AEAD tag of an empty message under the block key: tells a wrong key at
    /// open instead of garbage later (zero when plain).
    pub key_check: [u8; 16],
}

/// Why a header or frame did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bad {
    /// All zero: never written.
    Zero,
    /// Something is there but it is not valid (bad magic, checksum, length).
    Invalid(&'static str),
}

impl BlockHeader {
    /// The header sector's first [`BLOCK_HEADER_LEN`] bytes.
    pub(crate) fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut out = [0u8; BLOCK_HEADER_LEN];
        let mut b = &mut out[..];
        b.put_u32_le(BLOCK_MAGIC);
        b.put_u16_le(BLOCK_VERSION);
        b.put_u8(self.compression);
        b.put_u8(self.cipher);
        b.put_u32_le(self.index);
        b.put_u32_le(0); // reserved
        b.put_u64_le(self.base_last_seq);
        b.put_i64_le(self.base_last_ts);
        b.put_slice(&self.salt);
        b.put_slice(&self.key_check);
        let crc = crc32fast::hash(&out[..BLOCK_HEADER_LEN - 4]);
        out[BLOCK_HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    pub(crate) fn decode(buf: &[u8]) -> Result<BlockHeader, Bad> {
        let Some(raw) = buf.get(..BLOCK_HEADER_LEN) else {
            return Err(Bad::Invalid("short header"));
        };
        if is_zero(raw) {
            return Err(Bad::Zero);
        }
        let mut b = raw;
        if b.get_u32_le() != BLOCK_MAGIC {
            return Err(Bad::Invalid("not a jetcore block file (bad magic)"));
        }
        let n = BLOCK_HEADER_LEN;
        let stored_crc = u32::from_le_bytes([raw[n - 4], raw[n - 3], raw[n - 2], raw[n - 1]]);
        if crc32fast::hash(&raw[..BLOCK_HEADER_LEN - 4]) != stored_crc {
            return Err(Bad::Invalid("block header checksum mismatch"));
        }
        if !(BLOCK_VERSION_OLDEST..=BLOCK_VERSION).contains(&b.get_u16_le()) {
            return Err(Bad::Invalid("unknown block format version"));
        }
        let compression = b.get_u8();
        let cipher = b.get_u8();
        let index = b.get_u32_le();
        let _reserved = b.get_u32_le();
        let base_last_seq = b.get_u64_le();
        let base_last_ts = b.get_i64_le();
        let mut salt = [0u8; 16];
        b.copy_to_slice(&mut salt);
        let mut key_check = [0u8; 16];
        b.copy_to_slice(&mut key_check);
        Ok(BlockHeader {
            index,
            base_last_seq,
            base_last_ts,
            compression,
            cipher,
            salt,
            key_check,
        })
    }
}

/// A frame's header as decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Body bytes on disk after the header.
    pub stored_len: u32,
    /// Body bytes after decoding (equal to `stored_len` for plain frames).
    pub raw_len: u32,
    /// Bit 0: lz4; bit 1: encrypted (reserved for the block's cipher).
    pub flags: u8,
    /// The store's last sequence before this frame.
    pub prev_last_seq: u64,
    /// The store's last sequence after this frame.
    pub last_seq: u64,
    /// Offset of the first frame of the write that carried this one.
    pub batch_start: u32,
}

impl FrameHeader {
    /// Total bytes on disk.
    pub(crate) fn total_len(&self) -> usize {
        FRAME_HEADER_LEN + self.stored_len as usize
    }
}

/// Frame flag: the body was lz4-compressed (before encryption).
pub(crate) const FLAG_LZ4: u8 = 1;
/// Frame flag: the body is `nonce (12) || ciphertext || tag (16)`.
pub(crate) const FLAG_SEALED: u8 = 2;

/// Encodes a plain frame around `body`.
#[cfg(test)]
pub(crate) fn encode_frame(body: &[u8], prev_last_seq: u64, last_seq: u64) -> Vec<u8> {
    let mut out = frame_header(body.len(), body.len(), 0, prev_last_seq, last_seq, 0);
    out.extend_from_slice(body);
    finish_frame(out, 0)
}

/// The first 40 bytes of a frame whose stored body will be `stored_len`
/// bytes (CRC still zero; [`finish_frame`] sets it once the body follows).
pub(crate) fn frame_header(
    stored_len: usize,
    raw_len: usize,
    flags: u8,
    prev_last_seq: u64,
    last_seq: u64,
    batch_start: u32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + stored_len);
    out.put_u32_le(FRAME_MAGIC);
    out.put_u32_le(stored_len as u32);
    out.put_u32_le(raw_len as u32);
    out.put_u8(flags);
    out.put_bytes(0, 3);
    out.put_u64_le(prev_last_seq);
    out.put_u64_le(last_seq);
    out.put_u32_le(batch_start);
    out.put_u32_le(0); // crc, set by finish_frame
    out
}

/// Sets the CRC of a frame (header followed by its stored body). `seed` is
/// the block's CRC seed: frame bytes copied into a payload of another block
/// (or planted by a publisher) never verify there.
pub(crate) fn finish_frame(mut frame: Vec<u8>, seed: u32) -> Vec<u8> {
    let crc = frame_crc(seed, &frame[..36], &frame[FRAME_HEADER_LEN..]);
    frame[36..40].copy_from_slice(&crc.to_le_bytes());
    frame
}

fn frame_crc(seed: u32, head: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(seed);
    h.update(head);
    h.update(body);
    h.finalize()
}

/// A page of zeros to compare against.
static ZERO_PAGE: [u8; 4096] = [0; 4096];

/// True when every byte of `data` is zero. Compares page by page with slice
/// equality (a `memcmp`), so scanning the zero-filled rest of an 8 MiB block at
/// open costs microseconds even in a debug build, where a byte loop took ~0.4 s.
pub(crate) fn is_zero(data: &[u8]) -> bool {
    data.chunks(ZERO_PAGE.len())
        .all(|c| c == &ZERO_PAGE[..c.len()])
}

/// Decodes the frame at the start of `buf`: its header and body. `buf` may
/// extend past the frame. Checks magic, lengths and the CRC (with the block's
/// CRC `seed`).
pub(crate) fn decode_frame(buf: &[u8], seed: u32) -> Result<(FrameHeader, &[u8]), Bad> {
    let Some(head) = buf.get(..FRAME_HEADER_LEN) else {
        return if is_zero(buf) {
            Err(Bad::Zero)
        } else {
            Err(Bad::Invalid("short frame header"))
        };
    };
    let mut b = head;
    let magic = b.get_u32_le();
    if magic != FRAME_MAGIC {
        return if is_zero(head) {
            Err(Bad::Zero)
        } else {
            Err(Bad::Invalid("bad frame magic"))
        };
    }
    let stored_len = b.get_u32_le();
    let raw_len = b.get_u32_le();
    let flags = b.get_u8();
    b.advance(3);
    let prev_last_seq = b.get_u64_le();
    let last_seq = b.get_u64_le();
    let batch_start = b.get_u32_le();
    let crc = b.get_u32_le();
    let Some(body) = buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + stored_len as usize) else {
        return Err(Bad::Invalid("frame runs past the data"));
    };
    if frame_crc(seed, &head[..36], body) != crc && !broken!(SkipChecksum) {
        return Err(Bad::Invalid("frame checksum mismatch"));
    }
    Ok((
        FrameHeader {
            stored_len,
            raw_len,
            flags,
            prev_last_seq,
            last_seq,
            batch_start,
        },
        body,
    ))
}

/// Record kinds inside a frame body.
pub(crate) const REC_MSG: u8 = 1;
pub(crate) const REC_DEL: u8 = 2;
pub(crate) const REC_FLOOR: u8 = 3;
pub(crate) const REC_TRUNCATE: u8 = 4;
/// A message record whose subject, headers and payload were overwritten with
/// zeros by a secure erase (same layout and length as a message record).
pub(crate) const REC_ERASED: u8 = 5;
/// Padding: `len u32` then `len` ignored bytes (keeps a rewritten frame's length).
pub(crate) const REC_PAD: u8 = 6;
/// A removal that must also overwrite the message: `seq u64, block u32,
/// frame offset u32` (so an erase interrupted by a crash is redone at open).
pub(crate) const REC_DEL_ERASE: u8 = 7;
/// The first record of a frame that follows a frame in a block holding
/// removal records: `block u32, through u32, len u32`, then `len` bytes — a
/// copy of the removal records (Del, Floor, Truncate, DelErase) of the frame
/// written just before this one, and the number of removal records block
/// `block` held up to and including that frame. Recovery uses it only when
/// that frame was damaged (see `docs/storage-format.md`, *Removal echo*).
pub(crate) const REC_ECHO: u8 = 8;
/// Fixed part of an echo record (kind, block, through, len).
pub(crate) const ECHO_RECORD_FIXED: usize = 1 + 4 + 4 + 4;

/// Fixed part of a message record (kind, seq, ts, ttl, lengths).
pub(crate) const MSG_RECORD_FIXED: usize = 1 + 8 + 8 + 8 + 2 + 4 + 4;

/// One decoded record. Message parts are slices of the frame body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Msg {
        seq: u64,
        ts: UnixNanos,
        ttl: i64,
        subject: Bytes,
        headers: Bytes,
        payload: Bytes,
    },
    Del {
        seq: u64,
    },
    Floor {
        seq: u64,
    },
    Truncate {
        seq: u64,
        last_ts: UnixNanos,
    },
    Erased {
        seq: u64,
        ts: UnixNanos,
    },
    Pad,
    DelErase {
        seq: u64,
        block: u32,
        offset: u32,
    },
    Echo {
        block: u32,
        through: u32,
        records: Bytes,
    },
}

impl Record {
    /// Whether this record removes messages (and so is echoed).
    pub(crate) fn is_removal(&self) -> bool {
        matches!(
            self,
            Record::Del { .. }
                | Record::Floor { .. }
                | Record::Truncate { .. }
                | Record::DelErase { .. }
        )
    }
}

/// Appends a message record to `out`.
pub(crate) fn put_msg(
    out: &mut Vec<u8>,
    seq: u64,
    ts: UnixNanos,
    ttl: i64,
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
) {
    out.reserve(MSG_RECORD_FIXED + subject.len() + headers.len() + payload.len());
    out.put_u8(REC_MSG);
    out.put_u64_le(seq);
    out.put_i64_le(ts);
    out.put_i64_le(ttl);
    out.put_u16_le(subject.len() as u16);
    out.put_u32_le(headers.len() as u32);
    out.put_u32_le(payload.len() as u32);
    out.extend_from_slice(subject);
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
}

pub(crate) fn put_del(out: &mut Vec<u8>, seq: u64) {
    out.put_u8(REC_DEL);
    out.put_u64_le(seq);
}

pub(crate) fn put_floor(out: &mut Vec<u8>, seq: u64) {
    out.put_u8(REC_FLOOR);
    out.put_u64_le(seq);
}

pub(crate) fn put_truncate(out: &mut Vec<u8>, seq: u64, last_ts: UnixNanos) {
    out.put_u8(REC_TRUNCATE);
    out.put_u64_le(seq);
    out.put_i64_le(last_ts);
}

/// Decodes the record at `pos` of `body`; returns it and the next position.
/// `body` is the frame body as shared bytes so message parts are zero-copy.
pub(crate) fn decode_record(body: &Bytes, pos: usize) -> Result<(Record, usize), Bad> {
    let rest = body
        .get(pos..)
        .ok_or(Bad::Invalid("record past the body"))?;
    let mut b = rest;
    let need = |b: &[u8], n: usize| {
        if b.len() < n {
            Err(Bad::Invalid("truncated record"))
        } else {
            Ok(())
        }
    };
    need(b, 1)?;
    let kind = b.get_u8();
    match kind {
        REC_MSG | REC_ERASED => {
            need(b, MSG_RECORD_FIXED - 1)?;
            let seq = b.get_u64_le();
            let ts = b.get_i64_le();
            let ttl = b.get_i64_le();
            let slen = b.get_u16_le() as usize;
            let hlen = b.get_u32_le() as usize;
            let plen = b.get_u32_le() as usize;
            let start = pos + MSG_RECORD_FIXED;
            let end = start
                .checked_add(slen)
                .and_then(|x| x.checked_add(hlen))
                .and_then(|x| x.checked_add(plen))
                .ok_or(Bad::Invalid("record length overflow"))?;
            if end > body.len() {
                return Err(Bad::Invalid("record runs past the frame"));
            }
            if kind == REC_ERASED {
                return Ok((Record::Erased { seq, ts }, end));
            }
            let subject = body.slice(start..start + slen);
            let headers = body.slice(start + slen..start + slen + hlen);
            let payload = body.slice(start + slen + hlen..end);
            Ok((
                Record::Msg {
                    seq,
                    ts,
                    ttl,
                    subject,
                    headers,
                    payload,
                },
                end,
            ))
        }
        REC_DEL | REC_FLOOR => {
            need(b, 8)?;
            let seq = b.get_u64_le();
            let rec = if kind == REC_DEL {
                Record::Del { seq }
            } else {
                Record::Floor { seq }
            };
            Ok((rec, pos + 9))
        }
        REC_TRUNCATE => {
            need(b, 16)?;
            let seq = b.get_u64_le();
            let last_ts = b.get_i64_le();
            Ok((Record::Truncate { seq, last_ts }, pos + 17))
        }
        REC_DEL_ERASE => {
            need(b, 16)?;
            let seq = b.get_u64_le();
            let block = b.get_u32_le();
            let offset = b.get_u32_le();
            Ok((Record::DelErase { seq, block, offset }, pos + 17))
        }
        REC_PAD => {
            need(b, 4)?;
            let len = b.get_u32_le() as usize;
            let end = (pos + 5)
                .checked_add(len)
                .ok_or(Bad::Invalid("record length overflow"))?;
            if end > body.len() {
                return Err(Bad::Invalid("record runs past the frame"));
            }
            Ok((Record::Pad, end))
        }
        REC_ECHO => {
            need(b, ECHO_RECORD_FIXED - 1)?;
            let block = b.get_u32_le();
            let through = b.get_u32_le();
            let len = b.get_u32_le() as usize;
            let start = pos + ECHO_RECORD_FIXED;
            let end = start
                .checked_add(len)
                .ok_or(Bad::Invalid("record length overflow"))?;
            if end > body.len() {
                return Err(Bad::Invalid("record runs past the frame"));
            }
            Ok((
                Record::Echo {
                    block,
                    through,
                    records: body.slice(start..end),
                },
                end,
            ))
        }
        _ => Err(Bad::Invalid("unknown record kind")),
    }
}

/// Appends an echo record: `records` (encoded removal records) of the frame
/// before, and `through`, the removal records its block held up to it.
pub(crate) fn put_echo(out: &mut Vec<u8>, block: u32, through: u32, records: &[u8]) {
    out.reserve(ECHO_RECORD_FIXED + records.len());
    out.put_u8(REC_ECHO);
    out.put_u32_le(block);
    out.put_u32_le(through);
    out.put_u32_le(records.len() as u32);
    out.extend_from_slice(records);
}

/// Appends a removal-with-erase record (17 bytes).
pub(crate) fn put_del_erase(out: &mut Vec<u8>, seq: u64, block: u32, offset: u32) {
    out.put_u8(REC_DEL_ERASE);
    out.put_u64_le(seq);
    out.put_u32_le(block);
    out.put_u32_le(offset);
}

/// Appends a padding record of `5 + len` bytes. Its content is ignored; it
/// is a fixed pseudo-random sequence so that lz4 cannot shrink it, which lets
/// an erase grow a compressed frame one byte at a time to its old length.
pub(crate) fn put_pad(out: &mut Vec<u8>, len: usize) {
    out.put_u8(REC_PAD);
    out.put_u32_le(len as u32);
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.put_u8(x as u8);
    }
}

/// Turns the message record at `pos` of `body` into an erased record:
/// kind 5, subject, headers and payload zeroed, lengths kept. Returns false
/// when there is no message record there.
pub(crate) fn scrub_message(body: &mut [u8], pos: usize) -> bool {
    if body.get(pos) != Some(&REC_MSG) || body.len() < pos + MSG_RECORD_FIXED {
        return false;
    }
    let lens = &body[pos + 25..pos + MSG_RECORD_FIXED];
    let slen = u16::from_le_bytes([lens[0], lens[1]]) as usize;
    let hlen = u32::from_le_bytes([lens[2], lens[3], lens[4], lens[5]]) as usize;
    let plen = u32::from_le_bytes([lens[6], lens[7], lens[8], lens[9]]) as usize;
    let start = pos + MSG_RECORD_FIXED;
    let Some(end) = start
        .checked_add(slen + hlen + plen)
        .filter(|&e| e <= body.len())
    else {
        return false;
    };
    body[pos] = REC_ERASED;
    body[start..end].fill(0);
    true
}

/// Go's `fileStoreMsgSize`, so `bytes` and `max_bytes` agree with the Go server.
pub fn file_msg_size(subject: usize, headers: usize, payload: usize) -> u64 {
    if headers == 0 {
        (22 + subject + payload + 8) as u64
    } else {
        (22 + subject + 4 + headers + payload + 8) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_header_round_trip_and_damage() {
        let h = BlockHeader {
            index: 7,
            base_last_seq: 99,
            base_last_ts: 123,
            compression: 1,
            cipher: 2,
            salt: [5; 16],
            key_check: [6; 16],
        };
        let mut raw = h.encode();
        assert_eq!(BlockHeader::decode(&raw), Ok(h));
        assert_eq!(
            BlockHeader::decode(&[0u8; BLOCK_HEADER_LEN]),
            Err(Bad::Zero)
        );
        raw[20] ^= 1;
        assert!(matches!(BlockHeader::decode(&raw), Err(Bad::Invalid(_))));
    }

    #[test]
    fn echo_record_round_trips_and_holds_removals_only() {
        let mut removals = Vec::new();
        put_del(&mut removals, 3);
        put_truncate(&mut removals, 9, 77);
        let mut body = Vec::new();
        put_echo(&mut body, 4, 12, &removals);
        put_msg(&mut body, 10, 1, 0, b"s", b"", b"p");
        let body = Bytes::from(body);
        let (rec, next) = decode_record(&body, 0).expect("echo");
        assert_eq!(next, ECHO_RECORD_FIXED + removals.len());
        let Record::Echo {
            block,
            through,
            records,
        } = rec
        else {
            panic!("not an echo: {rec:?}");
        };
        assert_eq!((block, through), (4, 12));
        let (first, after) = decode_record(&records, 0).expect("nested");
        assert_eq!(first, Record::Del { seq: 3 });
        assert!(first.is_removal());
        let (second, _) = decode_record(&records, after).expect("nested");
        assert_eq!(
            second,
            Record::Truncate {
                seq: 9,
                last_ts: 77
            }
        );
        assert!(matches!(
            decode_record(&body, next),
            Ok((Record::Msg { seq: 10, .. }, _))
        ));
        // An echo claiming more bytes than the frame holds is refused.
        let mut short = body.to_vec();
        short.truncate(ECHO_RECORD_FIXED + 4);
        assert!(decode_record(&Bytes::from(short), 0).is_err());
    }

    #[test]
    fn frame_and_records_round_trip() {
        let mut body = Vec::new();
        put_msg(&mut body, 5, 1000, 0, b"a.b", b"NATS/1.0\r\n\r\n", b"hello");
        put_del(&mut body, 3);
        put_floor(&mut body, 2);
        put_truncate(&mut body, 5, 1000);
        let frame = encode_frame(&body, 4, 5);
        let mut disk = frame.clone();
        disk.extend_from_slice(&[0u8; 100]);
        let (h, b) = decode_frame(&disk, 0).expect("valid");
        assert_eq!(
            (h.prev_last_seq, h.last_seq, h.total_len()),
            (4, 5, frame.len())
        );
        let b = Bytes::copy_from_slice(b);
        let (r, p) = decode_record(&b, 0).expect("msg");
        assert!(
            matches!(r, Record::Msg { seq: 5, ref payload, .. } if payload.as_ref() == b"hello")
        );
        let (r, p) = decode_record(&b, p).expect("del");
        assert_eq!(r, Record::Del { seq: 3 });
        let (r, p) = decode_record(&b, p).expect("floor");
        assert_eq!(r, Record::Floor { seq: 2 });
        let (r, p) = decode_record(&b, p).expect("truncate");
        assert_eq!(
            r,
            Record::Truncate {
                seq: 5,
                last_ts: 1000
            }
        );
        assert_eq!(p, b.len());
        assert_eq!(decode_frame(&disk[frame.len()..], 0), Err(Bad::Zero));
        // Any flipped bit is caught.
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x10;
            assert!(decode_frame(&bad, 0).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn records_never_panic_on_garbage() {
        let garbage =
            Bytes::from_static(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9, 9]);
        for pos in 0..garbage.len() + 2 {
            let _ = decode_record(&garbage, pos);
        }
    }
}
