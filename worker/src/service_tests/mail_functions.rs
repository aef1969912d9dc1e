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
            .token("gm-1", TokenKind::Session, Some("s0"), Some("admin"))
    }

    fn call(&self, token: &str, function: &str, mut data: Value) -> Response {
        data["token"] = token.into();
        self.s
            .call(json!({"world":"s0","function":function,"data":data}))
    }

    fn ok(&self, token: &str, function: &str, data: Value) -> serde_json::Map<String, Value> {
        let r = self.call(token, function, data.clone());
        assert_eq!(r.status, 0, "{function} {data} answered {}", r.to_json());
        r.data
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

fn result_of<'a>(accepted: &'a serde_json::Map<String, Value>, key: &str) -> &'a Value {
    &accepted["results"][key]
}

#[test]
fn player_mail_round_trip_with_any_unicode() {
    let m = MailStack::start();
    let alice = m.player("dev-alice", "Alice");
    // A uid the mail service cannot take as a name: its mailbox is a hashed name.
    let bob = m.player("玩家 bob/../x", "Bob");
    let subj = "新年快乐 🎉 «ça va?»";
    let body = "亲爱的玩家：\n祝你新年快乐！\t😀 '; DROP TABLE players; --";
    let key = m.ok(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":subj,"body":body}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();

    let new = m.ok(&bob, "get_new_mail", json!({}));
    let mails = new["mail"].as_array().unwrap();
    assert_eq!(mails.len(), 1, "{new:?}");
    let mail = &mails[0];
    assert_eq!(
        (&mail["key"], &mail["type"], &mail["from"]),
        (&json!(key), &json!(0), &json!("Alice"))
    );
    assert_eq!((&mail["subj"], &mail["body"]), (&json!(subj), &json!(body)));
    assert_eq!(mail["read"], false);
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

    m.ok(&bob, "mark_read_mail", json!({ "key": key }));
    assert_eq!(m.all_mail(&bob)[0]["read"], true);
    let second = m.ok(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":"","body":""}),
    )["key"]
        .clone();
    let deleted = m.ok(&bob, "delete_read_mail", json!({}));
    assert_eq!(deleted["deleted"], 1);
    let left = m.all_mail(&bob);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["key"], second);
    m.ok(&bob, "delete_mail", json!({ "key": second }));
    assert!(m.all_mail(&bob).is_empty());

    // Mistakes answer statuses, never a half-done send.
    let r = m.call(&bob, "delete_mail", json!({ "key": second }));
    assert_eq!(
        (r.status, r.message.as_str()),
        (82, "no such mail in your mailbox")
    );
    let r = m.call(&bob, "mark_read_mail", json!({"key": "../../etc/passwd"}));
    assert_eq!(r.status, 82);
    let r = m.call(
        &alice,
        "send_mail",
        json!({"gn_target":"Nobody","subj":"","body":""}),
    );
    assert_eq!(r.status, 17, "{}", r.to_json());
    let r = m.call(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":"x".repeat(41),"body":""}),
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (85, "subj must be at most 40 characters")
    );
    let r = m.call(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":"a\r\nBcc: x","body":""}),
    );
    assert_eq!(r.status, 85);
    let r = m.call(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":"","body":"é".repeat(501)}),
    );
    assert_eq!(r.status, 85);
    let r = m.call(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":1,"body":""}),
    );
    assert_eq!(r.status, 13);
    let r = m.call(
        &m.session("no-player"),
        "send_mail",
        json!({"gn_target":"Bob","subj":"","body":""}),
    );
    assert_eq!(r.status, 17, "a sender needs a player");
    assert!(m.all_mail(&bob).is_empty());
}

