//! Crash test: a child process appends — with `sync: always` in even rounds,
//! `sync: interval` (page-cache writes, no sync within the round) in odd ones —
//! and reports every sequence whose append completed; the parent SIGKILLs it at a random moment,
//! reopens the store and checks that every reported sequence is there, intact,
//! and that the state adds up. Rounds reuse the same store, so recovery of a
//! recovered store is covered too.
//!
//! `JETCORE_CRASH_ROUNDS` sets the number of rounds (default 5);
//! `scripts/crash-loop N` runs N. `JETCORE_CRASH_SEED` replays a run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use jetcore_storage::{
    FileStore, FileStoreConfig, NewMessage, StoreLimits, StreamStore, SyncPolicy,
};
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "JETCORE_CRASH_CHILD_DIR";
const APPENDERS: usize = 16;
/// Rounds that reuse one store before the next starts empty.
const ROUNDS_PER_STORE: u64 = 10;

fn config(dir: &Path, round: u64) -> FileStoreConfig {
    let mut cfg = FileStoreConfig::new(dir);
    // Small blocks so rounds cross block boundaries.
    cfg.block_size = 256 << 10;
    // A SIGKILL keeps the page cache: under `interval` an append is done once
    // its write reached the kernel, and that must survive the kill too.
    if round % 2 == 1 {
        cfg.sync = SyncPolicy::Interval(Duration::from_secs(60));
    }
    cfg
}

/// The payload an appender writes for its `i`-th message: recomputable by
/// the parent, and long enough to span sectors now and then.
fn payload(task: usize, i: u64) -> Vec<u8> {
    let len = 20 + ((task as u64 * 7919 + i * 104_729) % 1500) as usize;
    let mut p = format!("{task}:{i}:").into_bytes();
    p.resize(len, b'a' + (i % 26) as u8);
    p
}

/// The child's body: runs only when the parent re-executes this test binary.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let round: u64 = std::env::var("JETCORE_CRASH_ROUND")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .spawn(move || async move {
            let store = Rc::new(
                FileStore::open(config(&dir, round), StoreLimits::default())
                    .await
                    .expect("child opens store"),
            );
            println!("ready");
            let mut tasks = Vec::new();
            for task in 0..APPENDERS {
                let store = store.clone();
                tasks.push(glommio::spawn_local(async move {
                    let mut out = std::io::stdout();
                    for i in 0.. {
                        let subject = Bytes::from(format!("crash.{round}.{task}"));
                        let m = NewMessage {
                            subject,
                            payload: Bytes::from(payload(task, i)),
                            ..NewMessage::default()
                        };
                        let a = store.append(m).expect("append");
                        a.durable.await.expect("durable");
                        // One write per line so a SIGKILL never leaves half a line.
                        let line = format!("{} {round} {task} {i}\n", a.seq);
                        let _ = out.write_all(line.as_bytes());
                        let _ = out.flush();
                    }
                }));
            }
            for t in tasks {
                t.await;
            }
        })
        .expect("executor")
        .join()
        .expect("child body");
}

/// What the parent learned from the child: seq → (round, task, i).
type Acked = BTreeMap<u64, (u64, usize, u64)>;

fn run_child_and_kill(dir: &Path, round: u64, kill_after: Duration, acked: &mut Acked) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("JETCORE_CRASH_ROUND", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) if l.ends_with("ready") => {
                    let _ = ready_tx.send(());
                }
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        lines
    });
    // The kill moment counts from the store being open (recovery of a big
    // store takes a while and is not what this test is about).
    let _ = ready_rx.recv_timeout(Duration::from_secs(30));
    std::thread::sleep(kill_after);
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let _ = child.wait();
    let lines = reader.join().expect("reader thread");
    let mut n = 0;
    for l in lines {
        let parts: Vec<&str> = l.split_whitespace().collect();
        if let [seq, r, task, i] = parts[..] {
            if let (Ok(seq), Ok(r), Ok(task), Ok(i)) =
                (seq.parse(), r.parse(), task.parse(), i.parse())
            {
                let prev = acked.insert(seq, (r, task, i));
                assert!(prev.is_none(), "sequence {seq} acknowledged twice");
                n += 1;
            }
        }
    }
    eprintln!("round {round}: {n} acknowledged appends before SIGKILL at {kill_after:?}");
}

