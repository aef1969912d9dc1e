//! Skills, as the original game's skill.py: a player learns skills (other modules grant
//! them: the original's group 1 rewards) and levels them from 1 to [`MAX_LEVEL`] with
//! skill scrolls (items 6, 7, 8 of group 3). Reaching level L costs the L-th Fibonacci
//! number of scrolls (1, 1, 2, 3, 5, …; level 2 costs 1, level 10 costs 55), spent whether
//! or not the level comes: each scroll kind succeeds with its chance of `skills.json`
//! (`common.upgrade`: 10 %, 30 %, 100 %), drawn from the context's random source.
//!
//! A level up runs in one transaction that first locks the caller's player row.

use std::collections::BTreeMap;

use mysql::prelude::Queryable;
use serde_json::Value;

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player, Reply, Rng};
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::SkillLevelStatus;
use crate::modules::item::{self, Item};

/// The highest skill level (skill.py).
pub const MAX_LEVEL: u32 = 10;
/// Item group of scrolls (the original's `Group.ITEM`) and of skills (`Group.SKILL`).
const ITEM_GROUP: u32 = 3;
const SKILL_GROUP: u32 = 1;

/// Scroll id -> chance of success (0..=1), from `skills.json`.
pub fn chances(file: &Value) -> Option<BTreeMap<u32, f64>> {
    file.get("common")?
        .get("upgrade")?
        .as_object()?
        .iter()
        .map(|(id, p)| {
            let p = p.as_f64().filter(|p| (0.0..=1.0).contains(p))?;
            Some((id.parse().ok()?, p))
        })
        .collect()
}

/// Scrolls to go from `level - 1` to `level` (2..=10): the `level`-th Fibonacci number.
pub fn scroll_cost(level: u32) -> u64 {
    let (mut a, mut b) = (1u64, 1u64);
    for _ in 2..level {
        (a, b) = (b, a + b);
    }
    if level <= 1 {
        1
    } else {
        b
    }
}

/// One roll: true with probability `chance` (a uniform number in [0, 1) below it).
pub fn roll(rng: &Rng, chance: f64) -> bool {
    let uniform = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    uniform < chance
}

/// `get_all_skill()`: `skills`, `[{"sid","level"}]` of every skill the caller has learned.
pub fn get_all_skill(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(i64, u32)> = conn.exec(
        "SELECT skill_id, level FROM skills WHERE world = ? AND unique_id = ? ORDER BY skill_id",
        (&player.world, &player.unique_id),
    )?;
    let skills: Vec<Value> = rows
        .into_iter()
        .map(|(sid, level)| serde_json::json!({"sid": sid, "level": level}))
        .collect();
    ok(data([("skills", Value::from(skills))]))
}

/// `level_up_skill(skill, item)`: spends [`scroll_cost`] scrolls `item` and rolls its
/// chance: 0 with the new level, 1 "unlucky" with the level kept (the scrolls are gone).
/// Both answer `remain` `["3:<item>:<left>","1:<skill>:<level>"]` and `reward`
/// `["3:<item>:<spent>","1:<skill>:<1 or 0>"]`.
pub fn level_up_skill(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let chances = ctx
        .config
        .file("skills")
        .and_then(chances)
        .ok_or_else(|| FnError::Backend("game config skills.json is broken".into()))?;
    let sid = args.int("skill")?;
    let iid = args.int("item")?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let level: Option<u32> = tx.exec_first(
            "SELECT level FROM skills WHERE world = ? AND unique_id = ? AND skill_id = ? FOR UPDATE",
            (world, uid, sid),
        )?;
        let level = level.ok_or(SkillLevelStatus::NotLearned)? + 1;
        if level > MAX_LEVEL {
            return Err(SkillLevelStatus::MaxLevel.into());
        }
        let (scroll, chance) = u32::try_from(iid)
            .ok()
            .and_then(|id| Some((id, *chances.get(&id)?)))
            .ok_or(SkillLevelStatus::InvalidScroll)?;
        let qty = scroll_cost(level);
        let price = [Item {
            group: ITEM_GROUP,
            id: scroll,
            qty,
        }];
        let short = SkillLevelStatus::InsufficientMaterials;
        item::spend_or(tx, world, uid, &price, short)?;
        let left = item::quantity(tx, world, uid, ITEM_GROUP, scroll)?;
        let lucky = roll(&ctx.rng, chance);
        let (now, gained) = if lucky { (level, 1) } else { (level - 1, 0) };
        if lucky {
            tx.exec_drop(
                "UPDATE skills SET level = ? WHERE world = ? AND unique_id = ? AND skill_id = ?",
                (now, world, uid, sid),
            )?;
        }
        let answer = data([
            (
                "remain",
                Value::from(vec![
                    format!("{ITEM_GROUP}:{scroll}:{left}"),
                    format!("{SKILL_GROUP}:{sid}:{now}"),
                ]),
            ),
            (
                "reward",
                Value::from(vec![
                    format!("{ITEM_GROUP}:{scroll}:{qty}"),
                    format!("{SKILL_GROUP}:{sid}:{gained}"),
                ]),
            ),
        ]);
        if lucky {
            ok(answer)
        } else {
            Ok(Reply::with(SkillLevelStatus::Unlucky, answer))
        }
    })
}

/// Learns skill `sid` at level 1 for the player, in the caller's transaction; false when
/// it was already learned (the original then gave a 10 % scroll instead: the caller's
/// choice).
pub fn learn(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    sid: u32,
) -> Result<bool, FnError> {
    tx.exec_drop(
        "INSERT IGNORE INTO skills (world, unique_id, skill_id, level) VALUES (?, ?, ?, 1)",
        (world, uid, sid),
    )?;
    Ok(tx.affected_rows() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game_config::GameConfig;

    #[test]
    fn the_shipped_chances_are_the_originals() {
        let c = chances(GameConfig::embedded().file("skills").unwrap()).unwrap();
        assert_eq!(c, BTreeMap::from([(6, 0.1), (7, 0.3), (8, 1.0)]));
        assert_eq!(
            chances(&serde_json::json!({"common":{"upgrade":{"6":1.5}}})),
            None
        );
    }

    #[test]
    fn scrolls_cost_the_fibonacci_numbers() {
        let costs: Vec<u64> = (2..=MAX_LEVEL).map(scroll_cost).collect();
        assert_eq!(costs, [1, 2, 3, 5, 8, 13, 21, 34, 55]);
        assert_eq!(costs.iter().sum::<u64>(), 142);
    }

    /// Many rolls with a fixed seed land within a few standard deviations of each chance;
    /// 0 never and 1 always.
    #[test]
    fn rolls_follow_the_configured_chances() {
        let rng = Rng::new(42);
        let n = 100_000u32;
        for chance in [0.1, 0.3, 0.5] {
            let hits = (0..n).filter(|_| roll(&rng, chance)).count() as f64;
            let expected = f64::from(n) * chance;
            let sd = (expected * (1.0 - chance)).sqrt();
            assert!(
                (hits - expected).abs() < 5.0 * sd,
                "chance {chance}: {hits} of {n}"
            );
        }
        assert!((0..10_000).all(|_| roll(&rng, 1.0)));
        assert!((0..10_000).all(|_| !roll(&rng, 0.0)));
    }
}
