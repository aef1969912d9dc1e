//! The HTTP API's shapes: routes, request bodies and reply bodies. Pure: no I/O here.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jwt::{Claims, TokenError, TokenKind};
use crate::nonces::Payload;

/// Larger request bodies are answered 413 without being buffered.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    IssueToken,
    ValidateToken,
    RegisterNonce,
    RedeemNonce,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::IssueToken,
        Endpoint::ValidateToken,
        Endpoint::RegisterNonce,
        Endpoint::RedeemNonce,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::IssueToken => "/issue_token",
            Endpoint::ValidateToken => "/validate_token",
            Endpoint::RegisterNonce => "/register_nonce",
            Endpoint::RedeemNonce => "/redeem_nonce",
        }
    }

    /// `issue_token`, for metric names and logs.
    pub fn name(self) -> &'static str {
        &self.path()[1..]
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed,
}

/// Every endpoint is `POST`; the query string, if any, is ignored.
pub fn route(method: &str, url: &str) -> Result<Endpoint, RouteError> {
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    let endpoint = Endpoint::ALL
        .into_iter()
        .find(|e| e.path() == path)
        .ok_or(RouteError::NotFound)?;
    if method.eq_ignore_ascii_case("POST") {
        Ok(endpoint)
    } else {
        Err(RouteError::MethodNotAllowed)
    }
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct IssueRequest {
    pub uid: String,
    pub kind: TokenKind,
    #[serde(default)]
    pub world: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

impl IssueRequest {
    /// An admin token, or any token with a role: only for holders of the issuer key.
    pub fn is_privileged(&self) -> bool {
        self.kind == TokenKind::Admin || self.role.is_some()
    }
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct ValidateRequest {
    pub token: String,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct RegisterNonceRequest {
    pub nonce: String,
    pub payload: Payload,
    #[serde(default)]
    pub ttl: Option<u64>,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct RedeemNonceRequest {
    pub keys: Vec<String>,
}

/// A request body that is not the JSON the endpoint expects; the text says why.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, BadRequest> {
    let text = std::str::from_utf8(body)
        .map_err(|_| BadRequest("request body is not UTF-8".to_string()))?;
    if text.trim().is_empty() {
        return Err(BadRequest(
            "request body is empty; expected a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| BadRequest(format!("request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(BadRequest("request body must be a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| BadRequest(format!("bad request: {e}")))
}

/// An HTTP status and the JSON body to send with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: u16,
    pub body: String,
}

impl Reply {
    /// `{"status":<status>,<fields...>}`, with `status` first as the contract writes it
    /// (serde_json's map would sort it after `data` and `message`).
    fn status_first<'a>(
        code: u16,
        status: i64,
        fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Reply {
        let mut body = format!("{{\"status\":{status}");
        for (key, value) in fields {
            body.push(',');
            body.push_str(&Value::from(key).to_string());
            body.push(':');
            body.push_str(&value.to_string());
        }
        body.push('}');
        Reply { code, body }
    }

    /// Answers the caller's mistakes (400, 404, 405, 413) and our outages (503) alike:
    /// `{"status":-1,"message":..}`.
    pub fn failure(code: u16, message: &str) -> Reply {
        Reply::status_first(code, -1, [("message", &Value::from(message))])
    }

    pub fn bad_request(e: &BadRequest) -> Reply {
        Reply::failure(400, &e.0)
    }

    /// A privileged `/issue_token` without the operators' credential.
    pub fn forbidden(why: &str) -> Reply {
        Reply::failure(403, why)
    }

    pub fn not_found() -> Reply {
        Reply::failure(404, "unknown path")
    }

    pub fn method_not_allowed() -> Reply {
        Reply::failure(405, "only POST is supported")
    }

    pub fn too_large() -> Reply {
        Reply::failure(413, "request body is larger than 64 KiB")
    }

    pub fn unavailable(why: &str) -> Reply {
        Reply::failure(503, why)
    }

    pub fn issued(token: &str) -> Reply {
        Reply::status_first(200, 0, [("token", &Value::from(token))])
    }

    pub fn validated(claims: &Claims) -> Reply {
        let mut data = Map::new();
        data.insert("uid".into(), claims.uid.clone().into());
        data.insert("kind".into(), claims.kind.as_str().into());
        if let Some(world) = &claims.world {
            data.insert("world".into(), world.clone().into());
        }
        if let Some(role) = &claims.role {
            data.insert("role".into(), role.clone().into());
        }
        Reply::status_first(200, 0, [("data", &Value::Object(data))])
    }

    /// A token that is not valid is an answer, not an error of the call: HTTP 200.
    pub fn token_rejected(e: &TokenError) -> Reply {
        Reply::status_first(200, 1, [("message", &Value::from(e.to_string()))])
    }

    pub fn registered() -> Reply {
        Reply::status_first(200, 0, [])
    }

    pub fn nonce_taken(message: &str) -> Reply {
        Reply::status_first(200, 1, [("message", &Value::from(message))])
    }

    /// `{"<key>":{"status":0,...payload}|{"status":1}}`
    pub fn redeemed(results: BTreeMap<String, Option<Payload>>) -> Reply {
        let mut body = String::from("{");
        for (i, (key, payload)) in results.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&Value::from(key.as_str()).to_string());
            body.push(':');
            let entry = match payload {
                Some(payload) => {
                    Reply::status_first(200, 0, payload.iter().map(|(k, v)| (k.as_str(), v)))
                }
                None => Reply::status_first(200, 1, []),
            };
            body.push_str(&entry.body);
        }
        body.push('}');
        Reply { code: 200, body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes() {
        assert_eq!(route("POST", "/issue_token"), Ok(Endpoint::IssueToken));
        assert_eq!(
            route("POST", "/validate_token?x=1"),
            Ok(Endpoint::ValidateToken)
        );
        assert_eq!(
            route("POST", "/register_nonce"),
            Ok(Endpoint::RegisterNonce)
        );
        assert_eq!(route("POST", "/redeem_nonce"), Ok(Endpoint::RedeemNonce));
        assert_eq!(
            route("GET", "/issue_token"),
            Err(RouteError::MethodNotAllowed)
        );
        assert_eq!(route("POST", "/issue_token/"), Err(RouteError::NotFound));
        assert_eq!(route("GET", "/nope"), Err(RouteError::NotFound));
        assert_eq!(Endpoint::RedeemNonce.name(), "redeem_nonce");
    }

    #[test]
    fn parses_issue_requests() {
        let r: IssueRequest = parse(br#"{"uid":"u1","kind":"session","world":"s0"}"#).unwrap();
        assert_eq!(r.uid, "u1");
        assert_eq!(r.kind, TokenKind::Session);
        assert_eq!(r.world.as_deref(), Some("s0"));
        assert_eq!(r.role, None);
        let r: IssueRequest = parse(br#"{"uid":"u1","kind":"account","world":null}"#).unwrap();
        assert_eq!(r.world, None);
        assert!(!r.is_privileged());
        let r: IssueRequest = parse(br#"{"uid":"admin:o","kind":"admin"}"#).unwrap();
        assert_eq!(r.kind, TokenKind::Admin);
        assert!(r.is_privileged());
        let r: IssueRequest = parse(br#"{"uid":"u","kind":"account","role":"x"}"#).unwrap();
        assert!(r.is_privileged());
    }

    #[test]
    fn bad_bodies_say_why() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "empty"),
            (b"{not json", "not JSON"),
            (b"[1,2]", "JSON object"),
            (b"\xff\xfe", "UTF-8"),
            (br#"{"kind":"account"}"#, "missing field `uid`"),
            (br#"{"uid":5,"kind":"account"}"#, "invalid type"),
            (br#"{"uid":"u","kind":"guest"}"#, "unknown variant"),
        ];
        for (body, needle) in cases {
            let e = parse::<IssueRequest>(body).unwrap_err();
            assert!(
                e.0.contains(needle),
                "{:?}: {e}",
                String::from_utf8_lossy(body)
            );
        }
        let e = parse::<RegisterNonceRequest>(br#"{"nonce":"n","payload":[1]}"#).unwrap_err();
        assert!(e.0.contains("invalid type"), "{e}");
        let e =
            parse::<RegisterNonceRequest>(br#"{"nonce":"n","payload":{},"ttl":-1}"#).unwrap_err();
        assert!(e.0.contains("invalid value"), "{e}");
        let e = parse::<RedeemNonceRequest>(br#"{"keys":"k"}"#).unwrap_err();
        assert!(e.0.contains("invalid type"), "{e}");
    }

    #[test]
    fn replies_match_the_contract() {
        assert_eq!(Reply::issued("t").body, r#"{"status":0,"token":"t"}"#);
        assert_eq!(Reply::registered().body, r#"{"status":0}"#);
        let claims = Claims {
            uid: "u".into(),
            kind: TokenKind::Account,
            world: None,
            role: Some("admin".into()),
            iat: 1,
            exp: 2,
            jti: "j".into(),
        };
        assert_eq!(
            Reply::validated(&claims).body,
            r#"{"status":0,"data":{"kind":"account","role":"admin","uid":"u"}}"#
        );
        let rejected = Reply::token_rejected(&TokenError::Expired);
        assert_eq!(
            (rejected.code, rejected.body.as_str()),
            (200, r#"{"status":1,"message":"token expired"}"#)
        );
        let bad = Reply::bad_request(&BadRequest("x".into()));
        assert_eq!(
            (bad.code, bad.body.as_str()),
            (400, r#"{"status":-1,"message":"x"}"#)
        );
    }

    #[test]
    fn redeemed_merges_status_into_the_payload() {
        let mut results = BTreeMap::new();
        let mut payload = Map::new();
        payload.insert("gift".into(), "1:2:3".into());
        results.insert("a".to_string(), Some(payload));
        results.insert("b".to_string(), None);
        let reply = Reply::redeemed(results);
        assert_eq!(
            reply.body,
            r#"{"a":{"status":0,"gift":"1:2:3"},"b":{"status":1}}"#
        );
        let v: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            v,
            json!({"a": {"status": 0, "gift": "1:2:3"}, "b": {"status": 1}})
        );
    }
}
