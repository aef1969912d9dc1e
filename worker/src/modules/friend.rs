//! Friends, as the original game's friend.py: a request adds the target to the sender's
//! list at once (one-sided, `since` ""), and mails the target a request (type 2) whose key
//! `respond_friend` takes; accepting confirms both directions. Hearts: each confirmed
//! friend may be sent one a game day (UTC+8); the RECIPIENT collects it once with
//! `get_gifts_friend` as friend.json's `gift` (3:16, FRIEND_GIFT). (The original credited
//! the sender; that was a bug.)
//!
//! A friendship is two rows of `friends`, one per direction; changes to both lock both
//! players' rows in uid order first, so two accepts racing for the last free place cannot
//! both take it, and cannot deadlock. A player's `unique_id` is never answered.

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};

use crate::function::{data, ok, Args, Context, FnError, ModuleStatus, Outcome, Player};
use crate::modules::common::transaction;
use crate::modules::daily;
use crate::modules::enums::{
    FindPersonStatus, FriendGiftAllStatus, FriendGiftStatus, FriendRemoveStatus,
    FriendRequestStatus, FriendRespondStatus, MailStatus, SharedStatus,
};
use crate::modules::item::{self, Item};
use crate::modules::mail::{self, RequestKind, RequestMail};
use crate::modules::progress::{self, Achievement, Task};

/// The rules of `game-config/friend.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRules {
    /// Confirmed friends a player may have (the original's MAX_PERSON).
    pub friend_limit: usize,
    /// Friend requests a game day.
    pub daily_request_limit: u32,
    /// What one heart gives its recipient.
    pub gift: String,
}

impl FriendRules {
    /// Reads `friend.json`; a missing or mistyped field keeps the original's value.
    pub fn from_config(file: Option<&Value>) -> FriendRules {
        let field = |name: &str| file.and_then(|f| f.get(name));
        FriendRules {
            friend_limit: field("friend_limit")
                .and_then(Value::as_u64)
                .map_or(50, |n| n as usize),
            daily_request_limit: field("daily_request_limit")
                .and_then(Value::as_u64)
                .map_or(6, |n| n.min(u32::MAX as u64) as u32),
            gift: field("gift")
                .and_then(Value::as_str)
                .unwrap_or("3:16:1")
                .to_string(),
        }
    }
}

fn friend_rules(ctx: &Context) -> FriendRules {
    FriendRules::from_config(ctx.config.file("friend"))
}

/// Most names `get_gifts_friend` takes at once.
const MAX_GNS: usize = 200;

/// The uid of the player named exactly `gn`. MySQL compares `'Ben '` equal to `'Ben'`
/// (PAD SPACE), so a name with whitespace at either end names nobody.
fn uid_by_gn(conn: &mut impl Queryable, world: &str, gn: &str) -> Result<Option<String>, FnError> {
    if gn.trim() != gn || gn.is_empty() {
        return Ok(None);
    }
    Ok(conn.exec_first(
        "SELECT unique_id FROM players WHERE world = ? AND gn = ?",
        (world, gn),
    )?)
}

/// Confirmed friends of `uid`.
fn friend_count(conn: &mut impl Queryable, world: &str, uid: &str) -> Result<usize, FnError> {
    let n: Option<u64> = conn.exec_first(
        "SELECT COUNT(*) FROM friends WHERE world = ? AND unique_id = ? AND since IS NOT NULL",
        (world, uid),
    )?;
    Ok(n.unwrap_or(0) as usize)
}

/// The row `a` -> `b`: `Some(confirmed)` when there is one.
fn row(conn: &mut impl Queryable, world: &str, a: &str, b: &str) -> Result<Option<bool>, FnError> {
    let confirmed: Option<u8> = conn.exec_first(
        "SELECT since IS NOT NULL FROM friends WHERE world = ? AND unique_id = ? AND friend_uid = ?",
        (world, a, b),
    )?;
    Ok(confirmed.map(|c| c == 1))
}

/// Locks both players' rows, in uid order, until the transaction ends. A player row that
/// is gone answers `gone`.
fn lock_pair(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    a: &str,
    b: &str,
    gone: impl ModuleStatus,
) -> Result<(), FnError> {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    for uid in [first, second] {
        let found: Option<u8> = tx.exec_first(
            "SELECT 1 FROM players WHERE world = ? AND unique_id = ? FOR UPDATE",
            (world, uid),
        )?;
        found.ok_or_else(|| FnError::from(gone))?;
    }
    Ok(())
}

