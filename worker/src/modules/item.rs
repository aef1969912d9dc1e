//! Items: what a player holds, `"<group>:<item id>:<qty>"` on the wire. Every grant and
//! every spend of every module goes through [`grant`] and [`spend`], inside the caller's
//! transaction, so a cost and what it buys commit together or not at all.
//!
//! Grants above an item's `max` (items.json) are capped at the max, as docs/config.md
//! says. A spend that would go below zero changes nothing and answers 91.

use std::fmt;

use mysql::prelude::Queryable;
use serde_json::Value;

use crate::function::Context;
use crate::function::{data, ok, Args, FnError, ModuleStatus, Outcome, Player};
use crate::game_config::GameConfig;
use crate::modules::enums::SharedStatus;

/// `qty` of item `id` of item group `group`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    pub group: u32,
    pub id: u32,
    pub qty: u64,
}

/// Why an item string is not an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemError {
    /// Not three `:`-separated parts, or a part that is not a number.
    Malformed(String),
    /// A quantity of zero: nothing to grant or spend.
    ZeroQuantity(String),
    /// The group or item id is not in items.json.
    Unknown(Item),
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::Malformed(text) => {
                write!(f, "item {text:?} is not \"<group>:<item id>:<qty>\"")
            }
            ItemError::ZeroQuantity(text) => write!(f, "item {text:?} has a quantity of 0"),
            ItemError::Unknown(item) => {
                write!(f, "item {}:{} is not defined", item.group, item.id)
            }
        }
    }
}

impl std::error::Error for ItemError {}

impl From<ItemError> for FnError {
    fn from(e: ItemError) -> FnError {
        FnError::module(SharedStatus::InvalidItem, e.to_string())
    }
}

impl Item {
    /// Parses `"<group>:<item id>:<qty>"`: three unsigned decimal numbers, qty at least 1.
    pub fn parse(text: &str) -> Result<Item, ItemError> {
        let malformed = || ItemError::Malformed(text.to_string());
        let mut parts = text.split(':');
        let (Some(group), Some(id), Some(qty), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        // `u32::from_str` takes a leading `+`; the wire format has digits only.
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(group) && digits(id) && digits(qty)) {
            return Err(malformed());
        }
        let item = Item {
            group: group.parse().map_err(|_| malformed())?,
            id: id.parse().map_err(|_| malformed())?,
            qty: qty.parse().map_err(|_| malformed())?,
        };
        if item.qty == 0 {
            return Err(ItemError::ZeroQuantity(text.to_string()));
        }
        Ok(item)
    }

    /// Parses a JSON array of item strings (a request argument or a config value).
    pub fn parse_list(value: &Value) -> Result<Vec<Item>, ItemError> {
        let malformed = |v: &Value| ItemError::Malformed(v.to_string());
        value
            .as_array()
            .ok_or_else(|| malformed(value))?
            .iter()
            .map(|v| v.as_str().ok_or_else(|| malformed(v)).and_then(Item::parse))
            .collect()
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.group, self.id, self.qty)
    }
}

/// The argument `name` as a list of items: a missing or non-array argument answers 13, a
/// bad item string 92.
pub fn items_arg(args: &Args, name: &str) -> Result<Vec<Item>, FnError> {
    match args.0.get(name) {
        Some(value @ Value::Array(_)) => Ok(Item::parse_list(value)?),
        Some(_) => Err(FnError::Malformed(format!(
            "`{name}` must be an array of item strings"
        ))),
        None => Err(FnError::Malformed(format!("`{name}` is missing"))),
    }
}

/// The most a player may hold of `item` (items.json), or `None` when it is not defined.
pub fn max_of(config: &GameConfig, group: u32, id: u32) -> Option<u64> {
    definition(config, group, id)?.get("max")?.as_u64()
}

/// The original's name of an item (its enum name, e.g. `COIN_CARD` for 3:18): the key
/// the original's config files use for it.
pub fn enum_name(config: &GameConfig, group: u32, id: u32) -> Option<String> {
    let name = definition(config, group, id)?.get("name")?.as_str()?;
    Some(name.to_ascii_uppercase())
}

/// How many of `group:id` the player holds (0 without a row), in the caller's connection
/// or transaction.
pub fn quantity(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    group: u32,
    id: u32,
) -> Result<u64, FnError> {
    let qty: Option<u64> = conn.exec_first(
        "SELECT qty FROM items WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ?",
        (world, uid, group, id),
    )?;
    Ok(qty.unwrap_or(0))
}

