//! Families (guilds), answering as the original game's `family.py` did: its request and
//! answer fields, its per-function status codes (tables in `modules/enums.rs`) and its
//! numbers (`game-config/family.json`), with its holes closed: every check and change of a
//! family runs with the family's row locked, every spend and grant in one transaction.
//!
//! Roles: basic 0, elite 4, admin 8, owner 10. Admins and the owner invite, accept join
//! requests, set the notice, blackboard and icon, rename and disband (`min_role_to`);
//! removing members and setting roles follow the original's fixed tables
//! ([`rules::can_remove`], [`rules::can_set_role`]); only `abdicate_family` makes a new
//! owner, and only to a member, so a family always has exactly one owner.
//!
//! Disbanding is delayed (`disband_hours`): a family whose deadline has passed no longer
//! exists for any function, and the first family call that meets it deletes it (the
//! caller is then "not in a family"). `cancel_disband_family` works until the deadline.
//!
//! Daily quotas (invites, notices, removals per family; join requests, check-in and
//! welfare gifts per player) count game days of UTC+8, the original's Asia/Shanghai.
//! Chat uses the family's generated `fid`, never its name.

pub mod rules;
pub mod store;

use serde_json::{json, Map, Value};

use crate::function::{
    data, ok, Args, Context, FnError, InWorld, ModuleStatus, Outcome, Player, Reply,
};
use crate::modules::common::{transaction, uid_of_player};
use crate::modules::daily::{game_day, seconds_to_next_day as secs_to_next_day};
use crate::modules::enums::{
    AbdicateFamilyStatus, CancelDisbandFamilyStatus, ChangeNameFamilyStatus, CheckInFamilyStatus,
    CreateFamilyStatus, DisbandFamilyStatus, FamilyRole, FamilyStatus, InviteFamilyStatus,
    LeaveFamilyStatus, MarketFamilyStatus, RemoveFamilyStatus, RequestJoinFamilyStatus,
    RespondFamilyStatus, SearchFamilyStatus, SetIconFamilyStatus, SetNoticeFamilyStatus,
    SetRoleFamilyStatus, WelfareFamilyStatus,
};
use crate::modules::item::{self, Item};
use crate::modules::mail::{self, MailStatus, RequestKind, RequestMail};
use crate::modules::progress::{self, Achievement, Task};
use rules::FamilyRules;
use store::Family;

/// The family news keys (`msg` prefixes) of the original.
mod news {
    pub const LEAVE: &str = "fm_0";
    pub const REMOVE: &str = "fm_1";
    pub const INVITE: &str = "fm_2";
    pub const RESPOND: &str = "fm_3";
    pub const PURCHASE: &str = "fm_4";
    pub const ICON: &str = "fm_5";
    pub const ROLE: &str = "fm_6";
    pub const CHANGE_NAME: &str = "fm_7";
    pub const DISBAND: &str = "fm_8";
    pub const CANCEL_DISBAND: &str = "fm_9";
    pub const ABDICATE: &str = "fm_10";
}

/// Names of the daily counters (`family_daily.what`).
mod daily {
    pub const INVITE: &str = "invite";
    pub const NOTICE: &str = "notice";
    pub const REMOVE: &str = "remove";
    pub const JOIN: &str = "join";
    pub const CHECK_IN: &str = "checkin";
    /// Followed by the gift's sid.
    pub const WELFARE: &str = "welfare:";
}

/// The largest icon id (the original's SMALLINT UNSIGNED column).
const MAX_ICON: i64 = 65_535;
/// Family coins (3:36) and the coins earned in the current family (3:37).
const FAMILY_COIN_RECORD: (u32, u32) = (3, 37);

fn family_rules(ctx: &Context) -> FamilyRules {
    FamilyRules::from_config(ctx.config.file("family"))
}

/// `e`, or `instead` when `e` is the shared "not enough items" of a spend.
fn short_is(e: FnError, instead: impl ModuleStatus) -> FnError {
    match e {
        FnError::Module { message, .. } if item::is_short(&e) => FnError::module(instead, message),
        _ => e,
    }
}

fn parse_items(text: &str) -> Result<Vec<Item>, FnError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|t| Item::parse(t.trim()).map_err(FnError::from))
        .collect()
}

/// Deletes family `fid` if its disband deadline has passed (checked again under the lock).
/// The edges hear of it once the deletion committed: the family's chat channel ends.
fn expire(ctx: &Context, world: &str, fid: &str) -> Result<(), FnError> {
    let now = ctx.now();
    let deleted = transaction(ctx.db, |tx| {
        if let Some(family) = store::lock_family(tx, world, fid)? {
            if family.is_due(now) {
                store::delete_family(tx, world, fid)?;
                return Ok(true);
            }
        }
        Ok(false)
    })?;
    if deleted {
        ctx.chat_events.disbanded(world, fid);
    }
    Ok(())
}

/// `family` unless its deadline has passed, in which case it is deleted now.
fn alive(ctx: &Context, world: &str, family: Option<Family>) -> Result<Option<Family>, FnError> {
    match family {
        Some(f) if f.is_due(ctx.now()) => {
            expire(ctx, world, &f.fid)?;
            Ok(None)
        }
        other => Ok(other),
    }
}

