//! The package functions as the original's package.py answers them, against real MariaDB
//! and Redis through the real handler: buying energy and coin cards, exchanging cards,
//! using items; counts refused outside their bounds; exact balances under concurrency.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::Clock;
use crate::modules::daily;

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;

fn start() -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(NOON));
    g
}

fn energy_row(g: &Game, uid: &str) -> Option<(u64, Option<i64>)> {
    g.db()
        .exec_first(
            "SELECT energy, recover_from FROM energy WHERE world = 's0' AND unique_id = ?",
            (uid,),
        )
        .unwrap()
}

fn set_energy(g: &Game, uid: &str, energy: u64, recover_from: Option<i64>) {
    g.db()
        .exec_drop(
            "INSERT INTO energy (world, unique_id, energy, recover_from) VALUES ('s0', ?, ?, ?) \
             ON DUPLICATE KEY UPDATE energy = VALUES(energy), recover_from = VALUES(recover_from)",
            (uid, energy, recover_from),
        )
        .unwrap();
}

#[test]
fn resources_are_the_originals_iid_value_list() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 16, 0);
    g.set_qty("p", 0, 301, 4);
    let all = g.ok(&t, "get_all_resource", json!({}));
    assert_eq!(
        all["items"],
        json!([{"iid":1,"value":5000},{"iid":5,"value":100},{"iid":10,"value":100},{"iid":16,"value":0}])
    );
}

#[test]
fn energy_is_bought_six_times_a_game_day_at_rising_prices() {
    let g = start();
    let t = g.player("p", "Pat");
    let bought = g.ok(&t, "buy_energy", json!({}));
    assert_eq!(
        Value::from(bought),
        json!({
            "diamond": {"remain": 70, "reward": 30},
            "energy": {"energy": 150, "recover_time": "", "cooling_time": -1, "reward": 30},
            "lim": 5,
            "cd": 12 * 3600,
        })
    );
    // not enough diamonds: 99, the purchase not used
    g.set_qty("p", 3, 5, 59);
    assert_eq!(
        g.fails(&t, "buy_energy", json!({}), 99),
        "Insufficient materials"
    );
    g.set_qty("p", 3, 5, 10_000);
    // below the maximum: the points recovered so far count first (10 + 1, then + 30)
    set_energy(&g, "p", 10, Some(NOON - 400));
    let bought = g.ok(&t, "buy_energy", json!({}));
    assert_eq!(
        bought["energy"],
        json!({"energy": 41, "recover_time": "2024-03-01 11:59:20", "cooling_time": 320, "reward": 30})
    );
    assert_eq!(bought["diamond"], json!({"remain": 9940, "reward": 60}));
    for (price, lim) in [(90, 3), (120, 2), (150, 1), (180, 0)] {
        let bought = g.ok(&t, "buy_energy", json!({}));
        assert_eq!(
            (bought["diamond"]["reward"].clone(), bought["lim"].clone()),
            (json!(price), json!(lim))
        );
    }
    assert_eq!(
        g.fails(&t, "buy_energy", json!({}), 98),
        "Insufficient purchase times"
    );
    assert_eq!(g.qty("p", 3, 5), 10_000 - 60 - 90 - 120 - 150 - 180);
    // midnight in Shanghai: a new day's six
    g.s.services.clock.set(NOON + 12 * 3600);
    let bought = g.ok(&t, "buy_energy", json!({}));
    assert_eq!(
        (bought["diamond"]["reward"].clone(), bought["lim"].clone()),
        (json!(30), json!(5))
    );
    assert_eq!(bought["cd"], 86_400);
}

#[test]
fn coin_cards_cost_three_hundred_diamonds_and_counts_are_bounded() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 5, 1000);
    let bought = g.ok(&t, "buy_coin", json!({}));
    assert_eq!(
        Value::from(bought),
        json!({"remain": ["3:5:700", "3:18:1"], "reward": ["3:5:300", "3:18:1"]})
    );
    let bought = g.ok(&t, "buy_coin", json!({"qty": "2"}));
    assert_eq!(bought["remain"], json!(["3:5:100", "3:18:3"]));
    assert_eq!(
        g.fails(&t, "buy_coin", json!({"qty": 1}), 99),
        "Insufficient materials"
    );
    for bad in [
        json!(0),
        json!(-1),
        json!(-1000),
        json!(10_001),
        json!(i64::MIN),
        json!("x"),
        json!(1.5),
    ] {
        g.fails(&t, "buy_coin", json!({"qty": bad}), 13);
    }
    assert_eq!(
        (g.qty("p", 3, 5), g.qty("p", 3, 18)),
        (100, 3),
        "refusals change nothing"
    );
}

