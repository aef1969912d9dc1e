//! Science (the original's science.py): levels per science, named by an `ssa`, the
//! original's composite key `(mode << 16) + (sub-science << 8) + affiliate`. Mode 1 is the
//! factory; its sub-sciences are 0 master, 1 role and 2 weapon; affiliates 0-6 (none,
//! strength, agility, spirit, constitution, hit, dodge). Every player has the factory master
//! (ssa 65536) at level 1 from the start; every other science starts at 0.
//!
//! `sciences.json` per mode: `constraint.level` (the player level a level-up needs),
//! `constraint.slv` (the highest level) and `costs.<sub-science>`, entry N-1 the items
//! level N costs. A sub-science of a mode needs its master at least at the level it goes
//! to. A level-up locks the player's row, pays and raises the level in one transaction.

use std::collections::BTreeMap;

use mysql::prelude::Queryable;
use serde_json::{Map, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player};
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{ScienceStatus, SharedStatus};
use crate::modules::item::{self, Item};

/// The factory mode, the only one the original had.
const FACTORY: u32 = 1;
/// The sub-science every other one of its mode depends on.
const MASTER: u32 = 0;
/// Sub-sciences: master, role, weapon.
const SUBS: u32 = 2;
/// Affiliates: none and the six attributes.
const AFFILIATES: u32 = 6;

/// The ssa of a mode's master (the factory master is 65536).
fn master_of(mode: u32) -> u32 {
    mode << 16
}

/// `(mode, sub-science, affiliate)` of an ssa the original knew, or `None`.
fn decode(ssa: i64) -> Option<(u32, u32, u32)> {
    let ssa = u32::try_from(ssa).ok()?;
    let (mode, sub, aff) = (ssa >> 16, (ssa >> 8) & 0xff, ssa & 0xff);
    (mode == FACTORY && sub <= SUBS && aff <= AFFILIATES).then_some((mode, sub, aff))
}

/// Every science level of the player: its rows, and the factory master at 1 without one.
fn levels(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<BTreeMap<u32, u32>, FnError> {
    let rows: Vec<(u32, u32)> = conn.exec(
        "SELECT ssa, level FROM sciences WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let mut all: BTreeMap<u32, u32> = rows.into_iter().collect();
    all.entry(master_of(FACTORY)).or_insert(1);
    Ok(all)
}

/// `{"<ssa>": level}`, the original's `science` answer.
fn to_json(levels: &BTreeMap<u32, u32>) -> Value {
    Value::Object(
        levels
            .iter()
            .map(|(ssa, level)| (ssa.to_string(), Value::from(*level)))
            .collect::<Map<String, Value>>(),
    )
}

fn level_of(levels: &BTreeMap<u32, u32>, ssa: u32) -> u32 {
    levels.get(&ssa).copied().unwrap_or(0)
}

/// `science_infos()`: `science`, every science's level by ssa.
pub fn science_infos(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let all = levels(&mut conn, &player.world, &player.unique_id)?;
    ok(data([("science", to_json(&all))]))
}

/// What `sciences.json` says of mode `mode`: (player level needed, highest level, the
/// cost of each level of sub-science `sub`, if it has costs).
fn rules(ctx: &Context, mode: u32, sub: u32) -> Result<(i64, u32, Option<Vec<Value>>), FnError> {
    let config = ctx
        .config
        .file("sciences")
        .and_then(|f| f.get(mode.to_string()))
        .ok_or(ScienceStatus::NoConfig)?;
    let number = |key: &str| {
        config
            .get("constraint")
            .and_then(|c| c.get(key))
            .and_then(Value::as_i64)
            .ok_or_else(|| FnError::Backend(format!("sciences.json: constraint.{key} is broken")))
    };
    let level = number("level")?;
    let slv = u32::try_from(number("slv")?)
        .map_err(|_| FnError::Backend("sciences.json: constraint.slv is broken".to_string()))?;
    let costs = config
        .get("costs")
        .and_then(|c| c.get(sub.to_string()))
        .and_then(Value::as_array)
        .cloned();
    Ok((level, slv, costs))
}

/// `science_up(ssa)`: one level more of science `ssa`, paid with the items of
/// `costs.<sub>` of its new level. Answers `science` (all levels), `rws` `{ssa: 1}`,
/// `remain` (holdings of what was paid) and `reward` (what was paid), item strings.
pub fn science_up(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let ssa = args.int("ssa")?;
    let (mode, sub, _) = decode(ssa).ok_or(ScienceStatus::BadSsa)?;
    let ssa = ssa as u32;
    let (need_level, slv, costs) = rules(ctx, mode, sub)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let level: Option<i64> = tx.exec_first(
            "SELECT level FROM players WHERE world = ? AND unique_id = ?",
            (world, uid),
        )?;
        if level.ok_or(SharedStatus::NoPlayer)? < need_level {
            return Err(ScienceStatus::PlayerLevel.into());
        }
        let mut all = levels(tx, world, uid)?;
        let next = level_of(&all, ssa) + 1;
        if next > slv {
            return Err(ScienceStatus::MaxLevel.into());
        }
        if sub != MASTER && level_of(&all, master_of(mode)) < next {
            return Err(ScienceStatus::MasterLevel.into());
        }
        let cost = costs
            .as_ref()
            .and_then(|c| c.get(next as usize - 1))
            .ok_or(ScienceStatus::NoConfig)?;
        let cost = Item::parse_list(cost)?;
        item::spend_or(tx, world, uid, &cost, ScienceStatus::Materials)?;
        tx.exec_drop(
            "INSERT INTO sciences (world, unique_id, ssa, level) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE level = VALUES(level)",
            (world, uid, ssa, next),
        )?;
        all.insert(ssa, next);
        let mut remain = Vec::with_capacity(cost.len());
        for paid in &cost {
            let left = item::quantity(tx, world, uid, paid.group, paid.id)?;
            remain.push(Value::from(format!("{}:{}:{left}", paid.group, paid.id)));
        }
        let mut rws = Map::new();
        rws.insert(ssa.to_string(), Value::from(1));
        ok(data([
            ("science", to_json(&all)),
            ("rws", Value::Object(rws)),
            ("remain", Value::from(remain)),
            ("reward", item::to_json(&cost)),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssas_decode_as_the_originals() {
        assert_eq!(decode(65536), Some((1, 0, 0)));
        assert_eq!(decode(65792), Some((1, 1, 0)));
        assert_eq!(decode((1 << 16) + (2 << 8) + 6), Some((1, 2, 6)));
        for bad in [
            0,
            -1,
            -65536,
            (1 << 16) + (3 << 8),
            (1 << 16) + 7,
            2 << 16,
            i64::MAX,
            i64::from(u32::MAX) + 65536,
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
