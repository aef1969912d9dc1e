//! Request ids (`rid`): a retried request runs its function at most once.
//!
//! A client may put `"rid":"<id>"` beside `"function"` (1 to 64 of `A-Z a-z 0-9 _ -`) on any
//! call with a token. The record is keyed by the token's caller ([`keys::request_record`]),
//! never by anything the client sends, so one player cannot read or block another's
//! answers. One Redis key per (caller, rid) goes through:
//!
//! 1. **claim**: `SET <key> "running <owner>" NX GET PX <ttl>`, sent in the same round trip
//!    as the token's revocation check (the handler). No old value: this job owns the rid
//!    and runs the function. Its own marker back (the pool replayed the pipeline after a
//!    dropped connection) also means it owns the rid.
//! 2. **owner done**: `SET <key> <answer JSON> PX <ttl>`, or `unkept` for an answer over
//!    the cap. A failure that left no effect (status 16, a panic, a refused token, the job
//!    past its deadline) deletes the key instead, so a retry runs.
//! 3. **duplicate**: repeats the claim every few milliseconds until it finds an answer
//!    (returned as the first job's), finds the key gone (it then owns the rid and runs), or
//!    reaches its own deadline (status 20). It never runs the function while another job
//!    holds the rid.
//!
//! The record is written after the function returned, so after its MySQL commit: a worker
//! killed between the commit and the record leaves the marker, which answers 20 until it
//! expires; a retry after that runs again (docs/worker.md, "Request ids").
//!
//! Runs on the job thread that handles the request; no threads of its own.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::envelope::{Response, Status};
use shared::metrics::{Counter, Registry};
use shared::redis_conn::RedisPool;

use crate::keys;

/// The longest request id.
pub const MAX_LEN: usize = 64;
/// How long a record lives: more than twice the gate's 10 s job timeout, so a client's
/// retry after a -2 still finds it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// The largest answer recorded; a larger one is recorded as `unkept`.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 16 * 1024;
/// A duplicate gives up this long before its deadline, so its 20 reaches the gate before
/// the gate answers -2 in its place.
const GIVE_UP_EARLY: Duration = Duration::from_millis(100);
/// Without a deadline (a seed-contract gate's job, a call in-process) a duplicate waits at
/// most the seed contract's job timeout.
const WAIT_WITHOUT_DEADLINE: Duration = Duration::from_secs(shared::contract::JOB_KEY_TTL_SECS);
const POLL_FIRST: Duration = Duration::from_millis(5);
const POLL_MAX: Duration = Duration::from_millis(50);

const RUNNING: &str = "running ";
const UNKEPT: &str = "unkept";

/// The options of request ids (`--rid-ttl-secs`, `--rid-answer-max-bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RidSettings {
    pub ttl: Duration,
    pub max_answer_bytes: usize,
}

impl Default for RidSettings {
    fn default() -> Self {
        RidSettings {
            ttl: DEFAULT_TTL,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }
}

/// Reads a request's `rid` field: `None` when absent or null; the 13 reason otherwise.
pub fn parse(value: Option<Value>) -> Result<Option<String>, String> {
    const WHY: &str = "`rid` must be 1 to 64 characters of A-Z a-z 0-9 _ -";
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(rid)) if valid(&rid) => Ok(Some(rid)),
        Some(_) => Err(WHY.to_string()),
    }
}

fn valid(rid: &str) -> bool {
    (1..=MAX_LEN).contains(&rid.len())
        && rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a record key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A job holds the rid and runs (or ran) the function; `owner` is its random tag.
    Running { owner: String },
    /// The first job's answer, as sent to its client.
    Answer(String),
    /// The first job's answer was over the cap: the function ran, its answer is gone.
    Unkept,
}

impl Record {
    /// The value stored: `running <owner>`, the answer's JSON, or `unkept`.
    pub fn encode(&self) -> String {
        match self {
            Record::Running { owner } => format!("{RUNNING}{owner}"),
            Record::Answer(json) => json.clone(),
            Record::Unkept => UNKEPT.to_string(),
        }
    }

    /// Reads a stored value. Anything unknown counts as [`Record::Unkept`]: the function
    /// may have run, so it must not run again.
    pub fn decode(text: &str) -> Record {
        if let Some(owner) = text.strip_prefix(RUNNING) {
            Record::Running {
                owner: owner.to_string(),
            }
        } else if text.starts_with('{') {
            Record::Answer(text.to_string())
        } else {
            Record::Unkept
        }
    }
}

/// The claim of one job on one (caller, rid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    key: String,
    owner: String,
}

