//! lukseun-migrate: imports the original game's databases (the account database `user`,
//! one database per world) and its Maildir store into our schema and mail store.
//!
//! - [`map`]: pure value rules (passwords, names, dates, merged uids);
//!   [`original_mail`]: the original's mail files; [`report`]: counts and problems.
//! - [`run`]: the migration. Read-only on the source (one read-only transaction with a
//!   consistent snapshot, plain SELECTs); on the target one transaction per account, per
//!   family and per player, each writing its ledger row (`migrate_done`) in the same
//!   transaction, so a second run skips what is done and an interrupted run resumes.
//!   Mails are written under their original key, so a mail already there is skipped.
//! - [`generator`]: the test source (the original's tables and a filled store).
//!
//! One thread; nothing runs in the background.

pub mod generator;
pub mod map;
pub mod original_mail;
pub mod report;
pub mod settings;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mysql::prelude::{FromRow, Queryable};
use mysql::{Conn, Opts, Params, TxOpts, Value as SqlValue};
use serde_json::Value;

use mail::message::{MailClass, MailType};
use worker::game_config::GameConfig;

pub use report::{Action, Counts, Problem, Report, Tally};

/// Our ledger: one row per account (`world` ''), family and player written, in the same
/// transaction as its rows. The migration's own table; the game never reads it.
pub const LEDGER_DDL: &str = "CREATE TABLE IF NOT EXISTS migrate_done (
    world VARCHAR(32)  NOT NULL,
    what  VARCHAR(8)   NOT NULL,
    id    VARCHAR(191) NOT NULL,
    at    TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (world, what, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

const LEDGER_ACCOUNT: &str = "account";
const LEDGER_FAMILY: &str = "family";
const LEDGER_PLAYER: &str = "player";

/// The original's account, purchase and exchange code databases.
pub const DEFAULT_ACCOUNT_DB: &str = "user";
pub const DEFAULT_MALL_DB: &str = "mall";
pub const DEFAULT_EXCHANGE_DB: &str = "exchange";
/// Orders and codes are written this many to a transaction (they are independent rows,
/// kept once by their primary keys).
const GLOBAL_ROWS_PER_TRANSACTION: usize = 500;
/// Players whose holdings one read takes: memory stays bounded whatever the world's size.
pub const DEFAULT_PLAYERS_PER_READ: usize = 1000;
/// `created_by` of the exchange codes carried over.
const IMPORTED_BY: &str = "lukseun-migrate";

/// What to migrate, from where to where.
#[derive(Clone, Debug)]
pub struct Options {
    /// MySQL URL of the original's server (any database; names are qualified).
    pub source_url: String,
    /// MySQL URL of our database.
    pub target_url: String,
    /// The original's Maildir root (`<root>/.<world>/.<uid>/`), if mail is to be moved.
    pub source_maildir: Option<PathBuf>,
    /// Our mail service's store (`<root>/<world>/<uid>/`).
    pub target_maildir: Option<PathBuf>,
    /// Our auth service: an unread gift mail gets its acceptance nonce there (the
    /// original's nonces are not carried over). `None`: gifts come over as mail only.
    pub auth_url: Option<String>,
    /// Map, check and report everything; write nothing (transactions are rolled back).
    pub dry_run: bool,
    /// The original's world ids (database names) to import.
    pub worlds: Vec<String>,
    /// World id -> the world (database) it was merged into, from the original's world
    /// config (`merge`); a world not named is its own.
    pub merges: BTreeMap<String, String>,
    pub account_db: String,
    /// The original's purchase (`mall`) and exchange code (`exchange`) databases; `None`
    /// leaves them out.
    pub mall_db: Option<String>,
    pub exchange_db: Option<String>,
    /// Players whose holdings are read (and held in memory) at a time.
    pub players_per_read: usize,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl Options {
    pub fn new(source_url: &str, target_url: &str, worlds: &[&str]) -> Options {
        Options {
            source_url: source_url.into(),
            target_url: target_url.into(),
            source_maildir: None,
            target_maildir: None,
            auth_url: None,
            dry_run: false,
            worlds: worlds.iter().map(|w| w.to_string()).collect(),
            merges: BTreeMap::new(),
            account_db: DEFAULT_ACCOUNT_DB.into(),
            mall_db: Some(DEFAULT_MALL_DB.into()),
            exchange_db: Some(DEFAULT_EXCHANGE_DB.into()),
            players_per_read: DEFAULT_PLAYERS_PER_READ,
            progress: false,
        }
    }
}

/// The `merge` of each world in the original's world config (`{"worlds":[{"id","merge"}]}`).
pub fn merges_from_world_config(config: &Value) -> BTreeMap<String, String> {
    config
        .get("worlds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|w| {
            let id = w.get("id")?.as_str()?;
            let merge = w.get("merge").and_then(Value::as_str).unwrap_or(id);
            Some((id.to_string(), merge.to_string()))
        })
        .collect()
}

#[derive(Debug)]
pub enum MigrateError {
    Source(mysql::Error),
    Target(mysql::Error),
    TargetSchema(String),
    /// A database or world name that is not `A-Z a-z 0-9 _` (it goes into SQL as a name).
    BadName(String),
    Maildir(PathBuf, io::Error),
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrateError::Source(e) => write!(f, "source database: {e}"),
            MigrateError::Target(e) => write!(f, "target database: {e}"),
            MigrateError::TargetSchema(e) => write!(f, "target schema: {e}"),
            MigrateError::BadName(n) => {
                write!(f, "database name {n:?} is not A-Z a-z 0-9 _ (1-64)")
            }
            MigrateError::Maildir(p, e) => write!(f, "maildir {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::Source(e) | MigrateError::Target(e) => Some(e),
            MigrateError::Maildir(_, e) => Some(e),
            _ => None,
        }
    }
}

fn source_err(e: mysql::Error) -> MigrateError {
    MigrateError::Source(e)
}

fn target_err(e: mysql::Error) -> MigrateError {
    MigrateError::Target(e)
}

/// A name that may stand in SQL between backticks.
pub fn check_db_name(name: &str) -> Result<&str, MigrateError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(MigrateError::BadName(name.to_string()))
    }
}

// ------------------------------------------------------------------------ source rows

type InfoRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);
type PlayerRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
type FamilyRow = (
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// One player's rows of every per-player table, as read.
#[derive(Default)]
struct Holdings {
    progress: Option<(Option<i64>, Option<i64>, Option<i64>)>,
    items: Vec<(i64, i64)>,
    weapons: Vec<(i64, i64, i64, i64, i64)>,
    weapon_passives: Vec<(i64, i64, i64)>,
    roles: Vec<(i64, i64, i64, i64)>,
    role_passives: Vec<(i64, i64, i64)>,
    skills: Vec<(i64, i64)>,
    armors: Vec<(i64, i64, Option<i64>)>,
    sciences: Vec<(i64, i64)>,
    elements: Vec<(i64, i64)>,
    stages: Vec<(i64, i64)>,
    check_ins: Vec<(Option<String>, Option<i64>)>,
    achievements: Vec<(i64, Option<i64>, Option<i64>)>,
    /// (fid, level, workers, storage); fid -1 holds (unassigned, total) in
    /// (workers, storage), -2 is the wishing pool.
    factory: Vec<(i64, i64, i64, i64)>,
    /// The original's timers (tid, time) and limits (lid, value) that are not daily.
    timers: Vec<(i64, String)>,
    limits: Vec<(i64, Option<i64>)>,
    /// Dark market offers (pid, gid, mid, qty, cid, amt); a negative `amt` was sold.
    dark_market: Vec<(i64, i64, i64, i64, i64, i64)>,
    /// Summoning cells (cid, pid, mid, wgt, isb).
    summon: Vec<(i64, i64, String, i64, i64)>,
    /// (lid, stage, value): lid 1 the best single fight on a world boss, 2 the total.
    leaderboard: Vec<(i64, i64, i64)>,
    family_roles: Vec<(String, i64)>,
    friends: Vec<(String, String, String, i64)>,
}

/// Reads `sql`'s rows as `R`; a row that does not convert is reported and left out.
fn rows<R: FromRow>(
    conn: &mut Conn,
    sql: &str,
    table: &'static str,
    tally: &mut Tally,
) -> Result<Vec<R>, MigrateError> {
    rows_with(conn, sql, Params::Empty, table, tally)
}

/// [`rows`] of a statement with parameters.
fn rows_with<R: FromRow>(
    conn: &mut Conn,
    sql: &str,
    params: Params,
    table: &'static str,
    tally: &mut Tally,
) -> Result<Vec<R>, MigrateError> {
    let mut out = Vec::new();
    let result = conn.exec_iter(sql, params).map_err(source_err)?;
    for row in result {
        let row = row.map_err(source_err)?;
        tally.read(table, 1);
        match mysql::from_row_opt::<R>(row) {
            Ok(r) => out.push(r),
            Err(e) => tally.skip(table, sql.to_string(), format!("unreadable row: {e}")),
        }
    }
    Ok(out)
}

/// Reads a per-player table (uid first) and files each row under its player.
#[allow(clippy::too_many_arguments)]
fn per_player<R: FromRow>(
    conn: &mut Conn,
    (sql, params): (String, Params),
    table: &'static str,
    tally: &mut Tally,
    holdings: &mut HashMap<String, Holdings>,
    uid: impl Fn(&R) -> &str,
    file: impl Fn(&mut Holdings, R),
) -> Result<(), MigrateError> {
    for row in rows_with::<R>(conn, &sql, params, table, tally)? {
        match holdings.get_mut(uid(&row)) {
            Some(h) => file(h, row),
            // A row of a uid with no player: the source's foreign keys forbid it, but a
            // dump restored without them may hold it.
            None => {
                let who = uid(&row).to_string();
                tally.skip(table, who, "row of no player")
            }
        }
    }
    Ok(())
}

// ----------------------------------------------------------------------- game config

/// What the mapping needs from our game config.
struct Rules {
    /// (group, id) -> most a player may hold.
    items: HashMap<(i64, i64), i64>,
    exp_table: Vec<u64>,
    max_energy: i64,
    /// Element resets a player has for its whole life (player.json `elements.resets`).
    element_resets: i64,
}

impl Rules {
    fn from(config: &GameConfig) -> Rules {
        let mut items = HashMap::new();
        for group in config
            .file("items")
            .and_then(|f| f.get("groups"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(gid) = group.get("id").and_then(Value::as_i64) else {
                continue;
            };
            for item in group
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = item.get("id").and_then(Value::as_i64) {
                    let max = item.get("max").and_then(Value::as_i64).unwrap_or(i64::MAX);
                    items.insert((gid, id), max);
                }
            }
        }
        let exp_table = config
            .file("player_experience")
            .and_then(|f| f.pointer("/player_level/experience"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let max_energy = config
            .file("player")
            .and_then(|f| f.pointer("/energy/max_energy"))
            .and_then(Value::as_i64)
            .unwrap_or(120);
        let element_resets = config
            .file("player")
            .and_then(|f| f.pointer("/elements/resets"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        Rules {
            items,
            exp_table,
            max_energy,
            element_resets,
        }
    }
}

// Our item groups (game-config/items.json): weapon segments 0, role segments 2, items 3.
const GROUP_WEAPON_SEGMENT: i64 = 0;
const GROUP_ROLE_SEGMENT: i64 = 2;
const GROUP_ITEM: i64 = 3;
/// The original's `Timer` ids carried over (the daily ones start fresh).
const TIMER_VIP_MIN_END: i64 = 17;
const TIMER_VIP_MAX_END: i64 = 18;
const TIMER_FAMILY_JOIN_END: i64 = 23;
const TIMER_STAGE_HANG_UP: i64 = 41;
const TIMER_DARK_MARKET: i64 = 5;
/// Free dark market refreshes left (the original's `Limits` 1).
const LIMIT_DARK_MARKET: i64 = 1;
/// The original's skills group: a dark market offer may sell a skill.
const GROUP_SKILL: i64 = 1;
/// The end of each summoning store: (timer id, our store's currency item `cid`).
const SUMMON_STORE_ENDS: [(i64, i64); 3] = [(27, 5), (28, 1), (29, 16)];
/// The original's `Limits` ids carried over: the summoning integral step and the element
/// resets left (for life).
const LIMIT_INTEGRAL: i64 = 13;
const LIMIT_PLAYER_ELEMENT: i64 = 23;
/// The integral steps our summon module knows.
const INTEGRAL_STEPS: [i64; 5] = [0, 200, 400, 600, 800];
/// The original's `LeaderBoard` ids: a player's best world boss fight and its total.
const LEADERBOARD_BEST: i64 = 1;
const LEADERBOARD_TOTAL: i64 = 2;

// ------------------------------------------------------------------------------ run

/// Statements of one transaction, grouped by table for the counts.
struct Batch {
    statements: Vec<(&'static str, &'static str, Vec<Params>)>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            statements: Vec::new(),
        }
    }

    fn add(&mut self, table: &'static str, sql: &'static str, params: Params) {
        match self.statements.iter_mut().find(|(_, s, _)| *s == sql) {
            Some((_, _, list)) => list.push(params),
            None => self.statements.push((table, sql, vec![params])),
        }
    }

    /// Runs every statement in one transaction with the ledger row; commits unless
    /// `dry_run`. Counts go to `tally` only when it commits (or would, in a dry run).
    /// `Ok(Err(why))`: the server refused a row, the transaction is rolled back and the
    /// run goes on. `Err`: the connection failed; the run stops (a new run resumes).
    fn commit(
        self,
        conn: &mut mysql::PooledConn,
        ledger: (&str, &str, &str),
        dry_run: bool,
        mut tally: Tally,
        into: &mut Tally,
    ) -> Result<Result<(), String>, MigrateError> {
        let outcome = (|| -> Result<(), mysql::Error> {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            for (table, sql, params) in &self.statements {
                tx.exec_batch(*sql, params.iter().cloned())?;
                tally.written(table, params.len() as u64);
            }
            tx.exec_drop(
                "INSERT INTO migrate_done (world, what, id) VALUES (?, ?, ?)",
                ledger,
            )?;
            if dry_run {
                tx.rollback()
            } else {
                tx.commit()
            }
        })();
        match outcome {
            Ok(()) => {
                into.merge(tally);
                Ok(Ok(()))
            }
            // Rolled back when `tx` dropped: nothing of it stays.
            Err(e @ mysql::Error::MySqlError(_)) => {
                into.merge(tally.unwritten());
                Ok(Err(e.to_string()))
            }
            Err(e) => Err(target_err(e)),
        }
    }
}

fn done_before(
    conn: &mut mysql::PooledConn,
    world: &str,
    what: &str,
    id: &str,
) -> Result<bool, MigrateError> {
    let found: Option<i64> = conn
        .exec_first(
            "SELECT 1 FROM migrate_done WHERE world = ? AND what = ? AND id = ?",
            (world, what, id),
        )
        .map_err(target_err)?;
    Ok(found.is_some())
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs the migration and answers its report.
pub fn run(options: &Options) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let account_db = check_db_name(&options.account_db)?.to_string();
    for world in &options.worlds {
        check_db_name(world)?;
    }
    // Our schema first: the worker's migrations (what it runs at start), then the ledger.
    let db = worker::db::Db::open(&options.target_url, 2)
        .map_err(|e| MigrateError::TargetSchema(e.to_string()))?;
    worker::db::migrate(&db).map_err(|e| MigrateError::TargetSchema(e.to_string()))?;
    let mut target = db
        .conn()
        .map_err(|e| MigrateError::TargetSchema(e.to_string()))?;
    target.query_drop(LEDGER_DDL).map_err(target_err)?;

    let opts =
        Opts::from_url(&options.source_url).map_err(|e| source_err(mysql::Error::UrlError(e)))?;
    let mut source = Conn::new(opts).map_err(source_err)?;
    // Read-only and one snapshot for the whole run: every table as of one moment.
    source
        .query_drop("SET SESSION TRANSACTION READ ONLY")
        .map_err(source_err)?;
    source
        .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .map_err(source_err)?;

    let rules = Rules::from(&GameConfig::embedded());
    let mut report = Report {
        dry_run: options.dry_run,
        ..Report::default()
    };
    let progress = |line: String| {
        if options.progress {
            eprintln!("{line}");
        }
    };

    // Accounts.
    let infos: Vec<InfoRow> = rows(
        &mut source,
        &format!(
            "SELECT unique_id, cuid, password, salt, account, email, phone_number \
             FROM `{account_db}`.`info` ORDER BY unique_id"
        ),
        "info",
        &mut report.tally,
    )?;
    let mut accounts: HashSet<String> = HashSet::new();
    let mut claimed = Claimed::default();
    let total = infos.len();
    for (n, info) in infos.into_iter().enumerate() {
        let uid = info.0.clone();
        if migrate_account(
            &mut target,
            info,
            &mut claimed,
            options.dry_run,
            &mut report,
        )? {
            accounts.insert(uid);
        }
        if (n + 1) % 1000 == 0 || n + 1 == total {
            progress(format!("accounts: {}/{total}", n + 1));
        }
    }

    // Worlds, grouped by the database that holds them after merges.
    let mut databases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for world in &options.worlds {
        let db = options
            .merges
            .get(world)
            .cloned()
            .unwrap_or_else(|| world.clone());
        check_db_name(&db)?;
        let merged = databases.entry(db.clone()).or_default();
        if *world != db {
            merged.push(world.clone());
        }
    }
    for (db, merged_from) in &databases {
        let done = migrate_world(
            &mut source,
            &mut target,
            db,
            merged_from,
            &accounts,
            &rules,
            options,
            &mut report,
            &progress,
        )?;
        if let (Some(from), Some(to)) = (&options.source_maildir, &options.target_maildir) {
            let mut worlds = vec![db.clone()];
            worlds.extend(merged_from.iter().cloned());
            for world in &worlds {
                migrate_mail(
                    &from.join(format!(".{world}")),
                    to,
                    db,
                    merged_from,
                    &done,
                    options,
                    &mut report,
                )?;
            }
            progress(format!(
                "world {db}: mail converted {}",
                report.mails_converted
            ));
        }
    }
    if let Some(mall_db) = &options.mall_db {
        migrate_orders(
            &mut source,
            &mut target,
            check_db_name(mall_db)?,
            &options.merges,
            &accounts,
            options.dry_run,
            &mut report,
        )?;
    }
    if let Some(exchange_db) = &options.exchange_db {
        migrate_codes(
            &mut source,
            &mut target,
            check_db_name(exchange_db)?,
            options.dry_run,
            &mut report,
        )?;
    }
    source.query_drop("ROLLBACK").map_err(source_err)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Account names, emails, phone numbers and cids this run gave out (column, value) -> uid,
/// so a dry run, whose rows are rolled back, finds the same duplicates as a run.
#[derive(Default)]
struct Claimed(HashMap<(&'static str, String), String>);

/// Rows of a table of a database that may not exist (an original without purchases):
/// `None`, reported, when the server says there is no such database or table.
fn optional_rows<R: FromRow>(
    conn: &mut Conn,
    sql: &str,
    table: &'static str,
    tally: &mut Tally,
) -> Result<Option<Vec<R>>, MigrateError> {
    // ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE
    const MISSING: [u16; 2] = [1049, 1146];
    match rows(conn, sql, table, tally) {
        Ok(r) => Ok(Some(r)),
        Err(MigrateError::Source(mysql::Error::MySqlError(e))) if MISSING.contains(&e.code) => {
            tally.skip(table, "(table)", format!("not read: {}", e.message));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Writes `rows` (statement, params) in transactions of [`GLOBAL_ROWS_PER_TRANSACTION`],
/// each row `INSERT IGNORE` so a second run keeps what is there; counts what was new.
fn write_global(
    target: &mut mysql::PooledConn,
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
fn migrate_orders(
    source: &mut Conn,
    target: &mut mysql::PooledConn,
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
fn migrate_codes(
    source: &mut Conn,
    target: &mut mysql::PooledConn,
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

/// One account in one transaction; `Ok(true)` when it is (or was already) with us.
fn migrate_account(
    target: &mut mysql::PooledConn,
    info: InfoRow,
    claimed: &mut Claimed,
    dry_run: bool,
    report: &mut Report,
) -> Result<bool, MigrateError> {
    let (uid, cuid, password, salt, account, email, phone) = info;
    let table = "info";
    let mut tally = Tally::default();
    if uid.is_empty() || uid.chars().count() > map::MAX_UID_CHARS {
        report
            .tally
            .skip(table, uid, "unique_id empty or over 64 characters");
        return Ok(false);
    }
    if done_before(target, "", LEDGER_ACCOUNT, &uid)? {
        report.done_before += 1;
        return Ok(true);
    }
    // The device logged in to us before the switch (a guest account made by
    // `login_unique`): ours is kept, the player and its holdings still come.
    let ours: Option<i64> = target
        .exec_first("SELECT 1 FROM accounts WHERE unique_id = ?", (&uid,))
        .map_err(target_err)?;
    if ours.is_some() {
        report.tally.repair(
            table,
            uid.clone(),
            "account already with us: ours kept, its credentials not imported",
        );
        let batch = Batch::new();
        return match batch.commit(
            target,
            ("", LEDGER_ACCOUNT, &uid),
            dry_run,
            Tally::default(),
            &mut report.tally,
        )? {
            Ok(()) => Ok(true),
            Err(why) => {
                report.tally.skip(table, uid, format!("not written: {why}"));
                Ok(false)
            }
        };
    }
    let password = match map::original_password(
        password.as_deref().unwrap_or(""),
        salt.as_deref().unwrap_or(""),
    ) {
        Ok(p) => p,
        Err(why) => {
            // Without a usable hash the account is a guest: its device id still logs in.
            tally.repair(table, uid.clone(), format!("{why}: password dropped"));
            None
        }
    };
    let mut account = map::blank_to_none(account).map(|a| a.to_lowercase());
    if account
        .as_ref()
        .is_some_and(|a| a.chars().count() > map::MAX_ACCOUNT_CHARS)
    {
        tally.repair(
            table,
            uid.clone(),
            "account name over 32 characters: dropped",
        );
        account = None;
    }
    use worker::modules::account::contact::Kind;
    let email = map::blank_to_none(email).map(|e| Kind::Email.stored_form(&e).unwrap_or(e));
    let phone = map::blank_to_none(phone).map(|p| Kind::Phone.stored_form(&p).unwrap_or(p));
    let cid = map::blank_to_none(cuid).filter(|c| c.chars().count() <= map::MAX_CID_CHARS);
    // Our names, emails and phone numbers are unique; the original's were not (by key).
    let mut unique = |column: &'static str,
                      value: Option<String>|
     -> Result<Option<String>, MigrateError> {
        let Some(v) = value else { return Ok(None) };
        let sql = format!("SELECT unique_id FROM accounts WHERE {column} = ? AND unique_id <> ?");
        let mut other: Option<String> = target.exec_first(sql, (&v, &uid)).map_err(target_err)?;
        if other.is_none() {
            let holder = claimed
                .0
                .entry((column, v.clone()))
                .or_insert_with(|| uid.clone());
            other = Some(holder.clone()).filter(|h| *h != uid);
        }
        if let Some(other) = other {
            tally.repair(
                table,
                uid.clone(),
                format!("{column} {v:?} is also account {other:?}'s: dropped"),
            );
            return Ok(None);
        }
        Ok(Some(v))
    };
    let account = unique("account", account)?;
    let email = unique("email", email)?;
    let phone = unique("phone_number", phone)?;
    let cid = unique("cid", cid)?;
    let mut batch = Batch::new();
    batch.add(
        "accounts",
        "INSERT INTO accounts (unique_id, account, email, phone_number, password, cid) \
         VALUES (?, ?, ?, ?, ?, ?)",
        Params::from((uid.clone(), account, email, phone, password, cid)),
    );
    match batch.commit(
        target,
        ("", LEDGER_ACCOUNT, &uid),
        dry_run,
        tally,
        &mut report.tally,
    )? {
        Ok(()) => {
            report.accounts_migrated += 1;
            Ok(true)
        }
        Err(why) => {
            report.tally.skip(table, uid, format!("not written: {why}"));
            Ok(false)
        }
    }
}

/// A world database's players and families, as read; holdings are read a range of
/// players at a time ([`read_holdings`]).
struct WorldSource {
    players: Vec<PlayerRow>,
    families: Vec<FamilyRow>,
    history: HashMap<String, Vec<(String, String)>>,
}

/// Players in uid order, families and their history.
fn read_world(conn: &mut Conn, db: &str, tally: &mut Tally) -> Result<WorldSource, MigrateError> {
    let q = |table: &str, columns: &str| format!("SELECT {columns} FROM `{db}`.`{table}`");
    let players: Vec<PlayerRow> = rows(
        conn,
        &(q("player", "uid, gn, fid, icon, intro") + " ORDER BY uid"),
        "player",
        tally,
    )?;
    let families: Vec<FamilyRow> = rows(
        conn,
        &q("family", "name, icon, exp, notice, board"),
        "family",
        tally,
    )?;
    let mut history: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (name, date, msg) in rows::<(String, String, String)>(
        conn,
        &(q("familyhistory", "name, date, msg") + " ORDER BY hid"),
        "familyhistory",
        tally,
    )? {
        history.entry(name).or_default().push((date, msg));
    }
    Ok(WorldSource {
        players,
        families,
        history,
    })
}

/// Every per-player table's rows with `from <= uid < to` (an open end: `None`), filed
/// under `players`, the players of that range. Ranges that follow each other read every
/// row once, a row of no player too (it is reported).
fn read_holdings(
    conn: &mut Conn,
    db: &str,
    (from, to): (Option<&str>, Option<&str>),
    players: &[PlayerRow],
    tally: &mut Tally,
) -> Result<HashMap<String, Holdings>, MigrateError> {
    let mut range = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(from) = from {
        range.push("uid >= ?");
        params.push(from.into());
    }
    if let Some(to) = to {
        range.push("uid < ?");
        params.push(to.into());
    }
    let filter = if range.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", range.join(" AND "))
    };
    let q = |table: &str, columns: &str| {
        (
            format!("SELECT {columns} FROM `{db}`.`{table}`{filter}"),
            if params.is_empty() {
                Params::Empty
            } else {
                Params::Positional(params.clone())
            },
        )
    };
    let mut h: HashMap<String, Holdings> = players
        .iter()
        .map(|p| (p.0.clone(), Holdings::default()))
        .collect();
    per_player(
        conn,
        q("progress", "uid, energy, exp, vipexp"),
        "progress",
        tally,
        &mut h,
        |r: &(String, Option<i64>, Option<i64>, Option<i64>)| &r.0,
        |h, (_, a, b, c)| h.progress = Some((a, b, c)),
    )?;
    per_player(
        conn,
        q("item", "uid, iid, value"),
        "item",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.items.push((a, b)),
    )?;
    per_player(
        conn,
        q("weapon", "uid, wid, star, level, skillpoint, segment"),
        "weapon",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d, e)| h.weapons.push((a, b, c, d, e)),
    )?;
    per_player(
        conn,
        q("weaponpassive", "uid, wid, pid, level"),
        "weaponpassive",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64)| &r.0,
        |h, (_, a, b, c)| h.weapon_passives.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("role", "uid, rid, star, level, segment"),
        "role",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d)| h.roles.push((a, b, c, d)),
    )?;
    per_player(
        conn,
        q("rolepassive", "uid, rid, pid, level"),
        "rolepassive",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64)| &r.0,
        |h, (_, a, b, c)| h.role_passives.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("skill", "uid, sid, level"),
        "skill",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.skills.push((a, b)),
    )?;
    per_player(
        conn,
        q("armor", "uid, aid, level, quantity"),
        "armor",
        tally,
        &mut h,
        |r: &(String, i64, i64, Option<i64>)| &r.0,
        |h, (_, a, b, c)| h.armors.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("sciences", "uid, ssa, level"),
        "sciences",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.sciences.push((a, b)),
    )?;
    per_player(
        conn,
        q("elements", "uid, eid, val"),
        "elements",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.elements.push((a, b)),
    )?;
    per_player(
        conn,
        q("stages", "uid, sid, stage"),
        "stages",
        tally,
        &mut h,
        |r: &(String, i64, i64)| &r.0,
        |h, (_, a, b)| h.stages.push((a, b)),
    )?;
    per_player(
        conn,
        q("check_in", "uid, date, reward"),
        "check_in",
        tally,
        &mut h,
        |r: &(String, Option<String>, Option<i64>)| &r.0,
        |h, (_, a, b)| h.check_ins.push((a, b)),
    )?;
    per_player(
        conn,
        q("achievement", "uid, aid, value, reward"),
        "achievement",
        tally,
        &mut h,
        |r: &(String, i64, Option<i64>, Option<i64>)| &r.0,
        |h, (_, a, b, c)| h.achievements.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("factory", "uid, fid, level, workers, storage"),
        "factory",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d)| h.factory.push((a, b, c, d)),
    )?;
    per_player(
        conn,
        q("timer", "uid, tid, time"),
        "timer",
        tally,
        &mut h,
        |r: &(String, i64, String)| &r.0,
        |h, (_, a, b)| h.timers.push((a, b)),
    )?;
    per_player(
        conn,
        q("limits", "uid, lid, value"),
        "limits",
        tally,
        &mut h,
        |r: &(String, i64, Option<i64>)| &r.0,
        |h, (_, a, b)| h.limits.push((a, b)),
    )?;
    per_player(
        conn,
        q("darkmarket", "uid, pid, gid, mid, qty, cid, amt"),
        "darkmarket",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64, i64, i64, i64)| &r.0,
        |h, (_, a, b, c, d, e, f)| h.dark_market.push((a, b, c, d, e, f)),
    )?;
    per_player(
        conn,
        q("summon", "uid, cid, pid, mid, wgt, isb"),
        "summon",
        tally,
        &mut h,
        |r: &(String, i64, i64, String, i64, i64)| &r.0,
        |h, (_, a, b, c, d, e)| h.summon.push((a, b, c, d, e)),
    )?;
    per_player(
        conn,
        q("leaderboard", "uid, lid, stage, value"),
        "leaderboard",
        tally,
        &mut h,
        |r: &(String, i64, i64, i64)| &r.0,
        |h, (_, a, b, c)| h.leaderboard.push((a, b, c)),
    )?;
    per_player(
        conn,
        q("familyrole", "uid, name, role"),
        "familyrole",
        tally,
        &mut h,
        |r: &(String, String, i64)| &r.0,
        |h, (_, a, b)| h.family_roles.push((a, b)),
    )?;
    per_player(
        conn,
        q("friend", "uid, fid, since, recover, isre"),
        "friend",
        tally,
        &mut h,
        |r: &(String, String, String, String, i64)| &r.0,
        |h, (_, a, b, c, d)| h.friends.push((a, b, c, d)),
    )?;
    Ok(h)
}

/// Migrates one world database; answers the uids of its players that are with us.
#[allow(clippy::too_many_arguments)]
fn migrate_world(
    source: &mut Conn,
    target: &mut mysql::PooledConn,
    db: &str,
    merged_from: &[String],
    accounts: &HashSet<String>,
    rules: &Rules,
    options: &Options,
    report: &mut Report,
    progress: &dyn Fn(String),
) -> Result<WorldDone, MigrateError> {
    let world = db;
    let mut pending: Pending = HashMap::new();
    let mut src = read_world(source, db, &mut report.tally)?;
    progress(format!(
        "world {world}: read {} players, {} families",
        src.players.len(),
        src.families.len()
    ));
    let ours = |uid: &str| map::unmerged_uid(uid, merged_from, |u| accounts.contains(u));

    // Families, each in its own transaction.
    let family_names: HashSet<String> = src.families.iter().map(|f| f.0.clone()).collect();
    for (name, icon, exp, notice, board) in std::mem::take(&mut src.families) {
        if done_before(target, world, LEDGER_FAMILY, &name)? {
            report.done_before += 1;
            continue;
        }
        let fid = map::family_id(world, &name);
        let mut tally = Tally::default();
        let mut batch = Batch::new();
        batch.add(
            "families",
            "INSERT INTO families (world, fid, name, icon, exp, notice, board) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            Params::from((
                world,
                &fid,
                &name,
                icon.unwrap_or(0),
                exp.unwrap_or(0).max(0),
                notice.unwrap_or_default(),
                board.unwrap_or_default(),
            )),
        );
        for (date, msg) in src.history.remove(&name).unwrap_or_default() {
            match map::original_time(&date) {
                Some(at) => batch.add(
                    "family_history",
                    "INSERT INTO family_history (world, fid, at, msg) VALUES (?, ?, ?, ?)",
                    Params::from((world, &fid, at, msg)),
                ),
                None => tally.skip(
                    "familyhistory",
                    format!("{world}/{name}"),
                    format!("unreadable date {date:?}"),
                ),
            }
        }
        match batch.commit(
            target,
            (world, LEDGER_FAMILY, &name),
            options.dry_run,
            tally,
            &mut report.tally,
        )? {
            Ok(()) => report.families_migrated += 1,
            Err(why) => report.tally.skip(
                "family",
                format!("{world}/{name}"),
                format!("not written: {why}"),
            ),
        }
    }
    for (name, entries) in &src.history {
        for _ in entries {
            report.tally.skip(
                "familyhistory",
                format!("{world}/{name}"),
                "history of no family",
            );
        }
    }

    // Names already used in the target world (a resumed run, players made with us).
    let mut taken: HashSet<String> = target
        .exec::<String, _, _>("SELECT gn FROM players WHERE world = ?", (world,))
        .map_err(target_err)?
        .into_iter()
        .collect();
    let source_uids: HashSet<String> = src.players.iter().map(|p| p.0.clone()).collect();
    let mut migrated: HashSet<String> = HashSet::new();
    let total = src.players.len();
    let now = now_secs();
    let players = std::mem::take(&mut src.players);
    let per_read = options.players_per_read.max(1);
    let mut holdings_of: HashMap<String, Holdings> = HashMap::new();
    for (n, (src_uid, gn, fid, icon, intro)) in players.iter().cloned().enumerate() {
        if n % per_read == 0 {
            // The next range: from this player (open for the first) to the first player
            // of the range after it (open for the last).
            let from = (n > 0).then_some(src_uid.as_str());
            let to = players.get(n + per_read).map(|p| p.0.as_str());
            let end = (n + per_read).min(total);
            holdings_of =
                read_holdings(source, db, (from, to), &players[n..end], &mut report.tally)?;
        }
        let holdings = holdings_of.remove(&src_uid).unwrap_or_default();
        let uid = ours(&src_uid);
        // Friend requests this player sent that are still pending: their mails get an
        // acceptance once the player is with us (the mail names it by this game name).
        let requested: Vec<String> = holdings
            .friends
            .iter()
            .filter(|(_, since, _, _)| since.is_empty())
            .map(|(friend, ..)| ours(friend))
            .collect();
        let sent_as = gn.split_whitespace().collect::<Vec<_>>().join(" ");
        let note_requests = |pending: &mut Pending, uid: &str| {
            for recipient in &requested {
                pending
                    .entry(recipient.clone())
                    .or_default()
                    .insert(sent_as.clone(), uid.to_string());
            }
        };
        let row = format!("{world}/{src_uid}");
        if n > 0 && n % 1000 == 0 {
            progress(format!("world {world}: players {n}/{total}"));
        }
        if !accounts.contains(&uid) {
            report
                .tally
                .skip("player", row, "no account with this unique_id");
            continue;
        }
        if migrated.contains(&uid) {
            report.tally.skip(
                "player",
                row,
                "the account has a player in this world already (merged worlds)",
            );
            continue;
        }
        if done_before(target, world, LEDGER_PLAYER, &uid)? {
            report.done_before += 1;
            note_requests(&mut pending, &uid);
            migrated.insert(uid);
            continue;
        }
        let mut tally = Tally::default();
        let mut batch = Batch::new();
        let (gn, repaired) = map::repaired_gn(&gn, &uid, |g| taken.contains(g));
        if repaired {
            tally.repair(
                "player",
                row.clone(),
                format!("game name taken or unfit: now {gn:?}"),
            );
        }
        let (_, exp, vipexp) = holdings.progress.unwrap_or((None, None, None));
        let exp = exp.unwrap_or(0).max(0);
        let (level, _) = worker::modules::stage::level_of(&rules.exp_table, exp as u64);
        let icon = icon.and_then(|i| i.trim().parse::<i32>().ok()).unwrap_or(0);
        batch.add(
            "players",
            "INSERT INTO players (world, unique_id, gn, icon, level, exp, intro) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            Params::from((
                world,
                &uid,
                &gn,
                icon,
                level,
                exp,
                intro.unwrap_or_default(),
            )),
        );
        player_rows(
            &mut batch,
            &mut tally,
            world,
            &uid,
            &row,
            holdings,
            fid,
            &family_names,
            &source_uids,
            &ours,
            rules,
            vipexp,
            now,
        );
        match batch.commit(
            target,
            (world, LEDGER_PLAYER, &uid),
            options.dry_run,
            tally,
            &mut report.tally,
        )? {
            Ok(()) => {
                report.players_migrated += 1;
                taken.insert(gn);
                note_requests(&mut pending, &uid);
                migrated.insert(uid);
            }
            Err(why) => report
                .tally
                .skip("player", row, format!("not written: {why}")),
        }
    }
    progress(format!("world {world}: players {total}/{total}"));
    // Rows of uids without a player were reported by `per_player`.
    Ok(WorldDone {
        players: migrated,
        pending,
    })
}

/// Pending friend requests: recipient uid -> (the sender's game name as its mail shows
/// it -> the sender's uid).
type Pending = HashMap<String, HashMap<String, String>>;

/// What a world's migration leaves for its mail.
struct WorldDone {
    /// Players that are with us.
    players: HashSet<String>,
    pending: Pending,
}

/// The rows of one player's holdings and progress, checked against our rules.
#[allow(clippy::too_many_arguments)]
fn player_rows(
    batch: &mut Batch,
    tally: &mut Tally,
    world: &str,
    uid: &str,
    row: &str,
    h: Holdings,
    fid: Option<String>,
    family_names: &HashSet<String>,
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
    // Family: the role row of the family `player.fid` names, else the first of a family
    // that exists; a `fid` without a role row joins as a basic member (the original's
    // trigger made that row whenever fid was set).
    let mut memberships: Vec<(String, i64)> = h
        .family_roles
        .into_iter()
        .filter(|(name, _)| {
            let known = family_names.contains(name);
            if !known {
                tally.skip(
                    "familyrole",
                    row.to_string(),
                    format!("member of no family {name:?}"),
                );
            }
            known
        })
        .collect();
    if let Some(fid) = fid.filter(|f| family_names.contains(f)) {
        if let Some(i) = memberships.iter().position(|(n, _)| *n == fid) {
            memberships.swap(0, i);
        } else {
            tally.repair(
                "familyrole",
                row.to_string(),
                format!("fid {fid:?} without a role row: basic member"),
            );
            memberships.insert(0, (fid, 0));
        }
    }
    for (extra, _) in memberships.iter().skip(1) {
        tally.skip(
            "familyrole",
            row.to_string(),
            format!("second family {extra:?}: one family per player"),
        );
    }
    if let Some((name, role)) = memberships.into_iter().next() {
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

/// The timers and limits that outlive a day: VIP month cards, the family join cooldown,
/// idle rewards' start, summoning stores, the integral step, element resets left.
#[allow(clippy::too_many_arguments)]
fn timers_and_limits(
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
fn factory_row(
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
fn today() -> String {
    let (y, m, d) = map::civil_from_days(now_secs().div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

// ------------------------------------------------------------------------------ mail

/// Converts the mailboxes under `world_dir` (`<source>/.<world>`) of migrated players
/// into `<target>/<db>/<uid>/`, keeping each mail's key and read state.
fn migrate_mail(
    world_dir: &Path,
    target_root: &Path,
    db: &str,
    merged_from: &[String],
    done: &WorldDone,
    options: &Options,
    report: &mut Report,
) -> Result<(), MigrateError> {
    let (players, pending) = (&done.players, &done.pending);
    let table = "mail";
    let dry_run = options.dry_run;
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| MigrateError::Maildir(p, e)
    };
    let entries = match fs::read_dir(world_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(MigrateError::Maildir(world_dir.to_path_buf(), e)),
    };
    let mut boxes: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(world_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(uid) = name.strip_prefix('.') {
            if entry.path().is_dir() {
                boxes.push((uid.to_string(), entry.path()));
            }
        }
    }
    boxes.sort();
    for (folder_uid, dir) in boxes {
        let uid = map::unmerged_uid(&folder_uid, merged_from, |u| players.contains(u));
        let files = mail_files(&dir).map_err(io_err(&dir))?;
        let mailbox = if players.contains(&uid) {
            mail::names::MailboxId::new(db, &uid).ok()
        } else {
            None
        };
        let Some(mailbox) = mailbox else {
            for (path, _) in files {
                report.tally.read(table, 1);
                report.tally.skip(
                    table,
                    path.display().to_string(),
                    "mailbox of no migrated player (or a uid our store cannot name)",
                );
            }
            continue;
        };
        let out_dir = target_root.join(mailbox.world()).join(mailbox.uid());
        let mut wrote = false;
        for (path, in_cur) in files {
            report.tally.read(table, 1);
            let file_name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let (key, flags) = original_mail::split_file_name(&file_name);
            let key = if mail::names::check_key(key).is_ok() {
                key.to_string()
            } else {
                derived_key(&file_name)
            };
            if !dry_run && already_there(&out_dir, &key).map_err(io_err(&out_dir))? {
                report.mails_done_before += 1;
                continue;
            }
            let shown = path.display().to_string();
            let raw = fs::read(&path).map_err(io_err(&path))?;
            let original = match original_mail::parse(&raw) {
                Ok(m) => m,
                Err(e) => {
                    report.tally.skip(table, shown, e.to_string());
                    continue;
                }
            };
            let secs = original
                .time
                .as_deref()
                .and_then(map::original_time)
                .or_else(|| key.split('.').next().and_then(|s| s.parse().ok()))
                .unwrap_or_else(now_secs)
                .max(0) as u64;
            let mut from = original.from.clone();
            if from.trim().is_empty() {
                from = "system".into();
                report
                    .tally
                    .repair(table, shown.clone(), "empty sender: \"system\"");
            }
            let checked = mail::api::checked_mail(
                original.kind,
                from,
                original.subj,
                original.body,
                original.items,
            );
            let mail = match checked {
                Ok(m) => m,
                Err(why) => {
                    report.tally.skip(table, shown, why);
                    continue;
                }
            };
            let class = if mail.kind == MailType::Gift {
                MailClass::System
            } else {
                MailClass::Player
            };
            // An unread gift or friend request was not accepted in the original (accepting
            // marks a gift read; a friend request stays pending in `friend`): it gets its
            // acceptance with us before the mail is written, so a crash in between leaves
            // a nonce that the next run finds registered.
            let unread = !(in_cur && flags.contains('S'));
            let request = matches!(mail.kind, MailType::Gift | MailType::FriendRequest);
            if request && unread {
                let requesters = pending.get(&uid).cloned().unwrap_or_default();
                match acceptance(options, db, &uid, &key, &mail, &requesters) {
                    Ok(()) => report.tally.written("request_nonce", 1),
                    Err(why) => report.tally.repair(table, shown.clone(), why),
                }
            }
            let text = mail::message::render_as(&key, secs, &mail, class);
            if !dry_run {
                write_mail(&out_dir, &key, in_cur, flags, text.as_bytes())
                    .map_err(io_err(&out_dir))?;
                wrote = true;
            }
            report.tally.written(table, 1);
            report.mails_converted += 1;
        }
        if wrote {
            for sub in ["new", "cur"] {
                sync_dir(&out_dir.join(sub)).map_err(io_err(&out_dir))?;
            }
        }
    }
    Ok(())
}

/// Registers the acceptance of an unread gift or friend request (not in a dry run); why
/// not, if it cannot. A friend request names its sender by game name (`from`): the
/// player of that name in the source world, who must have asked (a pending `friend` row).
fn acceptance(
    options: &Options,
    world: &str,
    uid: &str,
    key: &str,
    mail: &mail::message::Mail,
    requesters: &HashMap<String, String>,
) -> Result<(), String> {
    use worker::modules::item::Item;
    use worker::modules::mail::request::{register_imported, RequestKind, RequestMail};
    let what = if mail.kind == MailType::Gift {
        "gift"
    } else {
        "friend request"
    };
    let fail = |why: String| format!("unread {what} carried as mail only: {why}");
    let items: Vec<Item> = mail
        .items
        .iter()
        .map(|i| Item::parse(i))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let mut payload = serde_json::Map::new();
    let (kind, sender) = if mail.kind == MailType::Gift {
        (RequestKind::Gift, None)
    } else {
        let sender = requesters
            .get(&mail.from)
            .ok_or_else(|| fail(format!("no pending request from {:?}", mail.from)))?;
        payload.insert("requester".into(), sender.clone().into());
        (RequestKind::FriendRequest, Some(sender.as_str()))
    };
    let Some(auth) = &options.auth_url else {
        return Err(fail("no --auth-url".into()));
    };
    if options.dry_run {
        return Ok(());
    }
    let request = RequestMail {
        world,
        target_uid: uid,
        kind,
        from: &mail.from,
        sender,
        subj: &mail.subject,
        body: &mail.body,
        items: &items,
        payload,
    };
    register_imported(auth, key, &request)
        .map(|_| ())
        .map_err(fail)
}

/// The mail files of one original mailbox: (path, whether in `cur/`), sorted.
fn mail_files(dir: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for (sub, in_cur) in [("new", false), ("cur", true)] {
        let entries = match fs::read_dir(dir.join(sub)) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with('.') && entry.path().is_file() {
                out.push((entry.path(), in_cur));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A key of our form for a file whose name is not one: from the name's hash, so a
/// second run finds it again.
fn derived_key(file_name: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(file_name.as_bytes());
    let n = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    format!(
        "{}.M{}P0Q{}.migrated",
        n(0) % 2_000_000_000,
        n(4) % 1_000_000,
        n(8)
    )
}

fn already_there(out_dir: &Path, key: &str) -> io::Result<bool> {
    if out_dir.join("new").join(key).exists() {
        return Ok(true);
    }
    match fs::read_dir(out_dir.join("cur")) {
        Ok(entries) => {
            for entry in entries {
                let name = entry?.file_name();
                if original_mail::split_file_name(&name.to_string_lossy()).0 == key {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `tmp/<key>`, fsyncs it and renames it into `new/<key>` or `cur/<key>:2,<flags>`
/// (the mail service's layout, docs/mail.md).
fn write_mail(out_dir: &Path, key: &str, in_cur: bool, flags: &str, text: &[u8]) -> io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(out_dir.join(sub))?;
    }
    let tmp = out_dir.join("tmp").join(key);
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
    }
    let dest = if in_cur {
        let mut flags: Vec<char> = flags.chars().filter(char::is_ascii_alphabetic).collect();
        flags.sort_unstable();
        flags.dedup();
        let flags: String = flags.into_iter().collect();
        out_dir.join("cur").join(format!("{key}:2,{flags}"))
    } else {
        out_dir.join("new").join(key)
    };
    fs::rename(&tmp, dest)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    match fs::File::open(dir) {
        Ok(f) => f.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_checked_before_they_reach_sql() {
        assert!(check_db_name("s0").is_ok());
        assert!(check_db_name("user").is_ok());
        for bad in ["", "s0`; DROP", "a.b", "a-b", &"x".repeat(65)] {
            assert!(check_db_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn merges_come_from_the_originals_world_config() {
        let config = serde_json::json!({"worlds": [
            {"id": "s0", "merge": "s0"}, {"id": "s1", "merge": "s0"}, {"id": "s2"}
        ]});
        let m = merges_from_world_config(&config);
        assert_eq!(m["s1"], "s0");
        assert_eq!(m["s2"], "s2");
    }

    #[test]
    fn derived_keys_are_keys_and_stable() {
        let k = derived_key("weird name:2,S");
        assert!(mail::names::check_key(&k).is_ok(), "{k}");
        assert_eq!(k, derived_key("weird name:2,S"));
        assert_ne!(k, derived_key("other"));
    }

    #[test]
    fn today_is_a_date() {
        assert!(map::sql_date(&today()).is_some());
    }

    #[test]
    fn our_item_rules_come_from_the_game_config() {
        let rules = Rules::from(&GameConfig::embedded());
        assert!(rules.items.contains_key(&(GROUP_ITEM, 1)));
        assert!(rules.items.contains_key(&(GROUP_WEAPON_SEGMENT, 301)));
        assert!(!rules.items.contains_key(&(GROUP_ITEM, 99_999)));
        assert!(rules.exp_table.len() > 10);
        assert!(rules.max_energy > 0);
    }
}
