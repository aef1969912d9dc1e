//! Science, element skills and VIP as the original's science.py, player.py (elements) and
//! vip.py answer them, against real MariaDB and Redis through the real handler: costs and
//! limits from the config, bad input, exact balances and single grants under concurrency,
//! and an upgrade from the schema before migration 12.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::Clock;
use crate::modules::{daily, vip};

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;
const DAY: i64 = 86_400;
const MASTER: i64 = 65_536;
const ROLE: i64 = 65_792;

fn start() -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(NOON));
    g
}

fn set_vip_exp(g: &Game, uid: &str, exp: u64) {
    g.db()
        .exec_drop(
            "INSERT INTO vip (world, unique_id, exp) VALUES ('s0', ?, ?) \
             ON DUPLICATE KEY UPDATE exp = VALUES(exp)",
            (uid, exp),
        )
        .unwrap();
}

// ------------------------------------------------------------------------------ science

#[test]
fn sciences_level_up_for_the_originals_costs() {
    let g = start();
    let t = g.player("p", "Pat");
    // every player has the factory master at 1 (the original's init)
    assert_eq!(
        Value::from(g.ok(&t, "science_infos", json!({}))),
        json!({"science": {"65536": 1}})
    );
    // role science level 1: 100 crystal and 1000 coins; no crystal yet
    assert_eq!(
        g.fails(&t, "science_up", json!({"ssa": ROLE}), 96),
        "materials insufficient"
    );
    assert_eq!(g.qty("p", 3, 1), 5000, "nothing paid");
    g.set_qty("p", 3, 4, 100_000);
    let up = g.ok(&t, "science_up", json!({"ssa": ROLE}));
    assert_eq!(
        Value::from(up),
        json!({
            "science": {"65536": 1, "65792": 1},
            "rws": {"65792": 1},
            "remain": ["3:4:99900", "3:1:4000"],
            "reward": ["3:4:100", "3:1:1000"],
        })
    );
    // level 2 of a sub-science needs the master at 2
    assert_eq!(
        g.fails(&t, "science_up", json!({"ssa": ROLE}), 95),
        "The level of science master is inadequate"
    );
    let up = g.ok(&t, "science_up", json!({"ssa": "65536"}));
    assert_eq!(
        up["remain"],
        json!(["3:4:75900"]),
        "master 2: 24000 crystal"
    );
    assert_eq!(up["science"], json!({"65536": 2, "65792": 1}));
    let up = g.ok(&t, "science_up", json!({"ssa": ROLE}));
    assert_eq!(up["reward"], json!(["3:4:300", "3:1:3000"]));
    // an affiliate of the role science is a science of its own, at the role's costs
    let up = g.ok(&t, "science_up", json!({"ssa": ROLE + 3}));
    assert_eq!(up["rws"], json!({"65795": 1}));
    assert_eq!(up["reward"], json!(["3:4:100", "3:1:1000"]));
    // the highest level is constraint.slv (20)
    g.db()
        .exec_drop(
            "INSERT INTO sciences (world, unique_id, ssa, level) VALUES ('s0', 'p', ?, 20) \
             ON DUPLICATE KEY UPDATE level = 20",
            (MASTER,),
        )
        .unwrap();
    assert_eq!(
        g.fails(&t, "science_up", json!({"ssa": MASTER}), 98),
        "max level"
    );
    // the weapon sub-science has no costs: refused, not free
    assert_eq!(
        g.fails(&t, "science_up", json!({"ssa": 66_048}), 97),
        "config does not exist"
    );
    let before = (g.qty("p", 3, 4), g.qty("p", 3, 1));
    for (data, code) in [
        (json!({"ssa": 0}), 94),
        (json!({"ssa": -1}), 94),
        (json!({"ssa": -MASTER}), 94),
        (json!({"ssa": 2 * MASTER}), 94),
        (json!({"ssa": MASTER + (3 << 8)}), 94),
        (json!({"ssa": MASTER + 7}), 94),
        (json!({"ssa": i64::MAX}), 94),
        (json!({"ssa": i64::MIN}), 94),
        (json!({}), 13),
        (json!({"ssa": "x"}), 13),
        (json!({"ssa": 1.5}), 13),
        (json!({"ssa": "65536; DROP TABLE sciences"}), 13),
    ] {
        g.fails(&t, "science_up", data, code);
    }
    assert_eq!(
        (g.qty("p", 3, 4), g.qty("p", 3, 1)),
        before,
        "refusals pay nothing"
    );
    let nobody = g.session("nobody");
    g.fails(&nobody, "science_infos", json!({}), 17);
    g.fails(&nobody, "science_up", json!({"ssa": MASTER}), 17);
}

