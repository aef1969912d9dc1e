//! Stages, as the original's stage.py: five modes (general 1–999, endless 1001–1999,
//! world boss 3001–3999, coin challenge 4001–4149, experience challenge 4151–4299), each
//! entered (`stage_enter_<mode>`: energy, items and a daily ticket are paid, the enter is
//! recorded) and won (`stage_victory_<mode>`: the stage's rewards, once per enter);
//! sweeping cleared general stages, idle (hang-up) rewards from the best endless stage,
//! and the world boss with its damage ranking. Numbers: `stages.json` (the original's),
//! player levels: `player_experience.json`.
//!
//! Every change is one transaction that locks the player's row first
//! ([`daily::lock_player`]); the open enter is a row of `stage_entries` a victory deletes,
//! so two victories of one enter pay out once. The world boss ranking is MySQL
//! (`stage_boss_damage`, docs/worker.md says why).

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player, Reply};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::enums::{SharedStatus, StageStatus};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Achievement, Task};
use crate::modules::{daily, energy};

/// The original's Limits ids of the daily tickets.
pub const LIMIT_BOSS: u32 = 18;
pub const LIMIT_COIN: u32 = 19;
pub const LIMIT_COIN_VIP: u32 = 20;
pub const LIMIT_EXP: u32 = 21;
pub const LIMIT_EXP_VIP: u32 = 22;

/// The original's leaderboard id of a player's total world boss damage (`own_rank`'s key).
const TOTAL_WORLD_BOSS: &str = "2";
/// Players per page of `stage_damage_ranking` (the original's code; its document says 10).
const PAGE_SIZE: i64 = 50;
/// Pages beyond this hold nothing (and keep the offset far inside 64 bits).
const MAX_PAGE: i64 = 1_000_000;
/// Highest experience a player keeps (far above the last level; no overflow).
const EXP_CAP: u64 = 1 << 50;
/// Highest damage total kept per player and boss.
const DAMAGE_CAP: u64 = 1 << 60;

/// A stage mode: the original's `enums.Stage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    General = 0,
    Endless = 1,
    Boss = 3,
    Coin = 4,
    Exp = 5,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::General,
        Mode::Endless,
        Mode::Boss,
        Mode::Coin,
        Mode::Exp,
    ];

    pub fn sid(self) -> u8 {
        self as u8
    }

    /// Whether `stage` is one of this mode's stages.
    pub fn contains(self, stage: i64) -> bool {
        match self {
            Mode::General => 0 < stage && stage < 1000,
            Mode::Endless => 1000 < stage && stage < 2000,
            Mode::Boss => 3000 < stage && stage < 4000,
            Mode::Coin => 4000 < stage && stage < 4150,
            Mode::Exp => 4150 < stage && stage < 4300,
        }
    }

    /// The best stage of a player who cleared none (the original's `init`).
    pub fn start(self) -> i64 {
        match self {
            Mode::General => 1,
            Mode::Endless => 1000,
            Mode::Boss => 3000,
            Mode::Coin => 4000,
            Mode::Exp => 4150,
        }
    }

    /// The answer key of the mode's tickets (the original's enum name).
    fn name(self) -> &'static str {
        match self {
            Mode::General => "GENERAL",
            Mode::Endless => "ENDLESS",
            Mode::Boss => "BOSS",
            Mode::Coin => "COIN",
            Mode::Exp => "EXP",
        }
    }

    /// The daily ticket's Limits id and the id of the extra entries VIP levels may buy.
    fn tickets(self) -> Option<(u32, Option<u32>)> {
        match self {
            Mode::Boss => Some((LIMIT_BOSS, None)),
            Mode::Coin => Some((LIMIT_COIN, Some(LIMIT_COIN_VIP))),
            Mode::Exp => Some((LIMIT_EXP, Some(LIMIT_EXP_VIP))),
            Mode::General | Mode::Endless => None,
        }
    }
}

fn fail(status: StageStatus) -> FnError {
    status.into()
}

// ------------------------------------------------------------------ config

fn broken(why: impl std::fmt::Display) -> FnError {
    FnError::Backend(format!("game config stages.json: {why}"))
}

fn stages_file(config: &GameConfig) -> Result<&Value, FnError> {
    config.file("stages").ok_or_else(|| broken("missing"))
}

/// One stage's entry of `stage` (or a sweep's of `mopping-up`).
#[derive(Debug, Clone, Default)]
struct StageConfig {
    level: i64,
    /// Grant `draws` random picks of `rewards` instead of all of them.
    random: bool,
    draws: usize,
    energy: u64,
    consumes: Vec<Item>,
    rewards: Vec<Item>,
    exp: u64,
    /// The world boss's full HP (boss stages).
    boss_hp: Option<u64>,
}

fn items_at(entry: &Value, path: &[&str]) -> Result<Vec<Item>, FnError> {
    let mut v = entry;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return Ok(Vec::new()),
        }
    }
    Item::parse_list(v).map_err(broken)
}

fn uint_at(entry: &Value, path: &[&str]) -> u64 {
    let mut v = entry;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return 0,
        }
    }
    v.as_u64().unwrap_or(0)
}

