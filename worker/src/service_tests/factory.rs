//! The factory as the original's factory.py answers it, against real MariaDB and Redis
//! through the real handler: production counted exactly as the clock moves (an hour, ten
//! hours, past the storage limits, a year away, with and without acceleration), costs
//! from factory.json, every spend exact and once under concurrent calls, worker
//! allocations checked whole, the wishing pool's draws against the config's weights, and
//! a database of the schema before migration 17.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::{Clock, Seeds};

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const FOOD: u32 = 3;
const IRON: u32 = 2;
const CRYSTAL: u32 = 4;
const DIAMOND: u32 = 5;

fn start() -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(NOON));
    g
}

fn advance(g: &Game, secs: i64) {
    g.s.services.clock.advance(secs);
}

/// Sets columns of the player's factory row (made by a first call) directly.
fn set_factory(g: &Game, uid: &str, set: &str) {
    g.db()
        .exec_drop(
            format!("UPDATE factories SET {set} WHERE world = 's0' AND unique_id = ?"),
            (uid,),
        )
        .unwrap();
}

fn armor(g: &Game, uid: &str, aid: u32) -> u64 {
    g.db()
        .exec_first(
            "SELECT qty FROM armors WHERE world = 's0' AND unique_id = ? AND armor_id = ? \
             AND level = 1",
            (uid, aid),
        )
        .unwrap()
        .unwrap_or(0)
}

fn factory_task_done(g: &Game, uid: &str) -> bool {
    let n: Option<i64> = g
        .db()
        .exec_first(
            "SELECT COUNT(*) FROM tasks WHERE world = 's0' AND unique_id = ? AND tid = 10",
            (uid,),
        )
        .unwrap();
    n == Some(1)
}

fn refresh(g: &Game, token: &str) -> Value {
    Value::from(g.ok(token, "refresh_factory", json!({})))
}

fn by_fid(values: [i64; 4]) -> Value {
    json!({"0": values[0], "1": values[1], "2": values[2], "3": values[3]})
}

/// Runs `n` calls at once; answers their responses.
fn at_once(g: &Game, token: &str, n: usize, function: &str, data: Value) -> Vec<Response> {
    super::at_once(n, |_| g.call(token, function, data.clone()))
}

fn count(answers: &[Response], status: i32) -> usize {
    answers.iter().filter(|r| r.status == status).count()
}

#[test]
fn a_new_factory_answers_the_originals_refresh() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 100);
    assert_eq!(
        refresh(&g, &t),
        json!({
            "steps": 0,
            "resource": {"remaining": by_fid([0; 4]), "reward": by_fid([0; 4])},
            "pool": 0,
            "pool_count": 6,
            "pool_diamond": 0,
            "next_refresh": 10,
            "worker": {"-1": 3, "total": 3, "0": 0, "1": 0, "2": 0, "3": 0},
            "level": {"3": 1, "0": 1, "1": 1, "2": 1, "-2": 1},
            "accel_time": 0,
        })
    );
    // three unassigned workers make nothing
    advance(&g, DAY);
    let r = refresh(&g, &t);
    assert_eq!(r["steps"], 8640);
    assert_eq!(r["resource"]["remaining"], by_fid([0; 4]));
    let nobody = g.session("nobody");
    for (function, data) in [
        ("refresh_factory", json!({})),
        ("upgrade_factory", json!({"fid": 0})),
        ("buy_worker_factory", json!({})),
        ("update_worker_factory", json!({"worker": {}})),
        ("activate_wishing_pool_factory", json!({"wid": 301})),
        ("buy_acceleration_factory", json!({})),
        ("set_armor_factory", json!({"aid": 1})),
        ("gather_resource_factory", json!({"resource": {"0": 0}})),
        ("iron_convert_factory", json!({"aid": 1, "qty": 1})),
    ] {
        g.fails(&nobody, function, data, 17);
    }
}

