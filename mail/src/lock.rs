//! One writer per mailbox at a time, across threads and across processes on one volume.
//!
//! A mailbox is locked in two steps, always in this order: a stripe of an in-process mutex
//! table, then an exclusive `flock` on the mailbox's lock file `<mailbox>/.lock`. The
//! flock is what keeps other processes (replicas on a shared volume) out; the mutex is kept
//! because on NFS Linux emulates `flock` with POSIX record locks, which belong to the
//! whole process and so would not keep two threads of one process apart.
//!
//! The kernel drops a flock when its descriptor closes, including when the process is
//! killed (kill -9, OOM): a lock is never left behind by a dead process. No threads here;
//! the guard releases the flock, then the mutex, when dropped.

use std::collections::hash_map::DefaultHasher;
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::names::MailboxId;

/// The lock file's name inside a mailbox directory: a dot file, so Maildir readers skip it.
pub const LOCK_FILE: &str = ".lock";
/// Mutex stripes: enough that unrelated mailboxes rarely wait for each other.
const STRIPES: usize = 256;

/// The per-process half of the mailbox locks.
pub struct Locks {
    stripes: Vec<Mutex<()>>,
}

/// Held while one mailbox is read or changed; dropping it releases the mailbox.
pub struct MailboxGuard<'a> {
    // Field order is drop order: the flock goes first, then the mutex.
    _file: File,
    _stripe: MutexGuard<'a, ()>,
}

impl Default for Locks {
    fn default() -> Locks {
        Locks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl Locks {
    /// Locks `mailbox` whose directory is `dir`, waiting for any other holder.
    /// `Ok(None)` when `dir` does not exist: nothing is created, the mailbox reads empty.
    pub fn lock(&self, mailbox: &MailboxId, dir: &Path) -> io::Result<Option<MailboxGuard<'_>>> {
        let stripe = self.stripe(mailbox);
        let file = match OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        flock(&file, libc::LOCK_EX)?;
        Ok(Some(MailboxGuard {
            _file: file,
            _stripe: stripe,
        }))
    }

    fn stripe(&self, mailbox: &MailboxId) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        mailbox.hash(&mut hasher);
        let stripe = (hasher.finish() % STRIPES as u64) as usize;
        // A panic while holding the lock leaves nothing half-done on disk worth refusing for.
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Takes an exclusive flock on `file` if no one holds it: `Ok(false)` when someone does.
/// Closing the file releases it. (std's `File::try_lock` needs Rust 1.89; the workspace
/// promises 1.85.)
pub fn try_lock(file: &File) -> io::Result<bool> {
    match flock(file, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: the descriptor stays open while `file` is borrowed; flock takes plain ints.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        // A signal (SIGTERM's handler) interrupts a waiting flock: wait again.
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_mailbox_is_not_created_by_locking() {
        let dir = testkit::TempDir::new("mail-lock");
        let locks = Locks::default();
        let mailbox = MailboxId::new("s0", "u").unwrap();
        let path = dir.path().join("s0").join("u");
        assert!(locks.lock(&mailbox, &path).unwrap().is_none());
        assert!(!path.exists());
    }

    #[test]
    fn the_flock_is_held_until_the_guard_drops() {
        let dir = testkit::TempDir::new("mail-lock");
        let locks = Locks::default();
        let mailbox = MailboxId::new("s0", "u").unwrap();
        let guard = locks.lock(&mailbox, dir.path()).unwrap().unwrap();
        // Another open file description, as another process would have.
        let open = || File::open(dir.path().join(LOCK_FILE)).unwrap();
        assert!(!try_lock(&open()).unwrap());
        drop(guard);
        let other = open();
        assert!(try_lock(&other).unwrap());
        // Held by `other` now: a second taker is refused until it closes.
        assert!(!try_lock(&open()).unwrap());
        drop(other);
        // A second Locks (a second process's table) locks the same mailbox once freed.
        let second = Locks::default();
        assert!(second.lock(&mailbox, dir.path()).unwrap().is_some());
    }
}
