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

use std::borrow::Cow;

use serde_json::{Map, Value};

use self::client::{MailClient, MailEntry, MailError, OutgoingMail, Which};
pub use self::request::{redeem_request, restore_request, send_request, RequestKind, RequestMail};
use crate::function::{data, ok, Account, Args, FnError, InWorld, ModuleStatus, Outcome, Player};
use crate::function::{Context, Reply};
use crate::modules::common::{transaction, uid_of_player};
pub use crate::modules::enums::MailStatus;
use crate::modules::enums::SharedStatus;
use crate::modules::item::{self, Item, ItemError};

/// `type` of player-to-player mail and of admin text mail.
const PLAYER_MAIL_TYPE: &str = "simple";
/// `from` of admin gift and text mail.
pub const SYSTEM_SENDER: &str = "system";
/// Most keys one `accept_gifts` takes, `gift` and `other` together (a mailbox holds 50).
const MAX_KEYS_PER_ACCEPT: usize = 64;
/// Subject and body of an admin gift mail that names none: the original's template names,
/// which its clients localise.
const DEFAULT_GIFT_SUBJECT: &str = "SYSTEM_REWARD";
const DEFAULT_GIFT_BODY: &str = "GIFT_1";
/// Messages of status 99 ([`MailStatus::Refused`]) per case.
const DAILY_LIMIT_MESSAGE: &str = "daily mail limit reached, try again tomorrow";
const EMPTY_KEY_MESSAGE: &str = "key must not be empty";
/// Message of status 98 when the mail service refused the mail.
const NOT_DELIVERED_MESSAGE: &str =
    "the mail could not be delivered: the recipient's mailbox is full";

impl MailStatus {
    pub fn error(self) -> FnError {
        FnError::from(self)
    }
}

/// The status a mail service failure answers (request mails: friend and family requests,
/// gifts).
pub fn mail_error(e: MailError) -> FnError {
    match e {
        MailError::MailboxFull => MailStatus::MailboxFull.error(),
        MailError::NoSuchMail => MailStatus::NoSuchMail.error(),
        // Values are checked before they are sent, so a refusal is our bug: log it, 16.
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
        daily_send_limit: number("daily_send_limit", 10),
        subject_max_chars: number("subject_max_chars", 40) as usize,
        body_max_chars: number("body_max_chars", 500) as usize,
    }
}

/// Subject: up to `max` characters, no control characters (they cannot go in a header).
/// Body: up to `max` characters, no NUL; newlines are fine. `Err` says what is wrong.
fn check_subject_and_body(subj: &str, body: &str, rules: &MailRules) -> Result<(), String> {
    if subj.chars().count() > rules.subject_max_chars {
        return Err(format!(
            "subj must be at most {} characters",
            rules.subject_max_chars
        ));
    }
    if subj.chars().any(char::is_control) {
        return Err("subj must not contain control characters".into());
    }
    if body.chars().count() > rules.body_max_chars {
        return Err(format!(
            "body must be at most {} characters",
            rules.body_max_chars
        ));
    }
    if body.contains('\0') {
        return Err("body must not contain NUL".into());
    }
    Ok(())
}

/// Whether `key` can be a mail key at all; anything else names no mail, so the mail
/// service never sees it.
fn plausible_key(key: &str) -> bool {
    shared::mail_key::is_key(key)
}

/// `key` as `mark_read_mail` and `delete_mail` take it: an empty key is 99, as the
/// original's; `None` for one that cannot name a mail.
fn key_arg<'a>(args: &Args<'a>) -> Result<Option<&'a str>, FnError> {
    let key = args.str("key")?;
    if key.is_empty() {
        return Err(FnError::module(MailStatus::Refused, EMPTY_KEY_MESSAGE));
    }
    Ok(plausible_key(key).then_some(key))
}

/// The uid of the player named exactly `gn`. MySQL compares `'Bob '` equal to `'Bob'`, so a
/// name with whitespace at either end (never a valid name) names no one.
fn player_named(ctx: &Context, world: &str, gn: &str) -> Result<Option<String>, FnError> {
    if gn.is_empty() || gn.trim() != gn {
        return Ok(None);
    }
    uid_of_player(ctx.db, world, gn)
}

fn target_uid(ctx: &Context, world: &str, gn: &str) -> Result<String, FnError> {
    player_named(ctx, world, gn)?.ok_or_else(|| {
        FnError::module(
            SharedStatus::NoPlayer,
            format!("no player named {gn:?} in this world"),
        )
    })
}

