//! The dark market as the original's darkmarket.py answers it, against real MariaDB and
//! Redis through the real handler: offers drawn at the first visit and each refresh period
//! (the test moves `Services.clock`), free refreshes then paid ones, each offer sold once for
//! its price, bad input, exact balances under concurrent buys and refreshes, and an upgrade
//! from a database before migration 16.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::{Clock, Seeds};

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;
const HOUR: i64 = 3600;
/// The refresh period of player.json's dark_market (3 hours).
const PERIOD: i64 = 3 * HOUR;

fn start() -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(NOON));
    g.s.services.seeds = Arc::new(Seeds::fixed(14));
    g
}

/// Asserts `function` answers `status`; answers its data.
fn answers(g: &Game, token: &str, function: &str, data: Value, status: i32) -> Value {
    Value::Object(g.s.expect_as(token, function, data, status).data)
}

/// The player's offers, as get_all_market answers them (which may draw new ones).
fn market(g: &Game, token: &str) -> Value {
    let r = g.call(token, "get_all_market", json!({}));
    assert!(matches!(r.status, 0 | 1), "{}", r.to_json());
    r.data["dark_markets"].clone()
}

/// Puts an unbought offer in slot `pid`: `qty` of `gid`:`mid` for `amt` diamonds.
fn set_offer(g: &Game, uid: &str, pid: u32, gid: u32, mid: u32, qty: u64, amt: u64) {
    g.db()
        .exec_drop(
            "INSERT INTO dark_market_offers (world, unique_id, pid, gid, mid, qty, cid, amt, bought) \
             VALUES ('s0', ?, ?, ?, ?, ?, 5, ?, 0) ON DUPLICATE KEY UPDATE gid = VALUES(gid), \
             mid = VALUES(mid), qty = VALUES(qty), cid = 5, amt = VALUES(amt), bought = 0",
            (uid, pid, gid, mid, qty, amt),
        )
        .unwrap();
}

fn refreshable(g: &Game, uid: &str) -> Option<u32> {
    g.db()
        .exec_first(
            "SELECT refreshable FROM dark_market WHERE world = 's0' AND unique_id = ?",
            (uid,),
        )
        .unwrap()
}

fn bought(g: &Game, uid: &str) -> Vec<u32> {
    g.db()
        .exec(
            "SELECT pid FROM dark_market_offers WHERE world = 's0' AND unique_id = ? AND bought \
             ORDER BY pid",
            (uid,),
        )
        .unwrap()
}

fn advance(g: &Game, secs: i64) {
    g.s.services.clock.advance(secs);
}

