//! `--world-db` end to end: the worker binary with world s1 on a second MariaDB migrates
//! both servers, and players made through the gate land on their world's server.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{guest_login, Client, Servers, QUICK};

#[test]
fn the_binary_puts_each_world_on_its_server() {
    let servers = Servers::start();
    let other = testkit::MariaDb::start();
    let mut front = servers.gate(Duration::from_secs(5));
    let mut client = Client::connect(front.client_addr(), Duration::from_secs(30));
    let world_db = format!("s1={}", other.url());
    let _worker = servers.worker(&[QUICK, &["--world-db", &world_db]].concat());

    // Until the worker serves (it migrates both servers first), a login times out.
    let deadline = Instant::now() + Duration::from_secs(120);
    let account = loop {
        let r = client.ask(guest_login("spread"));
        if matches!(r["status"].as_i64(), Some(0 | 1)) {
            break r["data"]["token"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no worker answered: {r}");
    };
    let mut ask = |world: &str, function: &str, token: &str, data: Value| {
        let mut data = data;
        data["token"] = token.into();
        client.ask(json!({"world": world, "function": function, "data": data}))
    };
    for (world, gn) in [("s0", "Zero"), ("s1", "One")] {
        let entered = ask(world, "enter_world", &account, json!({}));
        assert_eq!(entered["status"], 98, "{entered}");
        let session = entered["data"]["token"].as_str().unwrap().to_string();
        let made = ask(
            world,
            "create_player",
            &session,
            json!({"gn": gn, "icon": 1}),
        );
        assert_eq!(made["status"], 0, "{made}");
    }
    let info = ask("s0", "get_account_world_info", &account, json!({}));
    let names: Vec<&str> = info["data"]["worlds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["gn"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zero", "One"], "{info}");

    let rows = |db: &testkit::MariaDb, query: &str| db.sql(&format!("USE lukseun; {query}"));
    assert_eq!(
        rows(&servers.db, "SELECT world, gn FROM players"),
        "s0\tZero\n"
    );
    assert_eq!(rows(&other, "SELECT world, gn FROM players"), "s1\tOne\n");
    assert_eq!(
        rows(&servers.db, "SELECT unique_id FROM accounts"),
        "spread\n"
    );
    assert_eq!(rows(&other, "SELECT COUNT(*) FROM accounts"), "0\n");
    // Both servers carry the whole schema.
    let migrations = "SELECT COUNT(*) FROM schema_migrations";
    assert_eq!(rows(&servers.db, migrations), rows(&other, migrations));
    front.stop();
}
