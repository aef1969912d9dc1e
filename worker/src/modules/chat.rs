//! The chat login token: a nonce the client presents to the edge (`00REGISTER<nonce>`).
//! The edge redeems the Redis hash `chat.logintokens.<nonce>` = {world, gn, fid, pid} once
//! (edge/src/login.rs); `fid` is the family's generated hex id, `""` without a family, so
//! no player-chosen text becomes a NATS subject token; `pid` is the player's opaque chat
//! id, which the edges' per-player chat allowance counts.
//!
//! A change of the player's chat identity (out of a family, family gone, renamed) goes to
//! every edge as a [`ChatEvent`] on NATS ([`ChatEvents`]), after the change committed; the
//! edges apply it to the player's open connections.
//!
//! Tokens are rate-limited per player (`--chat-tokens-per-minute`): each token lets a
//! client open one more chat connection, so unlimited tokens would be unlimited
//! connections for one player.

use sha2::{Digest, Sha256};

use crate::function::Context;
use crate::function::{data, ok, Args, FnError, Outcome, Player};
use crate::modules::enums::ChatStatus;
use crate::modules::family;

use shared::contract::{chat_login_key, ChatEvent, CHAT_EVENTS_SUBJECT, CHAT_LOGIN_TTL_SECS};
use shared::nats;

/// Publishes chat events to the edges. Publishing never waits for the network (the NATS
/// client queues, also while reconnecting); an event NATS does not take is logged and
/// lost, never an error of the game function, whose change has committed already.
#[derive(Clone, Default)]
pub struct ChatEvents {
    nats: Option<nats::Client>,
}

impl ChatEvents {
    /// Publishes nothing (tests, tools).
    pub fn off() -> ChatEvents {
        ChatEvents { nats: None }
    }

    pub fn on(client: nats::Client) -> ChatEvents {
        ChatEvents { nats: Some(client) }
    }

    /// Call only after the change committed: an event for a rolled-back change would take
    /// a player out of a family it is still in.
    pub fn publish(&self, event: &ChatEvent) {
        let Some(client) = &self.nats else { return };
        if let Err(e) = client.publish(CHAT_EVENTS_SUBJECT, &event.encode()) {
            shared::warn!("chat event lost", event = format!("{event:?}"), error = e);
        }
    }

    /// `uid` left (or was removed from) family `fid` in `world`.
    pub fn left(&self, world: &str, uid: &str, fid: &str) {
        self.publish(&ChatEvent::Left {
            world: world.to_string(),
            pid: chat_pid(world, uid),
            fid: fid.to_string(),
        });
    }

    /// Family `fid` of `world` is gone.
    pub fn disbanded(&self, world: &str, fid: &str) {
        self.publish(&ChatEvent::Disbanded {
            world: world.to_string(),
            fid: fid.to_string(),
        });
    }

    /// `uid` of `world` is now called `gn`.
    pub fn renamed(&self, world: &str, uid: &str, gn: &str) {
        self.publish(&ChatEvent::Renamed {
            world: world.to_string(),
            pid: chat_pid(world, uid),
            gn: gn.to_string(),
        });
    }
}

/// Tokens one player may fetch per minute by default.
pub const DEFAULT_TOKENS_PER_MINUTE: u32 = 10;
/// The window of the token count.
const TOKEN_WINDOW_SECS: u64 = 60;

/// The player's chat id: 32 hex digits of SHA-256 over the world and the unique_id. Stable
/// across renames and family changes; opaque, because a guest's unique_id is its login
/// and must not travel to the edges (or into NATS).
pub fn chat_pid(world: &str, unique_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"lukseun chat pid\0")
        .chain_update(world.as_bytes())
        .chain_update(b"\0")
        .chain_update(unique_id.as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts one token for `uid` in a fixed one-minute window that starts with its first
/// token; `false` when that makes more than `limit` (0: unlimited).
fn count_token(ctx: &Context, world: &str, uid: &str, limit: u32) -> Result<bool, FnError> {
    if limit == 0 {
        return Ok(true);
    }
    let key = crate::keys::chat_tokens(world, uid);
    let (count,): (u64,) = ctx
        .redis
        .run(|conn| {
            redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&key)
                .arg(0)
                .arg("EX")
                .arg(TOKEN_WINDOW_SECS)
                .arg("NX")
                .ignore()
                .cmd("INCR")
                .arg(&key)
                .query(conn)
        })
        .map_err(|e| FnError::Backend(format!("redis: {e}")))?;
    Ok(count <= u64::from(limit))
}

/// `get_login_token_chat()`: `token`, a fresh nonce for the edge. Family changes take
/// effect in chat with a new token (a second REGISTER re-binds the connection). Over the
/// per-minute limit: 95, nothing issued.
pub fn get_login_token_chat(ctx: &Context, player: &Player, _: &Args) -> Outcome {
    let limit = ctx.settings.chat_tokens_per_minute;
    if !count_token(ctx, &player.world, &player.unique_id, limit)? {
        return Err(ChatStatus::TooManyTokens.into());
    }
    let fid = family::chat_fid(ctx, &player.world, &player.unique_id)?;
    let nonce = shared::ids::random_hex(16);
    let key = chat_login_key(&nonce);
    ctx.redis
        .run(|conn| {
            redis::pipe()
                .atomic()
                .cmd("HSET")
                .arg(&key)
                .arg("world")
                .arg(&player.world)
                .arg("gn")
                .arg(&player.gn)
                .arg("fid")
                .arg(&fid)
                .arg("pid")
                .arg(chat_pid(&player.world, &player.unique_id))
                .ignore()
                .cmd("EXPIRE")
                .arg(&key)
                .arg(CHAT_LOGIN_TTL_SECS)
                .ignore()
                .query::<()>(conn)
        })
        .map_err(|e| FnError::Backend(e.to_string()))?;
    ok(data([("token", nonce.into())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_are_opaque_stable_and_apart() {
        let a = chat_pid("s0", "device-1");
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, chat_pid("s0", "device-1"));
        assert!(!a.contains("device"));
        assert_ne!(a, chat_pid("s1", "device-1"));
        assert_ne!(a, chat_pid("s0", "device-2"));
        // The separator keeps ("s0", "1x") and ("s01", "x") apart.
        assert_ne!(chat_pid("s0", "1x"), chat_pid("s01", "x"));
    }
}
