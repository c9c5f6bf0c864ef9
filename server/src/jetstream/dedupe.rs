//! `Nats-Msg-Id` de-duplication within a stream's `duplicate_window`.
//!
//! Go keeps a map from message id to (sequence, timestamp) and an insertion-ordered
//! list it trims when entries fall out of the window. Same here, with the trimming
//! done lazily on each lookup and insert instead of on a timer: the window is only
//! ever observed through those two calls.

use std::collections::{HashMap, VecDeque};

/// One remembered message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The sequence the original message got.
    seq: u64,
    /// When it was stored (Unix nanoseconds).
    ts: i64,
}

/// The ids seen within the window.
#[derive(Debug, Default)]
pub struct Dedupe {
    /// Window length in nanoseconds; 0 turns de-duplication off.
    window: i64,
    /// id → where it was stored.
    by_id: HashMap<String, Entry>,
    /// Ids in insertion (= timestamp) order, for trimming.
    order: VecDeque<(String, i64)>,
}

impl Dedupe {
    /// A tracker for a window of `window_nanos`.
    pub fn new(window_nanos: i64) -> Dedupe {
        Dedupe {
            window: window_nanos.max(0),
            ..Dedupe::default()
        }
    }

    /// Change the window (stream update); entries outside the new one are dropped at
    /// the next call.
    pub fn set_window(&mut self, window_nanos: i64) {
        self.window = window_nanos.max(0);
    }

    /// The sequence of an earlier message with this id still inside the window.
    pub fn seen(&mut self, id: &str, now: i64) -> Option<u64> {
        self.trim(now);
        self.by_id.get(id).map(|e| e.seq)
    }

    /// Remember that `id` was stored as `seq` at `ts`.
    pub fn insert(&mut self, id: &str, seq: u64, ts: i64, now: i64) {
        if self.window == 0 {
            return;
        }
        self.trim(now);
        if self
            .by_id
            .insert(id.to_string(), Entry { seq, ts })
            .is_none()
        {
            self.order.push_back((id.to_string(), ts));
        }
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn trim(&mut self, now: i64) {
        let oldest_kept = now.saturating_sub(self.window);
        while let Some((id, ts)) = self.order.front() {
            if *ts >= oldest_kept && self.window > 0 {
                break;
            }
            if self.by_id.get(id).is_some_and(|e| e.ts == *ts) {
                self.by_id.remove(id);
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn an_id_is_a_duplicate_only_inside_the_window() {
        let mut d = Dedupe::new(2 * S);
        assert_eq!(d.seen("a", 10 * S), None);
        d.insert("a", 1, 10 * S, 10 * S);
        assert_eq!(d.seen("a", 11 * S), Some(1));
        assert_eq!(d.seen("a", 12 * S), Some(1), "the window's edge is inside");
        assert_eq!(d.seen("a", 12 * S + 1), None);
        assert!(d.is_empty());
    }

    #[test]
    fn a_zero_window_remembers_nothing() {
        let mut d = Dedupe::new(0);
        d.insert("a", 1, S, S);
        assert_eq!(d.seen("a", S), None);
    }

    #[test]
    fn shrinking_the_window_forgets_old_ids() {
        let mut d = Dedupe::new(100 * S);
        d.insert("a", 1, S, S);
        d.insert("b", 2, 50 * S, 50 * S);
        d.set_window(10 * S);
        assert_eq!(d.seen("a", 55 * S), None);
        assert_eq!(d.seen("b", 55 * S), Some(2));
        assert_eq!(d.len(), 1);
    }
}
