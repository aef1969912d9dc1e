//! Check-in, daily tasks and achievements as the original's check_in.py, task.py and
//! achievement.py answer them, against real MariaDB and Redis (and the real mail and auth
//! services where friend requests travel as mail): rewards from the config, each granted
//! once (also under concurrent calls), days and logins on the context clock, and the
//! counted things of the other modules making tasks done and achievements grow.

use mysql::prelude::Queryable;

use super::weapon::Game;
use super::*;
use crate::function::Clock;

/// 2024-03-02 12:00:00 in UTC+8: day 2 of March (reward "2": 100 diamonds).
const MARCH_2: i64 = 1_709_352_000;
const DAY: i64 = 86_400;

fn game_at(now: i64) -> Game {
    let mut g = Game::start();
    g.s.services.clock = Arc::new(Clock::fixed(now));
    g
}

/// The ids of today's tasks `get_all_task` lists.
fn task_ids(g: &Game, token: &str) -> Vec<u64> {
    g.ok(token, "get_all_task", json!({}))["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tid"].as_u64().unwrap())
        .collect()
}

/// `get_all_achievement`'s `{aid: (value, reward)}`.
fn achievements(g: &Game, token: &str) -> std::collections::BTreeMap<u64, (u64, u64)> {
    g.ok(token, "get_all_achievement", json!({}))["achievements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let n = |k: &str| a[k].as_u64().unwrap();
            (n("aid"), (n("value"), n("reward")))
        })
        .collect()
}

#[test]
fn check_in_signs_once_a_day_with_the_days_reward() {
    let g = game_at(MARCH_2);
    let ann = g.player_with_diamonds("ci_a", "Ann", 0);

    let r = g.s.expect_as(&ann, "check_in_sign", json!({}), 0);
    assert_eq!(r.message, "Sign-in success");
    assert_eq!(
        Value::from(r.data),
        json!({"remain": ["3:5:100"], "reward": ["3:5:100"]})
    );
    let again = g.s.expect_as(&ann, "check_in_sign", json!({}), 99);
    assert_eq!(again.message, "You have already signed in today");
    assert_eq!(g.qty("ci_a", 3, 5), 100, "granted once");

    let all = g.s.expect_as(&ann, "check_in_all", json!({}), 0);
    assert_eq!(
        all.message,
        "Successfully obtained all check-in status this month"
    );
    assert_eq!(
        Value::from(all.data),
        json!({"today": 2, "cd": 12 * 3600,
               "history": {"02": {"date": "2024-03-02", "reward": 1}}})
    );
    assert!(task_ids(&g, &ann).contains(&2), "the check-in task is done");

    // The next game day starts at 00:00 UTC+8; its reward is "3" (100 exp points), and
    // of eight racing calls one signs.
    g.s.services.clock.advance(12 * 3600);
    let statuses = at_once(8, |_| g.call(&ann, "check_in_sign", json!({})).status);
    assert_eq!(
        (count(&statuses, 0), count(&statuses, 99)),
        (1, 7),
        "{statuses:?}"
    );
    assert_eq!(g.qty("ci_a", 3, 9), 100);
    assert_eq!(g.qty("ci_a", 3, 5), 100);

    // Days 5 and 6 of the seven give role and weapon segments.
    g.s.services.clock.advance(2 * DAY);
    let r = g.call(&ann, "check_in_sign", json!({}));
    assert_eq!(Value::from(r.data)["reward"], json!(["2:101:5"]));
    g.s.services.clock.advance(DAY);
    let r = g.call(&ann, "check_in_sign", json!({}));
    assert_eq!(Value::from(r.data)["reward"], json!(["0:101:5"]));
    assert_eq!((g.qty("ci_a", 2, 101), g.qty("ci_a", 0, 101)), (5, 5));

    // A new month starts over.
    g.s.services.clock.set(MARCH_2 + 30 * DAY);
    let all = g.ok(&ann, "check_in_all", json!({}));
    assert_eq!(
        Value::from(all),
        json!({"today": 1, "cd": 12 * 3600, "history": {}})
    );

    // Another player's check-ins are not Ann's.
    let ben = g.player_with_diamonds("ci_b", "Ben", 0);
    assert_eq!(g.ok(&ben, "check_in_all", json!({}))["history"], json!({}));
    // Arguments are ignored; the token decides whose day it is.
    g.ok(
        &ben,
        "check_in_sign",
        json!({"unique_id": "ci_a", "gn": "Ann"}),
    );
    g.s.expect_as(&ann, "check_in_sign", json!({}), 0);
}

