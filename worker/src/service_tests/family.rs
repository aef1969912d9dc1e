//! The family functions as the original game's clients call them, against real MariaDB
//! and Redis and the real mail and auth services (invitations and join requests travel as
//! mail with a nonce); the chat token with the real edge. Time is the context clock
//! (`Services::clock`), so daily quotas and the delayed disband are tested by moving it.

use std::io::{BufRead, BufReader, Write};

use mysql::prelude::Queryable;

use super::*;

/// 2024-01-01 12:00:00 in UTC+8 (04:00 UTC): the middle of a game day.
const NOON: i64 = 1_704_081_600;
const DAY: i64 = 86_400;

struct Fam {
    s: Stack,
    _backends: MailAndAuth,
}

/// The embedded family.json with `patch`'s top-level fields replaced.
fn family_config(patch: Value) -> Value {
    let mut file = GameConfig::embedded().file("family").unwrap().clone();
    for (k, v) in patch.as_object().unwrap() {
        file[k] = v.clone();
    }
    json!({ "family": file })
}

impl Fam {
    fn start(patch: Value) -> Fam {
        let mut s = Stack::start();
        let backends = MailAndAuth::start(&mut s, 50);
        s.config = s.config.overlay(&family_config(patch)).unwrap();
        s.services.clock.set(NOON);
        Fam {
            s,
            _backends: backends,
        }
    }

    fn session(&self, uid: &str) -> String {
        self.s.token(uid, TokenKind::Session, Some("s0"), None)
    }

    /// A player named `gn` at level 18 (what families need), with a session token.
    fn player(&self, uid: &str, gn: &str) -> String {
        self.player_at(uid, gn, 18)
    }

    fn player_at(&self, uid: &str, gn: &str, level: i64) -> String {
        let token = self.session(uid);
        self.ok(&token, "create_player", json!({"gn": gn, "icon": 0}));
        let mut db = self.db();
        db.exec_drop(
            "UPDATE players SET level = ? WHERE world = 's0' AND unique_id = ?",
            (level, uid),
        )
        .unwrap();
        // No starting resources: every amount in these tests is set by the test.
        db.exec_drop(
            "DELETE FROM items WHERE world = 's0' AND unique_id = ?",
            (uid,),
        )
        .unwrap();
        token
    }

    fn call(&self, token: &str, function: &str, data: Value) -> Response {
        self.s.call_as(token, function, data)
    }

    fn ok(&self, token: &str, function: &str, data: Value) -> serde_json::Map<String, Value> {
        self.s.ok_as(token, function, data)
    }

    /// Asserts `function` answers `code`; returns the whole answer.
    fn fails(&self, token: &str, function: &str, data: Value, code: i32) -> Response {
        self.s.expect_as(token, function, data, code)
    }

    fn db(&self) -> crate::db::DbConn {
        self.s.services.db.conn().unwrap()
    }

    /// Sets `uid`'s holding of item `grp:id` to `qty`.
    fn hold(&self, uid: &str, grp: u32, id: u32, qty: u64) {
        self.db()
            .exec_drop(
                "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
                (uid, grp, id, qty),
            )
            .unwrap();
    }

    fn held(&self, uid: &str, grp: u32, id: u32) -> u64 {
        let qty: Option<u64> = self
            .db()
            .exec_first(
                "SELECT qty FROM items WHERE world = 's0' AND unique_id = ? AND grp = ? AND item_id = ?",
                (uid, grp, id),
            )
            .unwrap();
        qty.unwrap_or(0)
    }

    /// A player who owns a new family `name` (paid with the real cost).
    fn owner(&self, uid: &str, gn: &str, name: &str) -> String {
        let token = self.player(uid, gn);
        self.hold(uid, 3, 5, 2000);
        self.ok(&token, "create_family", json!({"name": name, "icon": 1}));
        token
    }

    /// The keys of type-3 mails with subject `subj` in the token's mailbox, newest first.
    fn family_mails(&self, token: &str, subj: &str) -> Vec<Value> {
        let data = self.ok(token, "get_all_mail", json!({}));
        data["mail"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == 3 && m["subj"] == subj)
            .cloned()
            .collect()
    }

    fn mail_key(&self, token: &str, subj: &str) -> String {
        let mails = self.family_mails(token, subj);
        let mail = mails.first().unwrap_or_else(|| panic!("no {subj} mail"));
        mail["key"].as_str().unwrap().to_string()
    }

    /// Invites `gn` into the inviter's family and has them accept.
    fn invite_and_join(&self, inviter: &str, gn: &str, invitee: &str) {
        self.ok(inviter, "invite_user_family", json!({"gn_target": gn}));
        let key = self.mail_key(invitee, "FAMILY_INVITATION");
        self.ok(invitee, "respond_family", json!({"key": key}));
    }

    fn role_of(&self, token: &str) -> i64 {
        self.ok(token, "get_all_family", json!({}))["role"]
            .as_i64()
            .unwrap()
    }

    fn news(&self, token: &str) -> Vec<String> {
        let all = self.ok(token, "get_all_family", json!({}));
        all["news"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n[1].as_str().unwrap().to_string())
            .collect()
    }

    fn chat_hash(&self, nonce: &str) -> std::collections::HashMap<String, String> {
        self.s
            .services
            .redis
            .run(|c| {
                redis::cmd("HGETALL")
                    .arg(shared::contract::chat_login_key(nonce))
                    .query(c)
            })
            .unwrap()
    }
}

fn keys(map: &serde_json::Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort();
    keys
}