/// What the claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This job holds the rid: it runs the function, then records or releases.
    Owned,
    /// Another job holds it or has answered: what the key held.
    Taken(Record),
}

/// How a duplicate's wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Waited {
    /// The key went away (the first job failed without effect): this job holds it now.
    Owned,
    /// The answer to give: the recorded one, or 21 for an unkept one.
    Answer(Response),
    /// The first job still ran at this job's deadline: answer 20.
    StillRunning,
}

/// Why a duplicate stopped waiting without an answer: the caller answers 16.
#[derive(Debug)]
pub enum RidError {
    /// Redis failed while the duplicate read the record.
    Redis(redis::RedisError),
}

impl fmt::Display for RidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RidError::Redis(e) => write!(f, "request id record: {e}"),
        }
    }
}

impl std::error::Error for RidError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RidError::Redis(e) => Some(e),
        }
    }
}

/// What request ids did, for `/metrics` (unregistered counters in tests).
#[derive(Debug, Default, Clone)]
pub struct RidCounters {
    /// Retries answered from a record (the first answer, or 21).
    pub replayed: Arc<Counter>,
    /// Duplicates answered 20: the first attempt still ran at their deadline.
    pub still_running: Arc<Counter>,
    /// Markers let go after a failure without effect, so a retry runs.
    pub released: Arc<Counter>,
}

impl RidCounters {
    pub fn register(registry: &Registry) -> RidCounters {
        RidCounters {
            replayed: registry.counter(
                "worker_rid_replayed_total",
                "retries with a request id answered from the first attempt's record (21 included), without running",
            ),
            still_running: registry.counter(
                "worker_rid_still_running_total",
                "retries with a request id answered 20: the first attempt still ran at their deadline",
            ),
            released: registry.counter(
                "worker_rid_released_total",
                "request id markers let go after a failure without effect (16, -1, refused token, past the deadline)",
            ),
        }
    }
}

