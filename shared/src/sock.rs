//! Socket calls std does not offer: sends with flags, and a receive and a peek that never
//! wait. Each takes the socket as a [`BorrowedFd`], so it is open for the whole call; the
//! one `send` and the one `recv` of the crate's services live here.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// What an idle connection holds, seen without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// Nothing to read: the usual state of a healthy idle connection.
    Nothing,
    /// Bytes wait that nobody asked for.
    Unexpected,
    /// The peer closed or reset the connection.
    Closed,
}

/// One non-blocking `recv(MSG_PEEK)`: no bytes are consumed and the socket's blocking mode
/// is left alone (toggling it costs two more syscalls per call).
pub fn peek_idle(fd: BorrowedFd<'_>) -> Peek {
    let mut probe = [0u8; 1];
    match recv(fd, &mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
        Ok(0) => Peek::Closed,
        Ok(_) => Peek::Unexpected,
        Err(e) => match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Peek::Nothing,
            _ => Peek::Closed,
        },
    }
}

/// [`peek_idle`] for a socket type that offers only `AsRawFd` (the mysql crate's
/// connections): `socket` is borrowed across the call, so its fd stays open.
pub fn peek_idle_raw(socket: &impl AsRawFd) -> Peek {
    // SAFETY: a socket owns its fd while it lives, and `socket` is borrowed for the call.
    peek_idle(unsafe { BorrowedFd::borrow_raw(socket.as_raw_fd()) })
}

/// One `send` that never waits, even on a blocking socket (whose mode stays as it is for
/// the thread that does wait on it). How many bytes the socket took.
pub fn send_nonblocking(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    send(fd, bytes, libc::MSG_DONTWAIT)
}

/// One `recv` that never waits, even on a blocking socket (whose mode is shared with every
/// copy of the socket, so it stays as it is for the threads that write on one). `Ok(0)`
/// is the end of stream; nothing to read is `WouldBlock`.
pub fn recv_nonblocking(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    recv(fd, buf, libc::MSG_DONTWAIT)
}

/// Writes all of `bytes` with `MSG_MORE`: the kernel queues them without sending a
/// partial segment (despite `TCP_NODELAY`) until a write without it, or the close of the
/// socket, sends everything queued.
pub fn send_all_more(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match send(fd, bytes, libc::MSG_MORE) {
            Ok(sent) => bytes = &bytes[sent..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `recv` with `flags` into `buf`.
fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: the pointer and length come from a live buffer; `fd` is borrowed open.
    let got = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
    if got < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(got as usize)
    }
}

/// One `send` with `flags`; never raises SIGPIPE (a closed peer is an error instead).
fn send(fd: BorrowedFd<'_>, bytes: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: the pointer and length come from a live slice; `fd` is borrowed open.
    let sent = unsafe {
        libc::send(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::time::{Duration, Instant};

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (theirs, _) = listener.accept().unwrap();
        (ours, theirs)
    }

    #[test]
    fn a_nonblocking_receive_leaves_a_blocking_socket_blocking() {
        let (ours, mut theirs) = pair();
        let mut buf = [0u8; 8];
        let err = recv_nonblocking(ours.as_fd(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        theirs.write_all(b"abc").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = loop {
            match recv_nonblocking(ours.as_fd(), &mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..got], b"abc");
        // The socket itself still blocks: a read with a timeout waits it out.
        ours.set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let started = Instant::now();
        assert!((&ours).read(&mut buf).is_err());
        assert!(started.elapsed() >= Duration::from_millis(30));
        drop(theirs);
        assert_eq!(recv_nonblocking(ours.as_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn peeking_tells_idle_unexpected_and_closed_connections_apart() {
        let (ours, mut theirs) = pair();
        assert_eq!(peek_idle(ours.as_fd()), Peek::Nothing);
        theirs.write_all(b"x").unwrap();
        let wait_for = |want: Peek| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while peek_idle(ours.as_fd()) != want && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            peek_idle(ours.as_fd())
        };
        assert_eq!(wait_for(Peek::Unexpected), Peek::Unexpected);
        assert_eq!(
            peek_idle(ours.as_fd()),
            Peek::Unexpected,
            "peeking consumes nothing"
        );
        let mut byte = [0u8; 1];
        (&ours).read_exact(&mut byte).unwrap();
        assert_eq!(peek_idle(ours.as_fd()), Peek::Nothing);
        drop(theirs);
        assert_eq!(wait_for(Peek::Closed), Peek::Closed);
        assert_eq!(peek_idle_raw(&ours), Peek::Closed);
    }

    #[test]
    fn a_nonblocking_send_on_a_blocking_socket_stops_when_the_socket_is_full() {
        let (ours, mut theirs) = pair();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        // The peer reads nothing: a send that waited would hang here.
        let error = loop {
            match send_nonblocking(ours.as_fd(), &chunk) {
                Ok(n) => sent += n,
                Err(e) => break e,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert!(sent > 0);
        // The socket itself still blocks, and what was taken arrives whole.
        drop(ours);
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), sent);
        assert!(got.iter().all(|&b| b == 7));
    }

    #[test]
    fn bytes_sent_with_more_arrive_once_the_socket_closes() {
        let (ours, mut theirs) = pair();
        send_all_more(ours.as_fd(), b"held ").unwrap();
        send_all_more(ours.as_fd(), b"back").unwrap();
        drop(ours);
        let mut got = String::new();
        theirs.read_to_string(&mut got).unwrap();
        assert_eq!(got, "held back");
    }
}
