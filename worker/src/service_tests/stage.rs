//! The stage functions as the original's stage.py answers them, against real MariaDB and
//! Redis through the real handler: enter then win (once), energy and daily tickets,
//! levels from experience, the world boss and its ranking, sweeping, idle rewards by the
//! clock; bad input; one payout under concurrent calls.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::Clock;

/// 2024-03-01 12:00:00 in Shanghai.
const NOON: i64 = 1_709_265_600;

fn start() -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(NOON));
    g
}

fn set_best(g: &Game, uid: &str, sid: u8, stage: i64) {
    g.db()
        .exec_drop(
            "INSERT INTO stages (world, unique_id, sid, stage) VALUES ('s0', ?, ?, ?) \
             ON DUPLICATE KEY UPDATE stage = VALUES(stage)",
            (uid, sid, stage),
        )
        .unwrap();
}

fn set_energy(g: &Game, uid: &str, energy: u64) {
    g.db()
        .exec_drop(
            "INSERT INTO energy (world, unique_id, energy, recover_from) VALUES ('s0', ?, ?, ?) \
             ON DUPLICATE KEY UPDATE energy = VALUES(energy), recover_from = VALUES(recover_from)",
            (uid, energy, NOON),
        )
        .unwrap();
}

fn energy_of(g: &Game, uid: &str) -> u64 {
    g.db()
        .exec_first(
            "SELECT energy FROM energy WHERE world = 's0' AND unique_id = ?",
            (uid,),
        )
        .unwrap()
        .unwrap_or(120)
}

fn exp_level(g: &Game, uid: &str) -> (u64, i64) {
    g.db()
        .exec_first(
            "SELECT exp, level FROM players WHERE world = 's0' AND unique_id = ?",
            (uid,),
        )
        .unwrap()
        .unwrap()
}

/// Enters and wins `stage` of `mode`; answers the victory's data.
fn clear(g: &Game, t: &str, mode: &str, stage: i64) -> serde_json::Map<String, Value> {
    g.ok(t, &format!("stage_enter_{mode}"), json!({"stage": stage}));
    g.ok(t, &format!("stage_victory_{mode}"), json!({"stage": stage}))
}

#[test]
fn a_general_stage_is_entered_then_won_once() {
    let g = start();
    let t = g.player("p", "Pat");
    set_best(&g, "p", 0, 7);
    let entered = g.ok(&t, "stage_enter_general", json!({"stage": 8}));
    assert_eq!(
        Value::from(entered),
        json!({"remain": [], "reward": [], "addition": {},
               "energy": {"cooling": 360, "remain": 114, "reward": -6}})
    );
    assert_eq!(energy_of(&g, "p"), 114, "paid on enter");
    let won = g.ok(&t, "stage_victory_general", json!({"stage": "8"}));
    assert_eq!(
        Value::from(won),
        json!({
            "boss": {},
            "remain": ["3:9:125", "3:2:125", "3:1:5375"],
            "reward": ["3:9:125", "3:2:125", "3:1:375"],
            "exp_info": {"exp": 120, "level": 2, "need": 240, "reward": 120},
            "max_stage": 8,
            "energy_info": {"energy": 114, "recover_time": "2024-03-01 12:00:00", "cooling_time": 360},
        })
    );
    assert_eq!(exp_level(&g, "p"), (120, 2), "players.level follows exp");
    assert!(g.task("p", 5).is_some(), "PassMainStage");
    assert_eq!(g.achievement("p", 20), Some(1), "PassStage: a new best");
    // one victory per enter; a stage never entered: 94, nothing granted
    assert_eq!(
        g.fails(&t, "stage_victory_general", json!({"stage": 8}), 94),
        "stage mismatch"
    );
    g.fails(&t, "stage_victory_general", json!({"stage": 5}), 94);
    assert_eq!(g.qty("p", 3, 9), 125);
    // a stage cleared before pays again when entered again, but is no new best
    let again = clear(&g, &t, "general", 8);
    assert_eq!(again["max_stage"], 8);
    assert_eq!(g.achievement("p", 20), Some(1));
    assert_eq!(g.qty("p", 3, 9), 250);
    // the next stage may be entered, not the one after; the mode's range only
    g.ok(&t, "stage_enter_general", json!({"stage": 9}));
    for bad in [10, 0, -1, 1000, 1001, i64::MAX] {
        assert_eq!(
            g.fails(&t, "stage_enter_general", json!({"stage": bad}), 91),
            "stage error"
        );
    }
    // the open enter of 9 is not a victory of another mode or stage
    g.fails(&t, "stage_victory_endless", json!({"stage": 9}), 91);
    g.fails(&t, "stage_victory_general", json!({"stage": 8}), 94);
    // a later enter replaces the open one (one per player, as the original's)
    g.ok(&t, "stage_enter_general", json!({"stage": 8}));
    g.fails(&t, "stage_victory_general", json!({"stage": 9}), 94);
    for (data, field) in [
        (json!({}), "`stage` is missing"),
        (json!({"stage": "x"}), "`stage` must be an integer"),
        (json!({"stage": 8.5}), "`stage` must be an integer"),
        (json!({"stage": [8]}), "`stage` must be an integer"),
    ] {
        let r = g.call(&t, "stage_victory_general", data);
        assert_eq!((r.status, r.data["reason"].clone()), (13, json!(field)));
    }
    // another player's open enter is not mine
    let other = g.player("q", "Quinn");
    g.fails(&other, "stage_victory_general", json!({"stage": 8}), 94);
    g.ok(&t, "stage_victory_general", json!({"stage": 8}));
    // without a player: 17
    g.fails(
        &g.session("nobody"),
        "stage_enter_general",
        json!({"stage": 1}),
        17,
    );
}

