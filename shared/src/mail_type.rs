//! The type of a game mail, as the number the original game's clients and server use
//! (its `enums.py` `MailType`). The mail service stores and answers the number; the worker
//! sends it. This is the one place the numbers are defined.
//!
//! | code | type |
//! |---|---|
//! | 0 | simple (player to player) |
//! | 1 | gift |
//! | 2 | friend request |
//! | 3 | family request (a join request and an invitation alike) |

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailType {
    Simple,
    Gift,
    FriendRequest,
    /// A request to join a family and a family's invitation: the original game used this
    /// one type for both, and so do we; what tells them apart is kept elsewhere (the
    /// worker's request-mail nonce payload).
    FamilyRequest,
}

impl MailType {
    pub const ALL: [MailType; 4] = [
        MailType::Simple,
        MailType::Gift,
        MailType::FriendRequest,
        MailType::FamilyRequest,
    ];

    /// The largest code (the smallest is 0).
    pub const MAX_CODE: u8 = 3;

    pub fn code(self) -> u8 {
        match self {
            MailType::Simple => 0,
            MailType::Gift => 1,
            MailType::FriendRequest => 2,
            MailType::FamilyRequest => 3,
        }
    }

    /// `None` for anything but 0..=3.
    pub fn from_code(code: i64) -> Option<MailType> {
        MailType::ALL
            .into_iter()
            .find(|t| i64::from(t.code()) == code)
    }

    /// The type's name, for logs and people.
    pub fn name(self) -> &'static str {
        match self {
            MailType::Simple => "simple",
            MailType::Gift => "gift",
            MailType::FriendRequest => "friend_request",
            MailType::FamilyRequest => "family_request",
        }
    }

    /// The strings the mail service used before the numbers (its stored `X-Lukseun-Type`
    /// headers, the worker's `type`): `family_invite` is a family request too.
    pub fn from_name(name: &str) -> Option<MailType> {
        match name {
            "simple" => Some(MailType::Simple),
            "gift" => Some(MailType::Gift),
            "friend_request" => Some(MailType::FriendRequest),
            "family_request" | "family_invite" => Some(MailType::FamilyRequest),
            _ => None,
        }
    }
}

impl fmt::Display for MailType {
    /// The code: what goes on the wire and on disk.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// As its code: `1`, never `"gift"`.
impl Serialize for MailType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

/// From an integer 0..=3 only (a string, a float or another number is an error).
impl<'de> Deserialize<'de> for MailType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MailType, D::Error> {
        struct Code;
        impl Visitor<'_> for Code {
            type Value = MailType;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a mail type, an integer 0..={}", MailType::MAX_CODE)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MailType, E> {
                MailType::from_code(v)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MailType, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(MailType::from_code)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }
        deserializer.deserialize_i64(Code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_are_the_original_games() {
        let codes: Vec<u8> = MailType::ALL.map(MailType::code).into();
        assert_eq!(codes, [0, 1, 2, 3]);
        for t in MailType::ALL {
            assert_eq!(MailType::from_code(t.code().into()), Some(t));
            assert_eq!(MailType::from_name(t.name()), Some(t));
            assert_eq!(t.to_string(), t.code().to_string());
        }
        for bad in [-1, 4, 255, i64::MIN, i64::MAX] {
            assert_eq!(MailType::from_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_old_names_map_to_their_numbers() {
        let pairs = [
            ("simple", 0),
            ("gift", 1),
            ("friend_request", 2),
            ("family_request", 3),
            ("family_invite", 3),
        ];
        for (name, code) in pairs {
            assert_eq!(MailType::from_name(name).map(MailType::code), Some(code));
        }
        for bad in ["", "Gift", "3", "family", "gift "] {
            assert_eq!(MailType::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_holds_the_number_only() {
        assert_eq!(serde_json::to_value(MailType::Gift).unwrap(), json!(1));
        let t: MailType = serde_json::from_value(json!(3)).unwrap();
        assert_eq!(t, MailType::FamilyRequest);
        for bad in [
            json!(4),
            json!(-1),
            json!("gift"),
            json!("1"),
            json!(1.0),
            json!(null),
        ] {
            assert!(
                serde_json::from_value::<MailType>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