#[test]
fn cards_exchange_for_level_times_their_number() {
    let g = start();
    let t = g.player("p", "Pat");
    assert_eq!(
        g.fails(&t, "exchange_card", json!({"cid": 18}), 95),
        "Insufficient card"
    );
    g.set_qty("p", 3, 18, 3);
    g.set_qty("p", 3, 19, 1);
    g.db()
        .query_drop("UPDATE players SET level = 3, exp = 360 WHERE unique_id = 'p'")
        .unwrap();
    let got = g.ok(&t, "exchange_card", json!({"cid": 18, "qty": 2}));
    assert_eq!(
        Value::from(got),
        json!({
            "remaining": {"sql_table":"item","mid":1,"mnum":5000 + 12_000,"cid":18,"cnum":1},
            "reward": {"sql_table":"item","mid":1,"mnum":12_000,"cid":18,"cnum":-2},
            "exp_info": {"exp":360,"level":3,"need":0,"reward":0},
        })
    );
    // the exp card gives exp points (item 9), qty defaults to 1
    let got = g.ok(&t, "exchange_card", json!({"cid": "19"}));
    assert_eq!(got["remaining"]["mnum"], 3000);
    assert_eq!(g.qty("p", 3, 9), 3000);
    for (data, code) in [
        // the VIP exp card is served now (science_vip.rs): none held
        (json!({"cid": 43}), 95),
        (json!({"cid": 5}), 98),
        (json!({"cid": 24}), 99),
        (json!({"cid": -18}), 99),
        (json!({"cid": 999_999}), 99),
        (json!({"cid": 18, "qty": 0}), 96),
        (json!({"cid": 18, "qty": -5}), 96),
        (json!({"cid": 18, "qty": 2}), 95),
        (json!({"cid": 18, "qty": i64::MAX}), 95),
        (json!({"card_id": 18}), 13),
        (json!({"cid": "x"}), 13),
        (json!({"cid": 18, "qty": "many"}), 13),
    ] {
        g.fails(&t, "exchange_card", data, code);
    }
    assert_eq!(
        (g.qty("p", 3, 18), g.qty("p", 3, 1)),
        (1, 17_000),
        "refusals change nothing"
    );
}

