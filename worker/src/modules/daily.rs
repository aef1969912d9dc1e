//! The game's day and daily quotas. The original game reset its daily counts at 00:00
//! Asia/Shanghai; China has no daylight saving time, so the game day is a fixed UTC+8 day
//! by default (`--game-day-utc-offset-hours`, set once at start with [`set_offset_hours`]).
//! Quotas are rows of `daily_limits` (world, uid, the original's Limits id), counted per
//! game day and locked while a function checks and uses one.

use std::sync::atomic::{AtomicI64, Ordering};

use mysql::prelude::Queryable;

use crate::function::FnError;

/// The default: the original's Asia/Shanghai, UTC+8.
pub const DEFAULT_OFFSET_HOURS: i64 = 8;

/// Seconds the game's day is ahead of UTC; one value for the whole process, as every
/// player of a game shares its days.
static OFFSET_SECS: AtomicI64 = AtomicI64::new(DEFAULT_OFFSET_HOURS * 3600);

/// Sets the game day's offset from UTC (the worker's option; -12..=14 hours).
pub fn set_offset_hours(hours: i64) {
    OFFSET_SECS.store(hours.clamp(-12, 14) * 3600, Ordering::Relaxed);
}

/// Seconds the game's day is ahead of UTC.
pub fn offset_secs() -> i64 {
    OFFSET_SECS.load(Ordering::Relaxed)
}

/// The original's Limits id of friend requests.
pub const REQUEST_FRIEND: u32 = 6;
/// The original's Limits id of energy purchases.
pub const PACKAGE_ENERGY: u32 = 24;

/// The game day (days since 1970-01-01, UTC+8) of unix time `now`.
pub fn game_day(now: i64) -> i64 {
    (now + offset_secs()).div_euclid(86_400)
}

/// `"YYYY-MM-DD"` of game day `day`.
pub fn date(day: i64) -> String {
    let (y, m, d) = shared::civil::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `"YYYY-MM-DD HH:MM:SS"` of unix time `t` on the game's clock (UTC+8).
pub fn date_time(t: i64) -> String {
    let local = t + offset_secs();
    let secs = local.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        date(local.div_euclid(86_400)),
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Seconds from `now` to the next game midnight (the original's `cd`).
pub fn seconds_to_next_day(now: i64) -> i64 {
    (game_day(now) + 1) * 86_400 - offset_secs() - now
}

/// The unix time game day `day` ends (the next UTC+8 midnight).
pub fn day_end(day: i64) -> i64 {
    (day + 1) * 86_400 - offset_secs()
}

/// Locks the player's row until the transaction ends: the per-player lock taken before
/// its quota and energy rows (and before its items, where a function changes both), so
/// the first use of a row that does not exist yet cannot deadlock two calls.
pub fn lock_player(tx: &mut mysql::Transaction<'_>, world: &str, uid: &str) -> Result<(), FnError> {
    let found: Option<u8> = tx.exec_first(
        "SELECT 1 FROM players WHERE world = ? AND unique_id = ? FOR UPDATE",
        (world, uid),
    )?;
    found
        .map(|_| ())
        .ok_or_else(|| crate::modules::enums::SharedStatus::NoPlayer.into())
}

/// How much of quota `lid` the player used today, with its row locked until the
/// transaction ends (so a check and its [`used`] cannot be split by another call).
pub fn lock_used(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    lid: u32,
    now: i64,
) -> Result<u32, FnError> {
    lock_player(tx, world, uid)?;
    let today = date(game_day(now));
    tx.exec_drop(
        "INSERT IGNORE INTO daily_limits (world, unique_id, lid, day, used) VALUES (?, ?, ?, ?, 0)",
        (world, uid, lid, &today),
    )?;
    today_count(tx, world, uid, lid, &today, " FOR UPDATE")
}

/// How much of quota `lid` the player used today, read without a lock (for answers that
/// only show it).
pub fn used(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    lid: u32,
    now: i64,
) -> Result<u32, FnError> {
    today_count(conn, world, uid, lid, &date(game_day(now)), "")
}

/// The count of quota `lid` if its row is of `today` (a row of an earlier day counts 0);
/// `lock` is `""` or `" FOR UPDATE"`.
fn today_count(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    lid: u32,
    today: &str,
    lock: &str,
) -> Result<u32, FnError> {
    let row: Option<(String, u32)> = conn.exec_first(
        format!(
            "SELECT DATE_FORMAT(day, '%Y-%m-%d'), used FROM daily_limits \
             WHERE world = ? AND unique_id = ? AND lid = ?{lock}"
        ),
        (world, uid, lid),
    )?;
    Ok(match row {
        Some((day, used)) if day == today => used,
        _ => 0,
    })
}

/// Records `used` of quota `lid` for today (after [`lock_used`] in the same transaction).
pub fn set_used(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    lid: u32,
    now: i64,
    used: u32,
) -> Result<(), FnError> {
    tx.exec_drop(
        "UPDATE daily_limits SET day = ?, used = ? WHERE world = ? AND unique_id = ? AND lid = ?",
        (date(game_day(now)), used, world, uid, lid),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_game_day_turns_at_midnight_utc_plus_8() {
        use super::*;
        // 2024-01-01 15:59:59 UTC is 23:59:59 in UTC+8; a second later the day turns
        let t = 1_704_124_799;
        assert_eq!(date_time(t), "2024-01-01 23:59:59");
        assert_eq!(seconds_to_next_day(t), 1);
        assert_eq!(game_day(t) + 1, game_day(t + 1));
        assert_eq!(day_end(game_day(t)), t + 1);
        assert_eq!(seconds_to_next_day(t + 1), 86_400);
        assert_eq!(date_time(t + 1), "2024-01-02 00:00:00");
    }

    use super::*;

    #[test]
    fn the_game_day_turns_at_midnight_in_shanghai() {
        // 2024-03-01 15:59:59 UTC is 23:59:59 in Shanghai; a second later the day turns.
        let t = 1_709_308_799;
        assert_eq!(date(game_day(t)), "2024-03-01");
        assert_eq!(date(game_day(t + 1)), "2024-03-02");
        assert_eq!(date_time(t), "2024-03-01 23:59:59");
        assert_eq!(seconds_to_next_day(t), 1);
        assert_eq!(seconds_to_next_day(t + 1), 86_400);
    }
}
