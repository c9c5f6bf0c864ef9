//! The server as a process: command-line flags (`--version`, unknown flags, `-t`), pid and
//! ports files, a port already in use, and config keys of features jetcore does not have
//! yet. Outputs were captured from Go nats-server 2.15.1; where jetcore prints something
//! different, the tests assert what both print and an `#[ignore]`d test (`go_exact_*`)
//! states Go's exact output (`cargo test -p jetcore-tests --test server_process --
//! --ignored` runs them; they pass against Go).

use std::path::Path;
use std::time::{Duration, Instant};

use jetcore_tests::*;

const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits up to 3 s for `path` to exist; returns its contents.
fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `<exe name>_<pid>.ports`, the name Go gives the ports file (`os.Args[0]`'s base name).
fn ports_file_name(s: &Server) -> String {
    let bin = server_binary(s.implementation());
    let exe = bin.file_name().unwrap().to_string_lossy().to_string();
    format!("{exe}_{}.ports", s.pid().unwrap())
}

// ---------------------------------------------------------------- flags

/// `--version` and `-v` print `nats-server: v<version>` on stdout and exit 0 (jetcore
/// prints `nats-server: v2.10.0 (jetcore v0.1.0)`, Go `nats-server: v2.15.1`).
#[test]
fn version_flag_prints_version_and_exits_zero() {
    for flag in ["--version", "-v"] {
        let mut cmd = server_command(false);
        cmd.arg(flag);
        let out = run_to_exit(cmd, EXIT_TIMEOUT);
        assert!(out.status.success(), "{flag}: {out:?}");
        assert!(
            out.stdout.starts_with("nats-server: v"),
            "{flag}: stdout {:?}",
            out.stdout
        );
        assert_eq!(out.stdout.lines().count(), 1, "{flag}: {out:?}");
    }
}

/// An unknown flag: `flag provided but not defined: -bogus` on stderr (one dash, even for
/// `--bogus=1`), then the usage text, and exit status 0 (Go's flag package with
/// `ContinueOnError` and the server's own usage function).
#[test]
fn unknown_flag_prints_usage_and_exits_zero() {
    for flag in ["--bogus", "-bogus", "--bogus=1"] {
        let mut cmd = server_command(false);
        cmd.arg(flag);
        let out = run_to_exit(cmd, EXIT_TIMEOUT);
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        assert_eq!(
            out.stderr.lines().next(),
            Some("flag provided but not defined: -bogus"),
            "{flag}: {out:?}"
        );
        let all = out.combined();
        assert!(all.contains("\nUsage: "), "{flag}: {out:?}");
        assert!(all.contains(" [options]"), "{flag}: {out:?}");
    }
}

/// Go prints the usage text on stdout (starting with an empty line) and only the
/// `flag provided but not defined` line on stderr; jetcore prints both on stderr.
#[test]
fn go_exact_unknown_flag_usage_goes_to_stdout() {
    let mut cmd = server_command(false);
    cmd.arg("--bogus");
    let out = run_to_exit(cmd, EXIT_TIMEOUT);
    assert_eq!(out.stderr, "flag provided but not defined: -bogus\n");
    assert!(out.stdout.starts_with("\nUsage: "), "{out:?}");
}

// ---------------------------------------------------------------- -t (config test)

/// `-t -c <file>`: a valid file → exit 0 and `nats-server: configuration file <path> is
/// valid` (Go adds ` (sha256:...)` and prints it on stderr; jetcore on stdout). A syntax
/// error → exit 1, `nats-server: ` and the parser's message (Go: `Parse error on line
/// 4: '...'`; jetcore `<path>:4:1: ...`). A semantic error (unknown top-level key) → exit
/// 1 and `nats-server: <path>:2:1: unknown field "foo"` from both.
#[test]
fn config_test_flag_checks_the_file_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut cmd = server_command(false);
        cmd.arg("-t").arg("-c").arg(&path);
        (path.display().to_string(), run_to_exit(cmd, EXIT_TIMEOUT))
    };

    let (path, out) = check("good.conf", "port: 4222\nmax_payload: 1024\n");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line = format!("nats-server: configuration file {path} is valid");
    assert!(out.combined().starts_with(&line), "{out:?}");

    // unterminated map: the error is found at end of file, line 4
    let (_, out) = check("syntax.conf", "port: 4222\nfoo {\n  bar: 1\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.starts_with("nats-server: "), "{out:?}");
    assert!(
        out.stderr.contains("Unexpected EOF processing map."),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("line 4") || out.stderr.contains("syntax.conf:4:"),
        "no line number: {out:?}"
    );

    // a value that does not end the line, on line 2
    let (_, out) = check("syntax2.conf", "port: 4222\nport: x y z\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(
            "Expected a top-level value to end with a new line, comment or EOF, \
             but got 'y' instead."
        ),
        "{out:?}"
    );

    let (path, out) = check("unknown.conf", "port: 4222\nfoo: {a: 1}\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        format!("nats-server: {path}:2:1: unknown field \"foo\""),
        "{out:?}"
    );
}

