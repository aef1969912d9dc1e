//! Queries every game module shares: transactions and looking players up. The function
//! API (arguments, errors, replies) is in [`crate::function`]; feature code belongs in its
//! module.

use mysql::prelude::Queryable;

use crate::db::Db;
use crate::function::FnError;
use crate::modules::enums::SharedStatus;

/// Runs `work` in one MySQL transaction: committed when it returns `Ok`, rolled back when
/// it returns `Err` (or panics). Spends and grants go through here, so a failure halfway
/// keeps nothing.
pub fn transaction<T>(
    db: &Db,
    work: impl FnOnce(&mut mysql::Transaction<'_>) -> Result<T, FnError>,
) -> Result<T, FnError> {
    let mut conn = db.conn()?;
    let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
    let value = work(&mut tx)?;
    tx.commit()?;
    Ok(value)
}

/// The shared status for a named player who does not exist in this world.
pub fn no_player() -> FnError {
    SharedStatus::NoPlayer.into()
}

/// The `unique_id` of the player named `gn` in `world`, if there is one. The name is
/// compared exactly (`utf8mb4_bin`, no `LIKE`): `%` or `*` match only themselves.
pub fn uid_of_player(db: &Db, world: &str, gn: &str) -> Result<Option<String>, FnError> {
    let mut conn = db.conn()?;
    Ok(conn.exec_first(
        "SELECT unique_id FROM players WHERE world = ? AND gn = ?",
        (world, gn),
    )?)
}

/// The in-game name of `uid`'s player in `world`, if it has one.
pub fn player_name(db: &Db, world: &str, uid: &str) -> Result<Option<String>, FnError> {
    let mut conn = db.conn()?;
    Ok(conn.exec_first(
        "SELECT gn FROM players WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?)
}
