//! The factory (the original's factory.py): workers make food, iron, crystal and armor over
//! time into the factories' storage, which the player gathers into the bag; crystal from
//! the bag levels the factories and the wishing pool up; food buys workers; diamonds buy
//! an acceleration (a day of double speed) and the paid wishes of the wishing pool, whose
//! wishes give weapon segments. Numbers: factory.json (see `rules`).
//!
//! A player's factory is one row of `factories`, made on its first factory call. Every
//! function runs in one transaction that locks the player's row, then the factory row,
//! counts production up to now (the context's clock) and only then acts, so production
//! is always counted with the workers and levels it had, and concurrent calls pay and
//! grant once each.

mod rules;

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player, Reply};
use crate::modules::common::transaction;
use crate::modules::enums::{
    BuyAccelerationStatus, BuyWorkerFactoryStatus, GatherResourceStatus, IronConvertStatus,
    SetArmorFactoryStatus, UpdateWorkerFactoryStatus, UpgradeFactoryStatus, WishingPoolStatus,
};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Achievement, Task};
use crate::modules::{armor, daily};
use rules::{effective_secs, secs_until, Rules, ARMOR, CRYSTAL, FOOD, IRON, UNASSIGNED};

/// Item groups of the answers' item strings (the original's `Group`).
const ITEM_GROUP: u32 = 3;
const ARMOR_GROUP: u32 = 4;
const SEGMENT_GROUP: u32 = 0;
/// Bag items (group 3): what the food, iron and crystal factories are gathered into.
const FOOD_ITEM: u32 = 3;
const IRON_ITEM: u32 = 2;
const CRYSTAL_ITEM: u32 = 4;
const DIAMOND_ITEM: u32 = 5;
const ITEMS: [u32; 3] = [FOOD_ITEM, IRON_ITEM, CRYSTAL_ITEM];
/// Armor the armor factory makes, and `iron_convert_factory` gives, is of level 1.
const ARMOR_LEVEL: u32 = 1;

/// A player's factory, as stored.
#[derive(Debug, Clone, PartialEq)]
struct State {
    /// Workers owned, assigned or not.
    total: u64,
    /// Workers of food, iron, crystal, armor.
    workers: [u64; 4],
    /// Levels of food, iron, crystal.
    levels: [u32; 3],
    pool_level: u32,
    armor_id: u32,
    storage: [u64; 4],
    refreshed_at: Option<i64>,
    carry: u64,
    accel_start: Option<i64>,
    accel_end: Option<i64>,
    pool_end: Option<i64>,
    pool_left: u32,
}

/// What counting production did: steps made and the storage before them.
struct Produced {
    steps: u64,
    before: [u64; 4],
}

impl State {
    fn unassigned(&self) -> u64 {
        self.total
            .saturating_sub(self.workers.iter().fold(0, |a, w| a.saturating_add(*w)))
    }

    fn level(&self, f: usize) -> u32 {
        if f == ARMOR {
            1
        } else {
            self.levels[f]
        }
    }

    fn accel(&self) -> Option<(i64, i64)> {
        Some((self.accel_start?, self.accel_end?))
    }

    fn limits(&self, rules: &Rules) -> Result<[u64; 4], FnError> {
        let limit = |f| {
            rules
                .storage_limit(f, self.level(f))
                .ok_or_else(|| FnError::Backend(format!("factory.json: no storage limit of {f}")))
        };
        Ok([limit(FOOD)?, limit(IRON)?, limit(CRYSTAL)?, limit(ARMOR)?])
    }

    /// Seconds left of the wishing pool's cooldown (0: none running).
    fn pool_secs(&self, now: i64) -> i64 {
        self.pool_end
            .map_or(0, |end| end.saturating_sub(now).max(0))
    }

    /// Wishes left: all of them when no cooldown runs.
    fn wishes_left(&self, rules: &Rules, now: i64) -> u32 {
        if self.pool_secs(now) == 0 {
            rules.pool.limit
        } else {
            self.pool_left.min(rules.pool.limit)
        }
    }

