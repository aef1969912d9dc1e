//! Roles (the player's cards), as the original game's role.py: ids `<star tier><2-digit
//! index>` (101..610, the role segments of items.json group 2), levels bought with exp
//! points and coins (the same number of each), stars bought with the role's segments
//! (items `2:<role id>`), passive skills 101..110 unlocked by role level and coins. Star 0
//! means segments only: the role is locked. Numbers come from `roles.json`; the level cost
//! formula and the star cap are the original's code (see [`level_cost`], [`MAX_STAR`]).
//!
//! Every change runs in one transaction that first locks the caller's player row, so two
//! calls of one player on roles run one after the other and pay exactly once. A level up
//! counts the daily task `RoleLevelUp` and the achievement `LvUpR` in that transaction; a
//! role unlocked (star 0 -> 1) of tier 4, 5 or 6 counts `Get4R`/`Get5R`/`Get6R`.

use std::collections::BTreeMap;

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};

use crate::function::{data, ok, Args, Context, FnError, ModuleStatus, Outcome, Player, Reply};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{RoleLevelStatus, RolePassiveStatus, RoleStarStatus};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Achievement, Task};

/// Item group of role segments (items.json): the original's `Group.ROLE`.
pub const SEGMENT_GROUP: u32 = 2;
/// Item group 3 (the original's `Group.ITEM`) and the ids a level costs.
pub const ITEM_GROUP: u32 = 3;
const COIN: u32 = 1;
const EXP_POINT: u32 = 9;
/// The highest star (role.py: `star >= 10` is "max star").
pub const MAX_STAR: u32 = 10;
/// A tier roles.json gives no max level has the original's default.
const DEFAULT_MAX_LEVEL: u32 = 120;

/// The rules of `roles.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRules {
    /// Max level per star tier (`upgrade_lv`).
    pub max_levels: BTreeMap<u32, u32>,
    /// Star S -> S+1 costs `star_segments * (S + 1)` segments (`seg`).
    pub star_segments: u64,
    /// The item a passive costs (`unlock_ps.cty`, of group 3).
    pub passive_item: u32,
    /// Passive id -> (lowest role level, quantity of `passive_item`).
    pub passives: BTreeMap<u32, (u32, u64)>,
}

impl RoleRules {
    pub fn parse(file: &Value) -> Option<RoleRules> {
        let costs = file.get("standard_costs")?;
        let num = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
        let max_levels = costs
            .get("upgrade_lv")?
            .as_object()?
            .iter()
            .map(|(tier, lv)| Some((tier.parse().ok()?, num(lv)?)))
            .collect::<Option<BTreeMap<u32, u32>>>()?;
        let unlock = costs.get("unlock_ps")?;
        let passives = unlock
            .get("consume")?
            .as_object()?
            .iter()
            .filter(|(k, _)| k.as_str() != "comment")
            .map(|(pid, c)| {
                Some((
                    pid.parse().ok()?,
                    (num(c.get("lv")?)?, c.get("qty")?.as_u64()?),
                ))
            })
            .collect::<Option<BTreeMap<u32, (u32, u64)>>>()?;
        let rules = RoleRules {
            max_levels,
            star_segments: costs.get("seg")?.as_u64()?,
            passive_item: num(unlock.get("cty")?)?,
            passives,
        };
        // Passives are the original's 101..199 (role.py refuses any other hundred).
        rules.passives.keys().all(|p| p / 100 == 1).then_some(rules)
    }

    /// The max level of role `rid` (by its tier, `rid / 100`).
    pub fn max_level(&self, rid: u32) -> u32 {
        self.max_levels
            .get(&(rid / 100))
            .copied()
            .unwrap_or(DEFAULT_MAX_LEVEL)
    }

    /// Segments from `star` to `star + 1`.
    pub fn star_cost(&self, star: u32) -> u64 {
        self.star_segments.saturating_mul(u64::from(star) + 1)
    }
}

/// Exp points (and as many coins) from `level` up `delta` levels: the original's formula,
/// per level `lv` passed, `(50 + 50 × max(1, ⌊lv / 20⌋)) × max(1, lv − 9)`.
pub fn level_cost(level: u32, delta: u32) -> u64 {
    (level..level.saturating_add(delta))
        .map(|lv| {
            let lv = u64::from(lv);
            (50 + 50 * (lv / 20).max(1)) * lv.saturating_sub(9).max(1)
        })
        .sum()
}