#[test]
fn the_market_opens_with_offers_drawn_from_the_config() {
    let g = start();
    let t = g.player("p", "Pat");
    // nothing to refresh or buy before the first visit
    assert_eq!(
        g.fails(&t, "refresh_market", json!({}), 99),
        "You have not yet done an automatic refresh"
    );
    g.fails(&t, "darkmarket_transaction", json!({"pid": 0}), 98);
    assert_eq!(refreshable(&g, "p"), None, "refusals store nothing");

    let r = g.call(&t, "get_all_market", json!({}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (0, "Dark market refreshed successfully")
    );
    let first = r.data["dark_markets"].clone();
    let offers = first.as_array().unwrap();
    assert_eq!(offers.len(), 9);
    for (pid, o) in offers.iter().enumerate() {
        assert_eq!(o["pid"], pid);
        let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["amt", "cid", "gid", "mid", "pid", "qty"]);
        assert!([0, 2, 3].contains(&o["gid"].as_u64().unwrap()), "{o}");
        assert_eq!(o["cid"], 5, "priced in diamonds");
        assert!(o["qty"].as_u64().unwrap() >= 1 && o["amt"].as_u64().unwrap() >= 1);
    }
    assert_eq!(r.data["refresh_time"], PERIOD);
    assert_eq!(r.data["refreshable"], 3);
    assert_eq!(r.data["config"], json!({"refresh_diamond": 100}));

    // a look changes nothing; with every free refresh there, the period starts again
    advance(&g, PERIOD - 1);
    let r = g.call(&t, "get_all_market", json!({}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (1, "Get all black market information")
    );
    assert_eq!(r.data["dark_markets"], first);
    assert_eq!(
        (
            r.data["refresh_time"].clone(),
            r.data["refreshable"].clone()
        ),
        (json!(PERIOD), json!(3))
    );
    // a whole period without a look: new offers
    advance(&g, PERIOD);
    let again = answers(&g, &t, "get_all_market", json!({}), 0);
    assert_ne!(again["dark_markets"], first);
    assert_eq!(again["refreshable"], 3);

    let nobody = g.session("nobody");
    for (function, data) in [
        ("get_all_market", json!({})),
        ("refresh_market", json!({})),
        ("darkmarket_transaction", json!({"pid": 0})),
    ] {
        g.fails(&nobody, function, data, 17);
    }
}

#[test]
fn free_refreshes_come_back_with_the_clock_then_refreshes_cost_diamonds() {
    let g = start();
    let t = g.player("p", "Pat");
    let opened = market(&g, &t);
    let mut last = opened;
    for left in [2, 1, 0] {
        let r = answers(&g, &t, "refresh_market", json!({}), 0);
        assert_eq!(r["refreshable"], left);
        assert_eq!(r["diamond"], json!({"remaining": 100, "reward": 0}));
        assert_eq!(r["refresh_diamond"], 100);
        assert_eq!(
            r["refresh_time"], PERIOD,
            "the period started at the first use"
        );
        assert_eq!(r["dark_markets"].as_array().unwrap().len(), 9);
        assert_ne!(r["dark_markets"], last, "new offers");
        last = r["dark_markets"].clone();
    }
    advance(&g, HOUR);
    let r = answers(&g, &t, "get_all_market", json!({}), 1);
    assert_eq!(
        (r["refresh_time"].clone(), r["refreshable"].clone()),
        (json!(2 * HOUR), json!(0))
    );
    assert_eq!(r["dark_markets"], last);

    // no free refresh: 100 diamonds, the 100 a new player has
    let r = answers(&g, &t, "refresh_market", json!({}), 0);
    assert_eq!(r["diamond"], json!({"remaining": 0, "reward": -100}));
    assert_eq!(
        (r["refreshable"].clone(), r["refresh_time"].clone()),
        (json!(0), json!(2 * HOUR))
    );
    let paid_for = r["dark_markets"].clone();
    assert_eq!(
        g.fails(&t, "refresh_market", json!({}), 98),
        "Insufficient diamond"
    );
    assert_eq!(g.qty("p", 3, 5), 0);
    assert_eq!(market(&g, &t), paid_for, "a refused refresh draws nothing");

    // the period ends: refresh_market counts it first, so the refresh is free
    advance(&g, 2 * HOUR);
    let r = answers(&g, &t, "refresh_market", json!({}), 0);
    assert_eq!(r["diamond"], json!({"remaining": 0, "reward": 0}));
    assert_eq!(
        (r["refreshable"].clone(), r["refresh_time"].clone()),
        (json!(0), json!(PERIOD))
    );
    // two periods and a second: two back, the third period running since its start
    advance(&g, 2 * PERIOD + 1);
    let r = answers(&g, &t, "get_all_market", json!({}), 0);
    assert_eq!(
        (r["refreshable"].clone(), r["refresh_time"].clone()),
        (json!(2), json!(PERIOD - 1))
    );
    // the third: all back, the period starts again now
    advance(&g, PERIOD);
    let r = answers(&g, &t, "get_all_market", json!({}), 0);
    assert_eq!(
        (r["refreshable"].clone(), r["refresh_time"].clone()),
        (json!(3), json!(PERIOD))
    );
    assert_eq!(refreshable(&g, "p"), Some(3));
}

#[test]
fn an_offer_is_bought_once_for_its_price() {
    let g = start();
    let t = g.player("p", "Pat");
    market(&g, &t);
    // two 4-star universal segments (3:40) for 30 diamonds
    set_offer(&g, "p", 0, 3, 40, 2, 30);
    g.set_qty("p", 3, 5, 29);
    assert_eq!(
        g.fails(&t, "darkmarket_transaction", json!({"pid": 0}), 96),
        "Insufficient currency"
    );
    assert_eq!(
        (g.qty("p", 3, 5), g.qty("p", 3, 40)),
        (29, 0),
        "nothing paid or given"
    );
    assert!(bought(&g, "p").is_empty());

    g.set_qty("p", 3, 5, 30);
    let r = answers(&g, &t, "darkmarket_transaction", json!({"pid": 0}), 0);
    assert_eq!(
        r,
        json!({
            "reward": {"pid": 0, "gid": 3, "mid": 40, "qty": 2, "cid": 5, "amt": -30},
            "remaining": {"gid": 3, "mid": 40, "qty": 2, "cid": 5, "amt": 0},
        })
    );
    assert_eq!((g.qty("p", 3, 5), g.qty("p", 3, 40)), (0, 2));
    g.set_qty("p", 3, 5, 1000);
    assert_eq!(
        g.fails(&t, "darkmarket_transaction", json!({"pid": 0}), 97),
        "The item has been purchased"
    );
    assert_eq!(g.qty("p", 3, 5), 1000);
    let shown = market(&g, &t);
    assert_eq!(shown[0]["amt"], -30, "a sold offer shows its amt negative");

    // weapon segments (group 0), as a decimal string pid
    set_offer(&g, "p", 1, 0, 401, 3, 15);
    let r = answers(&g, &t, "darkmarket_transaction", json!({"pid": "1"}), 0);
    assert_eq!(
        r["remaining"],
        json!({"gid": 0, "mid": 401, "qty": 3, "cid": 5, "amt": 985})
    );
    assert_eq!(g.qty("p", 0, 401), 3);
    // role segments (group 2) add to those held
    g.set_qty("p", 2, 405, 5);
    set_offer(&g, "p", 2, 2, 405, 4, 20);
    let r = answers(&g, &t, "darkmarket_transaction", json!({"pid": 2}), 0);
    assert_eq!(r["remaining"]["qty"], 9);
    // a skill (group 1) is learned at level 1, once
    set_offer(&g, "p", 3, 1, 7, 1, 50);
    let r = answers(&g, &t, "darkmarket_transaction", json!({"pid": 3}), 0);
    assert_eq!(
        r["remaining"],
        json!({"gid": 1, "mid": 7, "qty": 1, "cid": 5, "amt": 915})
    );
    let skills = g.ok(&t, "get_all_skill", json!({}));
    assert_eq!(skills["skills"], json!([{"sid": 7, "level": 1}]));
    set_offer(&g, "p", 4, 1, 7, 1, 50);
    assert_eq!(
        g.fails(&t, "darkmarket_transaction", json!({"pid": 4}), 95),
        "You already have this skill"
    );
    // a group the market does not sell
    set_offer(&g, "p", 5, 7, 1, 1, 50);
    g.fails(&t, "darkmarket_transaction", json!({"pid": 5}), 94);
    assert_eq!(g.qty("p", 3, 5), 915, "refused purchases pay nothing");
    assert_eq!(bought(&g, "p"), [0, 1, 2, 3]);

    for (pid, code) in [
        (json!(-1), 99),
        (json!(9), 99),
        (json!(i64::MAX), 99),
        (json!(i64::MIN), 99),
        (json!("-1"), 99),
        (json!(18_446_744_073_709_551_615u64), 13),
        (json!("x"), 13),
        (json!(1.5), 13),
        (json!(null), 13),
        (json!(true), 13),
        (json!([0]), 13),
        (json!("0; DROP TABLE dark_market_offers"), 13),
    ] {
        g.fails(&t, "darkmarket_transaction", json!({"pid": pid}), code);
    }
    assert_eq!(
        g.call(&t, "darkmarket_transaction", json!({})).data["reason"],
        "`pid` is missing"
    );
    assert_eq!(g.qty("p", 3, 5), 915);

    // a refresh puts unsold offers in every slot
    answers(&g, &t, "refresh_market", json!({}), 0);
    assert!(bought(&g, "p").is_empty());
    assert!(market(&g, &t)
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["amt"].as_i64().unwrap() > 0));

    // another player has a market of its own: none before its first visit
    let other = g.player("q", "Quinn");
    g.set_qty("q", 3, 5, 100_000);
    let before = market(&g, &t);
    g.fails(&other, "darkmarket_transaction", json!({"pid": 0}), 98);
    market(&g, &other);
    answers(&g, &other, "darkmarket_transaction", json!({"pid": 0}), 0);
    assert_eq!(
        market(&g, &t),
        before,
        "the other player's purchase is its own"
    );
    assert!(bought(&g, "p").is_empty());
}