#[test]
fn production_follows_the_clock_to_the_storage_limits() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    let set = g.ok(&t, "update_worker_factory", json!({"worker": {"0": 3}}));
    assert_eq!(
        set["refresh"]["worker"],
        json!({"-1": 0, "total": 3, "0": 3, "1": 0, "2": 0, "3": 0})
    );
    // an hour: 360 steps of 3 food
    advance(&g, HOUR);
    let r = refresh(&g, &t);
    assert_eq!(r["steps"], 360);
    assert_eq!(r["resource"]["remaining"], by_fid([1080, 0, 0, 0]));
    assert_eq!(r["resource"]["reward"], by_fid([1080, 0, 0, 0]));
    assert_eq!(g.achievement("p", 21), Some(1080), "COLLECT_FOOD");
    assert!(factory_task_done(&g, "p"), "CHECK_FACTORY");
    // ten hours more: 10800 food, but level 1 holds 4320
    advance(&g, 10 * HOUR);
    let r = refresh(&g, &t);
    assert_eq!(r["steps"], 3600);
    assert_eq!(r["resource"]["remaining"], by_fid([4320, 0, 0, 0]));
    assert_eq!(r["resource"]["reward"], by_fid([3240, 0, 0, 0]));
    assert_eq!(g.achievement("p", 21), Some(4320));

    // two more workers (the 4th costs 130 food, the 5th 140) for iron and crystal
    g.set_qty("p", 3, FOOD, 1000);
    let bought = g.ok(&t, "buy_worker_factory", json!({}));
    assert_eq!(
        Value::from(bought),
        json!({"worker": {"-1": 1, "total": 4}, "food": {"remaining": 870, "reward": -130}})
    );
    let bought = g.ok(&t, "buy_worker_factory", json!({}));
    assert_eq!(bought["food"], json!({"remaining": 730, "reward": -140}));
    // the keys not given keep their workers
    let set = g.ok(
        &t,
        "update_worker_factory",
        json!({"worker": {"1": 1, "2": "1"}}),
    );
    assert_eq!(
        set["refresh"]["worker"],
        json!({"-1": 0, "total": 5, "0": 3, "1": 1, "2": 1, "3": 0})
    );
    // an hour: 4320 + 1080 food; iron takes 360 (1080 food), crystal 360 (12 food each)
    advance(&g, HOUR);
    let r = refresh(&g, &t);
    assert_eq!(r["resource"]["remaining"], by_fid([0, 360, 360, 0]));
    assert_eq!(r["resource"]["reward"], by_fid([-4320, 360, 360, 0]));
    assert_eq!(g.achievement("p", 22), Some(360), "COLLECT_IRON");
    assert_eq!(g.achievement("p", 23), Some(360), "COLLECT_CRYSTAL");
    assert_eq!(g.achievement("p", 21), Some(4320), "food went down");

    // gathering moves the server's counts into the bag, whatever the client says
    let gathered = g.ok(
        &t,
        "gather_resource_factory",
        json!({"resource": {"2": 999_999, "0": "all", "1": 0}}),
    );
    assert_eq!(
        Value::from(gathered),
        json!({
            "remaining": ["3:3:730", "3:2:360", "3:4:360"],
            "reward": ["3:3:0", "3:2:360", "3:4:360"],
        })
    );
    assert_eq!((g.qty("p", 3, IRON), g.qty("p", 3, CRYSTAL)), (360, 360));
    assert_eq!(refresh(&g, &t)["resource"]["remaining"], by_fid([0; 4]));

    // a year away: every storage at its limit, nothing overflows
    advance(&g, 365 * DAY);
    let r = refresh(&g, &t);
    assert_eq!(r["steps"], 365 * 8640);
    assert_eq!(r["resource"]["remaining"], by_fid([4320, 2880, 12_960, 0]));
}

#[test]
fn production_is_counted_with_the_workers_it_had() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    g.ok(&t, "update_worker_factory", json!({"worker": {"0": 3}}));
    advance(&g, HOUR);
    // moving the workers counts the hour with the food workers first
    let moved = g.ok(
        &t,
        "update_worker_factory",
        json!({"worker": {"0": 0, "2": 1}}),
    );
    assert_eq!(
        moved["refresh"]["resource"]["remaining"],
        by_fid([1080, 0, 0, 0])
    );
    assert_eq!(moved["refresh"]["steps"], 360);
    // an hour of crystal alone: 1080 food pays for 90
    advance(&g, HOUR);
    assert_eq!(
        refresh(&g, &t)["resource"]["remaining"],
        by_fid([0, 0, 90, 0])
    );
    // partial steps carry over: 25 s then 5 s make three steps, not two
    advance(&g, 25);
    assert_eq!(refresh(&g, &t)["steps"], 2);
    assert_eq!(refresh(&g, &t)["next_refresh"], 5);
    advance(&g, 5);
    assert_eq!(refresh(&g, &t)["steps"], 1);
}

