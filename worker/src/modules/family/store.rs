//! The family tables: `families` and `family_members` (migration 0004). Every membership
//! change first locks its family's row ([`lock_family`]), so changes to one family run one
//! at a time: the member limit holds under concurrent joins and there is always exactly
//! one owner.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::FnError;
use crate::modules::enums::FamilyRole;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// 16 lowercase hex digits: the chat channel id, never the name.
    pub fid: String,
    pub name: String,
    pub icon: i64,
    pub notice: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub uid: String,
    /// Empty when the member's player row is gone.
    pub gn: String,
    pub role: FamilyRole,
}

/// A new family id: random, subject-safe, and unrelated to the name.
pub fn new_fid() -> String {
    shared::ids::random_hex(8)
}

fn role_of(id: i64) -> FamilyRole {
    // Only this module writes roles, always valid ones; an odd value counts as basic.
    FamilyRole::from_id(id).unwrap_or(FamilyRole::Basic)
}

const FAMILY_COLUMNS: &str = "fid, name, icon, notice";

fn family_of((fid, name, icon, notice): (String, String, i64, String)) -> Family {
    Family {
        fid,
        name,
        icon,
        notice,
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

pub fn member_count(conn: &mut impl Queryable, world: &str, fid: &str) -> Result<usize, FnError> {
    let n: Option<u64> = conn.exec_first(
        "SELECT COUNT(*) FROM family_members WHERE world = ? AND fid = ?",
        (world, fid),
    )?;
    Ok(n.unwrap_or(0) as usize)
}

/// Members by role (highest first), then by how long they have been members.
pub fn members(conn: &mut impl Queryable, world: &str, fid: &str) -> Result<Vec<Member>, FnError> {
    let rows: Vec<(String, Option<String>, i64)> = conn.exec(
        "SELECT m.unique_id, p.gn, m.role FROM family_members m \
         LEFT JOIN players p ON p.world = m.world AND p.unique_id = m.unique_id \
         WHERE m.world = ? AND m.fid = ? ORDER BY m.role DESC, m.joined_at, m.unique_id",
        (world, fid),
    )?;
    Ok(rows
        .into_iter()
        .map(|(uid, gn, role)| Member {
            uid,
            gn: gn.unwrap_or_default(),
            role: role_of(role),
        })
        .collect())
}

/// The owner's uid (every family has exactly one).
pub fn owner(conn: &mut impl Queryable, world: &str, fid: &str) -> Result<Option<String>, FnError> {
    Ok(conn.exec_first(
        "SELECT unique_id FROM family_members WHERE world = ? AND fid = ? AND role = ?",
        (world, fid, FamilyRole::Owner.id()),
    )?)
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

/// Who inherits the family when `leaving` goes: the highest role, then the longest member.
pub fn successor(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
    leaving: &str,
) -> Result<Option<String>, FnError> {
    Ok(tx.exec_first(
        "SELECT unique_id FROM family_members WHERE world = ? AND fid = ? AND unique_id <> ? \
         ORDER BY role DESC, joined_at, unique_id LIMIT 1",
        (world, fid, leaving),
    )?)
}

pub fn delete_family(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    fid: &str,
) -> Result<(), FnError> {
    tx.exec_drop(
        "DELETE FROM family_members WHERE world = ? AND fid = ?",
        (world, fid),
    )?;
    tx.exec_drop(
        "DELETE FROM families WHERE world = ? AND fid = ?",
        (world, fid),
    )?;
    Ok(())
}

/// The family as a client sees it.
pub fn family_json(family: &Family, members: &[Member], limit: usize) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| json!({"gn": m.gn, "role": m.role.id()}))
        .collect();
    json!({
        "fid": family.fid,
        "name": family.name,
        "icon": family.icon,
        "notice": family.notice,
        "member_count": members.len(),
        "member_limit": limit,
        "members": members,
    })
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
    fn family_json_lists_members_by_game_name_never_uid() {
        let family = Family {
            fid: "00ff00ff00ff00ff".into(),
            name: "a'b; %".into(),
            icon: 3,
            notice: "hi".into(),
        };
        let members = [
            Member {
                uid: "secret-device-id".into(),
                gn: "Ann".into(),
                role: FamilyRole::Owner,
            },
            Member {
                uid: "other".into(),
                gn: "Bo".into(),
                role: FamilyRole::Basic,
            },
        ];
        let value = family_json(&family, &members, 50);
        assert_eq!(
            value,
            json!({"fid": "00ff00ff00ff00ff", "name": "a'b; %", "icon": 3, "notice": "hi",
                "member_count": 2, "member_limit": 50,
                "members": [{"gn": "Ann", "role": 10}, {"gn": "Bo", "role": 0}]})
        );
        assert!(!value.to_string().contains("secret-device-id"));
    }
}
