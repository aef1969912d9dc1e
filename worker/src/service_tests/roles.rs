//! Roles, skills and armor as the original's role.py, skill.py and armor.py answer them,
//! against real MariaDB and Redis through the real handler: the starting role, levels paid
//! in exp points and coins, stars from segments, passives, skill scrolls and their
//! chances (fixed seed, many draws), the armor recipe, the progress they count, and exact
//! balances under concurrent calls.

use std::sync::atomic::{AtomicU64, Ordering};

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::Seeds;
use crate::modules::role::level_cost;

fn role_row(rid: u64, star: u64, level: u64, seg: u64, unlocked: &[u64]) -> Value {
    let mut r = json!({"rid": rid, "star": star, "level": level, "seg": seg});
    for pid in 101..=110u64 {
        r[pid.to_string()] = json!(u64::from(unlocked.contains(&pid)));
    }
    r
}

impl Game {
    fn role(&self, token: &str, rid: u64) -> Value {
        let all = self.ok(token, "get_all_role", json!({}));
        all["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rid"] == rid)
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn set_role_level(&self, uid: &str, rid: u32, level: u32) {
        self.db()
            .exec_drop(
                "UPDATE roles SET level = ? WHERE world = 's0' AND unique_id = ? AND role_id = ?",
                (level, uid, rid),
            )
            .unwrap();
    }

    fn learn(&self, uid: &str, sid: u32, level: u32) {
        self.db()
            .exec_drop(
                "INSERT INTO skills (world, unique_id, skill_id, level) VALUES ('s0', ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE level = VALUES(level)",
                (uid, sid, level),
            )
            .unwrap();
    }

    fn skill_level(&self, uid: &str, sid: u32) -> Option<u32> {
        self.db()
            .exec_first(
                "SELECT level FROM skills WHERE world = 's0' AND unique_id = ? AND skill_id = ?",
                (uid, sid),
            )
            .unwrap()
    }

    fn set_armor(&self, uid: &str, aid: u32, level: u32, qty: u64) {
        self.db()
            .exec_drop(
                "INSERT INTO armors (world, unique_id, armor_id, level, qty) VALUES ('s0', ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
                (uid, aid, level, qty),
            )
            .unwrap();
    }

    /// Armor `aid` of `uid`, levels 1..11.
    fn armor(&self, uid: &str, aid: u32) -> [u64; 11] {
        let rows: Vec<(usize, u64)> = self
            .db()
            .exec(
                "SELECT level, qty FROM armors WHERE world = 's0' AND unique_id = ? AND armor_id = ?",
                (uid, aid),
            )
            .unwrap();
        let mut t = [0; 11];
        for (lv, q) in rows {
            t[lv - 1] = q;
        }
        t
    }
}

/// What armors are worth in level-1 armors (three of a level make one of the next).
fn worth(t: &[u64; 11]) -> u64 {
    t.iter()
        .enumerate()
        .map(|(i, q)| q * 3u64.pow(i as u32))
        .sum()
}

#[test]
fn new_players_have_the_originals_starting_role() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    let all = g.ok(&t, "get_all_role", json!({}));
    assert_eq!(all["roles"], json!([role_row(402, 1, 1, 0, &[])]));
    // segments of a role not owned: listed at star 0 (locked)
    g.set_qty("hero", 2, 105, 7);
    assert_eq!(g.role(&t, 105), role_row(105, 0, 1, 7, &[]));
    assert_eq!(g.ok(&t, "get_all_skill", json!({}))["skills"], json!([]));
    assert_eq!(g.ok(&t, "get_all_armor", json!({}))["armors"], json!([]));
    let nobody = g.session("nobody");
    for (function, data) in [
        ("get_all_role", json!({})),
        ("level_up_role", json!({"role":402})),
        ("level_up_star_role", json!({"role":402})),
        ("unlock_passive_role", json!({"rid":402,"pid":101})),
        ("get_all_skill", json!({})),
        ("level_up_skill", json!({"skill":1,"item":8})),
        ("get_all_armor", json!({})),
        ("upgrade_armor", json!({"aid":1,"level":2})),
    ] {
        g.fails(&nobody, function, data, 17);
    }
}

