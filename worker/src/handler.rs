//! One request line in, one response out: parse, find the function, check world, token
//! and permission, run it, and turn a panic into status -1.
//!
//! Order of checks (first failure answers): 13 malformed, 10 unknown function,
//! 14 unknown world, 12 token not present, 11 invalid token, 15 permission denied.
//! Then a request id (`rid`) is claimed, or its recorded answer given (crate::request_id).

use std::net::IpAddr;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use auth::jwt::{Claims, TokenError, TokenKind};
use auth::tokens::{revocation_key, still_current};
use mysql::prelude::Queryable;
use serde_json::{Map, Value};
use shared::envelope::{Response, Status};

use crate::function::{
    malformed, Access, Account, Args, Context, FnError, InWorld, Player, Run, Services,
};
use crate::functions;
use crate::game_config::{GameConfig, Worlds};
use crate::modules::enums::{SharedStatus, ADMIN_ROLE};
use crate::request_id::{self, Claim, Claimed, Waited};

/// The `world` of a request: a world id, or (as the original's clients send it) an index
/// into the worlds file's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldRef {
    Id(String),
    Index(u64),
    /// A negative number: names no world (status 14), but is not malformed.
    Negative,
}

impl WorldRef {
    /// As a request's `world` field (a negative number as -1).
    pub fn to_value(&self) -> Value {
        match self {
            WorldRef::Id(id) => Value::from(id.as_str()),
            WorldRef::Index(i) => Value::from(*i),
            WorldRef::Negative => Value::from(-1),
        }
    }

    /// The live world this names, through merges.
    pub fn resolve<'w>(&self, worlds: &'w Worlds) -> Option<&'w str> {
        match self {
            WorldRef::Id(id) => worlds.resolve(id),
            WorldRef::Index(i) => worlds.resolve_index(*i),
            WorldRef::Negative => None,
        }
    }
}

/// A parsed request: `{"world":"s0"|0,"function":"<name>","rid":"<id>","data":{...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub world: Option<WorldRef>,
    pub function: String,
    /// The request id: a retry with the same one gets the first answer.
    pub rid: Option<String>,
    pub data: Map<String, Value>,
}

/// Parses a request line; the error says what is wrong (status 13).
pub fn parse_request(line: &str) -> Result<Request, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err("the request must be a JSON object".into());
    };
    let function = match object.remove("function") {
        Some(Value::String(f)) => f,
        Some(_) => return Err("`function` must be a string".into()),
        None => return Err("`function` is missing".into()),
    };
    let world = match object.remove("world") {
        Some(Value::String(w)) => Some(WorldRef::Id(w)),
        Some(Value::Number(n)) if n.is_u64() => n.as_u64().map(WorldRef::Index),
        Some(Value::Number(n)) if n.is_i64() => Some(WorldRef::Negative),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`world` must be a world id or an integer index".into()),
    };
    let data = match object.remove("data") {
        Some(Value::Object(d)) => d,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("`data` must be an object".into()),
    };
    let rid = request_id::parse(object.remove("rid"))?;
    Ok(Request {
        world,
        function,
        rid,
        data,
    })
}

/// Why a token did not grant access.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    Missing,
    NotAString,
    Invalid(TokenError),
    /// A session token for another world, or an account token where a session is needed.
    WrongScope,
    NotAdmin,
}

impl Refusal {
    pub fn to_response(&self) -> Response {
        match self {
            Refusal::Missing => Response::of(Status::TokenMissing),
            Refusal::NotAString => malformed("`data.token` must be a string"),
            Refusal::Invalid(TokenError::Unavailable(_)) => Response::of(Status::Unavailable),
            Refusal::Invalid(_) | Refusal::WrongScope => Response::of(Status::InvalidToken),
            Refusal::NotAdmin => Response::of(Status::PermissionDenied),
        }
    }
}

