//! `scripts/power-loss CYCLES`: the real `jetcore` binary under concurrent
//! publishers, a consumer and stream churn, on a disk that forgets what was
//! never synced.
//!
//! The data directory is a FUSE mount ([`fuse`]) served from the storage
//! crate's simulated disk. One cycle:
//!
//! 1. mount the disk image; start jetcore on it (1 or 2 cores, chosen per
//!    cycle, so streams also move between cores across restarts);
//! 2. check the recovered server against the ledger of everything the clients
//!    were told so far ([`check`]);
//! 3. run the workload ([`workload`]) for a random time, then SIGKILL the
//!    server — or, in one cycle of ten, kill it during its recovery instead;
//! 4. unmount and cut the power: the disk keeps what was durable plus a
//!    seeded part of the rest (torn at 512 B / 4 KiB, reordered, directory
//!    entries per directory in order). That image is the next cycle's disk.
//!
//! A final start checks the last cycle. The last line reads
//! `N runs, M anomalies` (M = cycles whose check found an anomaly); the exit
//! status is non-zero when M > 0 — or, with `--expect-anomalies` (used with
//! `--break` or `--sync interval` to show the harness can fail), when M = 0.
//!
//! Needs root (or FUSE rights) and `/dev/fuse`.

mod check;
mod fuse;
mod ledger;
mod workload;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use jetcore_storage::sim::disk::SimDisk;

use crate::fuse::{Lie, SimFs, SIM_ROOT};
use crate::ledger::Ledger;
use crate::workload::{SharedAnomalies, SharedLedger};

/// How long a start (with its recovery) may take before it counts as a hang.
const START_LIMIT: Duration = Duration::from_secs(60);
/// The workload runs this long at most per cycle (a random part of it).
const MAX_LOAD: Duration = Duration::from_millis(1500);
/// One cycle in this many kills the server during its recovery.
const KILL_IN_RECOVERY_ONE_IN: u64 = 10;

/// The command line.
#[derive(Debug)]
struct Args {
    /// Power losses to run.
    cycles: u64,
    /// Seed of every random choice (disk and schedule).
    seed: u64,
    /// Cores for jetcore (`None`: 1 or 2, per cycle).
    cores: Option<u32>,
    /// The jetcore binary.
    jetcore: PathBuf,
    /// `sync_interval` value for the config (`always` by default).
    sync: String,
    /// The lie the disk tells, if any.
    lie: Option<Lie>,
    /// Succeed only if anomalies were found.
    expect_anomalies: bool,
    /// Stop at the first anomaly.
    stop_early: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: power-loss CYCLES [--seed S] [--cores N] [--jetcore PATH] \
         [--sync always|DURATION] [--break lie-fsync|lie-dir-fsync] \
         [--expect-anomalies] [--stop-early]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        cycles: 0,
        seed: 1,
        cores: None,
        jetcore: PathBuf::from("target/release/jetcore"),
        sync: "always".into(),
        lie: None,
        expect_anomalies: false,
        stop_early: false,
    };
    let mut it = std::env::args().skip(1);
    let mut cycles = None;
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--seed" => args.seed = value().parse().unwrap_or_else(|_| usage()),
            "--cores" => args.cores = Some(value().parse().unwrap_or_else(|_| usage())),
            "--jetcore" => args.jetcore = PathBuf::from(value()),
            "--sync" => args.sync = value(),
            "--break" => {
                args.lie = Some(match value().as_str() {
                    "lie-fsync" => Lie::FileSync,
                    "lie-dir-fsync" => Lie::DirSync,
                    _ => usage(),
                })
            }
            "--expect-anomalies" => args.expect_anomalies = true,
            "--stop-early" => args.stop_early = true,
            n if cycles.is_none() && !n.starts_with('-') => {
                cycles = Some(n.parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    args.cycles = cycles.unwrap_or_else(|| usage());
    args
}

/// A small deterministic generator for the schedule (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Where one run keeps its files (outside the mount).
struct Work {
    /// The run's directory.
    dir: PathBuf,
    /// The FUSE mount point.
    mnt: PathBuf,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_server(args: &Args, work: &Work, cores: u32, cycle: u64) -> std::io::Result<(Child, u16)> {
    let port = free_port()?;
    let conf = work.dir.join("jetcore.conf");
    let sync = if args.sync == "always" {
        "always".to_string()
    } else {
        format!("\"{}\"", args.sync)
    };
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n  sync_interval: {sync}\n}}\n",
            work.mnt.join("store").display()
        ),
    )?;
    let log = std::fs::File::create(work.dir.join(format!("jetcore.{}.log", cycle % 2)))?;
    let child = Command::new(&args.jetcore)
        .arg("-c")
        .arg(&conf)
        .arg("--cores")
        .arg(cores.to_string())
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()?;
    Ok((child, port))
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn log_tail(work: &Work, cycle: u64) -> String {
    let path = work.dir.join(format!("jetcore.{}.log", cycle % 2));
    let Ok(f) = std::fs::File::open(&path) else {
        return String::new();
    };
    let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(8)..].join("\n    ")
}

