//! Mails that carry something to accept (a gift, a friend request, a family invitation or
//! join request): each registers a single-use nonce in auth, derived from the mail key, whose
//! payload says what accepting means. Accepting redeems the nonce, so a mail is accepted at
//! most once even when two accepts race (auth redeems with GETDEL).
//!
//! A request a player sends (`sender` set) is player mail and one at a time per (sender,
//! recipient): a Redis marker ([`crate::keys::pending_request`]) is taken before the mail
//! goes and given back when the mail is accepted or deleted, or the send fails. A request
//! without a sender (an admin gift) is system mail, which a mailbox full of player mail
//! still takes. The nonce lives no longer than its mail: [`forget_requests`] deletes it
//! with the mail (and the marker with it); its TTL, the marker's too, is the acceptance
//! window.
//!
//! The mail's type is a number ([`MailType`]); a family invitation and a join request are
//! both type 3, as in the original game. What tells them apart is the payload's `kind`
//! (`family_invite` or `family_request`, [`RequestKind::name`]).

use serde_json::{json, Map, Value};

use super::client::{Listing, MailClient, MailEntry, MailType, OutgoingMail, Which};
use super::{mail_error, MailStatus};
use crate::auth_client::{AuthClient, Redeemed, Registered};
use crate::function::Context;
use crate::function::FnError;
use crate::modules::item::Item;
use auth::nonces::MAX_REDEEM_KEYS;

/// How long an unaccepted request stays acceptable (auth's default, said explicitly).
const NONCE_TTL_SECS: u64 = 7 * 24 * 3600;

/// Longest nonce auth accepts.
const MAX_NONCE_LEN: usize = 128;

/// Payload fields this module writes; a caller's payload may not use them.
const RESERVED_FIELDS: [&str; 6] = ["kind", "target", "world", "items", "status", "sender"];

/// What a request mail asks the recipient to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Gift,
    FriendRequest,
    FamilyInvite,
    FamilyRequest,
}

impl RequestKind {
    const ALL: [RequestKind; 4] = [
        RequestKind::Gift,
        RequestKind::FriendRequest,
        RequestKind::FamilyInvite,
        RequestKind::FamilyRequest,
    ];

    /// The payload's `kind`: tells every request apart, a family invitation from a join
    /// request too.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Gift => "gift",
            RequestKind::FriendRequest => "friend_request",
            RequestKind::FamilyInvite => "family_invite",
            RequestKind::FamilyRequest => "family_request",
        }
    }

    fn from_name(name: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The mail's `type`: an invitation is a family request (3) like a join request.
    pub fn mail_type(self) -> MailType {
        match self {
            RequestKind::Gift => MailType::Gift,
            RequestKind::FriendRequest => MailType::FriendRequest,
            RequestKind::FamilyInvite | RequestKind::FamilyRequest => MailType::FamilyRequest,
        }
    }
}

/// A request mail to send: who gets it, what it says, and what accepting it means.
#[derive(Debug, Clone)]
pub struct RequestMail<'a> {
    pub world: &'a str,
    /// The recipient's unique_id: the mailbox, and the only player who may accept.
    pub target_uid: &'a str,
    pub kind: RequestKind,
    /// The sender's game name, or "system".
    pub from: &'a str,
    /// Who the one-pending-request rule counts this against: the requesting player's
    /// uid, or the family's fid for an invitation. `None` for admin and system mail,
    /// which is sent as system mail and has no such rule.
    pub sender: Option<&'a str>,
    pub subj: &'a str,
    pub body: &'a str,
    /// Shown in the mail and stored in the payload as `items` (strings).
    pub items: &'a [Item],
    /// The caller's own fields (e.g. the family id); `kind`, `target`, `world`, `items`
    /// and `status` are reserved.
    pub payload: Map<String, Value>,
}

/// The auth nonce of the request mail with this key. Keys fit auth's nonce alphabet
/// (`[A-Za-z0-9._:-]`); a key too long for its 128 characters is hashed.
pub fn nonce_for(key: &str) -> String {
    let nonce = format!("mail:{key}");
    let fits = nonce.len() <= MAX_NONCE_LEN
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if fits {
        nonce
    } else {
        use sha2::{Digest, Sha256};
        format!(
            "mail:sha256:{}",
            shared::ids::hex(&Sha256::digest(key.as_bytes()))
        )
    }
}

