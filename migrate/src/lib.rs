//! lukseun-migrate: imports the original game's databases (the account database `user`,
//! one database per world) and its Maildir store into our schema and mail store.
//!
//! - [`map`]: pure value rules (passwords, names, dates, merged uids);
//!   [`original_mail`]: the original's mail files; [`report`]: counts and problems;
//!   [`settings`]: the binary's options.
//! - Inside: `source` reads the original's rows, `rules` holds what our game config
//!   says, `player` maps one player's rows, `mailbox` converts mail, `global` the
//!   purchases and exchange codes; this file runs it all and owns the target's
//!   transactions (`Batch`) and ledger.
//! - [`run`]: the migration. Read-only on the source (one read-only transaction with a
//!   consistent snapshot, plain SELECTs); on the target one transaction per account, per
//!   family and per player, each writing its ledger row (`migrate_done`) in the same
//!   transaction, so a second run skips what is done and an interrupted run resumes.
//!   Mails are written under their original key, so a mail already there is skipped.
//! - [`generator`]: the test source (the original's tables and a filled store).
//!
//! One thread; nothing runs in the background.

#![forbid(unsafe_code)]

pub mod generator;
pub mod map;
pub mod original_mail;
pub mod report;
pub mod settings;

mod global;
mod mailbox;
mod player;
mod rules;
mod source;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Params, TxOpts};
use serde_json::Value;
use shared::redis_conn::RedisPool;

use global::{migrate_codes, migrate_orders};
use mailbox::migrate_mail;
use player::{membership, player_rows, Known, Subject};
use rules::Rules;
use source::{read_holdings, read_world, rows, Holdings, InfoRow};
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
    /// Our auth service: a pending gift, friend request or family request gets its
    /// acceptance nonce there (the original's nonces are not read). `None`: they come
    /// over as mail only.
    pub auth_url: Option<String>,
    /// Our Redis (as the worker's user): a pending friend or family request also takes its
    /// sender's pending marker there, so the sender sees it pending. `None`: the sender
    /// may ask again meanwhile.
    pub redis_url: Option<String>,
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
            redis_url: None,
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
    Redis(shared::redis_conn::RedisError),
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
            MigrateError::Redis(e) => write!(f, "redis: {e}"),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::Source(e) | MigrateError::Target(e) => Some(e),
            MigrateError::Maildir(_, e) => Some(e),
            MigrateError::Redis(e) => Some(e),
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
        conn: &mut Conn,
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