/// Connects once the server answers; `Err` if it exits or hangs first.
async fn connect(child: &mut Child, port: u16) -> Result<async_nats::Client, String> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("jetcore exited during start: {status}"));
        }
        if started.elapsed() > START_LIMIT {
            return Err(format!("jetcore did not answer within {START_LIMIT:?}"));
        }
        let opts = async_nats::ConnectOptions::new()
            .max_reconnects(Some(1))
            .connection_timeout(Duration::from_millis(500));
        let url = format!("nats://127.0.0.1:{port}");
        if let Ok(Ok(c)) = tokio::time::timeout(
            Duration::from_secs(1),
            async_nats::connect_with_options(url, opts.clone()),
        )
        .await
        {
            // The port answers before JetStream has loaded every stream on
            // every core; an API answer means it has.
            let js_ready =
                tokio::time::timeout(Duration::from_secs(2), c.request("$JS.API.INFO", "".into()))
                    .await;
            if let Ok(Ok(_)) = js_ready {
                return Ok(c);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One cycle; returns its anomalies.
async fn cycle(
    args: &Args,
    work: &Work,
    disk: &SimDisk,
    ledger: &SharedLedger,
    n: u64,
    rng: &mut Rng,
    last: bool,
) -> Vec<String> {
    let mut anomalies = Vec::new();
    let cores = args.cores.unwrap_or(1 + rng.below(2) as u32);
    let mut config = fuser::Config::default();
    config
        .mount_options
        .push(fuser::MountOption::FSName("jetcore-power-loss".into()));
    let session = match fuser::spawn_mount(SimFs::new(disk.clone(), args.lie), &work.mnt, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "power-loss: cannot mount FUSE at {}: {e}",
                work.mnt.display()
            );
            std::process::exit(3);
        }
    };
    let (mut child, port) = match start_server(args, work, cores, n) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("power-loss: cannot start {}: {e}", args.jetcore.display());
            std::process::exit(3);
        }
    };
    let kill_in_recovery = !last && rng.below(KILL_IN_RECOVERY_ONE_IN) == 0;
    if kill_in_recovery {
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
    } else {
        match connect(&mut child, port).await {
            Err(e) => anomalies.push(format!("{e}\n    {}", log_tail(work, n))),
            Ok(client) => {
                // Nothing else runs during the check: take the ledger out
                // (no lock is held across the check's awaits).
                let mut l = std::mem::take(&mut *ledger.lock().unwrap_or_else(|e| e.into_inner()));
                let found =
                    check::check_all(&client, &mut l, &workload::specs(), args.seed ^ n).await;
                *ledger.lock().unwrap_or_else(|e| e.into_inner()) = l;
                anomalies.extend(found);
                if !last {
                    let load = Duration::from_millis(50 + rng.below(MAX_LOAD.as_millis() as u64));
                    let seen = run_load(&client, ledger, n, rng, load, &mut child).await;
                    anomalies.extend(seen);
                }
            }
        }
    }
    kill(&mut child);
    unmount(&work.mnt).await;
    match session.join() {
        Ok(()) => {}
        // The server was killed and the mount taken down above: the session is
        // over either way. The kernel usually ends it with ENODEV, but when the
        // killed process still had requests in flight (a blocking-pool thread in
        // an fsync, say) the connection can end as aborted instead. Nothing the
        // checks rely on is lost: the model already holds every write the FUSE
        // thread answered, and nothing unanswered was ever acknowledged.
        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
        Err(e) => {
            eprintln!("power-loss: the FUSE session failed: {e}");
            std::process::exit(3);
        }
    }
    anomalies
}

/// How long the mount may stay busy after the server was killed: its
/// io_uring instance is torn down after the process is gone, and requests
/// still in flight hold the mount until the FUSE thread answers them.
const UNMOUNT_LIMIT: Duration = Duration::from_secs(10);

