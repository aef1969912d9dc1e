//! The mall against real MariaDB and Redis through the real handler, with a real HTTP
//! server (`testkit::HttpReceiver`) playing the store's verifier: purchases credited only
//! on the verifier's acceptance and once per order (also under concurrent replays), a
//! verifier that refuses, is down or is too slow crediting nothing; operator credits
//! without a verifier; exchange codes redeemed once per player until used up or expired
//! (also under concurrent redeems of the last use); and an upgrade from the schema before
//! migration 15.

use std::net::TcpListener;

use mysql::prelude::Queryable;
use testkit::HttpReceiver;

use super::weapon::Game;
use super::*;
use crate::function::Clock;
use crate::modules::mall::verifier::{InFlight, VerifierSettings};

type Map = serde_json::Map<String, Value>;

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;
const WAIT: Duration = Duration::from_secs(10);
const DIAMOND: u32 = 5;

/// A game on a fixed clock whose purchases go to `verifier` (None: not configured).
fn game(verifier: Option<String>) -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(NOON));
    g.s.services.settings.purchase_verifier = VerifierSettings {
        url: verifier.unwrap_or_default(),
        timeout: Duration::from_millis(400),
        // Room for every racing thread here; the cap has a test of its own.
        in_flight: InFlight::new(64),
    };
    g
}

fn store(receiver: &HttpReceiver) -> Option<String> {
    Some(format!("{}/verify", receiver.url()))
}

/// The verifier accepts `order_id` of `pid` (and, answering one body to everything,
/// refuses every other order).
fn accept(receiver: &HttpReceiver, order_id: &str, pid: &str) {
    receiver.set_status(200);
    receiver.set_body(
        json!({"accepted": true, "order_id": order_id, "pid": pid})
            .to_string()
            .as_bytes(),
    );
}

fn buy(order_id: &str, pid: &str, gn: &str) -> Value {
    json!({"pid": pid, "order_id": order_id, "channel": "apple", "user_name": gn, "currency": "RMB"})
}

fn admin(g: &Game) -> String {
    g.s.token("admin:gm-1", TokenKind::Admin, None, None)
}

fn purchases(g: &Game, order_id: &str) -> u64 {
    g.db()
        .exec_first(
            "SELECT COUNT(*) FROM purchases WHERE order_id = ?",
            (order_id,),
        )
        .unwrap()
        .unwrap()
}

// ------------------------------------------------------------------------------ purchases