/// Whether `rid` is a role of the game: its segments are an item of items.json group 2.
pub fn exists(config: &GameConfig, rid: u32) -> bool {
    item::max_of(config, SEGMENT_GROUP, rid).is_some()
}

fn rules(ctx: &Context) -> Result<RoleRules, FnError> {
    ctx.config
        .file("roles")
        .and_then(RoleRules::parse)
        .ok_or_else(|| FnError::Backend("game config roles.json is broken".into()))
}

/// The argument `name` as a role id of the game, else `invalid`.
fn role_arg(
    ctx: &Context,
    args: &Args,
    name: &str,
    invalid: impl ModuleStatus,
) -> Result<u32, FnError> {
    let id = args.int(name)?;
    u32::try_from(id)
        .ok()
        .filter(|id| exists(ctx.config, *id))
        .ok_or_else(|| FnError::from(invalid))
}

/// A role as the original's `role` row: a locked role with segments but no row of ours
/// is `star 0, level 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    row: bool,
    star: u32,
    level: u32,
    seg: u64,
}

/// The role's state, `None` when the caller has neither the role nor its segments.
fn state(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    rid: u32,
) -> Result<Option<State>, FnError> {
    let row: Option<(u32, u32)> = tx.exec_first(
        "SELECT star, level FROM roles \
         WHERE world = ? AND unique_id = ? AND role_id = ? FOR UPDATE",
        (world, uid, rid),
    )?;
    let seg = item::quantity(tx, world, uid, SEGMENT_GROUP, rid)?;
    Ok(match row {
        Some((star, level)) => Some(State {
            row: true,
            star,
            level,
            seg,
        }),
        None if seg > 0 => Some(State {
            row: false,
            star: 0,
            level: 1,
            seg,
        }),
        None => None,
    })
}

/// The achievement a role of tier `rid / 100` counts when unlocked (role.py's
/// `RECORD_GET`: tiers 4, 5, 6).
fn unlock_achievement(rid: u32) -> Option<Achievement> {
    match rid / 100 {
        4 => Some(Achievement::Get4R),
        5 => Some(Achievement::Get5R),
        6 => Some(Achievement::Get6R),
        _ => None,
    }
}

