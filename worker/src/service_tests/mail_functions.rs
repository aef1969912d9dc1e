//! The mail functions and the request/accept machinery against real MariaDB and Redis and
//! the real mail and auth services, in-process.

use std::sync::Barrier;

use super::*;
use crate::function::Context;
use crate::modules::mail::{redeem_request, send_request, MailStatus, RequestKind, RequestMail};

/// Mails a mailbox holds in these tests (the service's `--mailbox-limit`).
const MAILBOX_LIMIT: usize = 4;
/// `daily_send_limit` in these tests.
const DAILY_LIMIT: u64 = 3;

struct MailStack {
    s: Stack,
    backends: MailAndAuth,
}

impl MailStack {
    fn start() -> MailStack {
        let mut s = Stack::start();
        let backends = MailAndAuth::start(&mut s, MAILBOX_LIMIT);
        s.config = s
            .config
            .overlay(&json!({"mail": {"daily_send_limit": DAILY_LIMIT,
                "subject_max_chars": 40, "body_max_chars": 500}}))
            .unwrap();
        MailStack { s, backends }
    }

    /// A session token for `uid` in s0 with a player named `gn`.
    fn player(&self, uid: &str, gn: &str) -> String {
        let token = self.session(uid);
        self.s.ok(json!({"world":"s0","function":"create_player",
            "data":{"token":token,"gn":gn,"icon":0}}));
        token
    }

    fn session(&self, uid: &str) -> String {
        self.s.token(uid, TokenKind::Session, Some("s0"), None)
    }

    fn admin(&self) -> String {
        self.s
            .token("admin:gm-1", TokenKind::Admin, Some("s0"), None)
    }

    fn call(&self, token: &str, function: &str, data: Value) -> Response {
        self.s.call_as(token, function, data)
    }

    fn ok(&self, token: &str, function: &str, data: Value) -> serde_json::Map<String, Value> {
        self.s.ok_as(token, function, data)
    }

    fn all_mail(&self, token: &str) -> Vec<Value> {
        let data = self.ok(token, "get_all_mail", json!({}));
        data["mail"].as_array().unwrap().clone()
    }

    fn gift(&self, gn_target: &str, items: Value) -> String {
        let data = self.ok(
            &self.admin(),
            "send_gift_mail",
            json!({"gn_target": gn_target, "items": items, "subj": "礼物 🎁"}),
        );
        data["key"].as_str().unwrap().to_string()
    }

    /// How many of item `group:id` the token's player holds: items of group 3 from
    /// `get_all_resource`, weapon segments (group 0) from `get_all_weapon`.
    fn holding(&self, token: &str, group_and_id: &str) -> u64 {
        let (group, id) = group_and_id.split_once(':').unwrap();
        let id: u64 = id.parse().unwrap();
        let (function, list, key, value) = match group {
            "3" => ("get_all_resource", "items", "iid", "value"),
            "0" => ("get_all_weapon", "weapons", "wid", "seg"),
            other => panic!("no listing of group {other}"),
        };
        let data = self.ok(token, function, json!({}));
        data[list]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i[key] == id)
            .map(|i| i[value].as_u64().unwrap())
            .sum()
    }

    /// The context a game function in s0 gets, for calling the module API directly.
    fn with_context<T>(&self, f: impl FnOnce(&Context) -> T) -> T {
        let ctx = Context::new(&self.s.services, &self.s.config, Some("s0"));
        f(&ctx)
    }
}

/// Why `accept_gifts` did not accept `key`: its status in `reasons`.
fn reason_of(accepted: &serde_json::Map<String, Value>, key: &str) -> Value {
    accepted["reasons"][key]["status"].clone()
}

/// Whether `text` is `"YYYY-MM-DD HH:MM:SS"`.
fn is_game_time(text: &Value) -> bool {
    let text = text.as_str().unwrap_or("");
    text.len() == 19
        && text.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        })
}

