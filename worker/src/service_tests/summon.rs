//! Summoning as the original's summoning.py answers it, against real MariaDB and Redis
//! through the real handler: the three stores, their refreshes by the clock and bought,
//! single pulls (free, half price, scrolls, the coin store's daily pulls), dozen pumps
//! (all cells, one payment, or nothing), integral steps, exact balances under concurrent
//! pulls, and an upgrade from the schema before migration 14.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::{Clock, Seeds};

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const STORES: [(&str, &str, &str, &str); 3] = [
    (
        "refresh_diamond_store",
        "buy_refresh_diamond",
        "single_pump_diamond",
        "dozen_pump_diamond",
    ),
    (
        "refresh_coin_store",
        "buy_refresh_coin",
        "single_pump_coin",
        "dozen_pump_coin",
    ),
    (
        "refresh_gift_store",
        "buy_refresh_gift",
        "single_pump_gift",
        "dozen_pump_gift",
    ),
];

fn start() -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(NOON));
    g.s.services.seeds = Arc::new(Seeds::fixed(14));
    g
}

fn clock(g: &Game) -> &Clock {
    &g.s.services.clock
}

/// Puts store `cid` of `uid` at `cells` (`(mid, wgt)` per pid), none pulled, for a day.
fn set_store(g: &Game, uid: &str, cid: u32, cells: &[(&str, u64)]) {
    let mut db = g.db();
    db.exec_drop(
        "DELETE FROM summon_cells WHERE world = 's0' AND unique_id = ? AND cid = ?",
        (uid, cid),
    )
    .unwrap();
    for (pid, (mid, wgt)) in cells.iter().enumerate() {
        db.exec_drop(
            "INSERT INTO summon_cells (world, unique_id, cid, pid, mid, wgt, isb) \
             VALUES ('s0', ?, ?, ?, ?, ?, 0)",
            (uid, cid, pid, mid, wgt),
        )
        .unwrap();
    }
    db.exec_drop(
        "INSERT INTO summon_stores (world, unique_id, cid, ends, free_refresh) \
         VALUES ('s0', ?, ?, ?, 0) ON DUPLICATE KEY UPDATE ends = VALUES(ends)",
        (uid, cid, clock(g).now() + DAY),
    )
    .unwrap();
}

/// The store's cells as `(pid, mid, isb)`.
fn cells(g: &Game, uid: &str, cid: u32) -> Vec<(u32, String, u8)> {
    g.db()
        .exec(
            "SELECT pid, mid, isb FROM summon_cells WHERE world = 's0' AND unique_id = ? \
             AND cid = ? ORDER BY pid",
            (uid, cid),
        )
        .unwrap()
}

fn bought(g: &Game, uid: &str, cid: u32) -> usize {
    cells(g, uid, cid).iter().filter(|c| c.2 == 1).count()
}

/// The status and data of a call.
fn answer(g: &Game, token: &str, function: &str) -> (i32, Value) {
    let r = g.call(token, function, json!({}));
    (r.status, Value::from(r.data))
}

fn at_once(g: &Game, token: &str, n: usize, function: &str) -> Vec<(i32, Value)> {
    super::at_once(n, |_| answer(g, token, function))
}

fn count(answers: &[(i32, Value)], status: i32) -> usize {
    answers.iter().filter(|a| a.0 == status).count()
}

/// Twelve cells that make every kind of grant: segments, a skill (twice, the second a
/// scroll), items.
const MIXED: [(&str, u64); 12] = [
    ("0:401:30", 300),
    ("2:402:25", 300),
    ("1:5:1", 500),
    ("1:5:1", 500),
    ("3:18:2", 5000),
    ("3:20:1", 2000),
    ("0:501:30", 200),
    ("2:504:25", 200),
    ("3:1:2000", 5000),
    ("3:29:5", 5000),
    ("0:101:10", 5000),
    ("3:18:1", 5000),
];

