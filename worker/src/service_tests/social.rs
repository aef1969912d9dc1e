//! Friends (and families acted on with another player's unique_id) against real MariaDB
//! and Redis and the real mail and auth services (requests travel as mail with a nonce).
//! The family functions and the chat token are tested in family.rs.

use mysql::prelude::Queryable;

use super::*;

struct Social {
    s: Stack,
    backends: MailAndAuth,
}

impl Social {
    /// The stack with `overlay` (file stem -> content) replacing embedded config files.
    fn start(overlay: Value) -> Social {
        let mut s = Stack::start();
        let backends = MailAndAuth::start(&mut s, 50);
        s.config = s.config.overlay(&overlay).unwrap();
        Social { s, backends }
    }

    fn session(&self, uid: &str) -> String {
        self.s.token(uid, TokenKind::Session, Some("s0"), None)
    }

    /// A session token for `uid` in s0 with a player named `gn`.
    fn player(&self, uid: &str, gn: &str) -> String {
        let token = self.session(uid);
        self.ok(&token, "create_player", json!({"gn": gn, "icon": 0}));
        token
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

    /// Asserts `function` answers `code`; returns the message.
    fn fails(&self, token: &str, function: &str, data: Value, code: i32) -> String {
        let r = self.call(token, function, data.clone());
        assert_eq!(r.status, code, "{function} {data} answered {}", r.to_json());
        r.message
    }

    /// The key of the newest mail of `kind` in the token's mailbox.
    fn mail_key(&self, token: &str, kind: &str) -> String {
        let data = self.ok(token, "get_all_mail", json!({}));
        let mail = data["mail"].as_array().unwrap();
        let found = mail.iter().find(|m| is_kind(m, kind));
        let found = found.unwrap_or_else(|| panic!("no {kind} mail in {mail:?}"));
        found["key"].as_str().unwrap().to_string()
    }

    fn mails_of(&self, token: &str, kind: &str) -> Vec<Value> {
        let data = self.ok(token, "get_all_mail", json!({}));
        let mail = data["mail"].as_array().unwrap();
        mail.iter().filter(|m| is_kind(m, kind)).cloned().collect()
    }

    fn db(&self) -> mysql::PooledConn {
        self.s.services.db.conn().unwrap()
    }

    /// (owner count, member count) of the family named `name`.
    fn owners_and_members(&self, name: &str) -> (u64, u64) {
        let row: Option<(u64, u64)> = self
            .db()
            .exec_first(
                "SELECT COALESCE(SUM(m.role = 10), 0), COUNT(m.unique_id) FROM families f \
                 LEFT JOIN family_members m ON m.world = f.world AND m.fid = f.fid \
                 WHERE f.world = 's0' AND f.name = ?",
                (name,),
            )
            .unwrap();
        row.unwrap_or((0, 0))
    }

    fn assert_one_owner(&self, name: &str, members: u64) {
        assert_eq!(
            self.owners_and_members(name),
            (1, members),
            "family {name}: exactly one owner and {members} members"
        );
    }
}

/// Families for free and at any level (the family tests, in family.rs, use the real rules).
fn free_family() -> Value {
    json!({"family": {"costs": {"create": ""}, "player_level": 1}})
}

#[test]
fn a_player_acts_only_as_the_token_says() {
    let t = Social::start(free_family());
    let a = t.player("victim", "Victim");
    let b = t.player("mallory", "Mallory");
    t.ok(&a, "create_family", json!({"name": "Target", "icon": 0}));
    // Mallory names Victim's unique_id: the handler overwrites it with the token's uid.
    for function in ["disband_family", "leave_family", "get_all_family"] {
        let r = t.call(&b, function, json!({"unique_id": "victim"}));
        assert_eq!(r.status, 99, "{function}: {}", r.to_json());
    }
    let r = t.call(
        &b,
        "set_notice_family",
        json!({"unique_id": "victim", "msg": "pwned"}),
    );
    assert_eq!(r.status, 99);
    let r = t.call(
        &b,
        "remove_friend",
        json!({"unique_id": "victim", "gn_target": "Victim"}),
    );
    assert_eq!(r.status, 82);
    t.assert_one_owner("Target", 1);
    let family = t.ok(&a, "get_all_family", json!({}));
    assert_eq!(family["notice"], "");
    // nothing of these answers the victim's unique_id (a guest's login)
    let found = t.ok(&b, "find_person", json!({"gn_target": "Victim"}));
    assert!(!Value::from(found).to_string().contains("victim"));
    // no player in this world: the shared status
    let nobody = t.session("nobody");
    for function in ["get_all_family", "get_all_friend", "get_login_token_chat"] {
        t.fails(&nobody, function, json!({}), 17);
    }
}

#[test]
fn friends_requests_limit_and_daily_gift() {
    let mut t = Social::start(json!({"friend": {"friend_limit": 2, "daily_gift": "3:10:5",
        "gifts_per_friend_per_day": 1}}));
    let a = t.player("fa", "Ann");
    let b = t.player("fb", "Ben");
    let c = t.player("fc", "Cid");
    let d = t.player("fd", "Dot");

    t.fails(&a, "request_friend", json!({"gn_target": "Ann"}), 80);
    t.fails(&a, "request_friend", json!({"gn_target": "Nobody"}), 17);
    t.fails(&a, "request_friend", json!({}), 13);
    t.ok(&a, "request_friend", json!({"gn_target": "Ben"}));
    let key = t.mail_key(&b, "friend_request");
    let mail = &t.mails_of(&b, "friend_request")[0];
    assert_eq!(mail["from"], "Ann");
    let accepted = t.ok(&b, "respond_friend", json!({"key": key}));
    assert_eq!(accepted["gn"], "Ann");
    t.fails(&b, "respond_friend", json!({"key": key}), 83);
    t.fails(&a, "request_friend", json!({"gn_target": "Ben"}), 81);
    let list = t.ok(&a, "get_all_friend", json!({}));
    assert_eq!(
        list["friends"],
        json!([{"gn": "Ben", "gift_sent_today": false}])
    );
    assert_eq!(
        (list["count"].as_u64(), list["limit"].as_u64()),
        (Some(1), Some(2))
    );
    let list = t.ok(&b, "get_all_friend", json!({}));
    assert_eq!(list["friends"][0]["gn"], "Ann", "both directions");

    // find_person: game name, level, family, friendship; never the unique_id
    let found = t.ok(&a, "find_person", json!({"gn_target": "Ben"}));
    assert_eq!(found["gn"], "Ben");
    assert_eq!(found["is_friend"], true);
    assert_eq!(found["family"], "");
    assert!(found.get("unique_id").is_none());
    assert_eq!(
        t.ok(&a, "find_person", json!({"gn_target": "Cid"}))["is_friend"],
        false
    );
    t.fails(&a, "find_person", json!({"gn_target": "Nobody"}), 17);

    // the limit is checked again at accept: two requests sent while Ann had room
    t.ok(&c, "request_friend", json!({"gn_target": "Ann"}));
    t.ok(&d, "request_friend", json!({"gn_target": "Ann"}));
    let key_from = |token: &str, gn: &str| {
        let mail = t.mails_of(token, "friend_request");
        let m = mail.iter().find(|m| m["from"] == gn).unwrap();
        m["key"].as_str().unwrap().to_string()
    };
    t.ok(&a, "respond_friend", json!({"key": key_from(&a, "Cid")}));
    let from_dot = key_from(&a, "Dot");
    t.fails(&a, "respond_friend", json!({"key": from_dot}), 83);
    assert_eq!(t.ok(&a, "get_all_friend", json!({}))["count"], 2);
    t.fails(&a, "request_friend", json!({"gn_target": "Dot"}), 83);
    t.fails(&d, "request_friend", json!({"gn_target": "Ann"}), 84);
    // the refused accept was restored: once Ann has room it works
    t.ok(&a, "remove_friend", json!({"gn_target": "Cid"}));
    t.ok(&a, "respond_friend", json!({"key": from_dot}));
    assert!(t.ok(&d, "get_all_friend", json!({}))["friends"]
        .to_string()
        .contains("Ann"));
    // the target's limit at accept: Ben fills up between request and accept
    let e = t.player("fe", "Eve");
    let g = t.player("fg", "Gus");
    t.ok(&g, "request_friend", json!({"gn_target": "Ben"}));
    t.ok(&e, "request_friend", json!({"gn_target": "Ben"}));
    t.ok(&b, "respond_friend", json!({"key": key_from(&b, "Eve")}));
    let from_gus = key_from(&b, "Gus");
    t.fails(&b, "respond_friend", json!({"key": from_gus}), 83);
    t.fails(&g, "request_friend", json!({"gn_target": "Ben"}), 84);

    // gifts: once a day per friend, by gift mail with daily_gift
    t.fails(&a, "send_gift_friend", json!({"gn_target": "Gus"}), 82);
    t.fails(&a, "send_gift_friend", json!({"gn_target": "Ann"}), 80);
    let sent = t.ok(&a, "send_gift_friend", json!({"gn_target": "Ben"}));
    assert_eq!(sent["items"], json!(["3:10:5"]));
    t.fails(&a, "send_gift_friend", json!({"gn_target": "Ben"}), 85);
    let gifts = t.mails_of(&b, "gift");
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0]["items"], json!("3:10:5"));
    assert_eq!(gifts[0]["from"], "Ann");
    let list = t.ok(&a, "get_all_friend", json!({}));
    let ben = list["friends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["gn"] == "Ben")
        .unwrap();
    assert_eq!(ben["gift_sent_today"], true);
    // Ben's own gift to Ann is his own count
    t.ok(&b, "send_gift_friend", json!({"gn_target": "Ann"}));
    // yesterday's gift does not count today
    t.db()
        .query_drop("UPDATE friends SET gift_day = UTC_DATE() - INTERVAL 1 DAY")
        .unwrap();
    t.ok(&a, "send_gift_friend", json!({"gn_target": "Ben"}));
    assert_eq!(t.mails_of(&b, "gift").len(), 2);
    // a gift that cannot be mailed does not use up the day
    t.db()
        .query_drop("UPDATE friends SET gift_day = NULL, gifts_today = 0")
        .unwrap();
    t.backends.mail.take().unwrap().shutdown();
    t.fails(&a, "send_gift_friend", json!({"gn_target": "Ben"}), 16);
    let used: Option<u64> = t
        .db()
        .query_first("SELECT COUNT(*) FROM friends WHERE gift_day IS NOT NULL")
        .unwrap();
    assert_eq!(used, Some(0));

    // removal is for both sides
    t.ok(&a, "remove_friend", json!({"gn_target": "Ben"}));
    t.fails(&b, "remove_friend", json!({"gn_target": "Ann"}), 82);
    assert!(!t.ok(&b, "get_all_friend", json!({}))["friends"]
        .to_string()
        .contains("Ann"));
}