fn verify(dir: &Path, acked: &Acked) -> usize {
    let dir = dir.to_path_buf();
    let acked = acked.clone();
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .spawn(move || async move {
            let store = FileStore::open(config(&dir, 0), StoreLimits::default())
                .await
                .expect("reopen after crash");
            let st = store.state();
            let mut anomalies = Vec::new();
            for (&seq, &(round, task, i)) in &acked {
                match store.load(seq).await {
                    Ok(m) => {
                        if m.payload.as_ref() != payload(task, i).as_slice()
                            || m.subject.as_ref() != format!("crash.{round}.{task}").as_bytes()
                        {
                            anomalies.push(format!("seq {seq}: wrong content"));
                        }
                    }
                    Err(e) => anomalies.push(format!("acknowledged seq {seq} missing: {e}")),
                }
            }
            // Every message present is well-formed, and the counters add up.
            let mut count = 0;
            let mut bytes = 0;
            let mut next = st.first_seq;
            loop {
                let m = match store.load_next(b">", next).await {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(e) => {
                        let keep = std::env::temp_dir().join("jetcore-crash-evidence");
                        let _ = std::process::Command::new("cp")
                            .arg("-a")
                            .arg(&dir)
                            .arg(&keep)
                            .status();
                        panic!(
                            "scan failed at {next}: {e}; store copied to {}",
                            keep.display()
                        );
                    }
                };
                let text = String::from_utf8_lossy(&m.payload);
                let mut it = text.split(':');
                let (task, i) = (
                    it.next().and_then(|t| t.parse().ok()),
                    it.next().and_then(|t| t.parse().ok()),
                );
                match (task, i) {
                    (Some(task), Some(i)) if m.payload.as_ref() == payload(task, i).as_slice() => {}
                    _ => anomalies.push(format!(
                        "seq {}: payload not written by any appender",
                        m.seq
                    )),
                }
                count += 1;
                bytes += jetcore_storage::file::file_msg_size(
                    m.subject.len(),
                    m.headers.len(),
                    m.payload.len(),
                );
                next = m.seq + 1;
            }
            if (count, bytes) != (st.messages, st.bytes) {
                anomalies.push(format!(
                    "state says {} msgs/{} bytes, scan found {count}/{bytes}",
                    st.messages, st.bytes
                ));
            }
            if let Some((&max, _)) = acked.iter().next_back() {
                if st.last_seq < max {
                    anomalies.push(format!("last_seq {} below acknowledged {max}", st.last_seq));
                }
            }
            if !store.corrupt_ranges().is_empty() {
                anomalies.push(format!(
                    "damage reported after a plain crash: {:?}",
                    store.corrupt_ranges()
                ));
            }
            store.close().await.expect("close");
            assert!(anomalies.is_empty(), "anomalies: {anomalies:#?}");
            count as usize
        })
        .expect("executor")
        .join()
        .expect("verify body")
}

#[test]
fn sigkill_loses_nothing_acknowledged() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let rounds: u64 = std::env::var("JETCORE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("JETCORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    eprintln!("crash test: {rounds} rounds, JETCORE_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut dir = tempfile::tempdir().expect("tempdir");
    let mut acked = Acked::new();
    let mut total_acked = 0;
    let started = Instant::now();
    for round in 0..rounds {
        // A fresh store every ROUNDS_PER_STORE rounds keeps each round's
        // verification (which reads every acknowledged message) bounded,
        // while still recovering stores that were recovered before.
        if round > 0 && round % ROUNDS_PER_STORE == 0 {
            total_acked += acked.len();
            acked.clear();
            dir = tempfile::tempdir().expect("tempdir");
        }
        let kill_after = Duration::from_millis(rng.random_range(5..400));
        run_child_and_kill(dir.path(), round, kill_after, &mut acked);
        let present = verify(dir.path(), &acked);
        assert!(present >= acked.len(), "fewer messages than acknowledged");
    }
    total_acked += acked.len();
    eprintln!(
        "{rounds} runs, 0 anomalies ({total_acked} acknowledged appends, {:?})",
        started.elapsed()
    );
    assert!(
        total_acked > 0,
        "the child never acknowledged anything; the test proved nothing"
    );
}