// ------------------------------------------------------------------------------ stores

#[test]
fn stores_are_made_shown_and_refilled_when_their_time_is_over() {
    let g = start();
    let t = g.player("p", "Pat");
    let (status, new) = answer(&g, &t, "refresh_diamond_store");
    assert_eq!(status, 0, "{new}");
    let cells_of = |v: &Value| v["refresh"].as_array().unwrap().clone();
    let first = cells_of(&new);
    assert_eq!(first.len(), 12);
    for (pid, c) in first.iter().enumerate() {
        assert_eq!(c["pid"], pid);
        assert_eq!(c["isb"], 0);
        assert!(c["wgt"].as_u64().unwrap() > 0);
        assert_eq!(c["mid"].as_str().unwrap().split(':').count(), 3);
    }
    // every `must` goods entry is in the store
    for (gid, qty, ids) in [
        (0, 30, &[401, 402][..]),
        (0, 30, &[501, 502]),
        (2, 25, &[402, 403, 404, 405, 406, 407]),
        (2, 25, &[501, 504, 505, 506]),
    ] {
        assert!(
            first
                .iter()
                .any(|c| ids.iter().any(|id| c["mid"] == format!("{gid}:{id}:{qty}"))),
            "{gid} {ids:?} in {first:?}"
        );
    }
    assert_eq!(
        new["constraint"],
        json!({"cid": 5, "limit": 0, "cooling_refresh": 0, "cooling": 48 * HOUR,
               "qty": 200, "refresh": 50, "acp": 0})
    );
    clock(&g).advance(HOUR);
    let (status, shown) = answer(&g, &t, "refresh_diamond_store");
    assert_eq!(status, 1, "the store is kept: {shown}");
    assert_eq!(cells_of(&shown), first);
    assert_eq!(shown["constraint"]["cooling"], 47 * HOUR);
    let r = g.call(&t, "refresh_diamond_store", json!({}));
    assert_eq!(r.message, "get all refresh info");

    let (status, coin) = answer(&g, &t, "refresh_coin_store");
    assert_eq!(status, 0);
    assert_eq!(
        coin["constraint"],
        json!({"cid": 1, "limit": 12, "cooling_refresh": 0, "cooling": 48 * HOUR,
               "qty": 10000, "refresh": 20, "acp": 0})
    );
    let (status, gift) = answer(&g, &t, "refresh_gift_store");
    assert_eq!(status, 0);
    assert_eq!(
        gift["constraint"],
        json!({"cid": 16, "cooling_refresh": 0, "cooling": 48 * HOUR,
               "qty": 10, "refresh": 20, "acp": 0})
    );

    // the store's 48 hours are over: new cells, a new lifetime
    clock(&g).advance(47 * HOUR);
    let (status, renewed) = answer(&g, &t, "refresh_diamond_store");
    assert_eq!(status, 0, "{renewed}");
    assert_ne!(cells_of(&renewed), first);
    assert_eq!(renewed["constraint"]["cooling"], 48 * HOUR);

    // another player's store is its own
    let u = g.player("q", "Quinn");
    let (status, theirs) = answer(&g, &u, "refresh_diamond_store");
    assert_eq!(status, 0);
    assert_ne!(cells_of(&theirs), cells_of(&renewed));
    assert_eq!(answer(&g, &t, "refresh_diamond_store").0, 1);

    let nobody = g.session("nobody");
    for (refresh, buy, single, dozen) in STORES {
        for function in [refresh, buy, single, dozen] {
            g.fails(&nobody, function, json!({}), 17);
        }
    }
    g.fails(&nobody, "integral_convert", json!({}), 17);
}

