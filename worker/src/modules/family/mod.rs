//! Families (guilds): create, look up, join by invitation or request, leave, remove,
//! roles, notice, disband.
//!
//! Roles: basic 0, elite 4, admin 8, owner 10. Admins and the owner invite, answer join
//! requests, remove members of a lower role and post the notice (`min_role_to` in
//! family.json); only the owner sets roles (giving away `owner` makes the giver an admin)
//! and disbands. A family always has exactly one owner: an owner who leaves hands the
//! family to the highest-role, longest member, or disbands it when alone.
//!
//! Invitations and join requests travel as request mails (`mail::send_request`); accepting
//! one re-checks every rule, and a refused accept restores the mail so it can be accepted
//! later. Chat uses the family's generated `fid`, never its name.

pub mod rules;
pub mod store;

use serde_json::{json, Map, Value};

use crate::function::Context;
use crate::function::{data, ok, Args, FnError, InWorld, Outcome, Player, Reply};
use crate::modules::common::{transaction, uid_of_player};
use crate::modules::enums::{FamilyRole, FamilyStatus, SharedStatus};
use crate::modules::item::Item;
use crate::modules::mail::{self, RequestKind, RequestMail};
use rules::{status, status_because, FamilyRules};
use store::Family;

fn family_rules(ctx: &Context) -> FamilyRules {
    FamilyRules::from_config(ctx.config.file("family"))
}

fn invalid(why: impl Into<String>) -> FnError {
    status_because(FamilyStatus::InvalidArgument, why)
}

fn no_player() -> FnError {
    FnError::from(SharedStatus::NoPlayer)
}

/// The uid of the player named `gn` in the caller's world (90 when there is none).
fn target_uid(ctx: &Context, world: &str, gn: &str) -> Result<String, FnError> {
    uid_of_player(ctx.db, world, gn)?.ok_or_else(no_player)
}

/// The caller's family and role (83 when in none).
fn my_family(ctx: &Context, player: &Player) -> Result<(String, FamilyRole), FnError> {
    let mut conn = ctx.db.conn()?;
    store::membership(&mut conn, &player.world, &player.unique_id)?
        .ok_or_else(|| status(FamilyStatus::NotInFamily))
}

/// Runs `work` on the caller's family with its row locked and the caller's role re-read
/// under the lock (the family may have changed since the caller's row was first read).
fn with_my_family<T>(
    ctx: &Context,
    player: &Player,
    work: impl FnOnce(&mut mysql::Transaction<'_>, &Family, FamilyRole) -> Result<T, FnError>,
) -> Result<T, FnError> {
    let (fid, _) = my_family(ctx, player)?;
    transaction(ctx.db, |tx| {
        let family = store::lock_family(tx, &player.world, &fid)?
            .ok_or_else(|| status(FamilyStatus::NotInFamily))?;
        let role = store::role_in(tx, &player.world, &fid, &player.unique_id)?
            .ok_or_else(|| status(FamilyStatus::NotInFamily))?;
        work(tx, &family, role)
    })
}

fn require_role(role: FamilyRole, needed: FamilyRole) -> Result<(), FnError> {
    if role < needed {
        return Err(status(FamilyStatus::RoleTooLow));
    }
    Ok(())
}

fn family_data(
    conn: &mut impl mysql::prelude::Queryable,
    world: &str,
    family: &Family,
    rules: &FamilyRules,
) -> Result<Value, FnError> {
    let members = store::members(conn, world, &family.fid)?;
    Ok(store::family_json(family, &members, rules.member_limit))
}

/// `create_family(name, icon)`: founds a family with the caller as owner, paying
/// `create_cost`. Answers `family`.
pub fn create_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let name = args.str("name")?;
    let icon = args.int("icon")?;
    let rules = family_rules(ctx);
    rules.check_name(name).map_err(invalid)?;
    if !(0..=i32::MAX as i64).contains(&icon) {
        return Err(invalid("icon must be a non-negative integer"));
    }
    let cost = if rules.create_cost.is_empty() {
        Vec::new()
    } else {
        vec![Item::parse(&rules.create_cost)?]
    };
    let world = player.world.as_str();
    let family = Family {
        fid: store::new_fid(),
        name: name.to_string(),
        icon,
        notice: String::new(),
    };
    let answer = transaction(ctx.db, |tx| {
        use mysql::prelude::Queryable;
        if store::membership(tx, world, &player.unique_id)?.is_some() {
            return Err(status(FamilyStatus::AlreadyInFamily));
        }
        let inserted = tx.exec_drop(
            "INSERT INTO families (world, fid, name, icon) VALUES (?, ?, ?, ?)",
            (world, &family.fid, &family.name, family.icon),
        );
        match inserted {
            Err(e) if crate::db::duplicate_key(&e) == Some("families_name") => {
                return Err(status(FamilyStatus::NameTaken))
            }
            other => other?,
        }
        if !store::add_member(tx, world, &family.fid, &player.unique_id, FamilyRole::Owner)? {
            return Err(status(FamilyStatus::AlreadyInFamily));
        }
        crate::modules::item::spend(tx, world, &player.unique_id, &cost)?;
        family_data(tx, world, &family, &rules)
    })?;
    ok(data([("family", answer)]))
}

