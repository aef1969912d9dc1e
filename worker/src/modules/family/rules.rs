//! The family rules of `game-config/family.json`, and the checks on names and notices.
//! Pure: no database, so every rule has a unit test.

use serde_json::Value;

use crate::modules::enums::FamilyRole;

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
    /// Folded ([`crate::modules::names::fold`]); refused when contained in the folded
    /// name, so look-alike letters do not spell them past the check.
    pub reserved_words: Vec<String>,
}

/// Roles needed for each action (the original's: admin and above). Removing members and
/// setting roles follow the original's fixed tables instead (see `can_remove`,
/// `can_set_role`).
#[derive(Clone, Debug, PartialEq)]
pub struct MinRoles {
    pub invite: FamilyRole,
    pub accept_request: FamilyRole,
    pub set_notice: FamilyRole,
    pub set_board: FamilyRole,
    pub set_icon: FamilyRole,
    pub change_name: FamilyRole,
    pub disband: FamilyRole,
}

/// How many of each family action a family (or, for join requests, a player) may do
/// per game day.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyLimits {
    pub removals: i64,
    pub notices: i64,
    pub invites: i64,
    pub join_requests: i64,
}

/// What `check_in_family` gives: item strings, and family experience.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckIn {
    pub family_coin: String,
    pub family_coin_record: String,
    pub special: Vec<String>,
    pub family_exp: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FamilyRules {
    /// Members including the owner.
    pub member_limit: usize,
    /// The player level needed to create, join or be invited.
    pub player_level: i64,
    /// Seconds a player who left must wait before joining again.
    pub leave_secs: i64,
    /// Seconds from `disband_family` until the family is gone.
    pub disband_secs: i64,
    pub daily: DailyLimits,
    /// `"<group>:<item id>:<qty>"` items `create_family` spends; empty is free.
    pub create_cost: String,
    /// Items `change_name_family` spends; empty is free.
    pub change_name_cost: String,
    pub check_in: CheckIn,
    /// `store.goods` as in the file: sid -> {cost item: reward item}.
    pub goods: Value,
    /// `store.gift`: sid -> {cost item: [item every member gets]}.
    pub gifts: Value,
    /// Family experience thresholds: level = index of the first one above the exp.
    pub level_exp: Vec<i64>,
    /// Most families `get_random_family` answers.
    pub random_max: i64,
    pub name: NameRules,
    pub notice_max_chars: usize,
    pub min_role_to: MinRoles,
}

impl Default for FamilyRules {
    /// The original game's rules, for a config without a `family` file.
    fn default() -> FamilyRules {
        FamilyRules {
            member_limit: 50,
            player_level: 18,
            leave_secs: 86_400,
            disband_secs: 86_400,
            daily: DailyLimits {
                removals: 5,
                notices: 5,
                invites: 5,
                join_requests: 5,
            },
            create_cost: "3:5:2000".into(),
            change_name_cost: "3:5:500".into(),
            check_in: CheckIn {
                family_coin: "3:36:100".into(),
                family_coin_record: "3:37:100".into(),
                special: vec!["3:1:100".into()],
                family_exp: 1,
            },
            goods: Value::Object(Default::default()),
            gifts: Value::Object(Default::default()),
            level_exp: vec![0, 20, 70, 170, 370, 870, 1870, 3870, 6870, 10870, 15870],
            random_max: 20,
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
                set_notice: FamilyRole::Admin,
                set_board: FamilyRole::Admin,
                set_icon: FamilyRole::Admin,
                change_name: FamilyRole::Admin,
                disband: FamilyRole::Admin,
            },
        }
    }
}

