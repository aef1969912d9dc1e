//! Summoning, as the original game's summoning.py: three stores (diamond, coin, friend
//! gift), each a grid of 12 cells filled at random from summon.json, from which a player
//! pulls one cell at a time (drawn by the cells' weights among those not yet pulled) or
//! every cell left at once (a "dozen" pump, which then refills the store). A pull pays a
//! scroll or the store's currency per cell and gives the cell's item plus the store's
//! `reward` (integral, item 44); integral is converted in steps into roles and universal
//! segments (`integral_convert`).
//!
//! Every call runs in one transaction that first locks the caller's player row, so one
//! player's pulls, refreshes and conversions run one after the other: a dozen pump pays
//! once and grants every cell, or changes nothing. Randomness is the context's, time the
//! context's clock; the daily counts are `daily_limits` rows of the original's Limits ids
//! (14 coin pulls, 15 the diamond store's cheap pulls), per game day (UTC+8).

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};

use crate::function::{data, Args, Context, FnError, Outcome, Player, Reply, Rng};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{IntegralStatus, SharedStatus, SummonStatus};
use crate::modules::item::{self, Item};
use crate::modules::progress::{self, Achievement, Task};
use crate::modules::{role, skill};

/// Item group 3 (the original's `Group.ITEM`) and the ids this module names.
const ITEM_GROUP: u32 = 3;
const DIAMOND: u32 = 5;
const INTEGRAL: u32 = 44;
/// What a skill the player has already learned gives instead (the original's
/// SKILL_SCROLL_10).
const SKILL_SCROLL_10: u32 = 6;
/// Group of skills in a cell's item (the original's `Group.SKILL`), and the skill ids of
/// the game (the original's `Skill` enum, 1-40).
const SKILL_GROUP: u32 = 1;
const SKILL_IDS: std::ops::RangeInclusive<u32> = 1..=40;
/// The original's Limits ids, used as `daily_limits` ids.
const LIMIT_COIN: u32 = 14;
const LIMIT_DIAMOND: u32 = 15;
/// Most cells a store may have (summon.json `grid`).
const MAX_GRID: u32 = 64;

// ------------------------------------------------------------------------------ config

/// The three stores, by the currency they take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Diamond,
    Coin,
    Gift,
}

impl Kind {
    /// The store's key in summon.json (the currency's enum name).
    pub fn key(self) -> &'static str {
        match self {
            Kind::Diamond => "DIAMOND",
            Kind::Coin => "COIN",
            Kind::Gift => "FRIEND_GIFT",
        }
    }

    /// The currency item (group 3): the store's `cid`.
    pub fn currency(self) -> u32 {
        match self {
            Kind::Diamond => DIAMOND,
            Kind::Coin => 1,
            Kind::Gift => 16,
        }
    }

    /// The daily count the store keeps (the coin store's pulls, the diamond store's cheap
    /// pulls); the gift store keeps none.
    fn limit_id(self) -> Option<u32> {
        match self {
            Kind::Diamond => Some(LIMIT_DIAMOND),
            Kind::Coin => Some(LIMIT_COIN),
            Kind::Gift => None,
        }
    }
}

/// One goods entry of a store: a cell made from it holds `gid:<one of mids>:qty` and is
/// drawn with `weight`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goods {
    pub gid: u32,
    pub mids: Vec<u32>,
    pub qty: u64,
    pub weight: u64,
}

/// A store's rules (summon.json `resource.<KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub kind: Kind,
    /// Cells of a full store.
    pub grid: u32,
    /// Currency per cell.
    pub qty: u64,
    /// Item paid first, one per cell.
    pub scroll: Option<u32>,
    /// Prices of the first single pulls of a game day (diamond store: free, then half).
    pub daily_prices: Vec<u64>,
    /// Cells paid in the currency per game day (coin store).
    pub daily_times: Option<u32>,
    /// `reward` multiplier of a dozen pump of a full store (else 1).
    pub full_dozen_multiplier: u64,
    /// Seconds a store lives before it refills itself.
    pub lifetime: i64,
    /// Seconds from a free refresh until the next is free.
    pub refresh_cooling: i64,
    /// Diamonds of a refresh that is not free.
    pub refresh_qty: u64,
    /// Given with every cell.
    pub reward: Vec<Item>,
    pub must: Vec<Goods>,
    pub other: Vec<Goods>,
}

fn broken(what: impl std::fmt::Display) -> FnError {
    FnError::Backend(format!("summon.json: {what}"))
}

fn uint(v: &Value, field: &str) -> Result<u64, FnError> {
    v.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| broken(format!("`{field}` must be a non-negative integer")))
}

/// Whether a cell item of group `gid` and id `mid` is something a player can get.
fn grantable(config: &GameConfig, gid: u32, mid: u32) -> bool {
    match gid {
        SKILL_GROUP => SKILL_IDS.contains(&mid),
        _ => item::max_of(config, gid, mid).is_some(),
    }
}

fn goods_list(config: &GameConfig, v: Option<&Value>, what: &str) -> Result<Vec<Goods>, FnError> {
    let list = v
        .and_then(|v| v.get("goods"))
        .and_then(Value::as_array)
        .ok_or_else(|| broken(format!("`{what}.goods` must be an array")))?;
    list.iter()
        .map(|g| {
            let gid = u32::try_from(uint(g, "gid")?).map_err(broken)?;
            let mids: Vec<u32> = g
                .get("mid")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|m| m.as_u64().and_then(|m| u32::try_from(m).ok()))
                        .collect::<Option<Vec<u32>>>()
                })
                .and_then(|m| m)
                .filter(|m| !m.is_empty())
                .ok_or_else(|| broken(format!("{what}: `mid` must be a list of ids")))?;
            if let Some(bad) = mids.iter().find(|m| !grantable(config, gid, **m)) {
                return Err(broken(format!(
                    "{what}: {gid}:{bad} is no item of the game"
                )));
            }
            let (qty, weight) = (uint(g, "qty")?, uint(g, "weight")?);
            if qty == 0 || weight == 0 || weight > u64::from(u32::MAX) {
                return Err(broken(format!("{what}: qty and weight must be 1 or more")));
            }
            Ok(Goods {
                gid,
                mids,
                qty,
                weight,
            })
        })
        .collect()
}

