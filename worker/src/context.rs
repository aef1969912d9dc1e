//! What a game function may use: passed in, never global.

use auth::jwt::Claims;
use auth::tokens::Tokens;
use shared::redis_conn::RedisPool;

use crate::db::Db;
use crate::game_config::GameConfig;
use crate::modules::common::FnError;

/// Settings game functions read (from the service's options).
#[derive(Debug, Clone)]
pub struct FunctionSettings {
    /// PBKDF2 rounds for new password hashes; stored hashes keep their own count.
    pub pbkdf2_iterations: u32,
    pub mail_url: String,
    pub auth_url: String,
}

/// The long-lived resources of the worker, shared by every job.
pub struct Services {
    pub db: Db,
    pub redis: std::sync::Arc<RedisPool>,
    pub tokens: Tokens,
    pub settings: FunctionSettings,
}

/// One job's view: the shared resources plus this request's game config, token and world.
pub struct Context<'a> {
    pub db: &'a Db,
    pub redis: &'a RedisPool,
    pub tokens: &'a Tokens,
    pub settings: &'a FunctionSettings,
    pub config: &'a GameConfig,
    /// The validated token; `None` only for public functions.
    pub claims: Option<&'a Claims>,
    /// The world the request is served in (after merges), when it named one.
    pub world: Option<&'a str>,
}

impl Context<'_> {
    /// The caller's uid, from the validated token. Only functions that require a token may
    /// ask; a public one asking is a bug of the function table and answers -1.
    pub fn uid(&self) -> &str {
        match self.claims {
            Some(claims) => &claims.uid,
            None => panic!("a public function asked for the token's uid"),
        }
    }

    /// The request's world, for functions that act inside one.
    pub fn world(&self) -> Result<&str, FnError> {
        self.world.ok_or(FnError::NoWorld)
    }
}