/// `uid`'s family (one not past its disband deadline) and role there.
fn current(ctx: &Context, world: &str, uid: &str) -> Result<Option<(Family, FamilyRole)>, FnError> {
    let mut conn = ctx.db.conn()?;
    let Some((fid, role)) = store::membership(&mut conn, world, uid)? else {
        return Ok(None);
    };
    let family = store::family_by_fid(&mut conn, world, &fid)?;
    drop(conn);
    Ok(alive(ctx, world, family)?.map(|f| (f, role)))
}

/// The family named `name`, if it exists (and is not past its disband deadline).
fn named(ctx: &Context, world: &str, name: &str) -> Result<Option<Family>, FnError> {
    let mut conn = ctx.db.conn()?;
    let family = store::family_by_name(&mut conn, world, name)?;
    drop(conn);
    alive(ctx, world, family)
}

/// Runs `work` on the caller's family with its row locked and the caller's role re-read
/// under the lock; `not_in` when the caller is in no family.
fn in_my_family<T>(
    ctx: &Context,
    player: &Player,
    not_in: impl ModuleStatus,
    work: impl FnOnce(&mut mysql::Transaction<'_>, &Family, FamilyRole) -> Result<T, FnError>,
) -> Result<T, FnError> {
    let world = player.world.as_str();
    let (family, _) = current(ctx, world, &player.unique_id)?.ok_or(not_in)?;
    let now = ctx.now();
    transaction(ctx.db, |tx| {
        let family = store::lock_family(tx, world, &family.fid)?
            .filter(|f| !f.is_due(now))
            .ok_or(not_in)?;
        let role = store::role_in(tx, world, &family.fid, &player.unique_id)?.ok_or(not_in)?;
        work(tx, &family, role)
    })
}

/// The original's `exp_info` of a player. Players have a level but no experience yet, so
/// `exp` and `need` are 0.
fn player_exp_info(level: i64) -> Value {
    json!({"exp": 0, "level": level, "need": 0, "reward": 0})
}

fn info_json(family: &Family) -> Map<String, Value> {
    data([
        ("name", family.name.clone().into()),
        ("icon", family.icon.into()),
        ("exp", family.exp.into()),
        ("notice", family.notice.clone().into()),
        ("board", family.board.clone().into()),
    ])
}

// ------------------------------------------------------------------ create, look up

/// `create_family(name, icon)`: founds a family with the caller as owner, paying
/// `costs.create` (the original: 2000 diamonds). Answers `name`, `icon`, `iid` (the item
/// paid) and `value` (how much of it is left).
pub fn create_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let name = args.str("name")?;
    let icon = args.int_in("icon", 0, MAX_ICON)?;
    let rules = family_rules(ctx);
    if player.level < rules.player_level {
        return Err(FnError::module(
            CreateFamilyStatus::LevelTooLow,
            format!("you must be at least level {}", rules.player_level),
        ));
    }
    rules
        .check_name(name)
        .map_err(|why| FnError::module(CreateFamilyStatus::InvalidName, why))?;
    let cost = parse_items(&rules.create_cost)?;
    let world = player.world.as_str();
    let uid = player.unique_id.as_str();
    if current(ctx, world, uid)?.is_some() {
        return Err(CreateFamilyStatus::AlreadyInFamily.into());
    }
    if named(ctx, world, name)?.is_some() {
        return Err(CreateFamilyStatus::NameTaken.into());
    }
    let fid = store::new_fid();
    let (grp, iid) = cost.first().map_or((3, 5), |c| (c.group, c.id));
    let left = transaction(ctx.db, |tx| {
        use mysql::prelude::Queryable;
        let inserted = tx.exec_drop(
            "INSERT INTO families (world, fid, name, icon) VALUES (?, ?, ?, ?)",
            (world, &fid, name, icon),
        );
        match inserted {
            Err(e) if crate::db::duplicate_key(&e) == Some("families_name") => {
                return Err(CreateFamilyStatus::NameTaken.into())
            }
            other => other?,
        }
        if !store::add_member(tx, world, &fid, uid, FamilyRole::Owner)? {
            return Err(CreateFamilyStatus::AlreadyInFamily.into());
        }
        item::spend(tx, world, uid, &cost)
            .map_err(|e| short_is(e, CreateFamilyStatus::InsufficientMaterials))?;
        store::held(tx, world, uid, grp, iid)
    })?;
    Ok(Reply::with(
        CreateFamilyStatus::Created,
        data([
            ("name", name.into()),
            ("icon", icon.into()),
            ("iid", iid.into()),
            ("value", left.into()),
            ("fid", fid.into()),
        ]),
    ))
}

/// `get_all_family()`: the caller's family as the original answered it: `name`, `icon`,
/// `exp`, `notice`, `board`, `members`, `news`, `timer` (seconds until a pending disband
/// completes, -1 when none), `is_checkin` (0/1 today); also `fid` and `role` (the
/// caller's).
pub fn get_all_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let world = player.world.as_str();
    let (family, role) =
        current(ctx, world, &player.unique_id)?.ok_or(FamilyStatus::NotInFamily)?;
    let now = ctx.now();
    let mut conn = ctx.db.conn()?;
    let members = store::members_json(&mut conn, world, &family.fid)?;
    let news = store::news(&mut conn, world, &family.fid)?;
    let checked_in = store::used_on(
        &mut conn,
        world,
        &player.unique_id,
        daily::CHECK_IN,
        game_day(now),
    )? > 0;
    let mut answer = info_json(&family);
    answer.insert("members".into(), members.into());
    answer.insert("news".into(), news);
    answer.insert(
        "timer".into(),
        family.disband_at.map_or(-1, |t| t - now).into(),
    );
    answer.insert("is_checkin".into(), i64::from(checked_in).into());
    answer.insert("fid".into(), family.fid.into());
    answer.insert("role".into(), role.id().into());
    ok(answer)
}

