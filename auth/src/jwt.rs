//! HS256 JSON Web Tokens, written out by hand so that exactly one algorithm exists.
//!
//! A token is `base64url(header).base64url(claims).base64url(HMAC-SHA256)`, base64url
//! without padding. [`verify`] accepts only the header algorithm `HS256`: tokens naming
//! `none` or any other algorithm are refused before the signature is looked at.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use shared::redis_conn::RedisError;

type HmacSha256 = Hmac<Sha256>;

/// Shorter keys make HMAC-SHA256 guessable; the contract refuses them.
pub const MIN_KEY_BYTES: usize = 32;

/// Longer strings are not tokens we issued; refusing them early bounds the work per call.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// `{"alg":"HS256","typ":"JWT"}` encoded once: every token we issue carries it.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// The signing key, with the HMAC key schedule done once so each sign or verify only
/// clones the prepared state.
#[derive(Clone)]
pub struct Key {
    mac: HmacSha256,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    TooShort { len: usize },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::TooShort { len } => write!(
                f,
                "the JWT signing key has {len} bytes; at least {MIN_KEY_BYTES} are required"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

impl Key {
    pub fn new(bytes: &[u8]) -> Result<Key, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { len: bytes.len() });
        }
        let mac = HmacSha256::new_from_slice(bytes).expect("HMAC accepts keys of any length");
        Ok(Key { mac })
    }

    fn sign(&self, signing_input: &[u8]) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(signing_input);
        mac.finalize().into_bytes().to_vec()
    }

    /// Constant-time comparison, via the hmac crate.
    fn signature_matches(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(signing_input);
        mac.verify_slice(signature).is_ok()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, not even in a debug dump.
        f.write_str("Key(..)")
    }
}

