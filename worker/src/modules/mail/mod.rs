//! Mail: player mail, gift mail and the request/accept machinery other modules use.
//!
//! - [`client`]: the mail service's HTTP API (mailboxes per world and player).
//! - [`request`]: mails with a single-use auth nonce: [`send_request`], [`redeem_request`].
//! - [`limit`]: the daily send limit of player mail.
//!
//! Mailboxes are per (request world, caller uid): every key a player names is looked for in
//! their own mailbox only, so no one reads, deletes or accepts another player's mail.

pub mod client;
pub mod limit;
pub mod request;

use serde_json::{Map, Value};

use self::client::{MailClient, MailError, OutgoingMail, Which};
pub use self::request::{redeem_request, restore_request, send_request, RequestKind, RequestMail};
use crate::function::Context;
use crate::function::{data, ok, Account, Args, FnError, InWorld, Outcome, Player};
use crate::modules::common::{transaction, uid_of_player};
pub use crate::modules::enums::MailStatus;
use crate::modules::enums::SharedStatus;
use crate::modules::item::{self, Item};

/// `type` of player-to-player mail.
const PLAYER_MAIL_TYPE: &str = "simple";
/// `from` of admin gift mail.
pub const SYSTEM_SENDER: &str = "system";
/// Most keys one `accept_gifts` takes (a mailbox holds 50).
const MAX_KEYS_PER_ACCEPT: usize = 64;
/// Subject of an admin gift mail that names none.
const DEFAULT_GIFT_SUBJECT: &str = "Gift";

impl MailStatus {
    pub fn error(self) -> FnError {
        FnError::from(self)
    }
}

/// The status a mail service failure answers.
pub fn mail_error(e: MailError) -> FnError {
    match e {
        MailError::MailboxFull => MailStatus::MailboxFull.error(),
        MailError::NoSuchMail => MailStatus::NoSuchMail.error(),
        // Values are checked before they are sent, so a refusal is our bug: log it, 99.
        MailError::Refused(_) | MailError::Unavailable(_) => FnError::Backend(e.to_string()),
    }
}

/// mail.json's numbers.
struct MailRules {
    daily_send_limit: u64,
    subject_max_chars: usize,
    body_max_chars: usize,
}

fn rules(ctx: &Context) -> MailRules {
    let file = ctx.config.file("mail");
    let number = |name: &str, default: u64| {
        file.and_then(|f| f.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(default)
    };
    MailRules {
        daily_send_limit: number("daily_send_limit", 20),
        subject_max_chars: number("subject_max_chars", 40) as usize,
        body_max_chars: number("body_max_chars", 500) as usize,
    }
}

/// Subject: up to `max` characters, no control characters (they cannot go in a header).
/// Body: up to `max` characters, no NUL; newlines are fine.
fn check_subject_and_body(subj: &str, body: &str, rules: &MailRules) -> Result<(), FnError> {
    let invalid = |why: String| FnError::module(MailStatus::InvalidArgument, why);
    if subj.chars().count() > rules.subject_max_chars {
        return Err(invalid(format!(
            "subj must be at most {} characters",
            rules.subject_max_chars
        )));
    }
    if subj.chars().any(char::is_control) {
        return Err(invalid("subj must not contain control characters".into()));
    }
    if body.chars().count() > rules.body_max_chars {
        return Err(invalid(format!(
            "body must be at most {} characters",
            rules.body_max_chars
        )));
    }
    if body.contains('\0') {
        return Err(invalid("body must not contain NUL".into()));
    }
    Ok(())
}

/// A key as the client sends it: anything that is not a key names no mail (82), so the
/// mail service never sees it.
fn checked_key<'a>(args: &Args<'a>) -> Result<&'a str, FnError> {
    let key = args.str("key")?;
    let plausible = !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if plausible {
        Ok(key)
    } else {
        Err(MailStatus::NoSuchMail.error())
    }
}

fn target_uid(ctx: &Context, world: &str, gn: &str) -> Result<String, FnError> {
    uid_of_player(ctx.db, world, gn)?.ok_or_else(|| {
        FnError::module(
            SharedStatus::NoPlayer,
            format!("no player named {gn:?} in this world"),
        )
    })
}

/// `send_mail(gn_target, subj, body)`: a mail from the caller's player; counts against the
/// daily limit (81 when used up), 80 when the recipient's mailbox is full. Answers `key`.
pub fn send_mail(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let (gn_target, subj, body) = (args.str("gn_target")?, args.str("subj")?, args.str("body")?);
    let rules = rules(ctx);
    check_subject_and_body(subj, body, &rules)?;
    let target = target_uid(ctx, &player.world, gn_target)?;
    let counted = limit::take(
        ctx.redis,
        &player.world,
        &player.unique_id,
        rules.daily_send_limit,
    )?
    .ok_or_else(|| MailStatus::DailyLimit.error())?;
    let mail = OutgoingMail {
        kind: PLAYER_MAIL_TYPE,
        from: &player.gn,
        subj,
        body,
        items: Vec::new(),
    };
    match MailClient::new(&ctx.settings.mail_url).send(&player.world, &target, &mail) {
        Ok(key) => ok(data([("key", key.into())])),
        Err(e) => {
            counted.refund(ctx.redis);
            Err(mail_error(e))
        }
    }
}

