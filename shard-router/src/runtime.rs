//! Starting the shards: one pinned glommio executor per core, plus a watchdog.
//!
//! Settings come from measurements on these machines (docs/architecture.md):
//! - `preempt_timer` of a few ms: glommio's 100 ms default lets one busy task delay
//!   timers and I/O completions on its core by 100–200 ms.
//! - `io_memory` sized for the memlock limit: each executor pins 3 × io_memory, and the
//!   budget is per user across processes; over it, registration silently fails.
//! - a larger ring depth, so bursts of I/O do not spill into the overflow queue.
//! - a watchdog thread, because an executor was once seen parked for minutes with
//!   sockets full of unread data.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};

use crate::mesh::{self, MeshEnds};
use crate::RouterError;

/// Index of a shard, 0-based. Shard 0 also runs process-wide duties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub usize);

/// How the shards are started.
#[derive(Debug, Clone)]
pub struct ShardSettings {
    /// Number of shards (executors); may exceed the CPUs (they then share CPUs).
    pub shards: usize,
    /// glommio preempt timer: how long a task queue runs before the reactor is polled.
    pub preempt_timer: Duration,
    /// Busy-poll this long before parking; only worth it on dedicated cores.
    pub spin_before_park: Option<Duration>,
    /// io_uring submission queue depth.
    pub ring_depth: usize,
    /// Thread name prefix (`<prefix>-<n>`), visible in `top -H` and stack dumps.
    pub name: String,
}

/// Default preempt timer: short enough that timers fire within a few ms under load.
pub const DEFAULT_PREEMPT_TIMER: Duration = Duration::from_millis(2);
/// Default ring depth: 128 (glommio's default) overflowed under bursts in the probe.
pub const DEFAULT_RING_DEPTH: usize = 512;
/// A shard that has not beaten its heartbeat for this long is reported as stalled.
pub const STALL_THRESHOLD: Duration = Duration::from_secs(3);
/// How often each shard beats.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);
/// The most io_memory we give a shard even when memlock is unlimited. Registered
/// buffers only serve DMA file I/O, which the storage engine will bring; until then a
/// small pinned slab keeps many servers on one host cheap (each executor pins 3×).
const MAX_IO_MEMORY: usize = 1 << 20;
/// glommio refuses to start an executor with a memlock limit under 512 KiB.
const GLOMMIO_MIN_MEMLOCK: u64 = 512 << 10;

impl ShardSettings {
    /// Settings for `shards` shards with the measured defaults.
    pub fn new(shards: usize) -> Self {
        ShardSettings {
            shards: shards.max(1),
            preempt_timer: DEFAULT_PREEMPT_TIMER,
            spin_before_park: None,
            ring_depth: DEFAULT_RING_DEPTH,
            name: "jetcore-shard".to_string(),
        }
    }
}

/// What a shard's entry function receives: who it is, and its ends of the mesh.
pub struct ShardContext<D: Send + 'static, C: Send + 'static> {
    /// This shard.
    pub id: ShardId,
    /// How many shards exist.
    pub shards: usize,
    /// Unconnected ends of the data plane (client messages between shards).
    pub data: MeshEnds<D>,
    /// Unconnected ends of the control plane (interest, barriers, shutdown).
    pub control: MeshEnds<C>,
}

/// The CPUs this process may run on (its affinity mask), in order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for pid 0 (us).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let ok =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if ok != 0 {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        return (0..n).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: i < CPU_SETSIZE, the size of the set.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// Appended to the io_memory log line when the memlock limit is under glommio's
/// minimum (the server logs that line as a warning then).
const MEMLOCK_TOO_LOW: &str =
    "; memlock is below the 512 KiB glommio needs: raise it (LimitMEMLOCK=infinity / ulimit -l)";

/// How much io_memory each shard gets, and a line for the log saying why.
pub fn io_memory_for(shards: usize) -> (usize, String) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !ok || lim.rlim_cur == libc::RLIM_INFINITY || root {
        let mut why = format!(
            "io_memory {} KiB per shard (memlock unlimited or root)",
            MAX_IO_MEMORY >> 10
        );
        // Root's locked memory is not limited, but glommio still refuses to start
        // under its minimum limit; say so before it does.
        if ok && lim.rlim_cur != libc::RLIM_INFINITY && lim.rlim_cur < GLOMMIO_MIN_MEMLOCK {
            why.push_str(MEMLOCK_TOO_LOW);
        }
        return (MAX_IO_MEMORY, why);
    }
    let budget = lim.rlim_cur as usize;
    // 3 rings per executor each register io_memory; leave a quarter of the budget
    // for other processes of the same user.
    let per = (budget * 3 / 4) / (3 * shards.max(1));
    let per = (per & !0xFFFF).clamp(64 << 10, MAX_IO_MEMORY);
    let mut why = format!(
        "io_memory {} KiB per shard for a memlock limit of {} KiB (3 rings × {} shards)",
        per >> 10,
        budget >> 10,
        shards
    );
    if (lim.rlim_cur) < GLOMMIO_MIN_MEMLOCK {
        why.push_str(MEMLOCK_TOO_LOW);
    }
    (per, why)
}