#[test]
fn family_create_search_and_get_all_answer_as_the_original() {
    let t = Fam::start(json!({}));
    let low = t.player_at("low", "Low", 17);
    let a = t.player("uid-a", "Alice");
    let b = t.player("uid-b", "Bob");

    // create: level first (95), then the name (99), then money (97)
    t.hold("low", 3, 5, 5000);
    let r = t.fails(&low, "create_family", json!({"name": "Fam", "icon": 1}), 95);
    assert_eq!(r.message, "you must be at least level 18");
    for bad in [
        "",
        "x",
        "has space",
        "a.b",
        "SuperAdmin",
        "😀😀",
        "x'); DROP TABLE families; --",
        "abcdefghijklm",
    ] {
        let r = t.fails(&a, "create_family", json!({"name": bad, "icon": 1}), 99);
        assert!(r.message.starts_with("family name"), "{bad}: {}", r.message);
    }
    t.fails(&a, "create_family", json!({"name": "龙_1"}), 13);
    t.fails(&a, "create_family", json!({"icon": 1}), 13);
    for icon in [json!(-1), json!(65_536), json!("x"), json!(1.5)] {
        let r = t.fails(
            &a,
            "create_family",
            json!({"name": "龙_1", "icon": icon}),
            13,
        );
        assert!(r.data["reason"].as_str().unwrap().contains("icon"));
    }
    // 1999 diamonds: refused, nothing spent, nothing created
    t.hold("uid-a", 3, 5, 1999);
    t.fails(&a, "create_family", json!({"name": "龙_1", "icon": 1}), 97);
    assert_eq!(t.held("uid-a", 3, 5), 1999);
    t.fails(&b, "search_family", json!({"family_name": "龙_1"}), 99);
    t.fails(&a, "get_all_family", json!({}), 99);
    t.hold("uid-a", 3, 5, 2500);
    let r = t.call(&a, "create_family", json!({"name": "龙_1", "icon": "7"}));
    assert_eq!((r.status, r.message.as_str()), (0, "created family"));
    assert_eq!(keys(&r.data), ["fid", "icon", "iid", "name", "value"]);
    assert_eq!(
        (
            &r.data["name"],
            &r.data["icon"],
            &r.data["iid"],
            &r.data["value"]
        ),
        (&json!("龙_1"), &json!(7), &json!(5), &json!(500))
    );
    let fid = r.data["fid"].as_str().unwrap().to_string();
    assert!(fid.len() == 16 && fid.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
    assert_eq!(t.held("uid-a", 3, 5), 500);
    t.s.assert_one_owner("龙_1", 1);
    t.fails(&a, "create_family", json!({"name": "其他", "icon": 1}), 98);
    t.hold("uid-b", 3, 5, 2000);
    t.fails(&b, "create_family", json!({"name": "龙_1", "icon": 1}), 96);
    assert_eq!(
        t.held("uid-b", 3, 5),
        2000,
        "a refused create costs nothing"
    );

    // search: the exact name; `%` is a plain character
    let found = t.ok(&b, "search_family", json!({"family_name": "龙_1"}));
    assert_eq!(
        found["info"],
        json!({"name": "龙_1", "icon": 7, "exp": 0, "notice": "", "board": "", "people": 1})
    );
    t.fails(&b, "search_family", json!({"family_name": "龙_%"}), 99);
    t.fails(&b, "search_family", json!({}), 13);

    // get_all: the original's fields, the caller's role, no uid anywhere
    t.hold("uid-a", 3, 36, 12);
    let all = t.ok(&a, "get_all_family", json!({}));
    assert_eq!(
        keys(&all),
        [
            "board",
            "exp",
            "fid",
            "icon",
            "is_checkin",
            "members",
            "name",
            "news",
            "notice",
            "role",
            "timer"
        ]
    );
    assert_eq!(
        (&all["timer"], &all["is_checkin"], &all["role"]),
        (&json!(-1), &json!(0), &json!(10))
    );
    assert_eq!(all["fid"], fid.as_str());
    let member = &all["members"][0];
    let member_keys = keys(member.as_object().unwrap());
    assert_eq!(
        member_keys,
        [
            "exp",
            "family_coin",
            "family_coin_record",
            "family_role",
            "gn",
            "icon",
            "login"
        ]
    );
    assert_eq!(
        (
            &member["gn"],
            &member["family_role"],
            &member["family_coin"]
        ),
        (&json!("Alice"), &json!(10), &json!(12))
    );
    assert_eq!(
        member["login"].as_str().unwrap().len(),
        19,
        "YYYY-MM-DD HH:MM:SS"
    );
    assert!(!Value::from(all).to_string().contains("uid-a"));

    // random: default 5, capped by random_max, a negative number is malformed
    for i in 0..6 {
        t.owner(&format!("r{i}"), &format!("Rand{i}"), &format!("Rand_{i}"));
    }
    let random = t.ok(&b, "get_random_family", json!({}));
    let families = random["families"].as_array().unwrap();
    assert_eq!(families.len(), 5);
    assert_eq!(
        keys(families[0].as_object().unwrap()),
        ["board", "exp", "icon", "name", "notice", "people"]
    );
    assert_eq!(
        t.ok(&b, "get_random_family", json!({"number": "100"}))["families"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        t.ok(&b, "get_random_family", json!({"number": 0}))["families"],
        json!([])
    );
    t.fails(&b, "get_random_family", json!({"number": -1}), 13);
    t.fails(&b, "get_random_family", json!({"number": "many"}), 13);
}

#[test]
fn family_joining_roles_and_removal_answer_as_the_original() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "Clan");
    let b = t.player("uid-b", "Bob");
    let c = t.player("uid-c", "Carol");
    let d = t.player("uid-d", "Dave");
    let low = t.player_at("uid-low", "Low", 17);
    let e = t.owner("uid-e", "Eve", "Other");

    // invite: 99 not in family, 93 unknown, 95 level, 94 in a family (yourself too)
    t.fails(&b, "invite_user_family", json!({"gn_target": "Carol"}), 99);
    t.fails(&a, "invite_user_family", json!({"gn_target": "Nobody"}), 93);
    t.fails(&a, "invite_user_family", json!({"gn_target": "Low"}), 95);
    t.fails(&a, "invite_user_family", json!({"gn_target": "Eve"}), 94);
    t.fails(&a, "invite_user_family", json!({"gn_target": "Alice"}), 94);
    t.fails(&a, "invite_user_family", json!({}), 13);
    let r = t.call(&a, "invite_user_family", json!({"gn_target": "Bob"}));
    assert_eq!((r.status, r.message.as_str()), (0, "invited user"));
    assert_eq!(
        r.data,
        *json!({"gn": "Bob", "times": 4}).as_object().unwrap()
    );
    let invitation = &t.family_mails(&b, "FAMILY_INVITATION")[0];
    assert_eq!(
        (&invitation["from"], &invitation["body"]),
        (&json!("Clan"), &json!(""))
    );
    let key = invitation["key"].as_str().unwrap().to_string();
    let joined = t.ok(&b, "respond_family", json!({"key": key}));
    assert_eq!(
        keys(&joined),
        ["board", "exp", "fid", "icon", "name", "notice"]
    );
    assert_eq!(joined["name"], "Clan");
    t.s.assert_one_owner("Clan", 2);
    assert_eq!(t.role_of(&b), 0);
    // respond: the same key again, a made-up key, another player's key: 99
    t.fails(&b, "respond_family", json!({"key": key}), 99);
    t.fails(&b, "respond_family", json!({"key": "1.M1P1Q1.nope"}), 99);
    t.fails(&b, "respond_family", json!({"key": "x'; --"}), 99);
    t.fails(&b, "respond_family", json!({}), 13);
    t.fails(&b, "invite_user_family", json!({"gn_target": "Carol"}), 98);

    // join request: 99 in a family, 98 no such family, 95 level (with exp_info)
    t.fails(&b, "request_join_family", json!({"name": "Clan"}), 99);
    t.fails(&c, "request_join_family", json!({"name": "nope"}), 98);
    let r = t.fails(&low, "request_join_family", json!({"name": "Clan"}), 95);
    assert_eq!(r.data["exp_info"]["level"], 17);
    let r = t.call(&c, "request_join_family", json!({"name": "Clan"}));
    assert_eq!((r.status, r.message.as_str()), (0, "requested join"));
    assert_eq!(
        r.data,
        *json!({"name": "Clan", "lim": 4, "cooling": 12 * 3600})
            .as_object()
            .unwrap()
    );
    // it goes to every admin and the owner: make Bob admin first, then ask again
    t.ok(
        &a,
        "set_role_family",
        json!({"gn_target": "Bob", "role": 8}),
    );
    t.ok(&c, "request_join_family", json!({"name": "Clan"}));
    let to_bob = t.family_mails(&b, "FAMILY_REQUEST");
    assert_eq!(to_bob.len(), 1);
    // not again to Alice: Carol's first request still waits in her mailbox
    assert_eq!(t.family_mails(&a, "FAMILY_REQUEST").len(), 1);
    assert_eq!(to_bob[0]["from"], "Carol");
    // Eve (another family's owner) cannot use a key she does not hold
    let bobs_key = to_bob[0]["key"].as_str().unwrap().to_string();
    t.fails(&e, "respond_family", json!({"key": bobs_key}), 99);
    t.ok(&b, "respond_family", json!({"key": bobs_key}));
    t.s.assert_one_owner("Clan", 3);
    // Alice's copy now finds Carol in a family
    let alices_key = t.mail_key(&a, "FAMILY_REQUEST");
    t.fails(&a, "respond_family", json!({"key": alices_key}), 98);

    // set_role: 95 bad role, 99 self, 98 not in family, 97 not a member, 94 same, 96 perm
    let set = |token: &str, gn: &str, role: Value, code: i32| {
        t.fails(
            token,
            "set_role_family",
            json!({"gn_target": gn, "role": role}),
            code,
        );
    };
    set(&a, "Carol", json!(5), 95);
    set(&a, "Carol", json!(-1), 95);
    set(&a, "Alice", json!(8), 99);
    set(&d, "Carol", json!(4), 98);
    set(&a, "Dave", json!(4), 97);
    set(&a, "Nobody", json!(4), 97);
    set(&a, "Eve", json!(4), 97);
    set(&a, "Carol", json!(0), 94);
    set(&a, "Carol", json!(10), 96);
    set(&b, "Carol", json!(8), 96);
    set(&b, "Alice", json!(4), 96);
    set(&c, "Bob", json!(0), 96);
    t.fails(
        &a,
        "set_role_family",
        json!({"gn_target": "Carol", "role": "x"}),
        13,
    );
    let done = t.ok(
        &b,
        "set_role_family",
        json!({"gn_target": "Carol", "role": "4"}),
    );
    assert_eq!(
        done,
        *json!({"gn": "Carol", "role": 4}).as_object().unwrap()
    );
    t.s.assert_one_owner("Clan", 3);

    // notice: 99, 98, 13 for a bad text; the answer counts the day's notices
    t.fails(&d, "set_notice_family", json!({"msg": "hi"}), 99);
    t.fails(&c, "set_notice_family", json!({"msg": "hi"}), 98);
    t.fails(&b, "set_notice_family", json!({"msg": "a\u{1}b"}), 13);
    t.fails(&b, "set_notice_family", json!({"msg": "x".repeat(201)}), 13);
    let notice = "欢迎 'all'; 50% off\nline 2 😀";
    let set = t.ok(&b, "set_notice_family", json!({"msg": notice}));
    assert_eq!(
        set,
        *json!({"notice": notice, "limit": 4, "seconds": 12 * 3600})
            .as_object()
            .unwrap()
    );
    assert_eq!(t.ok(&c, "get_all_family", json!({}))["notice"], notice);

    // remove: 99, 96 self, 95 unknown or familyless, 98 other family, 97 permission
    let remove = |token: &str, gn: &str, code: i32| {
        t.fails(token, "remove_user_family", json!({"gn_target": gn}), code);
    };
    remove(&d, "Carol", 99);
    remove(&b, "Bob", 96);
    remove(&b, "Nobody", 95);
    remove(&b, "Dave", 95);
    remove(&b, "Eve", 98);
    remove(&b, "Alice", 97);
    remove(&c, "Bob", 97);
    let r = t.call(&b, "remove_user_family", json!({"gn_target": "Carol"}));
    assert_eq!((r.status, r.message.as_str()), (0, "removed user"));
    assert_eq!(
        r.data,
        *json!({"gn": "Carol", "rmtimes": 4, "cd_time": 12 * 3600})
            .as_object()
            .unwrap()
    );
    t.fails(&c, "get_all_family", json!({}), 99);
    t.s.assert_one_owner("Clan", 2);

    // leave: 99, the owner cannot (98); a member leaves with a cooldown
    t.fails(&c, "leave_family", json!({}), 99);
    t.fails(&a, "leave_family", json!({}), 98);
    t.hold("uid-b", 3, 37, 50);
    t.hold("uid-b", 3, 36, 70);
    let r = t.call(&b, "leave_family", json!({}));
    assert_eq!((r.status, r.message.as_str()), (0, "left family"));
    assert_eq!(r.data, *json!({"cd_time": 86400}).as_object().unwrap());
    assert_eq!((t.held("uid-b", 3, 37), t.held("uid-b", 3, 36)), (0, 70));
    t.s.assert_one_owner("Clan", 1);
    let r = t.fails(&b, "request_join_family", json!({"name": "Clan"}), 96);
    assert_eq!(r.data["seconds"], 86400);
    t.s.services.clock.advance(3600);
    let r = t.fails(&a, "invite_user_family", json!({"gn_target": "Bob"}), 96);
    assert_eq!(r.data["seconds"], 86400 - 3600);
    t.s.services.clock.advance(DAY - 3600);
    t.invite_and_join(&a, "Bob", &b);
    t.s.assert_one_owner("Clan", 2);

    // the news: the original's keys with game names, oldest first
    let news = t.news(&a);
    assert_eq!(
        news,
        [
            "fm_2:Alice,Bob",
            "fm_3:Bob,Bob",
            "fm_6:Alice,Bob",
            "fm_3:Bob,Carol",
            "fm_6:Bob,Carol",
            "fm_1:Bob,Carol",
            "fm_0:Bob",
            "fm_2:Alice,Bob",
            "fm_3:Bob,Bob",
        ]
    );
    let _ = d;
}

