//! VIP (the original's vip.py): VIP experience and its level, month cards and the
//! perpetual card, the daily reward and the VIP gifts. Numbers: vip_config.json
//! (`vip_level.experience` the experience each level starts at, `card_increase_experience`,
//! `vip_daily_reward` per level, `vip_special_package` per tier, `card_days`).
//!
//! The level is how many thresholds of `vip_level.experience` the experience reaches (0
//! below the first, 14 from the last); `need` is what the next one lacks (0 at the top).
//! Cards are items 26 (month, "min"), 27 (month, "max") and 28 (perpetual); a month card
//! runs `card_days` days from its activation, or from its current end when it is still
//! active. The daily reward, once a game day (UTC+8), gives each active card's experience
//! and the reward of the level reached. Every change locks the player's row first.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{SharedStatus, VipCardStatus, VipDailyStatus, VipGiftStatus};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Achievement};

const ITEM_GROUP: u32 = 3;
const DIAMOND: u32 = 5;
/// The month card that gives `card_increase_experience.min` a day.
pub const CARD_MIN: u32 = 26;
/// The month card that gives `card_increase_experience.max` a day.
pub const CARD_MAX: u32 = 27;
/// The card without an end (`card_increase_experience.permanent`).
pub const CARD_PERPETUAL: u32 = 28;
/// The `daily_limits` id of the daily reward. Not one of the original's Limits ids (it
/// kept a cooling timer, Timer 20): 100 + that timer's id, clear of the Limits ids 1-24.
pub const DAILY_REWARD: u32 = 120;
/// The most VIP experience a player keeps (far above the last level's 1 000 000).
const MAX_EXP: u64 = 999_999_999;

fn config(config: &GameConfig) -> Result<&Value, FnError> {
    config
        .file("vip_config")
        .ok_or_else(|| FnError::Backend("game config vip_config.json is missing".into()))
}

fn broken(what: &str) -> FnError {
    FnError::Backend(format!("game config vip_config.json: {what} is broken"))
}

fn number(file: &Value, path: &[&str]) -> Result<u64, FnError> {
    path.iter()
        .try_fold(file, |v, key| v.get(*key))
        .and_then(Value::as_u64)
        .ok_or_else(|| broken(&path.join(".")))
}

/// A player's VIP experience with its level and what the next level lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpInfo {
    pub exp: u64,
    pub level: u32,
    pub need: u64,
}

impl ExpInfo {
    /// The original's `exp_info`: `exp`, `level`, `need` and `reward` (the experience just
    /// added).
    pub fn to_json(self, reward: u64) -> Value {
        json!({"exp": self.exp, "level": self.level, "need": self.need, "reward": reward})
    }
}

/// The level and need of `exp` under vip_config.json's thresholds.
pub fn exp_info(config: &GameConfig, exp: u64) -> Result<ExpInfo, FnError> {
    let thresholds = self::config(config)?
        .get("vip_level")
        .and_then(|l| l.get("experience"))
        .and_then(Value::as_array)
        .ok_or_else(|| broken("vip_level.experience"))?;
    for (level, threshold) in thresholds.iter().enumerate() {
        let threshold = threshold
            .as_u64()
            .ok_or_else(|| broken("vip_level.experience"))?;
        if threshold > exp {
            return Ok(ExpInfo {
                exp,
                level: level as u32,
                need: threshold - exp,
            });
        }
    }
    Ok(ExpInfo {
        exp,
        level: thresholds.len() as u32,
        need: 0,
    })
}

/// A player's VIP row (the defaults without one).
#[derive(Clone, Copy, Debug, Default)]
struct Vip {
    exp: u64,
    min_end: Option<i64>,
    max_end: Option<i64>,
    perpetual: bool,
}

impl Vip {
    /// Which cards are active at `now`: (min, max, perpetual).
    fn cards(&self, now: i64) -> (bool, bool, bool) {
        let active = |end: Option<i64>| end.is_some_and(|end| end > now);
        (active(self.min_end), active(self.max_end), self.perpetual)
    }
}

fn read(conn: &mut impl Queryable, world: &str, uid: &str) -> Result<Vip, FnError> {
    let row: Option<(u64, Option<i64>, Option<i64>, u8)> = conn.exec_first(
        "SELECT exp, min_end, max_end, perpetual FROM vip WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    Ok(
        row.map_or_else(Vip::default, |(exp, min_end, max_end, perpetual)| Vip {
            exp,
            min_end,
            max_end,
            perpetual: perpetual != 0,
        }),
    )
}

