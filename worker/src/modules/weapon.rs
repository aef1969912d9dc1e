//! Weapons: levels bought with coins, stars bought with the weapon's segments (items of
//! group 1 whose id is the weapon's). Costs and limits come from `weapon.json`.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::Context;
use crate::function::{data, ok, Args, FnError, Outcome, Player};
use crate::modules::common::transaction;
use crate::modules::enums::WeaponStatus;
use crate::modules::item::{self, Item};

/// Item group of weapon segments (items.json): the original's `Group.WEAPON`.
pub const SEGMENT_GROUP: u32 = 0;
/// Coins: the original's `Group.ITEM`, `Item.COIN`.
const COIN: (u32, u32) = (3, 1);

fn status(s: WeaponStatus) -> FnError {
    FnError::from(s)
}

/// One weapon of `weapon.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeaponSpec {
    pub id: u32,
    pub max_level: u32,
    /// Coins from level L to L+1: `base + per_level * (L - 1)`.
    pub base: u64,
    pub per_level: u64,
    /// Segments from star S to S+1 is entry S; the highest star is the length.
    pub star_up_segments: Vec<u64>,
}

impl WeaponSpec {
    fn parse(value: &Value) -> Option<WeaponSpec> {
        let uint = |v: &Value, name: &str| v.get(name).and_then(Value::as_u64);
        let cost = value.get("level_cost")?;
        Some(WeaponSpec {
            id: u32::try_from(uint(value, "id")?).ok()?,
            max_level: u32::try_from(uint(value, "max_level")?).ok()?,
            base: uint(cost, "base")?,
            per_level: uint(cost, "per_level")?,
            star_up_segments: value
                .get("star_up_segments")?
                .as_array()?
                .iter()
                .map(Value::as_u64)
                .collect::<Option<Vec<u64>>>()?,
        })
    }

    /// Coins to go from `level` up `delta` levels; `None` when that passes `max_level` (or
    /// the sum does not fit in a u64, which no player could pay anyway).
    pub fn level_cost(&self, level: u32, delta: u64) -> Option<u64> {
        let target = u64::from(level).checked_add(delta)?;
        if target > u64::from(self.max_level) {
            return None;
        }
        (u64::from(level)..target).try_fold(0u64, |sum, l| {
            let step = self.per_level.checked_mul(l - 1)?.checked_add(self.base)?;
            sum.checked_add(step)
        })
    }

    /// Segments to go up one star from `star`; `None` at the highest star.
    pub fn star_cost(&self, star: u32) -> Option<u64> {
        self.star_up_segments.get(star as usize).copied()
    }
}

/// The weapon `id` of `weapon.json`: 80 when it defines none, 99 when its entry is
/// broken (a config error, logged, not the caller's fault).
fn spec(ctx: &Context, id: i64) -> Result<WeaponSpec, FnError> {
    let entry = ctx
        .config
        .file("weapon")
        .and_then(|f| f.get("weapons"))
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|w| w.get("id").and_then(Value::as_i64) == Some(id))
        })
        .ok_or_else(|| status(WeaponStatus::UnknownWeapon))?;
    WeaponSpec::parse(entry)
        .ok_or_else(|| FnError::Backend(format!("game config weapon.json: weapon {id} is broken")))
}

/// `(level, star)` of the caller's weapon, locked for this transaction; 81 when not owned.
fn lock_weapon(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    weapon: u32,
) -> Result<(u32, u32), FnError> {
    let row: Option<(u32, u32)> = tx.exec_first(
        "SELECT level, star FROM weapons WHERE world = ? AND unique_id = ? AND weapon_id = ? \
         FOR UPDATE",
        (world, uid, weapon),
    )?;
    row.ok_or_else(|| status(WeaponStatus::NotOwned))
}

fn quantity(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    group: u32,
    id: u32,
) -> Result<u64, FnError> {
    let qty: Option<u64> = tx.exec_first(
        "SELECT qty FROM items WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ?",
        (world, uid, group, id),
    )?;
    Ok(qty.unwrap_or(0))
}

/// `get_all_weapon()`: `weapons`, the caller's weapons here as
/// `{"weapon","level","star","segments"}` in id order.
pub fn get_all_weapon(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(u32, u32, u32, Option<u64>)> = conn.exec(
        "SELECT w.weapon_id, w.level, w.star, i.qty FROM weapons w \
         LEFT JOIN items i ON i.world = w.world AND i.unique_id = w.unique_id \
           AND i.grp = ? AND i.item_id = w.weapon_id \
         WHERE w.world = ? AND w.unique_id = ? ORDER BY w.weapon_id",
        (SEGMENT_GROUP, &player.world, &player.unique_id),
    )?;
    let weapons: Vec<Value> = rows
        .into_iter()
        .map(|(weapon, level, star, segments)| {
            json!({"weapon": weapon, "level": level, "star": star, "segments": segments.unwrap_or(0)})
        })
        .collect();
    ok(data([("weapons", Value::from(weapons))]))
}