/// `"YYYY-MM-DD"` (game day) of a unix time, `""` for none.
fn day_of(t: Option<i64>) -> String {
    t.map(|t| daily::date(daily::game_day(t)))
        .unwrap_or_default()
}

/// `get_all_friend()`: `friends`, every player on the caller's list (requested ones too,
/// with `since` ""): `gn`, `exp`, `recover` (the game day the caller last sent them a
/// heart, or ""), `since` (the day they became friends, or ""), `fid` (their family's
/// name, or ""), `icon`, `intro`, `isre` (0 while a heart they sent the caller waits to be
/// collected, else 1).
pub fn get_all_friend(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let mut conn = ctx.db.conn()?;
    type Row = (
        String,
        u64,
        Option<String>,
        Option<i64>,
        Option<String>,
        i64,
        String,
        Option<u8>,
    );
    let rows: Vec<Row> = conn.exec(
        "SELECT p.gn, p.exp, DATE_FORMAT(f.gift_day, '%Y-%m-%d'), UNIX_TIMESTAMP(f.since), \
                fam.name, p.icon, p.intro, (r.gift_day IS NOT NULL AND r.isre = 0) \
         FROM friends f \
         JOIN players p ON p.world = f.world AND p.unique_id = f.friend_uid \
         LEFT JOIN friends r ON r.world = f.world AND r.unique_id = f.friend_uid \
           AND r.friend_uid = f.unique_id \
         LEFT JOIN family_members m ON m.world = p.world AND m.unique_id = p.unique_id \
         LEFT JOIN families fam ON fam.world = m.world AND fam.fid = m.fid \
         WHERE f.world = ? AND f.unique_id = ? ORDER BY f.since IS NULL, f.since, p.gn",
        (&player.world, &player.unique_id),
    )?;
    let friends: Vec<Value> = rows
        .into_iter()
        .map(|(gn, exp, recover, since, family, icon, intro, waiting)| {
            json!({
                "gn": gn,
                "exp": exp,
                "recover": recover.unwrap_or_default(),
                "since": day_of(since),
                "fid": family.unwrap_or_default(),
                "icon": icon,
                "intro": intro,
                "isre": if waiting == Some(1) { 0 } else { 1 },
            })
        })
        .collect();
    ok(data([("friends", friends.into())]))
}

/// `request_friend(gn_target)`: puts the target on the caller's list (one-sided) and mails
/// them a friend request; `daily_request_limit` a game day, and one pending request per
/// target (95 while an earlier one waits in their mailbox, even after `remove_friend`). A
/// mail that cannot be sent keeps nothing (no row, no count).
pub fn request_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let rules = friend_rules(ctx);
    let (world, me) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        let used = daily::lock_used(tx, world, me, daily::REQUEST_FRIEND, now)?;
        if used >= rules.daily_request_limit {
            return Err(FriendRequestStatus::DailyLimit.into());
        }
        let target = uid_by_gn(tx, world, gn_target)?.ok_or(FriendRequestStatus::NoSuchPerson)?;
        if target == me {
            return Err(FriendRequestStatus::NotYourself.into());
        }
        tx.exec_drop(
            "INSERT IGNORE INTO friends (world, unique_id, friend_uid, since) VALUES (?, ?, ?, NULL)",
            (world, me, &target),
        )?;
        if tx.affected_rows() == 0 {
            return Err(FriendRequestStatus::AlreadyFriends.into());
        }
        let mut payload = Map::new();
        payload.insert("requester".into(), me.into());
        let body = format!("{} would like to be your friend", player.gn);
        mail::send_request(
            ctx,
            &RequestMail {
                world,
                target_uid: &target,
                kind: RequestKind::FriendRequest,
                from: &player.gn,
                sender: Some(me),
                subj: "friend request",
                body: &body,
                items: &[],
                payload,
            },
        )
        .map_err(|e| match e {
            FnError::Module { code, .. } if code == MailStatus::MailboxFull.code() => {
                FriendRequestStatus::MailboxFull.into()
            }
            FnError::Module { code, .. } if code == MailStatus::RequestPending.code() => {
                FnError::module(
                    FriendRequestStatus::AlreadyFriends,
                    "your friend request to this player is still pending",
                )
            }
            _ => FnError::from(FriendRequestStatus::MailError),
        })?;
        daily::set_used(tx, world, me, daily::REQUEST_FRIEND, now, used + 1)?;
        progress::achieve(tx, world, me, Achievement::FriendRequest, 1)?;
        ok(data([("gn", gn_target.into())]))
    })
}

