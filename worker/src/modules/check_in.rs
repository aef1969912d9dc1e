//! Check-in, as the original game's check_in.py: one sign-in a game day (UTC+8) with the
//! day's reward from check_in.json, and missed earlier days of the month made up for
//! check_in.json's `consume` each. The cycle is the calendar month on the game's clock:
//! the reward of day `d` of the month is `reward["<d % 7>"]`, as the original chose it.
//!
//! A signed day is a row of `check_ins` (primary key world, player, day), inserted in the
//! transaction that grants its reward, so each day's reward is granted once however many
//! calls race for it.

use mysql::prelude::Queryable;
use serde_json::{Map, Value};

use crate::function::{data, Args, Context, FnError, Outcome, Player, Reply};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::daily::{self, game_day, lock_player};
use crate::modules::enums::{CheckInAllStatus, CheckInSignStatus, CheckInSupplementStatus};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Task};

/// The rules of check_in.json: the reward of each `day % 7` and the cost of a missed day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInRules {
    /// `reward["0"]` .. `reward["6"]`.
    pub rewards: [Vec<Item>; 7],
    /// `consume`: what one made-up day costs.
    pub consume: Vec<Item>,
}

impl CheckInRules {
    /// Reads check_in.json; a missing or broken file is a deployment fault (16).
    pub fn from_config(config: &GameConfig) -> Result<CheckInRules, FnError> {
        let broken = |what: &str| FnError::Backend(format!("check_in.json: {what}"));
        let file = config.file("check_in").ok_or_else(|| broken("missing"))?;
        let reward = file.get("reward").ok_or_else(|| broken("no reward"))?;
        let mut rewards: [Vec<Item>; 7] = Default::default();
        for (weekday, slot) in rewards.iter_mut().enumerate() {
            *slot = match reward.get(weekday.to_string()) {
                Some(Value::String(text)) => text
                    .split(',')
                    .map(Item::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|e| broken(&e.to_string()))?,
                Some(list @ Value::Array(_)) => {
                    Item::parse_list(list).map_err(|e| broken(&e.to_string()))?
                }
                _ => return Err(broken(&format!("no reward \"{weekday}\""))),
            };
        }
        let consume = Item::parse_list(file.get("consume").ok_or_else(|| broken("no consume"))?)
            .map_err(|e| broken(&e.to_string()))?;
        Ok(CheckInRules { rewards, consume })
    }

    /// The reward of day `day_of_month` for a player of VIP level `vip`: the original
    /// doubled it when the VIP level is above `day % 7`.
    pub fn reward_of(&self, day_of_month: u32, vip: u32) -> Vec<Item> {
        let weekday = (day_of_month % 7) as usize;
        let times = if vip as usize > weekday { 2 } else { 1 };
        self.rewards[weekday]
            .iter()
            .map(|it| Item {
                qty: it.qty.saturating_mul(times),
                ..*it
            })
            .collect()
    }
}

/// (year, month, day of month) of game day `day`.
fn civil(day: i64) -> (i64, u32, u32) {
    shared::civil::civil_from_days(day)
}

/// The first game day of the month of game day `day`.
fn month_start(day: i64) -> i64 {
    day - (i64::from(civil(day).2) - 1)
}

/// `"DD"` of game day `day`: the key the original's answers use.
fn day_key(day: i64) -> String {
    format!("{:02}", civil(day).2)
}

/// Holdings of `items`' kinds after a change, as `"<g>:<i>:<held>"` strings.
fn remain(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<Value, FnError> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let held = item::quantity(tx, world, uid, it.group, it.id)?;
        out.push(Value::from(format!("{}:{}:{held}", it.group, it.id)));
    }
    Ok(out.into())
}

/// Signs game day `day` for the player and grants its reward, in the caller's
/// transaction (the player's row locked). `None` when the day was signed already.
fn sign(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    rules: &CheckInRules,
    world: &str,
    uid: &str,
    day: i64,
    vip: u32,
) -> Result<Option<Map<String, Value>>, FnError> {
    tx.exec_drop(
        "INSERT IGNORE INTO check_ins (world, unique_id, day, reward) VALUES (?, ?, ?, 1)",
        (world, uid, daily::date(day)),
    )?;
    if tx.affected_rows() == 0 {
        return Ok(None);
    }
    let reward = rules.reward_of(civil(day).2, vip);
    item::grant(tx, config, world, uid, &reward)?;
    Ok(Some(data([
        ("remain", remain(tx, world, uid, &reward)?),
        ("reward", item::to_json(&reward)),
    ])))
}

/// `check_in_sign()`: signs today and grants its reward. Answers `remain` (holdings of
/// the rewarded items) and `reward`; 99 when today is signed already.
pub fn check_in_sign(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = CheckInRules::from_config(ctx.config)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        lock_player(tx, world, uid)?;
        let vip = crate::modules::vip::level(tx, ctx.config, world, uid)?;
        let answer = sign(tx, ctx.config, &rules, world, uid, game_day(now), vip)?
            .ok_or(CheckInSignStatus::AlreadySigned)?;
        progress::task_done(tx, world, uid, Task::CheckIn, now)?;
        Ok(Reply::with(CheckInSignStatus::Signed, answer))
    })
}