#[test]
fn family_daily_quotas_follow_the_game_day() {
    let t = Fam::start(
        json!({"daily": {"removals": 1, "notices": 2, "invites": 2, "join_requests": 2}}),
    );
    let a = t.owner("uid-a", "Alice", "Clan");
    let b = t.player("uid-b", "Bob");
    let c = t.player("uid-c", "Carol");
    let d = t.player("uid-d", "Dave");
    // invites: 2 a day for the family
    t.invite_and_join(&a, "Bob", &b);
    t.invite_and_join(&a, "Carol", &c);
    t.fails(&a, "invite_user_family", json!({"gn_target": "Dave"}), 91);
    // removals: 1 a day; the refusal says when the day turns
    t.ok(&a, "remove_user_family", json!({"gn_target": "Bob"}));
    let r = t.fails(&a, "remove_user_family", json!({"gn_target": "Carol"}), 94);
    assert_eq!(r.data["cd_time"], 12 * 3600);
    // notices: 2 a day
    assert_eq!(
        t.ok(&a, "set_notice_family", json!({"msg": "1"}))["limit"],
        1
    );
    assert_eq!(
        t.ok(&a, "set_notice_family", json!({"msg": "2"}))["limit"],
        0
    );
    t.fails(&a, "set_notice_family", json!({"msg": "3"}), 97);
    // join requests: 2 a day per player; one pending at a time, so the owner declines
    // (deletes) each before the next
    let decline = || {
        for mail in t.family_mails(&a, "FAMILY_REQUEST") {
            t.ok(&a, "delete_mail", json!({"key": mail["key"]}));
        }
    };
    t.ok(&d, "request_join_family", json!({"name": "Clan"}));
    let r = t.fails(&d, "request_join_family", json!({"name": "Clan"}), 97);
    assert_eq!(
        r.message,
        "your join request is still pending with every admin of this family"
    );
    decline();
    t.ok(&d, "request_join_family", json!({"name": "Clan"}));
    decline();
    t.fails(&d, "request_join_family", json!({"name": "Clan"}), 94);
    // one second before midnight (UTC+8) nothing resets; at midnight everything does
    t.s.services.clock.advance(12 * 3600 - 1);
    t.fails(&a, "set_notice_family", json!({"msg": "3"}), 97);
    t.s.services.clock.advance(1);
    assert_eq!(
        t.ok(&a, "set_notice_family", json!({"msg": "3"}))["limit"],
        1
    );
    assert_eq!(
        t.ok(&a, "invite_user_family", json!({"gn_target": "Dave"}))["times"],
        1
    );
    assert_eq!(
        t.ok(&a, "remove_user_family", json!({"gn_target": "Carol"}))["rmtimes"],
        0
    );
    assert_eq!(
        t.ok(&d, "request_join_family", json!({"name": "Clan"}))["lim"],
        1
    );
}

