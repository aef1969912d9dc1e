//! The game function API, in one place: what a function is given (the [`Context`], the
//! checked caller, the [`Args`]), what it answers ([`Reply`] or [`FnError`]), how a module
//! declares its statuses ([`module_statuses!`](crate::module_statuses)), and the clock and random source that tests
//! fix. The handler is the only caller; modules only implement.
//!
//! The caller arrives as an argument whose type says what was checked before the call: a
//! [`Run::Player`] function gets a [`Player`] that exists in the request's world, a
//! [`Run::Session`] one an [`InWorld`] (session token for that world, maybe no player yet),
//! an [`Run::Account`] or [`Run::Admin`] one an [`Account`]. Nothing is looked up later
//! that could be missing.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use auth::tokens::Tokens;
use serde_json::{Map, Value};
use shared::envelope::{Response, Status};
use shared::redis_conn::RedisPool;

use crate::db::{Db, DbError};
use crate::game_config::GameConfig;
use crate::modules::account::limits::AccountLimits;
use crate::modules::chat::ChatEvents;
use crate::modules::mall::verifier::VerifierSettings;
use crate::notify::NotifySettings;
use crate::request_id::{RidCounters, RidSettings};
use crate::world_db::WorldDbs;

// ------------------------------------------------------------------ what a function gets

/// Settings game functions read (from the service's options).
#[derive(Debug, Clone)]
pub struct FunctionSettings {
    /// PBKDF2 rounds for new password hashes; stored hashes keep their own count.
    pub pbkdf2_iterations: u32,
    pub mail_url: String,
    pub auth_url: String,
    /// Where email and phone verification codes go.
    pub notify: NotifySettings,
    /// Where in-app purchases are verified (`purchase_success`).
    pub purchase_verifier: VerifierSettings,
    /// `get_login_token_chat` calls per player and minute; 0: unlimited.
    pub chat_tokens_per_minute: u32,
    /// Failed-login and new-guest budgets (`login`, `login_unique`).
    pub account_limits: AccountLimits,
}

/// The long-lived resources of the worker, shared by every job.
pub struct Services {
    /// The default server: the accounts, and every world not in `world_dbs`.
    pub db: Db,
    /// The worlds on other servers (`--world-db`); none in [`Services::new`].
    pub world_dbs: WorldDbs,
    pub redis: Arc<RedisPool>,
    pub tokens: Tokens,
    pub settings: FunctionSettings,
    pub clock: Arc<Clock>,
    pub seeds: Arc<Seeds>,
    /// Where chat identity changes go (the edges); off in [`Services::new`].
    pub chat_events: ChatEvents,
    /// How request ids are recorded (the defaults in [`Services::new`]).
    pub request_ids: RidSettings,
    /// What request ids did (unregistered in [`Services::new`]).
    pub rid_counters: RidCounters,
}

impl Services {
    /// Services on the system clock with random seeds; tests swap `clock` and `seeds`.
    pub fn new(db: Db, redis: Arc<RedisPool>, tokens: Tokens, settings: FunctionSettings) -> Self {
        Services {
            db,
            world_dbs: WorldDbs::none(),
            redis,
            tokens,
            settings,
            clock: Arc::new(Clock::system()),
            seeds: Arc::new(Seeds::random()),
            chat_events: ChatEvents::off(),
            request_ids: RidSettings::default(),
            rid_counters: RidCounters::default(),
        }
    }
}

/// One job's view: the shared resources plus this request's game config and world.
pub struct Context<'a> {
    /// The server of the request's world; the default server when it named none.
    pub db: &'a Db,
    /// The server of the accounts (global, whatever the world).
    pub accounts: &'a Db,
    /// The other servers, for the few functions that read every world.
    pub world_dbs: &'a WorldDbs,
    pub redis: &'a RedisPool,
    pub tokens: &'a Tokens,
    pub settings: &'a FunctionSettings,
    pub config: &'a GameConfig,
    /// The world the request is served in (after merges), when it named one.
    pub world: Option<&'a str>,
    pub clock: &'a Clock,
    /// This job's random source (seeded per job; see [`Seeds`]).
    pub rng: Rng,
    /// The client's address as its gate saw it (the job header's `c=`); `None` for a
    /// request that did not come through a gate (tests, tools).
    pub client: Option<std::net::IpAddr>,
    /// Chat identity changes, published after the function's transaction committed.
    pub chat_events: &'a ChatEvents,
}

