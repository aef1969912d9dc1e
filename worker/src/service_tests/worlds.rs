//! MySQL by world (`--world-db`): two real MariaDB servers, the accounts and s0 on the
//! default one, s1 (and s3, merged into s1) on the other.

use super::*;

use crate::world_db::WorldDbs;

/// A [`Stack`] whose world s1 lives on a second server; s2 and s0 stay on the default one
/// and s3 was merged into s1.
struct TwoServers {
    s: Stack,
    other: testkit::MariaDb,
}

impl TwoServers {
    fn start() -> TwoServers {
        let mut s = Stack::start();
        let other = crate::test_support::start_mariadb();
        let db = Db::open(&other.url(), 4).unwrap();
        db::migrate(&db).unwrap();
        s.services.world_dbs = WorldDbs::of(vec![("s1".to_string(), db)]);
        s.config = GameConfig::embedded()
            .overlay(&json!({"worlds":{"worlds":["s0","s1","s2"],"merge":{"s3":"s1"}}}))
            .unwrap();
        TwoServers { s, other }
    }

    /// `uid`'s player `gn` in `world` (entered with its account token); its session token.
    fn player(&self, account: &str, world: &str, gn: &str) -> String {
        let entered = self.s.expect(
            json!({"world":world,"function":"enter_world","data":{"token":account}}),
            98,
        );
        let session = entered["token"].as_str().unwrap().to_string();
        self.s.ok_in(
            &session,
            world,
            "create_player",
            json!({"gn": gn, "icon": 3}),
        );
        session
    }

    /// `query`'s rows on the default server and on the other, as the mariadb client prints
    /// them.
    fn rows(&self, query: &str) -> (String, String) {
        let query = format!("USE lukseun; {query}");
        (self.s.db_server.sql(&query), self.other.sql(&query))
    }

    fn worlds_info(&self, account: &str) -> Vec<(String, String)> {
        let info = self.s.ok_as(account, "get_account_world_info", json!({}));
        info["worlds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let field = |k: &str| w[k].as_str().unwrap().to_string();
                (field("world"), field("gn"))
            })
            .collect()
    }
}

#[test]
fn players_land_on_their_worlds_server_and_cross_world_reads_see_all() {
    let t = TwoServers::start();
    // A login that names s1 still makes its account on the default server.
    let r =
        t.s.call(json!({"world":"s1","function":"login_unique","data":{"unique_id":"spread"}}));
    assert_eq!(r.status, 1, "{}", r.to_json());
    let account = r.data["token"].as_str().unwrap().to_string();
    t.player(&account, "s0", "Zero");
    t.player(&account, "s1", "One");

    let (here, there) = t.rows("SELECT unique_id FROM accounts");
    assert_eq!((here.as_str(), there.as_str()), ("spread\n", ""));
    let (here, there) = t.rows("SELECT world, gn FROM players ORDER BY world");
    assert_eq!((here.as_str(), there.as_str()), ("s0\tZero\n", "s1\tOne\n"));
    // The starting kit went with each player.
    let (here, there) = t.rows("SELECT DISTINCT world FROM items");
    assert_eq!((here.as_str(), there.as_str()), ("s0\n", "s1\n"));

    let pair = |w: &str, gn: &str| (w.to_string(), gn.to_string());
    assert_eq!(
        t.worlds_info(&account),
        [
            pair("s0", "Zero"),
            pair("s1", "One"),
            pair("s2", ""),
            pair("s3", "One"), // merged into s1: shows the player it is served as
        ]
    );
    // Another account's player never shows.
    let stranger = t.s.guest("stranger");
    assert!(t.worlds_info(&stranger).iter().all(|(_, gn)| gn.is_empty()));

    // A merged world follows its target's server: entering s3 is entering s1 ...
    let entered =
        t.s.ok(json!({"world":"s3","function":"enter_world","data":{"token":account}}));
    assert_eq!(entered["world"], "s1");
    // ... and a player made through s3 is an s1 player on the other server.
    t.player(&stranger, "s3", "Three");
    let (here, there) = t.rows("SELECT world, gn FROM players WHERE gn = 'Three'");
    assert_eq!((here.as_str(), there.as_str()), ("", "s1\tThree\n"));
    // A name is unique per world on its server: taken through the merge too.
    let third = t.s.guest("third");
    let entered = t.s.expect(
        json!({"world":"s1","function":"enter_world","data":{"token":third}}),
        98,
    );
    let r = t.s.call_in(
        entered["token"].as_str().unwrap(),
        "s1",
        "create_player",
        json!({"gn":"Three","icon":1}),
    );
    assert_eq!(r.status, 99, "{}", r.to_json());
    // An unknown world is still 14, whatever the servers.
    let r =
        t.s.call(json!({"world":"s9","function":"enter_world","data":{"token":account}}));
    assert_eq!(r.status, 14);
}

