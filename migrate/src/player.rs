//! One player's rows of every table, checked against our rules and added to its
//! transaction's [`Batch`]. Pure mapping on rows already read; no I/O.

#[allow(unused_imports)]
use super::*;

/// The rows of one player's holdings and progress, checked against our rules.
#[allow(clippy::too_many_arguments)]
pub(crate) fn player_rows(
    batch: &mut Batch,
    tally: &mut Tally,
    world: &str,
    uid: &str,
    row: &str,
    h: Holdings,
    family: Option<(String, i64)>,
    source_uids: &HashSet<String>,
    ours: &dyn Fn(&str) -> String,
    rules: &Rules,
    vipexp: Option<i64>,
    now: i64,
) {
    // Energy: no row is full energy; below the maximum it recovers from now on.
    if let Some((Some(energy), _, _)) = h.progress {
        if (0..rules.max_energy).contains(&energy) {
            batch.add(
                "energy",
                "INSERT INTO energy (world, unique_id, energy, recover_from) VALUES (?, ?, ?, ?)",
                Params::from((world, uid, energy, now)),
            );
        }
    }
    timers_and_limits(
        batch,
        tally,
        world,
        uid,
        row,
        &h,
        vipexp.unwrap_or(0).max(0),
        rules,
        now,
    );
    // Items of our three groups: a known id, a quantity >= 0, at most the item's max.
    let item =
        |batch: &mut Batch, tally: &mut Tally, table: &'static str, grp: i64, id: i64, qty: i64| {
            let Some(&max) = rules.items.get(&(grp, id)) else {
                tally.skip(table, row.to_string(), format!("unknown item {grp}:{id}"));
                return;
            };
            if qty < 0 {
                tally.skip(
                    table,
                    row.to_string(),
                    format!("negative quantity {qty} of {grp}:{id}"),
                );
                return;
            }
            let qty = if qty > max {
                tally.repair(
                    table,
                    row.to_string(),
                    format!("{grp}:{id} quantity {qty} over its max: {max}"),
                );
                max
            } else {
                qty
            };
            if qty > 0 {
                batch.add(
                "items",
                "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES (?, ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE qty = LEAST(qty + VALUES(qty), ?)",
                Params::from((world, uid, grp, id, qty, max)),
            );
            }
        };
    for (iid, value) in h.items {
        item(batch, tally, "item", GROUP_ITEM, iid, value);
    }
    let mut weapons = HashSet::new();
    for (wid, star, level, skillpoint, segment) in h.weapons {
        if !rules.items.contains_key(&(GROUP_WEAPON_SEGMENT, wid)) {
            tally.skip("weapon", row.to_string(), format!("unknown weapon {wid}"));
            continue;
        }
        if segment != 0 {
            item(batch, tally, "weapon", GROUP_WEAPON_SEGMENT, wid, segment);
        }
        // Star 0: segments only, no weapon yet (ours as the original's).
        if star > 0 {
            weapons.insert(wid);
            batch.add(
                "weapons",
                "INSERT INTO weapons (world, unique_id, weapon_id, level, star, skillpoint) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                Params::from((world, uid, wid, level.max(1), star, skillpoint.max(0))),
            );
        }
    }
    for (wid, pid, level) in h.weapon_passives {
        if weapons.contains(&wid) {
            batch.add(
                "weapon_passives",
                "INSERT INTO weapon_passives (world, unique_id, weapon_id, pid, level) \
                 VALUES (?, ?, ?, ?, ?)",
                Params::from((world, uid, wid, pid, level.max(0))),
            );
        } else {
            tally.skip(
                "weaponpassive",
                row.to_string(),
                format!("passive of weapon {wid}, not owned"),
            );
        }
    }
    let mut roles = HashSet::new();
    for (rid, star, level, segment) in h.roles {
        if !rules.items.contains_key(&(GROUP_ROLE_SEGMENT, rid)) {
            tally.skip("role", row.to_string(), format!("unknown role {rid}"));
            continue;
        }
        if segment != 0 {
            item(batch, tally, "role", GROUP_ROLE_SEGMENT, rid, segment);
        }
        if star > 0 {
            roles.insert(rid);
            batch.add(
                "roles",
                "INSERT INTO roles (world, unique_id, role_id, star, level) VALUES (?, ?, ?, ?, ?)",
                Params::from((world, uid, rid, star, level.max(1))),
            );
        }
    }
    for (rid, pid, level) in h.role_passives {
        if roles.contains(&rid) {
            batch.add(
                "role_passives",
                "INSERT INTO role_passives (world, unique_id, role_id, pid, level) \
                 VALUES (?, ?, ?, ?, ?)",
                Params::from((world, uid, rid, pid, level.max(0))),
            );
        } else {
            tally.skip(
                "rolepassive",
                row.to_string(),
                format!("passive of role {rid}, not owned"),
            );
        }
    }
    for (sid, level) in h.skills {
        batch.add(
            "skills",
            "INSERT INTO skills (world, unique_id, skill_id, level) VALUES (?, ?, ?, ?)",
            Params::from((world, uid, sid, level)),
        );
    }
    for (aid, level, qty) in h.armors {
        match qty {
            Some(q) if q < 0 => tally.skip("armor", row.to_string(), format!("negative quantity {q}")),
            _ => batch.add(
                "armors",
                "INSERT INTO armors (world, unique_id, armor_id, level, qty) VALUES (?, ?, ?, ?, ?)",
                Params::from((world, uid, aid, level, qty.unwrap_or(0))),
            ),
        }
    }
    for (ssa, level) in h.sciences {
        batch.add(
            "sciences",
            "INSERT INTO sciences (world, unique_id, ssa, level) VALUES (?, ?, ?, ?)",
            Params::from((world, uid, ssa, level)),
        );
    }
    for (eid, level) in h.elements {
        batch.add(
            "elements",
            "INSERT INTO elements (world, unique_id, eid, level) VALUES (?, ?, ?, ?)",
            Params::from((world, uid, eid, level)),
        );
    }
    for (sid, stage) in h.stages {
        if (0..=255).contains(&sid) {
            batch.add(
                "stages",
                "INSERT INTO stages (world, unique_id, sid, stage) VALUES (?, ?, ?, ?)",
                Params::from((world, uid, sid, stage)),
            );
        } else {
            tally.skip(
                "stages",
                row.to_string(),
                format!("stage kind {sid} out of range"),
            );
        }
    }
    for (date, reward) in h.check_ins {
        match date.as_deref().and_then(map::sql_date) {
            Some(day) => batch.add(
                "check_ins",
                "INSERT INTO check_ins (world, unique_id, day, reward) VALUES (?, ?, ?, ?)",
                Params::from((world, uid, day, reward.unwrap_or(1).clamp(0, 1))),
            ),
            None => tally.skip(
                "check_in",
                row.to_string(),
                format!("unreadable date {:?}", date.unwrap_or_default()),
            ),
        }
    }
    for (aid, value, reward) in h.achievements {
        batch.add(
            "achievements",
            "INSERT INTO achievements (world, unique_id, aid, value, rewarded) VALUES (?, ?, ?, ?, ?)",
            Params::from((world, uid, aid, value.unwrap_or(0).max(0), reward.unwrap_or(0).max(0))),
        );
    }
    factory_row(batch, tally, world, uid, row, &h.factory, now);
    // World boss damage: the original's leaderboard ids 1 (best fight) and 2 (total).
    let mut boss: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for (lid, stage, value) in h.leaderboard {
        match lid {
            LEADERBOARD_BEST => boss.entry(stage).or_default().0 = value.max(0),
            LEADERBOARD_TOTAL => boss.entry(stage).or_default().1 = value.max(0),
            other => tally.skip(
                "leaderboard",
                row.to_string(),
                format!("unknown leaderboard {other}"),
            ),
        }
    }
    for (stage, (best, total)) in boss {
        batch.add(
            "stage_boss_damage",
            "INSERT INTO stage_boss_damage (world, stage, unique_id, best, total) VALUES (?, ?, ?, ?, ?)",
            // The total holds every fight, the best one too.
            Params::from((world, stage, uid, best, total.max(best))),
        );
    }
    if let Some((name, role)) = family {
        batch.add(
            "family_members",
            "INSERT INTO family_members (world, unique_id, fid, role) VALUES (?, ?, ?, ?)",
            Params::from((world, uid, map::family_id(world, &name), role)),
        );
    }
    // Friends: one row per direction, as ours; `since` '' is a request not yet accepted.
    for (friend, since, recover, isre) in h.friends {
        if !source_uids.contains(&friend) {
            tally.skip(
                "friend",
                row.to_string(),
                format!("friend {friend:?} is no player"),
            );
            continue;
        }
        let since = if since.is_empty() {
            SqlValue::NULL
        } else {
            match map::sql_date(&since) {
                Some(day) => SqlValue::from(format!("{day} 00:00:00")),
                None => {
                    tally.repair(
                        "friend",
                        row.to_string(),
                        format!("unreadable since {since:?}: today"),
                    );
                    SqlValue::from(format!("{} 00:00:00", today()))
                }
            }
        };
        batch.add(
            "friends",
            "INSERT INTO friends (world, unique_id, friend_uid, since, gift_day, isre) \
             VALUES (?, ?, ?, ?, ?, ?)",
            Params::from((
                world,
                uid,
                ours(&friend),
                since,
                map::sql_date(&recover),
                isre.clamp(0, 1),
            )),
        );
    }
}