/// Start `settings.shards` shards, run `entry` on each, and wait for all to finish.
///
/// When there are at least as many shards as allowed CPUs, shard i is pinned to the
/// i-th allowed CPU (wrapping around when there are more shards than CPUs); otherwise
/// shards float. Returns the first shard failure.
pub fn run<D, C, F, Fut>(settings: ShardSettings, entry: F) -> Result<(), RouterError>
where
    D: Send + 'static,
    C: Send + 'static,
    F: Fn(ShardContext<D, C>) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = Result<(), String>> + 'static,
{
    let cpus = allowed_cpus();
    let (io_memory, _) = io_memory_for(settings.shards);
    let data = mesh::build::<D>(settings.shards);
    let control = mesh::build::<C>(settings.shards);
    let beats: Vec<Arc<AtomicU64>> = (0..settings.shards)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let epoch = Instant::now();
    let mut handles = Vec::new();
    // Pin only when the shards cover every CPU we may use: then each core is ours. With
    // fewer shards than CPUs the host is shared (several servers, `--cores 1` test
    // instances...) and pinning every process's shard 0 to the same CPU would pile
    // them onto one core while others idle; the kernel balances better there.
    let pin = settings.shards >= cpus.len();
    for (i, (data, control)) in data.into_iter().zip(control).enumerate() {
        let placement = if pin {
            Placement::Fixed(cpus.get(i % cpus.len().max(1)).copied().unwrap_or(0))
        } else {
            Placement::Unbound
        };
        let mut builder = LocalExecutorBuilder::new(placement)
            .name(&format!("{}-{i}", settings.name))
            .preempt_timer(settings.preempt_timer)
            .ring_depth(settings.ring_depth)
            .io_memory(io_memory);
        if let Some(spin) = settings.spin_before_park {
            builder = builder.spin_before_park(spin);
        }
        let entry = entry.clone();
        let beat = beats[i].clone();
        let shards = settings.shards;
        let handle = builder
            .spawn(move || async move {
                crate::spawn(heartbeat(beat, epoch));
                let ctx = ShardContext {
                    id: ShardId(i),
                    shards,
                    data,
                    control,
                };
                entry(ctx).await
            })
            .map_err(|e| RouterError::Executor {
                shard: i,
                source: e,
            })?;
        handles.push(handle);
    }
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = spawn_watchdog(beats, epoch, done.clone());
    // Results arrive in the order shards end, not in shard order: a shard that fails
    // early (its executor could not register io memory: ENOMEM under a small memlock
    // limit) must stop the start-up at once. Joining shard 0 first would wait forever,
    // since shard 0 waits for every peer's channel ends before it can finish.
    let (tx, rx) = std::sync::mpsc::channel();
    let count = handles.len();
    for (i, h) in handles.into_iter().enumerate() {
        let tx = tx.clone();
        let joiner = std::thread::Builder::new()
            .name(format!("{}-join-{i}", settings.name))
            .spawn(move || {
                let res = match h.join() {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(reason)) => Err(RouterError::ShardFailed { shard: i, reason }),
                    Err(e) => Err(RouterError::ShardFailed {
                        shard: i,
                        reason: e.to_string(),
                    }),
                };
                let _ = tx.send(res);
            });
        if let Err(e) = joiner {
            return Err(RouterError::ShardFailed {
                shard: i,
                reason: format!("cannot start its joiner thread: {e}"),
            });
        }
    }
    drop(tx);
    let mut result = Ok(());
    for _ in 0..count {
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                // The other shards may be waiting for this one forever; the caller
                // reports the error and ends the process, which ends them.
                result = Err(e);
                break;
            }
            Err(_) => break,
        }
    }
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    result
}

/// Bump this shard's heartbeat forever (milliseconds since `epoch`).
async fn heartbeat(beat: Arc<AtomicU64>, epoch: Instant) {
    loop {
        beat.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        crate::time::sleep(HEARTBEAT_EVERY).await;
    }
}

/// A thread that logs a warning when a shard stops beating, and when it recovers.
fn spawn_watchdog(
    beats: Vec<Arc<AtomicU64>>,
    epoch: Instant,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("jetcore-watchdog".into())
        .spawn(move || {
            let mut stalled = vec![false; beats.len()];
            // Give executors time to start before judging them (but stop promptly).
            let started = Instant::now();
            while started.elapsed() < STALL_THRESHOLD && !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            while !done.load(Ordering::SeqCst) {
                let now = epoch.elapsed().as_millis() as u64;
                for (i, b) in beats.iter().enumerate() {
                    let age = now.saturating_sub(b.load(Ordering::Relaxed));
                    let is_stalled = age > STALL_THRESHOLD.as_millis() as u64;
                    if is_stalled && !stalled[i] {
                        tracing::warn!("shard {i} has not run for {age} ms (executor stall?)");
                    } else if !is_stalled && stalled[i] {
                        tracing::warn!("shard {i} is running again");
                    }
                    stalled[i] = is_stalled;
                }
                for _ in 0..10 {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        })
        .unwrap_or_else(|_| std::thread::spawn(|| {}))
}
