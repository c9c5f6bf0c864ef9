//! What the clients were told, across every cycle: the streams whose creation
//! or deletion was acknowledged, every PubAck, every confirmed consumer ack,
//! every message a consumer was given, and every message a check read back.
//! The checks compare a recovered server against this.
//!
//! Messages are self-describing: the payload starts with `<publisher>:<n>:`
//! and the rest, and the subject, follow from that id, so any message read
//! back can be verified on its own (a wrong payload is caught even for a
//! message that was never acknowledged).

use std::collections::BTreeMap;

/// One published message's identity: who published it and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgId {
    /// The publisher (unique across the whole run).
    pub publisher: u32,
    /// Its count at that publisher.
    pub n: u64,
}

fn mix(a: u64, b: u64) -> u64 {
    let mut x = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

impl MsgId {
    /// The subject this message is published on, under `prefix`.
    pub fn subject(&self, prefix: &str) -> String {
        format!("{prefix}.p{}.{}", self.publisher, self.n % 5)
    }

    /// The payload: the id, then filler derived from it. Most are small; one
    /// in 40 is 20 KiB (several sectors, and pages torn apart at a power loss).
    pub fn payload(&self) -> Vec<u8> {
        let h = mix(u64::from(self.publisher), self.n);
        let len = if h.is_multiple_of(40) {
            20 << 10
        } else {
            16 + (h % 1500) as usize
        };
        let mut out = format!("{}:{}:", self.publisher, self.n).into_bytes();
        out.extend((0..len).map(|i| (h.wrapping_add(i as u64) % 251) as u8));
        out
    }

    /// The id a payload claims, if it has the shape.
    pub fn parse(payload: &[u8]) -> Option<MsgId> {
        let mut parts = payload.splitn(3, |&b| b == b':');
        let p = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        let n = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        parts.next()?;
        Some(MsgId { publisher: p, n })
    }
}

/// A stream the workload uses, and how.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Stream name.
    pub name: String,
    /// Its subjects are `<prefix>.>`.
    pub prefix: String,
    /// `max_msgs` (0: none).
    pub max_msgs: i64,
    /// `max_bytes` (0: none). A small value also gives small blocks (Go's
    /// block-size rule), so blocks roll and are removed all the time.
    pub max_bytes: i64,
    /// `compression: s2` (lz4 blocks in jetcore).
    pub compressed: bool,
}

/// Everything acknowledged about one stream.
#[derive(Debug, Default)]
pub struct StreamBook {
    /// The stream's creation was acknowledged.
    pub created: bool,
    /// Its deletion was acknowledged: it must never come back.
    pub deleted: bool,
    /// Its deletion was requested (maybe not acknowledged): it may be gone.
    pub delete_sent: bool,
    /// Sequence → message, for every PubAck received.
    pub acked: BTreeMap<u64, MsgId>,
    /// Sequence → message, for every message read back by a check after a
    /// recovery (a recovery that showed it must keep it).
    pub recovered: BTreeMap<u64, MsgId>,
    /// Sequence → message, for every message the consumer was given.
    pub delivered: BTreeMap<u64, MsgId>,
    /// What this incarnation of the consumer was given, by stream sequence,
    /// and whether the server confirmed its ack (double ack). Cleared when
    /// the consumer is made anew.
    pub consumer_acks: BTreeMap<u64, bool>,
    /// The consumer's creation was acknowledged.
    pub consumer_created: bool,
}

impl StreamBook {
    /// The messages that must be present at their sequence (unless a limit
    /// removed them): acknowledged or shown by an earlier recovery.
    pub fn must_have(&self) -> BTreeMap<u64, MsgId> {
        let mut all = self.recovered.clone();
        all.extend(self.acked.iter().map(|(s, id)| (*s, *id)));
        all
    }

    /// Forgets everything (the stream is gone for good or was never made).
    pub fn reset(&mut self) {
        *self = StreamBook::default();
    }
}

/// The ledger of the whole run.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Stream name → its book.
    pub books: BTreeMap<String, StreamBook>,
    /// The next publisher number (ids never repeat across cycles).
    pub next_publisher: u32,
}

impl Ledger {
    /// The book of `name`, made on first use.
    pub fn book(&mut self, name: &str) -> &mut StreamBook {
        self.books.entry(name.to_string()).or_default()
    }

    /// A fresh publisher number.
    pub fn publisher(&mut self) -> u32 {
        self.next_publisher += 1;
        self.next_publisher
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_id_and_differ() {
        let a = MsgId {
            publisher: 3,
            n: 17,
        };
        let b = MsgId {
            publisher: 3,
            n: 18,
        };
        assert_eq!(MsgId::parse(&a.payload()), Some(a));
        assert_ne!(a.payload(), b.payload());
        assert_eq!(a.subject("x"), "x.p3.2");
        assert_eq!(MsgId::parse(b"garbage"), None);
    }
}