/// `respond_friend(key)`: accepts a friend request mail of the caller's mailbox: both
/// become confirmed friends. Answers the requester's `gn` and `exp`.
pub fn respond_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let key = args.str("key")?;
    let request = mail::redeem_request(ctx, &player.unique_id, key, RequestKind::FriendRequest)
        .map_err(|e| match e {
            FnError::Module { message, .. } => {
                FnError::module(FriendRespondStatus::InvalidNonce, message.into_owned())
            }
            other => other,
        })?;
    let outcome = accept(ctx, player, &request);
    if outcome.is_err() {
        mail::restore_request(ctx, key, &request);
    }
    outcome
}

fn accept(ctx: &Context, player: &Player, request: &Map<String, Value>) -> Outcome {
    let requester = request
        .get("requester")
        .and_then(Value::as_str)
        .ok_or(FriendRespondStatus::InvalidNonce)?;
    let (world, me) = (player.world.as_str(), player.unique_id.as_str());
    if requester == me {
        return Err(FriendRespondStatus::InvalidNonce.into());
    }
    let limit = friend_rules(ctx).friend_limit;
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        lock_pair(tx, world, me, requester, FriendRespondStatus::NoSuchPerson)?;
        let already = row(tx, world, me, requester)? == Some(true)
            && row(tx, world, requester, me)? == Some(true);
        if !already {
            if friend_count(tx, world, me)? >= limit {
                return Err(FriendRespondStatus::ListFull.into());
            }
            if friend_count(tx, world, requester)? >= limit {
                return Err(FnError::module(
                    FriendRespondStatus::ListFull,
                    "their buddy list is full",
                ));
            }
            for (a, b) in [(me, requester), (requester, me)] {
                tx.exec_drop(
                    "INSERT INTO friends (world, unique_id, friend_uid, since) \
                     VALUES (?, ?, ?, FROM_UNIXTIME(?)) \
                     ON DUPLICATE KEY UPDATE since = COALESCE(since, VALUES(since))",
                    (world, a, b, now),
                )?;
            }
        }
        let (gn, exp): (String, u64) = tx
            .exec_first(
                "SELECT gn, exp FROM players WHERE world = ? AND unique_id = ?",
                (world, requester),
            )?
            .ok_or(FriendRespondStatus::NoSuchPerson)?;
        ok(data([("gn", gn.into()), ("exp", exp.into())]))
    })
}

/// `remove_friend(gn_target)`: takes the player off the caller's list and the caller off
/// theirs (requests too). Succeeds for a stranger or an unknown name as well.
pub fn remove_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    if let Some(target) = uid_by_gn(&mut ctx.db.conn()?, world, gn_target)? {
        if target == player.unique_id {
            return Err(FriendRemoveStatus::NotYourself.into());
        }
        transaction(ctx.db, |tx| {
            lock_pair(
                tx,
                world,
                &player.unique_id,
                &target,
                SharedStatus::NoPlayer,
            )?;
            tx.exec_drop(
                "DELETE FROM friends WHERE world = ? AND \
                 ((unique_id = ? AND friend_uid = ?) OR (unique_id = ? AND friend_uid = ?))",
                (
                    world,
                    &player.unique_id,
                    &target,
                    &target,
                    &player.unique_id,
                ),
            )?;
            Ok(())
        })?;
    }
    ok(data([("gn", gn_target.into())]))
}

/// Today's game day as `"YYYY-MM-DD"`.
fn today(ctx: &Context) -> String {
    daily::date(daily::game_day(ctx.now()))
}

/// Records that `sender` sent each of `friends` a heart on game day `today`, in
/// `friend_gift_days`, which unfriending leaves alone: re-friending the same day does not
/// allow a second heart. The sender's rows of earlier days go (they mean nothing).
fn record_gift_days(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    sender: &str,
    friends: &[&str],
    today: &str,
) -> Result<(), FnError> {
    tx.exec_drop(
        "DELETE FROM friend_gift_days WHERE world = ? AND unique_id = ? AND gift_day < ?",
        (world, sender, today),
    )?;
    tx.exec_batch(
        "INSERT INTO friend_gift_days (world, unique_id, friend_uid, gift_day) \
         VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE gift_day = VALUES(gift_day)",
        friends.iter().map(|friend| (world, sender, *friend, today)),
    )?;
    Ok(())
}

