//! The game config: JSON files by stem (`worlds`, `account`, ...), embedded at compile time
//! and replaced by what the config service serves. Pure: fetching lives in `config_refresh`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::Value;

/// `game-config/*.json` of the repository: (file stem, file content).
const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_config.rs"));

#[derive(Debug, PartialEq, Eq)]
pub enum GameConfigError {
    NotAnObject,
    BadFile { stem: String, reason: String },
    MissingWorlds,
    BadWorlds(String),
}

impl fmt::Display for GameConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GameConfigError::NotAnObject => write!(f, "game config is not a JSON object"),
            GameConfigError::BadFile { stem, reason } => write!(f, "config file {stem}: {reason}"),
            GameConfigError::MissingWorlds => write!(f, "game config has no `worlds` file"),
            GameConfigError::BadWorlds(reason) => write!(f, "worlds config: {reason}"),
        }
    }
}

impl std::error::Error for GameConfigError {}

/// Which worlds exist, in which order, and which old worlds were merged into which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worlds {
    /// Every world id in the file's order: a request's integer `world` indexes this.
    ordered: Vec<String>,
    live: Vec<String>,
    merged_into: HashMap<String, String>,
}

/// Longest merge chain followed; longer (or a cycle) means a broken config.
const MAX_MERGE_HOPS: usize = 16;

impl Worlds {
    /// Parses either shape of the worlds file, and checks that every merge ends in a live
    /// world, so a bad file is refused when loaded rather than per request:
    /// - ours: `{"worlds":["s0",..],"merge":{"old":"new",..}}` (merged worlds follow the
    ///   live ones in index order, sorted by id);
    /// - the original's world.json: `{"worlds":[{"id":"s0","merge":"s0",..},..]}`, where a
    ///   world whose `merge` names another world was merged into it.
    pub fn parse(value: &Value) -> Result<Worlds, GameConfigError> {
        let bad = |r: &str| GameConfigError::BadWorlds(r.to_string());
        let list = value
            .get("worlds")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("`worlds` must be an array of world ids"))?;
        let mut ordered = Vec::new();
        let mut merged_into = HashMap::new();
        for entry in list {
            match entry {
                Value::String(id) => ordered.push(id.clone()),
                Value::Object(world) => {
                    let id = world
                        .get("id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("every world needs a string `id`"))?;
                    match world.get("merge") {
                        None | Some(Value::Null) => {}
                        Some(Value::String(to)) if to == id => {}
                        Some(Value::String(to)) => {
                            merged_into.insert(id.to_string(), to.clone());
                        }
                        Some(_) => return Err(bad("a world's `merge` must be a world id")),
                    }
                    ordered.push(id.to_string());
                }
                _ => return Err(bad("every world id must be a string")),
            }
        }
        match value.get("merge") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                let mut extra = Vec::new();
                for (from, to) in map {
                    let to = to
                        .as_str()
                        .ok_or_else(|| bad("`merge` values must be world ids"))?;
                    merged_into.insert(from.clone(), to.to_string());
                    if !ordered.contains(from) {
                        extra.push(from.clone());
                    }
                }
                extra.sort();
                ordered.extend(extra);
            }
            Some(_) => return Err(bad("`merge` must be an object old -> new")),
        }
        for (i, id) in ordered.iter().enumerate() {
            if ordered[..i].contains(id) {
                return Err(GameConfigError::BadWorlds(format!("world {id} twice")));
            }
        }
        let live = ordered
            .iter()
            .filter(|w| !merged_into.contains_key(*w))
            .cloned()
            .collect();
        let worlds = Worlds {
            ordered,
            live,
            merged_into,
        };
        for from in worlds.merged_into.keys() {
            if worlds.resolve(from).is_none() {
                return Err(GameConfigError::BadWorlds(format!(
                    "merged world {from} does not lead to a live world"
                )));
            }
        }
        Ok(worlds)
    }

    /// The world a request for `world` is served as: itself when live, the world it was
    /// merged into otherwise; `None` when it does not exist.
    pub fn resolve(&self, world: &str) -> Option<&str> {
        let mut current = world;
        for _ in 0..=MAX_MERGE_HOPS {
            if let Some(next) = self.merged_into.get(current) {
                current = next;
                continue;
            }
            return self.live.iter().find(|w| *w == current).map(String::as_str);
        }
        None
    }

    /// The world a request's integer `world` is served as: the world at that index of the
    /// file's list, then through merges.
    pub fn resolve_index(&self, index: u64) -> Option<&str> {
        let id = self.ordered.get(usize::try_from(index).ok()?)?;
        self.resolve(id)
    }

    pub fn live(&self) -> &[String] {
        &self.live
    }
}

/// One consistent version of the game config.
#[derive(Debug, Clone)]
pub struct GameConfig {
    files: BTreeMap<String, Value>,
    worlds: Worlds,
}

