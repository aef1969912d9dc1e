//! The request lines a virtual player sends. Most functions of a mix take no arguments, so
//! their line is built once per player; the few that need arguments, some of them fresh
//! for every request, have a builder here ([`BUILDERS`]) and get a new line each time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use shared::gate_client::{request_line, uses_account_token};

use crate::mix::Mix;

/// The product `purchase_success` buys in a mix: 300 diamonds (mall.json), which the
/// diamond pulls of the same mix can then spend. Its holding max (999,999,999) is far
/// beyond what a run can buy, so the credit never answers 92 (no room).
pub const PURCHASE_PID: &str = "DIAMOND_SMALL";
/// The `channel` a load-generator purchase names (the verifier stand-in accepts any).
pub const PURCHASE_CHANNEL: &str = "loadgen";

/// What a builder may use about the player making the call.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The player's game name (`gn`), as `create_player` made it.
    pub gn: String,
    /// Random per player: makes `order_id`s unique across players and runs.
    pub tag: String,
    /// The run's other players' game names, targets of the social calls of the `play` mix
    /// (empty until the run sets them: those calls then target the caller).
    pub peers: Arc<[String]>,
}

/// The arguments of one request; `seq` counts this player's requests to the function
/// (0, 1, 2, ...), so a builder can make each one unique.
pub type Build = fn(&Caller, u64) -> Map<String, Value>;

/// The functions that take arguments in a mix, with their builders. Every other function
/// is called without arguments.
pub const BUILDERS: &[(&str, Build)] = &[("purchase_success", purchase)];

/// `purchase_success(pid, order_id, channel, user_name, currency)`: the player's own name,
/// a new order per request (a replayed `order_id` would answer 96 without a credit).
fn purchase(caller: &Caller, seq: u64) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert("pid".into(), Value::from(PURCHASE_PID));
    args.insert(
        "order_id".into(),
        Value::from(format!("lg-{}-{seq}", caller.tag)),
    );
    args.insert("channel".into(), Value::from(PURCHASE_CHANNEL));
    args.insert("user_name".into(), Value::from(caller.gn.as_str()));
    args.insert("currency".into(), Value::from("RMB"));
    args
}

fn builder(function: &str) -> Option<Build> {
    BUILDERS
        .iter()
        .chain(crate::play::BUILDERS)
        .find(|(name, _)| *name == function)
        .map(|(_, build)| *build)
}

enum Call {
    /// Built once: the function takes no arguments.
    Fixed(String),
    /// Built per request with the function's builder and the token it needs.
    Built {
        build: Build,
        token: String,
        seq: u64,
    },
}

/// One player's request line for every function of a mix.
pub struct Lines {
    world: String,
    caller: Caller,
    calls: HashMap<String, Call>,
}

impl Lines {
    /// Lines for `mix`'s functions with the player's tokens: `account` for the functions
    /// that take an account token, `session` for the others.
    pub fn new(mix: &Mix, world: &str, account: &str, session: &str, caller: Caller) -> Lines {
        let calls = mix
            .names()
            .map(|name| {
                let token = if uses_account_token(name) {
                    account
                } else {
                    session
                };
                let call = match builder(name) {
                    Some(build) => Call::Built {
                        build,
                        token: token.to_string(),
                        seq: 0,
                    },
                    None => Call::Fixed(request_line(world, name, Some(token), &Map::new())),
                };
                (name.to_string(), call)
            })
            .collect();
        Lines {
            world: world.to_string(),
            caller,
            calls,
        }
    }

    /// The game name of the player these lines are for.
    pub fn gn(&self) -> &str {
        &self.caller.gn
    }

    /// The players the social calls may target (the run's others).
    pub fn set_peers(&mut self, peers: Arc<[String]>) {
        self.caller.peers = peers;
    }

