//! The function table: every function a client may call, with who may call it. The only
//! place a new game function is registered.

use crate::function::{Function, Run};
use crate::modules::account;
use crate::modules::config_readers as cfg;
use crate::modules::factory;
use crate::modules::mail;
use crate::modules::summon;
use crate::modules::{achievement, check_in, task};
use crate::modules::{armor, role, skill};
use crate::modules::{chat, family, friend};
use crate::modules::{dark_market, item, mall, package, player, stage, weapon};
use crate::modules::{elements, science, vip};

const fn entry(name: &'static str, run: Run) -> Function {
    Function { name, run }
}

pub const FUNCTIONS: &[Function] = &[
    entry("register", Run::Public(account::register)),
    entry("login_unique", Run::Public(account::login_unique)),
    entry("login", Run::Public(account::login)),
    entry("bind_account", Run::Account(account::bind_account)),
    entry("account_all_info", Run::Account(account::account_all_info)),
    entry("enter_world", Run::Account(account::enter_world)),
    entry(
        "purge_guest_accounts",
        Run::Admin(account::purge_guest_accounts),
    ),
    entry("bind_email", Run::Account(account::contact::bind_email)),
    entry("unbind_email", Run::Account(account::contact::unbind_email)),
    entry(
        "verify_email_code",
        Run::Account(account::contact::verify_email_code),
    ),
    entry("bind_phone", Run::Account(account::contact::bind_phone)),
    entry("unbind_phone", Run::Account(account::contact::unbind_phone)),
    entry(
        "verify_phone_code",
        Run::Account(account::contact::verify_phone_code),
    ),
    entry("create_player", Run::Session(player::create_player)),
    entry("get_info_player", Run::Session(player::get_info_player)),
    entry(
        "get_account_world_info",
        Run::Account(player::get_account_world_info),
    ),
    entry(
        "change_player_name",
        Run::Session(player::change_player_name),
    ),
    entry("player_set_intro", Run::Player(player::player_set_intro)),
    entry("player_set_icon", Run::Player(player::player_set_icon)),
    entry("add_resources", Run::Admin(player::add_resources)),
    entry("get_all_resource", Run::Player(item::get_all_resource)),
    entry("get_all_weapon", Run::Player(weapon::get_all_weapon)),
    entry("level_up_weapon", Run::Player(weapon::level_up_weapon)),
    entry(
        "level_up_star_weapon",
        Run::Player(weapon::level_up_star_weapon),
    ),
    entry(
        "level_up_passive_weapon",
        Run::Player(weapon::level_up_passive_weapon),
    ),
    entry(
        "reset_skill_point_weapon",
        Run::Player(weapon::reset_skill_point_weapon),
    ),
    entry("get_all_role", Run::Player(role::get_all_role)),
    entry("level_up_role", Run::Player(role::level_up_role)),
    entry("level_up_star_role", Run::Player(role::level_up_star_role)),
    entry(
        "unlock_passive_role",
        Run::Player(role::unlock_passive_role),
    ),
    entry("get_all_skill", Run::Player(skill::get_all_skill)),
    entry("level_up_skill", Run::Player(skill::level_up_skill)),
    entry("get_all_armor", Run::Player(armor::get_all_armor)),
    entry("upgrade_armor", Run::Player(armor::upgrade_armor)),
    entry("buy_energy", Run::Player(package::buy_energy)),
    entry("buy_coin", Run::Player(package::buy_coin)),
    entry("exchange_card", Run::Player(package::exchange_card)),
    entry("use_item", Run::Player(package::use_item)),
    entry(
        "stage_enter_general",
        Run::Player(stage::stage_enter_general),
    ),
    entry(
        "stage_victory_general",
        Run::Player(stage::stage_victory_general),
    ),
    entry(
        "stage_enter_endless",
        Run::Player(stage::stage_enter_endless),
    ),
    entry(
        "stage_victory_endless",
        Run::Player(stage::stage_victory_endless),
    ),
    entry("stage_enter_boss", Run::Player(stage::stage_enter_boss)),
    entry("stage_victory_boss", Run::Player(stage::stage_victory_boss)),
    entry("stage_enter_coin", Run::Player(stage::stage_enter_coin)),
    entry("stage_victory_coin", Run::Player(stage::stage_victory_coin)),
    entry("stage_enter_exp", Run::Player(stage::stage_enter_exp)),
    entry("stage_victory_exp", Run::Player(stage::stage_victory_exp)),
    entry("stage_refresh_boss", Run::Player(stage::stage_refresh_boss)),
    entry("stage_all_infos", Run::Player(stage::stage_all_infos)),
    entry(
        "stage_damage_ranking",
        Run::Player(stage::stage_damage_ranking),
    ),
    entry("stage_hang_up", Run::Player(stage::stage_hang_up)),
    entry("stage_hu_show", Run::Player(stage::stage_hu_show)),
    entry("stage_mopping_up", Run::Player(stage::stage_mopping_up)),
    entry(
        "refresh_diamond_store",
        Run::Player(summon::refresh_diamond_store),
    ),
    entry(
        "refresh_coin_store",
        Run::Player(summon::refresh_coin_store),
    ),
    entry(
        "refresh_gift_store",
        Run::Player(summon::refresh_gift_store),
    ),
    entry(
        "buy_refresh_diamond",
        Run::Player(summon::buy_refresh_diamond),
    ),
    entry("buy_refresh_coin", Run::Player(summon::buy_refresh_coin)),
    entry("buy_refresh_gift", Run::Player(summon::buy_refresh_gift)),
    entry(
        "single_pump_diamond",
        Run::Player(summon::single_pump_diamond),
    ),
    entry("single_pump_coin", Run::Player(summon::single_pump_coin)),
    entry("single_pump_gift", Run::Player(summon::single_pump_gift)),
    entry(
        "dozen_pump_diamond",
        Run::Player(summon::dozen_pump_diamond),
    ),
    entry("dozen_pump_coin", Run::Player(summon::dozen_pump_coin)),
    entry("dozen_pump_gift", Run::Player(summon::dozen_pump_gift)),
    entry("integral_convert", Run::Player(summon::integral_convert)),
    entry("science_infos", Run::Player(science::science_infos)),
    entry("science_up", Run::Player(science::science_up)),
    entry(
        "player_element_all",
        Run::Player(elements::player_element_all),
    ),
    entry(
        "player_element_lv",
        Run::Player(elements::player_element_lv),
    ),
    entry(
        "player_element_reset",
        Run::Player(elements::player_element_reset),
    ),
    entry("get_info_vip", Run::Player(vip::get_info_vip)),
    entry(
        "get_vip_daily_reward",
        Run::Player(vip::get_vip_daily_reward),
    ),
    entry("purchase_vip_gift", Run::Player(vip::purchase_vip_gift)),
    entry("purchase_vip_card", Run::Player(vip::purchase_vip_card)),
    entry("get_all_market", Run::Player(dark_market::get_all_market)),
    entry("refresh_market", Run::Player(dark_market::refresh_market)),
    entry(
        "darkmarket_transaction",
        Run::Player(dark_market::darkmarket_transaction),
    ),
    entry("purchase_success", Run::Account(mall::purchase_success)),
    entry("exchange_prop", Run::Player(mall::exchange_prop)),
    entry(
        "create_exchange_code",
        Run::Admin(mall::create_exchange_code),
    ),
    entry("send_mail", Run::Player(mail::send_mail)),
    entry("get_new_mail", Run::Session(mail::get_new_mail)),
    entry("get_all_mail", Run::Session(mail::get_all_mail)),
    entry("mark_read_mail", Run::Session(mail::mark_read_mail)),
    entry("delete_mail", Run::Session(mail::delete_mail)),
    entry("delete_read_mail", Run::Session(mail::delete_read_mail)),
    entry("accept_gifts", Run::Session(mail::accept_gifts)),
    entry("send_gift_mail", Run::Admin(mail::send_gift_mail)),
    entry("send_text_mail", Run::Admin(mail::send_text_mail)),
    entry("create_family", Run::Player(family::create_family)),
    entry("get_all_family", Run::Player(family::get_all_family)),
    entry("search_family", Run::Session(family::search_family)),
    entry(
        "request_join_family",
        Run::Player(family::request_join_family),
    ),
    entry(
        "invite_user_family",
        Run::Player(family::invite_user_family),
    ),
    entry("respond_family", Run::Player(family::respond_family)),
    entry("leave_family", Run::Player(family::leave_family)),
    entry(
        "remove_user_family",
        Run::Player(family::remove_user_family),
    ),
    entry("set_role_family", Run::Player(family::set_role_family)),
    entry("set_notice_family", Run::Player(family::set_notice_family)),
    entry("disband_family", Run::Player(family::disband_family)),
    entry(
        "set_blackboard_family",
        Run::Player(family::set_blackboard_family),
    ),
    entry("set_icon_family", Run::Player(family::set_icon_family)),
    entry(
        "change_name_family",
        Run::Player(family::change_name_family),
    ),
    entry(
        "cancel_disband_family",
        Run::Player(family::cancel_disband_family),
    ),
    entry("check_in_family", Run::Player(family::check_in_family)),
    entry("abdicate_family", Run::Player(family::abdicate_family)),
    entry("get_random_family", Run::Session(family::get_random_family)),
    entry("get_store_family", Run::Session(family::get_store_family)),
    entry(
        "market_purchase_family",
        Run::Player(family::market_purchase_family),
    ),
    entry(
        "welfare_purchase_family",
        Run::Player(family::welfare_purchase_family),
    ),
    entry("get_all_friend", Run::Player(friend::get_all_friend)),
    entry("request_friend", Run::Player(friend::request_friend)),
    entry("respond_friend", Run::Player(friend::respond_friend)),
    entry("remove_friend", Run::Player(friend::remove_friend)),
    entry("send_gift_friend", Run::Player(friend::send_gift_friend)),
    entry("send_gift_all", Run::Player(friend::send_gift_all)),
    entry("get_gifts_friend", Run::Player(friend::get_gifts_friend)),
    entry("find_person", Run::Player(friend::find_person)),
    entry(
        "get_login_token_chat",
        Run::Player(chat::get_login_token_chat),
    ),
    entry("check_in_sign", Run::Player(check_in::check_in_sign)),
    entry(
        "check_in_supplement",
        Run::Player(check_in::check_in_supplement),
    ),
    entry("check_in_all", Run::Player(check_in::check_in_all)),
    entry("get_all_task", Run::Player(task::get_all_task)),
    entry("get_task_reward", Run::Player(task::get_task_reward)),
    entry(
        "get_all_achievement",
        Run::Player(achievement::get_all_achievement),
    ),
    entry(
        "activate_achievement",
        Run::Player(achievement::activate_achievement),
    ),
    entry(
        "get_achievement_reward",
        Run::Player(achievement::get_achievement_reward),
    ),
    entry("refresh_factory", Run::Player(factory::refresh_factory)),
    entry("upgrade_factory", Run::Player(factory::upgrade_factory)),
    entry(
        "buy_worker_factory",
        Run::Player(factory::buy_worker_factory),
    ),
    entry(
        "update_worker_factory",
        Run::Player(factory::update_worker_factory),
    ),
    entry(
        "activate_wishing_pool_factory",
        Run::Player(factory::activate_wishing_pool_factory),
    ),
    entry(
        "buy_acceleration_factory",
        Run::Player(factory::buy_acceleration_factory),
    ),
    entry("set_armor_factory", Run::Player(factory::set_armor_factory)),
    entry(
        "gather_resource_factory",
        Run::Player(factory::gather_resource_factory),
    ),
    entry(
        "iron_convert_factory",
        Run::Player(factory::iron_convert_factory),
    ),
    entry("get_player_config", Run::Account(cfg::get_player_config)),
    entry("get_config_player", Run::Account(cfg::get_config_player)),
    entry("get_config_version", Run::Account(cfg::get_config_version)),
    entry("get_config_stage", Run::Account(cfg::get_config_stage)),
    entry("get_config_weapon", Run::Account(cfg::get_config_weapon)),
    entry("get_config_skill", Run::Account(cfg::get_config_skill)),
    entry("get_config_mall", Run::Account(cfg::get_config_mall)),
    entry("get_config_role", Run::Account(cfg::get_config_role)),
    entry("get_config_task", Run::Account(cfg::get_config_task)),
    entry("get_task_config", Run::Account(cfg::get_task_config)),
    entry(
        "get_config_achievement",
        Run::Account(cfg::get_config_achievement),
    ),
    entry(
        "get_achievement_config",
        Run::Account(cfg::get_achievement_config),
    ),
    entry(
        "get_config_check_in",
        Run::Account(cfg::get_config_check_in),
    ),
    entry("get_config_vip", Run::Account(cfg::get_config_vip)),
    entry("get_config_factory", Run::Account(cfg::get_config_factory)),
    entry("get_config_family", Run::Account(cfg::get_config_family)),
    entry(
        "get_config_exchange",
        Run::Account(cfg::get_config_exchange),
    ),
    entry("get_config_notice", Run::Account(cfg::get_config_notice)),
    entry("get_config_science", Run::Account(cfg::get_config_science)),
];

