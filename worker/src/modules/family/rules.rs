//! The family rules of `game-config/family.json`, and the checks on names and notices.
//! Pure: no database, so every rule has a unit test.

use serde_json::Value;

use crate::modules::enums::{FamilyRole, FamilyStatus};

/// The longest name the `families.name` column holds; a config asking for more is capped.
pub const NAME_COLUMN_CHARS: usize = 64;
/// The longest notice the `families.notice` column holds.
pub const NOTICE_COLUMN_CHARS: usize = 1000;

/// Which characters a family name may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// Letters and digits of any script (`char::is_alphanumeric`) and `_`.
    AlphanumericUnderscore,
    /// Any character but control characters; no whitespace at either end (MySQL compares
    /// `'a '` equal to `'a'`). Names never reach a NATS subject, so this is safe too.
    Printable,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NameRules {
    pub min_chars: usize,
    pub max_chars: usize,
    pub charset: Charset,
    /// Lowercase; refused when contained in a name, case-insensitively.
    pub reserved_words: Vec<String>,
}

/// Roles needed for each action.
#[derive(Clone, Debug, PartialEq)]
pub struct MinRoles {
    pub invite: FamilyRole,
    pub accept_request: FamilyRole,
    pub remove_member: FamilyRole,
    pub set_notice: FamilyRole,
    pub set_role: FamilyRole,
    pub disband: FamilyRole,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FamilyRules {
    /// Members including the owner.
    pub member_limit: usize,
    /// `"<group>:<item id>:<qty>"` items `create_family` spends; empty is free.
    pub create_cost: String,
    pub name: NameRules,
    pub notice_max_chars: usize,
    pub min_role_to: MinRoles,
}

impl Default for FamilyRules {
    /// The contract's rules, for a config without a `family` file.
    fn default() -> FamilyRules {
        FamilyRules {
            member_limit: 50,
            create_cost: String::new(),
            name: NameRules {
                min_chars: 2,
                max_chars: 12,
                charset: Charset::AlphanumericUnderscore,
                reserved_words: Vec::new(),
            },
            notice_max_chars: 200,
            min_role_to: MinRoles {
                invite: FamilyRole::Admin,
                accept_request: FamilyRole::Admin,
                remove_member: FamilyRole::Admin,
                set_notice: FamilyRole::Admin,
                set_role: FamilyRole::Owner,
                disband: FamilyRole::Owner,
            },
        }
    }
}

impl FamilyRules {
    /// Reads `family.json`; a missing or mistyped field keeps the default, so a partial
    /// file still works. Disbanding and setting roles stay owner-only whatever the file
    /// says: a family always has exactly one owner, and only the owner may hand it on.
    pub fn from_config(file: Option<&Value>) -> FamilyRules {
        let mut rules = FamilyRules::default();
        let Some(file) = file else { return rules };
        let uint = |v: Option<&Value>| v.and_then(Value::as_u64).map(|n| n as usize);
        if let Some(n) = uint(file.get("member_limit")) {
            rules.member_limit = n.max(1);
        }
        if let Some(cost) = file.get("create_cost").and_then(Value::as_str) {
            rules.create_cost = cost.to_string();
        }
        if let Some(n) = uint(file.get("notice_max_chars")) {
            rules.notice_max_chars = n.min(NOTICE_COLUMN_CHARS);
        }
        if let Some(names) = file.get("name_rules") {
            if let Some(n) = uint(names.get("min_chars")) {
                rules.name.min_chars = n.max(1);
            }
            if let Some(n) = uint(names.get("max_chars")) {
                rules.name.max_chars = n.min(NAME_COLUMN_CHARS);
            }
            match names.get("charset").and_then(Value::as_str) {
                Some("printable") => rules.name.charset = Charset::Printable,
                Some(_) | None => rules.name.charset = Charset::AlphanumericUnderscore,
            }
            if let Some(words) = names.get("reserved_words").and_then(Value::as_array) {
                rules.name.reserved_words = words
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .collect();
            }
        }
        if let Some(min) = file.get("min_role_to") {
            let role = |name: &str| {
                min.get(name)
                    .and_then(Value::as_i64)
                    .and_then(FamilyRole::from_id)
            };
            let m = &mut rules.min_role_to;
            for (name, slot) in [
                ("invite", &mut m.invite),
                ("accept_request", &mut m.accept_request),
                ("remove_member", &mut m.remove_member),
                ("set_notice", &mut m.set_notice),
            ] {
                if let Some(r) = role(name) {
                    *slot = r;
                }
            }
        }
        rules
    }

    /// Checks a family name; the error says which rule was broken.
    pub fn check_name(&self, name: &str) -> Result<(), String> {
        let rules = &self.name;
        let chars = name.chars().count();
        if chars < rules.min_chars || chars > rules.max_chars {
            return Err(format!(
                "family name must be {} to {} characters",
                rules.min_chars, rules.max_chars
            ));
        }
        match rules.charset {
            Charset::AlphanumericUnderscore => {
                if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(
                        "family name may only contain letters, digits and underscores".into(),
                    );
                }
            }
            Charset::Printable => {
                if name.chars().any(char::is_control) {
                    return Err("family name must not contain control characters".into());
                }
                if name.trim() != name {
                    return Err("family name must not start or end with whitespace".into());
                }
            }
        }
        let lower = name.to_lowercase();
        if let Some(word) = rules
            .reserved_words
            .iter()
            .find(|w| !w.is_empty() && lower.contains(w.as_str()))
        {
            return Err(format!("family name must not contain `{word}`"));
        }
        Ok(())
    }