fn ensure_row(tx: &mut mysql::Transaction<'_>, world: &str, uid: &str) -> Result<(), FnError> {
    tx.exec_drop(
        "INSERT IGNORE INTO vip (world, unique_id) VALUES (?, ?)",
        (world, uid),
    )?;
    Ok(())
}

/// The player's VIP level (0 for a player who never had VIP experience), for modules
/// whose numbers depend on it.
pub fn level(
    conn: &mut impl Queryable,
    config: &GameConfig,
    world: &str,
    uid: &str,
) -> Result<u32, FnError> {
    Ok(exp_info(config, read(conn, world, uid)?.exp)?.level)
}

/// Adds `n` VIP experience (capped at `MAX_EXP`) inside the caller's transaction, which
/// must hold the player's row lock ([`daily::lock_player`]); records
/// [`Achievement::LvVip`] once per level gained, so its count is the VIP level. Answers
/// the new state.
pub fn add_exp(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    n: u64,
) -> Result<ExpInfo, FnError> {
    ensure_row(tx, world, uid)?;
    let before = exp_info(config, read(tx, world, uid)?.exp)?;
    let exp = before.exp.saturating_add(n).min(MAX_EXP.max(before.exp));
    tx.exec_drop(
        "UPDATE vip SET exp = ? WHERE world = ? AND unique_id = ?",
        (exp, world, uid),
    )?;
    let after = exp_info(config, exp)?;
    if after.level > before.level {
        progress::achieve(
            tx,
            world,
            uid,
            Achievement::LvVip,
            u64::from(after.level - before.level),
        )?;
    }
    Ok(after)
}

/// `exchange_card` of the VIP exp card (package.json `VIP_EXP_CARD`, `sqltable`
/// `progress`, `mid` `vipexp`): `qty` cards (already paid by the caller, in `tx`, under
/// the player's row lock) give VIP level × `bnum` each, as the original, but at least
/// `bnum` each at VIP level 0 (the original gave nothing there and kept the cards).
/// Answers the new state and the experience given.
pub fn exchange_exp_cards(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    bnum: u64,
    qty: u64,
) -> Result<(ExpInfo, u64), FnError> {
    let now = exp_info(config, read(tx, world, uid)?.exp)?;
    let given = u64::from(now.level.max(1))
        .saturating_mul(bnum)
        .saturating_mul(qty)
        .min(MAX_EXP);
    let after = add_exp(tx, config, world, uid, given)?;
    Ok((after, given))
}

/// Activates card `cid` (26, 27 or 28) for the player in the caller's transaction (which
/// holds the player's row lock): a month card runs `card_days` from now, or from its end
/// when still active; the perpetual card is set. Answers the seconds the card has left
/// (-1 for the perpetual card): the original's `cooling_time`. Nothing is paid here: the
/// player's function spends a card item, a paid purchase (the mall) calls this directly.
pub fn activate_card(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    cid: u32,
    now: i64,
) -> Result<i64, FnError> {
    ensure_row(tx, world, uid)?;
    let vip = read(tx, world, uid)?;
    let column = match cid {
        CARD_PERPETUAL => {
            tx.exec_drop(
                "UPDATE vip SET perpetual = 1 WHERE world = ? AND unique_id = ?",
                (world, uid),
            )?;
            return Ok(-1);
        }
        CARD_MIN => "min_end",
        CARD_MAX => "max_end",
        _ => return Err(VipCardStatus::UnknownCard.into()),
    };
    let days = number(self::config(config)?, &["card_days"])?;
    let span = i64::try_from(days)
        .ok()
        .and_then(|d| d.checked_mul(86_400))
        .ok_or_else(|| broken("card_days"))?;
    let current = if cid == CARD_MIN {
        vip.min_end
    } else {
        vip.max_end
    };
    let from = current.filter(|end| *end > now).unwrap_or(now);
    let end = from.checked_add(span).ok_or_else(|| broken("card_days"))?;
    // `column` is one of two fixed names, never input.
    tx.exec_drop(
        format!("UPDATE vip SET {column} = ? WHERE world = ? AND unique_id = ?"),
        (end, world, uid),
    )?;
    Ok(end - now)
}