    /// Diamonds the next wish costs: nothing for the first of a cooldown, then
    /// `base_diamond` more for each.
    fn wish_cost(&self, rules: &Rules, now: i64) -> u64 {
        let made = rules.pool.limit - self.wishes_left(rules, now);
        u64::from(made).saturating_mul(rules.pool.base_diamond)
    }

    /// Counts production from the last count up to `now`.
    fn advance(&mut self, rules: &Rules, now: i64) -> Result<Produced, FnError> {
        let before = self.storage;
        let Some(from) = self.refreshed_at else {
            self.refreshed_at = Some(now);
            self.carry = 0;
            return Ok(Produced { steps: 0, before });
        };
        if now <= from {
            // The clock went back (or no time passed): nothing made, nothing moved.
            return Ok(Produced { steps: 0, before });
        }
        let secs = self
            .carry
            .saturating_add(effective_secs(from, now, self.accel()));
        let steps = secs / rules.step;
        self.carry = secs % rules.step;
        self.refreshed_at = Some(now);
        let limits = self.limits(rules)?;
        rules.produce(steps, &self.workers, &limits, &mut self.storage);
        Ok(Produced { steps, before })
    }
}

fn rules(ctx: &Context) -> Result<Rules, FnError> {
    let file = ctx
        .config
        .file("factory")
        .ok_or_else(|| FnError::Backend("factory.json is missing".into()))?;
    Rules::parse(file)
}

const COLUMNS: &str = "workers, food_workers, iron_workers, crystal_workers, armor_workers, \
     food_level, iron_level, crystal_level, pool_level, armor_id, food, iron, crystal, armor, \
     refreshed_at, carry, accel_start, accel_end, pool_end, pool_left";

fn take<T: mysql::prelude::FromValue>(row: &mut mysql::Row, i: usize) -> Result<T, FnError> {
    row.take_opt(i)
        .ok_or_else(|| FnError::Backend(format!("factories: no column {i}")))?
        .map_err(|e| FnError::Backend(format!("factories column {i}: {e}")))
}

/// The player's factory, made with the defaults when it has none, locked until the
/// transaction ends.
fn load(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    rules: &Rules,
) -> Result<State, FnError> {
    tx.exec_drop(
        "INSERT INTO factories (world, unique_id, workers) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE unique_id = unique_id",
        (world, uid, rules.workers_start),
    )?;
    let mut row: mysql::Row = tx
        .exec_first(
            format!("SELECT {COLUMNS} FROM factories WHERE world = ? AND unique_id = ? FOR UPDATE"),
            (world, uid),
        )?
        .ok_or_else(|| FnError::Backend("factories: the row just made is missing".into()))?;
    Ok(State {
        total: take(&mut row, 0)?,
        workers: [
            take(&mut row, 1)?,
            take(&mut row, 2)?,
            take(&mut row, 3)?,
            take(&mut row, 4)?,
        ],
        levels: [take(&mut row, 5)?, take(&mut row, 6)?, take(&mut row, 7)?],
        pool_level: take(&mut row, 8)?,
        armor_id: take(&mut row, 9)?,
        storage: [
            take(&mut row, 10)?,
            take(&mut row, 11)?,
            take(&mut row, 12)?,
            take(&mut row, 13)?,
        ],
        refreshed_at: take(&mut row, 14)?,
        carry: take(&mut row, 15)?,
        accel_start: take(&mut row, 16)?,
        accel_end: take(&mut row, 17)?,
        pool_end: take(&mut row, 18)?,
        pool_left: take(&mut row, 19)?,
    })
}

