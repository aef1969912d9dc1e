//! Weapons, as the original game's weapon.py: ids `<star tier><2-digit index>` (101..610),
//! levels bought with iron and coins (the same number of each), one skill point per ten
//! levels crossed, passives bought with skill points, stars bought with the weapon's
//! segments (items `0:<weapon id>`). Star 0 means segments only: the weapon is locked.
//! Numbers come from `weapon.json`.
//!
//! Every change runs in one transaction that first locks the caller's player row, so two
//! calls of one player on weapons run one after the other and pay exactly once. A level up
//! counts the daily task `WeaponLevelUp` and the achievement `LvUpW` in that transaction; a
//! weapon unlocked (star 0 -> 1) of tier 4, 5 or 6 counts `Get4W`/`Get5W`/`Get6W`.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::Context;
use crate::function::{data, ok, Args, FnError, ModuleStatus, Outcome, Player};
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{
    WeaponLevelStatus, WeaponPassiveStatus, WeaponResetStatus, WeaponStarStatus,
};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Achievement, Task};

/// Item group of weapon segments (items.json): the original's `Group.WEAPON`.
pub const SEGMENT_GROUP: u32 = 0;
/// Item group 3 (the original's `Group.ITEM`) and the ids a weapon spends.
pub const ITEM_GROUP: u32 = 3;
const COIN: u32 = 1;
const IRON: u32 = 2;

/// One star tier of `weapon.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub tier: u32,
    pub max_level: u32,
    /// Highest level of passive `pid` is entry `pid - 1`; the tier has as many passives.
    pub passive_max_levels: Vec<u32>,
}

/// The rules of `weapon.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeaponRules {
    /// Cumulative iron (and coins) to reach level `index + 1`.
    pub upgrade_iron: Vec<u64>,
    pub levels_per_skill_point: u32,
    /// Star S -> S+1 costs `star_segments * (S + 1)` segments.
    pub star_segments: u64,
    pub max_star: u32,
    pub reset_cost: Item,
    pub tiers: Vec<Tier>,
    pub weapons: Vec<u32>,
}

impl WeaponRules {
    pub fn parse(file: &Value) -> Option<WeaponRules> {
        let uint = |v: &Value, name: &str| v.get(name).and_then(Value::as_u64);
        let u32_of = |v: &Value, name: &str| uint(v, name).and_then(|n| u32::try_from(n).ok());
        let u32_list = |v: &Value| -> Option<Vec<u32>> {
            v.as_array()?
                .iter()
                .map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect()
        };
        let tiers = file
            .get("tiers")?
            .as_array()?
            .iter()
            .map(|t| {
                Some(Tier {
                    tier: u32_of(t, "tier")?,
                    max_level: u32_of(t, "max_level")?,
                    passive_max_levels: u32_list(t.get("passive_max_levels")?)?,
                })
            })
            .collect::<Option<Vec<Tier>>>()?;
        let weapons = file
            .get("weapons")?
            .as_array()?
            .iter()
            .map(|w| u32_of(w, "id"))
            .collect::<Option<Vec<u32>>>()?;
        let rules = WeaponRules {
            upgrade_iron: file
                .get("upgrade_iron")?
                .as_array()?
                .iter()
                .map(Value::as_u64)
                .collect::<Option<Vec<u64>>>()?,
            levels_per_skill_point: u32_of(file, "levels_per_skill_point")?.max(1),
            star_segments: uint(file, "star_segments")?,
            max_star: u32_of(file, "max_star")?,
            reset_cost: Item::parse(file.get("reset_cost")?.as_str()?).ok()?,
            tiers,
            weapons,
        };
        // Every weapon's tier exists and its max level is inside the iron table.
        let sound = rules.weapons.iter().all(|w| {
            rules.tier(*w).is_some_and(|t| {
                t.max_level >= 1 && t.max_level as usize <= rules.upgrade_iron.len()
            })
        });
        sound.then_some(rules)
    }

