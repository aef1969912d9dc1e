//! The config readers: functions that answer a part of the game config (`game-config/*.json`,
//! as the config service serves it), under the keys the original game's clients read. Any
//! valid token may call them; none touches MySQL, Redis or another player.
//!
//! Each reader is one row of [`READERS`]: which file, and whether the answer wraps it under
//! a key (`{"config": <file>}`) or spreads its top-level fields into `data`. Two answers
//! are composed: `get_config_player` (`player_experience.json` plus `player.json`'s
//! energy in the original's units) and `get_config_version` (`version.json`'s `version`).

use serde_json::{json, Map, Value};

use crate::function::{data, ok, Account, Args, Context, FnError, Outcome};
use crate::game_config::GameConfig;

/// How a reader answers its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `data = {<key>: <the file>}`.
    Under(&'static str),
    /// `data = <the file>` (its top-level fields).
    Spread,
}

/// One reader: the function's name, the file stem it answers, and how.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub function: &'static str,
    pub stem: &'static str,
    pub shape: Shape,
}

const fn reader(function: &'static str, stem: &'static str, shape: Shape) -> Reader {
    Reader {
        function,
        stem,
        shape,
    }
}

/// Every plain reader, as the original registered them (key and file per function).
pub const READERS: &[Reader] = &[
    reader("get_player_config", "player", Shape::Under("player_config")),
    reader("get_config_stage", "stages", Shape::Spread),
    reader("get_config_skill", "skills", Shape::Under("config")),
    reader("get_config_mall", "mall", Shape::Under("mall_config")),
    reader("get_config_role", "roles", Shape::Spread),
    reader("get_config_task", "task", Shape::Under("task_config")),
    reader("get_task_config", "task", Shape::Under("config")),
    reader(
        "get_config_achievement",
        "achievement",
        Shape::Under("achievement_config"),
    ),
    reader(
        "get_achievement_config",
        "achievement",
        Shape::Under("config"),
    ),
    reader("get_config_check_in", "check_in", Shape::Under("config")),
    reader("get_config_vip", "vip_config", Shape::Under("config")),
    reader("get_config_factory", "factory", Shape::Spread),
    reader("get_config_exchange", "package", Shape::Under("config")),
    reader("get_config_notice", "notice", Shape::Under("config")),
    reader("get_config_science", "sciences", Shape::Under("config")),
];

/// The file a reader needs; a config without it is a deployment fault (16), not the
/// caller's.
fn file<'c>(config: &'c GameConfig, stem: &str) -> Result<&'c Value, FnError> {
    config
        .file(stem)
        .ok_or_else(|| FnError::Backend(format!("the game config has no {stem}.json")))
}

/// The answer of the plain reader named `function`.
pub fn answer(config: &GameConfig, function: &str) -> Result<Map<String, Value>, FnError> {
    let reader = READERS
        .iter()
        .find(|r| r.function == function)
        .ok_or_else(|| FnError::Backend(format!("{function} is not a config reader")))?;
    let content = file(config, reader.stem)?;
    match reader.shape {
        Shape::Under(key) => Ok(data([(key, content.clone())])),
        Shape::Spread => match content {
            Value::Object(fields) => Ok(fields.clone()),
            _ => Err(FnError::Backend(format!(
                "{}.json is not a JSON object",
                reader.stem
            ))),
        },
    }
}

/// `get_config_player()`: `player_config` (`player_experience.json`: `player_level`
/// `{max_level, experience}`) and `energy` `{time, max_energy}`: `player.json`'s energy
/// with `time` in seconds (`cooling_time` is minutes per point).
pub fn player_answer(config: &GameConfig) -> Result<Map<String, Value>, FnError> {
    let experience = file(config, "player_experience")?;
    let energy = file(config, "player")?.get("energy");
    let number = |name: &str| {
        energy
            .and_then(|e| e.get(name))
            .and_then(Value::as_i64)
            .ok_or_else(|| FnError::Backend(format!("player.json has no energy.{name}")))
    };
    let time = number("cooling_time")?.saturating_mul(60);
    let max_energy = number("max_energy")?;
    Ok(data([
        ("player_config", experience.clone()),
        (
            "energy",
            Value::Object(data([
                ("time", time.into()),
                ("max_energy", max_energy.into()),
            ])),
        ),
    ]))
}