#[test]
fn a_science_needs_the_player_level_of_its_mode() {
    let mut g = start();
    g.s.config =
        g.s.config
            .overlay(&json!({"sciences": {"1": {"constraint": {"level": 10, "slv": 20}}}}))
            .unwrap();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 4, 100_000);
    assert_eq!(
        g.fails(&t, "science_up", json!({"ssa": MASTER}), 99),
        "insufficient level"
    );
    // level 10 reached; this config has no costs: 97, nothing given
    g.set_level("p", 10);
    g.fails(&t, "science_up", json!({"ssa": MASTER}), 97);
    assert_eq!(g.qty("p", 3, 4), 100_000);
}

#[test]
fn concurrent_science_levels_are_paid_exactly() {
    let g = start();
    let t = g.player("p", "Pat");
    // master 2 and 3 cost 24000 + 30000; 4 would cost 36000 more than is left
    g.set_qty("p", 3, 4, 24_000 + 30_000 + 35_999);
    let statuses = g.statuses_at_once(&t, 10, |_| ("science_up", json!({"ssa": MASTER})));
    assert_eq!(count(&statuses, 0), 2, "{statuses:?}");
    assert_eq!(count(&statuses, 96), 8, "{statuses:?}");
    assert_eq!(g.qty("p", 3, 4), 35_999);
    let all = g.ok(&t, "science_infos", json!({}));
    assert_eq!(all["science"], json!({"65536": 3}));
}

// ------------------------------------------------------------------------------ elements

fn elements(levels: [u32; 4]) -> Value {
    json!({"1000": levels[0], "1001": levels[1], "1002": levels[2], "1003": levels[3]})
}

#[test]
fn element_points_come_with_the_player_level() {
    let g = start();
    let t = g.player("p", "Pat");
    assert_eq!(
        Value::from(g.ok(&t, "player_element_all", json!({}))),
        json!({"elements": elements([0, 0, 0, 0]), "lim": 3})
    );
    let info = g.ok(&t, "get_info_player", json!({}));
    assert_eq!(
        (&info["elements"], &info["elm"]),
        (&elements([0, 0, 0, 0]), &json!(3))
    );
    // level 1: no points (the original: 1 + (1 - 15) // 10 = 0)
    assert_eq!(
        g.fails(&t, "player_element_lv", json!({"eid": 1000}), 98),
        "insufficient element skill points"
    );
    g.set_level("p", 25); // two points
    assert_eq!(
        Value::from(g.ok(&t, "player_element_lv", json!({"eid": 1000}))),
        json!({"elements": elements([1, 0, 0, 0]), "reward": {"1000": 1}})
    );
    let up = g.ok(&t, "player_element_lv", json!({"eid": "1003"}));
    assert_eq!(up["elements"], elements([1, 0, 0, 1]));
    g.fails(&t, "player_element_lv", json!({"eid": 1001}), 98);
    for (data, code) in [
        (json!({"eid": 999}), 99),
        (json!({"eid": 1004}), 99),
        (json!({"eid": 0}), 99),
        (json!({"eid": -1000}), 99),
        (json!({"eid": i64::MAX}), 99),
        (json!({}), 13),
        (json!({"eid": "fire"}), 13),
        (json!({"eid": [1000]}), 13),
    ] {
        g.fails(&t, "player_element_lv", data, code);
    }
    // a reset puts every point back, once of three
    assert_eq!(
        Value::from(g.ok(&t, "player_element_reset", json!({}))),
        json!({"elements": elements([0, 0, 0, 0]), "lim": 2})
    );
    // level 300: 29 points, but an element stops at 5
    g.set_level("p", 300);
    for _ in 0..5 {
        g.ok(&t, "player_element_lv", json!({"eid": 1002}));
    }
    assert_eq!(
        g.fails(&t, "player_element_lv", json!({"eid": 1002}), 97),
        "max element skill"
    );
    let info = g.ok(&t, "get_info_player", json!({}));
    assert_eq!(
        (&info["elements"], &info["elm"]),
        (&elements([0, 0, 5, 0]), &json!(2))
    );
    g.ok(&t, "player_element_reset", json!({}));
    let last = g.ok(&t, "player_element_reset", json!({}));
    assert_eq!(last["lim"], 0);
    assert_eq!(
        g.fails(&t, "player_element_reset", json!({}), 99),
        "Insufficient resets"
    );
    assert_eq!(g.ok(&t, "player_element_all", json!({}))["lim"], 0);
    let nobody = g.session("nobody");
    for (function, data) in [
        ("player_element_all", json!({})),
        ("player_element_lv", json!({"eid": 1000})),
        ("player_element_reset", json!({})),
    ] {
        g.fails(&nobody, function, data, 17);
    }
}

