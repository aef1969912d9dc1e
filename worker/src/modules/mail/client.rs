//! The worker's side of the mail service's JSON API (docs/mail.md): one blocking HTTP POST
//! per call, short timeouts, every answer parsed into explicit types. A mail's `type` is a
//! number 0..=3 ([`MailType`]) both ways.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use shared::mail_type::MailType;

/// A mail service that does not answer within this is treated as down (status 99).
const TIMEOUT: Duration = Duration::from_secs(2);

/// Longest mailbox name the mail service accepts (`world` and `uid` alike).
const MAX_MAILBOX_NAME: usize = 64;

/// Prefix of mailbox names made from a hash (see [`mailbox_name`]).
const HASHED_PREFIX: &str = "h.";

/// Why a call to the mail service did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum MailError {
    /// `/send` status 1: the recipient's mailbox holds its limit.
    MailboxFull,
    /// Status 2: no mail with that key in that mailbox.
    NoSuchMail,
    /// HTTP 400: the service refused the request's values (its message).
    Refused(String),
    /// Unreachable, timed out, 5xx, or an answer that is not the documented shape.
    Unavailable(String),
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::MailboxFull => write!(f, "mailbox full"),
            MailError::NoSuchMail => write!(f, "no such mail"),
            MailError::Refused(why) => write!(f, "mail service refused the request: {why}"),
            MailError::Unavailable(why) => write!(f, "mail service unavailable: {why}"),
        }
    }
}

impl std::error::Error for MailError {}

/// A mail to deliver (`/send`'s `mail` object).
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingMail<'a> {
    /// The type by name (`simple`, `gift`, `friend_request`, `family_request`, or
    /// `family_invite`, a family request too: see [`MailType::from_name`]); sent as its
    /// number. A name that is none of these is refused before anything is sent.
    #[serde(rename = "type", serialize_with = "type_number")]
    pub kind: &'a str,
    pub from: &'a str,
    pub subj: &'a str,
    pub body: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

/// `kind` as the mail service wants it: the type's number.
fn type_number<S: Serializer>(kind: &&str, serializer: S) -> Result<S::Ok, S::Error> {
    match MailType::from_name(kind) {
        Some(t) => t.serialize(serializer),
        None => Err(serde::ser::Error::custom(format!(
            "unknown mail type {kind:?}"
        ))),
    }
}

/// One mail as `/new` and `/all` list it (and as the game's listings answer it: `type` is
/// the number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailEntry {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: MailType,
    pub from: String,
    pub subj: String,
    pub body: String,
    #[serde(default)]
    pub items: Vec<String>,
    pub date: String,
    pub read: bool,
}

/// The mailbox's fill level after a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailCount {
    pub cur: u64,
    pub max: u64,
}

/// The answer of `/new` or `/all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub mail: Vec<MailEntry>,
    pub count: MailCount,
}

/// Which mails a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Unread mails that arrived since the last listing, oldest first.
    New,
    /// Every mail, newest first.
    All,
}

/// The mail service's name for a player's mailbox. A uid the service accepts as a name
/// (`[A-Za-z0-9][A-Za-z0-9_.-]{0,63}` without `..`) is used as it is, so operators find
/// mailboxes by uid. Any other uid (non-ASCII, spaces, ...), and any uid that itself starts
/// with the hash prefix, becomes `h.` + 40 hex digits of its SHA-256: a player cannot pick
/// a uid that names another player's mailbox without finding a SHA-256 collision.
pub fn mailbox_name(uid: &str) -> String {
    if is_service_name(uid) && !uid.starts_with(HASHED_PREFIX) {
        return uid.to_string();
    }
    let digest = Sha256::digest(uid.as_bytes());
    let hex = shared::ids::hex(&digest);
    format!("{HASHED_PREFIX}{}", &hex[..40])
}

/// The mail service's rule for world and uid names.
fn is_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_MAILBOX_NAME
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !name.contains("..")
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            // Well inside the services' 30 s keep-alive, so a pooled connection is rarely
            // one the server is closing.
            .max_idle_age(Duration::from_secs(10))
            .http_status_as_error(false)
            .build()
            .into()
    })
}

/// POSTs `body` as JSON to `<base><path>` and returns the HTTP status and the JSON answer.
/// Shared with [`crate::auth_client`]: both services speak JSON over POST.
pub(crate) fn post_json(base: &str, path: &str, body: &Value) -> Result<(u16, Value), String> {
    if base.is_empty() {
        return Err("no service URL configured".into());
    }
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut response = agent()
        .post(&url)
        .send_json(body)
        .map_err(|e| format!("{url}: {e}"))?;
    let code = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{url}: {e}"))?;
    let answer = serde_json::from_str(&text)
        .map_err(|e| format!("{url}: answer is not JSON ({e}): {text:.200}"))?;
    Ok((code, answer))
}