/// Status 98 with `sent`, the sends counted today: the mail was not delivered.
fn not_sent(sent: u64, message: impl Into<Cow<'static, str>>) -> Outcome {
    Ok(Reply {
        status: MailStatus::NotSent.code(),
        message: message.into(),
        data: data([("sent", sent.into())]),
    })
}

/// `send_mail(gn_target, subj, body)`: a mail (type 0) from the caller's player. Answers
/// `sent` (mails sent this game day, this one included) and `key`. 99 when the day's
/// `daily_send_limit` is used up; 98 with `sent` when the mail was not delivered (the
/// recipient's mailbox is full, or `subj`/`body` break mail.json's bounds: the message says
/// which), and then it is not counted; 17 for an unknown `gn_target`.
pub fn send_mail(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let (gn_target, subj, body) = (args.str("gn_target")?, args.str("subj")?, args.str("body")?);
    let rules = rules(ctx);
    let target = target_uid(ctx, &player.world, gn_target)?;
    let counted = limit::take(
        ctx.redis,
        ctx.now(),
        &player.world,
        &player.unique_id,
        rules.daily_send_limit,
    )?
    .ok_or_else(|| FnError::module(MailStatus::Refused, DAILY_LIMIT_MESSAGE))?;
    if let Err(why) = check_subject_and_body(subj, body, &rules) {
        return not_sent(counted.refund(ctx.redis), why);
    }
    let mail = OutgoingMail {
        kind: PLAYER_MAIL_TYPE,
        from: &player.gn,
        subj,
        body,
        items: Vec::new(),
    };
    match MailClient::new(&ctx.settings.mail_url).send(&player.world, &target, &mail) {
        Ok(key) => ok(data([("sent", counted.count.into()), ("key", key.into())])),
        Err(MailError::MailboxFull) => not_sent(counted.refund(ctx.redis), NOT_DELIVERED_MESSAGE),
        Err(e) => {
            counted.refund(ctx.redis);
            Err(mail_error(e))
        }
    }
}