    /// The tier of weapon `id` (`id / 100`).
    pub fn tier(&self, id: u32) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.tier == id / 100)
    }

    pub fn exists(&self, id: u32) -> bool {
        self.weapons.contains(&id)
    }

    /// Iron (and coins) from `level` to `level + delta` (both within the table).
    pub fn level_cost(&self, level: u32, delta: u32) -> u64 {
        let at = |l: u32| self.upgrade_iron[(l - 1) as usize];
        at(level + delta).saturating_sub(at(level))
    }

    /// Skill points gained going from `level` up `delta` levels.
    pub fn skill_points(&self, level: u32, delta: u32) -> u32 {
        let per = self.levels_per_skill_point;
        (level + delta) / per - level / per
    }

    /// Segments from `star` to `star + 1`.
    pub fn star_cost(&self, star: u32) -> u64 {
        self.star_segments.saturating_mul(u64::from(star) + 1)
    }
}

fn rules(ctx: &Context) -> Result<WeaponRules, FnError> {
    ctx.config
        .file("weapon")
        .and_then(WeaponRules::parse)
        .ok_or_else(|| FnError::Backend("game config weapon.json is broken".into()))
}

/// The `weapon` argument: a weapon of weapon.json, else `invalid` (the function's 99).
fn weapon_arg(
    args: &Args,
    rules: &WeaponRules,
    invalid: impl ModuleStatus,
) -> Result<u32, FnError> {
    let id = args.int("weapon")?;
    u32::try_from(id)
        .ok()
        .filter(|id| rules.exists(*id))
        .ok_or_else(|| FnError::from(invalid))
}

/// A weapon as the original's `weapon` row: a locked weapon with segments but no row of
/// ours is `star 0, level 1, sp 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    row: bool,
    star: u32,
    level: u32,
    sp: u32,
    seg: u64,
}

/// The weapon's state, `None` when the caller has neither the weapon nor its segments.
fn state(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    wid: u32,
) -> Result<Option<State>, FnError> {
    let row: Option<(u32, u32, u32)> = tx.exec_first(
        "SELECT star, level, skillpoint FROM weapons \
         WHERE world = ? AND unique_id = ? AND weapon_id = ? FOR UPDATE",
        (world, uid, wid),
    )?;
    let seg = item::quantity(tx, world, uid, SEGMENT_GROUP, wid)?;
    Ok(match row {
        Some((star, level, sp)) => Some(State {
            row: true,
            star,
            level,
            sp,
            seg,
        }),
        None if seg > 0 => Some(State {
            row: false,
            star: 0,
            level: 1,
            sp: 0,
            seg,
        }),
        None => None,
    })
}

