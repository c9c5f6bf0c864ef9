//! Driving `max_age` and TTL expiry with a timer.
//!
//! The store knows its next deadline ([`StreamStore::next_expiry`]: the
//! earliest TTL in an ordered index, or the oldest message's age limit), so
//! the owner of a stream sleeps until then and calls
//! [`StreamStore::expire`] — nothing is scanned on a schedule. A message
//! appended while the timer sleeps can have an earlier deadline (a short
//! TTL); the owner either wakes the timer when it appends such a message, or
//! relies on `max_wait`, the longest the timer sleeps before looking again.

use std::time::Duration;

use crate::error::StoreResult;
use crate::message::now_nanos;
use crate::state::Expired;
use crate::store::StreamStore;

/// Waits until the store has something to expire (or `max_wait` passed),
/// expires it, and returns what went (possibly nothing). Run it in a loop on
/// the store's core.
pub async fn expire_when_due<S: StreamStore>(
    store: &S,
    max_wait: Duration,
) -> StoreResult<Vec<Expired>> {
    let now = now_nanos();
    let wait = match store.next_expiry() {
        Some(at) if at <= now => Duration::ZERO,
        Some(at) => Duration::from_nanos((at - now) as u64).min(max_wait),
        None => max_wait,
    };
    if !wait.is_zero() {
        glommio::timer::sleep(wait).await;
    }
    store.expire(now_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemStore, NewMessage, StoreLimits};
    use bytes::Bytes;
    use std::time::Instant;

    #[test]
    fn a_ttl_expires_on_time_without_polling() {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(1 << 20)
            .make()
            .expect("executor")
            .run(async {
                let store = MemStore::new(StoreLimits::default());
                let m = NewMessage {
                    subject: Bytes::from_static(b"t"),
                    ttl: 1,
                    ..NewMessage::default()
                };
                let _ = store.append(m).expect("append");
                let keep = NewMessage {
                    subject: Bytes::from_static(b"k"),
                    ..NewMessage::default()
                };
                let _ = store.append(keep).expect("append");
                let start = Instant::now();
                let mut gone = Vec::new();
                while gone.is_empty() {
                    gone = expire_when_due(&store, Duration::from_secs(10))
                        .await
                        .expect("expire");
                }
                let took = start.elapsed();
                assert_eq!(gone.len(), 1);
                assert_eq!(gone[0].seq, 1);
                assert!(
                    took >= Duration::from_millis(900) && took < Duration::from_secs(3),
                    "{took:?}"
                );
                assert_eq!(store.state().messages, 1);
                assert_eq!(store.next_expiry(), None);
            });
    }
}