#[test]
fn friend_limit_and_daily_gift_hold_under_concurrency() {
    let t = Social::start(json!({"friend": {"friend_limit": 2, "daily_gift": "3:10:5"}}));
    let ann = t.player("ann", "Ann");
    let keys: Vec<String> = (0..6)
        .map(|i| {
            let token = t.player(&format!("r{i}"), &format!("Req{i}"));
            t.ok(&token, "request_friend", json!({"gn_target": "Ann"}));
            let mail = t.mails_of(&ann, "friend_request");
            let m = mail
                .iter()
                .find(|m| m["from"] == format!("Req{i}"))
                .unwrap();
            m["key"].as_str().unwrap().to_string()
        })
        .collect();
    let concurrently = |calls: Vec<(&str, Value)>| -> Vec<i32> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = calls
                .into_iter()
                .map(|(function, data)| {
                    let (t, ann) = (&t, &ann);
                    scope.spawn(move || t.call(ann, function, data).status)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let accepts = keys
        .iter()
        .map(|key| ("respond_friend", json!({"key": key})))
        .collect();
    let statuses = concurrently(accepts);
    assert_eq!(
        statuses.iter().filter(|s| **s == 0).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 83).count(),
        4,
        "{statuses:?}"
    );
    let rows: Option<u64> = t
        .db()
        .query_first("SELECT COUNT(*) FROM friends WHERE unique_id = 'ann'")
        .unwrap();
    assert_eq!(rows, Some(2));

    let friend = t.ok(&ann, "get_all_friend", json!({}))["friends"][0]["gn"]
        .as_str()
        .unwrap()
        .to_string();
    let gifts = (0..5)
        .map(|_| ("send_gift_friend", json!({"gn_target": friend})))
        .collect();
    let statuses = concurrently(gifts);
    assert_eq!(
        statuses.iter().filter(|s| **s == 0).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 85).count(),
        4,
        "{statuses:?}"
    );
    let index = friend.trim_start_matches("Req");
    let friend_token = t.session(&format!("r{index}"));
    assert_eq!(t.mails_of(&friend_token, "gift").len(), 1);
}

/// Whether `mail` is a request of `kind`: the type number, and for the two family requests
/// (both type 3) the subject that tells them apart.
fn is_kind(mail: &Value, kind: &str) -> bool {
    let (code, subj) = match kind {
        "gift" => (1, None),
        "friend_request" => (2, None),
        "family_invite" => (3, Some("family invitation")),
        "family_request" => (3, Some("family join request")),
        other => panic!("no mail kind {other}"),
    };
    mail["type"] == code && subj.is_none_or(|s| mail["subj"] == s)
}
