//! The committed `game-config/` directory: every file parses and the numbers agree
//! with each other (items referenced exist, weapons have segment items, roles match
//! the contract).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::SystemTime;

use config::loader::Loader;
use serde_json::Value;

fn game_config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../game-config")
}

/// Every file through the service's own loader: what it would serve.
fn load() -> Value {
    let mut loader = Loader::new(game_config_dir());
    let report = loader.scan(SystemTime::now());
    assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
    let snapshot = loader.snapshot();
    assert!(snapshot.problems.is_empty(), "{}", snapshot.health_report());
    assert!(snapshot.dir_error.is_none(), "{}", snapshot.health_report());
    serde_json::from_slice(&snapshot.all.body).unwrap()
}

fn item_ids(all: &Value) -> BTreeSet<(u64, u64)> {
    let mut ids = BTreeSet::new();
    for group in all["items"]["groups"].as_array().expect("items.groups") {
        let g = group["id"].as_u64().expect("group id");
        for item in group["items"].as_array().expect("group items") {
            let id = item["id"].as_u64().expect("item id");
            assert!(
                item["max"].as_u64().unwrap_or(0) > 0,
                "item {g}:{id} needs a max"
            );
            assert!(ids.insert((g, id)), "item {g}:{id} defined twice");
        }
    }
    ids
}

/// `"<group>:<item id>:<qty>"` naming a known item and a positive quantity.
fn check_item_string(value: &Value, known: &BTreeSet<(u64, u64)>, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string"));
    let parts: Vec<u64> = text
        .split(':')
        .map(|p| p.parse().unwrap_or_else(|_| panic!("{what}: {text:?}")))
        .collect();
    assert_eq!(parts.len(), 3, "{what}: {text:?}");
    assert!(
        known.contains(&(parts[0], parts[1])),
        "{what}: unknown item {text:?}"
    );
    assert!(parts[2] > 0, "{what}: zero quantity in {text:?}");
}

#[test]
fn every_committed_file_parses_and_is_served() {
    let all = load();
    for file in [
        "player", "items", "weapon", "family", "friend", "mail", "package",
    ] {
        assert!(all[file].is_object(), "game-config/{file}.json is missing");
    }
}

/// The files the config readers answer (docs/config.md, "The original game's data"): each
/// is served, with the top-level keys the original's clients read.
#[test]
fn the_originals_data_files_are_served_with_their_keys() {
    let all = load();
    for (file, keys) in [
        (
            "stages",
            &[
                "comment",
                "eg",
                "constraint",
                "mopping-up",
                "hang-up",
                "stage",
            ][..],
        ),
        ("skills", &["common"]),
        ("roles", &["standard_costs"]),
        ("mall", &[]),
        ("task", &["login", "check_in", "done_10_task"]),
        ("achievement", &["1", "102"]),
        ("check_in", &["reward", "consume"]),
        ("vip_config", &[]),
        ("factory", &["general", "workers", "wishing_pool"]),
        ("sciences", &["comment", "1"]),
        ("package", &["comment", "exchange_card", "exchange_item"]),
        ("notice", &["mail_gift", "notice", "login_screen"]),
        ("player_experience", &["player_level"]),
    ] {
        let content = &all[file];
        assert!(content.is_object(), "game-config/{file}.json is missing");
        for key in keys {
            assert!(content.get(key).is_some(), "{file}.json lacks {key}");
        }
    }
    assert!(all["version"]["version"].is_string(), "version.json");
    let energy = &all["player"]["energy"];
    assert!(energy["cooling_time"].as_u64().unwrap() > 0);
    assert!(energy["max_energy"].as_u64().unwrap() > 0);
    let levels = &all["player_experience"]["player_level"];
    let experience = levels["experience"].as_array().unwrap();
    assert_eq!(
        experience.len() as u64,
        levels["max_level"].as_u64().unwrap()
    );
    assert!(
        experience
            .windows(2)
            .all(|w| w[0].as_u64().unwrap() < w[1].as_u64().unwrap()),
        "experience rises"
    );
}