#[test]
fn role_levels_cost_exp_points_and_coins_and_count_the_task_and_achievement() {
    let g = Game::start();
    // 2024-01-01 12:00 UTC+8
    g.s.services.clock.set(1_704_081_600);
    let t = g.player("hero", "Hero");
    // 5000 coins, no exp points: refused, nothing spent
    assert_eq!(
        g.fails(&t, "level_up_role", json!({"role":402,"delta":5}), 97),
        "can not pay for upgrade"
    );
    g.set_qty("hero", 3, 9, 499);
    g.fails(&t, "level_up_role", json!({"role":402,"delta":5}), 97);
    assert_eq!((g.qty("hero", 3, 1), g.qty("hero", 3, 9)), (5000, 499));
    assert_eq!(g.task("hero", 3), None);
    g.set_qty("hero", 3, 9, 1000);
    let up = g.ok(&t, "level_up_role", json!({"role":402,"delta":5}));
    assert_eq!(
        Value::from(up),
        json!({
            "remaining": {"2": {"rid":402,"level":6}, "3": [{"iid":9,"value":500},{"iid":1,"value":4500}]},
            "reward": {"2": {"rid":402,"level":5}, "3": [{"iid":9,"value":500},{"iid":1,"value":500}]},
        })
    );
    g.s.services.clock.advance(60);
    let done = g.task("hero", 3);
    assert!(done.is_some(), "the daily task RoleLevelUp");
    assert_eq!(g.achievement("hero", 7), Some(1), "the achievement LvUpR");
    g.set_qty("hero", 3, 9, 100_000_000);
    g.set_qty("hero", 3, 1, 100_000_000);
    // delta defaults to 1; decimal strings are taken as the original's int() did
    let up = g.ok(&t, "level_up_role", json!({"role":"402"}));
    assert_eq!(up["reward"]["2"], json!({"rid":402,"level":1}));
    assert_eq!(up["reward"]["3"][0]["value"], level_cost(6, 1));
    assert_eq!(g.achievement("hero", 7), Some(2), "one per level up");
    assert_eq!(g.task("hero", 3), done, "once a day");
    for (data, code) in [
        (json!({"role":402,"delta":0}), 98),
        (json!({"role":402,"delta":-3}), 98),
        (json!({"role":402,"delta":i64::MIN}), 98),
        (json!({"role":111}), 99),
        (json!({"role":0}), 99),
        (json!({"role":-402}), 99),
        (json!({"role":4_294_967_698_i64}), 99),
        (json!({"role":403}), 99),
        (json!({"role":"abc"}), 13),
        (json!({"role":402,"delta":"x"}), 13),
        (json!({"role":402,"delta":1.5}), 13),
        (json!({"delta":1}), 13),
    ] {
        g.fails(&t, "level_up_role", data, code);
    }
    // segments only: locked
    g.set_qty("hero", 2, 403, 5);
    assert_eq!(
        g.fails(&t, "level_up_role", json!({"role":403}), 96),
        "You don't have the role"
    );
    let before = g.qty("hero", 3, 1);
    // a huge delta stops at the tier's max level (tier 4: 100)
    let up = g.ok(&t, "level_up_role", json!({"role":402,"delta":i64::MAX}));
    assert_eq!(up["remaining"]["2"], json!({"rid":402,"level":100}));
    assert_eq!(up["reward"]["2"], json!({"rid":402,"level":93}));
    let paid = level_cost(7, 93);
    assert_eq!(g.qty("hero", 3, 1), before - paid);
    assert_eq!(g.qty("hero", 3, 9), before - paid);
    // at the max the original's clamp leaves delta 0: 98
    assert_eq!(
        g.fails(&t, "level_up_role", json!({"role":402}), 98),
        "max lv"
    );
    assert_eq!(g.role(&t, 402), role_row(402, 1, 100, 0, &[]));
}