fn people(
    conn: &mut impl mysql::prelude::Queryable,
    world: &str,
    f: &Family,
) -> Result<Value, FnError> {
    let mut info = info_json(f);
    info.insert(
        "people".into(),
        store::member_count(conn, world, &f.fid)?.into(),
    );
    Ok(Value::Object(info))
}

/// `search_family(family_name)`: the family of exactly that name: `info` {`name`, `icon`,
/// `exp`, `notice`, `board`, `people`}.
pub fn search_family(ctx: &Context, _: &InWorld, args: &Args) -> Outcome {
    let name = args.str("family_name")?;
    let world = ctx.world()?;
    let family = named(ctx, world, name)?.ok_or_else(|| {
        FnError::module(
            SearchFamilyStatus::NoSuchFamily,
            format!("there is no <{name}> family"),
        )
    })?;
    let mut conn = ctx.db.conn()?;
    ok(data([("info", people(&mut conn, world, &family)?)]))
}

/// `get_random_family(number?)`: `families`, up to `number` (default 5, at most
/// `random_max`) families in a random order, each as `search_family`'s `info`.
pub fn get_random_family(ctx: &Context, _: &InWorld, args: &Args) -> Outcome {
    let number = args.opt_int("number")?.unwrap_or(5);
    if number < 0 {
        return Err(FnError::Malformed("`number` must be at least 0".into()));
    }
    let number = number.min(family_rules(ctx).random_max);
    let world = ctx.world()?;
    let seed = ctx.rng.below(u64::from(u32::MAX)) as u32;
    let mut conn = ctx.db.conn()?;
    let families = store::random_families(&mut conn, world, ctx.now(), number, seed)?;
    let families = families
        .iter()
        .map(|f| people(&mut conn, world, f))
        .collect::<Result<Vec<_>, _>>()?;
    ok(data([("families", families.into())]))
}

// ------------------------------------------------------------------ joining

/// The subjects of the two family request mails (both type 3), as the original's: a join
/// request names its applicant in `from`, an invitation its family.
pub const JOIN_REQUEST_SUBJECT: &str = "FAMILY_REQUEST";
pub const INVITATION_SUBJECT: &str = "FAMILY_INVITATION";

fn payload(fields: [(&str, &str); 2]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::from(v)))
        .collect()
}

/// Seconds until `uid` may join a family again, if they left one recently.
fn cooldown(ctx: &Context, world: &str, uid: &str) -> Result<Option<i64>, FnError> {
    let mut conn = ctx.db.conn()?;
    let now = ctx.now();
    Ok(store::join_after(&mut conn, world, uid)?
        .filter(|t| *t > now)
        .map(|t| t - now))
}

/// `request_join_family(name)`: asks to join; a request mail (type 3, subject
/// `FAMILY_REQUEST`) goes to every admin and the owner, any of whom accepts it with
/// `respond_family(key)`; not again to one holding an earlier request of the caller's
/// still (97 when every one does). Answers `name`, `lim` (requests left today) and `cooling`
/// (seconds until the next game day).
pub fn request_join_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use RequestJoinFamilyStatus as S;
    let name = args.str("name")?;
    let world = player.world.as_str();
    let uid = player.unique_id.as_str();
    let rules = family_rules(ctx);
    if current(ctx, world, uid)?.is_some() {
        return Err(S::AlreadyInFamily.into());
    }
    let family = named(ctx, world, name)?.ok_or(S::InvalidFamily)?;
    let officials = {
        let mut conn = ctx.db.conn()?;
        store::officials(
            &mut conn,
            world,
            &family.fid,
            rules.min_role_to.accept_request,
        )?
    };
    if officials.is_empty() {
        return Err(S::InvalidFamily.into());
    }
    if let Some(seconds) = cooldown(ctx, world, uid)? {
        return Ok(Reply::with(
            S::Cooldown,
            data([("seconds", seconds.into())]),
        ));
    }
    if player.level < rules.player_level {
        return Ok(Reply::with(
            S::LevelTooLow,
            data([("exp_info", player_exp_info(player.level))]),
        ));
    }
    let now = ctx.now();
    let day = game_day(now);
    let left = transaction(ctx.db, |tx| {
        store::take_daily(tx, world, uid, daily::JOIN, day, rules.daily.join_requests)
    })?
    .ok_or(S::DailyLimit)?;
    let (mut sent, mut pending) = (0, 0);
    for official in &officials {
        let mail = RequestMail {
            world,
            target_uid: official,
            kind: RequestKind::FamilyRequest,
            from: &player.gn,
            sender: Some(uid),
            subj: JOIN_REQUEST_SUBJECT,
            body: "",
            items: &[],
            payload: payload([("fid", &family.fid), ("applicant", uid)]),
        };
        match mail::send_request(ctx, &mail) {
            Ok(_) => sent += 1,
            Err(e) if e == MailStatus::RequestPending.error() => pending += 1,
            Err(_) => {}
        }
    }
    if sent == 0 {
        let mut conn = ctx.db.conn()?;
        store::give_back_daily(&mut conn, world, uid, daily::JOIN, day)?;
        if pending == officials.len() {
            return Err(FnError::module(
                S::NotSent,
                "your join request is still pending with every admin of this family",
            ));
        }
        return Err(S::NotSent.into());
    }
    Ok(Reply::with(
        S::Requested,
        data([
            ("name", family.name.into()),
            ("lim", left.into()),
            ("cooling", secs_to_next_day(now).into()),
        ]),
    ))
}