/// Sets the stack's clock one minute before a game-day boundary (midnight UTC+8) that is
/// still in the future, so counters' EXPIREAT lies ahead of Redis's own clock too.
fn one_minute_before_game_midnight(m: &MailStack) -> i64 {
    let real_now = crate::function::Clock::system().now();
    let (_, ends_at) = crate::modules::mail::limit::game_day(real_now + 120);
    m.s.services.clock.set(ends_at - 60);
    ends_at - 60
}

#[test]
fn player_mail_round_trip_with_any_unicode() {
    let m = MailStack::start();
    let alice = m.player("dev-alice", "Alice");
    // A uid the mail service cannot take as a name: its mailbox is a hashed name.
    let bob = m.player("玩家 bob/../x", "Bob");
    let subj = "新年快乐 🎉 «ça va?»";
    let body = "亲爱的玩家：\n祝你新年快乐！\t😀 '; DROP TABLE players; --";
    let sent = m.ok(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":subj,"body":body}),
    );
    assert_eq!(sent["sent"], 1, "the first mail of the day");
    let key = sent["key"].as_str().unwrap().to_string();

    let new = m.ok(&bob, "get_new_mail", json!({}));
    let mails = new["mail"].as_array().unwrap();
    assert_eq!(mails.len(), 1, "{new:?}");
    let mail = mails[0].as_object().unwrap();
    let mut fields: Vec<&str> = mail.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["body", "from", "key", "read", "subj", "time", "type"]
    );
    assert_eq!(
        (&mail["key"], &mail["type"], &mail["from"], &mail["read"]),
        (&json!(key), &json!(0), &json!("Alice"), &json!(0))
    );
    assert_eq!((&mail["subj"], &mail["body"]), (&json!(subj), &json!(body)));
    assert!(is_game_time(&mail["time"]), "{}", mail["time"]);
    assert_eq!(new["count"], json!({"cur":1,"max":MAILBOX_LIMIT}));
    // Listed once, it is no longer new; it stays in the mailbox.
    assert!(m.ok(&bob, "get_new_mail", json!({}))["mail"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(m.all_mail(&bob).len(), 1);
    assert!(
        m.all_mail(&alice).is_empty(),
        "the sender's mailbox is untouched"
    );

    assert_eq!(
        m.ok(&bob, "mark_read_mail", json!({ "key": key }))["key"],
        json!(key)
    );
    assert_eq!(m.all_mail(&bob)[0]["read"], 1);
    let second = m.ok(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":"","body":""}),
    );
    assert_eq!(second["sent"], 2);
    let second = second["key"].clone();
    let deleted = m.ok(&bob, "delete_read_mail", json!({}));
    assert_eq!(deleted["keys"], json!([key]));
    assert_eq!(deleted["deleted"], 1);
    let left = m.all_mail(&bob);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["key"], second);
    assert_eq!(
        m.ok(&bob, "delete_mail", json!({ "key": second }))["keys"],
        json!([second])
    );
    assert!(m.all_mail(&bob).is_empty());
    assert_eq!(m.ok(&bob, "delete_read_mail", json!({}))["keys"], json!([]));

    // Keys that name no mail: status 0 with nothing done, as the original's.
    for gone in [
        second.clone(),
        json!("../../etc/passwd"),
        json!("' OR '1'='1"),
    ] {
        assert_eq!(
            m.ok(&bob, "delete_mail", json!({ "key": gone }))["keys"],
            json!([])
        );
        assert_eq!(
            m.ok(&bob, "mark_read_mail", json!({ "key": gone }))["key"],
            json!("")
        );
    }
    for function in ["delete_mail", "mark_read_mail"] {
        let r = m.call(&bob, function, json!({"key": ""}));
        assert_eq!(
            (r.status, r.message.as_str()),
            (99, "key must not be empty"),
            "{function}"
        );
        assert_eq!(m.call(&bob, function, json!({})).status, 13);
        assert_eq!(m.call(&bob, function, json!({"key": 7})).status, 13);
    }

    // Mistakes answer statuses, never a half-done send; refused mails are not counted.
    for nobody in ["Nobody", "Bob ", " Bob", "", "%", "' OR '1'='1"] {
        let r = m.call(
            &alice,
            "send_mail",
            json!({"gn_target":nobody,"subj":"","body":""}),
        );
        assert_status(&r, 17, format_args!("{nobody:?}"));
    }
    for (subj, body, why) in [
        (
            "x".repeat(41),
            String::new(),
            "subj must be at most 40 characters",
        ),
        (
            "a\r\nBcc: x".into(),
            String::new(),
            "subj must not contain control characters",
        ),
        (
            String::new(),
            "é".repeat(501),
            "body must be at most 500 characters",
        ),
    ] {
        let r = m.call(
            &alice,
            "send_mail",
            json!({"gn_target":"Bob","subj":subj,"body":body}),
        );
        assert_eq!((r.status, r.message.as_str()), (98, why));
        assert_eq!(r.data["sent"], 2, "still two sent today");
    }
    for bad in [
        json!({"gn_target":"Bob","subj":1,"body":""}),
        json!({"gn_target":"Bob","body":""}),
        json!({"gn_target":"Bob","subj":""}),
        json!({"subj":"","body":""}),
        json!({"gn_target":["Bob"],"subj":"","body":""}),
    ] {
        assert_eq!(m.call(&alice, "send_mail", bad.clone()).status, 13, "{bad}");
    }
    let r = m.call(
        &m.session("no-player"),
        "send_mail",
        json!({"gn_target":"Bob","subj":"","body":""}),
    );
    assert_eq!(r.status, 17, "a sender needs a player");
    assert!(m.all_mail(&bob).is_empty());
    assert_eq!(
        m.ok(
            &alice,
            "send_mail",
            json!({"gn_target":"Bob","subj":"","body":""})
        )["sent"],
        3
    );
}

