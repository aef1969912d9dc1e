//! An epoll set that several threads wait on together: each readiness wakes one waiting
//! thread, and a source registered one-shot goes quiet once reported until the thread
//! that got it re-arms it, so exactly one thread reads it at a time. A worker's job
//! threads wait here for their gate links and their NATS queue at once: the thread the
//! kernel wakes for a job runs that job itself, with no reader thread handing it over.
//!
//! Besides the registered sources the set holds a few eventfds, the wakers: each
//! [`Poller::wake`] signals one that is not signalled yet, so k wakes at once start k
//! waiting threads at once. (One eventfd would not do: epoll reports a source once per
//! readiness, so a second wake of a signalled eventfd wakes nobody, and a burst of queued
//! jobs would start one thread after another.)

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::Duration;

/// Tokens from here up are the wakers'; registered sources use the ones below.
const FIRST_WAKER: u64 = u64::MAX - u32::MAX as u64;

/// What a [`Poller::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The source registered with this token is readable or closed; it stays quiet until
    /// [`Poller::rearm`].
    Ready(u64),
    /// This wait took one of the wakes [`Poller::wake`] gave.
    Woken,
    /// Nothing within the wait.
    TimedOut,
}

pub struct Poller {
    epoll: OwnedFd,
    wakers: Vec<OwnedFd>,
    /// Wakers not signalled: a wake takes one, the thread it woke gives it back.
    idle_wakers: Mutex<Vec<usize>>,
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

const ONE_SHOT: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32;

impl Poller {
    /// `wakers`: how many wakes may be pending at once (at least one); more than the
    /// threads that wait here is pointless, since each wake starts one of them.
    pub fn new(wakers: usize) -> io::Result<Poller> {
        // SAFETY: plain syscalls; each fd returned is owned from here on.
        let epoll =
            unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        let count = wakers.clamp(1, u32::MAX as usize);
        let mut poller = Poller {
            epoll,
            wakers: Vec::with_capacity(count),
            idle_wakers: Mutex::new((0..count).collect()),
        };
        for i in 0..count {
            // SAFETY: as above.
            let fd = unsafe {
                OwnedFd::from_raw_fd(check(libc::eventfd(
                    0,
                    libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
                ))?)
            };
            poller.ctl(
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                FIRST_WAKER + i as u64,
                ONE_SHOT,
            )?;
            poller.wakers.push(fd);
        }
        Ok(poller)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a live local; the kernel copies it.
        check(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    /// Watches `fd` for reading (or its close) under `token`, one-shot. Tokens from
    /// `u64::MAX - u32::MAX` up are the wakers'.
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        assert!(token < FIRST_WAKER, "a waker's token");
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), token, ONE_SHOT)
    }

