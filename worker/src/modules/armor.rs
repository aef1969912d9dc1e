//! Armor, as the original game's armor.py: four armors (ids 1..4), each held in eleven
//! levels (1..11). Three armors of a level make one of the next; `upgrade_armor` makes
//! `num` armors of a level from the level below, and when that level is short, from the
//! levels below it in turn (the shortfall times three each step down), using up every
//! level in between. The original has no armor config file: these numbers are its code
//! (`Armor`, `ArmorTier` and `_upgrade`), kept here as constants.
//!
//! An upgrade runs in one transaction that first locks the caller's player row, then its
//! armor rows, so concurrent upgrades spend each lower armor once and make nothing from
//! nothing.

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player};
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::ArmorUpgradeStatus;

/// Armor ids (the original's `Armor`: A1..A4).
pub const ARMORS: [u32; 4] = [1, 2, 3, 4];
/// Levels of an armor (the original's `ArmorTier`: T1..T11).
pub const LEVELS: usize = 11;
/// Armors of one level that make one of the next.
pub const RECIPE: u64 = 3;
/// Most armors one `upgrade_armor` may make (`num`); far above what play reaches, and
/// `num` × 3^10 stays far inside `u64`.
pub const MAX_NUM: i64 = 1_000_000;

/// Makes `n` armors at index `target` (level `target + 1`) from the levels below, the
/// original's way: take 3n from the level below; when it has fewer, use all of it and
/// make the rest from the level below that, and so on down to level 1. Changes `tiers`
/// and answers true when it could; leaves them as they were and answers false when not.
pub fn upgrade(tiers: &mut [u64; LEVELS], target: usize, n: u64) -> bool {
    if target == 0 || target >= LEVELS || n == 0 {
        return false;
    }
    let mut want = match n.checked_mul(RECIPE) {
        Some(w) => w,
        None => return false,
    };
    let mut i = target - 1;
    loop {
        if tiers[i] >= want {
            let Some(made) = tiers[target].checked_add(n) else {
                return false;
            };
            tiers[i] -= want;
            for t in &mut tiers[i + 1..target] {
                *t = 0;
            }
            tiers[target] = made;
            return true;
        }
        if i == 0 {
            return false;
        }
        want = match (want - tiers[i]).checked_mul(RECIPE) {
            Some(w) => w,
            None => return false,
        };
        i -= 1;
    }
}

/// Adds `n` armors `aid` of `level` to the player's holdings, in the caller's transaction
/// (which has locked the player's row); answers how many the player holds now (the count
/// stops at `u64::MAX`). The other modules' way to grant armor (the factory's).
pub(crate) fn add(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    aid: u32,
    level: u32,
    n: u64,
) -> Result<u64, FnError> {
    let held: Option<u64> = tx.exec_first(
        "SELECT qty FROM armors WHERE world = ? AND unique_id = ? AND armor_id = ? AND level = ? \
         FOR UPDATE",
        (world, uid, aid, level),
    )?;
    let held = held.unwrap_or(0);
    if n == 0 {
        return Ok(held);
    }
    let now = held.saturating_add(n);
    tx.exec_drop(
        "INSERT INTO armors (world, unique_id, armor_id, level, qty) VALUES (?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
        (world, uid, aid, level, now),
    )?;
    Ok(now)
}

/// `get_all_armor()`: `armors`, `[{"aid","level","quantity"}]` for every armor level the
/// caller holds at least one of, by armor and level.
pub fn get_all_armor(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(u32, u32, u64)> = conn.exec(
        "SELECT armor_id, level, qty FROM armors WHERE world = ? AND unique_id = ? AND qty > 0 \
         ORDER BY armor_id, level",
        (&player.world, &player.unique_id),
    )?;
    let armors: Vec<Value> = rows
        .into_iter()
        .map(|(aid, level, qty)| json!({"aid": aid, "level": level, "quantity": qty}))
        .collect();
    ok(data([("armors", Value::from(armors))]))
}

