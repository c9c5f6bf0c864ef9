//! The monitoring HTTP server itself, against Go's: paths and base path, status codes,
//! headers, keep-alive, HEAD, bad requests, the ports file, a taken port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use jetcore_tests::{
    http_get, run_to_exit, server_binary, server_command, HttpResponse, Impl, Server, ServerBuilder,
};

use crate::common::both;

/// The same GET on both servers.
fn get_both(ours: &Server, go: &Server, path: &str) -> (HttpResponse, HttpResponse) {
    (ours.http_get(path), go.http_get(path))
}

/// Unknown paths are 404 with Go's text; every endpoint answers JSON with Go's
/// headers; the root is an HTML page; a bad boolean is a 400 with Go's message.
#[test]
fn paths_statuses_and_headers_match_go() {
    let (ours, go) = both(ServerBuilder::new());
    for path in ["/nope", "/varz/", "/VARZ", "/stacksz/x"] {
        let (a, b) = get_both(&ours, &go, path);
        assert_eq!((a.status, a.text()), (b.status, b.text()), "{path}");
        assert_eq!(a.header("content-type"), b.header("content-type"), "{path}");
    }
    for path in [
        "/varz",
        "/connz",
        "/routez",
        "/gatewayz",
        "/leafz",
        "/subsz",
        "/subscriptionsz",
        "/accountz",
        "/accstatz",
        "/jsz",
        "/healthz",
    ] {
        let (a, b) = get_both(&ours, &go, path);
        assert_eq!(a.status, b.status, "{path}: {}", a.text());
        for h in ["content-type", "access-control-allow-origin"] {
            assert_eq!(a.header(h), b.header(h), "{path} {h}");
        }
        serde_json::from_slice::<serde_json::Value>(&a.body)
            .unwrap_or_else(|e| panic!("{path}: {e}: {}", a.text()));
    }
    let (a, b) = get_both(&ours, &go, "/");
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.header("content-type"), b.header("content-type"));
    for q in ["/routez?subs=maybe", "/leafz?subs=2"] {
        let (a, b) = get_both(&ours, &go, q);
        assert_eq!((a.status, a.text()), (b.status, b.text()), "{q}");
    }
}

/// `/routez`, `/gatewayz` and `/leafz` of a server without clustering.
#[test]
fn cluster_endpoints_without_clustering_match_go() {
    let (ours, go) = both(ServerBuilder::new());
    for path in ["/routez", "/gatewayz", "/leafz"] {
        let a = ours.monitor_json(path);
        let b = go.monitor_json(path);
        crate::common::assert_same_shape(path, &b, &a, &[]);
        for key in ["num_routes", "routes", "leafnodes", "leafs"] {
            assert_eq!(a.get(key), b.get(key), "{path} {key}");
        }
    }
}

/// `http_base_path` prefixes every path; the plain paths are then 404.
#[test]
fn base_path_prefixes_every_endpoint() {
    let (ours, go) = both(ServerBuilder::new().config("http_base_path: \"/nats/\"\n"));
    for path in [
        "/nats/varz",
        "/nats/connz",
        "/nats/healthz",
        "/nats",
        "/varz",
        "/",
        "/nats/",
    ] {
        let (a, b) = get_both(&ours, &go, path);
        assert_eq!(a.status, b.status, "{path}");
    }
    assert_eq!(ours.monitor_json("/nats/varz")["http_base_path"], "/nats/");
}

/// Raw HTTP on one socket: keep-alive serves several requests, HEAD has no body.
fn raw_exchange(port: u16, requests: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    s.write_all(requests.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn keep_alive_head_and_pipelining() {
    let (ours, go) = both(ServerBuilder::new());
    for s in [&ours, &go] {
        let port = s.monitor_port().unwrap();
        let text = raw_exchange(
            port,
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
             HEAD /varz HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
        // Two health bodies and no varz body.
        assert_eq!(text.matches("{\"status\":\"ok\"}").count(), 2, "{text}");
        assert!(!text.contains("server_id"), "{text}");
    }
}

/// Garbage is a 400 and closes that connection; the port keeps serving.
#[test]
fn garbage_requests_get_400_and_the_port_keeps_serving() {
    let (ours, go) = both(ServerBuilder::new());
    for s in [&ours, &go] {
        let port = s.monitor_port().unwrap();
        let text = raw_exchange(port, "\x01\x02 garbage\r\n\r\n");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request"), "{text}");
        // A head far over any limit: refused, not buffered.
        let mut huge = String::from("GET /varz HTTP/1.1\r\nX-Big: ");
        huge.push_str(&"a".repeat(2 << 20));
        huge.push_str("\r\n\r\n");
        let text = raw_exchange(port, &huge);
        assert!(
            text.starts_with("HTTP/1.1 431"),
            "{}",
            &text[..text.len().min(200)]
        );
        // A client that connects and says nothing, then a good request.
        let idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_eq!(http_get(port, "/healthz").status, 200);
        drop(idle);
    }
}

/// The ports file lists the monitoring URL after the client URL, as Go writes it.
#[test]
fn ports_file_lists_the_monitoring_url() {
    let (ours, go) = both(ServerBuilder::new().arg("--ports_file_dir").arg("{{dir}}"));
    for s in [&ours, &go] {
        let bin = server_binary(s.implementation());
        let exe = bin.file_name().unwrap().to_string_lossy().to_string();
        let path = s.dir().join(format!("{exe}_{}.ports", s.pid().unwrap()));
        // The file appears first and is filled a moment later (Go writes it in place).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut text = String::new();
        while std::time::Instant::now() < deadline {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.ends_with('}') {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            text,
            format!(
                r#"{{"nats":["nats://127.0.0.1:{}"],"monitoring":["http://127.0.0.1:{}"]}}"#,
                s.port(),
                s.monitor_port().unwrap()
            ),
            "{:?}",
            s.implementation()
        );
    }
}

/// A monitoring port in use stops the start-up with Go's message and status 1.
#[test]
fn taken_monitoring_port_fails_the_start() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut cmd = server_command(true);
    cmd.args(["-a", "127.0.0.1", "-p", "-1", "-m", &port.to_string()]);
    let out = run_to_exit(cmd, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", out.combined());
    assert!(
        out.combined().contains(&format!(
            "can't listen to the monitor port: listen tcp 127.0.0.1:{port}: bind: address already in use"
        )),
        "{}",
        out.combined()
    );
    let _ = Impl::Go;
}
