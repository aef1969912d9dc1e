//! The Redis keys only the edges use (the login nonce's key is the worker's and the
//! edge's, so it lives in `shared::contract`). Spelled here and nowhere else.

/// `chat.rate.<world>.<player>`: one player's chat allowance, shared by all its
/// connections on every edge (a hash `{n: tokens left, t: ms of the last refill}`).
pub fn player_rate_key(world: &str, player: &str) -> String {
    format!("chat.rate.{world}.{player}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelled_once() {
        assert_eq!(player_rate_key("s0", "ab12"), "chat.rate.s0.ab12");
    }
}
