//! The package (the original's package.py): buying energy and coin cards with diamonds,
//! exchanging cards for resources, and using items (energy potions, universal segments,
//! skill scrolls). Numbers come from `package.json`. Each function pays and grants in one
//! transaction; a count must be from 1 to a bound, so no call gives something for nothing.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::{data, ok, Args, Context, FnError, Outcome, Player, Reply};
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::energy::{self, EnergyRules};
use crate::modules::enums::{
    BuyCoinStatus, BuyEnergyStatus, ExchangeCardStatus, SharedStatus, UseItemStatus,
};
use crate::modules::item::{self, Item};
use crate::modules::vip;

const ITEM_GROUP: u32 = 3;
const WEAPON_GROUP: u32 = 0;
const ROLE_GROUP: u32 = 2;
const DIAMOND: u32 = 5;
const COIN_CARD: u32 = 18;

fn package<'a>(ctx: &Context<'a>) -> Result<&'a Value, FnError> {
    ctx.config
        .file("package")
        .ok_or_else(|| FnError::Backend("game config package.json is missing".into()))
}

fn broken(what: &str) -> FnError {
    FnError::Backend(format!("game config package.json: {what} is broken"))
}

/// A number of `package.json` at `path`.
fn number(file: &Value, path: &[&str]) -> Result<u64, FnError> {
    path.iter()
        .try_fold(file, |v, key| v.get(*key))
        .and_then(Value::as_u64)
        .ok_or_else(|| broken(&path.join(".")))
}

fn item(group: u32, id: u32, qty: u64) -> Item {
    Item { group, id, qty }
}

/// `"g:i:n"` (n may be 0 in an answer, unlike [`Item`]).
fn text(group: u32, id: u32, qty: u64) -> String {
    format!("{group}:{id}:{qty}")
}

/// The diamonds of each energy purchase of a game day; its length is the daily limit.
fn energy_prices(file: &Value) -> Result<Vec<u64>, FnError> {
    file.get("buy_energy")
        .and_then(|b| b.get("diamonds"))
        .and_then(Value::as_array)
        .and_then(|l| l.iter().map(Value::as_u64).collect())
        .ok_or_else(|| broken("buy_energy.diamonds"))
}

/// Energy purchases the player has left today (`get_info_player`'s `bel`).
pub fn energy_purchases_left(
    ctx: &Context,
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<u64, FnError> {
    let prices = energy_prices(package(ctx)?)?;
    let used = daily::used(conn, world, uid, daily::PACKAGE_ENERGY, ctx.now())?;
    Ok((prices.len() as u64).saturating_sub(u64::from(used)))
}

/// `buy_energy()`: the day's next energy purchase (package.json `buy_energy`: the Nth of
/// a game day costs `diamonds[N-1]`, the list's length is the daily limit).
pub fn buy_energy(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let file = package(ctx)?;
    let prices = energy_prices(file)?;
    let amount = number(file, &["buy_energy", "energy"])?;
    let rules = EnergyRules::from_config(ctx);
    let now = ctx.now();
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        let used = daily::lock_used(tx, world, uid, daily::PACKAGE_ENERGY, now)?;
        let price = *prices
            .get(used as usize)
            .ok_or(BuyEnergyStatus::NoPurchasesLeft)?;
        if price > 0 {
            item::spend_or(
                tx,
                world,
                uid,
                &[item(ITEM_GROUP, DIAMOND, price)],
                BuyEnergyStatus::InsufficientDiamonds,
            )?;
        }
        let energy = energy::add(tx, rules, world, uid, now, amount)?;
        daily::set_used(tx, world, uid, daily::PACKAGE_ENERGY, now, used + 1)?;
        let diamonds = item::quantity(tx, world, uid, ITEM_GROUP, DIAMOND)?;
        let mut energy = energy.info(rules, now);
        energy["reward"] = amount.into();
        ok(data([
            ("diamond", json!({"remain": diamonds, "reward": price})),
            ("energy", energy),
            ("lim", (prices.len() - used as usize - 1).into()),
            ("cd", daily::seconds_to_next_day(now).into()),
        ]))
    })
}

