//! Achievements, as the original game's achievement.py: the modules count what the player
//! does ([`progress::achieve`], in the action's transaction); each achievement of
//! achievement.json has steps (`count`) with a diamond reward each (`qty`), claimed one
//! step per call, in order, each once: `rewarded` holds the count of the last step claimed.
//!
//! `get_all_achievement` also counts the player's login of the game day (UTC+8), as the
//! original did: TOTAL_LOGIN once a day, KEEPING_LOGIN for consecutive days (back to 1
//! after a missed day). `activate_achievement` is the client's report of the two
//! achievements it detects itself (ids above 100).

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::daily::{self, game_day, lock_player};
use crate::modules::enums::{AchievementRewardStatus, ActivateAchievementStatus};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Achievement};

/// What achievement rewards are: diamonds (the original's `Item.DIAMOND`).
const DIAMOND: (u32, u32) = (3, 5);

/// The steps of an achievement in achievement.json: (count reached, diamonds), in order.
/// `None` when the file has no entry for it (the original's SUMMON_C, 12, has none).
/// `Some(Err)` when its `count` and `qty` differ in length (the original's 98).
pub fn steps_of(config: &GameConfig, aid: i64) -> Option<Result<Vec<(u64, u64)>, FnError>> {
    let entry = config.file("achievement")?.get(aid.to_string())?;
    let numbers = |name: &str| -> Vec<u64> {
        entry
            .get(name)
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    };
    let (count, qty) = (numbers("count"), numbers("qty"));
    if count.len() != qty.len() {
        return Some(Err(FnError::module(
            AchievementRewardStatus::NoRecord,
            "data base problem, achievement configuration is not match",
        )));
    }
    Some(Ok(count.into_iter().zip(qty).collect()))
}

/// The first step above `rewarded` that `value` reaches, if any.
pub fn next_step(steps: &[(u64, u64)], value: u64, rewarded: u64) -> Option<(u64, u64)> {
    steps
        .iter()
        .copied()
        .find(|&(count, _)| rewarded < count && count <= value)
}

/// Counts the player's login of today for TOTAL_LOGIN and KEEPING_LOGIN, once a game day,
/// in the caller's transaction (the player's row locked).
fn count_login(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<(), FnError> {
    let today = game_day(now);
    let last: Option<String> = tx.exec_first(
        "SELECT DATE_FORMAT(last_day, '%Y-%m-%d') FROM login_days \
         WHERE world = ? AND unique_id = ? FOR UPDATE",
        (world, uid),
    )?;
    if last.as_deref() == Some(daily::date(today).as_str()) {
        return Ok(());
    }
    progress::achieve(tx, world, uid, Achievement::TotalLogin, 1)?;
    let consecutive = match &last {
        None => true,
        Some(day) => *day == daily::date(today - 1),
    };
    if consecutive {
        progress::achieve(tx, world, uid, Achievement::KeepingLogin, 1)?;
    } else {
        // A missed day: the run starts over. The steps claimed stay claimed.
        tx.exec_drop(
            "INSERT INTO achievements (world, unique_id, aid, value) VALUES (?, ?, ?, 1) \
             ON DUPLICATE KEY UPDATE value = 1",
            (world, uid, Achievement::KeepingLogin.id()),
        )?;
    }
    tx.exec_drop(
        "INSERT INTO login_days (world, unique_id, last_day) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE last_day = VALUES(last_day)",
        (world, uid, daily::date(today)),
    )?;
    Ok(())
}

/// `get_all_achievement()`: counts today's login, then answers `achievements`:
/// `[{"aid", "value" (the count), "reward" (the count of the last step claimed)}]` for
/// every achievement the player has progress on, in id order.
pub fn get_all_achievement(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        lock_player(tx, world, uid)?;
        count_login(tx, world, uid, now)?;
        let rows: Vec<(i64, u64, u64)> = tx.exec(
            "SELECT aid, value, rewarded FROM achievements \
             WHERE world = ? AND unique_id = ? ORDER BY aid",
            (world, uid),
        )?;
        let achievements: Vec<Value> = rows
            .into_iter()
            .map(|(aid, value, reward)| json!({"aid": aid, "value": value, "reward": reward}))
            .collect();
        ok(data([("achievements", achievements.into())]))
    })
}