#[test]
fn family_disband_is_delayed_and_completes_at_the_deadline() {
    let t = Fam::start(json!({"disband_hours": 2}));
    let a = t.owner("uid-a", "Alice", "Clan");
    let b = t.player("uid-b", "Bob");
    let c = t.player("uid-c", "Carol");
    t.invite_and_join(&a, "Bob", &b);
    t.invite_and_join(&a, "Carol", &c);
    t.ok(
        &a,
        "set_role_family",
        json!({"gn_target": "Bob", "role": 8}),
    );
    t.fails(&c, "disband_family", json!({}), 98);
    t.fails(&c, "cancel_disband_family", json!({}), 98);
    t.fails(&b, "cancel_disband_family", json!({}), 97);
    // an admin may disband (the original's rule)
    assert_eq!(
        t.ok(&b, "disband_family", json!({})),
        *json!({"timer": 7200}).as_object().unwrap()
    );
    t.fails(&a, "disband_family", json!({}), 97);
    t.s.services.clock.advance(1800);
    assert_eq!(t.ok(&c, "get_all_family", json!({}))["timer"], 5400);
    // cancelled: the family stays past the old deadline
    assert_eq!(
        t.ok(&a, "cancel_disband_family", json!({})),
        serde_json::Map::new()
    );
    t.fails(&a, "cancel_disband_family", json!({}), 97);
    t.s.services.clock.advance(7200);
    assert_eq!(t.ok(&c, "get_all_family", json!({}))["timer"], -1);
    let news = t.news(&a);
    assert!(
        news.ends_with(&["fm_8:Bob".to_string(), "fm_9:Alice".to_string()]),
        "{news:?}"
    );

    // disbanded again: everything works until the deadline, nothing after it
    t.ok(&a, "disband_family", json!({}));
    t.s.services.clock.advance(7199);
    t.ok(&c, "get_all_family", json!({}));
    let chat = t.ok(&c, "get_login_token_chat", json!({}));
    assert_ne!(t.chat_hash(chat["token"].as_str().unwrap())["fid"], "");
    t.s.services.clock.advance(1);
    // a search does not find it; the first member call deletes it
    t.fails(&b, "search_family", json!({"family_name": "Clan"}), 99);
    assert_eq!(t.s.owners_and_members("Clan"), (0, 0));
    for (token, function) in [
        (&a, "get_all_family"),
        (&b, "cancel_disband_family"),
        (&c, "check_in_family"),
    ] {
        t.fails(token, function, json!({}), 99);
    }
    let chat = t.ok(&c, "get_login_token_chat", json!({}));
    assert_eq!(t.chat_hash(chat["token"].as_str().unwrap())["fid"], "");
    let rows: Option<u64> = t
        .db()
        .query_first(
            "SELECT (SELECT COUNT(*) FROM family_members) + (SELECT COUNT(*) FROM family_history) \
             + (SELECT COUNT(*) FROM family_daily WHERE subject NOT LIKE 'uid-%')",
        )
        .unwrap();
    assert_eq!(rows, Some(0), "members, news and family counters are gone");
    // the name is free again; old members may found or join families at once
    t.hold("uid-c", 3, 5, 2000);
    t.ok(&c, "create_family", json!({"name": "Clan", "icon": 3}));
    t.s.assert_one_owner("Clan", 1);

    // a family past its deadline that nobody read is deleted by whoever meets it
    let d = t.owner("uid-d", "Dave", "Ghost");
    t.ok(&d, "disband_family", json!({}));
    t.s.services.clock.advance(7200);
    t.hold("uid-b", 3, 5, 2000);
    t.ok(&b, "create_family", json!({"name": "Ghost", "icon": 0}));
    t.s.assert_one_owner("Ghost", 1);
    assert_ne!(t.call(&d, "get_all_family", json!({})).status, 0);
    let random = t.ok(&b, "get_random_family", json!({"number": 20}));
    assert_eq!(random["families"].as_array().unwrap().len(), 2);
}

#[test]
fn family_board_icon_and_rename() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "Clan");
    let b = t.player("uid-b", "Bob");
    let _e = t.owner("uid-e", "Eve", "Taken");
    t.invite_and_join(&a, "Bob", &b);

    // blackboard: 99, 98, 13 for bad text
    let outsider = t.player("uid-o", "Out");
    t.fails(&outsider, "set_blackboard_family", json!({"msg": "x"}), 99);
    t.fails(&b, "set_blackboard_family", json!({"msg": "x"}), 98);
    t.fails(&a, "set_blackboard_family", json!({"msg": "a\u{7}"}), 13);
    t.fails(&a, "set_blackboard_family", json!({}), 13);
    let board = "'; DELETE FROM families; -- 😀";
    assert_eq!(
        t.ok(&a, "set_blackboard_family", json!({"msg": board}))["board"],
        board
    );
    assert_eq!(t.ok(&b, "get_all_family", json!({}))["board"], board);

    // icon: 99 out of range, 98, 97, 96 same
    t.fails(&a, "set_icon_family", json!({"icon": -1}), 99);
    t.fails(&a, "set_icon_family", json!({"icon": 65_536}), 99);
    t.fails(&a, "set_icon_family", json!({"icon": "x"}), 13);
    t.fails(&outsider, "set_icon_family", json!({"icon": 2}), 98);
    t.fails(&b, "set_icon_family", json!({"icon": 2}), 97);
    t.fails(&a, "set_icon_family", json!({"icon": 1}), 96);
    assert_eq!(t.ok(&a, "set_icon_family", json!({"icon": "9"}))["icon"], 9);
    assert_eq!(t.ok(&b, "get_all_family", json!({}))["icon"], 9);

    // rename: 99 bad name, 95 taken, 98, 97, 96 funds (nothing paid, nothing renamed)
    let fid = t.ok(&a, "get_all_family", json!({}))["fid"].clone();
    t.fails(&a, "change_name_family", json!({"name": ""}), 99);
    t.fails(&a, "change_name_family", json!({"name": "a'b"}), 99);
    t.fails(&a, "change_name_family", json!({"name": "Taken"}), 95);
    t.fails(&a, "change_name_family", json!({"name": "Clan"}), 95);
    t.fails(&outsider, "change_name_family", json!({"name": "New"}), 98);
    t.hold("uid-b", 3, 5, 1000);
    t.fails(&b, "change_name_family", json!({"name": "New"}), 97);
    t.hold("uid-a", 3, 5, 499);
    t.fails(&a, "change_name_family", json!({"name": "New"}), 96);
    assert_eq!(t.held("uid-a", 3, 5), 499);
    assert_eq!(t.ok(&b, "get_all_family", json!({}))["name"], "Clan");
    t.hold("uid-a", 3, 5, 600);
    let renamed = t.ok(&a, "change_name_family", json!({"name": "New_1"}));
    assert_eq!(
        renamed,
        *json!({"name": "New_1", "iid": 5, "value": 100})
            .as_object()
            .unwrap()
    );
    let all = t.ok(&b, "get_all_family", json!({}));
    assert_eq!(
        (&all["name"], &all["fid"]),
        (&json!("New_1"), &fid),
        "the chat id stays"
    );
    t.fails(&b, "search_family", json!({"family_name": "Clan"}), 99);
    assert!(t
        .news(&a)
        .ends_with(&["fm_5:Alice".to_string(), "fm_7:Alice".to_string()]));
}