/// A membership: (family name, role).
pub(crate) type Member = (String, i64);

/// The family a player is a member of with us, (name, role): the role row of the family
/// `player.fid` names, else the first of a family that exists; a `fid` without a role row
/// joins as a basic member (the original's trigger made that row whenever fid was set).
/// Also answers what it refused or repaired on the way, for the report.
pub(crate) fn membership(
    roles: &[(String, i64)],
    fid: Option<&str>,
    family_names: &HashSet<String>,
) -> (Option<Member>, Vec<(Action, String)>) {
    let mut notes = Vec::new();
    let mut memberships: Vec<(String, i64)> = Vec::new();
    for (name, role) in roles {
        if family_names.contains(name) {
            memberships.push((name.clone(), *role));
        } else {
            notes.push((Action::Skipped, format!("member of no family {name:?}")));
        }
    }
    if let Some(fid) = fid.filter(|f| family_names.contains(*f)) {
        if let Some(i) = memberships.iter().position(|(n, _)| n == fid) {
            memberships.swap(0, i);
        } else {
            notes.push((
                Action::Repaired,
                format!("fid {fid:?} without a role row: basic member"),
            ));
            memberships.insert(0, (fid.to_string(), 0));
        }
    }
    for (extra, _) in memberships.iter().skip(1) {
        notes.push((
            Action::Skipped,
            format!("second family {extra:?}: one family per player"),
        ));
    }
    (memberships.into_iter().next(), notes)
}

