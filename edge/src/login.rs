//! Login: a nonce is the Redis hash `chat.logintokens.<nonce>` = {world, gn, fid, pid}, written by
//! the worker with EX 120 and redeemed here exactly once.
//!
//! The hash is read and deleted in one MULTI/EXEC transaction, so of two connections that
//! present the same nonce (on any edges) only one gets the fields. Its values become NATS
//! subject tokens, so they are validated before anyone is registered with them.

use std::collections::HashMap;
use std::fmt;

use shared::redis_conn::{RedisError, RedisPool};

/// The longest world or family id accepted as a subject token.
pub const MAX_TOKEN: usize = 64;
/// The longest game name relayed in `<gn>:<text>`.
pub const MAX_GN: usize = 64;

use shared::contract::chat_login_key;

/// Who a connection speaks as, from a redeemed nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub world: String,
    pub gn: String,
    /// `None`: the player has no family.
    pub fid: Option<String>,
    /// The player's opaque chat id (stable across renames); `None` from a nonce written
    /// by a worker that predates it.
    pub pid: Option<String>,
}

impl Identity {
    /// Whom the per-player chat allowance counts: the chat id, else the game name (unique
    /// in its world, `:` cannot occur in it, so the two never collide).
    pub fn player(&self) -> String {
        match &self.pid {
            Some(pid) => pid.clone(),
            None => format!("gn:{}", self.gn),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoginError {
    /// No such nonce: never issued, expired, or already redeemed.
    UnknownNonce,
    /// The nonce's fields are missing or unsafe (a wildcard, a dot, a space ...).
    BadIdentity(String),
    /// Redis could not be asked; the client may retry with a fresh nonce later.
    Unavailable(RedisError),
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::UnknownNonce => write!(f, "bad nonce"),
            LoginError::BadIdentity(why) => write!(f, "bad nonce: {why}"),
            LoginError::Unavailable(_) => write!(f, "login unavailable"),
        }
    }
}

impl std::error::Error for LoginError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoginError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

/// A single NATS subject token that can never be a wildcard or split into more tokens.
pub fn subject_safe(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A game name goes before the first `:` of a relayed message, so it holds no `:`, no
/// control characters (no `\r\n` injection) and stays short.
pub fn valid_gn(gn: &str) -> bool {
    !gn.is_empty()
        && gn.chars().count() <= MAX_GN
        && !gn.chars().any(|c| c == ':' || c.is_control())
}

impl Identity {
    /// Checks the fields of a redeemed hash. An empty or absent `fid` means no family.
    pub fn from_fields(fields: &HashMap<String, String>) -> Result<Identity, LoginError> {
        let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
        let world = field("world");
        if !subject_safe(world) {
            return Err(LoginError::BadIdentity(format!("world {world:?}")));
        }
        let gn = field("gn");
        if !valid_gn(gn) {
            return Err(LoginError::BadIdentity(format!("gn {gn:?}")));
        }
        let fid = match field("fid") {
            "" => None,
            fid if subject_safe(fid) => Some(fid.to_string()),
            fid => return Err(LoginError::BadIdentity(format!("fid {fid:?}"))),
        };
        let pid = match field("pid") {
            "" => None,
            pid if subject_safe(pid) => Some(pid.to_string()),
            pid => return Err(LoginError::BadIdentity(format!("pid {pid:?}"))),
        };
        Ok(Identity {
            world: world.to_string(),
            gn: gn.to_string(),
            fid,
            pid,
        })
    }
}

/// Reads and deletes the nonce's hash atomically and checks its fields.
pub fn redeem(pool: &RedisPool, nonce: &str) -> Result<Identity, LoginError> {
    let key = chat_login_key(nonce);
    let (fields, deleted): (HashMap<String, String>, i64) = pool
        .run(|conn| {
            redis::pipe()
                .atomic()
                .cmd("HGETALL")
                .arg(&key)
                .cmd("DEL")
                .arg(&key)
                .query(conn)
        })
        .map_err(LoginError::Unavailable)?;
    if deleted == 0 || fields.is_empty() {
        return Err(LoginError::UnknownNonce);
    }
    Identity::from_fields(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn subject_tokens_are_plain_words() {
        for ok in ["s0", "fam_12", "A-b-9", &"x".repeat(MAX_TOKEN)] {
            assert!(subject_safe(ok), "{ok:?}");
        }
        for bad in [
            "",
            "*",
            ">",
            "a.b",
            "a b",
            "fam*",
            "x>",
            "tab\t",
            "ü",
            &"x".repeat(MAX_TOKEN + 1),
        ] {
            assert!(!subject_safe(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_complete_hash_is_an_identity() {
        let id = Identity::from_fields(&fields(&[
            ("world", "s0"),
            ("gn", "Ann"),
            ("fid", "f7"),
            ("pid", "0a1b"),
        ]));
        assert_eq!(
            id,
            Ok(Identity {
                world: "s0".into(),
                gn: "Ann".into(),
                fid: Some("f7".into()),
                pid: Some("0a1b".into()),
            })
        );
        assert_eq!(id.unwrap().player(), "0a1b");
        let old = Identity::from_fields(&fields(&[("world", "s0"), ("gn", "Ann")])).unwrap();
        assert_eq!(old.pid, None);
        assert_eq!(old.player(), "gn:Ann");
    }

    #[test]
    fn no_family_is_empty_or_absent_fid() {
        for f in [
            fields(&[("world", "s0"), ("gn", "Ann"), ("fid", "")]),
            fields(&[("world", "s0"), ("gn", "Ann")]),
        ] {
            assert_eq!(Identity::from_fields(&f).unwrap().fid, None);
        }
    }

    #[test]
    fn unsafe_fields_are_refused() {
        let cases = [
            fields(&[("world", "*"), ("gn", "Ann")]),
            fields(&[("world", "s0.x"), ("gn", "Ann")]),
            fields(&[("world", ">"), ("gn", "Ann")]),
            fields(&[("gn", "Ann")]),
            fields(&[("world", "s0"), ("gn", "Ann"), ("fid", "*")]),
            fields(&[("world", "s0"), ("gn", "Ann"), ("fid", "my family")]),
            fields(&[("world", "s0"), ("gn", "Ann"), ("fid", "a.b")]),
            fields(&[("world", "s0"), ("gn", "Ann"), ("fid", ">")]),
            fields(&[("world", "s0"), ("gn", "")]),
            fields(&[("world", "s0"), ("gn", "a:b")]),
            fields(&[("world", "s0"), ("gn", "a\r\nb")]),
            fields(&[("world", "s0"), ("gn", "Ann"), ("pid", "a.b")]),
            fields(&[("world", "s0"), ("gn", "Ann"), ("pid", "*")]),
        ];
        for f in cases {
            assert!(
                matches!(Identity::from_fields(&f), Err(LoginError::BadIdentity(_))),
                "{f:?}"
            );
        }
    }

    #[test]
    fn a_nonce_redeems_once() {
        let server = testkit::Redis::start();
        let pool = RedisPool::new(&server.url(), 2).unwrap();
        pool.run(|c| {
            redis::cmd("HSET")
                .arg(chat_login_key("n1"))
                .arg("world")
                .arg("s0")
                .arg("gn")
                .arg("Ann")
                .arg("fid")
                .arg("f1")
                .query::<()>(c)
        })
        .unwrap();
        let id = redeem(&pool, "n1").unwrap();
        assert_eq!(id.gn, "Ann");
        assert_eq!(redeem(&pool, "n1"), Err(LoginError::UnknownNonce));
        assert_eq!(redeem(&pool, "never"), Err(LoginError::UnknownNonce));
    }

    #[test]
    fn under_the_edge_acl_user_logins_and_allowances_work_and_nothing_else() {
        let server = testkit::Redis::start_secured();
        // The worker's user writes the login hash, as get_login_token_chat does.
        let worker = RedisPool::new(&server.url_as("worker"), 1).unwrap();
        worker
            .run(|c| {
                redis::cmd("HSET")
                    .arg(chat_login_key("n1"))
                    .arg("world")
                    .arg("s0")
                    .arg("gn")
                    .arg("Ann")
                    .query::<()>(c)
            })
            .unwrap();
        let edge = RedisPool::new(&server.url_as("edge"), 2).unwrap();
        assert_eq!(redeem(&edge, "n1").unwrap().gn, "Ann");
        assert_eq!(redeem(&edge, "n1"), Err(LoginError::UnknownNonce));
        let rate_key = crate::keys::player_rate_key("s0", "ab12");
        assert!(shared::grants::EDGE.allows_key(&rate_key, true));
        assert!(crate::allowance::take(&edge, &rate_key, 5).unwrap());
        // The bucket script may not touch keys outside the edge's patterns either.
        assert!(crate::allowance::take(&edge, "auth.tokens.account.u1", 5).is_err());
        let stolen: Result<Option<String>, _> =
            edge.run(|c| redis::cmd("GET").arg("auth.tokens.account.u1").query(c));
        assert!(stolen.is_err());
    }

    #[test]
    fn redis_down_is_unavailable_not_unknown() {
        let mut server = testkit::Redis::start();
        let pool = RedisPool::new(&server.url(), 2).unwrap();
        server.kill();
        let down = redeem(&pool, "n1").unwrap_err();
        assert!(matches!(down, LoginError::Unavailable(_)), "{down}");
        assert!(std::error::Error::source(&down).is_some());
    }
}
