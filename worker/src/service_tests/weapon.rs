//! Weapons as the original's weapon.py answers them, against real MariaDB and Redis
//! through the real handler: ids 101..610, iron and coins per level, skill points,
//! passives, stars from segments, and exact balances under concurrent calls.

use std::sync::atomic::{AtomicU64, Ordering};

use mysql::prelude::Queryable;

use super::*;

type Map = serde_json::Map<String, Value>;

/// A stack and calls as players of world s0.
pub(super) struct Game {
    pub s: Stack,
}

impl Game {
    pub fn start() -> Game {
        Game { s: Stack::start() }
    }

    pub fn session(&self, uid: &str) -> String {
        self.s.token(uid, TokenKind::Session, Some("s0"), None)
    }

    /// A player `gn` of `uid` in s0; answers its session token.
    pub fn player(&self, uid: &str, gn: &str) -> String {
        let token = self.session(uid);
        self.ok(&token, "create_player", json!({"gn": gn, "icon": 0}));
        token
    }

    pub fn call(&self, token: &str, function: &str, data: Value) -> Response {
        self.s.call_as(token, function, data)
    }

    pub fn ok(&self, token: &str, function: &str, data: Value) -> Map {
        self.s.ok_as(token, function, data)
    }

    /// Asserts `function` answers `code`; answers the message.
    pub fn fails(&self, token: &str, function: &str, data: Value, code: i32) -> String {
        self.s.expect_as(token, function, data, code).message
    }