#[test]
fn role_stars_cost_25_segments_times_the_next_star() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    g.fails(&t, "level_up_star_role", json!({"role":401}), 99);
    g.set_qty("hero", 2, 401, 24);
    assert_eq!(
        g.fails(&t, "level_up_star_role", json!({"role":401}), 98),
        "insufficient segments"
    );
    assert_eq!(g.achievement("hero", 4).unwrap_or(0), 0);
    g.set_qty("hero", 2, 401, 1400);
    let mut left = 1400;
    for star in 0..10u64 {
        let up = g.ok(&t, "level_up_star_role", json!({"role":401}));
        let cost = 25 * (star + 1);
        left -= cost;
        assert_eq!(
            Value::from(up),
            json!({"remaining": {"rid":401,"star":star + 1,"seg":left}, "reward": {"rid":401,"star":1,"seg":cost}})
        );
    }
    assert_eq!(left, 25);
    assert_eq!(
        g.achievement("hero", 4),
        Some(1),
        "Get4R once, at the unlock"
    );
    assert_eq!(
        g.fails(&t, "level_up_star_role", json!({"role":401}), 97),
        "max star"
    );
    assert_eq!(g.role(&t, 401), role_row(401, 10, 1, 25, &[]));
    // the starting role: star 1 -> 2 costs 50
    g.set_qty("hero", 2, 402, 50);
    let up = g.ok(&t, "level_up_star_role", json!({"role":402}));
    assert_eq!(up["remaining"], json!({"rid":402,"star":2,"seg":0}));
    assert_eq!(g.achievement("hero", 4), Some(1), "not an unlock");
    // a tier 1 role unlocked counts no achievement
    g.set_qty("hero", 2, 101, 25);
    g.ok(&t, "level_up_star_role", json!({"role":101}));
    g.fails(&t, "level_up_star_role", json!({"role":"x"}), 13);
    g.fails(&t, "level_up_star_role", json!({}), 13);
    g.fails(&t, "level_up_star_role", json!({"role":999}), 99);
    g.fails(&t, "level_up_star_role", json!({"role":-1}), 99);
}

#[test]
fn passives_unlock_by_role_level_for_coins_once() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    // passive 101: level 12, free
    assert_eq!(
        g.fails(&t, "unlock_passive_role", json!({"rid":402,"pid":101}), 95),
        "Your role level has not reached the unlock level"
    );
    g.set_role_level("hero", 402, 24);
    let up = g.ok(&t, "unlock_passive_role", json!({"rid":402,"pid":101}));
    assert_eq!(
        Value::from(up),
        json!({"rid":402,"pid":101,"remain":"3:1:5000","reward":"3:1:0"})
    );
    // again: 94 with the caller's passives, as the original
    let again = g.call(&t, "unlock_passive_role", json!({"rid":402,"pid":101}));
    assert_status(&again, 94, "");
    assert_eq!(Value::from(again.data), json!({"402": {"101": 1}}));
    // passive 102: level 24, 10000 coins
    assert_eq!(
        g.fails(&t, "unlock_passive_role", json!({"rid":402,"pid":102}), 93),
        "insufficient materials"
    );
    assert_eq!(g.qty("hero", 3, 1), 5000);
    g.set_qty("hero", 3, 1, 12_000);
    let up = g.ok(&t, "unlock_passive_role", json!({"rid":"402","pid":"102"}));
    assert_eq!(up["remain"], "3:1:2000");
    assert_eq!(up["reward"], "3:1:10000");
    g.fails(&t, "unlock_passive_role", json!({"rid":402,"pid":103}), 95);
    assert_eq!(g.role(&t, 402), role_row(402, 1, 24, 0, &[101, 102]));
    for (data, code) in [
        (json!({"rid":999,"pid":101}), 99),
        (json!({"rid":-402,"pid":101}), 99),
        (json!({"rid":402,"pid":111}), 98),
        (json!({"rid":402,"pid":201}), 98),
        (json!({"rid":402,"pid":1}), 98),
        (json!({"rid":402,"pid":-101}), 98),
        (json!({"rid":403,"pid":101}), 97),
        (json!({"rid":402}), 13),
        (json!({"pid":101}), 13),
        (json!({"rid":402,"pid":"x"}), 13),
    ] {
        g.fails(&t, "unlock_passive_role", data, code);
    }
    g.set_qty("hero", 2, 403, 3);
    g.fails(&t, "unlock_passive_role", json!({"rid":403,"pid":101}), 96);
    assert_eq!(g.qty("hero", 3, 1), 2000, "refusals spend nothing");
}