/// Checks the request's token for a function of `access` served in `world` (already
/// resolved through merges). `validate` checks signature, expiry and revocation.
pub fn authorize(
    access: Access,
    token: Option<&Value>,
    world: Option<&str>,
    worlds: &Worlds,
    validate: impl FnOnce(&str) -> Result<Claims, TokenError>,
) -> Result<Claims, Refusal> {
    let token = match token {
        None | Some(Value::Null) => return Err(Refusal::Missing),
        Some(Value::String(t)) if t.is_empty() => return Err(Refusal::Missing),
        Some(Value::String(t)) => t,
        Some(_) => return Err(Refusal::NotAString),
    };
    let claims = validate(token).map_err(Refusal::Invalid)?;
    let same_world = match (&claims.world, world) {
        (Some(token_world), Some(world)) => worlds.resolve(token_world) == Some(world),
        _ => false,
    };
    let in_scope = match (claims.kind, access) {
        (TokenKind::Session, _) => same_world,
        (TokenKind::Account | TokenKind::Admin, Access::Session) => false,
        (TokenKind::Account, _) => true,
        // An operator's token may be held to one world; without one it serves every world.
        (TokenKind::Admin, _) => claims.world.is_none() || same_world,
    };
    if !in_scope {
        return Err(Refusal::WrongScope);
    }
    // The kind, never the `role` claim: admin power is an admin token (issue 16).
    if access == Access::Admin && !claims.is_admin() {
        return Err(Refusal::NotAdmin);
    }
    Ok(claims)
}

/// Answers one request line. Never panics: a panic inside answers -1.
pub fn handle(services: &Services, config: &GameConfig, line: &str) -> Response {
    handle_from(services, config, line, None)
}

/// [`handle`] for a request from the client address `client` (what a gate puts in the job
/// header), which functions that meter per address read as `ctx.client`.
pub fn handle_from(
    services: &Services,
    config: &GameConfig,
    line: &str,
    client: Option<IpAddr>,
) -> Response {
    handle_job(services, config, line, None, client, None).response
}

/// What [`handle_job`] answered and learned on the way.
#[derive(Debug)]
pub struct Handled {
    pub response: Response,
    /// The gate id the job key held, if it was read (a value that is no gate id counts
    /// as none).
    pub gate: Option<Option<u32>>,
    /// The called function's position in the function table (`None`: no such function,
    /// or the request was malformed), for the per-function metrics.
    pub function: Option<usize>,
}

/// [`handle`] for a job from a gate, due at `deadline` (when its gate answers -2). A job
/// that names its gate needs no lookup: pass `job_key` `None`. For a job that does not (a
/// seed-contract gate), when the request carries a token, its revocation key and `job_key`
/// (the contract's key of the job's gate id) are read in one round trip.
pub fn handle_job(
    services: &Services,
    config: &GameConfig,
    line: &str,
    job_key: Option<&str>,
    client: Option<IpAddr>,
    deadline: Option<Instant>,
) -> Handled {
    let mut function = None;
    let mut gate = None;
    let job = JobInfo { client, deadline };
    let response = guarded(|| {
        dispatch(
            services,
            config,
            line,
            job,
            &mut function,
            &mut |token, rid| {
                let checked = check_token(services, token, job_key, rid, &mut gate)?;
                Ok((checked.claims, checked.claim))
            },
        )
    });
    Handled {
        response,
        gate,
        function,
    }
}

/// What the job header says besides the request.
#[derive(Clone, Copy)]
struct JobInfo {
    client: Option<IpAddr>,
    deadline: Option<Instant>,
}

/// A valid token's claims, with the request id's claim and what it found, when the
/// request has one.
struct Checked {
    claims: Claims,
    claim: Option<(Claim, Claimed)>,
}