/// `get_all_resource`'s status for `uid` in `world`, with a new session token (an account
/// has one session at a time: a token for one world ends the other's).
fn resources(s: &Stack, uid: &str, world: &str) -> i32 {
    let session = s.token(uid, TokenKind::Session, Some(world), None);
    s.call_in(&session, world, "get_all_resource", json!({}))
        .status
}

#[test]
fn a_server_down_costs_only_the_calls_that_need_it() {
    let mut t = TwoServers::start();
    let account = t.s.guest("both");
    t.player(&account, "s0", "Zero");
    t.player(&account, "s1", "One");
    assert_eq!(
        (resources(&t.s, "both", "s0"), resources(&t.s, "both", "s1")),
        (0, 0)
    );

    t.other.kill();
    assert_eq!(resources(&t.s, "both", "s1"), 16, "s1's server is down");
    assert_eq!(
        resources(&t.s, "both", "s3"),
        16,
        "so is the world merged into s1"
    );
    assert_eq!(resources(&t.s, "both", "s0"), 0, "s0 keeps working");
    t.s.guest("new-during-outage"); // accounts are on the default server
    let r = t.s.call_as(&account, "get_account_world_info", json!({}));
    assert_eq!(r.status, 16, "not a list that says s1 has no player");

    t.other.restart();
    assert_eq!(resources(&t.s, "both", "s1"), 0, "back when its server is");
    assert_eq!(t.worlds_info(&account)[1].1, "One");

    // The default server down: logins fail, a world on the other server plays on.
    t.s.db_server.kill();
    assert_eq!(resources(&t.s, "both", "s1"), 0);
    assert_eq!(resources(&t.s, "both", "s0"), 16);
    let r =
        t.s.call(json!({"function":"login_unique","data":{"unique_id":"late"}}));
    assert_eq!(r.status, 16);
    t.s.db_server.restart();
    assert_eq!(resources(&t.s, "both", "s0"), 0);
}

#[test]
fn purges_and_purchases_look_at_every_server() {
    let t = TwoServers::start();
    // Old guests: one with a player on the other server only, one on the default server,
    // one with none.
    let kept = t.s.guest("kept");
    t.player(&kept, "s1", "Kept");
    let home = t.s.guest("home");
    t.player(&home, "s0", "Home");
    t.s.guest("gone");
    t.s.db_server
        .sql("UPDATE lukseun.accounts SET created_at = NOW() - INTERVAL 40 DAY");
    let gm = t.s.token("admin:gm", TokenKind::Admin, None, None);
    let r = t.s.ok_as(&gm, "purge_guest_accounts", json!({}));
    assert_eq!(
        (r["purged"].clone(), r["more"].clone()),
        (json!(1), json!(0))
    );
    let (here, _) = t.rows("SELECT unique_id FROM accounts ORDER BY unique_id");
    assert_eq!(
        here, "home\nkept\n",
        "the guests with a player in s0 or s1 stay"
    );
    let r = t.s.ok_as(&gm, "purge_guest_accounts", json!({"limit": 1}));
    assert_eq!(r["purged"], 0, "nothing left to purge");

    // An order credited in a world of one server is a replay in a world of the other.
    let buyer = t.s.guest("buyer");
    t.player(&buyer, "s0", "Buyer");
    t.player(&buyer, "s1", "Buyer");
    let order = json!({"pid":"DIAMOND_MIN","order_id":"X-1","channel":"apple","user_name":"Buyer","currency":"RMB"});
    t.s.ok_in(&gm, "s1", "purchase_success", order.clone());
    let r = t.s.call_in(&gm, "s0", "purchase_success", order);
    assert_eq!(r.status, 96, "{}", r.to_json());
    let (here, there) = t.rows("SELECT world FROM purchases");
    assert_eq!(
        (here.as_str(), there.as_str()),
        ("s1\n", ""),
        "orders are global"
    );
    // Replays racing into worlds on both servers: one credit.
    let before =
        t.rows("SELECT world, qty FROM items WHERE grp = 3 AND item_id = 5 ORDER BY world");
    let statuses = at_once(8, |i| {
        let order = json!({"pid":"DIAMOND_MIN","order_id":"X-2","channel":"apple",
                           "user_name":"Buyer","currency":"RMB"});
        let world = ["s0", "s1"][i % 2];
        t.s.call_in(&gm, world, "purchase_success", order).status
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 96, 96, 96, 96, 96, 96, 96], "{statuses:?}");
    let after = t.rows("SELECT world, qty FROM items WHERE grp = 3 AND item_id = 5 ORDER BY world");
    assert_ne!(before, after);
    let (here, there) = t.rows("SELECT COUNT(*) FROM purchases WHERE order_id = 'X-2'");
    assert_eq!((here.as_str(), there.as_str()), ("1\n", "0\n"));
}