#[test]
fn acceleration_doubles_production_for_a_day() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 100);
    g.ok(&t, "update_worker_factory", json!({"worker": {"0": 1}}));
    let bought = g.ok(&t, "buy_acceleration_factory", json!({}));
    assert_eq!(
        Value::from(bought),
        json!({
            "refresh": {"resource": {"remaining": by_fid([0; 4]), "reward": by_fid([0; 4])}},
            "time": 86_400,
            "remaining": {"diamond": 70},
            "reward": {"diamond": -30},
        })
    );
    let r = refresh(&g, &t);
    assert_eq!(
        (r["accel_time"].clone(), r["next_refresh"].clone()),
        (json!(86_400), json!(5))
    );
    advance(&g, HOUR);
    let r = refresh(&g, &t);
    assert_eq!(r["steps"], 720);
    assert_eq!(r["resource"]["remaining"], by_fid([720, 0, 0, 0]));
    assert_eq!(r["accel_time"], 23 * HOUR);
    // 25 hours away: the acceleration's last 23 count double, though it ended meanwhile
    advance(&g, 25 * HOUR);
    let r = refresh(&g, &t);
    assert_eq!(r["steps"], 48 * 360);
    assert_eq!(
        (r["accel_time"].clone(), r["next_refresh"].clone()),
        (json!(0), json!(10))
    );
    // a second purchase while one runs adds a day to it
    g.ok(&t, "buy_acceleration_factory", json!({}));
    let bought = g.ok(&t, "buy_acceleration_factory", json!({}));
    assert_eq!(bought["time"], 2 * DAY);
    assert_eq!(bought["remaining"]["diamond"], 10);
    assert_eq!(
        g.fails(&t, "buy_acceleration_factory", json!({}), 99),
        "insufficient funds"
    );
    assert_eq!(g.qty("p", 3, DIAMOND), 10);
    assert_eq!(refresh(&g, &t)["accel_time"], 2 * DAY);
}

#[test]
fn concurrent_accelerations_are_paid_exactly() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 3 * 30 + 29);
    let answers = at_once(&g, &t, 8, "buy_acceleration_factory", json!({}));
    assert_eq!(count(&answers, 0), 3, "{answers:?}");
    assert_eq!(count(&answers, 99), 5);
    assert_eq!(g.qty("p", 3, DIAMOND), 29);
    assert_eq!(refresh(&g, &t)["accel_time"], 3 * DAY);
}

