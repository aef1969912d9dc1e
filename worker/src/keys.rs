//! The Redis keys the worker itself writes, spelled in this one place. (Keys shared with
//! the gate or the edge live in `shared::contract`; auth's nonce keys are auth's.)
//! `:` separates the parts: world names, uids, fids and request kinds never contain it.

/// The daily send counter of player mail: `uid`'s sends in `world` on game day `day`
/// (days since 1970-01-01 in UTC+8).
pub fn mail_daily(day: i64, world: &str, uid: &str) -> String {
    format!("mail.daily:{day}:{world}:{uid}")
}

/// Marks a request mail of `kind` (`friend_request`, `family_invite`, `family_request`)
/// from `sender` (a uid, or a family's fid for an invitation) to `target` (a uid) as
/// pending: one at a time per (sender, target). Deleted when the mail is accepted or
/// deleted; expires with the request's nonce.
pub fn pending_request(world: &str, kind: &str, sender: &str, target: &str) -> String {
    format!("mail.pending:{world}:{kind}:{sender}:{target}")
}

/// `uid`'s chat login tokens fetched in `world` in the current window (60 s from the
/// first).
pub fn chat_tokens(world: &str, uid: &str) -> String {
    format!("chat.tokens:{world}:{uid}")
}

/// The record of request id `rid` of caller `uid` (crate::request_id): a running marker,
/// then the answer. Admins and players have their own families, so a player whose uid
/// equals an admin's cannot read or block the admin's answers. `rid` comes before `uid`:
/// it never holds `:` (checked at parse), so the key reads back one way whatever the uid.
pub fn request_record(admin: bool, rid: &str, uid: &str) -> String {
    let family = if admin { "admin" } else { "player" };
    format!("rid.{family}:{rid}:{uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelled_byte_for_byte() {
        assert_eq!(mail_daily(20419, "s0", "u.1"), "mail.daily:20419:s0:u.1");
        assert_eq!(
            pending_request("s0", "friend_request", "u-1", "u-2"),
            "mail.pending:s0:friend_request:u-1:u-2"
        );
        assert_eq!(chat_tokens("s0", "u1"), "chat.tokens:s0:u1");
        assert_eq!(request_record(false, "r-1", "u:1"), "rid.player:r-1:u:1");
        assert_eq!(request_record(true, "r-1", "u:1"), "rid.admin:r-1:u:1");
        assert_ne!(
            pending_request("s0", "family_invite", "f1", "u"),
            pending_request("s0", "family_request", "f1", "u")
        );
    }

    #[test]
    fn every_key_the_worker_writes_is_in_its_redis_acl() {
        use crate::modules::account::limits;
        use auth::jwt::TokenKind;
        let ip = "10.1.2.3".parse().unwrap();
        let written = [
            mail_daily(20419, "s0", "u1"),
            pending_request("s0", "friend_request", "u1", "u2"),
            chat_tokens("s0", "u1"),
            shared::contract::chat_login_key("n1"),
            limits::login_account_key("account", "Bob"),
            limits::login_address_key(ip),
            limits::guest_address_key(ip),
            // modules/account/contact.rs spells these two inside its Kind.
            "verify.email.code.u1".to_string(),
            "verify.phone.sent.u1.20419".to_string(),
            auth::tokens::revocation_key(TokenKind::Account, "u1"),
            auth::tokens::revocation_key(TokenKind::Session, "u1"),
            request_record(false, "r-1", "u1"),
            request_record(true, "r-1", "admin:dev"),
        ];
        for key in &written {
            assert!(shared::grants::WORKER.allows_key(key, true), "{key}");
        }
        let jid = shared::contract::JobId::random();
        for key in [
            shared::contract::job_key(jid),
            shared::contract::gate_key(3),
            auth::tokens::revocation_key(TokenKind::Admin, "admin:dev"),
        ] {
            assert!(shared::grants::WORKER.allows_key(&key, false), "{key}");
            assert!(!shared::grants::WORKER.allows_key(&key, true), "{key}");
        }
        assert!(!shared::grants::WORKER.allows_key("auth.nonces.n1", false));
    }
}