#[test]
fn supplement_makes_up_the_past_days_of_this_month_for_its_price() {
    // 2024-03-05: days 1 to 4 are past; Ann signed day 2.
    let g = game_at(MARCH_2);
    let ann = g.player_with_diamonds("su_a", "Ann", 0);
    g.ok(&ann, "check_in_sign", json!({}));
    g.s.services.clock.advance(3 * DAY);
    g.set_qty("su_a", 3, 5, 239);

    let poor = g.s.expect_as(&ann, "check_in_supplement", json!({}), 97);
    assert_eq!(poor.message.as_str(), "materials insufficient");
    assert_eq!(g.qty("su_a", 3, 5), 239, "nothing paid");
    assert_eq!(g.qty("su_a", 3, 18), 0, "nothing granted");

    g.set_qty("su_a", 3, 5, 1000);
    let r = g.s.expect_as(&ann, "check_in_supplement", json!({}), 0);
    assert_eq!(r.message, "Successful signing");
    assert_eq!(
        Value::from(r.data),
        json!({
            "supplement": {
                "01": {"remain": ["3:18:1"], "reward": ["3:18:1"]},
                "03": {"remain": ["3:9:100"], "reward": ["3:9:100"]},
                "04": {"remain": ["3:33:100"], "reward": ["3:33:100"]}
            },
            "remain": ["3:5:760"],
            "reward": ["3:5:240"]
        })
    );
    assert_eq!(g.qty("su_a", 3, 5), 760);
    let again = g.s.expect_as(&ann, "check_in_supplement", json!({}), 98);
    assert_eq!(again.message, "no day missing");
    let history = g.ok(&ann, "check_in_all", json!({}))["history"].clone();
    let days: Vec<&String> = history.as_object().unwrap().keys().collect();
    assert_eq!(days, ["01", "02", "03", "04"], "today is not made up");
    assert!(
        !task_ids(&g, &ann).contains(&2),
        "making up is not today's check-in"
    );
    g.s.expect_as(&ann, "check_in_sign", json!({}), 0);
    g.s.expect_as(&ann, "check_in_supplement", json!({}), 98);

    // The first day of a month has no past day.
    g.s.services.clock.set(MARCH_2 + 30 * DAY);
    g.s.expect_as(&ann, "check_in_supplement", json!({}), 98);

    // Six racing calls: one pays for days 1 to 4 (320 diamonds) and gets day 2's 100.
    g.s.services.clock.set(MARCH_2 + 3 * DAY);
    let ben = g.player_with_diamonds("su_b", "Ben", 1000);
    let statuses = at_once(6, |_| g.call(&ben, "check_in_supplement", json!({})).status);
    assert_eq!(
        (count(&statuses, 0), count(&statuses, 98)),
        (1, 5),
        "{statuses:?}"
    );
    assert_eq!(g.qty("su_b", 3, 5), 1000 - 4 * 80 + 100);
    assert_eq!(g.qty("su_b", 3, 18), 1);
}

#[test]
fn a_done_task_is_claimed_once_on_its_day() {
    let g = game_at(MARCH_2);
    let ann = g.player_with_diamonds("tk_a", "Ann", 0);

    let all = g.ok(&ann, "get_all_task", json!({}));
    assert_eq!(
        Value::from(all),
        json!({"tasks": [{"tid": 1, "task_value": 1, "reward": 0,
                          "timer": "2024-03-02 12:00:00"}]})
    );
    let r =
        g.s.expect_as(&ann, "get_task_reward", json!({"task_id": 1}), 0);
    assert_eq!(r.message, "get reward success");
    assert_eq!(
        Value::from(r.data),
        json!({"reward": [{"5": {"value": 30, "reward": 30}}], "task": 1})
    );
    let again =
        g.s.expect_as(&ann, "get_task_reward", json!({"task_id": "1"}), 99);
    assert_eq!(again.message, "no reward for this task");
    g.s.expect_as(&ann, "get_task_reward", json!({"task_id": 2}), 99);
    assert_eq!(g.qty("tk_a", 3, 5), 30);
    let listed = g.ok(&ann, "get_all_task", json!({}));
    assert_eq!(listed["tasks"][0]["reward"], 1, "claimed");

    // Bad ids.
    for bad in [
        json!(0),
        json!(-1),
        json!(14),
        json!(i64::MAX),
        json!("13x"),
    ] {
        let code = if bad.is_string() { 13 } else { 98 };
        let r =
            g.s.expect_as(&ann, "get_task_reward", json!({"task_id": bad}), code);
        if code == 98 {
            assert_eq!(r.message, "task id type error");
        }
    }
    for bad in [json!({}), json!({"task_id": 1.5}), json!({"task_id": null})] {
        let r = g.s.expect_as(&ann, "get_task_reward", bad, 13);
        assert!(r.data["reason"].as_str().unwrap().contains("task_id"));
    }

    // Done yesterday is not done today: the check-in of day 2 cannot be claimed on day 3.
    g.ok(&ann, "check_in_sign", json!({}));
    g.s.services.clock.advance(DAY);
    g.s.expect_as(&ann, "get_task_reward", json!({"task_id": 2}), 99);
    g.s.expect_as(&ann, "get_task_reward", json!({"task_id": 1}), 99);
    assert_eq!(task_ids(&g, &ann), [1], "the day's login only");

    // Eight racing claims: one grant.
    let before = g.qty("tk_a", 3, 5);
    let statuses = at_once(8, |_| {
        g.call(&ann, "get_task_reward", json!({"task_id": 1}))
            .status
    });
    assert_eq!(
        (count(&statuses, 0), count(&statuses, 99)),
        (1, 7),
        "{statuses:?}"
    );
    assert_eq!(g.qty("tk_a", 3, 5), before + 30);
}