/// Go's exact `-t` output for a valid file, on stderr: `... is valid (sha256:<hex of the
/// file>)`.
#[test]
fn config_test_of_a_valid_file_prints_its_digest_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.conf");
    std::fs::write(&path, "port: 4222\nmax_payload: 1024\n").unwrap();
    let mut cmd = server_command(false);
    cmd.arg("-t").arg("-c").arg(&path);
    let out = run_to_exit(cmd, EXIT_TIMEOUT);
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "nats-server: configuration file {} is valid \
             (sha256:3dd2c5a7673abdd6742c0b4a322329c94f5d189a5d50af98d532270ea347fe43)\n",
            path.display()
        )
    );
}

/// Go's `-t` output for a syntax error: `nats-server: Parse error on line N: '<message>'`,
/// without the file or column. jetcore deliberately prints `<file>:<line>:<col>: <message>`
/// (see differences.md), so this stays ignored.
#[test]
#[ignore = "deliberate difference: jetcore reports file:line:col for syntax errors"]
fn go_exact_config_syntax_error_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("syntax.conf");
    std::fs::write(&path, "port: 4222\nfoo {\n  bar: 1\n").unwrap();
    let mut cmd = server_command(false);
    cmd.arg("-t").arg("-c").arg(&path);
    let out = run_to_exit(cmd, EXIT_TIMEOUT);
    assert_eq!(
        out.stderr,
        "nats-server: Parse error on line 4: 'Unexpected EOF processing map.'\n"
    );
}

// ---------------------------------------------------------------- listening

