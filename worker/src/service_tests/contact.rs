//! Binding an email address or phone number with a verification code, against a real SMTP
//! server (aiosmtpd, `testkit::Smtp`) and a real HTTP hook (`testkit::HttpReceiver`): the
//! code a test uses is the one it read from the delivered mail or hook request.

use std::sync::Arc;

use mysql::prelude::Queryable;
use testkit::{HttpReceiver, Smtp};

use super::*;
use crate::function::Clock;
use crate::notify::NotifySettings;

const WAIT: Duration = Duration::from_secs(10);

/// A stack whose codes go to `smtp` and/or `hook`.
fn stack(smtp: Option<&Smtp>, hook: Option<&HttpReceiver>) -> Stack {
    let mut s = Stack::start();
    s.services.settings.notify = NotifySettings {
        smtp_addr: smtp.map(Smtp::addr).unwrap_or_default(),
        phone_hook_url: hook.map(|h| format!("{}/sms", h.url())).unwrap_or_default(),
        ..NotifySettings::default()
    };
    s
}

/// An account with an account name: its account token.
fn account(s: &Stack, uid: &str) -> String {
    let r = s.expect(
        json!({"function":"register","data":{"unique_id":uid,"account":format!("{uid}_acc"),"password":"secret-pass"}}),
        1,
    );
    r["token"].as_str().unwrap().to_string()
}

fn call(s: &Stack, token: &str, function: &str, data: Value) -> Response {
    let mut data = data;
    data["token"] = json!(token);
    s.call(json!({"function": function, "data": data}))
}

/// The code in the `n`-th mail (1 = the first) and the address it went to.
fn mailed_code(smtp: &Smtp, n: usize) -> (String, String) {
    let mail = smtp.wait_for(n, WAIT).remove(n - 1);
    let code: String = mail
        .subject
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{}", mail.subject);
    assert!(mail.body.contains(&code));
    (code, mail.header("X-RcptTo").unwrap().to_string())
}

/// The code in the `n`-th hook request and the number it is for.
fn texted_code(hook: &HttpReceiver, n: usize) -> (String, String) {
    let request = hook.wait_for(n, WAIT);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/sms")
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    (
        body["code"].as_str().unwrap().to_string(),
        body["phone_number"].as_str().unwrap().to_string(),
    )
}

fn info(s: &Stack, token: &str) -> serde_json::Map<String, Value> {
    let r = call(s, token, "account_all_info", json!({}));
    assert_eq!(r.status, 0);
    r.data
}

fn outstanding(s: &Stack, kind: &str, uid: &str) -> bool {
    s.services
        .redis
        .run(|c| {
            redis::cmd("EXISTS")
                .arg(format!("verify.{kind}.code.{uid}"))
                .query::<bool>(c)
        })
        .unwrap()
}