#[test]
fn a_refresh_is_free_every_three_hours_and_else_costs_diamonds() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 5, 100);
    let (_, first) = answer(&g, &t, "refresh_coin_store");
    clock(&g).advance(HOUR);
    let (status, free) = answer(&g, &t, "buy_refresh_coin");
    assert_eq!(status, 0, "{free}");
    assert_eq!(free["consume"], json!({"remain_v": 100, "value": 0}));
    assert_eq!(free["constraint"]["cooling_refresh"], 3 * HOUR);
    assert_eq!(
        free["constraint"]["cooling"],
        47 * HOUR,
        "a refresh keeps the store's end"
    );
    assert_ne!(free["refresh"], first["refresh"]);
    assert_eq!(
        answer(&g, &t, "refresh_coin_store").1["refresh"],
        free["refresh"]
    );
    let (status, paid) = answer(&g, &t, "buy_refresh_coin");
    assert_eq!(status, 0);
    assert_eq!(paid["consume"], json!({"remain_v": 80, "value": 20}));
    assert_eq!(paid["constraint"]["cooling_refresh"], 3 * HOUR);
    // the diamond store's refresh costs 50 and has its own cooling
    let (_, d) = answer(&g, &t, "buy_refresh_diamond");
    assert_eq!(d["consume"], json!({"remain_v": 80, "value": 0}));
    let (_, d) = answer(&g, &t, "buy_refresh_diamond");
    assert_eq!(d["consume"], json!({"remain_v": 30, "value": 50}));
    let before = cells(&g, "p", 5);
    assert_eq!(
        g.fails(&t, "buy_refresh_diamond", json!({}), 99),
        "insufficient materials"
    );
    assert_eq!(g.qty("p", 3, 5), 30, "nothing paid");
    assert_eq!(cells(&g, "p", 5), before, "nothing refreshed");
    let (_, gift) = answer(&g, &t, "buy_refresh_gift");
    assert_eq!(gift["consume"]["value"], 0);
    let (_, gift) = answer(&g, &t, "buy_refresh_gift");
    assert_eq!(gift["consume"], json!({"remain_v": 10, "value": 20}));
    // three hours later it is free again
    clock(&g).advance(3 * HOUR);
    let (_, d) = answer(&g, &t, "buy_refresh_diamond");
    assert_eq!(d["consume"], json!({"remain_v": 10, "value": 0}));
}

// ------------------------------------------------------------------------------ pulls

#[test]
fn diamond_pulls_are_free_then_half_price_then_a_scroll_or_full() {
    let g = start();
    let t = g.player("p", "Pat");
    assert_eq!(g.qty("p", 3, 5), 100, "a new player's diamonds");
    set_store(&g, "p", 5, &MIXED);
    let mut pulled = Vec::new();
    let mut check_pull = |a: &Value, paid: &str, left: &str| {
        let pid = a["pid"].as_u64().unwrap() as usize;
        assert!(!pulled.contains(&pid), "{pid} pulled twice");
        pulled.push(pid);
        let mid = MIXED[pid].0;
        assert_eq!(a["reward"][0], paid, "{a}");
        assert_eq!(a["remaining"][0], left, "{a}");
        if mid.starts_with("1:") {
            assert_eq!(a["reward"][1], "1:5:1", "a new skill: {a}");
        } else {
            assert_eq!(a["reward"][1], mid, "{a}");
            let (group, id) = {
                let p: Vec<u32> = mid.split(':').map(|x| x.parse().unwrap()).collect();
                (p[0], p[1])
            };
            assert_eq!(
                a["remaining"][1],
                format!("{group}:{id}:{}", g.qty("p", group, id))
            );
        }
        assert_eq!(a["reward"][2], "3:44:5", "the integral: {a}");
        assert_eq!(a["reward"].as_array().unwrap().len(), 3);
    };
    let (status, a) = answer(&g, &t, "single_pump_diamond");
    assert_eq!(status, 0, "{a}");
    check_pull(&a, "3:5:0", "3:5:100");
    assert_eq!(a["remaining"][2], "3:44:5");
    assert_eq!(a["constraint"], json!({"limit": 1, "cooling": 12 * HOUR}));
    let (status, a) = answer(&g, &t, "single_pump_diamond");
    assert_eq!(status, 0, "{a}");
    check_pull(&a, "3:5:100", "3:5:0");
    assert_eq!(a["constraint"]["limit"], 2);
    // no diamonds, no scroll: refused, nothing changes
    assert_eq!(
        g.fails(&t, "single_pump_diamond", json!({}), 99),
        "insufficient materials"
    );
    assert_eq!(bought(&g, "p", 5), 2);
    assert_eq!(g.qty("p", 3, 44), 10);
    g.set_qty("p", 3, 45, 1);
    let (_, a) = answer(&g, &t, "single_pump_diamond");
    check_pull(&a, "3:45:1", "3:45:0");
    assert_eq!(a["constraint"]["limit"], 3);
    g.set_qty("p", 3, 5, 250);
    let (_, a) = answer(&g, &t, "single_pump_diamond");
    check_pull(&a, "3:5:200", "3:5:50");
    assert_eq!(bought(&g, "p", 5), 4);
    assert!(g.task("p", 9).is_some(), "PRO_SUMMONING");
    assert_eq!(g.achievement("p", 13), Some(4), "SUMMON_D");
    // the next game day starts with a free pull again
    clock(&g).advance(DAY);
    let (_, a) = answer(&g, &t, "single_pump_diamond");
    assert_eq!(a["reward"][0], "3:5:0");
    assert_eq!(a["constraint"]["limit"], 1);
}