#[test]
fn an_accepted_purchase_is_credited_once() {
    let receiver = HttpReceiver::start();
    let g = game(store(&receiver));
    let t = g.player("buyer", "Buyer");
    let before = g.qty("buyer", 3, DIAMOND);
    accept(&receiver, "GPA.1001", "DIAMOND_SMALL");
    let mut order = buy("GPA.1001", "DIAMOND_SMALL", "Buyer");
    order["receipt"] = json!("c2lnbmVkIHJlY2VpcHQ=");
    let r = g.ok(&t, "purchase_success", order.clone());
    assert_eq!(
        Value::Object(r),
        json!({"remaining": {"iid": 5, "qty": before + 300}, "reward": {"iid": 5, "qty": 300}})
    );
    assert_eq!(g.qty("buyer", 3, DIAMOND), before + 300);

    // What the store was asked: the contract's fields, the receipt as sent.
    let asked = receiver.wait_for(1, WAIT);
    assert_eq!(
        (asked.method.as_str(), asked.path.as_str()),
        ("POST", "/verify")
    );
    assert!(asked
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let body: Value = serde_json::from_slice(&asked.body).unwrap();
    assert_eq!(
        body,
        json!({"order_id": "GPA.1001", "pid": "DIAMOND_SMALL", "channel": "apple",
               "currency": "RMB", "price": 7, "world": "s0", "unique_id": "buyer",
               "gn": "Buyer", "receipt": "c2lnbmVkIHJlY2VpcHQ="})
    );

    // The replay: 96, nothing credited, the store not asked again.
    let r = g.call(&t, "purchase_success", order);
    assert_status(&r, 96, "");
    assert_eq!(g.qty("buyer", 3, DIAMOND), before + 300);
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(purchases(&g, "GPA.1001"), 1);
    let row: (String, String, u64, u32, u64, u8, Option<String>, i64) = g
        .db()
        .exec_first(
            "SELECT unique_id, currency, price, item_id, qty, verified, credited_by, \
             credited_at FROM purchases WHERE order_id = 'GPA.1001'",
            (),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        row,
        ("buyer".into(), "RMB".into(), 7, 5, 300, 1, None, NOON)
    );

    // A VIP card product activates the card: status 1, as the original.
    accept(&receiver, "GPA.1002", "VIP_CARD_NORMAL");
    let r = g.call(
        &t,
        "purchase_success",
        buy("GPA.1002", "VIP_CARD_NORMAL", "Buyer"),
    );
    assert_status(&r, 1, "");
    assert_eq!(r.message, "success");
    assert_eq!(r.data["card_id"], 26);
    assert_eq!(r.data["cooling_time"], 31 * 86_400);
    assert_eq!(g.ok(&t, "get_info_vip", json!({}))["min_card"], true);

    // An account token of the same account credits its player of the request's world.
    accept(&receiver, "GPA.1003", "SKILL_SCROLL_10_MIN");
    let account = g.s.token("buyer", TokenKind::Account, None, None);
    let before = g.qty("buyer", 3, 6);
    g.ok(
        &account,
        "purchase_success",
        buy("GPA.1003", "SKILL_SCROLL_10_MIN", "Buyer"),
    );
    assert_eq!(g.qty("buyer", 3, 6), before + 100);
}

#[test]
fn a_product_is_given_whole_or_not_at_all() {
    const POTION: u32 = 10; // energy_potion_s, max 999
    let receiver = HttpReceiver::start();
    let g = game(store(&receiver));
    let t = g.player("full", "Full");
    // 700 held + 300 bought is over the max of 999: refused, nothing recorded.
    g.set_qty("full", 3, POTION, 700);
    accept(&receiver, "GPA.2001", "ENERGY_POTION_SMALL");
    let order = buy("GPA.2001", "ENERGY_POTION_SMALL", "Full");
    let r = g.call(&t, "purchase_success", order.clone());
    assert_status(&r, 92, "");
    assert_eq!(g.qty("full", 3, POTION), 700);
    assert_eq!(purchases(&g, "GPA.2001"), 0, "the order is not spent");
    // Once some are used, the same order credits all 300.
    g.set_qty("full", 3, POTION, 699);
    let r = g.ok(&t, "purchase_success", order.clone());
    assert_eq!(r["reward"], json!({"iid": POTION, "qty": 300}));
    assert_eq!(g.qty("full", 3, POTION), 999);
    assert_eq!(g.call(&t, "purchase_success", order).status, 96);
    // A product larger than the max itself can never be given whole: a config error,
    // nothing recorded.
    g.set_qty("full", 3, POTION, 0);
    accept(&receiver, "GPA.2002", "ENERGY_POTION_LARGE");
    let r = g.call(
        &t,
        "purchase_success",
        buy("GPA.2002", "ENERGY_POTION_LARGE", "Full"),
    );
    assert_status(&r, 97, "");
    assert_eq!(g.qty("full", 3, POTION), 0);
    assert_eq!(purchases(&g, "GPA.2002"), 0);

    // An exchange code: no room keeps the code's use for later.
    let made = create(&g, "ROOM-1", "ENERGY_POTION_SMALL", 1, 3600);
    assert_eq!(made["receive"], 1);
    g.set_qty("full", 3, POTION, 700);
    assert_eq!(redeem(&g, &t, "ROOM-1").status, 93);
    assert_eq!(remaining(&g, "ROOM-1"), 1);
    g.set_qty("full", 3, POTION, 0);
    assert_eq!(redeem(&g, &t, "ROOM-1").status, 0);
    assert_eq!(remaining(&g, "ROOM-1"), 0);
}

#[test]
fn a_refused_receipt_credits_nothing() {
    let receiver = HttpReceiver::start();
    let g = game(store(&receiver));
    let t = g.player("forger", "Forger");
    let before = g.qty("forger", 3, DIAMOND);
    let order = buy("FAKE-1", "DIAMOND_BAG", "Forger");
    for answer in [
        json!({"accepted": false, "order_id": "FAKE-1", "pid": "DIAMOND_BAG", "reason": "forged"}),
        // An acceptance of something else is no acceptance of this.
        json!({"accepted": true, "order_id": "REAL-7", "pid": "DIAMOND_BAG"}),
        json!({"accepted": true, "order_id": "FAKE-1", "pid": "DIAMOND_MIN"}),
    ] {
        receiver.set_body(answer.to_string().as_bytes());
        let r = g.call(&t, "purchase_success", order.clone());
        assert_status(&r, 95, format_args!("{answer}"));
    }
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(g.qty("forger", 3, DIAMOND), before);
    assert_eq!(purchases(&g, "FAKE-1"), 0);
}

#[test]
fn a_verifier_down_or_too_slow_credits_nothing_and_a_retry_works() {
    let receiver = HttpReceiver::start();
    let mut g = game(store(&receiver));
    let t = g.player("patient", "Patient");
    let before = g.qty("patient", 3, DIAMOND);
    let order = buy("R-42", "DIAMOND_MIN", "Patient");
    let unavailable = |g: &Game| {
        let r = g.call(&t, "purchase_success", order.clone());
        assert_status(&r, 94, "");
        assert_eq!(g.qty("patient", 3, DIAMOND), before);
        assert_eq!(purchases(g, "R-42"), 0);
    };

    // The verifier answers an error, or something that is not the contract's answer.
    receiver.set_status(503);
    receiver.set_body(br#"{"error":"maintenance"}"#);
    unavailable(&g);
    receiver.set_status(200);
    receiver.set_body(b"OK");
    unavailable(&g);
    receiver.set_body(br#"{"status":"ok"}"#);
    unavailable(&g);

    // Nobody listens.
    let closed = testkit::free_port();
    g.s.services.settings.purchase_verifier.url = format!("http://127.0.0.1:{closed}/verify");
    unavailable(&g);

    // It takes the request and never answers: refused within the timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    g.s.services.settings.purchase_verifier.url =
        format!("http://{}/verify", silent.local_addr().unwrap());
    let started = Instant::now();
    unavailable(&g);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(silent);

    // Back up: the same order is credited now, once.
    g.s.services.settings.purchase_verifier.url = store(&receiver).unwrap();
    accept(&receiver, "R-42", "DIAMOND_MIN");
    let r = g.ok(&t, "purchase_success", order.clone());
    assert_eq!(r["reward"], json!({"iid": 5, "qty": 100}));
    assert_eq!(g.qty("patient", 3, DIAMOND), before + 100);
    assert_eq!(g.call(&t, "purchase_success", order).status, 96);
    assert_eq!(g.qty("patient", 3, DIAMOND), before + 100);
}

#[test]
fn a_slow_verifier_holds_no_more_than_its_places() {
    let receiver = HttpReceiver::start();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut g = game(Some(format!(
        "http://{}/verify",
        silent.local_addr().unwrap()
    )));
    g.s.services.settings.purchase_verifier.timeout = Duration::from_secs(2);
    g.s.services.settings.purchase_verifier.in_flight = InFlight::new(2);
    let places = g.s.services.settings.purchase_verifier.in_flight.clone();
    let t = g.player("queue", "Queue");
    let before = g.qty("queue", 3, DIAMOND);
    std::thread::scope(|scope| {
        // Two purchases wait on a verifier that never answers: both places taken.
        let waiting: Vec<_> = ["S-1", "S-2"]
            .into_iter()
            .map(|order| {
                let (g, t) = (&g, &t);
                scope.spawn(move || {
                    g.call(t, "purchase_success", buy(order, "DIAMOND_MIN", "Queue"))
                        .status
                })
            })
            .collect();
        let done = testkit::poll_until(WAIT, || places.running() >= 2);
        assert!(done.is_some(), "the two never reached the verifier");
        // A third is told to try later at once, while the two still wait: it takes no
        // job thread for the verifier's time.
        let r = g.call(&t, "purchase_success", buy("S-3", "DIAMOND_MIN", "Queue"));
        assert_status(&r, 94, "");
        assert!(
            waiting.iter().all(|w| !w.is_finished()),
            "the third was answered before the waiting two"
        );
        assert_eq!(places.running(), 2);
        // Other functions of the player are served meanwhile.
        assert_eq!(g.call(&t, "get_info_player", json!({})).status, 0);
        for w in waiting {
            assert_eq!(w.join().unwrap(), 94, "the verifier never answered");
        }
    });
    assert_eq!(places.running(), 0, "every place given back");
    assert_eq!(g.qty("queue", 3, DIAMOND), before);
    // The verifier answers again: the refused order is credited on retry.
    g.s.services.settings.purchase_verifier.url = store(&receiver).unwrap();
    accept(&receiver, "S-3", "DIAMOND_MIN");
    g.ok(&t, "purchase_success", buy("S-3", "DIAMOND_MIN", "Queue"));
    assert_eq!(g.qty("queue", 3, DIAMOND), before + 100);
    drop(silent);
}

#[test]
fn concurrent_replays_of_one_order_credit_it_once() {
    let receiver = HttpReceiver::start();
    let g = game(store(&receiver));
    let t = g.player("racer", "Racer");
    let before = g.qty("racer", 3, DIAMOND);
    accept(&receiver, "RACE-1", "DIAMOND_LARGE");
    let statuses = at_once(12, |_| {
        g.call(
            &t,
            "purchase_success",
            buy("RACE-1", "DIAMOND_LARGE", "Racer"),
        )
        .status
    });
    assert_eq!(count(&statuses, 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 96), 11, "{statuses:?}");
    assert_eq!(g.qty("racer", 3, DIAMOND), before + 1000);
    assert_eq!(purchases(&g, "RACE-1"), 1);

    // Many players claiming one accepted order at once: one of them is credited.
    let players: Vec<String> = (0..6)
        .map(|i| g.player(&format!("r{i}"), &format!("R{i}")))
        .collect();
    let held = |g: &Game| -> Vec<u64> {
        (0..6)
            .map(|i| g.qty(&format!("r{i}"), 3, DIAMOND))
            .collect()
    };
    let before = held(&g);
    accept(&receiver, "RACE-2", "DIAMOND_MIN");
    let statuses = at_once(6, |i| {
        g.call(
            &players[i],
            "purchase_success",
            buy("RACE-2", "DIAMOND_MIN", &format!("R{i}")),
        )
        .status
    });
    assert_eq!(count(&statuses, 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 96), 5, "{statuses:?}");
    let gained: u64 = held(&g).iter().zip(&before).map(|(a, b)| a - b).sum();
    assert_eq!(gained, 100);
    assert_eq!(purchases(&g, "RACE-2"), 1);
}

#[test]
fn many_orders_at_once_on_one_balance_are_each_credited_exactly() {
    // Operator credits (no verifier): twenty different orders for one player at once.
    let g = game(None);
    g.player("whale", "Whale");
    let gm = admin(&g);
    let before = g.qty("whale", 3, DIAMOND);
    let statuses = at_once(20, |i| {
        g.call(
            &gm,
            "purchase_success",
            buy(&format!("W-{i}"), "DIAMOND_MIN", "Whale"),
        )
        .status
    });
    assert_eq!(count(&statuses, 0), 20, "{statuses:?}");
    assert_eq!(g.qty("whale", 3, DIAMOND), before + 20 * 100);
    let rows: u64 = g
        .db()
        .query_first("SELECT COUNT(*) FROM purchases WHERE unique_id = 'whale'")
        .unwrap()
        .unwrap();
    assert_eq!(rows, 20);
}

#[test]
fn bad_purchases_are_refused_before_the_verifier_is_asked() {
    let receiver = HttpReceiver::start();
    let g = game(store(&receiver));
    let t = g.player("bad", "Bad");
    g.player("other", "Other");
    let before = g.qty("bad", 3, DIAMOND);
    accept(&receiver, "X-1", "DIAMOND_MIN");
    for (order, status) in [
        (buy("X-1", "DIAMOND_HUGE", "Bad"), 98),
        (buy("X-1", "ROLE_SEGMENT_STAR_1", "Bad"), 98),
        (buy("X-1", "x'; DROP TABLE purchases; --", "Bad"), 98),
        (buy("X-1", "DIAMOND_MIN", "Other"), 99),
        (buy("X-1", "DIAMOND_MIN", "Nobody"), 99),
        (buy("X-1", "DIAMOND_MIN", "bad"), 99),
        (
            json!({"pid": "DIAMOND_MIN", "order_id": "X-1", "channel": "apple", "user_name": "Bad", "currency": "EUR"}),
            93,
        ),
    ] {
        let r = g.call(&t, "purchase_success", order.clone());
        assert_status(&r, status, format_args!("{order}"));
    }
    let full = buy("X-1", "DIAMOND_MIN", "Bad");
    for field in ["pid", "order_id", "channel", "user_name", "currency"] {
        let mut order = full.clone();
        order.as_object_mut().unwrap().remove(field);
        let r = g.call(&t, "purchase_success", order);
        assert_eq!(r.status, 13, "{field}");
        assert!(
            r.data["reason"].as_str().unwrap().contains(field),
            "{field}"
        );
        let mut order = full.clone();
        order[field] = json!(7);
        let r = g.call(&t, "purchase_success", order);
        assert_eq!(r.status, 13, "{field} mistyped");
        assert!(
            r.data["reason"].as_str().unwrap().contains(field),
            "{field}"
        );
    }
    for (field, value) in [
        ("order_id", json!("")),
        ("order_id", json!("a".repeat(129))),
        ("order_id", json!("X-1\r\nX-2")),
        ("order_id", json!(" X-1")),
        ("channel", json!("")),
        ("channel", json!("c".repeat(33))),
        ("receipt", json!("r".repeat(64 * 1024 + 1))),
        ("receipt", json!(5)),
    ] {
        let mut order = full.clone();
        order[field] = value;
        let r = g.call(&t, "purchase_success", order);
        assert_status(&r, 13, format_args!("{field}"));
    }
    // No player in this world: the shared 17.
    let stranger = g.s.token("stranger", TokenKind::Session, Some("s0"), None);
    assert_eq!(
        g.call(&stranger, "purchase_success", full.clone()).status,
        17
    );
    // No world named: 14.
    let r = g.s.call(json!({"function": "purchase_success",
        "data": {"token": g.s.token("bad", TokenKind::Account, None, None),
                 "pid": "DIAMOND_MIN", "order_id": "X-1", "channel": "apple",
                 "user_name": "Bad", "currency": "RMB"}}));
    assert_status(&r, 14, "");

    std::thread::sleep(Duration::from_millis(100));
    assert!(receiver.requests().is_empty(), "the store was never asked");
    assert_eq!(g.qty("bad", 3, DIAMOND), before);
    assert_eq!(g.qty("other", 3, DIAMOND), g.qty("bad", 3, DIAMOND));
    assert_eq!(purchases(&g, "X-1"), 0);
    // The well-formed one passes.
    g.ok(&t, "purchase_success", full);
    assert_eq!(g.qty("bad", 3, DIAMOND), before + 100);
}

#[test]
fn without_a_verifier_only_an_admin_credits_and_names_the_player() {
    let g = game(None);
    let t = g.player("fan", "Fan");
    let before = g.qty("fan", 3, DIAMOND);
    let order = buy("SUPPORT-1", "DIAMOND_MIN", "Fan");
    let account = g.s.token("fan", TokenKind::Account, None, None);
    for token in [&t, &account] {
        let r = g.call(token, "purchase_success", order.clone());
        assert_status(&r, 15, "");
        assert_eq!(r.message, "permission denied");
    }
    // Refused before anything is read: even a malformed request is 15.
    assert_eq!(g.call(&t, "purchase_success", json!({})).status, 15);
    assert_eq!(g.qty("fan", 3, DIAMOND), before);

    let gm = admin(&g);
    let r = g.ok(&gm, "purchase_success", order.clone());
    assert_eq!(r["remaining"], json!({"iid": 5, "qty": before + 100}));
    assert_eq!(g.qty("fan", 3, DIAMOND), before + 100);
    let row: Option<(u8, Option<String>)> = g
        .db()
        .exec_first(
            "SELECT verified, credited_by FROM purchases WHERE order_id = 'SUPPORT-1'",
            (),
        )
        .unwrap();
    assert_eq!(row, Some((0, Some("admin:gm-1".into()))));
    // The same order again, or for someone else: 96; an unknown name: 99.
    assert_eq!(g.call(&gm, "purchase_success", order).status, 96);
    g.player("fan2", "Fan2");
    assert_eq!(
        g.call(
            &gm,
            "purchase_success",
            buy("SUPPORT-1", "DIAMOND_MIN", "Fan2")
        )
        .status,
        96
    );
    assert_eq!(
        g.call(
            &gm,
            "purchase_success",
            buy("SUPPORT-2", "DIAMOND_MIN", "Nobody")
        )
        .status,
        99
    );
    assert_eq!(g.qty("fan", 3, DIAMOND), before + 100);
    // A VIP card for the named player.
    let r = g.call(
        &gm,
        "purchase_success",
        buy("SUPPORT-3", "VIP_CARD_PERMANENT", "Fan"),
    );
    assert_status(&r, 1, "");
    assert_eq!(r.data["cooling_time"], -1);
    assert_eq!(g.ok(&t, "get_info_vip", json!({}))["perpetual_card"], true);
}

// ------------------------------------------------------------------------------ exchange

fn create(g: &Game, code: &str, pid: &str, receive: i64, valid_seconds: i64) -> Map {
    g.ok(
        &admin(g),
        "create_exchange_code",
        json!({"game_id": "lukseun", "exchange_id": code, "pid": pid,
               "receive": receive, "valid_seconds": valid_seconds}),
    )
}

fn redeem(g: &Game, token: &str, code: &str) -> Response {
    g.call(
        token,
        "exchange_prop",
        json!({"game_id": "lukseun", "exchange_id": code}),
    )
}

fn remaining(g: &Game, code: &str) -> u64 {
    g.db()
        .exec_first(
            "SELECT remaining FROM exchange_codes WHERE game_id = 'lukseun' AND code = ?",
            (code,),
        )
        .unwrap()
        .unwrap()
}

#[test]
fn a_code_is_redeemed_once_per_player_until_used_up_or_expired() {
    let g = game(None);
    let made = create(&g, "SPRING2024", "DIAMOND_MIN", 2, 86_400);
    assert_eq!(
        Value::Object(made),
        json!({"game_id": "lukseun", "exchange_id": "SPRING2024", "pid": "DIAMOND_MIN",
               "receive": 2, "etime": "2024-03-02 12:00:00"})
    );
    let (a, b, c) = (g.player("a", "A"), g.player("b", "B"), g.player("c", "C"));
    let before = g.qty("a", 3, DIAMOND);
    let r = redeem(&g, &a, "SPRING2024");
    assert_status(&r, 0, "");
    assert_eq!(
        Value::Object(r.data),
        json!({"vip_card": {},
               "item": {"remaining": {"iid": 5, "qty": before + 100}, "reward": {"iid": 5, "qty": 100}},
               "etime": "2024-03-02 12:00:00", "receive": 1})
    );
    // Again by the same player: 94 (the original let it redeem until the code ran out).
    assert_eq!(redeem(&g, &a, "SPRING2024").status, 94);
    assert_eq!(g.qty("a", 3, DIAMOND), before + 100);
    assert_eq!(redeem(&g, &b, "SPRING2024").data["receive"], 0);
    assert_eq!(redeem(&g, &c, "SPRING2024").status, 98);
    assert_eq!(remaining(&g, "SPRING2024"), 0);
    // Codes are exact: other case, other game, unknown, hostile: 99.
    for (game_id, code) in [
        ("lukseun", "spring2024"),
        ("other", "SPRING2024"),
        ("lukseun", "NOPE"),
        ("lukseun", "x\" OR 1=1 -- "),
        ("lukseun", ""),
        ("lukseun", &"A".repeat(65)),
    ] {
        let r = g.call(
            &c,
            "exchange_prop",
            json!({"game_id": game_id, "exchange_id": code}),
        );
        assert_status(&r, 99, format_args!("{game_id}/{code}"));
    }
    for data in [
        json!({"game_id": "lukseun"}),
        json!({"exchange_id": "SPRING2024"}),
        json!({"game_id": 1, "exchange_id": "SPRING2024"}),
    ] {
        assert_eq!(g.call(&c, "exchange_prop", data).status, 13);
    }

    // Expiry on the context's clock: valid through its last second, 97 after.
    create(&g, "SHORT", "EXP_POINT_MIN", 10, 60);
    g.s.services.clock.advance(60);
    assert_eq!(redeem(&g, &a, "SHORT").status, 0);
    g.s.services.clock.advance(1);
    assert_eq!(redeem(&g, &b, "SHORT").status, 97);
    assert_eq!(remaining(&g, "SHORT"), 9);

    // A VIP card code activates the card.
    create(&g, "VIPDAY", "VIP_CARD_ULTIMATE", 5, 600);
    let r = redeem(&g, &c, "VIPDAY");
    assert_status(&r, 0, "");
    assert_eq!(
        r.data["vip_card"],
        json!({"cooling_time": 31 * 86_400, "card_id": 27})
    );
    assert_eq!(r.data["item"], json!({}));
    assert_eq!(g.ok(&c, "get_info_vip", json!({}))["max_card"], true);

    // A player with no player row in the world: 17.
    let stranger = g.s.token("stranger", TokenKind::Session, Some("s0"), None);
    assert_eq!(redeem(&g, &stranger, "VIPDAY").status, 17);
}

#[test]
fn the_last_use_of_a_code_goes_to_exactly_one_of_many_players() {
    let g = game(None);
    create(&g, "LAST", "DIAMOND_MIN", 1, 600);
    let tokens: Vec<String> = (0..10)
        .map(|i| g.player(&format!("p{i}"), &format!("P{i}")))
        .collect();
    let before: Vec<u64> = (0..10)
        .map(|i| g.qty(&format!("p{i}"), 3, DIAMOND))
        .collect();
    let statuses = at_once(10, |i| redeem(&g, &tokens[i], "LAST").status);
    assert_eq!(count(&statuses, 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 98), 9, "{statuses:?}");
    let gained: u64 = (0..10)
        .map(|i| g.qty(&format!("p{i}"), 3, DIAMOND) - before[i])
        .sum();
    assert_eq!(gained, 100);
    assert_eq!(remaining(&g, "LAST"), 0);

    // One player racing itself on a code of many uses: one redemption.
    create(&g, "MANY", "DIAMOND_MIN", 1000, 600);
    let before = g.qty("p0", 3, DIAMOND);
    let statuses = at_once(10, |_| redeem(&g, &tokens[0], "MANY").status);
    assert_eq!(count(&statuses, 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 94), 9, "{statuses:?}");
    assert_eq!(g.qty("p0", 3, DIAMOND), before + 100);
    assert_eq!(remaining(&g, "MANY"), 999);
}

#[test]
fn only_operators_create_codes_and_their_arguments_are_checked() {
    let g = game(None);
    let t = g.player("player", "Player");
    let data = json!({"game_id": "lukseun", "exchange_id": "MINE", "pid": "DIAMOND_BAG",
                      "receive": 1, "valid_seconds": 600});
    assert_eq!(g.call(&t, "create_exchange_code", data.clone()).status, 15);
    let gm = admin(&g);
    g.ok(&gm, "create_exchange_code", data.clone());
    assert_eq!(g.call(&gm, "create_exchange_code", data.clone()).status, 99);
    for (field, value, status) in [
        ("pid", json!("DIAMOND_HUGE"), 98),
        ("pid", json!("WEAPON_STAR_1"), 98),
        ("exchange_id", json!("a b"), 97),
        ("exchange_id", json!("x'--"), 97),
        ("exchange_id", json!("😀"), 97),
        ("exchange_id", json!("A".repeat(65)), 97),
        ("game_id", json!(""), 97),
        ("game_id", json!("g\"; --"), 97),
        ("receive", json!(0), 13),
        ("receive", json!(-1), 13),
        ("receive", json!(i64::MAX), 13),
        ("valid_seconds", json!(0), 13),
        ("valid_seconds", json!(-60), 13),
        ("valid_seconds", json!(1e12), 13),
        ("pid", json!(null), 13),
    ] {
        let mut bad = data.clone();
        bad["exchange_id"] = json!("OTHER");
        bad[field] = value.clone();
        let r = g.call(&gm, "create_exchange_code", bad);
        assert_status(&r, status, format_args!("{field} = {value}"));
    }
    // Without `exchange_id` (or with ""), the server makes one, and it works.
    let mut made = Vec::new();
    for code in [None, Some("")] {
        let mut d = data.clone();
        match code {
            None => drop(d.as_object_mut().unwrap().remove("exchange_id")),
            Some(c) => d["exchange_id"] = json!(c),
        }
        let r = g.ok(&gm, "create_exchange_code", d);
        let code = r["exchange_id"].as_str().unwrap().to_string();
        assert_eq!(code.len(), 16);
        made.push(code);
    }
    assert_ne!(made[0], made[1]);
    let before = g.qty("player", 3, DIAMOND);
    assert_eq!(redeem(&g, &t, &made[0]).status, 0);
    assert_eq!(g.qty("player", 3, DIAMOND), before + 100_000);
    let rows: u64 = g
        .db()
        .query_first("SELECT COUNT(*) FROM exchange_codes")
        .unwrap()
        .unwrap();
    assert_eq!(rows, 3);
}

// ------------------------------------------------------------------------------ schema

#[test]
fn players_of_the_schema_before_migration_15_keep_their_data() {
    let (_server, db, before) = schema_before(15, 2);
    let mut conn = db.conn().unwrap();
    for insert in [
        "INSERT INTO players (world, unique_id, gn, level) VALUES ('s0', 'old', 'Old', 30)",
        "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', 'old', 3, 5, 777)",
        "INSERT INTO vip (world, unique_id, exp) VALUES ('s0', 'old', 120)",
    ] {
        conn.query_drop(insert).unwrap();
    }
    assert_eq!(
        db::migrate_with(&db, &db::MIGRATIONS[..=before]).unwrap(),
        [15]
    );
    let kept: Vec<(String, i64)> = conn
        .query("SELECT gn, level FROM players WHERE unique_id = 'old'")
        .unwrap();
    assert_eq!(kept, [("Old".to_string(), 30)]);
    let qty: Option<u64> = conn
        .query_first("SELECT qty FROM items WHERE unique_id = 'old' AND item_id = 5")
        .unwrap();
    assert_eq!(qty, Some(777));
    let exp: Option<u64> = conn
        .query_first("SELECT exp FROM vip WHERE unique_id = 'old'")
        .unwrap();
    assert_eq!(exp, Some(120));
    for table in ["exchange_codes", "exchange_redemptions", "purchases"] {
        let rows: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {table}"))
            .unwrap();
        assert_eq!(rows, Some(0), "{table} starts empty");
    }
}
