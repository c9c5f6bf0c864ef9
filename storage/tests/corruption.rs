//! The corruption matrix (`scripts/corrupt`) on a few hundred seeds: every
//! damage is repaired, fenced or refused (or a consumer falls back to its
//! previous record) — never an anomaly. And the matrix can fail: with frames
//! accepted without their checksum (`Break::SkipChecksum`), with removal
//! echoes ignored (`Break::IgnoreRemovalEcho`) or with a consumer's first
//! record in one slot only (`Break::OneConsumerCopy`) it reports anomalies.

use jetcore_storage::sim::corrupt::{run_many, Options, Target, Verdict};
use jetcore_storage::sim::Break;

/// Seeds per test: enough to reach every file type and damage kind, small
/// enough for a debug build.
const SEEDS: u64 = 300;
/// Executor threads.
const JOBS: usize = 2;

#[test]
fn corruption_matrix_has_no_anomaly() {
    let seeds: Vec<u64> = (0..SEEDS).collect();
    let s = run_many(&seeds, &Options::default(), JOBS, &|_| {});
    let bad: Vec<String> = s
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Anomaly)
        .map(|o| {
            format!(
                "seed {} {} {}: {} {:?}",
                o.seed,
                o.target.name(),
                o.damage.name(),
                o.what,
                o.anomalies
            )
        })
        .collect();
    assert_eq!(s.outcomes.len() as u64, SEEDS);
    assert!(
        bad.is_empty(),
        "{} anomalies:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // The matrix reaches each outcome that proves detection.
    for v in [Verdict::Fenced, Verdict::Refused] {
        assert!(
            s.outcomes.iter().any(|o| o.verdict == v),
            "no run ended {}",
            v.name()
        );
    }
}

/// Runs `SEEDS` seeds from `first` with a deliberate bug switched on and
/// asserts the matrix reports anomalies (`what` names what went unnoticed).
fn assert_matrix_catches(first: u64, opts: Options, what: &str) {
    let seeds: Vec<u64> = (first..first + SEEDS).collect();
    let s = run_many(&seeds, &opts, JOBS, &|_| {});
    assert!(s.anomalies() > 0, "{what} went unnoticed in {SEEDS} runs");
}

#[test]
fn corruption_matrix_finds_skipped_checksums() {
    let opts = Options {
        switch: Some(Break::SkipChecksum),
        ..Options::default()
    };
    assert_matrix_catches(10_000, opts, "frames accepted without their checksum");
}

#[test]
fn corruption_matrix_finds_ignored_removal_echoes() {
    let opts = Options {
        switch: Some(Break::IgnoreRemovalEcho),
        ..Options::default()
    };
    assert_matrix_catches(20_000, opts, "removal records lost with damaged frames");
}

#[test]
fn corruption_matrix_finds_a_lonely_first_consumer_record() {
    let opts = Options {
        switch: Some(Break::OneConsumerCopy),
        target: Some(Target::ConsumerState),
        ..Options::default()
    };
    assert_matrix_catches(30_000, opts, "a consumer that lost its only record");
}