#[test]
fn concurrent_element_levels_spend_each_point_once_and_resets_hold_their_limit() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_level("p", 45); // four points
    let statuses = g.statuses_at_once(&t, 12, |i| {
        ("player_element_lv", json!({"eid": 1000 + (i % 4)}))
    });
    assert_eq!(count(&statuses, 0), 4, "{statuses:?}");
    assert_eq!(count(&statuses, 98), 8, "{statuses:?}");
    let all = g.ok(&t, "player_element_all", json!({}));
    let spent: u64 = all["elements"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(spent, 4, "{all:?}");

    let statuses = g.statuses_at_once(&t, 8, |_| ("player_element_reset", json!({})));
    assert_eq!(count(&statuses, 0), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 99), 5, "{statuses:?}");
    let used: Option<u32> = g
        .db()
        .exec_first("SELECT used FROM element_resets WHERE unique_id = 'p'", ())
        .unwrap();
    assert_eq!(used, Some(3));
    assert_eq!(
        Value::from(g.ok(&t, "player_element_all", json!({}))),
        json!({"elements": elements([0, 0, 0, 0]), "lim": 0})
    );
}

// ------------------------------------------------------------------------------ VIP

#[test]
fn a_new_player_is_no_vip() {
    let g = start();
    let t = g.player("p", "Pat");
    assert_eq!(
        Value::from(g.ok(&t, "get_info_vip", json!({}))),
        json!({
            "exp_info": {"exp": 0, "level": 0, "need": 60, "reward": 0},
            "min_card": false, "max_card": false, "perpetual_card": false,
            "min_seconds": 0, "max_seconds": 0, "cooling_time": -1,
        })
    );
    assert_eq!(
        g.fails(&t, "get_vip_daily_reward", json!({}), 98),
        "You're not a VIP"
    );
    // refused: not used up
    assert_eq!(g.ok(&t, "get_info_vip", json!({}))["cooling_time"], -1);
    let nobody = g.session("nobody");
    for (function, data) in [
        ("get_info_vip", json!({})),
        ("get_vip_daily_reward", json!({})),
        ("purchase_vip_gift", json!({"tier": 0})),
        ("purchase_vip_card", json!({"card_id": 26})),
    ] {
        g.fails(&nobody, function, data, 17);
    }
}