/// `buy_coin(qty = 1)`: `qty` coin cards (3:18) for `diamonds_per_card` diamonds each;
/// `qty` from 1 to `max_qty`.
pub fn buy_coin(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let file = package(ctx)?;
    let per_card = number(file, &["buy_coin", "diamonds_per_card"])?;
    let max_qty = number(file, &["buy_coin", "max_qty"])?.min(i64::MAX as u64) as i64;
    let qty = match args.opt_int("qty")? {
        None => 1,
        Some(_) => args.int_in("qty", 1, max_qty)?,
    } as u64;
    let price = per_card
        .checked_mul(qty)
        .ok_or_else(|| broken("buy_coin"))?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        if price > 0 {
            item::spend_or(
                tx,
                world,
                uid,
                &[item(ITEM_GROUP, DIAMOND, price)],
                BuyCoinStatus::InsufficientDiamonds,
            )?;
        }
        item::grant(
            tx,
            ctx.config,
            world,
            uid,
            &[item(ITEM_GROUP, COIN_CARD, qty)],
        )?;
        let diamonds = item::quantity(tx, world, uid, ITEM_GROUP, DIAMOND)?;
        let cards = item::quantity(tx, world, uid, ITEM_GROUP, COIN_CARD)?;
        ok(data([
            (
                "remain",
                json!([
                    text(ITEM_GROUP, DIAMOND, diamonds),
                    text(ITEM_GROUP, COIN_CARD, cards)
                ]),
            ),
            (
                "reward",
                json!([
                    text(ITEM_GROUP, DIAMOND, price),
                    text(ITEM_GROUP, COIN_CARD, qty)
                ]),
            ),
        ]))
    })
}

/// `exchange_card(cid, qty = 1)`: `qty` cards `cid` for player level × `bnum` × `qty` of
/// the card's item (package.json `exchange_card`); the VIP exp card gives VIP experience.
pub fn exchange_card(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let cid = args.int("cid")?;
    let qty = args.opt_int("qty")?.unwrap_or(1);
    let file = package(ctx)?;
    let cid = u32::try_from(cid)
        .ok()
        .filter(|c| item::max_of(ctx.config, ITEM_GROUP, *c).is_some())
        .ok_or(ExchangeCardStatus::UnknownItem)?;
    let card = file
        .get("exchange_card")
        .and_then(|c| c.get(item::enum_name(ctx.config, ITEM_GROUP, cid)?))
        .ok_or(ExchangeCardStatus::NotACard)?;
    match (
        card.get("sqltable").and_then(Value::as_str),
        card.get("mid").and_then(Value::as_str),
    ) {
        (Some("item"), _) => {}
        (Some("progress"), Some("vipexp")) => return exchange_vip_exp(ctx, player, cid, card, qty),
        _ => return Err(ExchangeCardStatus::UnsupportedTarget.into()),
    }
    let mid = card
        .get("mid")
        .and_then(Value::as_u64)
        .and_then(|m| u32::try_from(m).ok())
        .ok_or_else(|| broken("exchange_card.mid"))?;
    let (bnum, qty) = card_terms(card, qty)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        // The cards first: a count above what the caller has is refused before any sum.
        spend_cards(tx, world, uid, cid, qty)?;
        let (level, exp): (u64, u64) = tx
            .exec_first(
                "SELECT level, exp FROM players WHERE world = ? AND unique_id = ?",
                (world, uid),
            )?
            .ok_or_else(|| FnError::from(SharedStatus::NoPlayer))?;
        let granted = level
            .checked_mul(bnum)
            .and_then(|n| n.checked_mul(qty))
            .ok_or(ExchangeCardStatus::InvalidQuantity)?;
        if granted > 0 {
            item::grant(
                tx,
                ctx.config,
                world,
                uid,
                &[item(ITEM_GROUP, mid, granted)],
            )?;
        }
        let total = item::quantity(tx, world, uid, ITEM_GROUP, mid)?;
        let cards = item::quantity(tx, world, uid, ITEM_GROUP, cid)?;
        ok(data([
            (
                "remaining",
                json!({"sql_table": "item", "mid": mid, "mnum": total, "cid": cid, "cnum": cards}),
            ),
            (
                "reward",
                json!({"sql_table": "item", "mid": mid, "mnum": granted, "cid": cid, "cnum": -(qty as i64)}),
            ),
            (
                "exp_info",
                json!({"exp": exp, "level": level, "need": 0, "reward": 0}),
            ),
        ]))
    })
}