fn save(tx: &mut mysql::Transaction<'_>, world: &str, uid: &str, s: &State) -> Result<(), FnError> {
    let values: Vec<mysql::Value> = vec![
        s.total.into(),
        s.workers[FOOD].into(),
        s.workers[IRON].into(),
        s.workers[CRYSTAL].into(),
        s.workers[ARMOR].into(),
        s.levels[FOOD].into(),
        s.levels[IRON].into(),
        s.levels[CRYSTAL].into(),
        s.pool_level.into(),
        s.armor_id.into(),
        s.storage[FOOD].into(),
        s.storage[IRON].into(),
        s.storage[CRYSTAL].into(),
        s.storage[ARMOR].into(),
        s.refreshed_at.into(),
        s.carry.into(),
        s.accel_start.into(),
        s.accel_end.into(),
        s.pool_end.into(),
        s.pool_left.into(),
        world.into(),
        uid.into(),
    ];
    let sets = COLUMNS
        .split(", ")
        .map(|c| format!("{} = ?", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    tx.exec_drop(
        format!("UPDATE factories SET {sets} WHERE world = ? AND unique_id = ?"),
        mysql::Params::Positional(values),
    )?;
    Ok(())
}

/// Locks the player and its factory and counts production up to now, recording what was
/// collected for the achievements and the daily task (as the original's refresh did).
fn open(
    ctx: &Context,
    tx: &mut mysql::Transaction<'_>,
    rules: &Rules,
    world: &str,
    uid: &str,
) -> Result<(State, Produced), FnError> {
    daily::lock_player(tx, world, uid)?;
    let mut state = load(tx, world, uid, rules)?;
    let now = ctx.now();
    let produced = state.advance(rules, now)?;
    for (f, achievement) in [
        (FOOD, Achievement::CollectFood),
        (IRON, Achievement::CollectIron),
        (CRYSTAL, Achievement::CollectCrystal),
    ] {
        let gained = state.storage[f].saturating_sub(produced.before[f]);
        if gained > 0 {
            progress::achieve(tx, world, uid, achievement, gained)?;
            progress::task_done(tx, world, uid, Task::CheckFactory, now)?;
        }
    }
    Ok((state, produced))
}

/// Pays `qty` of bag item `id`; `Ok(false)` (nothing paid) when the player has less.
fn pay(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    id: u32,
    qty: u64,
) -> Result<bool, FnError> {
    if qty == 0 {
        return Ok(true);
    }
    let cost = Item {
        group: ITEM_GROUP,
        id,
        qty,
    };
    match item::spend(tx, world, uid, &[cost]) {
        Ok(()) => Ok(true),
        Err(e) if item::is_short(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

fn by_factory(values: [i64; 4]) -> Value {
    Value::Object(
        values
            .iter()
            .enumerate()
            .map(|(f, v)| (f.to_string(), Value::from(*v)))
            .collect(),
    )
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `{"remaining": {"0".."3": storage}, "reward": {"0".."3": change}}`.
fn resource(state: &State, produced: &Produced) -> Value {
    let change = |f: usize| {
        let d = i128::from(state.storage[f]) - i128::from(produced.before[f]);
        i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
    };
    json!({
        "remaining": by_factory(state.storage.map(signed)),
        "reward": by_factory([change(0), change(1), change(2), change(3)]),
    })
}

/// The whole refresh answer (`refresh_factory`, and `update_worker_factory`'s `refresh`).
fn refresh_data(rules: &Rules, state: &State, produced: &Produced, now: i64) -> Map<String, Value> {
    let left = state.wishes_left(rules, now);
    let next = secs_until(
        now,
        rules.step - state.carry.min(rules.step - 1),
        state.accel(),
    );
    let accel_time = state
        .accel_end
        .map_or(0, |end| end.saturating_sub(now).max(0));
    let mut worker = Map::new();
    worker.insert(UNASSIGNED.to_string(), state.unassigned().into());
    worker.insert("total".into(), state.total.into());
    for f in [FOOD, IRON, CRYSTAL, ARMOR] {
        worker.insert(f.to_string(), state.workers[f].into());
    }
    data([
        ("steps", produced.steps.into()),
        ("resource", resource(state, produced)),
        ("pool", state.pool_secs(now).into()),
        ("pool_count", left.into()),
        ("pool_diamond", state.wish_cost(rules, now).into()),
        ("next_refresh", next.into()),
        ("worker", Value::Object(worker)),
        (
            "level",
            json!({
                "3": state.armor_id,
                "0": state.levels[FOOD],
                "1": state.levels[IRON],
                "2": state.levels[CRYSTAL],
                "-2": state.pool_level,
            }),
        ),
        ("accel_time", accel_time.into()),
    ])
}

/// `refresh_factory()`: production counted up to now; answers `steps` (steps made since
/// the last count), `resource` (`remaining` storage and its `reward` change per factory
/// 0-3), `pool` (seconds of the wishing pool's cooldown left), `pool_count` (wishes
/// left), `pool_diamond` (the next wish's cost), `next_refresh` (seconds to the next
/// step), `worker` (`-1` unassigned, `total`, workers per factory), `level` (0-2 and `-2`
/// the pool's levels, `3` the armor being made) and `accel_time` (seconds of
/// acceleration left).
pub fn refresh_factory(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let (state, produced) = open(ctx, tx, &rules, world, uid)?;
        save(tx, world, uid, &state)?;
        ok(refresh_data(&rules, &state, &produced, ctx.now()))
    })
}

/// `upgrade_factory(fid)`: one level more of factory `fid` (0 food, 1 iron, 2 crystal, -2
/// the wishing pool) for `upgrade_cost.<fid>.<next level>` crystal from the bag. A pool
/// level also takes `upgrade_secs` off a running cooldown. Answers `refresh.resource` and
/// `upgrade` (`cost`, `remaining` crystal, `fid`, `level`, `pool`); 97 and 98 answer
/// `refresh.resource` too.
pub fn upgrade_factory(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let fid = args.int("fid")?;
    let (index, achievement) = match fid {
        0 => (0, Some(Achievement::UpgradeFood)),
        1 => (1, Some(Achievement::UpgradeIron)),
        2 => (2, Some(Achievement::UpgradeCrystal)),
        rules::WISHING_POOL => (3, None),
        _ => return Err(UpgradeFactoryStatus::InvalidFid.into()),
    };
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let now = ctx.now();
        let (mut state, produced) = open(ctx, tx, &rules, world, uid)?;
        save(tx, world, uid, &state)?;
        let refresh = json!({"resource": resource(&state, &produced)});
        let refused = |status: UpgradeFactoryStatus| -> Outcome {
            Ok(Reply::with(status, data([("refresh", refresh.clone())])))
        };
        let level = if index == 3 {
            state.pool_level
        } else {
            state.levels[index]
        };
        let Some(cost) = rules.upgrade_cost(index, level) else {
            return refused(UpgradeFactoryStatus::MaxLevel);
        };
        if !pay(tx, world, uid, CRYSTAL_ITEM, cost)? {
            return refused(UpgradeFactoryStatus::InsufficientFunds);
        }
        let level = level + 1;
        if index == 3 {
            state.pool_level = level;
            let left = state
                .pool_secs(now)
                .saturating_sub(rules.pool.upgrade_secs)
                .max(0);
            state.pool_end = Some(now.saturating_add(left));
        } else {
            state.levels[index] = level;
        }
        if let Some(achievement) = achievement {
            progress::achieve(tx, world, uid, achievement, 1)?;
        }
        save(tx, world, uid, &state)?;
        let remaining = item::quantity(tx, world, uid, ITEM_GROUP, CRYSTAL_ITEM)?;
        ok(data([
            ("refresh", refresh.clone()),
            (
                "upgrade",
                json!({
                    "cost": cost,
                    "remaining": remaining,
                    "fid": fid,
                    "level": level,
                    "pool": state.pool_secs(now),
                }),
            ),
        ]))
    })
}

/// `buy_worker_factory()`: one more (unassigned) worker for the food of
/// `workers.cost.<n>` (n the count it makes, at most `workers.max`). Answers `worker`
/// (`-1` unassigned, `total`) and `food` (`remaining` in the bag, `reward` the negative
/// cost).
pub fn buy_worker_factory(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let (mut state, _) = open(ctx, tx, &rules, world, uid)?;
        let cost = rules.worker_cost(state.total);
        if !pay(tx, world, uid, FOOD_ITEM, cost)? {
            return Err(BuyWorkerFactoryStatus::InsufficientFood.into());
        }
        state.total = state
            .total
            .checked_add(1)
            .filter(|t| *t <= u64::from(u32::MAX))
            .ok_or(BuyWorkerFactoryStatus::InsufficientFood)?;
        save(tx, world, uid, &state)?;
        let food = item::quantity(tx, world, uid, ITEM_GROUP, FOOD_ITEM)?;
        let mut worker = Map::new();
        worker.insert(UNASSIGNED.to_string(), state.unassigned().into());
        worker.insert("total".into(), state.total.into());
        ok(data([
            ("worker", Value::Object(worker)),
            ("food", json!({"remaining": food, "reward": -signed(cost)})),
        ]))
    })
}