/// `invite_user_family(gn_target)`: an admin or the owner invites a player; an invitation
/// mail (type 3, from the family's name, subject `FAMILY_INVITATION`) goes to them, who
/// accepts it with `respond_family(key)`; one pending invitation per family and player (90
/// while one waits). Answers `gn` and `times` (invitations the family has left today).
pub fn invite_user_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use InviteFamilyStatus as S;
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    let rules = family_rules(ctx);
    let (family, role) = current(ctx, world, &player.unique_id)?.ok_or(S::NotInFamily)?;
    if role < rules.min_role_to.invite {
        return Err(S::NoPermission.into());
    }
    let target = uid_of_player(ctx.db, world, gn_target)?.ok_or(S::NoSuchTarget)?;
    if let Some(seconds) = cooldown(ctx, world, &target)? {
        return Ok(Reply::with(
            S::TargetCooldown,
            data([("seconds", seconds.into())]),
        ));
    }
    let level = {
        let mut conn = ctx.db.conn()?;
        store::player_level(&mut conn, world, &target)?.unwrap_or(0)
    };
    if level < rules.player_level {
        return Err(S::TargetLevelTooLow.into());
    }
    if current(ctx, world, &target)?.is_some() {
        return Err(S::TargetInFamily.into());
    }
    let now = ctx.now();
    let day = game_day(now);
    let left = transaction(ctx.db, |tx| {
        store::take_daily(
            tx,
            world,
            &family.fid,
            daily::INVITE,
            day,
            rules.daily.invites,
        )
    })?
    .ok_or(S::DailyLimit)?;
    let mail = RequestMail {
        world,
        target_uid: &target,
        kind: RequestKind::FamilyInvite,
        from: &family.name,
        sender: Some(&family.fid),
        subj: INVITATION_SUBJECT,
        body: "",
        items: &[],
        payload: payload([("fid", &family.fid), ("inviter", &player.unique_id)]),
    };
    if let Err(e) = mail::send_request(ctx, &mail) {
        let mut conn = ctx.db.conn()?;
        store::give_back_daily(&mut conn, world, &family.fid, daily::INVITE, day)?;
        return Err(match e {
            FnError::Module { code, .. } if code == MailStatus::MailboxFull.code() => {
                S::TargetMailboxFull.into()
            }
            FnError::Module { code, .. } if code == MailStatus::RequestPending.code() => {
                S::AlreadyInvited.into()
            }
            _ => S::MailError.into(),
        });
    }
    transaction(ctx.db, |tx| {
        let msg = format!("{}:{},{gn_target}", news::INVITE, player.gn);
        store::record(tx, world, &family.fid, now, &msg)
    })?;
    Ok(Reply::with(
        S::Invited,
        data([("gn", gn_target.into()), ("times", left.into())]),
    ))
}

/// The mail module's refusal of a key (not in the mailbox, answered, another kind), which
/// `respond_family` answers as the original's "invalid nonce".
fn as_invalid_nonce(e: FnError) -> FnError {
    let refusals = [
        MailStatus::NoSuchMail,
        MailStatus::AlreadyAccepted,
        MailStatus::WrongKind,
    ];
    match &e {
        FnError::Module { code, message } if refusals.iter().any(|s| s.code() == *code) => {
            FnError::module(RespondFamilyStatus::InvalidNonce, message.clone())
        }
        _ => e,
    }
}

/// `respond_family(key)`: accepts a family invitation (the caller joins) or a join request
/// (the caller, an admin or the owner, lets the applicant in). Checked now: the new member
/// is in no family (98), the family still exists (97), the inviter or the accepter still
/// has the role (99), there is room (96). A refused accept can be tried again later.
/// Answers `name`, `icon`, `exp`, `notice`, `board` (and `fid`).
pub fn respond_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let key = args.str("key")?;
    let uid = player.unique_id.as_str();
    let wrong_kind = |e: &FnError| matches!(e, FnError::Module { code, .. } if *code == MailStatus::WrongKind.code());
    let (kind, request) = match mail::redeem_request(ctx, uid, key, RequestKind::FamilyInvite) {
        Ok(p) => (RequestKind::FamilyInvite, p),
        Err(e) if wrong_kind(&e) => (
            RequestKind::FamilyRequest,
            mail::redeem_request(ctx, uid, key, RequestKind::FamilyRequest)
                .map_err(as_invalid_nonce)?,
        ),
        Err(e) => return Err(as_invalid_nonce(e)),
    };
    let outcome = accept(ctx, player, kind, &request);
    if outcome.is_err() {
        mail::restore_request(ctx, key, &request);
    }
    outcome
}