/// Checks `token` (signature, expiry, revocation) in one Redis round trip that also reads
/// `job_key` (into `gate`, even when the token fails) and claims `rid` for the token's
/// caller when given. Without them it is the token check alone (one `GET`), as most
/// requests need.
fn check_token(
    services: &Services,
    token: &str,
    job_key: Option<&str>,
    rid: Option<&str>,
    gate: &mut Option<Option<u32>>,
) -> Result<Checked, TokenError> {
    let unavailable = TokenError::Unavailable;
    if job_key.is_none() && rid.is_none() {
        return services.tokens.validate(token).map(|claims| Checked {
            claims,
            claim: None,
        });
    }
    let claims = services.tokens.verify(token)?;
    let revocation = revocation_key(claims.kind, &claims.uid);
    let Some(rid) = rid else {
        // Two GETs in one pipeline, not an MGET: the keys hash to different slots, and a
        // Redis Cluster refuses a multi-key command across slots (docs/redis.md).
        let (current, gid): (Option<String>, Option<String>) = services
            .redis
            .run(|c| {
                redis::pipe()
                    .cmd("GET")
                    .arg(&revocation)
                    .cmd("GET")
                    .arg(job_key)
                    .query(c)
            })
            .map_err(unavailable)?;
        *gate = Some(gid.and_then(|g| g.parse().ok()));
        return still_current(claims, current.as_deref()).map(|claims| Checked {
            claims,
            claim: None,
        });
    };
    // The signature already proved who the caller is; the claim rides along with the
    // revocation read and is let go below if the token turns out revoked.
    let claim = Claim::new(claims.is_admin(), rid, &claims.uid);
    let mut pipe = redis::pipe();
    pipe.cmd("GET").arg(&revocation);
    if let Some(job_key) = job_key {
        pipe.cmd("GET").arg(job_key);
    }
    claim.add_to(&mut pipe, services.request_ids.ttl);
    let mut replies: Vec<Option<String>> =
        services.redis.run(|c| pipe.query(c)).map_err(unavailable)?;
    let old = replies.pop().flatten();
    if job_key.is_some() {
        *gate = Some(replies.pop().flatten().and_then(|g| g.parse().ok()));
    }
    let current = replies.pop().flatten();
    let claimed = claim.outcome(old);
    match still_current(claims, current.as_deref()) {
        Ok(claims) => Ok(Checked {
            claims,
            claim: Some((claim, claimed)),
        }),
        Err(e) => {
            if claimed == Claimed::Owned {
                claim.release(&services.redis, &services.rid_counters);
            }
            Err(e)
        }
    }
}

/// Runs `answer`, turning a panic into -1.
fn guarded(answer: impl FnOnce() -> Response) -> Response {
    match panic::catch_unwind(AssertUnwindSafe(answer)) {
        Ok(response) => response,
        Err(payload) => {
            let reason = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            shared::error!("function panicked", reason = reason);
            Response::of(Status::ProgrammingError)
        }
    }
}

/// Checks a token, claiming the request id (the second argument) when there is one.
type TokenCheck<'a> =
    dyn FnMut(&str, Option<&str>) -> Result<(Claims, Option<(Claim, Claimed)>), TokenError> + 'a;