#[test]
fn an_email_is_bound_and_unbound_with_mailed_codes() {
    let smtp = Smtp::start();
    let s = stack(Some(&smtp), None);
    // 99: a guest has no account name yet
    let guest = s.guest("guest-1");
    let r = call(&s, &guest, "bind_email", json!({"email":"g@example.com"}));
    assert_eq!((r.status, r.message.as_str()), (99, "account is not bound"));

    let alice = account(&s, "alice");
    let r = call(
        &s,
        &alice,
        "bind_email",
        json!({"email":"Alice@Example.COM","lang":"en"}),
    );
    assert_eq!((r.status, r.data.len()), (0, 0), "{}", r.to_json());
    let (code, to) = mailed_code(&smtp, 1);
    assert_eq!(to, "alice@example.com", "stored and sent lower-cased");
    assert!(smtp.messages()[0]
        .subject
        .starts_with("Your Lukseun verification code"));
    // one code at a time
    let r = call(
        &s,
        &alice,
        "bind_email",
        json!({"email":"alice@example.com"}),
    );
    assert_eq!(r.status, 95);
    assert!(r.message.contains("still valid"), "{}", r.message);

    // bad arguments do not use the code up
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for (data, status) in [
        (json!({"code": code, "status": 2}), 90),
        (json!({"code": code, "status": -1}), 90),
        (json!({"code": code, "status": "x"}), 13),
        (json!({"status": 0}), 13),
        (json!({"code": [code]}), 13),
    ] {
        let r = call(&s, &alice, "verify_email_code", data.clone());
        assert_status(&r, status, format_args!("{data}"));
    }
    let r = call(&s, &alice, "verify_email_code", json!({"code": wrong}));
    assert_eq!((r.status, r.message.as_str()), (99, "invalid code"));
    // the right code for the other purpose is a wrong guess too
    let r = call(
        &s,
        &alice,
        "verify_email_code",
        json!({"code": code, "status": 1}),
    );
    assert_eq!(r.status, 99);
    // another account's verify does not see alice's code
    let bob = account(&s, "bob");
    let r = call(&s, &bob, "verify_email_code", json!({"code": code}));
    assert_eq!(r.status, 99);

    let r = call(
        &s,
        &alice,
        "verify_email_code",
        json!({"code": code, "status": "0"}),
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (0, "success, email verified")
    );
    assert_eq!(r.data["email"], "alice@example.com");
    assert_eq!(info(&s, &alice)["email"], "alice@example.com");
    let r = call(&s, &alice, "verify_email_code", json!({"code": code}));
    assert_eq!(r.status, 99, "a code works once");
    // (a login replaces the account's token)
    let login = s.ok(json!({"function":"login","data":{"identifier":"email","value":"ALICE@example.com","password":"secret-pass"}}));
    assert_eq!(login["email"], "alice@example.com");
    let alice = login["token"].as_str().unwrap().to_string();

    // 98 already has one; 97 someone else has it (in any case)
    let r = call(
        &s,
        &alice,
        "bind_email",
        json!({"email":"other@example.com"}),
    );
    assert_eq!(r.status, 98);
    let r = call(&s, &bob, "bind_email", json!({"email":"ALICE@example.com"}));
    assert_eq!(r.status, 97);
    // 93: not an address, nothing sent
    for bad in [
        "bob@example.com\r\nRCPT TO:<victim@example.com>",
        "bob@example.com>\r\nDATA",
        "no-at-sign",
        "",
        "b ob@example.com",
        "李@example.com",
        "'; DROP TABLE accounts; --",
    ] {
        let r = call(&s, &bob, "bind_email", json!({"email": bad}));
        assert_status(&r, 93, format_args!("{bad:?}"));
        assert!(!r.message.contains(['\r', '\n']), "{}", r.message);
    }
    let r = call(&s, &bob, "bind_email", json!({"email": 5}));
    assert_eq!(r.status, 13);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(smtp.messages().len(), 1, "no mail for refused requests");

    // unbind: 97 another address, then the bound one
    let r = call(
        &s,
        &alice,
        "unbind_email",
        json!({"email":"bob@example.com"}),
    );
    assert_eq!(r.status, 97);
    let r = call(
        &s,
        &bob,
        "unbind_email",
        json!({"email":"alice@example.com"}),
    );
    assert_eq!(r.status, 98, "bob has none");
    let r = call(
        &s,
        &guest,
        "unbind_email",
        json!({"email":"alice@example.com"}),
    );
    assert_eq!(r.status, 99);
    let r = call(
        &s,
        &alice,
        "unbind_email",
        json!({"email":"Alice@example.com"}),
    );
    assert_status(&r, 0, "");
    let (code, to) = mailed_code(&smtp, 2);
    assert_eq!(to, "alice@example.com");
    let r = call(&s, &alice, "verify_email_code", json!({"code": code}));
    assert_eq!(r.status, 99, "an unbind code does not bind");
    let r = call(
        &s,
        &alice,
        "verify_email_code",
        json!({"code": code, "status": 1}),
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (1, "unbind success, email verified")
    );
    assert_eq!(r.data["email"], "alice@example.com");
    assert_eq!(info(&s, &alice)["email"], "");
    let r = call(
        &s,
        &alice,
        "unbind_email",
        json!({"email":"alice@example.com"}),
    );
    assert_eq!(r.status, 98);
    // now bob may have it
    assert_eq!(
        call(&s, &bob, "bind_email", json!({"email":"alice@example.com"})).status,
        0
    );
    let (code, _) = mailed_code(&smtp, 3);
    assert_eq!(
        call(&s, &bob, "verify_email_code", json!({"code": code})).status,
        0
    );
}