#[test]
fn upgrades_cost_crystal_and_raise_the_limits() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    let r = g.call(&t, "upgrade_factory", json!({"fid": 0}));
    assert_eq!((r.status, r.message.as_str()), (98, "insufficient funds"));
    assert_eq!(
        Value::from(r.data),
        json!({"refresh": {"resource": {"remaining": by_fid([0; 4]), "reward": by_fid([0; 4])}}})
    );
    g.set_qty("p", 3, CRYSTAL, 100);
    let up = g.ok(&t, "upgrade_factory", json!({"fid": 0}));
    assert_eq!(
        up["upgrade"],
        json!({"cost": 50, "remaining": 50, "fid": 0, "level": 2, "pool": 0})
    );
    assert!(up["refresh"]["resource"].is_object());
    assert_eq!(g.achievement("p", 24), Some(1), "UPGRADE_FOOD");
    // iron at level 1 takes 2 workers, at level 2 four
    g.fails(&t, "update_worker_factory", json!({"worker": {"1": 3}}), 98);
    g.set_qty("p", 3, CRYSTAL, 500);
    let up = g.ok(&t, "upgrade_factory", json!({"fid": "1"}));
    assert_eq!(up["upgrade"]["level"], 2);
    assert_eq!(g.achievement("p", 25), Some(1), "UPGRADE_IRON");
    g.ok(&t, "update_worker_factory", json!({"worker": {"1": 3}}));
    assert_eq!(
        refresh(&g, &t)["level"],
        json!({"3": 1, "0": 2, "1": 2, "2": 1, "-2": 1})
    );
    // the crystal factory's highest level is 15
    set_factory(&g, "p", "crystal_level = 15");
    g.set_qty("p", 3, CRYSTAL, 1_000_000);
    let r = g.call(&t, "upgrade_factory", json!({"fid": 2}));
    assert_eq!((r.status, r.message.as_str()), (97, "max level"));
    assert!(r.data["refresh"]["resource"].is_object());
    assert_eq!(g.qty("p", 3, CRYSTAL), 1_000_000, "nothing paid");
    // a pool level takes an hour off a running cooldown
    g.ok(&t, "activate_wishing_pool_factory", json!({"wid": 301}));
    assert_eq!(refresh(&g, &t)["pool"], 48 * HOUR);
    let up = g.ok(&t, "upgrade_factory", json!({"fid": -2}));
    assert_eq!(
        up["upgrade"],
        json!({"cost": 200, "remaining": 999_800, "fid": -2, "level": 2, "pool": 47 * HOUR})
    );
    assert_eq!(refresh(&g, &t)["pool"], 47 * HOUR);
    for (data, code) in [
        (json!({"fid": 3}), 99),
        (json!({"fid": -1}), 99),
        (json!({"fid": 5}), 99),
        (json!({"fid": i64::MAX}), 99),
        (json!({"fid": i64::MIN}), 99),
        (json!({"fid": "x"}), 13),
        (json!({"fid": 1.5}), 13),
        (json!({"fid": null}), 13),
        (json!({}), 13),
    ] {
        g.fails(&t, "upgrade_factory", data, code);
    }
    assert_eq!(g.qty("p", 3, CRYSTAL), 999_800);
}

#[test]
fn concurrent_upgrades_are_paid_exactly() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    // levels 2, 3 and 4 cost 50, 100 and 150; 149 is left short of level 5 (200)
    g.set_qty("p", 3, CRYSTAL, 50 + 100 + 150 + 149);
    let answers = at_once(&g, &t, 8, "upgrade_factory", json!({"fid": 0}));
    assert_eq!(count(&answers, 0), 3, "{answers:?}");
    assert_eq!(count(&answers, 98), 5);
    assert_eq!(g.qty("p", 3, CRYSTAL), 149);
    assert_eq!(refresh(&g, &t)["level"]["0"], 4);
    assert_eq!(g.achievement("p", 24), Some(3));
}

#[test]
fn workers_cost_the_configs_food_once_each() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    assert_eq!(
        g.fails(&t, "buy_worker_factory", json!({}), 98),
        "insufficient food"
    );
    // the 4th, 5th and 6th workers cost 130, 140 and 150; the 7th 170
    g.set_qty("p", 3, FOOD, 130 + 140 + 150 + 169);
    let answers = at_once(&g, &t, 8, "buy_worker_factory", json!({}));
    assert_eq!(count(&answers, 0), 3, "{answers:?}");
    assert_eq!(count(&answers, 98), 5);
    assert_eq!(g.qty("p", 3, FOOD), 169);
    let r = refresh(&g, &t);
    assert_eq!(
        (r["worker"]["total"].clone(), r["worker"]["-1"].clone()),
        (json!(6), json!(6))
    );
    // from the 45th on every worker costs 6000
    set_factory(&g, "p", "workers = 100");
    g.set_qty("p", 3, FOOD, 6000);
    let bought = g.ok(&t, "buy_worker_factory", json!({}));
    assert_eq!(bought["food"], json!({"remaining": 0, "reward": -6000}));
    assert_eq!(bought["worker"]["total"], 101);
}

