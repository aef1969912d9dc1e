//! MySQL: the connection pool and the schema migrations.
//!
//! Migrations are the files `worker/migrations/NNNN_name.sql`, compiled in, applied in order
//! at start and recorded in `schema_migrations`. `GET_LOCK` makes two workers starting at
//! once apply each migration exactly once.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mysql::prelude::{AsStatement, Queryable};
use mysql::{Binary, Conn, Opts, OptsBuilder, Params, QueryResult, Statement, Text};
use shared::sock::{self, Peek};

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every file in `worker/migrations/`, in order (a test checks none is missing).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../migrations/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "players",
        sql: include_str!("../migrations/0002_players.sql"),
    },
    Migration {
        version: 3,
        name: "social",
        sql: include_str!("../migrations/0003_social.sql"),
    },
    Migration {
        version: 4,
        name: "original_item_ids",
        sql: include_str!("../migrations/0004_original_item_ids.sql"),
    },
    Migration {
        version: 5,
        name: "account_profile",
        sql: include_str!("../migrations/0005_account_profile.sql"),
    },
    Migration {
        version: 6,
        name: "family_original",
        sql: include_str!("../migrations/0006_family_original.sql"),
    },
    Migration {
        version: 7,
        name: "original_weapons",
        sql: include_str!("../migrations/0007_original_weapons.sql"),
    },
    Migration {
        version: 8,
        name: "original_friends_package",
        sql: include_str!("../migrations/0008_original_friends_package.sql"),
    },
    Migration {
        version: 9,
        name: "progress",
        sql: include_str!("../migrations/0009_progress.sql"),
    },
    Migration {
        version: 10,
        name: "stages",
        sql: include_str!("../migrations/0010_stages.sql"),
    },
    Migration {
        version: 11,
        name: "roles_skills_armor",
        sql: include_str!("../migrations/0011_roles_skills_armor.sql"),
    },
    Migration {
        version: 12,
        name: "science_elements_vip",
        sql: include_str!("../migrations/0012_science_elements_vip.sql"),
    },
    Migration {
        version: 13,
        name: "check_in",
        sql: include_str!("../migrations/0013_check_in.sql"),
    },
    Migration {
        version: 14,
        name: "summon",
        sql: include_str!("../migrations/0014_summon.sql"),
    },
    Migration {
        version: 15,
        name: "mall",
        sql: include_str!("../migrations/0015_mall.sql"),
    },
    Migration {
        version: 16,
        name: "dark_market",
        sql: include_str!("../migrations/0016_dark_market.sql"),
    },
    Migration {
        version: 17,
        name: "factory",
        sql: include_str!("../migrations/0017_factory.sql"),
    },
    Migration {
        version: 18,
        name: "friend_gift_days",
        sql: include_str!("../migrations/0018_friend_gift_days.sql"),
    },
];

const MIGRATION_LOCK: &str = "lukseun.schema_migrations";
const MIGRATION_LOCK_WAIT_SECS: u32 = 60;

#[derive(Debug)]
pub enum DbError {
    BadUrl(mysql::UrlError),
    /// No connection: the server is down or every pooled connection is busy.
    Unavailable(mysql::Error),
    Query(mysql::Error),
    LockTimeout,
    Migration {
        version: u32,
        error: mysql::Error,
    },
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::BadUrl(e) => write!(f, "bad MySQL URL: {e}"),
            DbError::Unavailable(e) => write!(f, "MySQL unavailable: {e}"),
            DbError::Query(e) => write!(f, "MySQL query failed: {e}"),
            DbError::LockTimeout => write!(f, "timed out waiting for the migration lock"),
            DbError::Migration { version, error } => {
                write!(f, "migration {version:04} failed: {error}")
            }
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::BadUrl(e) => Some(e),
            DbError::Unavailable(e) | DbError::Query(e) | DbError::Migration { error: e, .. } => {
                Some(e)
            }
            DbError::LockTimeout => None,
        }
    }
}

impl From<mysql::Error> for DbError {
    fn from(e: mysql::Error) -> DbError {
        DbError::Query(e)
    }
}