#[test]
fn family_renames_at_once_are_each_paid_once() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "First");
    let b = t.owner("uid-b", "Bob", "Second");
    for round in 0..3 {
        // two renames of one family at once: each that happens is paid once
        t.hold("uid-a", 3, 5, 1200);
        let names = [format!("A{round}x"), format!("A{round}y")];
        let statuses = at_once(names.len(), |i| {
            let name = &names[i];
            t.call(&a, "change_name_family", json!({"name": name}))
                .status
        });
        assert_eq!(statuses, [0, 0], "round {round}");
        assert_eq!(
            t.held("uid-a", 3, 5),
            200,
            "round {round}: paid twice, renamed twice"
        );
        let name = t.ok(&a, "get_all_family", json!({}))["name"].clone();
        assert!(names.iter().any(|n| name == n.as_str()), "{name}");

        // two families race for one name: one renames and pays, the other neither
        t.hold("uid-a", 3, 5, 500);
        t.hold("uid-b", 3, 5, 500);
        let wanted = format!("Both{round}");
        let statuses = at_once(2, |i| {
            let token = [&a, &b][i];
            t.call(token, "change_name_family", json!({"name": wanted}))
                .status
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 95], "round {round}");
        let paid = [t.held("uid-a", 3, 5), t.held("uid-b", 3, 5)];
        let winner = statuses.iter().position(|s| *s == 0).unwrap();
        assert_eq!(paid[winner], 0);
        assert_eq!(paid[1 - winner], 500, "the loser paid nothing");
        let winner_token = [&a, &b][winner];
        assert_eq!(
            t.ok(winner_token, "get_all_family", json!({}))["name"],
            wanted.as_str()
        );
        // the winner takes another name, freeing this one for the next round
        t.hold(["uid-a", "uid-b"][winner], 3, 5, 500);
        t.ok(
            winner_token,
            "change_name_family",
            json!({"name": format!("Free{round}{winner}")}),
        );
    }
}

#[test]
fn family_check_in_once_per_game_day() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "Clan");
    let outsider = t.player("uid-o", "Out");
    t.fails(&outsider, "check_in_family", json!({}), 99);
    t.hold("uid-a", 3, 1, 5);
    let r = t.ok(&a, "check_in_family", json!({}));
    assert_eq!(
        Value::from(r),
        json!({
            "remaining": [{"iid": 36, "value": 100}, {"iid": 37, "value": 100}, {"iid": 1, "value": 105}],
            "reward": [{"iid": 36, "value": 100}, {"iid": 37, "value": 100}, {"iid": 1, "value": 100}],
            "exp_data": {"exp": 1, "level": 1, "need": 19, "reward": 1}
        })
    );
    t.fails(&a, "check_in_family", json!({}), 98);
    assert_eq!(t.ok(&a, "get_all_family", json!({}))["is_checkin"], 1);
    t.s.services.clock.advance(12 * 3600 - 1);
    t.fails(&a, "check_in_family", json!({}), 98);
    t.s.services.clock.advance(1);
    assert_eq!(t.ok(&a, "get_all_family", json!({}))["is_checkin"], 0);
    let r = t.ok(&a, "check_in_family", json!({}));
    assert_eq!(r["remaining"][0], json!({"iid": 36, "value": 200}));
    assert_eq!(r["exp_data"]["exp"], 2);
    assert_eq!(t.ok(&a, "get_all_family", json!({}))["exp"], 2);
}

#[test]
fn concurrent_check_ins_give_one_reward() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "Clan");
    for day in 0..3 {
        let statuses: Vec<i32> = at_once(6, |_| t.call(&a, "check_in_family", json!({})).status);
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 98, 98, 98, 98, 98], "day {day}");
        assert_eq!(t.held("uid-a", 3, 36), 100 * (day + 1));
        assert_eq!(t.held("uid-a", 3, 1), 100 * (day + 1));
        assert_eq!(t.ok(&a, "get_all_family", json!({}))["exp"], day + 1);
        t.s.services.clock.advance(DAY);
    }
}

#[test]
fn family_store_and_market_purchases() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "Clan");
    let outsider = t.player("uid-o", "Out");
    // the store: the original's goods, keys "1".."5"
    let store = t.ok(&outsider, "get_store_family", json!({}));
    assert_eq!(
        Value::from(store),
        json!({"1": {"3:36:80": "3:6:9"}, "2": {"3:36:80": "3:7:3"}, "3": {"3:36:80": "3:8:1"},
               "4": {"3:36:80": "3:9:1"}, "5": {"3:36:80": "3:5:1"}})
    );
    t.fails(&outsider, "market_purchase_family", json!({"sid": "1"}), 99);
    t.fails(&a, "market_purchase_family", json!({"sid": "9"}), 97);
    t.fails(&a, "market_purchase_family", json!({"sid": "-1"}), 97);
    t.fails(&a, "market_purchase_family", json!({"sid": "1'; --"}), 97);
    t.fails(&a, "market_purchase_family", json!({}), 13);
    t.fails(&a, "market_purchase_family", json!({"sid": [1]}), 13);
    t.hold("uid-a", 3, 36, 79);
    t.fails(&a, "market_purchase_family", json!({"sid": "1"}), 98);
    assert_eq!((t.held("uid-a", 3, 36), t.held("uid-a", 3, 6)), (79, 0));
    t.hold("uid-a", 3, 36, 200);
    let r = t.ok(&a, "market_purchase_family", json!({"sid": "1"}));
    assert_eq!(
        Value::from(r),
        json!({"remain": ["3:36:120", "3:6:9"], "reward": ["3:36:80", "3:6:9"]})
    );
    let r = t.ok(&a, "market_purchase_family", json!({"sid": 5}));
    assert_eq!(
        r["remain"],
        json!(["3:36:40", "3:5:1"]),
        "diamonds left after create: 0"
    );
    assert!(t
        .news(&a)
        .ends_with(&["fm_4:Alice".to_string(), "fm_4:Alice".to_string()]));

    // concurrent purchases on one balance: exactly as many as it pays for
    t.hold("uid-a", 3, 36, 80 * 3 + 10);
    t.hold("uid-a", 3, 6, 0);
    let statuses: Vec<i32> = at_once(8, |_| {
        t.call(&a, "market_purchase_family", json!({"sid": "1"}))
            .status
    });
    assert_eq!(count(&statuses, 0), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 98), 5, "{statuses:?}");
    assert_eq!((t.held("uid-a", 3, 36), t.held("uid-a", 3, 6)), (10, 27));
}

