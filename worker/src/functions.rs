//! The function table: every function a client may call, with who may call it. The only
//! place a new game function is registered.

use crate::context::Context;
use crate::modules::account;
use crate::modules::common::{Args, Outcome};
use crate::modules::mail;
use crate::modules::{chat, family, friend};
use crate::modules::{item, player, weapon};

/// Who may call a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token (register and the logins).
    Public,
    /// An account token, or a session token for the request's world.
    Account,
    /// A session token for the request's world.
    Session,
    /// Any valid token whose claims carry `role:"admin"`.
    Admin,
}

pub type GameFn = fn(&Context, &Args) -> Outcome;

#[derive(Clone, Copy)]
pub struct Function {
    pub name: &'static str,
    pub run: GameFn,
    pub access: Access,
}

const fn entry(name: &'static str, run: GameFn, access: Access) -> Function {
    Function { name, run, access }
}

pub const FUNCTIONS: &[Function] = &[
    entry("register", account::register, Access::Public),
    entry("login_unique", account::login_unique, Access::Public),
    entry("login", account::login, Access::Public),
    entry("bind_account", account::bind_account, Access::Account),
    entry(
        "account_all_info",
        account::account_all_info,
        Access::Account,
    ),
    entry("enter_world", account::enter_world, Access::Account),
    entry("create_player", player::create_player, Access::Session),
    entry("get_info_player", player::get_info_player, Access::Session),
    entry(
        "get_account_world_info",
        player::get_account_world_info,
        Access::Account,
    ),
    entry(
        "change_player_name",
        player::change_player_name,
        Access::Session,
    ),
    entry("add_resources", player::add_resources, Access::Admin),
    entry("get_all_resource", item::get_all_resource, Access::Session),
    entry("get_all_weapon", weapon::get_all_weapon, Access::Session),
    entry("level_up_weapon", weapon::level_up_weapon, Access::Session),
    entry(
        "level_up_star_weapon",
        weapon::level_up_star_weapon,
        Access::Session,
    ),
    entry("send_mail", mail::send_mail, Access::Session),
    entry("get_new_mail", mail::get_new_mail, Access::Session),
    entry("get_all_mail", mail::get_all_mail, Access::Session),
    entry("mark_read_mail", mail::mark_read_mail, Access::Session),
    entry("delete_mail", mail::delete_mail, Access::Session),
    entry("delete_read_mail", mail::delete_read_mail, Access::Session),
    entry("accept_gifts", mail::accept_gifts, Access::Session),
    entry("send_gift_mail", mail::send_gift_mail, Access::Admin),
    entry("create_family", family::create_family, Access::Session),
    entry("get_all_family", family::get_all_family, Access::Session),
    entry("search_family", family::search_family, Access::Session),
    entry(
        "request_join_family",
        family::request_join_family,
        Access::Session,
    ),
    entry(
        "invite_user_family",
        family::invite_user_family,
        Access::Session,
    ),
    entry("respond_family", family::respond_family, Access::Session),
    entry("leave_family", family::leave_family, Access::Session),
    entry(
        "remove_user_family",
        family::remove_user_family,
        Access::Session,
    ),
    entry("set_role_family", family::set_role_family, Access::Session),
    entry(
        "set_notice_family",
        family::set_notice_family,
        Access::Session,
    ),
    entry("disband_family", family::disband_family, Access::Session),
    entry("get_all_friend", friend::get_all_friend, Access::Session),
    entry("request_friend", friend::request_friend, Access::Session),
    entry("respond_friend", friend::respond_friend, Access::Session),
    entry("remove_friend", friend::remove_friend, Access::Session),
    entry(
        "send_gift_friend",
        friend::send_gift_friend,
        Access::Session,
    ),
    entry("find_person", friend::find_person, Access::Session),
    entry(
        "get_login_token_chat",
        chat::get_login_token_chat,
        Access::Session,
    ),
];

/// Functions that exist only in this crate's tests, to exercise the handler's guards.
#[cfg(test)]
pub const TEST_FUNCTIONS: &[Function] = &[
    entry("debug_panic", test_only::panic, Access::Public),
    entry("debug_session", test_only::echo, Access::Session),
    entry("debug_admin", test_only::echo, Access::Admin),
    entry("debug_sleep", test_only::sleep, Access::Public),
];

#[cfg(test)]
pub mod test_only {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How many `debug_sleep` calls have started: lets a test stop the worker while one
    /// is surely in flight.
    pub static SLEEPS_STARTED: AtomicUsize = AtomicUsize::new(0);

    /// Sleeps `ms` milliseconds, then answers them back.
    pub fn sleep(_: &Context, args: &Args) -> Outcome {
        let ms = args.int("ms")?;
        SLEEPS_STARTED.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(ms.clamp(0, 5000) as u64));
        Ok(args.0.clone())
    }

    pub fn panic(_: &Context, _: &Args) -> Outcome {
        panic!("debug_panic was called")
    }

    /// Answers the arguments it was given and the world it ran in.
    pub fn echo(ctx: &Context, args: &Args) -> Outcome {
        let mut data = args.0.clone();
        data.insert("served_world".into(), ctx.world.into());
        Ok(data)
    }
}

pub fn lookup(name: &str) -> Option<&'static Function> {
    let found = FUNCTIONS.iter().find(|f| f.name == name);
    #[cfg(test)]
    let found = found.or_else(|| TEST_FUNCTIONS.iter().find(|f| f.name == name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_only_the_logins_are_public() {
        for (i, f) in FUNCTIONS.iter().enumerate() {
            assert!(
                FUNCTIONS[i + 1..].iter().all(|g| g.name != f.name),
                "{} twice",
                f.name
            );
            let public = matches!(f.name, "register" | "login_unique" | "login");
            assert_eq!(f.access == Access::Public, public, "{}", f.name);
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
            let access = format!("{:?}", f.access);
            assert!(line.contains(&access), "{}: docs say {line}", f.name);
        }
    }
}