#[test]
fn a_phone_is_bound_with_the_code_posted_to_the_hook() {
    let hook = HttpReceiver::start();
    let s = stack(None, Some(&hook));
    let carol = account(&s, "carol");
    let r = call(
        &s,
        &carol,
        "bind_phone",
        json!({"phone_number":"+86 138-0013-8000"}),
    );
    assert_status(&r, 0, "");
    let (code, number) = texted_code(&hook, 1);
    assert_eq!(number, "+8613800138000");
    assert_eq!(code.len(), 4, "{code}");
    let r = call(&s, &carol, "verify_phone_code", json!({"code": code}));
    assert_eq!(
        (r.status, r.message.as_str(), &r.data["phone"]),
        (0, "success, phone verified", &json!("+8613800138000"))
    );
    assert_eq!(info(&s, &carol)["phone_number"], "+8613800138000");
    let login = s.ok(json!({"function":"login","data":{"identifier":"phone_number","value":"+86 138 0013 8000","password":"secret-pass"}}));
    let carol = login["token"].as_str().unwrap().to_string();
    // an integer code is read as its digits, as the original's clients may send it
    let dave = account(&s, "dave");
    let r = call(
        &s,
        &dave,
        "bind_phone",
        json!({"phone_number":"+8613800138000"}),
    );
    assert_eq!(r.status, 97);
    for bad in ["12", "phone", "+86 138\n0013", ""] {
        let r = call(&s, &dave, "bind_phone", json!({"phone_number": bad}));
        assert_eq!(r.status, 93, "{bad:?}");
    }
    assert_eq!(
        call(&s, &dave, "bind_phone", json!({"phone_number":"5551234"})).status,
        0
    );
    let (code, _) = texted_code(&hook, 2);
    let as_int: u64 = code.parse().unwrap();
    let r = call(&s, &dave, "verify_phone_code", json!({"code": as_int}));
    if code.starts_with('0') {
        assert_eq!(r.status, 99, "leading zeros are lost in an integer");
    } else {
        assert_status(&r, 0, "");
    }

    let r = call(
        &s,
        &carol,
        "unbind_phone",
        json!({"phone_number":"13800138000"}),
    );
    assert_eq!(r.status, 97, "not the same number without the +");
    let r = call(
        &s,
        &carol,
        "unbind_phone",
        json!({"phone_number":"+86 13800138000"}),
    );
    assert_eq!(r.status, 0);
    let (code, _) = texted_code(&hook, 3);
    let r = call(
        &s,
        &carol,
        "verify_phone_code",
        json!({"code": code, "status": 1}),
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (1, "unbind success, phone verified")
    );
    assert_eq!(info(&s, &carol)["phone_number"], "");
}

#[test]
fn wrong_guesses_are_bounded_and_sends_are_limited_per_day() {
    let hook = HttpReceiver::start();
    let mut s = stack(None, Some(&hook));
    let clock = Arc::new(Clock::fixed(1_800_000_000));
    s.services.clock = clock.clone();
    let erin = account(&s, "erin");
    assert_eq!(
        call(&s, &erin, "bind_phone", json!({"phone_number":"5550001"})).status,
        0
    );
    let (code, _) = texted_code(&hook, 1);
    let wrong = if code == "0000" { "0001" } else { "0000" };
    for _ in 0..5 {
        let r = call(&s, &erin, "verify_phone_code", json!({"code": wrong}));
        assert_eq!(r.status, 99);
    }
    let r = call(&s, &erin, "verify_phone_code", json!({"code": code}));
    assert_eq!(r.status, 99, "after 5 wrong guesses the code is gone");
    assert!(!outstanding(&s, "phone", "erin"));
    assert_eq!(info(&s, &erin)["phone_number"], "");

    // An expired code is no code: 5 minutes.
    assert_eq!(
        call(&s, &erin, "bind_phone", json!({"phone_number":"5550001"})).status,
        0
    );
    let (code, _) = texted_code(&hook, 2);
    s.redis_server_expire("verify.phone.code.erin");
    let r = call(&s, &erin, "verify_phone_code", json!({"code": code}));
    assert_eq!(r.status, 99);

    // 5 SMS a day (2 sent): the 6th is refused before anything is sent
    for n in 3..=5 {
        assert_eq!(
            call(&s, &erin, "bind_phone", json!({"phone_number":"5550001"})).status,
            0
        );
        texted_code(&hook, n);
        s.drop_code("phone", "erin");
    }
    let r = call(&s, &erin, "bind_phone", json!({"phone_number":"5550001"}));
    assert_eq!(r.status, 95);
    assert!(r.message.contains("at most 5 codes a day"), "{}", r.message);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(hook.requests().len(), 5);
    assert!(
        !outstanding(&s, "phone", "erin"),
        "a refused send leaves no code"
    );
    // unbind shares the limit; another account has its own
    let frank = account(&s, "frank");
    assert_eq!(
        call(&s, &frank, "bind_phone", json!({"phone_number":"5550002"})).status,
        0
    );
    // the next day (UTC+8) erin may again
    clock.advance(86_400);
    assert_eq!(
        call(&s, &erin, "bind_phone", json!({"phone_number":"5550001"})).status,
        0
    );
    let (code, _) = texted_code(&hook, 7);
    assert_eq!(
        call(&s, &erin, "verify_phone_code", json!({"code": code})).status,
        0
    );
}

