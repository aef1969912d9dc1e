//! Issue 15, findings 5-7, as a hostile client does them through the gate: filling
//! another player's mailbox so admin mail bounces, re-sending requests and leaving their
//! nonces behind, re-friending to send the daily heart again, and reserved names spelled
//! with look-alike letters.

use hostile::{new_player, request, status, Player, RawClient};
use serde_json::{json, Value};
use teststack::Stack;

fn call(c: &mut RawClient, p: &Player, function: &str, mut data: Value) -> Value {
    data["token"] = json!(p.session);
    c.call(&request("s0", function, data))
}

fn admin_call(c: &mut RawClient, stack: &Stack, function: &str, mut data: Value) -> Value {
    data["token"] = json!(stack.admin_token());
    c.call(&request("s0", function, data))
}

/// Finding 7: `Αdmin` (Greek Alpha), `ѕystem` (Cyrillic dze), `ＧＭ` (full width) and
/// `Lukѕeun` were accepted as player names; now refused (98 creating, 97 renaming), while
/// ordinary Chinese, Latin and digit names still pass.
#[test]
fn reserved_names_spelled_with_look_alike_letters_are_refused() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "nm");
    let spoofs = [
        "\u{391}dmin",
        "\u{455}ystem",
        "\u{FF27}\u{FF2D}",
        "Luk\u{455}eun",
    ];
    for spoof in spoofs {
        let a = call(&mut c, &p, "change_player_name", json!({"gn": spoof}));
        assert_eq!(status(&a), 97, "renaming to {spoof:?}: {a}");
    }
    // A fresh account creating its player with each spoof.
    let login = c.call(&request(
        "s0",
        "login_unique",
        json!({"unique_id": "nm-fresh-1"}),
    ));
    let account = login["data"]["token"].as_str().expect("token").to_string();
    let enter = c.call(&request("s0", "enter_world", json!({"token": account})));
    let session = enter["data"]["session"]
        .as_str()
        .expect("session")
        .to_string();
    for spoof in spoofs {
        let a = c.call(&request(
            "s0",
            "create_player",
            json!({"token": session, "gn": spoof, "icon": 1}),
        ));
        assert_eq!(status(&a), 98, "creating {spoof:?}: {a}");
    }
    for (i, gn) in [
        "\u{5C0F}\u{660E}abc",
        "Player_7",
        "20241",
        "\u{674E}\u{96F7}",
    ]
    .iter()
    .enumerate()
    {
        let login = c.call(&request(
            "s0",
            "login_unique",
            json!({"unique_id": format!("nm-ok-{i}")}),
        ));
        let account = login["data"]["token"].as_str().expect("token").to_string();
        let enter = c.call(&request("s0", "enter_world", json!({"token": account})));
        let session = enter["data"]["session"].as_str().expect("session");
        let a = c.call(&request(
            "s0",
            "create_player",
            json!({"token": session, "gn": gn, "icon": 1}),
        ));
        assert_eq!(status(&a), 0, "an ordinary name {gn:?}: {a}");
    }
}

/// The key of the newest mail of `kind` (2 friend request, 3 family) from `from`.
fn mail_from(c: &mut RawClient, p: &Player, kind: i64, from: &str) -> Option<String> {
    let all = call(c, p, "get_all_mail", json!({}));
    assert_eq!(status(&all), 0, "get_all_mail: {all}");
    all["data"]["mail"]
        .as_array()
        .expect("mail")
        .iter()
        .find(|m| m["type"] == kind && m["from"] == from)
        .map(|m| m["key"].as_str().expect("key").to_string())
}

fn befriend(c: &mut RawClient, a: &Player, b: &Player) {
    let r = call(c, a, "request_friend", json!({"gn_target": b.gn}));
    assert_eq!(status(&r), 0, "request_friend: {r}");
    let key = mail_from(c, b, 2, &a.gn).expect("the request mail");
    let r = call(c, b, "respond_friend", json!({"key": key}));
    assert_eq!(status(&r), 0, "respond_friend: {r}");
}

/// Finding 6: unfriend and re-friend reset the daily heart, so two colluding players could
/// send and collect hearts without limit. Now the second heart the same day is refused.
#[test]
fn refriending_does_not_reset_the_daily_heart() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let (a, b) = (new_player(&mut c, "ha"), new_player(&mut c, "hb"));
    let mut hearts = 0;
    for round in 0..3 {
        if round > 0 {
            let r = call(&mut c, &a, "remove_friend", json!({"gn_target": b.gn}));
            assert_eq!(status(&r), 0, "remove_friend: {r}");
        }
        befriend(&mut c, &a, &b);
        let sent = call(&mut c, &a, "send_gift_friend", json!({"gn_target": b.gn}));
        let got = call(&mut c, &b, "get_gifts_friend", json!({"gns": [a.gn]}));
        hearts = got["data"]["remain"]
            .as_str()
            .and_then(|r| r.rsplit(':').next())
            .and_then(|n| n.parse::<u64>().ok())
            .expect("remain");
        if round > 0 {
            assert_eq!(
                status(&sent),
                98,
                "round {round}: a second heart today: {sent}"
            );
        }
    }
    eprintln!("hearts collected after 3 unfriend/re-friend rounds in one day: {hearts}");
    assert_eq!(hearts, 1, "one heart a day, however often they re-friend");
}