#[test]
fn family_welfare_once_per_gift_per_day_for_every_member() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "Clan");
    let b = t.player("uid-b", "Bob");
    let outsider = t.player("uid-o", "Out");
    t.invite_and_join(&a, "Bob", &b);
    t.fails(
        &outsider,
        "welfare_purchase_family",
        json!({"sid": "1"}),
        99,
    );
    t.fails(&a, "welfare_purchase_family", json!({"sid": "3"}), 97);
    t.fails(&a, "welfare_purchase_family", json!({}), 13);
    t.hold("uid-a", 3, 5, 99);
    t.fails(&a, "welfare_purchase_family", json!({"sid": "1"}), 98);
    assert_eq!(t.held("uid-b", 3, 1), 0, "nobody got anything");
    t.hold("uid-a", 3, 5, 250);
    let r = t.ok(&a, "welfare_purchase_family", json!({"sid": "1"}));
    assert_eq!(
        Value::from(r),
        json!({"remain": ["3:5:150", "3:1:10000"], "reward": ["3:5:100", "3:1:10000"]})
    );
    assert_eq!(t.held("uid-b", 3, 1), 10_000, "every member gets the gift");
    // once per gift per game day (the refusal for money above did not use it up)
    t.fails(&a, "welfare_purchase_family", json!({"sid": "1"}), 96);
    let r = t.ok(&a, "welfare_purchase_family", json!({"sid": 2}));
    assert_eq!(r["remain"], json!(["3:5:60", "3:5:60"]));
    assert_eq!(t.held("uid-b", 3, 5), 10);
    t.fails(&a, "welfare_purchase_family", json!({"sid": "2"}), 96);
    assert_eq!(
        t.held("uid-a", 3, 5),
        60,
        "a refused purchase costs nothing"
    );
    // concurrent buys of one gift: one
    t.s.services.clock.advance(DAY);
    t.hold("uid-a", 3, 5, 1000);
    let statuses: Vec<i32> = at_once(5, |_| {
        t.call(&a, "welfare_purchase_family", json!({"sid": "2"}))
            .status
    });
    assert_eq!(count(&statuses, 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 96), 4, "{statuses:?}");
    assert_eq!((t.held("uid-a", 3, 5), t.held("uid-b", 3, 5)), (910, 20));
}

#[test]
fn family_abdicate_hands_over_to_a_member_only() {
    let t = Fam::start(json!({}));
    let a = t.owner("uid-a", "Alice", "Clan");
    let b = t.player("uid-b", "Bob");
    let c = t.player("uid-c", "Carol");
    let _e = t.owner("uid-e", "Eve", "Other");
    let outsider = t.player("uid-o", "Out");
    t.invite_and_join(&a, "Bob", &b);
    t.invite_and_join(&a, "Carol", &c);
    t.fails(&outsider, "abdicate_family", json!({"target": "Bob"}), 99);
    t.fails(&a, "abdicate_family", json!({"target": "Nobody"}), 98);
    t.fails(&a, "abdicate_family", json!({"target": "Out"}), 97);
    // the original's bug: a target outside the family left it without owner
    t.fails(&a, "abdicate_family", json!({"target": "Eve"}), 96);
    t.fails(&a, "abdicate_family", json!({"target": "Alice"}), 96);
    t.fails(&b, "abdicate_family", json!({"target": "Carol"}), 95);
    t.fails(&a, "abdicate_family", json!({}), 13);
    t.s.assert_one_owner("Clan", 3);
    t.s.assert_one_owner("Other", 1);
    t.ok(&a, "disband_family", json!({}));
    let r = t.ok(&a, "abdicate_family", json!({"target": "Bob"}));
    assert_eq!(Value::from(r), json!({"Alice": 0, "Bob": 10}));
    t.s.assert_one_owner("Clan", 3);
    assert_eq!((t.role_of(&a), t.role_of(&b)), (0, 10));
    assert_eq!(
        t.ok(&a, "get_all_family", json!({}))["timer"],
        -1,
        "disband cancelled"
    );
    t.ok(&a, "leave_family", json!({}));
    t.fails(&b, "leave_family", json!({}), 98);
    assert!(t.news(&b).contains(&"fm_10:Alice,Bob".to_string()));
}

#[test]
fn one_owner_when_abdicate_and_leave_race() {
    let t = Fam::start(json!({}));
    for round in 0..4 {
        let name = format!("Race{round}");
        let gns: Vec<String> = (0..4).map(|i| format!("R{round}m{i}")).collect();
        let tokens: Vec<String> = gns
            .iter()
            .enumerate()
            .map(|(i, gn)| {
                if i == 0 {
                    t.owner(&format!("{gn}-uid"), gn, &name)
                } else {
                    t.player(&format!("{gn}-uid"), gn)
                }
            })
            .collect();
        for (gn, token) in gns.iter().zip(&tokens).skip(1) {
            t.invite_and_join(&tokens[0], gn, token);
        }
        // the owner hands over to two members at once while they leave
        let calls = [
            (&tokens[0], "abdicate_family", json!({"target": gns[1]})),
            (&tokens[0], "abdicate_family", json!({"target": gns[2]})),
            (&tokens[1], "leave_family", json!({})),
            (&tokens[2], "leave_family", json!({})),
            (&tokens[3], "leave_family", json!({})),
        ];
        let statuses = at_once(calls.len(), |i| {
            let (token, function, data) = &calls[i];
            t.call(token, function, data.clone()).status
        });
        let (owners, members) = t.s.owners_and_members(&name);
        assert_eq!(owners, 1, "round {round}: {statuses:?}");
        assert!(members >= 1, "round {round}");
        assert!(
            statuses[..2].iter().filter(|s| **s == 0).count() <= 1,
            "at most one abdication: {statuses:?}"
        );
    }
}

#[test]
fn member_limit_holds_under_concurrent_joins() {
    let t = Fam::start(json!({"member_limit": 3}));
    let owner = t.owner("owner", "Owner", "Full");
    for i in 0..8 {
        let token = t.player(&format!("j{i}"), &format!("Joiner{i}"));
        t.ok(&token, "request_join_family", json!({"name": "Full"}));
    }
    // the owner holds 8 join requests and accepts them all at once
    let keys: Vec<String> = t
        .family_mails(&owner, "FAMILY_REQUEST")
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 8);
    let statuses = at_once(keys.len(), |i| {
        t.call(&owner, "respond_family", json!({"key": keys[i]}))
            .status
    });
    assert_eq!(count(&statuses, 0), 2, "{statuses:?}");
    assert_eq!(count(&statuses, 96), 6, "{statuses:?}");
    t.s.assert_one_owner("Full", 3);
}

