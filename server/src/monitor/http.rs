//! A small HTTP/1.1 server for the monitoring port, on the shard runtime.
//!
//! Only what monitoring clients use: a request head parsed by `httparse` once it is
//! complete, an optional `Content-Length` body that is read and ignored, keep-alive
//! (HTTP/1.1 default, `Connection: close`, HTTP/1.0 `keep-alive`), and `HEAD`. Every
//! method gets the endpoint's answer, as Go's handlers do. Chunked request bodies are
//! refused: no monitoring client sends one.
//!
//! Limits, each with its reason:
//! - [`MAX_HEAD`]: a request head larger than this is refused (431). Go allows 1 MiB;
//!   real monitoring requests are a few hundred bytes.
//! - [`MAX_BODY`]: larger bodies are refused (413) rather than read.
//! - [`HEAD_TIMEOUT`]: Go's `ReadHeaderTimeout` (5 s), which Go's server also uses as
//!   the idle timeout of a kept-alive connection when none is set.
//! - [`MAX_CONNECTIONS`]: monitoring connections open at once; more are closed at
//!   accept so a misbehaving scraper cannot hold core 0's memory.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use jetcore_router::net::{Connection, Listener, ReadHalf};

use super::Monitor;

/// Largest request head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (and discarded).
pub const MAX_BODY: usize = 1024 * 1024;
/// Time allowed for a request head to arrive, and for an idle kept-alive connection.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Monitoring connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Headers parsed per request.
const MAX_HEADERS: usize = 64;

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// Go's JSON content type for every monitoring answer.
pub const JSON: &str = "application/json";
/// Go's `http.Error`/`NotFound` content type.
const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    /// 200 with a JSON body.
    pub fn json(body: Vec<u8>) -> Response {
        Response::json_status(200, body)
    }

    /// A JSON body with another status (`/healthz` failing is 503).
    pub fn json_status(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: JSON,
            body,
        }
    }

    /// Go's `http.Error(w, text, status)`: the text and a newline, plain.
    pub fn error(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: format!("{text}\n").into_bytes(),
        }
    }

    /// Go's `http.NotFound`.
    pub fn not_found() -> Response {
        Response::error(404, "404 page not found")
    }

    /// A page (the root).
    pub fn html(body: String) -> Response {
        Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
        }
    }

    /// Status line, headers and (unless `head_only`) the body, ready to write.
    fn encode(&self, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.body.len());
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {} {}\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: {}\r\n",
                self.status,
                reason(self.status),
                self.content_type
            )
            .as_bytes(),
        );
        if self.content_type == TEXT {
            out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n");
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// Reason phrases of the statuses we send.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Request Entity Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `HEAD` asks for the headers only.
    pub head_only: bool,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (after `?`), empty when none.
    pub query: String,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
    /// Body bytes that follow the head.
    pub body_len: usize,
    /// Bytes the head took in the buffer.
    pub head_len: usize,
}

/// What the bytes received so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete yet.
    Partial,
    /// A complete head.
    Complete(RequestHead),
    /// A request we answer with this error, then close.
    Refuse(Response),
}

/// Parse the request head at the start of `buf` (Go-like answers for bad input).
pub fn parse_head(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Parsed::Refuse(Response::error(431, "431 Request Header Fields Too Large"))
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Refuse(Response::error(431, "431 Request Header Fields Too Large"))
        }
        Err(_) => return Parsed::Refuse(Response::error(400, "400 Bad Request")),
    };
    let version = req.version.unwrap_or(1);
    let mut keep_alive = version >= 1;
    let mut body_len = 0usize;
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        let value = value.trim();
        if h.name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            match value.parse::<usize>() {
                Ok(n) if n <= MAX_BODY => body_len = n,
                Ok(_) => {
                    return Parsed::Refuse(Response::error(413, "413 Request Entity Too Large"))
                }
                Err(_) => return Parsed::Refuse(Response::error(400, "400 Bad Request")),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Refuse(Response::error(501, "501 Not Implemented"));
        }
    }
    let target = req.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    // An absolute-form target (`http://host/varz`) names the path after the host.
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    };
    Parsed::Complete(RequestHead {
        head_only: req.method == Some("HEAD"),
        path: percent_decode(path),
        query: query.to_string(),
        keep_alive,
        body_len,
        head_len,
    })
}

/// `%xx` escapes in a path decoded, as Go's `URL.Path` is (`+` stays `+`).
fn percent_decode(p: &str) -> String {
    percent_encoding::percent_decode_str(p)
        .decode_utf8_lossy()
        .into_owned()
}

