//! The dark market (the original's darkmarket.py): a grid of offers per player, drawn from
//! `player.json`'s `dark_market` (the section the original's code read; clients read it too,
//! through `get_player_config`), bought once each, replaced by a refresh.
//!
//! An offer: a tier drawn by `weights` over `names` (T1..T4), a good drawn uniformly from
//! that tier's list, a currency drawn uniformly from the good's price table, a multiple
//! uniformly in `multiple_min..=multiple_max`, then the quantity uniformly in
//! `quantity_min × m ..= quantity_max × m` and the price in `cost_range_min × m ..=
//! cost_range_max × m` of item `3:<cid[currency]>`. Goods: `"<item id>"` (group 3, its
//! price table in `items`), `"W<id>"` / `"R<id>"` (weapon / role segments, groups 0 and 2,
//! priced by `segment."W4"` etc.: the letter and the star tier), `"S<id>"` (a skill,
//! learned at level 1, priced by `skill`, quantity 1, no multiple).
//!
//! Refreshes (the original's timer and limit): `refreshable` free refreshes at most
//! (`constraint.refreshable`); each whole `refresh_hours` since the period's start gives
//! one back and draws new offers (when the player looks); while all are there the period
//! starts again at every look. Without a free refresh, one costs `refresh_store.diamond`.
//! Every read-and-change runs in one transaction that locks the player's row first.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::{data, Args, Context, FnError, Outcome, Player, Reply, Rng};
use crate::game_config::GameConfig;
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{GetMarketStatus, MarketBuyStatus, RefreshMarketStatus};
use crate::modules::item::{self, Item};
use crate::modules::skill;

/// Item groups the market sells (the original's `Group`).
const WEAPON: u32 = 0;
const SKILL: u32 = 1;
const ROLE: u32 = 2;
const ITEM: u32 = 3;

/// Weights are fractions (0.4, 0.3, ...); drawn as integers of this scale.
const WEIGHT_SCALE: f64 = 1_000_000.0;
/// The largest number a price table may hold (multiples, quantities, costs), so products
/// stay far inside `i64`.
const MAX_NUMBER: u64 = 1_000_000_000;
/// The most slots a grid may have.
const MAX_GRID: u64 = 100;

/// One currency a good is sold for, and the ranges its numbers are drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// The currency: item `3:<cid>`.
    pub cid: u32,
    pub multiple: (u64, u64),
    pub quantity: (u64, u64),
    pub cost: (u64, u64),
}

/// A good of a tier: `gid`:`mid` (group 1 is a skill id), with its prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goods {
    /// The config's name of it (`"18"`, `"W401"`, `"R405"`, `"S3"`).
    pub key: String,
    pub gid: u32,
    pub mid: u32,
    pub prices: Vec<Price>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    /// The tier's weight, scaled to an integer.
    pub weight: u64,
    pub goods: Vec<Goods>,
}

/// `player.json`'s `dark_market`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    pub tiers: Vec<Tier>,
    /// Offers per market (`constraint.grid`).
    pub grid: u32,
    /// Most free refreshes (`constraint.refreshable`).
    pub refreshable: u32,
    /// Seconds of a refresh period (`constraint.refresh_hours` × 3600).
    pub period: i64,
    /// What a paid refresh costs (`refresh_store.diamond` of `3:<cid.diamond>`).
    pub refresh_cost: Item,
}

/// One drawn offer, and the tier it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub pid: u32,
    pub gid: u32,
    pub mid: u32,
    pub qty: u64,
    pub cid: u32,
    pub amt: u64,
    pub tier: usize,
}

fn broken(what: impl std::fmt::Display) -> FnError {
    FnError::Backend(format!("player.json dark_market: {what}"))
}

fn number(value: Option<&Value>, what: &str, min: u64, max: u64) -> Result<u64, FnError> {
    value
        .and_then(Value::as_u64)
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| broken(format_args!("{what} must be a whole number {min}..={max}")))
}

fn range(table: &Value, name: &str, what: &str) -> Result<(u64, u64), FnError> {
    let min = number(
        table.get(format!("{name}_min")),
        &format!("{what}.{name}_min"),
        1,
        MAX_NUMBER,
    )?;
    let max = number(
        table.get(format!("{name}_max")),
        &format!("{what}.{name}_max"),
        min,
        MAX_NUMBER,
    )?;
    Ok((min, max))
}

