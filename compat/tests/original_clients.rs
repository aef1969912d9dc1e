//! The original game's clients against our system: one walk per module, each with its own
//! table of what the original's code answered (status, `data` fields and their JSON
//! types; sources: the module documents and docs/compatibility.md's notes, the code winning
//! where they disagree). A walk follows a player's journey as the original's simulator
//! did; every mismatch is listed at the end of its test.
//!
//! To adjust an expectation, change its row in the module's table (`ACCOUNT`, `PLAYER`, …).

use std::sync::{Mutex, MutexGuard};

use compat::Ty::{Any, Arr, Bool, Num, Obj, Str};
use compat::{
    drain_diamonds, fresh, grant, mail_key_from, mail_type, new_player, raise_level, row, status,
    take_str, Expect, Walker, World,
};
use serde_json::{json, Value};
use teststack::Stack;

/// One stack at a time: each starts MariaDB, Redis, NATS and every service, and the
/// machine is small.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const PASSWORD: &str = "secret123";

/// A new family name: short, letters and digits (fits every rule of ours and theirs).
fn family_name() -> String {
    format!("f{}", shared::ids::random_hex(4))
}

// ---------------------------------------------------------------------------------------
// account

const ACCOUNT: &[Expect] = &[
    row(
        "login_unique: new device",
        "login_unique",
        &[1],
        &[("token", Str)],
    ),
    row("login_unique", "login_unique", &[0], &[("token", Str)]),
    row("login_unique: empty id", "login_unique", &[99], &[]),
    row("login_unique: bound account", "login_unique", &[2], &[]),
    row(
        "register",
        "register",
        &[1],
        &[("token", Str), ("account", Str)],
    ),
    row("register: account taken", "register", &[97], &[]),
    row("register: invalid account name", "register", &[99], &[]),
    row("register: invalid password", "register", &[98], &[]),
    row(
        "login",
        "login",
        &[0],
        &[
            ("token", Str),
            ("account", Str),
            ("email", Str),
            ("phone_number", Str),
        ],
    ),
    row("login: wrong password", "login", &[1], &[]),
    row(
        "account_all_info",
        "account_all_info",
        &[0],
        &[("account", Str), ("email", Str), ("phone_number", Str)],
    ),
    row("bind_account", "bind_account", &[0], &[("account", Str)]),
    row("bind_account: already bound", "bind_account", &[96], &[]),
    row("bind_account: account taken", "bind_account", &[97], &[]),
];

#[test]
fn account() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let mut w = Walker::new(stack.gate_addr(), "account", ACCOUNT);

    let device = fresh("acc-dev-");
    let a = w.call("login_unique: new device", "", json!({"unique_id": device}));
    let _first = take_str(&a, "token");
    // Each login replaces the account's token: the newest one is the one that works.
    let a = w.call("login_unique", "", json!({"unique_id": device}));
    let token = take_str(&a, "token");
    w.call("login_unique: empty id", "", json!({"unique_id": ""}));

    let a = w.call("account_all_info", &token, json!({}));
    w.expect(
        a["data"]["account"] == "",
        format!("account_all_info of a guest: account \"\": {a}"),
    );

    let name = fresh("acct");
    let a = w.call(
        "bind_account",
        &token,
        json!({"account": name, "password": PASSWORD}),
    );
    w.expect(
        a["data"]["account"] == name.as_str(),
        format!("bind_account answers the bound name: {a}"),
    );
    w.call(
        "bind_account: already bound",
        &token,
        json!({"account": fresh("acct"), "password": PASSWORD}),
    );
    let a = w.call("account_all_info", &token, json!({}));
    w.expect(
        a["data"]["account"] == name.as_str(),
        format!("account_all_info after binding: {a}"),
    );
    w.call(
        "login_unique: bound account",
        "",
        json!({"unique_id": device}),
    );

    let a = w.call(
        "login",
        "",
        json!({"identifier": "account", "value": name, "password": PASSWORD}),
    );
    w.expect(
        a["data"]["account"] == name.as_str(),
        format!("login answers the account: {a}"),
    );
    w.call(
        "login: wrong password",
        "",
        json!({"identifier": "account", "value": name, "password": "wrong-password"}),
    );

    w.call(
        "register: account taken",
        "",
        json!({"unique_id": fresh("acc-dev-"), "account": name, "password": PASSWORD}),
    );
    let other = fresh("acct");
    let a = w.call(
        "register",
        "",
        json!({"unique_id": fresh("acc-dev-"), "account": other, "password": PASSWORD}),
    );
    w.expect(
        a["data"]["account"] == other.as_str(),
        format!("register answers the account: {a}"),
    );
    w.call(
        "register: invalid account name",
        "",
        json!({"unique_id": fresh("acc-dev-"), "account": "a!", "password": PASSWORD}),
    );
    w.call(
        "register: invalid password",
        "",
        json!({"unique_id": fresh("acc-dev-"), "account": fresh("acct"), "password": "12"}),
    );

    // A second guest may not bind a name someone already has.
    let guest = fresh("acc-dev-");
    let g = w.raw("login_unique", "", json!({"unique_id": guest}));
    w.call(
        "bind_account: account taken",
        &take_str(&g, "token"),
        json!({"account": name, "password": PASSWORD}),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// account: email and phone, bound with verification codes

const CONTACT: &[Expect] = &[
    // The original binds nothing to an account without an account name.
    row("bind_email: account not bound", "bind_email", &[99], &[]),
    row("bind_phone: account not bound", "bind_phone", &[99], &[]),
    row(
        "unbind_email: account not bound",
        "unbind_email",
        &[99],
        &[],
    ),
    row(
        "unbind_phone: account not bound",
        "unbind_phone",
        &[99],
        &[],
    ),
    row("bind_account", "bind_account", &[0], &[("account", Str)]),
    // A code is sent; `data` is `{}`.
    row("bind_email", "bind_email", &[0], &[]),
    row("bind_email: already bound", "bind_email", &[98], &[]),
    row(
        "bind_email: used by another account",
        "bind_email",
        &[97],
        &[],
    ),
    row("unbind_email", "unbind_email", &[0], &[]),
    row(
        "unbind_email: not the bound one",
        "unbind_email",
        &[97],
        &[],
    ),
    row("unbind_email: none bound", "unbind_email", &[98], &[]),
    row(
        "verify_email_code",
        "verify_email_code",
        &[0],
        &[("email", Str)],
    ),
    row(
        "verify_email_code: wrong code",
        "verify_email_code",
        &[99],
        &[],
    ),
    // The original's unbind success is status 1, with the address.
    row(
        "verify_email_code: unbind",
        "verify_email_code",
        &[1],
        &[("email", Str)],
    ),
    row("bind_phone", "bind_phone", &[0], &[]),
    row("bind_phone: already bound", "bind_phone", &[98], &[]),
    row(
        "bind_phone: used by another account",
        "bind_phone",
        &[97],
        &[],
    ),
    row("unbind_phone", "unbind_phone", &[0], &[]),
    row(
        "unbind_phone: not the bound one",
        "unbind_phone",
        &[97],
        &[],
    ),
    row("unbind_phone: none bound", "unbind_phone", &[98], &[]),
    row(
        "verify_phone_code",
        "verify_phone_code",
        &[0],
        &[("phone", Str)],
    ),
    row(
        "verify_phone_code: wrong code",
        "verify_phone_code",
        &[99],
        &[],
    ),
    row(
        "verify_phone_code: unbind",
        "verify_phone_code",
        &[1],
        &[("phone", Str)],
    ),
    row(
        "account_all_info",
        "account_all_info",
        &[0],
        &[("account", Str), ("email", Str), ("phone_number", Str)],
    ),
];

/// The only run of exactly `n` digits in `text`, if there is exactly one (the code in a
/// code mail).
fn digit_run(text: &str, n: usize) -> Option<String> {
    let runs: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|r| r.len() == n)
        .collect();
    match runs.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    }
}

/// A code of `n` digits that is not `code`.
fn wrong_code(code: &str, n: usize) -> String {
    let zeros = "0".repeat(n);
    if code == zeros {
        format!("{}1", "0".repeat(n - 1))
    } else {
        zeros
    }
}