/// `get_all_family()`: the caller's `family` (members with game names and roles) and
/// `role`.
pub fn get_all_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let (fid, role) = my_family(ctx, player)?;
    let mut conn = ctx.db.conn()?;
    let family = store::family_by_fid(&mut conn, &player.world, &fid)?
        .ok_or_else(|| status(FamilyStatus::NotInFamily))?;
    let answer = family_data(&mut conn, &player.world, &family, &family_rules(ctx))?;
    ok(data([("family", answer), ("role", role.id().into())]))
}

/// `search_family(family_name)`: the family of exactly that name: `family` with its name,
/// icon, notice, member count and limit (not its member list).
pub fn search_family(ctx: &Context, _: &InWorld, args: &Args) -> Outcome {
    let name = args.str("family_name")?;
    let world = ctx.world()?;
    let mut conn = ctx.db.conn()?;
    let family = store::family_by_name(&mut conn, world, name)?
        .ok_or_else(|| status(FamilyStatus::NoSuchFamily))?;
    let count = store::member_count(&mut conn, world, &family.fid)?;
    ok(data([(
        "family",
        json!({
            "name": family.name,
            "icon": family.icon,
            "notice": family.notice,
            "member_count": count,
            "member_limit": family_rules(ctx).member_limit,
        }),
    )]))
}

fn payload(fields: [(&str, &str); 2]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::from(v)))
        .collect()
}

/// `request_join_family(name)`: asks to join; the request mail goes to the owner, who
/// accepts it with `respond_family(key)` (checked again then: room, roles, no other family).
pub fn request_join_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let name = args.str("name")?;
    let world = player.world.as_str();
    let mut conn = ctx.db.conn()?;
    if store::membership(&mut conn, world, &player.unique_id)?.is_some() {
        return Err(status(FamilyStatus::AlreadyInFamily));
    }
    let family = store::family_by_name(&mut conn, world, name)?
        .ok_or_else(|| status(FamilyStatus::NoSuchFamily))?;
    if store::member_count(&mut conn, world, &family.fid)? >= family_rules(ctx).member_limit {
        return Err(status(FamilyStatus::FamilyFull));
    }
    let owner = store::owner(&mut conn, world, &family.fid)?
        .ok_or_else(|| status(FamilyStatus::NoSuchFamily))?;
    drop(conn);
    let body = format!("{} asks to join {}", player.gn, family.name);
    mail::send_request(
        ctx,
        &RequestMail {
            world,
            target_uid: &owner,
            kind: RequestKind::FamilyRequest,
            from: &player.gn,
            subj: "family join request",
            body: &body,
            items: &[],
            payload: payload([("fid", &family.fid), ("applicant", &player.unique_id)]),
        },
    )?;
    ok(data([("name", family.name.into())]))
}