fn list(ctx: &Context, me: &InWorld, which: Which) -> Outcome {
    let listing = MailClient::new(&ctx.settings.mail_url)
        .list(&me.world, &me.uid, which)
        .map_err(mail_error)?;
    match serde_json::to_value(listing) {
        Ok(Value::Object(map)) => ok(map),
        _ => Err(FnError::Backend("listing did not serialise".into())),
    }
}

/// `get_new_mail()`: `mail` (unread mails that arrived since the last listing, oldest
/// first) and `count` `{cur, max}`.
pub fn get_new_mail(ctx: &Context, me: &InWorld, _: &Args) -> Outcome {
    list(ctx, me, Which::New)
}

/// `get_all_mail()`: `mail` (every mail, newest first) and `count` `{cur, max}`.
pub fn get_all_mail(ctx: &Context, me: &InWorld, _: &Args) -> Outcome {
    list(ctx, me, Which::All)
}

/// `mark_read_mail(key)`: 82 when the caller's mailbox has no such mail.
pub fn mark_read_mail(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let key = checked_key(args)?;
    MailClient::new(&ctx.settings.mail_url)
        .mark_read(ctx.world()?, me.uid.as_str(), key)
        .map_err(mail_error)?;
    ok(data([("key", key.into())]))
}

/// `delete_mail(key)`: 82 when the caller's mailbox has no such mail. Deleting a request
/// mail that was never accepted leaves its nonce to expire unused.
pub fn delete_mail(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let key = checked_key(args)?;
    MailClient::new(&ctx.settings.mail_url)
        .delete(ctx.world()?, me.uid.as_str(), key)
        .map_err(mail_error)?;
    ok(data([("key", key.into())]))
}

/// `delete_read_mail()`: deletes every read mail; answers `deleted` (how many).
pub fn delete_read_mail(ctx: &Context, me: &InWorld, _: &Args) -> Outcome {
    let deleted = MailClient::new(&ctx.settings.mail_url)
        .delete_read(ctx.world()?, me.uid.as_str())
        .map_err(mail_error)?;
    ok(data([("deleted", deleted.into())]))
}

/// `accept_gifts(gift)`: `gift` is an array of mail keys. Each gift in the caller's mailbox
/// is redeemed once and its items granted (one transaction per gift). Answers `results`:
/// per key `{"status":0,"items":[..]}` or `{"status":N,"message":..}` (82 not in your
/// mailbox, 83 already accepted, 84 not a gift, 99 backend); a key named twice is
/// answered once. A gift whose grant fails is made acceptable again.
pub fn accept_gifts(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let keys = gift_keys(args)?;
    let world = ctx.world()?;
    let listing = MailClient::new(&ctx.settings.mail_url)
        .list(world, me.uid.as_str(), Which::All)
        .map_err(mail_error)?;
    let mut results = Map::new();
    for key in keys {
        if results.contains_key(key) {
            // Named twice: the first answer stands (a second would only say "accepted").
            continue;
        }
        let result = match accept_one_gift(ctx, &me.uid, &listing, key) {
            Ok(items) => data([("status", 0.into()), ("items", item::to_json(&items))]),
            Err(e) => {
                if let FnError::Backend(why) = &e {
                    shared::error!("gift not accepted", key = key, error = why);
                }
                let response = e.to_response();
                data([
                    ("status", response.status.into()),
                    ("message", response.message.into()),
                ])
            }
        };
        results.insert(key.to_string(), result.into());
    }
    ok(data([("results", results.into())]))
}

fn gift_keys<'a>(args: &Args<'a>) -> Result<Vec<&'a str>, FnError> {
    let not_keys = || FnError::Malformed("`gift` must be an array of mail keys".into());
    let list = match args.0.get("gift") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(not_keys()),
        None => return Err(FnError::Malformed("`gift` is missing".into())),
    };
    if list.is_empty() || list.len() > MAX_KEYS_PER_ACCEPT {
        return Err(FnError::module(
            MailStatus::InvalidArgument,
            format!("gift must name 1 to {MAX_KEYS_PER_ACCEPT} keys"),
        ));
    }
    list.iter()
        .map(|v| v.as_str().ok_or_else(not_keys))
        .collect()
}