/// An exchange card's `bnum` (what one card gives) and the count asked for, which must be
/// positive.
fn card_terms(card: &Value, qty: i64) -> Result<(u64, u64), FnError> {
    let bnum = card
        .get("bnum")
        .and_then(Value::as_u64)
        .ok_or_else(|| broken("exchange_card.bnum"))?;
    if qty <= 0 {
        return Err(ExchangeCardStatus::InvalidQuantity.into());
    }
    Ok((bnum, qty as u64))
}

/// Takes `qty` of the exchange card `cid`; too few: `InsufficientCards`, nothing taken.
fn spend_cards(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    cid: u32,
    qty: u64,
) -> Result<(), FnError> {
    let cards = [item(ITEM_GROUP, cid, qty)];
    item::spend_or(
        tx,
        world,
        uid,
        &cards,
        ExchangeCardStatus::InsufficientCards,
    )
}

/// `exchange_card` of the VIP exp card: `qty` cards for VIP experience (see
/// [`vip::exchange_exp_cards`]); `exp_info` is the VIP's.
fn exchange_vip_exp(ctx: &Context, player: &Player, cid: u32, card: &Value, qty: i64) -> Outcome {
    let (bnum, qty) = card_terms(card, qty)?;
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, uid)?;
        spend_cards(tx, world, uid, cid, qty)?;
        let (info, given) = vip::exchange_exp_cards(tx, ctx.config, world, uid, bnum, qty)?;
        let cards = item::quantity(tx, world, uid, ITEM_GROUP, cid)?;
        ok(data([
            (
                "remaining",
                json!({"sql_table": "progress", "mid": "vipexp", "mnum": info.exp, "cid": cid, "cnum": cards}),
            ),
            (
                "reward",
                json!({"sql_table": "progress", "mid": "vipexp", "mnum": given, "cid": cid, "cnum": -(qty as i64)}),
            ),
            ("exp_info", info.to_json(given)),
        ]))
    })
}

/// The `"g:i:n"` argument `name`: three integers (n may be anything here; callers bound
/// it). Malformed: 13 naming the argument.
fn triple(args: &Args, name: &str) -> Result<(i64, i64, i64), FnError> {
    let value = args.str(name)?;
    let malformed = || FnError::Malformed(format!("`{name}` must be \"<group>:<id>:<quantity>\""));
    let mut parts = value.split(':').map(|p| p.parse::<i64>());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Ok(g)), Some(Ok(i)), Some(Ok(n)), None) => Ok((g, i, n)),
        _ => Err(malformed()),
    }
}

/// What using an item does, from package.json.
enum Use {
    /// Energy per item.
    Energy(u64),
    /// Segments per item, of a random one of these weapons (group 0) or roles (group 2).
    Random { group: u32, ids: Vec<u32>, per: u64 },
    /// Segments per item of a chosen weapon or role of this star tier.
    Chosen { tier: u32, per: u64 },
    /// Every three become one of this item.
    Scroll(u32),
}

/// What using item `key` (its enum name, as package.json names it) does.
fn kind_of(file: &Value, key: &str) -> Result<Option<Use>, FnError> {
    let rate = || number(file, &["exchange_item", key]);
    let ids = |table: &str| -> Option<Vec<u32>> {
        let list = file.get(table)?.get(key)?.as_array()?;
        list.iter()
            .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect()
    };
    if let Some(ids) = ids("weapon_universal") {
        return Ok(Some(Use::Random {
            group: WEAPON_GROUP,
            ids,
            per: rate()?,
        }));
    }
    if let Some(ids) = ids("role_universal") {
        return Ok(Some(Use::Random {
            group: ROLE_GROUP,
            ids,
            per: rate()?,
        }));
    }
    if let Some(tier) = file
        .get("universal")
        .and_then(|u| u.get(key))
        .and_then(Value::as_u64)
    {
        return Ok(Some(Use::Chosen {
            tier: tier as u32,
            per: rate()?,
        }));
    }
    if let Some(next) = file
        .get("scroll_upgrade")
        .and_then(|u| u.get(key))
        .and_then(Value::as_u64)
    {
        return Ok(Some(Use::Scroll(next as u32)));
    }
    if file.get("exchange_item").and_then(|e| e.get(key)).is_some() {
        return Ok(Some(Use::Energy(rate()?)));
    }
    Ok(None)
}

