//! The family tables: `families`, `family_members` (migration 0003), `family_history`,
//! `family_daily` and `family_cooldowns` (migration 0006). Every change to a family first
//! locks its row ([`lock_family`]), so changes to one family run one at a time: the
//! member limit, the daily quotas and "exactly one owner" hold under concurrent requests.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::FnError;
use crate::modules::daily::date_time as game_time;
use crate::modules::enums::FamilyRole;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// 16 lowercase hex digits: the chat channel id, never the name.
    pub fid: String,
    pub name: String,
    pub icon: i64,
    pub notice: String,
    pub board: String,
    pub exp: i64,
    /// Unix seconds when a pending disband completes.
    pub disband_at: Option<i64>,
}

impl Family {
    /// Whether the family's disband deadline has passed: it then no longer exists for any
    /// function, and the first one that meets it deletes it.
    pub fn is_due(&self, now: i64) -> bool {
        self.disband_at.is_some_and(|t| t <= now)
    }
}

/// A new family id: random, subject-safe, and unrelated to the name.
pub fn new_fid() -> String {
    shared::ids::random_hex(8)
}

fn role_of(id: i64) -> FamilyRole {
    // Only this module writes roles, always valid ones; an odd value counts as basic.
    FamilyRole::from_id(id).unwrap_or(FamilyRole::Basic)
}

const FAMILY_COLUMNS: &str = "fid, name, icon, notice, board, exp, disband_at";

type FamilyRow = (String, String, i64, String, String, i64, Option<i64>);

fn family_of((fid, name, icon, notice, board, exp, disband_at): FamilyRow) -> Family {
    Family {
        fid,
        name,
        icon,
        notice,
        board,
        exp,
        disband_at,
    }
}