/// Request nonces auth holds (`auth.nonces.mail:<key>`), i.e. Redis keys request mails
/// leave behind.
fn request_nonces(stack: &Stack) -> usize {
    // On a cluster, KEYS goes to every master and the answers are joined.
    let keys: Vec<String> = stack
        .redis_admin()
        .run(|c| redis::cmd("KEYS").arg("auth.nonces.mail:*").query(c))
        .unwrap();
    keys.len()
}

/// Finding 5: players filled a mailbox (here 5 players x 10 mails, the daily send limit,
/// against the mailbox limit of 50) and then the admin's `send_gift_mail` bounced (98).
/// Now admin and system mail is counted apart from player mail and arrives; players
/// still cannot add more.
#[test]
fn players_filling_a_mailbox_do_not_bounce_admin_mail() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let target = new_player(&mut c, "full");
    let mut sent = 0;
    for n in 0..5 {
        let sender = new_player(&mut c, &format!("fill{n}"));
        for _ in 0..10 {
            let a = call(
                &mut c,
                &sender,
                "send_mail",
                json!({"gn_target": target.gn, "subj": "spam", "body": "x"}),
            );
            assert_eq!(status(&a), 0, "send_mail: {a}");
            sent += 1;
        }
    }
    let extra = new_player(&mut c, "fillx");
    let a = call(
        &mut c,
        &extra,
        "request_friend",
        json!({"gn_target": target.gn}),
    );
    assert_eq!(status(&a), 94, "the mailbox is full for players: {a}");
    let gift = admin_call(
        &mut c,
        &stack,
        "send_gift_mail",
        json!({"gn_target": target.gn, "items": ["3:1:7"]}),
    );
    eprintln!("admin gift into a mailbox {sent} player mails filled: {gift}");
    assert_eq!(status(&gift), 0, "admin gift mail: {gift}");
    let text = admin_call(
        &mut c,
        &stack,
        "send_text_mail",
        json!({"gn_target": target.gn, "msg": "maintenance at noon"}),
    );
    assert_eq!(status(&text), 0, "admin text mail: {text}");
    let key = gift["data"]["key"].as_str().expect("key");
    let accepted = call(&mut c, &target, "accept_gifts", json!({"gift": [key]}));
    assert_eq!(status(&accepted), 0, "{accepted}");
    assert!(accepted["data"]["success"][key].is_array(), "{accepted}");
}

/// Finding 5: a player re-sent friend requests (request, unfriend, request again) to pile
/// them up in one mailbox, and each left a 7-day nonce in Redis that deleting the mail did
/// not remove. Now one request per (sender, target) is pending at a time, and the nonce
/// goes with the mail.
#[test]
fn requests_cannot_pile_up_and_leave_no_nonce_behind() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let (a, u) = (new_player(&mut c, "pa"), new_player(&mut c, "pu"));
    let r = call(&mut c, &a, "request_friend", json!({"gn_target": u.gn}));
    assert_eq!(status(&r), 0, "{r}");
    let r = call(&mut c, &a, "remove_friend", json!({"gn_target": u.gn}));
    assert_eq!(status(&r), 0, "{r}");
    let again = call(&mut c, &a, "request_friend", json!({"gn_target": u.gn}));
    let all = call(&mut c, &u, "get_all_mail", json!({}));
    let requests = all["data"]["mail"]
        .as_array()
        .expect("mail")
        .iter()
        .filter(|m| m["type"] == 2)
        .count();
    eprintln!("friend requests from one sender in one mailbox: {requests}");
    assert_eq!(
        status(&again),
        95,
        "a second request while one is pending: {again}"
    );
    assert_eq!(requests, 1);

    // Declining (deleting) and asking again, as a pair of accounts would to grow Redis.
    for round in 0..3 {
        let key = mail_from(&mut c, &u, 2, &a.gn).expect("the request mail");
        let d = call(&mut c, &u, "delete_mail", json!({"key": key}));
        assert_eq!(status(&d), 0, "{d}");
        let left = request_nonces(&stack);
        eprintln!("round {round}: request nonces left after deleting the mail: {left}");
        assert_eq!(left, 0, "the nonce goes with the mail");
        let r = call(&mut c, &a, "remove_friend", json!({"gn_target": u.gn}));
        assert_eq!(status(&r), 0, "{r}");
        let r = call(&mut c, &a, "request_friend", json!({"gn_target": u.gn}));
        assert_eq!(
            status(&r),
            0,
            "after a decline the sender may ask again: {r}"
        );
    }
    assert_eq!(request_nonces(&stack), 1, "only the one pending request's");
}