/// The timers and limits that outlive a day: VIP month cards, the family join cooldown,
/// idle rewards' start, summoning stores, the integral step, element resets left.
#[allow(clippy::too_many_arguments)]
pub(crate) fn timers_and_limits(
    batch: &mut Batch,
    tally: &mut Tally,
    world: &str,
    uid: &str,
    row: &str,
    h: &Holdings,
    vipexp: i64,
    rules: &Rules,
    now: i64,
) {
    let timer = |tid: i64, tally: &mut Tally| -> Option<i64> {
        let (_, text) = h.timers.iter().find(|(t, _)| *t == tid)?;
        let at = map::original_time(text);
        if at.is_none() {
            tally.skip(
                "timer",
                row.to_string(),
                format!("timer {tid}: unreadable time {text:?}"),
            );
        }
        at
    };
    let limit = |lid: i64| {
        h.limits
            .iter()
            .find(|(l, _)| *l == lid)
            .map(|(_, v)| v.unwrap_or(0))
    };
    let (min_end, max_end) = (
        timer(TIMER_VIP_MIN_END, tally),
        timer(TIMER_VIP_MAX_END, tally),
    );
    if vipexp > 0 || min_end.is_some() || max_end.is_some() {
        batch.add(
            "vip",
            "INSERT INTO vip (world, unique_id, exp, min_end, max_end) VALUES (?, ?, ?, ?, ?)",
            Params::from((world, uid, vipexp, min_end, max_end)),
        );
    }
    if let Some(after) = timer(TIMER_FAMILY_JOIN_END, tally).filter(|t| *t > now) {
        batch.add(
            "family_cooldowns",
            "INSERT INTO family_cooldowns (world, unique_id, join_after) VALUES (?, ?, ?)",
            Params::from((world, uid, after)),
        );
    }
    if let Some(since) = timer(TIMER_STAGE_HANG_UP, tally) {
        batch.add(
            "stage_hang_up",
            "INSERT INTO stage_hang_up (world, unique_id, since) VALUES (?, ?, ?)",
            Params::from((world, uid, since.min(now))),
        );
    }
    if let Some(acp) = limit(LIMIT_INTEGRAL) {
        if INTEGRAL_STEPS.contains(&acp) {
            batch.add(
                "summon_integral",
                "INSERT INTO summon_integral (world, unique_id, acp) VALUES (?, ?, ?)",
                Params::from((world, uid, acp)),
            );
        } else {
            tally.skip(
                "limits",
                row.to_string(),
                format!("integral step {acp} is none of ours"),
            );
        }
    }
    if let Some(left) = limit(LIMIT_PLAYER_ELEMENT) {
        let used = (rules.element_resets - left).max(0);
        if used > 0 {
            batch.add(
                "element_resets",
                "INSERT INTO element_resets (world, unique_id, used) VALUES (?, ?, ?)",
                Params::from((world, uid, used)),
            );
        }
    }
    // The dark market: its offers with the refresh clock they belong to (timer 5 starts
    // the period, limit 1 counts the free refreshes left).
    if !h.dark_market.is_empty() {
        let refreshed = timer(TIMER_DARK_MARKET, tally);
        let known =
            |gid: i64, mid: i64| gid == GROUP_SKILL || rules.items.contains_key(&(gid, mid));
        let bad = h.dark_market.iter().find(|(_, gid, mid, qty, cid, amt)| {
            !known(*gid, *mid)
                || !rules.items.contains_key(&(GROUP_ITEM, *cid))
                || *qty <= 0
                || *amt == 0
        });
        match (refreshed, bad) {
            (Some(at), None) => {
                batch.add(
                    "dark_market",
                    "INSERT INTO dark_market (world, unique_id, refreshed_at, refreshable) VALUES (?, ?, ?, ?)",
                    Params::from((world, uid, at.min(now), limit(LIMIT_DARK_MARKET).unwrap_or(0).max(0))),
                );
                for (pid, gid, mid, qty, cid, amt) in &h.dark_market {
                    batch.add(
                        "dark_market_offers",
                        "INSERT INTO dark_market_offers (world, unique_id, pid, gid, mid, qty, cid, amt, bought) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        Params::Positional(vec![
                            world.into(), uid.into(), (*pid).into(), (*gid).into(), (*mid).into(),
                            (*qty).into(), (*cid).into(), amt.abs().into(), i64::from(*amt < 0).into(),
                        ]),
                    );
                }
            }
            (None, _) => {
                for _ in &h.dark_market {
                    tally.skip(
                        "darkmarket",
                        row.to_string(),
                        "offers without a refresh time: made anew",
                    );
                }
            }
            (_, Some((pid, gid, mid, ..))) => {
                for _ in &h.dark_market {
                    tally.skip(
                        "darkmarket",
                        row.to_string(),
                        format!("offer {pid} ({gid}:{mid}) unreadable: made anew"),
                    );
                }
            }
        }
    }
    // A summoning store comes over while it runs: its end (timer) and every cell of it.
    // A store whose time is over, or with a cell we cannot read, is made anew at its
    // first use, as for a new player.
    for (tid, cid) in SUMMON_STORE_ENDS {
        let cells: Vec<&(i64, i64, String, i64, i64)> =
            h.summon.iter().filter(|c| c.0 == cid).collect();
        if cells.is_empty() {
            continue;
        }
        let Some(ends) = timer(tid, tally).filter(|e| *e > now) else {
            for _ in &cells {
                tally.skip(
                    "summon",
                    row.to_string(),
                    format!("store {cid} over or without an end: made anew"),
                );
            }
            continue;
        };
        let unreadable = cells.iter().find(|(_, _, mid, wgt, _)| {
            let known = worker::modules::item::Item::parse(mid).is_ok_and(|i| {
                rules
                    .items
                    .contains_key(&(i64::from(i.group), i64::from(i.id)))
            });
            !known || *wgt <= 0
        });
        if let Some((_, pid, mid, wgt, _)) = unreadable {
            for _ in &cells {
                tally.skip(
                    "summon",
                    row.to_string(),
                    format!("store {cid}: cell {pid} {mid:?} weight {wgt} unreadable: made anew"),
                );
            }
            continue;
        }
        batch.add(
            "summon_stores",
            "INSERT INTO summon_stores (world, unique_id, cid, ends, free_refresh) VALUES (?, ?, ?, ?, 0)",
            Params::from((world, uid, cid, ends)),
        );
        for (cid, pid, mid, wgt, isb) in cells {
            batch.add(
                "summon_cells",
                "INSERT INTO summon_cells (world, unique_id, cid, pid, mid, wgt, isb) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                Params::from((world, uid, cid, pid, mid, wgt, (*isb != 0) as i64)),
            );
        }
    }
}