/// The items.json entry of `group:id`.
fn definition(config: &GameConfig, group: u32, id: u32) -> Option<&Value> {
    config
        .file("items")?
        .get("groups")?
        .as_array()?
        .iter()
        .find(|g| g.get("id").and_then(Value::as_u64) == Some(u64::from(group)))?
        .get("items")?
        .as_array()?
        .iter()
        .find(|i| i.get("id").and_then(Value::as_u64) == Some(u64::from(id)))
}

/// Checks that every item is defined in items.json (answers 92 naming the first that is
/// not).
pub fn check_defined(config: &GameConfig, items: &[Item]) -> Result<(), FnError> {
    for item in items {
        if max_of(config, item.group, item.id).is_none() {
            return Err(ItemError::Unknown(*item).into());
        }
    }
    Ok(())
}

/// Items sorted by (group, id): every transaction locks item rows in the same order, so two
/// concurrent multi-item spends cannot deadlock on each other.
fn in_lock_order(items: &[Item]) -> Vec<Item> {
    let mut sorted = items.to_vec();
    sorted.sort();
    sorted
}

/// Adds `items` to `uid`'s holdings in `world`, each capped at its `max`. Every item must
/// be defined in items.json (92 otherwise, nothing granted). Runs in the caller's
/// transaction: an `Err` must roll it back.
pub fn grant(
    tx: &mut mysql::Transaction<'_>,
    config: &GameConfig,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<(), FnError> {
    check_defined(config, items)?;
    for item in in_lock_order(items) {
        let max = max_of(config, item.group, item.id).unwrap_or(0);
        // Capped before SQL too: `qty + ?` then stays far inside BIGINT UNSIGNED.
        let qty = item.qty.min(max);
        tx.exec_drop(
            "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES (?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE qty = LEAST(qty + VALUES(qty), ?)",
            (world, uid, item.group, item.id, qty, max),
        )?;
    }
    Ok(())
}

/// Takes `items` from `uid`'s holdings in `world`. When any would go below zero it answers
/// 91 naming that item; the caller's transaction must then roll back (returning the `Err`
/// from [`common::transaction`](crate::modules::common::transaction) does), so nothing is
/// spent. The check and the decrement are one `UPDATE`, so concurrent spends cannot both
/// pass the check.
pub fn spend(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<(), FnError> {
    for item in in_lock_order(items) {
        tx.exec_drop(
            "UPDATE items SET qty = qty - ? \
             WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ? AND qty >= ?",
            (item.qty, world, uid, item.group, item.id, item.qty),
        )?;
        if tx.affected_rows() == 0 {
            return Err(FnError::module(
                SharedStatus::NotEnoughItems,
                format!(
                    "not enough of item {}:{} (need {})",
                    item.group, item.id, item.qty
                ),
            ));
        }
    }
    Ok(())
}

/// Pays `price` (say a card's segments for a star up) out of the `held` the caller read in
/// this transaction: fewer held answers `short` and spends nothing; a price of 0 is free.
pub fn pay_from_held(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    price: Item,
    held: u64,
    short: impl ModuleStatus,
) -> Result<(), FnError> {
    if price.qty > held {
        return Err(short.into());
    }
    if price.qty > 0 {
        spend_or(tx, world, uid, &[price], short)?;
    }
    Ok(())
}

/// An item of group 3 as level-up answers show it: `{"iid": <id>, "value": <qty>}`.
pub(crate) fn iid_value(iid: u32, value: u64) -> Value {
    serde_json::json!({"iid": iid, "value": value})
}

/// Whether `e` is [`spend`]'s "not enough items" (nothing was spent).
pub fn is_short(e: &FnError) -> bool {
    matches!(e, FnError::Module { code, .. } if *code == SharedStatus::NotEnoughItems.code())
}

/// [`spend`], answering `short` (the function's own status for it, e.g. "insufficient
/// segments") instead of the shared "not enough items".
pub fn spend_or(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    items: &[Item],
    short: impl ModuleStatus,
) -> Result<(), FnError> {
    spend(tx, world, uid, items).map_err(|e| if is_short(&e) { short.into() } else { e })
}

/// What `uid` holds in `world`: every item with a quantity above zero, in (group, id)
/// order.
pub fn holdings(conn: &mut impl Queryable, world: &str, uid: &str) -> Result<Vec<Item>, FnError> {
    let rows: Vec<(u32, u32, u64)> = conn.exec(
        "SELECT grp, item_id, qty FROM items WHERE world = ? AND unique_id = ? AND qty > 0 \
         ORDER BY grp, item_id",
        (world, uid),
    )?;
    Ok(rows
        .into_iter()
        .map(|(group, id, qty)| Item { group, id, qty })
        .collect())
}

/// Item strings for an answer.
pub fn to_json(items: &[Item]) -> Value {
    Value::from(items.iter().map(Item::to_string).collect::<Vec<_>>())
}

/// `get_all_resource()`: `items`, `[{"iid","value"}]` for every item of group 3 (the
/// original's item table) the caller has a row of, zeros included, in id order.
pub fn get_all_resource(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(u32, u64)> = conn.exec(
        "SELECT item_id, qty FROM items WHERE world = ? AND unique_id = ? AND grp = 3 \
         ORDER BY item_id",
        (&player.world, &player.unique_id),
    )?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(iid, value)| serde_json::json!({"iid": iid, "value": value}))
        .collect();
    ok(data([("items", Value::from(items))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_strings_round_trip() {
        let item = Item::parse("3:5:100").unwrap();
        assert_eq!(
            item,
            Item {
                group: 3,
                id: 5,
                qty: 100
            }
        );
        assert_eq!(item.to_string(), "3:5:100");
        let big = Item::parse("0:6:18446744073709551615").unwrap();
        assert_eq!(big.qty, u64::MAX);
        assert_eq!(big.to_string(), "0:6:18446744073709551615");
    }

    #[test]
    fn bad_item_strings_say_why() {
        for bad in [
            "",
            "0:1",
            "0:1:2:3",
            "a:1:2",
            "0:-1:2",
            "3:5:+2",
            "0: 1:2",
            "3:5:18446744073709551616",
            "0:4294967296:1",
            "0::1",
        ] {
            assert_eq!(
                Item::parse(bad),
                Err(ItemError::Malformed(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(
            Item::parse("3:5:0"),
            Err(ItemError::ZeroQuantity("3:5:0".into()))
        );
        let e: FnError = Item::parse("x").unwrap_err().into();
        assert_eq!(
            e,
            FnError::module(
                SharedStatus::InvalidItem,
                "item \"x\" is not \"<group>:<item id>:<qty>\""
            )
        );
    }

    #[test]
    fn lists_parse_or_name_the_bad_entry() {
        let items = Item::parse_list(&json!(["3:1:5", "0:3:2"])).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].to_string(), "0:3:2");
        assert_eq!(
            Item::parse_list(&json!(["3:1:5", 7])),
            Err(ItemError::Malformed("7".into())),
            "the error names the bad entry"
        );
        assert!(Item::parse_list(&json!("3:1:5")).is_err());
        let map = json!({"items":"3:1:5"}).as_object().unwrap().clone();
        assert!(matches!(
            items_arg(&Args(&map), "items"),
            Err(FnError::Malformed(_))
        ));
        assert!(matches!(
            items_arg(&Args(&map), "gift"),
            Err(FnError::Malformed(_))
        ));
    }

    #[test]
    fn maxima_come_from_items_json() {
        let config = GameConfig::embedded();
        assert_eq!(max_of(&config, 3, 1), Some(999_999_999));
        assert_eq!(max_of(&config, 3, 10), Some(999));
        assert_eq!(max_of(&config, 0, 501), Some(9999));
        assert_eq!(max_of(&config, 0, 6), None);
        assert_eq!(max_of(&config, 3, 24), None);
        assert_eq!(max_of(&config, 7, 0), None);
        assert_eq!(enum_name(&config, 3, 18).as_deref(), Some("COIN_CARD"));
        assert_eq!(enum_name(&config, 3, 24), None);
        let unknown = Item::parse("3:24:1").unwrap();
        assert_eq!(
            check_defined(&config, &[unknown]).unwrap_err(),
            FnError::module(SharedStatus::InvalidItem, "item 3:24 is not defined")
        );
        assert!(check_defined(&config, &[Item::parse("3:5:1").unwrap()]).is_ok());
    }
}