#[test]
fn concurrent_buys_sell_each_offer_once_and_pay_exactly() {
    let g = start();
    let t = g.player("p", "Pat");
    market(&g, &t);
    set_offer(&g, "p", 0, 3, 40, 2, 30);
    g.set_qty("p", 3, 5, 1000);
    let statuses = g.statuses_at_once(&t, 12, |_| ("darkmarket_transaction", json!({"pid": 0})));
    assert_eq!(count(&statuses, 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 97), 11, "{statuses:?}");
    assert_eq!((g.qty("p", 3, 5), g.qty("p", 3, 40)), (970, 2));

    // nine offers of 100 diamonds each, 450 diamonds: four are bought
    for pid in 0..9 {
        set_offer(&g, "p", pid, 3, 40, 1, 100);
    }
    g.set_qty("p", 3, 5, 450);
    let statuses = g.statuses_at_once(&t, 9, |i| ("darkmarket_transaction", json!({"pid": i})));
    assert_eq!(count(&statuses, 0), 4, "{statuses:?}");
    assert_eq!(count(&statuses, 96), 5, "{statuses:?}");
    assert_eq!((g.qty("p", 3, 5), g.qty("p", 3, 40)), (50, 6));
    assert_eq!(bought(&g, "p").len(), 4);
}

