//! The little that all shards share: counters, the stop and lame duck flags, the
//! options a reload may change, and the job mailbox of core 0.
//!
//! Everything else is per shard. These are atomics because they are process-wide
//! facts: a client id is unique across the server, and `max_connections` limits the
//! whole process, not one core. The reloadable options are atomics too (see
//! [`LiveOptions`]): shards read them on their hot paths, and the signal thread writes
//! them on SIGHUP without stopping anyone.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use jetcore_router::shutdown::Shutdown;

use crate::options::Options;
use crate::shard::Shard;

/// Process-wide state shared by every shard.
pub struct Global {
    /// Next client id to hand out (Go's ids start at 1 and grow).
    next_cid: AtomicU64,
    /// Client connections open now, across all shards.
    connections: AtomicI64,
    /// Raised on SIGTERM/SIGINT, or at the end of lame duck mode.
    pub shutdown: Shutdown,
    /// Raised on SIGUSR2: lame duck mode. Shards stop accepting clients; core 0 closes
    /// the connected ones over `lame_duck_duration`, then raises `shutdown`.
    pub lame_duck: Shutdown,
    /// Set once "Initiating Shutdown..." was logged, so it is logged once.
    shutdown_logged: AtomicBool,
    /// Set by core 0 once JetStream has restored its streams and subscribed its API;
    /// until then no core accepts clients (Go restores JetStream before it listens).
    pub jetstream_ready: AtomicBool,
    /// The options a config reload can change, read by shards as they go.
    pub live: LiveOptions,
    /// The options in force (start-up options with reloads applied), for readers off
    /// the hot path such as monitoring. Shards' own `opts` stay the start-up snapshot.
    options: Mutex<Arc<Options>>,
    /// When the options in force were loaded (start, or the last reload), as Unix
    /// nanoseconds: `/varz`'s `config_load_time`.
    loaded_at: AtomicI64,
    /// Jobs other threads (the signal thread) ask core 0 to run.
    jobs: Mailbox,
}

impl Default for Global {
    fn default() -> Self {
        Global::new(&Options::default())
    }
}

impl Global {
    /// Shared state for a server started with `opts`.
    pub fn new(opts: &Options) -> Global {
        Global {
            next_cid: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            shutdown: Shutdown::new(),
            lame_duck: Shutdown::new(),
            shutdown_logged: AtomicBool::new(false),
            jetstream_ready: AtomicBool::new(false),
            live: LiveOptions::new(opts),
            options: Mutex::new(Arc::new(opts.clone())),
            loaded_at: AtomicI64::new(unix_nanos_now()),
            jobs: Mailbox::default(),
        }
    }

