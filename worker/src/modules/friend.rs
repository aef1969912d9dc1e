//! Friends: requests (as request mails), the friend list, removal, a daily gift per friend,
//! and looking a player up by game name.
//!
//! A friendship is two rows of `friends`, one per direction, written and deleted together.
//! Changes lock both players' rows in uid order first, so two accepts racing for the last
//! free place cannot both take it, and cannot deadlock. A player's `unique_id` is
//! never answered (it is a guest's login).

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};

use crate::function::Context;
use crate::function::{data, ok, Args, FnError, Outcome, Player};
use crate::modules::common::{player_name, transaction, uid_of_player};
use crate::modules::enums::{FriendStatus, SharedStatus};
use crate::modules::item::Item;
use crate::modules::mail::{self, RequestKind, RequestMail};

/// The rules of `game-config/friend.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRules {
    pub friend_limit: usize,
    /// `"<group>:<item id>:<qty>"` sent by `send_gift_friend`.
    pub daily_gift: String,
    pub gifts_per_friend_per_day: u32,
}

impl FriendRules {
    /// Reads `friend.json`; a missing or mistyped field keeps the contract's default.
    pub fn from_config(file: Option<&Value>) -> FriendRules {
        let field = |name: &str| file.and_then(|f| f.get(name));
        FriendRules {
            friend_limit: field("friend_limit")
                .and_then(Value::as_u64)
                .map_or(50, |n| n as usize),
            daily_gift: field("daily_gift")
                .and_then(Value::as_str)
                .unwrap_or("3:10:5")
                .to_string(),
            gifts_per_friend_per_day: field("gifts_per_friend_per_day")
                .and_then(Value::as_u64)
                .map_or(1, |n| n.min(u32::MAX as u64) as u32),
        }
    }
}

fn friend_rules(ctx: &Context) -> FriendRules {
    FriendRules::from_config(ctx.config.file("friend"))
}

fn status(s: FriendStatus) -> FnError {
    FnError::from(s)
}

fn no_player() -> FnError {
    FnError::from(SharedStatus::NoPlayer)
}

/// The uid of `gn_target` in the caller's world; never the caller.
fn other_player(ctx: &Context, player: &Player, gn: &str) -> Result<String, FnError> {
    let uid = uid_of_player(ctx.db, &player.world, gn)?.ok_or_else(no_player)?;
    if uid == player.unique_id {
        return Err(status(FriendStatus::NotYourself));
    }
    Ok(uid)
}

fn friend_count(conn: &mut impl Queryable, world: &str, uid: &str) -> Result<usize, FnError> {
    let n: Option<u64> = conn.exec_first(
        "SELECT COUNT(*) FROM friends WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    Ok(n.unwrap_or(0) as usize)
}

fn are_friends(conn: &mut impl Queryable, world: &str, a: &str, b: &str) -> Result<bool, FnError> {
    let row: Option<u8> = conn.exec_first(
        "SELECT 1 FROM friends WHERE world = ? AND unique_id = ? AND friend_uid = ?",
        (world, a, b),
    )?;
    Ok(row.is_some())
}

/// Locks both players' rows, in uid order, until the transaction ends: a per-player lock
/// every friendship change takes, so two accepts cannot both take a last free place.
/// A player row that is gone answers 90.
fn lock_pair(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    a: &str,
    b: &str,
) -> Result<(), FnError> {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    for uid in [first, second] {
        let found: Option<u8> = tx.exec_first(
            "SELECT 1 FROM players WHERE world = ? AND unique_id = ? FOR UPDATE",
            (world, uid),
        )?;
        found.ok_or_else(no_player)?;
    }
    Ok(())
}

/// `get_all_friend()`: `friends` (each `gn` and `gift_sent_today`, whether today's gifts
/// to them are used up), `count` and `limit`.
pub fn get_all_friend(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let rules = friend_rules(ctx);
    let mut conn = ctx.db.conn()?;
    let rows: Vec<(Option<String>, u8)> = conn.exec(
        "SELECT p.gn, (f.gift_day = UTC_DATE() AND f.gifts_today >= ?) \
         FROM friends f LEFT JOIN players p ON p.world = f.world AND p.unique_id = f.friend_uid \
         WHERE f.world = ? AND f.unique_id = ? ORDER BY f.since, p.gn",
        (
            rules.gifts_per_friend_per_day,
            &player.world,
            &player.unique_id,
        ),
    )?;
    let friends: Vec<Value> = rows
        .into_iter()
        .filter_map(|(gn, sent)| gn.map(|gn| json!({"gn": gn, "gift_sent_today": sent == 1})))
        .collect();
    ok(data([
        ("count", friends.len().into()),
        ("limit", rules.friend_limit.into()),
        ("friends", friends.into()),
    ]))
}

/// `request_friend(gn_target)`: sends a friend request mail, accepted with
/// `respond_friend(key)`.
pub fn request_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let target = other_player(ctx, player, gn_target)?;
    let limit = friend_rules(ctx).friend_limit;
    let world = player.world.as_str();
    let mut conn = ctx.db.conn()?;
    if are_friends(&mut conn, world, &player.unique_id, &target)? {
        return Err(status(FriendStatus::AlreadyFriends));
    }
    if friend_count(&mut conn, world, &player.unique_id)? >= limit {
        return Err(status(FriendStatus::FriendLimit));
    }
    if friend_count(&mut conn, world, &target)? >= limit {
        return Err(status(FriendStatus::TargetFriendLimit));
    }
    drop(conn);
    let mut payload = Map::new();
    payload.insert("requester".into(), player.unique_id.clone().into());
    let body = format!("{} would like to be your friend", player.gn);
    mail::send_request(
        ctx,
        &RequestMail {
            world,
            target_uid: &target,
            kind: RequestKind::FriendRequest,
            from: &player.gn,
            subj: "friend request",
            body: &body,
            items: &[],
            payload,
        },
    )?;
    ok(data([("gn_target", gn_target.into())]))
}