/// MySQL error code of a duplicate key, e.g. a taken account name.
pub const ER_DUP_ENTRY: u16 = 1062;

/// `Some(key name)` when `e` is a duplicate-key error.
pub fn duplicate_key(e: &mysql::Error) -> Option<&str> {
    match e {
        mysql::Error::MySqlError(m) if m.code == ER_DUP_ENTRY => {
            // "Duplicate entry 'x' for key 'accounts_account'"; MariaDB may prefix the table.
            let key = m.message.rsplit(" for key ").next()?.trim_matches('\'');
            Some(key.rsplit('.').next().unwrap_or(key))
        }
        _ => None,
    }
}

/// The pool every job takes connections from. The server may be down when it is made:
/// connections are opened on demand, and dead ones are replaced: before a pooled connection
/// is handed out, a non-blocking peek at its socket must find it idle. That catches a
/// restarted or killed server (its side closed every connection) without a health check
/// that pings, a round trip per job.
///
/// Our own rather than the mysql crate's `Pool`, for two reasons measured in
/// docs/perf.md: the most recently returned connection is handed out first (a stack: the
/// same few server threads serve a steady load, warm, where a queue rotates through every
/// connection ever opened), and a connection is opened outside the lock (the crate's pool
/// opens one while holding it, so one slow connect, up to the 3 s connect and 10 s read
/// timeouts while the server is frozen, stalls every job thread that wants a connection).
#[derive(Clone)]
pub struct Db {
    stack: Arc<Stack>,
}

/// How long a connection waits for the server's answer before the job gives up (16).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A row lock waited for longer than this fails the statement (1205, the job answers 16).
/// Below [`READ_TIMEOUT`] on purpose: InnoDB's default (50 s) let a statement wait on in the
/// server after its job had given up and its connection had gone back to the pool; the
/// answer, when it came, would have been read by the next job as its own.
const LOCK_WAIT_SECS: u32 = 5;
const _: () = assert!((LOCK_WAIT_SECS as u64) < READ_TIMEOUT.as_secs());

struct Stack {
    opts: Opts,
    max: usize,
    /// How long [`Db::conn`] waits for a connection while all `max` are lent out.
    wait: Duration,
    idle: Mutex<Idle>,
    returned: Condvar,
}

struct Idle {
    /// Returned connections, the most recent last.
    conns: Vec<Conn>,
    /// Connections that exist: idle, lent out, or being opened.
    open: usize,
}

/// A connection lent by [`Db::conn`]; dropping it gives it back as it is, without a
/// `COM_RESET_CONNECTION` (a round trip, and it would drop the prepared statements, so
/// every query would be prepared again): our functions keep no session state between jobs.
pub struct DbConn {
    conn: Option<Conn>,
    stack: Arc<Stack>,
}

impl Db {
    pub fn open(url: &str, max_connections: usize) -> Result<Db, DbError> {
        let opts = Opts::from_url(url).map_err(DbError::BadUrl)?;
        // Timeouts turn an outage into an error within seconds instead of a hung job.
        let opts = OptsBuilder::from_opts(opts)
            .tcp_connect_timeout(Some(Duration::from_secs(3)))
            .read_timeout(Some(READ_TIMEOUT))
            .write_timeout(Some(READ_TIMEOUT))
            .init(vec![format!(
                "SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECS}"
            )])
            .into();
        Ok(Db {
            stack: Arc::new(Stack {
                opts,
                max: max_connections.max(1),
                wait: Duration::from_secs(5),
                idle: Mutex::new(Idle {
                    conns: Vec::new(),
                    open: 0,
                }),
                returned: Condvar::new(),
            }),
        })
    }

