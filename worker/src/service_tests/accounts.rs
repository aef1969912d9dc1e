//! The account functions against real MariaDB and Redis.

use mysql::prelude::Queryable;

use super::*;

#[test]
fn account_happy_paths() {
    let s = Stack::start();
    // register -> a working account token
    let reg = s.expect(json!({"function":"register","data":{"unique_id":"dev-1","account":"Alice","password":"correct horse"}}), 1);
    assert_eq!(reg["unique_id"], "dev-1");
    assert_eq!(
        reg["account"], "alice",
        "stored lower-cased, as the original"
    );
    let token = reg["token"].as_str().unwrap();
    let claims = s.services.tokens.validate(token).unwrap();
    assert_eq!(
        (claims.uid.as_str(), claims.kind),
        ("dev-1", TokenKind::Account)
    );

    // login by account, email and phone number
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"ALICE","password":"correct horse"}}));
    assert_eq!(login["unique_id"], "dev-1");
    assert_eq!(
        (&login["account"], &login["email"], &login["phone_number"]),
        (&json!("alice"), &json!(""), &json!("")),
        "every field, \"\" when unset"
    );
    assert!(
        s.services.tokens.validate(token).is_err(),
        "a new login revokes the old token"
    );
    let mut conn = s.services.db.conn().unwrap();
    conn.exec_drop(
        "UPDATE accounts SET email = ?, phone_number = ? WHERE unique_id = ?",
        ("alice@example.com", "+8613800000000", "dev-1"),
    )
    .unwrap();
    for (identifier, value) in [
        ("email", "alice@example.com"),
        ("email", "Alice@Example.com"),
        ("phone_number", "+8613800000000"),
        ("phone_number", "+86 138 0000 0000"),
    ] {
        let login = s.ok(json!({"function":"login","data":{"identifier":identifier,"value":value,"password":"correct horse"}}));
        assert_eq!(login["unique_id"], "dev-1", "{identifier}");
        assert_eq!(login["email"], "alice@example.com");
        assert_eq!(login["phone_number"], "+8613800000000");
    }
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"alice","password":"wrong horse"}}));
    assert_eq!((r.status, r.message.as_str()), (1, "invalid credentials"));
    assert!(r.data.is_empty());
    for (identifier, value, password) in [
        ("account", "nobody", "correct horse"),
        ("password", "x", "correct horse"),
        ("unique_id", "dev-1", "correct horse"),
        ("account", "alice", "short"),
        ("account", "", ""),
    ] {
        let r = s.call(json!({"function":"login","data":{"identifier":identifier,"value":value,"password":password}}));
        assert_eq!(
            r.status, 1,
            "{identifier} {value}: one answer for every failure"
        );
    }
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"alice"}}));
    assert_eq!(
        (r.status, &r.data["reason"]),
        (13, &json!("`password` is missing"))
    );

    // the stored password is a salted PBKDF2 hash, not the password
    let stored: String = conn
        .exec_first(
            "SELECT password FROM accounts WHERE unique_id = ?",
            ("dev-1",),
        )
        .unwrap()
        .unwrap();
    assert!(stored.starts_with("pbkdf2-sha256$1000$"), "{stored}");
    assert!(!stored.contains("correct horse"));

    // guest -> bind once -> login with the new credentials
    let guest = s.guest("phone-7");
    let again = s.guest("phone-7");
    assert!(
        s.services.tokens.validate(&guest).is_err(),
        "the second guest login revoked the first"
    );
    let info = s.ok(json!({"function":"account_all_info","data":{"token":again}}));
    assert_eq!(
        info,
        *json!({"unique_id":"phone-7","account":"","email":"","phone_number":""})
            .as_object()
            .unwrap()
    );
    for (account, password, status) in [
        ("ab", "bobs-password", 99),
        ("bob ", "bobs-password", 99),
        ("bob", "12345", 98),
        ("ALICE", "bobs-password", 97),
    ] {
        let r = s.call(json!({"function":"bind_account","data":{"token":again,"account":account,"password":password}}));
        assert_status(&r, status, format_args!("{account} {password}"));
    }
    let bound = s.ok(json!({"function":"bind_account","data":{"token":again,"account":"Bob","password":"bobs-password"}}));
    assert_eq!(bound["account"], "bob");
    let r = s.call(json!({"function":"bind_account","data":{"token":again,"account":"bob2","password":"bobs-password"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (96, "account already bound"),
        "binding is once only"
    );
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"bob","password":"bobs-password"}}));
    assert_eq!(login["unique_id"], "phone-7");
    let info = s.ok(json!({"function":"account_all_info","data":{"token":login["token"]}}));
    assert_eq!(info["account"], "bob");
    assert_eq!(info["email"], "");

    // enter_world -> a session token for that world, usable there only; 98 until the
    // account has a player there, with the same data
    let account_token = login["token"].as_str().unwrap();
    let enter = json!({"world":"s1","function":"enter_world","data":{"token":account_token}});
    let r = s.call(enter.clone());
    assert_eq!(
        (r.status, r.message.as_str()),
        (98, "have not been in this world before")
    );
    let entered = r.data;
    assert_eq!(entered["world"], "s1");
    assert_eq!(entered["session"], entered["token"]);
    let cid = entered["cid"].as_str().unwrap().to_string();
    assert_eq!(cid.len(), 32, "{cid}");
    let session = entered["session"].as_str().unwrap();
    let claims = s.services.tokens.validate(session).unwrap();
    assert_eq!(claims.kind, TokenKind::Session);
    assert_eq!(claims.world.as_deref(), Some("s1"));
    s.ok(json!({"world":"s1","function":"debug_session","data":{"token":session}}));
    let r = s.call(json!({"world":"s0","function":"debug_session","data":{"token":session}}));
    assert_eq!(r.status, 11);
    let made = s.ok(json!({"world":"s1","function":"create_player","data":{"token":session,"gn":"Bobby","icon":1}}));
    assert_eq!((&made["gn"], &made["icon"]), (&json!("Bobby"), &json!(1)));
    let again = s.ok(enter.clone());
    assert_eq!(
        again["cid"],
        cid.as_str(),
        "the cid is the account's, stable"
    );
    let other_world = s.expect(
        json!({"world":"s0","function":"enter_world","data":{"token":account_token}}),
        98,
    );
    assert_eq!(other_world["cid"], cid.as_str());
    let other = s.guest("someone-else");
    let theirs = s.expect(
        json!({"world":"s1","function":"enter_world","data":{"token":other}}),
        98,
    );
    assert_ne!(theirs["cid"], cid.as_str());

    // a token for a uid without an account row
    let ghost = s.token("ghost", TokenKind::Account, None, None);
    let r = s.call(json!({"function":"account_all_info","data":{"token":ghost}}));
    assert_eq!(r.status, 85);
    let r = s.call(json!({"function":"bind_account","data":{"token":ghost,"account":"ghosty","password":"123456"}}));
    assert_eq!(r.status, 85);
    let r = s.call(json!({"world":"s0","function":"enter_world","data":{"token":ghost}}));
    assert_eq!(r.status, 85);
}