fn dispatch(
    services: &Services,
    config: &GameConfig,
    line: &str,
    job: JobInfo,
    called: &mut Option<usize>,
    check: &mut TokenCheck,
) -> Response {
    let request = match parse_request(line) {
        Ok(r) => r,
        Err(why) => return malformed(&why),
    };
    let Some((position, function)) = functions::find(&request.function) else {
        return Response::of(Status::UnknownFunction);
    };
    // Set before the checks below: a refused call counts under the function it named.
    *called = position;
    let access = function.access();
    let world = match &request.world {
        Some(named) => match named.resolve(config.worlds()) {
            Some(served) => Some(served),
            None => return Response::of(Status::UnknownWorld),
        },
        None if access == Access::Session => return Response::of(Status::UnknownWorld),
        None => None,
    };
    let mut data = request.data;
    // A public function has no caller to key a request id by: its rid is not used.
    let mut claimed = None;
    let claims = if access == Access::Public {
        None
    } else {
        let token = data.remove("token");
        let validate = |token: &str| {
            let (claims, claim) = check(token, request.rid.as_deref())?;
            claimed = claim;
            Ok(claims)
        };
        match authorize(access, token.as_ref(), world, config.worlds(), validate) {
            Ok(claims) => Some(claims),
            Err(refusal) => {
                if let Some((claim, Claimed::Owned)) = &claimed {
                    claim.release(&services.redis, &services.rid_counters);
                }
                if let Refusal::Invalid(TokenError::Unavailable(why)) = &refusal {
                    shared::warn!("token check failed", error = why);
                }
                return refusal.to_response();
            }
        }
    };
    let owned = match claimed {
        None => None,
        Some((claim, Claimed::Owned)) => Some(claim),
        Some((claim, Claimed::Taken(record))) => {
            let until = request_id::wait_until(job.deadline, Instant::now());
            let counters = &services.rid_counters;
            match claim.wait(&services.redis, record, until, services.request_ids.ttl) {
                Ok(Waited::Owned) => Some(claim),
                Ok(Waited::Answer(response)) => {
                    counters.replayed.inc();
                    return response;
                }
                Ok(Waited::StillRunning) => {
                    counters.still_running.inc();
                    return Response::of(Status::StillRunning);
                }
                Err(e) => {
                    shared::warn!("request id wait failed", error = e);
                    return Response::of(Status::Unavailable);
                }
            }
        }
    };
    if let Some(claim) = &owned {
        // Claiming (or waiting) may have taken the job past its deadline: its client has
        // -2 already, and the retry it makes must find the rid free.
        if job
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            claim.release(&services.redis, &services.rid_counters);
            return Response::of(Status::TimedOut);
        }
    }
    if let Some(claims) = &claims {
        // The token says who the caller is; what the client sent does not count.
        data.insert("unique_id".into(), Value::from(claims.uid.clone()));
    }
    let run = move || {
        let mut ctx = Context::new(services, config, world);
        ctx.client = job.client;
        run_function(function, &ctx, world, claims, &Args(&data))
    };
    let Some(claim) = owned else {
        return run();
    };
    match panic::catch_unwind(AssertUnwindSafe(run)) {
        // 16: a backend failed and nothing was kept, so a retry must run.
        Ok(response) if response.status == Status::Unavailable.code() => {
            claim.release(&services.redis, &services.rid_counters);
            response
        }
        Ok(response) => {
            claim.record(&services.redis, &response.to_json(), &services.request_ids);
            response
        }
        Err(panicked) => {
            // The function's transaction rolled back as it unwound: nothing was kept.
            claim.release(&services.redis, &services.rid_counters);
            panic::resume_unwind(panicked)
        }
    }
}

/// Runs an authorized function and turns its outcome into the answer.
fn run_function(
    function: &crate::function::Function,
    ctx: &Context,
    world: Option<&str>,
    claims: Option<Claims>,
    args: &Args,
) -> Response {
    let outcome = match (function.run, claims) {
        (Run::Public(run), _) => run(ctx, args),
        (Run::Account(run) | Run::Admin(run), Some(claims)) => run(ctx, &account(claims), args),
        (Run::Session(run), Some(claims)) => match world {
            Some(world) => run(ctx, &in_world(claims, world), args),
            None => Err(FnError::NoWorld),
        },
        (Run::Player(run), Some(claims)) => match world {
            Some(world) => {
                load_player(ctx, &in_world(claims, world)).and_then(|p| run(ctx, &p, args))
            }
            None => Err(FnError::NoWorld),
        },
        (_, None) => unreachable!("every non-public function was authorized above"),
    };
    match outcome {
        Ok(reply) => reply.into_response(),
        Err(e) => {
            if let FnError::Backend(why) = &e {
                shared::warn!("function failed", function = function.name, error = why);
            }
            e.to_response()
        }
    }
}