/// The factory of a `worker`/`resource` key: "0" food .. "3" armor, exactly.
fn factory_key(key: &str) -> Option<usize> {
    match key {
        "0" => Some(FOOD),
        "1" => Some(IRON),
        "2" => Some(CRYSTAL),
        "3" => Some(ARMOR),
        _ => None,
    }
}

/// The object argument `name` (13 when missing or not an object).
fn object_arg<'a>(args: &Args<'a>, name: &str) -> Result<&'a Map<String, Value>, FnError> {
    match args.0.get(name) {
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(FnError::Malformed(format!("`{name}` must be an object"))),
        None => Err(FnError::Malformed(format!("`{name}` is missing"))),
    }
}

/// `update_worker_factory(worker)`: sets the workers of the factories `worker` names
/// (`{"<fid>": n}`, fid 0-3; the others keep theirs), production counted first with the
/// workers they had. Every value must be a whole number from 0 (13 naming it otherwise);
/// a key that is not 0-3 answers 97, more workers in all than owned 99, a factory above
/// its level's `worker_limits` 98, each with `refresh` and nothing changed. Answers
/// `refresh`, the refresh answer after the change.
pub fn update_worker_factory(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let asked = object_arg(args, "worker")?;
    let mut wanted: Vec<(Option<usize>, u64)> = Vec::with_capacity(asked.len());
    for (key, value) in asked {
        let n = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .ok_or_else(|| FnError::Malformed(format!("`worker.{key}` must be an integer")))?;
        let n = u64::try_from(n)
            .map_err(|_| FnError::Malformed(format!("`worker.{key}` must not be negative")))?;
        wanted.push((factory_key(key), n));
    }
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let now = ctx.now();
        let (mut state, produced) = open(ctx, tx, &rules, world, uid)?;
        save(tx, world, uid, &state)?;
        let refused = |status: UpdateWorkerFactoryStatus, state: &State| -> Outcome {
            let refresh = refresh_data(&rules, state, &produced, now);
            Ok(Reply::with(
                status,
                data([("refresh", Value::Object(refresh))]),
            ))
        };
        let mut workers = state.workers;
        for (f, n) in &wanted {
            match f {
                Some(f) => workers[*f] = *n,
                None => return refused(UpdateWorkerFactoryStatus::InvalidFid, &state),
            }
        }
        let assigned = workers.iter().fold(0u64, |a, w| a.saturating_add(*w));
        if assigned > state.total {
            return refused(UpdateWorkerFactoryStatus::InsufficientWorkers, &state);
        }
        for (f, n) in workers.iter().enumerate() {
            if rules
                .worker_limit(f, state.level(f))
                .is_none_or(|limit| *n > limit)
            {
                return refused(UpdateWorkerFactoryStatus::OverLimits, &state);
            }
        }
        state.workers = workers;
        save(tx, world, uid, &state)?;
        let refresh = refresh_data(&rules, &state, &produced, now);
        ok(data([("refresh", Value::Object(refresh))]))
    })
}