/// `use_item(item_id, exchange_id = "")`: uses `n` of item `3:<i>` (`item_id` "3:i:n", n
/// from 1 to `max_use_qty`). Status by what it became: 0 energy, 1 weapon segments, 2 role
/// segments, 3 segments of the weapon or role named by `exchange_id` (`"0:<wid>:0"` or
/// `"2:<rid>:0"`), 4 skill scrolls.
pub fn use_item(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let (g, i, n) = triple(args, "item_id")?;
    let file = package(ctx)?;
    let max_qty = file
        .get("max_use_qty")
        .and_then(Value::as_u64)
        .unwrap_or(100_000) as i64;
    if g != i64::from(ITEM_GROUP) {
        return Err(UseItemStatus::NotAnItem.into());
    }
    if n < 1 || n > max_qty {
        return Err(FnError::Malformed(format!(
            "`item_id` quantity must be from 1 to {max_qty}"
        )));
    }
    let iid = u32::try_from(i).map_err(|_| FnError::from(UseItemStatus::NotUsable))?;
    let n = n as u64;
    let key = item::enum_name(ctx.config, ITEM_GROUP, iid).ok_or(UseItemStatus::NotUsable)?;
    let kind = kind_of(file, &key)?.ok_or(UseItemStatus::NotUsable)?;
    let target = match &kind {
        Use::Scroll(_) if n % 3 != 0 => return Err(UseItemStatus::ScrollMultiple.into()),
        Use::Chosen { tier, .. } => {
            let (eg, ei, _) = triple(args, "exchange_id")?;
            let group = match eg {
                0 => WEAPON_GROUP,
                2 => ROLE_GROUP,
                _ => return Err(UseItemStatus::Mismatch.into()),
            };
            let id = u32::try_from(ei)
                .ok()
                .filter(|id| id / 100 == *tier && (1..=10).contains(&(id % 100)))
                .filter(|id| item::max_of(ctx.config, group, *id).is_some())
                .ok_or(UseItemStatus::Mismatch)?;
            Some((group, id))
        }
        _ => None,
    };
    let rules = EnergyRules::from_config(ctx);
    let now = ctx.now();
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    transaction(ctx.db, |tx| {
        // The player's row before the items: energy takes it too, in this order.
        daily::lock_player(tx, world, uid)?;
        item::spend_or(
            tx,
            world,
            uid,
            &[item(ITEM_GROUP, iid, n)],
            UseItemStatus::NotEnough,
        )?;
        let left = item::quantity(tx, world, uid, ITEM_GROUP, iid)?;
        let used = text(ITEM_GROUP, iid, left);
        let spent = text(ITEM_GROUP, iid, n);
        let (status, eitem) = match kind {
            Use::Energy(per) => {
                let amount = per.saturating_mul(n);
                let e = energy::add(tx, rules, world, uid, now, amount)?.info(rules, now);
                return ok(data([
                    (
                        "remaining",
                        json!({"item": used, "energy": e["energy"], "cooling_time": e["cooling_time"]}),
                    ),
                    ("reward", json!({"item": spent, "energy": amount})),
                ]));
            }
            Use::Random { group, ids, per } => {
                if ids.is_empty() {
                    return Err(broken("universal segment targets"));
                }
                let id = ids[ctx.rng.below(ids.len() as u64) as usize];
                let status = if group == WEAPON_GROUP {
                    UseItemStatus::WeaponSegments
                } else {
                    UseItemStatus::RoleSegments
                };
                (status, item(group, id, per.saturating_mul(n)))
            }
            Use::Chosen { per, .. } => {
                let (group, id) = target.expect("checked above");
                (
                    UseItemStatus::ChosenSegments,
                    item(group, id, per.saturating_mul(n)),
                )
            }
            Use::Scroll(next) => (UseItemStatus::Scroll, item(ITEM_GROUP, next, n / 3)),
        };
        if eitem.qty > 0 {
            item::grant(tx, ctx.config, world, uid, &[eitem])?;
        }
        let total = item::quantity(tx, world, uid, eitem.group, eitem.id)?;
        Ok(Reply::with(
            status,
            data([
                (
                    "remaining",
                    json!({"item": used, "eitem": text(eitem.group, eitem.id, total)}),
                ),
                ("reward", json!({"item": spent, "eitem": eitem.to_string()})),
            ]),
        ))
    })
}
