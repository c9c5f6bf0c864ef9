//! The corruption matrix (`scripts/corrupt`) on a few hundred seeds: every
//! damage is repaired, fenced, refused or counted as a named blind spot —
//! never an anomaly. And the matrix can fail: with frames accepted without
//! their checksum (`Break::SkipChecksum`) it reports anomalies.

use jetcore_storage::sim::corrupt::{run_many, Options, Verdict};
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

#[test]
fn corruption_matrix_finds_skipped_checksums() {
    let seeds: Vec<u64> = (10_000..10_000 + SEEDS).collect();
    let opts = Options {
        switch: Some(Break::SkipChecksum),
        ..Options::default()
    };
    let s = run_many(&seeds, &opts, JOBS, &|_| {});
    assert!(
        s.anomalies() > 0,
        "frames accepted without their checksum went unnoticed in {SEEDS} runs"
    );
}
