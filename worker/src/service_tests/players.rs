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
    s.token("admin:1", TokenKind::Admin, Some("s0"), None)
}

type Map = serde_json::Map<String, Value>;

/// Creates `uid`'s player named `gn` in `world`; returns a session token for it.
fn new_player(s: &Stack, uid: &str, world: &str, gn: &str) -> String {
    let token = session(s, uid, world);
    s.ok_in(&token, world, "create_player", json!({"gn": gn, "icon": 3}));
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
    let made = s.ok_in(
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

    let mut info = s.ok_in(&token, "s0", "get_info_player", json!({}));
    // Seconds to the game day's end: depends on the clock, checked for range only.
    let cd = info.remove("cd").and_then(|v| v.as_i64()).unwrap();
    assert!((1..=86_400).contains(&cd), "{cd}");
    assert_eq!(
        Value::Object(info),
        json!({"unique_id":"dev-1","gn":"Alice","fn":"","exp":0,"icon":3,"intro":"","level":1,
               "energy_info":{"energy":120,"recover_time":"","cooling_time":-1},"bel":6,
               "stages":{"infos":{"0":1,"1":1000,"3":3000,"4":4000,"5":4150},
                         "limits":{"3":{"18":3},"4":{"19":3,"20":2},"5":{"21":3,"22":2}}},
               "elements":{"1000":0,"1001":0,"1002":0,"1003":0},"elm":3})
    );
    let all = s.ok_in(&token, "s0", "get_all_resource", json!({}));
    assert_eq!(
        all["items"],
        json!([{"iid":1,"value":5000},{"iid":5,"value":100},{"iid":10,"value":100}])
    );
    let weapons = s.ok_in(&token, "s0", "get_all_weapon", json!({}));
    let wids: Vec<&Value> = weapons["weapons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["wid"])
        .collect();
    assert_eq!(wids, [301, 302, 303]);

    // once per (world, account): the second call changes nothing, not even the kit
    let again = s.call_in(
        &token,
        "s0",
        "create_player",
        json!({"gn":"Alice2","icon":1}),
    );
    assert_eq!(
        (again.status, again.message.as_str()),
        (99, "this account already has a player in this world")
    );
    assert_eq!(qty(&s, "s0", "dev-1", 3, 1), 5000);
    // names are unique per world, not across worlds
    let bob = session(&s, "dev-2", "s0");
    let taken = s.call_in(&bob, "s0", "create_player", json!({"gn":"Alice","icon":1}));
    assert_eq!(
        (taken.status, taken.message.as_str()),
        (99, "player name is already taken in this world")
    );
    assert_eq!(
        qty(&s, "s0", "dev-2", 3, 1),
        0,
        "a refused player gets no kit"
    );
    new_player(&s, "dev-1", "s1", "Alice");

    // the account token lists every world, with the player where there is one
    let account = s.token("dev-1", TokenKind::Account, None, None);
    let r = s.call(json!({"function":"get_account_world_info","data":{"token":account}}));
    assert_status(&r, 0, "");
    assert_eq!(
        r.data["worlds"],
        json!([
            {"server_status":0,"world":"s0","world_name":"world s0","gn":"Alice","exp":0,"level":1},
            {"server_status":0,"world":"s1","world_name":"world s1","gn":"Alice","exp":0,"level":1}
        ])
    );
    let r = s.call_in(&bob, "s0", "get_account_world_info", json!({}));
    assert_eq!(
        r.data["worlds"],
        json!([
            {"server_status":0,"world":"s0","world_name":"world s0","gn":"","exp":0,"level":0},
            {"server_status":0,"world":"s1","world_name":"world s1","gn":"","exp":0,"level":0}
        ]),
        "a session token works too"
    );

    // argument errors
    let r = s.call_in(&bob, "s0", "create_player", json!({"gn":"Bob"}));
    assert_eq!(
        (r.status, r.data["reason"].clone()),
        (13, json!("`icon` is missing"))
    );
    let r = s.call_in(&bob, "s0", "create_player", json!({"gn":"Bob","icon":-1}));
    assert_eq!(r.status, 13);
    let r = s.call_in(&bob, "s0", "create_player", json!({"gn":7,"icon":1}));
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
        let r = s.call_in(&token, "s0", function, data);
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
        let info = s.ok_in(&token, "s0", "get_info_player", json!({}));
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
        let r = s.call_in(&token, "s0", "create_player", json!({"gn":bad,"icon":0}));
        assert_status(&r, 98, format_args!("{bad:?}"));
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

/// Issue 15 finding 7: reserved words spelled with look-alike letters (Greek, Cyrillic,
/// full width) are refused at creation and at renaming, and ordinary names still pass.
#[test]
fn look_alike_reserved_names_are_refused_and_ordinary_names_pass() {
    let s = Stack::start();
    let token = session(&s, "dev-spoof", "s0");
    let spoofs = [
        "\u{391}dmin",
        "\u{455}ystem",
        "\u{FF27}\u{FF2D}",
        "Luk\u{455}eun",
    ];
    for spoof in spoofs {
        let r = s.call_in(
            &token,
            "s0",
            "create_player",
            json!({"gn": spoof, "icon": 0}),
        );
        assert_status(&r, 98, format_args!("{spoof:?}"));
        assert!(
            r.message.starts_with("gn may not"),
            "{spoof:?}: {}",
            r.message
        );
    }
    assert_eq!(
        player_name(&s.services.db, "s0", "dev-spoof").unwrap(),
        None
    );
    let ordinary = [
        "\u{5C0F}\u{660E}abc",
        "Player_42",
        "2024",
        "\u{674E}\u{96F7}",
    ];
    for (i, gn) in ordinary.iter().enumerate() {
        new_player(&s, &format!("dev-ok-{i}"), "s0", gn);
    }
    let renamer = session(&s, "dev-ok-1", "s0");
    for spoof in spoofs {
        let r = s.call_in(&renamer, "s0", "change_player_name", json!({"gn": spoof}));
        assert_status(&r, 97, format_args!("{spoof:?}"));
    }
    assert_eq!(
        player_name(&s.services.db, "s0", "dev-ok-1")
            .unwrap()
            .as_deref(),
        Some("Player_42")
    );
}

#[test]
fn change_player_name_costs_diamonds_and_refuses_cleanly() {
    let s = Stack::start();
    let token = new_player(&s, "dev-1", "s0", "Alice");
    new_player(&s, "dev-2", "s0", "Bob");

    let changed = s.ok_in(&token, "s0", "change_player_name", json!({"gn":"Alicia"}));
    assert_eq!(changed["gn"], "Alicia");
    assert_eq!(changed["remaining"], json!(["3:5:0"]));
    assert_eq!(changed["reward"], json!(["3:5:100"]), "the cost, positive");
    assert_eq!(
        items_of(&changed),
        ["3:1:5000", "3:10:100"],
        "100 diamonds paid"
    );
    assert_eq!(uid_of_player(&s.services.db, "s0", "Alice").unwrap(), None);

    set_qty(&s, "s0", "dev-1", 3, 5, 250);
    for (gn, code) in [
        ("Bob", 99),
        ("Alicia", 99),
        ("no way", 97),
        ("gm", 97),
        ("", 97),
        ("o'brien\"; --", 97),
        ("😀", 97),
    ] {
        let r = s.call_in(&token, "s0", "change_player_name", json!({"gn":gn}));
        assert_status(&r, code, format_args!("{gn}"));
        assert_eq!(qty(&s, "s0", "dev-1", 3, 5), 250, "{gn}: nothing spent");
    }
    let r = s.call_in(&token, "s0", "change_player_name", json!({"gn":5}));
    assert_eq!(r.status, 13);
    let r = s.call_in(&token, "s0", "change_player_name", json!({}));
    assert_eq!(
        (r.status, &r.data["reason"]),
        (13, &json!("`gn` is missing"))
    );
    set_qty(&s, "s0", "dev-1", 3, 5, 99);
    let r = s.call_in(&token, "s0", "change_player_name", json!({"gn":"Alina"}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (98, "materials insufficient")
    );
    let info = s.ok_in(&token, "s0", "get_info_player", json!({}));
    assert_eq!(
        info["gn"], "Alicia",
        "the name stays when the payment fails"
    );
    assert_eq!(qty(&s, "s0", "dev-1", 3, 5), 99);
    set_qty(&s, "s0", "dev-1", 3, 5, 1234);
    let changed = s.ok_in(&token, "s0", "change_player_name", json!({"gn":"李雷"}));
    assert_eq!(changed["remaining"], json!(["3:5:1134"]));
}

/// Renames racing each other: 8 threads rename one player to distinct names with enough
/// diamonds for 3 renames; exactly 3 succeed and pay, the rest answer 98 and pay nothing.
/// Then two players race for one name: one gets it, the other keeps its diamonds.
#[test]
fn concurrent_renames_pay_once_per_rename() {
    let s = Stack::start();
    let token = new_player(&s, "racer", "s0", "Racer");
    set_qty(&s, "s0", "racer", 3, 5, 300);
    let statuses: Vec<i32> = at_once(8, |i| {
        s.call_in(
            &token,
            "s0",
            "change_player_name",
            json!({"gn":format!("Racer{i}")}),
        )
        .status
    });
    let won = count(&statuses, 0);
    assert_eq!(won, 3, "{statuses:?}");
    assert!(
        statuses.iter().all(|st| matches!(st, 0 | 98)),
        "{statuses:?}"
    );
    assert_eq!(qty(&s, "s0", "racer", 3, 5), 0);
    let gn = player_name(&s.services.db, "s0", "racer").unwrap().unwrap();
    assert!(gn.starts_with("Racer") && gn != "Racer", "{gn}");

    let a = new_player(&s, "a", "s0", "PlayerA");
    let b = new_player(&s, "b", "s0", "PlayerB");
    set_qty(&s, "s0", "a", 3, 5, 1000);
    set_qty(&s, "s0", "b", 3, 5, 1000);
    for round in 0..4 {
        let wanted = format!("Wanted{round}");
        let statuses = at_once(2, |i| {
            let token = [&a, &b][i];
            s.call_in(token, "s0", "change_player_name", json!({"gn":wanted}))
                .status
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 99], "round {round}");
    }
    // 4 renames between them, 100 diamonds each: the losers paid nothing
    assert_eq!(
        qty(&s, "s0", "a", 3, 5) + qty(&s, "s0", "b", 3, 5),
        2000 - 4 * 100
    );
}

#[test]
fn intro_and_icon_are_the_players_own_and_checked() {
    let s = Stack::start();
    let token = new_player(&s, "dev-1", "s0", "Poet");
    let other = new_player(&s, "dev-2", "s0", "Reader");
    for intro in [
        "",
        "Hello 世界 😀🎮",
        "line one\nline two",
        "'; DROP TABLE players; --",
        "%_*\\",
        &"é".repeat(128),
    ] {
        let r = s.ok_in(&token, "s0", "player_set_intro", json!({"intro":intro}));
        assert_eq!(r["intro"], intro);
        let info = s.ok_in(&token, "s0", "get_info_player", json!({}));
        assert_eq!(info["intro"], intro, "round trip");
    }
    for (intro, message) in [
        ("x".repeat(129), "intro must be at most 128 characters"),
        (
            "tab\there".into(),
            "intro must not contain control characters other than line breaks",
        ),
        (
            "nul\u{0}".into(),
            "intro must not contain control characters other than line breaks",
        ),
    ] {
        let r = s.call_in(&token, "s0", "player_set_intro", json!({"intro":intro}));
        assert_eq!((r.status, r.message.as_str()), (99, message));
    }
    let r = s.call_in(&token, "s0", "player_set_intro", json!({"intro":7}));
    assert_eq!(r.status, 13);
    let r = s.call_in(&token, "s0", "player_set_intro", json!({}));
    assert_eq!(
        (r.status, &r.data["reason"]),
        (13, &json!("`intro` is missing"))
    );

    for (icon, answered) in [
        (json!(0), 0),
        (json!(42), 42),
        (json!("7"), 7),
        (json!(2147483647i64), 2147483647i64),
    ] {
        let r = s.ok_in(&token, "s0", "player_set_icon", json!({"icon":icon}));
        assert_eq!(r["icon"], answered);
        let info = s.ok_in(&token, "s0", "get_info_player", json!({}));
        assert_eq!(info["icon"], answered);
    }
    for icon in [
        json!(-1),
        json!(2147483648i64),
        json!(i64::MAX),
        json!(i64::MIN),
    ] {
        let r = s.call_in(&token, "s0", "player_set_icon", json!({"icon":icon}));
        assert_status(&r, 99, format_args!("{icon}"));
        assert!(
            r.message.starts_with("icon must be from 0 to"),
            "{}",
            r.message
        );
    }
    for icon in [json!("x"), json!(1.5), json!(null), json!([1])] {
        let r = s.call_in(&token, "s0", "player_set_icon", json!({"icon":icon}));
        assert_eq!(r.status, 13, "{icon}");
    }
    // only one's own: unique_id in data is the caller's, whatever the client sends
    s.ok_in(
        &token,
        "s0",
        "player_set_intro",
        json!({"intro":"mine","unique_id":"dev-2"}),
    );
    let info = s.ok_in(&other, "s0", "get_info_player", json!({}));
    assert_eq!((&info["intro"], &info["icon"]), (&json!(""), &json!(3)));
    // without a player: the shared 17
    let nobody = session(&s, "nobody", "s0");
    for function in ["player_set_intro", "player_set_icon"] {
        let r = s.call_in(&nobody, "s0", function, json!({"intro":"x","icon":1}));
        assert_eq!(r.status, 17, "{function}");
    }
}

#[test]
fn get_info_player_answers_the_family_name() {
    let s = Stack::start();
    let token = new_player(&s, "member", "s0", "Member");
    let mut conn = s.services.db.conn().unwrap();
    conn.exec_drop(
        "INSERT INTO families (world, fid, name) VALUES ('s0', '0123456789abcdef', 'Clan 李')",
        (),
    )
    .unwrap();
    conn.exec_drop(
        "INSERT INTO family_members (world, unique_id, fid, role) VALUES ('s0', 'member', '0123456789abcdef', 0)",
        (),
    )
    .unwrap();
    let info = s.ok_in(&token, "s0", "get_info_player", json!({}));
    assert_eq!(info["fn"], "Clan 李");
    // in another world the same account has no family
    let elsewhere = new_player(&s, "member", "s1", "Member");
    let info = s.ok_in(&elsewhere, "s1", "get_info_player", json!({}));
    assert_eq!(info["fn"], "");
}

#[test]
fn add_resources_is_admin_only_and_capped() {
    let s = Stack::start();
    let player = new_player(&s, "dev-1", "s0", "Target");
    let admin = admin(&s);

    let r = s.call_in(
        &player,
        "s0",
        "add_resources",
        json!({"uid_target":"dev-1","items":["3:5:1000"]}),
    );
    assert_eq!(r.status, 15, "a player's token may not grant");
    assert_eq!(qty(&s, "s0", "dev-1", 3, 5), 100);

    let by_name = s.ok_in(
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
    let by_uid = s.ok_in(
        &admin,
        "s0",
        "add_resources",
        json!({"uid_target":"dev-1","items":["3:10:18446744073709551615"]}),
    );
    assert_eq!(items_of(&by_uid)[3], "3:10:999");
    // an admin account token, naming the world in the request, works too
    let account_admin = s.token("admin:2", TokenKind::Admin, None, None);
    s.ok_in(
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
        let r = s.call_in(&admin, "s0", "add_resources", data.clone());
        assert_status(&r, code, format_args!("{data}"));
    }
    assert_eq!(
        qty(&s, "s0", "dev-1", 3, 1),
        5001,
        "refused grants change nothing"
    );
    // in another world the target does not exist
    let s1_admin = s.token("admin:1", TokenKind::Admin, Some("s1"), None);
    let r = s.call_in(
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
        let r = s.call_in(&mallory, "s0", function, data);
        assert_status(&r, 0, format_args!("{function}"));
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
    let r = s.call_in(&elsewhere, "s0", "get_info_player", json!({}));
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
                    let r = s.call_in(
                        &admin,
                        "s0",
                        "add_resources",
                        json!({"gn_target":"Collector","items":["0:501:1","0:402:2"]}),
                    );
                    assert_status(&r, 0, "");
                }
            });
        }
    });
    assert_eq!(qty(&s, "s0", "collector", 0, 501), 160);
    assert_eq!(qty(&s, "s0", "collector", 0, 402), 320);
}
