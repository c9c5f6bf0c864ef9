//! TCP for shards: a per-shard `SO_REUSEPORT` listener and split connections.
//!
//! Every shard has its own listener on the same port (`SO_REUSEPORT`); the kernel
//! spreads incoming connections across them and a connection then stays on the shard
//! that accepted it. The main thread binds all of them before the shards start (see
//! [`bind_all`]), so `-p -1` gives every shard the same free port.
//!
//! A connection is split into a read half and a write half that separate tasks use at
//! the same time (the reader parses, the writer flushes the outbound buffer). Both
//! halves live on one shard, so they share the stream through an `Rc<RefCell<_>>` that
//! is only borrowed for the duration of one poll, never across an await.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;

use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncWrite};

use glommio::net::{TcpListener, TcpStream};

/// A listening socket made on the main thread for one shard.
///
/// All shards' sockets are bound and listening before any shard starts, so a bind
/// error is reported synchronously at start-up and no shard ever blocks waiting for
/// the others (blocking an executor thread on a std barrier was seen to leave a
/// neighbouring glommio executor parked with its first task never run).
pub struct Prebound {
    /// The listening socket (non-blocking), handed to glommio inside the shard.
    socket: std::net::TcpListener,
}

/// Backlog of each shard's listen queue: Go uses the OS maximum; 1024 absorbs a burst
/// of a thousand clients connecting at once per shard.
const LISTEN_BACKLOG: i32 = 1024;

/// Bind `count` listening sockets on `addr` with `SO_REUSEPORT`, one per shard. Port 0
/// picks one free port shared by all.
///
/// For a fixed port, first check that nobody else listens there: with `SO_REUSEPORT`,
/// a second server started on the same port by the same user would otherwise silently
/// share it (the kernel would spread clients across the two processes). A bind without
/// `SO_REUSEPORT` fails with `EADDRINUSE` then, the answer a Go server user gets.
pub fn bind_all(addr: SocketAddr, count: usize) -> io::Result<(SocketAddr, Vec<Prebound>)> {
    if addr.port() != 0 {
        let probe = new_socket(addr)?;
        probe.bind(&addr.into())?;
        drop(probe);
    }
    let mut bound_addr = addr;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let sock = new_socket(bound_addr)?;
        sock.set_reuse_port(true)?;
        sock.bind(&bound_addr.into())?;
        sock.listen(LISTEN_BACKLOG)?;
        sock.set_nonblocking(true)?;
        if bound_addr.port() == 0 {
            bound_addr = sock
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("listener has no inet address"))?;
        }
        out.push(Prebound {
            socket: sock.into(),
        });
    }
    Ok((bound_addr, out))
}

/// A TCP socket for `addr`'s family with `SO_REUSEADDR`, like Go's listeners (so
/// TIME_WAIT leftovers of a previous run don't block a restart).
fn new_socket(addr: SocketAddr) -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    Ok(sock)
}

/// One shard's listener on the shared client port.
pub struct Listener {
    /// glommio's listener (bound with SO_REUSEPORT).
    inner: TcpListener,
}

impl Listener {
    /// Adopt a socket bound on the main thread. Must run on the shard's executor.
    pub fn from_prebound(p: Prebound) -> Listener {
        use std::os::fd::{FromRawFd, IntoRawFd};
        let fd = p.socket.into_raw_fd();
        // SAFETY: `fd` is a listening TCP socket we own; ownership moves to glommio.
        let inner = unsafe { TcpListener::from_raw_fd(fd) };
        Listener { inner }
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr().map_err(io::Error::from)
    }

    /// Wait for the next connection on this shard.
    pub async fn accept(&self) -> io::Result<Connection> {
        let stream = self.inner.accept().await.map_err(io::Error::from)?;
        // NATS is a request/response protocol of small frames: never wait on Nagle.
        let _ = stream.set_nodelay(true);
        Ok(Connection { stream })
    }
}

/// An accepted connection, before it is split.
pub struct Connection {
    /// The glommio stream.
    stream: TcpStream,
}

impl Connection {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr().map_err(io::Error::from)
    }

    /// The local address (which of our interfaces the client reached).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr().map_err(io::Error::from)
    }

    /// Split into halves usable by two tasks at once.
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        let shared = Rc::new(RefCell::new(self.stream));
        (
            ReadHalf {
                stream: shared.clone(),
            },
            WriteHalf { stream: shared },
        )
    }
}

/// Smallest free space offered to one `recv`.
const MIN_READ: usize = 4 * 1024;
/// Largest free space offered to one `recv`: big reads amortise syscalls for fast
/// publishers, and zeroing this much costs well under a microsecond.
const MAX_READ: usize = 256 * 1024;

/// The reading side of a connection.
pub struct ReadHalf {
    /// Shared with the write half.
    stream: Rc<RefCell<TcpStream>>,
}

impl ReadHalf {
    /// Append what the socket has to `buf`, offering `want` bytes of room (clamped).
    /// Returns the bytes read; 0 means the peer closed.
    pub async fn read_into(&mut self, buf: &mut BytesMut, want: usize) -> io::Result<usize> {
        let room = want.clamp(MIN_READ, MAX_READ);
        let start = buf.len();
        // Zero-filled room rather than uninitialised memory: `poll_read` takes an
        // initialised slice, and a memset of ≤256 KiB is cheap next to a syscall.
        buf.resize(start + room, 0);
        let res = poll_fn(|cx| {
            let mut s = self.stream.borrow_mut();
            Pin::new(&mut *s).poll_read(cx, &mut buf[start..])
        })
        .await;
        match res {
            Ok(n) => {
                buf.truncate(start + n);
                Ok(n)
            }
            Err(e) => {
                buf.truncate(start);
                Err(e)
            }
        }
    }
}

/// The writing side of a connection.
pub struct WriteHalf {
    /// Shared with the read half.
    stream: Rc<RefCell<TcpStream>>,
}

impl WriteHalf {
    /// Write all of `data`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| {
                let mut s = self.stream.borrow_mut();
                Pin::new(&mut *s).poll_write(cx, data)
            })
            .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Shut the socket down in both directions. The reader's pending `recv` then
    /// returns 0, which ends the connection's tasks. A plain syscall, so it never holds
    /// the shared borrow across an await.
    pub fn shutdown(&self) {
        use std::os::fd::AsRawFd;
        let fd = self.stream.borrow().as_raw_fd();
        // SAFETY: fd is owned by the stream, which is alive while `self` is.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }
}
