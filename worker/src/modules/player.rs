//! Players: one per (world, account), with an in-game name (`gn`) unique per world.
//! `create_player` grants the starting kit of `player.json` in the same transaction that
//! creates the player, so a player never exists without it.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::db::duplicate_key;
use crate::function::Context;
use crate::function::{data, ok, Account, Args, FnError, InWorld, Outcome};
use crate::modules::common::{no_player, player_name, transaction, uid_of_player};
use crate::modules::enums::PlayerStatus;
use crate::modules::item::{self, Item};

/// Longest name the `players.gn` column holds; a config asking for more is capped.
const NAME_COLUMN_CHARS: usize = 20;

fn status(s: PlayerStatus) -> FnError {
    FnError::from(s)
}

fn invalid_name(why: impl Into<String>) -> FnError {
    FnError::module(PlayerStatus::InvalidName, why)
}

/// The rules of `player.json`'s `name_rules`: length in characters, letters of any script
/// (`char::is_alphanumeric`: letters and digits), `_`, and no reserved word inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRules {
    pub min_chars: usize,
    pub max_chars: usize,
    /// Lowercase; refused when contained in the lowercased name.
    pub reserved_words: Vec<String>,
}

impl Default for NameRules {
    fn default() -> NameRules {
        NameRules {
            min_chars: 1,
            max_chars: NAME_COLUMN_CHARS,
            reserved_words: ["admin", "gm", "system", "lukseun"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl NameRules {
    /// Reads `name_rules`; a missing or mistyped field keeps its default. The charset is
    /// the code's (only `alphanumeric_underscore` exists).
    pub fn from_config(rules: Option<&Value>) -> NameRules {
        let mut out = NameRules::default();
        let Some(rules) = rules else { return out };
        let uint = |name: &str| rules.get(name).and_then(Value::as_u64);
        if let Some(n) = uint("min_chars") {
            out.min_chars = (n as usize).max(1);
        }
        if let Some(n) = uint("max_chars") {
            out.max_chars = (n as usize).min(NAME_COLUMN_CHARS);
        }
        if let Some(words) = rules.get("reserved_words").and_then(Value::as_array) {
            out.reserved_words = words
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect();
        }
        out
    }

    /// `Err` says which rule `name` breaks.
    pub fn check(&self, name: &str) -> Result<(), String> {
        let chars = name.chars().count();
        if chars < self.min_chars || chars > self.max_chars {
            return Err(format!(
                "gn must be {} to {} characters",
                self.min_chars, self.max_chars
            ));
        }
        if let Some(c) = name.chars().find(|&c| !(c.is_alphanumeric() || c == '_')) {
            return Err(format!(
                "gn may contain only letters, digits and _, not {c:?}"
            ));
        }
        let lower = name.to_lowercase();
        if let Some(word) = self.reserved_words.iter().find(|w| lower.contains(*w)) {
            return Err(format!("gn may not contain the reserved word {word:?}"));
        }
        Ok(())
    }
}

/// The parts of `player.json` the player functions use.
#[derive(Debug, Clone)]
struct PlayerConfig {
    starting_resources: Vec<Item>,
    starting_weapons: Vec<u32>,
    name_change_cost: Vec<Item>,
    names: NameRules,
}

fn player_config(ctx: &Context) -> Result<PlayerConfig, FnError> {
    let file = ctx.config.file("player");
    let broken = |why: String| FnError::Backend(format!("game config player.json: {why}"));
    let field = |name: &str| file.and_then(|f| f.get(name));
    let starting_resources = match field("starting_resources") {
        Some(list) => Item::parse_list(list).map_err(|e| broken(e.to_string()))?,
        None => Vec::new(),
    };
    let starting_weapons = match field("starting_weapons") {
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| broken("starting_weapons must be weapon ids".into()))?,
        Some(_) => return Err(broken("starting_weapons must be an array".into())),
        None => Vec::new(),
    };
    let name_change_cost = match field("name_change_cost") {
        Some(Value::String(cost)) => vec![Item::parse(cost).map_err(|e| broken(e.to_string()))?],
        Some(_) => return Err(broken("name_change_cost must be an item string".into())),
        None => Vec::new(),
    };
    Ok(PlayerConfig {
        starting_resources,
        starting_weapons,
        name_change_cost,
        names: NameRules::from_config(field("name_rules")),
    })
}

/// Maps a duplicate-key error of the players table to its status.
fn taken(e: mysql::Error) -> FnError {
    match duplicate_key(&e) {
        Some("PRIMARY") => status(PlayerStatus::PlayerExists),
        Some("players_gn") => status(PlayerStatus::NameTaken),
        _ => e.into(),
    }
}

/// `create_player(gn, icon)`: the caller's player in this world, with the starting
/// resources and weapons. Answers `unique_id`, `gn`, `icon`, `level`, `items`, `weapons`.
pub fn create_player(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let gn = args.str("gn")?;
    let icon = args.int("icon")?;
    let icon = i32::try_from(icon)
        .ok()
        .filter(|i| *i >= 0)
        .ok_or_else(|| FnError::Malformed("`icon` must be 0 to 2147483647".into()))?;
    let world = ctx.world()?;
    let uid = me.uid.as_str();
    let config = player_config(ctx)?;
    config.names.check(gn).map_err(invalid_name)?;
    transaction(ctx.db, |tx| {
        tx.exec_drop(
            "INSERT INTO players (world, unique_id, gn, icon) VALUES (?, ?, ?, ?)",
            (world, uid, gn, icon),
        )
        .map_err(taken)?;
        item::grant(tx, ctx.config, world, uid, &config.starting_resources)?;
        for weapon in &config.starting_weapons {
            tx.exec_drop(
                "INSERT INTO weapons (world, unique_id, weapon_id) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE weapon_id = weapon_id",
                (world, uid, weapon),
            )?;
        }
        Ok(())
    })?;
    let mut conn = ctx.db.conn()?;
    let items = item::holdings(&mut conn, world, uid)?;
    ok(data([
        ("unique_id", Value::from(uid)),
        ("gn", Value::from(gn)),
        ("icon", Value::from(icon)),
        ("level", Value::from(1)),
        ("items", item::to_json(&items)),
        ("weapons", Value::from(config.starting_weapons.clone())),
    ]))
}

/// `get_info_player()`: `unique_id`, `gn`, `icon`, `level` of the caller's player here.
pub fn get_info_player(ctx: &Context, me: &InWorld, _: &Args) -> Outcome {
    let world = ctx.world()?;
    let uid = me.uid.as_str();
    let mut conn = ctx.db.conn()?;
    let row: Option<(String, i32, i64)> = conn.exec_first(
        "SELECT gn, icon, level FROM players WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let (gn, icon, level) = row.ok_or_else(no_player)?;
    ok(data([
        ("unique_id", Value::from(uid)),
        ("gn", Value::from(gn)),
        ("icon", Value::from(icon)),
        ("level", Value::from(level)),
    ]))
}

/// `get_account_world_info()`: `worlds`, every world where the caller's account has a
/// player, as `{"world","gn","level"}` in world order (empty when none).
pub fn get_account_world_info(ctx: &Context, caller: &Account, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(String, String, i64)> = conn.exec(
        "SELECT world, gn, level FROM players WHERE unique_id = ? ORDER BY world",
        (caller.uid.as_str(),),
    )?;
    let worlds: Vec<Value> = rows
        .into_iter()
        .map(|(world, gn, level)| json!({"world": world, "gn": gn, "level": level}))
        .collect();
    ok(data([("worlds", Value::from(worlds))]))
}

/// `change_player_name(gn)`: renames the caller's player for `name_change_cost`
/// (diamonds). Answers `gn` and `items`, the caller's holdings after paying.
pub fn change_player_name(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let gn = args.str("gn")?;
    let world = ctx.world()?;
    let uid = me.uid.as_str();
    let config = player_config(ctx)?;
    config.names.check(gn).map_err(invalid_name)?;
    transaction(ctx.db, |tx| {
        let current: Option<String> = tx.exec_first(
            "SELECT gn FROM players WHERE world = ? AND unique_id = ? FOR UPDATE",
            (world, uid),
        )?;
        match current {
            None => return Err(no_player()),
            Some(current) if current == gn => {
                return Err(invalid_name("gn is already your name"));
            }
            Some(_) => {}
        }
        item::spend(tx, world, uid, &config.name_change_cost)?;
        tx.exec_drop(
            "UPDATE players SET gn = ? WHERE world = ? AND unique_id = ?",
            (gn, world, uid),
        )
        .map_err(taken)?;
        Ok(())
    })?;
    let mut conn = ctx.db.conn()?;
    let items = item::holdings(&mut conn, world, uid)?;
    ok(data([
        ("gn", Value::from(gn)),
        ("items", item::to_json(&items)),
    ]))
}

/// The player `add_resources` acts on: `gn_target` (a name) or `uid_target` (an account's
/// unique_id), exactly one. `data.unique_id` cannot name it: the handler overwrites it with
/// the caller's.
fn admin_target(ctx: &Context, args: &Args, world: &str) -> Result<String, FnError> {
    let gn = args.0.contains_key("gn_target");
    let uid = args.0.contains_key("uid_target");
    let found = match (gn, uid) {
        (true, false) => uid_of_player(ctx.db, world, args.str("gn_target")?)?,
        (false, true) => {
            let target = args.str("uid_target")?;
            player_name(ctx.db, world, target)?.map(|_| target.to_string())
        }
        _ => return Err(status(PlayerStatus::InvalidTarget)),
    };
    found.ok_or_else(no_player)
}

/// `add_resources(gn_target | uid_target, items)`, admin only: grants `items` (item
/// strings, capped at each item's max) to a player of this world. Answers the target's
/// `unique_id` and `items`, its holdings afterwards.
pub fn add_resources(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    let world = ctx.world()?;
    let items = item::items_arg(args, "items")?;
    let target = admin_target(ctx, args, world)?;
    transaction(ctx.db, |tx| {
        item::grant(tx, ctx.config, world, &target, &items)
    })?;
    shared::info!(
        "admin granted items",
        admin = caller.uid.as_str(),
        world = world,
        target = target,
        items = items
            .iter()
            .map(Item::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut conn = ctx.db.conn()?;
    let holdings = item::holdings(&mut conn, world, &target)?;
    ok(data([
        ("unique_id", Value::from(target)),
        ("items", item::to_json(&holdings)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_of_any_script_with_digits_and_underscore_pass() {
        let rules = NameRules::default();
        for ok in [
            "a",
            "Bob_99",
            "李雷",
            "Ünïcödé",
            "Παύλος",
            "ниндзя_7",
            "𝒜lice",
            "x".repeat(20).as_str(),
        ] {
            assert_eq!(rules.check(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn names_breaking_a_rule_say_which() {
        let rules = NameRules::default();
        assert_eq!(rules.check(""), Err("gn must be 1 to 20 characters".into()));
        assert_eq!(
            rules.check(&"é".repeat(21)),
            Err("gn must be 1 to 20 characters".into())
        );
        for bad in [
            "o'brien", "a;b", "100%", "a*", "a>b", "bob 2", "😀", "a-b", "tab\t",
        ] {
            let e = rules.check(bad).unwrap_err();
            assert!(
                e.starts_with("gn may contain only letters, digits and _"),
                "{bad:?}: {e}"
            );
        }
        assert_eq!(
            rules.check("SuperAdmin"),
            Err("gn may not contain the reserved word \"admin\"".into())
        );
        assert!(rules.check("GM_1").is_err());
    }

    #[test]
    fn name_rules_come_from_the_config_with_defaults() {
        let file = json!({"min_chars": 3, "max_chars": 99, "reserved_words": ["Boss"]});
        let rules = NameRules::from_config(Some(&file));
        assert_eq!(rules.min_chars, 3);
        assert_eq!(rules.max_chars, NAME_COLUMN_CHARS, "capped at the column");
        assert_eq!(rules.reserved_words, vec!["boss".to_string()]);
        assert!(rules.check("admin").is_ok());
        assert!(rules.check("bigBOSS").is_err());
        assert_eq!(NameRules::from_config(None), NameRules::default());
        let shipped = crate::game_config::GameConfig::embedded();
        let rules =
            NameRules::from_config(shipped.file("player").and_then(|p| p.get("name_rules")));
        assert_eq!((rules.min_chars, rules.max_chars), (1, 20));
    }
}