#[test]
fn daily_limit_and_full_mailboxes() {
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
    for _ in 0..DAILY_LIMIT {
        assert_eq!(send(&alice, "Bob").status, 0);
    }
    let r = send(&alice, "Carol");
    assert_eq!(
        (r.status, r.message.as_str()),
        (81, "daily mail limit reached, try again tomorrow")
    );
    assert!(m.all_mail(&carol).is_empty());
    // The counter expires with the UTC day.
    let (day, _) = crate::modules::mail::limit::today();
    let key = crate::modules::mail::limit::counter_key(day, "s0", "dev-alice");
    let ttl: i64 =
        m.s.services
            .redis
            .run(|c| redis::cmd("TTL").arg(&key).query(c))
            .unwrap();
    assert!(ttl > 0 && ttl <= 86_400, "ttl {ttl}");

    // Bob's mailbox holds 3 of 4: Carol's first mail fills it, the next answers 80 and is
    // not counted against her day.
    assert_eq!(send(&carol, "Bob").status, 0);
    let r = send(&carol, "Bob");
    assert_eq!(
        (r.status, r.message.as_str()),
        (80, "the recipient's mailbox is full")
    );
    assert_eq!(m.all_mail(&bob).len(), MAILBOX_LIMIT);
    for _ in 1..DAILY_LIMIT {
        assert_eq!(send(&carol, "Alice").status, 0);
    }
    assert_eq!(send(&carol, "Alice").status, 81);
    // Gifts are system mail: no daily limit, but the mailbox limit holds.
    let r = m.call(
        &m.admin(),
        "send_gift_mail",
        json!({"gn_target":"Bob","items":["3:1:1"]}),
    );
    assert_eq!(r.status, 80);
}