#[test]
fn worker_allocations_are_checked_whole() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    g.ok(
        &t,
        "update_worker_factory",
        json!({"worker": {"0": 2, "1": 1}}),
    );
    let unchanged = json!({"-1": 0, "total": 3, "0": 2, "1": 1, "2": 0, "3": 0});
    for (worker, code, message) in [
        // more than the 3 owned: the keys not given count with their workers
        (json!({"2": 1}), 99, "insufficient workers"),
        (json!({"0": 3, "1": 1}), 99, "insufficient workers"),
        (json!({"0": i64::MAX}), 99, "insufficient workers"),
        (json!({"0": 0, "1": 3}), 98, "factory worker over limits"),
        (json!({"0": 0, "1": 0, "3": 3}), 0, ""),
        (json!({"4": 0}), 97, "invalid fid supplied"),
        (json!({"-1": 1}), 97, "invalid fid supplied"),
        (json!({"-2": 0}), 97, "invalid fid supplied"),
        (json!({"00": 1}), 97, "invalid fid supplied"),
        (
            json!({"0; DROP TABLE factories": 1}),
            97,
            "invalid fid supplied",
        ),
        (json!({"😀": 1}), 97, "invalid fid supplied"),
    ] {
        let r = g.call(&t, "update_worker_factory", json!({"worker": worker}));
        if code == 0 {
            assert_status(&r, 0, format_args!("{worker}"));
            // back to the allocation the refusals must keep
            g.ok(
                &t,
                "update_worker_factory",
                json!({"worker": {"0": 2, "1": 1, "3": 0}}),
            );
            continue;
        }
        assert_eq!((r.status, r.message.as_str()), (code, message), "{worker}");
        assert_eq!(
            r.data["refresh"]["worker"], unchanged,
            "{worker}: nothing changed"
        );
    }
    for worker in [
        json!({"0": -1}),
        json!({"0": 1.5}),
        json!({"0": "x"}),
        json!({"0": null}),
        json!({"0": [1]}),
        json!({"0": 1e30}),
        json!({"0": 18_446_744_073_709_551_615u64}),
        json!({"9": -1}),
        json!([1, 2]),
        json!("0:3"),
        json!(3),
        json!(null),
    ] {
        let r = g.call(&t, "update_worker_factory", json!({"worker": worker}));
        assert_status(&r, 13, format_args!("{worker}"));
        assert!(
            r.data["reason"].as_str().unwrap().contains("worker"),
            "{}",
            r.to_json()
        );
    }
    g.fails(&t, "update_worker_factory", json!({}), 13);
    assert_eq!(refresh(&g, &t)["worker"], unchanged);
    // an empty allocation changes nothing and answers the refresh
    let r = g.ok(&t, "update_worker_factory", json!({"worker": {}}));
    assert_eq!(r["refresh"]["worker"], unchanged);
}

#[test]
fn the_wishing_pool_costs_more_each_wish_until_its_cooldown_ends() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 100);
    let first = g.ok(&t, "activate_wishing_pool_factory", json!({"wid": 301}));
    let seg = first["reward"]["seg"].as_u64().unwrap();
    assert!((1..=3).contains(&seg));
    assert_eq!(
        Value::from(first),
        json!({
            "pool": 48 * HOUR,
            "count": 5,
            "pool_diamond": 50,
            "remaining": {"wid": 301, "seg": seg, "diamond": 100},
            "reward": {"wid": 301, "seg": seg, "diamond": 0},
        })
    );
    let mut segments = seg;
    let second = g.ok(&t, "activate_wishing_pool_factory", json!({"wid": "301"}));
    segments += second["reward"]["seg"].as_u64().unwrap();
    assert_eq!(second["count"], 4);
    assert_eq!(second["remaining"]["diamond"], 50);
    assert_eq!(second["reward"]["diamond"], 50);
    assert_eq!(second["pool_diamond"], 100);
    // the third costs 100: refused, nothing paid or drawn
    assert_eq!(
        g.fails(&t, "activate_wishing_pool_factory", json!({"wid": 301}), 99),
        "insufficient diamonds"
    );
    assert_eq!(g.qty("p", 3, DIAMOND), 50);
    assert_eq!(g.qty("p", 0, 301), segments);
    assert_eq!(refresh(&g, &t)["pool_count"], 4);
    g.set_qty("p", 3, DIAMOND, 1000);
    for cost in [100, 150, 200, 250] {
        let wish = g.ok(&t, "activate_wishing_pool_factory", json!({"wid": 405}));
        assert_eq!(wish["reward"]["diamond"], cost);
    }
    assert_eq!(g.qty("p", 3, DIAMOND), 300);
    assert_eq!(
        g.fails(&t, "activate_wishing_pool_factory", json!({"wid": 301}), 98),
        "The number of draws has reached the limit today"
    );
    let r = refresh(&g, &t);
    assert_eq!(
        (r["pool_count"].clone(), r["pool_diamond"].clone()),
        (json!(0), json!(300))
    );
    // 48 hours (49 less the pool's level 1) later every wish is back, the first free
    advance(&g, 48 * HOUR);
    let r = refresh(&g, &t);
    assert_eq!(
        (
            r["pool"].clone(),
            r["pool_count"].clone(),
            r["pool_diamond"].clone()
        ),
        (json!(0), json!(6), json!(0))
    );
    let wish = g.ok(&t, "activate_wishing_pool_factory", json!({"wid": 301}));
    assert_eq!(wish["reward"]["diamond"], 0);
    for (data, code) in [
        (json!({"wid": 0}), 97),
        (json!({"wid": 111}), 97),
        (json!({"wid": 999}), 97),
        (json!({"wid": -301}), 97),
        (json!({"wid": 4_294_967_597i64}), 97),
        (json!({"wid": "x"}), 13),
        (json!({"wid": 1.5}), 13),
        (json!({}), 13),
    ] {
        g.fails(&t, "activate_wishing_pool_factory", data, code);
    }
    assert_eq!(g.qty("p", 3, DIAMOND), 300);
}