/// `invite_user_family(gn_target)`: an admin or the owner invites a player who is in no
/// family; the invitation mail is accepted with `respond_family(key)`.
pub fn invite_user_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    let rules = family_rules(ctx);
    let (fid, role) = my_family(ctx, player)?;
    require_role(role, rules.min_role_to.invite)?;
    let target = target_uid(ctx, world, gn_target)?;
    if target == player.unique_id {
        return Err(invalid("you cannot invite yourself"));
    }
    let mut conn = ctx.db.conn()?;
    if store::membership(&mut conn, world, &target)?.is_some() {
        return Err(status(FamilyStatus::TargetInFamily));
    }
    let family = store::family_by_fid(&mut conn, world, &fid)?
        .ok_or_else(|| status(FamilyStatus::NotInFamily))?;
    drop(conn);
    let body = format!("{} invites you to join {}", player.gn, family.name);
    mail::send_request(
        ctx,
        &RequestMail {
            world,
            target_uid: &target,
            kind: RequestKind::FamilyInvite,
            from: &player.gn,
            subj: "family invitation",
            body: &body,
            items: &[],
            payload: payload([("fid", &fid), ("inviter", &player.unique_id)]),
        },
    )?;
    ok(data([("gn_target", gn_target.into())]))
}

/// The mail module's status for a request of the other kind.
fn is_wrong_kind(e: &FnError) -> bool {
    matches!(e, FnError::Module { code, .. } if *code == crate::function::ModuleStatus::code(mail::MailStatus::WrongKind))
}

/// `respond_family(key)`: accepts a family invitation (the caller joins) or a join request
/// (the caller, an admin or the owner, lets the applicant in). Every rule is checked again
/// now: the family still exists and has room, the new member is in no family, the
/// inviter or the accepter still has the role to do it. Answers `family`.
pub fn respond_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let key = args.str("key")?;
    let (kind, request) =
        match mail::redeem_request(ctx, &player.unique_id, key, RequestKind::FamilyInvite) {
            Ok(p) => (RequestKind::FamilyInvite, p),
            Err(e) if is_wrong_kind(&e) => (
                RequestKind::FamilyRequest,
                mail::redeem_request(ctx, &player.unique_id, key, RequestKind::FamilyRequest)?,
            ),
            Err(e) => return Err(e),
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
    let field = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| status(FamilyStatus::InvalidRequest))
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
    let answer = transaction(ctx.db, |tx| {
        let family = store::lock_family(tx, world, &fid)?
            .ok_or_else(|| status(FamilyStatus::NoSuchFamily))?;
        let voucher_role = store::role_in(tx, world, &fid, &voucher)?;
        match voucher_role {
            Some(role) if role >= needed => {}
            // The accepter left or was demoted: the request is no longer theirs to grant.
            _ if kind == RequestKind::FamilyRequest => {
                return Err(status(FamilyStatus::RoleTooLow))
            }
            _ => return Err(status(FamilyStatus::InvalidRequest)),
        }
        if store::member_count(tx, world, &fid)? >= rules.member_limit {
            return Err(status(FamilyStatus::FamilyFull));
        }
        if !store::add_member(tx, world, &fid, &joiner, FamilyRole::Basic)? {
            return Err(status(match kind {
                RequestKind::FamilyInvite => FamilyStatus::AlreadyInFamily,
                _ => FamilyStatus::TargetInFamily,
            }));
        }
        family_data(tx, world, &family, &rules)
    })?;
    ok(data([("family", answer)]))
}

/// `leave_family()`: leaves the caller's family. An owner hands the family to the
/// highest-role, longest member (`new_owner` is their game name) or, when alone, disbands
/// it (`disbanded` true).
pub fn leave_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let world = player.world.as_str();
    with_my_family(ctx, player, |tx, family, role| {
        let mut new_owner = Value::Null;
        let mut disbanded = false;
        if role == FamilyRole::Owner {
            match store::successor(tx, world, &family.fid, &player.unique_id)? {
                Some(heir) => {
                    store::set_role(tx, world, &family.fid, &heir, FamilyRole::Owner)?;
                    new_owner = store::members(tx, world, &family.fid)?
                        .into_iter()
                        .find(|m| m.uid == heir)
                        .map(|m| Value::from(m.gn))
                        .unwrap_or(Value::Null);
                }
                None => disbanded = true,
            }
        }
        if disbanded {
            store::delete_family(tx, world, &family.fid)?;
        } else {
            store::remove_member(tx, world, &family.fid, &player.unique_id)?;
        }
        Ok(data([
            ("name", family.name.clone().into()),
            ("disbanded", disbanded.into()),
            ("new_owner", new_owner),
        ]))
    })
    .map(Reply::ok)
}

