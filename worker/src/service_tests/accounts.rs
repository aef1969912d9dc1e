//! The account functions against real MariaDB and Redis.

use mysql::prelude::Queryable;

use super::*;

#[test]
fn account_happy_paths() {
    let s = Stack::start();
    // register -> a working account token
    let reg = s.ok(json!({"function":"register","data":{"unique_id":"dev-1","account":"alice","password":"correct horse"}}));
    assert_eq!(reg["unique_id"], "dev-1");
    let token = reg["token"].as_str().unwrap();
    let claims = s.services.tokens.validate(token).unwrap();
    assert_eq!(
        (claims.uid.as_str(), claims.kind),
        ("dev-1", TokenKind::Account)
    );

    // login by account, email and phone number
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"alice","password":"correct horse"}}));
    assert_eq!(login["unique_id"], "dev-1");
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
        ("phone_number", "+8613800000000"),
    ] {
        let login = s.ok(json!({"function":"login","data":{"identifier":identifier,"value":value,"password":"correct horse"}}));
        assert_eq!(login["unique_id"], "dev-1", "{identifier}");
    }
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"alice","password":"wrong horse"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (82, "wrong account or password")
    );
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"nobody","password":"correct horse"}}));
    assert_eq!(
        r.status, 82,
        "an unknown account looks like a wrong password"
    );
    let r = s.call(json!({"function":"login","data":{"identifier":"password","value":"x","password":"correct horse"}}));
    assert_eq!(r.status, 86);

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
    assert_eq!(info["unique_id"], "phone-7");
    let bound = s.ok(json!({"function":"bind_account","data":{"token":again,"account":"bob","password":"bobs-password"}}));
    assert_eq!(bound["account"], "bob");
    let r = s.call(json!({"function":"bind_account","data":{"token":again,"account":"bob2","password":"bobs-password"}}));
    assert_eq!(r.status, 84, "binding is once only");
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"bob","password":"bobs-password"}}));
    assert_eq!(login["unique_id"], "phone-7");
    let info = s.ok(json!({"function":"account_all_info","data":{"token":login["token"]}}));
    assert_eq!(info["account"], "bob");
    assert_eq!(info["email"], Value::Null);

    // enter_world -> a session token for that world, usable there only
    let account_token = login["token"].as_str().unwrap();
    let entered =
        s.ok(json!({"world":"s1","function":"enter_world","data":{"token":account_token}}));
    assert_eq!(entered["world"], "s1");
    let session = entered["token"].as_str().unwrap();
    let claims = s.services.tokens.validate(session).unwrap();
    assert_eq!(claims.kind, TokenKind::Session);
    assert_eq!(claims.world.as_deref(), Some("s1"));
    s.ok(json!({"world":"s1","function":"debug_session","data":{"token":session}}));
    let r = s.call(json!({"world":"s0","function":"debug_session","data":{"token":session}}));
    assert_eq!(r.status, 11);

    // a token for a uid without an account row
    let ghost = s.token("ghost", TokenKind::Account, None, None);
    let r = s.call(json!({"function":"account_all_info","data":{"token":ghost}}));
    assert_eq!(r.status, 85);
    let r = s.call(json!({"function":"bind_account","data":{"token":ghost,"account":"ghosty","password":"123456"}}));
    assert_eq!(r.status, 85);
}

