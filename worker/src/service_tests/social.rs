//! A player acts only as its token says: friend and family functions called with another
//! player's unique_id, against real MariaDB and Redis and the real mail and auth services.
//! The modules themselves are tested in family.rs and friend.rs.

use super::*;

struct Social {
    s: Stack,
    /// Kept for the servers' lifetime.
    _backends: MailAndAuth,
}

impl Social {
    /// The stack with `overlay` (file stem -> content) replacing embedded config files.
    fn start(overlay: Value) -> Social {
        let mut s = Stack::start();
        let backends = MailAndAuth::start(&mut s, 50);
        s.config = s.config.overlay(&overlay).unwrap();
        Social {
            s,
            _backends: backends,
        }
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

    fn call(&self, token: &str, function: &str, data: Value) -> Response {
        self.s.call_as(token, function, data)
    }

    fn ok(&self, token: &str, function: &str, data: Value) -> serde_json::Map<String, Value> {
        self.s.ok_as(token, function, data)
    }

    /// Asserts `function` answers `code`; returns the message.
    fn fails(&self, token: &str, function: &str, data: Value, code: i32) -> String {
        self.s.expect_as(token, function, data, code).message
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
        assert_status(&r, 99, format_args!("{function}"));
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
    assert_eq!(r.status, 0);
    t.s.assert_one_owner("Target", 1);
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