#[test]
fn family_names_never_reach_a_subject_and_round_trip_intact() {
    let t = Fam::start(
        json!({"name_rules": {"min_chars": 1, "max_chars": 40, "charset": "printable"}}),
    );
    let names = [
        "it's \"ours\"",
        "a; DROP TABLE families; --",
        "100% *",
        "chat.s0.family.>",
        "two words 😀🎉",
        "%",
    ];
    let searcher = t.player("searcher", "Searcher");
    for (i, name) in names.iter().enumerate() {
        let token = t.owner(&format!("u{i}"), &format!("P{i}"), name);
        let mine = t.ok(&token, "get_all_family", json!({}));
        assert_eq!(mine["name"], *name);
        let found = t.ok(&searcher, "search_family", json!({"family_name": name}));
        assert_eq!(found["info"]["name"], *name, "exact search");
        let chat = t.ok(&token, "get_login_token_chat", json!({}));
        let hash = t.chat_hash(chat["token"].as_str().unwrap());
        let fid = &hash["fid"];
        assert_eq!(fid, mine["fid"].as_str().unwrap());
        assert!(edge::login::subject_safe(fid), "{name}: fid {fid}");
    }
    t.fails(
        &searcher,
        "search_family",
        json!({"family_name": "100% x"}),
        99,
    );
    let token = t.player("u-new", "Newcomer");
    t.hold("u-new", 3, 5, 2000);
    for bad in ["a\r\nb", " padded", "padded "] {
        t.fails(&token, "create_family", json!({"name": bad, "icon": 0}), 99);
    }
}

fn read_frame(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line.trim_end_matches("\r\n").to_string()
}