    /// Watches `fd` again after its [`Event::Ready`]; reported at once if it is readable
    /// already (bytes that arrived while the thread read are not missed).
    pub fn rearm(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), token, ONE_SHOT)
    }

    /// Stops watching `fd` (closing it does too).
    pub fn remove(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0)
    }

    /// Waits up to `timeout` for one event.
    pub fn wait(&self, timeout: Duration) -> io::Result<Event> {
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: room for exactly the one event asked for.
        let got = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), &mut event, 1, millis) };
        match check(got) {
            Ok(0) => Ok(Event::TimedOut),
            Ok(_) if event.u64 >= FIRST_WAKER => {
                self.reset_waker((event.u64 - FIRST_WAKER) as usize)?;
                Ok(Event::Woken)
            }
            Ok(_) => Ok(Event::Ready(event.u64)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Event::TimedOut),
            Err(e) => Err(e),
        }
    }

    /// Clears waker `i` (reported to this thread alone: one-shot), re-arms it and gives it
    /// back for the next wake.
    fn reset_waker(&self, i: usize) -> io::Result<()> {
        let fd = &self.wakers[i];
        let mut count = [0u8; 8];
        // SAFETY: an 8-byte buffer, as eventfd requires; it is non-blocking.
        unsafe { libc::read(fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
        self.ctl(
            libc::EPOLL_CTL_MOD,
            fd.as_raw_fd(),
            FIRST_WAKER + i as u64,
            ONE_SHOT,
        )?;
        self.idle_wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(i);
        Ok(())
    }

    /// Starts one waiting thread (or the next to wait): its wait returns
    /// [`Event::Woken`]. With every waker pending already, as many threads are being
    /// started as there are wakers, and this wake adds nothing.
    pub fn wake(&self) {
        let Some(i) = self
            .idle_wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
        else {
            return;
        };
        let one = 1u64.to_ne_bytes();
        // SAFETY: an 8-byte buffer, as eventfd requires; a count of 1 cannot overflow.
        unsafe { libc::write(self.wakers[i].as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const SHORT: Duration = Duration::from_millis(50);
    const LONG: Duration = Duration::from_secs(10);

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (a, listener.accept().unwrap().0)
    }

    #[test]
    fn a_one_shot_source_is_reported_once_until_rearmed() {
        let poller = Poller::new(4).unwrap();
        let (mut writer, reader) = pair();
        poller.add(reader.as_fd(), 7).unwrap();
        assert_eq!(poller.wait(SHORT).unwrap(), Event::TimedOut);
        writer.write_all(b"x").unwrap();
        assert_eq!(poller.wait(LONG).unwrap(), Event::Ready(7));
        // Still unread, but quiet until re-armed; re-armed while readable, reported at once.
        assert_eq!(poller.wait(SHORT).unwrap(), Event::TimedOut);
        poller.rearm(reader.as_fd(), 7).unwrap();
        assert_eq!(poller.wait(LONG).unwrap(), Event::Ready(7));
        poller.rearm(reader.as_fd(), 7).unwrap();
        poller.remove(reader.as_fd()).unwrap();
        assert_eq!(poller.wait(SHORT).unwrap(), Event::TimedOut);
    }

    #[test]
    fn a_close_is_reported_like_bytes() {
        let poller = Poller::new(4).unwrap();
        let (writer, reader) = pair();
        poller.add(reader.as_fd(), 1).unwrap();
        drop(writer);
        assert_eq!(poller.wait(LONG).unwrap(), Event::Ready(1));
    }

    #[test]
    fn each_wake_lets_one_wait_return_up_to_the_wakers() {
        let poller = Poller::new(2).unwrap();
        poller.wake();
        assert_eq!(poller.wait(LONG).unwrap(), Event::Woken);
        assert_eq!(poller.wait(SHORT).unwrap(), Event::TimedOut);
        // Three wakes with two wakers: two waits return, the third wake added nothing.
        for _ in 0..3 {
            poller.wake();
        }
        assert_eq!(poller.wait(LONG).unwrap(), Event::Woken);
        assert_eq!(poller.wait(LONG).unwrap(), Event::Woken);
        assert_eq!(poller.wait(SHORT).unwrap(), Event::TimedOut);
        // Each given back: usable again.
        poller.wake();
        assert_eq!(poller.wait(LONG).unwrap(), Event::Woken);
    }

    #[test]
    fn each_readiness_of_a_one_shot_source_goes_to_one_of_the_waiting_threads() {
        let poller = Arc::new(Poller::new(4).unwrap());
        let (mut writer, reader) = pair();
        poller.add(reader.as_fd(), 3).unwrap();
        let (got, woken) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (poller, got, woken) = (poller.clone(), got.clone(), woken.clone());
                std::thread::spawn(move || loop {
                    match poller.wait(LONG).unwrap() {
                        Event::Ready(3) => {
                            got.fetch_add(1, Ordering::SeqCst);
                        }
                        Event::Woken => {
                            woken.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                })
            })
            .collect();
        writer.write_all(b"x").unwrap();
        while got.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        // Not re-armed: the other three threads saw nothing of it.
        std::thread::sleep(SHORT);
        assert_eq!(got.load(Ordering::SeqCst), 1);
        // Four wakes at once start all four threads (each wake starts one).
        for _ in 0..4 {
            poller.wake();
        }
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(woken.load(Ordering::SeqCst), 4);
    }
}