#[test]
fn skills_level_with_scrolls_paid_by_the_fibonacci_numbers() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    assert_eq!(
        g.fails(&t, "level_up_skill", json!({"skill":1,"item":8}), 96),
        "skill not yet unlocked"
    );
    // learned the way other modules grant skills
    let learned = crate::modules::common::transaction(&g.s.services.db, |tx| {
        let first = crate::modules::skill::learn(tx, "s0", "hero", 1)?;
        let second = crate::modules::skill::learn(tx, "s0", "hero", 1)?;
        Ok((first, second))
    })
    .unwrap();
    assert_eq!(learned, (true, false));
    assert_eq!(
        g.ok(&t, "get_all_skill", json!({}))["skills"],
        json!([{"sid":1,"level":1}])
    );
    assert_eq!(
        g.fails(&t, "level_up_skill", json!({"skill":1,"item":8}), 98),
        "insufficient materials"
    );
    g.set_qty("hero", 3, 8, 200);
    // the 100 % scroll: levels 2..10 cost 1, 2, 3, 5, 8, 13, 21, 34, 55
    let mut left = 200;
    for (level, cost) in (2..=10).zip([1, 2, 3, 5, 8, 13, 21, 34, 55]) {
        let up = g.ok(&t, "level_up_skill", json!({"skill":1,"item":8}));
        left -= cost;
        assert_eq!(
            Value::from(up),
            json!({"remain": [format!("3:8:{left}"), format!("1:1:{level}")],
                   "reward": [format!("3:8:{cost}"), "1:1:1"]})
        );
    }
    assert_eq!(left, 58);
    assert_eq!(
        g.fails(&t, "level_up_skill", json!({"skill":1,"item":8}), 99),
        "already max level"
    );
    g.learn("hero", 2, 1);
    for (data, code) in [
        (json!({"skill":2,"item":9}), 97),
        (json!({"skill":2,"item":1}), 97),
        (json!({"skill":2,"item":-8}), 97),
        (json!({"skill":2,"item":4_294_967_304_i64}), 97),
        (json!({"skill":3,"item":8}), 96),
        (json!({"skill":-1,"item":8}), 96),
        (json!({"skill":2}), 13),
        (json!({"item":8}), 13),
        (json!({"skill":"two","item":8}), 13),
    ] {
        g.fails(&t, "level_up_skill", data, code);
    }
    assert_eq!(g.qty("hero", 3, 8), 58, "refusals spend nothing");
    assert_eq!(
        g.ok(&t, "get_all_skill", json!({}))["skills"],
        json!([{"sid":1,"level":10},{"sid":2,"level":1}])
    );
}

/// With a fixed seed, many level ups of a level-1 skill succeed about as often as
/// skills.json says (10 % for scroll 6, 30 % for scroll 7); an unlucky one answers 1, keeps
/// the level and still spends the scroll.
#[test]
fn skill_level_ups_succeed_with_the_configured_chances() {
    let mut g = Game::start();
    g.s.services.seeds = Arc::new(Seeds::fixed(2024));
    let t = g.player("hero", "Hero");
    g.learn("hero", 5, 1);
    let draws = 600u32;
    for (scroll, chance) in [(6u32, 0.1f64), (7, 0.3)] {
        g.set_qty("hero", 3, scroll, u64::from(draws));
        let mut lucky = 0u32;
        for _ in 0..draws {
            g.learn("hero", 5, 1);
            let r = g.call(&t, "level_up_skill", json!({"skill":5,"item":scroll}));
            match r.status {
                0 => {
                    lucky += 1;
                    assert_eq!(r.data["reward"][1], "1:5:1");
                    assert_eq!(g.skill_level("hero", 5), Some(2));
                }
                1 => {
                    assert_eq!(r.message, "unlucky");
                    assert_eq!(r.data["remain"][1], "1:5:1");
                    assert_eq!(r.data["reward"], json!([format!("3:{scroll}:1"), "1:5:0"]));
                    assert_eq!(g.skill_level("hero", 5), Some(1));
                }
                other => panic!("answered {other}: {}", r.to_json()),
            }
        }
        assert_eq!(g.qty("hero", 3, scroll), 0, "every draw spent its scroll");
        let expected = f64::from(draws) * chance;
        let sd = (expected * (1.0 - chance)).sqrt();
        assert!(
            (f64::from(lucky) - expected).abs() < 4.0 * sd,
            "scroll {scroll}: {lucky} of {draws} (expected {expected})"
        );
    }
}

