//! A virtual player: its login through a gate (one blocking client, `login_unique`,
//! `enter_world`, `create_player`), its chat nonce, and the hand-over of its connection to
//! an event loop. Runs on the caller's thread.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::calls::{Caller, Lines};
use crate::event_loop::LoopPlayer;
use crate::mix::Mix;
use shared::gate_client::{request_line, Answer, GateClient};

pub struct Player {
    addr: String,
    client: GateClient,
    world: String,
    session: String,
    /// The request lines of the mix's functions.
    pub(crate) lines: Lines,
}

impl Player {
    /// A guest login with a fresh device id, `enter_world`, and a new player in `world`;
    /// its request lines are those of `mix`, and `timeout` bounds each login call.
    pub fn login(addr: &str, world: &str, mix: &Mix, timeout: Duration) -> Result<Player, String> {
        let mut client = GateClient::connect(addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
        let device = format!("loadgen-{}", shared::ids::random_hex(12));
        let mut args = Map::new();
        args.insert("unique_id".into(), Value::from(device));
        let answer = client
            .call(&request_line(world, "login_unique", None, &args))
            .map_err(|e| format!("login_unique: {e}"))?;
        // 1 "new account created": a fresh device id is a new guest.
        let account = token_of(&answer, "login_unique", &[0, 1])?;
        let answer = client
            .call(&request_line(
                world,
                "enter_world",
                Some(&account),
                &Map::new(),
            ))
            .map_err(|e| format!("enter_world: {e}"))?;
        // 98 "have not been in this world before": the session comes all the same.
        let session = token_of(&answer, "enter_world", &[0, 98])?;
        let gn = format!("lg_{}", shared::ids::random_hex(8));
        let mut player = Map::new();
        player.insert("gn".into(), Value::from(gn.as_str()));
        player.insert("icon".into(), Value::from(0));
        let answer = client
            .call(&request_line(
                world,
                "create_player",
                Some(&session),
                &player,
            ))
            .map_err(|e| format!("create_player: {e}"))?;
        if answer.status != 0 {
            return Err(format!(
                "create_player answered status {} ({})",
                answer.status,
                answer.message()
            ));
        }
        let caller = Caller {
            gn,
            tag: shared::ids::random_hex(12),
            peers: std::sync::Arc::from(Vec::new()),
        };
        let lines = Lines::new(mix, world, &account, &session, caller);
        Ok(Player {
            addr: addr.to_string(),
            client,
            world: world.to_string(),
            session,
            lines,
        })
    }

    /// The player as an event loop takes it over: the gate's address resolved (once per
    /// address), and the login connection unless every request gets its own.
    pub(crate) fn into_loop_player(
        self,
        one_per_connection: bool,
        addresses: &mut HashMap<String, SocketAddr>,
    ) -> Result<LoopPlayer, String> {
        let addr = match addresses.get(&self.addr) {
            Some(a) => *a,
            None => {
                let a = self
                    .addr
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| format!("{}: no address", self.addr))?;
                addresses.insert(self.addr.clone(), a);
                a
            }
        };
        let stream = if one_per_connection {
            None
        } else {
            // A second descriptor of the socket; dropping the client closes the first.
            Some(
                self.client
                    .try_clone_writer()
                    .map_err(|e| format!("{}: {e}", self.addr))?,
            )
        };
        Ok(LoopPlayer {
            addr,
            stream,
            lines: self.lines,
        })
    }

    /// A chat login nonce for an edge (`get_login_token_chat`).
    pub fn chat_nonce(&mut self) -> Result<String, String> {
        let line = request_line(
            &self.world,
            "get_login_token_chat",
            Some(&self.session),
            &Map::new(),
        );
        let answer = self
            .client
            .call(&line)
            .map_err(|e| format!("get_login_token_chat: {e}"))?;
        token_of(&answer, "get_login_token_chat", &[0])
    }
}

/// The `token` of an answer whose status is one of `ok` (the function's successes).
fn token_of(answer: &Answer, function: &str, ok: &[i64]) -> Result<String, String> {
    match answer.data("token").as_str() {
        Some(t) if ok.contains(&answer.status) => Ok(t.to_string()),
        _ => Err(format!(
            "{function} answered status {} ({})",
            answer.status,
            answer.message()
        )),
    }
}