/// `get_info_vip()`: `exp_info`, which cards are active (`min_card`, `max_card`,
/// `perpetual_card`, booleans), the seconds the month cards have left (`min_seconds`,
/// `max_seconds`, 0 when not active) and `cooling_time`: the seconds until the daily
/// reward can be claimed again (to the game day's end), -1 when it can be claimed now.
pub fn get_info_vip(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    let mut conn = ctx.db.conn()?;
    let vip = read(&mut conn, world, uid)?;
    let (min, max, perpetual) = vip.cards(now);
    let left = |active: bool, end: Option<i64>| if active { end.unwrap_or(now) - now } else { 0 };
    let claimed = daily::used(&mut conn, world, uid, DAILY_REWARD, now)? > 0;
    let cooling = if claimed {
        daily::seconds_to_next_day(now)
    } else {
        -1
    };
    ok(data([
        ("exp_info", exp_info(ctx.config, vip.exp)?.to_json(0)),
        ("min_card", Value::from(min)),
        ("max_card", Value::from(max)),
        ("min_seconds", Value::from(left(min, vip.min_end))),
        ("max_seconds", Value::from(left(max, vip.max_end))),
        ("perpetual_card", Value::from(perpetual)),
        ("cooling_time", Value::from(cooling)),
    ]))
}

/// vip_config.json `vip_daily_reward.<level>`: (item id as written, quantity), quantities
/// of 0 included (the original listed them).
fn daily_reward(config: &Value, level: u32) -> Result<Vec<(String, u64)>, FnError> {
    let what = format!("vip_daily_reward.{level}");
    let table = config
        .get("vip_daily_reward")
        .and_then(|r| r.get(level.to_string()))
        .and_then(Value::as_object)
        .ok_or_else(|| broken(&what))?;
    table
        .iter()
        .map(|(iid, qty)| Ok((iid.clone(), qty.as_u64().ok_or_else(|| broken(&what))?)))
        .collect()
}

/// `get_vip_daily_reward()`: once a game day, for each active card (min, max, perpetual,
/// in this order) its experience, then the daily reward of the VIP level reached.
/// Answers `remaining` `{min_card, max_card, perpetual_card: {card, item?}, exp_info}` and
/// `reward` `{min_card, max_card, perpetual_card: {item?}}`, `item` lists of
/// `{"iid": "<id>", "value": n}` (holdings after, and what was given).
pub fn get_vip_daily_reward(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    let file = config(ctx.config)?;
    let gains = [
        (
            "min_card",
            number(file, &["card_increase_experience", "min"])?,
        ),
        (
            "max_card",
            number(file, &["card_increase_experience", "max"])?,
        ),
        (
            "perpetual_card",
            number(file, &["card_increase_experience", "permanent"])?,
        ),
    ];
    transaction(ctx.db, |tx| {
        if daily::lock_used(tx, world, uid, DAILY_REWARD, now)? > 0 {
            return Err(VipDailyStatus::Claimed.into());
        }
        let (min, max, perpetual) = read(tx, world, uid)?.cards(now);
        if !(min || max || perpetual) {
            return Err(VipDailyStatus::NotVip.into());
        }
        let mut remaining = serde_json::Map::new();
        let mut reward = serde_json::Map::new();
        let mut last = None;
        for ((name, gain), active) in gains.into_iter().zip([min, max, perpetual]) {
            if !active {
                remaining.insert(name.into(), json!({"card": false}));
                reward.insert(name.into(), json!({}));
                continue;
            }
            let info = add_exp(tx, ctx.config, world, uid, gain)?;
            last = Some((info, gain));
            let mut held = Vec::new();
            let mut given = Vec::new();
            for (iid, qty) in daily_reward(file, info.level)? {
                let id: u32 = iid
                    .parse()
                    .map_err(|_| broken(&format!("vip_daily_reward.{}", info.level)))?;
                if qty > 0 {
                    item::grant(
                        tx,
                        ctx.config,
                        world,
                        uid,
                        &[Item {
                            group: ITEM_GROUP,
                            id,
                            qty,
                        }],
                    )?;
                }
                let total = item::quantity(tx, world, uid, ITEM_GROUP, id)?;
                held.push(json!({"iid": iid, "value": total}));
                given.push(json!({"iid": iid, "value": qty}));
            }
            remaining.insert(name.into(), json!({"card": true, "item": held}));
            reward.insert(name.into(), json!({"item": given}));
        }
        let (info, gain) = last.ok_or(VipDailyStatus::NotVip)?;
        remaining.insert("exp_info".into(), info.to_json(gain));
        daily::set_used(tx, world, uid, DAILY_REWARD, now, 1)?;
        ok(data([
            ("remaining", Value::Object(remaining)),
            ("reward", Value::Object(reward)),
        ]))
    })
}