    pub fn conn(&self) -> Result<DbConn, DbError> {
        let stack = &self.stack;
        let deadline = Instant::now() + stack.wait;
        let mut idle = stack.lock();
        loop {
            if let Some(conn) = idle.conns.pop() {
                drop(idle);
                match sock::peek_idle_raw(&conn) {
                    Peek::Nothing => return Ok(self.lend(conn)),
                    // Closed by the server, or holding bytes nobody asked for: either way
                    // not usable. Closing it frees its slot.
                    Peek::Closed | Peek::Unexpected => {
                        drop(conn);
                        idle = stack.lock();
                        idle.open -= 1;
                        continue;
                    }
                }
            }
            if idle.open < stack.max {
                idle.open += 1;
                drop(idle);
                return match Conn::new(stack.opts.clone()) {
                    Ok(conn) => Ok(self.lend(conn)),
                    Err(e) => {
                        stack.lock().open -= 1;
                        stack.returned.notify_one();
                        Err(DbError::Unavailable(e))
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DbError::Unavailable(mysql::Error::DriverError(
                    mysql::DriverError::Timeout,
                )));
            }
            idle = match stack.returned.wait_timeout(idle, deadline - now) {
                Ok((idle, _)) => idle,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn lend(&self, conn: Conn) -> DbConn {
        DbConn {
            conn: Some(conn),
            stack: Arc::clone(&self.stack),
        }
    }

    /// Whether `other` is a clone of this pool (the same server).
    pub fn same_pool(&self, other: &Db) -> bool {
        Arc::ptr_eq(&self.stack, &other.stack)
    }

    /// `SELECT 1` answered: the readiness check.
    pub fn ping(&self) -> Result<(), String> {
        let mut conn = self.conn().map_err(|e| e.to_string())?;
        conn.query_drop("SELECT 1")
            .map_err(|e| format!("MySQL: {e}"))
    }
}

#[cfg(test)]
impl Db {
    /// Connections that exist: idle, lent, or being opened.
    fn open_count(&self) -> usize {
        self.stack.lock().open
    }
}

impl Stack {
    /// The lock guards only the list and a count, never a call that can panic.
    fn lock(&self) -> MutexGuard<'_, Idle> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::ops::Deref for DbConn {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a lent connection is held until drop")
    }
}

impl std::ops::DerefMut for DbConn {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a lent connection is held until drop")
    }
}

/// So functions written for any `Queryable` take a lent connection as they took the
/// crate's pooled one.
impl Queryable for DbConn {
    fn query_iter<T: AsRef<str>>(
        &mut self,
        query: T,
    ) -> mysql::Result<QueryResult<'_, '_, '_, Text>> {
        (**self).query_iter(query)
    }

    fn prep<T: AsRef<str>>(&mut self, query: T) -> mysql::Result<Statement> {
        (**self).prep(query)
    }

    fn close(&mut self, stmt: Statement) -> mysql::Result<()> {
        (**self).close(stmt)
    }

    fn exec_iter<S: AsStatement, P: Into<Params>>(
        &mut self,
        stmt: S,
        params: P,
    ) -> mysql::Result<QueryResult<'_, '_, '_, Binary>> {
        (**self).exec_iter(stmt, params)
    }

    fn exec_batch<S, P, I>(&mut self, stmt: S, params: I) -> mysql::Result<()>
    where
        S: AsStatement,
        P: Into<Params>,
        I: IntoIterator<Item = P>,
    {
        (**self).exec_batch(stmt, params)
    }
}

impl Drop for DbConn {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let mut idle = self.stack.lock();
        if std::thread::panicking() {
            // A function panicked with it lent, perhaps between a query and its answer;
            // an answer read later by another job would be this query's. Closed instead.
            idle.open -= 1;
            drop(idle);
            drop(conn);
        } else {
            idle.conns.push(conn);
            drop(idle);
        }
        self.stack.returned.notify_one();
    }
}

/// Applies the migrations not yet recorded; returns the versions it applied.
pub fn migrate(db: &Db) -> Result<Vec<u32>, DbError> {
    migrate_with(db, MIGRATIONS)
}

/// [`migrate`] with a given list: tests build a database of an older version with a prefix
/// of [`MIGRATIONS`], then upgrade it.
pub fn migrate_with(db: &Db, migrations: &[Migration]) -> Result<Vec<u32>, DbError> {
    let mut conn = db.conn()?;
    let locked: Option<Option<i64>> = conn.exec_first(
        "SELECT GET_LOCK(?, ?)",
        (MIGRATION_LOCK, MIGRATION_LOCK_WAIT_SECS),
    )?;
    if locked.flatten() != Some(1) {
        return Err(DbError::LockTimeout);
    }
    let applied = apply_pending(&mut conn, migrations);
    // The lock dies with the connection too; releasing keeps a pooled connection clean.
    let released: Result<Option<Option<i64>>, _> =
        conn.exec_first("SELECT RELEASE_LOCK(?)", (MIGRATION_LOCK,));
    if let Err(e) = released {
        shared::warn!("could not release the migration lock", error = e);
    }
    applied
}