/// Sends the mail, then registers its nonce. If the nonce cannot be stored the mail is
/// deleted again, so no mail exists that cannot be accepted. Answers the mail key.
/// Errors: a request from this sender already pending there (mail status 86), mailbox
/// full (80), anything unreachable 16. A failed send keeps nothing.
pub fn send_request(ctx: &Context, request: &RequestMail) -> Result<String, FnError> {
    let payload = full_payload(request)?;
    if request.sender.is_some() && !take_pending(ctx, &payload)? {
        return Err(MailStatus::RequestPending.error());
    }
    let sent = deliver_request(ctx, request, &payload);
    if sent.is_err() {
        release_pending(ctx, &payload);
    }
    sent
}

fn deliver_request(
    ctx: &Context,
    request: &RequestMail,
    payload: &Map<String, Value>,
) -> Result<String, FnError> {
    let client = MailClient::new(&ctx.settings.mail_url);
    let mail = OutgoingMail {
        // The client sends the number: family_invite is 3 like family_request.
        kind: request.kind.name(),
        from: request.from,
        subj: request.subj,
        body: request.body,
        items: request.items.iter().map(Item::to_string).collect(),
    };
    let (world, target) = (request.world, request.target_uid);
    let key = match request.sender {
        Some(_) => client.send(world, target, &mail),
        None => client.send_system(world, target, &mail),
    }
    .map_err(mail_error)?;
    if let Err(why) = register_nonce(&ctx.settings.auth_url, &nonce_for(&key), payload) {
        if let Err(e) = client.delete(world, target, &key) {
            shared::error!(
                "request mail without nonce could not be deleted",
                key = key,
                error = e
            );
        }
        return Err(FnError::Backend(format!("registering the nonce: {why}")));
    }
    Ok(key)
}

/// The pending marker of a request's payload: `None` for a request without a sender.
fn pending_key(payload: &Map<String, Value>) -> Option<String> {
    let field = |name: &str| payload.get(name).and_then(Value::as_str);
    Some(crate::keys::pending_request(
        field("world")?,
        field("kind")?,
        field("sender")?,
        field("target")?,
    ))
}

/// Takes the marker: `false` when a request of this sender waits there already.
fn take_pending(ctx: &Context, payload: &Map<String, Value>) -> Result<bool, FnError> {
    let Some(key) = pending_key(payload) else {
        return Ok(true);
    };
    let set: Option<String> = ctx
        .redis
        .run(|conn| {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(NONCE_TTL_SECS)
                .query(conn)
        })
        .map_err(|e| FnError::Backend(format!("redis: {e}")))?;
    Ok(set.is_some())
}

/// Sets the marker again (an accept whose work failed made the request acceptable again).
fn retake_pending(ctx: &Context, payload: &Map<String, Value>) {
    let Some(key) = pending_key(payload) else {
        return;
    };
    let set = ctx.redis.run(|conn| {
        redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("EX")
            .arg(NONCE_TTL_SECS)
            .query::<()>(conn)
    });
    if let Err(e) = set {
        shared::warn!("pending request marker not restored", key = key, error = e);
    }
}

/// Gives the marker back: the request is answered, deleted, or was never sent.
fn release_pending(ctx: &Context, payload: &Map<String, Value>) {
    let Some(key) = pending_key(payload) else {
        return;
    };
    if let Err(e) = ctx
        .redis
        .run(|conn| redis::cmd("DEL").arg(&key).query::<i64>(conn))
    {
        // It expires with the nonce's TTL; until then the sender cannot ask again.
        shared::warn!("pending request marker not deleted", key = key, error = e);
    }
}

/// The mails `keys` were deleted from their mailbox: their request nonces go too (a key
/// that was no request has none), and with them the senders' pending markers. Best
/// effort: a nonce left behind expires with its TTL.
pub fn forget_requests(ctx: &Context, keys: &[String]) {
    let auth = AuthClient::new(&ctx.settings.auth_url);
    for chunk in keys.chunks(MAX_REDEEM_KEYS) {
        let nonces: Vec<String> = chunk.iter().map(|k| nonce_for(k)).collect();
        match auth.redeem_nonces(&nonces) {
            Ok(redeemed) => {
                for payload in redeemed.iter().filter_map(|r| match r {
                    Redeemed::Won(payload) => Some(payload),
                    Redeemed::Gone => None,
                }) {
                    release_pending(ctx, payload);
                }
            }
            Err(e) => shared::warn!("nonces of deleted mail not deleted", error = e),
        }
    }
}

