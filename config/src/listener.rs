//! The listening socket, with Nagle's algorithm off.
//!
//! tiny_http writes the response head and a body over 1 KiB in two writes. With Nagle
//! on, the second waits for the client's delayed ACK (40 ms on Linux) on every
//! keep-alive request: a 200 would cost 40 ms instead of well under 1. Linux copies
//! TCP_NODELAY from the listening socket to every accepted one.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

pub fn bind_without_nagle(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option value of the stated size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    fn nodelay_of(stream: &TcpStream) -> bool {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: valid descriptor, value and length point to live locals of that size.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        value != 0
    }

    #[test]
    fn accepted_connections_have_nagle_off() {
        let listener = bind_without_nagle("127.0.0.1:0".parse().unwrap()).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(nodelay_of(&accepted));
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(plain.local_addr().unwrap()).unwrap();
        assert!(
            !nodelay_of(&plain.accept().unwrap().0),
            "the default has Nagle on"
        );
    }
}
