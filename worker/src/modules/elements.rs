//! Element skills (the original's player.py `element_*`): four elements (1000 flame, 1001
//! thunder, 1002 freeze, 1003 toxin), each at level 0 to `max_level`. The player's level
//! gives points to spend on them: none below `points_from_level`, then one, and one more
//! every `levels_per_point` levels (the original's `1 + (level - 15) // 10`). A reset puts
//! every element back to 0; a player has `resets` of them for its whole life (the
//! original's limit 23, three at creation, never renewed). Numbers: player.json `elements`.
//! Every change locks the player's row first, so concurrent calls spend each point and
//! each reset once.

use mysql::prelude::Queryable;
use serde_json::{Map, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player};
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{ElementLevelStatus, ElementResetStatus, SharedStatus};

/// player.json `elements`.
struct Rules {
    ids: Vec<u32>,
    max_level: u32,
    resets: u32,
    points_from_level: i64,
    levels_per_point: i64,
}

fn rules(ctx: &Context) -> Result<Rules, FnError> {
    let broken = |what: &str| FnError::Backend(format!("player.json: elements.{what} is broken"));
    let file = ctx
        .config
        .file("player")
        .and_then(|p| p.get("elements"))
        .ok_or_else(|| broken("(the section)"))?;
    let number = |key: &str| {
        file.get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| broken(key))
    };
    let small = |key: &str| number(key).and_then(|n| u32::try_from(n).map_err(|_| broken(key)));
    let ids = file
        .get("ids")
        .and_then(Value::as_array)
        .and_then(|ids| {
            ids.iter()
                .map(|i| i.as_u64().and_then(|i| u32::try_from(i).ok()))
                .collect::<Option<Vec<u32>>>()
        })
        .ok_or_else(|| broken("ids"))?;
    let levels_per_point = number("levels_per_point")?;
    if levels_per_point <= 0 {
        return Err(broken("levels_per_point"));
    }
    Ok(Rules {
        ids,
        max_level: small("max_level")?,
        resets: small("resets")?,
        points_from_level: number("points_from_level")?,
        levels_per_point,
    })
}

impl Rules {
    /// Points a player of `level` has to spend.
    fn points(&self, level: i64) -> u64 {
        if level < self.points_from_level {
            return 0;
        }
        1 + ((level - self.points_from_level) / self.levels_per_point) as u64
    }
}

/// Every element's level, 0 without a row, in id order.
fn levels(
    conn: &mut impl Queryable,
    rules: &Rules,
    world: &str,
    uid: &str,
) -> Result<Vec<(u32, u32)>, FnError> {
    let rows: Vec<(u32, u32)> = conn.exec(
        "SELECT eid, level FROM elements WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let mut all: Vec<(u32, u32)> = rules
        .ids
        .iter()
        .map(|id| {
            let level = rows.iter().find(|(e, _)| e == id).map_or(0, |(_, l)| *l);
            (*id, level)
        })
        .collect();
    all.sort();
    Ok(all)
}

/// `{"1000": level, ...}`, the original's `elements`.
fn to_json(levels: &[(u32, u32)]) -> Value {
    Value::Object(
        levels
            .iter()
            .map(|(eid, level)| (eid.to_string(), Value::from(*level)))
            .collect::<Map<String, Value>>(),
    )
}

/// Resets the player has left (the original's `lim`, limit 23).
fn resets_left(
    conn: &mut impl Queryable,
    rules: &Rules,
    world: &str,
    uid: &str,
) -> Result<u32, FnError> {
    let used: Option<u32> = conn.exec_first(
        "SELECT used FROM element_resets WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    Ok(rules.resets.saturating_sub(used.unwrap_or(0)))
}

/// `get_info_player`'s `elements` and `elm` (resets left) for the player.
pub fn info(
    ctx: &Context,
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<(Value, Value), FnError> {
    let rules = rules(ctx)?;
    let all = levels(conn, &rules, world, uid)?;
    let left = resets_left(conn, &rules, world, uid)?;
    Ok((to_json(&all), Value::from(left)))
}

/// `player_element_all()`: `elements` (level by element id) and `lim` (resets left).
pub fn player_element_all(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let (elements, lim) = info(ctx, &mut conn, &player.world, &player.unique_id)?;
    ok(data([("elements", elements), ("lim", lim)]))
}

/// `player_element_lv(eid)`: one point into element `eid`. Answers `elements` and
/// `reward` `{eid: 1}`.
pub fn player_element_lv(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let eid = args.int("eid")?;
    let rules = rules(ctx)?;
    let eid = u32::try_from(eid)
        .ok()
        .filter(|e| rules.ids.contains(e))
        .ok_or(ElementLevelStatus::UnknownElement)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let level: Option<i64> = tx.exec_first(
            "SELECT level FROM players WHERE world = ? AND unique_id = ?",
            (world, uid),
        )?;
        let points = rules.points(level.ok_or(SharedStatus::NoPlayer)?);
        let mut all = levels(tx, &rules, world, uid)?;
        let spent: u64 = all.iter().map(|(_, l)| u64::from(*l)).sum();
        if points <= spent {
            return Err(ElementLevelStatus::NoPoints.into());
        }
        let entry = all
            .iter_mut()
            .find(|(e, _)| *e == eid)
            .ok_or(ElementLevelStatus::UnknownElement)?;
        let next = entry.1 + 1;
        if next > rules.max_level {
            return Err(ElementLevelStatus::MaxLevel.into());
        }
        entry.1 = next;
        tx.exec_drop(
            "INSERT INTO elements (world, unique_id, eid, level) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE level = VALUES(level)",
            (world, uid, eid, next),
        )?;
        let mut reward = Map::new();
        reward.insert(eid.to_string(), Value::from(1));
        ok(data([
            ("elements", to_json(&all)),
            ("reward", Value::Object(reward)),
        ]))
    })
}

/// `player_element_reset()`: every element back to 0, using one of the player's resets.
/// Answers `elements` and `lim` (resets left).
pub fn player_element_reset(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let left = resets_left(tx, &rules, world, uid)?;
        if left == 0 {
            return Err(ElementResetStatus::NoResets.into());
        }
        tx.exec_drop(
            "INSERT INTO element_resets (world, unique_id, used) VALUES (?, ?, 1) \
             ON DUPLICATE KEY UPDATE used = used + 1",
            (world, uid),
        )?;
        tx.exec_drop(
            "DELETE FROM elements WHERE world = ? AND unique_id = ?",
            (world, uid),
        )?;
        let all = levels(tx, &rules, world, uid)?;
        ok(data([
            ("elements", to_json(&all)),
            ("lim", Value::from(left - 1)),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_the_originals_formula() {
        let rules = Rules {
            ids: vec![1000, 1001, 1002, 1003],
            max_level: 5,
            resets: 3,
            points_from_level: 15,
            levels_per_point: 10,
        };
        // the original: 1 + (level - 15) // 10, and nothing to spend below 15
        for (level, points) in [
            (i64::MIN, 0),
            (-5, 0),
            (1, 0),
            (14, 0),
            (15, 1),
            (24, 1),
            (25, 2),
            (300, 29),
            (i64::MAX, 1 + (i64::MAX - 15) as u64 / 10),
        ] {
            assert_eq!(rules.points(level), points, "level {level}");
        }
    }
}