/// `buy_acceleration_factory()`: `general.acceleration_cost` diamonds for
/// `acceleration_secs` of double-speed production, from now or added to a running one.
/// Answers `refresh.resource`, `time` (seconds of acceleration left), `remaining.diamond`
/// and `reward.diamond` (the negative cost).
pub fn buy_acceleration_factory(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let now = ctx.now();
        let (mut state, produced) = open(ctx, tx, &rules, world, uid)?;
        if !pay(tx, world, uid, DIAMOND_ITEM, rules.acceleration_cost)? {
            return Err(BuyAccelerationStatus::InsufficientFunds.into());
        }
        let from = state.accel_end.unwrap_or(now).max(now);
        let end = from.saturating_add(rules.acceleration_secs);
        state.accel_start = Some(now);
        state.accel_end = Some(end);
        save(tx, world, uid, &state)?;
        let diamond = item::quantity(tx, world, uid, ITEM_GROUP, DIAMOND_ITEM)?;
        ok(data([
            ("refresh", json!({"resource": resource(&state, &produced)})),
            ("time", end.saturating_sub(now).into()),
            ("remaining", json!({"diamond": diamond})),
            (
                "reward",
                json!({"diamond": -signed(rules.acceleration_cost)}),
            ),
        ]))
    })
}