#[test]
fn a_store_pulled_empty_refills_before_the_next_pull() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 16, 130);
    let cells12 = [("3:18:1", 1); 12];
    set_store(&g, "p", 16, &cells12);
    for i in 0..12 {
        let (status, a) = answer(&g, &t, "single_pump_gift");
        assert_eq!(status, 0, "{a}");
        assert_eq!(a["reward"][0], "3:16:10");
        assert_eq!(a["reward"][1], "3:18:1");
        assert_eq!(a["remaining"][1], format!("3:18:{}", i + 1));
        assert_eq!(a["reward"][2], "3:44:1");
        assert_eq!(a["constraint"], json!({"cooling": DAY}));
    }
    assert_eq!(bought(&g, "p", 16), 12);
    let (status, _) = answer(&g, &t, "single_pump_gift");
    assert_eq!(status, 0);
    assert_eq!(bought(&g, "p", 16), 1, "a new store, one cell pulled");
    assert_ne!(cells(&g, "p", 16)[0].1, "3:18:1", "the config's goods");
    assert_eq!(g.qty("p", 3, 16), 0);
    g.fails(&t, "single_pump_gift", json!({}), 99);
    assert_eq!(g.qty("p", 3, 44), 13);
    assert!(
        g.task("p", 8).is_none() && g.task("p", 9).is_none(),
        "no task"
    );
}