/// `remove_user_family(gn_target)`: an admin or the owner removes a member of a lower role.
pub fn remove_user_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let world = player.world.as_str();
    let needed = family_rules(ctx).min_role_to.remove_member;
    let target = target_uid(ctx, world, gn_target)?;
    if target == player.unique_id {
        return Err(invalid("use leave_family to leave"));
    }
    with_my_family(ctx, player, |tx, family, role| {
        require_role(role, needed)?;
        let target_role = store::role_in(tx, world, &family.fid, &target)?
            .ok_or_else(|| status(FamilyStatus::NotAMember))?;
        if target_role >= role {
            return Err(status(FamilyStatus::RoleTooLow));
        }
        store::remove_member(tx, world, &family.fid, &target)?;
        Ok(data([("gn_target", gn_target.into())]))
    })
    .map(Reply::ok)
}

/// `set_role_family(gn_target, role)`: the owner sets a member's role (0, 4, 8 or 10).
/// Giving `10` hands the family over: the target becomes owner, the caller admin.
pub fn set_role_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let gn_target = args.str("gn_target")?;
    let role_id = args.int("role")?;
    let new_role = FamilyRole::from_id(role_id)
        .ok_or_else(|| invalid("role must be 0 (basic), 4 (elite), 8 (admin) or 10 (owner)"))?;
    let world = player.world.as_str();
    let needed = family_rules(ctx).min_role_to.set_role;
    let target = target_uid(ctx, world, gn_target)?;
    if target == player.unique_id {
        return Err(invalid("you cannot set your own role"));
    }
    with_my_family(ctx, player, |tx, family, role| {
        require_role(role, needed)?;
        store::role_in(tx, world, &family.fid, &target)?
            .ok_or_else(|| status(FamilyStatus::NotAMember))?;
        if new_role == FamilyRole::Owner {
            store::set_role(tx, world, &family.fid, &player.unique_id, FamilyRole::Admin)?;
        }
        store::set_role(tx, world, &family.fid, &target, new_role)?;
        let my_role = if new_role == FamilyRole::Owner {
            FamilyRole::Admin
        } else {
            role
        };
        Ok(data([
            ("gn_target", gn_target.into()),
            ("role", new_role.id().into()),
            ("your_role", my_role.id().into()),
        ]))
    })
    .map(Reply::ok)
}

/// `set_notice_family(msg)`: an admin or the owner sets the family notice ("" clears it).
pub fn set_notice_family(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let msg = args.str("msg")?;
    let rules = family_rules(ctx);
    rules.check_notice(msg).map_err(invalid)?;
    let world = player.world.as_str();
    with_my_family(ctx, player, |tx, family, role| {
        use mysql::prelude::Queryable;
        require_role(role, rules.min_role_to.set_notice)?;
        tx.exec_drop(
            "UPDATE families SET notice = ? WHERE world = ? AND fid = ?",
            (msg, world, &family.fid),
        )?;
        Ok(data([("notice", msg.into())]))
    })
    .map(Reply::ok)
}

/// `disband_family()`: the owner dissolves the family; every member is then in none.
pub fn disband_family(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let world = player.world.as_str();
    let needed = family_rules(ctx).min_role_to.disband;
    with_my_family(ctx, player, |tx, family, role| {
        require_role(role, needed)?;
        store::delete_family(tx, world, &family.fid)?;
        Ok(data([("name", family.name.clone().into())]))
    })
    .map(Reply::ok)
}

/// The caller's family id for chat, `""` when in none.
pub fn chat_fid(ctx: &Context, world: &str, uid: &str) -> Result<String, FnError> {
    let mut conn = ctx.db.conn()?;
    Ok(store::membership(&mut conn, world, uid)?
        .map(|(fid, _)| fid)
        .unwrap_or_default())
}