/// The original's factory rows (one per factory, -1 the workers, -2 the wishing pool) as
/// our one row. Production is counted from now: what was made since the original's last
/// refresh is not (its timers are not carried over).
pub(crate) fn factory_row(
    batch: &mut Batch,
    tally: &mut Tally,
    world: &str,
    uid: &str,
    row: &str,
    factory: &[(i64, i64, i64, i64)],
    now: i64,
) {
    if factory.is_empty() {
        return;
    }
    let of = |fid: i64| factory.iter().find(|f| f.0 == fid).copied();
    let (mut workers, mut levels, mut storage) = ([0i64; 4], [1i64; 3], [0i64; 4]);
    for (fid, level, w, store) in factory {
        match *fid {
            f @ 0..=3 => {
                let f = f as usize;
                workers[f] = (*w).max(0);
                storage[f] = (*store).max(0);
                if f < 3 {
                    levels[f] = (*level).max(1);
                }
            }
            -1 | -2 => {}
            other => tally.skip(
                "factory",
                row.to_string(),
                format!("unknown factory {other}"),
            ),
        }
    }
    let assigned: i64 = workers.iter().sum();
    let (unassigned, total) = of(-1).map_or((0, 0), |(_, _, w, s)| (w.max(0), s.max(0)));
    // The original kept the total beside the unassigned count; a total below what is
    // counted would leave negative free workers with us.
    let total = if total < assigned + unassigned {
        tally.repair(
            "factory",
            row.to_string(),
            format!("total workers {total} below {assigned} assigned + {unassigned} free: raised"),
        );
        assigned + unassigned
    } else {
        total
    };
    let pool_level = of(-2).map_or(1, |(_, level, _, _)| level.max(1));
    batch.add(
        "factories",
        "INSERT INTO factories (world, unique_id, workers, food_workers, iron_workers, \
         crystal_workers, armor_workers, food_level, iron_level, crystal_level, pool_level, \
         food, iron, crystal, armor, refreshed_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        Params::Positional(vec![
            world.into(),
            uid.into(),
            total.into(),
            workers[0].into(),
            workers[1].into(),
            workers[2].into(),
            workers[3].into(),
            levels[0].into(),
            levels[1].into(),
            levels[2].into(),
            pool_level.into(),
            storage[0].into(),
            storage[1].into(),
            storage[2].into(),
            storage[3].into(),
            now.into(),
        ]),
    );
}