/// The caller's unlocked passives: role id -> passive id -> level.
fn passives_of(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<BTreeMap<u32, BTreeMap<u32, u32>>, FnError> {
    let rows: Vec<(u32, u32, u32)> = conn.exec(
        "SELECT role_id, pid, level FROM role_passives WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let mut all: BTreeMap<u32, BTreeMap<u32, u32>> = BTreeMap::new();
    for (rid, pid, level) in rows {
        all.entry(rid).or_default().insert(pid, level);
    }
    Ok(all)
}

/// `get_all_role()`: `roles`, each `{"rid","star","level","seg","101".."110"}` (a passive
/// 1 unlocked, 0 not): every role the caller has, and at star 0 every role of which it has
/// only segments.
pub fn get_all_role(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(u32, u32, u32, Option<u64>)> = conn.exec(
        "SELECT r.role_id, r.star, r.level, i.qty FROM roles r \
         LEFT JOIN items i ON i.world = r.world AND i.unique_id = r.unique_id \
           AND i.grp = ? AND i.item_id = r.role_id \
         WHERE r.world = ? AND r.unique_id = ? \
         UNION ALL \
         SELECT i.item_id, 0, 1, i.qty FROM items i \
         WHERE i.world = ? AND i.unique_id = ? AND i.grp = ? AND i.qty > 0 AND NOT EXISTS \
           (SELECT 1 FROM roles r WHERE r.world = i.world AND r.unique_id = i.unique_id \
              AND r.role_id = i.item_id) \
         ORDER BY 1",
        (SEGMENT_GROUP, world, uid, world, uid, SEGMENT_GROUP),
    )?;
    let passives = passives_of(&mut conn, world, uid)?;
    let roles: Vec<Value> = rows
        .into_iter()
        .map(|(rid, star, level, seg)| {
            let mut r = json!({"rid": rid, "star": star, "level": level, "seg": seg.unwrap_or(0)});
            for pid in rules.passives.keys() {
                let lv = passives
                    .get(&rid)
                    .and_then(|p| p.get(pid))
                    .copied()
                    .unwrap_or(0);
                r[pid.to_string()] = lv.into();
            }
            r
        })
        .collect();
    ok(data([("roles", Value::from(roles))]))
}

/// `level_up_role(role, delta = 1)`: up `delta` levels (clamped to the tier's max level),
/// paying [`level_cost`] in exp points and the same in coins.
pub fn level_up_role(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let rid = role_arg(ctx, args, "role", RoleLevelStatus::InvalidTarget)?;
    let delta = args.opt_int("delta")?.unwrap_or(1);
    let max_level = rules.max_level(rid);
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let s = state(tx, world, uid, rid)?.ok_or(RoleLevelStatus::InvalidTarget)?;
        if s.star == 0 {
            return Err(RoleLevelStatus::NotUnlocked.into());
        }
        if s.level >= max_level {
            // role.py clamps delta to the max first: at the max it is 0, refused as 98.
            return Err(FnError::module(RoleLevelStatus::InvalidDelta, "max lv"));
        }
        if delta <= 0 {
            return Err(RoleLevelStatus::InvalidDelta.into());
        }
        let delta = delta.min(i64::from(max_level - s.level)) as u32;
        let cost = level_cost(s.level, delta);
        let price = [
            Item {
                group: ITEM_GROUP,
                id: EXP_POINT,
                qty: cost,
            },
            Item {
                group: ITEM_GROUP,
                id: COIN,
                qty: cost,
            },
        ];
        item::spend_or(tx, world, uid, &price, RoleLevelStatus::CannotPay)?;
        let level = s.level + delta;
        tx.exec_drop(
            "UPDATE roles SET level = ? WHERE world = ? AND unique_id = ? AND role_id = ?",
            (level, world, uid, rid),
        )?;
        progress::task_done(tx, world, uid, Task::RoleLevelUp, now)?;
        progress::achieve(tx, world, uid, Achievement::LvUpR, 1)?;
        let exp = item::quantity(tx, world, uid, ITEM_GROUP, EXP_POINT)?;
        let coins = item::quantity(tx, world, uid, ITEM_GROUP, COIN)?;
        ok(data([
            (
                "remaining",
                json!({
                    "2": {"rid": rid, "level": level},
                    "3": [item::iid_value(EXP_POINT, exp), item::iid_value(COIN, coins)],
                }),
            ),
            (
                "reward",
                json!({
                    "2": {"rid": rid, "level": delta},
                    "3": [item::iid_value(EXP_POINT, cost), item::iid_value(COIN, cost)],
                }),
            ),
        ]))
    })
}

/// Gives the player role `rid` as the original's `lottery.try_unlock_role`, in the caller's
/// transaction (the player's row locked): a role it does not have unlocked is unlocked at
/// star 1 (counting `Get4R`/`Get5R`/`Get6R`), else it gets `segments` of the role's
/// segments. Answers (unlocked, star, segments held after).
pub(crate) fn unlock_or_segments(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    rid: u32,
    segments: u64,
) -> Result<(bool, u32, u64), FnError> {
    match state(tx, world, uid, rid)? {
        Some(s) if s.row => {
            let gift = Item {
                group: SEGMENT_GROUP,
                id: rid,
                qty: segments,
            };
            item::grant(tx, config, world, uid, &[gift])?;
            let seg = item::quantity(tx, world, uid, SEGMENT_GROUP, rid)?;
            Ok((false, s.star, seg))
        }
        locked => {
            tx.exec_drop(
                "INSERT INTO roles (world, unique_id, role_id, star, level) VALUES (?, ?, ?, 1, 1)",
                (world, uid, rid),
            )?;
            if let Some(a) = unlock_achievement(rid) {
                progress::achieve(tx, world, uid, a, 1)?;
            }
            Ok((true, 1, locked.map_or(0, |s| s.seg)))
        }
    }
}