#[test]
fn armor_upgrades_follow_the_originals_recipe() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    assert_eq!(
        g.fails(&t, "upgrade_armor", json!({"aid":1,"level":2}), 97),
        "Insufficient basic armor"
    );
    g.set_armor("hero", 1, 1, 10);
    g.set_armor("hero", 1, 2, 2);
    g.set_armor("hero", 2, 1, 3);
    // one of level 3: the 2 of level 2 and one more made of 3 of level 1
    let up = g.ok(&t, "upgrade_armor", json!({"aid":1,"level":3}));
    let levels = |v: [i64; 3]| {
        let mut m = serde_json::Map::new();
        for lv in 1..=11 {
            m.insert(lv.to_string(), json!(v.get(lv - 1).copied().unwrap_or(0)));
        }
        Value::Object(m)
    };
    assert_eq!(
        Value::from(up),
        json!({"aid":1, "remaining": levels([7, 0, 1]), "reward": levels([-3, -2, 1])})
    );
    // num: two of level 2 from 6 of level 1; a decimal string taken
    let up = g.ok(
        &t,
        "upgrade_armor",
        json!({"aid":"1","level":"2","num":"2"}),
    );
    assert_eq!(up["remaining"], levels([1, 2, 1]));
    assert_eq!(up["reward"], levels([-6, 2, 0]));
    assert_eq!(
        g.ok(&t, "get_all_armor", json!({}))["armors"],
        json!([
            {"aid":1,"level":1,"quantity":1},
            {"aid":1,"level":2,"quantity":2},
            {"aid":1,"level":3,"quantity":1},
            {"aid":2,"level":1,"quantity":3},
        ])
    );
    for (data, code) in [
        (json!({"aid":1,"level":1}), 99),
        (json!({"aid":1,"level":12}), 99),
        (json!({"aid":1,"level":-2}), 99),
        (json!({"aid":9,"level":1}), 99),
        (json!({"aid":5,"level":2}), 98),
        (json!({"aid":0,"level":2}), 98),
        (json!({"aid":-1,"level":2}), 98),
        (json!({"aid":1,"level":2,"num":0}), 13),
        (json!({"aid":1,"level":2,"num":-1}), 13),
        (json!({"aid":1,"level":2,"num":-1_000_000}), 13),
        (json!({"aid":1,"level":2,"num":i64::MAX}), 13),
        (json!({"aid":1,"level":2,"num":1.5}), 13),
        (json!({"aid":1}), 13),
        (json!({"level":2}), 13),
        (json!({"aid":"x","level":2}), 13),
        (json!({"aid":1,"level":4,"num":1}), 97),
        (json!({"aid":2,"level":3}), 97),
    ] {
        g.fails(&t, "upgrade_armor", data, code);
    }
    assert_eq!(
        g.armor("hero", 1)[..3],
        [1, 2, 1],
        "refusals change nothing"
    );
    // armor 2: 3 of level 1 make one of level 2
    let up = g.ok(&t, "upgrade_armor", json!({"aid":2,"level":2}));
    assert_eq!(up["remaining"], levels([0, 1, 0]));
}

#[test]
fn a_player_levels_only_its_own_roles_and_skills() {
    let g = Game::start();
    let mallory = g.player("mallory", "Mallory");
    g.player("victim", "Victim");
    g.set_qty("victim", 3, 9, 1000);
    g.set_qty("victim", 2, 402, 100);
    g.set_qty("victim", 3, 8, 100);
    g.learn("victim", 1, 1);
    g.set_armor("victim", 1, 1, 30);
    // the handler replaces unique_id with the token's
    g.fails(
        &mallory,
        "level_up_role",
        json!({"unique_id":"victim","role":402}),
        97,
    );
    g.fails(
        &mallory,
        "level_up_star_role",
        json!({"unique_id":"victim","role":402}),
        98,
    );
    g.fails(
        &mallory,
        "level_up_skill",
        json!({"unique_id":"victim","skill":1,"item":8}),
        96,
    );
    g.fails(
        &mallory,
        "upgrade_armor",
        json!({"unique_id":"victim","aid":1,"level":2}),
        97,
    );
    assert_eq!(
        (
            g.qty("victim", 3, 9),
            g.qty("victim", 2, 402),
            g.qty("victim", 3, 8)
        ),
        (1000, 100, 100)
    );
    assert_eq!(g.armor("victim", 1)[0], 30);
}

#[test]
fn weapon_level_ups_count_the_task_and_achievement_and_unlocks_count_too() {
    let g = Game::start();
    let t = g.player("smith", "Smith");
    g.set_qty("smith", 3, 2, 1000);
    g.fails(&t, "level_up_weapon", json!({"weapon":301,"delta":50}), 97);
    assert_eq!(g.task("smith", 4), None, "a refusal counts nothing");
    g.ok(&t, "level_up_weapon", json!({"weapon":301,"delta":2}));
    g.ok(&t, "level_up_weapon", json!({"weapon":302}));
    assert!(g.task("smith", 4).is_some(), "the daily task WeaponLevelUp");
    assert_eq!(g.achievement("smith", 11), Some(2), "the achievement LvUpW");
    g.set_qty("smith", 0, 501, 90);
    g.ok(&t, "level_up_star_weapon", json!({"weapon":501}));
    g.ok(&t, "level_up_star_weapon", json!({"weapon":501}));
    assert_eq!(
        g.achievement("smith", 9),
        Some(1),
        "Get5W once, at the unlock"
    );
}