#[test]
fn coin_pulls_are_twelve_a_day_unless_paid_with_scrolls() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 1, 10_000 * 14 + 5);
    set_store(&g, "p", 1, &[("3:20:1", 1); 12]);
    for left in (0..12).rev() {
        let (status, a) = answer(&g, &t, "single_pump_coin");
        assert_eq!(status, 0, "{a}");
        assert_eq!(a["reward"][0], "3:1:10000");
        assert_eq!(a["constraint"]["limit"], left);
    }
    assert_eq!(
        g.fails(&t, "single_pump_coin", json!({}), 95),
        "Insufficient number of lucky draw"
    );
    g.fails(&t, "dozen_pump_coin", json!({}), 95);
    assert_eq!(g.qty("p", 3, 1), 20_005, "nothing paid");
    assert!(g.task("p", 8).is_some(), "BASIC_SUMMONING");
    // scrolls do not use the day's pulls
    g.set_qty("p", 3, 46, 13);
    let (status, a) = answer(&g, &t, "single_pump_coin");
    assert_eq!(status, 0, "{a}");
    assert_eq!(a["reward"][0], "3:46:1");
    assert_eq!(a["remaining"][0], "3:46:12");
    assert_eq!(a["constraint"]["limit"], 0);
    // a dozen of the 11 cells left in the new store: 11 scrolls
    let (status, a) = answer(&g, &t, "dozen_pump_coin");
    assert_eq!(status, 0, "{a}");
    assert_eq!(a["reward"][0], "3:46:11");
    assert_eq!(a["pid"].as_array().unwrap().len(), 11);
    assert_eq!(
        a["reward"].as_array().unwrap().last().unwrap(),
        "3:44:11",
        "one integral a cell, not doubled"
    );
    assert_eq!(a["constraint"]["limit"], 0);
    // the next day: a dozen of a full store in coins uses 12 pulls
    clock(&g).advance(DAY);
    g.set_qty("p", 3, 1, 120_000);
    g.set_qty("p", 3, 46, 0);
    set_store(&g, "p", 1, &[("3:20:1", 1); 12]);
    let (status, a) = answer(&g, &t, "dozen_pump_coin");
    assert_eq!(status, 0, "{a}");
    assert_eq!(a["reward"][0], "3:1:120000");
    assert_eq!(a["constraint"]["limit"], 0);
    g.fails(&t, "single_pump_coin", json!({}), 95);
}

#[test]
fn a_dozen_pump_pays_once_and_gives_every_cell_or_nothing() {
    let g = start();
    let t = g.player("p", "Pat");
    set_store(&g, "p", 5, &MIXED);
    g.set_qty("p", 3, 5, 2399);
    assert_eq!(
        g.fails(&t, "dozen_pump_diamond", json!({}), 99),
        "insufficient materials"
    );
    assert_eq!(g.qty("p", 3, 5), 2399);
    assert_eq!(bought(&g, "p", 5), 0);
    assert_eq!(g.qty("p", 3, 44), 0);
    assert_eq!(g.qty("p", 0, 401), 0, "nothing given");
    g.set_qty("p", 3, 5, 2400);
    let (status, a) = answer(&g, &t, "dozen_pump_diamond");
    assert_eq!(status, 0, "{a}");
    assert_eq!(a["pid"], json!((0..12).collect::<Vec<_>>()));
    assert_eq!(
        a["reward"],
        json!([
            "3:5:2400", "0:401:30", "2:402:25", "1:5:1", "3:6:1", "3:18:2", "3:20:1", "0:501:30",
            "2:504:25", "3:1:2000", "3:29:5", "0:101:10", "3:18:1", "3:44:120"
        ])
    );
    assert_eq!(
        a["remaining"],
        json!([
            "3:5:0", "0:401:30", "2:402:25", "1:5:1", "3:6:1", "3:18:2", "3:20:1", "0:501:30",
            "2:504:25", "3:1:7000", "3:29:5", "0:101:10", "3:18:3", "3:44:120"
        ])
    );
    let refill = a["refresh"].as_array().unwrap();
    assert_eq!(refill.len(), 12);
    assert!(refill.iter().all(|c| c["isb"] == 0));
    assert_eq!(bought(&g, "p", 5), 0, "the store refilled");
    assert_eq!(a["constraint"]["cooling"], DAY, "the store's end kept");
    assert_eq!(a["constraint"]["cid"], 5);
    let skills: Vec<(u32, u32)> = g
        .db()
        .exec(
            "SELECT skill_id, level FROM skills WHERE world = 's0' AND unique_id = 'p'",
            (),
        )
        .unwrap();
    assert_eq!(skills, [(5, 1)]);
    assert_eq!(g.achievement("p", 13), Some(12));
    // after a single pull (the day's free one), a dozen of the 11 left, no double integral
    answer(&g, &t, "single_pump_diamond");
    g.set_qty("p", 3, 5, 2200);
    let (status, a) = answer(&g, &t, "dozen_pump_diamond");
    assert_eq!(status, 0, "{a}");
    assert_eq!(a["reward"][0], "3:5:2200");
    assert_eq!(a["pid"].as_array().unwrap().len(), 11);
    assert_eq!(a["reward"].as_array().unwrap().last().unwrap(), "3:44:55");
    assert_eq!(g.achievement("p", 13), Some(24));
    // a dozen of scrolls when there are enough of them
    g.set_qty("p", 3, 45, 12);
    let (_, a) = answer(&g, &t, "dozen_pump_diamond");
    assert_eq!(a["reward"][0], "3:45:12");
    assert_eq!(g.qty("p", 3, 5), 0);
    // the gift store
    g.fails(&t, "dozen_pump_gift", json!({}), 99);
    g.set_qty("p", 3, 16, 120);
    let (status, a) = answer(&g, &t, "dozen_pump_gift");
    assert_eq!(status, 0, "{a}");
    assert_eq!(a["reward"][0], "3:16:120");
    assert_eq!(a["reward"].as_array().unwrap().last().unwrap(), "3:44:12");
    assert!(a["constraint"].get("limit").is_none());
}