fn apply_pending(conn: &mut Conn, migrations: &[Migration]) -> Result<Vec<u32>, DbError> {
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INT UNSIGNED NOT NULL PRIMARY KEY,
            name       VARCHAR(100) NOT NULL,
            applied_at TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    )?;
    let done: Vec<u32> = conn.query("SELECT version FROM schema_migrations")?;
    let mut applied = Vec::new();
    for migration in migrations.iter().filter(|m| !done.contains(&m.version)) {
        for statement in split_statements(migration.sql) {
            conn.query_drop(statement)
                .map_err(|error| DbError::Migration {
                    version: migration.version,
                    error,
                })?;
        }
        conn.exec_drop(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
            (migration.version, migration.name),
        )?;
        shared::info!(
            "migration applied",
            version = migration.version,
            name = migration.name
        );
        applied.push(migration.version);
    }
    Ok(applied)
}

/// Splits a migration file into statements: a statement ends with `;` at the end of a
/// line. Chunks holding only comments and blanks are skipped.
pub fn split_statements(sql: &str) -> Vec<&str> {
    let mut statements = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        offset += line.len();
        if line.trim_end().ends_with(';') {
            push_statement(&mut statements, &sql[start..offset]);
            start = offset;
        }
    }
    push_statement(&mut statements, &sql[start..]);
    statements
}