#[test]
fn cards_are_activated_with_a_card_item_and_month_cards_add_up() {
    let g = start();
    let t = g.player("p", "Pat");
    // the original gave the card for nothing; here the player uses a card item
    g.fails(&t, "purchase_vip_card", json!({"card_id": 26}), 18);
    for (data, code) in [
        (json!({"card_id": 25}), 99),
        (json!({"card_id": 29}), 99),
        (json!({"card_id": -26}), 99),
        (json!({"card_id": i64::MAX}), 99),
        (json!({}), 13),
        (json!({"card_id": "min"}), 13),
        (json!({"cid": 26}), 13),
    ] {
        g.fails(&t, "purchase_vip_card", data, code);
    }
    g.set_qty("p", 3, 26, 2);
    g.set_qty("p", 3, 28, 2);
    assert_eq!(
        Value::from(g.ok(&t, "purchase_vip_card", json!({"card_id": 26}))),
        json!({"cooling_time": 31 * DAY, "card_id": 26})
    );
    assert_eq!(g.qty("p", 3, 26), 1);
    // a day later a second month card runs from the end of the first
    g.s.services.clock.advance(DAY);
    let again = g.ok(&t, "purchase_vip_card", json!({"card_id": "26"}));
    assert_eq!(again["cooling_time"], 61 * DAY);
    assert_eq!(g.qty("p", 3, 26), 0);
    assert_eq!(
        Value::from(g.ok(&t, "purchase_vip_card", json!({"card_id": 28}))),
        json!({"cooling_time": -1, "card_id": 28})
    );
    // a second perpetual card would change nothing: refused, the item kept
    assert_eq!(
        g.fails(&t, "purchase_vip_card", json!({"card_id": 28}), 98),
        "VIP card has not expired"
    );
    assert_eq!(g.qty("p", 3, 28), 1);
    let info = g.ok(&t, "get_info_vip", json!({}));
    assert_eq!(
        (
            &info["min_card"],
            &info["min_seconds"],
            &info["max_card"],
            &info["perpetual_card"]
        ),
        (&json!(true), &json!(61 * DAY), &json!(false), &json!(true))
    );
    // the month card ends; the perpetual one does not
    g.s.services.clock.advance(61 * DAY);
    let info = g.ok(&t, "get_info_vip", json!({}));
    assert_eq!(
        (
            &info["min_card"],
            &info["min_seconds"],
            &info["perpetual_card"]
        ),
        (&json!(false), &json!(0), &json!(true))
    );
}

#[test]
fn the_daily_reward_gives_each_cards_experience_and_the_reward_of_the_level_reached() {
    let g = start();
    let t = g.player("p", "Pat");
    set_vip_exp(&g, "p", 50);
    g.set_qty("p", 3, 26, 1);
    g.set_qty("p", 3, 28, 1);
    g.ok(&t, "purchase_vip_card", json!({"card_id": 26}));
    g.ok(&t, "purchase_vip_card", json!({"card_id": 28}));
    let got = g.ok(&t, "get_vip_daily_reward", json!({}));
    // min card: 50 + 10 = 60, VIP 1: its reward is 10 diamond cards (3:23); the perpetual
    // card: + 20 = 80, still VIP 1, 10 more
    let items = |values: [u64; 6]| {
        let ids = ["1", "10", "20", "21", "22", "23"];
        Value::from(
            ids.iter()
                .zip(values)
                .map(|(iid, value)| json!({"iid": iid, "value": value}))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        Value::from(got),
        json!({
            "remaining": {
                "min_card": {"card": true, "item": items([5000, 100, 0, 0, 0, 10])},
                "max_card": {"card": false},
                "perpetual_card": {"card": true, "item": items([5000, 100, 0, 0, 0, 20])},
                "exp_info": {"exp": 80, "level": 1, "need": 220, "reward": 20},
            },
            "reward": {
                "min_card": {"item": items([0, 0, 0, 0, 0, 10])},
                "max_card": {},
                "perpetual_card": {"item": items([0, 0, 0, 0, 0, 10])},
            },
        })
    );
    assert_eq!(g.qty("p", 3, 23), 20);
    assert_eq!(g.achievement("p", 3), Some(1), "LvVip counts the VIP level");
    assert_eq!(
        g.fails(&t, "get_vip_daily_reward", json!({}), 99),
        "The cooling time is not over"
    );
    let info = g.ok(&t, "get_info_vip", json!({}));
    assert_eq!(info["cooling_time"], daily::seconds_to_next_day(NOON));
    assert_eq!(
        info["exp_info"],
        json!({"exp": 80, "level": 1, "need": 220, "reward": 0})
    );
    // the next game day (UTC+8 midnight), once more
    g.s.services
        .clock
        .set(daily::day_end(daily::game_day(NOON)));
    let got = g.ok(&t, "get_vip_daily_reward", json!({}));
    assert_eq!(got["remaining"]["exp_info"]["exp"], 110);
    assert_eq!(g.qty("p", 3, 23), 40);
    g.fails(&t, "get_vip_daily_reward", json!({}), 99);
    // up to VIP 2 (300): its reward has coins too; the achievement follows the level
    set_vip_exp(&g, "p", 280);
    g.s.services.clock.advance(DAY);
    let got = g.ok(&t, "get_vip_daily_reward", json!({}));
    assert_eq!(got["remaining"]["exp_info"]["level"], 2);
    // the min card's 10 (290) is still VIP 1 (no coins), the perpetual card's 20 makes 2
    assert_eq!(g.qty("p", 3, 1), 5000 + 10_000);
    assert_eq!(g.achievement("p", 3), Some(2));
}

#[test]
fn two_concurrent_daily_rewards_grant_once() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 27, 1);
    g.ok(&t, "purchase_vip_card", json!({"card_id": 27}));
    set_vip_exp(&g, "p", 1_000_000);
    for round in 0..3 {
        let statuses = g.statuses_at_once(&t, 8, |_| ("get_vip_daily_reward", json!({})));
        assert_eq!(count(&statuses, 0), 1, "round {round}: {statuses:?}");
        assert_eq!(count(&statuses, 99), 7, "round {round}: {statuses:?}");
        // VIP 14: 20000 coins a day, 15 experience a day
        assert_eq!(g.qty("p", 3, 1), 5000 + (round + 1) * 20_000);
        let exp: Option<u64> = g
            .db()
            .exec_first("SELECT exp FROM vip WHERE unique_id = 'p'", ())
            .unwrap();
        assert_eq!(exp, Some(1_000_000 + (round + 1) * 15));
        g.s.services.clock.advance(DAY);
    }
}