fn accept(
    ctx: &Context,
    player: &Player,
    kind: RequestKind,
    request: &Map<String, Value>,
) -> Outcome {
    use RespondFamilyStatus as S;
    let field = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(S::InvalidNonce)
    };
    let fid = field("fid")?;
    let rules = family_rules(ctx);
    let world = player.world.as_str();
    // (who joins, who vouches for them and the role that needs)
    let (joiner, voucher, needed) = match kind {
        RequestKind::FamilyInvite => (
            player.unique_id.clone(),
            field("inviter")?,
            rules.min_role_to.invite,
        ),
        _ => (
            field("applicant")?,
            player.unique_id.clone(),
            rules.min_role_to.accept_request,
        ),
    };
    if current(ctx, world, &joiner)?.is_some() {
        return Err(S::TargetInFamily.into());
    }
    let gn_joiner =
        crate::modules::common::player_name(ctx.db, world, &joiner)?.unwrap_or_default();
    let now = ctx.now();
    let family = transaction(ctx.db, |tx| {
        let family = store::lock_family(tx, world, &fid)?
            .filter(|f| !f.is_due(now))
            .ok_or(S::NoSuchFamily)?;
        match store::role_in(tx, world, &fid, &voucher)? {
            Some(role) if role >= needed => {}
            _ => {
                return Err(FnError::module(
                    S::InvalidNonce,
                    "the sender of this request no longer has the role to make it",
                ))
            }
        }
        if store::member_count(tx, world, &fid)? >= rules.member_limit {
            return Err(S::FamilyFull.into());
        }
        if !store::add_member(tx, world, &fid, &joiner, FamilyRole::Basic)? {
            return Err(S::TargetInFamily.into());
        }
        let msg = format!("{}:{},{gn_joiner}", news::RESPOND, player.gn);
        store::record(tx, world, &fid, now, &msg)?;
        Ok(family)
    })?;
    let mut answer = info_json(&family);
    answer.insert("fid".into(), family.fid.into());
    ok(answer)
}

// ------------------------------------------------------------------ members and roles

/// `leave_family()`: leaves the caller's family (an owner cannot: abdicate or disband
/// first). The coins earned there (3:37) go back to 0, family coins (3:36) stay, and the
/// player may join again after `leave_days`. Answers `cd_time` (that wait in seconds).
pub fn leave_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    use LeaveFamilyStatus as S;
    let world = player.world.as_str();
    let uid = player.unique_id.as_str();
    let rules = family_rules(ctx);
    let now = ctx.now();
    let fid = in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        if role == FamilyRole::Owner {
            return Err(S::OwnerCannotLeave.into());
        }
        store::remove_member(tx, world, &family.fid, uid)?;
        let (grp, id) = FAMILY_COIN_RECORD;
        store::zero_item(tx, world, uid, grp, id)?;
        store::set_join_after(tx, world, uid, now + rules.leave_secs)?;
        let msg = format!("{}:{}", news::LEAVE, player.gn);
        store::record(tx, world, &family.fid, now, &msg)?;
        Ok(family.fid.clone())
    })?;
    // Committed: the player's chat connections leave the family channel.
    ctx.chat_events.left(world, uid, &fid);
    Ok(Reply::with(
        S::Left,
        data([("cd_time", rules.leave_secs.into())]),
    ))
}

/// `remove_user_family(gn_target)`: the owner removes any member, an admin those below
/// admin; `rmtimes` per family per game day. Answers `gn`, `rmtimes` (left today) and
/// `cd_time` (seconds until the next game day).
pub fn remove_user_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use RemoveFamilyStatus as S;
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    let rules = family_rules(ctx);
    let target = uid_of_player(ctx.db, world, gn_target)?;
    let now = ctx.now();
    let day = game_day(now);
    let cd_time = secs_to_next_day(now);
    let left = in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        if target.as_deref() == Some(player.unique_id.as_str()) {
            return Err(S::NotYourself.into());
        }
        if store::used_on(tx, world, &family.fid, daily::REMOVE, day)? >= rules.daily.removals {
            return Ok(Err(cd_time));
        }
        let target = target.as_deref().ok_or(S::TargetNotInFamily)?;
        let (target_fid, _) = store::membership(tx, world, target)?.ok_or(S::TargetNotInFamily)?;
        if target_fid != family.fid {
            return Err(S::TargetNotInYourFamily.into());
        }
        let target_role =
            store::role_in(tx, world, &family.fid, target)?.ok_or(S::TargetNotInYourFamily)?;
        if !rules::can_remove(role, target_role) {
            return Err(S::NoPermission.into());
        }
        store::remove_member(tx, world, &family.fid, target)?;
        let left = store::take_daily(
            tx,
            world,
            &family.fid,
            daily::REMOVE,
            day,
            rules.daily.removals,
        )?
        .unwrap_or(0);
        let msg = format!("{}:{},{gn_target}", news::REMOVE, player.gn);
        store::record(tx, world, &family.fid, now, &msg)?;
        Ok(Ok((left, target.to_string(), family.fid.clone())))
    })?;
    match left {
        Ok((left, target, fid)) => {
            // Committed: the removed member's chat connections leave the family channel.
            ctx.chat_events.left(world, &target, &fid);
            Ok(Reply::with(
                S::Removed,
                data([
                    ("gn", gn_target.into()),
                    ("rmtimes", left.into()),
                    ("cd_time", cd_time.into()),
                ]),
            ))
        }
        Err(cd_time) => Ok(Reply::with(
            S::DailyLimit,
            data([("cd_time", cd_time.into())]),
        )),
    }
}