/// `get_all_weapon()`: `weapons`, each `{"wid","star","level","sp","seg","p1".."p4"}`:
/// every weapon the caller has, and at star 0 every weapon of which it has only segments.
pub fn get_all_weapon(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(u32, u32, u32, u32, Option<u64>)> = conn.exec(
        "SELECT w.weapon_id, w.star, w.level, w.skillpoint, i.qty FROM weapons w \
         LEFT JOIN items i ON i.world = w.world AND i.unique_id = w.unique_id \
           AND i.grp = ? AND i.item_id = w.weapon_id \
         WHERE w.world = ? AND w.unique_id = ? \
         UNION ALL \
         SELECT i.item_id, 0, 1, 0, i.qty FROM items i \
         WHERE i.world = ? AND i.unique_id = ? AND i.grp = ? AND i.qty > 0 AND NOT EXISTS \
           (SELECT 1 FROM weapons w WHERE w.world = i.world AND w.unique_id = i.unique_id \
              AND w.weapon_id = i.item_id) \
         ORDER BY 1",
        (SEGMENT_GROUP, world, uid, world, uid, SEGMENT_GROUP),
    )?;
    let passives: Vec<(u32, u32, u32)> = conn.exec(
        "SELECT weapon_id, pid, level FROM weapon_passives WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let weapons: Vec<Value> = rows
        .into_iter()
        .map(|(wid, star, level, sp, seg)| {
            let mut w = json!({"wid": wid, "star": star, "level": level, "sp": sp, "seg": seg.unwrap_or(0)});
            for pid in 1..=4u32 {
                let lv = passives
                    .iter()
                    .find(|(w, p, _)| *w == wid && *p == pid)
                    .map_or(0, |p| p.2);
                w[format!("p{pid}")] = lv.into();
            }
            w
        })
        .collect();
    ok(data([("weapons", Value::from(weapons))]))
}

/// `level_up_weapon(weapon, delta = 1)`: up `delta` levels (clamped to the tier's max
/// level), paying the iron table's difference in iron and the same in coins.
pub fn level_up_weapon(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let wid = weapon_arg(args, &rules, WeaponLevelStatus::InvalidTarget)?;
    let delta = args.opt_int("delta")?.unwrap_or(1);
    let max_level = rules.tier(wid).map_or(1, |t| t.max_level);
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let s = state(tx, world, uid, wid)?.ok_or(WeaponLevelStatus::InvalidTarget)?;
        if s.star == 0 {
            return Err(WeaponLevelStatus::NotUnlocked.into());
        }
        if delta <= 0 {
            return Err(WeaponLevelStatus::InvalidDelta.into());
        }
        if s.level >= max_level {
            return Err(WeaponLevelStatus::MaxLevel.into());
        }
        let delta = delta.min(i64::from(max_level - s.level)) as u32;
        let cost = rules.level_cost(s.level, delta);
        if cost > 0 {
            let price = [
                Item {
                    group: ITEM_GROUP,
                    id: COIN,
                    qty: cost,
                },
                Item {
                    group: ITEM_GROUP,
                    id: IRON,
                    qty: cost,
                },
            ];
            item::spend_or(tx, world, uid, &price, WeaponLevelStatus::CannotPay)?;
        }
        let gained = rules.skill_points(s.level, delta);
        let (level, sp) = (s.level + delta, s.sp + gained);
        tx.exec_drop(
            "UPDATE weapons SET level = ?, skillpoint = ? \
             WHERE world = ? AND unique_id = ? AND weapon_id = ?",
            (level, sp, world, uid, wid),
        )?;
        progress::task_done(tx, world, uid, Task::WeaponLevelUp, now)?;
        progress::achieve(tx, world, uid, Achievement::LvUpW, 1)?;
        let iron = item::quantity(tx, world, uid, ITEM_GROUP, IRON)?;
        let coins = item::quantity(tx, world, uid, ITEM_GROUP, COIN)?;
        ok(data([
            (
                "remaining",
                json!({
                    "0": {"wid": wid, "level": level, "sp": sp},
                    "3": [item::iid_value(IRON, iron), item::iid_value(COIN, coins)],
                }),
            ),
            (
                "reward",
                json!({
                    "0": {"wid": wid, "level": delta, "sp": gained},
                    "3": [item::iid_value(IRON, cost), item::iid_value(COIN, cost)],
                }),
            ),
        ]))
    })
}