impl Store {
    /// Reads store `kind` of summon.json: 93 when the file has no entry for it, 16 when
    /// the file is missing or broken (a deployment fault).
    pub fn from_config(config: &GameConfig, kind: Kind) -> Result<Store, FnError> {
        let file = config.file("summon").ok_or_else(|| broken("missing"))?;
        let grid = u32::try_from(uint(file, "grid")?)
            .ok()
            .filter(|g| (1..=MAX_GRID).contains(g))
            .ok_or_else(|| broken(format!("`grid` must be 1 to {MAX_GRID}")))?;
        let s = file
            .get("resource")
            .and_then(|r| r.get(kind.key()))
            .ok_or(SummonStatus::NoConfig)?;
        let constraint = s.get("constraint").ok_or_else(|| broken("no constraint"))?;
        let refresh = constraint
            .get("refresh")
            .ok_or_else(|| broken("no constraint.refresh"))?;
        let hours = |v: &Value| -> Result<i64, FnError> {
            i64::try_from(uint(v, "hours")?)
                .ok()
                .filter(|h| *h <= 24 * 365)
                .map(|h| h * 3600)
                .ok_or_else(|| broken("hours must be at most a year"))
        };
        let scroll = match s.get("scroll") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|id| u32::try_from(id).ok())
                    .filter(|id| item::max_of(config, ITEM_GROUP, *id).is_some())
                    .ok_or_else(|| broken("`scroll` must be an item id"))?,
            ),
        };
        let daily_prices = match s.get("daily_prices") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
                .ok_or_else(|| broken("`daily_prices` must be a list of prices"))?,
        };
        let daily_times = match s.get("daily_times") {
            None | Some(Value::Null) => None,
            Some(_) => Some(u32::try_from(uint(s, "daily_times")?).map_err(broken)?),
        };
        let reward = Item::parse_list(s.get("reward").unwrap_or(&json!([]))).map_err(broken)?;
        item::check_defined(config, &reward).map_err(|_| broken("reward: unknown item"))?;
        let store = Store {
            kind,
            grid,
            qty: uint(s, "qty")?,
            scroll,
            daily_prices,
            daily_times,
            full_dozen_multiplier: match s.get("full_dozen_multiplier") {
                None => 1,
                Some(_) => uint(s, "full_dozen_multiplier")?.max(1),
            },
            lifetime: hours(constraint)?,
            refresh_cooling: hours(refresh)?,
            refresh_qty: uint(refresh, "qty")?,
            reward,
            must: goods_list(config, s.get("must"), "must")?,
            other: goods_list(config, s.get("other"), "other")?,
        };
        if store.must.len() > grid as usize {
            return Err(broken("more `must` goods than cells"));
        }
        if store.other.is_empty() && store.must.len() < grid as usize {
            return Err(broken("no `other` goods to fill the grid"));
        }
        Ok(store)
    }
}

/// summon.json `convert`: the integral steps and what each gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Convert {
    /// Ascending; the last gives `item` and takes that much integral, the others a role.
    pub steps: Vec<u32>,
    pub special_step: u32,
    pub special_role: u32,
    /// Roles one of which (uniformly) a step other than the special one gives.
    pub roles: Vec<u32>,
    /// Segments of the role given instead when it is unlocked already.
    pub duplicate_segments: u64,
    pub item: Item,
}

impl Convert {
    pub fn from_config(config: &GameConfig) -> Result<Convert, FnError> {
        let c = config
            .file("summon")
            .and_then(|f| f.get("convert"))
            .ok_or_else(|| broken("no convert"))?;
        let ids = |v: Option<&Value>| -> Option<Vec<u32>> {
            v?.as_array()?
                .iter()
                .map(|m| u32::try_from(m.as_u64()?).ok())
                .collect()
        };
        let steps = ids(c.get("steps"))
            .filter(|s| !s.is_empty() && s.windows(2).all(|w| w[0] < w[1]) && s[0] > 0)
            .ok_or_else(|| broken("convert.steps must ascend from 1 or more"))?;
        let special = c
            .get("special")
            .ok_or_else(|| broken("no convert.special"))?;
        let item_entry = c.get("item").ok_or_else(|| broken("no convert.item"))?;
        let convert = Convert {
            special_step: u32::try_from(uint(special, "step")?).map_err(broken)?,
            special_role: u32::try_from(uint(special, "mid")?).map_err(broken)?,
            roles: ids(c.get("role").and_then(|r| r.get("mid")))
                .filter(|r| !r.is_empty())
                .ok_or_else(|| broken("convert.role.mid must list roles"))?,
            duplicate_segments: uint(c, "duplicate_segments")?,
            item: Item {
                group: ITEM_GROUP,
                id: u32::try_from(uint(item_entry, "mid")?).map_err(broken)?,
                qty: uint(item_entry, "qty")?,
            },
            steps,
        };
        let roles_known = convert
            .roles
            .iter()
            .chain([&convert.special_role])
            .all(|r| role::exists(config, *r));
        if !roles_known || item::check_defined(config, &[convert.item]).is_err() {
            return Err(broken("convert names an unknown role or item"));
        }
        Ok(convert)
    }

    /// The next step for a player at step `acp` holding `integral`: the first above `acp`
    /// that `integral` reaches.
    pub fn next_step(&self, acp: u32, integral: u64) -> Option<u32> {
        self.steps
            .iter()
            .copied()
            .find(|s| acp < *s && u64::from(*s) <= integral)
    }
}

// ------------------------------------------------------------------------------ draws

/// One cell of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub pid: u32,
    pub item: Item,
    pub wgt: u64,
    pub bought: bool,
}