#[test]
fn item_references_and_weapons_agree() {
    let all = load();
    let known = item_ids(&all);
    for resource in [(3, 1), (3, 5), (3, 10)] {
        assert!(
            known.contains(&resource),
            "resource {resource:?} (coin, diamond, energy)"
        );
    }
    let player = &all["player"];
    for value in player["starting_resources"].as_array().unwrap() {
        check_item_string(value, &known, "player.starting_resources");
    }
    check_item_string(
        &player["name_change_cost"],
        &known,
        "player.name_change_cost",
    );
    assert!(
        player["name_change_cost"]
            .as_str()
            .unwrap()
            .starts_with("3:5:"),
        "paid in diamonds"
    );
    for cost in ["create", "change_name"] {
        let what = format!("family.costs.{cost}");
        check_item_string(&all["family"]["costs"][cost], &known, &what);
    }
    let check_in = &all["family"]["check_in"];
    check_item_string(
        &check_in["family_coin"],
        &known,
        "family.check_in.family_coin",
    );
    for special in check_in["special"].as_array().unwrap() {
        check_item_string(special, &known, "family.check_in.special");
    }
    for section in ["goods", "gift"] {
        for (sid, offer) in all["family"]["store"][section].as_object().unwrap() {
            let what = format!("family.store.{section}.{sid}");
            for (cost, reward) in offer.as_object().unwrap() {
                check_item_string(&Value::from(cost.as_str()), &known, &what);
                match reward {
                    Value::Array(list) => list
                        .iter()
                        .for_each(|r| check_item_string(r, &known, &what)),
                    one => check_item_string(one, &known, &what),
                }
            }
        }
    }
    check_item_string(&all["friend"]["gift"], &known, "friend.gift");
    check_item_string(&all["weapon"]["reset_cost"], &known, "weapon.reset_cost");

    // weapons of the original: ids <star tier><2-digit index>, each with its segments
    let weapon = &all["weapon"];
    let iron: Vec<u64> = weapon["upgrade_iron"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert!(iron.windows(2).all(|w| w[0] < w[1]), "upgrade_iron rises");
    let tiers = weapon["tiers"].as_array().unwrap();
    let mut weapon_ids = BTreeSet::new();
    for w in weapon["weapons"].as_array().unwrap() {
        let id = w["id"].as_u64().unwrap();
        assert!(weapon_ids.insert(id), "weapon {id} twice");
        assert!((1..=10).contains(&(id % 100)), "weapon {id}: index 01..10");
        assert!(
            known.contains(&(0, id)),
            "weapon {id} has no segment item 0:{id}"
        );
        let tier = tiers
            .iter()
            .find(|t| t["tier"].as_u64() == Some(id / 100))
            .unwrap_or_else(|| panic!("weapon {id}: no tier"));
        let max = tier["max_level"].as_u64().unwrap();
        assert!(
            max > 1 && max as usize <= iron.len(),
            "weapon {id}: max level {max}"
        );
    }
    for (g, id) in &known {
        if *g == 0 {
            assert!(
                weapon_ids.contains(id),
                "segment 0:{id} belongs to no weapon"
            );
        }
    }
    for start in player["starting_weapons"].as_array().unwrap() {
        assert!(
            weapon_ids.contains(&start.as_u64().unwrap()),
            "starting weapon {start}"
        );
    }

    // roles of the original: ids <star tier><2-digit index>, their segments in group 2,
    // a max level for every tier, passives 101..199 costing an item of group 3
    let roles = &all["roles"]["standard_costs"];
    for start in player["starting_roles"].as_array().unwrap() {
        assert!(
            known.contains(&(2, start.as_u64().unwrap())),
            "starting role {start} has no segment item"
        );
    }
    for (g, id) in &known {
        if *g == 2 {
            assert!((1..=10).contains(&(id % 100)), "role {id}: index 01..10");
            assert!(
                roles["upgrade_lv"][(id / 100).to_string()]
                    .as_u64()
                    .is_some(),
                "role {id}: no max level for its tier"
            );
        }
    }
    let cty = roles["unlock_ps"]["cty"].as_u64().unwrap();
    assert!(known.contains(&(3, cty)), "unlock_ps.cty 3:{cty}");
    for (pid, c) in roles["unlock_ps"]["consume"].as_object().unwrap() {
        if pid != "comment" {
            assert_eq!(pid.parse::<u64>().unwrap() / 100, 1, "passive {pid}");
            assert!(c["lv"].as_u64().is_some() && c["qty"].as_u64().is_some());
        }
    }
    // skill scrolls and their chances
    for (iid, chance) in all["skills"]["common"]["upgrade"].as_object().unwrap() {
        assert!(known.contains(&(3, iid.parse().unwrap())), "scroll 3:{iid}");
        let p = chance.as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "scroll {iid}: chance {p}");
    }
}