#[test]
fn ten_done_tasks_make_the_eleventh_claimable() {
    let g = game_at(MARCH_2);
    let ann = g.player_with_diamonds("tk10", "Ann", 0);
    {
        let mut db = g.db();
        for task in &crate::modules::progress::Task::ALL[1..10] {
            crate::modules::progress::task_done(&mut db, "s0", "tk10", *task, MARCH_2).unwrap();
        }
    }
    g.s.expect_as(&ann, "get_task_reward", json!({"task_id": 13}), 99);
    // The login of get_all_task is the tenth.
    assert_eq!(task_ids(&g, &ann), (1..=10).chain([13]).collect::<Vec<_>>());
    g.ok(&ann, "get_task_reward", json!({"task_id": 13}));
    assert_eq!(g.qty("tk10", 3, 5), 30);
}

#[test]
fn achievements_count_logins_and_each_step_is_claimed_once() {
    let g = game_at(MARCH_2);
    let ann = g.player_with_diamonds("ac_a", "Ann", 0);

    let day1 = achievements(&g, &ann);
    assert_eq!(day1, [(1, (1, 0)), (2, (1, 0))].into());
    assert_eq!(achievements(&g, &ann), day1, "one login a day");
    let r = g.call(&ann, "get_achievement_reward", json!({"achievement_id": 1}));
    assert_eq!((r.status, r.message.as_str()), (0, "success"));
    assert_eq!(
        Value::from(r.data),
        json!({"remain": ["3:5:30"], "reward": ["3:5:30"], "achievement": "1:1:1"})
    );
    let again = g.s.expect_as(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": 1}),
        99,
    );
    assert_eq!(again.message, "no reward for this achievement");
    // KEEPING_LOGIN's first step is 3 days.
    g.s.expect_as(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": 2}),
        99,
    );
    // Never counted: 98; not an achievement: 97; not a number: 13.
    g.s.expect_as(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": 20}),
        98,
    );
    g.s.expect_as(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": 12}),
        98,
    );
    for bad in [0, -1, 30, 100, 103, i64::MIN] {
        let r = g.s.expect_as(
            &ann,
            "get_achievement_reward",
            json!({"achievement_id": bad}),
            97,
        );
        assert_eq!(r.message, "Aid does not exist");
    }
    g.s.expect_as(&ann, "get_achievement_reward", json!({}), 13);
    g.s.expect_as(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": "x"}),
        13,
    );
    assert_eq!(g.qty("ac_a", 3, 5), 30);

    // Day 2, day 3: consecutive; then a missed day starts KEEPING_LOGIN over.
    g.s.services.clock.advance(DAY);
    assert_eq!(achievements(&g, &ann)[&1], (2, 1));
    let r = g.ok(&ann, "get_achievement_reward", json!({"achievement_id": 1}));
    assert_eq!(r["achievement"], "1:2:2");
    assert_eq!(r["reward"], json!(["3:5:50"]));
    g.s.services.clock.advance(DAY);
    assert_eq!(achievements(&g, &ann)[&2], (3, 0));
    let r = g.ok(&ann, "get_achievement_reward", json!({"achievement_id": 2}));
    assert_eq!(r["achievement"], "2:3:3");
    g.s.services.clock.advance(2 * DAY);
    let now = achievements(&g, &ann);
    assert_eq!((now[&1], now[&2]), ((4, 2), (1, 3)));
    g.s.expect_as(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": 2}),
        99,
    );

    // The client's own achievements: 101 and 102 only.
    let r =
        g.s.expect_as(&ann, "activate_achievement", json!({"aid": 101}), 0);
    assert_eq!(Value::from(r.data), json!({}));
    for bad in [1, 29, 100, 103, -101, 0] {
        let r =
            g.s.expect_as(&ann, "activate_achievement", json!({"aid": bad}), 97);
        assert_eq!(r.message, "Aid does not exist");
    }
    g.s.expect_as(&ann, "activate_achievement", json!({}), 13);
    g.s.expect_as(&ann, "activate_achievement", json!({"aid": [101]}), 13);
    g.ok(&ann, "activate_achievement", json!({"aid": "101"}));
    assert_eq!(achievements(&g, &ann)[&101], (2, 0));
    let diamonds = g.qty("ac_a", 3, 5);
    let r = g.ok(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": 101}),
    );
    assert_eq!(r["achievement"], "101:2:1");
    assert_eq!(g.qty("ac_a", 3, 5), diamonds + 100);
    g.s.expect_as(
        &ann,
        "get_achievement_reward",
        json!({"achievement_id": 101}),
        99,
    );

    // Eight racing claims of one step: one grant.
    g.ok(&ann, "activate_achievement", json!({"aid": 102}));
    let diamonds = g.qty("ac_a", 3, 5);
    let statuses = at_once(8, |_| {
        g.call(
            &ann,
            "get_achievement_reward",
            json!({"achievement_id": 102}),
        )
        .status
    });
    assert_eq!(
        (count(&statuses, 0), count(&statuses, 99)),
        (1, 7),
        "{statuses:?}"
    );
    assert_eq!(g.qty("ac_a", 3, 5), diamonds + 100);

    // Another player's progress is their own.
    let ben = g.player_with_diamonds("ac_b", "Ben", 0);
    g.s.expect_as(
        &ben,
        "get_achievement_reward",
        json!({"achievement_id": 101}),
        98,
    );
}

