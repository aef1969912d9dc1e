//! The chat login token: a nonce the client presents to the edge (`00REGISTER<nonce>`).
//! The edge redeems the Redis hash `chat.logintokens.<nonce>` = {world, gn, fid} once
//! (edge/src/login.rs); `fid` is the family's generated hex id, `""` without a family, so
//! no player-chosen text becomes a NATS subject token.

use crate::function::Context;
use crate::function::{data, ok, Args, FnError, Outcome, Player};
use crate::modules::family;

use shared::contract::{chat_login_key, CHAT_LOGIN_TTL_SECS};

/// `get_login_token_chat()`: `token`, a fresh nonce for the edge. Family changes take
/// effect in chat with a new token (a second REGISTER re-binds the connection).
pub fn get_login_token_chat(ctx: &Context, player: &Player, _: &Args) -> Outcome {
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