#[test]
fn vip_gifts_cost_diamonds_up_to_the_players_vip_level() {
    let g = start();
    let t = g.player("p", "Pat");
    assert_eq!(
        g.fails(&t, "purchase_vip_gift", json!({"tier": 1}), 99),
        "You don't have enough VIP status"
    );
    // tier 0 (2 energy potions, 3:10, for 100 diamonds): the new player's 100 diamonds
    assert_eq!(
        Value::from(g.ok(&t, "purchase_vip_gift", json!({"tier": 0}))),
        json!({
            "remaining": {"diamond": 0, "gifts": [{"gid": 3, "mid": 10, "qty": 102}]},
            "reward": {"diamond": -100, "gifts": [{"gid": 3, "mid": 10, "qty": 2}]},
            "exp_info": {"exp": 0, "level": 0, "need": 60, "reward": 0},
        })
    );
    assert_eq!(
        g.fails(&t, "purchase_vip_gift", json!({"tier": 0}), 98),
        "Diamond insufficient"
    );
    set_vip_exp(&g, "p", 300);
    g.set_qty("p", 3, 5, 500);
    let got = g.ok(&t, "purchase_vip_gift", json!({"tier": "2"}));
    assert_eq!(got["reward"]["diamond"], -500);
    assert_eq!(
        (g.qty("p", 3, 10), g.qty("p", 3, 29), g.qty("p", 3, 30)),
        (108, 30, 30)
    );
    for (data, code) in [
        (json!({"tier": 3}), 99),
        (json!({"tier": i64::MAX}), 99),
        (json!({"tier": -1}), 97),
        (json!({"tier": i64::MIN}), 97),
        (json!({}), 13),
        (json!({"tier": "one"}), 13),
        (json!({"tier": null}), 13),
    ] {
        g.fails(&t, "purchase_vip_gift", data, code);
    }
    assert_eq!((g.qty("p", 3, 5), g.qty("p", 3, 10)), (0, 108));
    // concurrent purchases: exactly as many as the diamonds pay for
    g.set_qty("p", 3, 5, 300);
    let statuses = g.statuses_at_once(&t, 6, |_| ("purchase_vip_gift", json!({"tier": 0})));
    assert_eq!(count(&statuses, 0), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 98), 3, "{statuses:?}");
    assert_eq!((g.qty("p", 3, 5), g.qty("p", 3, 10)), (0, 114));
}

