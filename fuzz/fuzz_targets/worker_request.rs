//! The worker's request decoding, up to the point where a game function would run: the NATS
//! job payload (`worker::job::Job::parse`), the request line (`worker::handler::parse_request`),
//! the function table, the world, and the token check (`worker::handler::authorize`) with
//! `auth::jwt::verify` and a fixed key. The rest of `handle` needs Redis and MySQL.
//!
//! Input: a job payload (the contract's job line); when it is not one, the whole input is
//! taken as the request line.
#![no_main]

use std::sync::OnceLock;

use auth::jwt::{verify, Key, TokenKind};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use worker::function::Access;
use worker::functions;
use worker::game_config::GameConfig;
use worker::handler::{authorize, parse_request, WorldRef};
use worker::job::Job;

/// Seeds carry tokens signed with this key (see docs/fuzzing.md), so the fuzzer starts with
/// requests that get past the signature check.
const KEY: &[u8] = b"fuzzing-key-fuzzing-key-fuzzing!";
const NOW: u64 = 1_800_000_000;

fn config() -> &'static GameConfig {
    static CONFIG: OnceLock<GameConfig> = OnceLock::new();
    CONFIG.get_or_init(GameConfig::embedded)
}

fn key() -> &'static Key {
    static KEY_CELL: OnceLock<Key> = OnceLock::new();
    KEY_CELL.get_or_init(|| Key::new(KEY).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let line = match Job::parse(data, std::time::Instant::now()) {
        Ok(job) => {
            // The request line is the payload's tail after the header, byte for byte.
            assert!(data.ends_with(job.line.as_bytes()));
            assert_eq!(data.get(data.len() - job.line.len() - 1), Some(&b'~'));
            job.line
        }
        Err(_) => match std::str::from_utf8(data) {
            Ok(text) => text.to_string(),
            Err(_) => return,
        },
    };
    check_request(&line);
});

fn check_request(line: &str) {
    let Ok(request) = parse_request(line) else {
        return;
    };
    // What was decoded is what was sent: it encodes back and decodes to the same request.
    let world = request.world.as_ref().map(WorldRef::to_value);
    let again = json!({"world": world, "function": request.function, "data": request.data});
    let decoded = parse_request(&again.to_string()).expect("a re-encoded request decodes");
    assert_eq!(
        (&decoded.world, &decoded.function),
        (&request.world, &request.function)
    );
    assert!(
        same_json(
            &Value::Object(decoded.data.clone()),
            &Value::Object(request.data.clone())
        ),
        "data changed in a round trip: {:?} became {:?}",
        request.data,
        decoded.data
    );

    let Some(function) = functions::lookup(&request.function) else {
        return;
    };
    let worlds = config().worlds();
    let world = match &request.world {
        Some(named) => match named.resolve(worlds) {
            Some(served) => Some(served),
            None => return,
        },
        None => None,
    };
    if function.access() == Access::Public {
        return;
    }
    let token = request.data.get("token");
    match authorize(function.access(), token, world, worlds, |t| {
        verify(key(), t, NOW)
    }) {
        Ok(claims) => {
            let Some(Value::String(token)) = token else {
                panic!("authorized without a token string");
            };
            assert_eq!(verify(key(), token, NOW).as_ref(), Ok(&claims));
            if function.access() == Access::Admin {
                assert!(claims.is_admin(), "admin function allowed for {claims:?}");
            }
            if function.access() == Access::Session || claims.kind == TokenKind::Session {
                assert_eq!(
                    claims.kind,
                    TokenKind::Session,
                    "account token on a session function"
                );
                let token_world = claims.world.as_deref().and_then(|w| worlds.resolve(w));
                assert!(
                    world.is_some() && token_world == world,
                    "token for another world"
                );
            }
        }
        Err(refusal) => {
            let response = refusal.to_response();
            assert_ne!(response.status, 0, "a refusal answered success");
        }
    }
}

/// JSON equality, except that floats may differ in the last bit: serde_json without its
/// `float_roundtrip` feature (the workspace's choice) parses some long decimals, including
/// its own output, one unit in the last place off (found by this target). The floor of
/// `MIN_POSITIVE` covers subnormals, whose last place is not relative to their size.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let tolerance = (2.0 * f64::EPSILON * x.abs().max(y.abs())).max(f64::MIN_POSITIVE);
            x == y || (x - y).abs() <= tolerance
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