#[test]
fn enters_need_energy_level_and_a_stage_config() {
    let g = start();
    let t = g.player("p", "Pat");
    set_best(&g, "p", 0, 7);
    set_energy(&g, "p", 5);
    assert_eq!(
        g.fails(&t, "stage_enter_general", json!({"stage": 8}), 97),
        "energy insufficient"
    );
    assert_eq!(energy_of(&g, "p"), 5);
    g.fails(&t, "stage_victory_general", json!({"stage": 8}), 94);
    // the clock gives points back: one every six minutes
    g.s.services.clock.advance(360);
    g.ok(&t, "stage_enter_general", json!({"stage": 8}));
    assert_eq!(energy_of(&g, "p"), 0);
    // no config for stage 25 (the original's stages end at 24)
    set_best(&g, "p", 0, 24);
    assert_eq!(
        g.fails(&t, "stage_enter_general", json!({"stage": 25}), 98),
        "There is no configuration information for this stage"
    );
    // coin challenges from level 12
    assert_eq!(
        g.fails(&t, "stage_enter_coin", json!({"stage": 4001}), 90),
        "level insufficient"
    );
    g.set_level("p", 12);
    set_energy(&g, "p", 120);
    g.ok(&t, "stage_enter_coin", json!({"stage": 4001}));
}