/// The mail service at one base URL (`--mail-url`).
pub struct MailClient<'a> {
    base: &'a str,
}

impl<'a> MailClient<'a> {
    pub fn new(base: &'a str) -> MailClient<'a> {
        MailClient { base }
    }

    /// Delivers player `mail` to the mailbox of `uid` in `world`; answers the new mail's
    /// key.
    pub fn send(&self, world: &str, uid: &str, mail: &OutgoingMail) -> Result<String, MailError> {
        self.send_as(world, uid, mail, false)
    }

    /// [`MailClient::send`] for admin and system mail, which the mail service counts apart
    /// from player mail: a mailbox players filled still takes it (docs/mail.md).
    pub fn send_system(
        &self,
        world: &str,
        uid: &str,
        mail: &OutgoingMail,
    ) -> Result<String, MailError> {
        self.send_as(world, uid, mail, true)
    }

    fn send_as(
        &self,
        world: &str,
        uid: &str,
        mail: &OutgoingMail,
        system: bool,
    ) -> Result<String, MailError> {
        let mail = serde_json::to_value(mail).map_err(|e| MailError::Refused(e.to_string()))?;
        let mut body = json!({"world": world, "uid": mailbox_name(uid), "mail": mail});
        if system {
            body["system"] = json!(true);
        }
        let answer = self.call("/send", body)?;
        match answer.get("key").and_then(Value::as_str) {
            Some(key) => Ok(key.to_string()),
            None => Err(MailError::Unavailable(format!(
                "/send answer without key: {answer}"
            ))),
        }
    }

    /// Lists the mailbox; both listings move new mails to `cur` (they count as delivered).
    pub fn list(&self, world: &str, uid: &str, which: Which) -> Result<Listing, MailError> {
        let path = match which {
            Which::New => "/new",
            Which::All => "/all",
        };
        let answer = self.call(path, json!({"world": world, "uid": mailbox_name(uid)}))?;
        serde_json::from_value(answer)
            .map_err(|e| MailError::Unavailable(format!("{path} answer not understood: {e}")))
    }

    pub fn mark_read(&self, world: &str, uid: &str, key: &str) -> Result<(), MailError> {
        self.keyed("/mark_read", world, uid, key)
    }

    pub fn delete(&self, world: &str, uid: &str, key: &str) -> Result<(), MailError> {
        self.keyed("/delete", world, uid, key)
    }

    /// Deletes every read mail; answers their keys.
    pub fn delete_read(&self, world: &str, uid: &str) -> Result<Vec<String>, MailError> {
        let answer = self.call(
            "/delete_read",
            json!({"world": world, "uid": mailbox_name(uid)}),
        )?;
        answer
            .get("keys")
            .cloned()
            .and_then(|keys| serde_json::from_value(keys).ok())
            .ok_or_else(|| MailError::Unavailable(format!("/delete_read answer: {answer}")))
    }

    fn keyed(&self, path: &str, world: &str, uid: &str, key: &str) -> Result<(), MailError> {
        self.call(
            path,
            json!({"world": world, "uid": mailbox_name(uid), "key": key}),
        )
        .map(|_| ())
    }

    /// One call: status 0 answers the JSON, the documented refusals their errors.
    fn call(&self, path: &str, body: Value) -> Result<Value, MailError> {
        let (code, answer) = post_json(self.base, path, &body).map_err(MailError::Unavailable)?;
        let status = answer.get("status").and_then(Value::as_i64);
        let message = || {
            answer
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        match (code, status) {
            (200, Some(0)) => Ok(answer),
            (200, Some(1)) => Err(MailError::MailboxFull),
            (200, Some(2)) => Err(MailError::NoSuchMail),
            (400, _) => Err(MailError::Refused(message())),
            _ => Err(MailError::Unavailable(format!(
                "{path} answered HTTP {code}: {answer}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_safe_uids_name_their_own_mailbox() {
        for uid in ["dev-1", "A.b_c", "0", &"x".repeat(64)] {
            assert_eq!(mailbox_name(uid), uid);
        }
    }

    #[test]
    fn other_uids_are_hashed_so_no_uid_can_name_another_mailbox() {
        let unicode = mailbox_name("玩家 one");
        assert!(
            unicode.starts_with("h.") && unicode.len() == 42,
            "{unicode}"
        );
        assert!(is_service_name(&unicode));
        assert_ne!(mailbox_name("玩家 one"), mailbox_name("玩家 two"));
        // A uid that spells out another uid's hashed name is hashed itself.
        assert_ne!(mailbox_name(&unicode), unicode);
        for odd in ["a..b", ".hidden", "-x", "a/b", "", &"x".repeat(65), "bob "] {
            let name = mailbox_name(odd);
            assert!(name.starts_with("h.") && is_service_name(&name), "{odd:?}");
        }
    }

    #[test]
    fn listings_parse_the_documented_shape() {
        let answer = json!({"status":0,"mail":[{"key":"1.M2P3Q4.h","type":1,"from":"system",
            "subj":"s","body":"b","items":["3:5:5"],"date":"Fri, 27 Nov 2026 11:49:05 +0000",
            "read":false}],"count":{"cur":1,"max":50}});
        let listing: Listing = serde_json::from_value(answer.clone()).unwrap();
        assert_eq!(listing.mail[0].kind, MailType::Gift);
        assert_eq!(listing.mail[0].items, ["3:5:5"]);
        assert_eq!(listing.count, MailCount { cur: 1, max: 50 });
        // The game's listing answers the number too.
        assert_eq!(serde_json::to_value(&listing.mail[0]).unwrap()["type"], 1);
        let mail = OutgoingMail {
            kind: "simple",
            from: "a",
            subj: "s",
            body: "b",
            items: vec![],
        };
        assert_eq!(
            serde_json::to_value(&mail).unwrap(),
            json!({"type":0,"from":"a","subj":"s","body":"b"})
        );
        // A type that is not a number 0..=3 is not the documented shape.
        for bad in [json!("gift"), json!(4), json!(-1)] {
            let mut answer = answer.clone();
            answer["mail"][0]["type"] = bad;
            assert!(serde_json::from_value::<Listing>(answer).is_err());
        }
    }

    #[test]
    fn outgoing_types_are_sent_as_their_numbers() {
        for (name, code) in [
            ("simple", 0),
            ("gift", 1),
            ("friend_request", 2),
            ("family_request", 3),
            ("family_invite", 3),
        ] {
            let mail = OutgoingMail {
                kind: name,
                from: "a",
                subj: "s",
                body: "b",
                items: vec!["0:1:5".into()],
            };
            assert_eq!(serde_json::to_value(&mail).unwrap()["type"], code, "{name}");
        }
        let unknown = OutgoingMail {
            kind: "banana",
            from: "a",
            subj: "s",
            body: "b",
            items: vec![],
        };
        assert!(serde_json::to_value(&unknown).is_err());
        // Refused before any connection is tried (nothing listens at this URL).
        let url = format!("http://127.0.0.1:{}", testkit::free_port());
        assert!(matches!(
            MailClient::new(&url).send("s0", "u", &unknown),
            Err(MailError::Refused(why)) if why.contains("banana")
        ));
    }

    #[test]
    fn types_go_through_the_real_mail_service_as_numbers() {
        let dir = testkit::TempDir::new("worker-mail-client");
        let service = mail::MailService::start(
            &mail::Options {
                bind: "127.0.0.1:0".into(),
                root: dir.path().to_path_buf(),
                mailbox_limit: 50,
                threads: 2,
            },
            &shared::metrics::Registry::new(),
        )
        .unwrap();
        let url = format!("http://{}", service.addr());
        let client = MailClient::new(&url);
        let names = [
            "simple",
            "gift",
            "friend_request",
            "family_request",
            "family_invite",
        ];
        for name in names {
            let mail = OutgoingMail {
                kind: name,
                from: "a",
                subj: name,
                body: "",
                items: vec![],
            };
            client.send("s0", "u-1", &mail).unwrap();
        }
        let listing = client.list("s0", "u-1", Which::All).unwrap();
        let mut got: Vec<(String, MailType)> = listing
            .mail
            .iter()
            .map(|m| (m.subj.clone(), m.kind))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            [
                ("family_invite".to_string(), MailType::FamilyRequest),
                ("family_request".to_string(), MailType::FamilyRequest),
                ("friend_request".to_string(), MailType::FriendRequest),
                ("gift".to_string(), MailType::Gift),
                ("simple".to_string(), MailType::Simple),
            ]
        );
        service.stop();
    }

    #[test]
    fn an_unreachable_service_is_unavailable() {
        let port = testkit::free_port();
        let url = format!("http://127.0.0.1:{port}");
        let client = MailClient::new(&url);
        assert!(matches!(
            client.list("s0", "u", Which::All),
            Err(MailError::Unavailable(_))
        ));
        assert!(matches!(
            MailClient::new("").delete_read("s0", "u"),
            Err(MailError::Unavailable(_))
        ));
    }
}
