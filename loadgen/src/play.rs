//! The `play` mix: the calls of the original's player simulator (its `unittests/simulator.py`
//! and `functions.py`), so a load model measures something that looks like play rather than
//! one function. The simulator's players log in, then call a function picked uniformly from
//! its list, with the arguments its generators make, and sleep up to 5 s (2.5 s on
//! average) between calls: about 24 calls a player-minute (docs/scaling.md).
//!
//! Of its 81 functions, the 62 below are in our function table; the other 19 are summon
//! calls of an older API that no module document names (our summoning is the `*_pump_*`
//! functions, which are in the list). Arguments follow the simulator's: random ids in its
//! ranges, targets picked from the run's other players, keys (of mails, requests) that the
//! simulator read from earlier answers made up here, so those calls mostly answer "not
//! found", as many of the simulator's did.

use serde_json::{Map, Value};

use crate::calls::{Build, Caller};
use crate::mix::Rng;

/// The name that stands for the whole list in `--mix` (each function with its weight).
pub const NAME: &str = "play";

/// The simulator's functions that we serve, in its order.
pub const FUNCTIONS: &[&str] = &[
    "get_all_armor",
    "upgrade_armor",
    "get_all_market",
    "refresh_market",
    "get_all_family",
    "create_family",
    "leave_family",
    "respond_family",
    "remove_user_family",
    "invite_user_family",
    "request_join_family",
    "set_role_family",
    "set_icon_family",
    "set_blackboard_family",
    "set_notice_family",
    "change_name_family",
    "disband_family",
    "cancel_disband_family",
    "check_in_family",
    "abdicate_family",
    "search_family",
    "get_random_family",
    "get_all_friend",
    "send_gift_all",
    "send_gift_friend",
    "request_friend",
    "remove_friend",
    "respond_friend",
    "refresh_factory",
    "upgrade_factory",
    "buy_worker_factory",
    "activate_wishing_pool_factory",
    "set_armor_factory",
    "buy_acceleration_factory",
    "get_all_mail",
    "get_new_mail",
    "delete_mail",
    "delete_read_mail",
    "mark_read_mail",
    "send_mail",
    "accept_gifts",
    "level_up_role",
    "level_up_star_role",
    "get_all_skill",
    "level_up_skill",
    "refresh_diamond_store",
    "refresh_coin_store",
    "refresh_gift_store",
    "buy_refresh_diamond",
    "buy_refresh_coin",
    "buy_refresh_gift",
    "single_pump_diamond",
    "single_pump_coin",
    "single_pump_gift",
    "dozen_pump_diamond",
    "dozen_pump_coin",
    "dozen_pump_gift",
    "integral_convert",
    "level_up_weapon",
    "level_up_star_weapon",
    "level_up_passive_weapon",
    "reset_skill_point_weapon",
];

/// The builders of the list's functions that take arguments.
pub const BUILDERS: &[(&str, Build)] = &[
    ("upgrade_armor", |_, _| {
        args([("aid", 1.into()), ("level", 2.into())])
    }),
    ("create_family", |c, _| {
        args([("name", own_family(c).into()), ("icon", 1.into())])
    }),
    ("respond_family", |c, s| args([("key", made_up_key(c, s))])),
    ("remove_user_family", |c, s| target("gn_target", c, s)),
    ("invite_user_family", |c, s| target("gn_target", c, s)),
    ("request_join_family", |c, s| {
        args([("name", family_of(&peer(c, s)).into())])
    }),
    ("set_role_family", |c, s| {
        let role = [0, 4, 8][pick(c, s, 1, 3) as usize];
        args([("gn_target", peer(c, s).into()), ("role", role.into())])
    }),
    ("set_icon_family", |c, s| {
        args([("icon", pick(c, s, 1, 5).into())])
    }),
    ("set_blackboard_family", |c, _| {
        args([("msg", format!("blackboard of {}", c.gn).into())])
    }),
    ("set_notice_family", |c, _| {
        args([("msg", format!("notice of {}", c.gn).into())])
    }),
    ("change_name_family", |c, s| {
        args([("name", format!("{}{}", own_family(c), s % 10).into())])
    }),
    ("abdicate_family", |c, s| target("target", c, s)),
    ("search_family", |c, s| {
        args([("family_name", family_of(&peer(c, s)).into())])
    }),
    ("send_gift_friend", |c, s| target("gn_target", c, s)),
    ("request_friend", |c, s| target("gn_target", c, s)),
    ("remove_friend", |c, s| target("gn_target", c, s)),
    ("respond_friend", |c, s| args([("key", made_up_key(c, s))])),
    ("upgrade_factory", |c, s| {
        args([("fid", pick(c, s, 1, 4).into())])
    }),
    ("buy_worker_factory", |c, s| {
        args([("fid", pick(c, s, 1, 4).into()), ("num", 1.into())])
    }),
    ("activate_wishing_pool_factory", |c, s| {
        args([("wid", (pick(c, s, 1, 30) + 1).into())])
    }),
    ("set_armor_factory", |c, s| {
        args([("aid", (pick(c, s, 1, 4) + 1).into())])
    }),
    ("delete_mail", |c, s| args([("key", made_up_key(c, s))])),
    ("mark_read_mail", |c, s| args([("key", made_up_key(c, s))])),
    ("send_mail", |c, s| {
        args([
            ("gn_target", peer(c, s).into()),
            ("subj", format!("from {}", c.gn).into()),
            ("body", "see you in the arena".into()),
        ])
    }),
    ("accept_gifts", |_, _| {
        args([
            ("gift", Value::Array(vec![])),
            ("other", Value::Array(vec![])),
        ])
    }),
    ("level_up_role", |c, s| {
        args([
            ("role", (pick(c, s, 1, 2) + 1).into()),
            ("amount", pick(c, s, 2, 30_001).into()),
        ])
    }),
    ("level_up_star_role", |c, s| {
        args([("role", (pick(c, s, 1, 2) + 1).into())])
    }),
    ("level_up_skill", |c, s| {
        args([
            ("skill", pick(c, s, 1, 39).into()),
            ("item", (pick(c, s, 2, 3) + 6).into()),
        ])
    }),
    ("level_up_weapon", |c, s| {
        args([
            ("weapon", (pick(c, s, 1, 30) + 1).into()),
            ("amount", (pick(c, s, 2, 371) + 30).into()),
        ])
    }),
    ("level_up_star_weapon", |c, s| {
        args([("weapon", (pick(c, s, 1, 30) + 1).into())])
    }),
    ("level_up_passive_weapon", |c, s| {
        args([
            ("weapon", (pick(c, s, 1, 30) + 1).into()),
            ("passive", (pick(c, s, 2, 4) + 1).into()),
        ])
    }),
    ("reset_skill_point_weapon", |c, s| {
        args([("weapon", (pick(c, s, 1, 30) + 1).into())])
    }),
];