#[test]
fn challenges_take_a_ticket_a_game_day() {
    let g = start();
    let t = g.player("p", "Pat");
    g.set_level("p", 12);
    set_energy(&g, "p", 1000);
    for left in [2, 1, 0] {
        let entered = g.ok(&t, "stage_enter_coin", json!({"stage": 4001}));
        assert_eq!(
            entered["COIN"],
            json!({"limits": {"19": left, "20": 2}, "cd": 12 * 3600})
        );
    }
    assert_eq!(
        g.fails(&t, "stage_enter_coin", json!({"stage": 4001}), 92),
        "no more ticket, try tomorrow"
    );
    let won = g.ok(&t, "stage_victory_coin", json!({"stage": 4001}));
    assert_eq!(won["reward"], json!(["3:1:5000", "3:18:1"]));
    assert_eq!(won["max_stage"], 4001);
    assert_eq!(won["COIN"]["limits"], json!({"19": 0, "20": 2}));
    // level 12 experience counted from the level's start, no experience reward
    assert_eq!(won["exp_info"]["level"], 12);
    assert_eq!(won["exp_info"]["reward"], 0);
    let exp_entered = g.ok(&t, "stage_enter_exp", json!({"stage": 4151}));
    assert_eq!(exp_entered["EXP"]["limits"], json!({"21": 2, "22": 2}));
    let all = g.ok(&t, "stage_all_infos", json!({}));
    assert_eq!(
        Value::from(all),
        json!({"infos": {"0": 1, "1": 1000, "3": 3000, "4": 4001, "5": 4150},
               "limits": {"3": {"18": 3}, "4": {"19": 0, "20": 2}, "5": {"21": 2, "22": 2}}})
    );
    // the game day turns at midnight in Shanghai
    g.s.services.clock.advance(12 * 3600);
    let entered = g.ok(&t, "stage_enter_coin", json!({"stage": 4001}));
    assert_eq!(entered["COIN"]["limits"]["19"], 2);
    // 4002 is open now, from level 18
    g.fails(&t, "stage_enter_coin", json!({"stage": 4002}), 90);
    g.fails(&t, "stage_enter_coin", json!({"stage": 4003}), 91);
    let info = g.ok(&t, "get_info_player", json!({}));
    assert_eq!(info["stages"]["infos"]["4"], 4001);
    assert_eq!(info["stages"]["limits"]["4"]["19"], 2);
}

#[test]
fn the_world_boss_counts_bounded_damage_and_ranks_the_world() {
    let g = start();
    let a = g.player("a", "Ann");
    let b = g.player("b", "Ben");
    for uid in ["a", "b"] {
        g.set_level(uid, 24);
    }
    let entered = g.ok(&a, "stage_enter_boss", json!({"stage": 3001}));
    assert_eq!(
        entered["BOSS"],
        json!({"limits": {"18": 2}, "cd": 12 * 3600})
    );
    // damage beyond constraint.stage.BOSS.damage, negative, or not a number: refused, the
    // enter stays open
    for bad in [json!(500_001), json!(-1), json!(i64::MAX)] {
        assert_eq!(
            g.fails(
                &a,
                "stage_victory_boss",
                json!({"stage": 3001, "damage": bad}),
                93
            ),
            "abnormal damage"
        );
    }
    let r = g.call(
        &a,
        "stage_victory_boss",
        json!({"stage": 3001, "damage": "much"}),
    );
    assert_eq!(r.status, 13);
    let won = g.ok(
        &a,
        "stage_victory_boss",
        json!({"stage": 3001, "damage": 500_000}),
    );
    assert_eq!(
        won["boss"],
        json!({"record": 1, "stage": 3001,
               "bds": {"hp": 9_500_000, "ratio": "0.95", "damage": 500_000, "total": 500_000}})
    );
    assert_eq!(won["BOSS"]["limits"], json!({"18": 2}));
    assert!(g.task("a", 7).is_some(), "PassWorldBoss");
    g.ok(&a, "stage_enter_boss", json!({"stage": 3001}));
    let won = g.ok(
        &a,
        "stage_victory_boss",
        json!({"stage": 3001, "damage": 1000}),
    );
    assert_eq!(
        won["boss"],
        json!({"record": 0, "stage": 3001,
               "bds": {"hp": 9_499_000, "ratio": "0.95", "damage": 500_000, "total": 501_000}})
    );
    g.ok(&b, "stage_enter_boss", json!({"stage": 3001}));
    g.ok(
        &b,
        "stage_victory_boss",
        json!({"stage": 3001, "damage": 7}),
    );
    let refreshed = g.call(&a, "stage_refresh_boss", json!({}));
    assert_eq!(refreshed.status, 0);
    assert_eq!(refreshed.message, "Successfully get hook information");
    assert_eq!(
        Value::from(refreshed.data),
        json!({
            "bds": {
                "3001": {"hp": 9_498_993, "ratio": "0.95", "damage": 500_000, "total": 501_000},
                "3002": {"hp": 30_000_000, "ratio": "1.00", "damage": 0, "total": 0},
            },
            "limit": 1,
            "cd": 12 * 3600,
            // March has 31 days: from noon on the 1st to April 1st, 00:00 UTC+8
            "mcd": 30 * 86_400 + 12 * 3600,
        })
    );
    let ranking = g.ok(
        &b,
        "stage_damage_ranking",
        json!({"stage": 3001, "page": 1}),
    );
    assert_eq!(
        Value::from(ranking),
        json!({
            "page": 1,
            "own_rank": {"2": {"damage": 7, "rank": 2}},
            "rank": [
                {"NO": 1, "name": "Ann", "fid": "", "icon": 0, "exp": 33_120, "level": 24, "damage": 501_000},
                {"NO": 2, "name": "Ben", "fid": "", "icon": 0, "exp": 33_120, "level": 24, "damage": 7},
            ],
        })
    );
    assert_eq!(
        g.fails(
            &a,
            "stage_damage_ranking",
            json!({"stage": 3001, "page": 0}),
            89
        ),
        "Page number error"
    );
    assert_eq!(
        g.fails(
            &a,
            "stage_damage_ranking",
            json!({"stage": 3001, "page": 2}),
            88
        ),
        "No data for this page"
    );
    g.fails(&a, "stage_damage_ranking", json!({"page": i64::MAX}), 88);
    // the original's default stage 3000 has no boss: no data
    g.fails(&a, "stage_damage_ranking", json!({}), 88);
    let nobody = g.player("c", "Cid");
    let own = g.ok(&nobody, "stage_damage_ranking", json!({"stage": 3001}));
    assert_eq!(own["own_rank"], json!({"2": {"damage": 0, "rank": -1}}));
    // three boss fights a game day
    g.ok(&a, "stage_enter_boss", json!({"stage": 3001}));
    g.fails(&a, "stage_enter_boss", json!({"stage": 3001}), 92);
    // a new month: the boss is whole again, the damage records stay
    g.s.services.clock.advance(31 * 86_400);
    let refreshed = g.call(&a, "stage_refresh_boss", json!({}));
    assert_eq!(refreshed.data["bds"]["3001"]["hp"], 10_000_000);
    assert_eq!(refreshed.data["bds"]["3001"]["total"], 501_000);
}

