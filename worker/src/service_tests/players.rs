//! Players, items, weapons and `add_resources` against real MariaDB and Redis, through the
//! real handler.

use std::sync::atomic::{AtomicU64, Ordering};

use mysql::prelude::Queryable;

use super::*;
use crate::function::FnError;
use crate::modules::common::{player_name, transaction, uid_of_player};
use crate::modules::item::{self, Item};

/// A session token for `uid` in `world`.
fn session(s: &Stack, uid: &str, world: &str) -> String {
    s.token(uid, TokenKind::Session, Some(world), None)
}

fn admin(s: &Stack) -> String {
    s.token("admin-1", TokenKind::Session, Some("s0"), Some("admin"))
}

fn call_as(s: &Stack, token: &str, world: &str, function: &str, data: Value) -> Response {
    let mut data = data;
    data["token"] = json!(token);
    s.call(json!({"world": world, "function": function, "data": data}))
}

fn ok_as(s: &Stack, token: &str, world: &str, function: &str, data: Value) -> Map {
    let r = call_as(s, token, world, function, data.clone());
    assert_eq!(r.status, 0, "{function} {data} answered {}", r.to_json());
    r.data
}

type Map = serde_json::Map<String, Value>;

/// Creates `uid`'s player named `gn` in `world`; returns a session token for it.
fn new_player(s: &Stack, uid: &str, world: &str, gn: &str) -> String {
    let token = session(s, uid, world);
    ok_as(
        s,
        &token,
        world,
        "create_player",
        json!({"gn": gn, "icon": 3}),
    );
    token
}