// ------------------------------------------------------------------------------ integral

#[test]
fn integral_steps_give_roles_then_universal_segments() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 44, 199);
    assert_eq!(
        g.fails(&t, "integral_convert", json!({}), 99),
        "insufficient materials"
    );
    g.set_qty("p", 3, 44, 999);
    let mut got = Vec::new();
    for step in [200, 400] {
        let r = g.call(&t, "integral_convert", json!({}));
        let rid = r.data["rid"].as_u64().unwrap();
        assert!([301, 302, 303].contains(&rid), "{}", r.to_json());
        let duplicate = got.contains(&rid);
        got.push(rid);
        if duplicate {
            assert_eq!(r.status, 1);
            assert_eq!(r.data["reward_seg"], 25);
            assert_eq!(r.data["remain_seg"], 25);
        } else {
            assert_eq!((r.status, r.message.as_str()), (0, "You unlocked a role"));
            assert_eq!(r.data["reward_seg"], 0);
            assert_eq!(r.data["remain_seg"], 0);
        }
        assert_eq!(r.data["acp"], step);
        assert_eq!(r.data["star"], 1);
    }
    // 600 is role 403: locked with segments, unlocked now (GET_4R), segments kept
    g.set_qty("p", 2, 403, 7);
    let r = g.call(&t, "integral_convert", json!({}));
    assert_status(&r, 0, "");
    assert_eq!(
        Value::from(r.data),
        json!({"acp": 600, "rid": 403, "star": 1, "remain_seg": 7, "reward_seg": 0})
    );
    assert_eq!(g.achievement("p", 4), Some(1), "GET_4R");
    let all = g.ok(&t, "get_all_role", json!({}));
    assert!(Value::from(all).to_string().contains("403"));
    // 800 is the same roles again; 1000 is out of reach with 999
    let r = g.call(&t, "integral_convert", json!({}));
    assert!(matches!(r.status, 0 | 1) && r.data["acp"] == 800);
    g.fails(&t, "integral_convert", json!({}), 99);
    assert_eq!(g.qty("p", 3, 44), 999, "the role steps keep the integral");
    g.set_qty("p", 3, 44, 1005);
    let r = g.call(&t, "integral_convert", json!({}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (2, "You get the universal segments")
    );
    assert_eq!(
        Value::from(r.data),
        json!({"acp": 0, "iid": 40, "remain_v": 25, "reward_v": 25, "integral": 5})
    );
    g.fails(&t, "integral_convert", json!({}), 99);
    // the progress starts over: 200 again; role 402 is every player's, so a 403 duplicate
    g.set_qty("p", 3, 44, 600);
    for _ in 0..2 {
        g.call(&t, "integral_convert", json!({}));
    }
    let r = g.call(&t, "integral_convert", json!({}));
    assert_status(&r, 1, "");
    assert_eq!(r.message, "You get segments of the role");
    assert_eq!(
        Value::from(r.data),
        json!({"acp": 600, "rid": 403, "star": 1, "remain_seg": 32, "reward_seg": 25})
    );
    // the integral shows in every store's constraint
    assert_eq!(
        answer(&g, &t, "refresh_gift_store").1["constraint"]["acp"],
        600
    );
}