#[test]
fn sweeps_pay_per_count_for_cleared_stages() {
    let g = start();
    let t = g.player("p", "Pat");
    for (count, code) in [(json!(0), 96), (json!(-3), 96), (json!("0"), 96)] {
        assert_eq!(
            g.fails(
                &t,
                "stage_mopping_up",
                json!({"stage": 8, "count": count}),
                code
            ),
            "Can only be a positive integer"
        );
    }
    assert_eq!(
        g.fails(&t, "stage_mopping_up", json!({"stage": 8}), 99),
        "Do not sweep until you pass this checkpoint"
    );
    // stage 1 is cleared from the start but has no sweep
    g.fails(&t, "stage_mopping_up", json!({"stage": 1}), 98);
    g.fails(&t, "stage_mopping_up", json!({"stage": -5}), 98);
    set_best(&g, "p", 0, 10);
    let swept = g.ok(&t, "stage_mopping_up", json!({"stage": 8, "count": 2}));
    assert_eq!(
        Value::from(swept),
        json!({
            "energy": {"cooling": 360, "remain": 108, "reward": -12},
            "remain": ["3:9:200", "3:1:5400", "3:2:400"],
            "reward": ["3:9:200", "3:1:400", "3:2:400"],
            "exp_info": {"exp": 240, "level": 2, "need": 120, "reward": 240},
        })
    );
    assert!(g.task("p", 5).is_some());
    for huge in [json!(21), json!(i64::MAX), json!(u64::MAX)] {
        let r = g.call(&t, "stage_mopping_up", json!({"stage": 8, "count": huge}));
        assert!(matches!(r.status, 97 | 13), "{}", r.to_json());
    }
    assert_eq!(energy_of(&g, "p"), 108);
    assert_eq!(g.qty("p", 3, 9), 200);
    let r = g.call(&t, "stage_mopping_up", json!({"count": 1}));
    assert_eq!(r.status, 13);
}