#[test]
fn concurrent_refreshes_use_each_free_refresh_once_and_pay_for_the_rest() {
    let g = start();
    let t = g.player("p", "Pat");
    // eight first visits at once draw one market
    let statuses = g.statuses_at_once(&t, 8, |_| ("get_all_market", json!({})));
    assert_eq!(count(&statuses, 0), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 1), 7, "{statuses:?}");
    let rows: Option<u32> = g
        .db()
        .exec_first(
            "SELECT COUNT(*) FROM dark_market_offers WHERE world = 's0' AND unique_id = 'p'",
            (),
        )
        .unwrap();
    assert_eq!(rows, Some(9));

    // three free refreshes and 250 diamonds: two paid ones
    g.set_qty("p", 3, 5, 250);
    let statuses = g.statuses_at_once(&t, 10, |_| ("refresh_market", json!({})));
    assert_eq!(count(&statuses, 0), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 98), 5, "{statuses:?}");
    assert_eq!(g.qty("p", 3, 5), 50);
    assert_eq!(refreshable(&g, "p"), Some(0));
}

#[test]
fn a_broken_market_config_answers_16_and_keeps_nothing() {
    let mut g = start();
    let mut player = g.s.config.file("player").unwrap().clone();
    player["dark_market"]["T1"] = json!(["18", "no such good"]);
    g.s.config = g.s.config.overlay(&json!({ "player": player })).unwrap();
    let t = g.player("p", "Pat");
    g.fails(&t, "get_all_market", json!({}), 16);
    g.fails(&t, "refresh_market", json!({}), 16);
    g.fails(&t, "darkmarket_transaction", json!({"pid": 0}), 16);
    assert_eq!(refreshable(&g, "p"), None);
    assert_eq!(g.qty("p", 3, 5), 100);
}

#[test]
fn databases_of_version_13_keep_their_data_and_get_an_empty_market() {
    let (_server, db, _) = schema_before(14, 2);
    let mut conn = db.conn().unwrap();
    conn.query_drop(
        "INSERT INTO players (world, unique_id, gn, level, exp) VALUES ('s0', 'a', 'Ann', 3, 500);
         INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', 'a', 3, 5, 77)",
    )
    .unwrap();
    assert!(crate::db::migrate(&db).unwrap().contains(&16));
    let kept: Option<(String, u64)> = conn
        .exec_first(
            "SELECT p.gn, i.qty FROM players p JOIN items i USING (world, unique_id) \
             WHERE p.unique_id = 'a' AND i.grp = 3 AND i.item_id = 5",
            (),
        )
        .unwrap();
    assert_eq!(kept, Some(("Ann".to_string(), 77)));
    for table in ["dark_market", "dark_market_offers"] {
        let rows: Option<u64> = conn
            .exec_first(format!("SELECT COUNT(*) FROM {table}"), ())
            .unwrap();
        assert_eq!(rows, Some(0), "{table}");
    }
}