#[test]
fn daily_limit_follows_the_game_day_and_full_mailboxes_answer_98() {
    let m = MailStack::start();
    let alice = m.player("dev-alice", "Alice");
    let bob = m.player("dev-bob", "Bob");
    let carol = m.player("dev-carol", "Carol");
    let send = |from: &str, to: &str| {
        m.call(
            from,
            "send_mail",
            json!({"gn_target":to,"subj":"hi","body":""}),
        )
    };
    let late = one_minute_before_game_midnight(&m);
    for n in 1..=DAILY_LIMIT {
        let r = send(&alice, "Bob");
        assert_eq!((r.status, &r.data["sent"]), (0, &json!(n)));
    }
    let r = send(&alice, "Carol");
    assert_eq!(
        (r.status, r.message.as_str()),
        (99, "daily mail limit reached, try again tomorrow")
    );
    assert!(m.all_mail(&carol).is_empty());
    // The counter expires at the end of the game day (midnight UTC+8).
    let (day, ends_at) = crate::modules::mail::limit::game_day(late);
    assert_eq!(ends_at, late + 60);
    let key = crate::modules::mail::limit::counter_key(day, "s0", "dev-alice");
    let expires: i64 =
        m.s.services
            .redis
            .run(|c| redis::cmd("EXPIRETIME").arg(&key).query(c))
            .unwrap();
    assert_eq!(expires, ends_at);
    // A minute later it is the next game day: a new count.
    m.s.services.clock.advance(60);
    assert_eq!(send(&alice, "Carol").data["sent"], 1);

    // Bob's mailbox holds 3 of 4: Carol's first mail fills it, the next answers 98 and is
    // not counted against her day.
    assert_eq!(send(&carol, "Bob").data["sent"], 1);
    let r = send(&carol, "Bob");
    assert_status(&r, 98, "");
    assert_eq!(r.data["sent"], 1);
    assert!(r.message.contains("mailbox is full"), "{}", r.message);
    assert_eq!(m.all_mail(&bob).len(), MAILBOX_LIMIT);
    assert_eq!(send(&carol, "Alice").data["sent"], 2);
    // Admin mail has no daily limit and players cannot crowd it out: it has a mailbox
    // limit of its own (issue 15), and only when that is used up is it 98.
    let gift = json!({"gn_target":"Bob","items":["3:1:1"]});
    let text = json!({"gn_target":"Bob","msg":"hello"});
    for n in 0..MAILBOX_LIMIT {
        let (function, data) = if n % 2 == 0 {
            ("send_gift_mail", &gift)
        } else {
            ("send_text_mail", &text)
        };
        let r = m.call(&m.admin(), function, data.clone());
        assert_status(
            &r,
            0,
            format_args!("{function} into a mailbox players filled"),
        );
    }
    for (function, data) in [("send_gift_mail", gift), ("send_text_mail", text)] {
        let r = m.call(&m.admin(), function, data);
        assert_status(&r, 98, format_args!("{function}"));
    }
    assert_eq!(m.all_mail(&bob).len(), 2 * MAILBOX_LIMIT);
    // Player mail is still refused.
    assert_eq!(send(&carol, "Bob").status, 98);
}