fn accept_one_gift(
    ctx: &Context,
    uid: &str,
    listing: &client::Listing,
    key: &str,
) -> Result<Vec<Item>, FnError> {
    let world = ctx.world()?;
    let payload = request::redeem_listed(ctx, uid, listing, key, RequestKind::Gift)?;
    let granted = payload
        .get("items")
        .map(Item::parse_list)
        .unwrap_or(Ok(Vec::new()))
        .map_err(FnError::from)
        .and_then(|items| {
            transaction(ctx.db, |tx| item::grant(tx, ctx.config, world, uid, &items))?;
            Ok(items)
        });
    match granted {
        Ok(items) => {
            request::mark_read_after_accept(ctx, uid, key);
            Ok(items)
        }
        Err(e) => {
            restore_request(ctx, key, &payload);
            Err(e)
        }
    }
}

/// `send_gift_mail(gn_target, items, subj?, body?)`, admin only: a gift mail from
/// "system" carrying `items` (item strings), accepted with `accept_gifts`. Answers `key`.
pub fn send_gift_mail(ctx: &Context, _: &Account, args: &Args) -> Outcome {
    let world = ctx.world()?;
    let gn_target = args.str("gn_target")?;
    let items = item::items_arg(args, "items")?;
    if items.is_empty() {
        return Err(FnError::module(
            MailStatus::InvalidArgument,
            "items must name at least one item",
        ));
    }
    item::check_defined(ctx.config, &items)?;
    let subj = optional_str(args, "subj")?.unwrap_or(DEFAULT_GIFT_SUBJECT);
    let body = optional_str(args, "body")?.unwrap_or("");
    check_subject_and_body(subj, body, &rules(ctx))?;
    let target = target_uid(ctx, world, gn_target)?;
    let key = send_request(
        ctx,
        &RequestMail {
            world,
            target_uid: &target,
            kind: RequestKind::Gift,
            from: SYSTEM_SENDER,
            subj,
            body,
            items: &items,
            payload: Map::new(),
        },
    )?;
    ok(data([("key", key.into())]))
}

fn optional_str<'a>(args: &Args<'a>, name: &str) -> Result<Option<&'a str>, FnError> {
    match args.0.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => args.str(name).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> MailRules {
        MailRules {
            daily_send_limit: 20,
            subject_max_chars: 5,
            body_max_chars: 8,
        }
    }

    #[test]
    fn subject_and_body_bounds_count_characters() {
        assert!(check_subject_and_body("你好世界!", "😀😀😀😀😀😀😀\n", &rules()).is_ok());
        let e = check_subject_and_body("123456", "", &rules()).unwrap_err();
        assert_eq!(
            e,
            FnError::module(
                MailStatus::InvalidArgument,
                "subj must be at most 5 characters"
            )
        );
        let e = check_subject_and_body("a\nb", "", &rules()).unwrap_err();
        assert_eq!(
            e,
            FnError::module(
                MailStatus::InvalidArgument,
                "subj must not contain control characters"
            )
        );
        let e = check_subject_and_body("", "123456789", &rules()).unwrap_err();
        assert_eq!(
            e,
            FnError::module(
                MailStatus::InvalidArgument,
                "body must be at most 8 characters"
            )
        );
        assert!(check_subject_and_body("", "a\0b", &rules()).is_err());
    }

    #[test]
    fn keys_and_key_lists_are_checked_before_any_call() {
        let map = json!({"key":"1.M2P3Q4.host","bad":"../etc","gift":["a","b"],"g2":[],"g3":[1],"g4":"a"});
        let map = map.as_object().unwrap();
        let args = Args(map);
        let key_of = |name: &str| {
            let one = json!({ "key": map[name] });
            checked_key(&Args(one.as_object().unwrap())).map(str::to_string)
        };
        assert_eq!(key_of("key").unwrap(), "1.M2P3Q4.host");
        assert_eq!(key_of("bad").unwrap_err(), MailStatus::NoSuchMail.error());
        assert_eq!(gift_keys(&args).unwrap(), ["a", "b"]);
        let named = |name: &str| {
            let one = json!({ "gift": map[name] });
            gift_keys(&Args(one.as_object().unwrap())).map(|k| k.len())
        };
        assert_eq!(named("g2").unwrap_err().to_response().status, 85);
        assert_eq!(named("g3").unwrap_err().to_response().status, 13);
        assert_eq!(named("g4").unwrap_err().to_response().status, 13);
    }

    #[test]
    fn mail_service_failures_map_to_statuses() {
        assert_eq!(mail_error(MailError::MailboxFull).to_response().status, 80);
        assert_eq!(mail_error(MailError::NoSuchMail).to_response().status, 82);
        assert_eq!(
            mail_error(MailError::Refused("x".into()))
                .to_response()
                .status,
            16
        );
        assert_eq!(
            mail_error(MailError::Unavailable("x".into()))
                .to_response()
                .status,
            16
        );
    }
}