fn args<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A number in `0..n` for the caller's `seq`-th call, draw `draw` (several per call differ).
fn pick(caller: &Caller, seq: u64, draw: u64, n: u64) -> u64 {
    let tag = caller.tag.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut rng = Rng::new(tag ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ draw);
    rng.next_u64() % n
}

/// Another player of the run (the caller itself when it plays alone).
fn peer(caller: &Caller, seq: u64) -> String {
    if caller.peers.is_empty() {
        return caller.gn.clone();
    }
    let i = pick(caller, seq, 7, caller.peers.len() as u64) as usize;
    caller.peers[i].clone()
}

fn target(field: &str, caller: &Caller, seq: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(field.to_string(), peer(caller, seq).into());
    m
}

/// The family a player founds: named after it, so others can ask to join by name.
fn family_of(gn: &str) -> String {
    format!("f{}", gn.trim_start_matches("lg_"))
}

fn own_family(caller: &Caller) -> String {
    family_of(&caller.gn)
}

/// A key of the shape the simulator read from answers, made up: not found, mostly.
fn made_up_key(caller: &Caller, seq: u64) -> Value {
    format!("{:016x}", pick(caller, seq, 9, u64::MAX)).into()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::calls::Lines;
    use crate::mix::Mix;

    fn caller(peers: &[&str]) -> Caller {
        Caller {
            gn: "lg_0a0b0c0d".into(),
            tag: "t1".into(),
            peers: peers
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .into(),
        }
    }

    #[test]
    fn play_stands_for_every_function_of_the_list_with_its_weight() {
        let mix = Mix::parse("play:2,account_all_info:5").unwrap();
        let names: Vec<&str> = mix.names().collect();
        assert_eq!(names.len(), FUNCTIONS.len() + 1);
        assert_eq!(&names[..FUNCTIONS.len()], FUNCTIONS);
        assert_eq!(names[FUNCTIONS.len()], "account_all_info");
    }

    #[test]
    fn every_builder_is_for_a_function_of_the_list_and_named_once() {
        let mut seen = std::collections::HashSet::new();
        for (name, _) in BUILDERS {
            assert!(FUNCTIONS.contains(name), "{name} is not in the list");
            assert!(seen.insert(*name), "{name} twice");
        }
    }

    #[test]
    fn arguments_follow_the_simulators_ranges_and_targets_are_other_players() {
        let c = caller(&["lg_11111111", "lg_22222222"]);
        let build = |name: &str| BUILDERS.iter().find(|(n, _)| *n == name).unwrap().1;
        for seq in 0..200 {
            let a = build("level_up_weapon")(&c, seq);
            let weapon = a["weapon"].as_u64().unwrap();
            let amount = a["amount"].as_u64().unwrap();
            assert!(
                (1..=30).contains(&weapon) && (30..=400).contains(&amount),
                "{a:?}"
            );
            let r = build("set_role_family")(&c, seq);
            assert!([0, 4, 8].contains(&r["role"].as_u64().unwrap()));
            let t = build("request_friend")(&c, seq);
            assert!(["lg_11111111", "lg_22222222"].contains(&t["gn_target"].as_str().unwrap()));
            let j = build("request_join_family")(&c, seq);
            assert!(["f11111111", "f22222222"].contains(&j["name"].as_str().unwrap()));
        }
        assert_eq!(
            build("create_family")(&c, 0)["name"],
            Value::from("f0a0b0c0d")
        );
    }

    #[test]
    fn a_player_alone_targets_itself_and_lines_carry_the_token() {
        let mix = Mix::parse("request_friend").unwrap();
        let mut lines = Lines::new(&mix, "s0", "ACC", "SES", caller(&[]));
        let line: Value = serde_json::from_str(&lines.line("request_friend")).unwrap();
        assert_eq!(
            line["data"],
            serde_json::json!({"token": "SES", "gn_target": "lg_0a0b0c0d"})
        );
        lines.set_peers(Arc::from(vec!["lg_99999999".to_string()]));
        let line: Value = serde_json::from_str(&lines.line("request_friend")).unwrap();
        assert_eq!(line["data"]["gn_target"], "lg_99999999");
    }
}