/// Functions that exist only in this crate's tests, to exercise the handler's guards.
#[cfg(test)]
pub const TEST_FUNCTIONS: &[Function] = &[
    entry("debug_panic", Run::Public(test_only::panic)),
    entry("debug_session", Run::Session(test_only::echo_in_world)),
    entry("debug_admin", Run::Admin(test_only::echo_account)),
    entry("debug_sleep", Run::Public(test_only::sleep)),
    entry("debug_tick", Run::Account(test_only::tick)),
];

#[cfg(test)]
pub mod test_only {
    use crate::function::{Account, Args, Context, InWorld, Outcome};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How many `debug_sleep` calls have started: lets a test stop the worker while one
    /// is surely in flight.
    pub static SLEEPS_STARTED: AtomicUsize = AtomicUsize::new(0);

    /// Sleeps `ms` milliseconds, then answers them back.
    pub fn sleep(_: &Context, args: &Args) -> Outcome {
        let ms = args.int("ms")?;
        SLEEPS_STARTED.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(ms.clamp(0, 5000) as u64));
        Ok(args.0.clone().into())
    }

    pub fn panic(_: &Context, _: &Args) -> Outcome {
        panic!("debug_panic was called")
    }

    /// Answers the arguments it was given and the world it ran in.
    pub fn echo_in_world(ctx: &Context, _: &InWorld, args: &Args) -> Outcome {
        let mut data = args.0.clone();
        data.insert("served_world".into(), ctx.world.into());
        Ok(data.into())
    }

    /// Runs of `debug_tick` per caller uid.
    static TICKS: std::sync::Mutex<Vec<(String, u64)>> = std::sync::Mutex::new(Vec::new());

    /// How many times `debug_tick` ran to the end for `uid`.
    pub fn ticks(uid: &str) -> u64 {
        let ticks = TICKS.lock().unwrap_or_else(|p| p.into_inner());
        ticks.iter().find(|(u, _)| u == uid).map_or(0, |(_, n)| *n)
    }

    /// A function with an effect that can be counted: sleeps `ms`, then answers 16 when
    /// `fail`, panics when `panic`, else counts one run for the caller and answers the
    /// count (and `pad` bytes of padding, for large answers).
    pub fn tick(_: &Context, caller: &Account, args: &Args) -> Outcome {
        let ms = args.0.get("ms").and_then(|v| v.as_u64()).unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(ms.min(5000)));
        if args.0.get("fail") == Some(&true.into()) {
            return Err(crate::function::FnError::Backend(
                "debug_tick told to fail".into(),
            ));
        }
        if args.0.get("panic") == Some(&true.into()) {
            panic!("debug_tick told to panic");
        }
        let count = {
            let mut ticks = TICKS.lock().unwrap_or_else(|p| p.into_inner());
            match ticks.iter_mut().find(|(u, _)| *u == caller.uid) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    ticks.push((caller.uid.clone(), 1));
                    1
                }
            }
        };
        let pad = args.0.get("pad").and_then(|v| v.as_u64()).unwrap_or(0);
        let mut data = serde_json::Map::new();
        data.insert("tick".into(), count.into());
        data.insert("uid".into(), caller.uid.clone().into());
        data.insert("pad".into(), "x".repeat(pad.min(1 << 20) as usize).into());
        Ok(data.into())
    }

    pub fn echo_account(ctx: &Context, _: &Account, args: &Args) -> Outcome {
        let mut data = args.0.clone();
        data.insert("served_world".into(), ctx.world.into());
        Ok(data.into())
    }
}