    /// Calls `call(i)` (a function and its data) for every `i` in `0..n` at once, as
    /// `token`; answers their statuses in the order of `i`.
    pub fn statuses_at_once(
        &self,
        token: &str,
        n: usize,
        call: impl Fn(usize) -> (&'static str, Value) + Sync,
    ) -> Vec<i32> {
        at_once(n, |i| {
            let (function, data) = call(i);
            self.call(token, function, data).status
        })
    }

    /// A player `gn` of `uid` in s0 with nothing in the bag but `diamonds` diamonds;
    /// answers its session token.
    pub fn player_with_diamonds(&self, uid: &str, gn: &str, diamonds: u64) -> String {
        let token = self.player(uid, gn);
        self.db()
            .exec_drop(
                "DELETE FROM items WHERE world = 's0' AND unique_id = ?",
                (uid,),
            )
            .unwrap();
        self.set_qty(uid, 3, 5, diamonds);
        token
    }

    /// The value of the player's achievement `aid`, if it has a row.
    pub fn achievement(&self, uid: &str, aid: i64) -> Option<u64> {
        self.db()
            .exec_first(
                "SELECT value FROM achievements WHERE world = 's0' AND unique_id = ? AND aid = ?",
                (uid, aid),
            )
            .unwrap()
    }

    /// When the player did daily task `tid` (`done_at`), if it did.
    pub fn task(&self, uid: &str, tid: i64) -> Option<i64> {
        self.db()
            .exec_first(
                "SELECT done_at FROM tasks WHERE world = 's0' AND unique_id = ? AND tid = ?",
                (uid, tid),
            )
            .unwrap()
    }

    pub fn set_level(&self, uid: &str, level: i64) {
        self.db()
            .exec_drop(
                "UPDATE players SET level = ? WHERE world = 's0' AND unique_id = ?",
                (level, uid),
            )
            .unwrap();
    }

    pub fn db(&self) -> crate::db::DbConn {
        self.s.services.db.conn().unwrap()
    }

    pub fn qty(&self, uid: &str, group: u32, id: u32) -> u64 {
        self.db()
            .exec_first(
                "SELECT qty FROM items WHERE world = 's0' AND unique_id = ? AND grp = ? AND item_id = ?",
                (uid, group, id),
            )
            .unwrap()
            .unwrap_or(0)
    }

    pub fn set_qty(&self, uid: &str, group: u32, id: u32, qty: u64) {
        self.db()
            .exec_drop(
                "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
                (uid, group, id, qty),
            )
            .unwrap();
    }

    fn weapon(&self, token: &str, wid: u64) -> Value {
        let all = self.ok(token, "get_all_weapon", json!({}));
        all["weapons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["wid"] == wid)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// The original's iron table (weapon.json `upgrade_iron`): iron and coins to reach a level.
fn iron_to(level: u64) -> u64 {
    let config = GameConfig::embedded();
    config.file("weapon").unwrap()["upgrade_iron"][(level - 1) as usize]
        .as_u64()
        .unwrap()
}

fn weapon_row(wid: u64, star: u64, level: u64, sp: u64, seg: u64) -> Value {
    json!({"wid":wid,"star":star,"level":level,"sp":sp,"seg":seg,"p1":0,"p2":0,"p3":0,"p4":0})
}

#[test]
fn new_players_have_the_originals_starting_weapons() {
    let g = Game::start();
    let t = g.player("smith", "Smith");
    let all = g.ok(&t, "get_all_weapon", json!({}));
    assert_eq!(
        all["weapons"],
        json!([
            weapon_row(301, 1, 1, 0, 0),
            weapon_row(302, 1, 1, 0, 0),
            weapon_row(303, 1, 1, 0, 0)
        ])
    );
    // segments of a weapon not owned: listed at star 0 (locked), like the original's row
    g.set_qty("smith", 0, 405, 7);
    assert_eq!(g.weapon(&t, 405), weapon_row(405, 0, 1, 0, 7));
    let nobody = g.session("nobody");
    for (function, data) in [
        ("get_all_weapon", json!({})),
        ("level_up_weapon", json!({"weapon":301})),
        ("level_up_star_weapon", json!({"weapon":301})),
        ("level_up_passive_weapon", json!({"weapon":301,"passive":1})),
        ("reset_skill_point_weapon", json!({"weapon":301})),
    ] {
        g.fails(&nobody, function, data, 17);
    }
}

#[test]
fn levels_cost_iron_and_coins_and_give_a_skill_point_every_ten() {
    let g = Game::start();
    let t = g.player("smith", "Smith");
    // coins 5000, no iron: refused, nothing spent
    assert_eq!(
        g.fails(&t, "level_up_weapon", json!({"weapon":301,"delta":9}), 97),
        "can not pay for upgrade"
    );
    g.set_qty("smith", 3, 2, 4500);
    g.set_qty("smith", 3, 1, 4499);
    g.fails(&t, "level_up_weapon", json!({"weapon":301,"delta":9}), 97);
    assert_eq!((g.qty("smith", 3, 1), g.qty("smith", 3, 2)), (4499, 4500));
    g.set_qty("smith", 3, 1, 10_000);
    let up = g.ok(&t, "level_up_weapon", json!({"weapon":301,"delta":9}));
    assert_eq!(
        Value::from(up),
        json!({
            "remaining": {"0": {"wid":301,"level":10,"sp":1}, "3": [{"iid":2,"value":0},{"iid":1,"value":5500}]},
            "reward": {"0": {"wid":301,"level":9,"sp":1}, "3": [{"iid":2,"value":4500},{"iid":1,"value":4500}]},
        })
    );
    g.set_qty("smith", 3, 2, 100_000_000);
    g.set_qty("smith", 3, 1, 100_000_000);
    // delta defaults to 1; a decimal string is taken as the original's clients send it
    let up = g.ok(&t, "level_up_weapon", json!({"weapon":"301"}));
    assert_eq!(up["reward"]["0"], json!({"wid":301,"level":1,"sp":0}));
    assert_eq!(up["reward"]["3"][0]["value"], iron_to(11) - iron_to(10));
    let up = g.ok(&t, "level_up_weapon", json!({"weapon":301,"delta":"2"}));
    assert_eq!(up["remaining"]["0"], json!({"wid":301,"level":13,"sp":1}));
    for (data, code) in [
        (json!({"weapon":301,"delta":0}), 98),
        (json!({"weapon":301,"delta":-3}), 98),
        (json!({"weapon":1,"delta":1}), 99),
        (json!({"weapon":111,"delta":1}), 99),
        (json!({"weapon":-301,"delta":1}), 99),
        (json!({"weapon":304,"delta":1}), 99),
        (json!({"weapon":"abc"}), 13),
        (json!({"weapon":301,"delta":"x"}), 13),
        (json!({"weapon":301,"delta":1.5}), 13),
        (json!({"delta":1}), 13),
    ] {
        g.fails(&t, "level_up_weapon", data, code);
    }
    // segments only: locked
    g.set_qty("smith", 0, 401, 5);
    assert_eq!(
        g.fails(&t, "level_up_weapon", json!({"weapon":401}), 96),
        "You don't have the weapon"
    );
    let before = g.qty("smith", 3, 1);
    assert_eq!(before, 100_000_000 - (iron_to(13) - iron_to(10)));
    // a huge delta stops at the tier's max level (tier 3: 80)
    let up = g.ok(
        &t,
        "level_up_weapon",
        json!({"weapon":301,"delta":i64::MAX}),
    );
    assert_eq!(up["remaining"]["0"], json!({"wid":301,"level":80,"sp":8}));
    assert_eq!(up["reward"]["0"], json!({"wid":301,"level":67,"sp":7}));
    let paid = iron_to(80) - iron_to(13);
    assert_eq!(g.qty("smith", 3, 1), before - paid);
    assert_eq!(g.qty("smith", 3, 2), before - paid);
    assert_eq!(
        g.fails(&t, "level_up_weapon", json!({"weapon":301}), 95),
        "max lv"
    );
}

#[test]
fn stars_cost_thirty_segments_times_the_next_star() {
    let g = Game::start();
    let t = g.player("smith", "Smith");
    g.fails(&t, "level_up_star_weapon", json!({"weapon":401}), 99);
    g.set_qty("smith", 0, 401, 29);
    assert_eq!(
        g.fails(&t, "level_up_star_weapon", json!({"weapon":401}), 98),
        "insufficient segments"
    );
    g.set_qty("smith", 0, 401, 1700);
    let mut left = 1700;
    for star in 0..10u64 {
        let up = g.ok(&t, "level_up_star_weapon", json!({"weapon":401}));
        let cost = 30 * (star + 1);
        left -= cost;
        assert_eq!(
            Value::from(up),
            json!({"remaining": {"wid":401,"star":star + 1,"seg":left}, "reward": {"wid":401,"star":1,"seg":cost}})
        );
    }
    assert_eq!(left, 50);
    assert_eq!(
        g.fails(&t, "level_up_star_weapon", json!({"weapon":401}), 97),
        "max star"
    );
    assert_eq!(g.weapon(&t, 401), weapon_row(401, 10, 1, 0, 50));
    // star 1 -> 2 of a starting weapon
    g.set_qty("smith", 0, 302, 60);
    let up = g.ok(&t, "level_up_star_weapon", json!({"weapon":302}));
    assert_eq!(up["remaining"], json!({"wid":302,"star":2,"seg":0}));
    g.fails(&t, "level_up_star_weapon", json!({"weapon":"x"}), 13);
    g.fails(&t, "level_up_star_weapon", json!({"weapon":999}), 99);
}

#[test]
fn passives_take_skill_points_and_a_reset_gives_them_back_for_diamonds() {
    let g = Game::start();
    let t = g.player("smith", "Smith");
    g.set_qty("smith", 3, 2, 100_000_000);
    g.set_qty("smith", 3, 1, 100_000_000);
    // no skill point yet
    assert_eq!(
        g.fails(
            &t,
            "level_up_passive_weapon",
            json!({"weapon":301,"passive":1}),
            99
        ),
        "insufficient materials"
    );
    g.ok(&t, "level_up_weapon", json!({"weapon":301,"delta":79}));
    let up = g.ok(
        &t,
        "level_up_passive_weapon",
        json!({"weapon":301,"passive":2}),
    );
    assert_eq!(
        Value::from(up),
        json!({"remaining": {"wid":301,"pid":2,"level":1,"sp":7}, "reward": {"wid":301,"pid":2,"level":1,"sp":1}})
    );
    g.ok(
        &t,
        "level_up_passive_weapon",
        json!({"weapon":301,"passive":2}),
    );
    g.ok(
        &t,
        "level_up_passive_weapon",
        json!({"weapon":301,"passive":2}),
    );
    assert_eq!(
        g.fails(
            &t,
            "level_up_passive_weapon",
            json!({"weapon":301,"passive":2}),
            99
        ),
        "max level"
    );
    // tier 3 has four passives, the last of max level 1
    g.ok(
        &t,
        "level_up_passive_weapon",
        json!({"weapon":301,"passive":4}),
    );
    assert_eq!(
        g.fails(
            &t,
            "level_up_passive_weapon",
            json!({"weapon":301,"passive":4}),
            99
        ),
        "max level"
    );
    for bad in [0, -1, 5, i64::MAX] {
        assert_eq!(
            g.fails(
                &t,
                "level_up_passive_weapon",
                json!({"weapon":301,"passive":bad}),
                99
            ),
            "pid error"
        );
    }
    g.fails(&t, "level_up_passive_weapon", json!({"weapon":301}), 13);
    g.fails(
        &t,
        "level_up_passive_weapon",
        json!({"weapon":111,"passive":1}),
        99,
    );
    let w = g.weapon(&t, 301);
    assert_eq!(
        (w["sp"].clone(), w["p2"].clone(), w["p4"].clone()),
        (json!(4), json!(3), json!(1))
    );

    // reset: 100 diamonds (the starting 100), levels back as points
    let reset = g.ok(&t, "reset_skill_point_weapon", json!({"weapon":301}));
    assert_eq!(
        Value::from(reset),
        json!({
            "remaining": {"0": {"wid":301,"sp":8}, "3": {"iid":5,"value":0}},
            "reward": {"0": {"wid":301,"sp":4}, "3": {"iid":5,"value":100}},
        })
    );
    assert_eq!(g.weapon(&t, 301), weapon_row(301, 1, 80, 8, 0));
    assert_eq!(
        g.fails(&t, "reset_skill_point_weapon", json!({"weapon":301}), 98),
        "insufficient diamonds"
    );
    g.set_qty("smith", 3, 5, 250);
    // paid even when nothing comes back, as the original
    let reset = g.ok(&t, "reset_skill_point_weapon", json!({"weapon":302}));
    assert_eq!(reset["reward"]["0"], json!({"wid":302,"sp":0}));
    assert_eq!(g.qty("smith", 3, 5), 150);
    g.fails(&t, "reset_skill_point_weapon", json!({"weapon":304}), 99);
    g.set_qty("smith", 0, 304, 5);
    g.fails(&t, "reset_skill_point_weapon", json!({"weapon":304}), 99);
    g.fails(&t, "reset_skill_point_weapon", json!({}), 13);
    assert_eq!(g.qty("smith", 3, 5), 150, "refusals spend nothing");
}

#[test]
fn a_player_levels_only_its_own_weapons() {
    let g = Game::start();
    let mallory = g.player("mallory", "Mallory");
    g.player("victim", "Victim");
    g.set_qty("victim", 3, 2, 1000);
    g.set_qty("victim", 3, 5, 1000);
    g.set_qty("mallory", 3, 5, 0);
    // the handler replaces unique_id with the token's: Mallory has no iron
    g.fails(
        &mallory,
        "level_up_weapon",
        json!({"unique_id":"victim","weapon":301}),
        97,
    );
    g.fails(
        &mallory,
        "reset_skill_point_weapon",
        json!({"unique_id":"victim","weapon":301}),
        98,
    );
    assert_eq!(
        (
            g.qty("victim", 3, 1),
            g.qty("victim", 3, 2),
            g.qty("victim", 3, 5)
        ),
        (5000, 1000, 1000)
    );
}

/// Many threads level one weapon on one coin and iron balance while others star it up:
/// every level is paid exactly once, in iron and coins, and neither goes negative.
#[test]
fn concurrent_level_ups_pay_exactly_once_per_level() {
    let g = Game::start();
    let t = g.player("hero", "Hero");
    // enough for some levels, not all: 1 -> 25 costs iron_to(25)
    let budget = iron_to(25) + 50;
    g.set_qty("hero", 3, 1, budget);
    g.set_qty("hero", 3, 2, budget);
    g.set_qty("hero", 0, 301, 90);
    let levels = AtomicU64::new(0);
    let stars = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for i in 0..12 {
            let (g, t, levels, stars) = (&g, &t, &levels, &stars);
            scope.spawn(move || {
                for _ in 0..8 {
                    if i % 4 == 3 {
                        let r = g.call(t, "level_up_star_weapon", json!({"weapon":301}));
                        match r.status {
                            0 => {
                                stars.fetch_add(1, Ordering::SeqCst);
                            }
                            98 => {}
                            other => panic!("star-up answered {other}: {}", r.to_json()),
                        }
                    } else {
                        let r = g.call(t, "level_up_weapon", json!({"weapon":301,"delta":1}));
                        match r.status {
                            0 => {
                                levels.fetch_add(1, Ordering::SeqCst);
                            }
                            97 => {}
                            other => panic!("level up answered {other}: {}", r.to_json()),
                        }
                    }
                }
            });
        }
    });
    let levels = levels.load(Ordering::SeqCst);
    assert_eq!(levels, 24, "exactly the levels the budget pays for");
    assert_eq!(
        stars.load(Ordering::SeqCst),
        1,
        "60 segments pay star 1 -> 2 once"
    );
    let paid = iron_to(1 + levels);
    assert_eq!(g.qty("hero", 3, 1), budget - paid);
    assert_eq!(g.qty("hero", 3, 2), budget - paid);
    assert_eq!(g.weapon(&t, 301), weapon_row(301, 2, 25, 2, 30));
}

/// Two workers (two connection pools) level one weapon while an admin grants coins and
/// iron: every level is paid once, no grant is lost.
#[test]
fn two_workers_levelling_one_weapon_lose_no_grant() {
    let g = Game::start();
    let token = g.player("hero", "Hero");
    let admin = g.s.token("admin:1", TokenKind::Admin, Some("s0"), None);
    let second = Services::new(
        Db::open(&g.s.db_server.url(), 8).unwrap(),
        g.s.services.redis.clone(),
        Tokens::new(
            Key::new(SECRET.as_bytes()).unwrap(),
            g.s.services.redis.clone(),
            Duration::from_secs(3600),
        ),
        g.s.services.settings.clone(),
    );
    g.set_qty("hero", 3, 2, 300);
    let workers = [&g.s.services, &second];
    let levelled = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..12 {
            let (services, config, levelled) = (workers[t % 2], &g.s.config, &levelled);
            let (token, admin) = (token.clone(), admin.clone());
            scope.spawn(move || {
                for _ in 0..8 {
                    let request = if t % 4 < 2 {
                        json!({"world":"s0","function":"level_up_weapon","data":{"token":token,"weapon":302}})
                    } else {
                        json!({"world":"s0","function":"add_resources","data":{"token":admin,"gn_target":"Hero","items":["3:1:300","3:2:300"]}})
                    };
                    let r = handle(services, config, &request.to_string());
                    match r.status {
                        0 if t % 4 < 2 => {
                            levelled.fetch_add(1, Ordering::SeqCst);
                        }
                        0 | 97 => {}
                        other => panic!("answered {other}: {}", r.to_json()),
                    }
                }
            });
        }
    });
    let levelled = levelled.load(Ordering::SeqCst);
    assert!(levelled > 0);
    assert_eq!(g.weapon(&token, 302)["level"], json!(1 + levelled));
    // 6 granting threads x 8 grants of 300
    let paid = iron_to(1 + levelled);
    assert_eq!(g.qty("hero", 3, 1), 5000 + 6 * 8 * 300 - paid);
    assert_eq!(g.qty("hero", 3, 2), 300 + 6 * 8 * 300 - paid);
}