impl Cell {
    fn to_json(&self) -> Value {
        json!({"pid": self.pid, "mid": self.item.to_string(), "wgt": self.wgt, "isb": u8::from(self.bought)})
    }
}

/// A new store's cells: the grid's positions shuffled, every `must` goods entry in the
/// first ones, the rest from `other` entries chosen uniformly (the original's
/// `random.choices` without weights); each cell's id uniform among its entry's `mid`s.
/// Answered in position order.
pub fn fill(rng: &Rng, store: &Store) -> Vec<Cell> {
    let mut positions: Vec<u32> = (0..store.grid).collect();
    for i in (1..positions.len()).rev() {
        positions.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let others = store.grid as usize - store.must.len();
    let chosen = store
        .must
        .iter()
        .chain((0..others).map(|_| &store.other[rng.below(store.other.len() as u64) as usize]));
    let mut cells: Vec<Cell> = positions
        .into_iter()
        .zip(chosen)
        .map(|(pid, g)| Cell {
            pid,
            item: Item {
                group: g.gid,
                id: g.mids[rng.below(g.mids.len() as u64) as usize],
                qty: g.qty,
            },
            wgt: g.weight,
            bought: false,
        })
        .collect();
    cells.sort_by_key(|c| c.pid);
    cells
}

/// The index of the cell a single pull draws: among the cells not bought, each with
/// probability wgt / (their sum). `None` when every cell is bought.
pub fn pick(rng: &Rng, cells: &[Cell]) -> Option<usize> {
    let weights: Vec<u64> = cells
        .iter()
        .map(|c| if c.bought { 0 } else { c.wgt })
        .collect();
    rng.weighted(&weights)
}

// ------------------------------------------------------------------------------ storage

/// The store's row: (ends, free_refresh).
fn store_row(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    cid: u32,
) -> Result<Option<(i64, i64)>, FnError> {
    Ok(tx.exec_first(
        "SELECT ends, free_refresh FROM summon_stores WHERE world = ? AND unique_id = ? AND cid = ?",
        (world, uid, cid),
    )?)
}

fn cells_of(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    cid: u32,
) -> Result<Vec<Cell>, FnError> {
    let rows: Vec<(u32, String, u64, u8)> = tx.exec(
        "SELECT pid, mid, wgt, isb FROM summon_cells WHERE world = ? AND unique_id = ? AND cid = ? \
         ORDER BY pid",
        (world, uid, cid),
    )?;
    rows.into_iter()
        .map(|(pid, mid, wgt, isb)| {
            Ok(Cell {
                pid,
                item: Item::parse(&mid).map_err(|e| FnError::Backend(e.to_string()))?,
                wgt,
                bought: isb != 0,
            })
        })
        .collect()
}

/// A store as the player sees it now.
struct Current {
    cells: Vec<Cell>,
    ends: i64,
    free_refresh: i64,
    /// Made by this call (refresh answers 0), not shown again (1).
    new: bool,
}

/// Replaces the store's cells with new ones; a store whose time is over gets a new
/// lifetime (a refresh within it keeps its end, as the original's).
fn replace(
    tx: &mut mysql::Transaction<'_>,
    ctx: &Context,
    store: &Store,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<Current, FnError> {
    let cid = store.kind.currency();
    let row = store_row(tx, world, uid, cid)?;
    let ends = match row {
        Some((ends, _)) if ends > now => ends,
        _ => now + store.lifetime,
    };
    let free_refresh = row.map_or(0, |(_, f)| f);
    let cells = fill(&ctx.rng, store);
    // Cells are overwritten in place, not deleted and inserted again: a DELETE of a store
    // not made yet locks the index gap around it, and two players making their stores at
    // once then deadlocked on each other's gaps (seen under load: 79 of 5,385 coin pulls
    // answered 16). An upsert of a whole primary key takes only that record's lock.
    tx.exec_batch(
        "INSERT INTO summon_cells (world, unique_id, cid, pid, mid, wgt, isb) \
         VALUES (?, ?, ?, ?, ?, ?, 0) \
         ON DUPLICATE KEY UPDATE mid = VALUES(mid), wgt = VALUES(wgt), isb = 0",
        cells
            .iter()
            .map(|c| (world, uid, cid, c.pid, c.item.to_string(), c.wgt)),
    )?;
    // Cells past a grid that the config made smaller since (rare: read first, so the
    // usual case takes no range lock).
    let held: u64 = tx
        .exec_first(
            "SELECT COUNT(*) FROM summon_cells WHERE world = ? AND unique_id = ? AND cid = ?",
            (world, uid, cid),
        )?
        .unwrap_or(0);
    if held > cells.len() as u64 {
        tx.exec_drop(
            "DELETE FROM summon_cells WHERE world = ? AND unique_id = ? AND cid = ? AND pid >= ?",
            (world, uid, cid, store.grid),
        )?;
    }
    tx.exec_drop(
        "INSERT INTO summon_stores (world, unique_id, cid, ends, free_refresh) VALUES (?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE ends = VALUES(ends)",
        (world, uid, cid, ends, free_refresh),
    )?;
    Ok(Current {
        cells,
        ends,
        free_refresh,
        new: true,
    })
}

/// The store to pull from: the current one while its time runs and a cell is left, else
/// a new one.
fn current(
    tx: &mut mysql::Transaction<'_>,
    ctx: &Context,
    store: &Store,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<Current, FnError> {
    let cid = store.kind.currency();
    if let Some((ends, free_refresh)) = store_row(tx, world, uid, cid)? {
        let cells = cells_of(tx, world, uid, cid)?;
        if ends > now && cells.iter().any(|c| !c.bought) {
            return Ok(Current {
                cells,
                ends,
                free_refresh,
                new: false,
            });
        }
    }
    replace(tx, ctx, store, world, uid, now)
}

fn acp_of(tx: &mut mysql::Transaction<'_>, world: &str, uid: &str) -> Result<u32, FnError> {
    let acp: Option<u32> = tx.exec_first(
        "SELECT acp FROM summon_integral WHERE world = ? AND unique_id = ? FOR UPDATE",
        (world, uid),
    )?;
    Ok(acp.unwrap_or(0))
}

/// The store's `limit` of the answers: the diamond store's cheap pulls used today, the
/// coin store's currency pulls left today.
fn limit(store: &Store, used: u32) -> Option<u32> {
    match store.kind {
        Kind::Diamond => Some(used),
        Kind::Coin => Some(store.daily_times.unwrap_or(0).saturating_sub(used)),
        Kind::Gift => None,
    }
}

/// The answers' `constraint` of a store.
fn constraint(
    tx: &mut mysql::Transaction<'_>,
    store: &Store,
    shown: &Current,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<Value, FnError> {
    let mut c = Map::new();
    c.insert("cid".into(), store.kind.currency().into());
    if let Some(lid) = store.kind.limit_id() {
        let used = daily::used(tx, world, uid, lid, now)?;
        c.insert("limit".into(), limit(store, used).into());
    }
    c.insert(
        "cooling_refresh".into(),
        (shown.free_refresh - now).max(0).into(),
    );
    c.insert("cooling".into(), (shown.ends - now).max(0).into());
    c.insert("qty".into(), store.qty.into());
    c.insert("refresh".into(), store.refresh_qty.into());
    c.insert("acp".into(), acp_of(tx, world, uid)?.into());
    Ok(c.into())
}

fn cells_json(cells: &[Cell]) -> Value {
    cells.iter().map(Cell::to_json).collect::<Vec<_>>().into()
}

/// Spends `items` if the player has them: false (nothing spent) when one is short.
fn try_spend(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<bool, FnError> {
    match item::spend(tx, world, uid, items) {
        Ok(()) => Ok(true),
        Err(e) if item::is_short(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What was paid: `(item id of group 3, quantity)`.
type Paid = (u32, u64);

/// The answer's first `remaining` and `reward` entries: what was paid and what is left.
fn paid_strings(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    (id, qty): Paid,
) -> Result<(String, String), FnError> {
    let held = item::quantity(tx, world, uid, ITEM_GROUP, id)?;
    Ok((
        format!("{ITEM_GROUP}:{id}:{held}"),
        format!("{ITEM_GROUP}:{id}:{qty}"),
    ))
}

/// Gives `items` in order, as the original's `reward_items`: a skill is learned (one
/// already learned gives a 10 % scroll instead), anything else is an item (weapon and
/// role segments included). Answers each one's `(remaining, reward)` strings.
fn give(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<Vec<(String, String)>, FnError> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        if it.group == SKILL_GROUP {
            if !SKILL_IDS.contains(&it.id) {
                return Err(FnError::module(
                    SharedStatus::InvalidItem,
                    format!("skill {} is not defined", it.id),
                ));
            }
            if skill::learn(tx, world, uid, it.id)? {
                let s = format!("{SKILL_GROUP}:{}:1", it.id);
                out.push((s.clone(), s));
                continue;
            }
            let scroll = Item {
                group: ITEM_GROUP,
                id: SKILL_SCROLL_10,
                qty: 1,
            };
            item::grant(tx, config, world, uid, &[scroll])?;
            let held = item::quantity(tx, world, uid, ITEM_GROUP, SKILL_SCROLL_10)?;
            out.push((
                format!("{ITEM_GROUP}:{SKILL_SCROLL_10}:{held}"),
                scroll.to_string(),
            ));
        } else {
            item::grant(tx, config, world, uid, &[*it])?;
            let held = item::quantity(tx, world, uid, it.group, it.id)?;
            out.push((format!("{}:{}:{held}", it.group, it.id), it.to_string()));
        }
    }
    Ok(out)
}

/// `remaining` and `reward` of a pull: the payment first, then every item given.
fn lists(paid: (String, String), given: Vec<(String, String)>) -> (Value, Value) {
    let (remaining, reward): (Vec<String>, Vec<String>) =
        std::iter::once(paid).chain(given).unzip();
    (remaining.into(), reward.into())
}

fn times(items: &[Item], n: u64) -> Result<Vec<Item>, FnError> {
    items
        .iter()
        .map(|it| {
            it.qty
                .checked_mul(n)
                .map(|qty| Item { qty, ..*it })
                .ok_or_else(|| broken("reward overflows"))
        })
        .collect()
}

fn currency(store: &Store, qty: u64) -> Item {
    Item {
        group: ITEM_GROUP,
        id: store.kind.currency(),
        qty,
    }
}

/// Pays for `cells` cells of a store: `cells` scrolls when the player has them, else the
/// currency. For the coin store, cells paid in coins use up the day's `daily_times` (95
/// when too few are left). Answers what was paid.
fn pay(
    tx: &mut mysql::Transaction<'_>,
    store: &Store,
    world: &str,
    uid: &str,
    cells: u64,
    now: i64,
) -> Result<Paid, FnError> {
    if let Some(scroll) = store.scroll {
        let price = Item {
            group: ITEM_GROUP,
            id: scroll,
            qty: cells,
        };
        if try_spend(tx, world, uid, &[price])? {
            return Ok((scroll, cells));
        }
    }
    if let (Kind::Coin, Some(times)) = (store.kind, store.daily_times) {
        let used = daily::lock_used(tx, world, uid, LIMIT_COIN, now)?;
        let after = u64::from(used) + cells;
        if after > u64::from(times) {
            return Err(SummonStatus::NoDraws.into());
        }
        daily::set_used(tx, world, uid, LIMIT_COIN, now, after as u32)?;
    }
    let qty = store
        .qty
        .checked_mul(cells)
        .ok_or(SummonStatus::Materials)?;
    if qty > 0 && !try_spend(tx, world, uid, &[currency(store, qty)])? {
        return Err(SummonStatus::Materials.into());
    }
    Ok((store.kind.currency(), qty))
}

/// Pays for one single pull: the diamond store's first pulls of a game day at
/// `daily_prices` (free, then half), anything else as [`pay`]. Answers what was paid and
/// whether it was one of the day's cheap pulls.
fn pay_single(
    tx: &mut mysql::Transaction<'_>,
    store: &Store,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<(Paid, bool), FnError> {
    if store.kind == Kind::Diamond && !store.daily_prices.is_empty() {
        let used = daily::lock_used(tx, world, uid, LIMIT_DIAMOND, now)?;
        if let Some(price) = store.daily_prices.get(used as usize) {
            if *price > 0 && !try_spend(tx, world, uid, &[currency(store, *price)])? {
                return Err(SummonStatus::Materials.into());
            }
            daily::set_used(tx, world, uid, LIMIT_DIAMOND, now, used + 1)?;
            return Ok(((store.kind.currency(), *price), true));
        }
    }
    Ok((pay(tx, store, world, uid, 1, now)?, false))
}

/// The task and achievement a pull of `cells` cells counts (the original's: the diamond
/// store PRO_SUMMONING and SUMMON_D, the coin store BASIC_SUMMONING).
fn count_progress(
    tx: &mut mysql::Transaction<'_>,
    kind: Kind,
    world: &str,
    uid: &str,
    cells: u64,
    now: i64,
) -> Result<(), FnError> {
    match kind {
        Kind::Diamond => {
            progress::task_done(tx, world, uid, Task::ProSummoning, now)?;
            progress::achieve(tx, world, uid, Achievement::SummonD, cells)
        }
        Kind::Coin => progress::task_done(tx, world, uid, Task::BasicSummoning, now),
        Kind::Gift => Ok(()),
    }
}

// ------------------------------------------------------------------------------ functions

fn refresh_store(ctx: &Context, player: &Player, kind: Kind) -> Outcome {
    let store = Store::from_config(ctx.config, kind)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let shown = current(tx, ctx, &store, world, uid, now)?;
        let answer = data([
            ("refresh", cells_json(&shown.cells)),
            (
                "constraint",
                constraint(tx, &store, &shown, world, uid, now)?,
            ),
        ]);
        if shown.new {
            Ok(Reply::ok(answer))
        } else {
            Ok(Reply::with(SummonStatus::Shown, answer))
        }
    })
}

fn buy_refresh(ctx: &Context, player: &Player, kind: Kind) -> Outcome {
    let store = Store::from_config(ctx.config, kind)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let cid = kind.currency();
        let free = store_row(tx, world, uid, cid)?.is_none_or(|(_, f)| f <= now);
        let cost = if free { 0 } else { store.refresh_qty };
        let price = Item {
            group: ITEM_GROUP,
            id: DIAMOND,
            qty: cost,
        };
        if cost > 0 && !try_spend(tx, world, uid, &[price])? {
            return Err(SummonStatus::Materials.into());
        }
        let mut shown = replace(tx, ctx, &store, world, uid, now)?;
        if free {
            shown.free_refresh = now + store.refresh_cooling;
            tx.exec_drop(
                "UPDATE summon_stores SET free_refresh = ? WHERE world = ? AND unique_id = ? AND cid = ?",
                (shown.free_refresh, world, uid, cid),
            )?;
        }
        let diamonds = item::quantity(tx, world, uid, ITEM_GROUP, DIAMOND)?;
        Ok(Reply::ok(data([
            ("refresh", cells_json(&shown.cells)),
            (
                "constraint",
                constraint(tx, &store, &shown, world, uid, now)?,
            ),
            ("consume", json!({"remain_v": diamonds, "value": cost})),
        ])))
    })
}

fn single_pump(ctx: &Context, player: &Player, kind: Kind) -> Outcome {
    let store = Store::from_config(ctx.config, kind)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let shown = current(tx, ctx, &store, world, uid, now)?;
        let cell = pick(&ctx.rng, &shown.cells)
            .map(|i| shown.cells[i].clone())
            .ok_or_else(|| FnError::Backend("a current store has no cell left".into()))?;
        let (paid, cheap) = pay_single(tx, &store, world, uid, now)?;
        let paid = paid_strings(tx, world, uid, paid)?;
        let mut items = vec![cell.item];
        items.extend_from_slice(&store.reward);
        let given = give(tx, ctx.config, world, uid, &items)?;
        tx.exec_drop(
            "UPDATE summon_cells SET isb = 1 WHERE world = ? AND unique_id = ? AND cid = ? AND pid = ?",
            (world, uid, kind.currency(), cell.pid),
        )?;
        count_progress(tx, kind, world, uid, 1, now)?;
        let (remaining, reward) = lists(paid, given);
        let constraint = match kind.limit_id() {
            Some(lid) => {
                let used = daily::used(tx, world, uid, lid, now)?;
                // The diamond store's pulls past the cheap ones count as one more (the
                // original's `lim + 1`, never stored).
                let shown_limit = match kind {
                    Kind::Diamond if !cheap => used + 1,
                    _ => limit(&store, used).unwrap_or(0),
                };
                json!({"limit": shown_limit, "cooling": daily::seconds_to_next_day(now)})
            }
            None => json!({"cooling": (shown.ends - now).max(0)}),
        };
        Ok(Reply::ok(data([
            ("remaining", remaining),
            ("reward", reward),
            ("pid", cell.pid.into()),
            ("constraint", constraint),
        ])))
    })
}

fn dozen_pump(ctx: &Context, player: &Player, kind: Kind) -> Outcome {
    let store = Store::from_config(ctx.config, kind)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let shown = current(tx, ctx, &store, world, uid, now)?;
        let left: Vec<&Cell> = shown.cells.iter().filter(|c| !c.bought).collect();
        let n = left.len() as u64;
        let paid = pay(tx, &store, world, uid, n, now)?;
        let paid = paid_strings(tx, world, uid, paid)?;
        let multiple = if n == u64::from(store.grid) {
            n * store.full_dozen_multiplier
        } else {
            n
        };
        let mut items: Vec<Item> = left.iter().map(|c| c.item).collect();
        items.extend(times(&store.reward, multiple)?);
        let given = give(tx, ctx.config, world, uid, &items)?;
        let pids: Vec<u32> = left.iter().map(|c| c.pid).collect();
        count_progress(tx, kind, world, uid, n, now)?;
        let refilled = replace(tx, ctx, &store, world, uid, now)?;
        let (remaining, reward) = lists(paid, given);
        Ok(Reply::ok(data([
            ("remaining", remaining),
            ("reward", reward),
            ("pid", pids.into()),
            ("refresh", cells_json(&refilled.cells)),
            (
                "constraint",
                constraint(tx, &store, &refilled, world, uid, now)?,
            ),
        ])))
    })
}