impl<'a> Context<'a> {
    /// A job's context over `services`.
    pub fn new(services: &'a Services, config: &'a GameConfig, world: Option<&'a str>) -> Self {
        let db = world.and_then(|w| services.world_dbs.get(w));
        Context {
            db: db.unwrap_or(&services.db),
            accounts: &services.db,
            world_dbs: &services.world_dbs,
            redis: &services.redis,
            tokens: &services.tokens,
            settings: &services.settings,
            config,
            world,
            clock: &services.clock,
            rng: Rng::new(services.seeds.next()),
            client: None,
            chat_events: &services.chat_events,
        }
    }

    /// The request's world, for functions that act inside one.
    pub fn world(&self) -> Result<&'a str, FnError> {
        self.world.ok_or(FnError::NoWorld)
    }

    /// The server of `world` (served after merges).
    pub fn db_of(&self, world: &str) -> &'a Db {
        self.world_dbs.get(world).unwrap_or(self.accounts)
    }

    /// Every server once, the accounts' first: for reads across worlds.
    pub fn all_dbs(&self) -> impl Iterator<Item = &'a Db> {
        std::iter::once(self.accounts).chain(self.world_dbs.servers().map(|(db, _)| db))
    }

    /// Seconds since the Unix epoch, from the context's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// The caller of an [`Run::Account`] or [`Run::Admin`] function: a valid token's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: String,
    /// The token's `role` claim (`admin` for operators).
    pub role: Option<String>,
}

/// The caller of a [`Run::Session`] function: an account with a session token for the
/// request's world. It may not have a player there yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InWorld {
    pub uid: String,
    pub world: String,
}

/// The caller of a [`Run::Player`] function: its player in the request's world, read
/// before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub world: String,
    pub unique_id: String,
    /// The in-game name, unique per world.
    pub gn: String,
    pub level: i64,
}

// ------------------------------------------------------------------ the function table's type

/// A game function, by what its caller must have shown. The variant decides the checks
/// the handler makes before the call, so a function cannot be registered with checks its
/// signature does not match.
#[derive(Clone, Copy)]
pub enum Run {
    /// No token: register and the logins.
    Public(fn(&Context, &Args) -> Outcome),
    /// An account token, or a session token for the request's world.
    Account(fn(&Context, &Account, &Args) -> Outcome),
    /// A session token for the request's world.
    Session(fn(&Context, &InWorld, &Args) -> Outcome),
    /// A session token for the request's world and a player there (else the shared
    /// "no player" status).
    Player(fn(&Context, &Player, &Args) -> Outcome),
    /// Any valid token whose claims carry `role:"admin"`.
    Admin(fn(&Context, &Account, &Args) -> Outcome),
}

/// Who may call a function (the docs' "access" column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    Account,
    Session,
    Admin,
}

impl Run {
    pub fn access(&self) -> Access {
        match self {
            Run::Public(_) => Access::Public,
            Run::Account(_) => Access::Account,
            Run::Session(_) | Run::Player(_) => Access::Session,
            Run::Admin(_) => Access::Admin,
        }
    }
}

/// One row of the function table.
#[derive(Clone, Copy)]
pub struct Function {
    pub name: &'static str,
    pub run: Run,
}

impl Function {
    pub fn access(&self) -> Access {
        self.run.access()
    }
}

// ------------------------------------------------------------------ what a function answers

/// What a game function answers on success (or with a documented non-error status that
/// carries data, such as a login that created the account).
pub type Outcome = Result<Reply, FnError>;

/// A status, its message and the answer's `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: i32,
    pub message: Cow<'static, str>,
    pub data: Map<String, Value>,
}

impl Reply {
    /// Status 0, "success".
    pub fn ok(data: Map<String, Value>) -> Reply {
        Reply {
            status: 0,
            message: Cow::Borrowed(Status::Ok.message()),
            data,
        }
    }

    /// A module status (success or not) with data.
    pub fn with(status: impl ModuleStatus, data: Map<String, Value>) -> Reply {
        Reply {
            status: status.code(),
            message: Cow::Borrowed(status.message()),
            data,
        }
    }

    pub fn into_response(self) -> Response {
        Response {
            status: self.status,
            message: self.message.into_owned(),
            data: self.data,
        }
    }
}

impl From<Map<String, Value>> for Reply {
    fn from(data: Map<String, Value>) -> Reply {
        Reply::ok(data)
    }
}

/// Status 0 with `data`: a function's usual last line, `ok(data([...]))`.
pub fn ok(data: Map<String, Value>) -> Outcome {
    Ok(Reply::ok(data))
}