    /// A fresh id for a new connection.
    pub fn next_client_id(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Count a new connection unless that would exceed `max`; false means refuse it.
    /// A negative `max` refuses every client, as Go does (`max_connections: 0` in a
    /// config file becomes -1 there).
    pub fn try_add_connection(&self, max: i64) -> bool {
        if max < 0 {
            return false;
        }
        let now = self.connections.fetch_add(1, Ordering::AcqRel) + 1;
        if max > 0 && now > max {
            self.connections.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// A connection closed.
    pub fn remove_connection(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// Connections open now.
    pub fn connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Start the graceful shutdown: log Go's "Initiating Shutdown..." (once, whoever
    /// asks first) and raise the flag every shard waits on.
    pub fn begin_shutdown(&self) {
        if !self.shutdown_logged.swap(true, Ordering::AcqRel) {
            tracing::info!("Initiating Shutdown...");
        }
        self.shutdown.raise();
    }

    /// The options in force now.
    pub fn options(&self) -> Arc<Options> {
        match self.options.lock() {
            Ok(o) => o.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Make `opts` the options in force (a reload): the live values change at once.
    pub fn set_options(&self, opts: &Options) {
        self.live.store(opts);
        let mut slot = match self.options.lock() {
            Ok(o) => o,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(opts.clone());
        self.loaded_at.store(unix_nanos_now(), Ordering::Release);
    }

    /// When the options in force were loaded, as Unix nanoseconds.
    pub fn options_loaded_at(&self) -> i64 {
        self.loaded_at.load(Ordering::Acquire)
    }

    /// Queue `job` for core 0 (see [`Global::next_job`]). Never blocks.
    pub fn post_job(&self, job: ShardJob) {
        self.jobs.push(job);
    }

    /// The next job posted for core 0; waits while there is none.
    pub fn next_job(&self) -> NextJob<'_> {
        NextJob {
            mailbox: &self.jobs,
        }
    }
}

/// Work another thread hands to core 0: it runs there with core 0's shard.
pub type ShardJob = Box<dyn FnOnce(Rc<Shard>) + Send>;

/// The options a reload may change (Go's reloadable ones that jetcore reads while
/// running), as atomics: a shard reads one with a plain relaxed load on its hot path,
/// and the signal thread stores new values without locking anyone out.
pub struct LiveOptions {
    /// `max_payload`: INFO of new connections and the parser limit of every one.
    max_payload: AtomicU32,
    /// `max_control_line`: the parser limit of every connection.
    max_control_line: AtomicU32,
    /// `max_connections` (-1 refuses every client).
    max_connections: AtomicI64,
    /// `ping_interval`, in nanoseconds.
    ping_interval: AtomicU64,
    /// `ping_max`.
    ping_max: AtomicU32,
    /// `write_deadline`, in nanoseconds.
    write_deadline: AtomicU64,
    /// `trace` (`-V`): log each client operation.
    trace: AtomicBool,
    /// Bumped after each store, so readers that cache values (a connection's parser
    /// limits) notice cheaply that they should look again.
    generation: AtomicU64,
}

impl LiveOptions {
    /// The live values of `opts`.
    fn new(opts: &Options) -> LiveOptions {
        let live = LiveOptions {
            max_payload: AtomicU32::new(0),
            max_control_line: AtomicU32::new(0),
            max_connections: AtomicI64::new(0),
            ping_interval: AtomicU64::new(0),
            ping_max: AtomicU32::new(0),
            write_deadline: AtomicU64::new(0),
            trace: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        };
        live.store(opts);
        live
    }

    /// Take the values of `opts`.
    fn store(&self, opts: &Options) {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.max_payload.store(opts.max_payload, Ordering::Relaxed);
        self.max_control_line
            .store(opts.max_control_line, Ordering::Relaxed);
        self.max_connections
            .store(i64::from(opts.max_connections), Ordering::Relaxed);
        self.ping_interval
            .store(nanos(opts.ping_interval), Ordering::Relaxed);
        self.ping_max.store(opts.ping_max, Ordering::Relaxed);
        self.write_deadline
            .store(nanos(opts.write_deadline), Ordering::Relaxed);
        self.trace.store(opts.trace, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// `max_payload`.
    pub fn max_payload(&self) -> u32 {
        self.max_payload.load(Ordering::Relaxed)
    }

    /// `max_control_line`.
    pub fn max_control_line(&self) -> u32 {
        self.max_control_line.load(Ordering::Relaxed)
    }

    /// `max_connections`.
    pub fn max_connections(&self) -> i64 {
        self.max_connections.load(Ordering::Relaxed)
    }

    /// `ping_interval`.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_nanos(self.ping_interval.load(Ordering::Relaxed))
    }

    /// `ping_max`.
    pub fn ping_max(&self) -> u32 {
        self.ping_max.load(Ordering::Relaxed)
    }

    /// `write_deadline`.
    pub fn write_deadline(&self) -> Duration {
        Duration::from_nanos(self.write_deadline.load(Ordering::Relaxed))
    }

    /// `trace`.
    pub fn trace(&self) -> bool {
        self.trace.load(Ordering::Relaxed)
    }

    /// Changes whenever the values change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// A queue of [`ShardJob`]s filled by any thread and drained by one task on core 0.
/// glommio wakers are `Send`, so a mutex-protected waker is enough across threads.
#[derive(Default)]
struct Mailbox {
    /// Jobs not taken yet, and the waker of the task waiting for one.
    state: Mutex<MailboxState>,
}

/// The inside of a [`Mailbox`].
#[derive(Default)]
struct MailboxState {
    /// Jobs in arrival order.
    jobs: VecDeque<ShardJob>,
    /// The consumer, when it waits.
    waker: Option<Waker>,
}

impl Mailbox {
    /// Add a job and wake the consumer.
    fn push(&self, job: ShardJob) {
        let waker = {
            let mut st = match self.state.lock() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            st.jobs.push_back(job);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Future returned by [`Global::next_job`].
pub struct NextJob<'a> {
    /// The mailbox being drained.
    mailbox: &'a Mailbox,
}

impl Future for NextJob<'_> {
    type Output = ShardJob;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ShardJob> {
        let mut st = match self.mailbox.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        match st.jobs.pop_front() {
            Some(job) => Poll::Ready(job),
            None => {
                // Checked and registered under the same lock: no wake-up is lost.
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Now as Unix nanoseconds (0 if the clock is before 1970).
fn unix_nanos_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_options_follow_set_options() {
        let g = Global::default();
        assert_eq!(g.live.max_payload(), crate::options::DEFAULT_MAX_PAYLOAD);
        let before = g.live.generation();
        let opts = Options {
            max_payload: 2000,
            max_control_line: 300,
            max_connections: 7,
            ping_interval: Duration::from_secs(5),
            ping_max: 9,
            write_deadline: Duration::from_millis(1500),
            trace: true,
            ..Options::default()
        };
        g.set_options(&opts);
        assert_ne!(g.live.generation(), before);
        assert_eq!(g.live.max_payload(), 2000);
        assert_eq!(g.live.max_control_line(), 300);
        assert_eq!(g.live.max_connections(), 7);
        assert_eq!(g.live.ping_interval(), Duration::from_secs(5));
        assert_eq!(g.live.ping_max(), 9);
        assert_eq!(g.live.write_deadline(), Duration::from_millis(1500));
        assert!(g.live.trace());
        assert_eq!(g.options().max_payload, 2000);
    }
}