/// `refresh_diamond_store()`: the diamond store: status 1 with its cells (`refresh`:
/// `[{pid, mid, wgt, isb}]`) and `constraint` (`cid`, `limit` (cheap pulls used today),
/// `cooling_refresh`, `cooling`, `qty`, `refresh`, `acp`); status 0 with a new store when
/// it had none, every cell was pulled or its time ran out.
pub fn refresh_diamond_store(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    refresh_store(ctx, player, Kind::Diamond)
}

/// `refresh_coin_store()`: as `refresh_diamond_store`; `limit` is the coin pulls left
/// today.
pub fn refresh_coin_store(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    refresh_store(ctx, player, Kind::Coin)
}

/// `refresh_gift_store()`: as `refresh_diamond_store`, without `limit`.
pub fn refresh_gift_store(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    refresh_store(ctx, player, Kind::Gift)
}

/// `buy_refresh_diamond()`: new cells for the diamond store: free when `cooling_refresh`
/// is over (which starts it again), else `refresh` diamonds (99 without them). Answers
/// `refresh`, `constraint` and `consume` `{remain_v, value}` (diamonds left and paid).
pub fn buy_refresh_diamond(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    buy_refresh(ctx, player, Kind::Diamond)
}

/// `buy_refresh_coin()`: as `buy_refresh_diamond`, for the coin store (paid in diamonds).
pub fn buy_refresh_coin(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    buy_refresh(ctx, player, Kind::Coin)
}