#[test]
fn chat_token_is_what_the_edge_redeems() {
    let t = Fam::start(json!({}));
    let nats = testkit::Nats::start();
    let a = t.owner("ca", "Ana", "Chatters");
    let b = t.player("cb", "Bo");
    let c = t.player("cc", "Cy");
    t.invite_and_join(&a, "Bo", &b);

    // the hash: {world, gn, fid}, EX 120, for the edge's own redeem
    let token = t.ok(&a, "get_login_token_chat", json!({}))["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 32);
    let fid = t.ok(&a, "get_all_family", json!({}))["fid"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = t.chat_hash(&token);
    assert_eq!(hash.len(), 4);
    assert_eq!((&hash["world"][..], &hash["gn"][..]), ("s0", "Ana"));
    assert_eq!(hash["fid"], fid);
    assert_eq!(hash["pid"], crate::modules::chat::chat_pid("s0", "ca"));
    let ttl: i64 =
        t.s.services
            .redis
            .run(|c| {
                redis::cmd("TTL")
                    .arg(shared::contract::chat_login_key(&token))
                    .query(c)
            })
            .unwrap();
    assert!((1..=120).contains(&ttl), "{ttl}");
    let identity = edge::login::redeem(&t.s.services.redis, &token).unwrap();
    assert_eq!(identity.fid.as_deref(), Some(fid.as_str()));
    assert_eq!(identity.pid, Some(hash["pid"].clone()));
    assert!(
        edge::login::redeem(&t.s.services.redis, &token).is_err(),
        "once only"
    );
    // no family: fid is empty, which the edge reads as none
    let token = t.ok(&c, "get_login_token_chat", json!({}))["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.chat_hash(&token)["fid"], "");
    let identity = edge::login::redeem(&t.s.services.redis, &token).unwrap();
    assert_eq!((identity.gn.as_str(), identity.fid), ("Cy", None));

    // end to end: Ana's family message reaches Bo through the real edge, not Cy
    let edge =
        edge::Edge::start(edge::Options::local(&t.s.redis_server.url(), &nats.url())).unwrap();
    let connect = |token: &str| {
        let nonce = t.ok(token, "get_login_token_chat", json!({}))["token"]
            .as_str()
            .unwrap()
            .to_string();
        let mut conn = TcpStream::connect(edge.addr()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(conn, "00REGISTER{nonce}\r\n").unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        assert_eq!(read_frame(&mut reader), "00000000OK");
        (conn, reader)
    };
    let (mut ana, mut ana_in) = connect(&a);
    let (_bo, mut bo_in) = connect(&b);
    let (_cy, mut cy_in) = connect(&c);
    // Subscriptions settle asynchronously: repeat until Bo hears the family channel.
    let deadline = Instant::now() + Duration::from_secs(10);
    bo_in
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    loop {
        write!(ana, "0000FAMILYhello family\r\n").unwrap();
        let mut line = String::new();
        if bo_in.read_line(&mut line).is_ok() && !line.is_empty() {
            assert_eq!(line, "0000FAMILYAna:hello family\r\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Bo never heard the family channel"
        );
    }
    assert_eq!(read_frame(&mut ana_in), "0000FAMILYAna:hello family");
    write!(ana, "0000PUBLICto all\r\n").unwrap();
    // Cy (no family) gets the public message and never the family one
    let mut line = String::new();
    cy_in.read_line(&mut line).unwrap();
    assert_eq!(line, "0000PUBLICAna:to all\r\n");
}

#[test]
fn chat_tokens_are_limited_per_player_per_minute() {
    let t = Fam::start(json!({}));
    let a = t.player("ta", "Tia");
    let b = t.player("tb", "Tob");
    let nonces = || -> usize {
        t.s.services
            .redis
            .run(|c| {
                redis::cmd("KEYS")
                    .arg(shared::contract::chat_login_key("*"))
                    .query::<Vec<String>>(c)
            })
            .unwrap()
            .len()
    };
    let limit = crate::modules::chat::DEFAULT_TOKENS_PER_MINUTE as usize;
    for _ in 0..limit {
        t.ok(&a, "get_login_token_chat", json!({}));
    }
    assert_eq!(nonces(), limit);
    let r = t.fails(&a, "get_login_token_chat", json!({}), 95);
    assert_eq!(r.message, "too many chat tokens: try again in a minute");
    assert_eq!(nonces(), limit, "a refused call issues nothing");
    let ttl: i64 =
        t.s.services
            .redis
            .run(|c| {
                redis::cmd("TTL")
                    .arg(crate::keys::chat_tokens("s0", "ta"))
                    .query(c)
            })
            .unwrap();
    assert!(
        (1..=60).contains(&ttl),
        "the count is for one minute: {ttl}"
    );
    // Another player has its own count.
    t.ok(&b, "get_login_token_chat", json!({}));
    // The window ends with its key: then the player gets tokens again.
    t.s.services
        .redis
        .run(|c| {
            redis::cmd("DEL")
                .arg(crate::keys::chat_tokens("s0", "ta"))
                .query::<()>(c)
        })
        .unwrap();
    t.ok(&a, "get_login_token_chat", json!({}));
}

#[test]
fn families_of_version_4_keep_their_rows() {
    let (_server, db, _) = schema_before(5, 2);
    let mut conn = db.conn().unwrap();
    conn.query_drop(
        "INSERT INTO families (world, fid, name, icon, notice) VALUES ('s0', '00ff00ff00ff00ff', 'Old', 3, 'hi');
         INSERT INTO family_members (world, unique_id, fid, role) VALUES ('s0', 'u', '00ff00ff00ff00ff', 10)",
    )
    .unwrap();
    assert!(db::migrate(&db).unwrap().contains(&6));
    let row: Option<(String, i64, String, i64, String, Option<i64>)> = conn
        .query_first("SELECT name, icon, notice, exp, board, disband_at FROM families")
        .unwrap();
    assert_eq!(
        row,
        Some(("Old".into(), 3, "hi".into(), 0, String::new(), None))
    );
    let members: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM family_members")
        .unwrap();
    assert_eq!(members, Some(1));
}

/// The next frame within `wait`, without `\r\n`; `None` if none came.
fn frame_within(reader: &mut BufReader<TcpStream>, wait: Duration) -> Option<String> {
    reader.get_ref().set_read_timeout(Some(wait)).unwrap();
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 => Some(line.trim_end_matches("\r\n").to_string()),
        _ => None,
    }
}

/// Every frame that arrives until 300 ms pass without one.
fn drain(reader: &mut BufReader<TcpStream>) -> Vec<String> {
    let mut frames = Vec::new();
    while let Some(f) = frame_within(reader, Duration::from_millis(300)) {
        frames.push(f);
    }
    frames
}

/// Sends `frame` on `conn` every 200 ms until `reader` gets a frame equal to `want`
/// (events reach the edge asynchronously); panics after 10 s with what was seen.
fn send_until(conn: &mut TcpStream, frame: &str, reader: &mut BufReader<TcpStream>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        write!(conn, "{frame}\r\n").unwrap();
        let until = Instant::now() + Duration::from_millis(200);
        while let Some(f) = frame_within(reader, until.saturating_duration_since(Instant::now())) {
            if f == want {
                return;
            }
            seen.push(f);
            if Instant::now() >= until {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never got {want:?} after sending {frame:?}; got {seen:?}"
        );
    }
}

/// Issue 15, finding 4: chat identity follows the game. A removed member, a member who
/// left and, at the disband deadline, every member lose the family channel within a
/// second (family frames are refused with `no family`, and none arrive); a renamed player
/// speaks under the new name from the next frame, also after another player took the old
/// one. A refused change publishes nothing.
#[test]
fn chat_identity_follows_removal_leave_rename_and_disband() {
    let mut t = Fam::start(json!({"disband_hours": 1}));
    let nats = testkit::Nats::start();
    let client =
        shared::nats::Client::connect(&nats.url(), shared::nats::Options::named("worker-test"))
            .unwrap();
    t.s.services.chat_events = crate::modules::chat::ChatEvents::on(client.clone());
    let watcher = client
        .subscribe(contract::CHAT_EVENTS_SUBJECT, None)
        .unwrap();
    client.flush(Duration::from_secs(5)).unwrap();
    let a = t.owner("ia", "Ida", "Idents");
    let b = t.player("ib", "Ben");
    let c = t.player("ic", "Cat");
    let d = t.player("id", "Dan");
    for (token, gn) in [(&b, "Ben"), (&c, "Cat"), (&d, "Dan")] {
        t.invite_and_join(&a, gn, token);
    }
    let fid = t.ok(&a, "get_all_family", json!({}))["fid"]
        .as_str()
        .unwrap()
        .to_string();
    let edge =
        edge::Edge::start(edge::Options::local(&t.s.redis_server.url(), &nats.url())).unwrap();
    let connect = |token: &str| {
        let nonce = t.ok(token, "get_login_token_chat", json!({}))["token"]
            .as_str()
            .unwrap()
            .to_string();
        let mut conn = TcpStream::connect(edge.addr()).unwrap();
        write!(conn, "00REGISTER{nonce}\r\n").unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        assert_eq!(
            frame_within(&mut reader, Duration::from_secs(10)).as_deref(),
            Some("00000000OK")
        );
        (conn, reader)
    };
    let (mut ida, mut ida_in) = connect(&a);
    let (mut ben, mut ben_in) = connect(&b);
    let (mut cat, mut cat_in) = connect(&c);
    let (mut dan, mut dan_in) = connect(&d);
    // Subscriptions settle asynchronously: the last to join hears the family first.
    send_until(
        &mut ida,
        "0000FAMILYhello",
        &mut dan_in,
        "0000FAMILYIda:hello",
    );
    for reader in [&mut ida_in, &mut ben_in, &mut cat_in, &mut dan_in] {
        drain(reader);
    }

    // Ben is removed, Cat leaves: each is told `no family` and hears the family no more.
    t.ok(&a, "remove_user_family", json!({"gn_target": "Ben"}));
    send_until(
        &mut ben,
        "0000FAMILYstill in?",
        &mut ben_in,
        "00000ERRORno family",
    );
    t.ok(&c, "leave_family", json!({}));
    send_until(
        &mut cat,
        "0000FAMILYstill in?",
        &mut cat_in,
        "00000ERRORno family",
    );
    drain(&mut dan_in);
    write!(ida, "0000FAMILYmembers only\r\n").unwrap();
    assert_eq!(
        frame_within(&mut dan_in, Duration::from_secs(10)).as_deref(),
        Some("0000FAMILYIda:members only")
    );
    for (who, reader) in [("Ben", &mut ben_in), ("Cat", &mut cat_in)] {
        let heard = drain(reader);
        assert!(
            !heard.iter().any(|f| f.contains("members only")),
            "{who} still hears the family: {heard:?}"
        );
    }
    // ... and both still chat in public.
    write!(ben, "0000PUBLICstill here\r\n").unwrap();
    assert_eq!(
        frame_within(&mut ben_in, Duration::from_secs(10)).as_deref(),
        Some("0000PUBLICBen:still here")
    );

    // Refused changes publish nothing: the owner cannot leave, a taken name.
    assert_ne!(t.call(&a, "leave_family", json!({})).status, 0);
    t.hold("ia", 3, 5, 200);
    t.fails(&a, "change_player_name", json!({"gn": "Dan"}), 99);
    // Ida renames; Ben takes her old name: each speaks under the name they have now.
    t.ok(&a, "change_player_name", json!({"gn": "Idun"}));
    t.hold("ib", 3, 5, 100);
    t.ok(&b, "change_player_name", json!({"gn": "Ida"}));
    send_until(
        &mut ida,
        "0000PUBLICwho?",
        &mut ida_in,
        "0000PUBLICIdun:who?",
    );
    send_until(
        &mut ben,
        "0000PUBLICwho?",
        &mut ben_in,
        "0000PUBLICIda:who?",
    );
    drain(&mut dan_in);
    write!(ida, "0000FAMILYrenamed\r\n").unwrap();
    assert_eq!(
        frame_within(&mut dan_in, Duration::from_secs(10)).as_deref(),
        Some("0000FAMILYIdun:renamed")
    );

    // Disband: at the deadline the family is gone (the first call that touches it deletes
    // it) and the channel ends for every member.
    t.ok(&a, "disband_family", json!({}));
    t.s.services.clock.advance(3600);
    assert_ne!(t.call(&d, "get_all_family", json!({})).status, 0);
    send_until(
        &mut dan,
        "0000FAMILYanyone?",
        &mut dan_in,
        "00000ERRORno family",
    );
    drain(&mut ida_in);
    write!(ida, "0000FAMILYanyone?\r\n").unwrap();
    assert_eq!(
        frame_within(&mut ida_in, Duration::from_secs(10)).as_deref(),
        Some("00000ERRORno family")
    );

    // The events on NATS, in order: nothing for the refused calls.
    let pid = |uid: &str| crate::modules::chat::chat_pid("s0", uid);
    let expected = [
        format!("left s0 {} {fid}", pid("ib")),
        format!("left s0 {} {fid}", pid("ic")),
        format!("renamed s0 {} Idun", pid("ia")),
        format!("renamed s0 {} Ida", pid("ib")),
        format!("disbanded s0 {fid}"),
    ];
    let mut got = Vec::new();
    while let Ok(msg) = watcher.recv_timeout(Duration::from_millis(500)) {
        got.push(String::from_utf8(msg.payload).unwrap());
    }
    assert_eq!(got, expected);
}