#[test]
fn exchange_codes_are_global_and_counted_once() {
    let t = TwoServers::start();
    let gm = t.s.token("admin:gm", TokenKind::Admin, None, None);
    // Made through a request in s1, it lands with the accounts.
    let code = json!({"game_id": "lukseun", "exchange_id": "TWO-USES", "pid": "DIAMOND_BAG",
                      "receive": 2, "valid_seconds": 600});
    t.s.ok_in(&gm, "s1", "create_exchange_code", code);
    let (here, there) = t.rows("SELECT code FROM exchange_codes");
    assert_eq!((here.as_str(), there.as_str()), ("TWO-USES\n", ""));

    let redeem = |uid: &str, world: &str| {
        let session = t.s.token(uid, TokenKind::Session, Some(world), None);
        let data = json!({"game_id": "lukseun", "exchange_id": "TWO-USES"});
        t.s.call_in(&session, world, "exchange_prop", data)
    };
    let mut gns = ["Ann", "Bob", "Cy"].into_iter();
    for (uid, world) in [("ann", "s1"), ("bob", "s0"), ("cy", "s1")] {
        let account = t.s.guest(uid);
        t.player(&account, world, gns.next().unwrap());
    }
    let diamonds = |uid: &str| {
        t.rows(&format!(
            "SELECT COALESCE(SUM(qty), 0) FROM items WHERE unique_id = '{uid}' AND grp = 3 AND item_id = 5"
        ))
    };
    let before = diamonds("ann");
    let r = redeem("ann", "s1");
    assert_eq!(
        (r.status, r.data["receive"].clone()),
        (0, json!(1)),
        "{}",
        r.to_json()
    );
    assert_ne!(diamonds("ann"), before, "credited on s1's server");
    assert_eq!(redeem("ann", "s1").status, 94, "once per player");
    assert_eq!(
        redeem("bob", "s0").status,
        0,
        "the second use, on the other server"
    );
    assert_eq!(
        redeem("cy", "s1").status,
        98,
        "two uses in all, across servers"
    );
    let (here, there) = t.rows("SELECT unique_id FROM exchange_redemptions ORDER BY unique_id");
    assert_eq!((here.as_str(), there.as_str()), ("ann\nbob\n", ""));

    // A credit refused on s1's server rolls the claim on the accounts' server back.
    let dan = t.s.guest("dan");
    t.player(&dan, "s1", "Dan");
    let potions = json!({"game_id": "lukseun", "exchange_id": "POTIONS",
                         "pid": "ENERGY_POTION_SMALL", "receive": 5, "valid_seconds": 600});
    t.s.ok_in(&gm, "s0", "create_exchange_code", potions);
    let hold = |qty: u32| {
        t.other.sql(&format!(
            "INSERT INTO lukseun.items (world, unique_id, grp, item_id, qty) \
             VALUES ('s1', 'dan', 3, 10, {qty}) ON DUPLICATE KEY UPDATE qty = {qty}"
        ))
    };
    hold(700); // 700 + 300 is over the potion's max of 999
    let session = t.s.token("dan", TokenKind::Session, Some("s1"), None);
    let data = json!({"game_id": "lukseun", "exchange_id": "POTIONS"});
    let r = t.s.call_in(&session, "s1", "exchange_prop", data.clone());
    assert_eq!(r.status, 93, "{}", r.to_json());
    let (here, _) = t.rows(
        "SELECT remaining, (SELECT COUNT(*) FROM exchange_redemptions WHERE code = 'POTIONS') \
         FROM exchange_codes WHERE code = 'POTIONS'",
    );
    assert_eq!(here, "5\t0\n", "no use counted, no redemption kept");
    hold(0);
    let r = t.s.call_in(&session, "s1", "exchange_prop", data);
    assert_eq!(
        (r.status, r.data["receive"].clone()),
        (0, json!(4)),
        "{}",
        r.to_json()
    );
}
