//! Issuing and validating tokens, with revocation kept in Redis.
//!
//! Only the newest token per (uid, kind) is valid: issuing stores the new token's `jti` at
//! `auth.tokens.<kind>.<uid>` (expiring with the token), which makes every older `jti` for
//! that pair stale. Validation is a local signature check plus one `GET` (or a look in the
//! worker's copy of those keys, which Redis keeps current: shared::redis_tracking), so the worker
//! can run it per request without an HTTP hop.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shared::redis_conn::{RedisError, RedisPool};
use shared::redis_tracking::KeyCache;

use crate::jwt::{self, Claims, Key, TokenError, TokenKind};

pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Bounds on identifiers that end up inside Redis keys and claims.
pub const MAX_UID_BYTES: usize = 256;
pub const MAX_WORLD_BYTES: usize = 64;
pub const MAX_ROLE_BYTES: usize = 32;

/// Operators' uids begin with this (ASCII case ignored). Admin tokens are issued only for
/// such uids, and player tokens never: the worker refuses the prefix as a `unique_id` at
/// `register` and `login_unique`, so no player id can equal an admin id.
pub const ADMIN_UID_PREFIX: &str = "admin:";

/// Whether `uid` is in the operators' namespace ([`ADMIN_UID_PREFIX`]).
pub fn is_admin_uid(uid: &str) -> bool {
    uid.as_bytes()
        .get(..ADMIN_UID_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ADMIN_UID_PREFIX.as_bytes()))
}

/// What every [`revocation_key`] begins with (the prefix a worker's copy tracks).
pub const REVOCATION_PREFIX: &str = "auth.tokens.";

/// The Redis key holding the current `jti` of (uid, kind).
pub fn revocation_key(kind: TokenKind, uid: &str) -> String {
    format!("{REVOCATION_PREFIX}{}.{uid}", kind.as_str())
}

#[derive(Debug, Clone, PartialEq)]
pub enum IssueError {
    /// A uid, world or role that is empty, too long or holds control characters.
    InvalidField {
        field: &'static str,
        reason: String,
    },
    Unavailable(RedisError),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::InvalidField { field, reason } => write!(f, "invalid {field}: {reason}"),
            IssueError::Unavailable(why) => write!(f, "token store unavailable: {why}"),
        }
    }
}

impl std::error::Error for IssueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IssueError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

pub struct Tokens {
    key: Key,
    redis: Arc<RedisPool>,
    lifetime_secs: u64,
    /// The current `jti`s as last read, kept by Redis's invalidations
    /// (shared::redis_tracking): [`Tokens::validate`] then needs no round trip.
    current: Option<Arc<KeyCache>>,
}

impl Tokens {
    /// `lifetime` is rounded down to whole seconds, and at least one second.
    pub fn new(key: Key, redis: Arc<RedisPool>, lifetime: Duration) -> Tokens {
        Tokens {
            key,
            redis,
            lifetime_secs: lifetime.as_secs().max(1),
            current: None,
        }
    }

    /// Answers revocation checks from `current` while its feed is current (a cache of the
    /// keys under [`REVOCATION_PREFIX`]; its staleness bound is the feed's
    /// `STALE_AFTER`).
    pub fn with_cache(mut self, current: Arc<KeyCache>) -> Tokens {
        debug_assert_eq!(current.prefix(), REVOCATION_PREFIX);
        self.current = Some(current);
        self
    }

    /// The cache of current `jti`s, when there is one.
    pub fn cache(&self) -> Option<&Arc<KeyCache>> {
        self.current.as_ref()
    }

    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    /// Makes a new token for (uid, kind); from now on it is the only valid one of the pair.
    pub fn issue(
        &self,
        uid: &str,
        kind: TokenKind,
        world: Option<&str>,
        role: Option<&str>,
    ) -> Result<(String, Claims), IssueError> {
        check_field("uid", uid, MAX_UID_BYTES)?;
        check_namespace(uid, kind)?;
        if let Some(w) = world {
            check_field("world", w, MAX_WORLD_BYTES)?;
        }
        if let Some(r) = role {
            check_field("role", r, MAX_ROLE_BYTES)?;
        }
        let iat = unix_now();
        let claims = Claims {
            uid: uid.to_string(),
            kind,
            world: world.map(str::to_string),
            role: role.map(str::to_string),
            iat,
            exp: iat + self.lifetime_secs,
            jti: shared::ids::random_hex(16),
        };
        let token = jwt::encode(&self.key, &claims);
        let key = revocation_key(kind, uid);
        self.redis
            .run(|c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&claims.jti)
                    .arg("EX")
                    .arg(self.lifetime_secs)
                    .query::<()>(c)
            })
            .map_err(IssueError::Unavailable)?;
        if let Some(current) = &self.current {
            // This process's next check sees the new token at once, not after the feed.
            current.forget(&key);
        }
        Ok((token, claims))
    }

    /// Signature, algorithm, expiry and revocation: the check the worker runs per request.
    pub fn validate(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.verify(token)?;
        let key = revocation_key(claims.kind, &claims.uid);
        // The copy confirms only the id it holds: another id may be the older one (a token
        // issued elsewhere whose invalidation is on its way), so a mismatch asks Redis.
        let ticket = match self
            .current
            .as_deref()
            .map(|c| c.confirm(&key, &claims.jti))
        {
            Some(Ok(())) => return Ok(claims),
            Some(Err(ticket)) => Some(ticket),
            None => None,
        };
        let current: Option<String> = self
            .redis
            .run(|c| redis::cmd("GET").arg(&key).query(c))
            .map_err(TokenError::Unavailable)?;
        if let (Some(cache), Some(ticket)) = (&self.current, ticket) {
            cache.fill(&key, current.as_deref(), ticket);
        }
        still_current(claims, current.as_deref())
    }

    /// The local half of [`Tokens::validate`]: signature, algorithm and expiry. Callers
    /// that fetch the revocation key themselves (together with other keys, to save a
    /// round trip) finish with [`still_current`].
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jwt::verify(&self.key, token, unix_now())
    }
}

