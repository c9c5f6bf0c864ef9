//! `scripts/sim-crash SEEDS [--mode plain|lz4|aes|chacha|all] [--break SWITCH]`:
//! random workloads on a FileStore on the simulated disk, with power losses,
//! process kills and I/O errors at random points; every recovery is checked
//! (see `jetcore_storage::sim::crash` for the contract). The last line is
//! `N runs, M anomalies` (M counts runs with at least one anomaly); the exit
//! status is 1 when M > 0.
//!
//! SEEDS is a count (`500`: seeds 0..500) or a range (`1000..2000`).
//! Options: `--seed S` replays one seed with a log of what it does;
//! `--jobs J` (default: the CPUs available); `--ops N` operations per round;
//! `--rounds R`; `--no-faults`; `--stop-early` (stop at the first anomaly).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use jetcore_storage::sim::crash::{run_many, Mode, Options, Outcome, Switch};

fn usage() -> ExitCode {
    eprintln!(
        "usage: sim-crash SEEDS [--mode plain|lz4|aes|chacha|all] \
         [--break ack-before-sync|skip-dir-sync|skip-checksum|sync-never] \
         [--seed S] [--jobs J] [--ops N] [--rounds R] [--no-faults] [--stop-early]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut seeds: Vec<u64> = Vec::new();
    let mut modes = Mode::ALL.to_vec();
    let mut opts = Options::default();
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut stop_early = false;
    while let Some(a) = args.next() {
        let mut value = || args.next();
        match a.as_str() {
            "--mode" => match value().as_deref() {
                Some("all") => modes = Mode::ALL.to_vec(),
                Some(m) => match Mode::parse(m) {
                    Some(m) => modes = vec![m],
                    None => return usage(),
                },
                None => return usage(),
            },
            "--break" => match value().as_deref().and_then(Switch::parse) {
                Some(s) => opts.switch = Some(s),
                None => return usage(),
            },
            "--seed" => match value().and_then(|v| v.parse().ok()) {
                Some(s) => {
                    seeds = vec![s];
                    opts.verbose = true;
                }
                None => return usage(),
            },
            "--jobs" => match value().and_then(|v| v.parse().ok()) {
                Some(j) => jobs = j,
                None => return usage(),
            },
            "--ops" => match value().and_then(|v| v.parse().ok()) {
                Some(n) => opts.ops_per_round = n,
                None => return usage(),
            },
            "--rounds" => match value().and_then(|v| v.parse().ok()) {
                Some(n) => opts.rounds = n,
                None => return usage(),
            },
            "--no-faults" => opts.faults = false,
            "--stop-early" => stop_early = true,
            "-h" | "--help" => return usage(),
            spec => {
                let parsed = match spec.split_once("..") {
                    Some((a, b)) => a.parse::<u64>().ok().zip(b.parse::<u64>().ok()),
                    None => spec.parse::<u64>().ok().map(|n| (0, n)),
                };
                match parsed {
                    Some((a, b)) => seeds = (a..b).collect(),
                    None => return usage(),
                }
            }
        }
    }
    if seeds.is_empty() {
        return usage();
    }
    if opts.verbose {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .try_init();
    }
    let started = Instant::now();
    let total = (seeds.len() * modes.len()) as u64;
    let done = AtomicU64::new(0);
    let report = |o: &Outcome| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        for a in &o.anomalies {
            println!("seed {} mode {}: {a}", o.seed, o.mode.name());
        }
        if n.is_multiple_of(1000) {
            eprintln!("{n}/{total} runs, {:?}", started.elapsed());
        }
    };
    let summary = run_many(&seeds, &modes, &opts, jobs, stop_early, &report);
    eprintln!(
        "{} acknowledged mutations, {} power losses, {} process kills, {} injected I/O errors, {:.1?}{}",
        summary.acked,
        summary.power_losses,
        summary.kills,
        summary.faults,
        started.elapsed(),
        opts.switch.map_or(String::new(), |s| format!(", switch {}", s.name()))
    );
    println!("{} runs, {} anomalies", summary.runs, summary.failed.len());
    if summary.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
