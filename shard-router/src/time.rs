//! Time on a shard: sleeps and timeouts driven by the shard's own reactor.

use std::future::Future;
use std::time::Duration;

/// Sleep for `d` on the current shard.
pub async fn sleep(d: Duration) {
    glommio::timer::sleep(d).await;
}

/// The future did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out")]
pub struct Elapsed;

/// Run `fut`, giving up after `d`.
pub async fn timeout<T>(d: Duration, fut: impl Future<Output = T>) -> Result<T, Elapsed> {
    let fut = async { Ok(fut.await) };
    glommio::timer::timeout(d, fut).await.map_err(|_| Elapsed)
}