pub fn lookup(name: &str) -> Option<&'static Function> {
    find(name).map(|(_, f)| f)
}

/// The function called `name` and its position in [`FUNCTIONS`] (`None` for a test-only
/// function), which indexes the per-function metrics.
pub fn find(name: &str) -> Option<(Option<usize>, &'static Function)> {
    if let Some(i) = FUNCTIONS.iter().position(|f| f.name == name) {
        return Some((Some(i), &FUNCTIONS[i]));
    }
    #[cfg(test)]
    if let Some(f) = TEST_FUNCTIONS.iter().find(|f| f.name == name) {
        return Some((None, f));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::Access;

    #[test]
    fn names_are_unique_and_only_the_logins_are_public() {
        for (i, f) in FUNCTIONS.iter().enumerate() {
            assert!(
                FUNCTIONS[i + 1..].iter().all(|g| g.name != f.name),
                "{} twice",
                f.name
            );
            let public = matches!(f.name, "register" | "login_unique" | "login");
            assert_eq!(f.access() == Access::Public, public, "{}", f.name);
        }
        assert!(lookup("login").is_some());
        assert!(lookup("no_such_function").is_none());
    }

    #[test]
    fn docs_list_every_function_with_its_access() {
        let doc = include_str!("../../docs/worker.md");
        for f in FUNCTIONS {
            let row = format!("| `{}` |", f.name);
            let line = doc
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("docs/worker.md lacks a row for {}", f.name));
            let access = format!("{:?}", f.access());
            assert!(line.contains(&access), "{}: docs say {line}", f.name);
        }
    }
}