/// `level_up_star_weapon(weapon)`: one star up for `star_segments * (star + 1)` of the
/// weapon's segments; star 0 -> 1 unlocks the weapon.
pub fn level_up_star_weapon(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let wid = weapon_arg(args, &rules, WeaponStarStatus::InvalidTarget)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let s = state(tx, world, uid, wid)?.ok_or(WeaponStarStatus::InvalidTarget)?;
        if s.star >= rules.max_star {
            return Err(WeaponStarStatus::MaxStar.into());
        }
        let cost = rules.star_cost(s.star);
        let price = Item {
            group: SEGMENT_GROUP,
            id: wid,
            qty: cost,
        };
        let short = WeaponStarStatus::InsufficientSegments;
        item::pay_from_held(tx, world, uid, price, s.seg, short)?;
        let star = s.star + 1;
        if s.row {
            tx.exec_drop(
                "UPDATE weapons SET star = ? WHERE world = ? AND unique_id = ? AND weapon_id = ?",
                (star, world, uid, wid),
            )?;
        } else {
            tx.exec_drop(
                "INSERT INTO weapons (world, unique_id, weapon_id, level, star, skillpoint) \
                 VALUES (?, ?, ?, 1, ?, 0)",
                (world, uid, wid, star),
            )?;
        }
        if s.star == 0 {
            // weapon.py counts a tier 4, 5 or 6 weapon unlocked.
            let got = match wid / 100 {
                4 => Some(Achievement::Get4W),
                5 => Some(Achievement::Get5W),
                6 => Some(Achievement::Get6W),
                _ => None,
            };
            if let Some(a) = got {
                progress::achieve(tx, world, uid, a, 1)?;
            }
        }
        ok(data([
            (
                "remaining",
                json!({"wid": wid, "star": star, "seg": s.seg - cost}),
            ),
            ("reward", json!({"wid": wid, "star": 1, "seg": cost})),
        ]))
    })
}

/// `level_up_passive_weapon(weapon, passive)`: passive `passive` one level up for one
/// skill point.
pub fn level_up_passive_weapon(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let wid = weapon_arg(args, &rules, WeaponPassiveStatus::PidError)?;
    let pid = args.int("passive")?;
    let max_levels = rules
        .tier(wid)
        .map(|t| t.passive_max_levels.clone())
        .unwrap_or_default();
    let max_level = usize::try_from(pid)
        .ok()
        .and_then(|p| p.checked_sub(1))
        .and_then(|i| max_levels.get(i).copied())
        .ok_or(WeaponPassiveStatus::PidError)?;
    let refused = |why: &str| FnError::module(WeaponPassiveStatus::PidError, why.to_string());
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let level: Option<u32> = tx.exec_first(
            "SELECT level FROM weapon_passives \
             WHERE world = ? AND unique_id = ? AND weapon_id = ? AND pid = ?",
            (world, uid, wid, pid),
        )?;
        let level = level.unwrap_or(0) + 1;
        if level > max_level {
            return Err(refused("max level"));
        }
        let sp = state(tx, world, uid, wid)?.map_or(0, |s| s.sp);
        if sp == 0 {
            return Err(refused("insufficient materials"));
        }
        tx.exec_drop(
            "UPDATE weapons SET skillpoint = skillpoint - 1 \
             WHERE world = ? AND unique_id = ? AND weapon_id = ?",
            (world, uid, wid),
        )?;
        tx.exec_drop(
            "INSERT INTO weapon_passives (world, unique_id, weapon_id, pid, level) \
             VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE level = VALUES(level)",
            (world, uid, wid, pid, level),
        )?;
        ok(data([
            (
                "remaining",
                json!({"wid": wid, "pid": pid, "level": level, "sp": sp - 1}),
            ),
            (
                "reward",
                json!({"wid": wid, "pid": pid, "level": 1, "sp": 1}),
            ),
        ]))
    })
}