/// A second server on a port that is taken exits with status 1 and logs
/// `Error listening on port: 127.0.0.1:<port>, "..."` with `address already in use` in
/// the quoted OS error (Go: `[FTL] ... "listen tcp 127.0.0.1:P: bind: address already
/// in use"`; jetcore: `[ERR] ... "Address already in use (os error 98)"`).
#[test]
fn port_already_in_use_fails_with_exit_status_1() {
    let first = Server::start();
    let mut cmd = server_command(true);
    cmd.args(["-a", "127.0.0.1", "-p", &first.port().to_string()]);
    let out = run_to_exit(cmd, EXIT_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let all = out.combined();
    let prefix = format!("Error listening on port: {}, \"", first.addr());
    let line = all
        .lines()
        .find(|l| l.contains(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line: {out:?}"));
    assert!(
        line.to_ascii_lowercase().contains("address already in use"),
        "{line}"
    );
    assert!(!all.contains("Server is ready"), "{out:?}");
    // the first server is unaffected
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = raw(&first).await;
        c.ping_pong().await;
    });
}

/// Go logs the listen failure as fatal (`[FTL]`) with Go's error text.
#[test]
fn go_exact_port_in_use_log_line() {
    let first = Server::start();
    let mut cmd = server_command(true);
    cmd.args(["-a", "127.0.0.1", "-p", &first.port().to_string()]);
    let out = run_to_exit(cmd, EXIT_TIMEOUT);
    let want = format!(
        "[FTL] Error listening on port: {a}, \"listen tcp {a}: bind: address already in use\"",
        a = first.addr()
    );
    assert!(
        out.combined().lines().any(|l| l.ends_with(&want)),
        "{out:?}"
    );
}

// ---------------------------------------------------------------- pid and ports files

/// `-P <file>` holds the pid (decimal, no newline) while the server runs;
/// `--ports_file_dir <dir>` holds `<exe>_<pid>.ports` =
/// `{"nats":["nats://127.0.0.1:<port>"]}` (no newline) while it runs, and the ports file
/// is removed on SIGTERM. (Go leaves the pid file in place; jetcore removes it: see
/// `go_exact_pid_file_stays_after_sigterm`.)
#[test]
fn pid_file_and_ports_file_while_running_and_after_sigterm() {
    let mut s = ServerBuilder::new()
        .arg("-P")
        .arg("{{dir}}/server.pid")
        .arg("--ports_file_dir")
        .arg("{{dir}}")
        .start();
    let pid = s.pid().unwrap();
    let pid_path = s.dir().join("server.pid");
    let ports_path = s.dir().join(ports_file_name(&s));
    assert_eq!(wait_for_file(&pid_path), pid.to_string());
    assert_eq!(
        wait_for_file(&ports_path),
        format!(r#"{{"nats":["nats://127.0.0.1:{}"]}}"#, s.port())
    );
    let status = s.stop_graceful();
    assert!(status.success(), "{status:?}");
    assert!(!ports_path.exists(), "ports file still there after SIGTERM");
}

#[test]
fn go_exact_pid_file_stays_after_sigterm() {
    let mut s = ServerBuilder::new()
        .arg("-P")
        .arg("{{dir}}/server.pid")
        .start();
    let pid = s.pid().unwrap();
    let pid_path = s.dir().join("server.pid");
    assert_eq!(wait_for_file(&pid_path), pid.to_string());
    assert!(s.stop_graceful().success());
    assert_eq!(
        std::fs::read_to_string(&pid_path).ok(),
        Some(pid.to_string())
    );
}

// ---------------------------------------------------------------- config keys of features not built

/// `jetstream {...}` and `cluster {...}` are valid Go config: both servers start with them
/// and serve clients. jetcore (only) logs a `[WRN]` naming the key.
#[tokio::test]
async fn config_keys_of_features_jetcore_lacks_start_the_server() {
    let cases = [
        ("leafnodes", "leafnodes {\n  listen: 127.0.0.1:-1\n}\n"),
        (
            "cluster",
            "cluster {\n  name: c1\n  listen: 127.0.0.1:-1\n}\n",
        ),
    ];
    for (key, conf) in cases {
        let s = ServerBuilder::new().config(conf).start();
        let mut c = raw(&s).await;
        c.send(b"SUB k 1\r\nPUB k 2\r\nok\r\n").await;
        c.expect(msg("k", "1", b"ok")).await;
        c.ping_pong().await;
        if !s.is_go() {
            // jetcore only: the ignored key is named in a warning
            let quoted = format!("\"{key}\"");
            let log = s.log_lines();
            assert!(
                log.iter()
                    .any(|l| l.contains("[WRN]") && l.contains(&quoted)),
                "no [WRN] naming {quoted}: {log:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------- locked memory (jetcore only)

/// A memlock limit too small for the shard count (a non-root user, 2 MiB, 8 shards)
/// stops the start-up at once with an explanation and exit status 1. It used to hang:
/// the shards that started waited forever for the one that could not register its
/// io_uring memory. Go has no such limit, so this runs against jetcore only, as root
/// (to drop to an unprivileged user) with `prlimit` and `setpriv` present.
#[test]
fn too_little_locked_memory_fails_the_start_with_a_hint() {
    if server_impl() == Impl::Go {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let tools = ["prlimit", "setpriv"]
        .iter()
        .all(|t| command_succeeds(std::process::Command::new(t).arg("--version")));
    if !root || !tools {
        eprintln!("skipped: needs root, prlimit and setpriv");
        return;
    }
    // A copy the unprivileged user can execute wherever the build directory is.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("jetcore");
    std::fs::copy(server_binary(Impl::Jetcore), &bin).unwrap();
    for p in [dir.path(), bin.as_path()] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = std::process::Command::new("prlimit");
    cmd.args(["--memlock=2097152:2097152", "setpriv", "--reuid=65534"])
        .args(["--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["-a", "127.0.0.1", "-p", "-1", "--cores", "8"]);
    let started = Instant::now();
    let out = run_to_exit(cmd, Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{}",
        out.combined()
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.combined());
    let text = out.combined();
    assert!(
        text.contains("8 shards need more locked memory than the limit allows"),
        "{text}"
    );
    assert!(text.contains("Cannot allocate memory"), "{text}");
    assert!(!text.contains("Server is ready"), "{text}");
}