/// Unmounts `mnt` once nothing uses it (the session thread then ends); after
/// [`UNMOUNT_LIMIT`] it detaches it lazily, and joining the session waits for
/// the last user.
async fn unmount(mnt: &Path) {
    let Ok(path) = std::ffi::CString::new(mnt.as_os_str().as_encoded_bytes()) else {
        return;
    };
    let started = Instant::now();
    loop {
        // SAFETY: a valid NUL-terminated path; umount2 reads nothing else.
        let rc = unsafe { libc::umount2(path.as_ptr(), 0) };
        if rc == 0 {
            return;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EBUSY) || started.elapsed() > UNMOUNT_LIMIT {
            eprintln!("power-loss: unmount {}: {err}; detaching", mnt.display());
            // SAFETY: as above.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the workload, kills the server after `load`, and returns what the
/// workload itself saw go wrong.
async fn run_load(
    client: &async_nats::Client,
    ledger: &SharedLedger,
    n: u64,
    rng: &mut Rng,
    load: Duration,
    child: &mut Child,
) -> Vec<String> {
    let js = jetstream::new(client.clone());
    let specs = workload::specs();
    workload::ensure_streams(&js, ledger, &specs).await;
    let seen: SharedAnomalies = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (spec, publishers, window) in [(&specs[0], 2, 64), (&specs[1], 1, 16), (&specs[2], 1, 1)] {
        for _ in 0..publishers {
            tasks.push(tokio::spawn(workload::publisher(
                js.clone(),
                ledger.clone(),
                spec.clone(),
                window,
            )));
        }
    }
    tasks.push(tokio::spawn(workload::consumer(
        js.clone(),
        ledger.clone(),
        seen.clone(),
    )));
    if rng.below(3) == 0 {
        tasks.push(tokio::spawn(workload::churn(js.clone(), ledger.clone(), n)));
    }
    tokio::time::sleep(load).await;
    kill(child);
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    let out = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    out
}

fn main() -> ExitCode {
    let args = parse_args();
    if !Path::new(&args.jetcore).exists() {
        eprintln!(
            "power-loss: no jetcore binary at {}",
            args.jetcore.display()
        );
        return ExitCode::from(3);
    }
    let dir = std::env::temp_dir().join(format!("jetcore-power-loss-{}", std::process::id()));
    let work = Work {
        mnt: dir.join("mnt"),
        dir,
    };
    if let Err(e) = std::fs::create_dir_all(&work.mnt) {
        eprintln!("power-loss: {}: {e}", work.mnt.display());
        return ExitCode::from(3);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("power-loss: tokio: {e}");
            return ExitCode::from(3);
        }
    };
    let mut disk = SimDisk::new(args.seed, SIM_ROOT);
    disk.set_yield_percent(0);
    let ledger: SharedLedger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut bad_runs = 0u64;
    let started = Instant::now();
    for n in 0..=args.cycles {
        let last = n == args.cycles;
        let anomalies = runtime.block_on(cycle(&args, &work, &disk, &ledger, n, &mut rng, last));
        if !last {
            disk.power_loss();
            disk = match disk.after_power_loss() {
                Some(d) => d,
                None => {
                    eprintln!("power-loss: the simulated disk kept no image");
                    return ExitCode::from(3);
                }
            };
            disk.set_yield_percent(0);
        }
        // The check of start n looks at power loss n - 1.
        if !anomalies.is_empty() {
            bad_runs += 1;
            println!(
                "cycle {n} (seed {}): {} anomalies",
                args.seed,
                anomalies.len()
            );
            for a in anomalies.iter().take(20) {
                println!("  {a}");
            }
            if args.stop_early {
                break;
            }
        } else if n % 10 == 0 || last {
            let l = ledger.lock().unwrap_or_else(|e| e.into_inner());
            let acked: usize = l.books.values().map(|b| b.acked.len()).sum();
            println!(
                "cycle {n}: ok ({acked} acknowledged messages so far, {:.0?})",
                started.elapsed()
            );
        }
    }
    if bad_runs == 0 {
        let _ = std::fs::remove_dir_all(&work.dir);
    } else {
        // The last two server logs stay for the post-mortem.
        let _ = std::fs::remove_dir(&work.mnt);
        println!("server logs kept in {}", work.dir.display());
    }
    println!("{} runs, {} anomalies", args.cycles, bad_runs);
    let failed = if args.expect_anomalies {
        bad_runs == 0
    } else {
        bad_runs > 0
    };
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