/// `reset_skill_point_weapon(weapon)`: every passive of the weapon back to 0, their
/// levels back as skill points, for `reset_cost` (100 diamonds) even when nothing comes
/// back.
pub fn reset_skill_point_weapon(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let wid = weapon_arg(args, &rules, WeaponResetStatus::InvalidTarget)?;
    let cost = rules.reset_cost;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let s = state(tx, world, uid, wid)?
            .filter(|s| s.row)
            .ok_or(WeaponResetStatus::InvalidTarget)?;
        item::spend_or(
            tx,
            world,
            uid,
            &[cost],
            WeaponResetStatus::InsufficientDiamonds,
        )?;
        let reclaimed: Option<u64> = tx.exec_first(
            "SELECT CAST(COALESCE(SUM(level), 0) AS UNSIGNED) FROM weapon_passives \
             WHERE world = ? AND unique_id = ? AND weapon_id = ?",
            (world, uid, wid),
        )?;
        let reclaimed = reclaimed.unwrap_or(0);
        tx.exec_drop(
            "UPDATE weapon_passives SET level = 0 WHERE world = ? AND unique_id = ? AND weapon_id = ?",
            (world, uid, wid),
        )?;
        let sp = u64::from(s.sp) + reclaimed;
        tx.exec_drop(
            "UPDATE weapons SET skillpoint = ? WHERE world = ? AND unique_id = ? AND weapon_id = ?",
            (sp, world, uid, wid),
        )?;
        let left = item::quantity(tx, world, uid, cost.group, cost.id)?;
        ok(data([
            (
                "remaining",
                json!({"0": {"wid": wid, "sp": sp}, "3": item::iid_value(cost.id, left)}),
            ),
            (
                "reward",
                json!({"0": {"wid": wid, "sp": reclaimed}, "3": item::iid_value(cost.id, cost.qty)}),
            ),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game_config::GameConfig;

    fn shipped() -> WeaponRules {
        WeaponRules::parse(GameConfig::embedded().file("weapon").unwrap()).unwrap()
    }

    #[test]
    fn the_shipped_rules_are_the_originals() {
        let r = shipped();
        assert_eq!(r.upgrade_iron.len(), 120);
        assert_eq!(&r.upgrade_iron[..6], &[0, 100, 300, 600, 1000, 1500]);
        assert_eq!(r.upgrade_iron[119], 1_485_800);
        assert_eq!(r.weapons.len(), 60);
        assert!(r.exists(101) && r.exists(610) && !r.exists(111) && !r.exists(1));
        let max = |id| r.tier(id).unwrap().max_level;
        assert_eq!(
            [max(101), max(210), max(301), max(401), max(501), max(610)],
            [60, 60, 80, 100, 120, 120]
        );
        assert_eq!(r.tier(101).unwrap().passive_max_levels, [3, 3, 1]);
        assert_eq!(r.tier(401).unwrap().passive_max_levels, [3, 3, 3, 1]);
        assert_eq!(r.tier(501).unwrap().passive_max_levels, [3, 3, 3, 3]);
        assert_eq!(r.reset_cost.to_string(), "3:5:100");
        assert_eq!(r.max_star, 10);
        let config = GameConfig::embedded();
        for id in &r.weapons {
            assert!(
                item::max_of(&config, SEGMENT_GROUP, *id).is_some(),
                "segments of {id}"
            );
        }
    }

    #[test]
    fn costs_follow_the_iron_table_and_points_every_ten_levels() {
        let r = shipped();
        assert_eq!(r.level_cost(1, 1), 100);
        assert_eq!(r.level_cost(1, 5), 1500);
        assert_eq!(r.level_cost(3, 2), 1000 - 300);
        assert_eq!(r.level_cost(1, 119), 1_485_800);
        assert_eq!(r.skill_points(1, 8), 0);
        assert_eq!(r.skill_points(9, 1), 1);
        assert_eq!(r.skill_points(1, 79), 8);
        assert_eq!(r.skill_points(19, 2), 1);
        let stars: Vec<u64> = (0..10).map(|s| r.star_cost(s)).collect();
        assert_eq!(stars, [30, 60, 90, 120, 150, 180, 210, 240, 270, 300]);
        assert_eq!(stars.iter().sum::<u64>(), 1650);
    }

    #[test]
    fn broken_rules_are_refused() {
        let mut file = GameConfig::embedded().file("weapon").unwrap().clone();
        assert!(WeaponRules::parse(&file).is_some());
        file["upgrade_iron"] = json!([0, 100]);
        assert_eq!(
            WeaponRules::parse(&file),
            None,
            "max levels beyond the table"
        );
        assert_eq!(WeaponRules::parse(&json!({})), None);
    }
}