/// Builds a success reply: `reply([("token", token.into())])`.
pub fn reply<const N: usize>(fields: [(&str, Value); N]) -> Outcome {
    Ok(Reply::ok(data(fields)))
}

/// Builds a `data` object: `data([("token", token.into())])`.
pub fn data<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// A module's status table. Declare one with [`module_statuses!`](crate::module_statuses); a value converts into
/// [`FnError`] (so `Err(Status::X)?` works) or, for a non-zero success, into a [`Reply`]
/// with [`Reply::with`].
pub trait ModuleStatus: Copy {
    fn code(self) -> i32;
    fn message(self) -> &'static str;
}

impl<S: ModuleStatus> From<S> for FnError {
    fn from(status: S) -> FnError {
        FnError::Module {
            code: status.code(),
            message: Cow::Borrowed(status.message()),
        }
    }
}

/// Declares a module's statuses once: the enum, its codes and messages.
///
/// ```text
/// module_statuses! {
///     /// Statuses of the weapon functions.
///     pub enum WeaponStatus {
///         /// The player has no such weapon.
///         NotOwned = 97 => "you do not own this weapon",
///     }
/// }
/// ```
#[macro_export]
macro_rules! module_statuses {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $code:literal => $message:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every status of the table, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
        }

        impl $crate::function::ModuleStatus for $name {
            fn code(self) -> i32 {
                match self { $($name::$variant => $code,)+ }
            }
            fn message(self) -> &'static str {
                match self { $($name::$variant => $message,)+ }
            }
        }
    };
}

/// Why a game function did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum FnError {
    /// An argument is missing or of the wrong type (status 13); says which.
    Malformed(String),
    /// The function needs a world and the request named none (status 14).
    NoWorld,
    /// A module status with its message.
    Module {
        code: i32,
        message: Cow<'static, str>,
    },
    /// MySQL, Redis or another service failed; the detail is logged, not sent.
    Backend(String),
}

impl fmt::Display for FnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FnError::Malformed(why) => write!(f, "malformed request: {why}"),
            FnError::NoWorld => write!(f, "the request names no world"),
            FnError::Module { code, message } => write!(f, "status {code}: {message}"),
            FnError::Backend(why) => write!(f, "backend failed: {why}"),
        }
    }
}

impl std::error::Error for FnError {}

impl FnError {
    /// A module status with a message made for this call (e.g. naming the argument).
    pub fn module(status: impl ModuleStatus, message: impl Into<String>) -> FnError {
        FnError::Module {
            code: status.code(),
            message: Cow::Owned(message.into()),
        }
    }

    /// The response the client gets.
    pub fn to_response(&self) -> Response {
        match self {
            FnError::Malformed(why) => malformed(why),
            FnError::NoWorld => Response::of(Status::UnknownWorld),
            FnError::Module { code, message } => Response::error(*code, message.clone()),
            FnError::Backend(_) => Response::of(Status::Unavailable),
        }
    }
}

/// Status 13 with the contract's message and, in `data.reason`, what exactly was wrong.
pub fn malformed(reason: &str) -> Response {
    let mut response = Response::of(Status::Malformed);
    response
        .data
        .insert("reason".into(), Value::from(reason.to_string()));
    response
}

impl From<DbError> for FnError {
    fn from(e: DbError) -> FnError {
        FnError::Backend(e.to_string())
    }
}

impl From<mysql::Error> for FnError {
    fn from(e: mysql::Error) -> FnError {
        FnError::Backend(e.to_string())
    }
}

impl From<redis::RedisError> for FnError {
    fn from(e: redis::RedisError) -> FnError {
        FnError::Backend(e.to_string())
    }
}

// ------------------------------------------------------------------ arguments

/// The `data` object of a request, read with the types the function expects. Every
/// error names the field (status 13).
#[derive(Clone, Copy)]
pub struct Args<'a>(pub &'a Map<String, Value>);