/// The revocation half of [`Tokens::validate`]: `current_jti` is what
/// [`revocation_key`] holds for the claims' (uid, kind); only that token is valid.
pub fn still_current(claims: Claims, current_jti: Option<&str>) -> Result<Claims, TokenError> {
    match current_jti {
        Some(jti) if jti == claims.jti => Ok(claims),
        _ => Err(TokenError::Revoked),
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Admin tokens only for the operators' namespace, player tokens never for it.
fn check_namespace(uid: &str, kind: TokenKind) -> Result<(), IssueError> {
    let reason = match (kind == TokenKind::Admin, is_admin_uid(uid)) {
        (true, false) => {
            format!("admin tokens are issued only for uids beginning with {ADMIN_UID_PREFIX:?}")
        }
        (false, true) => {
            format!("uids beginning with {ADMIN_UID_PREFIX:?} are operators': only kind \"admin\"")
        }
        _ => return Ok(()),
    };
    Err(IssueError::InvalidField {
        field: "uid",
        reason,
    })
}

fn check_field(field: &'static str, value: &str, max: usize) -> Result<(), IssueError> {
    let reason = if value.is_empty() {
        "must not be empty".to_string()
    } else if value.len() > max {
        format!("longer than {max} bytes")
    } else if value.chars().any(char::is_control) {
        "contains control characters".to_string()
    } else {
        return Ok(());
    };
    Err(IssueError::InvalidField { field, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_key_follows_the_contract() {
        assert_eq!(
            revocation_key(TokenKind::Account, "u-1"),
            "auth.tokens.account.u-1"
        );
        assert_eq!(
            revocation_key(TokenKind::Session, "u-1"),
            "auth.tokens.session.u-1"
        );
        assert_eq!(
            revocation_key(TokenKind::Admin, "admin:ops"),
            "auth.tokens.admin.admin:ops"
        );
    }

    #[test]
    fn the_admin_namespace_is_the_prefix_in_any_ascii_case() {
        for uid in ["admin:", "admin:ops", "ADMIN:x", "Admin:dev"] {
            assert!(is_admin_uid(uid), "{uid}");
        }
        for uid in [
            "admin",
            "admin-1",
            "xadmin:1",
            "",
            "adm",
            "admin;x",
            "ａdmin:x",
        ] {
            assert!(!is_admin_uid(uid), "{uid}");
        }
        // A multi-byte character across the prefix's end is no panic.
        assert!(!is_admin_uid("admiñ:"));
        assert!(check_namespace("admin:ops", TokenKind::Admin).is_ok());
        assert!(check_namespace("u-1", TokenKind::Account).is_ok());
        for (uid, kind) in [
            ("admin", TokenKind::Admin),
            ("admin:ops", TokenKind::Account),
            ("ADMIN:ops", TokenKind::Session),
        ] {
            let e = check_namespace(uid, kind).unwrap_err().to_string();
            assert!(e.starts_with("invalid uid: "), "{e}");
        }
    }

    #[test]
    fn only_the_current_jti_is_still_current() {
        let claims = Claims {
            uid: "u".into(),
            kind: TokenKind::Account,
            world: None,
            role: None,
            iat: 0,
            exp: u64::MAX,
            jti: "j2".into(),
        };
        assert_eq!(
            still_current(claims.clone(), Some("j2")),
            Ok(claims.clone())
        );
        assert_eq!(
            still_current(claims.clone(), Some("j1")),
            Err(TokenError::Revoked)
        );
        assert_eq!(still_current(claims, None), Err(TokenError::Revoked));
    }

    #[test]
    fn field_checks_explain_themselves() {
        assert!(check_field("uid", "abc", 8).is_ok());
        let e = check_field("uid", "", 8).unwrap_err().to_string();
        assert_eq!(e, "invalid uid: must not be empty");
        let e = check_field("world", "123456789", 8)
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than 8"), "{e}");
        let e = check_field("role", "a\nb", 8).unwrap_err().to_string();
        assert!(e.contains("control"), "{e}");
    }
}