/// `buy_refresh_gift()`: as `buy_refresh_diamond`, for the gift store (paid in diamonds).
pub fn buy_refresh_gift(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    buy_refresh(ctx, player, Kind::Gift)
}

/// `single_pump_diamond()`: draws one cell not yet pulled and gives its item and
/// `reward`; the game day's first pull is free, the second half price, then a scroll 45 or
/// `qty` diamonds. Answers `remaining` and `reward` (item strings: the payment first),
/// `pid` and `constraint` `{limit, cooling}` (cheap pulls used, seconds to the next game
/// day).
pub fn single_pump_diamond(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    single_pump(ctx, player, Kind::Diamond)
}

/// `single_pump_coin()`: as `single_pump_diamond`, paid with a scroll 46 or `qty` coins
/// (one of the day's `daily_times`: 95 when none is left); `limit` is the pulls left.
pub fn single_pump_coin(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    single_pump(ctx, player, Kind::Coin)
}

/// `single_pump_gift()`: as `single_pump_diamond`, paid with `qty` friend gifts;
/// `constraint` `{cooling}` is the store's time left.
pub fn single_pump_gift(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    single_pump(ctx, player, Kind::Gift)
}

/// `dozen_pump_diamond()`: every cell not yet pulled at once, paid with that many scrolls
/// 45 or `qty` diamonds each (all or nothing), with `reward` for each (twice for a full
/// store); then the store refills. Answers `remaining`, `reward`, `pid` (the cells),
/// `refresh` (the new cells) and `constraint`.
pub fn dozen_pump_diamond(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    dozen_pump(ctx, player, Kind::Diamond)
}