/// `activate_wishing_pool_factory(wid)`: a wish for segments of weapon `wid`. The first
/// wish of a cooldown is free and starts it (`base_recover` less the pool's level, in
/// hours); each later one costs `base_diamond` more, up to `limit` wishes. The segments
/// are `base_segment` times a multiplier drawn by `roll.weights`. Answers `pool`
/// (cooldown seconds left), `count` (wishes left), `pool_diamond` (the next wish's cost),
/// `remaining` and `reward` (`wid`, `seg`, `diamond`).
pub fn activate_wishing_pool_factory(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let wid = args.int("wid")?;
    let wid = u32::try_from(wid)
        .ok()
        .filter(|w| item::max_of(ctx.config, SEGMENT_GROUP, *w).is_some())
        .ok_or(WishingPoolStatus::InvalidWid)?;
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let now = ctx.now();
        let (mut state, _) = open(ctx, tx, &rules, world, uid)?;
        let left = state.wishes_left(&rules, now);
        if left == 0 {
            return Err(WishingPoolStatus::NoWishesLeft.into());
        }
        let cost = state.wish_cost(&rules, now);
        if !pay(tx, world, uid, DIAMOND_ITEM, cost)? {
            return Err(WishingPoolStatus::InsufficientDiamonds.into());
        }
        if state.pool_secs(now) == 0 {
            state.pool_end = Some(now.saturating_add(rules.pool_cooldown(state.pool_level)));
        }
        state.pool_left = left - 1;
        let held = item::quantity(tx, world, uid, SEGMENT_GROUP, wid)?;
        let rolled = rules.roll_segments(&ctx.rng);
        if rolled > 0 {
            let segments = Item {
                group: SEGMENT_GROUP,
                id: wid,
                qty: rolled,
            };
            item::grant(tx, ctx.config, world, uid, &[segments])?;
        }
        let seg = item::quantity(tx, world, uid, SEGMENT_GROUP, wid)?;
        let diamond = item::quantity(tx, world, uid, ITEM_GROUP, DIAMOND_ITEM)?;
        save(tx, world, uid, &state)?;
        ok(data([
            ("pool", state.pool_secs(now).into()),
            ("count", state.pool_left.into()),
            (
                "pool_diamond",
                cost.saturating_add(rules.pool.base_diamond).into(),
            ),
            (
                "remaining",
                json!({"wid": wid, "seg": seg, "diamond": diamond}),
            ),
            (
                "reward",
                json!({"wid": wid, "seg": seg.saturating_sub(held), "diamond": cost}),
            ),
        ]))
    })
}

