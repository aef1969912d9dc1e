//! Helpers shared by this crate's tests.

use std::sync::Mutex;

/// Starts a MariaDB, one at a time: `mariadb-install-db` runs fail now and then when
/// several bootstrap at once on this two-core machine; the servers then run in parallel.
pub fn start_mariadb() -> testkit::MariaDb {
    static STARTING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = STARTING.lock().unwrap_or_else(|p| p.into_inner());
    testkit::MariaDb::start()
}