/// Accept monitoring connections on core 0 until the server stops.
pub async fn serve(monitor: Rc<Monitor>, listener: Listener) {
    let open = Rc::new(Cell::new(0usize));
    let shutdown = monitor.shard.global.clone();
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            shutdown.shutdown.wait().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(conn)) => {
                if open.get() >= MAX_CONNECTIONS {
                    drop(conn);
                    continue;
                }
                open.set(open.get() + 1);
                let (monitor, open) = (monitor.clone(), open.clone());
                jetcore_router::spawn(async move {
                    serve_conn(&monitor, conn).await;
                    open.set(open.get() - 1);
                });
            }
            Some(Err(e)) => {
                tracing::error!("monitoring: error accepting connection: {e}");
                jetcore_router::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Serve requests on one connection until it closes, errs or idles out.
async fn serve_conn(monitor: &Monitor, conn: Connection) {
    let (mut rd, mut wr) = conn.split();
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        let head = match read_head(&mut rd, &mut buf).await {
            Some(Parsed::Complete(h)) => h,
            Some(Parsed::Refuse(resp)) => {
                let _ = wr.write_all(&resp.encode(false, false)).await;
                break;
            }
            Some(Parsed::Partial) | None => break,
        };
        buf.advance(head.head_len);
        if !skip_body(&mut rd, &mut buf, head.body_len).await {
            break;
        }
        let resp = monitor.handle(&head.path, &head.query).await;
        if wr
            .write_all(&resp.encode(head.keep_alive, head.head_only))
            .await
            .is_err()
            || !head.keep_alive
        {
            break;
        }
    }
    wr.shutdown();
}

/// Read until a complete head (or a refusal) is in `buf`; `None` on close, error or
/// timeout.
async fn read_head(rd: &mut ReadHalf, buf: &mut BytesMut) -> Option<Parsed> {
    let deadline = std::time::Instant::now() + HEAD_TIMEOUT;
    loop {
        match parse_head(buf) {
            Parsed::Partial => {}
            done => return Some(done),
        }
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let read = futures_lite::future::or(async { Some(rd.read_into(buf, 4096).await) }, async {
            jetcore_router::time::sleep(left).await;
            None
        })
        .await;
        match read {
            Some(Ok(n)) if n > 0 => {}
            _ => return None,
        }
    }
}

/// Drop `len` body bytes (some may already be in `buf`). False when the peer went away.
async fn skip_body(rd: &mut ReadHalf, buf: &mut BytesMut, mut len: usize) -> bool {
    loop {
        let have = buf.len().min(len);
        buf.advance(have);
        len -= have;
        if len == 0 {
            return true;
        }
        let read = futures_lite::future::or(async { Some(rd.read_into(buf, len).await) }, async {
            jetcore_router::time::sleep(HEAD_TIMEOUT).await;
            None
        })
        .await;
        match read {
            Some(Ok(n)) if n > 0 => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &str) -> RequestHead {
        match parse_head(raw.as_bytes()) {
            Parsed::Complete(h) => h,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    #[test]
    fn parses_path_query_and_keep_alive() {
        let h = complete("GET /connz?subs=1&limit=2 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (h.path.as_str(), h.query.as_str()),
            ("/connz", "subs=1&limit=2")
        );
        assert!(h.keep_alive && !h.head_only);
        let h = complete("GET /varz HTTP/1.0\r\n\r\n");
        assert!(!h.keep_alive);
        let h = complete("GET /varz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(h.keep_alive);
        let h = complete("HEAD /varz HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(!h.keep_alive && h.head_only);
        let h = complete("GET http://h:8222/jsz?x HTTP/1.1\r\n\r\n");
        assert_eq!((h.path.as_str(), h.query.as_str()), ("/jsz", "x"));
        let h = complete("GET /a%20b HTTP/1.1\r\n\r\n");
        assert_eq!(h.path, "/a b");
    }

    #[test]
    fn bodies_are_measured_and_bounded() {
        let h = complete("POST /varz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        assert_eq!(h.body_len, 3);
        let too_big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(parse_head(too_big.as_bytes()), Parsed::Refuse(r) if r.status == 413));
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse_head(chunked.as_bytes()), Parsed::Refuse(r) if r.status == 501));
    }

    #[test]
    fn partial_garbage_and_huge_heads() {
        assert_eq!(parse_head(b"GET /varz HTTP/1.1\r\n"), Parsed::Partial);
        assert!(
            matches!(parse_head(b"\x00\x01 nonsense\r\n\r\n"), Parsed::Refuse(r) if r.status == 400)
        );
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert!(matches!(parse_head(&big), Parsed::Refuse(r) if r.status == 431));
    }

    #[test]
    fn responses_carry_go_headers() {
        let r = String::from_utf8(Response::json(b"{}".to_vec()).encode(true, false)).unwrap();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Access-Control-Allow-Origin: *\r\n"));
        assert!(r.contains("Content-Type: application/json\r\n"));
        assert!(r.ends_with("Content-Length: 2\r\n\r\n{}"));
        let r = String::from_utf8(Response::not_found().encode(false, true)).unwrap();
        assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(r.contains("Connection: close\r\n"));
        assert!(r.ends_with("Content-Length: 19\r\n\r\n"));
    }
}