impl Market {
    /// The market of `config`; a missing or broken section answers 16 (a deployment fault,
    /// logged), never a half-drawn market.
    pub fn from_config(config: &GameConfig) -> Result<Market, FnError> {
        let dm = config
            .file("player")
            .and_then(|p| p.get("dark_market"))
            .ok_or_else(|| broken("missing"))?;
        let cids = dm
            .get("cid")
            .and_then(Value::as_object)
            .ok_or_else(|| broken("cid is missing"))?;
        let cid_of = |currency: &str| -> Result<u32, FnError> {
            number(
                cids.get(currency),
                &format!("cid.{currency}"),
                1,
                u32::MAX.into(),
            )
            .map(|n| n as u32)
        };
        // `{currency: {ranges}}` -> prices; skills have no multiple nor quantity.
        let prices =
            |table: Option<&Value>, what: &str, skill: bool| -> Result<Vec<Price>, FnError> {
                let table = table
                    .and_then(Value::as_object)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| broken(format_args!("{what} has no prices")))?;
                table
                    .iter()
                    .map(|(currency, ranges)| {
                        let what = format!("{what}.{currency}");
                        Ok(Price {
                            cid: cid_of(currency)?,
                            multiple: if skill {
                                (1, 1)
                            } else {
                                range(ranges, "multiple", &what)?
                            },
                            quantity: if skill {
                                (1, 1)
                            } else {
                                range(ranges, "quantity", &what)?
                            },
                            cost: range(ranges, "cost_range", &what)?,
                        })
                    })
                    .collect()
            };
        let goods = |key: &str| -> Result<Goods, FnError> {
            let id = |digits: &str| -> Result<u32, FnError> {
                (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| digits.parse().ok())
                    .flatten()
                    .ok_or_else(|| broken(format_args!("unknown good {key:?}")))
            };
            let (gid, mid, prices) = match key.as_bytes().first() {
                Some(b'W' | b'R') => {
                    let mid = id(&key[1..])?;
                    let pre = key.get(..2).unwrap_or(key);
                    let table = dm.get("segment").and_then(|s| s.get(pre));
                    let gid = if key.starts_with('W') { WEAPON } else { ROLE };
                    (gid, mid, prices(table, &format!("segment.{pre}"), false)?)
                }
                Some(b'S') => (
                    SKILL,
                    id(&key[1..])?,
                    prices(dm.get("skill"), "skill", true)?,
                ),
                _ => {
                    let mid = id(key)?;
                    let table = dm.get("items").and_then(|i| i.get(key));
                    (ITEM, mid, prices(table, &format!("items.{key}"), false)?)
                }
            };
            Ok(Goods {
                key: key.to_string(),
                gid,
                mid,
                prices,
            })
        };