/// Moves the armor factory's storage into the bag as armor `armor_id` of level 1;
/// answers the item strings (held now, moved).
fn gather_armor(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    state: &mut State,
) -> Result<(String, String), FnError> {
    let moved = std::mem::take(&mut state.storage[ARMOR]);
    let aid = state.armor_id;
    let held = armor::add(tx, world, uid, aid, ARMOR_LEVEL, moved)?;
    Ok((
        format!("{ARMOR_GROUP}:{aid}:{held}"),
        format!("{ARMOR_GROUP}:{aid}:{moved}"),
    ))
}

/// An armor id of the original (1-4).
fn armor_id(aid: i64) -> Option<u32> {
    u32::try_from(aid)
        .ok()
        .filter(|a| armor::ARMORS.contains(a))
}

/// `set_armor_factory(aid)`: the armor factory makes armor `aid` (1-4) from now on; what it
/// made of the armor before is gathered first. Answers `gather` (`remaining`, `reward`:
/// item strings `4:<aid>:<n>` of the armor before) and `aid`.
pub fn set_armor_factory(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let aid = armor_id(args.int("aid")?).ok_or(SetArmorFactoryStatus::InvalidAid)?;
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let (mut state, _) = open(ctx, tx, &rules, world, uid)?;
        let (remaining, reward) = gather_armor(tx, world, uid, &mut state)?;
        state.armor_id = aid;
        save(tx, world, uid, &state)?;
        ok(data([
            (
                "gather",
                json!({"remaining": [remaining], "reward": [reward]}),
            ),
            ("aid", aid.into()),
        ]))
    })
}

/// `gather_resource_factory(resource)`: moves the storage of the factories `resource`
/// names (`{"<fid>": ...}`, fid 0-3; the values are not read: the server's counts are
/// gathered) into the bag: food, iron, crystal as items 3:3, 3:2, 3:4 (up to the item's
/// most; the rest stays in storage), armor as armor of level 1. Answers `remaining` and
/// `reward`, item strings per factory in fid order.
pub fn gather_resource_factory(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let asked = object_arg(args, "resource")?;
    let mut factories = Vec::with_capacity(asked.len());
    for key in asked.keys() {
        factories.push(factory_key(key).ok_or(GatherResourceStatus::InvalidResource)?);
    }
    if factories.is_empty() {
        return Err(GatherResourceStatus::InvalidResource.into());
    }
    factories.sort_unstable();
    let rules = rules(ctx)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let (mut state, _) = open(ctx, tx, &rules, world, uid)?;
        let mut remaining = Vec::with_capacity(factories.len());
        let mut reward = Vec::with_capacity(factories.len());
        for f in &factories {
            if *f == ARMOR {
                let (held, moved) = gather_armor(tx, world, uid, &mut state)?;
                remaining.push(held);
                reward.push(moved);
                continue;
            }
            let id = ITEMS[*f];
            let max = item::max_of(ctx.config, ITEM_GROUP, id).unwrap_or(0);
            let held = item::quantity(tx, world, uid, ITEM_GROUP, id)?;
            let moved = state.storage[*f].min(max.saturating_sub(held));
            if moved > 0 {
                let gathered = Item {
                    group: ITEM_GROUP,
                    id,
                    qty: moved,
                };
                item::grant(tx, ctx.config, world, uid, &[gathered])?;
                state.storage[*f] -= moved;
            }
            remaining.push(format!("{ITEM_GROUP}:{id}:{}", held + moved));
            reward.push(format!("{ITEM_GROUP}:{id}:{moved}"));
        }
        save(tx, world, uid, &state)?;
        ok(data([
            ("remaining", Value::from(remaining)),
            ("reward", Value::from(reward)),
        ]))
    })
}

