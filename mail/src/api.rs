//! The JSON API: request bodies in, (HTTP status, JSON reply) out. No sockets here.
//!
//! Statuses: 0 ok, 1 mailbox full, 2 no such mail, -1 bad request (HTTP 400) or storage
//! failure (HTTP 500).

use std::fmt;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::message::{Mail, MailClass, MailType};
use crate::names::{InvalidName, MailKey, MailboxId};
use crate::store::{Listing, Maildir, StoreError, StoredMail};

pub const MAX_FROM_CHARS: usize = 64;
pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_ITEMS: usize = 64;
const MAX_ITEM_PART: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Send,
    New,
    All,
    MarkRead,
    Delete,
    DeleteRead,
}

impl Endpoint {
    pub fn from_path(path: &str) -> Option<Endpoint> {
        // Query strings carry nothing here; ignore them rather than 404.
        match path.split('?').next().unwrap_or("") {
            "/send" => Some(Endpoint::Send),
            "/new" => Some(Endpoint::New),
            "/all" => Some(Endpoint::All),
            "/mark_read" => Some(Endpoint::MarkRead),
            "/delete" => Some(Endpoint::Delete),
            "/delete_read" => Some(Endpoint::DeleteRead),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Send => "send",
            Endpoint::New => "new",
            Endpoint::All => "all",
            Endpoint::MarkRead => "mark_read",
            Endpoint::Delete => "delete",
            Endpoint::DeleteRead => "delete_read",
        }
    }
}

/// An HTTP status and the JSON body to send with it.
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub http: u16,
    pub body: Value,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply { http: 200, body }
    }

    /// A refused request: HTTP 400, status -1 and what was wrong.
    pub fn bad_request(message: impl fmt::Display) -> Reply {
        Reply {
            http: 400,
            body: json!({"status": -1, "message": message.to_string()}),
        }
    }

    pub fn status(&self) -> i64 {
        self.body["status"].as_i64().unwrap_or(-1)
    }
}

/// Why a request was refused before it reached the store.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestError {
    Json(String),
    Name(InvalidName),
    Mail(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Json(e) => write!(f, "malformed request: {e}"),
            RequestError::Name(e) => write!(f, "{e}"),
            RequestError::Mail(e) => write!(f, "invalid mail: {e}"),
        }
    }
}

impl From<InvalidName> for RequestError {
    fn from(e: InvalidName) -> RequestError {
        RequestError::Name(e)
    }
}

#[derive(Deserialize)]
struct MailboxRequest {
    world: String,
    uid: String,
}

#[derive(Deserialize)]
struct KeyRequest {
    world: String,
    uid: String,
    key: String,
}

#[derive(Deserialize)]
struct SendRequest {
    world: String,
    uid: String,
    mail: MailFields,
    /// System (admin or game) mail: counted apart from player mail against the limit
    /// ([`crate::store::Maildir::deliver_as`]). Absent is player mail.
    #[serde(default)]
    system: bool,
}

#[derive(Deserialize)]
struct MailFields {
    /// Checked in [`check_mail`], so a bad type is refused as `invalid mail: type ..`.
    #[serde(rename = "type")]
    kind: Value,
    from: String,
    subj: String,
    body: String,
    #[serde(default)]
    items: Vec<String>,
}

/// Runs one request against the store.
pub fn handle(store: &Maildir, endpoint: Endpoint, body: &[u8]) -> Reply {
    match dispatch(store, endpoint, body) {
        Ok(reply) => reply,
        Err(Refusal::Request(e)) => Reply::bad_request(e),
        Err(Refusal::Store(StoreError::Full)) => {
            Reply::ok(json!({"status": 1, "message": "mailbox full"}))
        }
        Err(Refusal::Store(StoreError::NoSuchMail)) => {
            Reply::ok(json!({"status": 2, "message": "no such mail"}))
        }
        Err(Refusal::Store(StoreError::Io(e))) => {
            shared::error!("storage failed", endpoint = endpoint.as_str(), error = e);
            Reply {
                http: 500,
                body: json!({"status": -1, "message": "storage error"}),
            }
        }
    }
}

enum Refusal {
    Request(RequestError),
    Store(StoreError),
}

impl From<RequestError> for Refusal {
    fn from(e: RequestError) -> Refusal {
        Refusal::Request(e)
    }
}

impl From<InvalidName> for Refusal {
    fn from(e: InvalidName) -> Refusal {
        Refusal::Request(e.into())
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Store(e)
    }
}

