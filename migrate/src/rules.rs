//! What the mapping needs from our game config, and the original's ids it reads.

use std::collections::HashMap;

use serde_json::Value;
use worker::game_config::GameConfig;

/// What the mapping needs from our game config.
pub(crate) struct Rules {
    /// (group, id) -> most a player may hold.
    pub(crate) items: HashMap<(i64, i64), i64>,
    pub(crate) exp_table: Vec<u64>,
    pub(crate) max_energy: i64,
    /// Element resets a player has for its whole life (player.json `elements.resets`).
    pub(crate) element_resets: i64,
}

impl Rules {
    pub(crate) fn from(config: &GameConfig) -> Rules {
        let mut items = HashMap::new();
        for group in config
            .file("items")
            .and_then(|f| f.get("groups"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(gid) = group.get("id").and_then(Value::as_i64) else {
                continue;
            };
            for item in group
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = item.get("id").and_then(Value::as_i64) {
                    let max = item.get("max").and_then(Value::as_i64).unwrap_or(i64::MAX);
                    items.insert((gid, id), max);
                }
            }
        }
        let exp_table = config
            .file("player_experience")
            .and_then(|f| f.pointer("/player_level/experience"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let max_energy = config
            .file("player")
            .and_then(|f| f.pointer("/energy/max_energy"))
            .and_then(Value::as_i64)
            .unwrap_or(120);
        let element_resets = config
            .file("player")
            .and_then(|f| f.pointer("/elements/resets"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        Rules {
            items,
            exp_table,
            max_energy,
            element_resets,
        }
    }
}

// Our item groups (game-config/items.json): weapon segments 0, role segments 2, items 3.
pub(crate) const GROUP_WEAPON_SEGMENT: i64 = 0;
pub(crate) const GROUP_ROLE_SEGMENT: i64 = 2;
pub(crate) const GROUP_ITEM: i64 = 3;
/// The original's `Timer` ids carried over (the daily ones start fresh).
pub(crate) const TIMER_VIP_MIN_END: i64 = 17;
pub(crate) const TIMER_VIP_MAX_END: i64 = 18;
pub(crate) const TIMER_FAMILY_JOIN_END: i64 = 23;
pub(crate) const TIMER_STAGE_HANG_UP: i64 = 41;
pub(crate) const TIMER_DARK_MARKET: i64 = 5;
/// Free dark market refreshes left (the original's `Limits` 1).
pub(crate) const LIMIT_DARK_MARKET: i64 = 1;
/// The original's skills group: a dark market offer may sell a skill.
pub(crate) const GROUP_SKILL: i64 = 1;
/// The end of each summoning store: (timer id, our store's currency item `cid`).
pub(crate) const SUMMON_STORE_ENDS: [(i64, i64); 3] = [(27, 5), (28, 1), (29, 16)];
/// The original's `Limits` ids carried over: the summoning integral step and the element
/// resets left (for life).
pub(crate) const LIMIT_INTEGRAL: i64 = 13;
pub(crate) const LIMIT_PLAYER_ELEMENT: i64 = 23;
/// The integral steps our summon module knows.
pub(crate) const INTEGRAL_STEPS: [i64; 5] = [0, 200, 400, 600, 800];
/// The original's `LeaderBoard` ids: a player's best world boss fight and its total.
pub(crate) const LEADERBOARD_BEST: i64 = 1;
pub(crate) const LEADERBOARD_TOTAL: i64 = 2;