/// `section` (`stage` or `mopping-up`)'s entry for `stage`, `None` when there is none.
fn stage_config(
    config: &GameConfig,
    section: &str,
    stage: i64,
) -> Result<Option<StageConfig>, FnError> {
    let Some(entry) = stages_file(config)?
        .get(section)
        .and_then(|s| s.get(stage.to_string()))
    else {
        return Ok(None);
    };
    Ok(Some(StageConfig {
        level: uint_at(entry, &["constraint", "level"]) as i64,
        random: uint_at(entry, &["constraint", "random"]) == 1,
        draws: uint_at(entry, &["rewards", "random"]).min(1000) as usize,
        energy: uint_at(entry, &["consumes", "special", "energy"]),
        consumes: items_at(entry, &["consumes", "common"])?,
        rewards: items_at(entry, &["rewards", "common"])?,
        exp: uint_at(entry, &["rewards", "special", "exp"]),
        boss_hp: entry
            .get("boss")
            .and_then(|b| b.get("HP"))
            .and_then(Value::as_u64),
    }))
}

/// `constraint.stage.<MODE>` of stages.json.
fn mode_constraint(config: &GameConfig, mode: Mode) -> Result<Option<&Value>, FnError> {
    Ok(stages_file(config)?
        .get("constraint")
        .and_then(|c| c.get("stage"))
        .and_then(|s| s.get(mode.name())))
}

