//! Rows that belong to no player: the original's credited purchases and exchange codes.

use std::collections::{BTreeMap, HashSet};

use mysql::prelude::Queryable;
use mysql::{Conn, Params, TxOpts};

use super::source::optional_rows;
use super::{
    map, now_secs, target_err, MigrateError, Report, Tally, GLOBAL_ROWS_PER_TRANSACTION,
    IMPORTED_BY,
};

/// Writes `rows` (statement, params) in transactions of [`GLOBAL_ROWS_PER_TRANSACTION`],
/// each row `INSERT IGNORE` so a second run keeps what is there; counts what was new.
pub(crate) fn write_global(
    target: &mut Conn,
    table: &'static str,
    sql: &'static str,
    params: Vec<Params>,
    dry_run: bool,
    tally: &mut Tally,
) -> Result<u64, MigrateError> {
    let mut new = 0;
    for chunk in params.chunks(GLOBAL_ROWS_PER_TRANSACTION) {
        let mut tx = target
            .start_transaction(TxOpts::default())
            .map_err(target_err)?;
        for p in chunk {
            tx.exec_drop(sql, p.clone()).map_err(target_err)?;
            new += tx.affected_rows();
        }
        if dry_run { tx.rollback() } else { tx.commit() }.map_err(target_err)?;
    }
    tally.written(table, new);
    Ok(new)
}

/// The original's credited purchases: our `purchases`, so an order it credited is never
/// credited again (a replayed receipt answers "already credited").
pub(crate) fn migrate_orders(
    source: &mut Conn,
    target: &mut Conn,
    mall_db: &str,
    merges: &BTreeMap<String, String>,
    accounts: &HashSet<String>,
    dry_run: bool,
    report: &mut Report,
) -> Result<(), MigrateError> {
    type Order = (
        String,
        String,
        String,
        String,
        i64,
        String,
        i64,
        String,
        String,
    );
    let Some(orders) = optional_rows::<Order>(
        source,
        &format!(
            "SELECT oid, world, uid, currency, cqty, mid, mqty, channel, time \
             FROM `{mall_db}`.`mall` ORDER BY oid"
        ),
        "mall",
        &mut report.tally,
    )?
    else {
        return Ok(());
    };
    let mut params = Vec::new();
    for (oid, world, uid, currency, price, mid, qty, channel, time) in orders {
        let world = merges.get(&world).cloned().unwrap_or(world);
        let merged: Vec<String> = merges.keys().filter(|w| **w != world).cloned().collect();
        let uid = map::unmerged_uid(&uid, &merged, |u| accounts.contains(u));
        let fits = oid.chars().count() <= 128
            && uid.chars().count() <= map::MAX_UID_CHARS
            && mid.chars().count() <= 64
            && channel.chars().count() <= 32
            && currency.chars().count() <= 16;
        if !fits {
            report
                .tally
                .skip("mall", oid, "a value longer than our column");
            continue;
        }
        let at = map::original_time(&time).unwrap_or_else(now_secs);
        // The original kept the item it credited (`mid`), not the product id.
        let item_id = mid.trim().parse::<i64>().unwrap_or(0).max(0);
        params.push(Params::Positional(vec![
            oid.into(),
            world.into(),
            uid.into(),
            mid.into(),
            channel.into(),
            currency.into(),
            price.max(0).into(),
            item_id.into(),
            qty.max(0).into(),
            at.into(),
        ]));
    }
    let read = params.len() as u64;
    let new = write_global(
        target,
        "purchases",
        "INSERT IGNORE INTO purchases (order_id, world, unique_id, pid, channel, currency, \
         price, item_id, qty, verified, credited_by, credited_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, ?)",
        params,
        dry_run,
        &mut report.tally,
    )?;
    report.done_before += read - new;
    Ok(())
}

/// The original's exchange codes, with the uses they have left.
pub(crate) fn migrate_codes(
    source: &mut Conn,
    target: &mut Conn,
    exchange_db: &str,
    dry_run: bool,
    report: &mut Report,
) -> Result<(), MigrateError> {
    let Some(codes) = optional_rows::<(String, String, String, String, i64)>(
        source,
        &format!("SELECT gid, eid, pid, etime, receive FROM `{exchange_db}`.`exchange` ORDER BY gid, eid"),
        "exchange",
        &mut report.tally,
    )?
    else {
        return Ok(());
    };
    let now = now_secs();
    let mut params = Vec::new();
    for (gid, eid, pid, etime, receive) in codes {
        let row = format!("{gid}/{eid}");
        if [&gid, &eid, &pid].iter().any(|v| v.chars().count() > 64) {
            report
                .tally
                .skip("exchange", row, "a value longer than our column");
            continue;
        }
        let Some(expires) = map::original_time(&etime) else {
            report
                .tally
                .skip("exchange", row, format!("unreadable end {etime:?}"));
            continue;
        };
        params.push(Params::from((
            gid,
            eid,
            pid,
            receive.max(0),
            expires,
            IMPORTED_BY,
            now,
        )));
    }
    let read = params.len() as u64;
    let new = write_global(
        target,
        "exchange_codes",
        "INSERT IGNORE INTO exchange_codes (game_id, code, pid, remaining, expires_at, \
         created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params,
        dry_run,
        &mut report.tally,
    )?;
    report.done_before += read - new;
    Ok(())
}