/// Today (UTC) as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    let (y, m, d) = shared::civil::civil_from_days(now_secs().div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> HashSet<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    fn roles(list: &[(&str, i64)]) -> Vec<(String, i64)> {
        list.iter().map(|(n, r)| (n.to_string(), *r)).collect()
    }

    #[test]
    fn the_family_player_fid_names_wins_and_the_rest_is_reported() {
        let families = names(&["a", "b"]);
        // fid names the second role row: that one, the other reported.
        let (chosen, notes) = membership(&roles(&[("a", 4), ("b", 8)]), Some("b"), &families);
        assert_eq!(chosen, Some(("b".to_string(), 8)));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].0 == Action::Skipped && notes[0].1.contains("second family \"a\""));
        // No fid: the first role row of a family that exists.
        let (chosen, notes) = membership(&roles(&[("gone", 10), ("a", 4)]), None, &families);
        assert_eq!(chosen, Some(("a".to_string(), 4)));
        assert!(notes[0].0 == Action::Skipped && notes[0].1.contains("no family \"gone\""));
        // A fid without a role row: a basic member (repaired).
        let (chosen, notes) = membership(&[], Some("a"), &families);
        assert_eq!(chosen, Some(("a".to_string(), 0)));
        assert_eq!(notes[0].0, Action::Repaired);
        // A fid of a family that does not exist, no role rows: no family, nothing to say.
        assert_eq!(membership(&[], Some("gone"), &families), (None, vec![]));
    }
}