/// `role` is `admin` for an admin token only: a player token's role claim grants nothing.
fn account(claims: Claims) -> Account {
    Account {
        role: claims.is_admin().then(|| ADMIN_ROLE.to_string()),
        uid: claims.uid,
    }
}

fn in_world(claims: Claims, world: &str) -> InWorld {
    InWorld {
        uid: claims.uid,
        world: world.to_string(),
    }
}

/// The caller's player in `at.world`; the shared "no player" status when it has none.
pub fn load_player(ctx: &Context, at: &InWorld) -> Result<Player, FnError> {
    let mut conn = ctx.db.conn()?;
    let row: Option<(String, i64)> = conn.exec_first(
        "SELECT gn, level FROM players WHERE world = ? AND unique_id = ?",
        (&at.world, &at.uid),
    )?;
    let (gn, level) = row.ok_or(SharedStatus::NoPlayer)?;
    Ok(Player {
        world: at.world.clone(),
        unique_id: at.uid.clone(),
        gn,
        level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_job_reads_its_gate_with_the_token_and_refuses_a_revoked_one() {
        use std::sync::Arc;
        use std::time::Duration;
        let redis_server = testkit::Redis::start();
        let redis = Arc::new(shared::redis_conn::RedisPool::new(&redis_server.url(), 2).unwrap());
        let key = auth::Key::new(b"a test signing key of 32 bytes!!").unwrap();
        let services = Services::new(
            // Never reached: the functions called here touch no table.
            crate::db::Db::open("mysql://root@127.0.0.1:1/none", 1).unwrap(),
            redis.clone(),
            auth::Tokens::new(key, redis.clone(), Duration::from_secs(60)),
            crate::function::FunctionSettings {
                pbkdf2_iterations: 1000,
                mail_url: String::new(),
                auth_url: String::new(),
                notify: Default::default(),
                purchase_verifier: Default::default(),
                chat_tokens_per_minute: crate::modules::chat::DEFAULT_TOKENS_PER_MINUTE,
                account_limits: Default::default(),
            },
        );
        let config = GameConfig::embedded();
        let issue = || {
            let session = services
                .tokens
                .issue("u", TokenKind::Session, Some("s0"), None);
            session.unwrap().0
        };
        let line = json!({"world":"s0","function":"debug_session","data":{"token":issue()}});
        let line = line.to_string();
        redis
            .run(|c| redis::cmd("SET").arg("gate.job.j1").arg("7").query::<()>(c))
            .unwrap();

        let job = |line: &str, key| {
            let h = handle_job(&services, &config, line, key, None, None);
            (h.response, h.gate, h.function)
        };
        let (r, gate, function) = job(&line, Some("gate.job.j1"));
        assert_eq!((r.status, gate), (0, Some(Some(7))));
        assert_eq!(
            function, None,
            "a test-only function has no place in the table"
        );
        let (r, gate, _) = job(&line, Some("gate.job.gone"));
        assert_eq!((r.status, gate), (0, Some(None)), "read, and not there");

        issue(); // a newer token revokes the one in `line`
        let (r, gate, _) = job(&line, Some("gate.job.j1"));
        assert_eq!(r.status, Status::InvalidToken.code());
        assert_eq!(gate, Some(Some(7)));

        // Without a token nothing is read on the way; the caller looks the gate up.
        let public = json!({"function":"login_unique","data":{}}).to_string();
        let (_, gate, function) = job(&public, Some("gate.job.j1"));
        assert_eq!(gate, None);
        let position = function.expect("login_unique is in the table");
        assert_eq!(crate::functions::FUNCTIONS[position].name, "login_unique");
        // A job that names its gate: nothing is looked up, the token still checked.
        let (r, gate, _) = job(&line, None);
        assert_eq!(r.status, Status::InvalidToken.code());
        assert_eq!(gate, None);
        let unknown = json!({"function":"no_such_fn","data":{}}).to_string();
        assert_eq!(job(&unknown, None).2, None);
    }

    fn claims(kind: TokenKind, world: Option<&str>, role: Option<&str>) -> Claims {
        Claims {
            uid: "u1".into(),
            kind,
            world: world.map(str::to_string),
            role: role.map(str::to_string),
            iat: 0,
            exp: u64::MAX,
            jti: "j".into(),
        }
    }

    fn worlds() -> Worlds {
        Worlds::parse(&json!({"worlds":["s0","s1"],"merge":{"old":"s0"}})).unwrap()
    }

    #[test]
    fn requests_parse_or_say_what_is_wrong() {
        let r = parse_request(r#"{"world":"s0","function":"login","data":{"a":1}}"#).unwrap();
        assert_eq!(r.world, Some(WorldRef::Id("s0".into())));
        assert_eq!(r.function, "login");
        assert_eq!(r.data["a"], 1);
        let r = parse_request(r#"{"world": 0, "function": "login"}"#).unwrap();
        assert_eq!(r.world, Some(WorldRef::Index(0)));
        let r = parse_request(r#"{"world":-3,"function":"login"}"#).unwrap();
        assert_eq!(r.world, Some(WorldRef::Negative));
        let r = parse_request(r#"{"function":"login"}"#).unwrap();
        assert_eq!((r.world, r.data.len(), r.rid), (None, 0, None));
        let r = parse_request(r#"{"function":"f","rid":"a-1_B","data":{"rid":"x y"}}"#).unwrap();
        assert_eq!(
            r.rid.as_deref(),
            Some("a-1_B"),
            "the top-level rid, not data's"
        );
        for (line, why) in [
            ("not json", "not JSON"),
            ("[1,2]", "must be a JSON object"),
            (r#"{"data":{}}"#, "`function` is missing"),
            (r#"{"function":7}"#, "`function` must be a string"),
            (
                r#"{"function":"f","world":1.5}"#,
                "`world` must be a world id",
            ),
            (
                r#"{"function":"f","world":[0]}"#,
                "`world` must be a world id",
            ),
            (r#"{"function":"f","data":[1]}"#, "`data` must be an object"),
            (r#"{"function":"f","data":"x"}"#, "`data` must be an object"),
            (r#"{"function":"f","rid":""}"#, "`rid` must be 1 to 64"),
            (r#"{"function":"f","rid":12}"#, "`rid` must be 1 to 64"),
        ] {
            let e = parse_request(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn token_presence_and_type() {
        let ok = |_: &str| Ok(claims(TokenKind::Account, None, None));
        let w = worlds();
        assert_eq!(
            authorize(Access::Account, None, None, &w, ok),
            Err(Refusal::Missing)
        );
        assert_eq!(
            authorize(Access::Account, Some(&json!("")), None, &w, ok),
            Err(Refusal::Missing)
        );
        assert_eq!(
            authorize(Access::Account, Some(&json!(5)), None, &w, ok),
            Err(Refusal::NotAString)
        );
        assert_eq!(Refusal::Missing.to_response().status, 12);
        assert_eq!(Refusal::NotAString.to_response().status, 13);
        assert_eq!(
            authorize(Access::Account, Some(&json!("t")), None, &w, |_| Err(
                TokenError::Expired
            )),
            Err(Refusal::Invalid(TokenError::Expired))
        );
        assert_eq!(
            Refusal::Invalid(TokenError::Revoked).to_response().status,
            11
        );
        let down = Refusal::Invalid(TokenError::Unavailable(redis::RedisError::from((
            redis::ErrorKind::Io,
            "redis",
        ))))
        .to_response();
        assert_eq!(down.status, 16);
    }

    #[test]
    fn session_tokens_only_work_in_their_world() {
        let w = worlds();
        let t = Some(json!("t"));
        let session =
            |world: &'static str| move |_: &str| Ok(claims(TokenKind::Session, Some(world), None));
        assert!(authorize(Access::Session, t.as_ref(), Some("s0"), &w, session("s0")).is_ok());
        assert_eq!(
            authorize(Access::Session, t.as_ref(), Some("s1"), &w, session("s0")),
            Err(Refusal::WrongScope)
        );
        assert_eq!(
            authorize(Access::Account, t.as_ref(), Some("s1"), &w, session("s0")),
            Err(Refusal::WrongScope)
        );
        assert_eq!(
            authorize(Access::Account, t.as_ref(), None, &w, session("s0")),
            Err(Refusal::WrongScope)
        );
        // A token from a world merged into s0 is a token for s0.
        assert!(authorize(Access::Session, t.as_ref(), Some("s0"), &w, session("old")).is_ok());
        let account = |_: &str| Ok(claims(TokenKind::Account, None, None));
        assert_eq!(
            authorize(Access::Session, t.as_ref(), Some("s0"), &w, account),
            Err(Refusal::WrongScope)
        );
        assert!(authorize(Access::Account, t.as_ref(), Some("s0"), &w, account).is_ok());
        assert_eq!(Refusal::WrongScope.to_response().status, 11);
    }

    #[test]
    fn admin_functions_need_an_admin_token() {
        let w = worlds();
        let t = Some(json!("t"));
        let player = |_: &str| Ok(claims(TokenKind::Account, None, Some("player")));
        // Before issue 16 the role claim made an admin; now only the kind does.
        let role_only = |_: &str| Ok(claims(TokenKind::Account, None, Some("admin")));
        let session_role = |_: &str| Ok(claims(TokenKind::Session, Some("s0"), Some("admin")));
        let admin = |_: &str| Ok(claims(TokenKind::Admin, None, None));
        assert_eq!(
            authorize(Access::Admin, t.as_ref(), None, &w, player),
            Err(Refusal::NotAdmin)
        );
        assert_eq!(
            authorize(Access::Admin, t.as_ref(), None, &w, role_only),
            Err(Refusal::NotAdmin)
        );
        assert_eq!(
            authorize(Access::Admin, t.as_ref(), Some("s0"), &w, session_role),
            Err(Refusal::NotAdmin)
        );
        assert_eq!(Refusal::NotAdmin.to_response().status, 15);
        assert!(authorize(Access::Admin, t.as_ref(), None, &w, admin).is_ok());
        assert!(authorize(Access::Admin, t.as_ref(), Some("s1"), &w, admin).is_ok());
        assert!(authorize(Access::Account, t.as_ref(), Some("s1"), &w, admin).is_ok());
        // An operator has no player: no session functions.
        assert_eq!(
            authorize(Access::Session, t.as_ref(), Some("s0"), &w, admin),
            Err(Refusal::WrongScope)
        );
        // An admin token held to a world serves that world (and its merged ones) only.
        let held = |_: &str| Ok(claims(TokenKind::Admin, Some("old"), None));
        assert!(authorize(Access::Admin, t.as_ref(), Some("s0"), &w, held).is_ok());
        assert_eq!(
            authorize(Access::Admin, t.as_ref(), Some("s1"), &w, held),
            Err(Refusal::WrongScope)
        );
        assert_eq!(
            authorize(Access::Admin, t.as_ref(), None, &w, held),
            Err(Refusal::WrongScope)
        );
    }

    #[test]
    fn only_an_admin_token_makes_an_admin_caller() {
        let caller = account(claims(TokenKind::Account, None, Some("admin")));
        assert_eq!(caller.role, None);
        let caller = account(claims(TokenKind::Admin, None, None));
        assert_eq!(caller.role.as_deref(), Some(ADMIN_ROLE));
    }
}
