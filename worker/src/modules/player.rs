//! Players: one per (world, account), with an in-game name (`gn`) unique per world.
//! `create_player` grants the starting kit of `player.json` in the same transaction that
//! creates the player, so a player never exists without it.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::db::duplicate_key;
use crate::function::{data, ok, Account, Args, FnError, InWorld, Outcome};
use crate::function::{Context, Player};
use crate::modules::common::{no_player, player_name, transaction, uid_of_player};
use crate::modules::enums::{ChangeNameStatus, CreatePlayerStatus, PlayerStatus, ProfileStatus};
use crate::modules::item::{self, Item};
use crate::modules::{daily, elements, energy, names, package, stage};

/// Longest name the `players.gn` column holds; a config asking for more is capped.
const NAME_COLUMN_CHARS: usize = 20;

fn status(s: PlayerStatus) -> FnError {
    FnError::from(s)
}

/// Longest intro the `players.intro` column holds, in characters.
pub const INTRO_MAX_CHARS: usize = 128;
/// Icons are numbers `0..=ICON_MAX` (the `players.icon` column is an INT).
pub const ICON_MAX: i64 = i32::MAX as i64;

/// The rules of `player.json`'s `name_rules`: length in characters, letters of any script
/// (`char::is_alphanumeric`: letters and digits), `_`, no reserved word inside, not even
/// spelled with look-alike letters ([`names::fold`]), and each word (between `_`) in one
/// script unless `allow_mixed_scripts` ([`names::mixed_script_word`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRules {
    pub min_chars: usize,
    pub max_chars: usize,
    /// Folded ([`names::fold`]); refused when contained in the folded name.
    pub reserved_words: Vec<String>,
    /// `Αdmin` (Greek Alpha + Latin) is refused unless this is set (default false).
    pub allow_mixed_scripts: bool,
}