fn items_of(data: &Map) -> Vec<String> {
    data["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn qty(s: &Stack, world: &str, uid: &str, group: u32, id: u32) -> u64 {
    let mut conn = s.services.db.conn().unwrap();
    conn.exec_first(
        "SELECT qty FROM items WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ?",
        (world, uid, group, id),
    )
    .unwrap()
    .unwrap_or(0)
}

fn set_qty(s: &Stack, world: &str, uid: &str, group: u32, id: u32, qty: u64) {
    let mut conn = s.services.db.conn().unwrap();
    conn.exec_drop(
        "UPDATE items SET qty = ? WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ?",
        (qty, world, uid, group, id),
    )
    .unwrap();
}

#[test]
fn create_player_grants_the_starting_kit_once() {
    let s = Stack::start();
    let token = session(&s, "dev-1", "s0");
    let made = ok_as(
        &s,
        &token,
        "s0",
        "create_player",
        json!({"gn":"Alice","icon":3}),
    );
    assert_eq!(made["unique_id"], "dev-1");
    assert_eq!(
        (made["gn"].clone(), made["level"].clone()),
        (json!("Alice"), json!(1))
    );
    assert_eq!(items_of(&made), ["3:1:5000", "3:5:100", "3:10:100"]);
    assert_eq!(made["weapons"], json!([301, 302, 303]));

    let info = ok_as(&s, &token, "s0", "get_info_player", json!({}));
    assert_eq!(
        info,
        *json!({"unique_id":"dev-1","gn":"Alice","icon":3,"level":1})
            .as_object()
            .unwrap()
    );
    let all = ok_as(&s, &token, "s0", "get_all_resource", json!({}));
    assert_eq!(
        all["items"],
        json!([{"iid":1,"value":5000},{"iid":5,"value":100},{"iid":10,"value":100}])
    );
    let weapons = ok_as(&s, &token, "s0", "get_all_weapon", json!({}));
    let wids: Vec<&Value> = weapons["weapons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["wid"])
        .collect();
    assert_eq!(wids, [301, 302, 303]);

    // once per (world, account): the second call changes nothing, not even the kit
    let again = call_as(
        &s,
        &token,
        "s0",
        "create_player",
        json!({"gn":"Alice2","icon":1}),
    );
    assert_eq!(
        (again.status, again.message.as_str()),
        (80, "this account already has a player in this world")
    );
    assert_eq!(qty(&s, "s0", "dev-1", 3, 1), 5000);
    // names are unique per world, not across worlds
    let bob = session(&s, "dev-2", "s0");
    let taken = call_as(
        &s,
        &bob,
        "s0",
        "create_player",
        json!({"gn":"Alice","icon":1}),
    );
    assert_eq!(
        (taken.status, taken.message.as_str()),
        (81, "player name is already taken in this world")
    );
    assert_eq!(
        qty(&s, "s0", "dev-2", 3, 1),
        0,
        "a refused player gets no kit"
    );
    new_player(&s, "dev-1", "s1", "Alice");

    // the account token lists every world with a player
    let account = s.token("dev-1", TokenKind::Account, None, None);
    let r = s.call(json!({"function":"get_account_world_info","data":{"token":account}}));
    assert_eq!(r.status, 0, "{}", r.to_json());
    assert_eq!(
        r.data["worlds"],
        json!([{"world":"s0","gn":"Alice","level":1},{"world":"s1","gn":"Alice","level":1}])
    );
    let r = call_as(&s, &bob, "s0", "get_account_world_info", json!({}));
    assert_eq!(r.data["worlds"], json!([]), "a session token works too");

    // argument errors
    let r = call_as(&s, &bob, "s0", "create_player", json!({"gn":"Bob"}));
    assert_eq!(
        (r.status, r.data["reason"].clone()),
        (13, json!("`icon` is missing"))
    );
    let r = call_as(
        &s,
        &bob,
        "s0",
        "create_player",
        json!({"gn":"Bob","icon":-1}),
    );
    assert_eq!(r.status, 13);
    let r = call_as(&s, &bob, "s0", "create_player", json!({"gn":7,"icon":1}));
    assert_eq!(r.status, 13);
}

#[test]
fn without_a_player_every_player_function_answers_90() {
    let s = Stack::start();
    let token = session(&s, "nobody", "s0");
    for (function, data) in [
        ("get_info_player", json!({})),
        ("change_player_name", json!({"gn":"Zed"})),
        ("get_all_resource", json!({})),
        ("get_all_weapon", json!({})),
        ("level_up_weapon", json!({"weapon":301,"delta":1})),
        ("level_up_star_weapon", json!({"weapon":301})),
    ] {
        let r = call_as(&s, &token, "s0", function, data);
        assert_eq!(
            (r.status, r.message.as_str()),
            (17, "no player in this world: create one first"),
            "{function}"
        );
    }
}

#[test]
fn names_of_any_script_round_trip_and_rule_breakers_are_refused() {
    let s = Stack::start();
    let names = ["李雷_韩梅梅", "Ünïcödé_9", "Παύλος", "ниндзя", "𝒜𝒷𝒸", "a"];
    for (i, gn) in names.iter().enumerate() {
        let uid = format!("dev-{i}");
        let token = new_player(&s, &uid, "s0", gn);
        let info = ok_as(&s, &token, "s0", "get_info_player", json!({}));
        assert_eq!(info["gn"], *gn);
        assert_eq!(
            uid_of_player(&s.services.db, "s0", gn).unwrap(),
            Some(uid.clone())
        );
        assert_eq!(
            player_name(&s.services.db, "s0", &uid).unwrap().as_deref(),
            Some(*gn)
        );
    }
    let token = session(&s, "dev-x", "s0");
    for bad in [
        "o'brien",
        "bob\"",
        "a;DROP TABLE players",
        "100%",
        "%",
        "a*",
        "a>b",
        "smile😀",
        "two words",
        "",
        "abcdefghijklmnopqrstu",
        "the_gm",
        "ADMIN",
    ] {
        let r = call_as(
            &s,
            &token,
            "s0",
            "create_player",
            json!({"gn":bad,"icon":0}),
        );
        assert_eq!(r.status, 82, "{bad:?}: {}", r.to_json());
        assert!(
            r.message.starts_with("gn "),
            "the message says the rule: {}",
            r.message
        );
    }
    assert_eq!(player_name(&s.services.db, "s0", "dev-x").unwrap(), None);
    // names are compared exactly: no LIKE patterns, no case folding
    for pattern in ["%", "_", "李%", "*", "alice"] {
        assert_eq!(
            uid_of_player(&s.services.db, "s0", pattern).unwrap(),
            None,
            "{pattern}"
        );
    }
    assert_eq!(uid_of_player(&s.services.db, "s1", "Παύλος").unwrap(), None);
}

#[test]
fn change_player_name_costs_diamonds_and_refuses_cleanly() {
    let s = Stack::start();
    let token = new_player(&s, "dev-1", "s0", "Alice");
    new_player(&s, "dev-2", "s0", "Bob");

    let changed = ok_as(
        &s,
        &token,
        "s0",
        "change_player_name",
        json!({"gn":"Alicia"}),
    );
    assert_eq!(changed["gn"], "Alicia");
    assert_eq!(
        items_of(&changed),
        ["3:1:5000", "3:10:100"],
        "100 diamonds paid"
    );
    assert_eq!(uid_of_player(&s.services.db, "s0", "Alice").unwrap(), None);

    set_qty(&s, "s0", "dev-1", 3, 5, 250);
    for (gn, code) in [("Bob", 81), ("Alicia", 82), ("no way", 82), ("gm", 82)] {
        let r = call_as(&s, &token, "s0", "change_player_name", json!({"gn":gn}));
        assert_eq!(r.status, code, "{gn}: {}", r.to_json());
        assert_eq!(qty(&s, "s0", "dev-1", 3, 5), 250, "{gn}: nothing spent");
    }
    set_qty(&s, "s0", "dev-1", 3, 5, 99);
    let r = call_as(
        &s,
        &token,
        "s0",
        "change_player_name",
        json!({"gn":"Alina"}),
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (18, "not enough of item 3:5 (need 100)")
    );
    let info = ok_as(&s, &token, "s0", "get_info_player", json!({}));
    assert_eq!(
        info["gn"], "Alicia",
        "the name stays when the payment fails"
    );
    assert_eq!(qty(&s, "s0", "dev-1", 3, 5), 99);
}

#[test]
fn add_resources_is_admin_only_and_capped() {
    let s = Stack::start();
    let player = new_player(&s, "dev-1", "s0", "Target");
    let admin = admin(&s);

    let r = call_as(
        &s,
        &player,
        "s0",
        "add_resources",
        json!({"uid_target":"dev-1","items":["3:5:1000"]}),
    );
    assert_eq!(r.status, 15, "a player's token may not grant");
    assert_eq!(qty(&s, "s0", "dev-1", 3, 5), 100);

    let by_name = ok_as(
        &s,
        &admin,
        "s0",
        "add_resources",
        json!({"gn_target":"Target","items":["3:5:1000","0:501:3"]}),
    );
    assert_eq!(by_name["unique_id"], "dev-1");
    assert_eq!(
        items_of(&by_name),
        ["0:501:3", "3:1:5000", "3:5:1100", "3:10:100"]
    );
    // capped at items.json's max (energy 999), even for an absurd quantity
    let by_uid = ok_as(
        &s,
        &admin,
        "s0",
        "add_resources",
        json!({"uid_target":"dev-1","items":["3:10:18446744073709551615"]}),
    );
    assert_eq!(items_of(&by_uid)[3], "3:10:999");
    // an admin account token, naming the world in the request, works too
    let account_admin = s.token("admin-2", TokenKind::Account, None, Some("admin"));
    ok_as(
        &s,
        &account_admin,
        "s0",
        "add_resources",
        json!({"gn_target":"Target","items":["3:1:1"]}),
    );
    assert_eq!(qty(&s, "s0", "dev-1", 3, 1), 5001);

    for (data, code) in [
        (json!({"items":["3:1:1"]}), 83),
        (
            json!({"gn_target":"Target","uid_target":"dev-1","items":["3:1:1"]}),
            83,
        ),
        (json!({"gn_target":"Nobody","items":["3:1:1"]}), 17),
        (json!({"gn_target":"%","items":["3:1:1"]}), 17),
        (json!({"uid_target":"dev-9","items":["3:1:1"]}), 17),
        (json!({"gn_target":"Target","items":["3:1:0"]}), 19),
        (json!({"gn_target":"Target","items":["3:1:1","0:9:1"]}), 19),
        (
            json!({"gn_target":"Target","items":["3:1:1","0:611:1"]}),
            19,
        ),
        (json!({"gn_target":"Target","items":["coins"]}), 19),
        (json!({"gn_target":"Target","items":[5]}), 19),
        (json!({"gn_target":"Target","items":"3:1:1"}), 13),
        (json!({"gn_target":"Target"}), 13),
    ] {
        let r = call_as(&s, &admin, "s0", "add_resources", data.clone());
        assert_eq!(r.status, code, "{data}: {}", r.to_json());
    }
    assert_eq!(
        qty(&s, "s0", "dev-1", 3, 1),
        5001,
        "refused grants change nothing"
    );
    // in another world the target does not exist
    let s1_admin = s.token("admin-1", TokenKind::Session, Some("s1"), Some("admin"));
    let r = call_as(
        &s,
        &s1_admin,
        "s1",
        "add_resources",
        json!({"gn_target":"Target","items":["3:1:1"]}),
    );
    assert_eq!(r.status, 17);
}

#[test]
fn a_player_cannot_act_on_another_players_data() {
    let s = Stack::start();
    let mallory = new_player(&s, "mallory", "s0", "Mallory");
    new_player(&s, "victim", "s0", "Victim");
    for (function, data) in [
        ("get_info_player", json!({"unique_id":"victim"})),
        (
            "change_player_name",
            json!({"unique_id":"victim","gn":"Pwned"}),
        ),
        ("get_all_resource", json!({"unique_id":"victim"})),
    ] {
        let r = call_as(&s, &mallory, "s0", function, data);
        assert_eq!(r.status, 0, "{function}: {}", r.to_json());
        if let Some(gn) = r.data.get("gn") {
            assert_ne!(gn, "Victim", "{function} answered the victim's data");
        }
    }
    assert_eq!(
        player_name(&s.services.db, "s0", "victim")
            .unwrap()
            .as_deref(),
        Some("Victim")
    );
    assert_eq!(
        player_name(&s.services.db, "s0", "mallory")
            .unwrap()
            .as_deref(),
        Some("Pwned")
    );
    assert_eq!(qty(&s, "s0", "victim", 3, 1), 5000);
    assert_eq!(qty(&s, "s0", "victim", 3, 5), 100);
    assert_eq!(qty(&s, "s0", "mallory", 3, 1), 5000);
    // a session token of another world does not reach this world's player
    let elsewhere = session(&s, "victim", "s1");
    let r = call_as(&s, &elsewhere, "s0", "get_info_player", json!({}));
    assert_eq!(r.status, 11);
}

/// 16 threads interleave 200 spends of 7 coins and 200 grants of 5 through `item::spend`
/// and `item::grant`, each in its own transaction: every spend either happens whole or
/// answers 91, and the final balance is exact.
#[test]
fn concurrent_spends_and_grants_never_go_negative_nor_lose_a_grant() {
    let s = Stack::start();
    new_player(&s, "rich", "s0", "Rich");
    set_qty(&s, "s0", "rich", 3, 1, 50);
    let spent = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..16 {
            let (s, spent, refused) = (&s, &spent, &refused);
            scope.spawn(move || {
                for i in 0..25 {
                    let coins = |qty| {
                        [Item {
                            group: 3,
                            id: 1,
                            qty,
                        }]
                    };
                    // 8 threads spend 13 times, 8 spend 12 times: 200 spends, 200 grants
                    if (t + i) % 2 == 0 {
                        let r = transaction(&s.services.db, |tx| {
                            item::spend(tx, "s0", "rich", &coins(7))
                        });
                        match r {
                            Ok(()) => spent.fetch_add(1, Ordering::SeqCst),
                            Err(FnError::Module { code: 18, .. }) => {
                                refused.fetch_add(1, Ordering::SeqCst)
                            }
                            Err(e) => panic!("spend failed: {e}"),
                        };
                    } else {
                        transaction(&s.services.db, |tx| {
                            item::grant(tx, &s.config, "s0", "rich", &coins(5))
                        })
                        .unwrap();
                    }
                }
            });
        }
    });
    let spends = spent.load(Ordering::SeqCst);
    let refused = refused.load(Ordering::SeqCst);
    assert_eq!(spends + refused, 200);
    let grants = 200;
    assert!(spends > 0);
    let expected = 50 + 5 * grants as i64 - 7 * spends as i64;
    assert_eq!(qty(&s, "s0", "rich", 3, 1) as i64, expected);
}

/// Grants of an item nobody holds yet, from many threads at once: the first creates the
/// row, the others add to it; none is lost.
#[test]
fn concurrent_first_grants_of_an_item_all_count() {
    let s = Stack::start();
    new_player(&s, "collector", "s0", "Collector");
    let admin = admin(&s);
    std::thread::scope(|scope| {
        for _ in 0..16 {
            let (s, admin) = (&s, admin.clone());
            scope.spawn(move || {
                for _ in 0..10 {
                    let r = call_as(
                        s,
                        &admin,
                        "s0",
                        "add_resources",
                        json!({"gn_target":"Collector","items":["0:501:1","0:402:2"]}),
                    );
                    assert_eq!(r.status, 0, "{}", r.to_json());
                }
            });
        }
    });
    assert_eq!(qty(&s, "s0", "collector", 0, 501), 160);
    assert_eq!(qty(&s, "s0", "collector", 0, 402), 320);
}