impl<'a> Args<'a> {
    pub fn str(&self, name: &str) -> Result<&'a str, FnError> {
        match self.0.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(FnError::Malformed(format!("`{name}` must be a string"))),
            None => Err(missing(name)),
        }
    }

    /// An integer; the original's clients send some numbers as strings (`"icon": "3"`),
    /// which its server converted with `int(...)`, so a decimal string is taken too.
    pub fn int(&self, name: &str) -> Result<i64, FnError> {
        let wrong = || FnError::Malformed(format!("`{name}` must be an integer"));
        match self.0.get(name) {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(wrong),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| wrong()),
            Some(_) => Err(wrong()),
            None => Err(missing(name)),
        }
    }

    /// An integer in `min..=max`; outside it is status 13 naming the range.
    pub fn int_in(&self, name: &str, min: i64, max: i64) -> Result<i64, FnError> {
        let n = self.int(name)?;
        if n < min || n > max {
            return Err(FnError::Malformed(format!(
                "`{name}` must be from {min} to {max}"
            )));
        }
        Ok(n)
    }

    /// An optional integer: absent or null is `None`.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, FnError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.int(name).map(Some),
        }
    }

    /// An optional string: absent or null is `None`.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, FnError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.str(name).map(Some),
        }
    }
}

fn missing(name: &str) -> FnError {
    FnError::Malformed(format!("`{name}` is missing"))
}