/// `dozen_pump_coin()`: as `dozen_pump_diamond`, with scrolls 46 or coins (the cells paid
/// in coins use up the day's pulls: 95 when too few are left).
pub fn dozen_pump_coin(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    dozen_pump(ctx, player, Kind::Coin)
}

/// `dozen_pump_gift()`: as `dozen_pump_diamond`, with friend gifts.
pub fn dozen_pump_gift(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    dozen_pump(ctx, player, Kind::Gift)
}

/// `integral_convert()`: the next integral step the player's integral (item 44) reaches:
/// a role (status 0 unlocked; 1 its segments when it was unlocked already) answering
/// `acp`, `rid`, `star`, `remain_seg`, `reward_seg`; or at the last step the universal
/// segments for that much integral (status 2, `acp` 0, `iid`, `remain_v`, `reward_v`,
/// `integral`). 99 when no step is reached.
pub fn integral_convert(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let convert = Convert::from_config(ctx.config)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let integral = item::quantity(tx, world, uid, ITEM_GROUP, INTEGRAL)?;
        let acp = acp_of(tx, world, uid)?;
        let step = convert
            .next_step(acp, integral)
            .ok_or(IntegralStatus::Materials)?;
        let last = convert.steps.last().copied() == Some(step);
        let acp = if last { 0 } else { step };
        tx.exec_drop(
            "INSERT INTO summon_integral (world, unique_id, acp) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE acp = VALUES(acp)",
            (world, uid, acp),
        )?;
        if last {
            let price = Item {
                group: ITEM_GROUP,
                id: INTEGRAL,
                qty: u64::from(step),
            };
            item::spend(tx, world, uid, &[price])?;
            item::grant(tx, ctx.config, world, uid, &[convert.item])?;
            let it = convert.item;
            return Ok(Reply::with(
                IntegralStatus::Universal,
                data([
                    ("acp", 0.into()),
                    ("iid", it.id.into()),
                    (
                        "remain_v",
                        item::quantity(tx, world, uid, it.group, it.id)?.into(),
                    ),
                    ("reward_v", it.qty.into()),
                    (
                        "integral",
                        item::quantity(tx, world, uid, ITEM_GROUP, INTEGRAL)?.into(),
                    ),
                ]),
            ));
        }
        let rid = if step == convert.special_step {
            convert.special_role
        } else {
            convert.roles[ctx.rng.below(convert.roles.len() as u64) as usize]
        };
        let (unlocked, star, seg) =
            role::unlock_or_segments(tx, ctx.config, world, uid, rid, convert.duplicate_segments)?;
        let (status, reward_seg) = if unlocked {
            (IntegralStatus::Unlocked, 0)
        } else {
            (IntegralStatus::Segments, convert.duplicate_segments)
        };
        Ok(Reply::with(
            status,
            data([
                ("acp", step.into()),
                ("rid", rid.into()),
                ("star", star.into()),
                ("remain_seg", seg.into()),
                ("reward_seg", reward_seg.into()),
            ]),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn store(kind: Kind) -> Store {
        Store::from_config(&GameConfig::embedded(), kind).unwrap()
    }

    #[test]
    fn the_shipped_stores_are_the_originals() {
        let d = store(Kind::Diamond);
        assert_eq!((d.grid, d.qty, d.scroll), (12, 200, Some(45)));
        assert_eq!(d.daily_prices, [0, 100]);
        assert_eq!(
            (d.lifetime, d.refresh_cooling, d.refresh_qty),
            (48 * 3600, 3 * 3600, 50)
        );
        assert_eq!(d.reward, [Item::parse("3:44:5").unwrap()]);
        assert_eq!(
            (d.must.len(), d.other.len(), d.full_dozen_multiplier),
            (4, 6, 2)
        );
        let c = store(Kind::Coin);
        assert_eq!(
            (c.qty, c.scroll, c.daily_times, c.refresh_qty),
            (10_000, Some(46), Some(12), 20)
        );
        assert!(c.daily_prices.is_empty());
        let g = store(Kind::Gift);
        assert_eq!(
            (g.qty, g.scroll, g.daily_times, g.full_dozen_multiplier),
            (10, None, None, 1)
        );
        assert_eq!((g.must.len(), g.other.len()), (2, 2));
        let convert = Convert::from_config(&GameConfig::embedded()).unwrap();
        assert_eq!(convert.steps, [200, 400, 600, 800, 1000]);
        assert_eq!((convert.special_step, convert.special_role), (600, 403));
        assert_eq!(convert.roles, [301, 302, 303]);
        assert_eq!(convert.item.to_string(), "3:40:25");
        assert_eq!(convert.next_step(0, 199), None);
        assert_eq!(convert.next_step(0, 999), Some(200));
        assert_eq!(convert.next_step(200, 999), Some(400));
        assert_eq!(convert.next_step(800, 999), None);
        assert_eq!(convert.next_step(800, 1000), Some(1000));
    }

    #[test]
    fn broken_stores_are_refused() {
        let base = GameConfig::embedded();
        // summon.json with `patch` merged in (RFC 7396: null removes a key)
        fn merge(target: &mut Value, patch: &Value) {
            match (target, patch) {
                (Value::Object(t), Value::Object(p)) => {
                    for (k, v) in p {
                        if v.is_null() {
                            t.remove(k);
                        } else {
                            merge(t.entry(k.clone()).or_insert(Value::Null), v);
                        }
                    }
                }
                (t, p) => *t = p.clone(),
            }
        }
        let with = |patch: Value| {
            let mut file = base.file("summon").unwrap().clone();
            merge(&mut file, &patch);
            base.overlay(&json!({ "summon": file })).unwrap()
        };
        let c = with(json!({"resource": {"DIAMOND": null}}));
        assert_eq!(
            Store::from_config(&c, Kind::Diamond).unwrap_err(),
            SummonStatus::NoConfig.into()
        );
        for patch in [
            json!({"grid": 0}),
            json!({"grid": 3}),
            json!({"resource": {"COIN": {"must": {"goods": [{"gid": 0, "mid": [999], "qty": 1, "weight": 1}]}}}}),
            json!({"resource": {"COIN": {"must": {"goods": [{"gid": 1, "mid": [41], "qty": 1, "weight": 1}]}}}}),
            json!({"resource": {"COIN": {"other": {"goods": [{"gid": 3, "mid": [1], "qty": 1, "weight": 0}]}}}}),
            json!({"resource": {"COIN": {"other": {"goods": [{"gid": 3, "mid": [], "qty": 1, "weight": 1}]}}}}),
            json!({"resource": {"COIN": {"reward": ["3:24:1"]}}}),
        ] {
            let c = with(patch.clone());
            assert!(
                matches!(Store::from_config(&c, Kind::Coin), Err(FnError::Backend(_))),
                "{patch}"
            );
        }
    }

    #[test]
    fn a_new_store_has_every_must_entry_and_every_cell_once() {
        let rng = Rng::new(7);
        for kind in [Kind::Diamond, Kind::Coin, Kind::Gift] {
            let s = store(kind);
            for _ in 0..200 {
                let cells = fill(&rng, &s);
                let pids: Vec<u32> = cells.iter().map(|c| c.pid).collect();
                assert_eq!(pids, (0..12).collect::<Vec<_>>());
                for m in &s.must {
                    assert!(cells.iter().any(|c| c.item.group == m.gid
                        && m.mids.contains(&c.item.id)
                        && c.item.qty == m.qty
                        && c.wgt == m.weight));
                }
                assert!(cells.iter().all(|c| !c.bought));
            }
        }
    }

    #[test]
    fn a_pull_never_draws_a_bought_cell() {
        let rng = Rng::new(9);
        let mut cells = fill(&rng, &store(Kind::Diamond));
        for _ in 0..12 {
            let i = pick(&rng, &cells).unwrap();
            assert!(!cells[i].bought);
            cells[i].bought = true;
        }
        assert_eq!(pick(&rng, &cells), None, "nothing left");
    }

    /// A class of goods: entries of the same kind, qty, weight and ids draw alike (the
    /// coin store's `must` and `other` share one).
    type Class = (u32, u64, u64, Vec<u32>);

    fn class_of(g: &Goods) -> Class {
        let mut mids = g.mids.clone();
        mids.sort();
        (g.gid, g.qty, g.weight, mids)
    }

    fn label((gid, qty, weight, mids): &Class) -> String {
        let kind = match *gid {
            0 => "weapon seg",
            1 => "skill",
            2 => "role seg",
            _ => "item",
        };
        let tiers: std::collections::BTreeSet<u32> = mids
            .iter()
            .map(|m| if *gid == 0 || *gid == 2 { m / 100 } else { *m })
            .collect();
        let ids = if *gid == 0 || *gid == 2 {
            format!("tier {tiers:?}")
        } else if mids.len() > 4 {
            format!("{} ids", mids.len())
        } else {
            format!("{mids:?}")
        };
        format!("{kind} {ids} x{qty} w{weight}")
    }

    /// Exact chance of each class on the first pull of a new store: over every way the
    /// `other` cells can fall (each cell an entry chosen uniformly), the class's share of
    /// the store's weight.
    fn expected(s: &Store) -> BTreeMap<Class, f64> {
        let r = s.grid as usize - s.must.len();
        let n = s.other.len();
        let mut out: BTreeMap<Class, f64> = BTreeMap::new();
        let fact = |k: usize| (1..=k).map(|x| x as f64).product::<f64>();
        let mut counts = vec![0usize; n];
        fn compositions(
            i: usize,
            left: usize,
            counts: &mut Vec<usize>,
            f: &mut dyn FnMut(&[usize]),
        ) {
            if i + 1 == counts.len() {
                counts[i] = left;
                f(counts);
                return;
            }
            for c in 0..=left {
                counts[i] = c;
                compositions(i + 1, left - c, counts, f);
            }
        }
        compositions(0, r, &mut counts, &mut |counts| {
            let p = fact(r)
                / counts.iter().map(|c| fact(*c)).product::<f64>()
                / (n as f64).powi(r as i32);
            let mut weights: BTreeMap<Class, f64> = BTreeMap::new();
            for g in &s.must {
                *weights.entry(class_of(g)).or_default() += g.weight as f64;
            }
            for (g, c) in s.other.iter().zip(counts) {
                *weights.entry(class_of(g)).or_default() += g.weight as f64 * *c as f64;
            }
            let total: f64 = weights.values().sum();
            for (class, w) in weights {
                *out.entry(class).or_default() += p * w / total;
            }
        });
        out
    }

    /// Observed against expected within 5 binomial standard deviations; prints the table.
    fn check(
        title: &str,
        draws: u32,
        expected: &BTreeMap<String, f64>,
        seen: &BTreeMap<String, u32>,
    ) {
        eprintln!("{title}: {draws} draws");
        eprintln!(
            "  {:<44} {:>9} {:>9} {:>7} {:>6}",
            "class", "expected", "observed", "sigma", "dev"
        );
        let mut bad = Vec::new();
        for (name, p) in expected {
            let exp = f64::from(draws) * p;
            let sd = (exp * (1.0 - p)).sqrt();
            let got = f64::from(seen.get(name).copied().unwrap_or(0));
            let dev = if sd > 0.0 { (got - exp) / sd } else { 0.0 };
            eprintln!("  {name:<44} {exp:>9.1} {got:>9} {sd:>7.1} {dev:>+6.2}");
            if (got - exp).abs() > 5.0 * sd.max(0.5) {
                bad.push(name.clone());
            }
        }
        let unexpected: Vec<&String> = seen.keys().filter(|k| !expected.contains_key(*k)).collect();
        assert!(
            unexpected.is_empty(),
            "{title}: drawn but not expected: {unexpected:?}"
        );
        assert!(bad.is_empty(), "{title}: more than 5 sigma off: {bad:?}");
    }

    /// The first pull of a new store, thousands of times with a fixed seed, per goods
    /// class and per (kind, star tier) of what it gives, against the exact chances the
    /// config's weights make.
    #[test]
    fn pulls_follow_the_configs_weights() {
        let rng = Rng::new(20_240_301);
        let draws = 30_000u32;
        for kind in [Kind::Diamond, Kind::Coin, Kind::Gift] {
            let s = store(kind);
            let by_class = expected(&s);
            let total: f64 = by_class.values().sum();
            assert!((total - 1.0).abs() < 1e-9, "{total}");
            // the same chances per kind and tier of the item given
            let tier_of = |gid: u32, id: u32| match gid {
                0 => format!("weapon seg tier {}", id / 100),
                2 => format!("role seg tier {}", id / 100),
                1 => "skill".to_string(),
                _ => format!("item {id}"),
            };
            let mut by_tier: BTreeMap<String, f64> = BTreeMap::new();
            for ((gid, _, _, mids), p) in &by_class {
                for m in mids {
                    *by_tier.entry(tier_of(*gid, *m)).or_default() += p / mids.len() as f64;
                }
            }
            let goods: Vec<&Goods> = s.must.iter().chain(&s.other).collect();
            let mut seen_class: BTreeMap<String, u32> = BTreeMap::new();
            let mut seen_tier: BTreeMap<String, u32> = BTreeMap::new();
            for _ in 0..draws {
                let cells = fill(&rng, &s);
                let cell = &cells[pick(&rng, &cells).unwrap()];
                let g = goods
                    .iter()
                    .find(|g| {
                        g.gid == cell.item.group
                            && g.qty == cell.item.qty
                            && g.weight == cell.wgt
                            && g.mids.contains(&cell.item.id)
                    })
                    .expect("every cell comes from a goods entry");
                *seen_class.entry(label(&class_of(g))).or_default() += 1;
                *seen_tier
                    .entry(tier_of(cell.item.group, cell.item.id))
                    .or_default() += 1;
            }
            let by_label = by_class.iter().map(|(c, p)| (label(c), *p)).collect();
            check(
                &format!("{} store, first pull, per goods class", kind.key()),
                draws,
                &by_label,
                &seen_class,
            );
            check(
                &format!("{} store, first pull, per tier", kind.key()),
                draws,
                &by_tier,
                &seen_tier,
            );
        }
    }
}
