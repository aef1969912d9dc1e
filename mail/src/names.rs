//! Strict checks for every name that becomes part of a path: world, uid and message key.
//!
//! A name that passes can never escape its directory: no `/`, no NUL, no `..`, no leading
//! dot (so it is neither `.`, `..` nor a hidden file), bounded length.

use std::fmt;

pub const MAX_NAME_LEN: usize = 64;
pub use shared::mail_key::MAX_HOST_LEN;
use shared::mail_key::{is_key, is_safe_name};

/// Which field a rejected name came from, for the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    World,
    Uid,
    Key,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::World => "world",
            Field::Uid => "uid",
            Field::Key => "key",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct InvalidName {
    pub field: Field,
    pub reason: &'static str,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} ({})", self.field.as_str(), self.reason)
    }
}

impl std::error::Error for InvalidName {}

const NAME_RULE: &str = "1-64 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit";
const KEY_RULE: &str = "expected <secs>.M<micros>P<pid>Q<counter>.<host>";

pub fn check_world(world: &str) -> Result<&str, InvalidName> {
    check_name(Field::World, world)
}

pub fn check_uid(uid: &str) -> Result<&str, InvalidName> {
    check_name(Field::Uid, uid)
}

fn check_name(field: Field, name: &str) -> Result<&str, InvalidName> {
    if is_safe_name(name, MAX_NAME_LEN) {
        Ok(name)
    } else {
        Err(InvalidName {
            field,
            reason: NAME_RULE,
        })
    }
}

/// A message key as [`crate::store`] makes them: `<secs>.M<micros>P<pid>Q<counter>.<host>`.
pub fn check_key(key: &str) -> Result<&str, InvalidName> {
    if is_key(key) {
        Ok(key)
    } else {
        Err(InvalidName {
            field: Field::Key,
            reason: KEY_RULE,
        })
    }
}

/// A checked (world, uid) pair: the mailbox directory `<root>/<world>/<uid>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailboxId {
    world: String,
    uid: String,
}

impl MailboxId {
    pub fn new(world: &str, uid: &str) -> Result<MailboxId, InvalidName> {
        Ok(MailboxId {
            world: check_world(world)?.to_string(),
            uid: check_uid(uid)?.to_string(),
        })
    }

    pub fn world(&self) -> &str {
        &self.world
    }

    pub fn uid(&self) -> &str {
        &self.uid
    }
}

/// A checked message key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailKey(String);

impl MailKey {
    pub fn new(key: &str) -> Result<MailKey, InvalidName> {
        Ok(MailKey(check_key(key)?.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key's numeric parts, so keys sort by delivery order: (secs, micros, counter).
pub fn key_order(key: &str) -> (u64, u64, u64) {
    let number = |text: &str| text.parse::<u64>().unwrap_or(0);
    let mut parts = (0, 0, 0);
    if let Some((secs, rest)) = key.split_once(".M") {
        parts.0 = number(secs);
        if let Some((micros, rest)) = rest.split_once('P') {
            parts.1 = number(micros);
            if let Some((_, rest)) = rest.split_once('Q') {
                parts.2 = number(rest.split('.').next().unwrap_or(""));
            }
        }
    }
    parts
}

/// A host name made safe for keys: only `A-Za-z0-9_.-` (so never `/` or `:`), no `..`,
/// starting with a letter or digit, at most 64 characters.
pub fn sanitise_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len().min(MAX_HOST_LEN));
    for ch in host.chars() {
        if out.len() == MAX_HOST_LEN {
            break;
        }
        let safe = match ch {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => ch,
            '.' if !out.is_empty() && !out.ends_with('.') => '.',
            _ => '_',
        };
        out.push(safe);
    }
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert(0, 'h');
        out.truncate(MAX_HOST_LEN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in ["s0", "world_1", "a", "U-42.x", &"x".repeat(64)] {
            assert_eq!(check_world(name), Ok(name));
            assert_eq!(check_uid(name), Ok(name));
        }
    }

    #[test]
    fn path_tricks_are_refused() {
        let long = "a".repeat(300);
        for name in [
            "", "..", ".", "../x", "a/b", "/abs", ".hidden", "a\0b", "a..b", "-flag", "a b", "a:b",
            "a\\b", "名字", &long, "x\n",
        ] {
            let err = check_uid(name).unwrap_err();
            assert_eq!(err.field, Field::Uid, "{name:?}");
            assert!(err.to_string().starts_with("invalid uid"), "{err}");
            assert!(check_world(name).is_err(), "{name:?}");
        }
        assert!(check_world(&"x".repeat(65)).is_err());
    }

    #[test]
    fn keys_have_their_own_shape() {
        assert!(check_key("1795866545.M123456P42Q7.host-1.example").is_ok());
        for key in [
            "",
            "../1.M1P1Q1.h",
            "1.M1P1Q1.h/x",
            "1.M1P1Q1.h:2,S",
            "1.M1P1Q1..h",
            "1.M1P1Q1.",
            "1.M1234567P1Q1.h",
            "x.M1P1Q1.h",
            "1.M1P1Q1.h\0",
            ".1.M1P1Q1.h",
            "hello",
        ] {
            let err = check_key(key).unwrap_err();
            assert_eq!(err.field, Field::Key, "{key:?}");
        }
        assert!(check_key(&format!("1.M1P1Q1.{}", "h".repeat(65))).is_err());
    }

    #[test]
    fn keys_order_by_time_then_counter() {
        let mut keys = vec![
            "20.M5P1Q3.h",
            "20.M5P1Q12.h",
            "3.M999999P1Q1.h",
            "20.M10P9Q1.h",
        ];
        keys.sort_by_key(|k| key_order(k));
        assert_eq!(
            keys,
            [
                "3.M999999P1Q1.h",
                "20.M5P1Q3.h",
                "20.M5P1Q12.h",
                "20.M10P9Q1.h"
            ]
        );
    }

    #[test]
    fn hosts_are_sanitised_into_valid_key_parts() {
        assert_eq!(sanitise_host("pod-7.mail.svc"), "pod-7.mail.svc");
        assert_eq!(sanitise_host("a/b:c"), "a_b_c");
        assert_eq!(sanitise_host("..x..y"), "h_.x._y");
        assert_eq!(sanitise_host(""), "h");
        assert_eq!(sanitise_host(&"x".repeat(100)).len(), 64);
        for host in ["a/b:c", "..x..y", "", "名字", ".", "-x"] {
            let key = format!("1.M1P1Q1.{}", sanitise_host(host));
            assert!(check_key(&key).is_ok(), "{key}");
        }
    }
}