#[test]
fn keys_only_reach_the_callers_own_mailbox() {
    let m = MailStack::start();
    let alice = m.player("dev-alice", "Alice");
    let bob = m.player("dev-bob", "Bob");
    let key = m.gift("Bob", json!(["3:5:50"]));
    let diamonds = m.holding(&alice, "3:5");

    for function in ["mark_read_mail", "delete_mail"] {
        let r = m.call(&alice, function, json!({ "key": key }));
        assert_eq!(r.status, 82, "{function}");
    }
    let r = m.call(&alice, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(r.status, 0);
    assert_eq!(result_of(&r.data, &key)["status"], 82);
    assert_eq!(m.holding(&alice, "3:5"), diamonds);
    let mails = m.all_mail(&bob);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["read"], false, "untouched by the others");
    let accepted = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(result_of(&accepted, &key)["status"], 0);
    // The same player (a new token, so last) in another world has another mailbox.
    let r = m.s.call(json!({"world":"s1","function":"delete_mail",
        "data":{"token": m.s.token("dev-bob", TokenKind::Session, Some("s1"), None), "key": key}}));
    assert_eq!(r.status, 82);
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
    assert_eq!(mail["items"], json!(["3:5:50", "0:303:7"]));

    let accepted = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(
        result_of(&accepted, &key),
        &json!({"status":0,"items":["3:5:50","0:303:7"]})
    );
    assert_eq!(m.holding(&bob, "3:5"), before + 50);
    assert_eq!(m.holding(&bob, "0:303"), 7);
    assert_eq!(
        m.all_mail(&bob)[0]["read"],
        true,
        "an accepted gift is marked read"
    );
    let again = m.ok(&bob, "accept_gifts", json!({"gift":[key, key]}));
    assert_eq!(
        result_of(&again, &key),
        &json!({"status":83,"message":"this mail was already accepted"})
    );
    assert_eq!(m.holding(&bob, "3:5"), before + 50);

    // Two accepts at once: one grants, the other is told it was accepted already.
    let key = m.gift("Bob", json!(["3:5:10"]));
    let start = Barrier::new(2);
    let statuses: Vec<Value> = std::thread::scope(|scope| {
        let accept = || {
            start.wait();
            let data = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
            result_of(&data, &key)["status"].clone()
        };
        let one = scope.spawn(accept);
        let two = scope.spawn(accept);
        vec![one.join().unwrap(), two.join().unwrap()]
    });
    let mut statuses: Vec<i64> = statuses.iter().map(|s| s.as_i64().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [0, 83]);
    assert_eq!(m.holding(&bob, "3:5"), before + 60);

    // Several keys in one call: each answers for itself.
    let simple = m.ok(
        &m.player("dev-carol", "Carol"),
        "send_mail",
        json!({"gn_target":"Bob","subj":"not a gift","body":""}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let gift = m.gift("Bob", json!(["3:1:3"]));
    let coins = m.holding(&bob, "3:1");
    let mixed = m.ok(
        &bob,
        "accept_gifts",
        json!({"gift":[gift, simple, "1.M1P1Q1.nowhere", gift]}),
    );
    assert_eq!(
        result_of(&mixed, &gift)["status"],
        0,
        "a key named twice keeps its answer"
    );
    assert_eq!(m.holding(&bob, "3:1"), coins + 3);
    assert_eq!(result_of(&mixed, &simple)["status"], 84);
    assert_eq!(result_of(&mixed, "1.M1P1Q1.nowhere")["status"], 82);
    let r = m.call(&bob, "accept_gifts", json!({"gift":"abc"}));
    assert_eq!(r.status, 13);
    let r = m.call(&bob, "accept_gifts", json!({"gift":[]}));
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
    assert_eq!(result_of(&failed, &key)["status"], 19);
    assert_eq!(m.holding(&bob, "0:501"), 0);
    assert_eq!(m.all_mail(&bob)[0]["read"], false);

    m.s.config = full;
    let accepted = m.ok(&bob, "accept_gifts", json!({"gift":[key]}));
    assert_eq!(result_of(&accepted, &key)["status"], 0);
    assert_eq!(m.holding(&bob, "0:501"), 4);
}

#[test]
fn no_mail_is_left_behind_when_auth_is_down() {
    let mut m = MailStack::start();
    let bob = m.player("dev-bob", "Bob");
    m.backends.auth.take().unwrap().stop();
    let r = m.call(
        &m.admin(),
        "send_gift_mail",
        json!({"gn_target":"Bob","items":["3:5:5"]}),
    );
    assert_eq!(r.status, 16, "{}", r.to_json());
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
    // The mail service down: 99, and the failed send is not counted against the day.
    m.backends.mail.take().unwrap().shutdown();
    let r = m.call(
        &alice,
        "send_mail",
        json!({"gn_target":"Bob","subj":"","body":""}),
    );
    assert_eq!(r.status, 16);
    assert_eq!(m.call(&bob, "get_all_mail", json!({})).status, 16);
    let (day, _) = crate::modules::mail::limit::today();
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
    let admin = m.admin();
    for (items, status) in [
        (json!(["3:5:0"]), 19),
        (json!(["7:7:7"]), 19),
        (json!(["0:1"]), 19),
        (json!([]), 85),
        (json!("3:5:5"), 13),
    ] {
        let r = m.call(
            &admin,
            "send_gift_mail",
            json!({"gn_target":"Bob","items":items}),
        );
        assert_eq!(r.status, status, "{items}: {}", r.to_json());
    }
    let r = m.call(
        &admin,
        "send_gift_mail",
        json!({"gn_target":"Nobody","items":["3:5:5"]}),
    );
    assert_eq!(r.status, 17);
    assert!(m.all_mail(&bob).is_empty());
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
    assert_eq!(result_of(&r.data, &key)["status"], 84);
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
        json!({"from_uid":"dev-alice","kind":"friend_request","target":"dev-bob","world":"s0"})
    );
    assert_eq!(m.all_mail(&bob)[0]["read"], true);
    let twice =
        m.with_context(|ctx| redeem_request(ctx, "dev-bob", &key, RequestKind::FriendRequest));
    assert_eq!(twice.unwrap_err(), MailStatus::AlreadyAccepted.error());
}