/// What a token is for: an account login, a session inside one world, or an operator.
/// Admin tokens are their own kind (issue 16): their revocation key
/// (`auth.tokens.admin.<uid>`) is apart from every player's, and their uid is in the
/// reserved namespace of [`crate::tokens::is_admin_uid`], which no player id can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Account,
    Session,
    Admin,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Account => "account",
            TokenKind::Session => "session",
            TokenKind::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<TokenKind> {
        match text {
            "account" => Some(TokenKind::Account),
            "session" => Some(TokenKind::Session),
            "admin" => Some(TokenKind::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token's claims. `iat` and `exp` are Unix seconds; `jti` identifies one issue, so a
/// newer token for the same (uid, kind) can revoke older ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub uid: String,
    pub kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<String>,
    /// Free text for the operators' tools; it grants nothing (admin power is the kind
    /// [`TokenKind::Admin`], since issue 16). Issuing one needs the issuer key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

impl Claims {
    /// An operator's token: its kind, never its `role` claim, says so.
    pub fn is_admin(&self) -> bool {
        self.kind == TokenKind::Admin
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    /// Not three base64url segments of JSON with the expected fields; says what is wrong.
    Malformed(String),
    /// The header's `alg` is missing or not exactly `HS256`.
    BadAlgorithm(String),
    BadSignature,
    Expired,
    /// A newer token for the same uid and kind was issued since.
    Revoked,
    /// The revocation store could not be asked; the token is not accepted.
    Unavailable(RedisError),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed(why) => write!(f, "malformed token: {why}"),
            TokenError::BadAlgorithm(alg) => {
                write!(f, "token algorithm {alg} is not accepted (only HS256)")
            }
            TokenError::BadSignature => write!(f, "token signature does not match"),
            TokenError::Expired => write!(f, "token expired"),
            TokenError::Revoked => write!(f, "token revoked: a newer one was issued"),
            TokenError::Unavailable(why) => write!(f, "token store unavailable: {why}"),
        }
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

/// Signs `claims` into a compact token.
pub fn encode(key: &Key, claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims always serialise");
    let mut token = String::with_capacity(HEADER_B64.len() + payload.len() * 4 / 3 + 48);
    token.push_str(HEADER_B64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    token
}

/// Checks `token` completely except for revocation: shape, algorithm, signature, claim
/// types and expiry (`exp` must be after `now`, Unix seconds).
pub fn verify(key: &Key, token: &str, now: u64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("longer than any token we issue"));
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed(
            "a token has exactly three dot-separated segments",
        ));
    };

    check_header(&decode_segment(header, "header")?)?;
    let payload_json = decode_segment(payload, "payload")?;
    let signature = decode_segment(signature, "signature")?;
    let signing_input = &token.as_bytes()[..header.len() + 1 + payload.len()];
    if !key.signature_matches(signing_input, &signature) {
        return Err(TokenError::BadSignature);
    }

    let claims: Claims = serde_json::from_slice(&payload_json)
        .map_err(|e| TokenError::Malformed(format!("claims: {e}")))?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn malformed(why: &str) -> TokenError {
    TokenError::Malformed(why.to_string())
}

/// Strict base64url: no padding, no `+` or `/`, no stray trailing bits.
fn decode_segment(segment: &str, name: &str) -> Result<Vec<u8>, TokenError> {
    if segment.is_empty() {
        return Err(TokenError::Malformed(format!("empty {name}")));
    }
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| TokenError::Malformed(format!("{name} is not unpadded base64url: {e}")))
}

fn check_header(header: &[u8]) -> Result<(), TokenError> {
    let header: serde_json::Value = serde_json::from_slice(header)
        .map_err(|e| TokenError::Malformed(format!("header: {e}")))?;
    let Some(header) = header.as_object() else {
        return Err(malformed("header is not a JSON object"));
    };
    match header.get("alg") {
        Some(serde_json::Value::String(alg)) if alg == "HS256" => Ok(()),
        Some(serde_json::Value::String(alg)) => Err(TokenError::BadAlgorithm(format!("{alg:?}"))),
        Some(other) => Err(TokenError::BadAlgorithm(other.to_string())),
        None => Err(TokenError::BadAlgorithm("(missing)".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn key() -> Key {
        Key::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn claims() -> Claims {
        Claims {
            uid: "player-7".into(),
            kind: TokenKind::Session,
            world: Some("s0".into()),
            role: None,
            iat: NOW - 10,
            exp: NOW + 100,
            jti: "00ff".into(),
        }
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token with a chosen header and payload, signed with the test key.
    fn forge(header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = key().sign(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    fn payload_json() -> String {
        serde_json::to_string(&claims()).unwrap()
    }

    #[test]
    fn round_trip() {
        let token = encode(&key(), &claims());
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(verify(&key(), &token, NOW).unwrap(), claims());
    }

    #[test]
    fn header_constant_is_the_encoded_header() {
        assert_eq!(HEADER_B64, b64(br#"{"alg":"HS256","typ":"JWT"}"#));
    }

    #[test]
    fn claims_json_omits_absent_world_and_role() {
        let mut c = claims();
        c.world = None;
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"uid":"player-7","kind":"session","iat":1799999990,"exp":1800000100,"jti":"00ff"}"#
        );
        c.role = Some("admin".into());
        assert!(!c.is_admin(), "a role claim grants nothing");
        c.kind = TokenKind::Admin;
        assert!(c.is_admin());
        assert!(serde_json::to_string(&c)
            .unwrap()
            .contains(r#""kind":"admin""#));
        assert_eq!(TokenKind::parse("admin"), Some(TokenKind::Admin));
    }

    #[test]
    fn short_key_refused() {
        let e = Key::new(&[7u8; 31]).unwrap_err();
        assert_eq!(e, KeyError::TooShort { len: 31 });
        assert!(e.to_string().contains("at least 32"), "{e}");
        assert!(Key::new(&[7u8; 32]).is_ok());
    }

    #[test]
    fn key_debug_hides_the_secret() {
        assert_eq!(format!("{:?}", key()), "Key(..)");
    }

    #[test]
    fn other_key_fails_signature() {
        let token = encode(&key(), &claims());
        let other = Key::new(b"another key of thirty-two bytes!").unwrap();
        assert_eq!(verify(&other, &token, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_payload_fails_signature() {
        let token = encode(&key(), &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut evil = claims();
        evil.uid = "someone-else".into();
        let forged_payload = b64(&serde_json::to_vec(&evil).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            verify(&key(), &tampered, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_signature_fails() {
        let token = encode(&key(), &claims());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        raw[0] ^= 1;
        let tampered = format!("{input}.{}", b64(&raw));
        assert_eq!(
            verify(&key(), &tampered, NOW),
            Err(TokenError::BadSignature)
        );
        let truncated = format!("{input}.{}", b64(&raw[..16]));
        assert_eq!(
            verify(&key(), &truncated, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn alg_none_refused() {
        let payload = b64(payload_json().as_bytes());
        let unsigned = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(matches!(
            verify(&key(), &unsigned, NOW),
            Err(TokenError::BadAlgorithm(_))
        ));
        // Even correctly HMAC-signed, a header naming another algorithm is refused.
        let signed = forge(r#"{"alg":"none"}"#, &payload_json());
        assert!(matches!(
            verify(&key(), &signed, NOW),
            Err(TokenError::BadAlgorithm(_))
        ));
    }

    #[test]
    fn other_algorithms_refused() {
        for header in [
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":"HS256 "}"#,
            r#"{"alg":["HS256"]}"#,
            r#"{"alg":null}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            let token = forge(header, &payload_json());
            let e = verify(&key(), &token, NOW).unwrap_err();
            assert!(matches!(e, TokenError::BadAlgorithm(_)), "{header}: {e}");
        }
    }

    #[test]
    fn header_must_be_a_json_object() {
        for header in ["[]", "\"HS256\"", "{", "not json"] {
            let token = forge(header, &payload_json());
            assert!(
                matches!(verify(&key(), &token, NOW), Err(TokenError::Malformed(_))),
                "{header}"
            );
        }
    }

    #[test]
    fn expired_token_refused() {
        let token = encode(&key(), &claims());
        assert!(verify(&key(), &token, NOW + 99).is_ok());
        assert_eq!(verify(&key(), &token, NOW + 100), Err(TokenError::Expired));
        assert_eq!(verify(&key(), &token, NOW + 1000), Err(TokenError::Expired));
    }

    #[test]
    fn wrong_segment_counts_refused() {
        let token = encode(&key(), &claims());
        let (two, _) = token.rsplit_once('.').unwrap();
        let four = format!("{token}.AAAA");
        for bad in [two, &four, "", "abc", "a.b", "..", "..."] {
            let e = verify(&key(), bad, NOW).unwrap_err();
            assert!(matches!(e, TokenError::Malformed(_)), "{bad:?}: {e}");
        }
    }

    #[test]
    fn padded_or_standard_base64_refused() {
        let token = encode(&key(), &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let padded_payload = format!("{}=", parts[1]);
        let bad = format!("{}.{}.{}", parts[0], padded_payload, parts[2]);
        assert!(matches!(
            verify(&key(), &bad, NOW),
            Err(TokenError::Malformed(_))
        ));
        // A signature with padding is malformed before any comparison.
        let padded_sig = format!("{}.{}.{}=", parts[0], parts[1], parts[2]);
        assert!(matches!(
            verify(&key(), &padded_sig, NOW),
            Err(TokenError::Malformed(_))
        ));
        let std_alphabet = format!("{}.{}.{}", parts[0], parts[1], parts[2].replace('-', "+"));
        if std_alphabet != token {
            assert!(matches!(
                verify(&key(), &std_alphabet, NOW),
                Err(TokenError::Malformed(_))
            ));
        }
        let slash = format!(
            "{}.{}.{}/",
            parts[0],
            parts[1],
            &parts[2][..parts[2].len() - 1]
        );
        assert!(matches!(
            verify(&key(), &slash, NOW),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn signed_payload_with_wrong_types_is_malformed() {
        for payload in [
            r#"{"uid":5,"kind":"account","iat":1,"exp":99999999999,"jti":"a"}"#,
            r#"{"uid":"u","kind":"guest","iat":1,"exp":99999999999,"jti":"a"}"#,
            r#"{"uid":"u","kind":"account","iat":1,"exp":"later","jti":"a"}"#,
            r#"{"uid":"u","kind":"account","iat":1,"jti":"a"}"#,
            r#"{"uid":"u","kind":"account","iat":1,"exp":-5,"jti":"a"}"#,
            r#"not json"#,
        ] {
            let token = forge(r#"{"alg":"HS256"}"#, payload);
            let e = verify(&key(), &token, NOW).unwrap_err();
            assert!(matches!(e, TokenError::Malformed(_)), "{payload}: {e}");
        }
    }

    #[test]
    fn oversized_token_refused_without_work() {
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            verify(&key(), &huge, NOW),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(TokenError::Expired.to_string(), "token expired");
        assert!(TokenError::BadAlgorithm("\"HS512\"".into())
            .to_string()
            .contains("HS512"));
        assert!(TokenError::Revoked.to_string().contains("newer"));
    }
}