impl Claim {
    /// A claim on `rid` for caller `uid` (an admin's apart from a player's).
    pub fn new(admin: bool, rid: &str, uid: &str) -> Claim {
        Claim {
            key: keys::request_record(admin, rid, uid),
            owner: shared::ids::random_hex(8),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Adds the claim's command to `pipe`; its reply is the key's old value (a bulk string
    /// or nil) for [`Claim::outcome`].
    pub fn add_to(&self, pipe: &mut redis::Pipeline, ttl: Duration) {
        pipe.add_command(self.command(ttl));
    }

    fn command(&self, ttl: Duration) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        let marker = Record::Running {
            owner: self.owner.clone(),
        };
        cmd.arg(&self.key)
            .arg(marker.encode())
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(ttl_ms(ttl));
        cmd
    }

    /// Reads the claim command's reply.
    pub fn outcome(&self, old: Option<String>) -> Claimed {
        match old.as_deref().map(Record::decode) {
            None => Claimed::Owned,
            Some(Record::Running { owner }) if owner == self.owner => Claimed::Owned,
            Some(record) => Claimed::Taken(record),
        }
    }

    /// Waits as a duplicate, from what the claim found, until `until`.
    pub fn wait(
        &self,
        redis: &RedisPool,
        first: Record,
        until: Instant,
        ttl: Duration,
    ) -> Result<Waited, RidError> {
        let mut seen = first;
        let mut pause = POLL_FIRST;
        loop {
            match seen {
                Record::Answer(json) => {
                    let response = serde_json::from_str(&json)
                        .unwrap_or_else(|_| Response::of(Status::ProgrammingError));
                    return Ok(Waited::Answer(response));
                }
                Record::Unkept => return Ok(Waited::Answer(Response::of(Status::AnswerNotKept))),
                Record::Running { .. } => {}
            }
            if Instant::now() + pause >= until {
                return Ok(Waited::StillRunning);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(POLL_MAX);
            // The claim again: it reads the key and, if the first job let go, takes it.
            let cmd = self.command(ttl);
            let old: Option<String> = redis.run(|c| cmd.query(c)).map_err(RidError::Redis)?;
            match self.outcome(old) {
                Claimed::Owned => return Ok(Waited::Owned),
                Claimed::Taken(record) => seen = record,
            }
        }
    }

    /// Records the owner's answer (`json`, as sent) in place of its marker. A Redis failure
    /// is logged: the marker then answers 20 until it expires.
    pub fn record(&self, redis: &RedisPool, json: &str, settings: &RidSettings) {
        let value = if json.len() > settings.max_answer_bytes {
            UNKEPT
        } else {
            json
        };
        let stored = redis.run(|c| {
            redis::cmd("SET")
                .arg(&self.key)
                .arg(value)
                .arg("PX")
                .arg(ttl_ms(settings.ttl))
                .query::<()>(c)
        });
        if let Err(e) = stored {
            shared::warn!("request id answer not recorded", key = self.key, error = e);
        }
    }

    /// Lets go of the rid after a failure without effect, so a retry runs.
    pub fn release(&self, redis: &RedisPool, counters: &RidCounters) {
        counters.released.inc();
        let deleted = redis.run(|c| redis::cmd("DEL").arg(&self.key).query::<()>(c));
        if let Err(e) = deleted {
            shared::warn!("request id marker not released", key = self.key, error = e);
        }
    }
}

/// Until when a duplicate of a job due at `deadline` waits.
pub fn wait_until(deadline: Option<Instant>, now: Instant) -> Instant {
    match deadline {
        Some(deadline) => deadline.checked_sub(GIVE_UP_EARLY).unwrap_or(now),
        None => now + WAIT_WITHOUT_DEADLINE - GIVE_UP_EARLY,
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rids_are_short_plain_strings() {
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some(Value::Null)), Ok(None));
        for good in ["a", "A-z_09", &"x".repeat(64)] {
            assert_eq!(
                parse(Some(json!(good))),
                Ok(Some(good.to_string())),
                "{good}"
            );
        }
        for bad in [
            json!(""),
            json!("x".repeat(65)),
            json!("a b"),
            json!("a:b"),
            json!("é"),
            json!("a\n"),
            json!(7),
            json!(["a"]),
            json!({"a":1}),
        ] {
            let why = parse(Some(bad.clone())).unwrap_err();
            assert!(why.contains("`rid`"), "{bad}: {why}");
        }
    }

    #[test]
    fn records_are_spelled_byte_for_byte() {
        let running = Record::Running {
            owner: "00ff".into(),
        };
        assert_eq!(running.encode(), "running 00ff");
        assert_eq!(Record::decode("running 00ff"), running);
        let answer = r#"{"status":0,"message":"success","data":{}}"#;
        assert_eq!(Record::Answer(answer.into()).encode(), answer);
        assert_eq!(Record::decode(answer), Record::Answer(answer.into()));
        assert_eq!(Record::Unkept.encode(), "unkept");
        assert_eq!(Record::decode("unkept"), Record::Unkept);
        // Anything else may stand for a run that happened: never run again.
        assert_eq!(Record::decode("garbage"), Record::Unkept);
        assert_eq!(Record::decode(""), Record::Unkept);
    }

    #[test]
    fn the_claim_is_one_set_nx_get_with_the_ttl() {
        let claim = Claim {
            key: "rid.player:r:u".into(),
            owner: "ab".into(),
        };
        let packed = claim.command(Duration::from_secs(30)).get_packed_command();
        let expected = "*7\r\n$3\r\nSET\r\n$14\r\nrid.player:r:u\r\n$10\r\nrunning ab\r\n\
                        $2\r\nNX\r\n$3\r\nGET\r\n$2\r\nPX\r\n$5\r\n30000\r\n";
        assert_eq!(String::from_utf8(packed).unwrap(), expected);
    }

    #[test]
    fn a_claim_owns_what_was_empty_or_its_own_marker() {
        let claim = Claim::new(false, "r", "u");
        assert_eq!(claim.key(), "rid.player:r:u");
        assert_eq!(claim.outcome(None), Claimed::Owned);
        let mine = Record::Running {
            owner: claim.owner.clone(),
        };
        assert_eq!(claim.outcome(Some(mine.encode())), Claimed::Owned);
        let theirs = Record::Running {
            owner: "other".into(),
        };
        assert_eq!(claim.outcome(Some(theirs.encode())), Claimed::Taken(theirs));
        assert_eq!(
            claim.outcome(Some("{}".into())),
            Claimed::Taken(Record::Answer("{}".into()))
        );
        assert_ne!(Claim::new(false, "r", "u").owner, claim.owner);
        assert_eq!(Claim::new(true, "r", "u").key(), "rid.admin:r:u");
    }

    #[test]
    fn a_duplicate_gives_up_before_its_deadline() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(2);
        assert_eq!(wait_until(Some(deadline), now), deadline - GIVE_UP_EARLY);
        assert_eq!(
            wait_until(None, now),
            now + Duration::from_secs(10) - GIVE_UP_EARLY
        );
    }
}