/// `activate_achievement(aid)`: counts one of the achievements the client detects itself
/// (101 ACT_AI, 102 ACT_UNS). Answers `{}`; 97 for any other id.
pub fn activate_achievement(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let aid = args.int("aid")?;
    let achievement = Achievement::from_id(aid)
        .filter(|a| a.client_activated())
        .ok_or(ActivateAchievementStatus::NoSuchAchievement)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        lock_player(tx, world, uid)?;
        progress::achieve(tx, world, uid, achievement, 1)?;
        ok(data([]))
    })
}

/// `get_achievement_reward(achievement_id)`: grants the diamonds of the next step the
/// achievement's count reached and was not claimed yet (one step per call). Answers
/// `remain` (`["3:5:<held>"]`), `reward` (`["3:5:<granted>"]`) and `achievement`
/// (`"<aid>:<count>:<step claimed>"`); 97 for an id that is no achievement, 98 when the
/// player has no progress on it, 99 when no step is left to claim.
pub fn get_achievement_reward(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let aid = args.int("achievement_id")?;
    Achievement::from_id(aid).ok_or(AchievementRewardStatus::NoSuchAchievement)?;
    let steps = steps_of(ctx.config, aid);
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        lock_player(tx, world, uid)?;
        let (value, rewarded): (u64, u64) = tx
            .exec_first(
                "SELECT value, rewarded FROM achievements \
                 WHERE world = ? AND unique_id = ? AND aid = ? FOR UPDATE",
                (world, uid, aid),
            )?
            .ok_or(AchievementRewardStatus::NoRecord)?;
        let steps = match steps {
            Some(steps) => steps?,
            None => Vec::new(),
        };
        let (count, qty) =
            next_step(&steps, value, rewarded).ok_or(AchievementRewardStatus::NoReward)?;
        tx.exec_drop(
            "UPDATE achievements SET rewarded = ? WHERE world = ? AND unique_id = ? AND aid = ?",
            (count, world, uid, aid),
        )?;
        let (group, id) = DIAMOND;
        if qty > 0 {
            item::grant(tx, ctx.config, world, uid, &[Item { group, id, qty }])?;
        }
        let held = item::quantity(tx, world, uid, group, id)?;
        ok(data([
            ("remain", json!([format!("{group}:{id}:{held}")])),
            ("reward", json!([format!("{group}:{id}:{qty}")])),
            ("achievement", format!("{aid}:{value}:{count}").into()),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_come_from_achievement_json_in_order() {
        let config = GameConfig::embedded();
        let total_login = steps_of(&config, 1).unwrap().unwrap();
        assert_eq!(total_login[..3], [(1, 30), (2, 50), (3, 70)]);
        assert!(steps_of(&config, 12).is_none(), "SUMMON_C has no steps");
        for a in Achievement::ALL {
            if let Some(steps) = steps_of(&config, a.id()) {
                let steps = steps.unwrap();
                assert!(steps.windows(2).all(|w| w[0].0 < w[1].0), "{a:?} in order");
            }
        }
        let steps = [(0, 0), (1, 30), (3, 50)];
        assert_eq!(next_step(&steps, 0, 0), None, "the 0 step is never claimed");
        assert_eq!(next_step(&steps, 5, 0), Some((1, 30)), "one step per call");
        assert_eq!(next_step(&steps, 5, 1), Some((3, 50)));
        assert_eq!(next_step(&steps, 5, 3), None);
        assert_eq!(next_step(&steps, 2, 1), None);
    }
}