/// Many threads level one role on one exp and coin balance while others star it up: every
/// level is paid exactly once, every star with exactly its segments.
#[test]
fn concurrent_role_level_ups_and_star_ups_pay_exactly() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    // enough for 24 levels (1 -> 25), not 25
    let budget = level_cost(1, 24) + 50;
    g.set_qty("hero", 3, 9, budget);
    g.set_qty("hero", 3, 1, budget);
    // star 1 -> 2 (50) and 2 -> 3 (75), not 3 -> 4
    g.set_qty("hero", 2, 402, 50 + 75 + 99);
    let levels = AtomicU64::new(0);
    let stars = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for i in 0..12 {
            let (g, t, levels, stars) = (&g, &t, &levels, &stars);
            scope.spawn(move || {
                for _ in 0..8 {
                    let (function, counter, short) = if i % 3 == 2 {
                        ("level_up_star_role", stars, 98)
                    } else {
                        ("level_up_role", levels, 97)
                    };
                    let r = g.call(t, function, json!({"role":402}));
                    match r.status {
                        0 => {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        s if s == short => {}
                        other => panic!("{function} answered {other}: {}", r.to_json()),
                    }
                }
            });
        }
    });
    assert_eq!(
        levels.load(Ordering::SeqCst),
        24,
        "the levels the budget pays"
    );
    assert_eq!(
        stars.load(Ordering::SeqCst),
        2,
        "the stars the segments pay"
    );
    let paid = level_cost(1, 24);
    assert_eq!(g.qty("hero", 3, 9), budget - paid);
    assert_eq!(g.qty("hero", 3, 1), budget - paid);
    assert_eq!(g.role(&t, 402), role_row(402, 3, 25, 99, &[]));
    assert_eq!(g.achievement("hero", 7), Some(24));
}

/// Concurrent skill level ups with the sure scroll spend exactly the scrolls of the
/// levels gained.
#[test]
fn concurrent_skill_level_ups_spend_exactly_the_scrolls_of_the_levels() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    g.learn("hero", 3, 1);
    // levels 2..6 cost 1 + 2 + 3 + 5 + 8 = 19; level 7 would cost 13 more
    g.set_qty("hero", 3, 8, 19 + 12);
    let gained = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let (g, t, gained) = (&g, &t, &gained);
            scope.spawn(move || {
                for _ in 0..4 {
                    let r = g.call(t, "level_up_skill", json!({"skill":3,"item":8}));
                    match r.status {
                        0 => {
                            gained.fetch_add(1, Ordering::SeqCst);
                        }
                        98 => {}
                        other => panic!("answered {other}: {}", r.to_json()),
                    }
                }
            });
        }
    });
    assert_eq!(gained.load(Ordering::SeqCst), 5);
    assert_eq!(g.skill_level("hero", 3), Some(6));
    assert_eq!(g.qty("hero", 3, 8), 12);
}

/// Concurrent upgrades of one armor: no armor made from nothing, every upgrade that
/// answered 0 is in the final counts.
#[test]
fn concurrent_armor_upgrades_make_nothing_from_nothing() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    g.set_armor("hero", 1, 1, 100);
    let start = worth(&g.armor("hero", 1));
    let made = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    std::thread::scope(|scope| {
        for i in 0..12usize {
            let (g, t, made) = (&g, &t, &made);
            scope.spawn(move || {
                for _ in 0..6 {
                    let level = 2 + (i % 3);
                    let r = g.call(t, "upgrade_armor", json!({"aid":1,"level":level}));
                    match r.status {
                        0 => {
                            made[i % 3].fetch_add(1, Ordering::SeqCst);
                        }
                        97 => {}
                        other => panic!("answered {other}: {}", r.to_json()),
                    }
                }
            });
        }
    });
    let end = g.armor("hero", 1);
    assert_eq!(worth(&end), start, "converted, never created");
    let made: Vec<u64> = made.iter().map(|m| m.load(Ordering::SeqCst)).collect();
    assert!(made.iter().sum::<u64>() > 0);
    // level 4 is only ever made (nothing above it is), so it counts the upgrades to it
    assert_eq!(end[3], made[2]);
    assert!(end[4..].iter().all(|q| *q == 0));
}