#[test]
fn doing_the_counted_things_makes_tasks_done_and_claimable_once() {
    let mut g = game_at(MARCH_2);
    let _backends = MailAndAuth::start(&mut g.s, 50);
    let ann = g.player_with_diamonds("cn_a", "Ann", 0);
    let ben = g.player_with_diamonds("cn_b", "Ben", 0);
    let cid = g.player_with_diamonds("cn_c", "Cid", 0);
    let claim_task = |token: &str, tid: u64| {
        g.call(token, "get_task_reward", json!({"task_id": tid}))
            .status
    };
    let claim_achievement = |token: &str, aid: u64| {
        g.call(
            token,
            "get_achievement_reward",
            json!({"achievement_id": aid}),
        )
        .status
    };

    // A failed action counts nothing.
    g.fails(&ann, "send_gift_friend", json!({"gn_target": "Ben"}), 99);
    assert!(!task_ids(&g, &ann).contains(&11));

    // request_friend: FRIEND_REQUEST.
    for (gn, token, from) in [("Ben", &ben, "Ann"), ("Cid", &cid, "Ann")] {
        g.ok(&ann, "request_friend", json!({"gn_target": gn}));
        let mail = g.ok(token, "get_all_mail", json!({}))["mail"].clone();
        let key = mail
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == 2 && m["from"] == from)
            .unwrap()["key"]
            .clone();
        g.ok(token, "respond_friend", json!({"key": key}));
    }
    assert_eq!(achievements(&g, &ann)[&27], (2, 0));
    assert_eq!(claim_achievement(&ann, 27), 0);
    assert_eq!(g.qty("cn_a", 3, 5), 20);

    // send_gift_friend: the task and FRIEND_GIFT.
    g.ok(&ann, "send_gift_friend", json!({"gn_target": "Ben"}));
    assert!(task_ids(&g, &ann).contains(&11));
    assert_eq!(claim_task(&ann, 11), 0);
    assert_eq!(claim_task(&ann, 11), 99);
    assert_eq!(achievements(&g, &ann)[&28], (1, 0));
    assert_eq!(claim_achievement(&ann, 28), 0);
    assert_eq!(g.qty("cn_a", 3, 5), 20 + 30 + 10);
    // A refused gift (cooldown) counts nothing.
    g.fails(&ann, "send_gift_friend", json!({"gn_target": "Ben"}), 98);
    assert_eq!(achievements(&g, &ann)[&28], (1, 1));

    // send_gift_all the next day: one task, a heart each for the achievement.
    g.s.services.clock.advance(DAY);
    assert!(!task_ids(&g, &ann).contains(&11));
    let sent = g.ok(&ann, "send_gift_all", json!({}));
    assert_eq!(sent["gns"].as_array().unwrap().len(), 2);
    assert!(task_ids(&g, &ann).contains(&11));
    assert_eq!(achievements(&g, &ann)[&28], (3, 1));
    g.fails(&ann, "send_gift_all", json!({}), 99);
    assert_eq!(
        achievements(&g, &ann)[&28],
        (3, 1),
        "nothing sent, nothing counted"
    );

    // check_in_family: the task and FAMILY_CHECK_IN.
    g.db()
        .exec_drop(
            "UPDATE players SET level = 18 WHERE world = 's0' AND unique_id = 'cn_a'",
            (),
        )
        .unwrap();
    g.set_qty("cn_a", 3, 5, 2000);
    g.ok(
        &ann,
        "create_family",
        json!({"name": "Counters", "icon": 1}),
    );
    assert!(!task_ids(&g, &ann).contains(&12));
    g.ok(&ann, "check_in_family", json!({}));
    assert!(task_ids(&g, &ann).contains(&12));
    let statuses = at_once(6, |_| claim_task(&ann, 12));
    assert_eq!(
        (count(&statuses, 0), count(&statuses, 99)),
        (1, 5),
        "{statuses:?}"
    );
    assert_eq!(g.qty("cn_a", 3, 5), 30);
    assert_eq!(achievements(&g, &ann)[&29], (1, 0));
    assert_eq!(claim_achievement(&ann, 29), 0);
    assert_eq!(claim_achievement(&ann, 29), 99);
    assert_eq!(g.qty("cn_a", 3, 5), 60);

    // check_in_sign: the check-in task.
    g.ok(&ann, "check_in_sign", json!({}));
    assert_eq!(claim_task(&ann, 2), 0);
    // Ben's list is his own: Ann's actions counted nothing for him.
    assert_eq!(task_ids(&g, &ben), [1]);
    assert!(!achievements(&g, &ben).contains_key(&28));
}