/// `set_role_family(gn_target, role)`: the owner sets basic, elite or admin members to
/// any of those; an admin sets basic and elite members to either. Nobody grants owner
/// (`abdicate_family` does). Answers `gn`, `role`.
pub fn set_role_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use SetRoleFamilyStatus as S;
    let gn_target = args.str("gn_target")?;
    let new_role = FamilyRole::from_id(args.int("role")?).ok_or_else(|| {
        FnError::module(
            S::InvalidRole,
            "role must be 0 (basic), 4 (elite), 8 (admin) or 10 (owner)",
        )
    })?;
    let world = player.world.as_str();
    let target = uid_of_player(ctx.db, world, gn_target)?;
    if target.as_deref() == Some(player.unique_id.as_str()) {
        return Err(S::NotYourself.into());
    }
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        let target = target.as_deref().ok_or(S::TargetNotInYourFamily)?;
        let target_role =
            store::role_in(tx, world, &family.fid, target)?.ok_or(S::TargetNotInYourFamily)?;
        if target_role == new_role {
            return Err(S::SameRole.into());
        }
        if !rules::can_set_role(role, target_role, new_role) {
            return Err(S::NoPermission.into());
        }
        store::set_role(tx, world, &family.fid, target, new_role)?;
        let msg = format!("{}:{},{gn_target}", news::ROLE, player.gn);
        store::record(tx, world, &family.fid, now, &msg)
    })?;
    ok(data([
        ("gn", gn_target.into()),
        ("role", new_role.id().into()),
    ]))
}

/// `abdicate_family(target)`: the owner hands the family to another member (game name
/// `target`) and becomes basic; a pending disband is cancelled (as the original did).
/// Answers `{<caller's game name>: 0, <target>: 10}`.
pub fn abdicate_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use AbdicateFamilyStatus as S;
    let gn_target = args.str("target")?;
    let world = player.world.as_str();
    current(ctx, world, &player.unique_id)?.ok_or(S::NotInFamily)?;
    let target = uid_of_player(ctx.db, world, gn_target)?.ok_or(S::NoSuchTarget)?;
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        let (target_fid, _) = store::membership(tx, world, &target)?.ok_or(S::TargetNotInFamily)?;
        if target_fid != family.fid || target == player.unique_id {
            return Err(S::NotSameFamily.into());
        }
        if role != FamilyRole::Owner {
            return Err(S::NotOwner.into());
        }
        // Locked: a concurrent leave of the target waits, or has already happened.
        store::role_in(tx, world, &family.fid, &target)?.ok_or(S::NotSameFamily)?;
        store::set_role(tx, world, &family.fid, &player.unique_id, FamilyRole::Basic)?;
        store::set_role(tx, world, &family.fid, &target, FamilyRole::Owner)?;
        store::update_family(tx, world, &family.fid, "disband_at", mysql::Value::NULL)?;
        let msg = format!("{}:{},{gn_target}", news::ABDICATE, player.gn);
        store::record(tx, world, &family.fid, now, &msg)
    })?;
    ok(data([
        (player.gn.as_str(), FamilyRole::Basic.id().into()),
        (gn_target, FamilyRole::Owner.id().into()),
    ]))
}

// ------------------------------------------------------------------ notice, board, icon, name

/// A notice or blackboard text: at most `notice_max_chars` characters, line breaks but no
/// other control characters (13 naming `msg` otherwise).
fn check_msg(rules: &FamilyRules, msg: &str) -> Result<(), FnError> {
    rules
        .check_notice(msg)
        .map_err(|why| FnError::Malformed(format!("`msg`: {why}")))
}

/// `set_notice_family(msg)`: an admin or the owner sets the notice, `ntimes` per family
/// per game day. Answers `notice`, `limit` (left today), `seconds` (until the next game
/// day).
pub fn set_notice_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use SetNoticeFamilyStatus as S;
    let msg = args.str("msg")?;
    let rules = family_rules(ctx);
    check_msg(&rules, msg)?;
    let world = player.world.as_str();
    let now = ctx.now();
    let left = in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        if role < rules.min_role_to.set_notice {
            return Err(S::NoPermission.into());
        }
        let left = store::take_daily(
            tx,
            world,
            &family.fid,
            daily::NOTICE,
            game_day(now),
            rules.daily.notices,
        )?
        .ok_or(S::DailyLimit)?;
        store::update_family(tx, world, &family.fid, "notice", msg)?;
        Ok(left)
    })?;
    ok(data([
        ("notice", msg.into()),
        ("limit", left.into()),
        ("seconds", secs_to_next_day(now).into()),
    ]))
}

/// `set_blackboard_family(msg)`: an admin or the owner sets the blackboard. Answers
/// `board`.
pub fn set_blackboard_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let msg = args.str("msg")?;
    let rules = family_rules(ctx);
    check_msg(&rules, msg)?;
    let world = player.world.as_str();
    in_my_family(
        ctx,
        player,
        FamilyStatus::NotInFamily,
        |tx, family, role| {
            if role < rules.min_role_to.set_board {
                return Err(FamilyStatus::NoPermission.into());
            }
            store::update_family(tx, world, &family.fid, "board", msg)
        },
    )?;
    ok(data([("board", msg.into())]))
}

/// `set_icon_family(icon)`: an admin or the owner sets the family icon (0–65535, not the
/// current one). Answers `icon`.
pub fn set_icon_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use SetIconFamilyStatus as S;
    let icon = args.int("icon")?;
    if !(0..=MAX_ICON).contains(&icon) {
        return Err(S::InvalidIcon.into());
    }
    let needed = family_rules(ctx).min_role_to.set_icon;
    let world = player.world.as_str();
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        if role < needed {
            return Err(S::NoPermission.into());
        }
        if family.icon == icon {
            return Err(S::SameIcon.into());
        }
        store::update_family(tx, world, &family.fid, "icon", icon)?;
        let msg = format!("{}:{}", news::ICON, player.gn);
        store::record(tx, world, &family.fid, now, &msg)
    })?;
    ok(data([("icon", icon.into())]))
}

