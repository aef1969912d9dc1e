//! Families and the chat token against real MariaDB and Redis, the real mail and
//! auth services (requests travel as mail with a nonce) and, for the chat token, the real
//! edge between Redis and NATS.

use std::io::{BufRead, BufReader, Write};

use mysql::prelude::Queryable;

use super::*;

struct Social {
    s: Stack,
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

    /// Invites `gn` into the inviter's family and has them accept.
    fn invite_and_join(&self, inviter: &str, gn: &str, invitee: &str) {
        self.ok(inviter, "invite_user_family", json!({"gn_target": gn}));
        let key = self.mail_key(invitee, "family_invite");
        self.ok(invitee, "respond_family", json!({"key": key}));
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

    fn role_of(&self, token: &str) -> i64 {
        self.ok(token, "get_all_family", json!({}))["role"]
            .as_i64()
            .unwrap()
    }

    /// Reads the chat hash the token names, as the edge would find it.
    fn chat_hash(&self, nonce: &str) -> std::collections::HashMap<String, String> {
        self.s
            .services
            .redis
            .run(|c| {
                redis::cmd("HGETALL")
                    .arg(format!("chat.logintokens.{nonce}"))
                    .query(c)
            })
            .unwrap()
    }
}

fn free_family() -> Value {
    json!({"family": {"create_cost": ""}})
}

#[test]
fn family_lifecycle_permissions_and_exactly_one_owner() {
    let t = Social::start(json!({}));
    let admin =
        t.s.token("gm", TokenKind::Session, Some("s0"), Some("admin"));
    let a = t.player("uid-a", "Alice");
    let b = t.player("uid-b", "Bob");
    let c = t.player("uid-c", "Carol");
    let d = t.player("uid-d", "Dave");

    // create: bad input, the cost, then success
    for bad in ["x", "has space", "a.b", "SuperAdmin", "😀😀"] {
        let why = t.fails(&a, "create_family", json!({"name": bad, "icon": 1}), 80);
        assert!(why.starts_with("family name"), "{bad}: {why}");
    }
    t.fails(&a, "create_family", json!({"name": "龙_1", "icon": -1}), 80);
    t.fails(&a, "create_family", json!({"name": "龙_1"}), 13);
    // 100 diamonds at start, 200 needed: refused, nothing created
    t.fails(&a, "create_family", json!({"name": "龙_1", "icon": 1}), 18);
    t.fails(&b, "search_family", json!({"family_name": "龙_1"}), 84);
    t.fails(&a, "get_all_family", json!({}), 83);
    t.ok(
        &admin,
        "add_resources",
        json!({"gn_target": "Alice", "items": ["3:5:500"]}),
    );
    let created = t.ok(&a, "create_family", json!({"name": "龙_1", "icon": 7}));
    let fid = created["family"]["fid"].as_str().unwrap().to_string();
    assert_eq!(fid.len(), 16);
    assert!(fid
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(
        created["family"]["members"],
        json!([{"gn": "Alice", "role": 10}])
    );
    let items = t.ok(&a, "get_all_resource", json!({}));
    assert!(items["items"]
        .as_array()
        .unwrap()
        .contains(&json!({"iid": 5, "value": 400})));
    t.assert_one_owner("龙_1", 1);
    t.fails(&a, "create_family", json!({"name": "其他", "icon": 1}), 82);
    t.ok(
        &admin,
        "add_resources",
        json!({"gn_target": "Bob", "items": ["3:5:500"]}),
    );
    t.fails(&b, "create_family", json!({"name": "龙_1", "icon": 1}), 81);
    let found = t.ok(&b, "search_family", json!({"family_name": "龙_1"}));
    assert_eq!(
        found["family"],
        json!({"name": "龙_1", "icon": 7, "notice": "", "member_count": 1, "member_limit": 50})
    );
    t.fails(&b, "search_family", json!({"family_name": "龙_%"}), 84);

    // invitations: only admin+; target must exist, not be you, not be in a family
    t.fails(&a, "invite_user_family", json!({"gn_target": "Nobody"}), 17);
    t.fails(&a, "invite_user_family", json!({"gn_target": "Alice"}), 80);
    t.fails(&b, "invite_user_family", json!({"gn_target": "Carol"}), 83);
    t.invite_and_join(&a, "Bob", &b);
    t.assert_one_owner("龙_1", 2);
    assert_eq!(t.role_of(&b), 0);
    t.fails(&a, "invite_user_family", json!({"gn_target": "Bob"}), 88);
    t.fails(&b, "invite_user_family", json!({"gn_target": "Carol"}), 86);
    let used = t.mail_key(&b, "family_invite");
    t.fails(&b, "respond_family", json!({"key": used}), 83);
    t.fails(&b, "respond_family", json!({"key": "1.M1P1Q1.nope"}), 82);

    // a join request goes to the owner, who accepts it
    t.fails(&c, "request_join_family", json!({"name": "nope"}), 84);
    t.ok(&c, "request_join_family", json!({"name": "龙_1"}));
    t.fails(&b, "request_join_family", json!({"name": "龙_1"}), 82);
    let request = t.mail_key(&a, "family_request");
    // a request mail is not a friend request (the original's 99 "invalid nonce")
    t.fails(&a, "respond_friend", json!({"key": request}), 99);
    let joined = t.ok(&a, "respond_family", json!({"key": request}));
    assert_eq!(joined["family"]["member_count"], 3);
    t.assert_one_owner("龙_1", 3);

    // roles: only the owner sets them; admin+ removes lower roles and posts the notice
    t.fails(
        &b,
        "set_role_family",
        json!({"gn_target": "Carol", "role": 4}),
        86,
    );
    t.fails(
        &a,
        "set_role_family",
        json!({"gn_target": "Bob", "role": 5}),
        80,
    );
    t.fails(
        &a,
        "set_role_family",
        json!({"gn_target": "Alice", "role": 8}),
        80,
    );
    t.fails(
        &a,
        "set_role_family",
        json!({"gn_target": "Dave", "role": 8}),
        87,
    );
    t.fails(&b, "set_notice_family", json!({"msg": "hi"}), 86);
    t.fails(&b, "remove_user_family", json!({"gn_target": "Carol"}), 86);
    let set = t.ok(
        &a,
        "set_role_family",
        json!({"gn_target": "Bob", "role": 8}),
    );
    assert_eq!(
        (set["role"].as_i64(), set["your_role"].as_i64()),
        (Some(8), Some(10))
    );
    t.assert_one_owner("龙_1", 3);
    t.fails(&b, "disband_family", json!({}), 86);
    t.fails(
        &b,
        "set_role_family",
        json!({"gn_target": "Carol", "role": 4}),
        86,
    );
    t.fails(&b, "remove_user_family", json!({"gn_target": "Alice"}), 86);
    t.fails(&b, "set_notice_family", json!({"msg": "a\u{1}b"}), 80);
    t.fails(&b, "set_notice_family", json!({"msg": "x".repeat(201)}), 80);
    t.ok(
        &b,
        "set_notice_family",
        json!({"msg": "欢迎 'all'; 50% off\nline 2"}),
    );
    let family = t.ok(&c, "get_all_family", json!({}));
    assert_eq!(family["family"]["notice"], "欢迎 'all'; 50% off\nline 2");
    assert_eq!(family["role"], 0);
    t.ok(&b, "remove_user_family", json!({"gn_target": "Carol"}));
    t.fails(&c, "get_all_family", json!({}), 83);
    t.fails(&b, "remove_user_family", json!({"gn_target": "Carol"}), 87);
    t.assert_one_owner("龙_1", 2);

    // an invitation is checked again when accepted: the inviter lost the role meanwhile
    t.ok(&b, "invite_user_family", json!({"gn_target": "Dave"}));
    t.ok(
        &a,
        "set_role_family",
        json!({"gn_target": "Bob", "role": 4}),
    );
    t.fails(&b, "invite_user_family", json!({"gn_target": "Carol"}), 86);
    let invite = t.mail_key(&d, "family_invite");
    t.fails(&d, "respond_family", json!({"key": invite}), 89);
    t.ok(
        &a,
        "set_role_family",
        json!({"gn_target": "Bob", "role": 8}),
    );
    // ... and the refused accept was restored, so it works once the rule holds again
    t.ok(&d, "respond_family", json!({"key": invite}));
    t.assert_one_owner("龙_1", 3);

    // handing over: the old owner becomes admin
    let set = t.ok(
        &a,
        "set_role_family",
        json!({"gn_target": "Dave", "role": 10}),
    );
    assert_eq!(set["your_role"], 8);
    t.assert_one_owner("龙_1", 3);
    assert_eq!((t.role_of(&a), t.role_of(&b), t.role_of(&d)), (8, 8, 10));
    t.fails(&a, "disband_family", json!({}), 86);

    // the owner leaves: the highest role, longest member (Alice, admin since the start)
    let left = t.ok(&d, "leave_family", json!({}));
    assert_eq!(left["new_owner"], "Alice");
    assert_eq!(left["disbanded"], false);
    t.assert_one_owner("龙_1", 2);
    assert_eq!(t.role_of(&a), 10);
    // a member leaves: no ownership change
    let left = t.ok(&b, "leave_family", json!({}));
    assert_eq!(left["new_owner"], Value::Null);
    t.assert_one_owner("龙_1", 1);
    t.fails(&b, "leave_family", json!({}), 83);
    // the last member leaves: the family is gone
    let left = t.ok(&a, "leave_family", json!({}));
    assert_eq!(left["disbanded"], true);
    assert_eq!(t.owners_and_members("龙_1"), (0, 0));
    t.fails(&b, "search_family", json!({"family_name": "龙_1"}), 84);

    // disband: members are then in no family, the name is free again
    t.ok(&b, "create_family", json!({"name": "龙_1", "icon": 2}));
    t.invite_and_join(&b, "Carol", &c);
    t.assert_one_owner("龙_1", 2);
    t.fails(&c, "disband_family", json!({}), 86);
    t.ok(&b, "disband_family", json!({}));
    t.fails(&c, "get_all_family", json!({}), 83);
    assert_eq!(t.owners_and_members("龙_1"), (0, 0));
    let rows: Option<u64> = t
        .db()
        .query_first("SELECT COUNT(*) FROM family_members")
        .unwrap();
    assert_eq!(rows, Some(0));
}

#[test]
fn member_limit_holds_under_concurrent_joins() {
    let t = Social::start(json!({"family": {"create_cost": "", "member_limit": 3}}));
    let owner = t.player("owner", "Owner");
    t.ok(&owner, "create_family", json!({"name": "Full", "icon": 0}));
    let joiners: Vec<(String, String)> = (0..10)
        .map(|i| {
            let token = t.player(&format!("j{i}"), &format!("Joiner{i}"));
            t.ok(
                &owner,
                "invite_user_family",
                json!({"gn_target": format!("Joiner{i}")}),
            );
            let key = t.mail_key(&token, "family_invite");
            (token, key)
        })
        .collect();
    let statuses: Vec<i32> = std::thread::scope(|scope| {
        let handles: Vec<_> = joiners
            .iter()
            .map(|(token, key)| {
                let t = &t;
                scope.spawn(move || t.call(token, "respond_family", json!({"key": key})).status)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 0).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 85).count(),
        8,
        "{statuses:?}"
    );
    t.assert_one_owner("Full", 3);
    // a join request to a full family is refused at once
    let late = t.player("late", "Late");
    t.fails(&late, "request_join_family", json!({"name": "Full"}), 85);
}

#[test]
fn one_owner_when_ownership_changes_race() {
    let t = Social::start(free_family());
    for round in 0..3 {
        let name = format!("Race{round}");
        let gns: Vec<String> = (0..4).map(|i| format!("R{round}m{i}")).collect();
        let tokens: Vec<String> = gns
            .iter()
            .map(|gn| t.player(&format!("{gn}-uid"), gn))
            .collect();
        t.ok(
            &tokens[0],
            "create_family",
            json!({"name": name, "icon": 0}),
        );
        for (gn, token) in gns.iter().zip(&tokens).skip(1) {
            t.invite_and_join(&tokens[0], gn, token);
            t.ok(
                &tokens[0],
                "set_role_family",
                json!({"gn_target": gn, "role": 8}),
            );
        }
        // The owner leaves and hands over at once; two admins leave; the last disbands
        // (refused unless it became owner first).
        let calls = [
            (&tokens[0], "leave_family", json!({})),
            (
                &tokens[0],
                "set_role_family",
                json!({"gn_target": gns[1], "role": 10}),
            ),
            (&tokens[1], "leave_family", json!({})),
            (&tokens[2], "leave_family", json!({})),
            (&tokens[3], "disband_family", json!({})),
        ];
        std::thread::scope(|scope| {
            for (token, function, data) in calls {
                let t = &t;
                scope.spawn(move || t.call(token, function, data).status);
            }
        });
        let exists: Option<u64> = t
            .db()
            .exec_first("SELECT COUNT(*) FROM families WHERE name = ?", (&name,))
            .unwrap();
        let (owners, members) = t.owners_and_members(&name);
        match exists {
            Some(1) => assert!(
                owners == 1 && members >= 1,
                "round {round}: {owners} owners, {members} members"
            ),
            _ => assert_eq!((owners, members), (0, 0), "round {round}: disbanded"),
        }
    }
    let orphans: Option<u64> = t
        .db()
        .query_first(
            "SELECT COUNT(*) FROM family_members m LEFT JOIN families f \
             ON f.world = m.world AND f.fid = m.fid WHERE f.fid IS NULL",
        )
        .unwrap();
    assert_eq!(orphans, Some(0), "no member of a family that is gone");
}

#[test]
fn family_names_never_reach_a_subject_and_round_trip_intact() {
    // Names with any printable character, allowed by configuration.
    let t = Social::start(json!({"family": {"create_cost": "",
        "name_rules": {"min_chars": 1, "max_chars": 40, "charset": "printable"}}}));
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
        let token = t.player(&format!("u{i}"), &format!("P{i}"));
        let created = t.ok(&token, "create_family", json!({"name": name, "icon": 0}));
        assert_eq!(created["family"]["name"], *name);
        let mine = t.ok(&token, "get_all_family", json!({}));
        assert_eq!(mine["family"]["name"], *name);
        let found = t.ok(&searcher, "search_family", json!({"family_name": name}));
        assert_eq!(found["family"]["name"], *name, "exact search");
        let chat = t.ok(&token, "get_login_token_chat", json!({}));
        let hash = t.chat_hash(chat["token"].as_str().unwrap());
        let fid = &hash["fid"];
        assert_eq!(fid, created["family"]["fid"].as_str().unwrap());
        assert!(
            fid.len() == 16 && fid.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{name}: fid {fid}"
        );
        assert!(edge::login::subject_safe(fid));
    }
    let count: Option<u64> = t.db().query_first("SELECT COUNT(*) FROM families").unwrap();
    assert_eq!(count, Some(names.len() as u64));
    // `%` and `*` are plain characters: the exact name, not a pattern
    t.fails(
        &searcher,
        "search_family",
        json!({"family_name": "100% x"}),
        84,
    );
    // still no control characters nor padding
    let token = t.player("u-new", "Newcomer");
    for bad in ["a\r\nb", " padded", "padded "] {
        t.fails(&token, "create_family", json!({"name": bad, "icon": 0}), 80);
    }
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
        assert_eq!(r.status, 83, "{function}: {}", r.to_json());
    }
    let r = t.call(
        &b,
        "set_notice_family",
        json!({"unique_id": "victim", "msg": "pwned"}),
    );
    assert_eq!(r.status, 83);
    // remove_friend always succeeds (as the original's), acting as Mallory
    let r = t.call(
        &b,
        "remove_friend",
        json!({"unique_id": "victim", "gn_target": "Victim"}),
    );
    assert_eq!(r.status, 0);
    t.assert_one_owner("Target", 1);
    let family = t.ok(&a, "get_all_family", json!({}));
    assert_eq!(family["family"]["notice"], "");
    // nothing of these answers the victim's unique_id (a guest's login)
    let found = t.ok(&b, "find_person", json!({"gn_target": "Victim"}));
    assert!(!Value::from(found).to_string().contains("victim"));
    // no player in this world: the shared status
    let nobody = t.session("nobody");
    for function in ["get_all_family", "get_all_friend", "get_login_token_chat"] {
        t.fails(&nobody, function, json!({}), 17);
    }
}

/// The next frame from the edge, without its CRLF.
fn read_frame(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line.trim_end_matches("\r\n").to_string()
}

#[test]
fn chat_token_is_what_the_edge_redeems() {
    let t = Social::start(free_family());
    let nats = testkit::Nats::start();
    let a = t.player("ca", "Ana");
    let b = t.player("cb", "Bo");
    let c = t.player("cc", "Cy");
    t.ok(&a, "create_family", json!({"name": "Chatters", "icon": 0}));
    t.invite_and_join(&a, "Bo", &b);

    // the hash: {world, gn, fid}, EX 120, for the edge's own redeem
    let token = t.ok(&a, "get_login_token_chat", json!({}))["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 32);
    let fid = t.ok(&a, "get_all_family", json!({}))["family"]["fid"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = t.chat_hash(&token);
    assert_eq!(hash.len(), 3);
    assert_eq!((&hash["world"][..], &hash["gn"][..]), ("s0", "Ana"));
    assert_eq!(hash["fid"], fid);
    let ttl: i64 =
        t.s.services
            .redis
            .run(|c| {
                redis::cmd("TTL")
                    .arg(format!("chat.logintokens.{token}"))
                    .query(c)
            })
            .unwrap();
    assert!((1..=120).contains(&ttl), "{ttl}");
    let identity = edge::login::redeem(&t.s.services.redis, &token).unwrap();
    assert_eq!(identity.fid.as_deref(), Some(fid.as_str()));
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
    let edge = edge::Edge::start(edge::EdgeConfig::local(
        &t.s.redis_server.url(),
        &nats.url(),
    ))
    .unwrap();
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