/// Free entries a game day (`limit`) and the entries VIP level 0 may buy (`buy.vip."0"`,
/// 2 when unset, as the original's default).
fn ticket_rules(config: &GameConfig, mode: Mode) -> Result<(u32, u32), FnError> {
    let c = mode_constraint(config, mode)?;
    let limit = c
        .and_then(|c| c.get("limit"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(u32::MAX as u64) as u32;
    let vip = c
        .and_then(|c| c.get("buy"))
        .and_then(|b| b.get("vip"))
        .and_then(|v| v.get("0"))
        .and_then(Value::as_u64)
        .unwrap_or(2)
        .min(u32::MAX as u64) as u32;
    Ok((limit, vip))
}

/// The most damage one boss fight may deal (`constraint.stage.BOSS.damage`; the
/// original's default 1 000 000 when unset).
fn damage_cap(config: &GameConfig) -> Result<u64, FnError> {
    Ok(mode_constraint(config, Mode::Boss)?
        .and_then(|c| c.get("damage"))
        .and_then(Value::as_u64)
        .unwrap_or(1_000_000))
}

/// The world bosses: (stage, full HP) of every boss stage with a `boss.HP`, in order.
fn bosses(config: &GameConfig) -> Result<Vec<(i64, u64)>, FnError> {
    let mut out: Vec<(i64, u64)> = stages_file(config)?
        .get("stage")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let stage: i64 = k.parse().ok()?;
            let hp = v.get("boss")?.get("HP")?.as_u64()?;
            Mode::Boss.contains(stage).then_some((stage, hp))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Idle rules: seconds per reward unit and the longest idle time counted.
fn hang_up_rules(config: &GameConfig) -> Result<(i64, i64), FnError> {
    let c = stages_file(config)?
        .get("constraint")
        .and_then(|c| c.get("hang-up"))
        .and_then(|h| h.get("ENDLESS"));
    let step = c
        .and_then(|c| c.get("step"))
        .and_then(Value::as_i64)
        .unwrap_or(60)
        .max(1);
    let limit = c
        .and_then(|c| c.get("limit"))
        .and_then(Value::as_i64)
        .unwrap_or(43_200)
        .max(0);
    Ok((step, limit))
}

/// The idle rewards of endless stage `stage` per unit: items and experience.
fn hang_up_rewards(config: &GameConfig, stage: i64) -> Result<Option<(Vec<Item>, u64)>, FnError> {
    let Some(entry) = stages_file(config)?
        .get("hang-up")
        .and_then(|h| h.get(stage.to_string()))
    else {
        return Ok(None);
    };
    // Idle items may have a quantity of 0 ("3:1:0"): parsed by hand, kept, granted as 0.
    let mut items = Vec::new();
    for text in entry
        .get("rewards")
        .and_then(|r| r.get("common"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = text.as_str().ok_or_else(|| broken("hang-up item"))?;
        let (head, qty) = text.rsplit_once(':').ok_or_else(|| broken(text))?;
        let item = Item::parse(&format!("{head}:1")).map_err(broken)?;
        let qty: u64 = qty.parse().map_err(|_| broken(text))?;
        items.push(Item { qty, ..item });
    }
    Ok(Some((
        items,
        uint_at(entry, &["rewards", "special", "exp"]),
    )))
}

/// `k` rewards drawn uniformly, with replacement, from `rewards` (the original's
/// `random.choices`).
fn draw_rewards(rng: &crate::function::Rng, rewards: &[Item], k: usize) -> Vec<Item> {
    if rewards.is_empty() {
        return Vec::new();
    }
    (0..k)
        .map(|_| rewards[rng.below(rewards.len() as u64) as usize])
        .collect()
}

/// `items` times `n` (quantities saturate; grants cap them at each item's max).
fn times(items: &[Item], n: u64) -> Vec<Item> {
    items
        .iter()
        .map(|i| Item {
            qty: i.qty.saturating_mul(n),
            ..*i
        })
        .collect()
}

/// Items of the same group and id added up (a random draw may pick one twice).
fn merged(items: &[Item]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for i in items {
        match out.iter_mut().find(|o| o.group == i.group && o.id == i.id) {
            Some(o) => o.qty = o.qty.saturating_add(i.qty),
            None => out.push(*i),
        }
    }
    out
}

// ------------------------------------------------------------------ experience and level

/// `player_experience.json`'s `player_level.experience`: the experience each level starts
/// at (level 1 at 0).
fn exp_table(config: &GameConfig) -> Vec<u64> {
    config
        .file("player_experience")
        .and_then(|f| f.get("player_level"))
        .and_then(|p| p.get("experience"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// The level of `exp` and the experience still needed for the next (0 at the top): the
/// original's `__calculate`.
pub fn level_of(table: &[u64], exp: u64) -> (i64, u64) {
    match table.iter().position(|&t| t > exp) {
        Some(i) => (i as i64, table[i] - exp),
        None => (table.len().max(1) as i64, 0),
    }
}

/// A player's experience counted from at least the start of its stored level (levels set
/// before experience existed keep their level).
fn effective_exp(table: &[u64], exp: u64, level: i64) -> u64 {
    let floor = usize::try_from(level - 1)
        .ok()
        .and_then(|i| table.get(i))
        .copied()
        .unwrap_or(0);
    exp.max(floor)
}

/// The original's `exp_info`: `exp`, `level`, `need`, `reward` (what was just added).
fn exp_info(table: &[u64], exp: u64, level: i64, reward: u64) -> Value {
    let (computed, need) = level_of(table, exp);
    json!({"exp": exp, "level": computed.max(level), "need": need, "reward": reward})
}

fn exp_row(conn: &mut impl Queryable, world: &str, uid: &str) -> Result<(u64, i64), FnError> {
    let row: Option<(u64, i64)> = conn.exec_first(
        "SELECT exp, level FROM players WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    row.ok_or_else(|| SharedStatus::NoPlayer.into())
}

/// The player's `exp_info` without a change.
pub fn read_exp(
    conn: &mut impl Queryable,
    config: &GameConfig,
    world: &str,
    uid: &str,
) -> Result<Value, FnError> {
    let table = exp_table(config);
    let (exp, level) = exp_row(conn, world, uid)?;
    Ok(exp_info(
        &table,
        effective_exp(&table, exp, level),
        level,
        0,
    ))
}

/// Adds `amount` experience to the player (its row locked by the caller's transaction)
/// and sets `players.level` to the level it reaches; answers the `exp_info`.
pub fn add_exp(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    amount: u64,
) -> Result<Value, FnError> {
    let table = exp_table(config);
    let (exp, level) = exp_row(tx, world, uid)?;
    let exp = effective_exp(&table, exp, level)
        .saturating_add(amount)
        .min(EXP_CAP);
    let new_level = level_of(&table, exp).0.max(level);
    tx.exec_drop(
        "UPDATE players SET exp = ?, level = ? WHERE world = ? AND unique_id = ?",
        (exp, new_level, world, uid),
    )?;
    Ok(exp_info(&table, exp, new_level, amount))
}

// ------------------------------------------------------------------ progress and tickets

/// The best stage the player cleared in `mode` (the mode's start without a row).
fn best_stage(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    mode: Mode,
) -> Result<i64, FnError> {
    let stage: Option<i64> = conn.exec_first(
        "SELECT stage FROM stages WHERE world = ? AND unique_id = ? AND sid = ?",
        (world, uid, mode.sid()),
    )?;
    Ok(stage.unwrap_or(mode.start()).max(mode.start()))
}

/// `{lid: left}` of the mode's tickets today (and `{vip lid: buyable}`).
fn limits_of(
    conn: &mut impl Queryable,
    config: &GameConfig,
    world: &str,
    uid: &str,
    mode: Mode,
    now: i64,
) -> Result<Option<Value>, FnError> {
    let Some((lid, vip_lid)) = mode.tickets() else {
        return Ok(None);
    };
    let (limit, vip) = ticket_rules(config, mode)?;
    let used = daily::used(conn, world, uid, lid, now)?;
    let mut limits = Map::new();
    limits.insert(lid.to_string(), limit.saturating_sub(used).into());
    if let Some(vip_lid) = vip_lid {
        limits.insert(vip_lid.to_string(), vip.into());
    }
    Ok(Some(Value::Object(limits)))
}

/// The mode's ticket answer: `{limits, cd}`.
fn tickets_answer(limits: Value, now: i64) -> Value {
    json!({"limits": limits, "cd": daily::seconds_to_next_day(now)})
}

/// `stage_all_infos`' data (also `get_info_player`'s `stages`): `infos` {sid: best stage},
/// `limits` {sid: {lid: left}} of the modes with tickets.
pub fn infos(
    conn: &mut impl Queryable,
    config: &GameConfig,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<Value, FnError> {
    let mut infos = Map::new();
    let mut limits = Map::new();
    for mode in Mode::ALL {
        let sid = mode.sid().to_string();
        infos.insert(sid.clone(), best_stage(conn, world, uid, mode)?.into());
        if let Some(l) = limits_of(conn, config, world, uid, mode, now)? {
            limits.insert(sid, l);
        }
    }
    Ok(json!({"infos": infos, "limits": limits}))
}

/// Current holdings of `items`' kinds, as item strings (the original's `remain`).
fn remain(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<Value, FnError> {
    let mut out = Vec::new();
    for i in items {
        let qty = item::quantity(conn, world, uid, i.group, i.id)?;
        out.push(Item { qty, ..*i }.to_string());
    }
    Ok(Value::from(out))
}

/// Grants the non-zero ones of `items`.
fn grant(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<(), FnError> {
    let some: Vec<Item> = items.iter().copied().filter(|i| i.qty > 0).collect();
    item::grant(tx, config, world, uid, &some)
}

fn energy_answer(e: energy::Energy, rules: energy::EnergyRules, now: i64, spent: u64) -> Value {
    let info = e.info(rules, now);
    json!({"cooling": info["cooling_time"], "remain": e.energy, "reward": -(spent.min(i64::MAX as u64) as i64)})
}

// ------------------------------------------------------------------ enter and victory

/// `stage_enter_<mode>(stage)`: checks the stage (91: not the mode's, or beyond the next
/// to clear; 98: no config; 90: level), takes a ticket (92), the energy (97) and the items
/// (95), records the enter. Answers `remain`, `reward` (items paid), `addition`, `energy`
/// {cooling, remain, reward}, and for ticket modes `<MODE>` {limits, cd}.
fn enter(ctx: &Context, me: &Player, args: &Args, mode: Mode) -> Outcome {
    let stage = args.int("stage")?;
    if !mode.contains(stage) {
        return Err(fail(StageStatus::StageError));
    }
    let (world, uid) = (me.world.as_str(), me.unique_id.as_str());
    let now = ctx.now();
    let rules = energy::EnergyRules::from_config(ctx);
    let config = stage_config(ctx.config, "stage", stage)?;
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        if stage > best_stage(tx, world, uid, mode)? + 1 {
            return Err(fail(StageStatus::StageError));
        }
        let config = config.ok_or_else(|| fail(StageStatus::NoConfig))?;
        let (_, level) = exp_row(tx, world, uid)?;
        if level < config.level {
            return Err(fail(StageStatus::LevelTooLow));
        }
        if let Some((lid, _)) = mode.tickets() {
            let (limit, _) = ticket_rules(ctx.config, mode)?;
            let used = daily::lock_used(tx, world, uid, lid, now)?;
            if used >= limit {
                return Err(fail(StageStatus::NoTicket));
            }
            daily::set_used(tx, world, uid, lid, now, used + 1)?;
        }
        let energy = energy::spend(tx, rules, world, uid, now, config.energy)?
            .ok_or_else(|| fail(StageStatus::NoEnergy))?;
        item::spend_or(tx, world, uid, &config.consumes, StageStatus::NoMaterials)?;
        tx.exec_drop(
            "INSERT INTO stage_entries (world, unique_id, stage, entered_at) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE stage = VALUES(stage), entered_at = VALUES(entered_at)",
            (world, uid, stage, now),
        )?;
        let mut out = data([
            ("remain", remain(tx, world, uid, &config.consumes)?),
            ("reward", item::to_json(&config.consumes)),
            ("addition", json!({})),
            ("energy", energy_answer(energy, rules, now, config.energy)),
        ]);
        if let Some(limits) = limits_of(tx, ctx.config, world, uid, mode, now)? {
            out.insert(mode.name().into(), tickets_answer(limits, now));
        }
        ok(out)
    })
}

/// `stage_victory_<mode>(stage[, damage])`: needs the open enter of `stage` (94), which
/// it closes; grants the stage's rewards and experience, records the best stage and what
/// tasks and achievements count. Answers `boss` ({} but for boss stages), `remain`,
/// `reward`, `exp_info`, `max_stage`, `energy_info`, and for ticket modes `<MODE>`.
fn victory(ctx: &Context, me: &Player, args: &Args, mode: Mode) -> Outcome {
    let stage = args.int("stage")?;
    if !mode.contains(stage) {
        return Err(fail(StageStatus::StageError));
    }
    let damage = if mode == Mode::Boss {
        let damage = args.opt_int("damage")?.unwrap_or(0);
        let cap = damage_cap(ctx.config)?;
        match u64::try_from(damage) {
            Ok(d) if d <= cap => d,
            _ => return Err(fail(StageStatus::AbnormalDamage)),
        }
    } else {
        0
    };
    let (world, uid) = (me.world.as_str(), me.unique_id.as_str());
    let now = ctx.now();
    let rules = energy::EnergyRules::from_config(ctx);
    let config = stage_config(ctx.config, "stage", stage)?;
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        tx.exec_drop(
            "DELETE FROM stage_entries WHERE world = ? AND unique_id = ? AND stage = ?",
            (world, uid, stage),
        )?;
        if tx.affected_rows() == 0 {
            return Err(fail(StageStatus::Mismatch));
        }
        let config = config.ok_or_else(|| fail(StageStatus::NoConfig))?;
        let before = best_stage(tx, world, uid, mode)?;
        let rewards = if config.random {
            merged(&draw_rewards(&ctx.rng, &config.rewards, config.draws))
        } else {
            config.rewards.clone()
        };
        grant(tx, ctx.config, world, uid, &rewards)?;
        let exp_info = add_exp(tx, ctx.config, world, uid, config.exp)?;
        if stage > before {
            tx.exec_drop(
                "INSERT INTO stages (world, unique_id, sid, stage) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE stage = GREATEST(stage, VALUES(stage))",
                (world, uid, mode.sid(), stage),
            )?;
        }
        let mut boss = json!({});
        match mode {
            Mode::General => {
                progress::task_done(tx, world, uid, Task::PassMainStage, now)?;
                if stage > before {
                    progress::achieve(tx, world, uid, Achievement::PassStage, 1)?;
                }
            }
            Mode::Endless => {
                progress::task_done(tx, world, uid, Task::PassSpecialStage, now)?;
                if stage > before && before <= Mode::Endless.start() {
                    // The first endless clear starts idling (the original's e_dispose).
                    tx.exec_drop(
                        "INSERT IGNORE INTO stage_hang_up (world, unique_id, since) VALUES (?, ?, ?)",
                        (world, uid, now),
                    )?;
                }
            }
            Mode::Boss => {
                let hp = config.boss_hp.unwrap_or(0);
                boss = fight_boss(tx, world, uid, stage, hp, damage, now)?;
                progress::task_done(tx, world, uid, Task::PassWorldBoss, now)?;
            }
            Mode::Coin | Mode::Exp => {}
        }
        let energy = energy::read(tx, rules, world, uid, now)?;
        let mut out = data([
            ("boss", boss),
            ("remain", remain(tx, world, uid, &rewards)?),
            ("reward", item::to_json(&rewards)),
            ("exp_info", exp_info),
            ("max_stage", stage.max(before).into()),
            ("energy_info", energy.info(rules, now)),
        ]);
        if let Some(limits) = limits_of(tx, ctx.config, world, uid, mode, now)? {
            out.insert(mode.name().into(), tickets_answer(limits, now));
        }
        ok(out)
    })
}

/// The game month of `now` (UTC+8): year * 12 + month - 1.
fn game_month(now: i64) -> i64 {
    let (y, m, _) = shared::civil::civil_from_days(daily::game_day(now));
    y * 12 + i64::from(m) - 1
}

/// Seconds from `now` to the next game month (the world bosses' HP comes back then).
fn seconds_to_next_month(now: i64) -> i64 {
    let next = game_month(now) + 1;
    let first = shared::civil::days_from_civil(next.div_euclid(12), next.rem_euclid(12) + 1, 1);
    first * 86_400 - daily::offset_secs() - now
}

/// Damage dealt to world boss `stage` of `world` this game month.
fn boss_damage_this_month(
    conn: &mut impl Queryable,
    world: &str,
    stage: i64,
    now: i64,
) -> Result<u64, FnError> {
    let row: Option<(i64, u64)> = conn.exec_first(
        "SELECT month, damage FROM stage_world_boss WHERE world = ? AND stage = ?",
        (world, stage),
    )?;
    Ok(match row {
        Some((month, damage)) if month == game_month(now) => damage,
        _ => 0,
    })
}

fn ratio(hp: u64, full: u64) -> String {
    format!(
        "{:.2}",
        if full == 0 {
            0.0
        } else {
            hp as f64 / full as f64
        }
    )
}

/// The player's (best, total) damage to boss `stage`.
fn own_damage(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    stage: i64,
) -> Result<(u64, u64), FnError> {
    let row: Option<(u64, u64)> = conn.exec_first(
        "SELECT best, total FROM stage_boss_damage WHERE world = ? AND stage = ? AND unique_id = ?",
        (world, stage, uid),
    )?;
    Ok(row.unwrap_or((0, 0)))
}

/// Records a boss fight of `damage` (already bounded): the player's best and total, and
/// the world boss's HP this month. Answers the original's `boss` {record, stage, bds}.
fn fight_boss(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    stage: i64,
    full_hp: u64,
    damage: u64,
    now: i64,
) -> Result<Value, FnError> {
    let (best, total) = own_damage(tx, world, uid, stage)?;
    let record = damage > best;
    let total = total.saturating_add(damage).min(DAMAGE_CAP);
    let best = best.max(damage);
    if damage > 0 {
        tx.exec_drop(
            "INSERT INTO stage_boss_damage (world, stage, unique_id, best, total) VALUES (?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE best = VALUES(best), total = VALUES(total)",
            (world, stage, uid, best, total),
        )?;
    }
    let month = game_month(now);
    // The month's row: a new month starts again from no damage.
    tx.exec_drop(
        "INSERT INTO stage_world_boss (world, stage, month, damage) VALUES (?, ?, ?, 0) \
         ON DUPLICATE KEY UPDATE damage = IF(month = VALUES(month), damage, 0), month = VALUES(month)",
        (world, stage, month),
    )?;
    tx.exec_drop(
        "UPDATE stage_world_boss SET damage = LEAST(damage + ?, ?) WHERE world = ? AND stage = ?",
        (damage, full_hp, world, stage),
    )?;
    let dealt = boss_damage_this_month(tx, world, stage, now)?;
    let hp = full_hp.saturating_sub(dealt);
    Ok(json!({
        "record": u8::from(record),
        "stage": stage,
        "bds": {"hp": hp, "ratio": ratio(hp, full_hp), "damage": best, "total": total},
    }))
}

pub fn stage_enter_general(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    enter(ctx, me, args, Mode::General)
}
pub fn stage_victory_general(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    victory(ctx, me, args, Mode::General)
}
pub fn stage_enter_endless(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    enter(ctx, me, args, Mode::Endless)
}
pub fn stage_victory_endless(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    victory(ctx, me, args, Mode::Endless)
}
pub fn stage_enter_boss(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    enter(ctx, me, args, Mode::Boss)
}
pub fn stage_victory_boss(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    victory(ctx, me, args, Mode::Boss)
}
pub fn stage_enter_coin(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    enter(ctx, me, args, Mode::Coin)
}
pub fn stage_victory_coin(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    victory(ctx, me, args, Mode::Coin)
}
pub fn stage_enter_exp(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    enter(ctx, me, args, Mode::Exp)
}
pub fn stage_victory_exp(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    victory(ctx, me, args, Mode::Exp)
}

// ------------------------------------------------------------------ the other functions

/// `stage_mopping_up(stage, count = 1)`: sweeps a cleared general stage `count` times:
/// its `mopping-up` costs and rewards times `count`. 96 count below 1, 99 not cleared, 98
/// no sweep config, 97 energy, 95 items. Answers `energy`, `remain`, `reward`, `exp_info`.
pub fn stage_mopping_up(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    let stage = args.int("stage")?;
    let count = args.opt_int("count")?.unwrap_or(1);
    if count < 1 {
        return Err(fail(StageStatus::NotPositive));
    }
    let count = count as u64;
    let (world, uid) = (me.world.as_str(), me.unique_id.as_str());
    let now = ctx.now();
    let rules = energy::EnergyRules::from_config(ctx);
    let config = stage_config(ctx.config, "mopping-up", stage)?;
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        if stage > best_stage(tx, world, uid, Mode::General)? {
            return Err(fail(StageStatus::NotCleared));
        }
        let config = config.ok_or_else(|| fail(StageStatus::NoConfig))?;
        let cost = config
            .energy
            .checked_mul(count)
            .ok_or_else(|| fail(StageStatus::NoEnergy))?;
        let energy = energy::spend(tx, rules, world, uid, now, cost)?
            .ok_or_else(|| fail(StageStatus::NoEnergy))?;
        if config
            .consumes
            .iter()
            .any(|i| i.qty.checked_mul(count).is_none())
        {
            return Err(fail(StageStatus::NoMaterials));
        }
        item::spend_or(
            tx,
            world,
            uid,
            &times(&config.consumes, count),
            StageStatus::NoMaterials,
        )?;
        let rewards = times(&config.rewards, count);
        grant(tx, ctx.config, world, uid, &rewards)?;
        let exp_info = add_exp(tx, ctx.config, world, uid, config.exp.saturating_mul(count))?;
        progress::task_done(tx, world, uid, Task::PassMainStage, now)?;
        ok(data([
            ("energy", energy_answer(energy, rules, now, cost)),
            ("remain", remain(tx, world, uid, &rewards)?),
            ("reward", item::to_json(&rewards)),
            ("exp_info", exp_info),
        ]))
    })
}

/// Reward units idled from `since` to `now`.
fn idle_units(config: &GameConfig, since: i64, now: i64) -> Result<u64, FnError> {
    let (step, limit) = hang_up_rules(config)?;
    Ok(((now - since).clamp(0, limit) / step) as u64)
}

/// What `stage_hang_up` did inside its transaction.
enum HangUp {
    Started,
    Claimed(Map<String, Value>),
}

/// `stage_hang_up()`: claims the idle rewards since the last claim (units of `step`
/// seconds, at most `limit` seconds, of the best endless stage's `hang-up` rewards) and
/// starts again. 87 before the first endless clear; 86 the first call after it when no
/// idling was started (it starts now). Answers `remain`, `reward`, `exp_info`.
pub fn stage_hang_up(ctx: &Context, me: &Player, _: &Args) -> Outcome {
    let (world, uid) = (me.world.as_str(), me.unique_id.as_str());
    let now = ctx.now();
    let done = transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let stage = best_stage(tx, world, uid, Mode::Endless)?;
        let since: Option<i64> = tx.exec_first(
            "SELECT since FROM stage_hang_up WHERE world = ? AND unique_id = ? FOR UPDATE",
            (world, uid),
        )?;
        let Some(since) = since else {
            if stage <= Mode::Endless.start() {
                return Err(fail(StageStatus::EndlessNotCleared));
            }
            tx.exec_drop(
                "INSERT INTO stage_hang_up (world, unique_id, since) VALUES (?, ?, ?)",
                (world, uid, now),
            )?;
            return Ok(HangUp::Started);
        };
        let (items, exp) =
            hang_up_rewards(ctx.config, stage)?.ok_or_else(|| fail(StageStatus::NoConfig))?;
        let units = idle_units(ctx.config, since, now)?;
        let rewards = times(&items, units);
        grant(tx, ctx.config, world, uid, &rewards)?;
        let exp_info = add_exp(tx, ctx.config, world, uid, exp.saturating_mul(units))?;
        tx.exec_drop(
            "UPDATE stage_hang_up SET since = ? WHERE world = ? AND unique_id = ?",
            (now, world, uid),
        )?;
        Ok(HangUp::Claimed(data([
            ("remain", remain(tx, world, uid, &rewards)?),
            ("reward", item::to_json(&rewards)),
            ("exp_info", exp_info),
        ])))
    })?;
    match done {
        HangUp::Started => Err(fail(StageStatus::NeverHungUp)),
        HangUp::Claimed(out) => ok(out),
    }
}

/// `stage_hu_show()`: the idle rewards waiting (`show`, item strings), without claiming.
/// Before any endless clear it shows the first endless stage's rate (nothing waits).
pub fn stage_hu_show(ctx: &Context, me: &Player, _: &Args) -> Outcome {
    let (world, uid) = (me.world.as_str(), me.unique_id.as_str());
    let now = ctx.now();
    let mut conn = ctx.db.conn()?;
    let stage = best_stage(&mut conn, world, uid, Mode::Endless)?.max(Mode::Endless.start() + 1);
    let since: Option<i64> = conn.exec_first(
        "SELECT since FROM stage_hang_up WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let (items, _) =
        hang_up_rewards(ctx.config, stage)?.ok_or_else(|| fail(StageStatus::NoConfig))?;
    let units = idle_units(ctx.config, since.unwrap_or(now), now)?;
    ok(data([("show", item::to_json(&times(&items, units)))]))
}

/// `stage_all_infos()`: `infos` {sid: best stage}, `limits` {sid: {lid: left}}.
pub fn stage_all_infos(ctx: &Context, me: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let all = infos(&mut conn, ctx.config, &me.world, &me.unique_id, ctx.now())?;
    match all {
        Value::Object(map) => ok(map),
        _ => unreachable!("infos answers an object"),
    }
}

/// `stage_refresh_boss()`: every world boss of this world (`bds` {stage: {hp, ratio,
/// damage (the caller's best), total (the caller's)}}), `limit` (boss entries left
/// today), `cd` (seconds to the game day's end), `mcd` (to the game month's end, when the
/// bosses' HP comes back).
pub fn stage_refresh_boss(ctx: &Context, me: &Player, _: &Args) -> Outcome {
    let (world, uid) = (me.world.as_str(), me.unique_id.as_str());
    let now = ctx.now();
    let mut conn = ctx.db.conn()?;
    let mut bds = Map::new();
    for (stage, full) in bosses(ctx.config)? {
        let dealt = boss_damage_this_month(&mut conn, world, stage, now)?;
        let hp = full.saturating_sub(dealt);
        let (best, total) = own_damage(&mut conn, world, uid, stage)?;
        bds.insert(
            stage.to_string(),
            json!({"hp": hp, "ratio": ratio(hp, full), "damage": best, "total": total}),
        );
    }
    let limits = limits_of(&mut conn, ctx.config, world, uid, Mode::Boss, now)?;
    let limit = limits
        .as_ref()
        .and_then(|l| l.get(LIMIT_BOSS.to_string()))
        .cloned()
        .unwrap_or(Value::from(0));
    Ok(Reply {
        status: 0,
        message: "Successfully get hook information".into(),
        data: data([
            ("bds", Value::Object(bds)),
            ("limit", limit),
            ("cd", daily::seconds_to_next_day(now).into()),
            ("mcd", seconds_to_next_month(now).into()),
        ]),
    })
}

/// `stage_damage_ranking(stage = 3000, page = 1)`: the world's players by total damage to
/// boss `stage`, 50 a page: `page`, `own_rank` {"2": {damage, rank}} (rank -1 without
/// damage), `rank` [{NO, name, fid (family name), icon, exp, level, damage}]. 89 a page
/// below 1, 88 an empty page.
pub fn stage_damage_ranking(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    let stage = args.opt_int("stage")?.unwrap_or(3000);
    let page = args.opt_int("page")?.unwrap_or(1);
    if page < 1 {
        return Err(fail(StageStatus::PageError));
    }
    if page > MAX_PAGE {
        return Err(fail(StageStatus::NoPageData));
    }
    let (world, uid) = (me.world.as_str(), me.unique_id.as_str());
    let mut conn = ctx.db.conn()?;
    let (_, total) = own_damage(&mut conn, world, uid, stage)?;
    let rank = if total == 0 {
        -1
    } else {
        let above: Option<i64> = conn.exec_first(
            "SELECT COUNT(*) FROM stage_boss_damage WHERE world = ? AND stage = ? AND total > ?",
            (world, stage, total),
        )?;
        above.unwrap_or(0) + 1
    };
    let rows: Vec<(String, Option<String>, i32, u64, i64, u64)> = conn.exec(
        "SELECT p.gn, f.name, p.icon, p.exp, p.level, d.total
         FROM stage_boss_damage d
         JOIN players p ON p.world = d.world AND p.unique_id = d.unique_id
         LEFT JOIN family_members m ON m.world = d.world AND m.unique_id = d.unique_id
         LEFT JOIN families f ON f.world = m.world AND f.fid = m.fid
         WHERE d.world = ? AND d.stage = ? AND d.total > 0
         ORDER BY d.total DESC, d.unique_id
         LIMIT ? OFFSET ?",
        (world, stage, PAGE_SIZE, (page - 1) * PAGE_SIZE),
    )?;
    if rows.is_empty() {
        return Err(fail(StageStatus::NoPageData));
    }
    let table = exp_table(ctx.config);
    let ranked: Vec<Value> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (gn, family, icon, exp, level, total))| {
            let exp = effective_exp(&table, exp, level);
            json!({
                "NO": (page - 1) * PAGE_SIZE + 1 + i as i64,
                "name": gn,
                "fid": family.unwrap_or_default(),
                "icon": icon,
                "exp": exp,
                "level": level_of(&table, exp).0.max(level),
                "damage": total,
            })
        })
        .collect();
    let mut own = Map::new();
    own.insert(
        TOTAL_WORLD_BOSS.into(),
        json!({"damage": total, "rank": rank}),
    );
    ok(data([
        ("page", page.into()),
        ("own_rank", Value::Object(own)),
        ("rank", Value::from(ranked)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_experience_table() {
        let table = exp_table(&GameConfig::embedded());
        assert_eq!(table.len(), 300);
        assert_eq!(level_of(&table, 0), (1, 120));
        assert_eq!(level_of(&table, 119), (1, 1));
        assert_eq!(level_of(&table, 120), (2, 240));
        assert_eq!(level_of(&table, u64::MAX), (300, 0));
        // a stored level without experience counts from that level's start
        assert_eq!(effective_exp(&table, 0, 3), 360);
        assert_eq!(effective_exp(&table, 500, 3), 500);
        assert_eq!(effective_exp(&table, 7, 100_000), 7);
        assert_eq!(
            exp_info(&table, 37_340, 1, 500),
            json!({"exp": 37_340, "level": 25, "need": 1660, "reward": 500}),
            "the document's example"
        );
    }

    #[test]
    fn modes_have_the_originals_ranges() {
        assert!(Mode::General.contains(1) && Mode::General.contains(999));
        assert!(!Mode::General.contains(0) && !Mode::General.contains(1000));
        assert!(!Mode::Endless.contains(1000) && Mode::Endless.contains(1001));
        assert!(!Mode::Boss.contains(3000) && Mode::Boss.contains(3999));
        assert!(Mode::Coin.contains(4149) && !Mode::Coin.contains(4150));
        assert!(Mode::Exp.contains(4151) && !Mode::Exp.contains(4300));
        for a in Mode::ALL {
            for b in Mode::ALL {
                if a != b {
                    assert!(!(0..5000).any(|s| a.contains(s) && b.contains(s)));
                }
            }
        }
    }

    #[test]
    fn months_turn_at_midnight_utc_plus_8() {
        // 2024-02-29 15:59:59 UTC is 23:59:59 on the last day of February in UTC+8
        let t = 1_709_222_399;
        assert_eq!(seconds_to_next_month(t), 1);
        assert_eq!(game_month(t) + 1, game_month(t + 1));
        assert_eq!(seconds_to_next_month(t + 1), 31 * 86_400);
        assert_eq!(shared::civil::days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            shared::civil::civil_from_days(shared::civil::days_from_civil(2024, 12, 31)),
            (2024, 12, 31)
        );
    }

    #[test]
    fn random_rewards_are_drawn_uniformly() {
        let rewards = Item::parse_list(&json!(["3:1:5", "3:2:5", "3:9:5"])).unwrap();
        let rng = crate::function::Rng::new(7);
        let mut seen = [0u32; 3];
        for _ in 0..10_000 {
            for drawn in draw_rewards(&rng, &rewards, 3) {
                seen[rewards.iter().position(|r| *r == drawn).unwrap()] += 1;
            }
        }
        for n in seen {
            assert!((9_500..10_500).contains(&n), "{seen:?}");
        }
        assert!(draw_rewards(&rng, &[], 5).is_empty());
        let twice = merged(&[rewards[0], rewards[1], rewards[0]]);
        assert_eq!(item::to_json(&twice), json!(["3:1:10", "3:2:5"]));
    }

    #[test]
    fn players_of_version_9_keep_their_data_and_start_every_mode() {
        use crate::db::{migrate_with, Db, MIGRATIONS};
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 2).unwrap();
        assert_eq!(migrate_with(&db, &MIGRATIONS[..9]).unwrap().len(), 9);
        let mut conn = db.conn().unwrap();
        conn.query_drop(
            "INSERT INTO players (world, unique_id, gn, level, exp) VALUES ('s0', 'a', 'Ann', 3, 500);
             INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', 'a', 3, 1, 77);
             INSERT INTO daily_limits (world, unique_id, lid, day, used) VALUES ('s0', 'a', 19, '2024-03-01', 1)",
        )
        .unwrap();
        assert_eq!(migrate_with(&db, &MIGRATIONS[..10]).unwrap(), [10]);
        let config = GameConfig::embedded();
        // 2024-03-01 12:00 UTC+8: one coin challenge used today
        let all = infos(&mut conn, &config, "s0", "a", 1_709_265_600).unwrap();
        assert_eq!(
            all,
            json!({"infos": {"0": 1, "1": 1000, "3": 3000, "4": 4000, "5": 4150},
                   "limits": {"3": {"18": 3}, "4": {"19": 2, "20": 2}, "5": {"21": 3, "22": 2}}})
        );
        assert_eq!(
            read_exp(&mut conn, &config, "s0", "a").unwrap(),
            json!({"exp": 500, "level": 3, "need": 220, "reward": 0})
        );
        assert_eq!(item::quantity(&mut conn, "s0", "a", 3, 1).unwrap(), 77);
    }

    #[test]
    fn the_embedded_config_has_every_stage_the_functions_read() {
        let config = GameConfig::embedded();
        assert_eq!(
            bosses(&config).unwrap(),
            [(3001, 10_000_000), (3002, 30_000_000)]
        );
        assert_eq!(damage_cap(&config).unwrap(), 500_000);
        assert_eq!(ticket_rules(&config, Mode::Coin).unwrap(), (3, 2));
        assert_eq!(hang_up_rules(&config).unwrap(), (60, 43_200));
        let s8 = stage_config(&config, "stage", 8).unwrap().unwrap();
        assert_eq!((s8.energy, s8.exp, s8.rewards.len()), (6, 120, 3));
        assert!(stage_config(&config, "stage", 100).unwrap().is_none());
        assert!(hang_up_rewards(&config, 1001).unwrap().is_some());
    }
}