fn dispatch(store: &Maildir, endpoint: Endpoint, body: &[u8]) -> Result<Reply, Refusal> {
    match endpoint {
        Endpoint::Send => {
            let request: SendRequest = decode(body)?;
            let mailbox = MailboxId::new(&request.world, &request.uid)?;
            let mail = check_mail(request.mail)?;
            let class = if request.system {
                MailClass::System
            } else {
                MailClass::Player
            };
            let key = store.deliver_as(&mailbox, &mail, class)?;
            Ok(Reply::ok(json!({"status": 0, "key": key.as_str()})))
        }
        Endpoint::New | Endpoint::All => {
            let request: MailboxRequest = decode(body)?;
            let mailbox = MailboxId::new(&request.world, &request.uid)?;
            let listing = if endpoint == Endpoint::New {
                store.take_new(&mailbox)?
            } else {
                store.list_all(&mailbox)?
            };
            Ok(Reply::ok(listing_json(&listing, store.limit())))
        }
        Endpoint::MarkRead | Endpoint::Delete => {
            let request: KeyRequest = decode(body)?;
            let mailbox = MailboxId::new(&request.world, &request.uid)?;
            let key = MailKey::new(&request.key)?;
            if endpoint == Endpoint::MarkRead {
                store.mark_read(&mailbox, &key)?;
            } else {
                store.delete(&mailbox, &key)?;
            }
            Ok(Reply::ok(json!({"status": 0})))
        }
        Endpoint::DeleteRead => {
            let request: MailboxRequest = decode(body)?;
            let mailbox = MailboxId::new(&request.world, &request.uid)?;
            let keys = store.delete_read(&mailbox)?;
            Ok(Reply::ok(
                json!({"status": 0, "deleted": keys.len(), "keys": keys}),
            ))
        }
    }
}

fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, RequestError> {
    serde_json::from_slice(body).map_err(|e| RequestError::Json(e.to_string()))
}

/// The rules `/send` applies, for a mail that arrives by another way (lukseun-migrate's
/// import of the original game's mail): the mail as it would be stored, or why not.
pub fn checked_mail(
    kind: i64,
    from: String,
    subj: String,
    body: String,
    items: Vec<String>,
) -> Result<Mail, String> {
    check_mail(MailFields {
        kind: Value::from(kind),
        from,
        subj,
        body,
        items,
    })
    .map_err(|e| e.to_string())
}

/// Length and character rules for the mail's fields.
fn check_mail(fields: MailFields) -> Result<Mail, RequestError> {
    let bad = |text: String| Err(RequestError::Mail(text));
    let Some(kind) = fields.kind.as_i64().and_then(MailType::from_code) else {
        return bad(format!(
            "type must be an integer 0..={} (0 simple, 1 gift, 2 friend request, \
             3 family request), not {}",
            MailType::MAX_CODE,
            fields.kind
        ));
    };
    if fields.from.trim().is_empty() {
        return bad("from is empty".into());
    }
    if fields.from.chars().count() > MAX_FROM_CHARS {
        return bad(format!("from over {MAX_FROM_CHARS} characters"));
    }
    if fields.subj.chars().count() > MAX_SUBJECT_CHARS {
        return bad(format!("subj over {MAX_SUBJECT_CHARS} characters"));
    }
    if fields.from.chars().any(char::is_control) || fields.subj.chars().any(char::is_control) {
        return bad("from and subj may not hold control characters".into());
    }
    if fields.body.len() > MAX_BODY_BYTES {
        return bad(format!("body over {MAX_BODY_BYTES} bytes"));
    }
    if fields.body.contains('\0') {
        return bad("body holds a NUL character".into());
    }
    if fields.items.len() > MAX_ITEMS {
        return bad(format!("more than {MAX_ITEMS} items"));
    }
    if let Some(item) = fields.items.iter().find(|i| !is_item(i)) {
        return bad(format!(
            "item {item:?} is not <group>:<item id>:<qty> (A-Z a-z 0-9 _ . -)"
        ));
    }
    Ok(Mail {
        kind,
        // A display name's spacing is not significant in RFC 5322 (readers collapse it),
        // so store the form every reader agrees on.
        from: fields.from.split_whitespace().collect::<Vec<_>>().join(" "),
        subject: fields.subj,
        body: fields.body,
        items: fields.items,
    })
}

fn is_item(item: &str) -> bool {
    let parts: Vec<&str> = item.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= MAX_ITEM_PART
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        })
}

fn listing_json(listing: &Listing, limit: usize) -> Value {
    let mail: Vec<Value> = listing.mails.iter().map(mail_json).collect();
    json!({
        "status": 0,
        "mail": mail,
        "count": {"cur": listing.count, "max": limit},
    })
}