/// `upgrade_armor(aid, level, num = 1)`: makes `num` armors `aid` of `level` (2..11) as
/// [`upgrade`] does. Answers `aid`, `remaining` (level -> quantity, "1".."11") and
/// `reward` (level -> change, negative for armors used).
pub fn upgrade_armor(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let aid = args.int("aid")?;
    let level = args.int("level")?;
    let num = match args.opt_int("num")? {
        None => 1,
        Some(n) if (1..=MAX_NUM).contains(&n) => n as u64,
        Some(_) => {
            return Err(FnError::Malformed(format!(
                "`num` must be from 1 to {MAX_NUM}"
            )))
        }
    };
    if !(2..=LEVELS as i64).contains(&level) {
        return Err(ArmorUpgradeStatus::InvalidLevel.into());
    }
    let aid = u32::try_from(aid)
        .ok()
        .filter(|a| ARMORS.contains(a))
        .ok_or(ArmorUpgradeStatus::InvalidArmor)?;
    let target = (level - 1) as usize;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let rows: Vec<(usize, u64)> = tx.exec(
            "SELECT level, qty FROM armors WHERE world = ? AND unique_id = ? AND armor_id = ? \
             FOR UPDATE",
            (world, uid, aid),
        )?;
        let mut before = [0u64; LEVELS];
        for (lv, qty) in rows {
            if (1..=LEVELS).contains(&lv) {
                before[lv - 1] = qty;
            }
        }
        let mut after = before;
        if !upgrade(&mut after, target, num) {
            return Err(ArmorUpgradeStatus::InsufficientArmor.into());
        }
        let mut remaining = Map::new();
        let mut reward = Map::new();
        for (i, (was, now)) in before.iter().zip(after.iter()).enumerate() {
            let lv = i + 1;
            if was != now {
                tx.exec_drop(
                    "INSERT INTO armors (world, unique_id, armor_id, level, qty) \
                     VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
                    (world, uid, aid, lv, now),
                )?;
            }
            remaining.insert(lv.to_string(), Value::from(*now));
            let change = i128::from(*now) - i128::from(*was);
            reward.insert(lv.to_string(), Value::from(change as i64));
        }
        ok(data([
            ("aid", Value::from(aid)),
            ("remaining", Value::Object(remaining)),
            ("reward", Value::Object(reward)),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(first: &[u64]) -> [u64; LEVELS] {
        let mut t = [0; LEVELS];
        t[..first.len()].copy_from_slice(first);
        t
    }

    #[test]
    fn three_of_a_level_make_one_of_the_next() {
        let mut t = tiers(&[7]);
        assert!(upgrade(&mut t, 1, 2));
        assert_eq!(t, tiers(&[1, 2]));
        assert!(!upgrade(&mut t, 1, 1), "one left is not three");
        assert_eq!(t, tiers(&[1, 2]), "a refusal changes nothing");
    }

    #[test]
    fn a_short_level_is_made_from_the_levels_below_and_used_up() {
        // level 3 from 2 level-2 (short of 3 by 1) and 3 level-1 (make that one)
        let mut t = tiers(&[5, 2]);
        assert!(upgrade(&mut t, 2, 1));
        assert_eq!(t, tiers(&[2, 0, 1]));
        // level 4 from nothing but level 1: 27 of them
        let mut t = tiers(&[26]);
        assert!(!upgrade(&mut t, 3, 1));
        assert_eq!(t, tiers(&[26]));
        let mut t = tiers(&[27, 0, 0, 4]);
        assert!(upgrade(&mut t, 3, 1));
        assert_eq!(t, tiers(&[0, 0, 0, 5]));
        // one of level 3 takes 3 of level 2: 1 held, the 2 missing from 6 of level 1
        let mut t = tiers(&[7, 1]);
        assert!(upgrade(&mut t, 2, 1));
        assert_eq!(t, tiers(&[1, 0, 1]));
        // levels above the target are untouched
        let mut t = tiers(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
        assert!(upgrade(&mut t, 2, 1));
        assert_eq!(t, tiers(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 8]));
    }

    #[test]
    fn the_value_in_level_one_armors_never_grows() {
        let worth = |t: &[u64; LEVELS]| -> u128 {
            t.iter()
                .enumerate()
                .map(|(i, q)| u128::from(*q) * 3u128.pow(i as u32))
                .sum()
        };
        let mut t = tiers(&[1000, 50, 20, 7, 2]);
        let start = worth(&t);
        for (target, n) in [(1, 3), (4, 2), (10, 1), (5, 1), (2, 7), (3, 1000)] {
            let was = worth(&t);
            let done = upgrade(&mut t, target, n);
            assert!(worth(&t) <= was, "{target} x{n}");
            if !done {
                assert_eq!(worth(&t), was);
            }
        }
        assert!(worth(&t) <= start);
    }

    #[test]
    fn bad_targets_and_counts_make_nothing() {
        let mut t = tiers(&[u64::MAX, u64::MAX]);
        assert!(!upgrade(&mut t, 0, 1));
        assert!(!upgrade(&mut t, LEVELS, 1));
        assert!(!upgrade(&mut t, 1, 0));
        assert!(!upgrade(&mut t, 1, u64::MAX), "3n overflows");
        let mut t = tiers(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, u64::MAX]);
        t[9] = 3;
        assert!(!upgrade(&mut t, 10, 1), "the top level would overflow");
        assert_eq!(t[9], 3);
    }
}
