//! A connection's queued output for a non-blocking socket: bytes waiting for the socket to
//! take them. The gate's client connections and the edge's connections use it; how much
//! may be queued is each caller's rule (see [`OutBuf::pending`]).
//!
//! A buffer owns no heap memory until the first bytes are queued, and gives back a burst's
//! allocation once the socket has taken everything (see [`Retention`]).

use std::io::{self, Write};

/// What a drained buffer keeps of its allocation.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// A capacity up to this is kept as it is, for the next bytes.
    pub max_kept: usize,
    /// A bigger one (after a burst) shrinks to this; 0 frees it.
    pub shrink_to: usize,
}

#[derive(Debug)]
pub struct OutBuf {
    buf: Vec<u8>,
    /// Bytes before `sent` are already written.
    sent: usize,
    retention: Retention,
}

impl OutBuf {
    pub const fn new(retention: Retention) -> OutBuf {
        OutBuf {
            buf: Vec::new(),
            sent: 0,
            retention,
        }
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
        self.buf.clear();
        if self.buf.capacity() > self.retention.max_kept {
            self.buf.shrink_to(self.retention.shrink_to);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edge's retention: small buffers kept, bursts freed.
    const SMALL: Retention = Retention {
        max_kept: 512,
        shrink_to: 0,
    };

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
        let b = OutBuf::new(SMALL);
        assert_eq!(b.capacity(), 0);
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn partial_writes_keep_the_rest_in_order() {
        let mut b = OutBuf::new(SMALL);
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
        let mut b = OutBuf::new(SMALL);
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
    fn a_burst_shrinks_to_what_the_retention_keeps() {
        let mut b = OutBuf::new(Retention {
            max_kept: 64 * 1024,
            shrink_to: 4096,
        });
        let mut s = Socket {
            taken: Vec::new(),
            room: usize::MAX,
        };
        b.push(&[b'x'; 10_000]);
        assert!(b.write_to(&mut s).unwrap());
        assert!(b.capacity() >= 10_000, "kept: under max_kept");
        b.push(&[b'x'; 100_000]);
        assert!(b.write_to(&mut s).unwrap());
        assert!((4096..10_000).contains(&b.capacity()), "{}", b.capacity());
        assert_eq!(s.taken.len(), 110_000);
    }

    #[test]
    fn a_slow_steady_reader_does_not_grow_the_buffer() {
        let mut b = OutBuf::new(SMALL);
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
        let mut b = OutBuf::new(SMALL);
        b.push(b"x");
        assert!(b.write_to(&mut Closed).is_err());
    }
}
