//! `auth::jwt::verify` on arbitrary token strings with a fixed key, and a round trip:
//! claims built from the input are signed, must verify back to themselves, and must stop
//! verifying when any one byte of the token changes or another key is used.
//!
//! Input: the whole input is tried as a token; it is also split on `\n` into uid, world,
//! role, jti, and 16 bytes of iat/exp (missing parts are empty) for the round trip.
#![no_main]

use std::sync::OnceLock;

use auth::jwt::{encode, verify, Claims, Key, TokenError, TokenKind};
use libfuzzer_sys::fuzz_target;

/// A fixed time inside the range real tokens use.
const NOW: u64 = 1_800_000_000;

fn key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| Key::new(b"fuzzing-key-fuzzing-key-fuzzing!").unwrap())
}

fn other_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| Key::new(b"another-key-another-key-another!").unwrap())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        check_arbitrary_token(token);
    }
    round_trip(data);
});

fn check_arbitrary_token(token: &str) {
    match verify(key(), token, NOW) {
        // Only a token signed with the key can get here; re-signing its claims gives a
        // token that verifies to the same claims.
        Ok(claims) => {
            assert!(claims.exp > NOW, "an expired token was accepted");
            let again = encode(key(), &claims);
            assert_eq!(verify(key(), &again, NOW), Ok(claims));
        }
        Err(TokenError::Revoked | TokenError::Unavailable(_)) => {
            panic!("verify does not look at revocation")
        }
        Err(_) => {}
    }
}

fn round_trip(data: &[u8]) {
    let mut parts = data.split(|&b| b == b'\n');
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (uid, world, role, jti) = (text(), text(), text(), text());
    let numbers = parts.next().unwrap_or_default();
    let number = |at: usize| {
        let mut bytes = [0u8; 8];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = numbers.get(at + i).copied().unwrap_or(0);
        }
        u64::from_le_bytes(bytes)
    };
    let (iat, exp) = (number(0), number(8));
    let claims = Claims {
        uid,
        kind: if jti.len() % 2 == 0 {
            TokenKind::Session
        } else {
            TokenKind::Account
        },
        world: (!world.is_empty()).then_some(world),
        role: (!role.is_empty()).then_some(role),
        iat,
        exp,
        jti,
    };
    let token = encode(key(), &claims);
    // The length limit is checked before anything else.
    if token.len() > auth::jwt::MAX_TOKEN_BYTES {
        assert!(matches!(
            verify(key(), &token, 0),
            Err(TokenError::Malformed(_))
        ));
        return;
    }
    if exp == 0 {
        assert_eq!(verify(key(), &token, 0), Err(TokenError::Expired));
        return;
    }
    let now = exp - 1;
    assert_eq!(verify(key(), &token, now), Ok(claims.clone()));
    assert_eq!(verify(key(), &token, exp), Err(TokenError::Expired));
    assert_eq!(
        verify(other_key(), &token, now),
        Err(TokenError::BadSignature)
    );

    // Change one byte, chosen by the input, to another base64url character or a dot.
    let position = (iat as usize) % token.len();
    let original = token.as_bytes()[position];
    const REPLACEMENTS: &[u8] = b"AQgw_-.";
    let replacement = REPLACEMENTS
        .iter()
        .copied()
        .cycle()
        .skip((iat >> 32) as usize % REPLACEMENTS.len())
        .find(|&b| b != original)
        .unwrap();
    let mut tampered = token.into_bytes();
    tampered[position] = replacement;
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(
        verify(key(), &tampered, now).is_err(),
        "a token with byte {position} changed still verifies: {tampered}"
    );
}