/// Accepts the request mail `key` from the caller's own mailbox: checks it is there and of
/// the `expected` kind, redeems its nonce (a second accept answers "already accepted"),
/// then marks the mail read. Answers the payload the sender stored (with `kind`, `target`,
/// `world` and, when the mail had items, `items`). If the caller's work then fails, it
/// should call [`restore_request`] so the mail can be accepted later.
pub fn redeem_request(
    ctx: &Context,
    uid: &str,
    key: &str,
    expected: RequestKind,
) -> Result<Map<String, Value>, FnError> {
    let world = ctx.world()?;
    let client = MailClient::new(&ctx.settings.mail_url);
    let listing = client.list(world, uid, Which::All).map_err(mail_error)?;
    let payload = redeem_listed(ctx, uid, &listing, key, expected)?;
    mark_read_after_accept(ctx, uid, key);
    Ok(payload)
}

/// Makes an accepted request acceptable again (its work failed after the redeem).
pub fn restore_request(ctx: &Context, key: &str, payload: &Map<String, Value>) {
    if let Err(why) = register_nonce(&ctx.settings.auth_url, &nonce_for(key), payload) {
        shared::error!(
            "an accepted request could not be restored",
            key = key,
            error = why
        );
        return;
    }
    retake_pending(ctx, payload);
}

/// [`redeem_request`] against a listing already fetched (several keys, one listing),
/// without marking the mail read.
pub(super) fn redeem_listed(
    ctx: &Context,
    uid: &str,
    listing: &Listing,
    key: &str,
    expected: RequestKind,
) -> Result<Map<String, Value>, FnError> {
    let world = ctx.world()?;
    let mail = find(listing, key)?;
    if mail.kind != expected.mail_type() {
        return Err(MailStatus::WrongKind.error());
    }
    let payload = redeem_nonce(&ctx.settings.auth_url, &nonce_for(key))?
        .ok_or_else(|| MailStatus::AlreadyAccepted.error())?;
    let ours =
        payload.get("target") == Some(&json!(uid)) && payload.get("world") == Some(&json!(world));
    let kind = payload
        .get("kind")
        .and_then(Value::as_str)
        .and_then(RequestKind::from_name);
    match kind {
        Some(kind) if ours && kind == expected => {
            // Answered: the sender may ask again (restore_request takes it back).
            release_pending(ctx, &payload);
            Ok(payload)
        }
        Some(kind) if ours && kind.mail_type() == mail.kind => {
            // The other request of the same mail type (a family invitation read as a join
            // request or the reverse, both type 3): only the payload tells them apart, so
            // the nonce had to be redeemed to see it. Not this accept's: put it back.
            put_back(ctx, key, &payload);
            Err(MailStatus::WrongKind.error())
        }
        _ => {
            // Only a nonce this module registered for this mailbox can get here; anything
            // else is a bug or tampering: put it back and refuse.
            shared::error!("request nonce payload does not match its mail", key = key);
            put_back(ctx, key, &payload);
            Err(MailStatus::NoSuchMail.error())
        }
    }
}

/// Registers a redeemed nonce again, the pending marker untouched (still held).
fn put_back(ctx: &Context, key: &str, payload: &Map<String, Value>) {
    if let Err(why) = register_nonce(&ctx.settings.auth_url, &nonce_for(key), payload) {
        shared::error!("a request could not be put back", key = key, error = why);
    }
}

pub(super) fn mark_read_after_accept(ctx: &Context, uid: &str, key: &str) {
    // The accept already happened; a mail left unread is only cosmetic.
    let Ok(world) = ctx.world() else { return };
    if let Err(e) = MailClient::new(&ctx.settings.mail_url).mark_read(world, uid, key) {
        shared::warn!("accepted mail not marked read", key = key, error = e);
    }
}

fn find<'l>(listing: &'l Listing, key: &str) -> Result<&'l MailEntry, FnError> {
    listing
        .mail
        .iter()
        .find(|m| m.key == key)
        .ok_or_else(|| MailStatus::NoSuchMail.error())
}

fn full_payload(request: &RequestMail) -> Result<Map<String, Value>, FnError> {
    if let Some(field) = RESERVED_FIELDS
        .iter()
        .find(|f| request.payload.contains_key(**f))
    {
        return Err(FnError::Backend(format!(
            "request payload uses the reserved field {field}"
        )));
    }
    let mut payload = request.payload.clone();
    payload.insert("kind".into(), request.kind.name().into());
    payload.insert("target".into(), request.target_uid.into());
    payload.insert("world".into(), request.world.into());
    if let Some(sender) = request.sender {
        payload.insert("sender".into(), sender.into());
    }
    if !request.items.is_empty() {
        let items: Vec<Value> = request
            .items
            .iter()
            .map(|i| Value::from(i.to_string()))
            .collect();
        payload.insert("items".into(), items.into());
    }
    Ok(payload)
}