#[test]
fn idle_rewards_follow_the_clock_from_the_first_endless_clear() {
    let g = start();
    let t = g.player("p", "Pat");
    assert_eq!(
        g.fails(&t, "stage_hang_up", json!({}), 87),
        "You didn't go pass"
    );
    let shown = g.ok(&t, "stage_hu_show", json!({}));
    assert_eq!(shown["show"], json!(["3:1:0"]));
    let won = clear(&g, &t, "endless", 1001);
    assert_eq!(won["reward"], json!(["3:9:125", "3:2:125", "3:1:375"]));
    assert!(g.task("p", 6).is_some(), "PassSpecialStage");
    // idling started with the clear: an hour is 60 units of stage 1001's "3:1:10"
    g.s.services.clock.advance(3600 + 59);
    assert_eq!(
        g.ok(&t, "stage_hu_show", json!({}))["show"],
        json!(["3:1:600"])
    );
    let claimed = g.ok(&t, "stage_hang_up", json!({}));
    assert_eq!(
        Value::from(claimed),
        json!({"remain": ["3:1:5975"], "reward": ["3:1:600"],
               "exp_info": {"exp": 0, "level": 1, "need": 120, "reward": 0}})
    );
    let again = g.ok(&t, "stage_hang_up", json!({}));
    assert_eq!(again["reward"], json!(["3:1:0"]));
    // at most `limit` (12 hours) counts
    g.s.services.clock.advance(7 * 86_400);
    let claimed = g.ok(&t, "stage_hang_up", json!({}));
    assert_eq!(claimed["reward"], json!(["3:1:7200"]));
    // a player past the first endless stage without idling started: 86, then it counts
    let u = g.player("u", "Una");
    set_best(&g, "u", 1, 1002);
    assert_eq!(
        g.fails(&u, "stage_hang_up", json!({}), 86),
        "You never hung up before"
    );
    g.s.services.clock.advance(120);
    let claimed = g.ok(&u, "stage_hang_up", json!({}));
    assert_eq!(
        claimed["reward"],
        json!(["3:1:40"]),
        "stage 1002: 3:1:20 a unit"
    );
}

#[test]
fn concurrent_victories_of_one_enter_pay_once() {
    let g = start();
    let t = g.player("p", "Pat");
    set_best(&g, "p", 0, 7);
    for _round in 0..3 {
        g.ok(&t, "stage_enter_general", json!({"stage": 8}));
        let statuses: Vec<i32> = at_once(6, |_| {
            g.call(&t, "stage_victory_general", json!({"stage": 8}))
                .status
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 94, 94, 94, 94, 94], "{statuses:?}");
    }
    assert_eq!(g.qty("p", 3, 9), 3 * 125);
    assert_eq!(exp_level(&g, "p").0, 3 * 120);
}

#[test]
fn concurrent_enters_on_the_last_energy_enter_once() {
    let g = start();
    let t = g.player("p", "Pat");
    set_best(&g, "p", 0, 7);
    set_energy(&g, "p", 6);
    let statuses: Vec<i32> = at_once(6, |_| {
        g.call(&t, "stage_enter_general", json!({"stage": 8}))
            .status
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 97, 97, 97, 97, 97], "{statuses:?}");
    assert_eq!(energy_of(&g, "p"), 0);
    g.ok(&t, "stage_victory_general", json!({"stage": 8}));
    g.fails(&t, "stage_victory_general", json!({"stage": 8}), 94);
}

#[test]
fn concurrent_idle_claims_pay_once() {
    let g = start();
    let t = g.player("p", "Pat");
    clear(&g, &t, "endless", 1001);
    g.s.services.clock.advance(600);
    let coins = g.qty("p", 3, 1);
    let rewards: Vec<Value> = at_once(6, |_| {
        g.ok(&t, "stage_hang_up", json!({}))["reward"].clone()
    });
    let paid: Vec<&Value> = rewards.iter().filter(|r| **r != json!(["3:1:0"])).collect();
    assert_eq!(paid, [&json!(["3:1:100"])], "{rewards:?}");
    assert_eq!(g.qty("p", 3, 1), coins + 100);
}