#[test]
fn check_ins_arrive_and_progress_of_version_9_stays() {
    let (_server, db, _) = schema_before(10, 2);
    let mut conn = db.conn().unwrap();
    conn.query_drop(
        "INSERT INTO tasks (world, unique_id, tid, day, done_at, rewarded) VALUES
         ('s0', 'a', 2, '2024-03-02', 1709352000, 1);
         INSERT INTO achievements (world, unique_id, aid, value, rewarded) VALUES
         ('s0', 'a', 1, 5, 3)",
    )
    .unwrap();
    let applied = db::migrate(&db).unwrap();
    assert!(applied.contains(&13), "{applied:?}");
    let task: Option<(i64, u8)> = conn
        .query_first("SELECT tid, rewarded FROM tasks WHERE unique_id = 'a'")
        .unwrap();
    assert_eq!(task, Some((2, 1)));
    let achievement: Option<(u64, u64)> = conn
        .query_first("SELECT value, rewarded FROM achievements WHERE unique_id = 'a'")
        .unwrap();
    assert_eq!(achievement, Some((5, 3)));
    conn.query_drop(
        "INSERT INTO check_ins (world, unique_id, day) VALUES ('s0', 'a', '2024-03-02');
         INSERT INTO login_days (world, unique_id, last_day) VALUES ('s0', 'a', '2024-03-02')",
    )
    .unwrap();
    let twice = conn.query_drop(
        "INSERT INTO check_ins (world, unique_id, day) VALUES ('s0', 'a', '2024-03-02')",
    );
    assert!(twice.is_err(), "a day is signed once");
}

/// A VIP level above `day % 7` doubles the day's check-in reward (March 2: day 2 needs
/// VIP 3, 940 experience); below it the reward is single.
#[test]
fn vip_doubles_the_check_in_reward_above_the_days_number() {
    let g = game_at(MARCH_2);
    let vip = g.player_with_diamonds("ci_vip", "Vip", 0);
    let plain = g.player_with_diamonds("ci_plain", "Plain", 0);
    for (uid, exp) in [("ci_vip", 940), ("ci_plain", 300)] {
        crate::modules::common::transaction(&g.s.services.db, |tx| {
            crate::modules::daily::lock_player(tx, "s0", uid)?;
            crate::modules::vip::add_exp(tx, &g.s.config, "s0", uid, exp)
        })
        .unwrap();
    }
    let doubled = g.s.expect_as(&vip, "check_in_sign", json!({}), 0);
    assert_eq!(doubled.data["reward"], json!(["3:5:200"]));
    let single = g.s.expect_as(&plain, "check_in_sign", json!({}), 0);
    assert_eq!(single.data["reward"], json!(["3:5:100"]));
}