        let names = dm
            .get("names")
            .and_then(Value::as_array)
            .ok_or_else(|| broken("names is missing"))?;
        let weights = dm
            .get("weights")
            .and_then(Value::as_array)
            .filter(|w| w.len() == names.len())
            .ok_or_else(|| broken("weights must have one weight per name"))?;
        let mut tiers = Vec::with_capacity(names.len());
        for (name, weight) in names.iter().zip(weights) {
            let name = name
                .as_str()
                .ok_or_else(|| broken("names must be strings"))?;
            let weight = weight
                .as_f64()
                .filter(|w| w.is_finite() && (0.0..=1e6).contains(w))
                .ok_or_else(|| broken(format_args!("the weight of {name} is no weight")))?;
            let list = dm
                .get(name)
                .and_then(Value::as_array)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| broken(format_args!("tier {name} lists no goods")))?;
            let goods = list
                .iter()
                .map(|k| goods(k.as_str().ok_or_else(|| broken("goods must be strings"))?))
                .collect::<Result<Vec<_>, _>>()?;
            tiers.push(Tier {
                name: name.to_string(),
                weight: (weight * WEIGHT_SCALE).round() as u64,
                goods,
            });
        }
        if tiers.iter().all(|t| t.weight == 0) {
            return Err(broken("no tier has a weight"));
        }
        let constraint = dm.get("constraint");
        let field = |name: &str| constraint.and_then(|c| c.get(name));
        let grid = number(field("grid"), "constraint.grid", 1, MAX_GRID)? as u32;
        let refreshable = number(
            field("refreshable"),
            "constraint.refreshable",
            0,
            u32::MAX.into(),
        )? as u32;
        let hours = field("refresh_hours")
            .and_then(Value::as_f64)
            .filter(|h| h.is_finite() && *h > 0.0 && *h <= 1e5)
            .ok_or_else(|| broken("constraint.refresh_hours must be positive"))?;
        let period = ((hours * 3600.0).round() as i64).max(1);
        let cost = number(
            dm.get("refresh_store").and_then(|r| r.get("diamond")),
            "refresh_store.diamond",
            1,
            MAX_NUMBER,
        )?;
        Ok(Market {
            tiers,
            grid,
            refreshable,
            period,
            refresh_cost: Item {
                group: ITEM,
                id: cid_of("diamond")?,
                qty: cost,
            },
        })
    }

    /// A new grid of offers, drawn from `rng`.
    pub fn draw(&self, rng: &Rng) -> Vec<Offer> {
        let weights: Vec<u64> = self.tiers.iter().map(|t| t.weight).collect();
        let between = |(lo, hi): (u64, u64)| lo + rng.below(hi - lo + 1);
        (0..self.grid)
            .map(|pid| {
                let tier = rng.weighted(&weights).expect("a tier has a weight");
                let goods = &self.tiers[tier].goods;
                let goods = &goods[rng.below(goods.len() as u64) as usize];
                let price = &goods.prices[rng.below(goods.prices.len() as u64) as usize];
                let m = between(price.multiple);
                Offer {
                    pid,
                    gid: goods.gid,
                    mid: goods.mid,
                    // Each bound at most MAX_NUMBER², far inside u64.
                    qty: between((price.quantity.0 * m, price.quantity.1 * m)),
                    cid: price.cid,
                    amt: between((price.cost.0 * m, price.cost.1 * m)),
                    tier,
                }
            })
            .collect()
    }
}

/// The free-refresh clock: the running period's start and the free refreshes left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshes {
    pub at: i64,
    pub left: u32,
}

impl Refreshes {
    /// The clock at `now` (the original's rule): each whole period since `at` gives a free
    /// refresh back, up to the most; reaching the most (or being there) starts the period
    /// at `now`. Also answers whether a period passed, which draws new offers.
    pub fn settle(self, market: &Market, now: i64) -> (Refreshes, bool) {
        let most = market.refreshable;
        let periods = if now > self.at {
            (now - self.at) / market.period
        } else {
            0
        };
        let mut next = Refreshes {
            at: self.at,
            left: self.left.min(most),
        };
        if periods > 0 {
            let gained = u32::try_from(periods).unwrap_or(u32::MAX);
            if next.left.saturating_add(gained) >= most {
                next.left = most;
            } else {
                next.left += gained;
                next.at += periods * market.period;
            }
        }
        if next.left == most {
            next.at = now;
        }
        (next, periods > 0)
    }

    /// Seconds until the next period ends (the original's `refresh_time`), 0..=period.
    pub fn countdown(self, market: &Market, now: i64) -> i64 {
        (market.period - (now - self.at)).clamp(0, market.period)
    }
}

fn read_refreshes(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
) -> Result<Option<Refreshes>, FnError> {
    let row: Option<(i64, u32)> = tx.exec_first(
        "SELECT refreshed_at, refreshable FROM dark_market \
         WHERE world = ? AND unique_id = ? FOR UPDATE",
        (world, uid),
    )?;
    Ok(row.map(|(at, left)| Refreshes { at, left }))
}

fn save_refreshes(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    r: Refreshes,
) -> Result<(), FnError> {
    tx.exec_drop(
        "INSERT INTO dark_market (world, unique_id, refreshed_at, refreshable) \
         VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
         refreshed_at = VALUES(refreshed_at), refreshable = VALUES(refreshable)",
        (world, uid, r.at, r.left),
    )?;
    Ok(())
}