#[test]
fn taken_ids_and_names_change_nothing() {
    let s = Stack::start();
    s.expect(json!({"function":"register","data":{"unique_id":"owner","account":"owner_acc","password":"owner-pass"}}), 1);

    // The original overwrote the credentials of an existing unique_id: we answer 2.
    let r = s.call(json!({"function":"register","data":{"unique_id":"owner","account":"thief","password":"thief-pass"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (
            2,
            "account already bound: log in with its account name and password"
        )
    );
    assert!(r.data.get("token").is_none());
    let r = s.call(json!({"function":"register","data":{"unique_id":"thief","account":"OWNER_acc","password":"thief-pass"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (97, "the account name has been used")
    );
    for (account, password) in [("owner_acc", "thief-pass"), ("thief", "thief-pass")] {
        let r = s.call(json!({"function":"login","data":{"identifier":"account","value":account,"password":password}}));
        assert_eq!(r.status, 1, "{account}");
    }
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"owner_acc","password":"owner-pass"}}));
    assert_eq!(login["unique_id"], "owner");
    let count: Option<i64> = s
        .services
        .db
        .conn()
        .unwrap()
        .query_first("SELECT COUNT(*) FROM accounts")
        .unwrap();
    assert_eq!(count, Some(1), "no row for the failed registrations");

    // A device id whose account has credentials cannot be taken over as a guest.
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"owner"}}));
    assert_eq!((r.status, r.message.as_str()), (2, "account already bound"));
    assert!(r.data.get("token").is_none());
    // MySQL compares 'owner ' equal to 'owner': a padded id must not reach the table.
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"owner\u{3000}"}}));
    assert_eq!(r.status, 96);
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"has space"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (96, "unique_id contains spaces")
    );
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":""}}));
    assert_eq!((r.status, r.message.as_str()), (99, "unique id is empty"));
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":5}}));
    assert_eq!(r.status, 13);
    // New guest 1, the same guest again 0.
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"device-9"}}));
    assert_eq!((r.status, r.message.as_str()), (1, "new account created"));
    let guest = s.guest("device-9");
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"device-9"}}));
    assert_eq!((r.status, &r.data["unique_id"]), (0, &json!("device-9")));
    // register on a guest's unique_id gives the guest credentials (the original's 0).
    let reg = s.ok(json!({"function":"register","data":{"unique_id":"device-9","account":"nine","password":"nine-pass"}}));
    assert_eq!(reg["account"], "nine");
    assert!(
        s.services.tokens.validate(&guest).is_err(),
        "the guest token was replaced"
    );
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"device-9"}}));
    assert_eq!(r.status, 2);
    // Binding a name someone has fails too.
    let other = s.guest("device-10");
    let r = s.call(json!({"function":"bind_account","data":{"token":other,"account":"owner_acc","password":"whatever"}}));
    assert_eq!(r.status, 97);
    s.ok(json!({"function":"login","data":{"identifier":"account","value":"owner_acc","password":"owner-pass"}}));
    // An empty unique_id: the server makes one and answers it.
    let made = s.expect(json!({"function":"register","data":{"unique_id":"","account":"anon","password":"anon-pass"}}), 1);
    let uid = made["unique_id"].as_str().unwrap();
    assert!(uid.starts_with("lukseun") && uid.len() == 39, "{uid}");
    let claims = s
        .services
        .tokens
        .validate(made["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.uid, uid);

    // Bounds, with the original's statuses and messages that say which rule.
    for (data, status, message) in [
        (
            json!({"unique_id":"a b","account":"abc","password":"123456"}),
            96,
            "unique_id contains spaces",
        ),
        (
            json!({"unique_id":"x".repeat(65),"account":"abc","password":"123456"}),
            96,
            "unique_id must be 1 to 64 characters",
        ),
        (
            json!({"unique_id":"x\u{0}y","account":"abc","password":"123456"}),
            96,
            "unique_id must not contain control characters",
        ),
        (
            json!({"unique_id":"owner\t","account":"abc","password":"123456"}),
            96,
            "unique_id must not contain control characters",
        ),
        (
            json!({"unique_id":"x","account":"ab","password":"123456"}),
            99,
            "account must be 3 to 32 characters",
        ),
        (
            json!({"unique_id":"x","account":"a".repeat(33),"password":"123456"}),
            99,
            "account must be 3 to 32 characters",
        ),
        (
            json!({"unique_id":"x","account":"owner_acc ","password":"123456"}),
            99,
            "account must not start or end with whitespace",
        ),
        (
            json!({"unique_id":"x","account":"abc","password":"12345"}),
            98,
            "password must be 6 to 64 characters",
        ),
        (
            json!({"unique_id":"x","account":"abc","password":"1".repeat(65)}),
            98,
            "password must be 6 to 64 characters",
        ),
    ] {
        let r = s.call(json!({"function":"register","data":data}));
        assert_eq!((r.status, r.message.as_str()), (status, message), "{data}");
    }
    for (data, field) in [
        (json!({"account":"abc","password":"123456"}), "unique_id"),
        (
            json!({"unique_id":"x","account":7,"password":"123456"}),
            "account",
        ),
        (json!({"unique_id":"x","account":"abc"}), "password"),
    ] {
        let r = s.call(json!({"function":"register","data":data}));
        assert_eq!(r.status, 13, "{data}");
        assert!(
            r.data["reason"].as_str().unwrap().contains(field),
            "{}",
            r.to_json()
        );
    }
}

/// Two registers of one new unique_id, two binds of one guest, two registers of one name:
/// exactly one wins each race; the loser changes nothing.
#[test]
fn concurrent_registers_and_binds_have_one_winner() {
    let s = Stack::start();
    for round in 0..4 {
        let uid = format!("race-{round}");
        let statuses: Vec<i32> = at_once(2, |i| {
            s.call(json!({"function":"register","data":{"unique_id":uid,"account":format!("racer{round}x{i}"),"password":"race-pass"}})).status
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [1, 2], "round {round}: {statuses:?}");

        let guest = s.guest(&format!("bind-race-{round}"));
        let statuses: Vec<i32> = at_once(2, |i| {
            s.call(json!({"function":"bind_account","data":{"token":guest,"account":format!("binder{round}x{i}"),"password":"race-pass"}})).status
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 96], "round {round}: {statuses:?}");
    }
}

#[test]
fn sql_metacharacters_and_emoji_round_trip_verbatim() {
    let s = Stack::start();
    let nasty = [
        "'; DROP TABLE accounts; --",
        "%",
        "*",
        "\" OR \"1\"=\"1",
        "😀🎮 ünïcödé",
        "\\'; --",
        "_",
    ];
    for (i, text) in nasty.iter().enumerate() {
        // A unique_id may not contain spaces (the original's rule, status 96).
        let unique_id = format!("{text}{i}").replace(' ', "_");
        let account = format!("{text}{i}a");
        let password = format!("{text}{i}pass");
        let reg = s.expect(json!({"function":"register","data":{"unique_id":unique_id,"account":account,"password":password}}), 1);
        assert_eq!(reg["unique_id"], unique_id.as_str());
        let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":account,"password":password}}));
        assert_eq!(login["unique_id"], unique_id.as_str());
        let info = s.ok(json!({"function":"account_all_info","data":{"token":login["token"]}}));
        assert_eq!(info["account"], account.to_lowercase().as_str());

        let device = format!("{text}{i}device").replace(' ', "_");
        let guest = s.guest(&device);
        let bound_name = format!("{text}{i}b");
        let bound = s.ok(json!({"function":"bind_account","data":{"token":guest,"account":bound_name,"password":password}}));
        assert_eq!(bound["account"], bound_name.to_lowercase().as_str());
        let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":bound_name,"password":password}}));
        assert_eq!(login["unique_id"], device.as_str());

        let email = format!("{text}{i}@mail");
        s.services
            .db
            .conn()
            .unwrap()
            .exec_drop(
                "UPDATE accounts SET email = ? WHERE unique_id = ?",
                (&email, &unique_id),
            )
            .unwrap();
        let login = s.ok(json!({"function":"login","data":{"identifier":"email","value":email,"password":password}}));
        assert_eq!(login["unique_id"], unique_id.as_str());

        let r = s.call(
            json!({"function":"login","data":{"identifier":text,"value":"x","password":"123456"}}),
        );
        assert_eq!(r.status, 1, "identifier {text:?}");
        let r =
            s.call(json!({"world":text,"function":"enter_world","data":{"token":login["token"]}}));
        assert_eq!(r.status, 14, "world {text:?}");
    }
    // Wildcards match nothing: `%` is a name, not a pattern.
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"%","password":"%1apass"}}));
    assert_eq!(r.status, 1);
    let tables = s.db_server.sql("SHOW TABLES FROM lukseun");
    assert!(tables.contains("accounts"), "{tables}");
    let count = s.db_server.sql("SELECT COUNT(*) FROM lukseun.accounts");
    assert_eq!(count.trim(), (nasty.len() * 2).to_string());
}

