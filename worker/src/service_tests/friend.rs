//! Friends as the original's friend.py answers them, against real MariaDB and Redis and
//! the real mail and auth services (a request travels as a mail with a nonce): one-sided
//! requests, the daily request limit, hearts collected by their recipient, and exactly
//! one grant under concurrent calls.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::Clock;

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;

struct Friends {
    g: Game,
    _backends: MailAndAuth,
}

impl Friends {
    /// The stack with `overlay` replacing config files, a mail service whose mailboxes
    /// hold `mailbox_limit` mails, and the clock fixed at [`NOON`].
    fn start(overlay: Value, mailbox_limit: usize) -> Friends {
        let mut g = Game::start();
        let backends = MailAndAuth::start(&mut g.s, mailbox_limit);
        g.s.config = g.s.config.overlay(&overlay).unwrap();
        g.s.services.clock = Arc::new(Clock::fixed(NOON));
        Friends {
            g,
            _backends: backends,
        }
    }

    fn next_day(&self) {
        self.g.s.services.clock.advance(86_400);
    }

    /// The key of the friend request mail from `from` in the token's mailbox.
    fn request_from(&self, token: &str, from: &str) -> String {
        let data = self.g.ok(token, "get_all_mail", json!({}));
        let mail = data["mail"].as_array().unwrap();
        let found = mail.iter().find(|m| m["type"] == 2 && m["from"] == from);
        let found = found.unwrap_or_else(|| panic!("no request from {from} in {mail:?}"));
        found["key"].as_str().unwrap().to_string()
    }

    /// `a` requests `b_gn`, `b` accepts.
    fn befriend(&self, a: &str, a_gn: &str, b: &str, b_gn: &str) {
        self.g.ok(a, "request_friend", json!({"gn_target": b_gn}));
        let key = self.request_from(b, a_gn);
        self.g.ok(b, "respond_friend", json!({"key": key}));
    }