/// `get_config_weapon()`: the original's `standard_costs` (`upgrade_lv` {`max`, `iron`},
/// `seg`, `reset`), built from our weapon.json so the numbers have one home.
pub fn weapon_answer(config: &GameConfig) -> Result<Map<String, Value>, FnError> {
    let weapon = file(config, "weapon")?;
    let broken = |what: &str| FnError::Backend(format!("weapon.json: {what}"));
    let max = weapon
        .get("tiers")
        .and_then(Value::as_array)
        .and_then(|tiers| {
            tiers
                .iter()
                .filter_map(|t| t.get("max_level")?.as_u64())
                .max()
        })
        .ok_or_else(|| broken("no tiers[].max_level"))?;
    let iron = weapon
        .get("upgrade_iron")
        .cloned()
        .ok_or_else(|| broken("no upgrade_iron"))?;
    let seg = weapon
        .get("star_segments")
        .cloned()
        .ok_or_else(|| broken("no star_segments"))?;
    let reset = weapon
        .get("reset_cost")
        .and_then(Value::as_str)
        .and_then(|cost| cost.rsplit(':').next()?.parse::<u64>().ok())
        .ok_or_else(|| broken("no reset_cost item string"))?;
    let costs = json!({"upgrade_lv": {"max": max, "iron": iron}, "seg": seg, "reset": reset});
    Ok(data([("standard_costs", costs)]))
}

/// `get_config_family()`: `config` in the original's family.json layout (`general`,
/// `store`, `level`), built from our family.json. Our member limit is one number, so
/// `members` is `{base, max}` equal to it and `inc` 0.
pub fn family_answer(config: &GameConfig) -> Result<Map<String, Value>, FnError> {
    let f = file(config, "family")?;
    let get = |path: &[&str]| {
        path.iter()
            .try_fold(f, |v, k| v.get(k))
            .cloned()
            .ok_or_else(|| FnError::Backend(format!("family.json has no {}", path.join("."))))
    };
    let limit = get(&["member_limit"])?;
    let general = json!({
        "player_level": get(&["player_level"])?,
        "leave_days": get(&["leave_days"])?,
        "disband_hours": get(&["disband_hours"])?,
        "rmtimes": get(&["daily", "removals"])?,
        "ntimes": get(&["daily", "notices"])?,
        "itimes": get(&["daily", "invites"])?,
        "jtimes": get(&["daily", "join_requests"])?,
        "costs": get(&["costs"])?,
        "rewards": {
            "family_coin": get(&["check_in", "family_coin"])?,
            "special": get(&["check_in", "special"])?,
        },
        "members": {"base": limit, "max": limit, "inc": 0},
    });
    let config = json!({"general": general, "store": get(&["store"])?, "level": get(&["level"])?});
    Ok(data([("config", config)]))
}

/// `get_config_version()`: `version`, the game config's version string (`version.json`).
pub fn version_answer(config: &GameConfig) -> Result<Map<String, Value>, FnError> {
    match file(config, "version")?.get("version") {
        Some(Value::String(version)) => Ok(data([("version", version.as_str().into())])),
        _ => Err(FnError::Backend(
            "version.json has no string `version`".into(),
        )),
    }
}

fn plain(ctx: &Context, function: &str) -> Outcome {
    ok(answer(ctx.config, function)?)
}

/// One function per plain reader (the function table takes function pointers).
macro_rules! plain_readers {
    ($($name:ident),+ $(,)?) => {
        $(
            #[doc = concat!("`", stringify!($name), "()`: see [`READERS`].")]
            pub fn $name(ctx: &Context, _: &Account, _: &Args) -> Outcome {
                plain(ctx, stringify!($name))
            }
        )+
    };
}

plain_readers!(
    get_player_config,
    get_config_stage,
    get_config_skill,
    get_config_mall,
    get_config_role,
    get_config_task,
    get_task_config,
    get_config_achievement,
    get_achievement_config,
    get_config_check_in,
    get_config_vip,
    get_config_factory,
    get_config_exchange,
    get_config_notice,
    get_config_science,
);

/// `get_config_player()`: see [`player_answer`].
pub fn get_config_player(ctx: &Context, _: &Account, _: &Args) -> Outcome {
    ok(player_answer(ctx.config)?)
}

/// `get_config_weapon()`: see [`weapon_answer`].
pub fn get_config_weapon(ctx: &Context, _: &Account, _: &Args) -> Outcome {
    ok(weapon_answer(ctx.config)?)
}

/// `get_config_family()`: see [`family_answer`].
pub fn get_config_family(ctx: &Context, _: &Account, _: &Args) -> Outcome {
    ok(family_answer(ctx.config)?)
}

