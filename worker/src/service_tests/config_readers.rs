//! The config readers through the handler: any valid token, no world needed, each answers
//! its file under the original's key.

use super::*;
use crate::modules::config_readers::{self, Shape, READERS};

#[test]
fn config_readers_answer_any_valid_token() {
    let s = Stack::start();
    let account = s.guest("device-config-1");
    let session = s.token("dev-1", TokenKind::Session, Some("s0"), None);
    let call = |function: &str, token: Option<&str>, world: Option<&str>| {
        let mut request = json!({"function": function, "data": {}});
        if let Some(token) = token {
            request["data"]["token"] = token.into();
        }
        if let Some(world) = world {
            request["world"] = world.into();
        }
        s.call(request)
    };
    let mut functions: Vec<&str> = READERS.iter().map(|r| r.function).collect();
    functions.extend([
        "get_config_player",
        "get_config_version",
        "get_config_weapon",
        "get_config_family",
    ]);
    assert_eq!(functions.len(), 19);
    for function in &functions {
        let by_account = call(function, Some(&account), None);
        assert_status(&by_account, 0, format_args!("{function}"));
        let by_session = call(function, Some(&session), Some("s0"));
        assert_eq!(by_session.data, by_account.data, "{function}");
        assert_eq!(call(function, None, None).status, 12, "{function}");
        assert_eq!(call(function, Some("not.a.token"), None).status, 11);
    }
    for reader in READERS {
        let answer = call(reader.function, Some(&account), None).data;
        let file = s.config.file(reader.stem).unwrap();
        match reader.shape {
            Shape::Under(key) => assert_eq!(answer, data_of(key, file), "{}", reader.function),
            Shape::Spread => assert_eq!(&Value::Object(answer), file, "{}", reader.function),
        }
    }
    let player = call("get_config_player", Some(&account), None).data;
    assert_eq!(player["energy"], json!({"time": 360, "max_energy": 120}));
    assert_eq!(
        player["player_config"],
        s.config.file("player_experience").unwrap().clone()
    );
    let version = call("get_config_version", Some(&account), None).data;
    assert_eq!(Value::Object(version), json!({"version": "1.0"}));
    // What the original's clients read first.
    let check_in = call("get_config_check_in", Some(&account), None).data;
    assert_eq!(check_in["config"]["reward"]["2"], "3:5:100");
    let stage = call("get_config_stage", Some(&account), None).data;
    assert!(stage["stage"].is_object() && stage["hang-up"].is_object());
    assert_eq!(
        Value::Object(config_readers::answer(&s.config, "get_config_task").unwrap()),
        Value::Object(call("get_config_task", Some(&account), None).data)
    );
}

fn data_of(key: &str, file: &Value) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert(key.to_string(), file.clone());
    map
}
