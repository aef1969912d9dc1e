//! SIGTERM and SIGINT handling: the handler only sets a flag; loops poll it.
//!
//! Kubernetes sends SIGTERM on shutdown, a terminal sends SIGINT on Ctrl-C. Both ask for the
//! same graceful stop. Blocking loops use short timeouts and check [`shutdown_requested`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static SHUTDOWN: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: nothing else is async-signal-safe enough to do here.
    SHUTDOWN.store(true, Ordering::SeqCst);
}

/// Installs the handlers for SIGTERM and SIGINT (once per process) and ignores SIGPIPE,
/// so a peer that closes early shows as a write error instead of killing the service.
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sigaction with a handler that only touches an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
            libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
    });
}

pub fn shutdown_requested() -> bool {
    SHUTDOWN.load(Ordering::SeqCst)
}

/// Blocks the calling thread (a service's `main`) until SIGTERM, SIGINT or
/// [`request_shutdown`]. Polls the flag: the handler may do nothing but store it.
pub fn wait_for_shutdown() {
    while !shutdown_requested() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Asks for shutdown from inside the process (tests, fatal errors).
pub fn request_shutdown() {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigterm_sets_the_flag() {
        install();
        // SAFETY: raise delivers to this process, whose handler only sets the flag.
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        assert!(shutdown_requested());
        // Set already: returns at once instead of hanging the test.
        wait_for_shutdown();
    }
}