fn login_as(account: &str, password: &str) -> Value {
    json!({"function":"login","data":{"identifier":"account","value":account,"password":password}})
}

#[test]
fn failed_logins_are_budgeted_per_account_known_or_not() {
    let s = Stack::start();
    let per_account = s
        .services
        .settings
        .account_limits
        .login_failures_per_account;
    s.expect(json!({"function":"register","data":{"unique_id":"bud-1","account":"budget","password":"right password"}}), 1);
    // Successes spend nothing.
    for _ in 0..per_account + 5 {
        assert_eq!(s.call(login_as("budget", "right password")).status, 0);
    }
    for _ in 0..per_account {
        assert_eq!(s.call(login_as("BUDGET", "wrong password")).status, 1);
    }
    // Used up: even the right password is not checked, and says so.
    let r = s.call(login_as("budget", "right password"));
    assert_status(&r, 2, "");
    assert!(r.to_json().contains("too many failed logins"));
    // An unknown account is refused the same way after as many failures.
    for _ in 0..per_account {
        assert_eq!(s.call(login_as("nobody-here", "guess")).status, 1);
    }
    assert_eq!(s.call(login_as("nobody-here", "guess")).status, 2);
    // Other accounts are not affected.
    s.expect(json!({"function":"register","data":{"unique_id":"bud-2","account":"other","password":"other password"}}), 1);
    assert_eq!(s.call(login_as("other", "other password")).status, 0);
    // The window ends: the account logs in again.
    let key = crate::modules::account::limits::login_account_key("account", "budget");
    s.services
        .redis
        .run(|c| redis::cmd("DEL").arg(&key).query::<()>(c))
        .unwrap();
    assert_eq!(s.call(login_as("budget", "right password")).status, 0);
}