impl GameConfig {
    /// The files compiled into the binary.
    pub fn embedded() -> GameConfig {
        let mut files = BTreeMap::new();
        for (stem, text) in EMBEDDED {
            let value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("embedded game-config/{stem}.json is not JSON: {e}"));
            files.insert(stem.to_string(), value);
        }
        GameConfig::from_files(files).expect("embedded game config is valid")
    }

    pub fn from_files(files: BTreeMap<String, Value>) -> Result<GameConfig, GameConfigError> {
        let worlds = Worlds::parse(files.get("worlds").ok_or(GameConfigError::MissingWorlds)?)?;
        Ok(GameConfig { files, worlds })
    }

    /// This config with the files of a `/get_game_manager_config` answer laid over it
    /// (file stem -> content, the content as JSON or as a JSON string).
    pub fn overlay(&self, served: &Value) -> Result<GameConfig, GameConfigError> {
        let served = served.as_object().ok_or(GameConfigError::NotAnObject)?;
        let mut files = self.files.clone();
        for (stem, content) in served {
            let value = match content {
                Value::String(text) => {
                    serde_json::from_str(text).map_err(|e| GameConfigError::BadFile {
                        stem: stem.clone(),
                        reason: e.to_string(),
                    })?
                }
                other => other.clone(),
            };
            files.insert(stem.clone(), value);
        }
        GameConfig::from_files(files)
    }

    pub fn worlds(&self) -> &Worlds {
        &self.worlds
    }

    /// One file by stem, e.g. `config.file("account")`.
    pub fn file(&self, stem: &str) -> Option<&Value> {
        self.files.get(stem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_config_has_the_repository_worlds() {
        let config = GameConfig::embedded();
        assert_eq!(config.worlds().resolve("s0"), Some("s0"));
        assert_eq!(config.worlds().resolve("s1"), Some("s1"));
        assert_eq!(config.worlds().resolve("s9"), None);
    }

    #[test]
    fn merged_worlds_resolve_to_their_target() {
        let w = Worlds::parse(&json!({"worlds":["s0"],"merge":{"s1":"s2","s2":"s0"}})).unwrap();
        assert_eq!(w.resolve("s1"), Some("s0"));
        assert_eq!(w.resolve("s2"), Some("s0"));
        assert_eq!(w.resolve(""), None);
        // Index order: the live worlds, then the merged ones by id.
        assert_eq!(w.resolve_index(0), Some("s0"));
        assert_eq!(w.resolve_index(1), Some("s0"), "s1, merged");
        assert_eq!(w.resolve_index(3), None);
        assert_eq!(w.resolve_index(u64::MAX), None);
    }

    #[test]
    fn the_originals_world_list_resolves_by_index_and_merge() {
        let w = Worlds::parse(&json!({"worlds":[
            {"status":0,"id":"s0","name":"world s0","merge":"s0"},
            {"status":0,"id":"s1","name":"world s1","merge":"s2"},
            {"status":0,"id":"s2","name":"world s2","merge":"s2"}
        ]}))
        .unwrap();
        assert_eq!(w.live(), ["s0", "s2"]);
        assert_eq!(w.resolve("s1"), Some("s2"));
        assert_eq!(w.resolve_index(1), Some("s2"));
        assert_eq!(w.resolve_index(2), Some("s2"));
        assert!(Worlds::parse(&json!({"worlds":[{"id":"s0","merge":"s9"}]})).is_err());
        assert!(Worlds::parse(&json!({"worlds":[{"name":"no id"}]})).is_err());
        assert!(Worlds::parse(&json!({"worlds":["s0","s0"]})).is_err());
    }

    #[test]
    fn broken_worlds_files_are_refused() {
        for bad in [
            json!({}),
            json!({"worlds":"s0"}),
            json!({"worlds":[1]}),
            json!({"worlds":["s0"],"merge":["s1"]}),
            json!({"worlds":["s0"],"merge":{"s1":"gone"}}),
            json!({"worlds":["s0"],"merge":{"a":"b","b":"a"}}),
        ] {
            assert!(
                matches!(Worlds::parse(&bad), Err(GameConfigError::BadWorlds(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn overlay_replaces_files_and_keeps_the_rest() {
        let base = GameConfig::embedded();
        let served =
            json!({"worlds":"{\"worlds\":[\"s5\"],\"merge\":{\"s0\":\"s5\"}}","items":{"a":1}});
        let next = base.overlay(&served).unwrap();
        assert_eq!(next.worlds().resolve("s0"), Some("s5"));
        assert_eq!(next.worlds().resolve("s1"), None);
        assert_eq!(next.file("items"), Some(&json!({"a":1})));
        assert_eq!(
            base.overlay(&json!([1])).unwrap_err(),
            GameConfigError::NotAnObject
        );
        assert!(matches!(
            base.overlay(&json!({"worlds":"not json"})),
            Err(GameConfigError::BadFile { .. })
        ));
        assert!(matches!(
            base.overlay(&json!({"worlds":{"worlds":7}})),
            Err(GameConfigError::BadWorlds(_))
        ));
    }
}