/// `send_gift_friend(gn_target)`: a heart to a confirmed friend, once a game day per
/// friend, even across unfriending and re-friending; the friend collects it with
/// `get_gifts_friend`. Answers `{}`.
pub fn send_gift_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    let today = today(ctx);
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, &player.unique_id)?;
        let target = uid_by_gn(tx, world, gn_target)?.ok_or_else(|| {
            // The original's status for "not a friend", with the real cause in the message.
            FnError::module(
                FriendGiftStatus::NotFriends,
                format!("no player named {gn_target:?} in this world"),
            )
        })?;
        // Checked and sent in one statement: of concurrent sends, one changes the row.
        tx.exec_drop(
            "UPDATE friends f SET gift_day = ?, isre = 0 \
             WHERE world = ? AND unique_id = ? AND friend_uid = ? AND since IS NOT NULL \
               AND (gift_day IS NULL OR gift_day <> ?) AND NOT EXISTS (SELECT 1 \
                 FROM friend_gift_days g WHERE g.world = f.world AND g.unique_id = f.unique_id \
                   AND g.friend_uid = f.friend_uid AND g.gift_day = ?)",
            (&today, world, &player.unique_id, &target, &today, &today),
        )?;
        if tx.affected_rows() == 0 {
            return Err(match row(tx, world, &player.unique_id, &target)? {
                Some(true) => FriendGiftStatus::Cooldown.into(),
                _ => FriendGiftStatus::NotFriends.into(),
            });
        }
        record_gift_days(tx, world, &player.unique_id, &[target.as_str()], &today)?;
        progress::task_done(tx, world, &player.unique_id, Task::SendFriendGift, now)?;
        progress::achieve(tx, world, &player.unique_id, Achievement::FriendGift, 1)?;
        ok(Map::new())
    })
}

/// `send_gift_all()`: a heart to every confirmed friend not yet sent one today. Answers
/// `gns`, their names. (The original answered the bare list as `data`; data is always an
/// object here, so the list is under `gns`.)
pub fn send_gift_all(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let world = player.world.as_str();
    let today = today(ctx);
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        daily::lock_player(tx, world, &player.unique_id)?;
        let rows: Vec<(String, String)> = tx.exec(
            "SELECT f.friend_uid, p.gn FROM friends f \
             JOIN players p ON p.world = f.world AND p.unique_id = f.friend_uid \
             WHERE f.world = ? AND f.unique_id = ? AND f.since IS NOT NULL \
               AND (f.gift_day IS NULL OR f.gift_day <> ?) AND NOT EXISTS (SELECT 1 \
                 FROM friend_gift_days g WHERE g.world = f.world AND g.unique_id = f.unique_id \
                   AND g.friend_uid = f.friend_uid AND g.gift_day = ?) \
             ORDER BY f.friend_uid FOR UPDATE",
            (world, &player.unique_id, &today, &today),
        )?;
        if rows.is_empty() {
            return Err(FriendGiftAllStatus::NoFriendToGift.into());
        }
        for (friend, _) in &rows {
            tx.exec_drop(
                "UPDATE friends SET gift_day = ?, isre = 0 \
                 WHERE world = ? AND unique_id = ? AND friend_uid = ?",
                (&today, world, &player.unique_id, friend),
            )?;
        }
        let friends: Vec<&str> = rows.iter().map(|(uid, _)| uid.as_str()).collect();
        record_gift_days(tx, world, &player.unique_id, &friends, &today)?;
        // The original counted each heart: the task once, the achievement per friend.
        progress::task_done(tx, world, &player.unique_id, Task::SendFriendGift, now)?;
        let hearts = rows.len() as u64;
        progress::achieve(
            tx,
            world,
            &player.unique_id,
            Achievement::FriendGift,
            hearts,
        )?;
        let gns: Vec<Value> = rows.into_iter().map(|(_, gn)| gn.into()).collect();
        ok(data([("gns", gns.into())]))
    })
}