fn push_statement<'a>(statements: &mut Vec<&'a str>, chunk: &'a str) {
    let has_code = chunk.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with("--")
    });
    if has_code {
        statements.push(chunk.trim().trim_end_matches(';'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_a_typed_error_with_its_cause() {
        let e = Db::open("postgres://127.0.0.1/x", 1)
            .err()
            .expect("refused");
        assert!(matches!(e, DbError::BadUrl(_)), "{e}");
        assert!(e.to_string().starts_with("bad MySQL URL: "), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn statements_split_at_line_end_semicolons() {
        let sql = "-- comment\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (';');\n-- tail\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "-- comment\nCREATE TABLE a (x INT)",
                "INSERT INTO a VALUES (';')"
            ]
        );
        assert!(split_statements("-- only a comment\n\n").is_empty());
        assert_eq!(split_statements("SELECT 1"), vec!["SELECT 1"]);
    }

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "versions count up from 1");
        }
    }

    #[test]
    fn duplicate_key_names_the_key() {
        let e = mysql::Error::MySqlError(mysql::MySqlError {
            state: "23000".into(),
            code: ER_DUP_ENTRY,
            message: "Duplicate entry 'bob' for key 'accounts_account'".into(),
        });
        assert_eq!(duplicate_key(&e), Some("accounts_account"));
        let e = mysql::Error::MySqlError(mysql::MySqlError {
            state: "23000".into(),
            code: ER_DUP_ENTRY,
            message: "Duplicate entry 'x' for key 'accounts.PRIMARY'".into(),
        });
        assert_eq!(duplicate_key(&e), Some("PRIMARY"));
        // A value that imitates the message cannot change which key is named.
        let e = mysql::Error::MySqlError(mysql::MySqlError {
            state: "23000".into(),
            code: ER_DUP_ENTRY,
            message: "Duplicate entry 'x' for key 'PRIMARY'' for key 'accounts_account'".into(),
        });
        assert_eq!(duplicate_key(&e), Some("accounts_account"));
    }

    #[test]
    fn migrations_apply_once_even_when_run_twice_or_concurrently() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 4).unwrap();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || migrate(&db).unwrap())
            })
            .collect();
        let mut applied: Vec<u32> = runs.into_iter().flat_map(|r| r.join().unwrap()).collect();
        applied.sort();
        let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(applied, all, "each migration applied by exactly one worker");
        assert!(
            migrate(&db).unwrap().is_empty(),
            "a third run applies nothing"
        );
        let count = server.sql("SELECT COUNT(*) FROM lukseun.schema_migrations");
        assert_eq!(count.trim(), MIGRATIONS.len().to_string());
    }

    #[test]
    fn items_of_version_3_get_the_originals_ids() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 2).unwrap();
        assert_eq!(migrate_with(&db, &MIGRATIONS[..3]).unwrap(), [1, 2, 3]);
        let mut conn = db.conn().unwrap();
        conn.query_drop(
            "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES
             ('s0','a',0,0,5000), ('s0','a',0,1,100), ('s0','a',0,2,7), ('s0','a',1,3,40),
             ('s1','b',1,6,2)",
        )
        .unwrap();
        // Up to 4 only: 0007 then gives the segments the original's weapon ids (tested below).
        assert_eq!(migrate_with(&db, &MIGRATIONS[..4]).unwrap(), [4]);
        let rows: Vec<(String, String, i32, i32, u64)> = conn
            .query("SELECT world, unique_id, grp, item_id, qty FROM items ORDER BY world, grp, item_id")
            .unwrap();
        let row = |w: &str, u: &str, g, i, q| (w.to_string(), u.to_string(), g, i, q);
        assert_eq!(
            rows,
            [
                row("s0", "a", 0, 3, 40),
                row("s0", "a", 3, 1, 5000),
                row("s0", "a", 3, 5, 100),
                row("s0", "a", 3, 10, 7),
                row("s1", "b", 0, 6, 2),
            ]
        );
    }

    #[test]
    fn accounts_and_players_of_version_4_keep_their_data_and_get_cid_and_intro() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 2).unwrap();
        assert_eq!(migrate_with(&db, &MIGRATIONS[..4]).unwrap(), [1, 2, 3, 4]);
        let mut conn = db.conn().unwrap();
        conn.query_drop(
            "INSERT INTO accounts (unique_id, account, email, password) VALUES
             ('a', 'alice', 'a@example.com', 'hash'), ('g', NULL, NULL, NULL)",
        )
        .unwrap();
        conn.query_drop(
            "INSERT INTO players (world, unique_id, gn, icon, level) VALUES ('s0','a','Alice',7,3)",
        )
        .unwrap();
        let applied = migrate(&db).unwrap();
        assert_eq!(applied.first(), Some(&5));
        type Row = (String, Option<String>, Option<String>, Option<String>);
        let accounts: Vec<Row> = conn
            .query("SELECT unique_id, account, email, cid FROM accounts ORDER BY unique_id")
            .unwrap();
        assert_eq!(
            accounts,
            [
                (
                    "a".into(),
                    Some("alice".into()),
                    Some("a@example.com".into()),
                    None
                ),
                ("g".into(), None, None, None),
            ]
        );
        let players: Vec<(String, String, i32, i32, String)> = conn
            .query("SELECT unique_id, gn, icon, level, intro FROM players")
            .unwrap();
        assert_eq!(players, [("a".into(), "Alice".into(), 7, 3, String::new())]);
    }

    #[test]
    fn weapons_and_friends_of_version_4_get_the_originals_ids_and_columns() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 2).unwrap();
        assert_eq!(migrate_with(&db, &MIGRATIONS[..4]).unwrap(), [1, 2, 3, 4]);
        let mut conn = db.conn().unwrap();
        conn.query_drop(
            "INSERT INTO weapons (world, unique_id, weapon_id, level, star) VALUES
             ('s0','a',1,7,0), ('s0','a',3,1,5), ('s0','a',6,60,2), ('s1','b',2,1,0),
             ('s1','b',4,9,1), ('s1','b',5,3,0)",
        )
        .unwrap();
        conn.query_drop(
            "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES
             ('s0','a',0,1,11), ('s0','a',0,6,66), ('s0','a',3,1,5000), ('s0','a',3,6,9),
             ('s1','b',0,4,44), ('s1','b',0,5,55), ('s1','b',0,2,22), ('s1','b',0,3,33)",
        )
        .unwrap();
        conn.query_drop(
            "INSERT INTO friends (world, unique_id, friend_uid, gift_day, gifts_today) VALUES
             ('s0','a','c','2024-01-02',1), ('s0','c','a',NULL,0)",
        )
        .unwrap();
        let later: Vec<u32> = MIGRATIONS[4..].iter().map(|m| m.version).collect();
        assert_eq!(migrate(&db).unwrap(), later);
        let weapons: Vec<(String, String, i32, i32, i32, i32)> = conn
            .query(
                "SELECT world, unique_id, weapon_id, level, star, skillpoint FROM weapons \
                 ORDER BY world, weapon_id",
            )
            .unwrap();
        let w = |wd: &str, u: &str, id, level, star| {
            (wd.to_string(), u.to_string(), id, level, star, 0)
        };
        assert_eq!(
            weapons,
            [
                w("s0", "a", 301, 7, 1),
                w("s0", "a", 303, 1, 6),
                w("s0", "a", 501, 60, 3),
                w("s1", "b", 302, 1, 1),
                w("s1", "b", 401, 9, 2),
                w("s1", "b", 402, 3, 1),
            ]
        );
        let items: Vec<(String, i32, i32, u64)> = conn
            .query("SELECT world, grp, item_id, qty FROM items ORDER BY world, grp, item_id")
            .unwrap();
        let i = |wd: &str, g, id, q| (wd.to_string(), g, id, q);
        assert_eq!(
            items,
            [
                i("s0", 0, 301, 11),
                i("s0", 0, 501, 66),
                i("s0", 3, 1, 5000),
                i("s0", 3, 6, 9),
                i("s1", 0, 302, 22),
                i("s1", 0, 303, 33),
                i("s1", 0, 401, 44),
                i("s1", 0, 402, 55),
            ]
        );
        // friendships stay confirmed; a weapon made without a star is unlocked (star 1)
        let friends: Vec<(String, bool, Option<String>, u8)> = conn
            .query(
                "SELECT unique_id, since IS NOT NULL, DATE_FORMAT(gift_day, '%Y-%m-%d'), isre \
                 FROM friends ORDER BY unique_id",
            )
            .unwrap();
        assert_eq!(
            friends,
            [
                ("a".to_string(), true, Some("2024-01-02".to_string()), 1),
                ("c".to_string(), true, None, 1)
            ]
        );
        conn.query_drop("INSERT INTO weapons (world, unique_id, weapon_id) VALUES ('s0','a',302)")
            .unwrap();
        let star: Option<i32> = conn
            .query_first("SELECT star FROM weapons WHERE weapon_id = 302 AND world = 's0'")
            .unwrap();
        assert_eq!(star, Some(1));
        let exp: Option<(u64, String)> = conn
            .query_first("SELECT exp, intro FROM players LIMIT 1")
            .unwrap();
        assert_eq!(exp, None, "players gained exp and intro");
    }

    #[test]
    fn an_outage_is_an_error_and_the_pool_recovers() {
        let mut server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 4).unwrap();
        migrate(&db).unwrap();
        db.ping().unwrap();
        server.kill();
        assert!(db.ping().is_err());
        server.restart();
        db.ping().expect("the pool reconnects after a restart");
    }

    fn connection_id(conn: &mut DbConn) -> u64 {
        conn.query_first("SELECT CONNECTION_ID()").unwrap().unwrap()
    }

    #[test]
    fn a_lock_wait_fails_in_the_server_before_the_client_stops_waiting() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 2).unwrap();
        let mut holder = db.conn().unwrap();
        holder
            .query_drop("CREATE TABLE locked (id INT PRIMARY KEY, n INT)")
            .unwrap();
        holder
            .query_drop("INSERT INTO locked VALUES (1, 0)")
            .unwrap();
        let mut tx = holder.start_transaction(mysql::TxOpts::default()).unwrap();
        tx.query_drop("SELECT n FROM locked WHERE id = 1 FOR UPDATE")
            .unwrap();
        let mut waiter = db.conn().unwrap();
        let wait: Option<u32> = waiter
            .query_first("SELECT @@innodb_lock_wait_timeout")
            .unwrap();
        assert_eq!(wait, Some(LOCK_WAIT_SECS));
        // The server's own error, so the connection holds no answer still to come.
        match waiter.query_drop("UPDATE locked SET n = 1 WHERE id = 1") {
            Err(mysql::Error::MySqlError(e)) => assert_eq!(e.code, 1205, "{e}"),
            other => panic!("a lock wait timeout: {other:?}"),
        }
        let one: Option<i64> = waiter.query_first("SELECT 1").unwrap();
        assert_eq!(one, Some(1), "the connection answers its next query");
        tx.rollback().unwrap();
    }

    #[test]
    fn the_connection_returned_last_is_lent_first() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 3).unwrap();
        let (mut a, mut b) = (db.conn().unwrap(), db.conn().unwrap());
        let (id_a, id_b) = (connection_id(&mut a), connection_id(&mut b));
        assert_ne!(id_a, id_b);
        drop(a);
        drop(b);
        // A stack: the warm connection (and its server thread) serves a steady load.
        assert_eq!(connection_id(&mut db.conn().unwrap()), id_b);
        assert_eq!(db.open_count(), 2, "nothing new was opened");
    }

    #[test]
    fn a_connection_lent_to_a_panicking_job_is_closed_not_lent_again() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 2).unwrap();
        let id = {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut conn = db.conn().unwrap();
                let id = connection_id(&mut conn);
                std::panic::panic_any(id);
            })
            .join()
            .unwrap_err()
            .downcast::<u64>()
            .unwrap()
        };
        assert_eq!(db.open_count(), 0, "its slot is free");
        assert_ne!(connection_id(&mut db.conn().unwrap()), *id);
    }

    #[test]
    fn a_caller_waits_for_a_lent_connection_and_gives_up_after_its_wait() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 1).unwrap();
        let mut held = db.conn().unwrap();
        let id = connection_id(&mut held);
        let waiter = {
            let db = db.clone();
            std::thread::spawn(move || connection_id(&mut db.conn().unwrap()))
        };
        drop(held);
        assert_eq!(
            waiter.join().unwrap(),
            id,
            "the one connection, handed over"
        );
        let _held = db.conn().unwrap();
        match db.conn() {
            Err(DbError::Unavailable(mysql::Error::DriverError(mysql::DriverError::Timeout))) => {}
            other => panic!(
                "a pool whose connections are all lent times out: {:?}",
                other.err()
            ),
        }
    }

    #[test]
    fn a_connection_being_opened_does_not_hold_up_the_idle_ones() {
        let server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 3).unwrap();
        let first = db.conn().unwrap();
        // A paused server accepts the connection but never greets it: the opener waits
        // (up to the 10 s read timeout) with the pool's lock released.
        server.pause();
        let opener = {
            let db = db.clone();
            std::thread::spawn(move || db.conn().map(drop))
        };
        testkit::eventually("the opener counts its connection", || db.open_count() == 2);
        drop(first);
        let again = db.conn().expect("the idle connection is lent meanwhile");
        assert!(
            !opener.is_finished(),
            "lent while the other connection was still being opened"
        );
        drop(again);
        server.resume();
        opener
            .join()
            .unwrap()
            .expect("the connection opens once the server runs");
    }

    #[test]
    fn connections_the_server_closed_are_replaced_and_free_their_pool_slot() {
        let mut server = crate::test_support::start_mariadb();
        let db = Db::open(&server.url(), 3).unwrap();
        let hold_all = |db: &Db| -> Vec<DbConn> {
            let mut held: Vec<DbConn> = (0..3).map(|_| db.conn().unwrap()).collect();
            for conn in &mut held {
                let one: Option<i64> = conn.query_first("SELECT 1").unwrap();
                assert_eq!(one, Some(1), "every connection handed out works");
            }
            held
        };
        drop(hold_all(&db)); // three idle connections in the pool
        server.restart(); // which closes all three from the server's side
                          // Each is noticed at checkout and forgotten, so all three slots open anew.
        drop(hold_all(&db));
    }
}