/// `iron_convert_factory(aid, qty)`: `qty` armors `aid` (1-4) of level 1, each for the
/// armor factory's cost (`general.costs.3`: 20 iron) from the bag. Answers `remain` and
/// `reward`: `4:<aid>:<n>` then the items paid, item strings.
pub fn iron_convert_factory(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let aid = args.int("aid")?;
    let qty = args.int("qty")?;
    let qty = u64::try_from(qty)
        .ok()
        .filter(|q| *q > 0)
        .ok_or_else(|| FnError::module(IronConvertStatus::BadArgument, "qty error"))?;
    let aid = armor_id(aid).ok_or(IronConvertStatus::BadArgument)?;
    let rules = rules(ctx)?;
    let mut costs = Vec::with_capacity(rules.costs[ARMOR].len());
    for (source, amount) in &rules.costs[ARMOR] {
        let id = *ITEMS
            .get(*source)
            .ok_or_else(|| FnError::Backend("factory.json: armor paid with armor".into()))?;
        let total = amount
            .checked_mul(qty)
            .ok_or(IronConvertStatus::InsufficientIron)?;
        costs.push((id, total));
    }
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        for (id, total) in &costs {
            if !pay(tx, world, uid, *id, *total)? {
                return Err(IronConvertStatus::InsufficientIron.into());
            }
        }
        let held = armor::add(tx, world, uid, aid, ARMOR_LEVEL, qty)?;
        let mut remain = vec![format!("{ARMOR_GROUP}:{aid}:{held}")];
        let mut reward = vec![format!("{ARMOR_GROUP}:{aid}:{qty}")];
        for (id, total) in &costs {
            let left = item::quantity(tx, world, uid, ITEM_GROUP, *id)?;
            remain.push(format!("{ITEM_GROUP}:{id}:{left}"));
            reward.push(format!("{ITEM_GROUP}:{id}:{total}"));
        }
        ok(data([
            ("remain", Value::from(remain)),
            ("reward", Value::from(reward)),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game_config::GameConfig;

    fn rules() -> Rules {
        Rules::parse(GameConfig::embedded().file("factory").unwrap()).unwrap()
    }

    fn fresh() -> State {
        State {
            total: 3,
            workers: [0; 4],
            levels: [1; 3],
            pool_level: 1,
            armor_id: 1,
            storage: [0; 4],
            refreshed_at: None,
            carry: 0,
            accel_start: None,
            accel_end: None,
            pool_end: None,
            pool_left: 0,
        }
    }

    #[test]
    fn steps_carry_their_partial_seconds_over() {
        let r = rules();
        let mut s = fresh();
        s.workers[FOOD] = 3;
        assert_eq!(
            s.advance(&r, 1000).unwrap().steps,
            0,
            "the first count starts the clock"
        );
        // 25 s: two steps, 5 s carried; 5 s more make the third
        assert_eq!(s.advance(&r, 1025).unwrap().steps, 2);
        assert_eq!((s.carry, s.storage[FOOD]), (5, 6));
        assert_eq!(s.advance(&r, 1030).unwrap().steps, 1);
        assert_eq!(s.carry, 0);
        // polling every 9 s gains nothing over waiting
        for t in 1..=10 {
            s.advance(&r, 1030 + 9 * t).unwrap();
        }
        assert_eq!(s.storage[FOOD], 9 + 3 * 9, "90 s: 9 steps");
        // the clock going back makes nothing and loses nothing
        assert_eq!(s.advance(&r, 500).unwrap().steps, 0);
        assert_eq!(s.refreshed_at, Some(1120));
    }

    #[test]
    fn the_wishing_pool_gives_limit_wishes_per_cooldown() {
        let r = rules();
        let mut s = fresh();
        assert_eq!((s.wishes_left(&r, 0), s.wish_cost(&r, 0)), (6, 0));
        s.pool_end = Some(100);
        s.pool_left = 2;
        assert_eq!((s.wishes_left(&r, 99), s.wish_cost(&r, 99)), (2, 200));
        assert_eq!(s.wishes_left(&r, 100), 6, "the cooldown ended");
        s.pool_left = 60;
        assert_eq!(s.wishes_left(&r, 0), 6, "never above the limit");
    }
}