fn mail_json(stored: &StoredMail) -> Value {
    let message = &stored.message;
    json!({
        "key": message.key,
        "type": message.mail.kind,
        "from": message.mail.from,
        "subj": message.mail.subject,
        "body": message.mail.body,
        "items": message.mail.items,
        "date": message.date,
        "read": stored.read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_mail_applies_the_send_rules() {
        let ok = checked_mail(
            1,
            " a   b ".into(),
            "s".into(),
            "b".into(),
            vec!["3:1:5".into()],
        );
        let mail = ok.unwrap();
        assert_eq!((mail.kind, mail.from.as_str()), (MailType::Gift, "a b"));
        let bad = |kind, from: &str, items: Vec<String>| {
            checked_mail(kind, from.into(), "s".into(), "b".into(), items).unwrap_err()
        };
        assert!(bad(7, "a", vec![]).contains("type must be an integer"));
        assert!(bad(0, " ", vec![]).contains("from is empty"));
        assert!(bad(0, "a", vec!["3:1".into()]).contains("is not <group>"));
    }

    fn store(limit: usize) -> (testkit::TempDir, Maildir) {
        let dir = testkit::TempDir::new("mail-api");
        let store = Maildir::open(&dir.path().join("root"), limit).unwrap();
        (dir, store)
    }

    fn call(store: &Maildir, endpoint: Endpoint, body: Value) -> Reply {
        handle(store, endpoint, body.to_string().as_bytes())
    }

    fn send_body(subj: &str) -> Value {
        json!({"world": "s0", "uid": "u1", "mail": {
            "type": 1, "from": "GM", "subj": subj, "body": "hi", "items": ["1:2:3"]}})
    }

    #[test]
    fn paths_map_to_endpoints() {
        assert_eq!(Endpoint::from_path("/send"), Some(Endpoint::Send));
        assert_eq!(Endpoint::from_path("/all?x=1"), Some(Endpoint::All));
        assert_eq!(
            Endpoint::from_path("/delete_read"),
            Some(Endpoint::DeleteRead)
        );
        assert_eq!(Endpoint::from_path("/send/"), None);
        assert_eq!(Endpoint::from_path("/"), None);
    }

    #[test]
    fn send_then_read_returns_the_contract_shape() {
        let (_dir, store) = store(50);
        let sent = call(&store, Endpoint::Send, send_body("hello"));
        assert_eq!(sent.http, 200);
        assert_eq!(sent.status(), 0);
        let key = sent.body["key"].as_str().unwrap().to_string();

        let new = call(&store, Endpoint::New, json!({"world": "s0", "uid": "u1"}));
        assert_eq!(new.body["count"], json!({"cur": 1, "max": 50}));
        let m = &new.body["mail"][0];
        assert_eq!(m["key"], key.as_str());
        assert_eq!(m["type"], 1);
        assert_eq!(m["from"], "GM");
        assert_eq!(m["subj"], "hello");
        assert_eq!(m["body"], "hi");
        assert_eq!(m["items"], json!(["1:2:3"]));
        assert_eq!(m["read"], false);
        assert!(m["date"].as_str().unwrap().ends_with(" +0000"));

        let again = call(&store, Endpoint::New, json!({"world": "s0", "uid": "u1"}));
        assert_eq!(again.body["mail"], json!([]));

        let mark = json!({"world": "s0", "uid": "u1", "key": key});
        assert_eq!(
            call(&store, Endpoint::MarkRead, mark.clone()).body,
            json!({"status": 0})
        );
        let all = call(&store, Endpoint::All, json!({"world": "s0", "uid": "u1"}));
        assert_eq!(all.body["mail"][0]["read"], true);
        let deleted = call(
            &store,
            Endpoint::DeleteRead,
            json!({"world": "s0", "uid": "u1"}),
        );
        assert_eq!(
            deleted.body,
            json!({"status": 0, "deleted": 1, "keys": [key]})
        );
        assert_eq!(
            call(&store, Endpoint::Delete, mark).body,
            json!({"status": 2, "message": "no such mail"})
        );
    }

    #[test]
    fn a_full_mailbox_answers_status_1() {
        let (_dir, store) = store(1);
        assert_eq!(call(&store, Endpoint::Send, send_body("a")).status(), 0);
        let full = call(&store, Endpoint::Send, send_body("b"));
        assert_eq!(full.http, 200);
        assert_eq!(full.body, json!({"status": 1, "message": "mailbox full"}));
        // System mail has its own room.
        let mut system = send_body("c");
        system["system"] = json!(true);
        assert_eq!(call(&store, Endpoint::Send, system.clone()).status(), 0);
        assert_eq!(call(&store, Endpoint::Send, system).status(), 1);
    }

    #[test]
    fn malformed_requests_get_400_and_status_minus_1() {
        let (_dir, store) = store(5);
        for (endpoint, body) in [
            (Endpoint::Send, "not json".to_string()),
            (Endpoint::Send, r#"{"world":"s0","uid":"u1"}"#.to_string()),
            (Endpoint::New, r#"{"world":"s0"}"#.to_string()),
            (Endpoint::All, r#"{"world":"s0","uid":7}"#.to_string()),
            (Endpoint::Delete, r#"{"world":"s0","uid":"u1"}"#.to_string()),
        ] {
            let reply = handle(&store, endpoint, body.as_bytes());
            assert_eq!(reply.http, 400, "{body}");
            assert_eq!(reply.status(), -1);
            let message = reply.body["message"].as_str().unwrap();
            assert!(message.starts_with("malformed request"), "{message}");
        }
    }

    #[test]
    fn bad_names_are_refused_with_the_field_named() {
        let (_dir, store) = store(5);
        let reply = call(&store, Endpoint::All, json!({"world": "s0", "uid": "../x"}));
        assert_eq!(reply.http, 400);
        assert!(reply.body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid uid"));
        let reply = call(&store, Endpoint::New, json!({"world": ".w", "uid": "u"}));
        assert!(reply.body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid world"));
        let reply = call(
            &store,
            Endpoint::Delete,
            json!({"world": "s0", "uid": "u", "key": "../../etc"}),
        );
        assert!(reply.body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid key"));
    }

    #[test]
    fn types_are_numbers_0_to_3_both_ways() {
        let (_dir, store) = store(10);
        for code in 0..=3 {
            let mut body = send_body("s");
            body["mail"]["type"] = json!(code);
            assert_eq!(call(&store, Endpoint::Send, body).status(), 0);
        }
        let all = call(&store, Endpoint::All, json!({"world": "s0", "uid": "u1"}));
        let mut codes: Vec<i64> = all.body["mail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["type"].as_i64().unwrap())
            .collect();
        codes.sort();
        assert_eq!(codes, [0, 1, 2, 3]);

        for bad in [json!(4), json!(-1), json!("gift"), json!("1"), json!(2.5)] {
            let mut body = send_body("s");
            body["mail"]["type"] = bad.clone();
            let reply = call(&store, Endpoint::Send, body);
            assert_eq!(reply.http, 400, "{bad}");
            assert_eq!(reply.status(), -1);
            let message = reply.body["message"].as_str().unwrap();
            assert!(
                message.starts_with("invalid mail: type must be an integer 0..=3"),
                "{message}"
            );
            assert!(message.ends_with(&format!("not {bad}")), "{message}");
        }
    }

    #[test]
    fn mail_fields_have_limits() {
        let (_dir, store) = store(5);
        let with = |field: &str, value: Value| {
            let mut body = send_body("s");
            body["mail"][field] = value;
            call(&store, Endpoint::Send, body)
        };
        let refusals = [
            with("subj", json!("x".repeat(MAX_SUBJECT_CHARS + 1))),
            with("from", json!("名".repeat(MAX_FROM_CHARS + 1))),
            with("from", json!("  ")),
            with("from", json!("a\nBcc: x")),
            with("body", json!("x".repeat(MAX_BODY_BYTES + 1))),
            with("body", json!("a\0b")),
            with("type", json!("Gift!")),
            with("type", json!("gift")),
            with("type", json!(4)),
            with("type", json!(-1)),
            with("type", json!(1.0)),
            with("type", json!(null)),
            with("items", json!(["1:2"])),
            with("items", json!(["1:2:3,4:5:6"])),
            with("items", json!(vec!["1:2:3"; MAX_ITEMS + 1])),
        ];
        for reply in refusals {
            assert_eq!(reply.http, 400, "{:?}", reply.body);
            let message = reply.body["message"].as_str().unwrap();
            assert!(message.starts_with("invalid mail: "), "{message}");
        }
        assert_eq!(
            with("subj", json!("名".repeat(MAX_SUBJECT_CHARS))).status(),
            0
        );
        assert_eq!(with("from", json!("  Big   Boss ")).status(), 0);
        let all = call(&store, Endpoint::All, json!({"world": "s0", "uid": "u1"}));
        assert_eq!(
            all.body["mail"][0]["from"], "Big Boss",
            "spacing normalised"
        );
        let mut no_items = send_body("s");
        no_items["mail"].as_object_mut().unwrap().remove("items");
        assert_eq!(call(&store, Endpoint::Send, no_items).status(), 0);
    }
}