#[test]
fn taken_ids_and_names_change_nothing() {
    let s = Stack::start();
    s.ok(json!({"function":"register","data":{"unique_id":"owner","account":"owner_acc","password":"owner-pass"}}));

    let r = s.call(json!({"function":"register","data":{"unique_id":"owner","account":"thief","password":"thief-pass"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (80, "unique_id is already in use")
    );
    let r = s.call(json!({"function":"register","data":{"unique_id":"thief","account":"owner_acc","password":"thief-pass"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (81, "account name is already taken")
    );
    for (account, password) in [("owner_acc", "thief-pass"), ("thief", "thief-pass")] {
        let r = s.call(json!({"function":"login","data":{"identifier":"account","value":account,"password":password}}));
        assert_eq!(r.status, 82, "{account}");
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
    assert_eq!(r.status, 83);
    // MySQL compares 'owner ' equal to 'owner': a padded id must not reach the table.
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"owner "}}));
    assert_eq!(r.status, 86);
    let guest = s.guest("device-9");
    s.ok(json!({"function":"bind_account","data":{"token":guest,"account":"nine","password":"nine-pass"}}));
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"device-9"}}));
    assert_eq!(r.status, 83);
    assert!(r.data.get("token").is_none());
    // Binding a name someone has fails too.
    let other = s.guest("device-10");
    let r = s.call(json!({"function":"bind_account","data":{"token":other,"account":"owner_acc","password":"whatever"}}));
    assert_eq!(r.status, 81);
    s.ok(json!({"function":"login","data":{"identifier":"account","value":"owner_acc","password":"owner-pass"}}));

    // Bounds, with messages that say which.
    for (data, message) in [
        (
            json!({"unique_id":"","account":"abc","password":"123456"}),
            "unique_id must be 1 to 64 characters",
        ),
        (
            json!({"unique_id":"x".repeat(65),"account":"abc","password":"123456"}),
            "unique_id must be 1 to 64 characters",
        ),
        (
            json!({"unique_id":"x","account":"ab","password":"123456"}),
            "account must be 3 to 32 characters",
        ),
        (
            json!({"unique_id":"x","account":"a".repeat(33),"password":"123456"}),
            "account must be 3 to 32 characters",
        ),
        (
            json!({"unique_id":"x","account":"abc","password":"12345"}),
            "password must be 6 to 64 characters",
        ),
        (
            json!({"unique_id":"x","account":"abc","password":"1".repeat(65)}),
            "password must be 6 to 64 characters",
        ),
        (
            json!({"unique_id":"x\u{0}y","account":"abc","password":"123456"}),
            "unique_id must not contain control characters",
        ),
        (
            json!({"unique_id":"owner ","account":"abc","password":"123456"}),
            "unique_id must not start or end with whitespace",
        ),
        (
            json!({"unique_id":"x","account":"owner_acc ","password":"123456"}),
            "account must not start or end with whitespace",
        ),
    ] {
        let r = s.call(json!({"function":"register","data":data}));
        assert_eq!((r.status, r.message.as_str()), (86, message), "{data}");
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
        let unique_id = format!("{text}{i}");
        let account = format!("{text}{i}a");
        let password = format!("{text}{i}pass");
        let reg = s.ok(json!({"function":"register","data":{"unique_id":unique_id,"account":account,"password":password}}));
        assert_eq!(reg["unique_id"], unique_id.as_str());
        let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":account,"password":password}}));
        assert_eq!(login["unique_id"], unique_id.as_str());
        let info = s.ok(json!({"function":"account_all_info","data":{"token":login["token"]}}));
        assert_eq!(info["account"], account.as_str());

        let device = format!("{text}{i}device");
        let guest = s.guest(&device);
        let bound_name = format!("{text}{i}b");
        let bound = s.ok(json!({"function":"bind_account","data":{"token":guest,"account":bound_name,"password":password}}));
        assert_eq!(bound["account"], bound_name.as_str());
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
        assert_eq!(r.status, 86, "identifier {text:?}");
        let r =
            s.call(json!({"world":text,"function":"enter_world","data":{"token":login["token"]}}));
        assert_eq!(r.status, 14, "world {text:?}");
    }
    // Wildcards match nothing: `%` is a name, not a pattern.
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"%","password":"%1apass"}}));
    assert_eq!(r.status, 82);
    let tables = s.db_server.sql("SHOW TABLES FROM lukseun");
    assert!(tables.contains("accounts"), "{tables}");
    let count = s.db_server.sql("SELECT COUNT(*) FROM lukseun.accounts");
    assert_eq!(count.trim(), (nasty.len() * 2).to_string());
}