/// The family `uid` belongs to in `world` and its role there.
pub fn membership(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<Option<(String, FamilyRole)>, FnError> {
    let row: Option<(String, i64)> = conn.exec_first(
        "SELECT fid, role FROM family_members WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    Ok(row.map(|(fid, role)| (fid, role_of(role))))
}

/// `uid`'s role in family `fid`, `None` when not a member of it. Call after
/// [`lock_family`]: the answer then holds until the transaction ends.
pub fn role_in(
    conn: &mut impl Queryable,
    world: &str,
    fid: &str,
    uid: &str,
) -> Result<Option<FamilyRole>, FnError> {
    let row: Option<i64> = conn.exec_first(
        "SELECT role FROM family_members WHERE world = ? AND unique_id = ? AND fid = ? \
         FOR UPDATE",
        (world, uid, fid),
    )?;
    Ok(row.map(role_of))
}

/// Locks the family row until the transaction ends; `None` when it does not exist (any
/// more).
pub fn lock_family(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
) -> Result<Option<Family>, FnError> {
    let row = tx.exec_first(
        format!("SELECT {FAMILY_COLUMNS} FROM families WHERE world = ? AND fid = ? FOR UPDATE"),
        (world, fid),
    )?;
    Ok(row.map(family_of))
}

pub fn family_by_fid(
    conn: &mut impl Queryable,
    world: &str,
    fid: &str,
) -> Result<Option<Family>, FnError> {
    let row = conn.exec_first(
        format!("SELECT {FAMILY_COLUMNS} FROM families WHERE world = ? AND fid = ?"),
        (world, fid),
    )?;
    Ok(row.map(family_of))
}

/// The family named exactly `name` (byte for byte; `%` and `*` are plain characters).
pub fn family_by_name(
    conn: &mut impl Queryable,
    world: &str,
    name: &str,
) -> Result<Option<Family>, FnError> {
    let row = conn.exec_first(
        format!("SELECT {FAMILY_COLUMNS} FROM families WHERE world = ? AND name = ?"),
        (world, name),
    )?;
    Ok(row.map(family_of))
}

/// Up to `limit` families not past their disband deadline, in an order drawn from `seed`.
pub fn random_families(
    conn: &mut impl Queryable,
    world: &str,
    now: i64,
    limit: i64,
    seed: u32,
) -> Result<Vec<Family>, FnError> {
    let rows: Vec<FamilyRow> = conn.exec(
        format!(
            "SELECT {FAMILY_COLUMNS} FROM families WHERE world = ? \
             AND (disband_at IS NULL OR disband_at > ?) ORDER BY RAND(?) LIMIT ?"
        ),
        (world, now, seed, limit),
    )?;
    Ok(rows.into_iter().map(family_of).collect())
}

pub fn member_count(conn: &mut impl Queryable, world: &str, fid: &str) -> Result<usize, FnError> {
    let n: Option<u64> = conn.exec_first(
        "SELECT COUNT(*) FROM family_members WHERE world = ? AND fid = ?",
        (world, fid),
    )?;
    Ok(n.unwrap_or(0) as usize)
}

/// The uids of members with at least `role`, highest role first.
pub fn officials(
    conn: &mut impl Queryable,
    world: &str,
    fid: &str,
    role: FamilyRole,
) -> Result<Vec<String>, FnError> {
    Ok(conn.exec(
        "SELECT unique_id FROM family_members WHERE world = ? AND fid = ? AND role >= ? \
         ORDER BY role DESC, joined_at, unique_id",
        (world, fid, role.id()),
    )?)
}

/// `members` of `get_all_family`, as the original's: game name, player icon, family role,
/// experience, last login, family coins (3:36) and the coins earned in this family (3:37).
/// The player's experience is 0 and the login the time they joined until players have
/// those records (docs/worker.md).
pub fn members_json(
    conn: &mut impl Queryable,
    world: &str,
    fid: &str,
) -> Result<Vec<Value>, FnError> {
    type Row = (Option<String>, Option<i64>, i64, i64, u64, u64);
    let rows: Vec<Row> = conn.exec(
        "SELECT p.gn, p.icon, m.role, CAST(UNIX_TIMESTAMP(m.joined_at) AS SIGNED), \
         COALESCE(c.qty, 0), COALESCE(r.qty, 0) FROM family_members m \
         LEFT JOIN players p ON p.world = m.world AND p.unique_id = m.unique_id \
         LEFT JOIN items c ON c.world = m.world AND c.unique_id = m.unique_id \
           AND c.grp = 3 AND c.item_id = 36 \
         LEFT JOIN items r ON r.world = m.world AND r.unique_id = m.unique_id \
           AND r.grp = 3 AND r.item_id = 37 \
         WHERE m.world = ? AND m.fid = ? ORDER BY m.role DESC, m.joined_at, m.unique_id",
        (world, fid),
    )?;
    Ok(rows
        .into_iter()
        .map(|(gn, icon, role, joined, coin, record)| {
            json!({
                "gn": gn.unwrap_or_default(),
                "icon": icon.unwrap_or(0),
                "family_role": role,
                "exp": 0,
                "login": game_time(joined),
                "family_coin": coin,
                "family_coin_record": record,
            })
        })
        .collect())
}

/// Adds a member; `Ok(false)` when `uid` is already in a family (the primary key says so).
pub fn add_member(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
    uid: &str,
    role: FamilyRole,
) -> Result<bool, FnError> {
    let added = tx.exec_drop(
        "INSERT INTO family_members (world, unique_id, fid, role) VALUES (?, ?, ?, ?)",
        (world, uid, fid, role.id()),
    );
    match added {
        Ok(()) => Ok(true),
        Err(e) if crate::db::duplicate_key(&e).is_some() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn set_role(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
    uid: &str,
    role: FamilyRole,
) -> Result<(), FnError> {
    tx.exec_drop(
        "UPDATE family_members SET role = ? WHERE world = ? AND fid = ? AND unique_id = ?",
        (role.id(), world, fid, uid),
    )?;
    Ok(())
}

pub fn remove_member(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
    uid: &str,
) -> Result<(), FnError> {
    tx.exec_drop(
        "DELETE FROM family_members WHERE world = ? AND fid = ? AND unique_id = ?",
        (world, fid, uid),
    )?;
    Ok(())
}

/// Deletes the family with its members, news and daily counters.
pub fn delete_family(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
) -> Result<(), FnError> {
    for sql in [
        "DELETE FROM family_members WHERE world = ? AND fid = ?",
        "DELETE FROM family_history WHERE world = ? AND fid = ?",
        "DELETE FROM family_daily WHERE world = ? AND subject = ?",
        "DELETE FROM families WHERE world = ? AND fid = ?",
    ] {
        tx.exec_drop(sql, (world, fid))?;
    }
    Ok(())
}

/// Sets one column of the family row (`column` is one of ours, never input).
pub fn update_family(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
    column: &'static str,
    value: impl Into<mysql::Value>,
) -> Result<(), FnError> {
    debug_assert!(["notice", "board", "icon", "exp", "disband_at"].contains(&column));
    tx.exec_drop(
        format!("UPDATE families SET {column} = ? WHERE world = ? AND fid = ?"),
        (value.into(), world, fid),
    )?;
    Ok(())
}

/// Adds a news entry (`fm_<n>:<game names>`) at `now`.
pub fn record(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
    now: i64,
    msg: &str,
) -> Result<(), FnError> {
    tx.exec_drop(
        "INSERT INTO family_history (world, fid, at, msg) VALUES (?, ?, ?, ?)",
        (world, fid, now, msg),
    )?;
    Ok(())
}

/// The newest 30 news entries, oldest first: `[["YYYY-MM-DD HH:MM:SS", "fm_3:a,b"], ...]`.
pub fn news(conn: &mut impl Queryable, world: &str, fid: &str) -> Result<Value, FnError> {
    let rows: Vec<(i64, String)> = conn.exec(
        "SELECT at, msg FROM (SELECT hid, at, msg FROM family_history \
         WHERE world = ? AND fid = ? ORDER BY hid DESC LIMIT 30) newest ORDER BY hid",
        (world, fid),
    )?;
    Ok(rows
        .into_iter()
        .map(|(at, msg)| json!([game_time(at), msg]))
        .collect())
}

/// How many of `what` `subject` (a fid or a uid) has used on game day `day`.
pub fn used_on(
    conn: &mut impl Queryable,
    world: &str,
    subject: &str,
    what: &str,
    day: i64,
) -> Result<i64, FnError> {
    let used: Option<i64> = conn.exec_first(
        "SELECT used FROM family_daily WHERE world = ? AND subject = ? AND what = ? AND day = ?",
        (world, subject, what, day),
    )?;
    Ok(used.unwrap_or(0))
}

/// Takes one of `subject`'s `limit` uses of `what` on game day `day`; `Some(left)` when
/// there was one. The counter row is locked until the transaction ends, so concurrent
/// takers are counted one after the other.
pub fn take_daily(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    subject: &str,
    what: &str,
    day: i64,
    limit: i64,
) -> Result<Option<i64>, FnError> {
    // The row exists before it is locked: two first takers then queue on it instead of
    // both inserting.
    tx.exec_drop(
        "INSERT IGNORE INTO family_daily (world, subject, what, day, used) VALUES (?, ?, ?, ?, 0)",
        (world, subject, what, day),
    )?;
    let (row_day, used): (i64, i64) = tx
        .exec_first(
            "SELECT day, used FROM family_daily WHERE world = ? AND subject = ? AND what = ? \
             FOR UPDATE",
            (world, subject, what),
        )?
        .unwrap_or((day, 0));
    let used = if row_day == day { used } else { 0 };
    if used >= limit {
        return Ok(None);
    }
    tx.exec_drop(
        "UPDATE family_daily SET day = ?, used = ? WHERE world = ? AND subject = ? AND what = ?",
        (day, used + 1, world, subject, what),
    )?;
    Ok(Some(limit - used - 1))
}

/// Gives back one use taken with [`take_daily`] on `day` (its work failed afterwards).
pub fn give_back_daily(
    conn: &mut impl Queryable,
    world: &str,
    subject: &str,
    what: &str,
    day: i64,
) -> Result<(), FnError> {
    conn.exec_drop(
        "UPDATE family_daily SET used = used - 1 \
         WHERE world = ? AND subject = ? AND what = ? AND day = ? AND used > 0",
        (world, subject, what, day),
    )?;
    Ok(())
}

/// When `uid` may join a family again after leaving one (unix seconds), if ever set.
pub fn join_after(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<Option<i64>, FnError> {
    Ok(conn.exec_first(
        "SELECT join_after FROM family_cooldowns WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?)
}

pub fn set_join_after(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    at: i64,
) -> Result<(), FnError> {
    tx.exec_drop(
        "INSERT INTO family_cooldowns (world, unique_id, join_after) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE join_after = VALUES(join_after)",
        (world, uid, at),
    )?;
    Ok(())
}

/// How much of item `grp:id` `uid` holds.
pub fn held(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    grp: u32,
    id: u32,
) -> Result<u64, FnError> {
    let qty: Option<u64> = conn.exec_first(
        "SELECT qty FROM items WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ?",
        (world, uid, grp, id),
    )?;
    Ok(qty.unwrap_or(0))
}

/// Sets `uid`'s holding of `grp:id` to zero (the family coin record on leaving).
pub fn zero_item(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    grp: u32,
    id: u32,
) -> Result<(), FnError> {
    tx.exec_drop(
        "UPDATE items SET qty = 0 WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ?",
        (world, uid, grp, id),
    )?;
    Ok(())
}

/// The level of `uid`'s player in `world`, if it exists.
pub fn player_level(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<Option<i64>, FnError> {
    Ok(conn.exec_first(
        "SELECT level FROM players WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fids_are_subject_safe_and_fresh() {
        let a = new_fid();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(a, new_fid());
    }

    #[test]
    fn a_family_is_due_from_its_deadline_on() {
        let mut f = Family {
            fid: "00ff00ff00ff00ff".into(),
            name: "a".into(),
            icon: 0,
            notice: String::new(),
            board: String::new(),
            exp: 0,
            disband_at: None,
        };
        assert!(!f.is_due(i64::MAX));
        f.disband_at = Some(100);
        assert!(!f.is_due(99));
        assert!(f.is_due(100));
        assert!(f.is_due(101));
    }
}