/// Replaces the player's offers with `offers` (none of them bought).
fn restock(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    offers: &[Offer],
) -> Result<(), FnError> {
    tx.exec_drop(
        "DELETE FROM dark_market_offers WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    tx.exec_batch(
        "INSERT INTO dark_market_offers (world, unique_id, pid, gid, mid, qty, cid, amt) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        offers
            .iter()
            .map(|o| (world, uid, o.pid, o.gid, o.mid, o.qty, o.cid, o.amt)),
    )?;
    Ok(())
}

/// A stored offer: (pid, gid, mid, qty, cid, amt, bought).
type Row = (u32, u32, u32, u64, u32, u64, bool);

/// `amt` as answered: a bought offer's is negative, as the original's clients read it.
fn shown_amt(amt: u64, bought: bool) -> i64 {
    let amt = i64::try_from(amt).unwrap_or(i64::MAX);
    if bought {
        -amt
    } else {
        amt
    }
}

/// The player's offers, `[{pid, gid, mid, qty, cid, amt}]` in slot order.
fn offers(tx: &mut mysql::Transaction<'_>, world: &str, uid: &str) -> Result<Value, FnError> {
    let rows: Vec<Row> = tx.exec(
        "SELECT pid, gid, mid, qty, cid, amt, bought FROM dark_market_offers \
         WHERE world = ? AND unique_id = ? ORDER BY pid",
        (world, uid),
    )?;
    Ok(Value::from(
        rows.into_iter()
            .map(|(pid, gid, mid, qty, cid, amt, bought)| {
                json!({"pid": pid, "gid": gid, "mid": mid, "qty": qty, "cid": cid,
                       "amt": shown_amt(amt, bought)})
            })
            .collect::<Vec<_>>(),
    ))
}

/// `get_all_market()`: the player's offers, the first ones drawn at the first visit and new
/// ones when a refresh period passed (status 0 "Dark market refreshed successfully"),
/// otherwise those drawn before (status 1). `dark_markets`, `refresh_time` (seconds to the
/// period's end), `refreshable` (free refreshes left), `config.refresh_diamond`.
pub fn get_all_market(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let market = Market::from_config(ctx.config)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let (refreshes, drawn) = match read_refreshes(tx, world, uid)? {
            None => (
                Refreshes {
                    at: now,
                    left: market.refreshable,
                },
                true,
            ),
            Some(stored) => stored.settle(&market, now),
        };
        if drawn {
            restock(tx, world, uid, &market.draw(&ctx.rng))?;
        }
        save_refreshes(tx, world, uid, refreshes)?;
        let status = if drawn {
            GetMarketStatus::Refreshed
        } else {
            GetMarketStatus::Unchanged
        };
        Ok(Reply::with(
            status,
            data([
                ("dark_markets", offers(tx, world, uid)?),
                ("refresh_time", refreshes.countdown(&market, now).into()),
                ("refreshable", refreshes.left.into()),
                (
                    "config",
                    json!({"refresh_diamond": market.refresh_cost.qty}),
                ),
            ]),
        ))
    })
}

/// `refresh_market()`: new offers, for a free refresh while one is left, else for
/// `refresh_store.diamond` diamonds. The elapsed periods are counted first (as
/// `get_all_market` does). `dark_markets`, `diamond` `{remaining, reward}` (reward 0 or
/// minus the price), `refresh_time`, `refreshable`, `refresh_diamond`.
pub fn refresh_market(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let market = Market::from_config(ctx.config)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    let cost = market.refresh_cost;
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let stored = read_refreshes(tx, world, uid)?.ok_or(RefreshMarketStatus::NotYet)?;
        let (mut refreshes, _) = stored.settle(&market, now);
        let paid = if refreshes.left > 0 {
            refreshes.left -= 1;
            0
        } else {
            item::spend_or(tx, world, uid, &[cost], RefreshMarketStatus::Diamonds)?;
            cost.qty
        };
        restock(tx, world, uid, &market.draw(&ctx.rng))?;
        save_refreshes(tx, world, uid, refreshes)?;
        let diamonds = item::quantity(tx, world, uid, cost.group, cost.id)?;
        Ok(Reply::with(
            RefreshMarketStatus::Refreshed,
            data([
                ("dark_markets", offers(tx, world, uid)?),
                (
                    "diamond",
                    json!({"remaining": diamonds, "reward": -(paid as i64)}),
                ),
                ("refresh_time", refreshes.countdown(&market, now).into()),
                ("refreshable", refreshes.left.into()),
                ("refresh_diamond", cost.qty.into()),
            ]),
        ))
    })
}