impl Default for NameRules {
    fn default() -> NameRules {
        NameRules {
            min_chars: 1,
            max_chars: NAME_COLUMN_CHARS,
            reserved_words: ["admin", "gm", "system", "lukseun"]
                .map(String::from)
                .to_vec(),
            allow_mixed_scripts: false,
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
                .map(names::fold)
                .collect();
        }
        if let Some(allow) = rules.get("allow_mixed_scripts").and_then(Value::as_bool) {
            out.allow_mixed_scripts = allow;
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
        if !self.allow_mixed_scripts {
            if let Some(word) = names::mixed_script_word(name) {
                return Err(format!(
                    "gn may not mix letters of two scripts in one word: {word:?}"
                ));
            }
        }
        let folded = names::fold(name);
        if let Some(word) = self
            .reserved_words
            .iter()
            .find(|w| !w.is_empty() && folded.contains(w.as_str()))
        {
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
    starting_roles: Vec<u32>,
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
    let ids = |name: &str| -> Result<Vec<u32>, FnError> {
        match field(name) {
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| id.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(|| broken(format!("{name} must be ids"))),
            Some(_) => Err(broken(format!("{name} must be an array"))),
            None => Ok(Vec::new()),
        }
    };
    let starting_weapons = ids("starting_weapons")?;
    let starting_roles = ids("starting_roles")?;
    let name_change_cost = match field("name_change_cost") {
        Some(Value::String(cost)) => vec![Item::parse(cost).map_err(|e| broken(e.to_string()))?],
        Some(_) => return Err(broken("name_change_cost must be an item string".into())),
        None => Vec::new(),
    };
    Ok(PlayerConfig {
        starting_resources,
        starting_weapons,
        starting_roles,
        name_change_cost,
        names: NameRules::from_config(field("name_rules")),
    })
}

/// `create_player(gn, icon)`: the caller's player in this world, with the starting
/// resources and weapons. Answers `gn`, `icon` (the original's), `unique_id`, `level`,
/// `items`, `weapons`. 98 a name breaking the rules, 99 a player or the name exists.
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
    config
        .names
        .check(gn)
        .map_err(|why| FnError::module(CreatePlayerStatus::InvalidName, why))?;
    transaction(ctx.db, |tx| {
        tx.exec_drop(
            "INSERT INTO players (world, unique_id, gn, icon) VALUES (?, ?, ?, ?)",
            (world, uid, gn, icon),
        )
        .map_err(|e| match duplicate_key(&e) {
            Some("PRIMARY") => FnError::module(
                CreatePlayerStatus::Exists,
                "this account already has a player in this world",
            ),
            Some("players_gn") => FnError::module(
                CreatePlayerStatus::Exists,
                "player name is already taken in this world",
            ),
            _ => e.into(),
        })?;
        item::grant(tx, ctx.config, world, uid, &config.starting_resources)?;
        for weapon in &config.starting_weapons {
            tx.exec_drop(
                "INSERT INTO weapons (world, unique_id, weapon_id) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE weapon_id = weapon_id",
                (world, uid, weapon),
            )?;
        }
        for role in &config.starting_roles {
            tx.exec_drop(
                "INSERT INTO roles (world, unique_id, role_id, star, level) VALUES (?, ?, ?, 1, 1) \
                 ON DUPLICATE KEY UPDATE role_id = role_id",
                (world, uid, role),
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

/// The name of the family `uid` is in, in `world`.
fn family_name(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
) -> Result<Option<String>, FnError> {
    Ok(conn.exec_first(
        "SELECT f.name FROM family_members m JOIN families f ON f.world = m.world AND f.fid = m.fid
         WHERE m.world = ? AND m.unique_id = ?",
        (world, uid),
    )?)
}

/// `get_info_player()`: the caller's player here: `gn`, `fn` (family name, `""` without
/// one), `exp` (stage.rs's experience), `energy_info`, `bel`, `cd`, `stages` (as
/// `stage_all_infos`), `elements` and `elm` (element levels, resets left), and ours:
/// `unique_id`, `icon`, `intro`, `level`.
pub fn get_info_player(ctx: &Context, me: &InWorld, _: &Args) -> Outcome {
    let world = ctx.world()?;
    let uid = me.uid.as_str();
    let mut conn = ctx.db.conn()?;
    let row: Option<(String, i32, i64, String)> = conn.exec_first(
        "SELECT gn, icon, level, intro FROM players WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let (gn, icon, level, intro) = row.ok_or_else(no_player)?;
    let family = family_name(&mut conn, world, uid)?.unwrap_or_default();
    let now = ctx.now();
    let rules = energy::EnergyRules::from_config(ctx);
    let energy = energy::read(&mut conn, rules, world, uid, now)?;
    let purchases_left = package::energy_purchases_left(ctx, &mut conn, world, uid)?;
    let stages = stage::infos(&mut conn, ctx.config, world, uid, now)?;
    let exp = stage::read_exp(&mut conn, ctx.config, world, uid)?["exp"].clone();
    let (elements, elm) = elements::info(ctx, &mut conn, world, uid)?;
    ok(data([
        ("gn", Value::from(gn)),
        ("fn", Value::from(family)),
        ("energy_info", energy.info(rules, now)),
        ("bel", Value::from(purchases_left)),
        ("cd", Value::from(daily::seconds_to_next_day(now))),
        ("stages", stages),
        ("exp", exp),
        ("elements", elements),
        ("elm", elm),
        ("unique_id", Value::from(uid)),
        ("icon", Value::from(icon)),
        ("intro", Value::from(intro)),
        ("level", Value::from(level)),
    ]))
}

/// One entry of the worlds file: (id, name, status). Our short form's worlds are named by
/// their id with status 0, its `merge` keys that are not in the list follow, sorted (the
/// order of `Worlds`' integer index).
fn world_entries(file: Option<&Value>) -> Vec<(String, String, i64)> {
    let mut entries = Vec::new();
    let Some(file) = file else { return entries };
    for entry in file
        .get("worlds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match entry {
            Value::String(id) => entries.push((id.clone(), id.clone(), 0)),
            Value::Object(world) => {
                let Some(id) = world.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let name = world.get("name").and_then(Value::as_str).unwrap_or(id);
                let status = world.get("status").and_then(Value::as_i64).unwrap_or(0);
                entries.push((id.to_string(), name.to_string(), status));
            }
            _ => {}
        }
    }
    if let Some(merge) = file.get("merge").and_then(Value::as_object) {
        let mut extra: Vec<&String> = merge
            .keys()
            .filter(|k| entries.iter().all(|(id, _, _)| id != *k))
            .collect();
        extra.sort();
        entries.extend(extra.into_iter().map(|id| (id.clone(), id.clone(), 0)));
    }
    entries
}

/// `get_account_world_info()`: `worlds`, every world of the worlds file in its order, as
/// `{"server_status","world","world_name","gn","exp","level"}`; `gn` `""`, `exp` and
/// `level` 0 where the caller's account has no player. A merged world shows the player of
/// the world it is served as.
pub fn get_account_world_info(ctx: &Context, caller: &Account, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(String, String, i64)> = conn.exec(
        "SELECT world, gn, level FROM players WHERE unique_id = ?",
        (caller.uid.as_str(),),
    )?;
    let worlds: Vec<Value> = world_entries(ctx.config.file("worlds"))
        .into_iter()
        .map(|(id, name, server_status)| {
            let served = ctx.config.worlds().resolve(&id).unwrap_or(&id);
            let player = rows.iter().find(|(world, _, _)| world == served);
            let (gn, level) = player.map_or(("", 0), |(_, gn, level)| (gn.as_str(), *level));
            json!({"server_status": server_status, "world": id, "world_name": name,
                   "gn": gn, "exp": 0, "level": level})
        })
        .collect();
    ok(data([("worlds", Value::from(worlds))]))
}

/// `change_player_name(gn)`: renames the caller's player for `name_change_cost` of
/// player.json (100 diamonds), in one transaction: the name is taken (99) or the payment
/// fails (98) and nothing changes, or both happen. Answers `gn`, `remaining` (what is
/// left of the cost's items), `reward` (the cost, positive, as the original answered it)
/// and `items` (all holdings after paying).
pub fn change_player_name(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let gn = args.str("gn")?;
    let world = ctx.world()?;
    let uid = me.uid.as_str();
    let config = player_config(ctx)?;
    config
        .names
        .check(gn)
        .map_err(|why| FnError::module(ChangeNameStatus::InvalidName, why))?;
    let cost = &config.name_change_cost;
    let remaining = transaction(ctx.db, |tx| {
        let current: Option<String> = tx.exec_first(
            "SELECT gn FROM players WHERE world = ? AND unique_id = ? FOR UPDATE",
            (world, uid),
        )?;
        if current.is_none() {
            return Err(no_player());
        }
        let taken: Option<i32> = tx.exec_first(
            "SELECT 1 FROM players WHERE world = ? AND gn = ?",
            (world, gn),
        )?;
        if taken.is_some() {
            return Err(ChangeNameStatus::NameTaken.into());
        }
        item::spend_or(
            tx,
            world,
            uid,
            cost,
            ChangeNameStatus::MaterialsInsufficient,
        )?;
        tx.exec_drop(
            "UPDATE players SET gn = ? WHERE world = ? AND unique_id = ?",
            (gn, world, uid),
        )
        .map_err(|e| match duplicate_key(&e) {
            Some("players_gn") => ChangeNameStatus::NameTaken.into(),
            _ => FnError::from(e),
        })?;
        let held = item::holdings(tx, world, uid)?;
        Ok(cost
            .iter()
            .map(|c| {
                let qty = held
                    .iter()
                    .find(|h| (h.group, h.id) == (c.group, c.id))
                    .map_or(0, |h| h.qty);
                format!("{}:{}:{}", c.group, c.id, qty)
            })
            .collect::<Vec<String>>())
    })?;
    // Committed: the player's chat connections speak under the new name.
    ctx.chat_events.renamed(world, uid, gn);
    let mut conn = ctx.db.conn()?;
    let items = item::holdings(&mut conn, world, uid)?;
    ok(data([
        ("gn", Value::from(gn)),
        ("remaining", Value::from(remaining)),
        (
            "reward",
            Value::from(cost.iter().map(Item::to_string).collect::<Vec<_>>()),
        ),
        ("items", item::to_json(&items)),
    ]))
}

/// `player_set_intro(intro)`: the caller's profile text, up to 128 characters (any
/// script, emoji; line breaks allowed, no other control characters). Answers `intro`.
pub fn player_set_intro(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    let intro = args.str("intro")?;
    let invalid = |why: &str| FnError::module(ProfileStatus::InvalidValue, why.to_string());
    if intro.chars().count() > INTRO_MAX_CHARS {
        return Err(invalid("intro must be at most 128 characters"));
    }
    if intro.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(
            "intro must not contain control characters other than line breaks",
        ));
    }
    ctx.db.conn()?.exec_drop(
        "UPDATE players SET intro = ? WHERE world = ? AND unique_id = ?",
        (intro, &me.world, &me.unique_id),
    )?;
    ok(data([("intro", Value::from(intro))]))
}

/// `player_set_icon(icon)`: the caller's icon, an integer `0..=2147483647` (a decimal
/// string too). Answers `icon`.
pub fn player_set_icon(ctx: &Context, me: &Player, args: &Args) -> Outcome {
    let icon = args.int("icon")?;
    if !(0..=ICON_MAX).contains(&icon) {
        return Err(FnError::module(
            ProfileStatus::InvalidValue,
            format!("icon must be from 0 to {ICON_MAX}"),
        ));
    }
    ctx.db.conn()?.exec_drop(
        "UPDATE players SET icon = ? WHERE world = ? AND unique_id = ?",
        (icon, &me.world, &me.unique_id),
    )?;
    ok(data([("icon", Value::from(icon))]))
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
    fn reserved_words_spelled_with_look_alikes_are_refused() {
        let rules = NameRules::default();
        for (spoof, word) in [
            ("\u{391}dmin", "admin"),     // Greek capital Alpha
            ("\u{455}ystem", "system"),   // Cyrillic dze
            ("\u{FF27}\u{FF2D}", "gm"),   // full-width GM
            ("Luk\u{455}eun", "lukseun"), // Cyrillic dze inside
            ("\u{405}\u{423}\u{405}\u{422}\u{415}\u{41C}", "system"), // all Cyrillic
        ] {
            let e = rules.check(spoof).unwrap_err();
            assert!(
                e == format!("gn may not contain the reserved word {word:?}")
                    || e.starts_with("gn may not mix letters of two scripts"),
                "{spoof:?}: {e}"
            );
            // Even where mixing is allowed, the reserved word is found.
            let lenient = NameRules {
                allow_mixed_scripts: true,
                ..NameRules::default()
            };
            assert_eq!(
                lenient.check(spoof),
                Err(format!("gn may not contain the reserved word {word:?}")),
                "{spoof:?}"
            );
        }
        assert_eq!(
            rules.check("Pl\u{430}yer"), // Cyrillic a in a Latin word, no reserved word
            Err("gn may not mix letters of two scripts in one word: \"Pl\u{430}yer\"".into())
        );
        for fine in [
            "\u{5C0F}\u{660E}abc",
            "\u{5C0F}\u{660E}_2024",
            "Player_42",
            "12345",
            "\u{438}\u{433}\u{440}\u{43E}\u{43A}_\u{418}\u{432}\u{430}\u{43D}",
        ] {
            assert_eq!(rules.check(fine), Ok(()), "{fine:?}");
        }
        let config = json!({"allow_mixed_scripts": true});
        assert!(NameRules::from_config(Some(&config)).allow_mixed_scripts);
        assert!(NameRules::from_config(Some(&config))
            .check("Pl\u{430}yer")
            .is_ok());
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
