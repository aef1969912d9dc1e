//! Helpers shared by this crate's tests.

use std::sync::Mutex;

/// Starts a MariaDB, one at a time and with up to three tries: `mariadb-install-db` fails
/// now and then ("Installation of system tables failed") when the two-core machine is busy
/// with other tests; the servers then run in parallel.
pub fn start_mariadb() -> testkit::MariaDb {
    static STARTING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = STARTING.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..2 {
        if let Ok(server) = std::panic::catch_unwind(testkit::MariaDb::start) {
            return server;
        }
        eprintln!("test_support: mariadb did not start, trying again");
    }
    testkit::MariaDb::start()
}