/// Makes the request mail `key`, which reached `request.target_uid`'s mailbox another way
/// (lukseun-migrate's import of the original game's pending gifts, friend requests and
/// family requests), acceptable: registers its nonce with the payload [`send_request`]
/// gives such a request and, with `redis`, takes the sender's pending marker as
/// [`send_request`] does, so the sender sees the request pending. `Ok(false)` when the
/// nonce is registered already (a resumed import); a marker already there is kept.
pub fn register_imported(
    auth_url: &str,
    redis: Option<&shared::redis_conn::RedisPool>,
    key: &str,
    request: &RequestMail,
) -> Result<bool, String> {
    let payload = full_payload(request).map_err(|e| e.to_string())?;
    let registered =
        AuthClient::new(auth_url).register_nonce(&nonce_for(key), &payload, NONCE_TTL_SECS)?;
    if let (Some(redis), Some(marker)) = (redis, pending_key(&payload)) {
        redis
            .run(|conn| {
                redis::cmd("SET")
                    .arg(&marker)
                    .arg(1)
                    .arg("NX")
                    .arg("EX")
                    .arg(NONCE_TTL_SECS)
                    .query::<Option<String>>(conn)
            })
            .map_err(|e| format!("pending marker {marker}: {e}"))?;
    }
    Ok(registered == Registered::New)
}

/// Registers a nonce that must not exist yet (its mail is new, or its redeem just took it).
fn register_nonce(auth_url: &str, nonce: &str, payload: &Map<String, Value>) -> Result<(), String> {
    match AuthClient::new(auth_url).register_nonce(nonce, payload, NONCE_TTL_SECS)? {
        Registered::New => Ok(()),
        Registered::Exists => Err(format!("/register_nonce: {nonce} is registered already")),
    }
}

/// `Some(payload)` for the one redeem that wins, `None` when the nonce is gone.
fn redeem_nonce(auth_url: &str, nonce: &str) -> Result<Option<Map<String, Value>>, FnError> {
    let mut redeemed = AuthClient::new(auth_url)
        .redeem_nonces(&[nonce.to_string()])
        .map_err(FnError::Backend)?;
    match redeemed.pop() {
        Some(Redeemed::Won(payload)) => Ok(Some(payload)),
        Some(Redeemed::Gone) | None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_fit_auths_pattern_and_differ_per_key() {
        let key = "1795780559.M23907P2729Q1.vm";
        assert_eq!(nonce_for(key), "mail:1795780559.M23907P2729Q1.vm");
        let long = format!("1.M2P3Q4.{}", "h".repeat(125));
        let hashed = nonce_for(&long);
        assert!(hashed.len() <= MAX_NONCE_LEN && hashed.starts_with("mail:sha256:"));
        assert_ne!(hashed, nonce_for(&format!("1.M2P3Q5.{}", "h".repeat(125))));
    }

    #[test]
    fn kinds_have_the_original_mail_type_numbers_and_their_own_names() {
        let codes: Vec<u8> = RequestKind::ALL.map(|k| k.mail_type().code()).into();
        assert_eq!(codes, [1, 2, 3, 3]);
        let names: Vec<_> = RequestKind::ALL.map(RequestKind::name).into();
        assert_eq!(
            names,
            ["gift", "friend_request", "family_invite", "family_request"]
        );
        for kind in RequestKind::ALL {
            assert_eq!(RequestKind::from_name(kind.name()), Some(kind));
            // What send_request gives the mail client maps to the kind's mail type.
            assert_eq!(MailType::from_name(kind.name()), Some(kind.mail_type()));
        }
        assert_eq!(RequestKind::from_name("simple"), None);
    }

    #[test]
    fn the_payload_says_whose_it_is_and_refuses_reserved_fields() {
        let items = [Item::parse("3:5:5").unwrap()];
        let mut request = RequestMail {
            world: "s0",
            target_uid: "u-2",
            kind: RequestKind::Gift,
            from: "system",
            sender: None,
            subj: "",
            body: "",
            items: &items,
            payload: json!({"note": 1}).as_object().unwrap().clone(),
        };
        assert_eq!(
            Value::from(full_payload(&request).unwrap()),
            json!({"note":1,"kind":"gift","target":"u-2","world":"s0","items":["3:5:5"]})
        );
        request
            .payload
            .insert("target".into(), "someone else".into());
        assert!(matches!(full_payload(&request), Err(FnError::Backend(_))));
    }
}
