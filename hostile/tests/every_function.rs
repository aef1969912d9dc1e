//! Every function of the worker's table, called through the gate with every argument the
//! game's functions read set to one hostile value at a time: SQL metacharacters, control
//! and bidi characters, emoji, negative and out-of-range numbers, the wrong JSON types.
//! Each answer must be a defined status with an object `data` (never -1, never a hang,
//! never 16: bad input is no backend fault), and afterwards the system still serves and
//! no item of the player went up.

use hostile::{new_player, request, status, RawClient};
use serde_json::{json, Map, Value};
use teststack::Stack;

/// Every argument name the game functions read (docs/worker.md's function table).
const FIELDS: &[&str] = &[
    "unique_id",
    "account",
    "password",
    "identifier",
    "value",
    "email",
    "phone_number",
    "code",
    "status",
    "gn",
    "gn_target",
    "uid_target",
    "name",
    "family_name",
    "icon",
    "intro",
    "msg",
    "role",
    "target",
    "number",
    "sid",
    "key",
    "gift",
    "other",
    "items",
    "subj",
    "body",
    "group_id",
    "item_id",
    "quantity",
    "exchange_id",
    "weapon",
    "delta",
    "passive",
    "cid",
    "qty",
    "gns",
    "task_id",
    "achievement_id",
    "aid",
    "stage",
    "page",
    "count",
    "damage",
    "rid",
    "pid",
    "skill",
    "item",
    "level",
    "num",
    "ssa",
    "eid",
    "tier",
    "card_id",
    "fid",
    "worker",
    "wid",
    "resource",
    "game_id",
    "order_id",
    "channel",
    "user_name",
    "currency",
    "receipt",
    "receive",
    "valid_seconds",
];

/// The hostile values, one per round, given to every field at once. Raw JSON text, so
/// numbers out of every integer range reach the worker as sent.
const VALUES: &[&str] = &[
    r#""x'; DROP TABLE players; -- \" OR 1=1 #""#,
    r#""%_*?\\\u0000\r\n\u001b[2J""#,
    r#""😀\u202e\u200bАdmin""#,
    "-1",
    "0",
    "-9223372036854775808",
    "18446744073709551616",
    "1e308",
    "1.5",
    "[]",
    r#"["3:5:-1", "3:5:99999999999999999999", "0:0:0", "x"]"#,
    r#"{"$gt": ""}"#,
    "null",
    "true",
];

fn hostile_data(token: &str, value: &str) -> Value {
    let mut text = format!("{{\"token\":{}", Value::from(token));
    for field in FIELDS {
        text.push_str(&format!(",\"{field}\":{value}"));
    }
    text.push('}');
    serde_json::from_str(&text).expect("the hostile data is JSON")
}

#[test]
fn every_function_answers_hostile_arguments_with_a_defined_status() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "every");
    // enter_world with the session issues a new one (and revokes the old): follow it.
    let mut session = p.session.clone();
    let admin = stack.admin_token();
    let holdings = |c: &mut RawClient, session: &str| {
        let a = c.call(&request(
            "s0",
            "get_all_resource",
            json!({"token": session}),
        ));
        assert_eq!(status(&a), 0, "{a}");
        a["data"].clone()
    };
    // The day's check-in and the making up of this month's past days grant without any
    // argument: done once first, so the hostile rounds meet their "already done" answers.
    for (function, done) in [
        ("check_in_sign", &[0_i64, 99][..]),
        ("check_in_supplement", &[0, 97, 98][..]),
    ] {
        let a = c.call(&request("s0", function, json!({"token": session})));
        assert!(done.contains(&status(&a)), "{function}: {a}");
    }
    // Summoning grants without arguments too (the day's free diamond pull, anything the
    // player's currency still pays for): pulled until refused, so the rounds meet 95/99.
    for function in [
        "single_pump_diamond",
        "single_pump_coin",
        "single_pump_gift",
        "dozen_pump_diamond",
        "dozen_pump_coin",
        "dozen_pump_gift",
        "integral_convert",
    ] {
        let mut last = 0;
        for _ in 0..200 {
            last = status(&c.call(&request("s0", function, json!({"token": session}))));
            if last != 0 && last != 1 && last != 2 {
                break;
            }
        }
        assert!(
            [95, 99].contains(&last),
            "{function}: still granting ({last})"
        );
    }
    let before = holdings(&mut c, &session);

    let mut answered = 0;
    let mut by_status: std::collections::BTreeMap<i64, usize> = Default::default();
    for function in worker::functions::FUNCTIONS {
        // Admin functions with the admin token, so their argument checks are reached too.
        for value in VALUES {
            let token = if function.access() == worker::function::Access::Admin {
                admin.as_str()
            } else {
                session.as_str()
            };
            let line = request("s0", function.name, hostile_data(token, value));
            let a = c.call(&line);
            if let Some(new) = a["data"]["session"].as_str() {
                session = new.to_string();
            }
            let s = status(&a);
            assert!(s != -1 && s != -2, "{} with {value}: {a}", function.name);
            assert!(
                a["data"].is_object(),
                "{}: data is an object: {a}",
                function.name
            );
            assert!(a["message"].is_string(), "{}: {a}", function.name);
            *by_status.entry(s).or_default() += 1;
            answered += 1;
        }
    }
    println!(
        "every_function: {} functions x {} values = {answered} answers; by status {by_status:?}",
        worker::functions::FUNCTIONS.len(),
        VALUES.len()
    );

    // The tables are all there, and hostile arguments granted nothing: no item went up
    // (a function without arguments, such as buy_energy, may have spent some).
    let info = c.call(&request("s0", "get_info_player", json!({"token": session})));
    assert_eq!(status(&info), 0, "{info}");
    assert_eq!(info["data"]["gn"], p.gn.as_str());
    let after = holdings(&mut c, &session);
    let held = |h: &Value| -> Map<String, Value> {
        let items = h["items"].as_array().expect("items");
        items
            .iter()
            .map(|i| (i["iid"].to_string(), i["value"].clone()))
            .collect()
    };
    let (before, after) = (held(&before), held(&after));
    // The round with 0 names a valid dark market slot: an offer it bought (paying its
    // diamonds) may add its items, and nothing more.
    let market = c.call(&request("s0", "get_all_market", json!({"token": session})));
    let mut bought: Map<String, Value> = Map::new();
    for offer in market["data"]["dark_markets"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if offer["amt"].as_i64().is_some_and(|a| a < 0) && offer["gid"] == 3 {
            let add = offer["qty"].as_u64().unwrap();
            let sum = bought
                .get(&offer["mid"].to_string())
                .and_then(Value::as_u64);
            bought.insert(offer["mid"].to_string(), (sum.unwrap_or(0) + add).into());
        }
    }
    for (iid, qty) in &after {
        let was = before.get(iid).and_then(Value::as_u64).unwrap_or(0);
        let may = was + bought.get(iid).and_then(Value::as_u64).unwrap_or(0);
        assert!(qty.as_u64().unwrap() <= may, "item {iid}: {was} -> {qty}");
    }
    let fresh =
        RawClient::connect(stack.gate_addr()).call(&request("s0", "no_such_function", json!({})));
    assert_eq!(status(&fresh), 10, "still serving: {fresh}");
}