#[test]
fn items_are_used_with_the_originals_statuses() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 33, 2);
    let used = g.ok(&t, "use_item", json!({"item_id": "3:33:2"}));
    assert_eq!(
        Value::from(used),
        json!({
            "remaining": {"item": "3:33:0", "energy": 220, "cooling_time": -1},
            "reward": {"item": "3:33:2", "energy": 100},
        })
    );
    g.set_qty("p", 3, 38, 3);
    let r = g.call(&t, "use_item", json!({"item_id": "3:38:3"}));
    assert_status(&r, 1, "");
    let eitem = r.data["reward"]["eitem"].as_str().unwrap().to_string();
    assert!(
        ["0:401:3", "0:402:3", "0:405:3"].contains(&eitem.as_str()),
        "{eitem}"
    );
    assert_eq!(
        r.data["remaining"],
        json!({"item": "3:38:0", "eitem": eitem})
    );
    g.set_qty("p", 3, 39, 1);
    let r = g.call(&t, "use_item", json!({"item_id": "3:39:1"}));
    assert_status(&r, 2, "");
    let rid: u32 = r.data["reward"]["eitem"].as_str().unwrap()[2..5]
        .parse()
        .unwrap();
    assert!((402..=407).contains(&rid));
    assert_eq!(g.qty("p", 2, rid), 1);
    g.set_qty("p", 3, 40, 10);
    let r = g.call(
        &t,
        "use_item",
        json!({"item_id": "3:40:2", "exchange_id": "0:403:0"}),
    );
    assert_status(&r, 3, "");
    assert_eq!(
        Value::from(r.data),
        json!({"remaining": {"item": "3:40:8", "eitem": "0:403:2"}, "reward": {"item": "3:40:2", "eitem": "0:403:2"}})
    );
    let r = g.call(
        &t,
        "use_item",
        json!({"item_id": "3:40:1", "exchange_id": "2:410:1"}),
    );
    assert_eq!(
        (r.status, r.data["remaining"]["eitem"].clone()),
        (3, json!("2:410:1"))
    );
    g.set_qty("p", 3, 6, 7);
    let r = g.call(&t, "use_item", json!({"item_id": "3:6:6"}));
    assert_status(&r, 4, "");
    assert_eq!(
        Value::from(r.data),
        json!({"remaining": {"item": "3:6:1", "eitem": "3:7:2"}, "reward": {"item": "3:6:6", "eitem": "3:7:2"}})
    );
    for (data, code) in [
        (json!({"item_id": "3:6:1"}), 95),
        (json!({"item_id": "3:40:1", "exchange_id": "0:503:0"}), 97),
        (json!({"item_id": "3:40:1", "exchange_id": "0:411:0"}), 97),
        (json!({"item_id": "3:40:1", "exchange_id": "1:401:0"}), 97),
        (json!({"item_id": "3:40:1", "exchange_id": "3:401:0"}), 97),
        (json!({"item_id": "3:40:1"}), 13),
        (json!({"item_id": "3:40:1", "exchange_id": "x"}), 13),
        (json!({"item_id": "3:1:5"}), 98),
        (json!({"item_id": "3:999:5"}), 98),
        (json!({"item_id": "0:301:1"}), 99),
        (json!({"item_id": "3:33:1"}), 96),
        (json!({"item_id": "3:40:9", "exchange_id": "0:403:0"}), 96),
        (json!({"item_id": "3:33:0"}), 13),
        (json!({"item_id": "3:33:-5"}), 13),
        (json!({"item_id": "3:6:-3"}), 13),
        (json!({"item_id": "3:33:100001"}), 13),
        (json!({"item_id": "3:33"}), 13),
        (json!({"item_id": "3:33:1:1"}), 13),
        (json!({"item_id": 33}), 13),
        (json!({}), 13),
    ] {
        g.fails(&t, "use_item", data, code);
    }
    assert_eq!(
        (g.qty("p", 3, 40), g.qty("p", 3, 6), g.qty("p", 3, 33)),
        (7, 1, 0),
        "refusals spend nothing"
    );
    assert_eq!(energy_row(&g, "p"), Some((220, None)));
}

#[test]
fn concurrent_uses_and_purchases_keep_exact_balances() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 33, 5);
    // exactly what 8 coin cards (2400) and the day's 6 energy purchases (630) cost
    g.set_qty("p", 3, 5, 2400 + 630);
    let results = at_once(24, |i| {
        let (function, data) = match i % 3 {
            0 => ("use_item", json!({"item_id": "3:33:1"})),
            1 => ("buy_energy", json!({})),
            _ => ("buy_coin", json!({"qty": 1})),
        };
        (i % 3, g.call(&t, function, data).status)
    });
    let ok = |kind| {
        results
            .iter()
            .filter(|(k, s)| *k == kind && *s == 0)
            .count() as u64
    };
    for (kind, status) in &results {
        let refused = match kind {
            0 => 96,
            1 => 98,
            _ => 99,
        };
        assert!(*status == 0 || *status == refused, "{results:?}");
    }
    assert_eq!(ok(0), 5, "five potions, five uses: {results:?}");
    assert_eq!(ok(1), 6, "six purchases a day: {results:?}");
    assert_eq!(ok(2), 8, "{results:?}");
    assert_eq!(g.qty("p", 3, 18), 8);
    assert_eq!(g.qty("p", 3, 5), 0);
    assert_eq!(g.qty("p", 3, 33), 0);
    assert_eq!(energy_row(&g, "p"), Some((120 + 5 * 50 + 6 * 30, None)));
    let used: Option<u32> = g
        .db()
        .exec_first(
            "SELECT used FROM daily_limits WHERE unique_id = 'p' AND lid = ?",
            (daily::PACKAGE_ENERGY,),
        )
        .unwrap();
    assert_eq!(used, Some(6));
}