/// `"YYYY-MM-DD HH:MM:SS"` in the game's UTC+8 for a `Date` header as the mail service
/// writes it (`Fri, 27 Nov 2026 11:49:05 +0000`); `None` when it is not one.
pub fn game_time(date: &str) -> Option<String> {
    let rest = date.split_once(", ").map_or(date, |(_, rest)| rest);
    let mut parts = rest.split_whitespace();
    let day: i64 = parts.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    let zone = parts.next()?;
    if clock.next().is_some() || parts.next().is_some() || zone.len() != 5 {
        return None;
    }
    let sign = match &zone[..1] {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let zone_secs =
        sign * (zone[1..3].parse::<i64>().ok()? * 3600 + zone[3..].parse::<i64>().ok()? * 60);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let unix = shared::civil::days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s
        - zone_secs;
    Some(crate::modules::daily::date_time(unix))
}

/// One mail as the listings answer it (the original's fields): `key`, `type` (0-3),
/// `from`, `subj`, `body`, `read` (0 or 1), `time` (UTC+8) and, for a mail with items,
/// `items` as one string `"g:i:q,g:i:q"`.
fn mail_json(mail: &MailEntry) -> Value {
    let mut fields = data([
        ("key", mail.key.as_str().into()),
        ("type", mail.kind.code().into()),
        ("from", mail.from.as_str().into()),
        ("subj", mail.subj.as_str().into()),
        ("body", mail.body.as_str().into()),
        ("read", u8::from(mail.read).into()),
        (
            "time",
            game_time(&mail.date)
                .unwrap_or_else(|| mail.date.clone())
                .into(),
        ),
    ]);
    if !mail.items.is_empty() {
        fields.insert("items".into(), mail.items.join(",").into());
    }
    Value::Object(fields)
}

fn list(ctx: &Context, me: &InWorld, which: Which) -> Outcome {
    let listing = MailClient::new(&ctx.settings.mail_url)
        .list(&me.world, &me.uid, which)
        .map_err(mail_error)?;
    let mail: Vec<Value> = listing.mail.iter().map(mail_json).collect();
    let count = data([
        ("cur", listing.count.cur.into()),
        ("max", listing.count.max.into()),
    ]);
    ok(data([("mail", mail.into()), ("count", count.into())]))
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

/// Runs `call` on a key of the caller's mailbox: `Ok(false)` when there is no such mail.
fn on_own_mail(
    key: Option<&str>,
    call: impl FnOnce(&str) -> Result<(), MailError>,
) -> Result<bool, FnError> {
    let Some(key) = key else { return Ok(false) };
    match call(key) {
        Ok(()) => Ok(true),
        Err(MailError::NoSuchMail) => Ok(false),
        Err(e) => Err(mail_error(e)),
    }
}

/// `mark_read_mail(key)`: `key`, or `""` when the caller's mailbox has no such mail (still
/// status 0, as the original's); 99 for an empty key.
pub fn mark_read_mail(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let key = key_arg(args)?;
    let client = MailClient::new(&ctx.settings.mail_url);
    let marked = on_own_mail(key, |key| client.mark_read(&me.world, &me.uid, key))?;
    let key = if marked { key.unwrap_or("") } else { "" };
    ok(data([("key", key.into())]))
}

/// `delete_mail(key)`: `keys`, the deleted key or `[]` when the caller's mailbox has no
/// such mail; 99 for an empty key. Deleting a request mail declines it: its nonce goes
/// with it, and its sender may ask again.
pub fn delete_mail(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let key = key_arg(args)?;
    let client = MailClient::new(&ctx.settings.mail_url);
    let deleted = on_own_mail(key, |key| client.delete(&me.world, &me.uid, key))?;
    let keys: Vec<String> = key
        .filter(|_| deleted)
        .map(str::to_string)
        .into_iter()
        .collect();
    request::forget_requests(ctx, &keys);
    ok(data([("keys", keys.into())]))
}

/// `delete_read_mail()`: deletes every read mail; answers `keys` (theirs) and `deleted`
/// (how many). Request mails among them go with their nonces, as with `delete_mail`.
pub fn delete_read_mail(ctx: &Context, me: &InWorld, _: &Args) -> Outcome {
    let keys = MailClient::new(&ctx.settings.mail_url)
        .delete_read(&me.world, &me.uid)
        .map_err(mail_error)?;
    request::forget_requests(ctx, &keys);
    ok(data([
        ("deleted", keys.len().into()),
        ("keys", keys.into()),
    ]))
}

/// `accept_gifts(gift, other?)`: `gift` and `other` are arrays of mail keys (64 at most
/// together, 85 beyond). Each gift in the caller's own mailbox is redeemed once and its
/// items granted (one transaction per gift); each `other` key is only marked read. Answers
/// `success` `{key: [{gid, id, remaining, reward}, ..]}` (`reward` the quantity the gift
/// carried, `remaining` the holding after the grant) and `error` `[key, ..]`: every
/// `other` key and every gift not accepted; `reasons` `{key: {status, message}}` says why
/// for each gift not accepted (82 not in your mailbox, 83 already accepted, 84 not a gift,
/// 19 an item no longer defined, 16 backend). A key named twice is answered once. A gift
/// whose grant fails is made acceptable again.
pub fn accept_gifts(ctx: &Context, me: &InWorld, args: &Args) -> Outcome {
    let gifts = key_list(args, "gift", true)?;
    let others = key_list(args, "other", false)?;
    if gifts.len() + others.len() > MAX_KEYS_PER_ACCEPT {
        return Err(FnError::module(
            MailStatus::InvalidArgument,
            format!("gift and other must name at most {MAX_KEYS_PER_ACCEPT} keys"),
        ));
    }
    let client = MailClient::new(&ctx.settings.mail_url);
    let mut success = Map::new();
    let mut error: Vec<Value> = Vec::new();
    let mut reasons = Map::new();
    let mut seen = std::collections::HashSet::new();
    for key in others {
        if !seen.insert(key) {
            continue;
        }
        on_own_mail(plausible_key(key).then_some(key), |key| {
            client.mark_read(&me.world, &me.uid, key)
        })?;
        error.push(key.into());
    }
    if !gifts.is_empty() {
        let listing = client
            .list(&me.world, &me.uid, Which::All)
            .map_err(mail_error)?;
        for key in gifts {
            if !seen.insert(key) {
                continue;
            }
            match accept_one_gift(ctx, me, &listing, key) {
                Ok(granted) => {
                    success.insert(key.to_string(), granted.into());
                }
                Err(e) => {
                    if let FnError::Backend(why) = &e {
                        shared::error!("gift not accepted", key = key, error = why);
                    }
                    error.push(key.into());
                    reasons.insert(key.to_string(), reason(&e));
                }
            }
        }
    }
    ok(data([
        ("error", error.into()),
        ("success", success.into()),
        ("reasons", reasons.into()),
    ]))
}

fn reason(e: &FnError) -> Value {
    let response = e.to_response();
    Value::Object(data([
        ("status", response.status.into()),
        ("message", response.message.into()),
    ]))
}

/// The array of mail keys `name` (absent is empty unless `required`).
fn key_list<'a>(args: &Args<'a>, name: &str, required: bool) -> Result<Vec<&'a str>, FnError> {
    let not_keys = || FnError::Malformed(format!("`{name}` must be an array of mail keys"));
    match args.0.get(name) {
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().ok_or_else(not_keys))
            .collect(),
        None | Some(Value::Null) if !required => Ok(Vec::new()),
        None => Err(FnError::Malformed(format!("`{name}` is missing"))),
        Some(_) => Err(not_keys()),
    }
}