#[test]
fn failed_logins_are_budgeted_per_client_address() {
    let s = Stack::start();
    let per_address = s
        .services
        .settings
        .account_limits
        .login_failures_per_address;
    s.expect(json!({"function":"register","data":{"unique_id":"adr-1","account":"victim","password":"right password"}}), 1);
    // A different account name each time: the per-account budget never applies.
    for n in 0..per_address {
        let r = s.call_from("203.0.113.7", login_as(&format!("spray{n}"), "guess"));
        assert_eq!(r.status, 1, "attempt {n}");
    }
    let r = s.call_from("203.0.113.7", login_as("victim", "right password"));
    assert_eq!(r.status, 2, "the address's budget is used up");
    let r = s.call_from("203.0.113.8", login_as("victim", "right password"));
    assert_eq!(r.status, 0, "another address is not charged");
}

#[test]
fn new_guests_are_budgeted_per_client_address() {
    let s = Stack::start();
    let budget = s
        .services
        .settings
        .account_limits
        .guests_per_address_per_day;
    let guest = |id: &str| json!({"function":"login_unique","data":{"unique_id":id}});
    for n in 0..budget {
        let r = s.call_from("198.51.100.1", guest(&format!("g-{n}")));
        assert_status(&r, 1, format_args!("guest {n}"));
    }
    let r = s.call_from("198.51.100.1", guest("g-over"));
    assert_status(&r, 3, "");
    assert!(r.data.get("token").is_none(), "no token when refused");
    let mut conn = s.services.db.conn().unwrap();
    let row: Option<String> = conn
        .exec_first(
            "SELECT unique_id FROM accounts WHERE unique_id = 'g-over'",
            (),
        )
        .unwrap();
    assert_eq!(row, None, "no account row for a refused guest");
    // Existing guests still log in from that address; other addresses still create.
    assert_eq!(s.call_from("198.51.100.1", guest("g-0")).status, 0);
    assert_eq!(s.call_from("198.51.100.2", guest("g-over")).status, 1);
    assert_eq!(s.call_from("198.51.100.1", guest("g-over")).status, 0);
}