/// `get_config_version()`: see [`version_answer`].
pub fn get_config_version(ctx: &Context, _: &Account, _: &Args) -> Outcome {
    ok(version_answer(ctx.config)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_reader_answers_its_file_under_its_key() {
        let config = GameConfig::embedded();
        for reader in READERS {
            let answer = answer(&config, reader.function).unwrap();
            let file = config.file(reader.stem).unwrap();
            match reader.shape {
                Shape::Under(key) => {
                    assert_eq!(answer.len(), 1, "{}", reader.function);
                    assert_eq!(&answer[key], file, "{}", reader.function);
                }
                Shape::Spread => assert_eq!(&Value::Object(answer), file, "{}", reader.function),
            }
        }
    }

    /// The layouts built from our files hold the original's numbers, key for key.
    #[test]
    fn weapon_and_family_answer_the_originals_layouts() {
        let config = GameConfig::embedded();
        let original = |name: &str| -> Value {
            let path = format!(
                "{}/../../shared/reference/original/config/{name}.json",
                env!("CARGO_MANIFEST_DIR")
            );
            match std::fs::read_to_string(&path) {
                Ok(text) => serde_json::from_str(&text).unwrap(),
                // The reference copy sits beside the project, not in it.
                Err(_) => Value::Null,
            }
        };
        let weapon = Value::Object(weapon_answer(&config).unwrap());
        assert_eq!(weapon["standard_costs"]["seg"], 30);
        assert_eq!(weapon["standard_costs"]["reset"], 100);
        assert_eq!(weapon["standard_costs"]["upgrade_lv"]["max"], 120);
        let family = Value::Object(family_answer(&config).unwrap());
        assert_eq!(family["config"]["general"]["costs"]["create"], "3:5:2000");
        assert_eq!(family["config"]["general"]["rmtimes"], 5);
        let (w, f) = (original("weapon_config"), original("family"));
        if !w.is_null() {
            assert_eq!(weapon, w, "weapon_config.json");
        }
        if !f.is_null() {
            let mut ours = family["config"].clone();
            let mut theirs = f.clone();
            // Our member limit is fixed; the original's grew with the family level.
            ours["general"]["members"] = Value::Null;
            theirs["general"]["members"] = Value::Null;
            assert_eq!(ours, theirs, "family.json");
        }
    }

    #[test]
    fn the_originals_keys_and_numbers() {
        let config = GameConfig::embedded();
        let get = |f: &str| Value::Object(answer(&config, f).unwrap());
        let stage = get("get_config_stage");
        for key in [
            "comment",
            "eg",
            "constraint",
            "mopping-up",
            "hang-up",
            "stage",
        ] {
            assert!(stage.get(key).is_some(), "get_config_stage lacks {key}");
        }
        assert_eq!(
            get("get_config_role")["standard_costs"]["seg"],
            json!(25),
            "roles.json"
        );
        assert_eq!(
            get("get_config_skill")["config"]["common"]["upgrade"]["8"],
            json!(1)
        );
        assert_eq!(
            get("get_config_check_in")["config"]["consume"],
            json!(["3:5:80"])
        );
        assert_eq!(
            get("get_config_task")["task_config"],
            get("get_task_config")["config"]
        );
        assert_eq!(
            get("get_config_achievement")["achievement_config"],
            get("get_achievement_config")["config"]
        );
        let achievements = get("get_achievement_config")["config"].clone();
        for n in [1, 11, 13, 29, 101, 102] {
            assert!(achievements.get(n.to_string()).is_some(), "achievement {n}");
        }
        let factory = get("get_config_factory");
        for key in ["general", "workers", "wishing_pool"] {
            assert!(factory.get(key).is_some(), "get_config_factory lacks {key}");
        }
        let notice = get("get_config_notice")["config"].clone();
        for key in ["mail_gift", "notice", "login_screen"] {
            assert!(notice[key].is_array(), "notice lacks {key}");
        }
        let exchange = get("get_config_exchange")["config"].clone();
        assert_eq!(exchange["exchange_card"]["DIAMOND_CARD"]["bnum"], json!(10));
        assert!(get("get_config_vip")["config"].is_object());
        assert!(get("get_config_mall")["mall_config"].is_object());
        assert!(get("get_config_science")["config"]["1"]["constraint"].is_object());

        let player = Value::Object(player_answer(&config).unwrap());
        assert_eq!(player["energy"], json!({"time": 360, "max_energy": 120}));
        let level = &player["player_config"]["player_level"];
        assert_eq!(level["max_level"], json!(300));
        assert_eq!(level["experience"][1], json!(120));
        assert_eq!(
            Value::Object(version_answer(&config).unwrap()),
            json!({"version": "1.0"})
        );
    }

    #[test]
    fn a_config_without_the_file_is_a_backend_fault() {
        let mut files = std::collections::BTreeMap::new();
        files.insert("worlds".to_string(), json!({"worlds": ["s0"]}));
        files.insert("player".to_string(), json!({"no_energy": 1}));
        files.insert("version".to_string(), json!({"version": 1}));
        files.insert("stages".to_string(), json!([1, 2]));
        let bare = GameConfig::from_files(files).unwrap();
        for function in ["get_config_task", "get_config_stage"] {
            assert!(matches!(answer(&bare, function), Err(FnError::Backend(_))));
        }
        assert!(matches!(player_answer(&bare), Err(FnError::Backend(_))));
        assert!(matches!(version_answer(&bare), Err(FnError::Backend(_))));
    }
}
