//! The original's rows, read: one read-only connection; a world's players, families and
//! news whole, every per-player table a range of players at a time ([`read_holdings`]).
//! A row that does not convert is reported and left out.

use std::collections::HashMap;

use mysql::prelude::{FromRow, Queryable};
use mysql::{Conn, Params, Value as SqlValue};

use super::{source_err, MigrateError, Tally};

pub(crate) type InfoRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);
pub(crate) type PlayerRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
pub(crate) type FamilyRow = (
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// One player's rows of every per-player table, as read.
#[derive(Default)]
pub(crate) struct Holdings {
    pub(crate) progress: Option<(Option<i64>, Option<i64>, Option<i64>)>,
    pub(crate) items: Vec<(i64, i64)>,
    pub(crate) weapons: Vec<(i64, i64, i64, i64, i64)>,
    pub(crate) weapon_passives: Vec<(i64, i64, i64)>,
    pub(crate) roles: Vec<(i64, i64, i64, i64)>,
    pub(crate) role_passives: Vec<(i64, i64, i64)>,
    pub(crate) skills: Vec<(i64, i64)>,
    pub(crate) armors: Vec<(i64, i64, Option<i64>)>,
    pub(crate) sciences: Vec<(i64, i64)>,
    pub(crate) elements: Vec<(i64, i64)>,
    pub(crate) stages: Vec<(i64, i64)>,
    pub(crate) check_ins: Vec<(Option<String>, Option<i64>)>,
    pub(crate) achievements: Vec<(i64, Option<i64>, Option<i64>)>,
    /// (fid, level, workers, storage); fid -1 holds (unassigned, total) in
    /// (workers, storage), -2 is the wishing pool.
    pub(crate) factory: Vec<(i64, i64, i64, i64)>,
    /// The original's timers (tid, time) and limits (lid, value) that are not daily.
    pub(crate) timers: Vec<(i64, String)>,
    pub(crate) limits: Vec<(i64, Option<i64>)>,
    /// Dark market offers (pid, gid, mid, qty, cid, amt); a negative `amt` was sold.
    pub(crate) dark_market: Vec<(i64, i64, i64, i64, i64, i64)>,
    /// Summoning cells (cid, pid, mid, wgt, isb).
    pub(crate) summon: Vec<(i64, i64, String, i64, i64)>,
    /// (lid, stage, value): lid 1 the best single fight on a world boss, 2 the total.
    pub(crate) leaderboard: Vec<(i64, i64, i64)>,
    pub(crate) family_roles: Vec<(String, i64)>,
    pub(crate) friends: Vec<(String, String, String, i64)>,
}

/// Reads `sql`'s rows as `R`; a row that does not convert is reported and left out.
pub(crate) fn rows<R: FromRow>(
    conn: &mut Conn,
    sql: &str,
    table: &'static str,
    tally: &mut Tally,
) -> Result<Vec<R>, MigrateError> {
    rows_with(conn, sql, Params::Empty, table, tally)
}

/// [`rows`] of a statement with parameters.
pub(crate) fn rows_with<R: FromRow>(
    conn: &mut Conn,
    sql: &str,
    params: Params,
    table: &'static str,
    tally: &mut Tally,
) -> Result<Vec<R>, MigrateError> {
    let mut out = Vec::new();
    let result = conn.exec_iter(sql, params).map_err(source_err)?;
    for row in result {
        let row = row.map_err(source_err)?;
        tally.read(table, 1);
        match mysql::from_row_opt::<R>(row) {
            Ok(r) => out.push(r),
            Err(e) => tally.skip(table, sql.to_string(), format!("unreadable row: {e}")),
        }
    }
    Ok(out)
}

/// Reads a per-player table (uid first) and files each row under its player.
pub(crate) fn per_player<R: FromRow>(
    conn: &mut Conn,
    (sql, params): (String, Params),
    table: &'static str,
    tally: &mut Tally,
    holdings: &mut HashMap<String, Holdings>,
    uid: impl Fn(&R) -> &str,
    file: impl Fn(&mut Holdings, R),
) -> Result<(), MigrateError> {
    for row in rows_with::<R>(conn, &sql, params, table, tally)? {
        match holdings.get_mut(uid(&row)) {
            Some(h) => file(h, row),
            // A row of a uid with no player: the source's foreign keys forbid it, but a
            // dump restored without them may hold it.
            None => {
                let who = uid(&row).to_string();
                tally.skip(table, who, "row of no player")
            }
        }
    }
    Ok(())
}

/// Rows of a table of a database that may not exist (an original without purchases):
/// `None`, reported, when the server says there is no such database or table.
pub(crate) fn optional_rows<R: FromRow>(
    conn: &mut Conn,
    sql: &str,
    table: &'static str,
    tally: &mut Tally,
) -> Result<Option<Vec<R>>, MigrateError> {
    // ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE
    const MISSING: [u16; 2] = [1049, 1146];
    match rows(conn, sql, table, tally) {
        Ok(r) => Ok(Some(r)),
        Err(MigrateError::Source(mysql::Error::MySqlError(e))) if MISSING.contains(&e.code) => {
            tally.skip(table, "(table)", format!("not read: {}", e.message));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A world database's players and families, as read; holdings are read a range of
/// players at a time ([`read_holdings`]).
pub(crate) struct WorldSource {
    pub(crate) players: Vec<PlayerRow>,
    pub(crate) families: Vec<FamilyRow>,
    pub(crate) history: HashMap<String, Vec<(String, String)>>,
}

/// Players in uid order, families and their history.
pub(crate) fn read_world(
    conn: &mut Conn,
    db: &str,
    tally: &mut Tally,
) -> Result<WorldSource, MigrateError> {
    let q = |table: &str, columns: &str| format!("SELECT {columns} FROM `{db}`.`{table}`");
    let players: Vec<PlayerRow> = rows(
        conn,
        &(q("player", "uid, gn, fid, icon, intro") + " ORDER BY uid"),
        "player",
        tally,
    )?;
    let families: Vec<FamilyRow> = rows(
        conn,
        &q("family", "name, icon, exp, notice, board"),
        "family",
        tally,
    )?;
    let mut history: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (name, date, msg) in rows::<(String, String, String)>(
        conn,
        &(q("familyhistory", "name, date, msg") + " ORDER BY hid"),
        "familyhistory",
        tally,
    )? {
        history.entry(name).or_default().push((date, msg));
    }
    Ok(WorldSource {
        players,
        families,
        history,
    })
}

/// Every per-player table's rows with `from <= uid < to` (an open end: `None`), filed
/// under `players`, the players of that range. Ranges that follow each other read every
/// row once, a row of no player too (it is reported).
pub(crate) fn read_holdings(
    conn: &mut Conn,
    db: &str,
    (from, to): (Option<&str>, Option<&str>),
    players: &[PlayerRow],
    tally: &mut Tally,
) -> Result<HashMap<String, Holdings>, MigrateError> {
    let mut range = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(from) = from {
        range.push("uid >= ?");
        params.push(from.into());
    }
    if let Some(to) = to {
        range.push("uid < ?");
        params.push(to.into());
    }
    let filter = if range.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", range.join(" AND "))
    };
    let q = |table: &str, columns: &str| {
        (
            format!("SELECT {columns} FROM `{db}`.`{table}`{filter}"),
            if params.is_empty() {
                Params::Empty
            } else {
                Params::Positional(params.clone())
            },
        )
    };
    let mut h: HashMap<String, Holdings> = players
        .iter()
        .map(|p| (p.0.clone(), Holdings::default()))
        .collect();
    per_player(
        conn,
        q("progress", "uid, energy, exp, vipexp"),
        "progress",
        tally,
        &mut h,
        |r: &(String, Option<i64>, Option<i64>, Option<i64>)| &r.0,
        |h, (_, a, b, c)| h.progress = Some((a, b, c)),
    )?;
    per_player(
        conn,
        q("item", "uid, iid, value"),
        "item",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.items.push((a, b)),
    )?;
    per_player(
        conn,
        q("weapon", "uid, wid, star, level, skillpoint, segment"),
        "weapon",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d, e)| h.weapons.push((a, b, c, d, e)),
    )?;
    per_player(
        conn,
        q("weaponpassive", "uid, wid, pid, level"),
        "weaponpassive",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64)| &r.0,
        |h, (_, a, b, c)| h.weapon_passives.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("role", "uid, rid, star, level, segment"),
        "role",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d)| h.roles.push((a, b, c, d)),
    )?;
    per_player(
        conn,
        q("rolepassive", "uid, rid, pid, level"),
        "rolepassive",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64)| &r.0,
        |h, (_, a, b, c)| h.role_passives.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("skill", "uid, sid, level"),
        "skill",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.skills.push((a, b)),
    )?;
    per_player(
        conn,
        q("armor", "uid, aid, level, quantity"),
        "armor",
        tally,
        &mut h,
        |r: &(String, i64, i64, Option<i64>)| &r.0,
        |h, (_, a, b, c)| h.armors.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("sciences", "uid, ssa, level"),
        "sciences",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.sciences.push((a, b)),
    )?;
    per_player(
        conn,
        q("elements", "uid, eid, val"),
        "elements",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.elements.push((a, b)),
    )?;
    per_player(
        conn,
        q("stages", "uid, sid, stage"),
        "stages",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.stages.push((a, b)),
    )?;
    per_player(
        conn,
        q("check_in", "uid, date, reward"),
        "check_in",
        tally,
        &mut h,
        |r: &(String, Option<String>, Option<i64>)| &r.0,
        |h, (_, a, b)| h.check_ins.push((a, b)),
    )?;
    per_player(
        conn,
        q("achievement", "uid, aid, value, reward"),
        "achievement",
        tally,
        &mut h,
        |r: &(String, i64, Option<i64>, Option<i64>)| &r.0,
        |h, (_, a, b, c)| h.achievements.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("factory", "uid, fid, level, workers, storage"),
        "factory",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d)| h.factory.push((a, b, c, d)),
    )?;
    per_player(
        conn,
        q("timer", "uid, tid, time"),
        "timer",
        tally,
        &mut h,
        |r: &(String, i64, String)| &r.0,
        |h, (_, a, b)| h.timers.push((a, b)),
    )?;
    per_player(
        conn,
        q("limits", "uid, lid, value"),
        "limits",
        tally,
        &mut h,
        |r: &(String, i64, Option<i64>)| &r.0,
        |h, (_, a, b)| h.limits.push((a, b)),
    )?;
    per_player(
        conn,
        q("darkmarket", "uid, pid, gid, mid, qty, cid, amt"),
        "darkmarket",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d, e, f)| h.dark_market.push((a, b, c, d, e, f)),
    )?;
    per_player(
        conn,
        q("summon", "uid, cid, pid, mid, wgt, isb"),
        "summon",
        tally,
        &mut h,
        |r: &(String, i64, i64, String, i64, i64)| &r.0,
        |h, (_, a, b, c, d, e)| h.summon.push((a, b, c, d, e)),
    )?;
    per_player(
        conn,
        q("leaderboard", "uid, lid, stage, value"),
        "leaderboard",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64)| &r.0,
        |h, (_, a, b, c)| h.leaderboard.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("familyrole", "uid, name, role"),
        "familyrole",
        tally,
        &mut h,
        |r: &(String, String, i64)| &r.0,
        |h, (_, a, b)| h.family_roles.push((a, b)),
    )?;
    per_player(
        conn,
        q("friend", "uid, fid, since, recover, isre"),
        "friend",
        tally,
        &mut h,
        |r: &(String, String, String, String, i64)| &r.0,
        |h, (_, a, b, c, d)| h.friends.push((a, b, c, d)),
    )?;
    Ok(h)
}