// ------------------------------------------------------------------------------ concurrency

#[test]
fn many_players_making_stores_at_once_never_deadlock() {
    // Players too poor to pull: each refused pull makes the store and rolls it back, so
    // every call makes a store again. Deleting a store not made yet locked index gaps, and
    // players making theirs at once deadlocked (16 under load); nothing may answer 16.
    let g = start();
    let players: Vec<String> = (0..24)
        .map(|i| {
            let uid = format!("poor{i:02}");
            let t = g.player(&uid, &format!("Poor{i:02}"));
            g.set_qty(&uid, 3, 1, 0);
            t
        })
        .collect();
    let statuses: Vec<i32> = super::at_once(players.len(), |i| {
        (0..8)
            .map(|_| answer(&g, &players[i], "single_pump_coin").0)
            .collect::<Vec<i32>>()
    })
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(statuses.len(), 24 * 8);
    assert!(statuses.iter().all(|s| *s == 99), "{statuses:?}");
}

#[test]
fn concurrent_single_pulls_pay_and_give_exactly() {
    let g = start();
    let t = g.player("p", "Pat");
    // free, 100, then 200 each: 0 + 100 + 5 x 200 and 150 left over
    g.set_qty("p", 3, 5, 100 + 5 * 200 + 150);
    answer(&g, &t, "refresh_diamond_store");
    let answers = at_once(&g, &t, 12, "single_pump_diamond");
    assert_eq!(count(&answers, 0), 7, "{answers:?}");
    assert_eq!(count(&answers, 99), 5, "{answers:?}");
    assert_eq!(g.qty("p", 3, 5), 150);
    assert_eq!(bought(&g, "p", 5), 7, "one cell per pull");
    assert_eq!(g.qty("p", 3, 44), 7 * 5);
    assert_eq!(g.achievement("p", 13), Some(7));
    let mut pids: Vec<u64> = answers
        .iter()
        .filter(|a| a.0 == 0)
        .map(|a| a.1["pid"].as_u64().unwrap())
        .collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 7, "no cell pulled twice");
    let mut paid: Vec<String> = answers
        .iter()
        .filter(|a| a.0 == 0)
        .map(|a| a.1["reward"][0].as_str().unwrap().to_string())
        .collect();
    paid.sort();
    assert_eq!(
        paid,
        ["3:5:0", "3:5:100", "3:5:200", "3:5:200", "3:5:200", "3:5:200", "3:5:200"]
    );

    // coin pulls: coins for 20, the day allows 12 (a store without the config's coin
    // scrolls, which would pay pulls of their own)
    g.set_qty("p", 3, 1, 200_000);
    set_store(&g, "p", 1, &[("3:20:1", 1); 12]);
    let answers = at_once(&g, &t, 16, "single_pump_coin");
    assert_eq!(count(&answers, 0), 12, "{answers:?}");
    assert_eq!(count(&answers, 95), 4, "{answers:?}");
    assert_eq!(g.qty("p", 3, 1), 80_000);
}

#[test]
fn concurrent_dozen_pumps_pay_once_each() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 5, 2 * 2400 + 100);
    let answers = at_once(&g, &t, 5, "dozen_pump_diamond");
    assert_eq!(count(&answers, 0), 2, "{answers:?}");
    assert_eq!(count(&answers, 99), 3, "{answers:?}");
    assert_eq!(g.qty("p", 3, 5), 100);
    assert_eq!(g.qty("p", 3, 44), 2 * 120);
    assert_eq!(g.achievement("p", 13), Some(24));
    for a in answers.iter().filter(|a| a.0 == 0) {
        assert_eq!(a.1["reward"][0], "3:5:2400");
        assert_eq!(a.1["pid"].as_array().unwrap().len(), 12);
    }
}