/// `change_name_family(name)`: an admin or the owner renames the family, paying
/// `costs.change_name` (the original: 500 diamonds). The rename and the payment commit
/// together: no payment without the new name. Answers `name`, `iid`, `value` (left).
pub fn change_name_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use ChangeNameFamilyStatus as S;
    let name = args.str("name")?;
    let rules = family_rules(ctx);
    rules
        .check_name(name)
        .map_err(|why| FnError::module(S::InvalidName, why))?;
    let cost = parse_items(&rules.change_name_cost)?;
    let world = player.world.as_str();
    let uid = player.unique_id.as_str();
    if named(ctx, world, name)?.is_some() {
        return Err(S::NameTaken.into());
    }
    let (grp, iid) = cost.first().map_or((3, 5), |c| (c.group, c.id));
    let now = ctx.now();
    let left = in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        use mysql::prelude::Queryable;
        if role < rules.min_role_to.change_name {
            return Err(S::NoPermission.into());
        }
        let renamed = tx.exec_drop(
            "UPDATE families SET name = ? WHERE world = ? AND fid = ?",
            (name, world, &family.fid),
        );
        match renamed {
            Err(e) if crate::db::duplicate_key(&e) == Some("families_name") => {
                return Err(S::NameTaken.into())
            }
            other => other?,
        }
        item::spend(tx, world, uid, &cost).map_err(|e| short_is(e, S::InsufficientFunds))?;
        let msg = format!("{}:{}", news::CHANGE_NAME, player.gn);
        store::record(tx, world, &family.fid, now, &msg)?;
        store::held(tx, world, uid, grp, iid)
    })?;
    ok(data([
        ("name", name.into()),
        ("iid", iid.into()),
        ("value", left.into()),
    ]))
}

// ------------------------------------------------------------------ disband

/// `disband_family()`: an admin or the owner starts the disband: the family is gone
/// `disband_hours` later unless cancelled. Answers `timer` (those seconds).
pub fn disband_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    use DisbandFamilyStatus as S;
    let world = player.world.as_str();
    let rules = family_rules(ctx);
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        if role < rules.min_role_to.disband {
            return Err(S::NoPermission.into());
        }
        if family.disband_at.is_some() {
            return Err(S::AlreadyDisbanding.into());
        }
        store::update_family(
            tx,
            world,
            &family.fid,
            "disband_at",
            now + rules.disband_secs,
        )?;
        let msg = format!("{}:{}", news::DISBAND, player.gn);
        store::record(tx, world, &family.fid, now, &msg)
    })?;
    ok(data([("timer", rules.disband_secs.into())]))
}

/// `cancel_disband_family()`: an admin or the owner stops a pending disband (before its
/// deadline; after it the family is gone).
pub fn cancel_disband_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    use CancelDisbandFamilyStatus as S;
    let world = player.world.as_str();
    let needed = family_rules(ctx).min_role_to.disband;
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, role| {
        if role < needed {
            return Err(S::NoPermission.into());
        }
        if family.disband_at.is_none() {
            return Err(S::NotDisbanding.into());
        }
        store::update_family(tx, world, &family.fid, "disband_at", mysql::Value::NULL)?;
        let msg = format!("{}:{}", news::CANCEL_DISBAND, player.gn);
        store::record(tx, world, &family.fid, now, &msg)
    })?;
    ok(Map::new())
}

// ------------------------------------------------------------------ check-in and stores

fn iid_value(item: &Item, value: u64) -> Value {
    json!({"iid": item.id, "value": value})
}

/// `check_in_family()`: once per game day: family experience +`family_exp`, and the
/// caller gets `family_coin`, the same in `family_coin_record` and the `special` items
/// (the original: 100 family coins, 100 coins). Answers `remaining` and `reward` (lists of
/// `{iid, value}`: totals after, amounts given) and `exp_data` (the family's).
pub fn check_in_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    use CheckInFamilyStatus as S;
    let rules = family_rules(ctx);
    let ci = &rules.check_in;
    let mut items = parse_items(&ci.family_coin)?;
    items.extend(parse_items(&ci.family_coin_record)?);
    for special in &ci.special {
        items.extend(parse_items(special)?);
    }
    item::check_defined(ctx.config, &items)?;
    let world = player.world.as_str();
    let uid = player.unique_id.as_str();
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, _| {
        store::take_daily(tx, world, uid, daily::CHECK_IN, game_day(now), 1)?
            .ok_or(S::AlreadyCheckedIn)?;
        let exp = family.exp.saturating_add(ci.family_exp);
        store::update_family(tx, world, &family.fid, "exp", exp)?;
        item::grant(tx, ctx.config, world, uid, &items)?;
        progress::task_done(tx, world, uid, Task::FamilyCheckIn, now)?;
        progress::achieve(tx, world, uid, Achievement::FamilyCheckIn, 1)?;
        let mut remaining = Vec::new();
        for it in &items {
            remaining.push(iid_value(it, store::held(tx, world, uid, it.group, it.id)?));
        }
        let reward: Vec<Value> = items.iter().map(|it| iid_value(it, it.qty)).collect();
        Ok(data([
            ("remaining", remaining.into()),
            ("reward", reward.into()),
            ("exp_data", rules.exp_data(exp, ci.family_exp)),
        ]))
    })
    .map(Reply::ok)
}