#[test]
fn concurrent_card_activations_use_each_card_once() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_qty("p", 3, 27, 2);
    let statuses = g.statuses_at_once(&t, 6, |_| ("purchase_vip_card", json!({"card_id": 27})));
    assert_eq!(count(&statuses, 0), 2, "{statuses:?}");
    assert_eq!(count(&statuses, 18), 4, "{statuses:?}");
    assert_eq!(g.qty("p", 3, 27), 0);
    assert_eq!(g.ok(&t, "get_info_vip", json!({}))["max_seconds"], 62 * DAY);
}

#[test]
fn the_vip_exp_card_gives_vip_experience() {
    let g = start();
    let t = g.player("p", "Pat");
    g.fails(&t, "exchange_card", json!({"cid": 43}), 95);
    g.set_qty("p", 3, 43, 10);
    // VIP 0: bnum (10) a card, not 0 × 10 (the original kept the card and gave nothing)
    assert_eq!(
        Value::from(g.ok(&t, "exchange_card", json!({"cid": 43}))),
        json!({
            "remaining": {"sql_table": "progress", "mid": "vipexp", "mnum": 10, "cid": 43, "cnum": 9},
            "reward": {"sql_table": "progress", "mid": "vipexp", "mnum": 10, "cid": 43, "cnum": -1},
            "exp_info": {"exp": 10, "level": 0, "need": 50, "reward": 10},
        })
    );
    assert_eq!(g.achievement("p", 3), None);
    let got = g.ok(&t, "exchange_card", json!({"cid": 43, "qty": 5}));
    assert_eq!(
        got["exp_info"],
        json!({"exp": 60, "level": 1, "need": 240, "reward": 50})
    );
    assert_eq!(g.achievement("p", 3), Some(1));
    // VIP 1: level × bnum a card
    let got = g.ok(&t, "exchange_card", json!({"cid": 43, "qty": 2}));
    assert_eq!(got["reward"]["mnum"], 20);
    assert_eq!(g.ok(&t, "get_info_vip", json!({}))["exp_info"]["exp"], 80);
    for (data, code) in [
        (json!({"cid": 43, "qty": 0}), 96),
        (json!({"cid": 43, "qty": -3}), 96),
        (json!({"cid": 43, "qty": 3}), 95),
        (json!({"cid": 43, "qty": i64::MAX}), 95),
    ] {
        g.fails(&t, "exchange_card", data, code);
    }
    assert_eq!(g.qty("p", 3, 43), 2);
    assert_eq!(g.ok(&t, "get_info_vip", json!({}))["exp_info"]["exp"], 80);
    assert_eq!(vip::CARD_MIN, 26);
}

// ------------------------------------------------------------------------------ schema

#[test]
fn players_of_the_schema_before_migration_12_keep_their_data() {
    let (_server, db, before) = schema_before(12, 2);
    let mut conn = db.conn().unwrap();
    for insert in [
        "INSERT INTO players (world, unique_id, gn, level) VALUES ('s0', 'old', 'Old', 30)",
        "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', 'old', 3, 4, 777)",
        "INSERT INTO daily_limits (world, unique_id, lid, day, used) \
         VALUES ('s0', 'old', 24, '2024-03-01', 2)",
    ] {
        conn.query_drop(insert).unwrap();
    }
    assert_eq!(
        db::migrate_with(&db, &db::MIGRATIONS[..=before]).unwrap(),
        [12]
    );
    let kept: Vec<(String, i64)> = conn
        .query("SELECT gn, level FROM players WHERE unique_id = 'old'")
        .unwrap();
    assert_eq!(kept, [("Old".to_string(), 30)]);
    let qty: Option<u64> = conn
        .query_first("SELECT qty FROM items WHERE unique_id = 'old' AND item_id = 4")
        .unwrap();
    assert_eq!(qty, Some(777));
    let used: Option<u32> = conn
        .query_first("SELECT used FROM daily_limits WHERE unique_id = 'old' AND lid = 24")
        .unwrap();
    assert_eq!(used, Some(2));
    for table in ["sciences", "elements", "element_resets", "vip"] {
        let rows: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {table}"))
            .unwrap();
        assert_eq!(
            rows,
            Some(0),
            "{table}: an old player has no rows and gets the defaults"
        );
    }
}