    fn friends(&self, token: &str) -> Vec<Value> {
        self.g.ok(token, "get_all_friend", json!({}))["friends"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn friend(&self, token: &str, gn: &str) -> Value {
        self.friends(token)
            .into_iter()
            .find(|f| f["gn"] == gn)
            .unwrap_or(Value::Null)
    }
}

#[test]
fn requests_are_one_sided_until_accepted() {
    let f = Friends::start(json!({}), 50);
    let g = &f.g;
    let ann = g.player("fa", "Ann");
    let ben = g.player("fb", "Ben");
    let cid = g.player("fc", "Cid");

    assert_eq!(
        g.fails(&ann, "request_friend", json!({"gn_target": "Ann"}), 99),
        "do not be an idiot"
    );
    assert_eq!(
        g.fails(&ann, "request_friend", json!({"gn_target": "Nobody"}), 97),
        "no such person"
    );
    for sneaky in ["%", "Ben'--", "' OR '1'='1", "Ben ", " Ben", "😀", ""] {
        g.fails(&ann, "request_friend", json!({"gn_target": sneaky}), 97);
    }
    g.fails(&ann, "request_friend", json!({}), 13);
    g.fails(&ann, "request_friend", json!({"gn_target": 7}), 13);
    let sent = g.call(&ann, "request_friend", json!({"gn_target": "Ben"}));
    assert_eq!((sent.status, sent.message.as_str()), (0, "success"));
    assert_eq!(Value::from(sent.data), json!({"gn": "Ben"}));
    assert_eq!(
        g.fails(&ann, "request_friend", json!({"gn_target": "Ben"}), 95),
        "already friends"
    );
    // on Ann's list at once, one-sided
    assert_eq!(
        f.friends(&ann),
        [json!({"gn":"Ben","exp":0,"recover":"","since":"","fid":"","icon":0,"intro":"","isre":1})]
    );
    assert_eq!(f.friends(&ben), Vec::<Value>::new());
    let found = g.ok(&ann, "find_person", json!({"gn_target": "Ben"}));
    assert_eq!(
        Value::from(found),
        json!({"gn":"Ben","fid":"","icon":0,"intro":"","exp":0,"stage":0,"isfriend":true,"canfamily":false})
    );
    assert_eq!(
        g.ok(&ben, "find_person", json!({"gn_target": "Ann"}))["isfriend"],
        false
    );
    assert_eq!(
        g.fails(&ann, "find_person", json!({"gn_target": "Ann"}), 98),
        "can't add yourself"
    );
    for missing in ["Nobody", "%", "_"] {
        assert_eq!(
            g.fails(&ann, "find_person", json!({"gn_target": missing}), 99),
            "no such person"
        );
    }
    // hearts need a confirmed friend; a name nobody has says so
    assert_eq!(
        g.fails(&ann, "send_gift_friend", json!({"gn_target": "Ben"}), 99),
        "not friends"
    );
    assert_eq!(
        g.fails(&ann, "send_gift_friend", json!({"gn_target": "Nobody"}), 99),
        "no player named \"Nobody\" in this world"
    );
    g.fails(&ann, "send_gift_all", json!({}), 99);

    // Ben accepts: both lists, since today (UTC+8)
    let key = f.request_from(&ben, "Ann");
    g.fails(&cid, "respond_friend", json!({"key": key}), 99);
    let accepted = g.ok(&ben, "respond_friend", json!({"key": key}));
    assert_eq!(Value::from(accepted), json!({"gn": "Ann", "exp": 0}));
    g.fails(&ben, "respond_friend", json!({"key": key}), 99);
    g.fails(&ben, "respond_friend", json!({"key": "1.M1P1Q1.nope"}), 99);
    g.fails(&ben, "respond_friend", json!({}), 13);
    assert_eq!(f.friend(&ann, "Ben")["since"], "2024-03-01");
    assert_eq!(f.friend(&ben, "Ann")["since"], "2024-03-01");
    g.fails(&ben, "request_friend", json!({"gn_target": "Ann"}), 95);

    // remove: both directions, requests too; always 0, also for strangers
    g.ok(&ann, "request_friend", json!({"gn_target": "Cid"}));
    assert_eq!(f.friends(&ann).len(), 2);
    assert_eq!(
        Value::from(g.ok(&ann, "remove_friend", json!({"gn_target": "Cid"}))),
        json!({"gn":"Cid"})
    );
    // Cid still holds the first request: no second one until he declines (deletes) it
    let r = g.fails(&ann, "request_friend", json!({"gn_target": "Cid"}), 95);
    assert_eq!(r, "your friend request to this player is still pending");
    let key = f.request_from(&cid, "Ann");
    g.ok(&cid, "delete_mail", json!({"key": key}));
    g.ok(&ann, "request_friend", json!({"gn_target": "Cid"}));
    g.ok(&ben, "remove_friend", json!({"gn_target": "Ann"}));
    assert_eq!(f.friends(&ben), Vec::<Value>::new());
    assert_eq!(f.friends(&ann).len(), 1, "only the request to Cid");
    assert_eq!(
        Value::from(g.ok(&ann, "remove_friend", json!({"gn_target": "Nobody"}))),
        json!({"gn":"Nobody"})
    );
    assert_eq!(
        g.fails(&ann, "remove_friend", json!({"gn_target": "Ann"}), 99),
        "don't be an idiot"
    );
    // Mallory names Cid's unique_id: the handler acts as Mallory
    let mallory = g.player("mallory", "Mallory");
    g.ok(
        &mallory,
        "remove_friend",
        json!({"unique_id": "fa", "gn_target": "Cid"}),
    );
    assert_eq!(f.friends(&ann).len(), 1);
}

#[test]
fn six_requests_a_game_day_and_failed_sends_keep_nothing() {
    let f = Friends::start(json!({}), 1);
    let g = &f.g;
    let ann = g.player("fa", "Ann");
    let targets: Vec<String> = (0..8).map(|i| format!("T{i}")).collect();
    let tokens: Vec<String> = targets
        .iter()
        .enumerate()
        .map(|(i, gn)| g.player(&format!("t{i}"), gn))
        .collect();
    for gn in &targets[..6] {
        g.ok(&ann, "request_friend", json!({"gn_target": gn}));
    }
    // refusals do not count; the limit comes before the other checks, as the original
    assert_eq!(
        g.fails(&ann, "request_friend", json!({"gn_target": targets[6]}), 96),
        "6 request for 1 day, try tommorrow"
    );
    g.fails(&ann, "request_friend", json!({"gn_target": "Nobody"}), 96);
    // at 23:59:59 still today; at midnight in Shanghai a new day
    g.s.services.clock.set(NOON + 12 * 3600 - 1);
    g.fails(&ann, "request_friend", json!({"gn_target": targets[6]}), 96);
    g.s.services.clock.set(NOON + 12 * 3600);
    // T7's mailbox (limit 1) is full: 94, nothing kept, the day's count not used
    g.ok(&tokens[1], "request_friend", json!({"gn_target": "T7"}));
    assert_eq!(
        g.fails(&ann, "request_friend", json!({"gn_target": "T7"}), 94),
        "target mailbox full"
    );
    assert_eq!(f.friend(&ann, "T7"), Value::Null, "no one-sided row kept");
    // the mail service down: 98, nothing kept
    let mut broken = f.g.s.services.settings.clone();
    broken.mail_url = "http://127.0.0.1:9".into();
    let down = Services::new(
        f.g.s.services.db.clone(),
        f.g.s.services.redis.clone(),
        Tokens::new(
            Key::new(SECRET.as_bytes()).unwrap(),
            f.g.s.services.redis.clone(),
            Duration::from_secs(3600),
        ),
        broken,
    );
    let down = Services {
        clock: f.g.s.services.clock.clone(),
        ..down
    };
    let r = handle(
        &down,
        &f.g.s.config,
        &json!({"world":"s0","function":"request_friend","data":{"token":ann,"gn_target":"T6"}})
            .to_string(),
    );
    assert_eq!((r.status, r.message.as_str()), (98, "could not send mail"));
    assert_eq!(f.friend(&ann, "T6"), Value::Null);
    for gn in &targets[..6] {
        g.ok(&ann, "remove_friend", json!({"gn_target": gn}));
    }
    // six more today: the failures above used none
    let more: Vec<String> = (0..6).map(|i| format!("U{i}")).collect();
    for (i, gn) in more.iter().enumerate() {
        g.player(&format!("u{i}"), gn);
        g.ok(&ann, "request_friend", json!({"gn_target": gn}));
    }
    g.fails(&ann, "request_friend", json!({"gn_target": "T6"}), 96);
    let rows: Option<u64> = g
        .db()
        .query_first("SELECT COUNT(*) FROM friends WHERE unique_id = 'fa'")
        .unwrap();
    assert_eq!(rows, Some(6));
}

#[test]
fn hearts_are_sent_daily_and_collected_once_by_their_recipient() {
    let f = Friends::start(json!({}), 50);
    let g = &f.g;
    let ann = g.player("fa", "Ann");
    let ben = g.player("fb", "Ben");
    let cid = g.player("fc", "Cid");
    g.player("fd", "Dot");
    f.befriend(&ann, "Ann", &ben, "Ben");
    f.befriend(&cid, "Cid", &ann, "Ann");
    g.ok(&ann, "request_friend", json!({"gn_target": "Dot"}));

    let sent = g.call(&ann, "send_gift_friend", json!({"gn_target": "Ben"}));
    assert_eq!((sent.status, Value::from(sent.data)), (0, json!({})));
    assert_eq!(
        g.fails(&ann, "send_gift_friend", json!({"gn_target": "Ben"}), 98),
        "gift cooldown"
    );
    for (not_friend, why) in [
        ("Dot", "not friends"),
        ("Ann", "not friends"),
        ("Nobody", "no player named \"Nobody\" in this world"),
        ("%", "no player named \"%\" in this world"),
    ] {
        assert_eq!(
            g.fails(
                &ann,
                "send_gift_friend",
                json!({"gn_target": not_friend}),
                99
            ),
            why
        );
    }
    // Ann's row says when she sent; Ben's says a heart waits for him
    assert_eq!(f.friend(&ann, "Ben")["recover"], "2024-03-01");
    assert_eq!(f.friend(&ann, "Ben")["isre"], 1);
    assert_eq!(f.friend(&ben, "Ann")["recover"], "");
    assert_eq!(f.friend(&ben, "Ann")["isre"], 0);
    // the sender collects nothing (the original's bug credited her)
    let none = g.ok(&ann, "get_gifts_friend", json!({"gns": ["Ben"]}));
    assert_eq!(
        Value::from(none),
        json!({"gns": [], "reward": "3:16:0", "remain": "3:16:0"})
    );
    // the recipient collects it, once
    let got = g.ok(
        &ben,
        "get_gifts_friend",
        json!({"gns": ["Ann", "Nobody", "Ben", "Cid", "Ann"]}),
    );
    assert_eq!(
        Value::from(got),
        json!({"gns": ["Ann"], "reward": "3:16:1", "remain": "3:16:1"})
    );
    let again = g.ok(&ben, "get_gifts_friend", json!({"gns": ["Ann"]}));
    assert_eq!(again["gns"], json!([]));
    assert_eq!(g.qty("fb", 3, 16), 1);
    assert_eq!(f.friend(&ben, "Ann")["isre"], 1);
    for bad in [
        json!({}),
        json!({"gns": "Ann"}),
        json!({"gns": [1]}),
        json!({"gns": vec!["x"; 201]}),
    ] {
        g.fails(&ben, "get_gifts_friend", bad, 13);
    }

    // send_gift_all: every confirmed friend not yet sent today, names under `gns`
    let all = g.call(&ann, "send_gift_all", json!({}));
    assert_eq!((all.status, all.message.as_str()), (0, "success"));
    assert_eq!(Value::from(all.data), json!({"gns": ["Cid"]}));
    assert_eq!(
        g.fails(&ann, "send_gift_all", json!({}), 99),
        "no friend to send gift"
    );
    // the next game day every friend may get one again
    f.next_day();
    let all = g.ok(&ann, "send_gift_all", json!({}));
    let mut gns: Vec<&str> = all["gns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    gns.sort();
    assert_eq!(gns, ["Ben", "Cid"]);
    assert_eq!(f.friend(&ann, "Ben")["recover"], "2024-03-02");
    let got = g.ok(&cid, "get_gifts_friend", json!({"gns": ["Ann"]}));
    assert_eq!(got["reward"], "3:16:1", "one heart waiting, not two");
    g.ok(&ben, "get_gifts_friend", json!({"gns": ["Ann"]}));
    assert_eq!(g.qty("fb", 3, 16), 2);
}

/// Issue 15 finding 6: unfriending and re-friending the same game day does not give a
/// second heart, whichever function sent the first; the next day hearts flow again.
#[test]
fn the_daily_heart_survives_unfriending_and_refriending() {
    let f = Friends::start(json!({}), 50);
    let g = &f.g;
    let ann = g.player("ra", "Ann");
    let ben = g.player("rb", "Ben");
    let cid = g.player("rc", "Cid");
    f.befriend(&ann, "Ann", &ben, "Ben");
    f.befriend(&ann, "Ann", &cid, "Cid");
    g.ok(&ann, "send_gift_friend", json!({"gn_target": "Ben"}));
    g.ok(&ann, "send_gift_all", json!({}));
    g.ok(&ben, "get_gifts_friend", json!({"gns": ["Ann"]}));
    g.ok(&cid, "get_gifts_friend", json!({"gns": ["Ann"]}));
    for (token, gn) in [(&ben, "Ben"), (&cid, "Cid")] {
        g.ok(&ann, "remove_friend", json!({"gn_target": gn}));
        assert!(f.friend(&ann, gn).is_null());
        f.befriend(&ann, "Ann", token, gn);
    }
    assert_eq!(
        g.fails(&ann, "send_gift_friend", json!({"gn_target": "Ben"}), 98),
        "gift cooldown"
    );
    assert_eq!(
        g.fails(&ann, "send_gift_all", json!({}), 99),
        "no friend to send gift"
    );
    assert_eq!(g.qty("rb", 3, 16), 1, "one heart today, not two");
    assert_eq!(g.qty("rc", 3, 16), 1);
    let rows: u64 =
        g.s.services
            .db
            .conn()
            .unwrap()
            .query_first("SELECT COUNT(*) FROM friend_gift_days WHERE unique_id = 'ra'")
            .unwrap()
            .unwrap();
    assert_eq!(rows, 2);
    f.next_day();
    g.ok(&ann, "send_gift_friend", json!({"gn_target": "Ben"}));
    g.ok(&ben, "get_gifts_friend", json!({"gns": ["Ann"]}));
    assert_eq!(g.qty("rb", 3, 16), 2);
    let rows: u64 =
        g.s.services
            .db
            .conn()
            .unwrap()
            .query_first("SELECT COUNT(*) FROM friend_gift_days WHERE unique_id = 'ra'")
            .unwrap()
            .unwrap();
    assert_eq!(rows, 1, "yesterday's rows went with today's send");
}

#[test]
fn the_friend_limit_holds_under_concurrent_accepts() {
    let f = Friends::start(json!({"friend": {"friend_limit": 2}}), 50);
    let g = &f.g;
    let ann = g.player("ann", "Ann");
    let keys: Vec<String> = (0..6)
        .map(|i| {
            let gn = format!("Req{i}");
            let token = g.player(&format!("r{i}"), &gn);
            g.ok(&token, "request_friend", json!({"gn_target": "Ann"}));
            f.request_from(&ann, &gn)
        })
        .collect();
    let statuses = at_once(6, |i| {
        g.call(&ann, "respond_friend", json!({"key": keys[i]}))
            .status
    });
    assert_eq!(
        (count(&statuses, 0), count(&statuses, 97)),
        (2, 4),
        "{statuses:?}"
    );
    let rows: Option<u64> = g
        .db()
        .query_first("SELECT COUNT(*) FROM friends WHERE unique_id = 'ann' AND since IS NOT NULL")
        .unwrap();
    assert_eq!(rows, Some(2));
    // a refused accept can be accepted once there is room
    let friend = f.friends(&ann)[0]["gn"].as_str().unwrap().to_string();
    g.ok(&ann, "remove_friend", json!({"gn_target": friend}));
    let refused = (0..6).find(|i| statuses[*i] == 97).unwrap();
    g.ok(&ann, "respond_friend", json!({"key": keys[refused]}));
}

#[test]
fn requests_hearts_and_collections_happen_once_under_concurrency() {
    let f = Friends::start(json!({}), 50);
    let g = &f.g;
    let ann = g.player("ann", "Ann");
    let friends: Vec<String> = (0..4)
        .map(|i| g.player(&format!("f{i}"), &format!("F{i}")))
        .collect();
    for (i, token) in friends.iter().enumerate() {
        f.befriend(token, &format!("F{i}"), &ann, "Ann");
    }
    // send_gift_all at once (and single gifts with it): one heart per friend
    let statuses = at_once(6, |i| {
        if i < 4 {
            g.call(&ann, "send_gift_all", json!({})).status
        } else {
            g.call(&ann, "send_gift_friend", json!({"gn_target": "F0"}))
                .status
        }
    });
    assert_eq!(count(&statuses[..4], 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses[..4], 99), 3, "{statuses:?}");
    assert!(count(&statuses[4..], 0) <= 1, "{statuses:?}");
    let rows: Option<u64> = g
        .db()
        .query_first("SELECT COUNT(*) FROM friends WHERE unique_id = 'ann' AND isre = 0 AND gift_day IS NOT NULL")
        .unwrap();
    assert_eq!(rows, Some(4));
    // every friend sends Ann a heart; Ann collects from several threads at once
    for token in &friends {
        g.ok(token, "send_gift_friend", json!({"gn_target": "Ann"}));
    }
    let names = json!({"gns": ["F0", "F1", "F2", "F3"]});
    let rewards = std::sync::Mutex::new(Vec::new());
    let statuses = at_once(6, |_| {
        let r = g.call(&ann, "get_gifts_friend", names.clone());
        rewards.lock().unwrap().push(r.data["reward"].clone());
        r.status
    });
    assert_eq!(count(&statuses, 0), 6);
    let total: u64 = rewards
        .into_inner()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 4, "each heart collected once");
    assert_eq!(g.qty("ann", 3, 16), 4);

    // ten requests at once: six a day, and F0 used one on Ann already
    let targets: Vec<String> = (0..10).map(|i| format!("T{i}")).collect();
    for (i, gn) in targets.iter().enumerate() {
        g.player(&format!("t{i}"), gn);
    }
    let statuses = at_once(10, |i| {
        g.call(
            &friends[0],
            "request_friend",
            json!({"gn_target": targets[i]}),
        )
        .status
    });
    assert_eq!(
        (count(&statuses, 0), count(&statuses, 96)),
        (5, 5),
        "{statuses:?}"
    );
    let rows: Option<u64> = g
        .db()
        .query_first("SELECT COUNT(*) FROM friends WHERE unique_id = 'f0'")
        .unwrap();
    assert_eq!(rows, Some(1 + 5));
}