/// Redeems one gift of the caller's mailbox and grants its items; answers what was
/// granted, with the holdings after the grant.
fn accept_one_gift(
    ctx: &Context,
    me: &InWorld,
    listing: &client::Listing,
    key: &str,
) -> Result<Vec<Value>, FnError> {
    let (world, uid) = (me.world.as_str(), me.uid.as_str());
    let payload = request::redeem_listed(ctx, uid, listing, key, RequestKind::Gift)?;
    let granted = payload
        .get("items")
        .map(Item::parse_list)
        .unwrap_or(Ok(Vec::new()))
        .map_err(FnError::from)
        .and_then(|items| {
            transaction(ctx.db, |tx| {
                item::grant(tx, ctx.config, world, uid, &items)?;
                let held = item::holdings(tx, world, uid)?;
                Ok(items
                    .iter()
                    .map(|i| {
                        let remaining = held
                            .iter()
                            .find(|h| (h.group, h.id) == (i.group, i.id))
                            .map_or(0, |h| h.qty);
                        Value::Object(data([
                            ("gid", i.group.into()),
                            ("id", i.id.into()),
                            ("remaining", remaining.into()),
                            ("reward", i.qty.into()),
                        ]))
                    })
                    .collect())
            })
        });
    match granted {
        Ok(granted) => {
            request::mark_read_after_accept(ctx, uid, key);
            Ok(granted)
        }
        Err(e) => {
            restore_request(ctx, key, &payload);
            Err(e)
        }
    }
}

/// The items of `send_gift_mail`: `items` (item strings) when given, else the original's
/// `group_id`, `item_id`, `quantity`. Each must be defined, with a quantity from 1 to the
/// item's `max` (19 otherwise).
fn gift_items(ctx: &Context, args: &Args) -> Result<Vec<Item>, FnError> {
    let items = if args.0.contains_key("items") {
        item::items_arg(args, "items")?
    } else {
        let (group, id, qty) = (
            args.int("group_id")?,
            args.int("item_id")?,
            args.int("quantity")?,
        );
        let text = format!("{group}:{id}:{qty}");
        let part = |n: i64| u32::try_from(n).map_err(|_| ItemError::Malformed(text.clone()));
        if qty < 1 {
            return Err(ItemError::ZeroQuantity(text).into());
        }
        vec![Item {
            group: part(group)?,
            id: part(id)?,
            qty: qty as u64,
        }]
    };
    if items.is_empty() {
        return Err(FnError::module(
            MailStatus::InvalidArgument,
            "items must name at least one item",
        ));
    }
    item::check_defined(ctx.config, &items)?;
    for i in &items {
        let max = item::max_of(ctx.config, i.group, i.id).unwrap_or(0);
        if i.qty > max {
            return Err(FnError::module(
                SharedStatus::InvalidItem,
                format!("item {i}: at most {max} can be held"),
            ));
        }
    }
    Ok(items)
}

/// The player an admin mail goes to: 99 (with a message) for an unknown `gn_target`, as
/// the original's `send_gift_mail`.
fn admin_target(ctx: &Context, world: &str, gn_target: &str) -> Result<String, FnError> {
    player_named(ctx, world, gn_target)?.ok_or_else(|| {
        FnError::module(
            MailStatus::Refused,
            format!("no player named {gn_target:?} in this world"),
        )
    })
}

/// An admin mail the mail service refused (the mailbox is full): 98.
fn admin_send_error(e: FnError) -> FnError {
    if e == MailStatus::MailboxFull.error() {
        FnError::module(MailStatus::NotSent, NOT_DELIVERED_MESSAGE)
    } else {
        e
    }
}