/// Issue 15 finding 5: one pending request per (sender, recipient), even after the
/// sender unfriends; the request's nonce and the sender's pending marker go with the mail
/// (declining = deleting), and an accept frees the sender to ask again.
#[test]
fn one_pending_request_per_sender_and_its_nonce_goes_with_the_mail() {
    let m = MailStack::start();
    let alice = m.player("dev-alice", "Alice");
    let bob = m.player("dev-bob", "Bob");
    let request = || m.call(&alice, "request_friend", json!({"gn_target":"Bob"}));
    let unfriend = || m.ok(&alice, "remove_friend", json!({"gn_target":"Bob"}));
    let requests_to_bob = || {
        m.all_mail(&bob)
            .into_iter()
            .filter(|mail| mail["type"] == 2)
            .map(|mail| mail["key"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let marker = crate::keys::pending_request("s0", "friend_request", "dev-alice", "dev-bob");
    let exists = |key: &str| -> bool {
        m.s.services
            .redis
            .run(|c| redis::cmd("EXISTS").arg(key).query::<i64>(c))
            .unwrap()
            == 1
    };
    let nonces = || -> Vec<String> {
        m.s.services
            .redis
            .run(|c| redis::cmd("KEYS").arg("auth.nonces.mail:*").query(c))
            .unwrap()
    };
    assert_eq!(request().status, 0);
    assert!(exists(&marker));
    unfriend();
    let again = request();
    assert_status(&again, 95, "");
    assert!(again.message.contains("pending"), "{}", again.message);
    let keys = requests_to_bob();
    assert_eq!(keys.len(), 1, "one pending request in Bob's mailbox");
    assert_eq!(nonces().len(), 1, "{:?}", nonces());
    // Bob declines by deleting: nonce and marker go, and Alice may ask again.
    m.ok(&bob, "delete_mail", json!({"key": keys[0]}));
    assert!(nonces().is_empty(), "{:?}", nonces());
    assert!(!exists(&marker));
    unfriend();
    assert_eq!(request().status, 0);
    // Accepting frees the marker too.
    let key = requests_to_bob().pop().unwrap();
    m.ok(&bob, "respond_friend", json!({"key": key}));
    assert!(!exists(&marker));
    assert!(nonces().is_empty());
    // delete_read_mail takes the nonces of the read requests it deletes.
    unfriend();
    assert_eq!(request().status, 0);
    let key = requests_to_bob().into_iter().find(|k| *k != key).unwrap();
    m.ok(&bob, "mark_read_mail", json!({"key": key}));
    assert_eq!(nonces().len(), 1);
    m.ok(&bob, "delete_read_mail", json!({}));
    assert!(nonces().is_empty(), "{:?}", nonces());
    assert!(!exists(&marker));
}

#[test]
fn concurrent_sends_never_pass_the_daily_limit() {
    let m = MailStack::start();
    let alice = m.player("dev-alice", "Alice");
    m.player("dev-bob", "Bob");
    m.player("dev-carol", "Carol");
    one_minute_before_game_midnight(&m);
    let start = Barrier::new(6);
    let answers: Vec<Response> = at_once(6, |i| {
        start.wait();
        let to = if i % 2 == 0 { "Bob" } else { "Carol" };
        m.call(
            &alice,
            "send_mail",
            json!({"gn_target":to,"subj":"","body":""}),
        )
    });
    let mut sent: Vec<i64> = answers
        .iter()
        .filter(|r| r.status == 0)
        .map(|r| r.data["sent"].as_i64().unwrap())
        .collect();
    sent.sort();
    assert_eq!(sent, [1, 2, 3], "each count once");
    assert_eq!(answers.iter().filter(|r| r.status == 99).count(), 3);
}

#[test]
fn keys_only_reach_the_callers_own_mailbox() {
    let m = MailStack::start();
    let alice = m.player("dev-alice", "Alice");
    let bob = m.player("dev-bob", "Bob");
    let key = m.gift("Bob", json!(["3:5:50"]));
    let diamonds = m.holding(&alice, "3:5");

    assert_eq!(
        m.ok(&alice, "mark_read_mail", json!({ "key": key }))["key"],
        ""
    );
    assert_eq!(
        m.ok(&alice, "delete_mail", json!({ "key": key }))["keys"],
        json!([])
    );
    let r = m.ok(&alice, "accept_gifts", json!({"gift":[key],"other":[key]}));
    assert_eq!(r["error"], json!([key]));
    assert_eq!(r["success"], json!({}));
    let r = m.ok(&alice, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(
        (&r["error"], reason_of(&r, &key)),
        (&json!([key]), json!(82))
    );
    assert_eq!(m.holding(&alice, "3:5"), diamonds);
    let mails = m.all_mail(&bob);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["read"], 0, "untouched by the others");
    let accepted = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
    assert!(accepted["success"][&key].is_array());
    // The same player (a new token, so last) in another world has another mailbox.
    let r = m.s.call(json!({"world":"s1","function":"delete_mail",
        "data":{"token": m.s.token("dev-bob", TokenKind::Session, Some("s1"), None), "key": key}}));
    assert_eq!((r.status, &r.data["keys"]), (0, &json!([])));
}

#[test]
fn a_gift_is_granted_once() {
    let m = MailStack::start();
    let bob = m.player("dev-bob", "Bob");
    let before = m.holding(&bob, "3:5");
    let key = m.gift("Bob", json!(["3:5:50", "0:303:7"]));
    let mail = &m.all_mail(&bob)[0];
    assert_eq!(
        (&mail["type"], &mail["from"], &mail["subj"]),
        (&json!(1), &json!("system"), &json!("礼物 🎁"))
    );
    assert_eq!(mail["items"], json!("3:5:50,0:303:7"));

    let accepted = m.ok(&bob, "accept_gifts", json!({"gift":[key],"other":[]}));
    assert_eq!(accepted["error"], json!([]));
    // Granted in lock order, answered in the gift's order, with the holdings after.
    assert_eq!(
        accepted["success"],
        json!({ &key: [
            {"gid":3,"id":5,"remaining":before + 50,"reward":50},
            {"gid":0,"id":303,"remaining":7,"reward":7}
        ]})
    );
    assert_eq!(m.holding(&bob, "3:5"), before + 50);
    assert_eq!(m.holding(&bob, "0:303"), 7);
    assert_eq!(
        m.all_mail(&bob)[0]["read"],
        1,
        "an accepted gift is marked read"
    );
    let again = m.ok(&bob, "accept_gifts", json!({"gift":[key, key]}));
    assert_eq!(
        again["error"],
        json!([key]),
        "a key named twice answers once"
    );
    assert_eq!(
        again["reasons"][&key],
        json!({"status":83,"message":"this mail was already accepted"})
    );
    assert_eq!(m.holding(&bob, "3:5"), before + 50);

    // Several accepts at once: exactly one grants, the others are told it was accepted.
    let key = m.gift("Bob", json!(["3:5:10"]));
    let start = Barrier::new(4);
    let answers = at_once(4, |_| {
        start.wait();
        m.ok(&bob, "accept_gifts", json!({"gift":[key]}))
    });
    let won = answers
        .iter()
        .filter(|a| a["success"].get(&key).is_some())
        .count();
    assert_eq!(won, 1);
    for lost in answers.iter().filter(|a| a["success"].get(&key).is_none()) {
        assert_eq!(reason_of(lost, &key), 83);
    }
    assert_eq!(m.holding(&bob, "3:5"), before + 60);

    // Several keys in one call: each answers for itself; `other` keys are only marked read.
    assert_eq!(
        m.ok(&bob, "delete_read_mail", json!({}))["deleted"],
        2,
        "the accepted gifts"
    );
    let carol = m.player("dev-carol", "Carol");
    let simple = m.ok(
        &carol,
        "send_mail",
        json!({"gn_target":"Bob","subj":"not a gift","body":""}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let note = m.ok(
        &carol,
        "send_mail",
        json!({"gn_target":"Bob","subj":"read me","body":""}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let gift = m.gift("Bob", json!(["3:1:3"]));
    let coins = m.holding(&bob, "3:1");
    let mixed = m.ok(
        &bob,
        "accept_gifts",
        json!({"gift":[gift, simple, "1.M1P1Q1.nowhere", gift],"other":[note]}),
    );
    assert_eq!(m.holding(&bob, "3:1"), coins + 3);
    assert_eq!(
        mixed["success"],
        json!({ &gift: [{"gid":3,"id":1,"remaining":coins + 3,"reward":3}] })
    );
    assert_eq!(mixed["error"], json!([note, simple, "1.M1P1Q1.nowhere"]));
    assert_eq!(reason_of(&mixed, &simple), 84);
    assert_eq!(reason_of(&mixed, "1.M1P1Q1.nowhere"), 82);
    let read_note = m.all_mail(&bob).into_iter().find(|m| m["key"] == note);
    assert_eq!(read_note.unwrap()["read"], 1);
    for bad in [
        json!({"gift":"abc"}),
        json!({"gift":[1]}),
        json!({}),
        json!({"gift":[],"other":"x"}),
    ] {
        assert_eq!(
            m.call(&bob, "accept_gifts", bad.clone()).status,
            13,
            "{bad}"
        );
    }
    let empty = m.ok(&bob, "accept_gifts", json!({"gift":[]}));
    assert_eq!(
        (&empty["error"], &empty["success"]),
        (&json!([]), &json!({}))
    );
    let many: Vec<String> = (0..65).map(|i| format!("1.M1P1Q{i}.h")).collect();
    let r = m.call(&bob, "accept_gifts", json!({ "gift": many }));
    assert_eq!(r.status, 85);
}

#[test]
fn a_gift_whose_grant_fails_can_be_accepted_later() {
    let mut m = MailStack::start();
    let bob = m.player("dev-bob", "Bob");
    let key = m.gift("Bob", json!(["0:501:4"]));
    // The game config loses weapon 501's segments: the grant fails, nothing is granted and
    // the gift stays acceptable.
    let full = m.s.config.clone();
    let mut items = full.file("items").unwrap().clone();
    items["groups"][0]["items"]
        .as_array_mut()
        .unwrap()
        .retain(|i| i["id"] != 501);
    m.s.config = full.overlay(&json!({ "items": items })).unwrap();
    let failed = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(reason_of(&failed, &key), 19);
    assert_eq!(failed["error"], json!([key]));
    assert_eq!(m.holding(&bob, "0:501"), 0);
    assert_eq!(m.all_mail(&bob)[0]["read"], 0);

    m.s.config = full;
    let accepted = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(accepted["success"][&key][0]["remaining"], 4);
    assert_eq!(m.holding(&bob, "0:501"), 4);
}

#[test]
fn no_mail_is_left_behind_when_auth_is_down() {
    let mut m = MailStack::start();
    let bob = m.player("dev-bob", "Bob");
    let now = one_minute_before_game_midnight(&m);
    m.backends.auth.take().unwrap().stop();
    let r = m.call(
        &m.admin(),
        "send_gift_mail",
        json!({"gn_target":"Bob","items":["3:5:5"]}),
    );
    assert_status(&r, 16, "");
    assert!(m.all_mail(&bob).is_empty(), "the mail was removed again");
    // Mail without a nonce does not need auth.
    let alice = m.player("dev-alice", "Alice");
    assert_eq!(
        m.call(
            &alice,
            "send_mail",
            json!({"gn_target":"Bob","subj":"","body":""})
        )
        .status,
        0
    );
    // The mail service down: 16, and the failed send is not counted against the day.
    m.backends.mail.take().unwrap().stop();
    let r = m.call(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":"","body":""}),
    );
    assert_eq!(r.status, 16);
    assert_eq!(m.call(&bob, "get_all_mail", json!({})).status, 16);
    let (day, _) = crate::modules::mail::limit::game_day(now);
    let key = crate::modules::mail::limit::counter_key(day, "s0", "dev-alice");
    let sent: i64 =
        m.s.services
            .redis
            .run(|c| redis::cmd("GET").arg(&key).query(c))
            .unwrap();
    assert_eq!(sent, 1);
}

#[test]
fn gift_mail_is_for_admins_only_and_checks_its_items() {
    let m = MailStack::start();
    let bob = m.player("dev-bob", "Bob");
    let r = m.call(
        &bob,
        "send_gift_mail",
        json!({"gn_target":"Bob","items":["3:5:5"]}),
    );
    assert_eq!(r.status, 15);
    let r = m.call(
        &bob,
        "send_gift_mail",
        json!({"gn_target":"Bob","group_id":3,"item_id":5,"quantity":5}),
    );
    assert_eq!(r.status, 15);
    let admin = m.admin();
    for (fields, status) in [
        (json!({"items":["3:5:0"]}), 19),
        (json!({"items":["7:7:7"]}), 19),
        (json!({"items":["0:1"]}), 19),
        (json!({"items":["3:5:-5"]}), 19),
        (json!({"items":["3:5:1000000000000"]}), 19),
        (json!({"items":["3:5:99999999999999999999999"]}), 19),
        (json!({"items":[]}), 85),
        (json!({"items":"3:5:5"}), 13),
        (json!({"group_id":3,"item_id":5,"quantity":0}), 19),
        (json!({"group_id":3,"item_id":5,"quantity":-5}), 19),
        (
            json!({"group_id":3,"item_id":5,"quantity":1_000_000_000_000_i64}),
            19,
        ),
        (json!({"group_id":-3,"item_id":5,"quantity":5}), 19),
        (
            json!({"group_id":3,"item_id":4_294_967_301_i64,"quantity":5}),
            19,
        ),
        (json!({"group_id":3,"item_id":999,"quantity":5}), 19),
        (json!({"group_id":"x","item_id":5,"quantity":5}), 13),
        (json!({"group_id":3,"item_id":5}), 13),
        (json!({"group_id":3,"item_id":5,"quantity":1.5}), 13),
        (json!({}), 13),
    ] {
        let mut data = fields.clone();
        data["gn_target"] = "Bob".into();
        let r = m.call(&admin, "send_gift_mail", data);
        assert_status(&r, status, format_args!("{fields}"));
    }
    assert!(m.all_mail(&bob).is_empty());
    for gn in ["Nobody", "' OR '1'='1", "%", "Bob "] {
        let r = m.call(
            &admin,
            "send_gift_mail",
            json!({"gn_target":gn,"items":["3:5:5"]}),
        );
        assert_status(&r, 99, format_args!("{gn:?}"));
    }
    assert!(m.all_mail(&bob).is_empty());

    // The original's fields (numbers as strings too, as its int() took them).
    let before = m.holding(&bob, "3:5");
    m.ok(
        &admin,
        "send_gift_mail",
        json!({"gn_target":"Bob","group_id":"3","item_id":5,"quantity":"25"}),
    );
    let mail = m.all_mail(&bob)[0].clone();
    assert_eq!(
        (
            &mail["type"],
            &mail["from"],
            &mail["subj"],
            &mail["body"],
            &mail["items"]
        ),
        (
            &json!(1),
            &json!("system"),
            &json!("SYSTEM_REWARD"),
            &json!("GIFT_1"),
            &json!("3:5:25")
        )
    );
    let key = mail["key"].as_str().unwrap();
    let accepted = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(
        accepted["success"][key],
        json!([{"gid":3,"id":5,"remaining":before + 25,"reward":25}])
    );
}

#[test]
fn text_mail_is_for_admins_only() {
    let m = MailStack::start();
    let bob = m.player("dev-bob", "Bob");
    let msg = "维护通知 🛠 '; DROP TABLE players; --\n明天见";
    let r = m.call(&bob, "send_text_mail", json!({"gn_target":"Bob","msg":msg}));
    assert_eq!(r.status, 15);
    assert!(m.all_mail(&bob).is_empty());
    let admin = m.admin();
    let sent = m.ok(
        &admin,
        "send_text_mail",
        json!({"gn_target":"Bob","msg":msg}),
    );
    let mail = m.all_mail(&bob)[0].clone();
    assert_eq!(mail["key"], sent["key"]);
    assert_eq!(
        (&mail["type"], &mail["from"], &mail["subj"], &mail["body"]),
        (&json!(0), &json!("system"), &json!(""), &json!(msg))
    );
    assert!(mail.get("items").is_none());
    // No daily limit: more than a player may send.
    for _ in 0..DAILY_LIMIT {
        m.ok(
            &admin,
            "send_text_mail",
            json!({"gn_target":"Bob","msg":"x","subj":"s"}),
        );
    }
    for (data, status) in [
        (json!({"gn_target":"Nobody","msg":"x"}), 99),
        (json!({"gn_target":"Bob"}), 13),
        (json!({"msg":"x"}), 13),
        (json!({"gn_target":"Bob","msg":5}), 13),
        (json!({"gn_target":"Bob","msg":"é".repeat(501)}), 85),
        (json!({"gn_target":"Bob","msg":"a\u{0}b"}), 85),
        (json!({"gn_target":"Bob","msg":"x","subj":"a\nb"}), 85),
    ] {
        let r = m.call(&admin, "send_text_mail", data.clone());
        assert_status(&r, status, format_args!("{data}"));
    }
}

#[test]
fn request_mails_carry_their_payload_to_the_one_accept() {
    let m = MailStack::start();
    let bob = m.player("dev-bob", "Bob");
    let payload = json!({"from_uid":"dev-alice"}).as_object().unwrap().clone();
    let key = m
        .with_context(|ctx| {
            send_request(
                ctx,
                &RequestMail {
                    world: "s0",
                    target_uid: "dev-bob",
                    kind: RequestKind::FriendRequest,
                    from: "Alice",
                    sender: Some("dev-alice"),
                    subj: "friend?",
                    body: "",
                    items: &[],
                    payload: payload.clone(),
                },
            )
        })
        .unwrap();
    assert_eq!(m.all_mail(&bob)[0]["type"], 2);
    // Not a gift, not a family invitation, not Alice's mail.
    let r = m.call(&bob, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(reason_of(&r.data, &key), 84);
    let wrong_kind =
        m.with_context(|ctx| redeem_request(ctx, "dev-bob", &key, RequestKind::FamilyInvite));
    assert_eq!(wrong_kind.unwrap_err(), MailStatus::WrongKind.error());
    let not_hers =
        m.with_context(|ctx| redeem_request(ctx, "dev-alice", &key, RequestKind::FriendRequest));
    assert_eq!(not_hers.unwrap_err(), MailStatus::NoSuchMail.error());

    let redeemed = m
        .with_context(|ctx| redeem_request(ctx, "dev-bob", &key, RequestKind::FriendRequest))
        .unwrap();
    assert_eq!(
        Value::from(redeemed),
        json!({"from_uid":"dev-alice","kind":"friend_request","target":"dev-bob","world":"s0",
            "sender":"dev-alice"})
    );
    assert_eq!(m.all_mail(&bob)[0]["read"], 1);
    let twice =
        m.with_context(|ctx| redeem_request(ctx, "dev-bob", &key, RequestKind::FriendRequest));
    assert_eq!(twice.unwrap_err(), MailStatus::AlreadyAccepted.error());
}