/// `level_up_weapon(weapon, delta)`: raises the weapon `delta` levels for the sum of the
/// level costs in coins. Answers `weapon`, `level`, `star`, `cost` (coins paid) and
/// `coins` (left).
pub fn level_up_weapon(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let weapon_arg = args.int("weapon")?;
    let delta = args.int("delta")?;
    let spec = spec(ctx, weapon_arg)?;
    let delta = u64::try_from(delta)
        .ok()
        .filter(|d| *d >= 1)
        .ok_or_else(|| status(WeaponStatus::InvalidDelta))?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let (level, star, cost, coins) = transaction(ctx.db, |tx| {
        let (level, star) = lock_weapon(tx, world, uid, spec.id)?;
        let cost = spec
            .level_cost(level, delta)
            .ok_or_else(|| status(WeaponStatus::MaxLevel))?;
        let price = Item {
            group: COIN.0,
            id: COIN.1,
            qty: cost,
        };
        if cost > 0 {
            item::spend(tx, world, uid, &[price])?;
        }
        let new_level = level + delta as u32;
        tx.exec_drop(
            "UPDATE weapons SET level = ? WHERE world = ? AND unique_id = ? AND weapon_id = ?",
            (new_level, world, uid, spec.id),
        )?;
        let coins = quantity(tx, world, uid, COIN.0, COIN.1)?;
        Ok((new_level, star, cost, coins))
    })?;
    ok(data([
        ("weapon", Value::from(spec.id)),
        ("level", Value::from(level)),
        ("star", Value::from(star)),
        ("cost", Value::from(cost)),
        ("coins", Value::from(coins)),
    ]))
}

/// `level_up_star_weapon(weapon)`: one star up for `star_up_segments[star]` of the
/// weapon's segments. Answers `weapon`, `level`, `star`, `cost` (segments paid) and
/// `segments` (left).
pub fn level_up_star_weapon(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let spec = spec(ctx, args.int("weapon")?)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let (level, star, cost, segments) = transaction(ctx.db, |tx| {
        let (level, star) = lock_weapon(tx, world, uid, spec.id)?;
        let cost = spec
            .star_cost(star)
            .ok_or_else(|| status(WeaponStatus::MaxStar))?;
        if cost > 0 {
            let price = Item {
                group: SEGMENT_GROUP,
                id: spec.id,
                qty: cost,
            };
            item::spend(tx, world, uid, &[price])?;
        }
        tx.exec_drop(
            "UPDATE weapons SET star = star + 1 \
             WHERE world = ? AND unique_id = ? AND weapon_id = ?",
            (world, uid, spec.id),
        )?;
        let segments = quantity(tx, world, uid, SEGMENT_GROUP, spec.id)?;
        Ok((level, star + 1, cost, segments))
    })?;
    ok(data([
        ("weapon", Value::from(spec.id)),
        ("level", Value::from(level)),
        ("star", Value::from(star)),
        ("cost", Value::from(cost)),
        ("segments", Value::from(segments)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game_config::GameConfig;

    fn sword() -> WeaponSpec {
        WeaponSpec {
            id: 1,
            max_level: 60,
            base: 100,
            per_level: 20,
            star_up_segments: vec![10, 20, 40, 80, 160],
        }
    }

    #[test]
    fn level_costs_sum_the_levels_gained() {
        let s = sword();
        assert_eq!(s.level_cost(1, 1), Some(100));
        assert_eq!(s.level_cost(1, 2), Some(100 + 120));
        assert_eq!(s.level_cost(3, 3), Some(140 + 160 + 180));
        assert_eq!(s.level_cost(59, 1), Some(100 + 20 * 58));
        assert_eq!(s.level_cost(60, 1), None, "past max_level");
        assert_eq!(s.level_cost(1, 60), None);
        assert_eq!(s.level_cost(1, u64::MAX), None);
        // 1 -> 60: 59 steps, base 100 each plus 20 * (0 + 1 + ... + 58)
        assert_eq!(s.level_cost(1, 59), Some(59 * 100 + 20 * (58 * 59 / 2)));
    }

    #[test]
    fn star_costs_end_at_the_list_length() {
        let s = sword();
        assert_eq!(s.star_cost(0), Some(10));
        assert_eq!(s.star_cost(4), Some(160));
        assert_eq!(s.star_cost(5), None);
    }

    #[test]
    fn every_shipped_weapon_parses_and_has_segments() {
        let config = GameConfig::embedded();
        let weapons = config.file("weapon").unwrap()["weapons"]
            .as_array()
            .unwrap();
        assert!(!weapons.is_empty());
        for w in weapons {
            let spec = WeaponSpec::parse(w).unwrap_or_else(|| panic!("{w}"));
            assert!(spec.max_level >= 1);
            assert!(
                item::max_of(&config, SEGMENT_GROUP, spec.id).is_some(),
                "{w}"
            );
        }
        assert_eq!(WeaponSpec::parse(&serde_json::json!({"id": 1})), None);
    }
}