#[test]
fn undelivered_or_unconfigured_codes_are_not_success() {
    // nothing configured: 94, and no code is outstanding
    let s = stack(None, None);
    let gina = account(&s, "gina");
    for (function, data) in [
        ("bind_email", json!({"email":"gina@example.com"})),
        ("bind_phone", json!({"phone_number":"5550003"})),
    ] {
        let r = call(&s, &gina, function, data);
        assert_eq!(
            (r.status, r.message.as_str()),
            (94, "verification codes cannot be sent from this server"),
            "{function}"
        );
    }
    assert!(!outstanding(&s, "email", "gina"));
    assert!(!outstanding(&s, "phone", "gina"));

    // the hook refuses: 96 with data.message, no code left; it works once the hook does
    let hook = HttpReceiver::start();
    hook.set_status(500);
    hook.set_body(b"gateway secret detail");
    let s = stack(None, Some(&hook));
    let gina = account(&s, "gina");
    let r = call(&s, &gina, "bind_phone", json!({"phone_number":"5550003"}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (96, "code could not be sent")
    );
    let message = r.data["message"].as_str().unwrap();
    assert!(!message.contains("secret"), "{message}");
    assert!(!outstanding(&s, "phone", "gina"));
    hook.set_status(200);
    assert_eq!(
        call(&s, &gina, "bind_phone", json!({"phone_number":"5550003"})).status,
        0
    );
    let (code, _) = texted_code(&hook, 2);
    assert_eq!(
        call(&s, &gina, "verify_phone_code", json!({"code": code})).status,
        0
    );

    // an SMTP server that is gone: 96 as well
    let smtp = Smtp::start();
    let s = stack(Some(&smtp), None);
    drop(smtp);
    let gina = account(&s, "gina");
    let r = call(&s, &gina, "bind_email", json!({"email":"gina@example.com"}));
    assert_status(&r, 96, "");
}

/// Two verifies of one code at once, many rounds: exactly one binds. Then two accounts
/// verify codes for the same address at once: exactly one gets it, the other 97.
#[test]
fn concurrent_verifies_have_one_winner() {
    let smtp = Smtp::start();
    let s = stack(Some(&smtp), None);
    let mut mails = 0;
    for round in 0..6 {
        let uid = format!("racer{round}");
        let token = account(&s, &uid);
        let address = format!("{uid}@example.com");
        assert_eq!(
            call(&s, &token, "bind_email", json!({"email": address})).status,
            0
        );
        mails += 1;
        let (code, _) = mailed_code(&smtp, mails);
        let statuses: Vec<i32> = at_once(2, |_| {
            call(&s, &token, "verify_email_code", json!({"code": code})).status
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 99], "round {round}");
        assert_eq!(info(&s, &token)["email"], address.as_str());
    }

    for round in 0..6 {
        let shared_address = format!("shared{round}@example.com");
        let tokens: Vec<String> = (0..2)
            .map(|i| account(&s, &format!("sharer{round}x{i}")))
            .collect();
        let mut codes = Vec::new();
        for token in &tokens {
            let r = call(&s, token, "bind_email", json!({"email": shared_address}));
            assert_status(&r, 0, "");
            mails += 1;
            codes.push(mailed_code(&smtp, mails).0);
        }
        let statuses = at_once(tokens.len(), |i| {
            call(
                &s,
                &tokens[i],
                "verify_email_code",
                json!({"code": codes[i]}),
            )
            .status
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 97], "round {round}");
        let owners: i64 = s
            .services
            .db
            .conn()
            .unwrap()
            .exec_first(
                "SELECT COUNT(*) FROM accounts WHERE email = ?",
                (&shared_address,),
            )
            .unwrap()
            .unwrap();
        assert_eq!(owners, 1);
    }
}

impl Stack {
    /// Drops `uid`'s outstanding code of `kind`, as if it had been used.
    fn drop_code(&self, kind: &str, uid: &str) {
        self.services
            .redis
            .run(|c| {
                redis::cmd("DEL")
                    .arg(format!("verify.{kind}.code.{uid}"))
                    .query::<i64>(c)
            })
            .unwrap();
    }

    /// Makes `key` expire now, as if its time had run out.
    fn redis_server_expire(&self, key: &str) {
        self.services
            .redis
            .run(|c| redis::cmd("PEXPIRE").arg(key).arg(1).query::<i64>(c))
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}