    /// Checks a notice: up to `notice_max_chars` characters (empty clears it); line breaks
    /// are allowed, other control characters are not.
    pub fn check_notice(&self, notice: &str) -> Result<(), String> {
        if notice.chars().count() > self.notice_max_chars {
            return Err(format!(
                "notice must be at most {} characters",
                self.notice_max_chars
            ));
        }
        if notice.chars().any(|c| c.is_control() && c != '\n') {
            return Err("notice must not contain control characters other than \\n".into());
        }
        Ok(())
    }
}

/// The status every family function answers with.
pub fn status(s: FamilyStatus) -> crate::function::FnError {
    crate::function::FnError::from(s)
}

/// A status with a message that says more than the table's.
pub fn status_because(s: FamilyStatus, why: impl Into<String>) -> crate::function::FnError {
    crate::function::FnError::module(s, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn embedded() -> FamilyRules {
        let config = crate::game_config::GameConfig::embedded();
        FamilyRules::from_config(config.file("family"))
    }

    #[test]
    fn embedded_rules_follow_the_contract() {
        let rules = embedded();
        assert_eq!(rules.member_limit, 50);
        assert_eq!(rules.create_cost, "3:5:200");
        assert_eq!(rules.name.charset, Charset::AlphanumericUnderscore);
        let m = &rules.min_role_to;
        assert_eq!(m.invite, FamilyRole::Admin, "only admin+ invites");
        assert_eq!(m.remove_member, FamilyRole::Admin);
        assert_eq!(m.set_notice, FamilyRole::Admin);
        assert_eq!(m.set_role, FamilyRole::Owner);
        assert_eq!(m.disband, FamilyRole::Owner);
    }

    #[test]
    fn owner_only_actions_cannot_be_configured_away() {
        let rules = FamilyRules::from_config(Some(&json!({
            "min_role_to": {"set_role": 0, "disband": 4, "invite": 4}
        })));
        assert_eq!(rules.min_role_to.set_role, FamilyRole::Owner);
        assert_eq!(rules.min_role_to.disband, FamilyRole::Owner);
        assert_eq!(rules.min_role_to.invite, FamilyRole::Elite);
        let odd = FamilyRules::from_config(Some(&json!({"min_role_to": {"invite": 5}})));
        assert_eq!(odd.min_role_to.invite, FamilyRole::Admin, "5 is no role");
    }

    #[test]
    fn names_of_any_script_letters_digits_underscore() {
        let rules = embedded();
        for good in ["龙之家", "Семья_1", "أسرة", "ab", "x_9"] {
            assert_eq!(rules.check_name(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("a", "family name must be 2 to 12 characters"),
            ("abcdefghijklm", "family name must be 2 to 12 characters"),
            (
                "a b",
                "family name may only contain letters, digits and underscores",
            ),
            (
                "a.b",
                "family name may only contain letters, digits and underscores",
            ),
            (
                "x*>",
                "family name may only contain letters, digits and underscores",
            ),
            (
                "o'k;",
                "family name may only contain letters, digits and underscores",
            ),
            (
                "😀😀",
                "family name may only contain letters, digits and underscores",
            ),
            ("SuperAdmin", "family name must not contain `admin`"),
        ] {
            assert_eq!(rules.check_name(bad), Err(why.to_string()), "{bad}");
        }
    }

    #[test]
    fn printable_names_allow_punctuation_but_not_control_or_padding() {
        let rules = FamilyRules::from_config(Some(&json!({
            "name_rules": {"min_chars": 1, "max_chars": 100, "charset": "printable"}
        })));
        assert_eq!(
            rules.name.max_chars, NAME_COLUMN_CHARS,
            "capped to the column"
        );
        for good in ["a'b\"c;%*>.d e😀", "chat.s0.family.>"] {
            assert_eq!(rules.check_name(good), Ok(()), "{good}");
        }
        assert!(rules.check_name("a\r\nb").is_err());
        assert!(rules.check_name("ab ").is_err());
        assert!(rules.check_name(" ab").is_err());
    }

    #[test]
    fn notices_allow_line_breaks_only() {
        let rules = embedded();
        assert_eq!(rules.check_notice(""), Ok(()));
        assert_eq!(rules.check_notice("line 1\nline 2 😀"), Ok(()));
        assert!(rules.check_notice("a\rb").is_err());
        assert!(rules.check_notice(&"x".repeat(201)).is_err());
        assert_eq!(rules.check_notice(&"字".repeat(200)), Ok(()));
    }

    #[test]
    fn roles_round_trip() {
        for r in [
            FamilyRole::Basic,
            FamilyRole::Elite,
            FamilyRole::Admin,
            FamilyRole::Owner,
        ] {
            assert_eq!(FamilyRole::from_id(r.id()), Some(r));
        }
        assert!(FamilyRole::from_id(5).is_none());
    }
}