#[test]
fn concurrent_bought_refreshes_spend_as_answered() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 5, 120);
    let answers = at_once(&g, &t, 4, "buy_refresh_diamond");
    let paid: Vec<u64> = answers
        .iter()
        .filter(|a| a.0 == 0)
        .map(|a| a.1["consume"]["value"].as_u64().unwrap())
        .collect();
    let mut sorted = paid.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 50, 50], "{answers:?}");
    assert_eq!(count(&answers, 99), 1, "{answers:?}");
    assert_eq!(g.qty("p", 3, 5), 120 - paid.iter().sum::<u64>());
    // the diamonds each answer says were left form the exact sequence 120, 70, 20
    let mut left: Vec<u64> = answers
        .iter()
        .filter(|a| a.0 == 0)
        .map(|a| a.1["consume"]["remain_v"].as_u64().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, [20, 70, 120]);
}

#[test]
fn hostile_extras_change_nothing_and_other_players_stores_are_their_own() {
    let g = start();
    let t = g.player("p", "Pat");
    let u = g.player("q", "Quinn");
    set_store(&g, "q", 5, &MIXED);
    let extras = json!({"pid": -1, "cid": "5; DROP TABLE summon_cells", "uid_target": "q",
                        "unique_id": "q", "qty": -99999, "count": 1e308, "world": 1});
    for (refresh, buy, single, dozen) in STORES {
        for function in [refresh, buy, single, dozen] {
            let r = g.call(&t, function, extras.clone());
            assert!(
                [0, 1, 95, 99].contains(&r.status),
                "{function}: {}",
                r.to_json()
            );
        }
    }
    let r = g.call(&t, "integral_convert", extras);
    assert_eq!(r.status, 99);
    assert_eq!(
        cells(&g, "q", 5)
            .iter()
            .map(|c| c.1.clone())
            .collect::<Vec<_>>(),
        MIXED.iter().map(|c| c.0.to_string()).collect::<Vec<_>>(),
        "q's store untouched"
    );
    assert_eq!(bought(&g, "q", 5), 0);
    assert_eq!(answer(&g, &u, "refresh_diamond_store").0, 1);
    assert_eq!(g.qty("q", 3, 5), 100);
}

// ------------------------------------------------------------------------------ migration

#[test]
fn migration_14_keeps_existing_players_and_items() {
    let server = crate::test_support::start_mariadb();
    let db = Db::open(&server.url(), 2).unwrap();
    let before: Vec<u32> = db::MIGRATIONS[..13].iter().map(|m| m.version).collect();
    assert_eq!(
        db::migrate_with(&db, &db::MIGRATIONS[..13]).unwrap(),
        before
    );
    let mut conn = db.conn().unwrap();
    conn.query_drop(
        "INSERT INTO players (world, unique_id, gn) VALUES ('s0', 'a', 'Ann');
         INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0','a',3,44,700), ('s0','a',3,5,9)",
    )
    .unwrap();
    assert!(db::migrate(&db).unwrap().starts_with(&[14]));
    let items: Vec<(u32, u64)> = conn
        .query("SELECT item_id, qty FROM items WHERE unique_id = 'a' ORDER BY item_id")
        .unwrap();
    assert_eq!(items, [(5, 9), (44, 700)]);
    let gn: Option<String> = conn
        .query_first("SELECT gn FROM players WHERE unique_id = 'a'")
        .unwrap();
    assert_eq!(gn.as_deref(), Some("Ann"));
    for table in ["summon_cells", "summon_stores", "summon_integral"] {
        let n: Option<i64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {table}"))
            .unwrap();
        assert_eq!(n, Some(0), "{table}");
    }
}