/// `level_up_star_role(role)`: one star up for `seg * (star + 1)` of the role's segments;
/// star 0 -> 1 unlocks the role.
pub fn level_up_star_role(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let rid = role_arg(ctx, args, "role", RoleStarStatus::InvalidTarget)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let s = state(tx, world, uid, rid)?.ok_or(RoleStarStatus::InvalidTarget)?;
        if s.star >= MAX_STAR {
            return Err(RoleStarStatus::MaxStar.into());
        }
        let cost = rules.star_cost(s.star);
        let price = Item {
            group: SEGMENT_GROUP,
            id: rid,
            qty: cost,
        };
        let short = RoleStarStatus::InsufficientSegments;
        item::pay_from_held(tx, world, uid, price, s.seg, short)?;
        let star = s.star + 1;
        if s.row {
            tx.exec_drop(
                "UPDATE roles SET star = ? WHERE world = ? AND unique_id = ? AND role_id = ?",
                (star, world, uid, rid),
            )?;
        } else {
            tx.exec_drop(
                "INSERT INTO roles (world, unique_id, role_id, star, level) VALUES (?, ?, ?, ?, 1)",
                (world, uid, rid, star),
            )?;
        }
        if s.star == 0 {
            if let Some(a) = unlock_achievement(rid) {
                progress::achieve(tx, world, uid, a, 1)?;
            }
        }
        ok(data([
            (
                "remaining",
                json!({"rid": rid, "star": star, "seg": s.seg - cost}),
            ),
            ("reward", json!({"rid": rid, "star": 1, "seg": cost})),
        ]))
    })
}