#[test]
fn purge_removes_only_old_guests_that_never_played() {
    let s = Stack::start();
    s.guest("old-idle");
    s.guest("old-player");
    s.guest("new-idle");
    s.expect(json!({"function":"register","data":{"unique_id":"old-bound","account":"bound","password":"a password"}}), 1);
    let session = s.token("old-player", TokenKind::Session, Some("s0"), None);
    s.ok_as(&session, "create_player", json!({"gn":"Purger","icon":1}));
    let mut conn = s.services.db.conn().unwrap();
    conn.query_drop(
        "UPDATE accounts SET created_at = NOW() - INTERVAL 40 DAY WHERE unique_id LIKE 'old-%'",
    )
    .unwrap();

    let player = s.token("old-player", TokenKind::Account, None, None);
    let refused = s.call_as(&player, "purge_guest_accounts", json!({}));
    assert_eq!(refused.status, 15, "admin only");
    let admin = s.token("admin:ops", TokenKind::Admin, None, None);
    let bad = s.call_as(
        &admin,
        "purge_guest_accounts",
        json!({"older_than_days": 0}),
    );
    assert_status(&bad, 13, "");
    let done = s.ok_as(&admin, "purge_guest_accounts", json!({}));
    assert_eq!(
        (done["purged"].clone(), done["more"].clone()),
        (json!(1), json!(0))
    );
    let left: Vec<String> = conn
        .query("SELECT unique_id FROM accounts ORDER BY unique_id")
        .unwrap();
    assert_eq!(left, ["new-idle", "old-bound", "old-player"]);
    // The purged guest's device simply gets a new guest account.
    assert_eq!(
        s.call(json!({"function":"login_unique","data":{"unique_id":"old-idle"}}))
            .status,
        1
    );
}