/// `check_in_supplement()`: makes up every day of this month before today that is not
/// signed, paying `consume` for each, and grants their rewards. Answers `supplement`
/// (`{"DD": {remain, reward}}` for the days made up), `remain` (holdings of what was paid,
/// after paying) and `reward` (what was paid); 98 when no earlier day of the month is
/// missing, 97 when the player cannot pay for all of them (nothing is paid then).
pub fn check_in_supplement(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = CheckInRules::from_config(ctx.config)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let today = game_day(ctx.now());
    let first = month_start(today);
    transaction(ctx.db, |tx| {
        lock_player(tx, world, uid)?;
        let signed: Vec<String> = tx.exec(
            "SELECT DATE_FORMAT(day, '%Y-%m-%d') FROM check_ins \
             WHERE world = ? AND unique_id = ? AND day >= ? AND day < ?",
            (world, uid, daily::date(first), daily::date(today)),
        )?;
        let missing: Vec<i64> = (first..today)
            .filter(|d| !signed.contains(&daily::date(*d)))
            .collect();
        if missing.is_empty() {
            return Err(CheckInSupplementStatus::NoDayMissing.into());
        }
        let days = missing.len() as u64;
        let cost: Vec<Item> = rules
            .consume
            .iter()
            .map(|it| {
                it.qty
                    .checked_mul(days)
                    .map(|qty| Item { qty, ..*it })
                    .ok_or(CheckInSupplementStatus::MaterialsInsufficient)
            })
            .collect::<Result<_, _>>()?;
        item::spend_or(
            tx,
            world,
            uid,
            &cost,
            CheckInSupplementStatus::MaterialsInsufficient,
        )?;
        let paid_remain = remain(tx, world, uid, &cost)?;
        let vip = crate::modules::vip::level(tx, ctx.config, world, uid)?;
        let mut supplement = Map::new();
        for day in missing {
            if let Some(answer) = sign(tx, ctx.config, &rules, world, uid, day, vip)? {
                supplement.insert(day_key(day), answer.into());
            }
        }
        Ok(Reply::with(
            CheckInSupplementStatus::Supplemented,
            data([
                ("supplement", supplement.into()),
                ("remain", paid_remain),
                ("reward", item::to_json(&cost)),
            ]),
        ))
    })
}

/// `check_in_all()`: this month's check-ins. Answers `today` (day of the month), `cd`
/// (seconds to the next game day) and `history` (`{"DD": {"date": "YYYY-MM-DD",
/// "reward": 1}}` for each signed day).
pub fn check_in_all(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let now = ctx.now();
    let today = game_day(now);
    let rows: Vec<(String, u8)> = ctx.db.conn()?.exec(
        "SELECT DATE_FORMAT(day, '%Y-%m-%d'), reward FROM check_ins \
         WHERE world = ? AND unique_id = ? AND day >= ? AND day <= ? ORDER BY day",
        (
            &player.world,
            &player.unique_id,
            daily::date(month_start(today)),
            daily::date(today),
        ),
    )?;
    let history: Map<String, Value> = rows
        .into_iter()
        .map(|(date, reward)| {
            let key = date[8..].to_string();
            (key, serde_json::json!({"date": date, "reward": reward}))
        })
        .collect();
    Ok(Reply::with(
        CheckInAllStatus::All,
        data([
            ("today", civil(today).2.into()),
            ("cd", daily::seconds_to_next_day(now).into()),
            ("history", history.into()),
        ]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_follow_the_day_of_the_month_and_vip_doubles_them() {
        let rules = CheckInRules::from_config(&GameConfig::embedded()).unwrap();
        let s = |items: Vec<Item>| items.iter().map(Item::to_string).collect::<Vec<_>>();
        assert_eq!(s(rules.reward_of(1, 0)), ["3:18:1"]);
        assert_eq!(s(rules.reward_of(2, 0)), ["3:5:100"]);
        assert_eq!(s(rules.reward_of(7, 0)), ["3:33:100"], "7 % 7 = 0");
        assert_eq!(s(rules.reward_of(13, 0)), ["0:101:5"]);
        assert_eq!(s(rules.reward_of(12, 0)), ["2:101:5"]);
        // VIP level 3 doubles days 0, 1 and 2 of the seven.
        assert_eq!(s(rules.reward_of(9, 3)), ["3:5:200"]);
        assert_eq!(s(rules.reward_of(10, 3)), ["3:9:100"]);
        assert_eq!(s(rules.consume.clone()), ["3:5:80"]);
    }

    #[test]
    fn the_month_starts_on_its_first_day() {
        // 2024-03-15 and 2024-03-01 (2024-01-01 is day 19723)
        let march_15 = 19_723 + 31 + 29 + 14;
        assert_eq!(daily::date(march_15), "2024-03-15");
        assert_eq!(daily::date(month_start(march_15)), "2024-03-01");
        assert_eq!(month_start(month_start(march_15)), month_start(march_15));
        assert_eq!(day_key(march_15), "15");
    }
}