/// `purchase_vip_gift(tier)`: the gift of `tier` (at most the player's VIP level) for its
/// `cast_diamond` diamonds. Answers `remaining` `{diamond, gifts: [{gid, mid, qty}]}`
/// (holdings after), `reward` `{diamond: -paid, gifts: [{gid, mid, qty}]}` and `exp_info`.
pub fn purchase_vip_gift(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let tier = args.int("tier")?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let file = config(ctx.config)?;
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let info = exp_info(ctx.config, read(tx, world, uid)?.exp)?;
        if tier > i64::from(info.level) {
            return Err(VipGiftStatus::VipLevel.into());
        }
        let gift = (tier >= 0)
            .then(|| file.get("vip_special_package")?.get(tier.to_string()))
            .flatten()
            .ok_or(VipGiftStatus::UnknownTier)?;
        let what = format!("vip_special_package.{tier}");
        let cost = gift
            .get("cast_diamond")
            .and_then(Value::as_u64)
            .ok_or_else(|| broken(&what))?;
        let items = gift
            .get("package")
            .ok_or_else(|| broken(&what))
            .and_then(|p| Item::parse_list(p).map_err(|_| broken(&what)))?;
        if cost > 0 {
            let paid = Item {
                group: ITEM_GROUP,
                id: DIAMOND,
                qty: cost,
            };
            item::spend(tx, world, uid, &[paid]).map_err(|e| match e {
                FnError::Module { code, .. }
                    if code
                        == crate::function::ModuleStatus::code(SharedStatus::NotEnoughItems) =>
                {
                    VipGiftStatus::Diamonds.into()
                }
                other => other,
            })?;
        }
        item::grant(tx, ctx.config, world, uid, &items)?;
        let diamonds = item::quantity(tx, world, uid, ITEM_GROUP, DIAMOND)?;
        let mut held = Vec::with_capacity(items.len());
        for i in &items {
            let total = item::quantity(tx, world, uid, i.group, i.id)?;
            held.push(json!({"gid": i.group, "mid": i.id, "qty": total}));
        }
        let given: Vec<Value> = items
            .iter()
            .map(|i| json!({"gid": i.group, "mid": i.id, "qty": i.qty}))
            .collect();
        ok(data([
            ("remaining", json!({"diamond": diamonds, "gifts": held})),
            ("reward", json!({"diamond": -(cost as i64), "gifts": given})),
            ("exp_info", info.to_json(0)),
        ]))
    })
}

/// `purchase_vip_card(card_id)`: uses one card item `card_id` (26, 27, 28) the player
/// holds (bought in the mall or given) to activate that card. Answers `cooling_time` (the
/// seconds the card has left, -1 for the perpetual card) and `card_id`. The original gave
/// the card for nothing ("no cost for now"); without the item here: 18.
pub fn purchase_vip_card(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let cid = args.int("card_id")?;
    let cid = u32::try_from(cid)
        .ok()
        .filter(|c| [CARD_MIN, CARD_MAX, CARD_PERPETUAL].contains(c))
        .ok_or(VipCardStatus::UnknownCard)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        if cid == CARD_PERPETUAL && read(tx, world, uid)?.perpetual {
            return Err(VipCardStatus::Active.into());
        }
        let card = Item {
            group: ITEM_GROUP,
            id: cid,
            qty: 1,
        };
        item::spend(tx, world, uid, &[card])?;
        let seconds = activate_card(tx, ctx.config, world, uid, cid, now)?;
        ok(data([
            ("cooling_time", Value::from(seconds)),
            ("card_id", Value::from(cid)),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_the_thresholds_reached() {
        let config = GameConfig::embedded();
        let at = |exp| {
            let i = exp_info(&config, exp).unwrap();
            (i.level, i.need)
        };
        assert_eq!(at(0), (0, 60));
        assert_eq!(at(59), (0, 1));
        assert_eq!(at(60), (1, 240));
        assert_eq!(at(105), (1, 195), "the document's example");
        assert_eq!(at(999_999), (13, 1));
        assert_eq!(at(1_000_000), (14, 0));
        assert_eq!(at(MAX_EXP), (14, 0));
    }
}