/// Issue 16: the operators' namespace (`admin:`) is no player id. A row made there before
/// it was reserved logs in to no token (85), and an admin token has no account to bind.
#[test]
fn the_operators_namespace_is_no_player_id() {
    let s = Stack::start();
    for uid in ["admin:x", "ADMIN:x", "admin:"] {
        let r = s.call(json!({"function":"login_unique","data":{"unique_id":uid}}));
        assert_status(&r, 96, "");
        assert!(r.message.contains("reserved"), "{}", r.to_json());
        let r = s.call(json!({"function":"register","data":{"unique_id":uid,"account":"someone","password":"a password"}}));
        assert_status(&r, 96, "");
    }
    // "admin" itself is an ordinary device id.
    assert_eq!(
        s.call(json!({"function":"login_unique","data":{"unique_id":"admin"}}))
            .status,
        1
    );

    let legacy = s.expect(json!({"function":"register","data":{"unique_id":"pre16","account":"legacy","password":"a password"}}), 1);
    assert_eq!(legacy["unique_id"], "pre16");
    let mut conn = s.services.db.conn().unwrap();
    conn.query_drop("UPDATE accounts SET unique_id = 'admin:pre16' WHERE unique_id = 'pre16'")
        .unwrap();
    let r = s.call(login_as("legacy", "a password"));
    assert_status(&r, 85, "");
    assert!(r.data.get("token").is_none(), "{}", r.to_json());
    assert_eq!(s.call(login_as("legacy", "wrong password")).status, 1);

    let admin = s.token("admin:ops", TokenKind::Admin, None, None);
    let r = s.call_as(
        &admin,
        "bind_account",
        json!({"account":"opsname","password":"a password"}),
    );
    assert_status(&r, 85, "");
}

/// An account imported from the original game (lukseun-migrate) keeps its scrypt hash
/// behind a marker: the first good login verifies it and stores ours in its place; a wrong
/// password changes nothing.
#[test]
fn an_imported_original_hash_logs_in_once_and_is_rehashed() {
    let s = Stack::start();
    // Python: hashlib.scrypt(b"secret123", salt=b"0815...4756", n=1024, r=8, p=1).hex()
    let original = "orig-scrypt$0815493816012838011904372185412773929036493816527103845938163047502910384756$5e08ba89050b3d246bbd07232709c046efccce253c74ce51aa6b13b88ae2bcde3f7200f81764c9ad7caf47371ffee545f1ad7fc2d30e504af749bbeba35b279c";
    let mut conn = s.services.db.conn().unwrap();
    conn.exec_drop(
        "INSERT INTO accounts (unique_id, account, password) VALUES (?, ?, ?)",
        ("lukseun1606800000M1P7", "oldtimer", original),
    )
    .unwrap();
    let stored = |conn: &mut crate::db::DbConn| -> String {
        conn.exec_first(
            "SELECT password FROM accounts WHERE unique_id = ?",
            ("lukseun1606800000M1P7",),
        )
        .unwrap()
        .unwrap()
    };
    assert_eq!(s.call(login_as("oldtimer", "secret124")).status, 1);
    assert_eq!(
        stored(&mut conn),
        original,
        "a failed login rewrites nothing"
    );
    let login = s.ok(login_as("oldtimer", "secret123"));
    assert_eq!(login["unique_id"], "lukseun1606800000M1P7");
    let now = stored(&mut conn);
    assert!(now.starts_with("pbkdf2-sha256$"), "re-hashed: {now}");
    // Again, now against our hash; the old password still works, a wrong one does not.
    let again = s.ok(login_as("oldtimer", "secret123"));
    assert_eq!(again["unique_id"], "lukseun1606800000M1P7");
    assert_eq!(stored(&mut conn), now, "re-hashed once only");
    assert_eq!(s.call(login_as("oldtimer", "secret124")).status, 1);
}