#[test]
fn concurrent_wishes_are_paid_and_granted_once_each() {
    let g = start();
    // the free wish, then 50 and 100; 49 left, short of the fourth (150)
    let t = g.player_with_diamonds("p", "Pat", 50 + 100 + 49);
    let answers = at_once(
        &g,
        &t,
        8,
        "activate_wishing_pool_factory",
        json!({"wid": 302}),
    );
    assert_eq!(count(&answers, 0), 3, "{answers:?}");
    assert_eq!(count(&answers, 99), 5);
    assert_eq!(g.qty("p", 3, DIAMOND), 49);
    let granted: u64 = answers
        .iter()
        .filter(|r| r.status == 0)
        .map(|r| r.data["reward"]["seg"].as_u64().unwrap())
        .sum();
    assert_eq!(g.qty("p", 0, 302), granted);
    let mut paid: Vec<u64> = answers
        .iter()
        .filter(|r| r.status == 0)
        .map(|r| r.data["reward"]["diamond"].as_u64().unwrap())
        .collect();
    paid.sort_unstable();
    assert_eq!(paid, [0, 50, 100]);
    assert_eq!(refresh(&g, &t)["pool_count"], 3);
}

/// Binomial check: `observed` of `draws` within 5 standard deviations of `p`.
fn within_five_sigma(observed: u64, draws: u64, p: f64) -> bool {
    let expected = draws as f64 * p;
    let sigma = (draws as f64 * p * (1.0 - p)).sqrt();
    (observed as f64 - expected).abs() <= 5.0 * sigma
}

#[test]
fn wishes_draw_segments_by_the_configs_weights() {
    let mut g = start();
    g.s.services.seeds = Arc::new(Seeds::fixed(2024));
    let t = g.player_with_diamonds("p", "Pat", 1_000_000);
    let config = g.s.config.file("factory").unwrap()["wishing_pool"]["roll"].clone();
    let population: Vec<u64> = serde_json::from_value(config["population"].clone()).unwrap();
    let weights: Vec<f64> = serde_json::from_value(config["weights"].clone()).unwrap();
    let total: f64 = weights.iter().sum();
    // 200 cooldowns of 6 wishes
    let mut seen = vec![0u64; population.len()];
    let mut draws = 0u64;
    for _ in 0..200 {
        for _ in 0..6 {
            let wish = g.ok(&t, "activate_wishing_pool_factory", json!({"wid": 301}));
            let seg = wish["reward"]["seg"].as_u64().unwrap();
            let i = population
                .iter()
                .position(|m| *m == seg)
                .expect("a multiplier");
            seen[i] += 1;
            draws += 1;
        }
        advance(&g, 48 * HOUR);
    }
    eprintln!("wishing pool, {draws} wishes through activate_wishing_pool_factory (seed 2024):");
    eprintln!("segments  weight  expected  observed  5 sigma");
    for (i, m) in population.iter().enumerate() {
        let p = weights[i] / total;
        let sigma = (draws as f64 * p * (1.0 - p)).sqrt();
        eprintln!(
            "{m:>8}  {p:>6.3}  {:>8.1}  {:>8}  {:>7.1}",
            draws as f64 * p,
            seen[i],
            5.0 * sigma
        );
        assert!(within_five_sigma(seen[i], draws, p), "{m}: {seen:?}");
    }
    assert_eq!(g.qty("p", 3, DIAMOND), 1_000_000 - 200 * 750);
}