/// `get_gifts_friend(gns)`: collects the hearts the named friends sent the caller and the
/// caller has not collected yet, each once. Answers `gns` (whose hearts were collected),
/// `reward` and `remain` (`"3:16:<n>"` strings). Names without a heart are skipped.
pub fn get_gifts_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let names: Vec<&str> = match args.0.get("gns") {
        Some(Value::Array(list)) if list.len() <= MAX_GNS => list
            .iter()
            .map(|v| v.as_str())
            .collect::<Option<Vec<&str>>>()
            .ok_or_else(|| FnError::Malformed("`gns` must be an array of names".into()))?,
        Some(Value::Array(_)) => {
            return Err(FnError::Malformed(format!(
                "`gns` may name at most {MAX_GNS}"
            )))
        }
        Some(_) => return Err(FnError::Malformed("`gns` must be an array of names".into())),
        None => return Err(FnError::Malformed("`gns` is missing".into())),
    };
    let gift = Item::parse(&friend_rules(ctx).gift)?;
    let (world, me) = (player.world.as_str(), player.unique_id.as_str());
    let mut names = names;
    names.sort_unstable();
    names.dedup();
    transaction(ctx.db, |tx| {
        let mut senders: Vec<(String, &str)> = Vec::new();
        for gn in names {
            if let Some(uid) = uid_by_gn(tx, world, gn)?.filter(|u| u != me) {
                senders.push((uid, gn));
            }
        }
        // Rows in one order, so concurrent collectors do not deadlock.
        senders.sort();
        let mut collected = Vec::new();
        for (uid, gn) in senders {
            tx.exec_drop(
                "UPDATE friends SET isre = 1 WHERE world = ? AND unique_id = ? AND friend_uid = ? \
                 AND isre = 0 AND gift_day IS NOT NULL",
                (world, &uid, me),
            )?;
            if tx.affected_rows() == 1 {
                collected.push(gn);
            }
        }
        let reward = gift.qty.saturating_mul(collected.len() as u64);
        if reward > 0 {
            item::grant(
                tx,
                ctx.config,
                world,
                me,
                &[Item {
                    qty: reward,
                    ..gift
                }],
            )?;
        }
        let remain: Option<u64> = tx.exec_first(
            "SELECT qty FROM items WHERE world = ? AND unique_id = ? AND grp = ? AND item_id = ?",
            (world, me, gift.group, gift.id),
        )?;
        collected.sort_unstable();
        ok(data([
            ("gns", json!(collected)),
            (
                "reward",
                format!("{}:{}:{reward}", gift.group, gift.id).into(),
            ),
            (
                "remain",
                format!("{}:{}:{}", gift.group, gift.id, remain.unwrap_or(0)).into(),
            ),
        ]))
    })
}

/// `find_person(gn_target)`: a player by exact name: `gn`, `fid` (family name or ""),
/// `icon`, `intro`, `exp`, `stage`, `isfriend` (on the caller's list, requested too),
/// `canfamily` (the caller may invite them: an admin or owner of a family, and they are in
/// none).
pub fn find_person(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    let mut conn = ctx.db.conn()?;
    if uid_by_gn(&mut conn, world, gn_target)?.is_none() {
        return Err(FindPersonStatus::NoSuchPerson.into());
    }
    type Row = (
        String,
        String,
        Option<String>,
        i64,
        String,
        u64,
        Option<String>,
    );
    let found: Option<Row> = conn.exec_first(
        "SELECT p.unique_id, p.gn, f.name, p.icon, p.intro, p.exp, m.fid FROM players p \
         LEFT JOIN family_members m ON m.world = p.world AND m.unique_id = p.unique_id \
         LEFT JOIN families f ON f.world = m.world AND f.fid = m.fid \
         WHERE p.world = ? AND p.gn = ?",
        (world, gn_target),
    )?;
    let (uid, gn, family, icon, intro, exp, their_family) =
        found.ok_or(FindPersonStatus::NoSuchPerson)?;
    if uid == player.unique_id {
        return Err(FindPersonStatus::NotYourself.into());
    }
    let isfriend = row(&mut conn, world, &player.unique_id, &uid)?.is_some();
    let my_role: Option<i64> = conn.exec_first(
        "SELECT role FROM family_members WHERE world = ? AND unique_id = ?",
        (world, &player.unique_id),
    )?;
    let canfamily = their_family.is_none() && my_role.is_some_and(|r| r >= 8);
    ok(data([
        ("gn", gn.into()),
        ("fid", family.unwrap_or_default().into()),
        ("icon", icon.into()),
        ("intro", intro.into()),
        ("exp", exp.into()),
        ("stage", 0.into()),
        ("isfriend", isfriend.into()),
        ("canfamily", canfamily.into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_come_from_friend_json_with_the_originals_defaults() {
        let config = crate::game_config::GameConfig::embedded();
        let rules = FriendRules::from_config(config.file("friend"));
        assert_eq!(
            rules,
            FriendRules {
                friend_limit: 50,
                daily_request_limit: 6,
                gift: "3:16:1".into(),
            }
        );
        let partial = FriendRules::from_config(Some(&json!({"friend_limit": 3})));
        assert_eq!(partial.friend_limit, 3);
        assert_eq!(partial.gift, "3:16:1");
        assert_eq!(FriendRules::from_config(None).daily_request_limit, 6);
    }
}
