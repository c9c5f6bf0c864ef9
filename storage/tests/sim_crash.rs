//! The crash harness (`jetcore_storage::sim::crash`, `scripts/sim-crash`) in
//! the test suite: a few hundred seeds per mode find nothing, each deliberate
//! bug is found within a few hundred seeds, runs replay from their seeds, and
//! the seeds that found real bugs stay fixed.
//!
//! `JETCORE_SIM_SEEDS` sets the seeds per mode (default 200; the bar
//! is 10,000 per mode, run with `scripts/sim-crash 10000` in release).

use jetcore_storage::sim::crash::{run_many, run_seed, Mode, Options, Outcome, Switch};

fn seeds_per_mode() -> u64 {
    std::env::var("JETCORE_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn print(o: &Outcome) {
    for a in &o.anomalies {
        eprintln!("seed {} mode {}: {a}", o.seed, o.mode.name());
    }
}

fn quiet(_: &Outcome) {}

#[test]
fn no_anomalies_in_any_mode() {
    let n = seeds_per_mode();
    let seeds: Vec<u64> = (0..n).collect();
    let summary = run_many(&seeds, &Mode::ALL, &Options::default(), 2, false, &print);
    eprintln!(
        "{} runs, {} anomalies ({} acknowledged mutations, {} power losses, {} kills, {} I/O errors)",
        summary.runs,
        summary.failed.len(),
        summary.acked,
        summary.power_losses,
        summary.kills,
        summary.faults
    );
    assert_eq!(summary.runs, n * 4);
    assert!(
        summary.failed.is_empty(),
        "replay with scripts/sim-crash --seed S --mode M: {:?}",
        summary
            .failed
            .iter()
            .map(|o| (o.seed, o.mode.name()))
            .collect::<Vec<_>>()
    );
    // The runs did what they are for.
    assert!(summary.acked > n * 4 * 20, "too few acknowledged mutations");
    assert!(summary.power_losses > n * 4, "too few power losses");
    assert!(summary.kills > 0 && summary.faults > 0);
}

/// The harness must be able to fail: each deliberate bug (and `sync: never`)
/// is reported within a few hundred seeds, in every mode.
#[test]
fn every_switch_is_caught_in_every_mode() {
    let seeds: Vec<u64> = (0..300).collect();
    for switch in Switch::ALL {
        for mode in Mode::ALL {
            let opts = Options {
                switch: Some(switch),
                ..Options::default()
            };
            let summary = run_many(&seeds, &[mode], &opts, 2, true, &quiet);
            let first = summary.failed.iter().map(|o| o.seed).min();
            eprintln!(
                "switch {} mode {}: first anomaly at seed {first:?}",
                switch.name(),
                mode.name()
            );
            assert!(
                !summary.failed.is_empty(),
                "switch {} went unnoticed in mode {} over {} runs",
                switch.name(),
                mode.name(),
                summary.runs
            );
        }
    }
}

/// A run replays exactly from its seed: same disk operations, same result.
#[test]
fn runs_replay_from_their_seed() {
    let (a, b) = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 << 10)
        .make()
        .expect("executor")
        .run(async {
            let opts = Options::default();
            let a = run_seed(11, Mode::Aes, &opts).await;
            let b = run_seed(11, Mode::Aes, &opts).await;
            (a, b)
        });
    assert_ne!(a.digest, 0);
    assert_eq!(
        (a.digest, a.acked, a.power_losses, a.kills, a.faults),
        (b.digest, b.acked, b.power_losses, b.kills, b.faults)
    );
    assert_eq!(a.anomalies, b.anomalies);
}

/// Seeds that found real bugs; they must keep passing. (Each bug also has a
/// targeted test: `durable.rs`, `consumer_file.rs`, `tests/sim_scenarios.rs`.)
#[test]
fn regression_seeds() {
    let cases: &[(u64, Mode)] = &[
        // A durability ticket polled inside a select left one waker per
        // poll; glommio aborts a task at 32767 (durable.rs).
        (3, Mode::Plain),
        (10, Mode::Plain),
        // A block whose creation's fdatasync failed was built on after a
        // restart, then lost its header at a power loss: the store refused to
        // open (recovery rewrites the header page and the last write).
        (36, Mode::Plain),
        // The same for the last write: pages a failed fdatasync left readable
        // were recovered, written after, and lost at a power loss: damage
        // reported and acknowledged messages gone.
        (118, Mode::Plain),
        // A process killed between creating a block and syncing the
        // directory: the next process used the block, a power loss removed
        // it with acknowledged messages (recovery syncs the directory).
        (266, Mode::Plain),
        // The first consumer record tore in its first sector: the consumer
        // refused to open for good (consumer_file.rs `choose`).
        (297, Mode::Plain),
        // Reads racing a secure erase of adjacent frames saw a frame half
        // rewritten and answered `Corrupt` on a healthy store (file/mod.rs
        // `load_seq`, erase.rs).
        (6337, Mode::Lz4),
        (9007, Mode::Plain),
        (9111, Mode::Lz4),
        // A read racing an erase whose in-place write failed answered
        // `Corrupt` instead of `Poisoned`.
        (4978, Mode::Lz4),
        // Recovery finished an interrupted erase from a redo file whose name
        // was not durable; a power loss kept a torn page and lost the redo.
        (13777, Mode::Plain),
        // A consumer's first record tore, then its second attempt (slot 0
        // again, generation 2) tore too: the open refused for good.
        (16185, Mode::ChaCha),
    ];
    for &(seed, mode) in cases {
        let summary = run_many(&[seed], &[mode], &Options::default(), 1, false, &print);
        assert!(
            summary.failed.is_empty(),
            "seed {seed} mode {} regressed",
            mode.name()
        );
    }
}