#[test]
fn set_armor_gathers_the_armor_made_before() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    refresh(&g, &t);
    set_factory(&g, "p", "armor = 7");
    let set = g.ok(&t, "set_armor_factory", json!({"aid": 2}));
    assert_eq!(
        Value::from(set),
        json!({"gather": {"remaining": ["4:1:7"], "reward": ["4:1:7"]}, "aid": 2})
    );
    assert_eq!((armor(&g, "p", 1), armor(&g, "p", 2)), (7, 0));
    assert_eq!(refresh(&g, &t)["level"]["3"], 2);
    // armor 2 made from the factory's iron, 20 each: 100 iron, one worker, 10 steps
    set_factory(&g, "p", "iron = 100, armor_workers = 1");
    advance(&g, 100);
    assert_eq!(
        refresh(&g, &t)["resource"]["remaining"],
        by_fid([0, 0, 0, 5])
    );
    let gathered = g.ok(&t, "gather_resource_factory", json!({"resource": {"3": 0}}));
    assert_eq!(
        Value::from(gathered),
        json!({"remaining": ["4:2:5"], "reward": ["4:2:5"]})
    );
    let all = g.ok(&t, "get_all_armor", json!({}));
    assert_eq!(
        all["armors"],
        json!([{"aid": 1, "level": 1, "quantity": 7}, {"aid": 2, "level": 1, "quantity": 5}])
    );
    for (data, code) in [
        (json!({"aid": 0}), 99),
        (json!({"aid": 5}), 99),
        (json!({"aid": -1}), 99),
        (json!({"aid": i64::MAX}), 99),
        (json!({"aid": "x"}), 13),
        (json!({}), 13),
    ] {
        g.fails(&t, "set_armor_factory", data, code);
    }
    assert_eq!(refresh(&g, &t)["level"]["3"], 2);
}

#[test]
fn gathering_takes_only_factories_and_what_the_bag_holds() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    refresh(&g, &t);
    set_factory(&g, "p", "food = 100, iron = 40");
    for resource in [
        json!({}),
        json!({"7": 1}),
        json!({"-1": 1}),
        json!({"-2": 1}),
        json!({"0": 1, "x": 1}),
    ] {
        assert_eq!(
            g.fails(
                &t,
                "gather_resource_factory",
                json!({"resource": resource}),
                99
            ),
            "invalid resource"
        );
    }
    for resource in [json!([0, 1]), json!("0"), json!(null)] {
        g.fails(
            &t,
            "gather_resource_factory",
            json!({"resource": resource}),
            13,
        );
    }
    g.fails(&t, "gather_resource_factory", json!({}), 13);
    assert_eq!(g.qty("p", 3, FOOD), 0, "nothing gathered");
    // the bag holds at most 999,999,999 food: the rest stays in the factory
    g.set_qty("p", 3, FOOD, 999_999_990);
    let gathered = g.ok(&t, "gather_resource_factory", json!({"resource": {"0": 1}}));
    assert_eq!(
        Value::from(gathered),
        json!({"remaining": ["3:3:999999999"], "reward": ["3:3:9"]})
    );
    assert_eq!(
        refresh(&g, &t)["resource"]["remaining"],
        by_fid([91, 40, 0, 0])
    );
    // concurrent gathers move the iron once
    let answers = at_once(
        &g,
        &t,
        8,
        "gather_resource_factory",
        json!({"resource": {"1": 1}}),
    );
    assert_eq!(count(&answers, 0), 8);
    assert_eq!(g.qty("p", 3, IRON), 40);
    let moved: Vec<&str> = answers
        .iter()
        .filter_map(|r| r.data["reward"][0].as_str())
        .filter(|s| *s != "3:2:0")
        .collect();
    assert_eq!(moved, ["3:2:40"]);
}