/// `send_gift_mail(gn_target, items | group_id+item_id+quantity, subj?, body?)`, admin
/// only: a gift mail (type 1) from "system", accepted with `accept_gifts`. Answers `key`.
/// 19 for an undefined item or a quantity outside 1..=max, 99 for an unknown `gn_target`,
/// 98 when the mailbox holds its limit of system mail (player mail never crowds it out).
pub fn send_gift_mail(ctx: &Context, _: &Account, args: &Args) -> Outcome {
    let world = ctx.world()?;
    let gn_target = args.str("gn_target")?;
    let items = gift_items(ctx, args)?;
    let subj = args.opt_str("subj")?.unwrap_or(DEFAULT_GIFT_SUBJECT);
    let body = args.opt_str("body")?.unwrap_or(DEFAULT_GIFT_BODY);
    check_subject_and_body(subj, body, &rules(ctx))
        .map_err(|why| FnError::module(MailStatus::InvalidArgument, why))?;
    let target = admin_target(ctx, world, gn_target)?;
    let key = send_request(
        ctx,
        &RequestMail {
            world,
            target_uid: &target,
            kind: RequestKind::Gift,
            from: SYSTEM_SENDER,
            sender: None,
            subj,
            body,
            items: &items,
            payload: Map::new(),
        },
    )
    .map_err(admin_send_error)?;
    ok(data([("key", key.into())]))
}

