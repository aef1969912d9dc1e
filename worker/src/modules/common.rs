//! Helpers every game module uses: reading arguments, the error type of a game function,
//! and turning backend failures into statuses. Nothing feature-specific belongs here.

use std::fmt;

use serde_json::{Map, Value};
use shared::envelope::{Response, Status};

use mysql::prelude::Queryable;

use super::enums::{SharedStatus, BACKEND_UNAVAILABLE, BACKEND_UNAVAILABLE_MESSAGE};
use crate::context::Context;
use crate::db::{Db, DbError};

/// What a game function answers on success: the response's `data`.
pub type Outcome = Result<Map<String, Value>, FnError>;

/// Why a game function did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum FnError {
    /// An argument is missing or of the wrong type (status 13); says which.
    Malformed(String),
    /// The function needs a world and the request named none (status 14).
    NoWorld,
    /// A module status in 80–98 with its message.
    Module { code: i32, message: String },
    /// MySQL, Redis or another service failed (status 99); the detail is logged, not sent.
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
    pub fn module(code: i32, message: impl Into<String>) -> FnError {
        FnError::Module {
            code,
            message: message.into(),
        }
    }

    /// The response the client gets.
    pub fn to_response(&self) -> Response {
        match self {
            FnError::Malformed(why) => malformed(why),
            FnError::NoWorld => Response::of(Status::UnknownWorld),
            FnError::Module { code, message } => Response::error(*code, message.clone()),
            FnError::Backend(_) => {
                Response::error(BACKEND_UNAVAILABLE, BACKEND_UNAVAILABLE_MESSAGE)
            }
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

/// Runs `work` in one MySQL transaction: committed when it returns `Ok`, rolled back when
/// it returns `Err` (or panics). Spends and grants go through here, so a failure halfway
/// keeps nothing.
pub fn transaction<T>(
    db: &Db,
    work: impl FnOnce(&mut mysql::Transaction<'_>) -> Result<T, FnError>,
) -> Result<T, FnError> {
    let mut conn = db.conn()?;
    let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
    let value = work(&mut tx)?;
    tx.commit()?;
    Ok(value)
}

/// The caller's player in the request's world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub world: String,
    pub unique_id: String,
    /// The in-game name, unique per world.
    pub gn: String,
    pub level: i64,
}

/// Status 90: the caller (or the target) has no player in this world.
pub fn no_player() -> FnError {
    FnError::module(
        SharedStatus::NoPlayer.code(),
        SharedStatus::NoPlayer.message(),
    )
}

/// The caller's player in the request's world; answers 90 when the caller has none (and
/// 14 when the request names no world).
pub fn require_player(ctx: &Context) -> Result<Player, FnError> {
    let world = ctx.world()?;
    let uid = ctx.uid();
    let mut conn = ctx.db.conn()?;
    let row: Option<(String, i64)> = conn.exec_first(
        "SELECT gn, level FROM players WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?;
    let (gn, level) = row.ok_or_else(no_player)?;
    Ok(Player {
        world: world.to_string(),
        unique_id: uid.to_string(),
        gn,
        level,
    })
}

/// The `unique_id` of the player named `gn` in `world`, if there is one. The name is
/// compared exactly (`utf8mb4_bin`, no `LIKE`): `%` or `*` match only themselves.
pub fn uid_of_player(db: &Db, world: &str, gn: &str) -> Result<Option<String>, FnError> {
    let mut conn = db.conn()?;
    Ok(conn.exec_first(
        "SELECT unique_id FROM players WHERE world = ? AND gn = ?",
        (world, gn),
    )?)
}

/// The in-game name of `uid`'s player in `world`, if it has one.
pub fn player_name(db: &Db, world: &str, uid: &str) -> Result<Option<String>, FnError> {
    let mut conn = db.conn()?;
    Ok(conn.exec_first(
        "SELECT gn FROM players WHERE world = ? AND unique_id = ?",
        (world, uid),
    )?)
}

/// The `data` object of a request, read with the types the function expects.
#[derive(Clone, Copy)]
pub struct Args<'a>(pub &'a Map<String, Value>);

impl<'a> Args<'a> {
    pub fn str(&self, name: &str) -> Result<&'a str, FnError> {
        match self.0.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(FnError::Malformed(format!("`{name}` must be a string"))),
            None => Err(FnError::Malformed(format!("`{name}` is missing"))),
        }
    }

    pub fn int(&self, name: &str) -> Result<i64, FnError> {
        match self.0.get(name) {
            Some(v) => v
                .as_i64()
                .ok_or_else(|| FnError::Malformed(format!("`{name}` must be an integer"))),
            None => Err(FnError::Malformed(format!("`{name}` is missing"))),
        }
    }
}

/// Checks a name-like text argument: its length in characters (what MySQL's VARCHAR
/// counts), no control characters, and no whitespace at either end — MySQL compares
/// `'bob '` equal to `'bob'` (PAD SPACE), so a trailing space would name someone else's
/// row. The error names the argument and the rule.
pub fn check_text(
    name: &str,
    value: &str,
    min: usize,
    max: usize,
    status: i32,
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

/// Builds a `data` object: `data([("token", token.into())])`.
pub fn data<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn args_name_what_is_wrong() {
        let map = json!({"a":"x","n":5,"f":1.5}).as_object().unwrap().clone();
        let args = Args(&map);
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
        assert!(args.int("f").is_err());
    }

    #[test]
    fn text_checks_count_characters_not_bytes() {
        assert!(check_text("account", "😀😀😀", 3, 32, 86).is_ok());
        let e = check_text("account", "ab", 3, 32, 86).unwrap_err();
        assert_eq!(e, FnError::module(86, "account must be 3 to 32 characters"));
        assert!(check_text("account", "a\nbc", 3, 32, 86).is_err());
        assert!(check_text("account", "a b", 3, 32, 86).is_ok());
        for padded in ["bob ", " bob", "bob\u{3000}"] {
            let e = check_text("account", padded, 3, 32, 86).unwrap_err();
            assert_eq!(
                e,
                FnError::module(86, "account must not start or end with whitespace")
            );
        }
    }

    #[test]
    fn errors_become_contract_responses() {
        let r = FnError::Malformed("`a` is missing".into()).to_response();
        assert_eq!(r.status, 13);
        assert_eq!(r.message, "malformed request");
        assert_eq!(r.data["reason"], "`a` is missing");
        assert_eq!(FnError::NoWorld.to_response().status, 14);
        let r = FnError::Backend("secret detail".into()).to_response();
        assert_eq!(r.status, 99);
        assert!(!r.to_json().contains("secret detail"));
        assert_eq!(
            FnError::module(81, "taken").to_response().to_json(),
            r#"{"status":81,"message":"taken"}"#
        );
    }
}