/// Checks a name-like text argument: its length in characters (what MySQL's VARCHAR
/// counts), no control characters, and no whitespace at either end — MySQL compares
/// `'bob '` equal to `'bob'` (PAD SPACE), so a trailing space would name someone else's
/// row. The error is `status` with a message naming the argument and the rule.
pub fn check_text(
    name: &str,
    value: &str,
    min: usize,
    max: usize,
    status: impl ModuleStatus,
) -> Result<(), FnError> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(FnError::module(
            status,
            format!("{name} must be {min} to {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FnError::module(
            status,
            format!("{name} must not contain control characters"),
        ));
    }
    if value.trim() != value {
        return Err(FnError::module(
            status,
            format!("{name} must not start or end with whitespace"),
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ clock and randomness

/// The game's clock: the system's, or one a test sets. Daily resets, energy recovery and
/// timers read it through the context, never the system directly.
#[derive(Debug, Default)]
pub struct Clock {
    /// Seconds since the epoch when fixed; 0 means "follow the system clock".
    fixed: AtomicI64,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that stays at `unix_secs` until set again.
    pub fn fixed(unix_secs: i64) -> Clock {
        Clock {
            fixed: AtomicI64::new(unix_secs),
        }
    }

    pub fn set(&self, unix_secs: i64) {
        self.fixed.store(unix_secs, Ordering::SeqCst);
    }

    pub fn advance(&self, secs: i64) {
        self.fixed.fetch_add(secs, Ordering::SeqCst);
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match self.fixed.load(Ordering::SeqCst) {
            0 => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            fixed => fixed,
        }
    }
}

/// Where each job's random seed comes from: the kernel, or (in tests) a fixed sequence,
/// so a test's draws are the same on every run.
#[derive(Debug, Default)]
pub struct Seeds {
    /// 0: from the kernel; otherwise the next seed, advanced per job.
    fixed: AtomicU64,
}

impl Seeds {
    pub fn random() -> Seeds {
        Seeds::default()
    }

    pub fn fixed(seed: u64) -> Seeds {
        Seeds {
            fixed: AtomicU64::new(seed.max(1)),
        }
    }

    fn next(&self) -> u64 {
        match self.fixed.fetch_add(1, Ordering::Relaxed) {
            0 => {
                self.fixed.store(0, Ordering::Relaxed);
                thread_seed()
            }
            seed => seed,
        }
    }
}

/// A fresh seed per job without a system call per job: each thread seeds a generator from
/// the kernel once and draws job seeds from it.
fn thread_seed() -> u64 {
    thread_local! {
        static SOURCE: Rng = {
            let mut bytes = [0; 8];
            shared::ids::fill_random(&mut bytes);
            Rng::new(u64::from_le_bytes(bytes))
        };
    }
    SOURCE.with(Rng::next_u64)
}

/// A small, fast generator (SplitMix64) for game draws: drops, rewards, shuffles. Not for
/// secrets: tokens, nonces and codes use the kernel's source.
#[derive(Debug)]
pub struct Rng {
    state: Cell<u64>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: Cell::new(seed),
        }
    }

    pub fn next_u64(&self) -> u64 {
        let s = self.state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `0..n` (`n` > 0), without modulo bias.
    pub fn below(&self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// An index into `weights`, each chosen with probability weight / sum; `None` when
    /// the weights sum to zero.
    pub fn weighted(&self, weights: &[u64]) -> Option<usize> {
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut pick = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                return Some(i);
            }
            pick -= w;
        }
        unreachable!("pick < total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    module_statuses! {
        /// A table for the tests.
        pub enum TestStatus {
            Created = 1 => "created",
            Taken = 97 => "taken",
        }
    }

    #[test]
    fn args_name_what_is_wrong() {
        let map = json!({"a":"x","n":5,"f":1.5,"s":"12","bad":"1x"});
        let map = map.as_object().unwrap();
        let args = Args(map);
        assert_eq!(args.str("a").unwrap(), "x");
        assert_eq!(
            args.str("n").unwrap_err(),
            FnError::Malformed("`n` must be a string".into())
        );
        assert_eq!(
            args.str("zz").unwrap_err(),
            FnError::Malformed("`zz` is missing".into())
        );
        assert_eq!(args.int("n").unwrap(), 5);
        assert_eq!(
            args.int("s").unwrap(),
            12,
            "a decimal string, as int() took"
        );
        assert!(args.int("f").is_err());
        assert!(args.int("bad").is_err());
        assert_eq!(
            args.int_in("n", 6, 9).unwrap_err(),
            FnError::Malformed("`n` must be from 6 to 9".into())
        );
        assert_eq!(args.opt_int("zz").unwrap(), None);
        assert_eq!(args.opt_str("a").unwrap(), Some("x"));
    }

    #[test]
    fn text_checks_count_characters_not_bytes() {
        let taken = TestStatus::Taken;
        assert!(check_text("account", "😀😀😀", 3, 32, taken).is_ok());
        let e = check_text("account", "ab", 3, 32, taken).unwrap_err();
        assert_eq!(
            e,
            FnError::module(taken, "account must be 3 to 32 characters")
        );
        assert!(check_text("account", "a\nbc", 3, 32, taken).is_err());
        assert!(check_text("account", "a b", 3, 32, taken).is_ok());
        for padded in ["bob ", " bob", "bob\u{3000}"] {
            let e = check_text("account", padded, 3, 32, taken).unwrap_err();
            assert_eq!(
                e,
                FnError::module(taken, "account must not start or end with whitespace")
            );
        }
    }

    #[test]
    fn statuses_become_errors_and_replies() {
        let e: FnError = TestStatus::Taken.into();
        assert_eq!(
            e.to_response().to_json(),
            r#"{"status":97,"message":"taken","data":{}}"#
        );
        let r = Reply::with(TestStatus::Created, data([("token", json!("t"))]));
        assert_eq!(
            r.into_response().to_json(),
            r#"{"status":1,"message":"created","data":{"token":"t"}}"#
        );
        assert_eq!(TestStatus::ALL.len(), 2);
    }

    #[test]
    fn errors_become_contract_responses() {
        let r = FnError::Malformed("`a` is missing".into()).to_response();
        assert_eq!(r.status, 13);
        assert_eq!(r.message, "malformed request");
        assert_eq!(r.data["reason"], "`a` is missing");
        assert_eq!(FnError::NoWorld.to_response().status, 14);
        let r = FnError::Backend("secret detail".into()).to_response();
        assert_eq!(r.status, Status::Unavailable.code());
        assert!(!r.to_json().contains("secret detail"));
    }

    #[test]
    fn the_clock_follows_the_system_or_stays_where_set() {
        let system = Clock::system();
        assert!(system.now() > 1_700_000_000);
        let fixed = Clock::fixed(1_000);
        assert_eq!(fixed.now(), 1_000);
        fixed.advance(86_400);
        assert_eq!(fixed.now(), 87_400);
    }

    #[test]
    fn fixed_seeds_repeat_and_draws_follow_weights() {
        let (a, b) = (Seeds::fixed(7), Seeds::fixed(7));
        let draws = |s: &Seeds| Rng::new(s.next()).next_u64();
        assert_eq!(draws(&a), draws(&b));
        assert_ne!(Seeds::random().next(), Seeds::random().next());

        let rng = Rng::new(42);
        let weights = [1, 0, 3];
        let mut seen = [0u32; 3];
        for _ in 0..40_000 {
            seen[rng.weighted(&weights).unwrap()] += 1;
        }
        assert_eq!(seen[1], 0, "weight 0 is never drawn");
        // 1:3 within a few percent over 40,000 draws.
        let ratio = seen[2] as f64 / seen[0] as f64;
        assert!((2.8..3.2).contains(&ratio), "{seen:?}");
        assert_eq!(rng.weighted(&[0, 0]), None);
        for _ in 0..1000 {
            assert!(rng.below(3) < 3);
        }
    }
}