#[test]
fn social_limits_follow_the_contract() {
    let all = load();
    let family = &all["family"];
    assert_eq!(family["member_limit"], 50);
    assert_eq!(
        family["roles"],
        serde_json::json!({"basic": 0, "elite": 4, "admin": 8, "owner": 10})
    );
    let roles: BTreeSet<u64> = [0, 4, 8, 10].into();
    for (action, role) in family["min_role_to"].as_object().unwrap() {
        assert!(
            roles.contains(&role.as_u64().unwrap()),
            "{action}: {role} is not a role"
        );
    }
    assert_eq!(all["friend"]["friend_limit"], 50);
    assert_eq!(all["mail"]["daily_send_limit"], 10, "the original's limit");
    for rules in [&all["player"]["name_rules"], &family["name_rules"]] {
        let (min, max) = (
            rules["min_chars"].as_u64().unwrap(),
            rules["max_chars"].as_u64().unwrap(),
        );
        assert!(0 < min && min <= max, "{rules}");
        assert_eq!(rules["charset"], "alphanumeric_underscore");
    }
}

/// check_in.json, task.json and achievement.json as the check-in, task and achievement
/// functions read them: a reward for every `day % 7`, defined items, and achievement steps
/// that rise with a reward each.
#[test]
fn check_in_task_and_achievement_rewards_are_well_formed() {
    let all = load();
    let known = item_ids(&all);
    let check_in = &all["check_in"];
    for weekday in 0..7 {
        check_item_string(
            &check_in["reward"][weekday.to_string()],
            &known,
            "check_in.reward",
        );
    }
    for cost in check_in["consume"].as_array().unwrap() {
        check_item_string(cost, &known, "check_in.consume");
    }
    for (name, task) in all["task"].as_object().unwrap() {
        let id = task["item_id"].as_u64().unwrap();
        assert!(known.contains(&(3, id)), "task.json {name}: item 3:{id}");
        assert!(task["quantity"].as_u64().unwrap() > 0, "task.json {name}");
    }
    for (aid, steps) in all["achievement"].as_object().unwrap() {
        let numbers = |k: &str| -> Vec<u64> {
            steps[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap())
                .collect()
        };
        let (count, qty) = (numbers("count"), numbers("qty"));
        assert_eq!(count.len(), qty.len(), "achievement {aid}");
        assert!(count.windows(2).all(|w| w[0] < w[1]), "achievement {aid}");
    }
}