/// `unlock_passive_role(rid, pid)`: unlocks passive `pid` of role `rid` once the role has
/// the passive's level, for its cost (roles.json `unlock_ps`).
pub fn unlock_passive_role(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let rid = role_arg(ctx, args, "rid", RolePassiveStatus::RoleIdError)?;
    let pid = args.int("pid")?;
    let (pid, (min_level, qty)) = u32::try_from(pid)
        .ok()
        .and_then(|p| Some((p, *rules.passives.get(&p)?)))
        .ok_or(RolePassiveStatus::PassiveIdError)?;
    let cost_item = rules.passive_item;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let s = state(tx, world, uid, rid)?.ok_or(RolePassiveStatus::InvalidTarget)?;
        if s.star == 0 {
            return Err(RolePassiveStatus::NotUnlocked.into());
        }
        if min_level > s.level {
            return Err(RolePassiveStatus::LevelTooLow.into());
        }
        let unlocked: Option<u32> = tx.exec_first(
            "SELECT level FROM role_passives \
             WHERE world = ? AND unique_id = ? AND role_id = ? AND pid = ?",
            (world, uid, rid, pid),
        )?;
        if unlocked == Some(1) {
            // The original answers the caller's passives with the refusal.
            let all: Map<String, Value> = passives_of(tx, world, uid)?
                .into_iter()
                .map(|(r, ps)| {
                    let ps: Map<String, Value> = ps
                        .into_iter()
                        .map(|(p, lv)| (p.to_string(), Value::from(lv)))
                        .collect();
                    (r.to_string(), Value::Object(ps))
                })
                .collect();
            return Ok(Reply::with(RolePassiveStatus::AlreadyUnlocked, all));
        }
        if qty > 0 {
            let price = [Item {
                group: ITEM_GROUP,
                id: cost_item,
                qty,
            }];
            let short = RolePassiveStatus::InsufficientMaterials;
            item::spend_or(tx, world, uid, &price, short)?;
        }
        tx.exec_drop(
            "INSERT INTO role_passives (world, unique_id, role_id, pid, level) \
             VALUES (?, ?, ?, ?, 1) ON DUPLICATE KEY UPDATE level = 1",
            (world, uid, rid, pid),
        )?;
        let left = item::quantity(tx, world, uid, ITEM_GROUP, cost_item)?;
        ok(data([
            ("rid", Value::from(rid)),
            ("pid", Value::from(pid)),
            (
                "remain",
                Value::from(format!("{ITEM_GROUP}:{cost_item}:{left}")),
            ),
            (
                "reward",
                Value::from(format!("{ITEM_GROUP}:{cost_item}:{qty}")),
            ),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> RoleRules {
        RoleRules::parse(GameConfig::embedded().file("roles").unwrap()).unwrap()
    }

    #[test]
    fn the_shipped_rules_are_the_originals() {
        let r = shipped();
        let maxes: Vec<u32> = [101, 210, 301, 402, 510, 610, 999]
            .iter()
            .map(|rid| r.max_level(*rid))
            .collect();
        assert_eq!(maxes, [30, 50, 80, 100, 120, 120, 120]);
        assert_eq!(r.star_segments, 25);
        let stars: Vec<u64> = (0..MAX_STAR).map(|s| r.star_cost(s)).collect();
        assert_eq!(stars, [25, 50, 75, 100, 125, 150, 175, 200, 225, 250]);
        assert_eq!(r.passive_item, COIN);
        assert_eq!(r.passives.len(), 10);
        assert_eq!(r.passives[&101], (12, 0));
        assert_eq!(r.passives[&102], (24, 10_000));
        assert_eq!(r.passives[&110], (120, 2_560_000));
        let config = GameConfig::embedded();
        let roles: Vec<u32> = (1..=6)
            .flat_map(|t| (1..=10).map(move |i| t * 100 + i))
            .collect();
        assert!(roles.iter().all(|rid| exists(&config, *rid)));
        assert!(!exists(&config, 111) && !exists(&config, 0) && !exists(&config, 611));
        assert!(item::max_of(&config, ITEM_GROUP, EXP_POINT).is_some());
    }

    #[test]
    fn level_costs_follow_the_originals_formula() {
        // lv 1..9: 100 each; lv 10: 100 × 1; lv 20: 150 × 11; lv 40: 150 × 31.
        assert_eq!(level_cost(1, 1), 100);
        assert_eq!(level_cost(1, 9), 900);
        assert_eq!(level_cost(10, 1), 100);
        assert_eq!(level_cost(11, 1), 200);
        assert_eq!(level_cost(19, 1), 1000);
        assert_eq!(level_cost(20, 1), 100 * 11);
        assert_eq!(level_cost(40, 1), 150 * 31);
        assert_eq!(level_cost(119, 1), (50 + 50 * 5) * 110);
        let each: u64 = (1..120).map(|lv| level_cost(lv, 1)).sum();
        assert_eq!(level_cost(1, 119), each);
        assert_eq!(level_cost(5, 0), 0);
    }

    #[test]
    fn broken_rules_are_refused() {
        let mut file = GameConfig::embedded().file("roles").unwrap().clone();
        assert!(RoleRules::parse(&file).is_some());
        file["standard_costs"]["unlock_ps"]["consume"]["201"] = json!({"lv": 1, "qty": 1});
        assert_eq!(RoleRules::parse(&file), None, "passives are 101..199");
        assert_eq!(RoleRules::parse(&json!({})), None);
    }

    /// Players made before migration 11 keep their items and get role 402 at star 1.
    #[test]
    fn players_of_version_9_get_the_starting_role() {
        let server = crate::test_support::start_mariadb();
        let db = crate::db::Db::open(&server.url(), 2).unwrap();
        let before = &crate::db::MIGRATIONS[..9];
        assert_eq!(before.last().map(|m| m.version), Some(9));
        crate::db::migrate_with(&db, before).unwrap();
        let mut conn = db.conn().unwrap();
        conn.query_drop(
            "INSERT INTO players (world, unique_id, gn) VALUES ('s0', 'a', 'A'), ('s1', 'b', 'B')",
        )
        .unwrap();
        conn.query_drop(
            "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES
             ('s0', 'a', 2, 402, 30), ('s0', 'a', 3, 9, 500)",
        )
        .unwrap();
        let applied = crate::db::migrate(&db).unwrap();
        assert!(applied.contains(&11), "{applied:?}");
        let roles: Vec<(String, String, u32, u32, u32)> = conn
            .query("SELECT world, unique_id, role_id, star, level FROM roles ORDER BY world")
            .unwrap();
        assert_eq!(
            roles,
            [
                ("s0".into(), "a".into(), 402, 1, 1),
                ("s1".into(), "b".into(), 402, 1, 1)
            ]
        );
        let items: Vec<(u32, u32, u64)> = conn
            .query("SELECT grp, item_id, qty FROM items WHERE unique_id = 'a' ORDER BY grp")
            .unwrap();
        assert_eq!(items, [(2, 402, 30), (3, 9, 500)]);
    }
}