fn done_before(conn: &mut Conn, world: &str, what: &str, id: &str) -> Result<bool, MigrateError> {
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

    let redis = match &options.redis_url {
        Some(url) => Some(RedisPool::new(url, 1).map_err(MigrateError::Redis)?),
        None => None,
    };
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
    let run = RunContext {
        options,
        rules: &rules,
        accounts: &accounts,
        redis: redis.as_ref(),
        progress: &progress,
    };
    for (db, merged_from) in &databases {
        let done = migrate_world(&mut source, &mut target, db, merged_from, &run, &mut report)?;
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
                    &run,
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

/// One account in one transaction; `Ok(true)` when it is (or was already) with us.
fn migrate_account(
    target: &mut Conn,
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
    // Our device login refuses an account with a name or a password (knowing a device id
    // must not be as good as knowing the password): an account that kept only one of them
    // could log in no way at all. It becomes a guest again and binds anew.
    let (mut account, mut password) = (account, password);
    if password.is_none() && account.is_some() {
        tally.repair(
            table,
            uid.clone(),
            "account name without a password: dropped (the device id logs in)",
        );
        account = None;
    }
    if password.is_some() && account.is_none() && email.is_none() && phone.is_none() {
        tally.repair(
            table,
            uid.clone(),
            "password without an account name, email or phone: dropped (the device id logs in)",
        );
        password = None;
    }
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

/// What the run knows before its worlds and hands to each: its options, our game rules,
/// the accounts that are with us, our Redis (pending-request markers) and where progress
/// lines go.
struct RunContext<'a> {
    options: &'a Options,
    rules: &'a Rules,
    accounts: &'a HashSet<String>,
    redis: Option<&'a RedisPool>,
    progress: &'a dyn Fn(String),
}

/// Migrates one world database; answers the uids of its players that are with us.
fn migrate_world(
    source: &mut Conn,
    target: &mut Conn,
    db: &str,
    merged_from: &[String],
    run: &RunContext,
    report: &mut Report,
) -> Result<WorldDone, MigrateError> {
    let (options, rules, accounts, progress) = (run.options, run.rules, run.accounts, run.progress);
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
    let mut families_with_us: HashSet<String> = HashSet::new();
    for (name, icon, exp, notice, board) in std::mem::take(&mut src.families) {
        if done_before(target, world, LEDGER_FAMILY, &name)? {
            report.done_before += 1;
            families_with_us.insert(name);
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
            Ok(()) => {
                report.families_migrated += 1;
                families_with_us.insert(name);
            }
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
    let known = Known {
        rules,
        source_uids: &source_uids,
        ours: &ours,
    };
    let mut migrated: HashSet<String> = HashSet::new();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut members: HashMap<String, (String, i64)> = HashMap::new();
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
        // The name its mails show (the mail store collapses a name's spacing).
        let sent_as = gn.split_whitespace().collect::<Vec<_>>().join(" ");
        let (family, family_notes) =
            membership(&holdings.family_roles, fid.as_deref(), &family_names);
        // What this player's mails need once it is with us: its pending friend requests,
        // its name (a join request names its applicant so) and its family.
        let mut note_player = |uid: &str, family: Option<(String, i64)>| {
            for recipient in &requested {
                pending
                    .entry(recipient.clone())
                    .or_default()
                    .insert(sent_as.clone(), uid.to_string());
            }
            names.insert(sent_as.clone(), uid.to_string());
            if let Some(family) = family {
                members.insert(uid.to_string(), family);
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
            note_player(&uid, family);
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
        let (_, exp, _) = holdings.progress.unwrap_or((None, None, None));
        let exp = exp.unwrap_or(0).max(0);
        let (level, _) = worker::modules::stage::level_of(&rules.exp_table, exp as u64);
        let icon = icon.and_then(|i| i.trim().parse::<i32>().ok()).unwrap_or(0);
        for (action, why) in family_notes {
            match action {
                Action::Skipped => tally.skip("familyrole", row.clone(), why),
                Action::Repaired => tally.repair("familyrole", row.clone(), why),
            }
        }
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
        let who = Subject {
            world,
            uid: &uid,
            row: &row,
            now,
        };
        player_rows(
            &mut batch,
            &mut tally,
            &who,
            holdings,
            family.clone(),
            &known,
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
                note_player(&uid, family);
                migrated.insert(uid);
            }
            Err(why) => report
                .tally
                .skip("player", row, format!("not written: {why}")),
        }
    }
    progress(format!("world {world}: players {total}/{total}"));
    // Rows of uids without a player were reported by `per_player`.
    // The owner of each family with us: an imported invitation's inviter.
    let mut owners: HashMap<String, String> = HashMap::new();
    for (uid, (name, role)) in &members {
        if *role == worker::modules::enums::FamilyRole::Owner.id()
            && families_with_us.contains(name)
        {
            let owner = owners.entry(name.clone()).or_insert_with(|| uid.clone());
            if uid < owner {
                *owner = uid.clone();
            }
        }
    }
    members.retain(|_, (name, _)| families_with_us.contains(name));
    Ok(WorldDone {
        players: migrated,
        pending,
        names,
        members,
        owners,
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
    /// Game name as a mail shows it -> uid, of the players with us.
    names: HashMap<String, String>,
    /// uid -> (family name, role) of the players with us in a family with us.
    members: HashMap<String, (String, i64)>,
    /// Family name -> its owner's uid (the smallest, should the source hold two).
    owners: HashMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::mailbox::derived_key;
    use super::player::today;
    use super::rules::{GROUP_ITEM, GROUP_WEAPON_SEGMENT};
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