/// `darkmarket_transaction(pid)`: buys the offer in slot `pid`, once: pays `amt` of item
/// `3:<cid>` and grants `qty` of `gid`:`mid` (a skill: learns it) in one transaction.
/// `reward` `{pid, gid, mid, qty, cid, amt: -paid}` (the changes), `remaining` `{gid, mid,
/// qty: held now, cid, amt: currency left}`.
pub fn darkmarket_transaction(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let pid = args.int("pid")?;
    let market = Market::from_config(ctx.config)?;
    if pid < 0 || pid >= i64::from(market.grid) {
        return Err(MarketBuyStatus::BadPid.into());
    }
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        let row: Option<(u32, u32, u64, u32, u64, bool)> = tx.exec_first(
            "SELECT gid, mid, qty, cid, amt, bought FROM dark_market_offers \
             WHERE world = ? AND unique_id = ? AND pid = ? FOR UPDATE",
            (world, uid, pid),
        )?;
        let (gid, mid, qty, cid, amt, bought) = row.ok_or(MarketBuyStatus::NotYet)?;
        if bought {
            return Err(MarketBuyStatus::Sold.into());
        }
        let price = Item {
            group: ITEM,
            id: cid,
            qty: amt,
        };
        item::spend_or(tx, world, uid, &[price], MarketBuyStatus::Currency)?;
        let held = match gid {
            WEAPON | ROLE | ITEM => {
                item::grant(
                    tx,
                    ctx.config,
                    world,
                    uid,
                    &[Item {
                        group: gid,
                        id: mid,
                        qty,
                    }],
                )?;
                item::quantity(tx, world, uid, gid, mid)?
            }
            // Rolled back with the payment when already learned.
            SKILL if skill::learn(tx, world, uid, mid)? => qty,
            SKILL => return Err(MarketBuyStatus::HasSkill.into()),
            _ => return Err(MarketBuyStatus::BadGroup.into()),
        };
        tx.exec_drop(
            "UPDATE dark_market_offers SET bought = 1 WHERE world = ? AND unique_id = ? AND pid = ?",
            (world, uid, pid),
        )?;
        let left = item::quantity(tx, world, uid, ITEM, cid)?;
        let reward = json!({"pid": pid, "gid": gid, "mid": mid, "qty": qty, "cid": cid,
                            "amt": -shown_amt(amt, false)});
        Ok(Reply::with(
            MarketBuyStatus::Bought,
            data([
                ("reward", reward),
                (
                    "remaining",
                    json!({"gid": gid, "mid": mid, "qty": held, "cid": cid, "amt": left}),
                ),
            ]),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn shipped() -> Market {
        Market::from_config(&GameConfig::embedded()).unwrap()
    }

    /// The embedded config with `dark_market` changed by `change`.
    fn market_with(change: impl FnOnce(&mut Value)) -> Result<Market, FnError> {
        let config = GameConfig::embedded();
        let mut player = config.file("player").unwrap().clone();
        change(&mut player["dark_market"]);
        let config = config.overlay(&json!({ "player": player })).unwrap();
        Market::from_config(&config)
    }

    #[test]
    fn the_shipped_market_is_the_originals() {
        let m = shipped();
        assert_eq!((m.grid, m.refreshable, m.period), (9, 3, 3 * 3600));
        assert_eq!(m.refresh_cost.to_string(), "3:5:100");
        let names: Vec<_> = m
            .tiers
            .iter()
            .map(|t| (t.name.as_str(), t.weight))
            .collect();
        assert_eq!(
            names,
            [
                ("T1", 400_000),
                ("T2", 300_000),
                ("T3", 200_000),
                ("T4", 100_000)
            ]
        );
        let t4: Vec<_> = m.tiers[3].goods.iter().map(|g| (g.gid, g.mid)).collect();
        assert_eq!(
            t4,
            [
                (0, 401),
                (0, 402),
                (0, 405),
                (0, 506),
                (3, 41),
                (3, 42),
                (2, 506)
            ]
        );
        let w5 = &m.tiers[2].goods[1];
        assert_eq!(w5.key, "W501");
        assert_eq!(
            w5.prices,
            [Price {
                cid: 5,
                multiple: (2, 5),
                quantity: (1, 1),
                cost: (25, 25)
            }]
        );
        // every good is an item items.json defines (segments, items), so a purchase can
        // be granted
        let config = GameConfig::embedded();
        for goods in m.tiers.iter().flat_map(|t| &t.goods) {
            assert!(
                item::max_of(&config, goods.gid, goods.mid).is_some(),
                "{} is not an item",
                goods.key
            );
            for price in &goods.prices {
                assert!(item::max_of(&config, ITEM, price.cid).is_some());
            }
        }
    }

    #[test]
    fn a_broken_section_is_refused_whole() {
        type Change = fn(&mut Value);
        let cases: [(&str, Change); 9] = [
            ("unknown good", |d| d["T1"] = json!(["18", "X1"])),
            ("unpriced item", |d| d["T1"] = json!(["18", "43"])),
            ("empty tier", |d| d["T2"] = json!([])),
            ("weights short", |d| d["weights"] = json!([0.5, 0.5])),
            ("no weight", |d| d["weights"] = json!([0, 0, 0, 0])),
            ("min above max", |d| {
                d["items"]["18"]["diamond"]["cost_range_min"] = json!(301)
            }),
            ("zero cost", |d| {
                d["items"]["18"]["diamond"]["cost_range_min"] = json!(0)
            }),
            ("unknown currency", |d| d["cid"] = json!({"coin": 1})),
            ("no grid", |d| d["constraint"]["grid"] = json!(0)),
        ];
        for (what, change) in cases {
            assert!(
                matches!(market_with(change), Err(FnError::Backend(_))),
                "{what}"
            );
        }
        // a skill is priced by `skill`, without multiple or quantity
        let m = market_with(|d| d["T4"] = json!(["S7"])).unwrap();
        assert_eq!(m.tiers[3].goods[0].gid, SKILL);
        assert_eq!(
            m.tiers[3].goods[0].prices,
            [Price {
                cid: 5,
                multiple: (1, 1),
                quantity: (1, 1),
                cost: (50, 100)
            }]
        );
    }

    /// 5 binomial standard deviations of `n` draws of probability `p`.
    fn tolerance(n: f64, p: f64) -> f64 {
        5.0 * (n * p * (1.0 - p)).sqrt()
    }

    /// Many markets drawn with a fixed seed: tiers by `weights`, goods uniform within a
    /// tier, multiples uniform; each count within 5 binomial standard deviations.
    #[test]
    fn draws_follow_the_configs_weights() {
        let m = shipped();
        let rng = Rng::new(20_240_301);
        let markets = 20_000;
        let mut tiers = vec![0u64; m.tiers.len()];
        let mut goods: BTreeMap<(usize, u32, u32), u64> = BTreeMap::new();
        let mut segment_multiples: BTreeMap<u64, u64> = BTreeMap::new();
        for _ in 0..markets {
            let offers = m.draw(&rng);
            assert_eq!(offers.len(), 9);
            for (i, o) in offers.iter().enumerate() {
                assert_eq!(o.pid as usize, i);
                tiers[o.tier] += 1;
                *goods.entry((o.tier, o.gid, o.mid)).or_default() += 1;
                let g = m.tiers[o.tier]
                    .goods
                    .iter()
                    .find(|g| (g.gid, g.mid) == (o.gid, o.mid))
                    .unwrap();
                let p = &g.prices[0];
                assert!(
                    o.qty >= p.quantity.0 && o.qty <= p.quantity.1 * p.multiple.1,
                    "{o:?}"
                );
                assert!(o.amt >= p.cost.0 * p.multiple.0 && o.amt <= p.cost.1 * p.multiple.1);
                assert_eq!(o.cid, 5);
                // 4- and 5-star segments: quantity = the multiple, uniform in 2..=5
                if o.gid != ITEM && o.mid / 100 >= 4 {
                    assert_eq!(o.amt, o.qty * p.cost.0);
                    *segment_multiples.entry(o.qty).or_default() += 1;
                }
            }
        }
        let slots = f64::from(markets * 9);
        let total: u64 = m.tiers.iter().map(|t| t.weight).sum();
        let mut failures = Vec::new();
        eprintln!("dark market: {markets} markets x 9 slots = {slots} draws (seed 20240301)");
        eprintln!(
            "{:<8} {:>8} {:>10} {:>10} {:>8}",
            "tier", "p", "expected", "observed", "5 sd"
        );
        for (i, tier) in m.tiers.iter().enumerate() {
            let p = tier.weight as f64 / total as f64;
            let (expected, tol) = (slots * p, tolerance(slots, p));
            let seen = tiers[i] as f64;
            eprintln!(
                "{:<8} {:>8.4} {:>10.0} {:>10} {:>8.0}",
                tier.name, p, expected, seen, tol
            );
            if (seen - expected).abs() > tol {
                failures.push(format!("tier {}: {seen} vs {expected}", tier.name));
            }
        }
        eprintln!(
            "{:<8} {:>8} {:>10} {:>10} {:>8}",
            "good", "p", "expected", "observed", "5 sd"
        );
        for (i, tier) in m.tiers.iter().enumerate() {
            for g in &tier.goods {
                let p = tier.weight as f64 / total as f64 / tier.goods.len() as f64;
                let (expected, tol) = (slots * p, tolerance(slots, p));
                let seen = goods.get(&(i, g.gid, g.mid)).copied().unwrap_or(0) as f64;
                let name = format!("{}:{}", tier.name, g.key);
                eprintln!("{name:<8} {p:>8.4} {expected:>10.0} {seen:>10} {tol:>8.0}");
                if (seen - expected).abs() > tol {
                    failures.push(format!("{name}: {seen} vs {expected}"));
                }
            }
        }
        let segments: u64 = segment_multiples.values().sum();
        eprintln!(
            "{:<8} {:>8} {:>10} {:>10} {:>8}",
            "multiple", "p", "expected", "observed", "5 sd"
        );
        for k in 2..=5 {
            let (n, p) = (segments as f64, 0.25);
            let (expected, tol) = (n * p, tolerance(n, p));
            let seen = segment_multiples.get(&k).copied().unwrap_or(0) as f64;
            eprintln!(
                "{:<8} {p:>8.4} {expected:>10.0} {seen:>10} {tol:>8.0}",
                format!("x{k}")
            );
            if (seen - expected).abs() > tol {
                failures.push(format!("multiple {k}: {seen} vs {expected}"));
            }
        }
        assert_eq!(segment_multiples.len(), 4, "{segment_multiples:?}");
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn free_refreshes_come_back_one_a_period_up_to_the_most() {
        let m = shipped();
        let p = m.period;
        let t = 1_000_000;
        let at = |at, left| Refreshes { at, left };
        // full: the period starts again at every look, nothing is drawn before it passes
        assert_eq!(at(t, 3).settle(&m, t + p - 1), (at(t + p - 1, 3), false));
        assert_eq!(at(t, 3).settle(&m, t + p), (at(t + p, 3), true));
        // one used: back after a whole period; the next period continues from the last
        assert_eq!(at(t, 2).settle(&m, t + p - 1), (at(t, 2), false));
        assert_eq!(at(t, 0).settle(&m, t + p + 5), (at(t + p, 1), true));
        assert_eq!(at(t, 0).settle(&m, t + 2 * p + 5), (at(t + 2 * p, 2), true));
        // reaching the most restarts the period now
        assert_eq!(
            at(t, 1).settle(&m, t + 2 * p + 5),
            (at(t + 2 * p + 5, 3), true)
        );
        assert_eq!(
            at(t, 0).settle(&m, t + 1000 * p),
            (at(t + 1000 * p, 3), true)
        );
        // a clock that went back counts nothing
        assert_eq!(at(t, 1).settle(&m, t - 5), (at(t, 1), false));
        // more than the most (a lowered config) is the most
        assert_eq!(at(t, 9).settle(&m, t + 1), (at(t + 1, 3), false));
        assert_eq!(at(t, 1).countdown(&m, t + 600), p - 600);
        assert_eq!(at(t, 1).countdown(&m, t + 2 * p), 0);
        assert_eq!(at(t, 1).countdown(&m, t - 5), p);
    }
}