    /// The next request line for `function` (one of the mix's).
    pub fn line(&mut self, function: &str) -> Cow<'_, str> {
        let call = self
            .calls
            .get_mut(function)
            .expect("the mix's functions have lines");
        match call {
            Call::Fixed(line) => Cow::Borrowed(line.as_str()),
            Call::Built { build, token, seq } => {
                let args = build(&self.caller, *seq);
                *seq += 1;
                Cow::Owned(request_line(&self.world, function, Some(token), &args))
            }
        }
    }

    /// The line of a function picked from `mix` with the random number `r`.
    pub fn pick(&mut self, mix: &Mix, r: u64) -> Cow<'_, str> {
        self.line(mix.pick(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(mix: &str) -> Lines {
        let caller = Caller {
            gn: "lg_cafe".into(),
            tag: "abc123".into(),
            peers: Arc::from(Vec::new()),
        };
        Lines::new(&Mix::parse(mix).unwrap(), "s0", "ACC", "SES", caller)
    }

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn functions_without_arguments_send_one_line_built_once() {
        let mut l = lines("single_pump_diamond,dozen_pump_coin,account_all_info");
        let first = l.line("single_pump_diamond").into_owned();
        assert!(matches!(l.line("single_pump_diamond"), Cow::Borrowed(_)));
        assert_eq!(l.line("single_pump_diamond"), first);
        assert_eq!(
            parse(&first),
            json!({"world": "s0", "function": "single_pump_diamond", "data": {"token": "SES"}})
        );
        assert_eq!(
            parse(&l.line("dozen_pump_coin"))["data"],
            json!({"token": "SES"})
        );
        // The account-token functions keep their token.
        assert_eq!(
            parse(&l.line("account_all_info"))["data"],
            json!({"token": "ACC"})
        );
    }

    #[test]
    fn every_purchase_has_the_contract_fields_and_a_new_order_id() {
        let mut l = lines("purchase_success:1,get_info_player:3");
        let first = parse(&l.line("purchase_success"));
        assert_eq!(first["world"], "s0");
        assert_eq!(first["function"], "purchase_success");
        assert_eq!(
            first["data"],
            json!({"token": "SES", "pid": PURCHASE_PID, "order_id": "lg-abc123-0",
                   "channel": PURCHASE_CHANNEL, "user_name": "lg_cafe", "currency": "RMB"})
        );
        let mut orders = std::collections::HashSet::new();
        orders.insert(first["data"]["order_id"].as_str().unwrap().to_string());
        for _ in 0..999 {
            let line = parse(&l.line("purchase_success"));
            assert!(orders.insert(line["data"]["order_id"].as_str().unwrap().to_string()));
        }
        assert_eq!(orders.len(), 1000);
        // Other functions are untouched by the purchases' counter.
        assert_eq!(
            parse(&l.line("get_info_player"))["data"],
            json!({"token": "SES"})
        );
    }

    #[test]
    fn two_players_never_share_an_order_id() {
        let caller = |tag: &str| Caller {
            gn: "g".into(),
            tag: tag.into(),
            peers: Arc::from(Vec::new()),
        };
        let mix = Mix::parse("purchase_success").unwrap();
        let mut a = Lines::new(&mix, "s0", "A", "A", caller("p1"));
        let mut b = Lines::new(&mix, "s0", "B", "B", caller("p2"));
        let order = |l: &mut Lines| parse(&l.line("purchase_success"))["data"]["order_id"].clone();
        assert_ne!(order(&mut a), order(&mut b));
    }

    #[test]
    fn picks_follow_the_mix() {
        let mix = Mix::parse("purchase_success:1,get_info_player:1").unwrap();
        let mut l = lines("purchase_success:1,get_info_player:1");
        let mut rng = crate::mix::Rng::new(3);
        let mut purchases = 0;
        for _ in 0..1000 {
            let line = parse(&l.pick(&mix, rng.next_u64()));
            if line["function"] == "purchase_success" {
                purchases += 1;
                assert_eq!(
                    line["data"]["order_id"],
                    format!("lg-abc123-{}", purchases - 1)
                );
            }
        }
        assert!((400..600).contains(&purchases), "{purchases}");
    }

    #[test]
    fn only_the_functions_with_builders_get_arguments() {
        assert!(builder("purchase_success").is_some());
        for name in [
            "single_pump_diamond",
            "dozen_pump_gift",
            "get_all_market",
            "refresh_factory",
        ] {
            assert!(builder(name).is_none(), "{name}");
        }
    }
}