#[test]
fn contact() {
    let _one = one_at_a_time();
    let smtp = testkit::Smtp::start();
    let hook = testkit::HttpReceiver::start();
    let stack = Stack::start_with(|settings| {
        settings.smtp_addr = smtp.addr();
        settings.phone_hook_url = format!("{}/sms", hook.url());
    });
    let addr = stack.gate_addr();
    let mut w = Walker::new(addr, "contact", CONTACT);

    // The code in the `n`-th delivered mail (1 = the first), checked to have gone to `to`.
    let mailed = |w: &mut Walker, n: usize, to: &str| -> Option<String> {
        let mail = smtp.wait_for(n, compat::ANSWER_WAIT).remove(n - 1);
        w.expect(
            mail.header("X-RcptTo") == Some(to),
            format!("code mail {n} goes to {to}: {:?}", mail.header("X-RcptTo")),
        );
        let code = digit_run(&mail.body, 6);
        w.expect(
            code.as_ref()
                .is_some_and(|c| mail.subject.contains(c.as_str())),
            format!(
                "code mail {n}: one 6-digit code in the body, the same in the subject: {:?} / {:?}",
                mail.subject, mail.body
            ),
        );
        code
    };
    // The code in the `n`-th hook request (its JSON body), checked to be for `number`.
    let texted = |w: &mut Walker, n: usize, number: &str| -> Option<String> {
        let request = hook.wait_for(n, compat::ANSWER_WAIT);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        w.expect(
            request.method == "POST" && body["phone_number"] == number,
            format!("hook request {n} POSTs the code for {number}: {body}"),
        );
        let code = body["code"]
            .as_str()
            .filter(|c| c.len() == 4 && c.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string);
        w.need(code, "a 4-digit code in the hook's JSON")
    };

    let me = new_player(addr, "ct");
    let token = me.account.as_str();
    let email = format!("{}@example.com", fresh("ct"));
    // The module document's example number, written as the original stored it.
    let phone = "15000000000";

    // Without an account name: 99, as the original's `_account_bound` answered.
    w.call(
        "bind_email: account not bound",
        token,
        json!({"email": email}),
    );
    w.call(
        "bind_phone: account not bound",
        token,
        json!({"phone_number": phone}),
    );
    w.call(
        "unbind_email: account not bound",
        token,
        json!({"email": email}),
    );
    w.call(
        "unbind_phone: account not bound",
        token,
        json!({"phone_number": phone}),
    );
    w.call(
        "bind_account",
        token,
        json!({"account": fresh("ct"), "password": PASSWORD}),
    );
    // A second account with an account name, for the addresses someone else has.
    let other = w.raw("login_unique", "", json!({"unique_id": fresh("ct-dev-")}));
    let other = take_str(&other, "token");
    let bound = w.raw(
        "bind_account",
        &other,
        json!({"account": fresh("ct"), "password": PASSWORD}),
    );
    w.expect(status(&bound) == 0, format!("setup bind_account: {bound}"));

    // Email: bind with the mailed code.
    let a = w.call("bind_email", token, json!({"email": email}));
    w.expect(
        a["data"] == json!({}),
        format!("bind_email answers data {{}}: {a}"),
    );
    if let Some(code) = mailed(&mut w, 1, &email) {
        w.call(
            "verify_email_code: wrong code",
            token,
            json!({"code": wrong_code(&code, 6), "status": 0}),
        );
        // The wrong guess did not use the code up.
        let a = w.call(
            "verify_email_code",
            token,
            json!({"code": code, "status": 0}),
        );
        w.expect(
            a["data"]["email"] == email.as_str() && a["message"] == "success, email verified",
            format!("verify_email_code binds {email}: {a}"),
        );
    }
    let a = w.call("account_all_info", token, json!({}));
    w.expect(
        a["data"]["email"] == email.as_str(),
        format!("account_all_info shows the bound email: {a}"),
    );
    w.call(
        "bind_email: already bound",
        token,
        json!({"email": format!("{}@example.com", fresh("ct"))}),
    );
    w.call(
        "bind_email: used by another account",
        &other,
        json!({"email": email}),
    );
    w.call(
        "unbind_email: not the bound one",
        token,
        json!({"email": format!("{}@example.com", fresh("ct"))}),
    );
    // Email: unbind with the mailed code and status 1.
    w.call("unbind_email", token, json!({"email": email}));
    if let Some(code) = mailed(&mut w, 2, &email) {
        let a = w.call(
            "verify_email_code: unbind",
            token,
            json!({"code": code, "status": 1}),
        );
        w.expect(
            a["data"]["email"] == email.as_str()
                && a["message"] == "unbind success, email verified",
            format!("verify_email_code status 1 unbinds {email}: {a}"),
        );
    }
    let a = w.call("account_all_info", token, json!({}));
    w.expect(
        a["data"]["email"] == "",
        format!("account_all_info after the unbind: email \"\": {a}"),
    );
    w.call("unbind_email: none bound", token, json!({"email": email}));

    // Phone: the same with the code POSTed to the hook.
    let a = w.call("bind_phone", token, json!({"phone_number": phone}));
    w.expect(
        a["data"] == json!({}),
        format!("bind_phone answers data {{}}: {a}"),
    );
    if let Some(code) = texted(&mut w, 1, phone) {
        w.call(
            "verify_phone_code: wrong code",
            token,
            json!({"code": wrong_code(&code, 4), "status": 0}),
        );
        let a = w.call(
            "verify_phone_code",
            token,
            json!({"code": code, "status": 0}),
        );
        w.expect(
            a["data"]["phone"] == phone && a["message"] == "success, phone verified",
            format!("verify_phone_code binds {phone}: {a}"),
        );
    }
    let a = w.call("account_all_info", token, json!({}));
    w.expect(
        a["data"]["phone_number"] == phone,
        format!("account_all_info shows the bound phone number: {a}"),
    );
    w.call(
        "bind_phone: already bound",
        token,
        json!({"phone_number": "13900139000"}),
    );
    w.call(
        "bind_phone: used by another account",
        &other,
        json!({"phone_number": phone}),
    );
    w.call(
        "unbind_phone: not the bound one",
        token,
        json!({"phone_number": "13900139000"}),
    );
    w.call("unbind_phone", token, json!({"phone_number": phone}));
    if let Some(code) = texted(&mut w, 2, phone) {
        let a = w.call(
            "verify_phone_code: unbind",
            token,
            json!({"code": code, "status": 1}),
        );
        w.expect(
            a["data"]["phone"] == phone && a["message"] == "unbind success, phone verified",
            format!("verify_phone_code status 1 unbinds {phone}: {a}"),
        );
    }
    let a = w.call("account_all_info", token, json!({}));
    w.expect(
        a["data"]["phone_number"] == "",
        format!("account_all_info after the unbind: phone_number \"\": {a}"),
    );
    w.call(
        "unbind_phone: none bound",
        token,
        json!({"phone_number": phone}),
    );
    w.expect(
        smtp.messages().len() == 2 && hook.requests().len() == 2,
        format!(
            "one code per bind and unbind, none for refused requests: {} mails, {} hook requests",
            smtp.messages().len(),
            hook.requests().len()
        ),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// player (and the chat token)

const PLAYER: &[Expect] = &[
    row(
        "enter_world: first time",
        "enter_world",
        &[98],
        &[("cid", Str), ("session", Str)],
    ),
    row(
        "enter_world",
        "enter_world",
        &[0],
        &[("cid", Str), ("session", Str)],
    ),
    row(
        "create_player",
        "create_player",
        &[0],
        &[("gn", Str), ("icon", Any)],
    ),
    row("create_player: name taken", "create_player", &[99], &[]),
    row("create_player: has a player", "create_player", &[99], &[]),
    row("create_player: illegal name", "create_player", &[98], &[]),
    row(
        "get_info_player",
        "get_info_player",
        &[0],
        &[
            ("gn", Str),
            ("fn", Str),
            ("energy_info", Obj),
            ("energy_info.energy", Num),
            ("energy_info.recover_time", Str),
            ("energy_info.cooling_time", Num),
            ("stages.infos", Obj),
            ("stages.infos.0", Num),
            ("stages.limits", Obj),
            ("stages.limits.4.19", Num),
            ("exp", Num),
            ("elements", Obj),
            ("elements.1000", Num),
            ("elements.1003", Num),
            ("elm", Num),
            ("bel", Num),
            ("cd", Num),
        ],
    ),
    row(
        "get_account_world_info",
        "get_account_world_info",
        &[0],
        &[
            ("worlds[].server_status", Num),
            ("worlds[].world", Str),
            ("worlds[].world_name", Str),
            ("worlds[].gn", Str),
            ("worlds[].exp", Num),
            ("worlds[].level", Num),
        ],
    ),
    row(
        "change_player_name: no diamonds",
        "change_player_name",
        &[98],
        &[],
    ),
    row(
        "change_player_name",
        "change_player_name",
        &[0],
        &[("gn", Str), ("remaining[]", Str), ("reward[]", Str)],
    ),
    row(
        "change_player_name: name taken",
        "change_player_name",
        &[99],
        &[],
    ),
    row(
        "change_player_name: illegal name",
        "change_player_name",
        &[97],
        &[],
    ),
    row(
        "get_login_token_chat",
        "get_login_token_chat",
        &[0],
        &[("token", Str)],
    ),
    // The original stored any value and answered it; ours refuse bad ones with 99
    // (docs/compatibility.md, "departs on purpose").
    row(
        "player_set_intro",
        "player_set_intro",
        &[0],
        &[("intro", Str)],
    ),
    row("player_set_intro: too long", "player_set_intro", &[99], &[]),
    row(
        "player_set_intro: control character",
        "player_set_intro",
        &[99],
        &[],
    ),
    row("player_set_icon", "player_set_icon", &[0], &[("icon", Any)]),
    row(
        "player_set_icon: out of range",
        "player_set_icon",
        &[99],
        &[],
    ),
];

#[test]
fn player() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "player", PLAYER);

    let login = w.raw("login_unique", "", json!({"unique_id": fresh("pl-dev-")}));
    let account = take_str(&login, "token");
    let e = w.call("enter_world: first time", &account, json!({}));
    // Carry on with whatever session came back, so the rest of the walk still runs.
    let session = e["data"]["session"]
        .as_str()
        .or_else(|| e["data"]["token"].as_str())
        .expect("a session from enter_world")
        .to_string();
    let mut gn = fresh("pl");
    let c = w.call("create_player", &session, json!({"gn": gn, "icon": 1}));
    w.expect(
        c["data"]["gn"] == gn.as_str() && c["data"]["icon"] == 1,
        format!("create_player echoes gn and icon: {c}"),
    );
    // A new enter_world replaces the session, as the original's did.
    let e = w.call("enter_world", &account, json!({}));
    let session = e["data"]["session"]
        .as_str()
        .or_else(|| e["data"]["token"].as_str())
        .unwrap_or(&session)
        .to_string();

    // Both ways of naming the world reach the same one.
    let by_index = w.call_in(World::Index(0), "get_info_player", &session, json!({}));
    let by_id = w.call_in(World::Id("s0"), "get_info_player", &session, json!({}));
    w.expect(
        status(&by_index) == 0 && by_index["data"]["gn"] == gn.as_str(),
        format!("world 0 serves the player made in s0: {by_index}"),
    );
    w.expect(
        by_index["data"]["gn"] == by_id["data"]["gn"],
        format!("world 0 and \"s0\" are the same world: {by_index} vs {by_id}"),
    );

    let worlds = w.call("get_account_world_info", &account, json!({}));
    let listed = worlds["data"]["worlds"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|x| x["world"] == "s0" && x["gn"] == gn.as_str());
    w.expect(
        listed,
        format!("get_account_world_info lists the player in s0: {worlds}"),
    );

    // A second account: refused names, then its own player.
    let other = w.raw("login_unique", "", json!({"unique_id": fresh("pl-dev-")}));
    let other_account = take_str(&other, "token");
    let oe = w.raw("enter_world", &other_account, json!({}));
    let other_session = oe["data"]["session"]
        .as_str()
        .or_else(|| oe["data"]["token"].as_str())
        .expect("a session")
        .to_string();
    w.call(
        "create_player: illegal name",
        &other_session,
        json!({"gn": "no spaces!", "icon": 1}),
    );
    w.call(
        "create_player: name taken",
        &other_session,
        json!({"gn": gn, "icon": 1}),
    );
    let other_gn = fresh("pl");
    w.call(
        "create_player",
        &other_session,
        json!({"gn": other_gn, "icon": 2}),
    );
    w.call(
        "create_player: has a player",
        &other_session,
        json!({"gn": fresh("pl"), "icon": 2}),
    );

    let mut me = compat::Player {
        unique_id: String::new(),
        account: account.clone(),
        session: session.clone(),
        gn: gn.clone(),
    };
    drain_diamonds(addr, &mut me);
    gn = me.gn.clone();
    w.call(
        "change_player_name: no diamonds",
        &session,
        json!({"gn": fresh("pl")}),
    );
    w.call(
        "change_player_name: name taken",
        &session,
        json!({"gn": other_gn}),
    );
    w.call(
        "change_player_name: illegal name",
        &session,
        json!({"gn": "bad name!"}),
    );
    w.setup(grant(addr, &admin, &gn, &["3:5:100"]));
    let renamed = fresh("pl");
    let r = w.call("change_player_name", &session, json!({"gn": renamed}));
    w.expect(
        r["data"]["gn"] == renamed.as_str() && r["data"]["reward"] == json!(["3:5:100"]),
        format!("change_player_name: the new name and reward [\"3:5:100\"]: {r}"),
    );

    w.call("get_login_token_chat", &session, json!({}));

    // The profile: the answers echo the value, get_info_player shows it.
    let intro = "h\u{e9}llo \u{1f600}\nsecond line";
    let a = w.call("player_set_intro", &session, json!({"intro": intro}));
    w.expect(
        a["data"]["intro"] == intro,
        format!("player_set_intro echoes the intro: {a}"),
    );
    w.call(
        "player_set_intro: too long",
        &session,
        json!({"intro": "x".repeat(129)}),
    );
    w.call(
        "player_set_intro: control character",
        &session,
        json!({"intro": "bell\u{7}"}),
    );
    let a = w.call("player_set_icon", &session, json!({"icon": 7}));
    w.expect(
        a["data"]["icon"] == 7,
        format!("player_set_icon echoes the icon: {a}"),
    );
    w.call(
        "player_set_icon: out of range",
        &session,
        json!({"icon": -1}),
    );
    let info = w.raw("get_info_player", &session, json!({}));
    w.expect(
        info["data"]["intro"] == intro && info["data"]["icon"] == 7,
        format!("get_info_player shows the intro and icon set (not the refused ones): {info}"),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// mail

const MAIL_FIELDS: &[(&str, compat::Ty)] = &[
    ("mail[].read", Num),
    ("mail[].body", Str),
    ("mail[].time", Str),
    ("mail[].type", Num),
    ("mail[].from", Str),
    ("mail[].subj", Str),
    ("mail[].key", Str),
    ("count.cur", Num),
    ("count.max", Num),
];

const MAIL: &[Expect] = &[
    row("send_mail", "send_mail", &[0], &[("sent", Num)]),
    row("get_new_mail", "get_new_mail", &[0], MAIL_FIELDS),
    row("get_all_mail", "get_all_mail", &[0], MAIL_FIELDS),
    row("mark_read_mail", "mark_read_mail", &[0], &[("key", Str)]),
    row("mark_read_mail: empty key", "mark_read_mail", &[99], &[]),
    row(
        "delete_read_mail",
        "delete_read_mail",
        &[0],
        &[("keys[]", Str)],
    ),
    row("delete_mail", "delete_mail", &[0], &[("keys[]", Str)]),
    row("delete_mail: empty key", "delete_mail", &[99], &[]),
    row("send_gift_mail", "send_gift_mail", &[0], &[]),
    row("send_text_mail", "send_text_mail", &[0], &[]),
    row(
        "accept_gifts",
        "accept_gifts",
        &[0],
        &[
            ("error", Arr),
            ("success", Obj),
            ("success.*[].gid", Num),
            ("success.*[].id", Num),
            ("success.*[].remaining", Num),
            ("success.*[].reward", Num),
        ],
    ),
];

#[test]
fn mail() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "mail", MAIL);
    let a = new_player(addr, "ma");
    let b = new_player(addr, "mb");

    let s = w.call(
        "send_mail",
        &a.session,
        json!({"gn_target": b.gn, "subj": "hello", "body": "first"}),
    );
    w.expect(
        s["data"]["sent"] == 1,
        format!("send_mail: the first mail today is sent 1: {s}"),
    );
    let n = w.call("get_new_mail", &b.session, json!({}));
    let first = n["data"]["mail"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["from"] == a.gn.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    w.expect(
        first["subj"] == "hello"
            && first["body"] == "first"
            && mail_type(&first) == Some(0)
            && first["read"] == 0,
        format!("get_new_mail shows A's unread simple mail: {n}"),
    );
    w.expect(
        n["data"]["count"]["max"] == 50,
        format!("mailbox max 50: {n}"),
    );
    let all = w.call("get_all_mail", &b.session, json!({}));
    let first_key = first["key"]
        .as_str()
        .map(str::to_string)
        .or_else(|| mail_key_from(addr, &b.session, 0, &a.gn))
        .unwrap_or_default();
    w.expect(
        all["data"]["mail"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["key"] == first_key.as_str()),
        format!("get_all_mail lists the mail: {all}"),
    );

    let m = w.call("mark_read_mail", &b.session, json!({"key": first_key}));
    w.expect(
        m["data"]["key"] == first_key.as_str(),
        format!("mark_read_mail answers the key: {m}"),
    );
    w.call("mark_read_mail: empty key", &b.session, json!({"key": ""}));
    let d = w.call("delete_read_mail", &b.session, json!({}));
    w.expect(
        d["data"]["keys"] == json!([first_key]),
        format!("delete_read_mail deletes the one read mail: {d}"),
    );

    w.call(
        "send_mail",
        &a.session,
        json!({"gn_target": b.gn, "subj": "again", "body": "second"}),
    );
    let second = mail_key_from(addr, &b.session, 0, &a.gn);
    if let Some(second) = w.need(second, "A's second mail") {
        let d = w.call("delete_mail", &b.session, json!({"key": second}));
        w.expect(
            d["data"]["keys"] == json!([second]),
            format!("delete_mail answers the deleted keys: {d}"),
        );
    }
    w.call("delete_mail: empty key", &b.session, json!({"key": ""}));

    // Gifts: the original's private send_gift_mail (admin-only here) and accept_gifts.
    w.call(
        "send_gift_mail",
        &admin,
        json!({"gn_target": b.gn, "group_id": 3, "item_id": 5, "quantity": 100}),
    );
    w.call(
        "send_text_mail",
        &admin,
        json!({"gn_target": b.gn, "msg": "welcome"}),
    );
    let mails = compat::all_mail(addr, &b.session);
    let mut gifts: Vec<String> = mails
        .iter()
        .filter(|m| mail_type(m) == Some(1))
        .filter_map(|m| m["key"].as_str().map(str::to_string))
        .collect();
    let others: Vec<String> = mails
        .iter()
        .filter(|m| mail_type(m) != Some(1))
        .filter_map(|m| m["key"].as_str().map(str::to_string))
        .collect();
    w.expect(
        others.len() == 1,
        format!("send_text_mail left one simple mail: {mails:?}"),
    );
    if gifts.is_empty() {
        // So that accept_gifts is still walked: a gift in our own admin form.
        w.expect(
            false,
            "send_gift_mail (group_id, item_id, quantity) sent no gift",
        );
        let g = w.raw(
            "send_gift_mail",
            &admin,
            json!({"gn_target": b.gn, "items": ["3:5:100"]}),
        );
        assert_eq!(status(&g), 0, "setup gift: {g}");
        gifts = compat::all_mail(addr, &b.session)
            .iter()
            .filter(|m| mail_type(m) == Some(1))
            .filter_map(|m| m["key"].as_str().map(str::to_string))
            .collect();
    }
    let gift = gifts.first().cloned();
    let Some(gift) = w.need(gift, "a gift mail (type 1)") else {
        return w.finish();
    };
    let g = w.call(
        "accept_gifts",
        &b.session,
        json!({"gift": [gift], "other": others}),
    );
    let granted = g["data"]["success"][gift.as_str()]
        .as_array()
        .into_iter()
        .flatten()
        .any(|x| x["gid"] == 3 && x["id"] == 5 && x["reward"].as_i64().unwrap_or(0) >= 100);
    w.expect(
        granted,
        format!("accept_gifts granted the diamonds under the gift's key: {g}"),
    );
    w.expect(
        others.iter().all(|k| {
            g["data"]["error"]
                .as_array()
                .is_some_and(|e| e.contains(&json!(k)))
        }),
        format!("accept_gifts lists the `other` keys under error: {g}"),
    );
    let again = w.call(
        "accept_gifts",
        &b.session,
        json!({"gift": [gift], "other": []}),
    );
    w.expect(
        again["data"]["error"] == json!([gift]),
        format!("a gift is accepted once: {again}"),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// friend

const FRIEND: &[Expect] = &[
    row("request_friend", "request_friend", &[0], &[("gn", Str)]),
    row("request_friend: again", "request_friend", &[95], &[]),
    row("request_friend: self", "request_friend", &[99], &[]),
    row("request_friend: nobody", "request_friend", &[97], &[]),
    row(
        "respond_friend",
        "respond_friend",
        &[0],
        &[("gn", Str), ("exp", Num)],
    ),
    row("respond_friend: used key", "respond_friend", &[99], &[]),
    row(
        "get_all_friend",
        "get_all_friend",
        &[0],
        &[
            ("friends[].gn", Str),
            ("friends[].exp", Num),
            ("friends[].recover", Str),
            ("friends[].since", Str),
            ("friends[].fid", Str),
            ("friends[].icon", Any),
            ("friends[].intro", Any),
            ("friends[].isre", Num),
        ],
    ),
    row("send_gift_friend", "send_gift_friend", &[0], &[]),
    row(
        "send_gift_friend: again today",
        "send_gift_friend",
        &[98],
        &[],
    ),
    row(
        "send_gift_friend: not a friend",
        "send_gift_friend",
        &[99],
        &[],
    ),
    // The original answered a JSON array of names as `data`; our envelope keeps `data` an
    // object, with that array under `gns`.
    row("send_gift_all", "send_gift_all", &[0], &[("gns", Arr)]),
    row(
        "get_gifts_friend",
        "get_gifts_friend",
        &[0],
        &[("gns", Arr), ("reward", Str), ("remain", Str)],
    ),
    row(
        "find_person",
        "find_person",
        &[0],
        &[
            ("gn", Str),
            ("fid", Str),
            ("icon", Any),
            ("intro", Any),
            ("exp", Num),
            ("stage", Num),
            ("isfriend", Bool),
            ("canfamily", Bool),
        ],
    ),
    row("find_person: self", "find_person", &[98], &[]),
    row("find_person: nobody", "find_person", &[99], &[]),
    row("remove_friend", "remove_friend", &[0], &[("gn", Str)]),
    row("remove_friend: self", "remove_friend", &[99], &[]),
];

#[test]
fn friend() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let mut w = Walker::new(addr, "friend", FRIEND);
    let a = new_player(addr, "fa");
    let b = new_player(addr, "fb");
    let c = new_player(addr, "fc");

    let r = w.call("request_friend", &a.session, json!({"gn_target": b.gn}));
    w.expect(
        r["data"]["gn"] == b.gn.as_str(),
        format!("request_friend answers the target: {r}"),
    );
    w.call(
        "request_friend: again",
        &a.session,
        json!({"gn_target": b.gn}),
    );
    w.call(
        "request_friend: self",
        &a.session,
        json!({"gn_target": a.gn}),
    );
    w.call(
        "request_friend: nobody",
        &a.session,
        json!({"gn_target": fresh("nobody")}),
    );

    let key = mail_key_from(addr, &b.session, 2, &a.gn);
    if let Some(key) = w.need(key, "A's friend request mail (type 2) to B") {
        w.call("respond_friend", &b.session, json!({"key": key}));
        w.call("respond_friend: used key", &b.session, json!({"key": key}));
    }

    let f = w.call("get_all_friend", &a.session, json!({}));
    w.expect(
        f["data"]["friends"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["gn"] == b.gn.as_str() && x["since"] != ""),
        format!("get_all_friend lists B as a confirmed friend: {f}"),
    );

    w.call("send_gift_friend", &a.session, json!({"gn_target": b.gn}));
    w.call(
        "send_gift_friend: again today",
        &a.session,
        json!({"gn_target": b.gn}),
    );
    w.call(
        "send_gift_friend: not a friend",
        &a.session,
        json!({"gn_target": c.gn}),
    );
    w.call("send_gift_all", &b.session, json!({}));
    let g = w.call("get_gifts_friend", &a.session, json!({"gns": [b.gn]}));
    w.expect(
        g["data"]["reward"]
            .as_str()
            .is_some_and(|r| r.starts_with("3:16:")),
        format!("get_gifts_friend rewards friend gifts (3:16:n): {g}"),
    );

    let p = w.call("find_person", &a.session, json!({"gn_target": c.gn}));
    w.expect(
        p["data"]["gn"] == c.gn.as_str() && p["data"]["isfriend"] == false,
        format!("find_person finds C, not a friend: {p}"),
    );
    w.call("find_person: self", &a.session, json!({"gn_target": a.gn}));
    w.call(
        "find_person: nobody",
        &a.session,
        json!({"gn_target": fresh("nobody")}),
    );

    w.call("remove_friend", &a.session, json!({"gn_target": b.gn}));
    w.call(
        "remove_friend: self",
        &a.session,
        json!({"gn_target": a.gn}),
    );
    let f = w.raw("get_all_friend", &a.session, json!({}));
    w.expect(
        !f["data"]["friends"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["gn"] == b.gn.as_str()),
        format!("B is gone after remove_friend: {f}"),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// family

const FAMILY_INFO: &[(&str, compat::Ty)] = &[
    ("name", Str),
    ("icon", Num),
    ("exp", Num),
    ("notice", Str),
    ("board", Str),
];

const FAMILY: &[Expect] = &[
    row("create_family: below level 18", "create_family", &[95], &[]),
    row("create_family: no diamonds", "create_family", &[97], &[]),
    row(
        "create_family",
        "create_family",
        &[0],
        &[("name", Str), ("icon", Any), ("iid", Num), ("value", Num)],
    ),
    row("create_family: in a family", "create_family", &[98], &[]),
    row("create_family: name taken", "create_family", &[96], &[]),
    row(
        "get_all_family",
        "get_all_family",
        &[0],
        &[
            ("name", Str),
            ("icon", Num),
            ("exp", Num),
            ("notice", Str),
            ("board", Str),
            ("members[].gn", Str),
            ("members[].icon", Any),
            ("members[].family_role", Num),
            ("members[].exp", Num),
            ("members[].login", Str),
            ("members[].family_coin", Num),
            ("members[].family_coin_record", Num),
            ("news", Arr),
            ("timer", Num),
            ("is_checkin", Num),
        ],
    ),
    row("get_all_family: not in one", "get_all_family", &[99], &[]),
    row(
        "search_family",
        "search_family",
        &[0],
        &[
            ("info.name", Str),
            ("info.icon", Num),
            ("info.exp", Num),
            ("info.notice", Str),
            ("info.board", Str),
            ("info.people", Num),
        ],
    ),
    row("search_family: unknown", "search_family", &[99], &[]),
    row(
        "get_random_family",
        "get_random_family",
        &[0],
        &[
            ("families[].name", Str),
            ("families[].icon", Num),
            ("families[].exp", Num),
            ("families[].notice", Str),
            ("families[].board", Str),
            ("families[].people", Num),
        ],
    ),
    row(
        "invite_user_family",
        "invite_user_family",
        &[0],
        &[("gn", Str), ("times", Num)],
    ),
    row("respond_family", "respond_family", &[0], FAMILY_INFO),
    row(
        "request_join_family",
        "request_join_family",
        &[0],
        &[("name", Str), ("lim", Num), ("cooling", Num)],
    ),
    row(
        "request_join_family: in a family",
        "request_join_family",
        &[99],
        &[],
    ),
    row(
        "set_notice_family",
        "set_notice_family",
        &[0],
        &[("notice", Str), ("limit", Num), ("seconds", Num)],
    ),
    row(
        "set_notice_family: basic member",
        "set_notice_family",
        &[98],
        &[],
    ),
    row(
        "set_blackboard_family",
        "set_blackboard_family",
        &[0],
        &[("board", Str)],
    ),
    row("set_icon_family", "set_icon_family", &[0], &[("icon", Num)]),
    row("set_icon_family: same icon", "set_icon_family", &[96], &[]),
    row(
        "change_name_family: empty",
        "change_name_family",
        &[99],
        &[],
    ),
    row(
        "change_name_family",
        "change_name_family",
        &[0],
        &[("name", Str), ("iid", Num), ("value", Num)],
    ),
    row(
        "check_in_family",
        "check_in_family",
        &[0],
        &[
            ("remaining[].iid", Num),
            ("remaining[].value", Num),
            ("reward[].iid", Num),
            ("reward[].value", Num),
            ("exp_data.exp", Num),
            ("exp_data.level", Num),
            ("exp_data.need", Num),
            ("exp_data.reward", Num),
        ],
    ),
    row(
        "check_in_family: again today",
        "check_in_family",
        &[98],
        &[],
    ),
    row(
        "get_store_family",
        "get_store_family",
        &[0],
        &[("1", Obj), ("2", Obj), ("3", Obj), ("4", Obj), ("5", Obj)],
    ),
    row(
        "market_purchase_family",
        "market_purchase_family",
        &[0],
        &[("remain[]", Str), ("reward[]", Str)],
    ),
    row(
        "market_purchase_family: too few coins",
        "market_purchase_family",
        &[98],
        &[],
    ),
    row(
        "market_purchase_family: unknown goods",
        "market_purchase_family",
        &[97],
        &[],
    ),
    row(
        "welfare_purchase_family",
        "welfare_purchase_family",
        &[0],
        &[("remain[]", Str), ("reward[]", Str)],
    ),
    row(
        "welfare_purchase_family: unknown gift",
        "welfare_purchase_family",
        &[97],
        &[],
    ),
    row(
        "set_role_family",
        "set_role_family",
        &[0],
        &[("gn", Str), ("role", Num)],
    ),
    row("set_role_family: same role", "set_role_family", &[94], &[]),
    row(
        "set_role_family: no such role",
        "set_role_family",
        &[95],
        &[],
    ),
    row("set_role_family: self", "set_role_family", &[99], &[]),
    row(
        "remove_user_family",
        "remove_user_family",
        &[0],
        &[("gn", Str), ("rmtimes", Num), ("cd_time", Num)],
    ),
    row("remove_user_family: self", "remove_user_family", &[96], &[]),
    row("abdicate_family", "abdicate_family", &[0], &[]),
    row("leave_family", "leave_family", &[0], &[("cd_time", Num)]),
    row("leave_family: owner", "leave_family", &[98], &[]),
    row("leave_family: not in one", "leave_family", &[99], &[]),
    row("disband_family", "disband_family", &[0], &[("timer", Num)]),
    row("disband_family: again", "disband_family", &[97], &[]),
    row("cancel_disband_family", "cancel_disband_family", &[0], &[]),
    row(
        "cancel_disband_family: nothing to cancel",
        "cancel_disband_family",
        &[97],
        &[],
    ),
];

#[test]
fn family() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "family", FAMILY);
    let owner = new_player(addr, "fo");
    let member = new_player(addr, "fm");
    let third = new_player(addr, "ft");
    let low = new_player(addr, "fl");
    // The original asks for player level 18 (exp 18360) to found or join a family.
    for p in [&owner, &member, &third] {
        raise_level(&stack.db, &p.gn, 18, 18360);
    }

    let mut name = family_name();
    w.call(
        "create_family: below level 18",
        &low.session,
        json!({"name": name, "icon": 1}),
    );
    w.call(
        "create_family: no diamonds",
        &owner.session,
        json!({"name": name, "icon": 1}),
    );
    w.setup(grant(addr, &admin, &owner.gn, &["3:5:2000"]));
    let c = w.call(
        "create_family",
        &owner.session,
        json!({"name": name, "icon": 1}),
    );
    w.expect(
        c["data"]["name"] == name.as_str() && c["data"]["iid"] == 5,
        format!("create_family: the name and the diamonds left (iid 5): {c}"),
    );
    w.call(
        "create_family: in a family",
        &owner.session,
        json!({"name": family_name(), "icon": 1}),
    );
    w.call(
        "create_family: name taken",
        &third.session,
        json!({"name": name, "icon": 1}),
    );

    w.call("get_all_family", &owner.session, json!({}));
    w.call(
        "search_family",
        &third.session,
        json!({"family_name": name}),
    );
    w.call(
        "search_family: unknown",
        &third.session,
        json!({"family_name": family_name()}),
    );
    w.call("get_random_family", &third.session, json!({"number": 5}));

    // An invitation, answered by the invitee.
    let i = w.call(
        "invite_user_family",
        &owner.session,
        json!({"gn_target": member.gn}),
    );
    w.expect(
        i["data"]["gn"] == member.gn.as_str(),
        format!("invite_user_family answers the invitee: {i}"),
    );
    let key = mail_key_from(addr, &member.session, 3, &name);
    w.expect(
        key.is_some(),
        "the invitation mail: type 3, `from` the family's name",
    );
    // Go on with any family mail, so the family still gets its member.
    let key = key.or_else(|| {
        compat::all_mail(addr, &member.session)
            .iter()
            .find(|m| mail_type(m) == Some(3))
            .and_then(|m| m["key"].as_str().map(str::to_string))
    });
    if let Some(key) = w.need(key, "an invitation mail (type 3)") {
        let r = w.call("respond_family", &member.session, json!({"key": key}));
        w.expect(
            r["data"]["name"] == name.as_str(),
            format!("respond_family answers the family: {r}"),
        );
    }
    w.call(
        "request_join_family: in a family",
        &member.session,
        json!({"name": name}),
    );

    // A join request, answered by the owner.
    w.call("request_join_family", &third.session, json!({"name": name}));
    let key = mail_key_from(addr, &owner.session, 3, &third.gn);
    if let Some(key) = w.need(key, "the join request mail (type 3, from the requester)") {
        w.call("respond_family", &owner.session, json!({"key": key}));
    }

    w.call(
        "set_notice_family",
        &owner.session,
        json!({"msg": "hello all"}),
    );
    w.call(
        "set_notice_family: basic member",
        &member.session,
        json!({"msg": "me too"}),
    );
    w.call(
        "set_blackboard_family",
        &owner.session,
        json!({"msg": "board text"}),
    );
    w.call("set_icon_family", &owner.session, json!({"icon": 2}));
    w.call(
        "set_icon_family: same icon",
        &owner.session,
        json!({"icon": 2}),
    );
    w.call(
        "change_name_family: empty",
        &owner.session,
        json!({"name": ""}),
    );
    w.setup(grant(addr, &admin, &owner.gn, &["3:5:500"]));
    name = family_name();
    w.call("change_name_family", &owner.session, json!({"name": name}));

    // Check-in gives 100 family coins; the market sells for 80.
    w.call("check_in_family", &member.session, json!({}));
    w.call("check_in_family: again today", &member.session, json!({}));
    w.call("get_store_family", &member.session, json!({}));
    w.call(
        "market_purchase_family",
        &member.session,
        json!({"sid": "1"}),
    );
    w.call(
        "market_purchase_family: too few coins",
        &member.session,
        json!({"sid": "1"}),
    );
    w.call(
        "market_purchase_family: unknown goods",
        &member.session,
        json!({"sid": "9"}),
    );
    w.setup(grant(addr, &admin, &owner.gn, &["3:5:100"]));
    w.call(
        "welfare_purchase_family",
        &owner.session,
        json!({"sid": "1"}),
    );
    w.call(
        "welfare_purchase_family: unknown gift",
        &owner.session,
        json!({"sid": "9"}),
    );

    w.call(
        "set_role_family",
        &owner.session,
        json!({"gn_target": member.gn, "role": 8}),
    );
    w.call(
        "set_role_family: same role",
        &owner.session,
        json!({"gn_target": member.gn, "role": 8}),
    );
    w.call(
        "set_role_family: no such role",
        &owner.session,
        json!({"gn_target": member.gn, "role": 3}),
    );
    w.call(
        "set_role_family: self",
        &owner.session,
        json!({"gn_target": owner.gn, "role": 8}),
    );
    w.call(
        "remove_user_family",
        &owner.session,
        json!({"gn_target": third.gn}),
    );
    w.call(
        "remove_user_family: self",
        &owner.session,
        json!({"gn_target": owner.gn}),
    );
    w.call("get_all_family: not in one", &third.session, json!({}));

    let a = w.call(
        "abdicate_family",
        &owner.session,
        json!({"target": member.gn}),
    );
    w.field("abdicate_family", &a, &owner.gn, Num);
    w.field("abdicate_family", &a, &member.gn, Num);
    w.expect(
        a["data"][owner.gn.as_str()] == 0 && a["data"][member.gn.as_str()] == 10,
        format!("abdicate_family: old owner 0, new owner 10: {a}"),
    );
    w.call("leave_family", &owner.session, json!({}));
    w.call("leave_family: owner", &member.session, json!({}));
    w.call("disband_family", &member.session, json!({}));
    w.call("disband_family: again", &member.session, json!({}));
    w.call("cancel_disband_family", &member.session, json!({}));
    w.call(
        "cancel_disband_family: nothing to cancel",
        &member.session,
        json!({}),
    );
    w.call("leave_family: not in one", &owner.session, json!({}));
    w.finish();
}

// ---------------------------------------------------------------------------------------
// weapon

/// A weapon every new player of the original had (301, 302, 303 at star 1).
const WEAPON_ID: i64 = 301;

const WEAPON: &[Expect] = &[
    row(
        "get_all_weapon",
        "get_all_weapon",
        &[0],
        &[
            ("weapons[].wid", Num),
            ("weapons[].star", Num),
            ("weapons[].level", Num),
            ("weapons[].sp", Num),
            ("weapons[].seg", Num),
            ("weapons[].p1", Num),
            ("weapons[].p2", Num),
            ("weapons[].p3", Num),
            ("weapons[].p4", Num),
        ],
    ),
    row(
        "level_up_weapon: no materials",
        "level_up_weapon",
        &[97],
        &[],
    ),
    row("level_up_weapon: delta 0", "level_up_weapon", &[98], &[]),
    row(
        "level_up_weapon",
        "level_up_weapon",
        &[0],
        &[
            ("remaining.0.wid", Num),
            ("remaining.0.level", Num),
            ("remaining.0.sp", Num),
            ("remaining.3[].iid", Num),
            ("remaining.3[].value", Num),
            ("reward.0.wid", Num),
            ("reward.0.level", Num),
            ("reward.0.sp", Num),
            ("reward.3[].iid", Num),
            ("reward.3[].value", Num),
        ],
    ),
    row(
        "level_up_star_weapon: no segments",
        "level_up_star_weapon",
        &[98],
        &[],
    ),
    row(
        "level_up_star_weapon",
        "level_up_star_weapon",
        &[0],
        &[
            ("remaining.wid", Num),
            ("remaining.star", Num),
            ("remaining.seg", Num),
            ("reward.wid", Num),
            ("reward.star", Num),
            ("reward.seg", Num),
        ],
    ),
    row(
        "level_up_passive_weapon",
        "level_up_passive_weapon",
        &[0],
        &[
            ("remaining.wid", Num),
            ("remaining.pid", Num),
            ("remaining.level", Num),
            ("remaining.sp", Num),
            ("reward.wid", Num),
            ("reward.pid", Num),
            ("reward.level", Num),
            ("reward.sp", Num),
        ],
    ),
    row(
        "level_up_passive_weapon: no skill points",
        "level_up_passive_weapon",
        &[99],
        &[],
    ),
    row(
        "level_up_passive_weapon: no such passive",
        "level_up_passive_weapon",
        &[99],
        &[],
    ),
    row(
        "reset_skill_point_weapon: no diamonds",
        "reset_skill_point_weapon",
        &[98],
        &[],
    ),
    row(
        "reset_skill_point_weapon",
        "reset_skill_point_weapon",
        &[0],
        &[
            ("remaining.0.wid", Num),
            ("remaining.0.sp", Num),
            ("remaining.3.iid", Num),
            ("remaining.3.value", Num),
            ("reward.0.wid", Num),
            ("reward.0.sp", Num),
            ("reward.3.iid", Num),
            ("reward.3.value", Num),
        ],
    ),
];

#[test]
fn weapon() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "weapon", WEAPON);
    let mut p = new_player(addr, "wp");
    let wid = WEAPON_ID;

    let all = w.call("get_all_weapon", &p.session, json!({}));
    w.expect(
        all["data"]["weapons"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["wid"] == wid && x["star"] == 1),
        format!("a new player has weapon {wid} at star 1: {all}"),
    );

    w.call(
        "level_up_weapon: no materials",
        &p.session,
        json!({"weapon": wid, "delta": 10}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:2:100000", "3:1:100000"]));
    w.call(
        "level_up_weapon: delta 0",
        &p.session,
        json!({"weapon": wid, "delta": 0}),
    );
    let l = w.call(
        "level_up_weapon",
        &p.session,
        json!({"weapon": wid, "delta": 10}),
    );
    w.expect(
        l["data"]["remaining"]["0"]["level"] == 11
            && l["data"]["remaining"]["0"]["sp"] == 1
            && l["data"]["reward"]["0"]["sp"] == 1,
        format!("level_up_weapon 1→11 gives one skill point: {l}"),
    );

    w.call(
        "level_up_star_weapon: no segments",
        &p.session,
        json!({"weapon": wid}),
    );
    w.setup(grant(addr, &admin, &p.gn, &[&format!("0:{wid}:60")]));
    let s = w.call("level_up_star_weapon", &p.session, json!({"weapon": wid}));
    w.expect(
        s["data"]["remaining"]["star"] == 2 && s["data"]["reward"]["seg"] == 60,
        format!("level_up_star_weapon 1→2 costs 60 segments: {s}"),
    );

    w.call(
        "level_up_passive_weapon",
        &p.session,
        json!({"weapon": wid, "passive": 1}),
    );
    w.call(
        "level_up_passive_weapon: no skill points",
        &p.session,
        json!({"weapon": wid, "passive": 1}),
    );
    w.call(
        "level_up_passive_weapon: no such passive",
        &p.session,
        json!({"weapon": wid, "passive": 9}),
    );

    drain_diamonds(addr, &mut p);
    w.call(
        "reset_skill_point_weapon: no diamonds",
        &p.session,
        json!({"weapon": wid}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:5:100"]));
    let r = w.call(
        "reset_skill_point_weapon",
        &p.session,
        json!({"weapon": wid}),
    );
    w.expect(
        r["data"]["reward"]["0"]["sp"] == 1 && r["data"]["reward"]["3"]["value"] == 100,
        format!("reset_skill_point_weapon reclaims 1 point for 100 diamonds: {r}"),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// roles, skills, armor

/// The role every new player of the original had (402 at star 1).
const ROLE_ID: i64 = 402;

const ROLES: &[Expect] = &[
    row(
        "get_all_role",
        "get_all_role",
        &[0],
        &[
            ("roles[].rid", Num),
            ("roles[].star", Num),
            ("roles[].level", Num),
            ("roles[].seg", Num),
            ("roles[].101", Num),
            ("roles[].110", Num),
        ],
    ),
    row("level_up_role: no materials", "level_up_role", &[97], &[]),
    row("level_up_role: delta 0", "level_up_role", &[98], &[]),
    row("level_up_role: no such role", "level_up_role", &[99], &[]),
    row("level_up_role: locked", "level_up_role", &[96], &[]),
    row(
        "level_up_role",
        "level_up_role",
        &[0],
        &[
            ("remaining.2.rid", Num),
            ("remaining.2.level", Num),
            ("remaining.3[].iid", Num),
            ("remaining.3[].value", Num),
            ("reward.2.rid", Num),
            ("reward.2.level", Num),
            ("reward.3[].iid", Num),
            ("reward.3[].value", Num),
        ],
    ),
    row(
        "level_up_star_role: no segments",
        "level_up_star_role",
        &[98],
        &[],
    ),
    row(
        "level_up_star_role: no such role",
        "level_up_star_role",
        &[99],
        &[],
    ),
    row(
        "level_up_star_role",
        "level_up_star_role",
        &[0],
        &[
            ("remaining.rid", Num),
            ("remaining.star", Num),
            ("remaining.seg", Num),
            ("reward.rid", Num),
            ("reward.star", Num),
            ("reward.seg", Num),
        ],
    ),
    row(
        "unlock_passive_role: level too low",
        "unlock_passive_role",
        &[95],
        &[],
    ),
    row(
        "unlock_passive_role",
        "unlock_passive_role",
        &[0],
        &[("rid", Num), ("pid", Num), ("remain", Str), ("reward", Str)],
    ),
    row(
        "unlock_passive_role: unlocked",
        "unlock_passive_role",
        &[94],
        &[],
    ),
    row(
        "unlock_passive_role: no coins",
        "unlock_passive_role",
        &[93],
        &[],
    ),
    row(
        "unlock_passive_role: no such passive",
        "unlock_passive_role",
        &[98],
        &[],
    ),
    row(
        "unlock_passive_role: no such role",
        "unlock_passive_role",
        &[99],
        &[],
    ),
    row(
        "unlock_passive_role: not held",
        "unlock_passive_role",
        &[97],
        &[],
    ),
    row(
        "get_all_skill",
        "get_all_skill",
        &[0],
        &[("skills[].sid", Num), ("skills[].level", Num)],
    ),
    row("level_up_skill: not learned", "level_up_skill", &[96], &[]),
    row("level_up_skill: no scrolls", "level_up_skill", &[98], &[]),
    row("level_up_skill: not a scroll", "level_up_skill", &[97], &[]),
    row(
        "level_up_skill",
        "level_up_skill",
        &[0],
        &[("remain[]", Str), ("reward[]", Str)],
    ),
    row(
        "level_up_skill: 10 % scroll",
        "level_up_skill",
        &[1, 0],
        &[("remain[]", Str), ("reward[]", Str)],
    ),
    row("level_up_skill: max level", "level_up_skill", &[99], &[]),
    row(
        "get_all_armor",
        "get_all_armor",
        &[0],
        &[
            ("armors[].aid", Num),
            ("armors[].level", Num),
            ("armors[].quantity", Num),
        ],
    ),
    row("upgrade_armor: too few", "upgrade_armor", &[97], &[]),
    row("upgrade_armor: no such armor", "upgrade_armor", &[98], &[]),
    row("upgrade_armor: bad level", "upgrade_armor", &[99], &[]),
    row(
        "upgrade_armor",
        "upgrade_armor",
        &[0],
        &[
            ("aid", Num),
            ("remaining.1", Num),
            ("remaining.11", Num),
            ("reward.1", Num),
            ("reward.11", Num),
        ],
    ),
];

/// Setup straight in the database: what other modules (summons, stages, the factory) grant
/// and this walk cannot reach yet. `gn` is a walk's fresh name (letters and digits).
fn give_in_db(db: &testkit::MariaDb, gn: &str, sql: &str) {
    let db_name = testkit::MARIADB_DATABASE;
    let uid = db.sql(&format!(
        "SELECT unique_id FROM {db_name}.players WHERE gn = '{gn}'"
    ));
    let uid = uid.trim();
    assert!(!uid.is_empty(), "setup: no player {gn}");
    db.sql(&sql.replace("{db}", db_name).replace("{uid}", uid));
}

#[test]
fn roles() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "roles", ROLES);
    let p = new_player(addr, "rl");
    let rid = ROLE_ID;

    let all = w.call("get_all_role", &p.session, json!({}));
    w.expect(
        all["data"]["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["rid"] == rid && x["star"] == 1 && x["101"] == 0),
        format!("a new player has role {rid} at star 1: {all}"),
    );
    w.call(
        "level_up_role: no materials",
        &p.session,
        json!({"role": rid, "delta": 10}),
    );
    w.setup(grant(
        addr,
        &admin,
        &p.gn,
        &["3:9:100000", "3:1:100000", "2:403:5"],
    ));
    w.call(
        "level_up_role: delta 0",
        &p.session,
        json!({"role": rid, "delta": 0}),
    );
    w.call(
        "level_up_role: no such role",
        &p.session,
        json!({"role": 111}),
    );
    w.call("level_up_role: locked", &p.session, json!({"role": 403}));
    w.call(
        "unlock_passive_role: level too low",
        &p.session,
        json!({"rid": rid, "pid": 101}),
    );
    let l = w.call(
        "level_up_role",
        &p.session,
        json!({"role": rid, "delta": 23}),
    );
    w.expect(
        l["data"]["remaining"]["2"]["level"] == 24 && l["data"]["reward"]["2"]["level"] == 23,
        format!("level_up_role 1→24: {l}"),
    );

    w.call(
        "level_up_star_role: no segments",
        &p.session,
        json!({"role": rid}),
    );
    w.call(
        "level_up_star_role: no such role",
        &p.session,
        json!({"role": 999}),
    );
    w.setup(grant(addr, &admin, &p.gn, &[&format!("2:{rid}:50")]));
    let s = w.call("level_up_star_role", &p.session, json!({"role": rid}));
    w.expect(
        s["data"]["remaining"]["star"] == 2 && s["data"]["reward"]["seg"] == 50,
        format!("level_up_star_role 1→2 costs 50 segments: {s}"),
    );

    let u = w.call(
        "unlock_passive_role",
        &p.session,
        json!({"rid": rid, "pid": 102}),
    );
    w.expect(
        u["data"]["reward"] == "3:1:10000",
        format!("passive 102 costs 10000 coins: {u}"),
    );
    w.call(
        "unlock_passive_role: unlocked",
        &p.session,
        json!({"rid": rid, "pid": 102}),
    );
    w.call(
        "unlock_passive_role: no such passive",
        &p.session,
        json!({"rid": rid, "pid": 201}),
    );
    w.call(
        "unlock_passive_role: no such role",
        &p.session,
        json!({"rid": 7, "pid": 101}),
    );
    w.call(
        "unlock_passive_role: not held",
        &p.session,
        json!({"rid": 610, "pid": 101}),
    );
    // passive 103 needs level 36 and 20000 coins
    w.call(
        "level_up_role",
        &p.session,
        json!({"role": rid, "delta": 12}),
    );
    give_in_db(
        &stack.db,
        &p.gn,
        "UPDATE {db}.items SET qty = 0 WHERE unique_id = '{uid}' AND grp = 3 AND item_id = 1",
    );
    w.call(
        "unlock_passive_role: no coins",
        &p.session,
        json!({"rid": rid, "pid": 103}),
    );

    w.call(
        "level_up_skill: not learned",
        &p.session,
        json!({"skill": 1, "item": 8}),
    );
    give_in_db(
        &stack.db,
        &p.gn,
        "INSERT INTO {db}.skills (world, unique_id, skill_id, level) VALUES ('s0', '{uid}', 1, 1), ('s0', '{uid}', 2, 10)",
    );
    w.call("get_all_skill", &p.session, json!({}));
    w.call(
        "level_up_skill: no scrolls",
        &p.session,
        json!({"skill": 1, "item": 8}),
    );
    w.call(
        "level_up_skill: not a scroll",
        &p.session,
        json!({"skill": 1, "item": 5}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:8:1", "3:6:2"]));
    let k = w.call("level_up_skill", &p.session, json!({"skill": 1, "item": 8}));
    w.expect(
        k["data"]["remain"] == json!(["3:8:0", "1:1:2"]),
        format!("the 100 % scroll levels skill 1 to 2: {k}"),
    );
    w.call(
        "level_up_skill: 10 % scroll",
        &p.session,
        json!({"skill": 1, "item": 6}),
    );
    w.call(
        "level_up_skill: max level",
        &p.session,
        json!({"skill": 2, "item": 6}),
    );

    w.call(
        "upgrade_armor: too few",
        &p.session,
        json!({"aid": 1, "level": 2}),
    );
    w.call(
        "upgrade_armor: no such armor",
        &p.session,
        json!({"aid": 5, "level": 2}),
    );
    w.call(
        "upgrade_armor: bad level",
        &p.session,
        json!({"aid": 1, "level": 1}),
    );
    give_in_db(
        &stack.db,
        &p.gn,
        "INSERT INTO {db}.armors (world, unique_id, armor_id, level, qty) VALUES ('s0', '{uid}', 1, 1, 10)",
    );
    let a = w.call("upgrade_armor", &p.session, json!({"aid": 1, "level": 2}));
    w.expect(
        a["data"]["remaining"]["1"] == 7 && a["data"]["reward"]["2"] == 1,
        format!("three armors of level 1 make one of level 2: {a}"),
    );
    w.call("get_all_armor", &p.session, json!({}));
    w.finish();
}

// ---------------------------------------------------------------------------------------
// package

const PACKAGE: &[Expect] = &[
    row(
        "get_all_resource",
        "get_all_resource",
        &[0],
        &[("items[].iid", Num), ("items[].value", Num)],
    ),
    row("buy_energy: no diamonds", "buy_energy", &[99], &[]),
    row(
        "buy_energy",
        "buy_energy",
        &[0],
        &[
            ("diamond.remain", Num),
            ("diamond.reward", Num),
            ("energy.energy", Num),
            ("energy.recover_time", Str),
            ("energy.cooling_time", Num),
            ("energy.reward", Num),
            ("lim", Num),
            ("cd", Num),
        ],
    ),
    row("buy_coin: no diamonds", "buy_coin", &[99], &[]),
    row(
        "buy_coin",
        "buy_coin",
        &[0],
        &[("remain[]", Str), ("reward[]", Str)],
    ),
    row(
        "exchange_card",
        "exchange_card",
        &[0],
        &[
            ("remaining.sql_table", Str),
            ("remaining.mid", Num),
            ("remaining.mnum", Num),
            ("remaining.cid", Num),
            ("remaining.cnum", Num),
            ("reward.sql_table", Str),
            ("reward.mid", Num),
            ("reward.mnum", Num),
            ("reward.cid", Num),
            ("reward.cnum", Num),
            ("exp_info.exp", Num),
            ("exp_info.level", Num),
            ("exp_info.need", Num),
            ("exp_info.reward", Num),
        ],
    ),
    row("exchange_card: not a card", "exchange_card", &[98], &[]),
    row("exchange_card: zero", "exchange_card", &[96], &[]),
    row(
        "use_item: energy potion",
        "use_item",
        &[0],
        &[
            ("remaining.item", Str),
            ("remaining.energy", Num),
            ("remaining.cooling_time", Num),
            ("reward.item", Str),
            ("reward.energy", Num),
        ],
    ),
    row(
        "use_item: scrolls",
        "use_item",
        &[4],
        &[("remaining.item", Str), ("reward.item", Str)],
    ),
    row("use_item: not group 3", "use_item", &[99], &[]),
    row("use_item: not enough", "use_item", &[96], &[]),
];

#[test]
fn package() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "package", PACKAGE);
    let mut p = new_player(addr, "pk");

    w.call("get_all_resource", &p.session, json!({}));
    drain_diamonds(addr, &mut p);
    w.call("buy_energy: no diamonds", &p.session, json!({}));
    w.call("buy_coin: no diamonds", &p.session, json!({"qty": 1}));
    w.setup(grant(addr, &admin, &p.gn, &["3:5:1000"]));
    let e = w.call("buy_energy", &p.session, json!({}));
    w.expect(
        e["data"]["diamond"]["reward"] == 30 && e["data"]["energy"]["reward"] == 30,
        format!("the first buy_energy: 30 diamonds for 30 energy: {e}"),
    );
    let c = w.call("buy_coin", &p.session, json!({"qty": 1}));
    w.expect(
        c["data"]["reward"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("3:18:1")) && r.contains(&json!("3:5:300"))),
        format!("buy_coin: one coin card for 300 diamonds: {c}"),
    );
    w.call("exchange_card", &p.session, json!({"cid": 18, "qty": 1}));
    w.call(
        "exchange_card: not a card",
        &p.session,
        json!({"cid": 5, "qty": 1}),
    );
    w.call(
        "exchange_card: zero",
        &p.session,
        json!({"cid": 18, "qty": 0}),
    );

    w.setup(grant(addr, &admin, &p.gn, &["3:33:1", "3:6:3"]));
    w.call(
        "use_item: energy potion",
        &p.session,
        json!({"item_id": "3:33:1"}),
    );
    w.call(
        "use_item: not enough",
        &p.session,
        json!({"item_id": "3:33:5"}),
    );
    w.call(
        "use_item: not group 3",
        &p.session,
        json!({"item_id": "1:1:1"}),
    );
    w.call("use_item: scrolls", &p.session, json!({"item_id": "3:6:3"}));
    let r = w.call("get_all_resource", &p.session, json!({}));
    w.expect(
        r["data"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["iid"] == 7 && x["value"] == 1),
        format!("three scrolls 10 became one scroll 30: {r}"),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// stage

const ENTERED: &[(&str, compat::Ty)] = &[
    ("remain", Arr),
    ("reward", Arr),
    ("addition", Obj),
    ("energy.cooling", Num),
    ("energy.remain", Num),
    ("energy.reward", Num),
];

const STAGE: &[Expect] = &[
    row("stage_enter_general", "stage_enter_general", &[0], ENTERED),
    row(
        "stage_enter_general: beyond the next",
        "stage_enter_general",
        &[91],
        &[],
    ),
    row(
        "stage_enter_general: no energy",
        "stage_enter_general",
        &[97],
        &[],
    ),
    row(
        "stage_victory_general",
        "stage_victory_general",
        &[0],
        &[
            ("boss", Obj),
            ("remain[]", Str),
            ("reward[]", Str),
            ("exp_info.exp", Num),
            ("exp_info.level", Num),
            ("exp_info.need", Num),
            ("exp_info.reward", Num),
            ("max_stage", Num),
        ],
    ),
    row(
        "stage_victory_general: never entered",
        "stage_victory_general",
        &[94],
        &[],
    ),
    row("stage_enter_endless", "stage_enter_endless", &[0], ENTERED),
    row(
        "stage_victory_endless",
        "stage_victory_endless",
        &[0],
        &[
            ("boss", Obj),
            ("remain[]", Str),
            ("reward[]", Str),
            ("exp_info.level", Num),
            ("max_stage", Num),
        ],
    ),
    row(
        "stage_enter_boss: level too low",
        "stage_enter_boss",
        &[90],
        &[],
    ),
    row(
        "stage_enter_boss",
        "stage_enter_boss",
        &[0],
        &[
            ("remain", Arr),
            ("reward", Arr),
            ("addition", Obj),
            ("energy.remain", Num),
            ("BOSS.limits.18", Num),
            ("BOSS.cd", Num),
        ],
    ),
    row(
        "stage_victory_boss: abnormal damage",
        "stage_victory_boss",
        &[93],
        &[],
    ),
    row(
        "stage_victory_boss",
        "stage_victory_boss",
        &[0],
        &[
            ("boss.record", Num),
            ("boss.stage", Num),
            ("boss.bds.hp", Num),
            ("boss.bds.ratio", Str),
            ("boss.bds.damage", Num),
            ("boss.bds.total", Num),
            ("remain", Arr),
            ("reward", Arr),
            ("exp_info.level", Num),
            ("max_stage", Num),
        ],
    ),
    row(
        "stage_enter_coin",
        "stage_enter_coin",
        &[0],
        &[
            ("remain", Arr),
            ("energy.remain", Num),
            ("COIN.limits.19", Num),
            ("COIN.limits.20", Num),
            ("COIN.cd", Num),
        ],
    ),
    row(
        "stage_enter_coin: no ticket",
        "stage_enter_coin",
        &[92],
        &[],
    ),
    row(
        "stage_victory_coin",
        "stage_victory_coin",
        &[0],
        &[
            ("boss", Obj),
            ("remain[]", Str),
            ("reward[]", Str),
            ("exp_info.exp", Num),
            ("max_stage", Num),
        ],
    ),
    row(
        "stage_enter_exp",
        "stage_enter_exp",
        &[0],
        &[
            ("energy.remain", Num),
            ("EXP.limits.21", Num),
            ("EXP.limits.22", Num),
            ("EXP.cd", Num),
        ],
    ),
    row(
        "stage_victory_exp",
        "stage_victory_exp",
        &[0],
        &[
            ("boss", Obj),
            ("remain[]", Str),
            ("reward[]", Str),
            ("exp_info.exp", Num),
            ("max_stage", Num),
        ],
    ),
    row(
        "stage_refresh_boss",
        "stage_refresh_boss",
        &[0],
        &[
            ("bds.*.hp", Num),
            ("bds.*.ratio", Str),
            ("bds.*.damage", Num),
            ("bds.*.total", Num),
            ("limit", Num),
            ("cd", Num),
            ("mcd", Num),
        ],
    ),
    row(
        "stage_all_infos",
        "stage_all_infos",
        &[0],
        &[
            ("infos.0", Num),
            ("infos.1", Num),
            ("infos.3", Num),
            ("infos.4", Num),
            ("infos.5", Num),
            ("limits.3.18", Num),
            ("limits.4.19", Num),
            ("limits.4.20", Num),
            ("limits.5.21", Num),
            ("limits.5.22", Num),
        ],
    ),
    row(
        "stage_damage_ranking",
        "stage_damage_ranking",
        &[0],
        &[
            ("page", Num),
            ("own_rank.2.damage", Num),
            ("own_rank.2.rank", Num),
            ("rank[].NO", Num),
            ("rank[].name", Str),
            ("rank[].damage", Num),
            ("rank[].fid", Str),
            ("rank[].level", Num),
        ],
    ),
    row(
        "stage_damage_ranking: page 0",
        "stage_damage_ranking",
        &[89],
        &[],
    ),
    row(
        "stage_damage_ranking: empty page",
        "stage_damage_ranking",
        &[88],
        &[],
    ),
    row(
        "stage_hang_up: endless not cleared",
        "stage_hang_up",
        &[87],
        &[],
    ),
    row(
        "stage_hang_up",
        "stage_hang_up",
        &[0],
        &[
            ("remain", Arr),
            ("reward", Arr),
            ("exp_info.exp", Num),
            ("exp_info.level", Num),
        ],
    ),
    row("stage_hu_show", "stage_hu_show", &[0], &[("show[]", Str)]),
    row(
        "stage_mopping_up",
        "stage_mopping_up",
        &[0],
        &[
            ("energy.cooling", Num),
            ("energy.remain", Num),
            ("energy.reward", Num),
            ("remain[]", Str),
            ("reward[]", Str),
            ("exp_info.exp", Num),
            ("exp_info.level", Num),
            ("exp_info.need", Num),
            ("exp_info.reward", Num),
        ],
    ),
    row("stage_mopping_up: count 0", "stage_mopping_up", &[96], &[]),
    row(
        "stage_mopping_up: not cleared",
        "stage_mopping_up",
        &[99],
        &[],
    ),
];

#[test]
fn stage() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let mut w = Walker::new(addr, "stage", STAGE);
    let p = new_player(addr, "st");
    let s = p.session.as_str();

    // general: stages 1..7 cost no energy; 8 costs 6 and pays 3 items and 120 exp
    w.call(
        "stage_enter_general: beyond the next",
        s,
        json!({"stage": 3}),
    );
    w.call(
        "stage_victory_general: never entered",
        s,
        json!({"stage": 1}),
    );
    for stage in 1..8 {
        w.raw("stage_enter_general", s, json!({"stage": stage}));
        w.raw("stage_victory_general", s, json!({"stage": stage}));
    }
    w.call("stage_enter_general", s, json!({"stage": 8}));
    let v = w.call("stage_victory_general", s, json!({"stage": 8}));
    w.expect(
        v["data"]["max_stage"] == 8 && v["data"]["exp_info"]["reward"] == 120,
        format!("stage 8: a new best and 120 exp: {v}"),
    );
    w.call(
        "stage_victory_general: never entered",
        s,
        json!({"stage": 8}),
    );

    // endless, and idling from its first clear
    w.call("stage_hang_up: endless not cleared", s, json!({}));
    w.call("stage_enter_endless", s, json!({"stage": 1001}));
    w.call("stage_victory_endless", s, json!({"stage": 1001}));
    w.call("stage_hang_up", s, json!({}));
    w.call("stage_hu_show", s, json!({}));

    // the world boss from level 24
    w.call("stage_enter_boss: level too low", s, json!({"stage": 3001}));
    raise_level(&stack.db, &p.gn, 24, 33_120);
    w.call("stage_enter_boss", s, json!({"stage": 3001}));
    w.call(
        "stage_victory_boss: abnormal damage",
        s,
        json!({"stage": 3001, "damage": 99_999_999}),
    );
    let b = w.call(
        "stage_victory_boss",
        s,
        json!({"stage": 3001, "damage": 1000}),
    );
    w.expect(
        b["data"]["boss"]["record"] == 1 && b["data"]["boss"]["bds"]["total"] == 1000,
        format!("a first boss fight is a record: {b}"),
    );
    w.call("stage_refresh_boss", s, json!({}));
    w.call("stage_damage_ranking", s, json!({"stage": 3001, "page": 1}));
    w.call(
        "stage_damage_ranking: page 0",
        s,
        json!({"stage": 3001, "page": 0}),
    );
    w.call(
        "stage_damage_ranking: empty page",
        s,
        json!({"stage": 3001, "page": 99}),
    );

    // challenges: three tickets a day
    w.call("stage_enter_coin", s, json!({"stage": 4001}));
    w.call("stage_victory_coin", s, json!({"stage": 4001}));
    w.raw("stage_enter_coin", s, json!({"stage": 4001}));
    w.raw("stage_enter_coin", s, json!({"stage": 4001}));
    w.call("stage_enter_coin: no ticket", s, json!({"stage": 4001}));
    w.call("stage_enter_exp", s, json!({"stage": 4151}));
    w.call("stage_victory_exp", s, json!({"stage": 4151}));
    let all = w.call("stage_all_infos", s, json!({}));
    w.expect(
        all["data"]["infos"]["0"] == 8 && all["data"]["limits"]["4"]["19"] == 0,
        format!("stage_all_infos: best general 8, no coin ticket left: {all}"),
    );

    // sweeps, until the energy is spent
    w.call(
        "stage_mopping_up: count 0",
        s,
        json!({"stage": 8, "count": 0}),
    );
    w.call(
        "stage_mopping_up: not cleared",
        s,
        json!({"stage": 9, "count": 1}),
    );
    let m = w.call("stage_mopping_up", s, json!({"stage": 8, "count": 1}));
    let left = m["data"]["energy"]["remain"].as_u64().unwrap_or(0);
    if left >= 6 {
        w.raw(
            "stage_mopping_up",
            s,
            json!({"stage": 8, "count": left / 6}),
        );
    }
    w.call("stage_enter_general: no energy", s, json!({"stage": 8}));
    w.finish();
}

// ---------------------------------------------------------------------------------------
// config readers

const CONFIG: &[Expect] = &[
    row(
        "get_player_config",
        "get_player_config",
        &[0],
        &[
            ("player_config.energy", Obj),
            ("player_config.dark_market", Obj),
        ],
    ),
    row(
        "get_config_player",
        "get_config_player",
        &[0],
        &[
            ("player_config.player_level", Obj),
            ("energy.time", Num),
            ("energy.max_energy", Num),
        ],
    ),
    row(
        "get_config_version",
        "get_config_version",
        &[0],
        &[("version", Str)],
    ),
    row(
        "get_config_stage",
        "get_config_stage",
        &[0],
        &[
            ("comment", Str),
            ("eg", Obj),
            ("constraint", Obj),
            ("mopping-up", Obj),
            ("hang-up", Obj),
            ("stage", Obj),
        ],
    ),
    row(
        "get_config_weapon",
        "get_config_weapon",
        &[0],
        &[("standard_costs", Obj)],
    ),
    row(
        "get_config_skill",
        "get_config_skill",
        &[0],
        &[("config.common", Obj)],
    ),
    row(
        "get_config_mall",
        "get_config_mall",
        &[0],
        &[("mall_config", Obj)],
    ),
    row(
        "get_config_role",
        "get_config_role",
        &[0],
        &[("standard_costs", Obj)],
    ),
    row(
        "get_config_task",
        "get_config_task",
        &[0],
        &[("task_config", Obj)],
    ),
    row(
        "get_task_config",
        "get_task_config",
        &[0],
        &[("config", Obj)],
    ),
    row(
        "get_config_achievement",
        "get_config_achievement",
        &[0],
        &[("achievement_config", Obj)],
    ),
    row(
        "get_achievement_config",
        "get_achievement_config",
        &[0],
        &[("config", Obj)],
    ),
    row(
        "get_config_check_in",
        "get_config_check_in",
        &[0],
        &[("config.reward", Obj), ("config.consume", Arr)],
    ),
    row("get_config_vip", "get_config_vip", &[0], &[("config", Obj)]),
    row(
        "get_config_factory",
        "get_config_factory",
        &[0],
        &[("general", Obj), ("workers", Obj), ("wishing_pool", Obj)],
    ),
    row(
        "get_config_family",
        "get_config_family",
        &[0],
        &[
            ("config.general", Obj),
            ("config.store", Obj),
            ("config.level", Obj),
        ],
    ),
    row(
        "get_config_exchange",
        "get_config_exchange",
        &[0],
        &[("config.exchange_card", Obj), ("config.exchange_item", Obj)],
    ),
    row(
        "get_config_notice",
        "get_config_notice",
        &[0],
        &[("config", Obj)],
    ),
    row(
        "get_config_science",
        "get_config_science",
        &[0],
        &[("config", Obj)],
    ),
    // Documented by the original but never registered: unknown functions.
    row("get_config_boss", "get_config_boss", &[10], &[]),
    row("get_config_lottery", "get_config_lottery", &[10], &[]),
];

#[test]
fn config_readers() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let mut w = Walker::new(addr, "config", CONFIG);
    let p = new_player(addr, "cf");
    for e in CONFIG {
        w.call(e.case, &p.session, json!({}));
    }
    w.finish();
}

// ---------------------------------------------------------------------------------------
// check-in, daily tasks, achievements

const PROGRESSION: &[Expect] = &[
    row(
        "check_in_all",
        "check_in_all",
        &[0],
        &[("today", Num), ("cd", Num), ("history", Obj)],
    ),
    row(
        "check_in_sign",
        "check_in_sign",
        &[0],
        &[("remain[]", Str), ("reward[]", Str)],
    ),
    row("check_in_sign: again", "check_in_sign", &[99], &[]),
    // On the 1st of a month no earlier day is missing: 98.
    row(
        "check_in_supplement",
        "check_in_supplement",
        &[0, 98],
        &[("supplement", Obj), ("remain[]", Str), ("reward[]", Str)],
    ),
    row(
        "check_in_supplement: no day missing",
        "check_in_supplement",
        &[98],
        &[],
    ),
    row(
        "check_in_supplement: no diamonds",
        "check_in_supplement",
        &[97, 98],
        &[],
    ),
    row(
        "get_all_task",
        "get_all_task",
        &[0],
        &[
            ("tasks[].tid", Num),
            ("tasks[].task_value", Num),
            ("tasks[].reward", Num),
            ("tasks[].timer", Str),
        ],
    ),
    row(
        "get_task_reward",
        "get_task_reward",
        &[0],
        &[
            ("reward[].5.value", Num),
            ("reward[].5.reward", Num),
            ("task", Num),
        ],
    ),
    row("get_task_reward: claimed", "get_task_reward", &[99], &[]),
    row(
        "get_task_reward: no such task",
        "get_task_reward",
        &[98],
        &[],
    ),
    row(
        "get_all_achievement",
        "get_all_achievement",
        &[0],
        &[
            ("achievements[].aid", Num),
            ("achievements[].value", Num),
            ("achievements[].reward", Num),
        ],
    ),
    row("activate_achievement", "activate_achievement", &[0], &[]),
    row(
        "activate_achievement: not the client's",
        "activate_achievement",
        &[97],
        &[],
    ),
    row(
        "get_achievement_reward",
        "get_achievement_reward",
        &[0],
        &[("remain[]", Str), ("reward[]", Str), ("achievement", Str)],
    ),
    row(
        "get_achievement_reward: claimed",
        "get_achievement_reward",
        &[99],
        &[],
    ),
    row(
        "get_achievement_reward: no progress",
        "get_achievement_reward",
        &[98],
        &[],
    ),
    row(
        "get_achievement_reward: no such achievement",
        "get_achievement_reward",
        &[97],
        &[],
    ),
];

#[test]
fn progression() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "progression", PROGRESSION);
    let p = new_player(addr, "pg");

    // Check-in on the real clock: today, then the month's past days.
    w.call("check_in_all", &p.session, json!({}));
    w.call("check_in_sign", &p.session, json!({}));
    w.call("check_in_sign: again", &p.session, json!({}));
    let all = w.call("check_in_all", &p.session, json!({}));
    let today = all["data"]["today"].as_u64().unwrap_or(0);
    w.expect(
        all["data"]["history"][format!("{today:02}")]["reward"] == 1,
        format!("check_in_all lists today as signed: {all}"),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:5:10000"]));
    let s = w.call("check_in_supplement", &p.session, json!({}));
    if status(&s) == 0 {
        let days = s["data"]["supplement"].as_object().map_or(0, |m| m.len());
        w.expect(
            days as u64 == today - 1
                && s["data"]["reward"] == json!([format!("3:5:{}", 80 * days)]),
            format!("every past day made up for 80 diamonds each: {s}"),
        );
    }
    w.call("check_in_supplement: no day missing", &p.session, json!({}));
    let mut poor = new_player(addr, "pg");
    drain_diamonds(addr, &mut poor);
    w.call("check_in_supplement: no diamonds", &poor.session, json!({}));

    // Daily tasks: the login (get_all_task) and the check-in are done today.
    let tasks = w.call("get_all_task", &p.session, json!({}));
    let tids: Vec<u64> = tasks["data"]["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["tid"].as_u64())
        .collect();
    w.expect(
        tids.contains(&1) && tids.contains(&2),
        format!("login and check-in tasks done: {tasks}"),
    );
    let r = w.call("get_task_reward", &p.session, json!({"task_id": 1}));
    w.expect(
        r["data"]["reward"][0]["5"]["reward"] == 30 && r["data"]["task"] == 1,
        format!("30 diamonds for the login task: {r}"),
    );
    w.call(
        "get_task_reward: claimed",
        &p.session,
        json!({"task_id": 1}),
    );
    w.call(
        "get_task_reward: no such task",
        &p.session,
        json!({"task_id": 0}),
    );

    // Achievements: the login counts; the client's own 101.
    w.call("get_all_achievement", &p.session, json!({}));
    let r = w.call(
        "get_achievement_reward",
        &p.session,
        json!({"achievement_id": 1}),
    );
    w.expect(
        r["data"]["achievement"] == "1:1:1" && r["data"]["reward"] == json!(["3:5:30"]),
        format!("the first login step: {r}"),
    );
    w.call(
        "get_achievement_reward: claimed",
        &p.session,
        json!({"achievement_id": 1}),
    );
    w.call(
        "get_achievement_reward: no progress",
        &p.session,
        json!({"achievement_id": 101}),
    );
    w.call("activate_achievement", &p.session, json!({"aid": 101}));
    w.call(
        "activate_achievement: not the client's",
        &p.session,
        json!({"aid": 1}),
    );
    w.call(
        "get_achievement_reward",
        &p.session,
        json!({"achievement_id": 101}),
    );
    w.call(
        "get_achievement_reward: no such achievement",
        &p.session,
        json!({"achievement_id": 0}),
    );
    w.finish();
}

// science, elements (player.py) and VIP

/// The factory master, every player's from the start (science.py's init).
const SCIENCE_MASTER: i64 = 65_536;
/// The factory's role science.
const SCIENCE_ROLE: i64 = 65_792;

const SCIENCE_VIP: &[Expect] = &[
    row(
        "science_infos",
        "science_infos",
        &[0],
        &[("science", Obj), ("science.65536", Num)],
    ),
    row("science_up: no crystal", "science_up", &[96], &[]),
    row(
        "science_up",
        "science_up",
        &[0],
        &[
            ("science", Obj),
            ("science.65792", Num),
            ("rws", Obj),
            ("rws.65792", Num),
            ("remain[]", Str),
            ("reward[]", Str),
        ],
    ),
    row("science_up: master too low", "science_up", &[95], &[]),
    row("science_up: ssa error", "science_up", &[94], &[]),
    row(
        "player_element_all",
        "player_element_all",
        &[0],
        &[
            ("elements", Obj),
            ("elements.1000", Num),
            ("elements.1001", Num),
            ("elements.1002", Num),
            ("elements.1003", Num),
            ("lim", Num),
        ],
    ),
    row(
        "player_element_lv: no points",
        "player_element_lv",
        &[98],
        &[],
    ),
    row(
        "player_element_lv",
        "player_element_lv",
        &[0],
        &[
            ("elements", Obj),
            ("elements.1000", Num),
            ("reward.1000", Num),
        ],
    ),
    row(
        "player_element_lv: eid error",
        "player_element_lv",
        &[99],
        &[],
    ),
    row(
        "player_element_reset",
        "player_element_reset",
        &[0],
        &[("elements", Obj), ("elements.1000", Num), ("lim", Num)],
    ),
    row(
        "get_info_vip",
        "get_info_vip",
        &[0],
        &[
            ("exp_info.exp", Num),
            ("exp_info.level", Num),
            ("exp_info.need", Num),
            ("min_card", Bool),
            ("max_card", Bool),
            ("perpetual_card", Bool),
            ("min_seconds", Num),
            ("max_seconds", Num),
            ("cooling_time", Num),
        ],
    ),
    row(
        "get_vip_daily_reward: not a VIP",
        "get_vip_daily_reward",
        &[98],
        &[],
    ),
    row(
        "purchase_vip_card: card id error",
        "purchase_vip_card",
        &[99],
        &[],
    ),
    row(
        "purchase_vip_card",
        "purchase_vip_card",
        &[0],
        &[("cooling_time", Num), ("card_id", Num)],
    ),
    row(
        "get_vip_daily_reward",
        "get_vip_daily_reward",
        &[0],
        &[
            ("remaining.min_card.card", Bool),
            ("remaining.min_card.item[].iid", Str),
            ("remaining.min_card.item[].value", Num),
            ("remaining.max_card.card", Bool),
            ("remaining.perpetual_card.card", Bool),
            ("remaining.exp_info.exp", Num),
            ("remaining.exp_info.level", Num),
            ("remaining.exp_info.need", Num),
            ("reward.min_card.item[].iid", Str),
            ("reward.min_card.item[].value", Num),
            ("reward.max_card", Obj),
            ("reward.perpetual_card", Obj),
        ],
    ),
    row(
        "get_vip_daily_reward: claimed today",
        "get_vip_daily_reward",
        &[99],
        &[],
    ),
    row(
        "purchase_vip_gift: VIP level too low",
        "purchase_vip_gift",
        &[99],
        &[],
    ),
    row(
        "purchase_vip_gift",
        "purchase_vip_gift",
        &[0],
        &[
            ("remaining.diamond", Num),
            ("remaining.gifts[].gid", Num),
            ("remaining.gifts[].mid", Num),
            ("remaining.gifts[].qty", Num),
            ("reward.diamond", Num),
            ("reward.gifts[].gid", Num),
            ("reward.gifts[].mid", Num),
            ("reward.gifts[].qty", Num),
            ("exp_info.exp", Num),
            ("exp_info.level", Num),
            ("exp_info.need", Num),
        ],
    ),
    row(
        "purchase_vip_gift: no diamonds",
        "purchase_vip_gift",
        &[98],
        &[],
    ),
    row(
        "exchange_card: VIP exp card",
        "exchange_card",
        &[0],
        &[
            ("remaining.sql_table", Str),
            ("remaining.mid", Str),
            ("remaining.mnum", Num),
            ("remaining.cid", Num),
            ("remaining.cnum", Num),
            ("reward.sql_table", Str),
            ("reward.mid", Str),
            ("reward.mnum", Num),
            ("reward.cid", Num),
            ("reward.cnum", Num),
            ("exp_info.exp", Num),
            ("exp_info.level", Num),
            ("exp_info.need", Num),
        ],
    ),
];

#[test]
fn science_elements_vip() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "science_elements_vip", SCIENCE_VIP);
    let p = new_player(addr, "sv");

    // science: the role science costs crystal and coins; a sub-science stays at or below
    // the master
    w.call("science_infos", &p.session, json!({}));
    w.call(
        "science_up: no crystal",
        &p.session,
        json!({"ssa": SCIENCE_ROLE}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:4:100000"]));
    let up = w.call("science_up", &p.session, json!({"ssa": SCIENCE_ROLE}));
    w.expect(
        up["data"]["reward"] == json!(["3:4:100", "3:1:1000"]),
        format!("science_up: role level 1 costs 100 crystal and 1000 coins: {up}"),
    );
    w.call(
        "science_up: master too low",
        &p.session,
        json!({"ssa": SCIENCE_ROLE}),
    );
    w.call(
        "science_up: ssa error",
        &p.session,
        json!({"ssa": SCIENCE_MASTER * 2}),
    );

    // elements: points from player level 15 on
    w.call("player_element_all", &p.session, json!({}));
    w.call(
        "player_element_lv: no points",
        &p.session,
        json!({"eid": 1000}),
    );
    raise_level(&stack.db, &p.gn, 25, 7200);
    w.call("player_element_lv", &p.session, json!({"eid": 1000}));
    w.call(
        "player_element_lv: eid error",
        &p.session,
        json!({"eid": 1004}),
    );
    let reset = w.call("player_element_reset", &p.session, json!({}));
    w.expect(
        reset["data"]["lim"] == 2 && reset["data"]["elements"]["1000"] == 0,
        format!("player_element_reset: all back to 0, two resets left: {reset}"),
    );

    // VIP: a card item used, the daily reward once a day, gifts up to the VIP level
    let info = w.call("get_info_vip", &p.session, json!({}));
    w.expect(
        info["data"]["exp_info"]["level"] == 0 && info["data"]["cooling_time"] == -1,
        format!("get_info_vip: a new player is VIP 0 and may claim: {info}"),
    );
    w.call("get_vip_daily_reward: not a VIP", &p.session, json!({}));
    w.call(
        "purchase_vip_card: card id error",
        &p.session,
        json!({"card_id": 1}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:26:1"]));
    w.call("purchase_vip_card", &p.session, json!({"card_id": 26}));
    w.call("get_vip_daily_reward", &p.session, json!({}));
    w.call("get_vip_daily_reward: claimed today", &p.session, json!({}));
    w.call(
        "purchase_vip_gift: VIP level too low",
        &p.session,
        json!({"tier": 1}),
    );
    w.call("purchase_vip_gift", &p.session, json!({"tier": 0}));
    w.call(
        "purchase_vip_gift: no diamonds",
        &p.session,
        json!({"tier": 0}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:43:5"]));
    let card = w.call(
        "exchange_card: VIP exp card",
        &p.session,
        json!({"cid": 43, "qty": 5}),
    );
    w.expect(
        card["data"]["exp_info"]["level"] == 1,
        format!("exchange_card: 10 + 50 VIP experience make VIP 1: {card}"),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// dark market (and the fortune wheel, documented but never registered)

const DARK_MARKET: &[Expect] = &[
    row("refresh_market: never opened", "refresh_market", &[99], &[]),
    row(
        "darkmarket_transaction: never opened",
        "darkmarket_transaction",
        &[98],
        &[],
    ),
    row(
        "get_all_market: first visit",
        "get_all_market",
        &[0],
        &[
            ("dark_markets[].pid", Num),
            ("dark_markets[].gid", Num),
            ("dark_markets[].mid", Num),
            ("dark_markets[].qty", Num),
            ("dark_markets[].cid", Num),
            ("dark_markets[].amt", Num),
            ("refresh_time", Num),
            ("refreshable", Num),
            ("config.refresh_diamond", Num),
        ],
    ),
    row(
        "get_all_market",
        "get_all_market",
        &[1],
        &[
            ("dark_markets[].pid", Num),
            ("dark_markets[].gid", Num),
            ("dark_markets[].mid", Num),
            ("dark_markets[].qty", Num),
            ("dark_markets[].cid", Num),
            ("dark_markets[].amt", Num),
            ("refresh_time", Num),
            ("refreshable", Num),
            ("config.refresh_diamond", Num),
        ],
    ),
    row(
        "refresh_market",
        "refresh_market",
        &[0],
        &[
            ("dark_markets[].pid", Num),
            ("dark_markets[].gid", Num),
            ("dark_markets[].mid", Num),
            ("dark_markets[].qty", Num),
            ("dark_markets[].cid", Num),
            ("dark_markets[].amt", Num),
            ("refresh_time", Num),
            ("refreshable", Num),
            ("diamond.remaining", Num),
            ("diamond.reward", Num),
            ("refresh_diamond", Num),
        ],
    ),
    row("refresh_market: no diamonds", "refresh_market", &[98], &[]),
    row(
        "darkmarket_transaction",
        "darkmarket_transaction",
        &[0],
        &[
            ("reward.pid", Num),
            ("reward.gid", Num),
            ("reward.mid", Num),
            ("reward.qty", Num),
            ("reward.cid", Num),
            ("reward.amt", Num),
            ("remaining.gid", Num),
            ("remaining.mid", Num),
            ("remaining.qty", Num),
            ("remaining.cid", Num),
            ("remaining.amt", Num),
        ],
    ),
    row(
        "darkmarket_transaction: bought",
        "darkmarket_transaction",
        &[97],
        &[],
    ),
    row(
        "darkmarket_transaction: no currency",
        "darkmarket_transaction",
        &[96],
        &[],
    ),
    row(
        "darkmarket_transaction: skill held",
        "darkmarket_transaction",
        &[95],
        &[],
    ),
    row(
        "darkmarket_transaction: bad pid",
        "darkmarket_transaction",
        &[99],
        &[],
    ),
    // Documented by the original (document 3) but never registered by its worker:
    // unknown functions.
    row("fortune_wheel_basic", "fortune_wheel_basic", &[10], &[]),
    row("fortune_wheel_pro", "fortune_wheel_pro", &[10], &[]),
];

#[test]
fn dark_market() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "dark_market", DARK_MARKET);
    let mut p = new_player(addr, "dm");

    w.call("refresh_market: never opened", &p.session, json!({}));
    w.call(
        "darkmarket_transaction: never opened",
        &p.session,
        json!({"pid": 0}),
    );
    let first = w.call("get_all_market: first visit", &p.session, json!({}));
    w.expect(
        first["data"]["dark_markets"].as_array().map(Vec::len) == Some(9)
            && first["data"]["refreshable"] == 3
            && first["data"]["config"]["refresh_diamond"] == 100,
        format!(
            "get_all_market: nine offers, three free refreshes, 100 diamonds a refresh: {first}"
        ),
    );
    let again = w.call("get_all_market", &p.session, json!({}));
    w.expect(
        again["data"]["dark_markets"] == first["data"]["dark_markets"],
        format!("get_all_market: the same offers on a second look: {again}"),
    );
    for left in [2, 1, 0] {
        let r = w.call("refresh_market", &p.session, json!({}));
        w.expect(
            r["data"]["refreshable"] == left && r["data"]["diamond"]["reward"] == 0,
            format!("refresh_market: free, {left} left: {r}"),
        );
    }
    drain_diamonds(addr, &mut p);
    w.call("refresh_market: no diamonds", &p.session, json!({}));
    w.call(
        "darkmarket_transaction: no currency",
        &p.session,
        json!({"pid": 0}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:5:100000"]));
    let paid = w.call("refresh_market", &p.session, json!({}));
    w.expect(
        paid["data"]["diamond"] == json!({"remaining": 99_900, "reward": -100}),
        format!("refresh_market: 100 diamonds without a free refresh: {paid}"),
    );
    let bought = w.call("darkmarket_transaction", &p.session, json!({"pid": 0}));
    let offer = &paid["data"]["dark_markets"][0];
    w.expect(
        bought["data"]["reward"]["amt"].as_i64() == offer["amt"].as_i64().map(|a| -a)
            && bought["data"]["reward"]["mid"] == offer["mid"],
        format!("darkmarket_transaction: slot 0 of the refresh for its price: {bought}"),
    );
    w.call(
        "darkmarket_transaction: bought",
        &p.session,
        json!({"pid": 0}),
    );
    let shown = w.raw("get_all_market", &p.session, json!({}));
    w.expect(
        shown["data"]["dark_markets"][0]["amt"].as_i64() == offer["amt"].as_i64().map(|a| -a),
        format!("get_all_market: a sold offer's amt is negative: {shown}"),
    );
    for pid in [json!(-1), json!(9)] {
        w.call(
            "darkmarket_transaction: bad pid",
            &p.session,
            json!({ "pid": pid }),
        );
    }
    // The configured market sells no skills; a skill offer is put in the database.
    give_in_db(
        &stack.db,
        &p.gn,
        "UPDATE {db}.dark_market_offers SET gid = 1, mid = 3, qty = 1, cid = 5, amt = 50, \
         bought = 0 WHERE unique_id = '{uid}' AND pid IN (1, 2)",
    );
    w.call("darkmarket_transaction", &p.session, json!({"pid": 1}));
    w.call(
        "darkmarket_transaction: skill held",
        &p.session,
        json!({"pid": 2}),
    );

    w.call("fortune_wheel_basic", &p.session, json!({}));
    w.call("fortune_wheel_pro", &p.session, json!({}));
    w.finish();
}

// summoning (summoning.py)

/// A store's `constraint` as `refresh_*_store`, `buy_refresh_*` and the dozen pumps answer
/// it (the gift store has no `limit`).
macro_rules! store_fields {
    ($($extra:expr),* $(,)?) => {
        &[
            ("refresh[]", Obj),
            ("refresh[].pid", Num),
            ("refresh[].mid", Str),
            ("refresh[].wgt", Num),
            ("refresh[].isb", Num),
            ("constraint", Obj),
            ("constraint.cid", Num),
            ("constraint.cooling_refresh", Num),
            ("constraint.cooling", Num),
            ("constraint.qty", Num),
            ("constraint.refresh", Num),
            ("constraint.acp", Num),
            $($extra,)*
        ]
    };
}

const PULL_FIELDS: &[(&str, compat::Ty)] = &[
    ("remaining[]", Str),
    ("reward[]", Str),
    ("pid", Num),
    ("constraint.limit", Num),
    ("constraint.cooling", Num),
];

const DOZEN_FIELDS: &[(&str, compat::Ty)] =
    store_fields!(("remaining[]", Str), ("reward[]", Str), ("pid[]", Num),);

const SUMMON: &[Expect] = &[
    row(
        "refresh_diamond_store",
        "refresh_diamond_store",
        &[0],
        store_fields!(("constraint.limit", Num)),
    ),
    row(
        "refresh_diamond_store: shown",
        "refresh_diamond_store",
        &[1],
        store_fields!(("constraint.limit", Num)),
    ),
    row(
        "refresh_coin_store",
        "refresh_coin_store",
        &[0],
        store_fields!(("constraint.limit", Num)),
    ),
    row(
        "refresh_gift_store",
        "refresh_gift_store",
        &[0],
        store_fields!(),
    ),
    row(
        "buy_refresh_diamond",
        "buy_refresh_diamond",
        &[0],
        store_fields!(
            ("constraint.limit", Num),
            ("consume.remain_v", Num),
            ("consume.value", Num)
        ),
    ),
    row(
        "buy_refresh_diamond: no diamonds",
        "buy_refresh_diamond",
        &[99],
        &[],
    ),
    row(
        "buy_refresh_coin",
        "buy_refresh_coin",
        &[0],
        store_fields!(("consume.remain_v", Num), ("consume.value", Num)),
    ),
    row(
        "buy_refresh_gift",
        "buy_refresh_gift",
        &[0],
        store_fields!(("consume.remain_v", Num), ("consume.value", Num)),
    ),
    row(
        "single_pump_diamond",
        "single_pump_diamond",
        &[0],
        PULL_FIELDS,
    ),
    row(
        "single_pump_diamond: no diamonds",
        "single_pump_diamond",
        &[99],
        &[],
    ),
    row("single_pump_coin", "single_pump_coin", &[0], PULL_FIELDS),
    row(
        "single_pump_coin: no pulls left",
        "single_pump_coin",
        &[95],
        &[],
    ),
    row(
        "single_pump_gift",
        "single_pump_gift",
        &[0],
        &[
            ("remaining[]", Str),
            ("reward[]", Str),
            ("pid", Num),
            ("constraint.cooling", Num),
        ],
    ),
    row("single_pump_gift: no gifts", "single_pump_gift", &[99], &[]),
    row(
        "dozen_pump_diamond",
        "dozen_pump_diamond",
        &[0],
        DOZEN_FIELDS,
    ),
    row(
        "dozen_pump_diamond: no diamonds",
        "dozen_pump_diamond",
        &[99],
        &[],
    ),
    row("dozen_pump_coin", "dozen_pump_coin", &[0], DOZEN_FIELDS),
    row("dozen_pump_gift", "dozen_pump_gift", &[0], DOZEN_FIELDS),
    row(
        "integral_convert: too little integral",
        "integral_convert",
        &[99],
        &[],
    ),
    row(
        "integral_convert",
        "integral_convert",
        &[0, 1],
        &[
            ("acp", Num),
            ("rid", Num),
            ("star", Num),
            ("remain_seg", Num),
            ("reward_seg", Num),
        ],
    ),
    row(
        "integral_convert: universal segments",
        "integral_convert",
        &[2],
        &[
            ("acp", Num),
            ("iid", Num),
            ("remain_v", Num),
            ("reward_v", Num),
            ("integral", Num),
        ],
    ),
];

#[test]
fn summon() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "summon", SUMMON);
    let p = new_player(addr, "su");

    // the stores: made, shown, refreshed (the first refresh free)
    let made = w.call("refresh_diamond_store", &p.session, json!({}));
    w.expect(
        made["data"]["refresh"].as_array().map_or(0, Vec::len) == 12,
        format!("refresh_diamond_store: twelve cells: {made}"),
    );
    w.call("refresh_diamond_store: shown", &p.session, json!({}));
    w.call("refresh_coin_store", &p.session, json!({}));
    w.call("refresh_gift_store", &p.session, json!({}));
    let free = w.call("buy_refresh_diamond", &p.session, json!({}));
    w.expect(
        free["data"]["consume"]["value"] == 0,
        format!("buy_refresh_diamond: the first refresh is free: {free}"),
    );
    w.call("buy_refresh_coin", &p.session, json!({}));
    w.call("buy_refresh_gift", &p.session, json!({}));

    // single pulls: the day's first diamond pull is free
    let first = w.call("single_pump_diamond", &p.session, json!({}));
    w.expect(
        first["data"]["reward"][0] == "3:5:0",
        format!("single_pump_diamond: the first pull of the day is free: {first}"),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:1:130000", "3:16:130"]));
    w.call("single_pump_coin", &p.session, json!({}));
    w.call("single_pump_gift", &p.session, json!({}));

    // dozen pumps of every store
    w.setup(grant(addr, &admin, &p.gn, &["3:5:2400"]));
    let dozen = w.call("dozen_pump_diamond", &p.session, json!({}));
    w.expect(
        dozen["data"]["refresh"].as_array().map_or(0, Vec::len) == 12,
        format!("dozen_pump_diamond: the store refilled: {dozen}"),
    );
    w.call("dozen_pump_coin", &p.session, json!({}));
    w.call("dozen_pump_gift", &p.session, json!({}));
    // the coin pulls of the day are used up (scrolls the store gave pay their own pulls)
    for _ in 0..60 {
        if status(&w.raw("single_pump_coin", &p.session, json!({}))) != 0 {
            break;
        }
    }
    w.call("single_pump_coin: no pulls left", &p.session, json!({}));

    // refusals: a player without diamonds or gifts
    let mut poor = new_player(addr, "su");
    drain_diamonds(addr, &mut poor);
    w.raw("single_pump_diamond", &poor.session, json!({}));
    w.call("single_pump_diamond: no diamonds", &poor.session, json!({}));
    w.call("dozen_pump_diamond: no diamonds", &poor.session, json!({}));
    w.raw("buy_refresh_diamond", &poor.session, json!({}));
    w.call("buy_refresh_diamond: no diamonds", &poor.session, json!({}));
    w.call("single_pump_gift: no gifts", &poor.session, json!({}));

    // integral: the steps of 200 to 800 give roles, 1000 universal segments
    w.call(
        "integral_convert: too little integral",
        &poor.session,
        json!({}),
    );
    w.setup(grant(addr, &admin, &poor.gn, &["3:44:1000"]));
    w.call("integral_convert", &poor.session, json!({}));
    for _ in 0..3 {
        w.raw("integral_convert", &poor.session, json!({}));
    }
    w.call(
        "integral_convert: universal segments",
        &poor.session,
        json!({}),
    );
    w.finish();
}

// ---------------------------------------------------------------------------------------
// factory

/// `refresh_factory`'s fields (also `update_worker_factory`'s `refresh`, under `prefix`).
macro_rules! refresh_fields {
    ($prefix:literal) => {
        &[
            (concat!($prefix, "steps"), Num),
            (concat!($prefix, "resource.remaining.0"), Num),
            (concat!($prefix, "resource.remaining.1"), Num),
            (concat!($prefix, "resource.remaining.2"), Num),
            (concat!($prefix, "resource.remaining.3"), Num),
            (concat!($prefix, "resource.reward.0"), Num),
            (concat!($prefix, "resource.reward.3"), Num),
            (concat!($prefix, "pool"), Num),
            (concat!($prefix, "pool_count"), Num),
            (concat!($prefix, "pool_diamond"), Num),
            (concat!($prefix, "next_refresh"), Num),
            (concat!($prefix, "worker.-1"), Num),
            (concat!($prefix, "worker.total"), Num),
            (concat!($prefix, "worker.0"), Num),
            (concat!($prefix, "worker.1"), Num),
            (concat!($prefix, "worker.2"), Num),
            (concat!($prefix, "worker.3"), Num),
            (concat!($prefix, "level.0"), Num),
            (concat!($prefix, "level.1"), Num),
            (concat!($prefix, "level.2"), Num),
            (concat!($prefix, "level.3"), Num),
            (concat!($prefix, "level.-2"), Num),
            (concat!($prefix, "accel_time"), Num),
        ]
    };
}

const FACTORY: &[Expect] = &[
    row(
        "refresh_factory",
        "refresh_factory",
        &[0],
        refresh_fields!(""),
    ),
    row(
        "buy_worker_factory: no food",
        "buy_worker_factory",
        &[98],
        &[],
    ),
    row(
        "buy_worker_factory",
        "buy_worker_factory",
        &[0],
        &[
            ("worker.-1", Num),
            ("worker.total", Num),
            ("food.remaining", Num),
            ("food.reward", Num),
        ],
    ),
    row(
        "update_worker_factory",
        "update_worker_factory",
        &[0],
        refresh_fields!("refresh."),
    ),
    row(
        "update_worker_factory: insufficient workers",
        "update_worker_factory",
        &[99],
        refresh_fields!("refresh."),
    ),
    row(
        "update_worker_factory: over limits",
        "update_worker_factory",
        &[98],
        refresh_fields!("refresh."),
    ),
    row(
        "update_worker_factory: invalid fid",
        "update_worker_factory",
        &[97],
        refresh_fields!("refresh."),
    ),
    row(
        "upgrade_factory: no crystal",
        "upgrade_factory",
        &[98],
        &[
            ("refresh.resource.remaining.0", Num),
            ("refresh.resource.reward.0", Num),
        ],
    ),
    row(
        "upgrade_factory",
        "upgrade_factory",
        &[0],
        &[
            ("refresh.resource.remaining.0", Num),
            ("refresh.resource.reward.0", Num),
            ("upgrade.cost", Num),
            ("upgrade.remaining", Num),
            ("upgrade.fid", Num),
            ("upgrade.level", Num),
            ("upgrade.pool", Num),
        ],
    ),
    row(
        "upgrade_factory: max level",
        "upgrade_factory",
        &[97],
        &[("refresh.resource.remaining.0", Num)],
    ),
    row(
        "upgrade_factory: invalid fid",
        "upgrade_factory",
        &[99],
        &[],
    ),
    row(
        "activate_wishing_pool_factory",
        "activate_wishing_pool_factory",
        &[0],
        &[
            ("pool", Num),
            ("count", Num),
            ("pool_diamond", Num),
            ("remaining.wid", Num),
            ("remaining.seg", Num),
            ("remaining.diamond", Num),
            ("reward.wid", Num),
            ("reward.seg", Num),
            ("reward.diamond", Num),
        ],
    ),
    row(
        "activate_wishing_pool_factory: no diamonds",
        "activate_wishing_pool_factory",
        &[99],
        &[],
    ),
    row(
        "buy_acceleration_factory: no diamonds",
        "buy_acceleration_factory",
        &[99],
        &[],
    ),
    row(
        "buy_acceleration_factory",
        "buy_acceleration_factory",
        &[0],
        &[
            ("refresh.resource.remaining.0", Num),
            ("refresh.resource.reward.0", Num),
            ("time", Num),
            ("remaining.diamond", Num),
            ("reward.diamond", Num),
        ],
    ),
    row(
        "set_armor_factory",
        "set_armor_factory",
        &[0],
        &[
            ("gather.remaining[]", Str),
            ("gather.reward[]", Str),
            ("aid", Num),
        ],
    ),
    row(
        "gather_resource_factory",
        "gather_resource_factory",
        &[0],
        &[("remaining[]", Str), ("reward[]", Str)],
    ),
    row(
        "gather_resource_factory: invalid resource",
        "gather_resource_factory",
        &[99],
        &[],
    ),
    row(
        "iron_convert_factory: no iron",
        "iron_convert_factory",
        &[98],
        &[],
    ),
    row(
        "iron_convert_factory",
        "iron_convert_factory",
        &[0],
        &[("remain[]", Str), ("reward[]", Str)],
    ),
    row(
        "iron_convert_factory: qty error",
        "iron_convert_factory",
        &[99],
        &[],
    ),
];

#[test]
fn factory() {
    let _one = one_at_a_time();
    let stack = Stack::start();
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "factory", FACTORY);
    let mut p = new_player(addr, "fa");

    let r = w.call("refresh_factory", &p.session, json!({}));
    w.expect(
        r["data"]["worker"]["total"] == 3 && r["data"]["pool_count"] == 6,
        format!("refresh_factory: three workers, six wishes: {r}"),
    );
    w.call("buy_worker_factory: no food", &p.session, json!({}));
    w.setup(grant(addr, &admin, &p.gn, &["3:3:1000"]));
    let b = w.call("buy_worker_factory", &p.session, json!({}));
    w.expect(
        b["data"]["food"]["reward"] == -130 && b["data"]["worker"]["total"] == 4,
        format!("buy_worker_factory: the 4th worker costs 130 food: {b}"),
    );
    w.call(
        "update_worker_factory",
        &p.session,
        json!({"worker": {"0": 3, "1": 1}}),
    );
    w.call(
        "update_worker_factory: insufficient workers",
        &p.session,
        json!({"worker": {"2": 1}}),
    );
    w.call(
        "update_worker_factory: over limits",
        &p.session,
        json!({"worker": {"0": 0, "1": 3}}),
    );
    w.call(
        "update_worker_factory: invalid fid",
        &p.session,
        json!({"worker": {"5": 1}}),
    );

    w.call("upgrade_factory: no crystal", &p.session, json!({"fid": 0}));
    w.setup(grant(addr, &admin, &p.gn, &["3:4:100000"]));
    let u = w.call("upgrade_factory", &p.session, json!({"fid": 0}));
    w.expect(
        u["data"]["upgrade"]["cost"] == 50 && u["data"]["upgrade"]["level"] == 2,
        format!("upgrade_factory: food level 2 costs 50 crystal: {u}"),
    );
    give_in_db(
        &stack.db,
        &p.gn,
        "UPDATE {db}.factories SET crystal_level = 15 WHERE unique_id = '{uid}'",
    );
    w.call("upgrade_factory: max level", &p.session, json!({"fid": 2}));
    w.call(
        "upgrade_factory: invalid fid",
        &p.session,
        json!({"fid": 3}),
    );

    let wish = w.call(
        "activate_wishing_pool_factory",
        &p.session,
        json!({"wid": 301}),
    );
    w.expect(
        wish["data"]["reward"]["diamond"] == 0 && wish["data"]["count"] == 5,
        format!("activate_wishing_pool_factory: the first wish is free: {wish}"),
    );
    drain_diamonds(addr, &mut p);
    w.call(
        "activate_wishing_pool_factory: no diamonds",
        &p.session,
        json!({"wid": 301}),
    );
    w.call(
        "buy_acceleration_factory: no diamonds",
        &p.session,
        json!({}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:5:30"]));
    let a = w.call("buy_acceleration_factory", &p.session, json!({}));
    w.expect(
        a["data"]["time"] == 86_400 && a["data"]["reward"]["diamond"] == -30,
        format!("buy_acceleration_factory: a day for 30 diamonds: {a}"),
    );

    w.call("set_armor_factory", &p.session, json!({"aid": 2}));
    w.call(
        "gather_resource_factory",
        &p.session,
        json!({"resource": {"0": 0, "1": 0, "2": 0, "3": 0}}),
    );
    w.call(
        "gather_resource_factory: invalid resource",
        &p.session,
        json!({"resource": {"-1": 0}}),
    );
    w.call(
        "iron_convert_factory: no iron",
        &p.session,
        json!({"aid": 1, "qty": 1}),
    );
    w.setup(grant(addr, &admin, &p.gn, &["3:2:100"]));
    let c = w.call(
        "iron_convert_factory",
        &p.session,
        json!({"aid": 1, "qty": 5}),
    );
    w.expect(
        c["data"]["reward"] == json!(["4:1:5", "3:2:100"]),
        format!("iron_convert_factory: 5 armors for 100 iron: {c}"),
    );
    w.call(
        "iron_convert_factory: qty error",
        &p.session,
        json!({"aid": 1, "qty": -1}),
    );
    w.finish();
}

// mall (mall.py): exchange codes and purchases, the purchases verified by a real HTTP
// server playing the store's verifier.

const MALL: &[Expect] = &[
    row(
        "create_exchange_code",
        "create_exchange_code",
        &[0],
        &[
            ("game_id", Str),
            ("exchange_id", Str),
            ("pid", Str),
            ("receive", Num),
            ("etime", Str),
        ],
    ),
    row(
        "exchange_prop",
        "exchange_prop",
        &[0],
        &[
            ("vip_card", Obj),
            ("item", Obj),
            ("item.remaining.iid", Num),
            ("item.remaining.qty", Num),
            ("item.reward.iid", Num),
            ("item.reward.qty", Num),
            ("etime", Str),
            ("receive", Num),
        ],
    ),
    row(
        "exchange_prop: vip card",
        "exchange_prop",
        &[0],
        &[
            ("vip_card", Obj),
            ("vip_card.cooling_time", Num),
            ("vip_card.card_id", Num),
            ("item", Obj),
            ("etime", Str),
            ("receive", Num),
        ],
    ),
    row(
        "exchange_prop: redeemed before",
        "exchange_prop",
        &[94],
        &[],
    ),
    row("exchange_prop: used up", "exchange_prop", &[98], &[]),
    row("exchange_prop: expired", "exchange_prop", &[97], &[]),
    row("exchange_prop: no such code", "exchange_prop", &[99], &[]),
    row(
        "purchase_success",
        "purchase_success",
        &[0],
        &[
            ("remaining", Obj),
            ("remaining.iid", Num),
            ("remaining.qty", Num),
            ("reward", Obj),
            ("reward.iid", Num),
            ("reward.qty", Num),
        ],
    ),
    row(
        "purchase_success: vip card",
        "purchase_success",
        &[1],
        &[("cooling_time", Num), ("card_id", Num)],
    ),
    row("purchase_success: replayed", "purchase_success", &[96], &[]),
    row(
        "purchase_success: refused receipt",
        "purchase_success",
        &[95],
        &[],
    ),
    row(
        "purchase_success: pid error",
        "purchase_success",
        &[98],
        &[],
    ),
    row(
        "purchase_success: username error",
        "purchase_success",
        &[99],
        &[],
    ),
];

#[test]
fn mall() {
    let _one = one_at_a_time();
    let store = testkit::HttpReceiver::start();
    let stack = Stack::start_with(|settings| {
        settings.purchase_verifier_url = format!("{}/verify", store.url());
    });
    let addr = stack.gate_addr();
    let admin = stack.admin_token();
    let mut w = Walker::new(addr, "mall", MALL);
    let p = new_player(addr, "ml");
    let q = new_player(addr, "ml");
    let code = fresh("C");
    let code = code.as_str();

    // Codes: an operator makes them; each player redeems one once.
    let made = w.call(
        "create_exchange_code",
        &admin,
        json!({"game_id": "lukseun", "exchange_id": code, "pid": "DIAMOND_MIN",
               "receive": 2, "valid_seconds": 3600}),
    );
    w.expect(
        made["data"]["exchange_id"] == code && made["data"]["receive"] == 2,
        format!("the code as given: {made}"),
    );
    let r = w.call(
        "exchange_prop",
        &p.session,
        json!({"game_id": "lukseun", "exchange_id": code}),
    );
    w.expect(
        r["data"]["item"]["reward"] == json!({"iid": 5, "qty": 100})
            && r["data"]["receive"] == 1
            && r["data"]["vip_card"] == json!({}),
        format!("100 diamonds, one use left: {r}"),
    );
    w.call(
        "exchange_prop: redeemed before",
        &p.session,
        json!({"game_id": "lukseun", "exchange_id": code}),
    );
    w.call(
        "exchange_prop",
        &q.session,
        json!({"game_id": "lukseun", "exchange_id": code}),
    );
    let third = new_player(addr, "ml");
    w.call(
        "exchange_prop: used up",
        &third.session,
        json!({"game_id": "lukseun", "exchange_id": code}),
    );
    w.call(
        "exchange_prop: no such code",
        &p.session,
        json!({"game_id": "lukseun", "exchange_id": "IOJwlawOIWBMzjJw"}),
    );
    let card_code = format!("{code}_V");
    w.setup(
        match status(&w.raw(
            "create_exchange_code",
            &admin,
            json!({"game_id": "lukseun", "exchange_id": card_code, "pid": "VIP_CARD_NORMAL",
                   "receive": 1, "valid_seconds": 3600}),
        )) {
            0 => Ok(()),
            s => Err(format!(
                "setup: create_exchange_code of a VIP card answered {s}"
            )),
        },
    );
    let r = w.call(
        "exchange_prop: vip card",
        &p.session,
        json!({"game_id": "lukseun", "exchange_id": card_code}),
    );
    w.expect(
        r["data"]["vip_card"]["card_id"] == 26,
        format!("the month card: {r}"),
    );
    let short = format!("{code}_S");
    w.raw(
        "create_exchange_code",
        &admin,
        json!({"game_id": "lukseun", "exchange_id": short, "pid": "DIAMOND_MIN",
               "receive": 5, "valid_seconds": 1}),
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    w.call(
        "exchange_prop: expired",
        &p.session,
        json!({"game_id": "lukseun", "exchange_id": short}),
    );

    // Purchases, as the store's server-side notice names them (document 20).
    let order = |order_id: &str, pid: &str, gn: &str| {
        json!({"pid": pid, "order_id": order_id, "channel": "apple", "user_name": gn,
               "currency": "RMB"})
    };
    let accept = |order_id: &str, pid: &str| {
        store.set_body(
            json!({"accepted": true, "order_id": order_id, "pid": pid})
                .to_string()
                .as_bytes(),
        );
    };
    let order_id = fresh("92829098");
    accept(&order_id, "DIAMOND_SMALL");
    let r = w.call(
        "purchase_success",
        &p.session,
        order(&order_id, "DIAMOND_SMALL", &p.gn),
    );
    w.expect(
        r["data"]["reward"] == json!({"iid": 5, "qty": 300}),
        format!("300 diamonds: {r}"),
    );
    w.call(
        "purchase_success: replayed",
        &p.session,
        order(&order_id, "DIAMOND_SMALL", &p.gn),
    );
    let card_order = fresh("92829099");
    accept(&card_order, "VIP_CARD_ULTIMATE");
    let r = w.call(
        "purchase_success: vip card",
        &p.session,
        order(&card_order, "VIP_CARD_ULTIMATE", &p.gn),
    );
    w.expect(r["data"]["card_id"] == 27, format!("the month card: {r}"));
    store.set_body(br#"{"accepted": false, "reason": "forged"}"#);
    w.call(
        "purchase_success: refused receipt",
        &p.session,
        order(&fresh("forged"), "DIAMOND_BAG", &p.gn),
    );
    w.call(
        "purchase_success: pid error",
        &p.session,
        order(&fresh("o"), "WEAPON_STAR_1", &p.gn),
    );
    w.call(
        "purchase_success: username error",
        &p.session,
        order(&fresh("o"), "DIAMOND_MIN", &q.gn),
    );
    w.finish();
}
