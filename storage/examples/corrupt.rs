//! `scripts/corrupt SEEDS [--file-type T] [--damage D] [--break skip-checksum|ignore-removal-echo|one-consumer-copy]`:
//! the corruption matrix. Each seed builds a store and a consumer on the
//! simulated disk, stops them, damages one file and reopens (see
//! `jetcore_storage::sim::corrupt`). Prints a table of outcomes per file type
//! and per damage kind; the last line is `N runs, M anomalies`; the exit
//! status is 1 when M > 0.
//!
//! SEEDS is a count (`500`: seeds 0..500) or a range (`1000..2000`).
//! `--seed S` replays one seed with a log; `--jobs J` (default: the CPUs
//! available).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use jetcore_storage::sim::corrupt::{run_many, Damage, Options, Outcome, Summary, Target, Verdict};
use jetcore_storage::sim::Break;

fn usage() -> ExitCode {
    eprintln!(
        "usage: corrupt SEEDS [--file-type block-header|block-frames|redo|consumer-state] \
         [--damage bit-flip|zero-aligned|zero-unaligned|truncate] [--break skip-checksum|ignore-removal-echo|one-consumer-copy] \
         [--seed S] [--jobs J]"
    );
    ExitCode::from(2)
}

fn print_table<K: Ord + Copy>(
    title: &str,
    s: &Summary,
    key: impl Fn(&Outcome) -> K,
    name: impl Fn(K) -> &'static str,
) {
    let t = s.table(key);
    print!("{title:<16}");
    for v in Verdict::ALL {
        print!(" {:>9}", short(v));
    }
    println!();
    for (k, row) in t {
        print!("{:<16}", name(k));
        for v in Verdict::ALL {
            print!(" {:>9}", row.get(&v).copied().unwrap_or(0));
        }
        println!();
    }
}

/// Column headings short enough for a table.
fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::Unaffected => "unaffect",
        other => other.name(),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut seeds: Vec<u64> = Vec::new();
    let mut opts = Options::default();
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    while let Some(a) = args.next() {
        let mut value = || args.next();
        match a.as_str() {
            "--file-type" => match value().as_deref().and_then(Target::parse) {
                Some(t) => opts.target = Some(t),
                None => return usage(),
            },
            "--damage" => match value()
                .as_deref()
                .and_then(|v| Damage::ALL.into_iter().find(|d| d.name() == v))
            {
                Some(d) => opts.damage = Some(d),
                None => return usage(),
            },
            "--break" => match value().as_deref() {
                Some("skip-checksum") => opts.switch = Some(Break::SkipChecksum),
                Some("ignore-removal-echo") => opts.switch = Some(Break::IgnoreRemovalEcho),
                Some("one-consumer-copy") => opts.switch = Some(Break::OneConsumerCopy),
                _ => return usage(),
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
    let total = seeds.len() as u64;
    let done = AtomicU64::new(0);
    let report = |o: &Outcome| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if o.verdict == Verdict::Anomaly || opts.verbose {
            println!(
                "seed {} {} {} -> {}: {}",
                o.seed,
                o.target.name(),
                o.damage.name(),
                o.verdict.name(),
                o.what
            );
            for a in &o.anomalies {
                println!("  {a}");
            }
        }
        if n.is_multiple_of(1000) {
            eprintln!("{n}/{total} runs, {:?}", started.elapsed());
        }
    };
    let summary = run_many(&seeds, &opts, jobs, &report);
    print_table("file type", &summary, |o| o.target, Target::name);
    print_table("damage", &summary, |o| o.damage, Damage::name);
    eprintln!(
        "{:.1?}{}",
        started.elapsed(),
        match opts.switch {
            Some(b) => format!(", switch {b:?}"),
            None => String::new(),
        }
    );
    let m = summary.anomalies();
    println!("{} runs, {} anomalies", summary.outcomes.len(), m);
    if m == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
