//! Daily tasks, as the original game's task.py: the modules mark a task done when the
//! player does the counted thing ([`progress::task_done`], in the action's transaction);
//! `get_all_task` lists today's done tasks (and counts the day's login, as the original
//! did), `get_task_reward` grants a done task's reward from task.json once.
//!
//! A task done on an earlier game day (UTC+8) counts as not done: it is neither listed
//! nor claimable (the original deleted such rows only when tasks were listed or
//! recorded, so a reward of yesterday could still be claimed; not here).

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player, Reply};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::daily::{self, game_day, lock_player};
use crate::modules::enums::TaskRewardStatus;
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Task};

/// The original's item group of task rewards (`Group.ITEM`).
const ITEM_GROUP: u32 = 3;

/// task.json's key of `task` (the original's enum name, lower-cased).
pub fn config_key(task: Task) -> &'static str {
    match task {
        Task::Login => "login",
        Task::CheckIn => "check_in",
        Task::RoleLevelUp => "role_level_up",
        Task::WeaponLevelUp => "weapon_level_up",
        Task::PassMainStage => "pass_main_stage",
        Task::PassSpecialStage => "pass_special_stage",
        Task::PassWorldBoss => "pass_world_boss",
        Task::BasicSummoning => "basic_summoning",
        Task::ProSummoning => "pro_summoning",
        Task::CheckFactory => "check_factory",
        Task::SendFriendGift => "send_friend_gift",
        Task::FamilyCheckIn => "family_check_in",
        Task::Done10Tasks => "done_10_task",
    }
}

/// The reward of `task` in task.json: `quantity` of item `3:<item_id>`. A missing or
/// broken entry is a deployment fault (16).
pub fn reward_of(config: &GameConfig, task: Task) -> Result<Item, FnError> {
    let key = config_key(task);
    let entry = config
        .file("task")
        .and_then(|f| f.get(key))
        .ok_or_else(|| FnError::Backend(format!("task.json has no {key}")))?;
    let number = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| FnError::Backend(format!("task.json: {key}.{name} is not a count")))
    };
    let id = u32::try_from(number("item_id")?)
        .map_err(|_| FnError::Backend(format!("task.json: {key}.item_id is too big")))?;
    Ok(Item {
        group: ITEM_GROUP,
        id,
        qty: number("quantity")?,
    })
}

/// `get_all_task()`: counts today's login task, then answers `tasks`: today's done tasks,
/// `[{"tid", "task_value": 1, "reward": 0|1 (claimed), "timer": "YYYY-MM-DD HH:MM:SS"}]`
/// (the time it was done, UTC+8), in id order.
pub fn get_all_task(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    let today = daily::date(game_day(now));
    transaction(ctx.db, |tx| {
        lock_player(tx, world, uid)?;
        progress::task_done(tx, world, uid, Task::Login, now)?;
        let rows: Vec<(i64, u8, i64)> = tx.exec(
            "SELECT tid, rewarded, done_at FROM tasks \
             WHERE world = ? AND unique_id = ? AND day = ? ORDER BY tid",
            (world, uid, &today),
        )?;
        let tasks: Vec<Value> = rows
            .into_iter()
            .map(|(tid, rewarded, done_at)| {
                json!({
                    "tid": tid,
                    "task_value": 1,
                    "reward": rewarded,
                    "timer": daily::date_time(done_at),
                })
            })
            .collect();
        ok(data([("tasks", tasks.into())]))
    })
}

/// `get_task_reward(task_id)`: grants the reward of a task done today and not claimed
/// yet. Answers `reward` (`[{"<item id>": {"value": <held after>, "reward": <granted>}}]`)
/// and `task`; 98 for an id that is no task, 99 when the task is not done today or was
/// claimed already.
pub fn get_task_reward(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let tid = args.int("task_id")?;
    let task = Task::from_id(tid).ok_or(TaskRewardStatus::BadTaskId)?;
    let reward = reward_of(ctx.config, task)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let today = daily::date(game_day(ctx.now()));
    transaction(ctx.db, |tx| {
        lock_player(tx, world, uid)?;
        let claimed: Option<u8> = tx.exec_first(
            "SELECT rewarded FROM tasks WHERE world = ? AND unique_id = ? AND tid = ? AND day = ? \
             FOR UPDATE",
            (world, uid, tid, &today),
        )?;
        if claimed != Some(0) {
            return Err(TaskRewardStatus::NoReward.into());
        }
        tx.exec_drop(
            "UPDATE tasks SET rewarded = 1 WHERE world = ? AND unique_id = ? AND tid = ?",
            (world, uid, tid),
        )?;
        item::grant(tx, ctx.config, world, uid, &[reward])?;
        let held = item::quantity(tx, world, uid, reward.group, reward.id)?;
        let mut entry = serde_json::Map::new();
        entry.insert(
            reward.id.to_string(),
            json!({"value": held, "reward": reward.qty}),
        );
        Ok(Reply::with(
            TaskRewardStatus::Granted,
            data([
                ("reward", Value::from(vec![Value::Object(entry)])),
                ("task", tid.into()),
            ]),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_reward_in_task_json() {
        let config = GameConfig::embedded();
        for task in Task::ALL {
            let reward = reward_of(&config, task).unwrap();
            assert_eq!(reward.to_string(), "3:5:30", "{task:?}");
            assert!(item::max_of(&config, reward.group, reward.id).is_some());
        }
    }
}
