//! TCP for shards: a per-shard `SO_REUSEPORT` listener and split connections.
//!
//! Every shard binds its own listener on the same port; the kernel spreads incoming
//! connections across them and a connection then stays on the shard that accepted it.
//! For `-p -1` (any free port) the main thread first reserves a port with a bound,
//! non-listening `SO_REUSEPORT` socket, so all shards bind the *same* free port.
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

/// A port held open on the main thread until every shard has bound it.
pub struct PortReservation {
    /// The bound (not listening) socket; dropping it releases the reservation.
    _socket: Option<socket2::Socket>,
    /// The address every shard binds.
    pub addr: SocketAddr,
}

/// Resolve the listen address; for port 0 pick a free port and hold it.
pub fn reserve(addr: SocketAddr) -> io::Result<PortReservation> {
    if addr.port() != 0 {
        return Ok(PortReservation {
            _socket: None,
            addr,
        });
    }
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())?;
    let bound = sock
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("reserved socket has no inet address"))?;
    Ok(PortReservation {
        _socket: Some(sock),
        addr: bound,
    })
}

/// One shard's listener on the shared client port.
pub struct Listener {
    /// glommio's listener (bound with SO_REUSEPORT).
    inner: TcpListener,
}

impl Listener {
    /// Bind this shard's listener; every shard binds the same address.
    pub fn bind(addr: SocketAddr) -> io::Result<Listener> {
        let inner = TcpListener::bind(addr).map_err(io::Error::from)?;
        Ok(Listener { inner })
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