#[test]
fn iron_converts_into_armor_at_the_configs_cost() {
    let g = start();
    let t = g.player_with_diamonds("p", "Pat", 0);
    assert_eq!(
        g.fails(&t, "iron_convert_factory", json!({"aid": 1, "qty": 1}), 98),
        "Insufficient iron"
    );
    g.set_qty("p", 3, IRON, 100);
    let made = g.ok(&t, "iron_convert_factory", json!({"aid": "3", "qty": "5"}));
    assert_eq!(
        Value::from(made),
        json!({"remain": ["4:3:5", "3:2:0"], "reward": ["4:3:5", "3:2:100"]})
    );
    g.set_qty("p", 3, IRON, 1000);
    for (data, code, message) in [
        (json!({"aid": 1, "qty": 0}), 99, "qty error"),
        (json!({"aid": 1, "qty": -1}), 99, "qty error"),
        (json!({"aid": 0, "qty": 1}), 99, "aid error"),
        (json!({"aid": 5, "qty": 1}), 99, "aid error"),
        (json!({"aid": 1, "qty": i64::MAX}), 98, "Insufficient iron"),
        (json!({"aid": 1, "qty": 51}), 98, "Insufficient iron"),
        (json!({"aid": 1, "qty": "x"}), 13, "malformed request"),
        (json!({"aid": 1}), 13, "malformed request"),
        (json!({"qty": 1}), 13, "malformed request"),
    ] {
        assert_eq!(g.fails(&t, "iron_convert_factory", data, code), message);
    }
    assert_eq!(g.qty("p", 3, IRON), 1000, "nothing paid");
    // concurrent conversions pay exactly: iron for 3, 19 left
    g.set_qty("p", 3, IRON, 3 * 20 + 19);
    let answers = at_once(
        &g,
        &t,
        8,
        "iron_convert_factory",
        json!({"aid": 4, "qty": 1}),
    );
    assert_eq!(count(&answers, 0), 3, "{answers:?}");
    assert_eq!(count(&answers, 98), 5);
    assert_eq!((g.qty("p", 3, IRON), armor(&g, "p", 4)), (19, 3));
}

#[test]
fn players_from_before_migration_17_start_a_factory_of_their_own() {
    let mut g = start();
    let (_server, db, _) = schema_before(17, 8);
    let mut conn = db.conn().unwrap();
    for insert in [
        "INSERT INTO players (world, unique_id, gn, level) VALUES ('s0', 'old', 'Old', 30)",
        "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', 'old', 3, 3, 777)",
        "INSERT INTO armors (world, unique_id, armor_id, level, qty) VALUES ('s0', 'old', 2, 1, 4)",
    ] {
        conn.query_drop(insert).unwrap();
    }
    // 17 and whatever came after it (18 on).
    let applied = db::migrate(&db).unwrap();
    assert_eq!(applied.first(), Some(&17), "{applied:?}");
    let rows: Option<u64> = conn.query_first("SELECT COUNT(*) FROM factories").unwrap();
    assert_eq!(rows, Some(0));
    g.s.services.db = db;
    let t = g.session("old");
    let r = refresh(&g, &t);
    assert_eq!(
        r["worker"],
        json!({"-1": 3, "total": 3, "0": 0, "1": 0, "2": 0, "3": 0})
    );
    let bought = g.ok(&t, "buy_worker_factory", json!({}));
    assert_eq!(bought["food"], json!({"remaining": 647, "reward": -130}));
    let made = g.ok(&t, "set_armor_factory", json!({"aid": 2}));
    assert_eq!(made["gather"]["remaining"], json!(["4:1:0"]));
    g.set_qty("old", 3, IRON, 20);
    let made = g.ok(&t, "iron_convert_factory", json!({"aid": 2, "qty": 1}));
    assert_eq!(made["remain"][0], "4:2:5", "the armor held before is kept");
}