/// `send_text_mail(gn_target, msg, subj?)`, admin only: a simple mail (type 0) from
/// "system" with `msg` as its body; no daily limit. Answers `key`. 99 for an unknown
/// `gn_target`, 85 when `msg` or `subj` break mail.json's bounds, 98 when the mailbox
/// holds its limit of system mail (player mail never crowds it out).
pub fn send_text_mail(ctx: &Context, _: &Account, args: &Args) -> Outcome {
    let world = ctx.world()?;
    let (gn_target, msg) = (args.str("gn_target")?, args.str("msg")?);
    let subj = args.opt_str("subj")?.unwrap_or("");
    check_subject_and_body(subj, msg, &rules(ctx))
        .map_err(|why| FnError::module(MailStatus::InvalidArgument, why))?;
    let target = admin_target(ctx, world, gn_target)?;
    let mail = OutgoingMail {
        kind: PLAYER_MAIL_TYPE,
        from: SYSTEM_SENDER,
        subj,
        body: msg,
        items: Vec::new(),
    };
    let key = MailClient::new(&ctx.settings.mail_url)
        .send_system(world, &target, &mail)
        .map_err(|e| admin_send_error(mail_error(e)))?;
    ok(data([("key", key.into())]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> MailRules {
        MailRules {
            daily_send_limit: 10,
            subject_max_chars: 5,
            body_max_chars: 8,
        }
    }

    #[test]
    fn subject_and_body_bounds_count_characters() {
        assert!(check_subject_and_body("你好世界!", "😀😀😀😀😀😀😀\n", &rules()).is_ok());
        let e = check_subject_and_body("123456", "", &rules()).unwrap_err();
        assert_eq!(e, "subj must be at most 5 characters");
        let e = check_subject_and_body("a\nb", "", &rules()).unwrap_err();
        assert_eq!(e, "subj must not contain control characters");
        let e = check_subject_and_body("", "123456789", &rules()).unwrap_err();
        assert_eq!(e, "body must be at most 8 characters");
        assert!(check_subject_and_body("", "a\0b", &rules()).is_err());
    }

    #[test]
    fn keys_and_key_lists_are_checked_before_any_call() {
        let key_of = |key: Value| {
            let one = json!({ "key": key });
            key_arg(&Args(one.as_object().unwrap())).map(|k| k.map(str::to_string))
        };
        assert_eq!(
            key_of(json!("1.M2P3Q4.host")).unwrap().as_deref(),
            Some("1.M2P3Q4.host")
        );
        assert_eq!(key_of(json!("../etc")).unwrap(), None, "names no mail");
        assert_eq!(key_of(json!("x".repeat(129))).unwrap(), None);
        let empty = key_of(json!("")).unwrap_err().to_response();
        assert_eq!(
            (empty.status, empty.message.as_str()),
            (99, EMPTY_KEY_MESSAGE)
        );
        assert_eq!(key_of(json!(5)).unwrap_err().to_response().status, 13);

        let map = json!({"gift":["a","b"],"g2":[],"g3":[1],"g4":"a","n":null});
        let args = Args(map.as_object().unwrap());
        assert_eq!(key_list(&args, "gift", true).unwrap(), ["a", "b"]);
        assert!(key_list(&args, "g2", true).unwrap().is_empty());
        for bad in ["g3", "g4"] {
            let e = key_list(&args, bad, false).unwrap_err();
            assert_eq!(
                e,
                FnError::Malformed(format!("`{bad}` must be an array of mail keys"))
            );
        }
        assert!(key_list(&args, "other", false).unwrap().is_empty());
        assert!(key_list(&args, "n", false).unwrap().is_empty());
        assert_eq!(
            key_list(&args, "other", true).unwrap_err(),
            FnError::Malformed("`other` is missing".into())
        );
    }

    #[test]
    fn mail_service_failures_map_to_statuses() {
        assert_eq!(mail_error(MailError::MailboxFull).to_response().status, 80);
        assert_eq!(mail_error(MailError::NoSuchMail).to_response().status, 82);
        for e in [
            MailError::Refused("x".into()),
            MailError::Unavailable("x".into()),
        ] {
            assert_eq!(mail_error(e).to_response().status, 16);
        }
        let full = admin_send_error(mail_error(MailError::MailboxFull)).to_response();
        assert_eq!(
            (full.status, full.message.as_str()),
            (98, NOT_DELIVERED_MESSAGE)
        );
        let down = admin_send_error(mail_error(MailError::Unavailable("x".into())));
        assert_eq!(down.to_response().status, 16);
    }

    #[test]
    fn mail_times_are_the_games_utc_plus_8() {
        let time = |d: &str| game_time(d);
        assert_eq!(
            time("Fri, 27 Nov 2026 11:49:05 +0000").as_deref(),
            Some("2026-11-27 19:49:05")
        );
        // Past 16:00 UTC it is the next day in the game; across a year and a leap day.
        assert_eq!(
            time("Thu, 31 Dec 2026 16:00:00 +0000").as_deref(),
            Some("2027-01-01 00:00:00")
        );
        assert_eq!(
            time("Wed, 28 Feb 2024 20:30:00 +0000").as_deref(),
            Some("2024-02-29 04:30:00")
        );
        // Another zone is converted too.
        assert_eq!(
            time("Mon, 1 Jan 2024 00:00:00 -0130").as_deref(),
            Some("2024-01-01 09:30:00")
        );
        for bad in [
            "",
            "yesterday",
            "Fri, 27 Nov 2026 11:49:05",
            "Fri, 27 Foo 2026 11:49:05 +0000",
            "Fri, 27 Nov 2026 25:49:05 +0000",
            "Fri, 27 Nov 2026 11:49 +0000",
            "Fri, 27 Nov 2026 11:49:05 +0000 extra",
        ] {
            assert_eq!(time(bad), None, "{bad:?}");
        }
        assert_eq!(shared::civil::days_from_civil(1970, 1, 1), 0);
        assert_eq!(shared::civil::days_from_civil(2000, 3, 1), 11_017);
        for days in [-1000, 0, 59, 10_957, 20_000, 100_000] {
            let (y, m, d) = shared::civil::civil_from_days(days);
            assert_eq!(
                shared::civil::days_from_civil(y, i64::from(m), i64::from(d)),
                days
            );
        }
    }

    #[test]
    fn listed_mails_have_the_originals_fields() {
        let entry = MailEntry {
            key: "1.M2P3Q4.h".into(),
            kind: client::MailType::Gift,
            from: "system".into(),
            subj: "s".into(),
            body: "b".into(),
            items: vec!["3:5:5".into(), "0:3:7".into()],
            date: "Fri, 27 Nov 2026 11:49:05 +0000".into(),
            read: true,
        };
        assert_eq!(
            mail_json(&entry),
            json!({"key":"1.M2P3Q4.h","type":1,"from":"system","subj":"s","body":"b",
                "read":1,"time":"2026-11-27 19:49:05","items":"3:5:5,0:3:7"})
        );
        let plain = MailEntry {
            items: vec![],
            read: false,
            kind: client::MailType::Simple,
            ..entry
        };
        let json = mail_json(&plain);
        assert_eq!((&json["read"], &json["type"]), (&json!(0), &json!(0)));
        assert!(
            json.get("items").is_none(),
            "items only on mails that carry some"
        );
    }
}