/// `get_store_family()`: the family store's goods as in family.json: sid -> {cost item:
/// reward item}.
pub fn get_store_family(ctx: &Context, _: &InWorld, _: &Args) -> Outcome {
    match family_rules(ctx).goods {
        Value::Object(goods) => ok(goods),
        _ => ok(Map::new()),
    }
}

/// A store offer: the cost items and what they buy.
struct Offer {
    cost: Vec<Item>,
    reward: Vec<Item>,
}

fn offer(section: &Value, sid: &str) -> Result<Option<Offer>, FnError> {
    let Some(Value::Object(entry)) = section.get(sid) else {
        return Ok(None);
    };
    let Some((cost, reward)) = entry.iter().next() else {
        return Ok(None);
    };
    let reward = match reward {
        Value::String(s) => parse_items(s)?,
        list @ Value::Array(_) => Item::parse_list(list)?,
        _ => return Ok(None),
    };
    Ok(Some(Offer {
        cost: parse_items(cost)?,
        reward,
    }))
}

/// `sid` as a string: the original's clients send `"1"`; an integer is taken too.
fn sid_arg(args: &Args) -> Result<String, FnError> {
    match args.0.get("sid") {
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        _ => args.str("sid").map(str::to_string),
    }
}

fn item_strings(items: &[Item]) -> Vec<Value> {
    items.iter().map(|i| Value::from(i.to_string())).collect()
}

/// The buyer's totals after a purchase, as item strings.
fn totals(
    tx: &mut mysql::Transaction<'_>,
    world: &str,
    uid: &str,
    items: &[Item],
) -> Result<Vec<Value>, FnError> {
    items
        .iter()
        .map(|i| {
            let qty = store::held(tx, world, uid, i.group, i.id)?;
            Ok(Value::from(format!("{}:{}:{qty}", i.group, i.id)))
        })
        .collect()
}

/// `market_purchase_family(sid)`: buys store goods `sid` with family coins. Answers
/// `remain` (the cost items left, then the bought items' totals) and `reward` (the cost
/// paid, then the items bought), as item strings.
pub fn market_purchase_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use MarketFamilyStatus as S;
    let sid = sid_arg(args)?;
    let world = player.world.as_str();
    let uid = player.unique_id.as_str();
    let rules = family_rules(ctx);
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, _| {
        let Offer { cost, reward } = offer(&rules.goods, &sid)?.ok_or(S::NoSuchGoods)?;
        item::spend(tx, world, uid, &cost).map_err(|e| short_is(e, S::LackOfMaterial))?;
        item::grant(tx, ctx.config, world, uid, &reward)?;
        let msg = format!("{}:{}", news::PURCHASE, player.gn);
        store::record(tx, world, &family.fid, now, &msg)?;
        let mut remain = totals(tx, world, uid, &cost)?;
        remain.extend(totals(tx, world, uid, &reward)?);
        let mut given = item_strings(&cost);
        given.extend(item_strings(&reward));
        Ok(data([("remain", remain.into()), ("reward", given.into())]))
    })
    .map(Reply::ok)
}

/// `welfare_purchase_family(sid)`: the caller buys welfare gift `sid` (at most once per
/// gift per game day, as the original's document says) and every member, the caller
/// included, gets its items. Answers `remain` and `reward` like `market_purchase_family`
/// (the caller's own items).
pub fn welfare_purchase_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    use WelfareFamilyStatus as S;
    let sid = sid_arg(args)?;
    let world = player.world.as_str();
    let uid = player.unique_id.as_str();
    let rules = family_rules(ctx);
    let now = ctx.now();
    in_my_family(ctx, player, S::NotInFamily, |tx, family, _| {
        use mysql::prelude::Queryable;
        let Offer { cost, reward } = offer(&rules.gifts, &sid)?.ok_or(S::NoSuchGift)?;
        let counter = format!("{}{sid}", daily::WELFARE);
        store::take_daily(tx, world, uid, &counter, game_day(now), 1)?
            .ok_or(S::AlreadyBoughtToday)?;
        item::spend(tx, world, uid, &cost).map_err(|e| short_is(e, S::LackOfMaterial))?;
        let members: Vec<String> = tx.exec(
            "SELECT unique_id FROM family_members WHERE world = ? AND fid = ? ORDER BY unique_id",
            (world, &family.fid),
        )?;
        for member in &members {
            item::grant(tx, ctx.config, world, member, &reward)?;
        }
        let msg = format!("{}:{}", news::PURCHASE, player.gn);
        store::record(tx, world, &family.fid, now, &msg)?;
        let mut remain = totals(tx, world, uid, &cost)?;
        remain.extend(totals(tx, world, uid, &reward)?);
        let mut given = item_strings(&cost);
        given.extend(item_strings(&reward));
        Ok(data([("remain", remain.into()), ("reward", given.into())]))
    })
    .map(Reply::ok)
}

// ------------------------------------------------------------------ chat

/// The caller's family id for chat, `""` when in none (or in one past its disband
/// deadline).
pub fn chat_fid(ctx: &Context, world: &str, uid: &str) -> Result<String, FnError> {
    Ok(current(ctx, world, uid)?
        .map(|(family, _)| family.fid)
        .unwrap_or_default())
}
