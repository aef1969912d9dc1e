//! A connection's queued output: bytes waiting for the socket to take them.
//!
//! Most of the time a connection has nothing queued, and then it owns no heap memory: the
//! buffer is allocated when the first frame is queued and given back (or kept small) when
//! the socket has taken everything, so 10k idle connections cost almost nothing.

use std::io::{self, Write};

/// A buffer up to this capacity is kept after it drained; a bigger one (after a burst) is
/// freed.
const KEEP_CAPACITY: usize = 512;

#[derive(Debug, Default)]
pub struct OutBuf {
    buf: Vec<u8>,
    /// Bytes before `sent` are already written.
    sent: usize,
}

impl OutBuf {
    pub fn new() -> OutBuf {
        OutBuf::default()
    }

    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        // Move the unsent tail to the front before growing, so a slow but steady reader
        // does not make the buffer creep.
        if self.sent > 0 && self.buf.len() + bytes.len() > self.buf.capacity() {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Writes as much as `out` takes. `Ok(true)`: everything is written; `Ok(false)`: the
    /// socket is full (WouldBlock) and the rest waits for the next writable event.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<bool> {
        while self.sent < self.buf.len() {
            match out.write(&self.buf[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.sent = 0;
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `room` bytes, then says WouldBlock.
    struct Socket {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Socket {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(self.room);
            self.room -= n;
            self.taken.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn empty_buffers_own_no_memory() {
        let b = OutBuf::new();
        assert_eq!(b.capacity(), 0);
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn partial_writes_keep_the_rest_in_order() {
        let mut b = OutBuf::new();
        let mut s = Socket {
            taken: Vec::new(),
            room: 4,
        };
        b.push(b"hello ");
        b.push(b"world");
        assert!(!b.write_to(&mut s).unwrap());
        assert_eq!(b.pending(), 7);
        b.push(b"!");
        s.room = 100;
        assert!(b.write_to(&mut s).unwrap());
        assert_eq!(s.taken, b"hello world!");
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn a_burst_is_freed_after_it_drained() {
        let mut b = OutBuf::new();
        for _ in 0..1000 {
            b.push(&[b'x'; 100]);
        }
        assert!(b.capacity() >= 100_000);
        let mut s = Socket {
            taken: Vec::new(),
            room: usize::MAX,
        };
        assert!(b.write_to(&mut s).unwrap());
        assert_eq!(s.taken.len(), 100_000);
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn a_slow_steady_reader_does_not_grow_the_buffer() {
        let mut b = OutBuf::new();
        let mut s = Socket {
            taken: Vec::new(),
            room: 0,
        };
        // Always 5 bytes behind: the buffer holds a partial tail forever.
        b.push(&[b'y'; 15]);
        s.room = 10;
        assert!(!b.write_to(&mut s).unwrap());
        for _ in 0..10_000 {
            b.push(&[b'z'; 10]);
            s.room = 10;
            assert!(!b.write_to(&mut s).unwrap());
            assert_eq!(b.pending(), 5);
        }
        assert!(b.capacity() < 1024, "capacity {}", b.capacity());
    }

    #[test]
    fn a_closed_socket_is_an_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut b = OutBuf::new();
        b.push(b"x");
        assert!(b.write_to(&mut Closed).is_err());
    }
}