impl FamilyRules {
    /// Reads `family.json`; a missing or mistyped field keeps the default, so a partial
    /// file still works. Bad item strings are kept and answer 19 when used.
    pub fn from_config(file: Option<&Value>) -> FamilyRules {
        let mut rules = FamilyRules::default();
        let Some(file) = file else { return rules };
        let uint = |v: Option<&Value>| v.and_then(Value::as_u64).map(|n| n as usize);
        let int = |v: Option<&Value>| v.and_then(Value::as_i64).filter(|n| *n >= 0);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        if let Some(n) = uint(file.get("member_limit")) {
            rules.member_limit = n.max(1);
        }
        if let Some(n) = int(file.get("player_level")) {
            rules.player_level = n;
        }
        if let Some(days) = file.get("leave_days").and_then(Value::as_f64) {
            rules.leave_secs = (days.clamp(0.0, 3650.0) * 86_400.0) as i64;
        }
        if let Some(hours) = file.get("disband_hours").and_then(Value::as_f64) {
            rules.disband_secs = (hours.clamp(0.0, 87_600.0) * 3600.0) as i64;
        }
        if let Some(daily) = file.get("daily") {
            let d = &mut rules.daily;
            for (name, slot) in [
                ("removals", &mut d.removals),
                ("notices", &mut d.notices),
                ("invites", &mut d.invites),
                ("join_requests", &mut d.join_requests),
            ] {
                if let Some(n) = int(daily.get(name)) {
                    *slot = n;
                }
            }
        }
        if let Some(costs) = file.get("costs") {
            if let Some(c) = text(costs.get("create")) {
                rules.create_cost = c;
            }
            if let Some(c) = text(costs.get("change_name")) {
                rules.change_name_cost = c;
            }
        }
        if let Some(c) = file.get("check_in") {
            let ci = &mut rules.check_in;
            if let Some(t) = text(c.get("family_coin")) {
                ci.family_coin = t;
            }
            if let Some(t) = text(c.get("family_coin_record")) {
                ci.family_coin_record = t;
            }
            if let Some(list) = c.get("special").and_then(Value::as_array) {
                ci.special = list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
            }
            if let Some(n) = int(c.get("family_exp")) {
                ci.family_exp = n;
            }
        }
        if let Some(store) = file.get("store") {
            if let Some(goods @ Value::Object(_)) = store.get("goods") {
                rules.goods = goods.clone();
            }
            if let Some(gifts @ Value::Object(_)) = store.get("gift") {
                rules.gifts = gifts.clone();
            }
        }
        if let Some(list) = file
            .get("level")
            .and_then(|l| l.get("exp"))
            .and_then(Value::as_array)
        {
            rules.level_exp = list.iter().filter_map(Value::as_i64).collect();
        }
        if let Some(n) = int(file.get("random_max")) {
            rules.random_max = n;
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
                    .map(crate::modules::names::fold)
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
                ("set_notice", &mut m.set_notice),
                ("set_board", &mut m.set_board),
                ("set_icon", &mut m.set_icon),
                ("change_name", &mut m.change_name),
                ("disband", &mut m.disband),
            ] {
                if let Some(r) = role(name) {
                    *slot = r;
                }
            }
        }
        rules
    }

    /// `{"exp","level","need","reward"}` of a family with `exp` (the original's
    /// `exp_data`): the level is the index of the first threshold above `exp` (the list's
    /// length past the last), `need` what is missing to the next one (0 at the top).
    pub fn exp_data(&self, exp: i64, reward: i64) -> Value {
        let next = self.level_exp.iter().position(|t| *t > exp);
        let (level, need) = match next {
            Some(i) => (i as i64, self.level_exp[i] - exp),
            None => (self.level_exp.len() as i64, 0),
        };
        serde_json::json!({"exp": exp, "level": level, "need": need, "reward": reward})
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
        let lower = crate::modules::names::fold(name);
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

/// Whether `remover` may remove a member of role `target` (the original's table: the owner
/// anyone, an admin those below admin).
pub fn can_remove(remover: FamilyRole, target: FamilyRole) -> bool {
    match remover {
        FamilyRole::Owner => true,
        FamilyRole::Admin => target < FamilyRole::Admin,
        _ => false,
    }
}

/// Whether `actor` may change a member of role `target` to `new` (the original's table:
/// the owner between basic, elite and admin, an admin between basic and elite; nobody
/// grants owner, that is `abdicate_family`).
pub fn can_set_role(actor: FamilyRole, target: FamilyRole, new: FamilyRole) -> bool {
    let allowed: &[FamilyRole] = match actor {
        FamilyRole::Owner => &[FamilyRole::Basic, FamilyRole::Elite, FamilyRole::Admin],
        FamilyRole::Admin => &[FamilyRole::Basic, FamilyRole::Elite],
        _ => &[],
    };
    allowed.contains(&target) && allowed.contains(&new)
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
    fn embedded_rules_are_the_originals_numbers() {
        let rules = embedded();
        assert_eq!(rules.member_limit, 50);
        assert_eq!(rules.player_level, 18);
        assert_eq!((rules.leave_secs, rules.disband_secs), (86_400, 86_400));
        assert_eq!(
            rules.daily,
            DailyLimits {
                removals: 5,
                notices: 5,
                invites: 5,
                join_requests: 5
            }
        );
        assert_eq!(rules.create_cost, "3:5:2000");
        assert_eq!(rules.change_name_cost, "3:5:500");
        assert_eq!(rules.check_in.family_coin, "3:36:100");
        assert_eq!(rules.check_in.family_coin_record, "3:37:100");
        assert_eq!(rules.check_in.special, ["3:1:100"]);
        assert_eq!(rules.goods["1"], json!({"3:36:80": "3:6:9"}));
        assert_eq!(rules.goods["5"], json!({"3:36:80": "3:5:1"}));
        assert_eq!(rules.gifts["2"], json!({"3:5:100": ["3:5:10"]}));
        assert_eq!(rules.level_exp.len(), 11);
        assert_eq!(rules.name.charset, Charset::AlphanumericUnderscore);
        let m = &rules.min_role_to;
        for r in [
            m.invite,
            m.set_notice,
            m.set_board,
            m.set_icon,
            m.change_name,
            m.disband,
        ] {
            assert_eq!(r, FamilyRole::Admin, "the original: admin and above");
        }
    }

    #[test]
    fn roles_read_from_the_file_and_fixed_tables() {
        let rules = FamilyRules::from_config(Some(&json!({
            "min_role_to": {"disband": 10, "invite": 4}, "leave_days": 0.5, "disband_hours": 1.5
        })));
        assert_eq!(rules.min_role_to.disband, FamilyRole::Owner);
        assert_eq!(rules.min_role_to.invite, FamilyRole::Elite);
        assert_eq!((rules.leave_secs, rules.disband_secs), (43_200, 5_400));
        let odd = FamilyRules::from_config(Some(&json!({"min_role_to": {"invite": 5}})));
        assert_eq!(odd.min_role_to.invite, FamilyRole::Admin, "5 is no role");
        use FamilyRole::*;
        assert!(can_remove(Owner, Admin) && can_remove(Admin, Elite));
        assert!(!can_remove(Admin, Admin) && !can_remove(Elite, Basic));
        assert!(can_set_role(Owner, Admin, Basic) && can_set_role(Admin, Basic, Elite));
        assert!(
            !can_set_role(Owner, Basic, Owner),
            "owner only by abdicating"
        );
        assert!(!can_set_role(Admin, Basic, Admin) && !can_set_role(Admin, Admin, Basic));
        assert!(!can_set_role(Elite, Basic, Elite));
    }

    #[test]
    fn levels_days_and_times_as_the_original() {
        let rules = embedded();
        let lv = |exp| rules.exp_data(exp, 1);
        assert_eq!(
            lv(0),
            json!({"exp": 0, "level": 1, "need": 20, "reward": 1})
        );
        assert_eq!(lv(20)["level"], 2);
        assert_eq!(lv(15_869)["level"], 10);
        assert_eq!(
            lv(15_870),
            json!({"exp": 15870, "level": 11, "need": 0, "reward": 1})
        );
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