/// What science_up, the element functions and the VIP functions read: every cost, gift
/// and daily reward names a defined item, each sub-science with costs has one per level.
#[test]
fn science_element_and_vip_numbers_are_complete() {
    let all = load();
    let known = item_ids(&all);
    let factory = &all["sciences"]["1"];
    let slv = factory["constraint"]["slv"].as_u64().unwrap() as usize;
    for sub in ["0", "1"] {
        let levels = factory["costs"][sub].as_array().expect("sciences 1.costs");
        assert_eq!(
            levels.len(),
            slv,
            "a cost for each level of sub-science {sub}"
        );
        for cost in levels {
            for item in cost.as_array().unwrap() {
                check_item_string(item, &known, "sciences.costs");
            }
        }
    }
    let elements = &all["player"]["elements"];
    assert_eq!(elements["ids"], serde_json::json!([1000, 1001, 1002, 1003]));
    assert!(elements["levels_per_point"].as_u64().unwrap() > 0);
    let vip = &all["vip_config"];
    let levels = vip["vip_level"]["experience"].as_array().unwrap().len();
    for level in 0..=levels {
        let reward = vip["vip_daily_reward"][level.to_string()]
            .as_object()
            .unwrap_or_else(|| panic!("vip_daily_reward.{level}"));
        for id in reward.keys() {
            assert!(
                known.contains(&(3, id.parse().unwrap())),
                "vip reward item {id}"
            );
        }
        let gift = &vip["vip_special_package"][level.to_string()];
        assert!(gift["cast_diamond"].as_u64().is_some(), "gift {level}");
        for item in gift["package"].as_array().unwrap() {
            check_item_string(item, &known, "vip_special_package");
        }
    }
    assert!(vip["card_days"].as_u64().unwrap() > 0);
    for card in [26, 27, 28, 43] {
        assert!(known.contains(&(3, card)), "card item {card}");
    }
}

/// summon.json as the summoning functions read it: every store's goods name something a
/// player can get (items.json, or a skill 1-40), weights and quantities above zero, the
/// `must` goods fit the grid, and the integral steps ascend to items and roles that exist.
#[test]
fn summon_stores_and_integral_steps_are_well_formed() {
    let all = load();
    let known = item_ids(&all);
    let summon = &all["summon"];
    let grid = summon["grid"].as_u64().unwrap();
    assert!((1..=64).contains(&grid));
    for key in ["DIAMOND", "COIN", "FRIEND_GIFT"] {
        let store = &summon["resource"][key];
        assert!(store["qty"].as_u64().unwrap() > 0, "{key}.qty");
        for reward in store["reward"].as_array().unwrap() {
            check_item_string(reward, &known, "summon reward");
        }
        if let Some(scroll) = store.get("scroll") {
            assert!(
                known.contains(&(3, scroll.as_u64().unwrap())),
                "{key}.scroll"
            );
        }
        let refresh = &store["constraint"]["refresh"];
        assert!(refresh["hours"].as_u64().unwrap() > 0 && refresh["qty"].as_u64().is_some());
        assert!(store["constraint"]["hours"].as_u64().unwrap() > 0, "{key}");
        let must = store["must"]["goods"].as_array().unwrap();
        let other = store["other"]["goods"].as_array().unwrap();
        assert!(must.len() as u64 <= grid && !other.is_empty(), "{key}");
        for goods in must.iter().chain(other) {
            let gid = goods["gid"].as_u64().unwrap();
            assert!(goods["qty"].as_u64().unwrap() > 0, "{key}: {goods}");
            assert!(goods["weight"].as_u64().unwrap() > 0, "{key}: {goods}");
            let mids = goods["mid"].as_array().unwrap();
            assert!(!mids.is_empty(), "{key}: {goods}");
            for mid in mids {
                let mid = mid.as_u64().unwrap();
                let ok = if gid == 1 {
                    (1..=40).contains(&mid)
                } else {
                    known.contains(&(gid, mid))
                };
                assert!(ok, "{key}: {gid}:{mid} is nothing a player can get");
            }
        }
    }
    let convert = &summon["convert"];
    let steps: Vec<u64> = convert["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert!(
        steps[0] > 0 && steps.windows(2).all(|w| w[0] < w[1]),
        "{steps:?}"
    );
    assert!(steps.contains(&convert["special"]["step"].as_u64().unwrap()));
    let roles = convert["role"]["mid"].as_array().unwrap();
    for rid in roles.iter().chain([&convert["special"]["mid"]]) {
        assert!(
            known.contains(&(2, rid.as_u64().unwrap())),
            "convert role {rid}"
        );
    }
    assert!(known.contains(&(3, convert["item"]["mid"].as_u64().unwrap())));
    assert!(convert["item"]["qty"].as_u64().unwrap() > 0);
    assert!(convert["duplicate_segments"].as_u64().is_some());
}