/// `respond_friend(key)`: accepts a friend request from the caller's mailbox. Checked
/// again now: not friends yet, both lists have room. Answers the new friend's `gn`.
pub fn respond_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let key = args.str("key")?;
    let request = mail::redeem_request(ctx, &player.unique_id, key, RequestKind::FriendRequest)?;
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
        .ok_or_else(|| status(FriendStatus::InvalidRequest))?;
    let world = player.world.as_str();
    let me = player.unique_id.as_str();
    if requester == me {
        return Err(status(FriendStatus::InvalidRequest));
    }
    let gn = player_name(ctx.db, world, requester)?.ok_or_else(no_player)?;
    let limit = friend_rules(ctx).friend_limit;
    transaction(ctx.db, |tx| {
        lock_pair(tx, world, me, requester)?;
        if are_friends(tx, world, me, requester)? {
            return Err(status(FriendStatus::AlreadyFriends));
        }
        if friend_count(tx, world, me)? >= limit {
            return Err(status(FriendStatus::FriendLimit));
        }
        if friend_count(tx, world, requester)? >= limit {
            return Err(status(FriendStatus::TargetFriendLimit));
        }
        for (a, b) in [(me, requester), (requester, me)] {
            tx.exec_drop(
                "INSERT INTO friends (world, unique_id, friend_uid) VALUES (?, ?, ?)",
                (world, a, b),
            )?;
        }
        Ok(())
    })?;
    ok(data([("gn", gn.into())]))
}

/// `remove_friend(gn_target)`: ends a friendship, for both sides.
pub fn remove_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let target = other_player(ctx, player, gn_target)?;
    let world = player.world.as_str();
    transaction(ctx.db, |tx| {
        lock_pair(tx, world, &player.unique_id, &target)?;
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
        if tx.affected_rows() == 0 {
            return Err(status(FriendStatus::NotFriends));
        }
        Ok(())
    })?;
    ok(data([("gn_target", gn_target.into())]))
}

/// `send_gift_friend(gn_target)`: sends friend.json's `daily_gift` as a gift mail, at most
/// `gifts_per_friend_per_day` times a UTC day per friend. The count and the mail go
/// together: a mail that cannot be sent does not use up the day's gift.
pub fn send_gift_friend(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let target = other_player(ctx, player, gn_target)?;
    let rules = friend_rules(ctx);
    let gift = Item::parse(&rules.daily_gift)?;
    let world = player.world.as_str();
    transaction(ctx.db, |tx| {
        // Checked and counted in one statement, so concurrent gifts cannot both pass.
        // (SET runs left to right: gifts_today still sees the old gift_day.)
        tx.exec_drop(
            "UPDATE friends SET \
               gifts_today = IF(gift_day = UTC_DATE(), gifts_today + 1, 1), \
               gift_day = UTC_DATE() \
             WHERE world = ? AND unique_id = ? AND friend_uid = ? \
               AND (gift_day IS NULL OR gift_day <> UTC_DATE() OR gifts_today < ?)",
            (
                world,
                &player.unique_id,
                &target,
                rules.gifts_per_friend_per_day,
            ),
        )?;
        if tx.affected_rows() == 0 {
            return Err(if are_friends(tx, world, &player.unique_id, &target)? {
                status(FriendStatus::GiftAlreadySent)
            } else {
                status(FriendStatus::NotFriends)
            });
        }
        let body = format!("a gift from your friend {}", player.gn);
        mail::send_request(
            ctx,
            &RequestMail {
                world,
                target_uid: &target,
                kind: RequestKind::Gift,
                from: &player.gn,
                subj: "gift from a friend",
                body: &body,
                items: &[gift],
                payload: Map::new(),
            },
        )?;
        Ok(())
    })?;
    ok(data([
        ("gn_target", gn_target.into()),
        ("items", json!([gift.to_string()])),
    ]))
}

/// `find_person(gn_target)`: a player by exact game name: `gn`, `level`, `family` (its
/// name, `""` when in none) and `is_friend`.
pub fn find_person(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    let mut conn = ctx.db.conn()?;
    let row: Option<(String, String, i64, Option<String>)> = conn.exec_first(
        "SELECT p.unique_id, p.gn, p.level, f.name FROM players p \
         LEFT JOIN family_members m ON m.world = p.world AND m.unique_id = p.unique_id \
         LEFT JOIN families f ON f.world = m.world AND f.fid = m.fid \
         WHERE p.world = ? AND p.gn = ?",
        (world, gn_target),
    )?;
    let (uid, gn, level, family) = row.ok_or_else(no_player)?;
    let is_friend = are_friends(&mut conn, world, &player.unique_id, &uid)?;
    ok(data([
        ("gn", gn.into()),
        ("level", level.into()),
        ("family", family.unwrap_or_default().into()),
        ("is_friend", is_friend.into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_come_from_friend_json_with_contract_defaults() {
        let config = crate::game_config::GameConfig::embedded();
        let rules = FriendRules::from_config(config.file("friend"));
        assert_eq!(
            rules,
            FriendRules {
                friend_limit: 50,
                daily_gift: "3:10:5".into(),
                gifts_per_friend_per_day: 1
            }
        );
        let partial = FriendRules::from_config(Some(&json!({"friend_limit": 3})));
        assert_eq!(partial.friend_limit, 3);
        assert_eq!(partial.daily_gift, "3:10:5");
        assert_eq!(FriendRules::from_config(None).friend_limit, 50);
    }
}
