//! The open-file limit: every client connection is a descriptor, so `--max-connections`
//! only means something if the process may open that many.

use std::io;

/// Descriptors a service needs besides client connections (listeners, Redis, NATS,
/// the admin server), with room to spare.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
pub fn raise_to_hard_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// Raises the limit as far as allowed and warns if `max_connections` still does not fit.
pub fn make_room_for(max_connections: usize) {
    match raise_to_hard_limit() {
        Ok(limit) if connections_that_fit(limit) < max_connections as u64 => {
            crate::warn!(
                "open-file limit is below --max-connections: accepts will fail first",
                nofile = limit,
                max_connections = max_connections
            );
        }
        Ok(_) => {}
        Err(e) => crate::warn!("cannot read or raise the open-file limit", error = e),
    }
}

/// How many client connections fit under `fd_limit`.
pub fn connections_that_fit(fd_limit: u64) -> u64 {
    fd_limit.saturating_sub(RESERVED_DESCRIPTORS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let soft = raise_to_hard_limit().unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(soft, limit.rlim_cur);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }

    #[test]
    fn reserved_descriptors_are_not_for_clients() {
        assert_eq!(connections_that_fit(20_000), 20_000 - RESERVED_DESCRIPTORS);
        assert_eq!(connections_that_fit(100), 0);
    }
}
